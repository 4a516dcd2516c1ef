//! Sessions in the users table, under their user's partition (`USER#<id>`, `SESSION#<id>`), so
//! that reading a user with a session is one round trip and listing or ending a user's sessions
//! is one strongly consistent query.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, TransactWriteItem,
    WriteRequest,
};

use super::{Guarded, UserStore, conditional, id_taken, item, storage_error};
use crate::error::ApiError;
use crate::password::PasswordHashString;
use crate::session::{Session, SessionId};
use crate::user::{User, UserId};

/// DynamoDB's limit on one `BatchWriteItem`.
const BATCH_WRITE_LIMIT: usize = 25;
/// How often unprocessed batch items are retried before answering 503.
const BATCH_ATTEMPTS: u32 = 4;

impl UserStore {
    /// Starts `session` for a sign-in whose password matched `verified` (login; register starts
    /// its session in its own transaction). One transaction: the session is written only if the
    /// account still exists with that very hash, so a sign-in that raced a password change or an
    /// account deletion cannot leave a session behind the sweep that ended the others
    /// ([`ApiError::InvalidCredentials`]: the password it verified is no longer the account's).
    #[tracing::instrument(skip_all, fields(user_id = %session.user_id))]
    pub async fn start_session(
        &self,
        session: &Session,
        verified: &PasswordHashString,
    ) -> Result<(), ApiError> {
        let unchanged = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::user_key(&session.user_id)))
            .condition_expression("#hash = :verified")
            .expression_attribute_names("#hash", item::PASSWORD_HASH)
            .expression_attribute_values(":verified", item::s(verified.as_str()))
            .build()
            .map_err(ApiError::internal)?;
        self.transact(vec![
            Guarded::new(
                TransactWriteItem::builder()
                    .condition_check(unchanged)
                    .build(),
                || ApiError::InvalidCredentials,
            ),
            Guarded::new(self.put_new(item::session_item(session))?, id_taken),
        ])
        .await
    }

    /// The user (without the password hash) and one of their sessions, in one strongly
    /// consistent round trip (`BatchGetItem`). Either may be missing.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn get_with_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(Option<User>, Option<Session>), ApiError> {
        let (expression, names) = item::projection(&item::user_and_session_attributes());
        let keys = KeysAndAttributes::builder()
            .keys(item::user_key(user_id))
            .keys(item::session_key(user_id, session_id))
            .consistent_read(true)
            .projection_expression(expression)
            .set_expression_attribute_names(Some(names))
            .build()
            .map_err(ApiError::internal)?;
        let mut request = HashMap::from([(self.table.clone(), keys)]);
        let mut found = Vec::new();
        // Keys DynamoDB leaves unprocessed (its throttling signal) are not "not found": retried
        // with backoff, and if they remain, a 503 the client retries, never a sign-out.
        for attempt in 1..=BATCH_ATTEMPTS {
            let output = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(storage_error)?;
            found.extend(
                output
                    .responses
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default(),
            );
            match output.unprocessed_keys.filter(|keys| !keys.is_empty()) {
                None => break,
                Some(_) if attempt == BATCH_ATTEMPTS => {
                    return Err(ApiError::Unavailable(
                        "DynamoDB left the user and session reads unprocessed".into(),
                    ));
                }
                Some(unprocessed) => request = unprocessed,
            }
            tokio::time::sleep(super::jitter(attempt)).await;
        }
        let (mut user, mut session) = (None, None);
        for found in &found {
            if item::is_session(found) {
                session = Some(Session::try_from(found).map_err(ApiError::internal)?);
            } else {
                user = Some(User::try_from(found).map_err(ApiError::internal)?);
            }
        }
        Ok((user, session))
    }

    /// One session by id, strongly consistent.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn get_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Option<Session>, ApiError> {
        self.read(
            item::session_key(user_id, session_id),
            Some(item::SESSION_ATTRIBUTES),
        )
        .await?
        .map(|found| Session::try_from(&found).map_err(ApiError::internal))
        .transpose()
    }

    /// Rotates `from` to `to` (its next generation) with one conditional write: only if the
    /// stored generation is still `from`'s and the session still exists. `false` when a
    /// concurrent rotation, or the end of the session, came first.
    #[tracing::instrument(skip_all, fields(user_id = %to.user_id))]
    pub async fn rotate(&self, to: &Session) -> Result<bool, ApiError> {
        let (sets, expected) = item::rotation(to);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::session_key(&to.user_id, &to.id)))
            .condition_expression("#generation = :expected")
            .expression_attribute_names("#generation", item::GENERATION_ATTRIBUTE)
            .expression_attribute_values(":expected", expected);
        let mut assignments = Vec::new();
        for (index, (name, value)) in sets.into_iter().enumerate() {
            assignments.push(format!("#a{index} = :v{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), name)
                .expression_attribute_values(format!(":v{index}"), value);
        }
        let result = update
            .update_expression(format!("SET {}", assignments.join(", ")))
            .send()
            .await;
        conditional(
            result,
            UpdateItemError::is_conditional_check_failed_exception,
        )
    }

    /// Ends a session, whether or not it still exists.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn end_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<(), ApiError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::session_key(user_id, session_id)))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Ends a session if it is one of the user's live sessions at `now` (epoch seconds), with one
    /// conditional delete. `false` if it was not.
    ///
    /// The delete goes as a one-item transaction: its request token makes the SDK's retry of a
    /// delete whose answer was lost get the first answer (ended), where a plain conditional
    /// delete would find nothing and report the session as not found.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn end_live_session(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: u64,
    ) -> Result<bool, ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::session_key(user_id, session_id)))
            .condition_expression("attribute_exists(#pk) AND #expires > :now")
            .expression_attribute_names("#pk", item::PARTITION_KEY)
            .expression_attribute_names("#expires", item::TTL_ATTRIBUTE)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .build()
            .map_err(ApiError::internal)?;
        let ended = self
            .transact(vec![Guarded::new(
                TransactWriteItem::builder().delete(delete).build(),
                || ApiError::SessionNotFound,
            )])
            .await;
        match ended {
            Ok(()) => Ok(true),
            Err(ApiError::SessionNotFound) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Every session of the user that is live at `now`, newest first: one strongly consistent
    /// query, followed page by page.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn sessions(&self, user_id: &UserId, now: u64) -> Result<Vec<Session>, ApiError> {
        let (expression, names) = item::projection(item::SESSION_ATTRIBUTES);
        let mut sessions = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :user AND begins_with(#sk, :prefix)")
                .set_expression_attribute_names(Some(
                    names
                        .clone()
                        .into_iter()
                        .chain([
                            ("#pk".to_owned(), item::PARTITION_KEY.to_owned()),
                            ("#sk".to_owned(), item::SORT_KEY.to_owned()),
                        ])
                        .collect(),
                ))
                .expression_attribute_values(":user", item::user_partition(user_id))
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(item::SESSION_PREFIX.to_owned()),
                )
                .projection_expression(&expression)
                .consistent_read(true)
                .set_limit(self.page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for found in page.items() {
                let session = Session::try_from(found).map_err(ApiError::internal)?;
                if session.is_live(now) {
                    sessions.push(session);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        sessions.sort_by(|a, b| {
            (b.created_at, b.id.to_string()).cmp(&(a.created_at, a.id.to_string()))
        });
        Ok(sessions)
    }

    /// Ends every session of the user but `keep`, in batches of 25 deletes; returns how many
    /// live ones it ended.
    pub async fn end_sessions_except(
        &self,
        user_id: &UserId,
        keep: &SessionId,
        now: u64,
    ) -> Result<usize, ApiError> {
        self.end_sessions(user_id, Some(keep), now).await
    }

    /// Ends every session of the user (but `keep`, if given), in batches of 25 deletes.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn end_sessions(
        &self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: u64,
    ) -> Result<usize, ApiError> {
        // Expired ones are deleted too: they are dead already, and TTL may lag.
        let all = self.sessions(user_id, 0).await?;
        let doomed: Vec<WriteRequest> = all
            .iter()
            .filter(|session| Some(&session.id) != keep)
            .map(|session| {
                DeleteRequest::builder()
                    .set_key(Some(item::session_key(user_id, &session.id)))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(ApiError::internal)
            })
            .collect::<Result<_, _>>()?;
        let count = all
            .iter()
            .filter(|s| Some(&s.id) != keep && s.is_live(now))
            .count();
        for chunk in doomed.chunks(BATCH_WRITE_LIMIT) {
            let mut pending = chunk.to_vec();
            for attempt in 1..=BATCH_ATTEMPTS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(storage_error)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt == BATCH_ATTEMPTS {
                    return Err(ApiError::Unavailable(
                        "DynamoDB left session deletes unprocessed".into(),
                    ));
                }
                tokio::time::sleep(super::jitter(attempt)).await;
            }
        }
        Ok(count)
    }
}
