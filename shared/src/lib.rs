//! Everything the account functions share.
//!
//! Each module does one job; a function crate wires them together in a few lines:
//! [`state::AppState`] (built once per cold start) holds the [`store::UserStore`], the
//! [`token::TokenService`] and the [`password`] hasher; [`runtime::run`] is every function's
//! `main`, [`runtime::respond`] every function's handler, and [`http::serve`] the one place a
//! handler's `Result` becomes an HTTP response.

pub mod apigw;
pub mod auth;
pub mod browser;
pub mod clock;
pub mod codes;
pub mod config;
pub mod credentials;
pub mod email;
pub mod error;
pub mod http;
pub mod json_body;
pub mod keys;
pub mod mail;
pub mod password;
pub mod recovery;
pub mod response;
pub mod runtime;
pub mod session;
pub mod signin;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod user;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::ApiError;
pub use state::AppState;
