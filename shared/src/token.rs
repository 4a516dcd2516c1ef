//! JWT access tokens: issued on register and login, verified on every authenticated request.
//!
//! [`TokenService`] is the only code that touches `jsonwebtoken`. Swapping HS256 for an
//! asymmetric algorithm changes this file, the key loading in `state`, the key's configuration
//! and secret in `config` and the template, and the tests' tokens (`dev/make_events.py` signs the
//! bad-token events with the development key).

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::session::SessionId;
use crate::user::UserId;

/// The shortest HS256 key accepted: the hash output size (RFC 7518 §3.2).
pub const MIN_KEY_BYTES: usize = 32;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 5;
const ALGORITHM: Algorithm = Algorithm::HS256;

/// A signing key that is long enough. `Debug` never shows it.
#[derive(Debug)]
pub struct SigningKey(SecretString);

/// The key was shorter than [`MIN_KEY_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("the HMAC key must be at least {MIN_KEY_BYTES} bytes, got {0}")]
pub struct KeyTooShort(pub usize);

impl SigningKey {
    /// Accepts `key` if it has at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(key: SecretString) -> Result<Self, KeyTooShort> {
        let length = key.expose_secret().len();
        if length < MIN_KEY_BYTES {
            return Err(KeyTooShort(length));
        }
        Ok(Self(key))
    }

    /// A key for another purpose, derived from this one (HMAC-SHA256 of the purpose's label),
    /// so the one secret serves several uses without any two sharing a key.
    pub fn derive(&self, purpose: &str) -> aws_lc_rs::hmac::Key {
        let master = aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            self.0.expose_secret().as_bytes(),
        );
        let derived = aws_lc_rs::hmac::sign(&master, purpose.as_bytes());
        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, derived.as_ref())
    }
}

/// Who issues tokens, for whom, and for how long.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written and required.
    pub audience: String,
    /// How long an access token lives.
    pub ttl: Duration,
}

/// The claims of an access token. All are required when verifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (never the email: emails change and are personal data).
    pub sub: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Not before, seconds since the epoch.
    pub nbf: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Unique token id, for revocation lists later.
    pub jti: String,
    /// The session the token was issued in: the token dies with it.
    pub sid: String,
    /// Whether the user's address was verified when the token was issued (absent in tokens
    /// issued before the claim existed: `false`).
    #[serde(default)]
    pub email_verified: bool,
}

