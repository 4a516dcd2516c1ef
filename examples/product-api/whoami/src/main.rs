//! `GET /whoami` of your product's API (examples/product-api): API Gateway's JWT authorizer has
//! already verified the access token (signature, `exp`, `iss`, `aud`) against the accounts
//! stack's JWKS; this function reads the verified claims from the request context. It knows
//! nothing of sessions: a logged-out token passes here until it expires (15 minutes by default).
//! Routes that must end with logout at once use the accounts stack's Lambda authorizer instead.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response, run, service_fn};
use serde_json::{Value, json};

/// The claims the authorizer verified, or `None` (a route without the authorizer).
pub fn verified_claims(request: &Request) -> Option<Value> {
    let RequestContext::ApiGatewayV2(context) = request.request_context() else {
        return None;
    };
    let claims = &context.authorizer?.jwt?.claims;
    Some(json!({
        "sub": claims.get("sub"),
        "sid": claims.get("sid"),
        "email_verified": claims.get("email_verified"),
    }))
}

async fn whoami(request: Request) -> Result<Response<Body>, Error> {
    let (status, body) = match verified_claims(&request) {
        Some(claims) => (200, claims),
        None => (401, json!({"error": "no verified token"})),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(whoami)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What API Gateway hands the function after its JWT authorizer verified a token.
    #[test]
    fn the_verified_claims_come_from_the_request_context() {
        let event = json!({
            "version": "2.0", "routeKey": "GET /whoami", "rawPath": "/whoami", "rawQueryString": "",
            "headers": {"authorization": "Bearer eyJ...", "host": "api.example.com"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "a1b2c3d4e5",
                "authorizer": {"jwt": {"claims": {"sub": "6f1c2d4e-8a9b-4c3d-9e8f-0a1b2c3d4e5f",
                    "sid": "7d444840-9dc0-41f2-a7a2-4b2fc5f8e1a3", "email_verified": "true"},
                    "scopes": null}},
                "domainName": "api.example.com", "domainPrefix": "api",
                "http": {"method": "GET", "path": "/whoami", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
                "requestId": "id", "routeKey": "GET /whoami", "stage": "$default",
                "time": "23/Nov/2026:21:47:07 +0000", "timeEpoch": 1_795_384_027_000_i64
            },
            "isBase64Encoded": false
        });
        let request =
            lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
        assert_eq!(
            verified_claims(&request),
            Some(json!({"sub": "6f1c2d4e-8a9b-4c3d-9e8f-0a1b2c3d4e5f",
                        "sid": "7d444840-9dc0-41f2-a7a2-4b2fc5f8e1a3", "email_verified": "true"}))
        );
    }
}
