//! Services (ADR-32, the `nats.micro` of other clients): request/reply endpoints that NATS
//! tools discover and monitor, and the client side that discovers and calls them.
//!
//! A service has a name, a SemVer version and a unique instance id. It answers
//! `$SRV.PING|INFO|STATS` (for all services, for its name, and for its name and id) with the
//! `io.nats.micro.v1.*_response` JSON, and keeps statistics for each endpoint. Endpoints
//! listen in queue group `q` unless told otherwise (endpoint > group > service), so the
//! instances of a service share its load.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rnats::Error> {
//! let client = rnats::connect("nats://127.0.0.1:4222").await?;
//! let service = client
//!     .service_builder()
//!     .description("adds numbers")
//!     .start("calc", "1.0.0")
//!     .await?;
//!
//! // A handler: an async closure run for each request, one at a time per endpoint.
//! service
//!     .endpoint("add")
//!     .handler(|req| async move {
//!         let text = String::from_utf8_lossy(req.payload()).into_owned();
//!         let sum: Result<i64, _> = text.split(',').map(|n| n.trim().parse::<i64>()).sum();
//!         let _ = match sum {
//!             Ok(sum) => req.respond(sum.to_string()).await,
//!             Err(_) => req.respond_error(400, "expected numbers separated by commas", "").await,
//!         };
//!     })
//!     .await?;
//!
//! // Or a stream of requests to consume yourself, in a group: subject `math.neg`.
//! use futures_util::StreamExt;
//! let mut neg = service.group("math").endpoint("neg").add().await?;
//! tokio::spawn(async move {
//!     while let Some(req) = neg.next().await {
//!         let _ = req.respond(req.payload().clone()).await;
//!     }
//! });
//!
//! // The client side.
//! let answer = rnats::service::call(&client, "add", "1, 2").await?;
//! assert_eq!(answer.payload, "3");
//! let found = rnats::service::discover(&client).name("calc").info().await?;
//! println!("{} instance(s)", found.len());
//!
//! service.stop().await?;
//! # Ok(()) }
//! ```
//!
//! A handler that panics is answered with error 500 (`handler panicked`) and counted as an
//! error; the endpoint goes on serving. (This needs the default `panic = "unwind"`; with
//! `panic = "abort"` a panic ends the process.)

mod discover;
mod request;
mod responses;
mod validate;

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;
use time::OffsetDateTime;

use crate::{Client, Error, ErrorKind, Subscriber};

pub use discover::{discover, Discover};
pub use request::{
    call, call_with, check_reply, Request, ServiceError, ERROR_CODE_HEADER, ERROR_HEADER,
};
pub use responses::{
    EndpointInfo, EndpointStats, Info, PingResponse, Stats, INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE,
    STATS_RESPONSE_TYPE,
};

/// The queue group endpoints use when none is set.
pub const DEFAULT_QUEUE_GROUP: &str = "q";
/// The default prefix of the discovery subjects.
pub const DEFAULT_API_PREFIX: &str = "$SRV";

/// What the stats handler computes: the `data` of an endpoint's statistics.
type StatsHandler = Arc<dyn Fn(&EndpointStats) -> serde_json::Value + Send + Sync>;

/// A queue group setting: inherited (`None`), a name, or disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Queue {
    Named(String),
    Disabled,
}

impl Client {
    /// Starts building a service on this client. See [`ServiceBuilder`] and the
    /// [module](crate::service) documentation.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
    /// let service = client
    ///     .service_builder()
    ///     .description("greets")
    ///     .metadata([("region", "eu")])
    ///     .start("greeter", "0.1.0")
    ///     .await?;
    /// service
    ///     .endpoint("hello")
    ///     .handler(|req| async move {
    ///         let _ = req.respond("hello").await;
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn service_builder(&self) -> ServiceBuilder {
        ServiceBuilder {
            client: self.clone(),
            description: String::new(),
            metadata: BTreeMap::new(),
            queue: None,
            stats_handler: None,
            api_prefix: DEFAULT_API_PREFIX.to_owned(),
        }
    }
}

