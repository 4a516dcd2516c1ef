//! argon2's working memory, reused: what argon2's own `hash_password` and `verify_password`
//! compute, in buffers kept between calls, at most one call per core at a time.

use std::sync::Arc;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::HashError;

/// Argon2's working memory (19 MiB with the default parameters): a few buffers, reused by every
/// hash and verification, and a limit of one hash per core at a time.
///
/// Allocated per call instead (as argon2's own `hash_password` does), glibc serves the second
/// and later 19 MiB blocks from the thread's heap arena and keeps them: a function's resident
/// memory grew by tens of MB over a few dozen sign-ins, and by one block per concurrent hash
/// (docs/benchmarks.md has the figures). Hashing is CPU-bound, so more hashes at once than
/// cores would only share the cores; the limit queues them instead, and bounds the buffers.
#[derive(Debug)]
pub(super) struct ArgonMemory {
    permits: tokio::sync::Semaphore,
    free: std::sync::Mutex<Vec<Vec<Block>>>,
}

impl ArgonMemory {
    /// One hash at a time per core.
    pub(super) fn new() -> Self {
        Self::with_permits(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// At most `permits` hashes at a time (and so at most `permits` buffers).
    fn with_permits(permits: usize) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(permits),
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the blocking pool with a buffer (which `f` sizes), at most one call per core
    /// at a time.
    pub(super) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let memory = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut buffer = memory.take();
            let result = f(&mut buffer);
            memory.give(buffer);
            result
        })
        .await
        .map_err(HashError::Task)
    }

    fn take(&self) -> Vec<Block> {
        self.free
            .lock()
            .map(|mut free| free.pop().unwrap_or_default())
            .unwrap_or_default()
    }

    fn give(&self, buffer: Vec<Block>) {
        if let Ok(mut free) = self.free.lock() {
            free.push(buffer);
        }
    }
}

/// What argon2's `hash_password` answers (the same PHC string), computed in `blocks`.
pub(super) fn hash_in_memory(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &SaltString,
    memory: &mut Vec<Block>,
) -> password_hash::Result<String> {
    let salt = salt.as_salt();
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let params = argon2.params();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2.hash_password_into_with_memory(password, salt_bytes, &mut out, sized(memory, params))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// The first `params.block_count()` blocks of `memory`, grown if it is smaller.
fn sized<'a>(memory: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    &mut memory[..params.block_count()]
}

/// What argon2's `verify_password` decides, computed in reusable memory: the
/// stored hash's own algorithm, version and parameters, compared in constant time (`Output`'s
/// equality).
pub(super) fn verify_in_memory(
    password: &[u8],
    stored: &PasswordHash<'_>,
    memory: &mut Vec<Block>,
) -> password_hash::Result<bool> {
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(stored)?;
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Err(password_hash::Error::PhcStringField);
    };
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    // The stored hash's own parameters size the memory: an older hash may use less.
    argon2.hash_password_into_with_memory(password, salt_bytes, out, sized(memory, &params))?;
    Ok(Output::new(out)? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::Argon2Settings;
    use argon2::password_hash::rand_core::OsRng;

    /// The reusable-memory hash and verification are argon2's own, byte for byte: each accepts
    /// what the other made, for the configured parameters and for older, weaker ones.
    #[test]
    fn pooled_memory_hashing_is_interchangeable_with_argon2s_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        for settings in [
            Argon2Settings::default(),
            Argon2Settings {
                memory_kib: 8192,
                iterations: 1,
                parallelism: 2,
            },
        ] {
            let params = Params::new(
                settings.memory_kib,
                settings.iterations,
                settings.parallelism,
                None,
            )
            .expect("params");
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let salt = SaltString::generate(&mut OsRng);
            let mut memory = Vec::new();
            let ours = hash_in_memory(&argon2, b"correct horse", &salt, &mut memory).expect("hash");
            let theirs = argon2
                .hash_password(b"correct horse", &salt)
                .expect("hash")
                .to_string();
            assert_eq!(ours, theirs, "the same PHC string");
            let parsed = PasswordHash::new(&theirs).expect("PHC");
            assert!(verify_in_memory(b"correct horse", &parsed, &mut memory).expect("verify"));
            assert!(!verify_in_memory(b"Correct horse", &parsed, &mut memory).expect("verify"));
            assert!(
                argon2
                    .verify_password(b"correct horse", &PasswordHash::new(&ours).expect("PHC"))
                    .is_ok()
            );
        }
        // argon2i / argon2d hashes (another library's) verify too, with their own algorithm.
        let params = Params::new(8192, 1, 1, None).expect("params");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = argon2i
            .hash_password(b"pw-i", &salt)
            .expect("hash")
            .to_string();
        let parsed = PasswordHash::new(&stored).expect("PHC");
        assert!(verify_in_memory(b"pw-i", &parsed, &mut Vec::new()).expect("verify"));
    }

    /// However many hashes are asked for at once, at most `permits` run at a time and at most
    /// `permits` buffers exist (the rest wait their turn, then reuse a buffer). Deterministic:
    /// eight calls that each hold their buffer for 50 ms would all run at once on the blocking
    /// pool without the semaphore, whatever the machine's core count.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_one_hash_per_permit_runs_and_buffers_are_reused() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let memory = Arc::new(ArgonMemory::with_permits(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (memory, running, most) = (memory.clone(), running.clone(), most.clone());
            tasks.spawn(async move {
                memory
                    .run(move |buffer| {
                        buffer.resize(16, Block::new());
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("joined").expect("ran");
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "at most two at once, and two did run"
        );
        let buffers = memory.free.lock().expect("lock").len();
        assert_eq!(buffers, 2, "one buffer per permit, each reused");
    }
}
