//! Latency benchmark: argon2 alone, then each handler end to end against the local DynamoDB.
//!
//!     make bench          # starts moto, builds in release mode, runs this, stops moto
//!
//! Prints a Markdown table (p50/p95/max over N runs). Figures include moto's own latency
//! (a Python server, a few ms per call), so DynamoDB in AWS is faster than what is measured here.
//!
//! For each route it also prints the handler's own time: the invocation's wall time minus the
//! time during which a DynamoDB call (the SDK's whole operation: serialising, signing, the round
//! trip to moto, parsing) or an argon2 hash or verification was in progress. Calls that overlap
//! (login reads while it verifies) count once. The intervals come from the spans the SDK opens
//! per operation (`DynamoDB.GetItem`, ...) and from `PasswordHasher::{hash, verify}`'s, recorded
//! by a tracing layer that enables no other span or event.

#![allow(clippy::expect_used, clippy::print_stdout)] // a benchmark's job is to print

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::AppState;
use shared::mail::Mailing;
use shared::runtime::{Event, EventResponse};
use shared::testing::{
    create_user, event, lambda_event, mailing_state, sign_in, state_with, unique_email,
    with_header, with_json_body,
};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

const PASSWORD: &str = "correct horse battery staple";

/// When each DynamoDB operation and each argon2 call of the current invocation ran.
static EXCLUDED: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());

/// Records the lifetime of the spans that [`is_excluded`] picks; every other callsite is off.
struct ExcludedTime;

fn is_excluded(metadata: &Metadata<'_>) -> bool {
    metadata.is_span()
        && (metadata.name().starts_with("DynamoDB.")
            || (metadata.target() == "shared::password::hasher"
                && matches!(metadata.name(), "hash" | "verify")))
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for ExcludedTime {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_excluded(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn on_new_span(&self, _: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Instant::now());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let ended = Instant::now();
        if let Some(started) = ctx
            .span(&id)
            .and_then(|span| span.extensions().get().copied())
        {
            EXCLUDED
                .lock()
                .expect("not poisoned")
                .push((started, ended));
        }
    }
}

/// `wall` (an invocation from `started`) minus the union of the recorded intervals within it.
/// Every route calls DynamoDB, so an invocation with nothing recorded means the spans were not
/// seen (renamed in a new SDK version?) and its "own time" would silently be all of it.
fn outside_excluded(started: Instant, wall: Duration) -> Duration {
    let ended = started + wall;
    let mut spans: Vec<_> = EXCLUDED
        .lock()
        .expect("not poisoned")
        .drain(..)
        .map(|(from, to)| (from.max(started), to.min(ended)))
        .filter(|(from, to)| from < to)
        .collect();
    assert!(
        !spans.is_empty(),
        "no DynamoDB or argon2 span recorded: is_excluded no longer matches their names"
    );
    spans.sort();
    let (mut covered, mut reach) = (Duration::ZERO, started);
    for (from, to) in spans {
        let from = from.max(reach);
        if to > from {
            covered += to - from;
            reach = to;
        }
    }
    wall.saturating_sub(covered)
}

/// One invocation's wall time and the part of it outside DynamoDB and argon2.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    outside: Duration,
}

/// Runs `handler` on `event`, checks the status, and times it.
async fn invoke<S>(
    state: &S,
    handler: &impl AsyncFn(&S, Event) -> EventResponse,
    event: Event,
    expected_status: i64,
) -> (Sample, EventResponse) {
    EXCLUDED.lock().expect("not poisoned").clear();
    let started = Instant::now();
    let response = handler(state, event).await;
    let wall = started.elapsed();
    assert_eq!(response.status_code, expected_status, "{:?}", response.body);
    let outside = outside_excluded(started, wall);
    (Sample { wall, outside }, response)
}