/// The configuration of a service before it starts ([`Client::service_builder`]).
#[must_use = "a service builder does nothing until started"]
pub struct ServiceBuilder {
    client: Client,
    description: String,
    metadata: BTreeMap<String, String>,
    queue: Option<Queue>,
    stats_handler: Option<StatsHandler>,
    api_prefix: String,
}

impl ServiceBuilder {
    /// A human-readable description, reported by INFO.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Metadata of the service (immutable once started), reported by PING, INFO and STATS.
    pub fn metadata<K: Into<String>, V: Into<String>>(
        mut self,
        metadata: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata = metadata
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// The queue group of the service's endpoints, instead of [`DEFAULT_QUEUE_GROUP`]
    /// (groups and endpoints may override it).
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Self {
        self.queue = Some(Queue::Named(queue_group.into()));
        self
    }

    /// No queue group: the endpoints subscribe plainly, so every instance of the service gets
    /// every request (groups and endpoints may still set one).
    pub fn disable_queue_group(mut self) -> Self {
        self.queue = Some(Queue::Disabled);
        self
    }

    /// A function computing each endpoint's custom statistics (the `data` of STATS), given
    /// the endpoint's current statistics.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
    /// let service = client
    ///     .service_builder()
    ///     .stats_handler(|endpoint| serde_json::json!({ "endpoint": endpoint.name }))
    ///     .start("demo", "1.0.0")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn stats_handler(
        mut self,
        handler: impl Fn(&EndpointStats) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.stats_handler = Some(Arc::new(handler));
        self
    }

    /// The prefix of the discovery subjects, instead of `$SRV` (kept as given, case
    /// included), e.g. to serve tools in another account through an import.
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = prefix.into();
        self
    }

    /// Validates the name and version, subscribes to the discovery subjects and starts the
    /// service. Endpoints are added afterwards ([`Service::endpoint`], [`Service::group`]).
    ///
    /// Fails with [`ErrorKind::InvalidArgument`] naming the rule when `name` is not made of
    /// `A-Z a-z 0-9 - _`, `version` is not SemVer, the queue group has whitespace, or the
    /// prefix is not literal subject tokens.
    pub async fn start(
        self,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Result<Service, Error> {
        let name = name.into();
        let version = version.into();
        validate::service_name(&name)?;
        validate::version(&version)?;
        validate::api_prefix(&self.api_prefix)?;
        if let Some(Queue::Named(q)) = &self.queue {
            check_queue_group(q)?;
        }
        let id = nuid::next().to_string();
        let (stopped_tx, _) = tokio::sync::watch::channel(false);
        let inner = Arc::new(Inner {
            client: self.client,
            name,
            version,
            id,
            description: self.description,
            metadata: self.metadata,
            queue: self
                .queue
                .unwrap_or(Queue::Named(DEFAULT_QUEUE_GROUP.to_owned())),
            stats_handler: self.stats_handler,
            api_prefix: self.api_prefix,
            started: OffsetDateTime::now_utc(),
            endpoints: Mutex::new(Vec::new()),
            subscriptions: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            stopped: stopped_tx,
        });
        let mut control = Vec::with_capacity(9);
        for verb in Verb::ALL {
            for subject in [
                format!("{}.{}", inner.api_prefix, verb.as_str()),
                format!("{}.{}.{}", inner.api_prefix, verb.as_str(), inner.name),
                format!(
                    "{}.{}.{}.{}",
                    inner.api_prefix,
                    verb.as_str(),
                    inner.name,
                    inner.id
                ),
            ] {
                match inner.client.subscribe(&subject).await {
                    Ok(sub) => control.push((verb, Arc::new(sub))),
                    Err(e) => {
                        for (_, sub) in &control {
                            let _ = sub.unsubscribe().await;
                        }
                        return Err(e);
                    }
                }
            }
        }
        let streams = control
            .iter()
            .map(|(verb, sub)| {
                let verb = *verb;
                SharedSub(Arc::clone(sub)).map(move |msg| (verb, msg))
            })
            .collect::<Vec<_>>();
        inner
            .subscriptions
            .lock()
            .extend(control.into_iter().map(|(_, sub)| sub));
        // The task holds the service until `stop` ends it, as the handler tasks do.
        let task = tokio::spawn(serve_control(
            Arc::clone(&inner),
            futures_util::stream::select_all(streams),
        ));
        inner.tasks.lock().push(task);
        Ok(Service { inner })
    }
}

