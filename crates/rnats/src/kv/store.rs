//! Bucket management on the JetStream [`Context`], and the [`Store`] handle: entries, puts,
//! compare-and-set, deletes and purges.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;
use time::OffsetDateTime;

use super::config::{stream_name, subject_prefix, Config, Status};
use super::keys::{check_bucket, check_filter, check_key, check_key_minimal};
use super::{kv_error, Reason};
use crate::jetstream::api::{self, ApiError};
use crate::jetstream::stream::{self, Stream, StreamMessage};
use crate::jetstream::{Context, Names, Paged, Publish};
use crate::{Error, ErrorKind, HeaderMap, StatusCode};

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// A value was stored.
    Put,
    /// The key was deleted (its history kept).
    Delete,
    /// The key was purged (its history removed), or a limit removed its last value.
    Purge,
}

/// One value of a key: what [`Store::entry`], watchers and [`Store::history`] return.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The value (empty for deletes and purges, and for watchers with `meta_only`).
    pub value: Bytes,
    /// The revision: the value's sequence in the bucket's stream.
    pub revision: u64,
    /// How many newer entries the watcher or history had still to deliver after this one
    /// (0: the latest; always 0 for gets).
    pub delta: u64,
    /// When it was stored.
    pub created: OffsetDateTime,
    /// What it records.
    pub operation: Operation,
}

/// The operation a stored message's headers record (KV-11, KV-12).
pub(crate) fn operation(headers: Option<&HeaderMap>) -> Operation {
    let Some(headers) = headers else {
        return Operation::Put;
    };
    match headers.get("KV-Operation") {
        Some("PURGE") => return Operation::Purge,
        Some("DEL") => return Operation::Delete,
        Some(other) if !other.is_empty() => return Operation::Delete,
        _ => {}
    }
    match headers.get("Nats-Marker-Reason") {
        Some("Remove") => Operation::Delete,
        Some(r) if !r.is_empty() => Operation::Purge,
        _ => Operation::Put,
    }
}

/// A handle to one bucket. Cheap to clone.
///
/// Made by [`Context::create_key_value`], [`Context::key_value`] and relatives.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    pub(crate) validate_keys: bool,
}

pub(crate) struct Inner {
    pub(crate) context: Context,
    pub(crate) stream: Stream,
    pub(crate) bucket: String,
    /// `$KV.<bucket>.`, or the origin's prefix for a mirror (a mirror keeps the subjects).
    pub(crate) read_prefix: String,
    /// Where puts go: the read prefix, the origin's for a mirror, with the API prefix in
    /// front for a non-default prefix or domain (ADR-19).
    pub(crate) put_prefix: String,
    pub(crate) use_direct: bool,
    /// `<api prefix>.DIRECT.GET.<stream>.<read prefix>`: a key's last value is one request
    /// to this plus the key.
    pub(crate) direct_last: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("bucket", &self.inner.bucket)
            .field("put_prefix", &self.inner.put_prefix)
            .field("use_direct", &self.inner.use_direct)
            .field("validate_keys", &self.validate_keys)
            .finish_non_exhaustive()
    }
}

impl Store {
    fn from_info(context: Context, info: &stream::Info) -> Store {
        let config = &info.config;
        let bucket = config
            .name
            .strip_prefix("KV_")
            .unwrap_or(&config.name)
            .to_owned();
        let mut read_prefix = subject_prefix(&bucket);
        let api_prefix = context.api_prefix();
        let mut put_prefix = if api_prefix == "$JS.API" {
            read_prefix.clone()
        } else {
            format!("{api_prefix}.{read_prefix}")
        };
        if let Some(mirror) = &config.mirror {
            let origin = mirror.name.strip_prefix("KV_").unwrap_or(&mirror.name);
            read_prefix = subject_prefix(origin);
            put_prefix = match mirror.external.as_ref().map(|e| e.api_prefix.as_str()) {
                Some(ext) if !ext.is_empty() => {
                    format!("{}.{read_prefix}", ext.trim_end_matches('.'))
                }
                _ if api_prefix == "$JS.API" => read_prefix.clone(),
                _ => format!("{api_prefix}.{read_prefix}"),
            };
        }
        let direct_last = format!(
            "{}.DIRECT.GET.{}.{read_prefix}",
            context.api_prefix(),
            config.name
        );
        Store {
            inner: Arc::new(Inner {
                direct_last,
                stream: context.get_stream_no_info(config.name.clone()),
                context,
                bucket,
                read_prefix,
                put_prefix,
                use_direct: config.allow_direct,
            }),
            validate_keys: true,
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// Turns key validation off (`false`) or on (`true`, the default), as nats-py 2.11+
    /// allows. Off, keys are only checked for what would break the protocol (empty,
    /// whitespace, control characters, wildcards in a key); the server decides the rest.
    pub fn validate_keys(mut self, validate: bool) -> Self {
        self.validate_keys = validate;
        self
    }

    pub(crate) fn check_key(&self, key: &str) -> Result<(), Error> {
        if self.validate_keys {
            check_key(key)
        } else {
            check_key_minimal(key, false)
        }
    }

    pub(crate) fn check_filter(&self, filter: &str) -> Result<(), Error> {
        if self.validate_keys {
            check_filter(filter)
        } else {
            check_key_minimal(filter, true)
        }
    }

    pub(crate) fn key_of<'a>(&self, subject: &'a str) -> &'a str {
        subject
            .strip_prefix(self.inner.read_prefix.as_str())
            .unwrap_or(subject)
    }

