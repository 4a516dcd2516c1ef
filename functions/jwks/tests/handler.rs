//! `GET /.well-known/jwks.json` through the real handler, fed the payloads in events/.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use lambda_http::http::{StatusCode, header};
use shared::testing::{event, keys_state, lambda_event, new_user, parts, sign_in, state};

#[tokio::test]
async fn the_jwks_publishes_the_key_that_signs_and_no_private_part() {
    let keys = keys_state().await;
    let (status, headers, body) =
        parts(jwks::handler(&keys, lambda_event(&event("jwks/ok"))).await);
    let state = state().await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
    let user = new_user(&state, "jwks").await;
    let token = sign_in(&state, &user).await.bearer;
    let token = token.trim_start_matches("Bearer ");
    let kid = jsonwebtoken::decode_header(token)
        .expect("a JWT")
        .kid
        .expect("a kid");
    let keys = body["keys"].as_array().expect("keys");
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing key is published");
    assert_eq!(key["use"], "sig");
    assert!(
        matches!(key["alg"].as_str(), Some("ES256" | "RS256")),
        "{key}"
    );
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            keys.iter().all(|k| k.get(private).is_none()),
            "{private} published"
        );
    }
}
