//! `POST /email/confirm`: `{"token"}` (the link) or `{"email", "code"}` (typed) proves an
//! address. What it proves is what the code was issued for: the account's own address (now
//! verified), or a pending email change (the account moves to it, in one transaction with its
//! claim: `409 email_taken` if someone took the address meanwhile). No bearer token: the link
//! may be opened on another device. Every failure of the code is `400 invalid_code`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::codes::Purpose;
use shared::json_body::parse_json_body;
use shared::recovery::{Presented, current, unlock};
use shared::response::json_response;
use shared::runtime::{Event, EventResponse, respond};
use shared::store::APPLY_ATTEMPTS;
use shared::{ApiError, AppState};

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &AppState, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        confirm_email(state, request)
    })
    .await
}

async fn confirm_email(state: &AppState, request: Request) -> Result<Response<Body>, ApiError> {
    let presented = parse_json_body(&request, Presented::from_fields)?;
    let unlocked = unlock(state, &presented, &[Purpose::Verify, Purpose::ChangeEmail]).await?;
    let (record, proof) = (unlocked.record, unlocked.proof);
    let mut user = unlocked.user;
    for attempt in 1..=APPLY_ATTEMPTS {
        let applied = match record.purpose {
            Purpose::ChangeEmail => {
                state
                    .users
                    .confirm_email_change(&user, &record, &proof)
                    .await
            }
            _ => state.users.confirm_address(&user, &record, &proof).await,
        };
        match applied {
            Ok(updated) => {
                tracing::info!(user_id = %updated.id, purpose = record.purpose.as_str(), "address confirmed");
                return Ok(json_response(StatusCode::OK, &json!({ "user": updated })));
            }
            // The account changed between its read and the write (a name change, say): the code
            // is still unused; read it again and retry.
            Err(ApiError::PreconditionFailed) if attempt < APPLY_ATTEMPTS => {
                user = current(state, &user.id, &record).await?;
            }
            Err(error) => return Err(error),
        }
    }
    Err(ApiError::PreconditionFailed)
}
