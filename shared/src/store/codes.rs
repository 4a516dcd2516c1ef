//! One-time codes and what they unlock: the code items, the per-address mail counter, and the
//! transactions that consume a code together with its effect (an address verified, an email
//! moved, a password reset). A code is used once because its delete, conditional on the proof,
//! its attempts and its lifetime, is an item of the very transaction that applies it.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};

use super::account::Change;
use super::item::{self, n, s};
use super::{Guarded, UserStore, conditional, storage_error};
use crate::clock::now_seconds;
use crate::codes::{CodeRecord, MAX_CODE_ATTEMPTS, Proof, Purpose};
use crate::email::Email;
use crate::error::ApiError;
use crate::password::PasswordHashString;
use crate::user::{DisplayName, User, UserId};

/// How often a code's effect is retried when the account changed between its read and the
/// transaction (a concurrent name change, say) before answering 412.
pub const APPLY_ATTEMPTS: u32 = 3;

/// The per-address send limits the mailer applies ([`UserStore::admit_mail`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailLimits {
    /// At most one message of a kind per address within this many seconds.
    pub min_interval_seconds: u64,
    /// At most this many messages per address per hour.
    pub hourly_limit: u32,
}

impl UserStore {
    /// Stores an issued code, replacing (and so killing) the code of the same purpose, account
    /// and address, in one transaction with a check that the account still exists: `Ok(false)`,
    /// and nothing stored, when it does not. A deletion either comes first (then no code is
    /// written) or after (then its sweep of the account's codes, which follows its transaction,
    /// removes this one): a code never outlives its account, whatever the interleaving.
    #[tracing::instrument(skip_all, fields(user_id = %record.user_id, purpose = record.purpose.as_str()))]
    pub async fn save_code(&self, record: &CodeRecord) -> Result<bool, ApiError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::code_item(record)))
            .build()
            .map_err(ApiError::internal)?;
        let account = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(item::user_key(&record.user_id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", item::PARTITION_KEY)
            .build()
            .map_err(ApiError::internal)?;
        let saved = self
            .transact(vec![
                Guarded::new(TransactWriteItem::builder().put(put).build(), || {
                    ApiError::internal("an unconditional put failed its condition")
                }),
                // The one condition of the transaction: its failure means the account is gone.
                Guarded::new(
                    TransactWriteItem::builder()
                        .condition_check(account)
                        .build(),
                    || ApiError::InvalidCode,
                ),
            ])
            .await;
        match saved {
            Ok(()) => Ok(true),
            Err(ApiError::InvalidCode) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The code of `purpose` for `user_id` sent to `address`, if one is stored (live or not).
    pub async fn code(
        &self,
        address: &Email,
        purpose: Purpose,
        user_id: &UserId,
    ) -> Result<Option<CodeRecord>, ApiError> {
        let found = self
            .read(item::code_key(address.as_str(), purpose, user_id), None)
            .await?;
        found
            .as_ref()
            .map(CodeRecord::try_from)
            .transpose()
            .map_err(ApiError::internal)
    }

    /// Every code stored for `address` (one strongly consistent query; a handful of items at
    /// most: one per purpose and account that sent mail there).
    pub async fn codes_at(&self, address: &Email) -> Result<Vec<CodeRecord>, ApiError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", item::PARTITION_KEY)
            .expression_attribute_values(":pk", item::code_partition(address.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage_error)?;
        output
            .items()
            .iter()
            .filter(|found| found.contains_key(item::CODE_MAC))
            .map(|found| CodeRecord::try_from(found).map_err(ApiError::internal))
            .collect()
    }

    /// Counts a wrong code against every code `guessed` at `address` (a guess is a try at each).
    /// With none, one conditional write to a key no item has: the same work, so the time taken
    /// says nothing about whether the address has a code, or an account.
    pub async fn count_wrong_guess(
        &self,
        address: &Email,
        guessed: &[CodeRecord],
    ) -> Result<(), ApiError> {
        let keys: Vec<item::Item> = if guessed.is_empty() {
            vec![item::absent_code_key(address.as_str())]
        } else {
            guessed
                .iter()
                .map(|r| item::code_key(address.as_str(), r.purpose, &r.user_id))
                .collect()
        };
        for key in keys {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("ADD #attempts :one")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#attempts", item::ATTEMPTS)
                .expression_attribute_names("#pk", item::PARTITION_KEY)
                .expression_attribute_values(":one", n(1))
                .send()
                .await;
            conditional(
                result,
                UpdateItemError::is_conditional_check_failed_exception,
            )?;
        }
        Ok(())
    }

    /// The account with `id` (without its password hash), strongly consistent.
    pub async fn get_user(&self, id: &UserId) -> Result<Option<User>, ApiError> {
        let found = self
            .read(item::user_key(id), Some(item::PUBLIC_ATTRIBUTES))
            .await?;
        found
            .as_ref()
            .map(User::try_from)
            .transpose()
            .map_err(ApiError::internal)
    }

    /// The transaction item that uses up `record`: deleted only if `proof` is still its proof,
    /// it has tries left and it has not expired. Its failure is [`ApiError::InvalidCode`].
    fn consume(&self, record: &CodeRecord, proof: &Proof) -> Result<Guarded, ApiError> {
        let (attribute, mac) = match proof {
            Proof::Token(mac) => (item::TOKEN_MAC, mac),
            Proof::Code(mac) => (item::CODE_MAC, mac),
        };
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::code_key(
                record.address.as_str(),
                record.purpose,
                &record.user_id,
            )))
            .condition_expression("#mac = :mac AND #attempts < :max AND #expires > :now")
            .expression_attribute_names("#mac", attribute)
            .expression_attribute_names("#attempts", item::ATTEMPTS)
            .expression_attribute_names("#expires", item::TTL_ATTRIBUTE)
            .expression_attribute_values(":mac", s(mac))
            .expression_attribute_values(":max", n(MAX_CODE_ATTEMPTS))
            .expression_attribute_values(":now", n(now_seconds()))
            .build()
            .map_err(ApiError::internal)?;
        Ok(Guarded::new(
            TransactWriteItem::builder().delete(delete).build(),
            || ApiError::InvalidCode,
        ))
    }

    /// An unconditional delete of another code of the account (it dies with this change).
    fn kill(
        &self,
        address: &Email,
        purpose: Purpose,
        user_id: &UserId,
    ) -> Result<Guarded, ApiError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::code_key(address.as_str(), purpose, user_id)))
            .build()
            .map_err(ApiError::internal)?;
        Ok(Guarded::new(
            TransactWriteItem::builder().delete(delete).build(),
            || ApiError::internal("an unconditional delete cannot fail its condition"),
        ))
    }

    /// Deletes every code `user` may have outstanding: verification and reset at its address,
    /// confirmation at its pending one (one `BatchWriteItem`; a key without an item is no error).
    pub(super) async fn delete_codes(&self, user: &User) -> Result<(), ApiError> {
        let mut keys = vec![
            item::code_key(user.email.as_str(), Purpose::Verify, &user.id),
            item::code_key(user.email.as_str(), Purpose::Reset, &user.id),
        ];
        if let Some(pending) = &user.pending_email {
            keys.push(item::code_key(
                pending.as_str(),
                Purpose::ChangeEmail,
                &user.id,
            ));
        }
        let requests = keys
            .into_iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(ApiError::internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .batch_write_item()
            .request_items(&self.table, requests)
            .send()
            .await
            .map_err(storage_error)?;
        if output
            .unprocessed_items
            .is_some_and(|tables| tables.values().any(|items| !items.is_empty()))
        {
            return Err(ApiError::Unavailable(
                "DynamoDB left code deletes unprocessed".into(),
            ));
        }
        Ok(())
    }

    /// Marks `user`'s address verified, using up `record` (a verification code sent to it), in
    /// one transaction. [`ApiError::InvalidCode`] if the code was used or died meanwhile,
    /// [`ApiError::PreconditionFailed`] if the account changed since it was read.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn confirm_address(
        &self,
        user: &User,
        record: &CodeRecord,
        proof: &Proof,
    ) -> Result<User, ApiError> {
        let change =
            Change::new(user).set("verified", item::EMAIL_VERIFIED, AttributeValue::Bool(true));
        self.transact(vec![
            self.consume(record, proof)?,
            Guarded::new(self.versioned_update(user, change)?, || {
                ApiError::PreconditionFailed
            }),
        ])
        .await?;
        let mut updated = user.clone();
        updated.version += 1;
        updated.email_verified = true;
        Ok(updated)
    }

    /// Moves `user` to its pending address, using up `record` (the code sent there): the new
    /// claim (if nobody holds the address: [`ApiError::EmailTaken`]), the old claim's delete, the
    /// user's new address (verified: the code proved it) and the code's delete, in one
    /// transaction.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn confirm_email_change(
        &self,
        user: &User,
        record: &CodeRecord,
        proof: &Proof,
    ) -> Result<User, ApiError> {
        let mut updated = user.clone();
        updated.version += 1;
        updated.email = record.address.clone();
        updated.email_verified = true;
        updated.pending_email = None;
        let change = Change::new(user)
            .set("email", item::EMAIL, s(record.address.as_str()))
            .set("verified", item::EMAIL_VERIFIED, AttributeValue::Bool(true))
            .remove("pending", item::PENDING_EMAIL);
        // The first failed condition names the answer: a used code, then a taken address.
        self.transact(vec![
            self.consume(record, proof)?,
            Guarded::new(self.put_new(item::email_claim_item(&updated))?, || {
                ApiError::EmailTaken
            }),
            Guarded::new(self.delete_own_claim(user)?, || {
                ApiError::PreconditionFailed
            }),
            Guarded::new(self.versioned_update(user, change)?, || {
                ApiError::PreconditionFailed
            }),
        ])
        .await?;
        Ok(updated)
    }

    /// Resets `user`'s password, using up `record` (a reset code), as one fact with everything it
    /// implies: the new hash, the next credentials generation (every session of the account ends
    /// at once, see [`User::credentials`]), the address verified (the code proved it), any
    /// pending email change dropped, and every other code of the account deleted, in one
    /// transaction. The sessions' items are then swept; a failed sweep is harmless.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn reset_password(
        &self,
        user: &User,
        record: &CodeRecord,
        proof: &Proof,
        hash: &PasswordHashString,
    ) -> Result<User, ApiError> {
        let mut updated = user.clone();
        updated.version += 1;
        updated.credentials += 1;
        updated.email_verified = true;
        updated.pending_email = None;
        let mut change = Change::new(user)
            .set("hash", item::PASSWORD_HASH, s(hash.as_str()))
            .set("credentials", item::CREDENTIALS, n(updated.credentials))
            .set("verified", item::EMAIL_VERIFIED, AttributeValue::Bool(true));
        let mut items = vec![
            self.consume(record, proof)?,
            self.kill(&user.email, Purpose::Verify, &user.id)?,
        ];
        if let Some(pending) = &user.pending_email {
            change = change.remove("pending", item::PENDING_EMAIL);
            items.push(self.kill(pending, Purpose::ChangeEmail, &user.id)?);
        }
        items.push(Guarded::new(self.versioned_update(user, change)?, || {
            ApiError::PreconditionFailed
        }));
        self.transact(items).await?;
        if let Err(error) = self.end_sessions(&user.id, None, now_seconds()).await {
            tracing::warn!(
                code = error.code(),
                "password reset; the sessions' items remain (they authenticate nothing)"
            );
        }
        Ok(updated)
    }

    /// Records that `user` asked to move to `pending` (and changes the name when given), if the
    /// account is still as read: the account keeps its address until the code sent to `pending`
    /// comes back. A second request replaces the first.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn request_email_change(
        &self,
        user: &User,
        name: Option<Option<&DisplayName>>,
        pending: &Email,
    ) -> Result<User, ApiError> {
        let mut updated = user.clone();
        updated.version += 1;
        updated.pending_email = Some(pending.clone());
        let mut change = Change::new(user).set("pending", item::PENDING_EMAIL, s(pending.as_str()));
        if let Some(name) = name {
            change = change.name(name);
            updated.name = name.cloned();
        }
        if self.write_change(user, change).await? {
            Ok(updated)
        } else {
            Err(ApiError::PreconditionFailed)
        }
    }

    /// Whether a message of `kind` may go to `address` now, counting it if so: at most one of a
    /// kind per `min_interval_seconds`, and `hourly_limit` of all kinds per hour. Conditional
    /// writes, so concurrent senders cannot both pass the limit. `Some(stamp)` when admitted
    /// (for [`UserStore::release_mail`]), `None` when over the limit.
    pub async fn admit_mail(
        &self,
        address: &str,
        kind: &str,
        limits: MailLimits,
    ) -> Result<Option<u64>, ApiError> {
        let now = now_seconds();
        let last = format!("{kind}_at");
        let quiet = "(attribute_not_exists(#last) OR #last <= :quiet_since)";
        let common = [
            (":now", n(now)),
            (":expires", n(now + 3600)),
            (":one", n(1)),
            (
                ":quiet_since",
                n(now.saturating_sub(limits.min_interval_seconds)),
            ),
            (":hour_ago", n(now.saturating_sub(3600))),
        ];
        let attempts = [
            // The current hour's window, with room left.
            (
                "SET #last = :now, #expires = :expires ADD #count :one",
                format!("{quiet} AND #start > :hour_ago AND #count < :limit"),
                Some((":limit", n(limits.hourly_limit))),
            ),
            // No window yet, or an hour-old one: a new window.
            (
                "SET #last = :now, #expires = :expires, #start = :now, #count = :one",
                format!("{quiet} AND (attribute_not_exists(#start) OR #start <= :hour_ago)"),
                None,
            ),
        ];
        for (update, condition, extra) in attempts {
            let values = common
                .iter()
                .cloned()
                .chain(extra)
                .map(|(name, value)| (name.to_owned(), value))
                .collect();
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(item::mail_rate_key(address)))
                .update_expression(update)
                .condition_expression(condition)
                .expression_attribute_names("#last", &last)
                .expression_attribute_names("#start", "window_start")
                .expression_attribute_names("#count", "window_count")
                .expression_attribute_names("#expires", item::TTL_ATTRIBUTE)
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            if conditional(
                result,
                UpdateItemError::is_conditional_check_failed_exception,
            )? {
                return Ok(Some(now));
            }
        }
        Ok(None)
    }

    /// Gives back what [`UserStore::admit_mail`] counted at `stamp` for a message that was not
    /// sent after all (SES failed; the retry will ask again). Best effort: if it fails, the retry
    /// may wait for the limit.
    pub async fn release_mail(&self, address: &str, kind: &str, stamp: u64) {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::mail_rate_key(address)))
            .update_expression("REMOVE #last ADD #count :minus_one")
            .condition_expression("#last = :stamp")
            .expression_attribute_names("#last", format!("{kind}_at"))
            .expression_attribute_names("#count", "window_count")
            .expression_attribute_values(":stamp", n(stamp))
            .expression_attribute_values(":minus_one", n(-1))
            .send()
            .await;
        if let Err(error) = conditional(
            result,
            UpdateItemError::is_conditional_check_failed_exception,
        ) {
            tracing::warn!(
                code = error.code(),
                "a send-limit slot could not be given back"
            );
        }
    }
}
