//! Forced interleavings: a hook that runs, once, just before a handler's first call of a given
//! DynamoDB operation, so that "another request wrote in between" happens every time, not when
//! a race happens to fall that way.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};

type Hook = Box<dyn FnOnce() + Send>;

/// Runs its hook before the first call it matches (made by a handler or not), then never again.
#[derive(Clone)]
pub struct Interleave {
    operation: &'static str,
    prefix: Option<&'static str>,
    hook: Arc<Mutex<Option<Hook>>>,
}

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interleave")
            .field("operation", &self.operation)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Interleave {
    /// Before the first `operation` (`"UpdateItem"`, `"DeleteItem"`, ...), run `hook`. The hook
    /// may block on async work (`block_on`): it runs on a worker of a multi-threaded runtime.
    pub fn before(operation: &'static str, hook: impl FnOnce() + Send + 'static) -> Self {
        Self {
            operation,
            prefix: None,
            hook: Arc::new(Mutex::new(Some(Box::new(hook)))),
        }
    }

    /// As [`Interleave::before`], for a call that touches an item under `prefix` (`"USER"`,
    /// `"EMAIL"`, `"THROTTLE"`): e.g. login's read of the user, not its concurrent read of the
    /// throttle.
    pub fn before_touching(
        operation: &'static str,
        prefix: &'static str,
        hook: impl FnOnce() + Send + 'static,
    ) -> Self {
        Self {
            prefix: Some(prefix),
            ..Self::before(operation, hook)
        }
    }

    /// Whether the hook has run.
    pub fn ran(&self) -> bool {
        self.hook.lock().expect("not poisoned").is_none()
    }
}

impl Intercept for Interleave {
    fn name(&self) -> &'static str {
        "Interleave"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let (operation, prefixes) = super::record::request_of(context);
        let touches = self.prefix.is_none_or(|prefix| prefixes.contains(prefix));
        if operation != self.operation || !touches {
            return Ok(());
        }
        let hook = self.hook.lock().expect("not poisoned").take();
        if let Some(hook) = hook {
            tokio::task::block_in_place(hook);
        }
        Ok(())
    }
}
