//! Access-token signing keys: a
//! keyset of asymmetric keys, ES256 (P-256) or RS256 (RSA ≥ 2048 bits), each in one state:
//!
//! - **next**: published in the JWKS, never signs, never verifies. It is there so that every
//!   verifier's cached JWKS already holds it when it becomes current.
//! - **current**: signs every new access token; published; verifies. Exactly one.
//! - **previous**: published and verifies until every token it signed has expired; never signs.
//!
//! A key's `kid` is its RFC 7638 thumbprint (SHA-256 of the canonical public JWK): computed,
//! never trusted from the stored keyset (a stored `kid` must equal it). The keyset travels as
//! JSON, `{"keys": [{"state": "current", "alg": "ES256", "private_key_pem": "-----BEGIN PRIVATE
//! KEY-----…"}]}` (PKCS#8 PEM), from a Secrets Manager secret in AWS or a git-ignored file
//! locally.

use std::fmt;

use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::Deserialize;
use serde_json::{Value, json};

/// A key's place in the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signing.
    Current,
    /// Published and verifying until its tokens have expired.
    Previous,
}

/// One signing key with its public half.
pub struct TokenKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// ES256 or RS256.
    pub alg: Algorithm,
    /// Its place in the rotation.
    pub state: KeyState,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public: Value,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// The private key, for signing (only the current key signs).
    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The public key, for verifying.
    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public JWK as published: `kty`, the key's parameters, `use: sig`, `alg`, `kid`.
    pub fn public_jwk(&self) -> &Value {
        &self.public
    }
}

/// Why a keyset was refused (the message never holds key material).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    /// Not the keyset JSON.
    #[error("the keyset is not JSON of the form {{\"keys\": [...]}}: {0}")]
    Malformed(String),
    /// A key's algorithm is not one this API signs with.
    #[error("key {0}: algorithm {1} is not ES256 or RS256")]
    Algorithm(usize, String),
    /// A key's PEM does not hold a private key of its algorithm.
    #[error("key {0}: the PEM is not a PKCS#8 private key for its algorithm")]
    Key(usize),
    /// A stored `kid` differs from the key's thumbprint.
    #[error("key {0}: its kid is not its RFC 7638 thumbprint")]
    Kid(usize),
    /// Not exactly one current key.
    #[error("the keyset has {0} current keys; it needs exactly one")]
    Current(usize),
    /// The same key twice.
    #[error("the keyset holds the same key twice")]
    Duplicate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    state: KeyState,
    alg: String,
    private_key_pem: String,
    #[serde(default)]
    kid: Option<String>,
    /// When the key entered its state (epoch seconds), for the rotation script's waits.
    #[serde(default)]
    #[allow(dead_code)]
    since: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKeySet {
    keys: Vec<StoredKey>,
}

/// The keys of one deployment.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<TokenKey>,
}

impl KeySet {
    /// Parses and checks a keyset: every key of a supported algorithm, its `kid` (when given)
    /// its thumbprint, no key twice, exactly one current.
    pub fn from_json(text: &str) -> Result<Self, KeySetError> {
        let stored: StoredKeySet = serde_json::from_str(text)
            .map_err(|error| KeySetError::Malformed(error.to_string()))?;
        let mut keys = Vec::with_capacity(stored.keys.len());
        for (index, key) in stored.keys.into_iter().enumerate() {
            keys.push(load(index, key)?);
        }
        let current = keys.iter().filter(|k| k.state == KeyState::Current).count();
        if current != 1 {
            return Err(KeySetError::Current(current));
        }
        let mut kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        kids.sort_unstable();
        if kids.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(KeySetError::Duplicate);
        }
        Ok(Self { keys })
    }

    /// The key that signs.
    pub fn current(&self) -> &TokenKey {
        // `from_json` guarantees exactly one.
        self.keys
            .iter()
            .find(|k| k.state == KeyState::Current)
            .unwrap_or(&self.keys[0])
    }

    /// The key with `kid` if it may verify a token now (current or previous; never next).
    pub fn verifying(&self, kid: &str) -> Option<&TokenKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid && k.state != KeyState::Next)
    }

    /// The JWKS document: every published key (next, current, previous), public halves only.
    pub fn jwks(&self) -> Value {
        json!({"keys": self.keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()})
    }
}

fn load(index: usize, key: StoredKey) -> Result<TokenKey, KeySetError> {
    let alg = match key.alg.as_str() {
        "ES256" => Algorithm::ES256,
        "RS256" => Algorithm::RS256,
        other => return Err(KeySetError::Algorithm(index, other.to_owned())),
    };
    let pem = key.private_key_pem.as_bytes();
    let encoding = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_rsa_pem(pem),
    }
    .map_err(|_| KeySetError::Key(index))?;
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).map_err(|_| KeySetError::Key(index))?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| KeySetError::Key(index))?;
    if key.kid.as_ref().is_some_and(|stored| *stored != kid) {
        return Err(KeySetError::Kid(index));
    }
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| KeySetError::Key(index))?;
    let public = serde_json::to_value(&jwk).map_err(|_| KeySetError::Key(index))?;
    Ok(TokenKey {
        kid,
        alg,
        state: key.state,
        encoding,
        decoding,
        public,
    })
}

