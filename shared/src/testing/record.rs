//! What the handler tests record about every request a handler serves, for the checks that run
//! after them (`dev/tests/test_records.py`): no test holds a list of routes, fences or secrets.
//!
//! The first test state a test process builds installs, once, the process's tracing subscriber:
//! the **production** JSON layer ([`crate::telemetry::json_layer`]) with every level on, writing
//! to `target/handler-records/<package>-<pid>.log`, and [`Records`], which follows each
//! `request` span (the one [`crate::http::serve`] opens, carrying the route key). Every DynamoDB
//! client a test state builds carries [`ActionLog`]. Together they append to
//! `target/handler-records/<package>-<pid>.tsv`, one tab-separated line per fact:
//!
//! - `dynamodb <route> <IAM action> <key prefix>`: a call a handler made (a transaction counts
//!   as one action per item, a batch as one line per key prefix it touched);
//! - `argon2 <route> <hash|verify>`: a password hash or verification a handler ran;
//! - `response <route> <status> <argon2 calls> <request> <solo>`: one served request
//!   (`request` numbers the requests of one test process; `solo` is 1 when no other request of
//!   its test ran beside it, see [`Concurrency`]);
//! - `capacity <route> <request> <call> <operation> <key prefix> <read|write> <bytes>
//!   <consistent> <transactional>`: what one item of a DynamoDB call costs, for the capacity
//!   and cost table (`dev/capacity.py`): `call` numbers the DynamoDB calls, `bytes` is the
//!   item's size as DynamoDB counts it (the sum of the items a `Query` returned), `-` where a
//!   write names only the key (an update, a delete, a condition check).
//!
//! A test's own set-up (creating users, signing in through the store) runs outside any request
//! span, so it is not recorded: what is recorded is what the function deployed for that route
//! would do. `make test` empties the folder first.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};

type Item = std::collections::HashMap<String, AttributeValue>;

/// Installs the recording subscriber for this test process (once; later calls do nothing).
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let Some(log) = open(&format!("{}.log", file_stem())) else {
            return;
        };
        let function = crate_under_test();
        let everything = Targets::new().with_default(LevelFilter::TRACE);
        let subscriber = Registry::default()
            .with(crate::telemetry::json_layer(
                SharedFile(Arc::new(Mutex::new(log))),
                everything,
                &[function],
            ))
            .with(Records.with_filter(filter_fn(|metadata| {
                metadata.target().starts_with("shared::")
            })));
        // A test binary that installed its own subscriber keeps it (and records nothing).
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The crate whose tests run in this process, as a log target (`list_sessions`), leaked once.
fn crate_under_test() -> &'static str {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "tests".to_owned());
    Box::leak(package.replace('-', "_").into_boxed_str())
}

fn file_stem() -> String {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "tests".to_owned());
    format!("{package}-{}", std::process::id())
}

/// The folder the records go to.
pub fn folder() -> PathBuf {
    super::workspace_root()
        .join("target")
        .join("handler-records")
}

fn open(name: &str) -> Option<File> {
    let folder = folder();
    std::fs::create_dir_all(&folder).ok()?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(folder.join(name))
        .ok()
}

/// Appends lines to this process's `.tsv` (one `write` per call, so lines never interleave).
fn append(lines: &str) {
    if let Some(mut file) = open(&format!("{}.tsv", file_stem())) {
        let _ = file.write_all(lines.as_bytes());
    }
}

/// The log file, shared by every thread that logs.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<File>>);

