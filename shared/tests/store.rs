//! The store's contract, against the local DynamoDB `make test` starts: one deterministic test per
//! conditional write the product relies on. Each failure is forced (a stale version, an ended
//! session, a changed hash, a taken address), never raced, and each test checks both what the
//! store answers and that it wrote nothing.

#![allow(clippy::expect_used)] // helpers of tests: a panic is the failure

use shared::ApiError;
use shared::codes::{Proof, Purpose};
use shared::config::Config;
use shared::email::Email;
use shared::password::PasswordHashString;
use shared::session::{ClientInfo, Session};
use shared::state::{AppState, sdk_config_loader};
use shared::user::{DisplayName, User};

async fn state() -> AppState {
    let config = Config::from_env().expect("the environment `make test` sets");
    let sdk = sdk_config_loader(&config).load().await;
    AppState::new(config, &sdk).await.expect("state builds")
}

fn email(tag: &str) -> Email {
    Email::parse(&format!(
        "store-{tag}-{}@example.com",
        uuid::Uuid::new_v4().simple()
    ))
    .expect("valid")
}

/// A fixed PHC string: the store keeps hashes opaque, so no hashing is needed here.
fn hash(tag: &str) -> PasswordHashString {
    PasswordHashString::from_stored(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${tag}"))
}

fn session_of(state: &AppState, user: &User) -> Session {
    Session::start(user, ClientInfo::default(), state.refresh_tokens.settings())
}

/// A stored account with its first session.
async fn account(state: &AppState, tag: &str) -> (User, Session) {
    let user = User::new(email(tag), None);
    let session = session_of(state, &user);
    state
        .users
        .create(&user, &hash("first"), Some(&session))
        .await
        .expect("created");
    (user, session)
}

/// The account as stored now, by its address.
async fn stored(state: &AppState, email: &Email) -> Option<(User, String)> {
    let found = state.users.find_by_email(email).await.expect("read")?;
    Some((found.user, found.password_hash.as_str().to_owned()))
}

#[tokio::test]
async fn registering_a_claimed_address_is_email_taken_and_writes_nothing() {
    let state = state().await;
    let (first, _) = account(&state, "taken").await;
    let second = User::new(first.email.clone(), None);
    let session = session_of(&state, &second);

    let refused = state
        .users
        .create(&second, &hash("second"), Some(&session))
        .await;

    assert!(matches!(refused, Err(ApiError::EmailTaken)), "{refused:?}");
    let (user, session) = state
        .users
        .get_with_session(&second.id, &session.id)
        .await
        .expect("read");
    assert_eq!((user, session), (None, None), "no user, no session written");
    assert_eq!(
        stored(&state, &first.email).await.expect("kept").0.id,
        first.id
    );
}

#[tokio::test]
async fn a_stale_version_writes_nothing_and_says_so() {
    let state = state().await;
    let (user, _) = account(&state, "stale").await;
    let renamed = state
        .users
        .update_name(&user, DisplayName::parse("Ada").ok().as_ref())
        .await
        .expect("first change");
    assert_eq!(renamed.version, user.version + 1);

    // Every write below holds the version read before that change.
    let name = DisplayName::parse("Eve").expect("valid");
    let rename = state.users.update_name(&user, Some(&name)).await;
    assert!(
        matches!(rename, Err(ApiError::PreconditionFailed)),
        "{rename:?}"
    );

    let moved_to = email("stale-move");
    let email_move = move_to(&state, &user, &moved_to).await;
    assert!(
        matches!(email_move, Err(ApiError::PreconditionFailed)),
        "{email_move:?}"
    );
    assert!(
        stored(&state, &moved_to).await.is_none(),
        "no claim on the new address"
    );

    let password = state.users.set_password_hash(&user, &hash("new")).await;
    assert_eq!(password.expect("answered"), None, "refused, as None");

    let deletion = state.users.delete_account(&user).await;
    assert!(
        matches!(deletion, Err(ApiError::PreconditionFailed)),
        "{deletion:?}"
    );

    let (now, hash_now) = stored(&state, &user.email).await.expect("still there");
    assert_eq!(now, renamed, "exactly the first change");
    assert_eq!(hash_now, hash("first").as_str());
}

/// Confirms a move of `user` (as read: its version is what the write is conditional on) to
/// `address`, with a code mailed there.
async fn move_to(state: &AppState, user: &User, address: &Email) -> Result<User, ApiError> {
    let code =
        shared::testing::issue_code(state, user.id, Purpose::ChangeEmail, address.as_str()).await;
    let mut pending = user.clone();
    pending.pending_email = Some(address.clone());
    let proof = Proof::Token(code.record.token_mac.clone());
    state
        .users
        .confirm_email_change(&pending, &code.record, &proof)
        .await
}

#[tokio::test]
async fn moving_to_a_claimed_address_is_email_taken_and_moves_nothing() {
    let state = state().await;
    let (user, _) = account(&state, "mover").await;
    let (holder, _) = account(&state, "holder").await;

    let refused = move_to(&state, &user, &holder.email).await;

    assert!(matches!(refused, Err(ApiError::EmailTaken)), "{refused:?}");
    assert_eq!(stored(&state, &user.email).await.expect("kept").0, user);
    assert_eq!(stored(&state, &holder.email).await.expect("kept").0, holder);
}

#[tokio::test]
async fn a_claimed_address_wins_over_a_stale_version() {
    let state = state().await;
    let (user, _) = account(&state, "both").await;
    let (holder, _) = account(&state, "both-holder").await;
    state
        .users
        .update_name(&user, None)
        .await
        .expect("moves the version");

    let refused = move_to(&state, &user, &holder.email).await;

    assert!(matches!(refused, Err(ApiError::EmailTaken)), "{refused:?}");
}

/// Starting `session` on `verified` is refused as invalid credentials, and writes no session.
async fn assert_session_refused(
    state: &AppState,
    session: &Session,
    verified: &PasswordHashString,
) {
    let refused = state.users.start_session(session, verified).await;
    assert!(
        matches!(refused, Err(ApiError::InvalidCredentials)),
        "{refused:?}"
    );
    let found = state
        .users
        .get_session(&session.user_id, &session.id)
        .await
        .expect("read");
    assert_eq!(found, None, "no session written");
}

#[tokio::test]
async fn a_session_never_starts_on_a_hash_that_changed() {
    let state = state().await;
    let (user, _) = account(&state, "rehashed").await;
    state
        .users
        .set_password_hash(&user, &hash("changed"))
        .await
        .expect("answered")
        .expect("changed");
    let session = session_of(&state, &user);

    assert_session_refused(&state, &session, &hash("first")).await;
    state
        .users
        .start_session(&session, &hash("changed"))
        .await
        .expect("the current hash starts it");
}

#[tokio::test]
async fn a_session_never_starts_on_a_deleted_account() {
    let state = state().await;
    let (user, _) = account(&state, "deleted").await;
    state.users.delete_account(&user).await.expect("deleted");
    let session = session_of(&state, &user);

    assert_session_refused(&state, &session, &hash("first")).await;
}

#[tokio::test]
async fn rotating_an_ended_session_never_recreates_it() {
    let state = state().await;
    let (user, session) = account(&state, "ended").await;
    let settings = *state.refresh_tokens.settings();
    state
        .users
        .end_session(&user.id, &session.id)
        .await
        .expect("ended");

    let rotated = session.rotated(shared::clock::now_millis(), &settings);
    let written = state.users.rotate(&rotated).await.expect("answered");

    assert!(!written, "the rotation says it wrote nothing");
    let found = state
        .users
        .get_session(&user.id, &session.id)
        .await
        .expect("read");
    assert_eq!(found, None, "the ended session stays ended");
}

#[tokio::test]
async fn a_rotation_from_a_stale_generation_writes_nothing() {
    let state = state().await;
    let (user, session) = account(&state, "rotations").await;
    let settings = *state.refresh_tokens.settings();
    let now = shared::clock::now_millis();
    let first = session.rotated(now, &settings);
    assert!(state.users.rotate(&first).await.expect("answered"));

    // A second rotation from the same generation lost the race: it must not overwrite.
    let late = session.rotated(now + 1, &settings);
    assert!(!state.users.rotate(&late).await.expect("answered"));

    let found = state
        .users
        .get_session(&user.id, &session.id)
        .await
        .expect("read");
    assert_eq!(found.expect("live").generation, first.generation);
}

/// Points `email`'s claim at another user, as a concurrent email change or deletion would leave
/// it from this request's point of view.
async fn claim_taken_over(email: &Email) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let config = Config::from_env().expect("config");
    let sdk = sdk_config_loader(&config).load().await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_item()
        .table_name(&config.table_name)
        .key("pk", AttributeValue::S(format!("EMAIL#{email}")))
        .key("sk", AttributeValue::S("EMAIL".to_owned()))
        .update_expression("SET user_id = :other")
        .expression_attribute_values(
            ":other",
            AttributeValue::S(uuid::Uuid::new_v4().to_string()),
        )
        .send()
        .await
        .expect("claim rewritten");
}

