//! `PATCH /profile`: changes the display name and/or asks to change the email address, with
//! optimistic locking (`If-Match`, and every write conditional on the version read).
//!
//! A name change applies at once. An email change needs the current password, checked exactly
//! as sign-in checks it, and then only records the new address as `pending_email`: a link and
//! code go to the new address, a notice to the old one, and the account keeps its address (and
//! signs in with it) until `POST /email/confirm` proves the new one. A second change replaces
//! the pending one.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use shared::ApiError;
use shared::auth::authenticate;
use shared::credentials::verify_credentials;
use shared::email::Email;
use shared::http::{check_if_match, source_address};
use shared::json_body::parse_json_body;
use shared::mail::{MailJob, Mailing, Notice};
use shared::response::json_response_with_etag;
use shared::runtime::{Event, EventResponse, respond};
use shared::user::DisplayName;

/// The Lambda handler: one API Gateway event in, one HTTP response out, for anything a client
/// can send (see [`shared::runtime::respond`]).
pub async fn handler(state: &Mailing, event: Event) -> EventResponse {
    respond(&state.browser, event, |request| {
        update_profile(state, request)
    })
    .await
}

#[derive(Debug)]
struct Changes {
    name: Option<Option<DisplayName>>,
    email: Option<(Email, SecretString)>,
}

async fn update_profile(state: &Mailing, request: Request) -> Result<Response<Body>, ApiError> {
    let authenticated = authenticate(state, &request).await?;
    let user = authenticated.user;
    let changes = parse_json_body(&request, |fields| {
        let name = fields.nullable("name", DisplayName::parse);
        let email = fields.optional("email", Email::parse);
        let password = fields.optional("current_password", |raw| {
            Ok::<_, std::convert::Infallible>(SecretString::from(raw))
        });
        let (name, email, password) = (name?, email?, password?);
        let email = match (email, password) {
            (Some(email), Some(password)) => Some((email, password)),
            (Some(_), None) => {
                return fields.refuse("current_password", "is required to change the email");
            }
            (None, _) => None,
        };
        if name.is_none() && email.is_none() {
            return fields.refuse("body", "must change the name or the email");
        }
        Some(Changes { name, email })
    })?;
    // After the body: a request that would be refused without its precondition is refused the
    // same way with one (RFC 9110 §13.2.1), so a 400 wins over a 412.
    check_if_match(&request, user.version)?;

    let new_email = match changes.email {
        Some((email, password)) if email != user.email => {
            // Re-authentication: the same throttle, timing and answers as sign-in.
            verify_credentials(
                state,
                Ok(user.email.clone()),
                password,
                source_address(&request).as_deref(),
            )
            .await?;
            Some(email)
        }
        _ => None,
    };
    if changes.name.is_none() && new_email.is_none() {
        // The email given is the current one: nothing to write.
        return Ok(json_response_with_etag(StatusCode::OK, &user, user.version));
    }
    let Some(new_email) = new_email else {
        // Only a name (the no-op cases returned above).
        let name = changes.name.as_ref().and_then(Option::as_ref);
        let updated = state.users.update_name(&user, name).await?;
        tracing::info!(user_id = %user.id, "account updated");
        return Ok(json_response_with_etag(
            StatusCode::OK,
            &updated,
            updated.version,
        ));
    };
    let updated = state
        .users
        .request_email_change(&user, changes.name.as_ref().map(Option::as_ref), &new_email)
        .await?;
    tracing::info!(user_id = %user.id, "email change requested; awaiting confirmation");
    for job in [
        MailJob::ConfirmEmailChange {
            user_id: user.id,
            address: new_email.as_str().to_owned(),
        },
        MailJob::Notice {
            address: user.email.as_str().to_owned(),
            notice: Notice::EmailChangeRequested,
        },
    ] {
        if let Err(error) = state.outbox.send(&job).await {
            // The request is recorded; repeating it sends the mail again.
            tracing::error!(code = error.code(), error = %error, "email change recorded; its mail could not be queued");
        }
    }
    Ok(json_response_with_etag(
        StatusCode::OK,
        &updated,
        updated.version,
    ))
}