async fn measure<F, Fut>(runs: usize, mut run: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    run().await; // warm-up
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Times `handler` on the events `next_event` makes, checking each answer's status.
async fn measure_handler<S>(
    state: &S,
    runs: usize,
    handler: impl AsyncFn(&S, Event) -> EventResponse,
    expected_status: i64,
    mut next_event: impl FnMut() -> Value,
) -> Vec<Sample> {
    measure_prepared(state, runs, handler, expected_status, |_| {
        std::future::ready(next_event())
    })
    .await
}

/// Times `handler` on events that need asynchronous, untimed preparation (a fresh session, a
/// refresh token from the previous answer), checking each answer's status.
async fn measure_prepared<S, P, Fut>(
    state: &S,
    runs: usize,
    handler: impl AsyncFn(&S, Event) -> EventResponse,
    expected_status: i64,
    mut prepare: P,
) -> Vec<Sample>
where
    P: FnMut(Option<EventResponse>) -> Fut,
    Fut: Future<Output = Value>,
{
    let mut samples = Vec::with_capacity(runs);
    let mut previous = None;
    for run in 0..=runs {
        let event = lambda_event(&prepare(previous.take()).await);
        let (sample, response) = invoke(state, &handler, event, expected_status).await;
        if run > 0 {
            samples.push(sample); // run 0 warms up
        }
        previous = Some(response);
    }
    samples
}

/// The session routes, each on its own fresh state of the table.
async fn sessions(state: &AppState) {
    let user = create_user(state, &unique_email("bench-sessions"), PASSWORD).await;
    let first = sign_in(state, &user).await.refresh_token;
    let refreshes = measure_prepared(state, 100, refresh::handler, 200, |previous| {
        let token = previous.map_or_else(
            || first.clone(),
            |answer| {
                let body: Value =
                    serde_json::from_slice(answer.body.expect("a body").as_ref()).expect("JSON");
                body["refresh_token"].as_str().expect("a token").to_owned()
            },
        );
        async move { with_json_body(event("refresh/ok"), &json!({"refresh_token": token})) }
    })
    .await;
    handler_row("POST /refresh (rotation)", &refreshes);

    let bearer = sign_in(state, &user).await.bearer;
    let listed = measure_handler(state, 100, list_sessions::handler, 200, || {
        with_header(event("list-sessions/ok"), "authorization", &bearer)
    })
    .await;
    handler_row("GET /sessions (3 sessions)", &listed);

    let ended = measure_prepared(state, 100, end_session::handler, 204, |_| {
        let (user, bearer) = (user.clone(), bearer.clone());
        async move {
            let doomed = sign_in(state, &user).await.session.id.to_string();
            let mut event = with_header(event("end-session/ok"), "authorization", &bearer);
            event["rawPath"] = json!(format!("/sessions/{doomed}"));
            event["pathParameters"]["id"] = json!(doomed);
            event
        }
    })
    .await;
    handler_row("DELETE /sessions/{id}", &ended);

    let others = measure_prepared(state, 30, end_other_sessions::handler, 204, |_| {
        let user = user.clone();
        async move {
            let me = sign_in(state, &user).await;
            sign_in(state, &user).await;
            sign_in(state, &user).await;
            with_header(event("end-other-sessions/ok"), "authorization", &me.bearer)
        }
    })
    .await;
    handler_row("DELETE /sessions (2 others to end)", &others);

    let logouts = measure_prepared(state, 100, logout::handler, 204, |_| {
        let user = user.clone();
        async move {
            let me = sign_in(state, &user).await;
            with_header(event("logout/ok"), "authorization", &me.bearer)
        }
    })
    .await;
    handler_row("POST /logout (bearer)", &logouts);
}

/// The account-management routes.
async fn account(state: &Mailing) {
    let user = create_user(state, &unique_email("bench-account"), PASSWORD).await;
    let bearer = sign_in(state, &user).await.bearer;
    let mut flip = false;
    let renamed = measure_handler(state, 100, update_profile::handler, 200, || {
        flip = !flip;
        let name = if flip { "Ada" } else { "Ada King" };
        with_header(
            with_json_body(event("update-profile/ok"), &json!({"name": name})),
            "authorization",
            &bearer,
        )
    })
    .await;
    handler_row("PATCH /profile (name)", &renamed);

    let moved = measure_handler(state, 30, update_profile::handler, 200, || {
        let body = json!({"email": unique_email("bench-moved"), "current_password": PASSWORD});
        with_header(
            with_json_body(event("update-profile/change-email"), &body),
            "authorization",
            &bearer,
        )
    })
    .await;
    handler_row("PATCH /profile (email, re-authenticated)", &moved);

    let fresh = |route: &'static str, body: Value| {
        move |_| {
            let body = body.clone();
            async move {
                let user = create_user(state, &unique_email("bench-fresh"), PASSWORD).await;
                let me = sign_in(state, &user).await;
                sign_in(state, &user).await; // one other session to end
                with_header(
                    with_json_body(event(route), &body),
                    "authorization",
                    &me.bearer,
                )
            }
        }
    };
    let changed = measure_prepared(
        state,
        30,
        change_password::handler,
        204,
        fresh(
            "change-password/ok",
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        ),
    )
    .await;
    handler_row("PUT /password (1 other session)", &changed);

    let deleted = measure_prepared(
        &state.app,
        30,
        delete_account::handler,
        204,
        fresh("delete-account/ok", json!({"current_password": PASSWORD})),
    )
    .await;
    handler_row("DELETE /profile (2 sessions)", &deleted);
}