/// Every condition of every transaction, failed on its own, answers what it means;
/// none is a 500. (The ones above cover the claim on register, the new claim and the version on
/// an email move, the version on deletion, and the hash check on a session start. Register's
/// session item lives under the new user's own partition, so it cannot collide unless the user
/// id does, which the user item's own condition catches first.)
#[tokio::test]
async fn every_other_transaction_condition_has_a_meaning_that_is_not_a_500() {
    let state = state().await;

    // Register: a new user's random id already taken → 503, retry.
    let (taken, _) = account(&state, "id-clash").await;
    let mut clash = taken.clone();
    clash.email = email("id-clash-other");
    let session = session_of(&state, &clash);
    let refused = state.users.create(&clash, &hash("x"), Some(&session)).await;
    assert!(
        matches!(refused, Err(ApiError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(
        stored(&state, &clash.email).await.is_none(),
        "no claim written"
    );

    // Session start: a new session's random id already taken → 503, retry.
    let (_, first) = account(&state, "session-clash").await;
    let refused = state.users.start_session(&first, &hash("first")).await;
    assert!(
        matches!(refused, Err(ApiError::Unavailable(_))),
        "{refused:?}"
    );

    // Email move: the old claim is no longer this user's → 412, nothing moved.
    let (mover, _) = account(&state, "claim-gone").await;
    claim_taken_over(&mover.email).await;
    let target = email("claim-gone-target");
    let refused = move_to(&state, &mover, &target).await;
    assert!(
        matches!(refused, Err(ApiError::PreconditionFailed)),
        "{refused:?}"
    );
    assert!(
        stored(&state, &target).await.is_none(),
        "no claim on the new address"
    );

    // Deletion: the claim is no longer this user's → 412, the user stays.
    let (leaver, _) = account(&state, "claim-gone-delete").await;
    claim_taken_over(&leaver.email).await;
    let refused = state.users.delete_account(&leaver).await;
    assert!(
        matches!(refused, Err(ApiError::PreconditionFailed)),
        "{refused:?}"
    );
    let (kept, _) = state
        .users
        .get_with_session(&leaver.id, &shared::session::SessionId::new())
        .await
        .expect("read");
    assert_eq!(kept.map(|u| u.id), Some(leaver.id), "the user stays");
}

/// DynamoDB cancels a transaction for a `TransactionConflict` when another one holds an item
/// (neither local emulator does: both run transactions one at a time, so the conflict is
/// injected). The store retries it, and a registration commits once.
#[tokio::test]
async fn a_transaction_that_conflicts_is_retried_and_commits_once() {
    use shared::testing::{Interleave, interleaved_state};
    let conflicts = Interleave::conflicting_transactions(2);
    let state = interleaved_state(conflicts.clone()).await;
    let user = User::new(email("conflict-retried"), None);
    let session = session_of(&state, &user);
    state
        .users
        .create(&user, &hash("first"), Some(&session))
        .await
        .expect("committed on the third attempt");
    assert!(conflicts.ran());
    let (found, _) = stored(&state, &user.email).await.expect("stored");
    assert_eq!(found.id, user.id);
}

/// A transaction that conflicts on every attempt is a retryable 503 and writes nothing.
#[tokio::test]
async fn a_transaction_that_keeps_conflicting_is_a_503_and_writes_nothing() {
    use shared::testing::{Interleave, interleaved_state};
    let state = interleaved_state(Interleave::conflicting_transactions(usize::MAX)).await;
    let user = User::new(email("conflict-forever"), None);
    let session = session_of(&state, &user);
    let refused = state
        .users
        .create(&user, &hash("first"), Some(&session))
        .await
        .expect_err("refused");
    assert!(matches!(refused, ApiError::Unavailable(_)), "{refused:?}");
    assert!(
        stored(&state, &user.email).await.is_none(),
        "nothing written"
    );
}

/// A code is never stored for an account deleted since the mailer read it (the mailer reads
/// the account, then issues its code): the write checks the account in the same transaction.
#[tokio::test]
async fn a_code_is_never_stored_for_an_account_deleted_meanwhile() {
    let state = state().await;
    let (user, _) = account(&state, "code-after-deletion").await;
    state.users.delete_account(&user).await.expect("deleted");
    let issued = state.codes.issue(
        user.id,
        Purpose::Verify,
        user.email.clone(),
        shared::clock::now_seconds(),
    );
    assert!(
        !state
            .users
            .save_code(&issued.record)
            .await
            .expect("answered")
    );
    let left = state
        .users
        .code(&user.email, Purpose::Verify, &user.id)
        .await
        .expect("read");
    assert!(left.is_none(), "nothing stored");
}
