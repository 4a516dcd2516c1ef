//! The user store: one DynamoDB table, six kinds of item.
//!
//! | item        | `pk`             | `sk`           | holds                                          |
//! |-------------|------------------|----------------|------------------------------------------------|
//! | user        | `USER#<id>`      | `USER`         | id, email, name, password hash, created_at, version |
//! | session     | `USER#<id>`      | `SESSION#<id>` | a sign-in: its refresh-token seed and generation, client, `expires_at` (TTL) |
//! | email claim | `EMAIL#<email>`  | `EMAIL`        | the id of the user who owns the email          |
//! | throttle    | `THROTTLE#<mac>` | `LOGIN`        | failed sign-ins for one email ([`LoginThrottle`]) |
//! | code        | `CODE#<email>`   | `<PURPOSE>#<user id>` | a one-time code sent to the address: keyed hashes of its token and code, tries, `expires_at` |
//! | mail rate   | `MAILRATE#<email>` | `MAIL`       | messages sent to the address: the last of each kind, this hour's count |
//!
//! Registration writes the user, its claim and its first session in one `TransactWriteItems`,
//! the first two conditional on `attribute_not_exists(pk)`: DynamoDB, not a read-then-write,
//! guarantees one account per email under any concurrency. The claim item makes a later email
//! change a single transaction (delete old claim, put new claim, update user) without a window
//! for duplicates. The user item carries `version` for optimistic locking; sessions live under
//! their user's partition, so one query lists them, and expire through the table's TTL.
//! `account` holds the account changes, `sessions` the session items, `throttle` the login
//! throttle and `item` the one conversion between items and domain types.

mod account;
mod codes;
mod item;
mod sessions;
mod throttle;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use crate::email::Email;
use crate::error::ApiError;
use crate::password::PasswordHashString;
use crate::session::Session;
use crate::user::{User, UserId};

pub use codes::{APPLY_ATTEMPTS, MailLimits};
pub use item::{PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
pub use throttle::{Admission, LoginThrottle};

/// The user id login reads when an email has no claim: no account ever has it (ids are random
/// v4 UUIDs), so the read finds nothing, but costs what reading a real user costs.
const ABSENT_USER: UserId = UserId::NIL;

/// How often registration retries a transaction that collided with a concurrent one on the
/// same email before answering 503.
const TRANSACTION_ATTEMPTS: u32 = 3;

/// A user together with the password hash, as login needs it. Never serialised.
#[derive(Debug)]
pub struct StoredUser {
    /// The public user.
    pub user: User,
    /// The argon2 PHC string.
    pub password_hash: PasswordHashString,
}

/// Reads and writes users, their email claims and their sessions in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct UserStore {
    client: Client,
    table: String,
    /// `Limit` of each query page; `None` lets DynamoDB fill 1 MB pages.
    page_size: Option<i32>,
}

impl UserStore {
    /// A store over `table`, using a client built once per cold start.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            page_size: None,
        }
    }

    /// The same store, reading queries `size` items per page (tests force small pages to prove
    /// paging).
    pub fn with_page_size(self, size: i32) -> Self {
        Self {
            page_size: Some(size),
            ..self
        }
    }

    /// Creates `user` with its email claim and its first session (none when sign-in must wait
    /// for a verified address), in one transaction. [`ApiError::EmailTaken`] if the email is
    /// already claimed.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn create(
        &self,
        user: &User,
        hash: &PasswordHashString,
        session: Option<&Session>,
    ) -> Result<(), ApiError> {
        let mut items = vec![
            Guarded::new(self.put_new(item::email_claim_item(user))?, || {
                ApiError::EmailTaken
            }),
            Guarded::new(self.put_new(item::user_item(user, hash))?, id_taken),
        ];
        if let Some(session) = session {
            items.push(Guarded::new(
                self.put_new(item::session_item(session))?,
                id_taken,
            ));
        }
        self.transact(items).await
    }

    /// A transaction item that writes `item` only if no item has its key yet.
    pub(super) fn put_new(&self, item: item::Item) -> Result<TransactWriteItem, ApiError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .map_err(ApiError::internal)
    }

    /// A transaction item that deletes `user`'s email claim only if it is still theirs.
    pub(super) fn delete_own_claim(&self, user: &User) -> Result<TransactWriteItem, ApiError> {
        Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::email_claim_key(&user.email)))
            .condition_expression("#user_id = :me")
            .expression_attribute_names("#user_id", item::USER_ID)
            .expression_attribute_values(":me", item::s(user.id.to_string()))
            .build()
            .map(|delete| TransactWriteItem::builder().delete(delete).build())
            .map_err(ApiError::internal)
    }

    /// Runs one `TransactWriteItems`. A cancellation because a condition failed answers what the
    /// first such item says its condition means ([`Guarded`]); a conflict with a concurrent
    /// transaction is retried with jitter, then answered 503; anything else is a storage error.
    ///
    /// Each attempt carries its own `ClientRequestToken`, which makes the SDK's own retries of
    /// that attempt idempotent: when an answer is lost (a timeout) after the transaction
    /// committed, the retry gets the same answer instead of failing its own conditions (a
    /// registration would otherwise answer `email_taken` to its own success).
    pub(super) async fn transact(&self, items: Vec<Guarded>) -> Result<(), ApiError> {
        let requests: Vec<TransactWriteItem> = items.iter().map(|g| g.item.clone()).collect();
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(requests.clone()))
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            let Err(error) = result else {
                return Ok(());
            };
            match cancellation(&error) {
                Some(reasons) if reasons.iter().any(|r| r == "TransactionConflict") => {
                    tracing::info!(attempt, "transaction conflicted; retrying");
                    if attempt < TRANSACTION_ATTEMPTS {
                        tokio::time::sleep(jitter(attempt)).await;
                    }
                }
                Some(reasons) => {
                    // Reasons come one per item, in request order.
                    let refused = items
                        .iter()
                        .zip(&reasons)
                        .find(|(_, reason)| *reason == "ConditionalCheckFailed")
                        .map(|(guarded, _)| (guarded.refused)());
                    return Err(refused.unwrap_or_else(|| storage_error(error)));
                }
                None => return Err(storage_error(error)),
            }
        }
        Err(ApiError::Unavailable(
            "a transaction kept conflicting with concurrent ones".into(),
        ))
    }

    /// Finds the user who owns `email`, with the password hash: two strongly consistent reads,
    /// email claim then user, **whether or not the email is claimed**. A claim whose user is gone
    /// (deleted between the two reads) is no account. An unclaimed email reads
    /// a user id no account has instead, so that sign-in does the same DynamoDB work, and takes
    /// the same time, for unknown and existing accounts.
    #[tracing::instrument(skip_all)]
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<StoredUser>, ApiError> {
        let claim = self
            .read(item::email_claim_key(email), Some(item::CLAIM_ATTRIBUTES))
            .await?;
        let user_id = match &claim {
            Some(claim) => item::claimed_user_id(claim).map_err(ApiError::internal)?,
            None => ABSENT_USER,
        };
        let user = self.read(item::user_key(&user_id), None).await?;
        match (claim, user) {
            (Some(_), Some(user)) => StoredUser::try_from(&user)
                .map(Some)
                .map_err(ApiError::internal),
            // The account was deleted between the two reads (the deletion removes user and claim
            // in one transaction): it no longer exists, which is an ordinary outcome of a race.
            (Some(_), None) => {
                tracing::debug!("the email's account was deleted during the lookup");
                Ok(None)
            }
            (None, _) => Ok(None),
        }
    }

    /// One strongly consistent `GetItem`, of only `attributes` when given.
    pub(super) async fn read(
        &self,
        key: item::Item,
        attributes: Option<&[&str]>,
    ) -> Result<Option<item::Item>, ApiError> {
        let (expression, names) = attributes.map(item::projection).unzip();
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_projection_expression(expression)
            .set_expression_attribute_names(names)
            .consistent_read(true)
            .send()
            .await
            .map_err(storage_error)?;
        Ok(found.item)
    }
}

