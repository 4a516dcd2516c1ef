//! Account changes: name, password hash, deletion. Every write is conditional on the user item's
//! `version` as it was read (optimistic locking) and bumps it. (The email moves with a mailed
//! code: `codes`.)

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::item::{n, s};
use super::{Guarded, UserStore, conditional, item};
use crate::clock::now_seconds;
use crate::error::ApiError;
use crate::password::PasswordHashString;
use crate::session::Session;
use crate::user::{DisplayName, User};

/// The `SET`/`REMOVE` expression, names and values that change `user` into the next version with
/// `name` (when given) and `email` (when given).
pub(super) struct Change {
    expression: String,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
    removes: Vec<String>,
}

impl Change {
    pub(super) fn new(user: &User) -> Self {
        Self {
            expression: String::new(),
            names: vec![("#version".into(), item::VERSION.into())],
            values: vec![
                (":read".into(), n(user.version)),
                (":next".into(), n(user.version + 1)),
            ],
            removes: Vec::new(),
        }
    }

    /// Removes `attribute`.
    pub(super) fn remove(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names
            .push((format!("#{placeholder}"), attribute.into()));
        self.removes.push(format!("#{placeholder}"));
        self
    }

    pub(super) fn set(mut self, placeholder: &str, attribute: &str, value: AttributeValue) -> Self {
        self.expression
            .push_str(&format!(", #{placeholder} = :{placeholder}"));
        self.names
            .push((format!("#{placeholder}"), attribute.into()));
        self.values.push((format!(":{placeholder}"), value));
        self
    }

    pub(super) fn name(self, name: Option<&DisplayName>) -> Self {
        match name {
            Some(name) => self.set("name", item::NAME, s(name.as_str())),
            None => self.remove("name", item::NAME),
        }
    }

    fn update_expression(&self) -> String {
        let mut expression = format!("SET #version = :next{}", self.expression);
        if !self.removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        expression
    }
}