/// Access-token cost by algorithm: `runs` signs and verifies each, HS256 (before),
/// ES256 (the default) and RS256 (for API Gateway's JWT authorizer), in this process.
fn token_timing(runs: usize) {
    use shared::keys::KeySet;
    use shared::keys::generate::{es256_pem, keyset, rs256_pem};
    use shared::token::{SigningKey, TokenService, TokenSettings};
    let settings = || TokenSettings {
        issuer: "http://127.0.0.1:9000".into(),
        audience: "accounts-api".into(),
        ttl: Duration::from_secs(900),
    };
    let hs256 = SigningKey::new("a-bench-hmac-key-of-at-least-32-bytes".into()).expect("long");
    let services = [
        ("HS256", TokenService::hs256(&hs256, settings())),
        (
            "ES256",
            TokenService::asymmetric(
                KeySet::from_json(&keyset(&[("current", "ES256", &es256_pem())])).expect("valid"),
                settings(),
            ),
        ),
        (
            "RS256",
            TokenService::asymmetric(
                KeySet::from_json(&keyset(&[("current", "RS256", &rs256_pem())])).expect("valid"),
                settings(),
            ),
        ),
    ];
    let user = shared::user::UserId::new();
    let session = shared::session::SessionId::new();
    for (name, service) in &services {
        let mut signs = Vec::with_capacity(runs);
        let mut verifies = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let token = service.issue(&user, &session, true).expect("issued");
            signs.push(started.elapsed());
            let started = Instant::now();
            service.verify(token.expose_secret()).expect("valid");
            verifies.push(started.elapsed());
        }
        signs.sort();
        verifies.sort();
        row(&format!("access token sign, {name}"), &signs, &[]);
        row(&format!("access token verify, {name}"), &verifies, &[]);
    }
}

