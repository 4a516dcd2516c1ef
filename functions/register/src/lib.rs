//! `POST /register`: creates an account and signs it in (its first session).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::email::Email;
use shared::http::client_info;
use shared::json_body::parse_json_body;
use shared::password::Password;
use shared::runtime::{Event, EventResponse, respond};
use shared::session::Session;
use shared::signin::signed_in;
use shared::user::{DisplayName, User};
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(event, |request| register(state, request)).await
}

#[derive(Debug)]
struct Registration {
    email: Email,
    password: Password,
    name: Option<DisplayName>,
}

async fn register(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let input = parse_json_body(&request, |fields| {
        let email = fields.required("email", Email::parse);
        let password = fields.required("password", |raw| {
            state.password_policy.parse(raw, email.as_ref())
        });
        // Absent and `null` both mean no name.
        let name = fields
            .nullable("name", DisplayName::parse)
            .map(Option::flatten);
        Some(Registration {
            email: email?,
            password: password?,
            name: name?,
        })
    })?;

    let hash = state.passwords.hash(input.password).await?;
    let user = User::new(input.email, input.name);
    let session = Session::start(
        &user,
        client_info(&request),
        state.refresh_tokens.settings(),
    );
    // The user, the email claim and the first session: one transaction.
    state.users.create(&user, &hash, &session).await?;
    tracing::info!(user_id = %user.id, "account created");
    signed_in(state, StatusCode::CREATED, &user, &session)
}
