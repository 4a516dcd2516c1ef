//! `GET /.well-known/openid-configuration` through the real handler, fed the payloads in events/.

#![allow(clippy::expect_used)] // test helpers: a panic is the failure

use lambda_http::http::{StatusCode, header};
use shared::testing::{discovery_state, event, lambda_event, parts, state};

#[tokio::test]
async fn discovery_names_the_issuer_of_the_tokens_and_where_its_keys_are() {
    let (status, headers, body) = parts(
        openid_configuration::handler(
            &discovery_state(),
            lambda_event(&event("openid-configuration/ok")),
        )
        .await,
    );
    // What the tokens of the other functions carry.
    let state = state().await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
    let issuer = state.tokens.issuer();
    assert_eq!(body["issuer"], issuer);
    assert_eq!(
        body["jwks_uri"],
        format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
    );
    let algorithm = format!("{:?}", state.tokens.algorithm());
    assert_eq!(
        body["id_token_signing_alg_values_supported"][0],
        algorithm.as_str()
    );
}