fn check_queue_group(q: &str) -> Result<(), Error> {
    if q.is_empty() || q.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid queue group {q:?}: it must be non-empty, without whitespace"),
        ));
    }
    Ok(())
}

/// A discovery verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Ping,
    Info,
    Stats,
}

impl Verb {
    const ALL: [Verb; 3] = [Verb::Ping, Verb::Info, Verb::Stats];

    fn as_str(self) -> &'static str {
        match self {
            Verb::Ping => "PING",
            Verb::Info => "INFO",
            Verb::Stats => "STATS",
        }
    }
}

/// A subscription shared between the task reading it and the service that drains it.
struct SharedSub(Arc<Subscriber>);

impl Stream for SharedSub {
    type Item = crate::Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut sub: &Subscriber = &self.0;
        Pin::new(&mut sub).poll_next(cx)
    }
}

/// The discovery task: answers PING, INFO and STATS until the subscriptions end.
async fn serve_control(
    inner: Arc<Inner>,
    mut requests: impl Stream<Item = (Verb, crate::Message)> + Unpin,
) {
    while let Some((verb, msg)) = requests.next().await {
        let Some(reply) = msg.reply else { continue };
        let body = match verb {
            Verb::Ping => serde_json::to_vec(&inner.ping()),
            Verb::Info => serde_json::to_vec(&inner.info()),
            Verb::Stats => serde_json::to_vec(&inner.stats()),
        };
        match body {
            Ok(body) => {
                let _ = inner.client.publish(reply, body).await;
            }
            Err(e) => {
                tracing::warn!("service discovery answer not serializable: {e}");
            }
        }
    }
}