impl Write for SharedFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut file = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(bytes)?;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SharedFile {
    type Writer = SharedFile;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The route key of a `request` span, and what its request did.
#[derive(Debug, Clone)]
struct Request {
    route: String,
    id: u64,
    status: Option<u64>,
    argon2: u32,
}

/// Numbers requests and DynamoDB calls within a test process.
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Which requests ran beside another request of the same test: their path (which of two
/// racing writes wins, whether a retry finds the first answer) depends on timing, so the
/// capacity table (`dev/capacity.py`) prices only the others, a set fixed by the tests' code.
///
/// A test runs on its own thread (libtest's, named after the test), and so do the requests its
/// body awaits, joined ones included (`tokio::test`'s runtime polls them there). A request
/// polled on a runtime worker was spawned: concurrent by construction. A request that starts
/// while another is open on the same thread was joined with it: both are concurrent. Neither
/// depends on how fast the machine is: joined futures open their spans on their first poll,
/// before any of them can reach DynamoDB and finish.
#[derive(Default)]
struct Concurrency {
    /// The open requests of each test thread.
    open: std::collections::HashMap<std::thread::ThreadId, Vec<u64>>,
    /// Every request that ran beside another.
    concurrent: std::collections::HashSet<u64>,
}

static CONCURRENCY: Mutex<Option<Concurrency>> = Mutex::new(None);

impl Concurrency {
    fn with<T>(f: impl FnOnce(&mut Concurrency) -> T) -> T {
        let mut guard = CONCURRENCY
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(guard.get_or_insert_with(Concurrency::default))
    }

    /// A request starts on this thread.
    fn start(id: u64) {
        let thread = std::thread::current();
        let spawned = thread.name() == Some("tokio-runtime-worker");
        Self::with(|state| {
            let open = state.open.entry(thread.id()).or_default();
            if spawned || !open.is_empty() {
                state.concurrent.insert(id);
                state.concurrent.extend(open.iter().copied());
            }
            open.push(id);
        });
    }

    /// The request ends; whether it ran alone.
    fn end(id: u64) -> bool {
        Self::with(|state| {
            for open in state.open.values_mut() {
                open.retain(|other| *other != id);
            }
            !state.concurrent.remove(&id)
        })
    }
}

/// Reads one field of a span or event.
struct FieldValue(&'static str, Option<String>);

impl Visit for FieldValue {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == self.0 {
            self.1 = Some(value.to_owned());
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == self.0 {
            self.1 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == self.0 {
            self.1 = Some(format!("{value:?}"));
        }
    }
}

fn is_request_span(metadata: &tracing::Metadata<'_>) -> bool {
    (metadata.name() == "request" && metadata.target() == "shared::http")
        || (metadata.name() == "invocation" && metadata.target() == "shared::runtime")
}

fn is_argon2_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target() == "shared::password::hasher" && matches!(metadata.name(), "hash" | "verify")
}

/// Follows `request` spans: their route, their argon2 calls and their answer.
struct Records;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Records {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if is_request_span(span.metadata()) {
            let mut route = FieldValue("route", None);
            attributes.record(&mut route);
            let id = REQUESTS.fetch_add(1, Ordering::Relaxed);
            Concurrency::start(id);
            span.extensions_mut().insert(Request {
                route: route.1.unwrap_or_default(),
                id,
                status: None,
                argon2: 0,
            });
        } else if is_argon2_span(span.metadata()) {
            let Some(request) = span.scope().skip(1).find(|s| is_request_span(s.metadata())) else {
                return;
            };
            let mut extensions = request.extensions_mut();
            if let Some(request) = extensions.get_mut::<Request>() {
                request.argon2 += 1;
                append(&format!("argon2\t{}\t{}\n", request.route, span.name()));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut message = FieldValue("message", None);
        event.record(&mut message);
        if message.1.as_deref() != Some("request completed") {
            return;
        }
        let mut status = FieldValue("status", None);
        event.record(&mut status);
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        if let Some(request) = span.extensions_mut().get_mut::<Request>() {
            request.status = status.1.and_then(|s| s.parse().ok());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if let Some(request) = span.extensions().get::<Request>() {
            let status = request.status.map_or("-".to_owned(), |s| s.to_string());
            let solo = u8::from(Concurrency::end(request.id));
            append(&format!(
                "response\t{}\t{status}\t{}\t{}\t{solo}\n",
                request.route, request.argon2, request.id
            ));
        }
    }
}

/// The route of the request whose handler is running on this task, if any.
fn current_route() -> Option<String> {
    current_request().map(|(route, _)| route)
}

/// The route and number of the request whose handler is running on this task, if any.
fn current_request() -> Option<(String, u64)> {
    tracing::Span::current().with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        span.scope().find_map(|span| {
            span.extensions()
                .get::<Request>()
                .map(|r| (r.route.clone(), r.id))
        })
    })?
}

/// One DynamoDB call as a test sees it: the operation, the kind of item it touches (the
/// partition key's prefix: `USER`, `EMAIL`, `THROTTLE`) and whether a read was consistent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DynamoCall {
    /// `GetItem`, `PutItem`, `DeleteItem`, `UpdateItem`, `BatchGetItem`, `Query`, ... (a
    /// transaction shows as one call per item, as the action that item needs).
    pub operation: &'static str,
    /// The partition key prefix of the (first, in order) item touched.
    pub item: String,
    /// `ConsistentRead` (reads only; `false` for writes).
    pub consistent: bool,
}

/// One IAM action a request needs, with every partition-key prefix it touches.
struct Touch {
    operation: &'static str,
    prefixes: BTreeSet<String>,
    consistent: bool,
}

impl Touch {
    fn new<'a>(
        operation: &'static str,
        keys: impl IntoIterator<Item = &'a Item>,
        consistent: Option<bool>,
    ) -> Self {
        Self {
            operation,
            prefixes: keys.into_iter().filter_map(key_prefix).collect(),
            consistent: consistent == Some(true),
        }
    }

    fn call(&self) -> DynamoCall {
        DynamoCall {
            operation: self.operation,
            item: self.prefixes.iter().next().cloned().unwrap_or_default(),
            consistent: self.consistent,
        }
    }
}

fn key_prefix(key: &Item) -> Option<String> {
    let pk = key.get(crate::store::PARTITION_KEY)?.as_s().ok()?;
    Some(pk.split('#').next().unwrap_or_default().to_owned())
}

/// The partition key a `Query` names in its key condition (`#pk = :pk` or `pk = :pk`).
fn queried_key(query: &aws_sdk_dynamodb::operation::query::QueryInput) -> Option<Item> {
    let condition = query.key_condition_expression()?;
    let names = query.expression_attribute_names();
    let values = query.expression_attribute_values()?;
    condition.split(" AND ").find_map(|clause| {
        let (name, value) = clause.split_once('=')?;
        let name = name.trim();
        let attribute = names
            .and_then(|names| names.get(name))
            .map_or(name, String::as_str);
        if attribute != crate::store::PARTITION_KEY {
            return None;
        }
        let value = values.get(value.trim())?.clone();
        Some(Item::from([(
            crate::store::PARTITION_KEY.to_owned(),
            value,
        )]))
    })
}

/// A request's operation (`"UpdateItem"`, `"TransactWriteItems"`, ...) and the partition-key
/// prefixes of the items it touches.
pub(super) fn request_of(
    context: &BeforeSerializationInterceptorContextRef<'_>,
) -> (&'static str, BTreeSet<String>) {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
    let touches = touches(context);
    let prefixes = touches
        .iter()
        .flat_map(|t| t.prefixes.iter().cloned())
        .collect();
    if context
        .input()
        .downcast_ref::<TransactWriteItemsInput>()
        .is_some()
    {
        return ("TransactWriteItems", prefixes);
    }
    (touches.first().map_or("unknown", |t| t.operation), prefixes)
}

/// What a DynamoDB request does: one [`Touch`] per request, or for a transaction one per item
/// (each item needs its own IAM action).
fn touches(context: &BeforeSerializationInterceptorContextRef<'_>) -> Vec<Touch> {
    let request = accesses(context);
    let consistent = |access: &Access| Some(access.consistent);
    if request.transactional {
        return request
            .items
            .iter()
            .map(|access| Touch::new(access.operation, access.key.as_ref(), consistent(access)))
            .collect();
    }
    vec![Touch::new(
        request.operation,
        request
            .items
            .iter()
            .filter_map(|access| access.key.as_ref()),
        request.items.first().and_then(consistent),
    )]
}

/// One DynamoDB request as the recorders see it: its operation and each item it names.
struct Accesses {
    operation: &'static str,
    transactional: bool,
    items: Vec<Access>,
}

/// One item a request names: the action it needs (per item in a transaction or a batch write),
/// its key (or the whole item a put carries), the size of an item it carries, and whether a read
/// is strongly consistent.
struct Access {
    operation: &'static str,
    key: Option<Item>,
    carried: Option<u64>,
    consistent: bool,
}

impl Access {
    fn new(operation: &'static str, key: Option<&Item>, consistent: Option<bool>) -> Self {
        Self {
            operation,
            key: key.cloned(),
            carried: None,
            consistent: consistent == Some(true),
        }
    }