    fn read_subject(&self, key: &str) -> String {
        let mut s = String::with_capacity(self.inner.read_prefix.len() + key.len());
        s.push_str(&self.inner.read_prefix);
        s.push_str(key);
        s
    }

    fn put_subject(&self, key: &str) -> String {
        let mut s = String::with_capacity(self.inner.put_prefix.len() + key.len());
        s.push_str(&self.inner.put_prefix);
        s.push_str(key);
        s
    }

    fn entry_from(&self, m: StreamMessage) -> Entry {
        Entry {
            bucket: self.inner.bucket.clone(),
            key: self.key_of(&m.subject).to_owned(),
            operation: operation(Some(&m.headers)),
            value: m.payload,
            revision: m.sequence,
            delta: 0,
            created: m.time,
        }
    }

    fn not_found(&self, key: &str, deleted: bool) -> Error {
        let (reason, what) = if deleted {
            (Reason::KeyDeleted, "is deleted")
        } else {
            (Reason::KeyNotFound, "not found")
        };
        kv_error(
            reason,
            format!("key {key:?} {what} in bucket {:?}", self.inner.bucket),
        )
    }

    async fn publish(&self, key: &str, publish: Publish) -> Result<u64, Error> {
        let ack = self
            .inner
            .context
            .publish_with(self.put_subject(key), publish)
            .await?
            .await?;
        Ok(ack.sequence)
    }