impl UserStore {
    /// The transaction item that applies `change` to `user`'s item if its version is still the
    /// one read.
    pub(super) fn versioned_update(
        &self,
        user: &User,
        change: Change,
    ) -> Result<TransactWriteItem, ApiError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item::user_key(&user.id)))
            .update_expression(change.update_expression())
            .condition_expression("#version = :read")
            .set_expression_attribute_names(Some(change.names.into_iter().collect()))
            .set_expression_attribute_values(Some(change.values.into_iter().collect()))
            .build()
            .map_err(ApiError::internal)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Stores a new hash of the **same** password for `user` (an argon2 upgrade at sign-in: the
    /// sessions stay), if its version is still the one read. `Some(new version)`, or `None` when
    /// the account changed meanwhile. A new password is [`UserStore::change_password`].
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn set_password_hash(
        &self,
        user: &User,
        hash: &PasswordHashString,
    ) -> Result<Option<u64>, ApiError> {
        let change = Change::new(user).set("hash", item::PASSWORD_HASH, s(hash.as_str()));
        let written = self.write_change(user, change).await?;
        Ok(written.then_some(user.version + 1))
    }

    /// Changes `user`'s password, as one fact with its consequence: the new hash and the next
    /// credentials generation go into the user item (if its version is still the one read), and
    /// the caller's session `keep` moves to that generation (if it still exists), in one
    /// transaction. From that instant every other session of the user is over
    /// ([`crate::session::Session::is_current_for`]): no partial failure and no interleaving can
    /// leave the password changed and another session usable. The sessions' items are then
    /// swept; a sweep that fails is logged and harmless. [`ApiError::PreconditionFailed`] if the
    /// account changed since it was read, [`ApiError::InvalidToken`] if `keep` ended meanwhile;
    /// either way nothing changed. A lost answer is retried by the SDK with the same request
    /// token, so a committed change is never reported as failed.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn change_password(
        &self,
        user: &User,
        hash: &PasswordHashString,
        keep: &Session,
    ) -> Result<User, ApiError> {
        let mut changed = user.clone();
        changed.version += 1;
        changed.credentials += 1;
        let change = Change::new(user)
            .set("hash", item::PASSWORD_HASH, s(hash.as_str()))
            .set("credentials", item::CREDENTIALS, n(changed.credentials));
        let user_update = self.versioned_update(user, change)?;
        let session_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item::session_key(&keep.user_id, &keep.id)))
            .update_expression("SET #credentials = :credentials")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#credentials", item::CREDENTIALS)
            .expression_attribute_names("#pk", item::PARTITION_KEY)
            .expression_attribute_values(":credentials", n(changed.credentials))
            .build()
            .map_err(ApiError::internal)?;
        self.transact(vec![
            Guarded::new(user_update, || ApiError::PreconditionFailed),
            Guarded::new(
                TransactWriteItem::builder().update(session_update).build(),
                || ApiError::InvalidToken,
            ),
        ])
        .await?;
        if let Err(error) = self
            .end_sessions_except(&user.id, &keep.id, now_seconds())
            .await
        {
            tracing::warn!(
                code = error.code(),
                "password changed; the other sessions' items remain (they authenticate nothing)"
            );
        }
        Ok(changed)
    }

    /// Changes `user`'s display name (`None` clears it), if the account is still as read
    /// ([`ApiError::PreconditionFailed`] otherwise). An email moves only when a code mailed to
    /// the new address comes back ([`UserStore::confirm_email_change`]).
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn update_name(
        &self,
        user: &User,
        name: Option<&DisplayName>,
    ) -> Result<User, ApiError> {
        let mut updated = user.clone();
        updated.version += 1;
        updated.name = name.cloned();
        self.update_user(Change::new(user).name(name), updated)
            .await
    }

    async fn update_user(&self, change: Change, updated: User) -> Result<User, ApiError> {
        if self.write_change(&updated, change).await? {
            Ok(updated)
        } else {
            Err(ApiError::PreconditionFailed)
        }
    }

    /// One `UpdateItem` of the user item, conditional on its version: `false` if it moved.
    ///
    /// Each write also stamps the item with a random write id. When the answer to a write that
    /// committed is lost and the SDK retries it, the retry fails its own condition; the item
    /// DynamoDB returns with that failure (`ReturnValuesOnConditionCheckFailure`) then carries
    /// this write's id, and the write is reported as done, never as "nothing written".
    pub(super) async fn write_change(&self, user: &User, change: Change) -> Result<bool, ApiError> {
        let write_id = s(uuid::Uuid::new_v4().to_string());
        let change = change.set("write_id", item::WRITE_ID, write_id.clone());
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item::user_key(&user.id)))
            .update_expression(change.update_expression())
            .condition_expression("#version = :read")
            .set_expression_attribute_names(Some(change.names.into_iter().collect()))
            .set_expression_attribute_values(Some(change.values.into_iter().collect()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        if let Err(error) = &result
            && let Some(UpdateItemError::ConditionalCheckFailedException(failed)) =
                error.as_service_error()
            && failed.item().and_then(|item| item.get(item::WRITE_ID)) == Some(&write_id)
        {
            tracing::info!("a retried write found itself already committed");
            return Ok(true);
        }
        conditional(
            result,
            UpdateItemError::is_conditional_check_failed_exception,
        )
    }

    /// Deletes the account: the user and its email claim in one transaction (conditional on the
    /// version read and on the claim still being this user's: the address is never claimed by
    /// no one, and is free at once), and only then its sessions. A refused deletion ends nothing.
    ///
    /// The sweep is cleanup, not what makes the deletion hold: a session of a user that no longer
    /// exists authenticates nothing and refreshes nothing (both read the user with the session),
    /// and no sign-in can start one (its session write is conditional on the user's hash). So a
    /// sweep that fails is logged, and the deletion still answers success; TTL removes the rest.
    /// The account's mailed codes are swept the same way (each check reads the account first, so
    /// a code of a deleted account unlocks nothing either).
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn delete_account(&self, user: &User) -> Result<(), ApiError> {
        let user_delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(item::user_key(&user.id)))
            .condition_expression("#version = :read")
            .expression_attribute_names("#version", item::VERSION)
            .expression_attribute_values(":read", n(user.version))
            .build()
            .map_err(ApiError::internal)?;
        self.transact(vec![
            Guarded::new(
                TransactWriteItem::builder().delete(user_delete).build(),
                || ApiError::PreconditionFailed,
            ),
            Guarded::new(self.delete_own_claim(user)?, || {
                ApiError::PreconditionFailed
            }),
        ])
        .await?;
        if let Err(error) = self.end_sessions(&user.id, None, now_seconds()).await {
            tracing::warn!(
                code = error.code(),
                "account deleted; its sessions remain for TTL to remove"
            );
        }
        if let Err(error) = self.delete_codes(user).await {
            tracing::warn!(
                code = error.code(),
                "account deleted; its codes remain for TTL to remove (they unlock nothing)"
            );
        }
        Ok(())
    }
}