/// Fresh keys and keysets, for tests (unit tests, and handler tests through the `testing`
/// feature): never for a deployment, whose keys come from the rotation script.
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::expect_used)]
pub mod generate {
    use aws_lc_rs::encoding::AsDer;
    use base64::Engine as _;
    use serde_json::{Value, json};

    fn pem(der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    /// A new P-256 private key, PKCS#8 PEM.
    pub fn es256_pem() -> String {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generated");
        pem(doc.as_ref())
    }

    /// A new RSA-2048 private key, PKCS#8 PEM.
    pub fn rs256_pem() -> String {
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("generated");
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&pair).expect("der");
        pem(der.as_ref())
    }

    /// The keyset JSON of `(state, alg, pem)` triples.
    pub fn keyset(keys: &[(&str, &str, &str)]) -> String {
        let keys: Vec<Value> = keys
            .iter()
            .map(|(state, alg, pem)| json!({"state": state, "alg": alg, "private_key_pem": pem}))
            .collect();
        json!({"keys": keys}).to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::generate::{es256_pem, keyset, rs256_pem};
    use super::*;
    use jsonwebtoken::{Header, Validation, decode, encode};

    #[test]
    fn keys_of_both_algorithms_sign_and_verify_under_their_thumbprint() {
        for (alg, pem) in [("ES256", es256_pem()), ("RS256", rs256_pem())] {
            let set = KeySet::from_json(&keyset(&[("current", alg, &pem)])).expect("valid");
            let key = set.current();
            assert_eq!(key.kid.len(), 43, "a base64url SHA-256");
            let mut header = Header::new(key.alg);
            header.kid = Some(key.kid.clone());
            let token = encode(
                &header,
                &json!({"sub": "x", "exp": 4_102_444_800u64}),
                key.encoding(),
            )
            .expect("signed");
            let mut validation = Validation::new(key.alg);
            validation.required_spec_claims.clear();
            decode::<Value>(&token, key.decoding(), &validation).expect("verifies");
            let jwk = &set.jwks()["keys"][0];
            assert_eq!(
                (jwk["alg"].as_str(), jwk["use"].as_str()),
                (Some(alg), Some("sig"))
            );
            assert_eq!(jwk["kid"], key.kid.as_str());
            assert!(jwk.get("d").is_none(), "no private part published: {jwk}");
        }
    }

    #[test]
    fn only_current_and_previous_verify_and_every_state_is_published() {
        let (next, current, previous) = (es256_pem(), es256_pem(), es256_pem());
        let set = KeySet::from_json(&keyset(&[
            ("next", "ES256", &next),
            ("current", "ES256", &current),
            ("previous", "ES256", &previous),
        ]))
        .expect("valid");
        let kids: Vec<String> = set.keys.iter().map(|k| k.kid.clone()).collect();
        assert!(set.verifying(&kids[0]).is_none(), "next never verifies");
        assert!(set.verifying(&kids[1]).is_some());
        assert!(set.verifying(&kids[2]).is_some());
        assert!(set.verifying("unknown").is_none());
        assert_eq!(set.jwks()["keys"].as_array().expect("keys").len(), 3);
    }

    #[test]
    fn bad_keysets_are_refused_without_key_material_in_the_message() {
        let pem = es256_pem();
        for (text, expected) in [
            (keyset(&[]), KeySetError::Current(0)),
            (
                keyset(&[
                    ("current", "ES256", &pem),
                    ("current", "ES256", &es256_pem()),
                ]),
                KeySetError::Current(2),
            ),
            (
                keyset(&[("current", "ES256", &pem), ("previous", "ES256", &pem)]),
                KeySetError::Duplicate,
            ),
            (
                keyset(&[("current", "HS256", &pem)]),
                KeySetError::Algorithm(0, "HS256".into()),
            ),
            (keyset(&[("current", "RS256", &pem)]), KeySetError::Key(0)),
        ] {
            let error = KeySet::from_json(&text).expect_err("refused");
            assert_eq!(error, expected);
            assert!(!error.to_string().contains("PRIVATE KEY"));
        }
        let wrong_kid = json!({"keys": [{"state": "current", "alg": "ES256",
                                         "private_key_pem": pem, "kid": "not-it"}]});
        assert_eq!(
            KeySet::from_json(&wrong_kid.to_string()).expect_err("refused"),
            KeySetError::Kid(0)
        );
    }

    /// RFC 7638 §3.1's example key has this thumbprint.
    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .expect("a JWK");
        assert_eq!(
            jwk.thumbprint(ThumbprintHash::SHA256).expect("thumbprint"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