    /// Stores `value` under `key` and returns its revision.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
    /// let revision = store.put("sue.color", "blue").await?;
    /// # Ok(()) }
    /// ```
    pub async fn put(&self, key: impl AsRef<str>, value: impl Into<Bytes>) -> Result<u64, Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        self.publish(key, Publish::new().payload(value)).await
    }

    /// The key's current value. Fails with [`Error::is_key_not_found`] when nothing is stored
    /// or the last value is a delete or purge.
    pub async fn get(&self, key: impl AsRef<str>) -> Result<Bytes, Error> {
        let key = key.as_ref();
        if !self.inner.use_direct {
            let entry = self.entry(key).await?;
            if entry.operation != Operation::Put {
                return Err(self.not_found(key, true));
            }
            return Ok(entry.value);
        }
        // The value only: one Direct Get request, no entry built.
        self.check_key(key)?;
        let mut subject = String::with_capacity(self.inner.direct_last.len() + key.len());
        subject.push_str(&self.inner.direct_last);
        subject.push_str(key);
        let context = &self.inner.context;
        let msg =
            api::request_raw(context.client(), &subject, Bytes::new(), context.timeout()).await?;
        match msg.status {
            Some(StatusCode::NOT_FOUND) => return Err(self.not_found(key, false)),
            Some(status) if status != StatusCode::OK => {
                return Err(Error::jetstream_api(
                    format!("direct get {subject:?} failed"),
                    ApiError::from_status(status, msg.description.as_deref()),
                ))
            }
            _ => {}
        }
        if operation(msg.headers.as_ref()) != Operation::Put {
            return Err(self.not_found(key, true));
        }
        Ok(msg.payload)
    }

    /// The key's latest entry, deletes and purges included (see [`Entry::operation`]); fails
    /// with [`Error::is_key_not_found`] when nothing is stored under the key. Read by Direct
    /// Get when the bucket allows it, else through the stream leader.
    pub async fn entry(&self, key: impl AsRef<str>) -> Result<Entry, Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        match self.last_message(key).await? {
            Some(m) => Ok(self.entry_from(m)),
            None => Err(self.not_found(key, false)),
        }
    }

    async fn last_message(&self, key: &str) -> Result<Option<StreamMessage>, Error> {
        let subject = self.read_subject(key);
        let stream = &self.inner.stream;
        let got = if self.inner.use_direct {
            stream.direct_get_last_for_subject(&subject).await
        } else {
            stream.get_last_raw_message_by_subject(&subject).await
        };
        match got {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_message_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entry of `key` at `revision` (whatever its operation). Fails with
    /// [`Error::is_key_not_found`] when that revision is gone or belongs to another key.
    pub async fn get_revision(&self, key: impl AsRef<str>, revision: u64) -> Result<Entry, Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        let stream = &self.inner.stream;
        let got = if self.inner.use_direct {
            stream.direct_get(revision).await
        } else {
            stream.get_raw_message(revision).await
        };
        let m = match got {
            Ok(m) => m,
            Err(e) if e.is_message_not_found() => return Err(self.not_found(key, false)),
            Err(e) => return Err(e),
        };
        if self.key_of(&m.subject) != key || !m.subject.starts_with(&self.inner.read_prefix) {
            return Err(kv_error(
                Reason::KeyNotFound,
                format!(
                    "revision {revision} of bucket {:?} is not one of key {key:?}",
                    self.inner.bucket
                ),
            ));
        }
        Ok(self.entry_from(m))
    }

    /// Stores `value` under `key` only if the key has no value: never written, deleted or
    /// purged. Returns the revision; fails with [`Error::is_key_exists`] when the key holds a
    /// value.
    pub async fn create(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
    ) -> Result<u64, Error> {
        self.create_inner(key.as_ref(), value.into(), None).await
    }

    /// [`Store::create`] with a TTL for this value (at least 1 s): the server removes it, and
    /// leaves a marker, after `ttl`. The bucket needs limit markers
    /// ([`Config::limit_marker_ttl`]).
    pub async fn create_with_ttl(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<u64, Error> {
        self.create_inner(key.as_ref(), value.into(), Some(ttl))
            .await
    }

    async fn create_inner(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<u64, Error> {
        self.check_key(key)?;
        let attempt = |expected: u64| {
            let mut publish = Publish::new()
                .payload(value.clone())
                .expected_last_subject_sequence(expected);
            if let Some(ttl) = ttl {
                publish = publish.ttl(ttl);
            }
            self.publish(key, publish)
        };
        let first = match attempt(0).await {
            Err(e) if e.is_wrong_last_sequence() => e,
            other => return other,
        };
        // The key has a last value: over a delete or purge marker a create succeeds (KV-7).
        match self.last_message(key).await? {
            Some(m) if operation(Some(&m.headers)) != Operation::Put => attempt(m.sequence).await,
            _ => Err(match first.jetstream_error() {
                Some(api) => Error::jetstream_api(
                    format!(
                        "create key {key:?} in bucket {:?}: the key exists",
                        self.inner.bucket
                    ),
                    api.clone(),
                ),
                None => first,
            }),
        }
    }

    /// Stores `value` under `key` only if the key's last revision is `revision`
    /// (compare-and-set). Fails with [`Error::is_key_exists`] (the server's wrong last
    /// sequence, 10071 or 10164) when it is not.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
    /// let entry = store.entry("counter").await?;
    /// let n: u64 = std::str::from_utf8(&entry.value).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    /// match store.update("counter", (n + 1).to_string(), entry.revision).await {
    ///     Ok(_) => println!("incremented"),
    ///     Err(e) if e.is_key_exists() => println!("someone else was first"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn update(
        &self,
        key: impl AsRef<str>,
        value: impl Into<Bytes>,
        revision: u64,
    ) -> Result<u64, Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        self.publish(
            key,
            Publish::new()
                .payload(value)
                .expected_last_subject_sequence(revision),
        )
        .await
    }

    fn marker(operation: &'static str) -> Publish {
        Publish::new().header("KV-Operation", operation)
    }

    /// Deletes the key: a delete marker becomes its last value; its history is kept.
    pub async fn delete(&self, key: impl AsRef<str>) -> Result<(), Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        self.publish(key, Self::marker("DEL")).await.map(|_| ())
    }

    /// Deletes the key only if its last revision is `revision` (fails with
    /// [`Error::is_key_exists`] otherwise).
    pub async fn delete_expect_revision(
        &self,
        key: impl AsRef<str>,
        revision: u64,
    ) -> Result<(), Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        self.publish(
            key,
            Self::marker("DEL").expected_last_subject_sequence(revision),
        )
        .await
        .map(|_| ())
    }

    /// Purges the key: a purge marker replaces all its values (a rollup).
    pub async fn purge(&self, key: impl AsRef<str>) -> Result<(), Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        self.publish(key, Self::marker("PURGE").rollup(false))
            .await
            .map(|_| ())
    }

    /// [`Store::purge`] whose marker the server removes after `ttl` (at least 1 s; the
    /// bucket needs limit markers, [`Config::limit_marker_ttl`]).
    pub async fn purge_with_ttl(&self, key: impl AsRef<str>, ttl: Duration) -> Result<(), Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        self.publish(key, Self::marker("PURGE").rollup(false).ttl(ttl))
            .await
            .map(|_| ())
    }

    /// Removes delete and purge markers: each marker older than `older_than` goes with
    /// everything stored under its key; a younger one stays, the values before it go.
    /// `Duration::ZERO` removes every marker. Returns how many markers were looked at.
    /// nats.go's default threshold is [`DEFAULT_PURGE_DELETES_OLDER_THAN`](super::DEFAULT_PURGE_DELETES_OLDER_THAN).
    pub async fn purge_deletes(&self, older_than: Duration) -> Result<usize, Error> {
        let options = super::WatchOptions {
            meta_only: true,
            ..Default::default()
        };
        let mut events = self.watch_with(options).await?.events();
        let mut markers = Vec::new();
        loop {
            let event = tokio::time::timeout(self.inner.context.timeout(), events.next())
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "purge deletes of bucket {:?}: the bucket's keys did not arrive in time",
                            self.inner.bucket
                        ),
                    )
                })?;
            match event {
                Some(Ok(super::WatchEvent::Entry(e))) => {
                    if e.operation != Operation::Put {
                        markers.push(e);
                    }
                }
                Some(Ok(super::WatchEvent::InitialDataDone)) | None => break,
                Some(Err(e)) => return Err(e),
            }
        }
        let now = OffsetDateTime::now_utc();
        for marker in &markers {
            let age = now - marker.created;
            let keep_marker = !older_than.is_zero() && age < older_than;
            let mut purge = self
                .inner
                .stream
                .purge()
                .filter(self.read_subject(&marker.key));
            if keep_marker {
                purge = purge.keep(1);
            }
            purge.await?;
        }
        Ok(markers.len())
    }

    /// The bucket's configuration, as the server has it.
    pub async fn info(&self) -> Result<Config, Error> {
        Ok(self.status().await?.config())
    }

    /// The bucket's status (values, bytes, history, TTL, compression, the stream's info).
    pub async fn status(&self) -> Result<Status, Error> {
        let info = self
            .inner
            .context
            .stream_info(self.inner.stream.name())
            .await?;
        Ok(Status { info })
    }
}

