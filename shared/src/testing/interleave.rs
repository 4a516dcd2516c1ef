//! Forced interleavings and partial failures, injected between a handler and the local
//! DynamoDB: at a handler's first call of a given operation (optionally only one touching a given
//! key prefix), run another request first, fail the call, lose the answer of a call that
//! committed, answer batch reads unprocessed, or cancel a transaction for a conflict. So "another request wrote in between" or "the
//! answer was lost after the write" happens every time, not when a race happens to fall that way.
//! One tool for every case, installed as an SDK interceptor by
//! [`super::interleaved_state`].

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

type Hook = Box<dyn FnOnce() + Send>;

/// What happens at the matched call.
enum Step {
    /// Run this first, then let the call go.
    Run(Hook),
    /// Fail the call (the SDK reports it as a failed request, as a broken connection would).
    Fail,
    /// Let the call reach DynamoDB, then turn its answer into a `500`: the write happened, the
    /// caller did not hear so, and the SDK retries it.
    LoseAnswer,
    /// Answer this many `BatchGetItem` calls with every requested key unprocessed, as DynamoDB
    /// does when it throttles a batch.
    Unprocess(usize),
    /// Cancel this many `TransactWriteItems` calls, unwritten, for a `TransactionConflict` on
    /// their first item, as DynamoDB does when another transaction holds that item. Neither
    /// local emulator ever answers so (both run transactions one at a time).
    Conflict(usize),
}

/// The table a conflicting transaction is sent to instead of its own, so that it reaches the
/// server (the SDK's whole path runs) and writes nothing.
const NO_SUCH_TABLE: &str = "interleave-conflict-no-such-table";

/// Acts at the first call it matches (made by a handler or not), then never again.
#[derive(Clone)]
pub struct Interleave {
    operation: &'static str,
    prefix: Option<&'static str>,
    hook: Arc<Mutex<Option<Step>>>,
    /// Set when a `LoseAnswer` call has been sent: the next response is the one to lose (the
    /// calls of one handler are sequential where this is used).
    losing: Arc<Mutex<bool>>,
    /// The keys of an `Unprocess`ed batch read in flight, to hand back as unprocessed.
    unprocessing: Arc<Mutex<Option<BatchKeys>>>,
    /// The item count of a transaction being cancelled for a conflict, while in flight.
    conflicting: Arc<Mutex<Option<usize>>>,
}

type BatchKeys = std::collections::HashMap<String, aws_sdk_dynamodb::types::KeysAndAttributes>;

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interleave")
            .field("operation", &self.operation)
            .field("prefix", &self.prefix)
            .field("losing", &self.losing)
            .finish_non_exhaustive()
    }
}

impl Interleave {
    /// Before the first `operation` (`"UpdateItem"`, `"DeleteItem"`, ...), run `hook`. The hook
    /// may block on async work (`block_on`): it runs on a worker of a multi-threaded runtime.
    pub fn before(operation: &'static str, hook: impl FnOnce() + Send + 'static) -> Self {
        Self {
            operation,
            prefix: None,
            hook: Arc::new(Mutex::new(Some(Step::Run(Box::new(hook))))),
            losing: Arc::default(),
            unprocessing: Arc::default(),
            conflicting: Arc::default(),
        }
    }

    /// Makes the first `operation` call fail instead (a partial failure, injected between the
    /// function and DynamoDB).
    pub fn fail(operation: &'static str) -> Self {
        Self {
            operation,
            prefix: None,
            hook: Arc::new(Mutex::new(Some(Step::Fail))),
            losing: Arc::default(),
            unprocessing: Arc::default(),
            conflicting: Arc::default(),
        }
    }

    /// The same, but only for a call that touches an item under `prefix` (`"USER"`, `"EMAIL"`,
    /// `"THROTTLE"`): e.g. a sign-in's session write, not its throttle count.
    pub fn touching(self, prefix: &'static str) -> Self {
        Self {
            prefix: Some(prefix),
            ..self
        }
    }

    /// Answers the next `times` batch reads (`BatchGetItem`) with every key unprocessed.
    pub fn unprocessed_batch_reads(times: usize) -> Self {
        Self {
            operation: "BatchGetItem",
            prefix: None,
            hook: Arc::new(Mutex::new(Some(Step::Unprocess(times)))),
            losing: Arc::default(),
            unprocessing: Arc::default(),
            conflicting: Arc::default(),
        }
    }

    /// Cancels the next `times` transactions (`TransactWriteItems`) for a `TransactionConflict`,
    /// writing nothing: what DynamoDB answers when a concurrent transaction holds an item.
    pub fn conflicting_transactions(times: usize) -> Self {
        Self {
            operation: "TransactWriteItems",
            prefix: None,
            hook: Arc::new(Mutex::new(Some(Step::Conflict(times)))),
            losing: Arc::default(),
            unprocessing: Arc::default(),
            conflicting: Arc::default(),
        }
    }

