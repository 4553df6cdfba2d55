//! The JetStream context: API prefix, timeouts, account info, stream management.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::api::{self, check_name, json_body, ApiError, Listing, Paged, Success};
use super::publish::AckMux;
use super::stream::{self, Stream};
use crate::{Client, Error, ErrorKind, Message};

/// A handle to JetStream through one [`Client`]: cheap to clone, every clone shares the API
/// prefix, timeout and the window of unacknowledged publishes.
///
/// Made by [`new`](super::new), [`with_domain`](super::with_domain),
/// [`with_prefix`](super::with_prefix) or a [`ContextBuilder`].
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: Client,
    /// `$JS.API`, `$JS.<domain>.API` or a custom prefix; no trailing dot.
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) acks: AckMux,
}

/// Builds a [`Context`] with non-default settings.
///
/// ```no_run
/// # async fn demo(client: rnats::Client) {
/// use std::time::Duration;
/// let js = rnats::jetstream::ContextBuilder::new()
///     .timeout(Duration::from_secs(10))
///     .max_ack_inflight(1024)
///     .build(client);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    prefix: String,
    timeout: Duration,
    max_ack_inflight: usize,
}

impl Default for ContextBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ContextBuilder {
    /// Defaults: API prefix `$JS.API`, a 5 s timeout, 4,096 unacknowledged publishes at most.
    pub fn new() -> Self {
        Self {
            prefix: api::DEFAULT_PREFIX.to_owned(),
            timeout: super::DEFAULT_TIMEOUT,
            max_ack_inflight: 4096,
        }
    }

    /// Uses JetStream domain `domain`: API prefix `$JS.<domain>.API`. An empty domain means
    /// the default prefix.
    pub fn domain(mut self, domain: impl AsRef<str>) -> Self {
        self.prefix = api::domain_prefix(domain.as_ref());
        self
    }

    /// Uses `prefix` instead of `$JS.API` (a trailing `.` is ignored).
    pub fn api_prefix(mut self, prefix: impl AsRef<str>) -> Self {
        self.prefix = api::custom_prefix(prefix.as_ref());
        self
    }

    /// How long API requests, and acknowledgements of publishes, are waited for.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many publishes may wait for their acknowledgement at once; a publish beyond that
    /// waits until an earlier acknowledgement arrives (or its [`PubAckFuture`] is dropped).
    /// At least 1.
    ///
    /// [`PubAckFuture`]: super::PubAckFuture
    pub fn max_ack_inflight(mut self, max: usize) -> Self {
        self.max_ack_inflight = max.max(1);
        self
    }

    /// The context.
    pub fn build(self, client: Client) -> Context {
        Context {
            inner: Arc::new(Inner {
                acks: AckMux::new(self.max_ack_inflight),
                client,
                prefix: self.prefix,
                timeout: self.timeout,
            }),
        }
    }
}

impl Context {
    /// A context for API requests only, on the same client and prefix, whose requests wait
    /// at most `timeout`. It has a publish-ack window of its own: not for publishing.
    pub(crate) fn for_requests_with_timeout(&self, timeout: Duration) -> Context {
        Context {
            inner: Arc::new(Inner {
                acks: AckMux::new(1),
                client: self.inner.client.clone(),
                prefix: self.inner.prefix.clone(),
                timeout,
            }),
        }
    }