fn bucket_not_found(bucket: &str, e: Error) -> Error {
    if e.is_stream_not_found() {
        kv_error(
            Reason::BucketNotFound,
            format!("bucket {bucket:?} not found"),
        )
    } else {
        e
    }
}

/// Bucket management: create, bind, update, delete, list.
impl Context {
    /// Limit markers need JetStream API level 1 (nats-server 2.11): asked of the account's
    /// JetStream (`$JS.API.INFO`, ADR-8), not read from the connected server's version.
    async fn check_limit_markers(&self, config: &Config) -> Result<(), Error> {
        if config.limit_marker_ttl.is_none() {
            return Ok(());
        }
        let level = crate::jetstream::api_level::V2_11;
        let have = self.account_info().await?.api.level;
        if have < level {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "bucket {:?}: limit markers need JetStream API level {level} (nats-server \
                     2.11), the server's JetStream offers level {have}",
                    config.bucket
                ),
            ));
        }
        Ok(())
    }

    /// Creates bucket `config.bucket` and returns a handle to it. Creating a bucket that
    /// exists with the same configuration succeeds; with another one it fails with
    /// [`Error::is_stream_already_exists`].
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// let store = js.create_key_value(rnats::kv::Config::new("profiles")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_key_value(&self, config: Config) -> Result<Store, Error> {
        let stream_config = config.to_stream_config()?;
        self.check_limit_markers(&config).await?;
        let stream = self.create_stream(stream_config).await?;
        Ok(Store::from_info(self.clone(), stream.cached_info()))
    }

    /// Changes an existing bucket's configuration; fails with [`Error::is_bucket_not_found`]
    /// when there is none. Limit markers, once on, cannot be turned off.
    pub async fn update_key_value(&self, config: Config) -> Result<Store, Error> {
        let stream_config = config.to_stream_config()?;
        self.check_limit_markers(&config).await?;
        if config.limit_marker_ttl.is_none() {
            let current = self
                .stream_info(&stream_config.name)
                .await
                .map_err(|e| bucket_not_found(&config.bucket, e))?;
            if current.config.allow_message_ttl {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "bucket {:?} has limit markers (per-message TTLs): they cannot be \
                         turned off",
                        config.bucket
                    ),
                ));
            }
        }
        let info = self
            .update_stream(stream_config)
            .await
            .map_err(|e| bucket_not_found(&config.bucket, e))?;
        Ok(Store::from_info(self.clone(), &info))
    }

    /// Updates the bucket, or creates it when it does not exist.
    pub async fn create_or_update_key_value(&self, config: Config) -> Result<Store, Error> {
        match self.update_key_value(config.clone()).await {
            Err(e) if e.is_bucket_not_found() => self.create_key_value(config).await,
            other => other,
        }
    }

    /// A handle to an existing bucket (fails with [`Error::is_bucket_not_found`]).
    pub async fn key_value(&self, bucket: impl AsRef<str>) -> Result<Store, Error> {
        let bucket = bucket.as_ref();
        check_bucket(bucket)?;
        let info = self
            .stream_info(stream_name(bucket))
            .await
            .map_err(|e| bucket_not_found(bucket, e))?;
        if info.config.max_messages_per_subject < 1 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "stream {:?} is not a Key-Value bucket (max_msgs_per_subject {})",
                    info.config.name, info.config.max_messages_per_subject
                ),
            ));
        }
        Ok(Store::from_info(self.clone(), &info))
    }

    /// Deletes a bucket and everything in it (fails with [`Error::is_bucket_not_found`]).
    pub async fn delete_key_value(&self, bucket: impl AsRef<str>) -> Result<(), Error> {
        let bucket = bucket.as_ref();
        check_bucket(bucket)?;
        self.delete_stream(stream_name(bucket))
            .await
            .map_err(|e| bucket_not_found(bucket, e))
    }

    /// The names of all buckets, fetched page by page as the stream is read.
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// use futures_util::TryStreamExt;
    /// let buckets: Vec<String> = js.key_value_names().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn key_value_names(&self) -> BucketNames {
        BucketNames {
            inner: self.stream_names().with_subject("$KV.*.>"),
        }
    }

    /// The status of every bucket, fetched page by page as the stream is read.
    pub fn key_value_stores(&self) -> BucketStatuses {
        BucketStatuses {
            inner: self.streams().with_subject("$KV.*.>"),
        }
    }
}

