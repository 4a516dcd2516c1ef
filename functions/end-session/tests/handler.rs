//! `DELETE /sessions/{id}` through the real handler, fed the payloads in events/, against the
//! local DynamoDB server `make test` starts.

use lambda_http::http::StatusCode;
use serde_json::Value;
use shared::AppState;
use shared::runtime::EventResponse;
use shared::testing::{
    auth_status, event, lambda_event, new_user, parts, sign_in, state, with_header,
};

/// The checked-in event, for session `id`, with `bearer`.
async fn end(state: &AppState, bearer: &str, id: &str) -> EventResponse {
    let mut event = with_header(event("end-session/ok"), "authorization", bearer);
    let path = format!("/sessions/{id}");
    event["rawPath"] = Value::String(path.clone());
    event["requestContext"]["http"]["path"] = Value::String(path);
    event["pathParameters"]["id"] = Value::String(id.to_owned());
    end_session::handler(state, lambda_event(&event)).await
}

#[tokio::test]
async fn ends_another_of_the_callers_sessions() {
    let state = state().await;
    let user = new_user(&state, "end-one").await;
    let me = sign_in(&state, &user).await;
    let laptop = sign_in(&state, &user).await;

    let (status, _, body) = parts(end(&state, &me.bearer, &laptop.session.id.to_string()).await);

    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        auth_status(&state, &laptop.bearer).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(auth_status(&state, &me.bearer).await, StatusCode::OK);
}

#[tokio::test]
async fn ending_the_current_session_signs_out() {
    let state = state().await;
    let me = sign_in(&state, &new_user(&state, "end-self").await).await;
    let answer = end(&state, &me.bearer, &me.session.id.to_string()).await;
    assert_eq!(answer.status_code, 204);
    assert_eq!(
        auth_status(&state, &me.bearer).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Someone else's session, a session that never existed, an ended one, a malformed id: one
/// identical 404, and nothing is ended.
#[tokio::test]
async fn not_one_of_the_callers_live_sessions_is_one_identical_404() {
    let state = state().await;
    let me = sign_in(&state, &new_user(&state, "end-404").await).await;
    let theirs = sign_in(&state, &new_user(&state, "end-404-other").await).await;
    let (me_user, _) = state
        .users
        .get_with_session(&me.session.user_id, &me.session.id)
        .await
        .expect("read");
    let ended = sign_in(&state, &me_user.expect("the user")).await;
    state
        .users
        .end_session(&me.session.user_id, &ended.session.id)
        .await
        .expect("ended");

    let mut answers = Vec::new();
    for id in [
        theirs.session.id.to_string(),
        shared::session::SessionId::new().to_string(),
        ended.session.id.to_string(),
        "not-a-session-id".to_owned(),
    ] {
        answers.push(end(&state, &me.bearer, &id).await);
    }
    answers.push(
        end_session::handler(
            &state,
            lambda_event(&with_header(
                event("end-session/malformed-id"),
                "authorization",
                &me.bearer,
            )),
        )
        .await,
    );
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    let (status, _, body) = parts(answers.remove(0));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "session_not_found");
    assert_eq!(auth_status(&state, &theirs.bearer).await, StatusCode::OK);
}

#[tokio::test]
async fn without_a_token_it_is_401() {
    let state = state().await;
    let (status, _, body) = parts(
        end_session::handler(&state, lambda_event(&event("end-session/missing-token"))).await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "missing_token");
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = state().await;
    shared::testing::assert_standard_bearer_refusals("end-session", |event| {
        end_session::handler(&state, event)
    })
    .await;
}

/// The answer to an ended session is lost (a 500 injected after the delete
/// committed) and the SDK retries it: the retry gets the first answer, 204, not a 404 for a
/// session it has just ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_an_ended_session_is_still_204() {
    let state = state().await;
    let user = new_user(&state, "end-answer-lost").await;
    let me = sign_in(&state, &user).await;
    let other = sign_in(&state, &user).await;
    let lost = shared::testing::Interleave::lose_answer("TransactWriteItems");
    let interleaved = shared::testing::interleaved_state(lost.clone()).await;

    let (status, _, body) =
        parts(end(&interleaved, &me.bearer, &other.session.id.to_string()).await);

    assert!(lost.ran(), "the answer was lost");
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        auth_status(&state, &other.bearer).await,
        StatusCode::UNAUTHORIZED
    );
}