    /// Lets the first `operation` call commit, then loses its answer (a `500`), so the SDK
    /// retries a write that already happened.
    pub fn lose_answer(operation: &'static str) -> Self {
        Self {
            operation,
            prefix: None,
            hook: Arc::new(Mutex::new(Some(Step::LoseAnswer))),
            losing: Arc::default(),
            unprocessing: Arc::default(),
            conflicting: Arc::default(),
        }
    }

    /// As [`Interleave::before`], for a call that touches an item under `prefix` (`"USER"`,
    /// `"EMAIL"`, `"THROTTLE"`): e.g. login's read of the user, not its concurrent read of the
    /// throttle.
    pub fn before_touching(
        operation: &'static str,
        prefix: &'static str,
        hook: impl FnOnce() + Send + 'static,
    ) -> Self {
        Self {
            prefix: Some(prefix),
            ..Self::before(operation, hook)
        }
    }

    /// Whether the hook has run (or the fault has been injected).
    pub fn ran(&self) -> bool {
        self.hook.lock().expect("not poisoned").is_none()
    }
}

impl Intercept for Interleave {
    fn name(&self) -> &'static str {
        "Interleave"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let (operation, prefixes) = super::record::request_of(context);
        let touches = self.prefix.is_none_or(|prefix| prefixes.contains(prefix));
        if operation != self.operation || !touches {
            return Ok(());
        }
        let step = self.hook.lock().expect("not poisoned").take();
        match step {
            Some(Step::Run(hook)) => {
                // The other request is not this handler's: outside its `request` span, so the
                // records do not count its DynamoDB calls as this route's.
                let other = tracing::info_span!(parent: None, "interleaved request");
                other.in_scope(|| tokio::task::block_in_place(hook));
            }
            Some(Step::Fail) => return Err("a fault injected by the test".into()),
            Some(Step::LoseAnswer) => *self.losing.lock().expect("not poisoned") = true,
            Some(Step::Unprocess(times)) => {
                use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
                let keys = context
                    .input()
                    .downcast_ref::<BatchGetItemInput>()
                    .and_then(|input| input.request_items().cloned());
                *self.unprocessing.lock().expect("not poisoned") = keys;
                if times > 1 {
                    *self.hook.lock().expect("not poisoned") = Some(Step::Unprocess(times - 1));
                }
            }
            Some(Step::Conflict(times)) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
                let items = context
                    .input()
                    .downcast_ref::<TransactWriteItemsInput>()
                    .map_or(1, |input| input.transact_items().len());
                *self.conflicting.lock().expect("not poisoned") = Some(items);
                if times > 1 {
                    *self.hook.lock().expect("not poisoned") = Some(Step::Conflict(times - 1));
                }
            }
            None => {}
        }
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        let Some(keys) = self.unprocessing.lock().expect("not poisoned").take() else {
            return Ok(());
        };
        if let Some(Ok(output)) = context.output_or_error_mut()
            && let Some(batch) = output.downcast_mut::<BatchGetItemOutput>()
        {
            batch.responses = Some(std::collections::HashMap::new());
            batch.unprocessed_keys = Some(keys);
        }
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if self.conflicting.lock().expect("not poisoned").is_none() {
            return Ok(());
        }
        // Every item sent to a table that does not exist: the server refuses the whole
        // transaction, so nothing is written, and the answer is replaced below.
        let request = context.request_mut();
        let mut body: serde_json::Value =
            serde_json::from_slice(request.body().bytes().ok_or("an in-memory body")?)?;
        for item in body["TransactItems"].as_array_mut().into_iter().flatten() {
            for (_, operation) in item.as_object_mut().into_iter().flatten() {
                operation["TableName"] = NO_SUCH_TABLE.into();
            }
        }
        let bytes = serde_json::to_vec(&body)?;
        request
            .headers_mut()
            .insert("content-length", bytes.len().to_string());
        *request.body_mut() = aws_smithy_types::body::SdkBody::from(bytes);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(items) = self.conflicting.lock().expect("not poisoned").take() {
            // DynamoDB's answer: one reason per item, in request order.
            let mut reasons = vec![serde_json::json!({"Code": "None"}); items];
            reasons[0] = serde_json::json!({"Code": "TransactionConflict",
                "Message": "Transaction is ongoing for the item"});
            let body = serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
                "CancellationReasons": reasons,
            });
            let bytes = serde_json::to_vec(&body)?;
            let response = context.response_mut();
            *response.status_mut() = 400u16.try_into()?;
            // The error type travels in a header too (moto sends it), which the SDK reads first.
            let headers = response.headers_mut();
            headers.insert("x-amzn-errortype", "TransactionCanceledException");
            headers.insert("content-type", "application/x-amz-json-1.0");
            headers.insert("content-length", bytes.len().to_string());
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(bytes);
            return Ok(());
        }
        let mut losing = self.losing.lock().expect("not poisoned");
        if *losing {
            *losing = false;
            *context.response_mut().status_mut() = 500u16.try_into()?;
        }
        Ok(())
    }
}
