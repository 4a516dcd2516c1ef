//! The one entry point of every function: [`run`] is every `main`, [`respond`] every handler.
//! The event conversion it relies on is [`crate::apigw`]'s.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::http::{HeaderName, HeaderValue, header};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde_json::Value;

use crate::apigw::{into_event_response, into_request};
use crate::browser::Browser;
use crate::error::ApiError;
use crate::http::serve;
use crate::state::{FunctionState, cold_start};

/// What a function receives from Lambda: the raw API Gateway event and its invocation context.
pub type Event = LambdaEvent<Value>;

/// What a function answers: an HTTP API (payload format 2.0) response.
pub type EventResponse = ApiGatewayV2httpResponse;

/// Runs a function: its cold start ([`cold_start`] of its state `S`: [`crate::AppState`], or
/// [`crate::mail::Mailing`] for the functions that send mail), then the Lambda runtime loop,
/// serving `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once where that is set (Lambda Managed
/// Instances, `cargo lambda watch`) and one at a time where it is not.
///
/// Every `main.rs` is this one call, with `function` the crate's name as its log target
/// (`env!("CARGO_CRATE_NAME")`: the function's own logs may go down to `trace`). The state lives
/// as long as the process, so it is leaked once rather than reference-counted on every
/// invocation.
pub async fn run<S, F, Fut>(function: &'static str, handler: F) -> Result<(), lambda_runtime::Error>
where
    S: FunctionState,
    F: Fn(&'static S, Event) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = EventResponse> + Send + 'static,
{
    let state: &'static S = Box::leak(Box::new(cold_start::<S>(function).await?));
    lambda_runtime::run_concurrent(service_fn(move |event: Event| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler(state, event).await) }
    }))
    .await
}

/// Runs a function no HTTP request calls (a queue consumer): its cold start, then the Lambda
/// runtime loop over events of type `E`, each answered with `handler`'s `R` or an invocation
/// error. Every `main.rs` of such a function is this one call; its handler runs each invocation
/// in [`invocation`].
pub async fn run_events<S, E, R, F, Fut>(
    function: &'static str,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    S: FunctionState,
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + Send + 'static,
    F: Fn(&'static S, LambdaEvent<E>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<R, lambda_runtime::Error>> + Send + 'static,
{
    let state: &'static S = Box::leak(Box::new(cold_start::<S>(function).await?));
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<E>| {
        let handler = handler.clone();
        async move { handler(state, event).await }
    }))
    .await
}

/// Runs one invocation of `function` (a function no HTTP request calls) in the span that names
/// it, as [`crate::http::serve`]'s `request` span names a route: its logs and its AWS calls are
/// the function's.
pub async fn invocation<T>(function: &'static str, work: impl Future<Output = T>) -> T {
    use tracing::Instrument as _;
    work.instrument(tracing::info_span!("invocation", route = function))
        .await
}

/// Answers one event: converts it into a [`Request`] (or refuses it with `400 bad_request`),
/// runs it through [`serve`] with `handle`, adds `browser`'s CORS grant for the request's
/// `Origin` (every answer, errors included, so that a page can read them), and converts the
/// response back.
///
/// Every function's `handler` is this call with its handling function; tests call
/// the same `handler`, so they exercise exactly what Lambda runs.
pub async fn respond<F, Fut>(browser: &Browser, event: Event, handle: F) -> EventResponse
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let LambdaEvent { payload, context } = event;
    let mut origin = None;
    let mut response = match into_request(payload) {
        Ok(request) => {
            let mut request = request.with_lambda_context(context.clone());
            // What `lambda_http` does too: the X-Ray trace id reaches the SDK's calls.
            if let Some(value) = context
                .xray_trace_id
                .as_deref()
                .and_then(|trace| HeaderValue::from_str(trace).ok())
            {
                request
                    .headers_mut()
                    .insert(HeaderName::from_static("x-amzn-trace-id"), value);
            }
            origin = request.headers().get(header::ORIGIN).cloned();
            serve(request, handle).await
        }
        Err(rejected) => {
            tracing::info!(reason = rejected.0, "event refused before conversion");
            serve_rejected()
        }
    };
    browser.grant(origin.as_ref(), &mut response);
    into_event_response(response)
}

fn serve_rejected() -> Response<Body> {
    let error = ApiError::BadRequest;
    tracing::info!(code = error.code(), "request rejected");
    error.into_response()
}
