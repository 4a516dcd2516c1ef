//! The one way a link's token or an emailed code is checked, for every route that takes one
//! (`POST /email/confirm`, `POST /password/reset`): what was presented, the code it proves, and
//! the account it unlocks; or [`ApiError::InvalidCode`], one answer for every failure.

use secrecy::{ExposeSecret, SecretString};

use crate::clock::now_seconds;
use crate::codes::{CodeRecord, Proof, Purpose};
use crate::email::Email;
use crate::error::ApiError;
use crate::json_body::JsonFields;
use crate::state::AppState;
use crate::user::User;

/// What a request presented: the link's token, or the address and the code mailed to it.
#[derive(Debug)]
pub enum Presented {
    /// `{"token"}`.
    Token(SecretString),
    /// `{"email", "code"}`.
    Code {
        /// The address the code was sent to, as typed.
        email: String,
        /// The code, as typed.
        code: SecretString,
    },
}

impl Presented {
    /// Reads `token`, or `email` and `code`, from a JSON body: exactly one of the two forms.
    pub fn from_fields(fields: &mut JsonFields) -> Option<Self> {
        let text = |raw: &str| Ok::<_, std::convert::Infallible>(raw.to_owned());
        let token = fields.optional("token", text);
        let email = fields.optional("email", text);
        let code = fields.optional("code", text);
        match (token?, email?, code?) {
            (Some(token), None, None) => Some(Self::Token(SecretString::from(token))),
            (None, Some(email), Some(code)) => Some(Self::Code {
                email,
                code: SecretString::from(code),
            }),
            (Some(_), _, _) => fields.refuse("token", "give either token, or email and code"),
            (None, None, _) => fields.refuse("token", "is required (or email and code)"),
            (None, Some(_), None) => fields.refuse("code", "is required with email"),
        }
    }
}

/// A code a request proved, with the account it belongs to.
#[derive(Debug)]
pub struct Unlocked {
    /// The account, as read.
    pub user: User,
    /// The stored code.
    pub record: CodeRecord,
    /// What proved it.
    pub proof: Proof,
}

/// The address a code of `purpose` must have been sent to for `user` to be the one it unlocks:
/// the account's address, or for an email change its pending one. A code sent to any other
/// address (the account has moved since, or replaced its pending change) is dead.
fn address_for(user: &User, purpose: Purpose) -> Option<&Email> {
    match purpose {
        Purpose::Verify | Purpose::Reset => Some(&user.email),
        Purpose::ChangeEmail => user.pending_email.as_ref(),
    }
}

/// Finds the live code `presented` proves, among codes issued for one of `purposes`, and the
/// account it unlocks. A wrong code counts against every code at that address (5 tries each);
/// anything short of a live, proved code of a current purpose is [`ApiError::InvalidCode`].
pub async fn unlock(
    state: &AppState,
    presented: &Presented,
    purposes: &[Purpose],
) -> Result<Unlocked, ApiError> {
    let invalid = |reason: &'static str| {
        tracing::debug!(reason, "code refused");
        ApiError::InvalidCode
    };
    let now = now_seconds();
    let (user_id, record, proof) = match presented {
        Presented::Token(token) => {
            let token = state
                .codes
                .parse_token(token.expose_secret())
                .ok_or_else(|| invalid("not a token"))?;
            if !purposes.contains(&token.purpose) {
                return Err(invalid("a token for another purpose"));
            }
            let user = state
                .users
                .get_user(&token.user_id)
                .await?
                .ok_or_else(|| invalid("no such account"))?;
            let address =
                address_for(&user, token.purpose).ok_or_else(|| invalid("no pending change"))?;
            let record = state
                .users
                .code(address, token.purpose, &user.id)
                .await?
                .ok_or_else(|| invalid("no such code"))?;
            (user.id, record, token.proof)
        }
        Presented::Code { email, code } => {
            let email = Email::parse(email).map_err(|_| invalid("not an address"))?;
            let candidates: Vec<CodeRecord> = state
                .users
                .codes_at(&email)
                .await?
                .into_iter()
                .filter(|record| purposes.contains(&record.purpose))
                .collect();
            let proved = candidates.iter().find_map(|record| {
                let proof =
                    state
                        .codes
                        .code_proof(record.user_id, record.purpose, code.expose_secret())?;
                (record.is_live(now) && record.is_proved_by(&proof))
                    .then(|| (record.clone(), proof))
            });
            let Some((record, proof)) = proved else {
                state.users.count_wrong_guess(&email, &candidates).await?;
                return Err(invalid("wrong code"));
            };
            (record.user_id, record, proof)
        }
    };
    if !record.is_live(now) || !record.is_proved_by(&proof) {
        return Err(invalid("used up, expired or wrong"));
    }
    let user = current(state, &user_id, &record).await?;
    Ok(Unlocked {
        user,
        record,
        proof,
    })
}

/// The account `record` was issued for, read now, if the code still belongs to it.
pub async fn current(
    state: &AppState,
    user_id: &crate::user::UserId,
    record: &CodeRecord,
) -> Result<User, ApiError> {
    let user = state.users.get_user(user_id).await?;
    user.filter(|user| address_for(user, record.purpose) == Some(&record.address))
        .ok_or_else(|| {
            tracing::debug!("code of an account that moved on");
            ApiError::InvalidCode
        })
}
