//! `DELETE /sessions` through the real handler, fed the payloads in events/, against the local
//! DynamoDB server `make test` starts.

use lambda_http::http::StatusCode;
use shared::AppState;
use shared::testing::{
    auth_status, create_user, event, lambda_event, parts, sign_in, state, unique_email, with_header,
};

async fn end_others(state: &AppState, bearer: &str) -> StatusCode {
    let event = with_header(event("end-other-sessions/ok"), "authorization", bearer);
    parts(end_other_sessions::handler(state, lambda_event(&event)).await).0
}

#[tokio::test]
async fn ends_every_other_session_and_keeps_the_current_one() {
    let state = state().await;
    let user = create_user(
        &state,
        &unique_email("end-others"),
        "correct horse battery staple",
    )
    .await;
    let me = sign_in(&state, &user).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(sign_in(&state, &user).await);
    }
    let stranger = create_user(
        &state,
        &unique_email("end-others-x"),
        "correct horse battery staple",
    )
    .await;
    let stranger = sign_in(&state, &stranger).await;

    assert_eq!(end_others(&state, &me.bearer).await, StatusCode::NO_CONTENT);

    assert_eq!(auth_status(&state, &me.bearer).await, StatusCode::OK);
    for other in &others {
        assert_eq!(
            auth_status(&state, &other.bearer).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(auth_status(&state, &stranger.bearer).await, StatusCode::OK);
    let left = state.users.sessions(&user.id, 0).await.expect("listed");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, me.session.id);
}

/// More sessions than one page holds and than one batch deletes (25): all are ended.
#[tokio::test]
async fn pages_and_batches_through_many_sessions() {
    let mut state = state().await;
    let user = create_user(
        &state,
        &unique_email("end-many"),
        "correct horse battery staple",
    )
    .await;
    let me = sign_in(&state, &user).await;
    for _ in 0..30 {
        sign_in(&state, &user).await;
    }
    state.users = state.users.clone().with_page_size(7);
    assert_eq!(end_others(&state, &me.bearer).await, StatusCode::NO_CONTENT);
    let left = state.users.sessions(&user.id, 0).await.expect("listed");
    assert_eq!(
        left.iter().map(|s| s.id).collect::<Vec<_>>(),
        [me.session.id]
    );
}

#[tokio::test]
async fn without_a_token_it_is_401() {
    let state = state().await;
    let (status, _, body) = parts(
        end_other_sessions::handler(
            &state,
            lambda_event(&event("end-other-sessions/missing-token")),
        )
        .await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "missing_token");
}

#[tokio::test]
async fn a_missing_or_expired_token_is_refused_with_its_challenge() {
    let state = state().await;
    shared::testing::assert_standard_bearer_refusals("end-other-sessions", |event| {
        end_other_sessions::handler(&state, event)
    })
    .await;
}