    /// A put: its key is in the item it carries, whose size it writes.
    fn put(item: &Item) -> Self {
        Self {
            carried: Some(item_size(item)),
            ..Self::new("PutItem", Some(item), None)
        }
    }
}

/// The one walk over a DynamoDB request's input that [`touches`] (IAM) and [`charges`]
/// (capacity) both read.
fn accesses(context: &BeforeSerializationInterceptorContextRef<'_>) -> Accesses {
    use aws_sdk_dynamodb::operation::{
        batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput,
        delete_item::DeleteItemInput, get_item::GetItemInput, put_item::PutItemInput,
        query::QueryInput, scan::ScanInput, transact_write_items::TransactWriteItemsInput,
        update_item::UpdateItemInput,
    };
    let input = context.input();
    let request = |operation, items| Accesses {
        operation,
        transactional: false,
        items,
    };
    if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
        let items = transaction
            .transact_items()
            .iter()
            .map(|item| match (item.put(), item.delete(), item.update()) {
                (Some(put), _, _) => Access::put(put.item()),
                (_, Some(delete), _) => Access::new("DeleteItem", Some(delete.key()), None),
                (_, _, Some(update)) => Access::new("UpdateItem", Some(update.key()), None),
                _ => Access::new(
                    "ConditionCheckItem",
                    item.condition_check().map(|check| check.key()),
                    None,
                ),
            })
            .collect();
        return Accesses {
            operation: "TransactWriteItems",
            transactional: true,
            items,
        };
    }
    if let Some(get) = input.downcast_ref::<GetItemInput>() {
        request(
            "GetItem",
            vec![Access::new("GetItem", get.key(), get.consistent_read())],
        )
    } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
        request("PutItem", put.item().map(Access::put).into_iter().collect())
    } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        request(
            "UpdateItem",
            vec![Access::new("UpdateItem", update.key(), None)],
        )
    } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
        request(
            "DeleteItem",
            vec![Access::new("DeleteItem", delete.key(), None)],
        )
    } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
        let items = batch
            .request_items()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|table| {
                table
                    .keys()
                    .iter()
                    .map(|key| Access::new("BatchGetItem", Some(key), table.consistent_read()))
            })
            .collect();
        request("BatchGetItem", items)
    } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
        let items = batch
            .request_items()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flatten()
            .filter_map(|write| {
                write
                    .put_request()
                    .map(|put| Access::put(put.item()))
                    .or_else(|| {
                        write
                            .delete_request()
                            .map(|delete| Access::new("DeleteItem", Some(delete.key()), None))
                    })
            })
            .collect();
        request("BatchWriteItem", items)
    } else if let Some(query) = input.downcast_ref::<QueryInput>() {
        let key = queried_key(query);
        request(
            "Query",
            vec![Access::new("Query", key.as_ref(), query.consistent_read())],
        )
    } else if input.downcast_ref::<ScanInput>().is_some() {
        request("Scan", Vec::new())
    } else {
        request("unknown", Vec::new())
    }
}