/// `POST /password/forgot` timing must not tell whether an account exists either: `pairs`
/// interleaved requests, one for an address with an account and one for an address without
/// (each pair in alternating order), and the per-pair ratio known / unknown. (Both do the same
/// work by design: one SQS message, no DynamoDB call; the account lookup is the mailer's.)
async fn forgot_timing(state: &Mailing, pairs: usize) {
    let mut known = Vec::new();
    for _ in 0..=pairs {
        let email = unique_email("bench-forgot");
        create_user(state, &email, PASSWORD).await;
        known.push(email);
    }
    let attempt = async |email: &str| {
        let event = lambda_event(&with_json_body(
            event("forgot-password/ok"),
            &json!({"email": email}),
        ));
        let started = Instant::now();
        let response = forgot_password::handler(state, event).await;
        assert_eq!(response.status_code, 202);
        started.elapsed()
    };
    attempt(&known[0]).await; // warm-up
    let (mut with, mut without, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..pairs {
        let nobody = unique_email("bench-forgot-nobody");
        let (k, u) = if pair % 2 == 0 {
            let k = attempt(&known[pair + 1]).await;
            (k, attempt(&nobody).await)
        } else {
            let u = attempt(&nobody).await;
            (attempt(&known[pair + 1]).await, u)
        };
        with.push(k);
        without.push(u);
        ratios.push(k.as_secs_f64() / u.as_secs_f64());
    }
    with.sort();
    without.sort();
    ratios.sort_by(f64::total_cmp);
    row(
        "POST /password/forgot, known address (timing pairs)",
        &with,
        &[],
    );
    row(
        "POST /password/forgot, unknown address (timing pairs)",
        &without,
        &[],
    );
    let at = |p: f64| ratios[((ratios.len() as f64 - 1.0) * p).round() as usize];
    println!();
    println!(
        "known/unknown forgot-password time over {pairs} interleaved pairs: median ratio {:.3} \
         (p10 {:.3}, p25 {:.3}, p75 {:.3}, p90 {:.3}); ratio of medians {:.3}",
        at(0.5),
        at(0.1),
        at(0.25),
        at(0.75),
        at(0.9),
        with[with.len() / 2].as_secs_f64() / without[without.len() / 2].as_secs_f64()
    );
}

/// Login timing must not tell whether an account exists: `pairs` interleaved failed sign-ins,
/// one for an unknown email and one with a wrong password (each pair in alternating order), and
/// the distribution of the per-pair ratio unknown / wrong.
async fn enumeration_timing(pairs: usize) {
    // One fresh account per pair, so that both emails of a pair are in the same state (never
    // tried before): what an attacker probing addresses meets.
    let state = state_with(&[("LOGIN_THROTTLE_THRESHOLD", "100")]).await;
    let mut accounts = Vec::new();
    for _ in 0..=pairs {
        let email = unique_email("bench-wrong");
        create_user(&state, &email, PASSWORD).await;
        accounts.push(email);
    }
    let attempt = async |email: &str| {
        let body = json!({"email": email, "password": "wrong horse battery staple"});
        let event = lambda_event(&with_json_body(event("login/ok"), &body));
        let started = Instant::now();
        let response = login::handler(&state, event).await;
        assert_eq!(response.status_code, 401);
        started.elapsed()
    };
    attempt(&accounts[0]).await; // warm-up (account 0 is used for nothing else)
    let (mut unknown, mut wrong, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..pairs {
        let nobody = unique_email("bench-nobody");
        let (u, w) = if pair % 2 == 0 {
            let u = attempt(&nobody).await;
            (u, attempt(&accounts[pair + 1]).await)
        } else {
            let w = attempt(&accounts[pair + 1]).await;
            (attempt(&nobody).await, w)
        };
        unknown.push(u);
        wrong.push(w);
        ratios.push(u.as_secs_f64() / w.as_secs_f64());
    }
    unknown.sort();
    wrong.sort();
    ratios.sort_by(f64::total_cmp);
    row("POST /login, unknown email (timing pairs)", &unknown, &[]);
    row("POST /login, wrong password (timing pairs)", &wrong, &[]);
    let at = |p: f64| ratios[((ratios.len() as f64 - 1.0) * p).round() as usize];
    println!();
    println!(
        "unknown/wrong login time over {pairs} interleaved pairs: median ratio {:.3} \
         (p10 {:.3}, p25 {:.3}, p75 {:.3}, p90 {:.3}); ratio of medians {:.3}",
        at(0.5),
        at(0.1),
        at(0.25),
        at(0.75),
        at(0.9),
        unknown[unknown.len() / 2].as_secs_f64() / wrong[wrong.len() / 2].as_secs_f64()
    );
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    times[((times.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(time: Duration) -> String {
    format!("{:.2}", time.as_secs_f64() * 1000.0)
}

/// A table row: the count, p50, p95 and max of `times`, then the p50 and p95 of `own` (a
/// handler's own time outside DynamoDB and argon2; empty for a plain timing).
fn row(name: &str, times: &[Duration], own: &[Duration]) {
    let sorted = |values: &[Duration]| {
        let mut values = values.to_vec();
        values.sort();
        values
    };
    let (times, own) = (sorted(times), sorted(own));
    let own = if own.is_empty() {
        " | ".to_owned()
    } else {
        format!(
            "{} | {}",
            ms(percentile(&own, 0.5)),
            ms(percentile(&own, 0.95))
        )
    };
    println!(
        "| {name} | {} | {} | {} | {} | {own} |",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(times[times.len() - 1]),
    );
}

/// A handler's row: its wall times, then its own times.
fn handler_row(name: &str, samples: &[Sample]) {
    let walls: Vec<_> = samples.iter().map(|sample| sample.wall).collect();
    let own: Vec<_> = samples.iter().map(|sample| sample.outside).collect();
    row(name, &walls, &own);
}

#[tokio::main]
async fn main() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(ExcludedTime))
        .expect("the only subscriber");
    if std::env::args().nth(1).as_deref() == Some("token-timing") {
        token_timing(2000);
        return;
    }
    let (mailing, _queue) = mailing_state().await;
    if std::env::args().nth(1).as_deref() == Some("forgot-timing") {
        // Only the forgot-password timing pairs (documented in docs/benchmarks.md).
        forgot_timing(&mailing, 200).await;
        return;
    }
    let state = &mailing.app;
    // moto's transactions deep-copy the whole table, so their cost grows with what earlier
    // sections stored: the routes that write transactions come first, the enumeration timing
    // (121 accounts, no timed transaction) last.
    println!(
        "| operation | runs | p50 ms | p95 ms | max ms | outside DynamoDB and argon2, p50 ms | p95 ms |"
    );
    println!("|---|---|---|---|---|---|---|");

    let hashes = measure(20, || async {
        let password = state.password_policy.parse(PASSWORD, None).expect("valid");
        state.passwords.hash(password).await.expect("hash");
    })
    .await;
    row("argon2id hash (m=19456, t=2, p=1)", &hashes, &[]);

    let registrations = measure_handler(&mailing, 30, register::handler, 201, || {
        let body = json!({"email": unique_email("bench"), "password": PASSWORD});
        with_json_body(event("register/ok"), &body)
    })
    .await;
    handler_row("POST /register (handler + DynamoDB)", &registrations);

    let email = unique_email("bench-login");
    let user = create_user(state, &email, PASSWORD).await;
    let logins = measure_handler(state, 30, login::handler, 200, || {
        with_json_body(
            event("login/ok"),
            &json!({"email": email, "password": PASSWORD}),
        )
    })
    .await;
    handler_row("POST /login, right password", &logins);

    let unknown = measure_handler(state, 30, login::handler, 401, || {
        let body = json!({"email": unique_email("bench-nobody"), "password": PASSWORD});
        with_json_body(event("login/ok"), &body)
    })
    .await;
    handler_row("POST /login, unknown email", &unknown);

    let bearer = sign_in(state, &user).await.bearer;
    let profiles = measure_handler(state, 100, profile::handler, 200, || {
        with_header(event("profile/ok"), "authorization", &bearer)
    })
    .await;
    handler_row(
        "GET /profile (token + session check, 1 BatchGetItem)",
        &profiles,
    );

    sessions(state).await;
    account(&mailing).await;

    println!();
    token_timing(500);
    forgot_timing(&mailing, 120).await;
    enumeration_timing(120).await;
}