/// A freshly issued token. `Debug` hides it.
pub struct AccessToken {
    token: SecretString,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl AccessToken {
    /// The token itself, for the response that hands it to its owner.
    pub fn expose_secret(&self) -> &str {
        self.token.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why a token was refused; logged at debug level, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum TokenRejected {
    /// Signature, algorithm, claims or shape (jsonwebtoken's verdict).
    #[error("token rejected: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// An asymmetric token without `kid`, or whose `kid` names no key that verifies now (unknown,
    /// removed, or only `next`).
    #[error("token rejected: no verifying key has its kid")]
    UnknownKey,
    /// An asymmetric token whose `typ` is not `at+jwt` (RFC 9068): some other kind of JWT.
    #[error("token rejected: typ is not at+jwt")]
    NotAnAccessToken,
}

/// How long verifiers may cache the JWKS and the discovery document. The rotation waits follow
/// from it: a key is published as `next` for at least this long plus API Gateway's own JWKS cache
/// (up to 2 hours) before it signs.
pub const JWKS_MAX_AGE_SECONDS: u64 = 3600;

/// The `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// What signs and verifies: today's HS256 secret, or an asymmetric keyset.
enum Keys {
    Hs256 {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    Asymmetric(crate::keys::KeySet),
}

/// Issues and verifies access tokens with pinned algorithms and keys.
pub struct TokenService {
    keys: Keys,
    validation: Validation,
    settings: TokenSettings,
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = match &self.keys {
            Keys::Hs256 { .. } => ALGORITHM,
            Keys::Asymmetric(keys) => keys.current().alg,
        };
        f.debug_struct("TokenService")
            .field("algorithm", &algorithm)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The claim checks every token gets, for `algorithm`.
fn validation(algorithm: Algorithm, settings: &TokenSettings) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    // `iat`, `jti` and `sid` are required by the `Claims` type itself.
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation
}

impl TokenService {
    /// An HS256 token service. Build it once per cold start.
    pub fn hs256(key: &SigningKey, settings: TokenSettings) -> Self {
        let secret = key.0.expose_secret().as_bytes();
        Self {
            keys: Keys::Hs256 {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
            },
            validation: validation(ALGORITHM, &settings),
            settings,
        }
    }

    /// A token service over an asymmetric keyset: tokens are signed by its current key, with
    /// `kid` (the key's thumbprint) and `typ: at+jwt` in the header; a token verifies only with
    /// the current or a previous key its `kid` names, under that key's own algorithm.
    pub fn asymmetric(keys: crate::keys::KeySet, settings: TokenSettings) -> Self {
        let algorithm = keys.current().alg;
        Self {
            validation: validation(algorithm, &settings),
            keys: Keys::Asymmetric(keys),
            settings,
        }
    }

    /// The `iss` of the tokens it issues: the API's public base URL, under which
    /// `/.well-known/openid-configuration` and `/.well-known/jwks.json` are served.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The algorithm of the key that signs now.
    pub fn algorithm(&self) -> Algorithm {
        match &self.keys {
            Keys::Hs256 { .. } => ALGORITHM,
            Keys::Asymmetric(keys) => keys.current().alg,
        }
    }

    /// The JWKS document of the published keys (`None` for HS256: its key is a secret).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        match &self.keys {
            Keys::Hs256 { .. } => None,
            Keys::Asymmetric(keys) => Some(keys.jwks()),
        }
    }

    /// How long the tokens it issues live.
    pub fn ttl(&self) -> Duration {
        self.settings.ttl
    }

    /// Issues an access token for `user_id` in `session_id`, valid from now for the configured
    /// lifetime (and no longer than its session: every protected route checks the session).
    pub fn issue(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        email_verified: bool,
    ) -> Result<AccessToken, ApiError> {
        let now = jsonwebtoken::get_current_timestamp();
        let ttl = self.settings.ttl.as_secs();
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            nbf: now,
            exp: now + ttl,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_string(),
            email_verified,
        };
        let token = match &self.keys {
            Keys::Hs256 { encoding, .. } => {
                jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, encoding)
            }
            Keys::Asymmetric(keys) => {
                let key = keys.current();
                let mut header = Header::new(key.alg);
                header.kid = Some(key.kid.clone());
                header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
                jsonwebtoken::encode(&header, &claims, key.encoding())
            }
        }
        .map_err(ApiError::internal)?;
        Ok(AccessToken {
            token: SecretString::from(token),
            expires_in: ttl,
        })
    }

    /// Verifies signature, algorithm, `exp`, `nbf`, `iss` and `aud`, and that every claim is present
    /// with the right type.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenRejected> {
        match &self.keys {
            Keys::Hs256 { decoding, .. } => {
                Ok(jsonwebtoken::decode::<Claims>(token, decoding, &self.validation)?.claims)
            }
            Keys::Asymmetric(keys) => {
                let header = jsonwebtoken::decode_header(token)?;
                let typ_ok = header.typ.as_deref().is_some_and(|typ| {
                    typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                        || typ.eq_ignore_ascii_case("application/at+jwt")
                });
                if !typ_ok {
                    return Err(TokenRejected::NotAnAccessToken);
                }
                let key = header
                    .kid
                    .as_deref()
                    .and_then(|kid| keys.verifying(kid))
                    .ok_or(TokenRejected::UnknownKey)?;
                // The key's own algorithm, pinned: a header naming another one is refused.
                let mut validation = self.validation.clone();
                validation.algorithms = vec![key.alg];
                Ok(jsonwebtoken::decode::<Claims>(token, key.decoding(), &validation)?.claims)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::get_current_timestamp as now;
    use serde_json::{Value, json};

    const KEY: &str = "unit-test-signing-key-0123456789abcdef";
    const OTHER_KEY: &str = "another-key-that-is-also-32-bytes-long";

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "accounts-test".into(),
            audience: "accounts-test-clients".into(),
            ttl: Duration::from_secs(900),
        }
    }

    fn service() -> TokenService {
        TokenService::hs256(&key(KEY), settings())
    }

    fn key(raw: &str) -> SigningKey {
        SigningKey::new(SecretString::from(raw)).expect("long enough")
    }

    fn user_id() -> UserId {
        UserId::new()
    }

    fn good_claims() -> Value {
        let now = now();
        json!({"sub": user_id().to_string(), "iat": now, "nbf": now, "exp": now + 600,
               "iss": "accounts-test", "aud": "accounts-test-clients", "jti": "j-1",
               "sid": SessionId::new().to_string()})
    }