/// Records, for every DynamoDB call made while a handler serves a request, the route, the IAM
/// action and the key prefixes (see the module doc). Installed on every test state's client.
#[derive(Debug, Clone, Default)]
pub struct ActionLog;

impl Intercept for ActionLog {
    fn name(&self) -> &'static str {
        "ActionLog"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let Some(route) = current_route() else {
            return Ok(());
        };
        let mut lines = String::new();
        for touch in touches(context) {
            if touch.prefixes.is_empty() {
                lines.push_str(&format!("dynamodb\t{route}\t{}\t-\n", touch.operation));
            }
            for prefix in &touch.prefixes {
                lines.push_str(&format!(
                    "dynamodb\t{route}\t{}\t{prefix}\n",
                    touch.operation
                ));
            }
        }
        append(&lines);
        if let Some((route, request)) = current_request() {
            let call = CALLS.fetch_add(1, Ordering::Relaxed);
            cfg.interceptor_state().store_put(Plan {
                route,
                request,
                call,
                charges: charges(context),
            });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let Some(plan) = cfg.load::<Plan>() else {
            return Ok(());
        };
        let output = context.output_or_error().and_then(Result::ok);
        let mut lines = String::new();
        for charge in plan.charges.iter().flat_map(|charge| charge.settle(output)) {
            lines.push_str(&format!(
                "capacity\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                plan.route,
                plan.request,
                plan.call,
                charge.operation,
                charge.kind,
                if charge.write { "write" } else { "read" },
                charge.bytes.map_or("-".to_owned(), |b| b.to_string()),
                u8::from(charge.consistent),
                u8::from(charge.transactional),
            ));
        }
        append(&lines);
        Ok(())
    }
}