    /// The client this context uses.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The API prefix, `$JS.API` by default.
    pub fn api_prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The timeout of API requests and of publish acknowledgements.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The JetStream API level of the connected server: INFO `api_lvl` (servers 2.12+), or,
    /// for servers that do not send it, 1 for 2.11 and 0 before.
    pub fn api_level(&self) -> i32 {
        let info = self.inner.client.server_info();
        if let Some(level) = info.api_lvl {
            return level;
        }
        let mut parts = info.version.split('.').map(|p| p.parse::<u32>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(major), Some(minor)) if (major, minor) >= (2, 11) => 1,
            _ => 0,
        }
    }

    /// Fails with [`ErrorKind::Unsupported`] when the server's API level is below `level`.
    pub(crate) fn require_api_level(&self, level: i32, feature: &str) -> Result<(), Error> {
        let have = self.api_level();
        if have < level {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{feature} needs JetStream API level {level}, the server offers level {have} \
                     (version {})",
                    self.inner.client.server_info().version
                ),
            ));
        }
        Ok(())
    }

    /// The account's JetStream usage, limits and API statistics (`$JS.API.INFO`).
    ///
    /// Fails with [`Error::is_no_responders`] when JetStream is not available, and with
    /// [`Error::is_jetstream_not_enabled`] when it is not enabled for the account.
    pub async fn account_info(&self) -> Result<AccountInfo, Error> {
        self.api_request("INFO", Bytes::new()).await
    }

    /// Creates a stream and returns a handle to it. Creating a stream that exists with the same
    /// configuration succeeds; with a different one it fails with
    /// [`Error::is_stream_already_exists`].
    pub async fn create_stream(&self, config: impl Into<stream::Config>) -> Result<Stream, Error> {
        let config = config.into();
        check_name("stream", &config.name)?;
        let info: stream::Info = self
            .api_request(
                &format!("STREAM.CREATE.{}", config.name),
                json_body(&config)?,
            )
            .await?;
        Ok(Stream::new(self.clone(), info))
    }

    /// A handle to an existing stream, with its info (fails with
    /// [`Error::is_stream_not_found`]).
    pub async fn get_stream(&self, name: impl AsRef<str>) -> Result<Stream, Error> {
        let info = self.stream_info(name).await?;
        Ok(Stream::new(self.clone(), info))
    }

    /// A handle to a stream without asking the server anything (its cached info is empty).
    pub fn get_stream_no_info(&self, name: impl Into<String>) -> Stream {
        Stream::without_info(self.clone(), name.into())
    }

    /// The stream's info (`STREAM.INFO`).
    pub async fn stream_info(&self, name: impl AsRef<str>) -> Result<stream::Info, Error> {
        let name = name.as_ref();
        check_name("stream", name)?;
        self.api_request(&format!("STREAM.INFO.{name}"), Bytes::new())
            .await
    }

    /// The stream named `config.name`, created with `config` when it does not exist. An
    /// existing stream is returned as it is, whatever its configuration.
    pub async fn get_or_create_stream(
        &self,
        config: impl Into<stream::Config>,
    ) -> Result<Stream, Error> {
        let config = config.into();
        match self.get_stream(&config.name).await {
            Err(e) if e.is_stream_not_found() => self.create_stream(config).await,
            other => other,
        }
    }

    /// Updates a stream's configuration; fails with [`Error::is_stream_not_found`] when the
    /// stream does not exist.
    pub async fn update_stream(
        &self,
        config: impl Into<stream::Config>,
    ) -> Result<stream::Info, Error> {
        let config = config.into();
        check_name("stream", &config.name)?;
        self.api_request(
            &format!("STREAM.UPDATE.{}", config.name),
            json_body(&config)?,
        )
        .await
    }

    /// Updates the stream, or creates it when it does not exist.
    pub async fn create_or_update_stream(
        &self,
        config: impl Into<stream::Config>,
    ) -> Result<stream::Info, Error> {
        let config = config.into();
        match self.update_stream(config.clone()).await {
            Err(e) if e.is_stream_not_found() => {
                Ok(self.create_stream(config).await?.cached_info().clone())
            }
            other => other,
        }
    }

    /// Deletes a stream and all its messages and consumers.
    pub async fn delete_stream(&self, name: impl AsRef<str>) -> Result<(), Error> {
        let name = name.as_ref();
        check_name("stream", name)?;
        let answer: Success = self
            .api_request(&format!("STREAM.DELETE.{name}"), Bytes::new())
            .await?;
        answer.check(&format!("delete stream {name:?}"))
    }

    /// The names of all streams, fetched page by page as the stream is read. Narrow it with
    /// [`Paged::with_subject`].
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// use futures_util::TryStreamExt;
    /// let names: Vec<String> = js.stream_names().with_subject("orders.>").try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn stream_names(&self) -> Names {
        self.listing("STREAM.NAMES", "streams")
    }

    /// The info of all streams, fetched page by page as the stream is read.
    pub fn streams(&self) -> Paged<stream::Info> {
        self.listing("STREAM.LIST", "streams")
    }

    /// The name of the stream that stores `subject`, if any.
    pub async fn stream_by_subject(&self, subject: impl AsRef<str>) -> Result<String, Error> {
        let subject = subject.as_ref();
        let mut names = self.stream_names().with_subject(subject);
        match names.next().await {
            Some(name) => name,
            None => Err(Error::jetstream_api(
                format!("no stream stores subject {subject:?}"),
                ApiError {
                    code: 404,
                    err_code: super::ErrorCode::STREAM_NOT_FOUND,
                    description: "stream not found".to_owned(),
                },
            )),
        }
    }

    /// Sends an API request `<prefix>.<suffix>` and parses the answer (or its error).
    pub(crate) async fn api_request<T: DeserializeOwned>(
        &self,
        suffix: &str,
        body: Bytes,
    ) -> Result<T, Error> {
        let subject = api::subject(&self.inner.prefix, suffix);
        api::request(&self.inner.client, &subject, body, self.inner.timeout).await
    }

    /// Sends an API request and returns the raw answer; 503 becomes "JetStream not available".
    pub(crate) async fn api_request_raw(
        &self,
        suffix: &str,
        body: Bytes,
    ) -> Result<Message, Error> {
        let subject = api::subject(&self.inner.prefix, suffix);
        api::request_raw(&self.inner.client, &subject, body, self.inner.timeout).await
    }

    /// The paged listing `<prefix>.<suffix>`, whose pages hold the items in `items_field`.
    pub(crate) fn listing<T: DeserializeOwned + Send + 'static>(
        &self,
        suffix: &str,
        items_field: &'static str,
    ) -> Paged<T> {
        Paged::new(Listing {
            client: self.inner.client.clone(),
            subject: api::subject(&self.inner.prefix, suffix),
            timeout: self.inner.timeout,
            items_field,
            subject_filter: None,
        })
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// The account's JetStream usage and limits, from [`Context::account_info`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountInfo {
    /// Memory storage used, in bytes.
    #[serde(default)]
    pub memory: u64,
    /// File storage used, in bytes.
    #[serde(default)]
    pub storage: u64,
    /// Memory reserved by streams with `max_bytes`, in bytes.
    #[serde(default)]
    pub reserved_memory: u64,
    /// File storage reserved by streams with `max_bytes`, in bytes.
    #[serde(default)]
    pub reserved_storage: u64,
    /// Number of streams.
    #[serde(default)]
    pub streams: usize,
    /// Number of consumers.
    #[serde(default)]
    pub consumers: usize,
    /// The JetStream domain, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The account's limits.
    #[serde(default)]
    pub limits: AccountLimits,
    /// API statistics, including the API level.
    #[serde(default)]
    pub api: ApiStats,
    /// Usage per storage tier (`R1`, `R3`…), as the server sent it.
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tiers: Map<String, Value>,
    /// The API response type (`io.nats.jetstream.api.v1.…`), not part of the info.
    #[serde(rename = "type", default, skip_serializing)]
    _response_type: serde::de::IgnoredAny,
    /// Fields this version of rnats does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An account's JetStream limits (-1 is unlimited).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccountLimits {
    /// Memory storage limit, in bytes.
    #[serde(default)]
    pub max_memory: i64,
    /// File storage limit, in bytes.
    #[serde(default)]
    pub max_storage: i64,
    /// Maximum number of streams.
    #[serde(default)]
    pub max_streams: i64,
    /// Maximum number of consumers.
    #[serde(default)]
    pub max_consumers: i64,
    /// Whether streams must set `max_bytes`.
    #[serde(default)]
    pub max_bytes_required: bool,
    /// Maximum `max_ack_pending` of a consumer.
    #[serde(default)]
    pub max_ack_pending: i64,
    /// Maximum `max_bytes` of a memory stream.
    #[serde(default)]
    pub memory_max_stream_bytes: i64,
    /// Maximum `max_bytes` of a file stream.
    #[serde(default)]
    pub storage_max_stream_bytes: i64,
}

/// JetStream API statistics of the account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiStats {
    /// The server's JetStream API level.
    #[serde(default)]
    pub level: i32,
    /// API requests served.
    #[serde(default)]
    pub total: u64,
    /// API requests that failed.
    #[serde(default)]
    pub errors: u64,
    /// API requests in progress.
    #[serde(default)]
    pub inflight: u64,
}

/// Names of streams or consumers, fetched page by page.
pub type Names = Paged<String>;