    fn sign(claims: &Value, alg: Algorithm, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("signed")
    }

    /// Signed exactly as the service signs: only the claims differ.
    fn hs256(claims: &Value) -> String {
        sign(claims, Algorithm::HS256, KEY)
    }

    fn with(claims: &Value, field: &str, value: Value) -> Value {
        let mut claims = claims.clone();
        claims[field] = value;
        claims
    }

    fn without(claims: &Value, field: &str) -> Value {
        let mut claims = claims.clone();
        claims.as_object_mut().expect("object").remove(field);
        claims
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn issued_tokens_verify_and_carry_every_claim() {
        let service = service();
        let id = user_id();
        let session = SessionId::new();
        let token = service.issue(&id, &session, false).expect("issued");
        assert_eq!(token.expires_in, 900);
        let claims = service.verify(token.token.expose_secret()).expect("valid");
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            ("accounts-test", "accounts-test-clients")
        );
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(claims.nbf, claims.iat);
        assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());
        assert_eq!(claims.sid, session.to_string());
        assert!(!claims.email_verified);
        let verified = service.issue(&id, &session, true).expect("issued");
        let claims = service
            .verify(verified.token.expose_secret())
            .expect("valid");
        assert!(
            claims.email_verified,
            "the claim says what the account's address is"
        );
    }

    #[test]
    fn a_token_signed_by_hand_with_good_claims_verifies() {
        // Guards the negative tests below: they differ from this one in one thing each.
        assert!(service().verify(&hs256(&good_claims())).is_ok());
    }

    #[test]
    fn bad_tokens_are_all_rejected() {
        let now = now();
        let good = good_claims();
        let good_token = sign(&good, Algorithm::HS256, KEY);
        let (head, rest) = good_token.split_once('.').expect("three parts");
        let (payload, signature) = rest.split_once('.').expect("three parts");
        let other_payload = b64(with(&good, "sub", json!("someone-else"))
            .to_string()
            .as_bytes());
        let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("garbage", "not-a-jwt".into()),
            ("two parts", format!("{head}.{payload}")),
            ("expired", hs256(&with(&good, "exp", json!(now - 60)))),
            ("not yet valid", hs256(&with(&good, "nbf", json!(now + 60)))),
            (
                "tampered payload",
                format!("{head}.{other_payload}.{signature}"),
            ),
            (
                "tampered signature",
                format!("{head}.{payload}.{}", b64(b"not a signature")),
            ),
            ("alg none, unsigned", format!("{none_header}.{payload}.")),
            (
                "alg none, signed",
                format!("{none_header}.{payload}.{signature}"),
            ),
            ("wrong algorithm HS512", sign(&good, Algorithm::HS512, KEY)),
            ("wrong algorithm HS384", sign(&good, Algorithm::HS384, KEY)),
            ("wrong key", sign(&good, Algorithm::HS256, OTHER_KEY)),
            ("wrong issuer", hs256(&with(&good, "iss", json!("evil")))),
            ("wrong audience", hs256(&with(&good, "aud", json!("evil")))),
            (
                "string exp",
                hs256(&with(&good, "exp", json!((now + 600).to_string()))),
            ),
            ("missing exp", hs256(&without(&good, "exp"))),
            ("missing nbf", hs256(&without(&good, "nbf"))),
            ("missing iat", hs256(&without(&good, "iat"))),
            ("missing iss", hs256(&without(&good, "iss"))),
            ("missing aud", hs256(&without(&good, "aud"))),
            ("missing sub", hs256(&without(&good, "sub"))),
            ("missing jti", hs256(&without(&good, "jti"))),
            ("missing sid", hs256(&without(&good, "sid"))),
        ];
        let service = service();
        for (name, token) in cases {
            assert!(service.verify(&token).is_err(), "{name} was accepted");
        }
    }

    #[test]
    fn leeway_is_a_few_seconds_at_most() {
        let service = service();
        let just_expired = with(&good_claims(), "exp", json!(now() - 2));
        assert!(service.verify(&hs256(&just_expired)).is_ok());
        let long_expired = with(&good_claims(), "exp", json!(now() - LEEWAY_SECONDS - 2));
        assert!(service.verify(&hs256(&long_expired)).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SigningKey::new(SecretString::from("x".repeat(MIN_KEY_BYTES - 1))).is_err());
        assert!(SigningKey::new(SecretString::from("x".repeat(MIN_KEY_BYTES))).is_ok());
    }

    #[test]
    fn debug_output_never_shows_keys_or_tokens() {
        let service = service();
        let token = service
            .issue(&user_id(), &SessionId::new(), false)
            .expect("issued");
        let printed = format!("{service:?} {token:?} {:?}", key(KEY));
        assert!(!printed.contains(KEY), "{printed}");
        assert!(!printed.contains(token.token.expose_secret()), "{printed}");
    }

    mod asymmetric {
        use super::*;
        use crate::keys::KeySet;
        use crate::keys::generate::{es256_pem, keyset, rs256_pem};

        fn service(keys: &[(&str, &str, &str)]) -> TokenService {
            TokenService::asymmetric(KeySet::from_json(&keyset(keys)).expect("valid"), settings())
        }

        fn issued(service: &TokenService) -> String {
            let token = service
                .issue(&user_id(), &SessionId::new(), true)
                .expect("issued");
            token.expose_secret().to_owned()
        }

        #[test]
        fn tokens_carry_kid_and_typ_and_verify_with_either_algorithm() {
            for (alg, pem) in [("ES256", es256_pem()), ("RS256", rs256_pem())] {
                let service = service(&[("current", alg, &pem)]);
                let token = issued(&service);
                let header = jsonwebtoken::decode_header(&token).expect("a header");
                assert_eq!(format!("{:?}", header.alg), alg);
                assert_eq!(header.typ.as_deref(), Some("at+jwt"));
                let jwks = service.jwks().expect("published");
                assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
                let claims = service.verify(&token).expect("valid");
                assert!(claims.email_verified);
            }
        }

        /// Rotation: a token of the previous key still verifies; one of a removed key does not;
        /// one signed by a key that is only `next` does not either.
        #[test]
        fn previous_verifies_removed_and_next_do_not() {
            let (old, new) = (es256_pem(), es256_pem());
            let before = service(&[("current", "ES256", &old), ("next", "ES256", &new)]);
            let during = service(&[("previous", "ES256", &old), ("current", "ES256", &new)]);
            let after = service(&[("current", "ES256", &new)]);
            let by_old = issued(&before);
            assert!(during.verify(&by_old).is_ok(), "previous verifies");
            assert!(matches!(
                after.verify(&by_old),
                Err(TokenRejected::UnknownKey)
            ));
            let by_new = issued(&after);
            assert!(
                matches!(before.verify(&by_new), Err(TokenRejected::UnknownKey)),
                "next does not"
            );
            assert!(during.verify(&by_new).is_ok());
        }

        #[test]
        fn an_alg_swap_a_missing_kid_or_typ_and_hs256_tokens_are_refused() {
            let pem = es256_pem();
            let service = service(&[("current", "ES256", &pem)]);
            let token = issued(&service);
            let kid = jsonwebtoken::decode_header(&token).expect("header").kid;
            let claims = service.verify(&token).expect("valid");
            // HS256 "signed" with the public key as the secret: the classic algorithm confusion.
            let public = service.jwks().expect("published").to_string();
            let mut swapped = Header::new(Algorithm::HS256);
            swapped.kid = kid.clone();
            swapped.typ = Some("at+jwt".into());
            let forged = jsonwebtoken::encode(
                &swapped,
                &claims,
                &EncodingKey::from_secret(public.as_bytes()),
            )
            .expect("encoded");
            assert!(service.verify(&forged).is_err(), "alg swap");
            let mut untyped = Header::new(Algorithm::ES256);
            untyped.kid = kid;
            let key = EncodingKey::from_ec_pem(pem.as_bytes()).expect("key");
            let plain = jsonwebtoken::encode(&untyped, &claims, &key).expect("encoded");
            assert!(matches!(
                service.verify(&plain),
                Err(TokenRejected::NotAnAccessToken)
            ));
            let mut kidless = Header::new(Algorithm::ES256);
            kidless.typ = Some("at+jwt".into());
            let anonymous = jsonwebtoken::encode(&kidless, &claims, &key).expect("encoded");
            assert!(matches!(
                service.verify(&anonymous),
                Err(TokenRejected::UnknownKey)
            ));
            let hs = TokenService::hs256(&SigningKey::new(KEY.into()).expect("long"), settings());
            assert!(
                service.verify(&issued(&hs)).is_err(),
                "an HS256 token of before the switch"
            );
        }
    }
}