/// What one DynamoDB call of a request will be charged for, item by item: planned from its
/// input before it is sent, settled with the items it returned.
#[derive(Debug, Clone)]
struct Plan {
    route: String,
    request: u64,
    call: u64,
    charges: Vec<Charge>,
}

impl Storable for Plan {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct Charge {
    operation: &'static str,
    /// The item's kind: its partition and sort key prefixes, `USER/SESSION`.
    kind: String,
    write: bool,
    /// Known for items the request carries (a put); a read's come from its output.
    bytes: Option<u64>,
    consistent: bool,
    transactional: bool,
    /// For a `BatchGetItem`: how many keys it asked for (each is charged, found or not).
    keys: usize,
}

impl Charge {
    fn read(operation: &'static str, kind: String, consistent: bool, keys: usize) -> Self {
        Self {
            operation,
            kind,
            write: false,
            bytes: None,
            consistent,
            transactional: false,
            keys,
        }
    }

    fn write(operation: &'static str, kind: String, bytes: Option<u64>) -> Self {
        Self {
            operation,
            kind,
            write: true,
            bytes,
            consistent: false,
            transactional: false,
            keys: 1,
        }
    }

    /// The charges once the answer is known: a read gets the size of what it returned (a batch
    /// one charge per key asked, found or not); a write is as planned.
    fn settle(
        &self,
        output: Option<&aws_smithy_runtime_api::client::interceptors::context::Output>,
    ) -> Vec<Charge> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemOutput, get_item::GetItemOutput, query::QueryOutput,
        };
        if self.write {
            return vec![self.clone()];
        }
        let with = |kind: String, bytes: u64| Charge {
            kind,
            bytes: Some(bytes),
            ..self.clone()
        };
        let Some(output) = output else {
            return vec![with(self.kind.clone(), 0)];
        };
        if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            vec![with(self.kind.clone(), get.item().map_or(0, item_size))]
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            vec![with(
                self.kind.clone(),
                query.items().iter().map(item_size).sum(),
            )]
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            let found: Vec<&Item> = batch
                .responses()
                .into_iter()
                .flat_map(|t| t.values())
                .flatten()
                .collect();
            let mut charges: Vec<Charge> = found
                .iter()
                .map(|item| {
                    with(
                        item_kind(item).unwrap_or(self.kind.clone()),
                        item_size(item),
                    )
                })
                .collect();
            let missing = self.keys.saturating_sub(found.len());
            charges.extend((0..missing).map(|_| with(self.kind.clone(), 0)));
            charges
        } else {
            vec![with(self.kind.clone(), 0)]
        }
    }
}