/// Bucket names, from [`Context::key_value_names`].
pub struct BucketNames {
    inner: Names,
}

impl FuturesStream for BucketNames {
    type Item = Result<String, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(name))) => {
                    if let Some(bucket) = name.strip_prefix("KV_") {
                        return Poll::Ready(Some(Ok(bucket.to_owned())));
                    }
                }
                other => return other,
            }
        }
    }
}

impl std::fmt::Debug for BucketNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketNames").finish_non_exhaustive()
    }
}

/// Bucket statuses, from [`Context::key_value_stores`].
pub struct BucketStatuses {
    inner: Paged<stream::Info>,
}

impl FuturesStream for BucketStatuses {
    type Item = Result<Status, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(info))) => {
                    if info.config.name.starts_with("KV_") {
                        return Poll::Ready(Some(Ok(Status { info })));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl std::fmt::Debug for BucketStatuses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketStatuses").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(operation(None), Operation::Put);
        assert_eq!(operation(Some(&h)), Operation::Put);
        h.insert("KV-Operation", "DEL");
        assert_eq!(operation(Some(&h)), Operation::Delete);
        h.insert("KV-Operation", "PURGE");
        assert_eq!(operation(Some(&h)), Operation::Purge);
        for (reason, op) in [
            ("MaxAge", Operation::Purge),
            ("Purge", Operation::Purge),
            ("Remove", Operation::Delete),
        ] {
            let mut h = HeaderMap::new();
            h.insert("Nats-Marker-Reason", reason);
            assert_eq!(operation(Some(&h)), op, "{reason}");
        }
    }
}