struct Inner {
    client: Client,
    name: String,
    version: String,
    id: String,
    description: String,
    metadata: BTreeMap<String, String>,
    queue: Queue,
    stats_handler: Option<StatsHandler>,
    api_prefix: String,
    started: OffsetDateTime,
    endpoints: Mutex<Vec<Arc<EndpointState>>>,
    /// Every subscription of the service (discovery and endpoints), drained by `stop`.
    subscriptions: Mutex<Vec<Arc<Subscriber>>>,
    /// The discovery task and the handler tasks, awaited by `stop`.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stopping: AtomicBool,
    stopped: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    fn ping(&self) -> PingResponse {
        PingResponse {
            kind: PING_RESPONSE_TYPE.to_owned(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
        }
    }

    fn info(&self) -> Info {
        Info {
            kind: INFO_RESPONSE_TYPE.to_owned(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
            description: self.description.clone(),
            endpoints: self
                .endpoints
                .lock()
                .iter()
                .map(|e| EndpointInfo {
                    name: e.name.clone(),
                    subject: e.subject.clone(),
                    queue_group: e.queue_group.clone(),
                    metadata: e.metadata.clone(),
                })
                .collect(),
        }
    }

    fn stats(&self) -> Stats {
        let endpoints: Vec<Arc<EndpointState>> = self.endpoints.lock().clone();
        Stats {
            kind: STATS_RESPONSE_TYPE.to_owned(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: self.metadata.clone(),
            started: self.started,
            endpoints: endpoints
                .iter()
                .map(|e| {
                    let mut stats = e.stats();
                    if let Some(handler) = &self.stats_handler {
                        // A panicking stats handler must not end the discovery task.
                        stats.data =
                            std::panic::catch_unwind(AssertUnwindSafe(|| handler(&stats))).ok();
                    }
                    stats
                })
                .collect(),
        }
    }
}

/// One endpoint's identity and counters.
pub(crate) struct EndpointState {
    name: String,
    subject: String,
    queue_group: Option<String>,
    metadata: BTreeMap<String, String>,
    requests: AtomicU64,
    errors: AtomicU64,
    processing_ns: AtomicU64,
    last_error: Mutex<String>,
}

impl EndpointState {
    fn add_time(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.processing_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn record_error(&self, code: u16, description: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock() = format!("{code}:{description}");
    }

    fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        self.processing_ns.store(0, Ordering::Relaxed);
        self.last_error.lock().clear();
    }

    fn stats(&self) -> EndpointStats {
        let num_requests = self.requests.load(Ordering::Relaxed);
        let total = self.processing_ns.load(Ordering::Relaxed);
        let average = total.checked_div(num_requests).unwrap_or(0);
        EndpointStats {
            name: self.name.clone(),
            subject: self.subject.clone(),
            queue_group: self.queue_group.clone(),
            num_requests,
            num_errors: self.errors.load(Ordering::Relaxed),
            last_error: self.last_error.lock().clone(),
            processing_time: Duration::from_nanos(total),
            average_processing_time: Duration::from_nanos(average),
            data: None,
        }
    }
}

/// A running service: add endpoints and groups, read its info and stats, stop it. Cheap to
/// clone (all clones are the same service). Dropping every clone does not stop it (its
/// endpoints and discovery go on serving while the client is open): call [`Service::stop`].
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

impl Service {
    /// The service's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The service's version.
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// This instance's unique id (a NUID).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// What INFO answers.
    pub fn info(&self) -> Info {
        self.inner.info()
    }

    /// What STATS answers (the stats handler's data included).
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Clears every endpoint's statistics.
    pub fn reset(&self) {
        for endpoint in self.inner.endpoints.lock().iter() {
            endpoint.reset();
        }
    }

    /// Starts adding an endpoint named `name` (subject `name` unless set).
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(Arc::clone(&self.inner), None, None, name.into())
    }

    /// A group: a subject prefix for endpoints (and nested groups), with the service's queue
    /// group unless [`Group::queue_group`] sets another. The name is checked when an endpoint
    /// is added.
    pub fn group(&self, name: impl Into<String>) -> Group {
        Group {
            inner: Arc::clone(&self.inner),
            prefix: name.into(),
            queue: None,
        }
    }

    /// True once [`Service::stop`] has begun.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Completes when the service has stopped (at once if it has).
    pub async fn stopped(&self) {
        let mut rx = self.inner.stopped.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }

    /// Stops the service: drains every subscription (discovery and endpoints), so the
    /// requests already sent are still handled, lets the handlers finish them (their answers
    /// go out), then completes [`Service::stopped`]. Streams of [`Endpoint`]s end once their
    /// queued requests are taken. Stopping twice is harmless.
    ///
    /// It waits for the running handlers to return: a handler that never returns keeps `stop`
    /// waiting (bound it with `tokio::time::timeout` if that can happen). Returns the first
    /// drain failure (for example a closed client); the service is stopped anyway.
    ///
    /// ```no_run
    /// # async fn demo(service: rnats::service::Service) -> Result<(), rnats::Error> {
    /// let watcher = service.clone();
    /// tokio::spawn(async move {
    ///     watcher.stopped().await;
    ///     println!("service stopped");
    /// });
    /// service.stop().await?;
    /// # Ok(()) }
    /// ```
    pub async fn stop(&self) -> Result<(), Error> {
        if self.inner.stopping.swap(true, Ordering::AcqRel) {
            self.stopped().await;
            return Ok(());
        }
        let subs: Vec<Arc<Subscriber>> = self.inner.subscriptions.lock().clone();
        let drains = subs.iter().map(|sub| sub.drain());
        let results = futures_util::future::join_all(drains).await;
        let tasks: Vec<_> = std::mem::take(&mut *self.inner.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
        self.inner.stopped.send_replace(true);
        results.into_iter().collect()
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.inner.name)
            .field("version", &self.inner.version)
            .field("id", &self.inner.id)
            .finish()
    }
}

/// A group of endpoints: a subject prefix, and a queue group they inherit.
#[derive(Clone)]
pub struct Group {
    inner: Arc<Inner>,
    prefix: String,
    queue: Option<Queue>,
}

impl Group {
    /// The queue group of this group's endpoints and subgroups (overriding the service's).
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Self {
        self.queue = Some(Queue::Named(queue_group.into()));
        self
    }

    /// No queue group for this group's endpoints and subgroups: every instance gets every
    /// request (an endpoint may still set one).
    pub fn disable_queue_group(mut self) -> Self {
        self.queue = Some(Queue::Disabled);
        self
    }

    /// A nested group: prefix `<this prefix>.<name>`, inheriting this group's queue group.
    pub fn group(&self, name: impl AsRef<str>) -> Group {
        Group {
            inner: Arc::clone(&self.inner),
            prefix: format!("{}.{}", self.prefix, name.as_ref()),
            queue: self.queue.clone(),
        }
    }

    /// Starts adding an endpoint named `name` on subject `<prefix>.<name>` (or
    /// `<prefix>.<subject>` when a subject is set).
    pub fn endpoint(&self, name: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder::new(
            Arc::clone(&self.inner),
            Some(self.prefix.clone()),
            self.queue.clone(),
            name.into(),
        )
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("prefix", &self.prefix)
            .field("queue", &self.queue)
            .finish()
    }
}

/// An endpoint's configuration before it is added: finish with [`EndpointBuilder::handler`]
/// or [`EndpointBuilder::add`].
#[must_use = "an endpoint builder does nothing until added"]
pub struct EndpointBuilder {
    inner: Arc<Inner>,
    prefix: Option<String>,
    group_queue: Option<Queue>,
    name: String,
    subject: Option<String>,
    metadata: BTreeMap<String, String>,
    queue: Option<Queue>,
}

impl EndpointBuilder {
    fn new(
        inner: Arc<Inner>,
        prefix: Option<String>,
        group_queue: Option<Queue>,
        name: String,
    ) -> Self {
        Self {
            inner,
            prefix,
            group_queue,
            name,
            subject: None,
            metadata: BTreeMap::new(),
            queue: None,
        }
    }

    /// The subject to listen on (after the group prefix), instead of the endpoint's name.
    /// Wildcards are allowed.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The endpoint's metadata (immutable once added), reported by INFO.
    pub fn metadata<K: Into<String>, V: Into<String>>(
        mut self,
        metadata: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata = metadata
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// This endpoint's queue group (overriding the group's and the service's).
    pub fn queue_group(mut self, queue_group: impl Into<String>) -> Self {
        self.queue = Some(Queue::Named(queue_group.into()));
        self
    }

    /// No queue group for this endpoint: every instance gets every request.
    pub fn disable_queue_group(mut self) -> Self {
        self.queue = Some(Queue::Disabled);
        self
    }

    /// Adds the endpoint and returns its requests as a stream to consume yourself. Each
    /// request taken from the stream is counted; its processing time runs until its first
    /// answer. The stream ends when the service stops (after the requests already received).
    pub async fn add(self) -> Result<Endpoint, Error> {
        let (state, sub) = self.subscribe().await?;
        Ok(Endpoint {
            client: state.1,
            state: state.0,
            sub: SharedSub(sub),
        })
    }

    /// Adds the endpoint with a handler: an async function run for each request, one request
    /// at a time (spawn inside it for concurrency; the next request is taken when it
    /// returns). Its processing time is the handler's run time. A handler that panics is
    /// answered with error 500 `handler panicked` and counted; the endpoint goes on.
    pub async fn handler<F, Fut>(self, handler: F) -> Result<(), Error>
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let ((state, client), sub) = self.subscribe().await?;
        let mut tasks = inner.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(tokio::spawn(run_handler(
            SharedSub(sub),
            state,
            client,
            handler,
        )));
        Ok(())
    }

    /// Validates, subscribes, and registers the endpoint with the service.
    #[allow(clippy::type_complexity)]
    async fn subscribe(self) -> Result<((Arc<EndpointState>, Client), Arc<Subscriber>), Error> {
        validate::endpoint_name(&self.name)?;
        if let Some(prefix) = &self.prefix {
            validate::group_name(prefix)?;
        }
        let local = self.subject.unwrap_or_else(|| self.name.clone());
        validate::endpoint_subject(&local)?;
        let subject = match &self.prefix {
            Some(prefix) => format!("{prefix}.{local}"),
            None => local,
        };
        let queue = self
            .queue
            .or(self.group_queue)
            .unwrap_or_else(|| self.inner.queue.clone());
        let queue_group = match queue {
            Queue::Named(q) => {
                check_queue_group(&q)?;
                Some(q)
            }
            Queue::Disabled => None,
        };
        if self.inner.stopping.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "service {:?} is stopped: no endpoint can be added",
                    self.inner.name
                ),
            ));
        }
        let client = self.inner.client.clone();
        let sub = match &queue_group {
            Some(q) => client.queue_subscribe(&subject, q).await?,
            None => client.subscribe(&subject).await?,
        };
        let sub = Arc::new(sub);
        let state = Arc::new(EndpointState {
            name: self.name,
            subject,
            queue_group,
            metadata: self.metadata,
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            processing_ns: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
        });
        self.inner.endpoints.lock().push(Arc::clone(&state));
        self.inner.subscriptions.lock().push(Arc::clone(&sub));
        if self.inner.stopping.load(Ordering::Acquire) {
            // Stopped while subscribing: `stop` may have missed this subscription.
            let _ = sub.drain().await;
        }
        Ok(((state, client), sub))
    }
}