/// The charges a request plans (see [`Charge`]).
fn charges(context: &BeforeSerializationInterceptorContextRef<'_>) -> Vec<Charge> {
    let request = accesses(context);
    let kind = |access: Option<&Access>| {
        access
            .and_then(|access| access.key.as_ref())
            .and_then(item_kind)
            .unwrap_or_default()
    };
    match request.operation {
        "GetItem" | "Query" | "BatchGetItem" => vec![Charge::read(
            request.operation,
            kind(request.items.first()),
            request.items.iter().any(|access| access.consistent),
            request.items.len().max(1),
        )],
        "Scan" | "unknown" => Vec::new(),
        _ => request
            .items
            .iter()
            .map(|access| Charge {
                transactional: request.transactional,
                ..Charge::write(access.operation, kind(Some(access)), access.carried)
            })
            .collect(),
    }
}

/// An item's kind, `<partition key prefix>/<sort key prefix>` (`USER/SESSION`, `EMAIL/EMAIL`);
/// the partition prefix alone for a `Query`'s key.
fn item_kind(item: &Item) -> Option<String> {
    let pk = key_prefix(item)?;
    let sk = item
        .get(crate::store::SORT_KEY)
        .and_then(|sk| sk.as_s().ok())
        .map(|sk| sk.split('#').next().unwrap_or_default().to_owned());
    Some(match sk {
        Some(sk) => format!("{pk}/{sk}"),
        None => pk,
    })
}

/// An item's size as DynamoDB bills it: each attribute's name plus its value (numbers about
/// one byte per two significant digits plus one; lists and maps 3 bytes plus one per element).
pub fn item_size(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::S(text) => text.len() as u64,
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(texts) => texts.iter().map(|t| t.len() as u64).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(blobs) => blobs.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() as u64 + value_size(v))
                .sum::<u64>()
        }
        _ => 0,
    }
}

fn number_size(number: &str) -> u64 {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1) as u64;
    significant.div_ceil(2) + 1
}

/// Records, for every call to another AWS service (SQS, SES) made while a handler serves a
/// request, the route, the IAM action and the request's number: `<service> <route> <action>
/// <request>`, e.g. `sqs POST /register SendMessage 12`. Installed on the SQS and SES clients of test states.
#[derive(Debug, Clone, Default)]
pub struct ServiceLog;

impl Intercept for ServiceLog {
    fn name(&self) -> &'static str {
        "ServiceLog"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        let (Some((route, request)), Some(call)) = (current_request(), cfg.load::<Metadata>())
        else {
            return Ok(());
        };
        let service = match call.service().to_ascii_lowercase().as_str() {
            "sesv2" => "ses".to_owned(),
            other => other.to_owned(),
        };
        append(&format!("{service}\t{route}\t{}\t{request}\n", call.name()));
        Ok(())
    }
}

/// Records every DynamoDB call made through the client it is installed on, for tests that
/// compare the calls two requests make.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<DynamoCall>>>);

impl Recorder {
    /// Takes the calls recorded so far, in the order they were made.
    pub fn take(&self) -> Vec<DynamoCall> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let calls = touches(context).iter().map(Touch::call).collect::<Vec<_>>();
        self.0.lock().expect("not poisoned").extend(calls);
        Ok(())
    }
}