/// One item of a transaction, built together with what its condition failing means: a
/// cancellation is named where the condition is written, never inferred from a position.
pub(super) struct Guarded {
    item: TransactWriteItem,
    refused: fn() -> ApiError,
}

impl Guarded {
    /// `item`, whose failed condition means `refused()`.
    pub(super) fn new(item: TransactWriteItem, refused: fn() -> ApiError) -> Self {
        Self { item, refused }
    }
}

/// A new random id (user or session) that an item already has: 122 random bits make it
/// practically impossible, but a retry with new ids would succeed, so it is a 503, not a 500.
pub(super) fn id_taken() -> ApiError {
    ApiError::Unavailable("a new random id was already taken".into())
}

/// The cancellation reason codes of a cancelled transaction, in request order.
fn cancellation<R>(
    error: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => Some(
            cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// A short random pause so colliding registrations do not retry in lockstep.
fn jitter(attempt: u32) -> Duration {
    let mut byte = [0u8; 1];
    // A failed draw only loses the spread, never the retry.
    let _ = aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut byte);
    Duration::from_millis(u64::from(attempt) * 20 + u64::from(byte[0] % 25))
}

/// The outcome of a conditional write: `Ok(true)` if it happened, `Ok(false)` if its condition
/// failed (`condition_failed` recognises that error), any other failure mapped as
/// [`storage_error`] does.
pub(crate) fn conditional<O, E>(
    result: Result<O, SdkError<E, HttpResponse>>,
    condition_failed: impl FnOnce(&E) -> bool,
) -> Result<bool, ApiError>
where
    aws_sdk_dynamodb::Error: From<SdkError<E, HttpResponse>>,
{
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(condition_failed) => Ok(false),
        Err(error) => Err(storage_error(error)),
    }
}

/// Maps a DynamoDB SDK error to the API: throttling, timeouts, connection failures and 5xx are
/// a retryable 503; anything else (a missing table, a malformed request) is a 500. Matched on
/// the SDK's types, never on message text.
pub(crate) fn storage_error<E>(error: SdkError<E, HttpResponse>) -> ApiError
where
    aws_sdk_dynamodb::Error: From<SdkError<E, HttpResponse>>,
{
    use aws_sdk_dynamodb::Error as Ddb;
    let transport_or_5xx = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(context) => context.raw().status().is_server_error(),
        _ => false,
    };
    let error = Ddb::from(error);
    let throttled = matches!(
        error,
        Ddb::ThrottlingException(_)
            | Ddb::ProvisionedThroughputExceededException(_)
            | Ddb::RequestLimitExceeded(_)
            | Ddb::InternalServerError(_)
            | Ddb::TransactionInProgressException(_)
    );
    if transport_or_5xx || throttled {
        ApiError::Unavailable(Box::new(error))
    } else {
        ApiError::Internal(Box::new(error))
    }
}