/// A handler endpoint's task: each request in turn, panics caught and answered.
async fn run_handler<F, Fut>(
    mut sub: SharedSub,
    state: Arc<EndpointState>,
    client: Client,
    handler: F,
) where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    while let Some(message) = sub.next().await {
        state.requests.fetch_add(1, Ordering::Relaxed);
        let reply = message.reply.clone();
        let received = Instant::now();
        let request = Request {
            message,
            client: client.clone(),
            endpoint: Arc::clone(&state),
            received,
            timed: AtomicBool::new(false),
        };
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| handler(request))) {
            Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
            Err(panic) => Err(panic),
        };
        state.add_time(received.elapsed());
        if outcome.is_err() {
            const PANICKED: &str = "handler panicked";
            state.record_error(500, PANICKED);
            if let Some(reply) = reply {
                let _ = client
                    .publish_with_headers(reply, request::error_headers(500, PANICKED), "")
                    .await;
            }
        }
    }
}

/// An endpoint's requests, as a stream ([`EndpointBuilder::add`]). It ends when the service
/// stops, after the requests already received.
pub struct Endpoint {
    client: Client,
    state: Arc<EndpointState>,
    sub: SharedSub,
}

impl Endpoint {
    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// The subject it listens on.
    pub fn subject(&self) -> &str {
        &self.state.subject
    }

    /// Its current statistics (without the stats handler's data).
    pub fn stats(&self) -> EndpointStats {
        self.state.stats()
    }
}

impl Stream for Endpoint {
    type Item = Request;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Request>> {
        let this = &mut *self;
        match Pin::new(&mut this.sub).poll_next(cx) {
            Poll::Ready(Some(message)) => {
                this.state.requests.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Some(Request {
                    message,
                    client: this.client.clone(),
                    endpoint: Arc::clone(&this.state),
                    received: Instant::now(),
                    timed: AtomicBool::new(true),
                }))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.state.name)
            .field("subject", &self.state.subject)
            .finish()
    }
}
