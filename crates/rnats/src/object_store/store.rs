//! Bucket management on the JetStream [`Context`], and the [`ObjectStore`] handle.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::config::{stream_name, Config, Status};
use super::{
    check_bucket, digest_string, encode_name, os_error, Object, ObjectInfo, ObjectLink, ObjectMeta,
    ObjectOptions, Reason, DEFAULT_CHUNK_SIZE,
};
use crate::jetstream::consumer::{DeliverPolicy, Ordered, OrderedConfig};
use crate::jetstream::stream::{self, Stream, StreamMessage};
use crate::jetstream::{Context, Names, Paged, PubAckFuture, Publish};
use crate::{Error, ErrorKind};

/// Chunk publishes awaiting their acks during a put, at most: with 128 KiB chunks, 2 MiB in
/// flight. Memory stays bounded by this window whatever the object's size.
const PUT_WINDOW: usize = 16;
/// Bytes an object read pulls ahead.
const GET_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// Bytes a watcher or listing pulls ahead.
const WATCH_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// How long the server keeps the consumer of a read nobody finishes.
const READ_INACTIVE: Duration = Duration::from_secs(30);
/// How long the server keeps the consumer of a watcher nobody reads.
const WATCH_INACTIVE: Duration = Duration::from_secs(300);

/// A handle to one Object Store bucket. Cheap to clone.
///
/// Made by [`Context::create_object_store`] and [`Context::object_store`].
#[derive(Clone)]
pub struct ObjectStore {
    inner: Arc<Inner>,
}

struct Inner {
    context: Context,
    stream: Stream,
    bucket: String,
    use_direct: bool,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.inner.bucket)
            .finish_non_exhaustive()
    }
}

fn bucket_not_found(bucket: &str, e: Error) -> Error {
    if e.is_stream_not_found() {
        os_error(
            Reason::BucketNotFound,
            format!("object store bucket {bucket:?} not found"),
        )
    } else {
        e
    }
}

/// Ends a put that failed: its chunks are purged (best effort), the error returned.
async fn purge_quietly(stream: &Stream, subject: String) {
    let _ = stream.purge().filter(subject).await;
}

impl ObjectStore {
    fn from_info(context: Context, info: &stream::Info) -> ObjectStore {
        let config = &info.config;
        let bucket = config
            .name
            .strip_prefix("OBJ_")
            .unwrap_or(&config.name)
            .to_owned();
        ObjectStore {
            inner: Arc::new(Inner {
                stream: context.get_stream_no_info(config.name.clone()),
                context,
                bucket,
                use_direct: config.allow_direct,
            }),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    fn chunk_subject(&self, nuid: &str) -> String {
        format!("$O.{}.C.{nuid}", self.inner.bucket)
    }

    fn meta_subject(&self, name: &str) -> String {
        format!("$O.{}.M.{}", self.inner.bucket, encode_name(name))
    }

    fn not_found(&self, name: &str) -> Error {
        os_error(
            Reason::ObjectNotFound,
            format!(
                "object {name:?} not found in bucket {:?}",
                self.inner.bucket
            ),
        )
    }

    fn check_name(name: &str) -> Result<(), Error> {
        if name.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "an object name must not be empty",
            ));
        }
        Ok(())
    }

    async fn last_meta(&self, name: &str) -> Result<Option<StreamMessage>, Error> {
        let subject = self.meta_subject(name);
        let stream = &self.inner.stream;
        let got = if self.inner.use_direct {
            stream.direct_get_last_for_subject(&subject).await
        } else {
            stream.get_last_raw_message_by_subject(&subject).await
        };
        match got {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_message_not_found() => Ok(None),
            Err(e) => Err(bucket_not_found(&self.inner.bucket, e)),
        }
    }

    /// The object's info, deleted objects included (`None`: never stored).
    async fn info_any(&self, name: &str) -> Result<Option<ObjectInfo>, Error> {
        Self::check_name(name)?;
        match self.last_meta(name).await? {
            Some(m) => ObjectInfo::from_payload(&m.payload, m.time).map(Some),
            None => Ok(None),
        }
    }

    /// The object's info; fails with [`Error::is_object_not_found`] when it does not exist
    /// or is deleted.
    pub async fn info(&self, name: impl AsRef<str>) -> Result<ObjectInfo, Error> {
        self.info_with(name, false).await
    }

    /// The object's info; with `show_deleted` a deleted object's info too (OS-9).
    pub async fn info_with(
        &self,
        name: impl AsRef<str>,
        show_deleted: bool,
    ) -> Result<ObjectInfo, Error> {
        let name = name.as_ref();
        match self.info_any(name).await? {
            Some(info) if show_deleted || !info.deleted => Ok(info),
            _ => Err(self.not_found(name)),
        }
    }

    async fn publish_meta(&self, info: &ObjectInfo) -> Result<(), Error> {
        let payload = info.to_payload()?;
        self.inner
            .context
            .publish_with(
                self.meta_subject(&info.name),
                Publish::new().payload(payload).rollup(false),
            )
            .await?
            .await?;
        Ok(())
    }

    /// Stores the bytes `reader` yields under `meta` (a name, or an [`ObjectMeta`]), in
    /// chunks of 128 KiB or `meta.max_chunk_size`, replacing any object of that name. The
    /// chunk publishes are pipelined (at most 16 awaiting their acks) and hashed as they
    /// go. On failure the chunks written are purged; an object replaced loses its chunks
    /// only once the new meta is stored. Returns the new object's info.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::object_store::ObjectStore) -> Result<(), rnats::Error> {
    /// use rnats::object_store::ObjectMeta;
    /// let data: &[u8] = b"hello";
    /// let info = store.put(ObjectMeta::new("greeting").description("a word"), data).await?;
    /// assert_eq!(info.size, 5);
    /// # Ok(()) }
    /// ```
    pub async fn put<R>(&self, meta: impl Into<ObjectMeta>, reader: R) -> Result<ObjectInfo, Error>
    where
        R: AsyncRead + Unpin,
    {
        let meta = meta.into();
        Self::check_name(&meta.name)?;
        let chunk_size = meta.max_chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE).max(1);
        let previous = self.info_any(&meta.name).await?;
        let nuid = nuid::next().to_string();
        let chunk_subject = self.chunk_subject(&nuid);
        let written = self.put_chunks(&chunk_subject, chunk_size, reader).await;
        let (size, chunks, digest) = match written {
            Ok(w) => w,
            Err(e) => {
                purge_quietly(&self.inner.stream, chunk_subject).await;
                return Err(e);
            }
        };
        let info = ObjectInfo {
            name: meta.name,
            description: meta.description,
            headers: (!meta.headers.is_empty()).then_some(meta.headers),
            metadata: (!meta.metadata.is_empty()).then_some(meta.metadata),
            options: meta.max_chunk_size.map(|s| ObjectOptions {
                link: None,
                max_chunk_size: Some(s as u64),
            }),
            bucket: self.inner.bucket.clone(),
            nuid,
            size,
            chunks,
            digest: Some(digest),
            deleted: false,
            modified: OffsetDateTime::now_utc(),
        };
        if let Err(e) = self.publish_meta(&info).await {
            purge_quietly(&self.inner.stream, chunk_subject).await;
            return Err(e);
        }
        if let Some(old) = previous {
            if !old.deleted && !old.nuid.is_empty() && old.nuid != info.nuid {
                self.inner
                    .stream
                    .purge()
                    .filter(self.chunk_subject(&old.nuid))
                    .await?;
            }
        }
        Ok(info)
    }

    async fn put_chunks<R>(
        &self,
        subject: &str,
        chunk_size: usize,
        mut reader: R,
    ) -> Result<(u64, u64, String), Error>
    where
        R: AsyncRead + Unpin,
    {
        let mut hasher = Sha256::new();
        let mut acks: VecDeque<PubAckFuture> = VecDeque::with_capacity(PUT_WINDOW);
        let (mut size, mut chunks) = (0u64, 0u64);
        let sent = async {
            loop {
                let mut buf = BytesMut::with_capacity(chunk_size);
                while buf.len() < chunk_size {
                    let n = reader.read_buf(&mut buf).await.map_err(|e| {
                        Error::with_source(ErrorKind::Io, "reading the object to put", e)
                    })?;
                    if n == 0 {
                        break;
                    }
                }
                if buf.is_empty() {
                    return Ok(());
                }
                let full = buf.len() == chunk_size;
                hasher.update(&buf);
                size += buf.len() as u64;
                chunks += 1;
                if acks.len() >= PUT_WINDOW {
                    if let Some(ack) = acks.pop_front() {
                        ack.await?;
                    }
                }
                let ack = self
                    .inner
                    .context
                    .publish_with(subject, Publish::new().payload(buf.freeze()))
                    .await?;
                acks.push_back(ack);
                if !full {
                    return Ok(());
                }
            }
        }
        .await;
        // Every chunk in flight is waited for, also on failure: the caller purges the
        // chunks next, and a chunk landing after that purge would be an orphan.
        let mut settled: Result<(), Error> = sent;
        for ack in acks {
            let acked = ack.await.map(|_| ());
            if settled.is_ok() {
                settled = acked;
            }
        }
        settled?;
        Ok((size, chunks, digest_string(&hasher.finalize())))
    }

    /// Stores `data` under `meta` ([`ObjectStore::put`] for values already in memory).
    pub async fn put_bytes(
        &self,
        meta: impl Into<ObjectMeta>,
        data: impl Into<Bytes>,
    ) -> Result<ObjectInfo, Error> {
        let data: Bytes = data.into();
        self.put(meta, &data[..]).await
    }

    /// The object's content as an [`Object`] (a [`tokio::io::AsyncRead`]) streaming its
    /// chunks; its size and digest are checked at the end. A link is followed (to this or
    /// another bucket); a link to a bucket is an error. Fails with
    /// [`Error::is_object_not_found`] when the object does not exist or is deleted.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::object_store::ObjectStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut object = store.get("big.iso").await?;
    /// let mut file = tokio::fs::File::create("/tmp/big.iso").await?;
    /// tokio::io::copy(&mut object, &mut file).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, name: impl AsRef<str>) -> Result<Object, Error> {
        let name = name.as_ref();
        let info = self.info(name).await?;
        let Some(link) = info.link().cloned() else {
            return self.open(info).await;
        };
        let Some(target) = link.name.as_deref() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "object {name:?} of bucket {:?} is a link to bucket {:?}, not to an object",
                    self.inner.bucket, link.bucket
                ),
            ));
        };
        let store = if link.bucket == self.inner.bucket {
            self.clone()
        } else {
            self.inner.context.object_store(&link.bucket).await?
        };
        let info = store.info(target).await?;
        if info.is_link() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("object {name:?} links to {target:?}, itself a link"),
            ));
        }
        store.open(info).await
    }

    async fn open(&self, info: ObjectInfo) -> Result<Object, Error> {
        if info.size == 0 && info.chunks == 0 {
            return Ok(Object::new(info, None));
        }
        let config = OrderedConfig {
            filter_subjects: vec![self.chunk_subject(&info.nuid)],
            deliver_policy: DeliverPolicy::All,
            max_bytes_per_batch: GET_BATCH_BYTES,
            inactive_threshold: READ_INACTIVE,
            ..Default::default()
        };
        let ordered = self.inner.stream.ordered_messages(config).await?;
        // No chunks stored at all: the object is read as empty, and the check fails.
        let ordered = (ordered.initial_pending() > 0).then_some(ordered);
        Ok(Object::new(info, ordered))
    }

    /// The object's whole content, checked ([`ObjectStore::get`] for small objects).
    pub async fn get_bytes(&self, name: impl AsRef<str>) -> Result<Bytes, Error> {
        self.get(name).await?.read_all().await
    }

    /// Deletes the object: a meta marked deleted replaces its meta, then its chunks are
    /// purged (OS-11). Deleting a deleted object does nothing; a missing one is
    /// [`Error::is_object_not_found`].
    pub async fn delete(&self, name: impl AsRef<str>) -> Result<(), Error> {
        let name = name.as_ref();
        let Some(mut info) = self.info_any(name).await? else {
            return Err(self.not_found(name));
        };
        if info.deleted {
            return Ok(());
        }
        let nuid = info.nuid.clone();
        info.deleted = true;
        info.size = 0;
        info.chunks = 0;
        info.digest = None;
        self.publish_meta(&info).await?;
        if !nuid.is_empty() {
            self.inner
                .stream
                .purge()
                .filter(self.chunk_subject(&nuid))
                .await?;
        }
        Ok(())
    }

    /// Changes an object's name, description, headers and metadata (its content, links and
    /// options stay). A rename onto an existing object fails with
    /// [`Error::is_object_exists`]; the old name's meta is purged after the new one is
    /// stored (OS-10).
    pub async fn update_meta(
        &self,
        name: impl AsRef<str>,
        meta: impl Into<ObjectMeta>,
    ) -> Result<ObjectInfo, Error> {
        let name = name.as_ref();
        let meta = meta.into();
        let mut info = self.info(name).await?;
        let new_name = if meta.name.is_empty() {
            name.to_owned()
        } else {
            meta.name
        };
        if new_name != name {
            if let Some(existing) = self.info_any(&new_name).await? {
                if !existing.deleted {
                    return Err(os_error(
                        Reason::ObjectExists,
                        format!(
                            "cannot rename {name:?} to {new_name:?} in bucket {:?}: an object of that name exists",
                            self.inner.bucket
                        ),
                    ));
                }
            }
        }
        info.name = new_name;
        info.description = meta.description;
        info.headers = (!meta.headers.is_empty()).then_some(meta.headers);
        info.metadata = (!meta.metadata.is_empty()).then_some(meta.metadata);
        info.modified = OffsetDateTime::now_utc();
        self.publish_meta(&info).await?;
        if info.name != name {
            self.inner
                .stream
                .purge()
                .filter(self.meta_subject(name))
                .await?;
        }
        Ok(info)
    }

    async fn check_link_name(&self, name: &str) -> Result<(), Error> {
        Self::check_name(name)?;
        if let Some(existing) = self.info_any(name).await? {
            if !existing.deleted && !existing.is_link() {
                return Err(os_error(
                    Reason::ObjectExists,
                    format!(
                        "cannot link as {name:?} in bucket {:?}: an object of that name exists",
                        self.inner.bucket
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn put_link(&self, name: &str, link: ObjectLink) -> Result<ObjectInfo, Error> {
        let info = ObjectInfo {
            name: name.to_owned(),
            description: None,
            headers: None,
            metadata: None,
            options: Some(ObjectOptions {
                link: Some(link),
                max_chunk_size: None,
            }),
            bucket: self.inner.bucket.clone(),
            nuid: nuid::next().to_string(),
            size: 0,
            chunks: 0,
            digest: None,
            deleted: false,
            modified: OffsetDateTime::now_utc(),
        };
        self.publish_meta(&info).await?;
        Ok(info)
    }

    /// Stores `name` as a link to the object `target` (of this or another bucket). The
    /// target must not be deleted nor a link; `name` may replace a link or a deleted object,
    /// not an object ([`Error::is_object_exists`]) (OS-12).
    pub async fn add_link(
        &self,
        name: impl AsRef<str>,
        target: &ObjectInfo,
    ) -> Result<ObjectInfo, Error> {
        let name = name.as_ref();
        if target.deleted {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot link to {:?}: it is deleted", target.name),
            ));
        }
        if target.is_link() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot link to {:?}: it is a link", target.name),
            ));
        }
        Self::check_name(&target.name)?;
        self.check_link_name(name).await?;
        self.put_link(
            name,
            ObjectLink {
                bucket: target.bucket.clone(),
                name: Some(target.name.clone()),
            },
        )
        .await
    }

    /// Stores `name` as a link to the bucket `store` (OS-12).
    pub async fn add_bucket_link(
        &self,
        name: impl AsRef<str>,
        store: &ObjectStore,
    ) -> Result<ObjectInfo, Error> {
        let name = name.as_ref();
        self.check_link_name(name).await?;
        self.put_link(
            name,
            ObjectLink {
                bucket: store.inner.bucket.clone(),
                name: None,
            },
        )
        .await
    }

    /// Seals the bucket: from now on it refuses writes, deletes and purges (OS-13).
    pub async fn seal(&self) -> Result<Status, Error> {
        let mut info = self
            .inner
            .context
            .stream_info(self.inner.stream.name())
            .await
            .map_err(|e| bucket_not_found(&self.inner.bucket, e))?;
        info.config.sealed = true;
        let info = self.inner.context.update_stream(info.config).await?;
        Ok(Status { info })
    }

    /// The bucket's status (OS-16).
    pub async fn status(&self) -> Result<Status, Error> {
        let info = self
            .inner
            .context
            .stream_info(self.inner.stream.name())
            .await
            .map_err(|e| bucket_not_found(&self.inner.bucket, e))?;
        Ok(Status { info })
    }

    /// The infos of every object not deleted (OS-15).
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, Error> {
        self.list_with(false).await
    }

    /// The infos of every object, deleted ones too with `include_deleted`.
    pub async fn list_with(&self, include_deleted: bool) -> Result<Vec<ObjectInfo>, Error> {
        let mut events = self
            .watch_with(WatchOptions {
                ignore_deletes: !include_deleted,
                ..Default::default()
            })
            .await?;
        let mut out = Vec::new();
        let timeout = self.inner.context.timeout();
        loop {
            let next = tokio::time::timeout(timeout, events.next())
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "listing bucket {:?}: the objects did not arrive in time",
                            self.inner.bucket
                        ),
                    )
                })?;
            match next {
                Some(Ok(WatchEvent::Info(info))) => out.push(info),
                Some(Ok(WatchEvent::InitialDataDone)) | None => return Ok(out),
                Some(Err(e)) => return Err(e),
            }
        }
    }

    /// Watches the bucket's objects: each object's current info, then
    /// [`WatchEvent::InitialDataDone`], then every change.
    pub async fn watch(&self) -> Result<Watch, Error> {
        self.watch_with(WatchOptions::default()).await
    }

    /// [`ObjectStore::watch`] with options (OS-14).
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::object_store::ObjectStore) -> Result<(), rnats::Error> {
    /// use futures_util::StreamExt;
    /// use rnats::object_store::{WatchEvent, WatchOptions};
    /// let mut watch = store.watch_with(WatchOptions::new().updates_only(true)).await?;
    /// while let Some(event) = watch.next().await {
    ///     if let WatchEvent::Info(info) = event? {
    ///         println!("{} changed", info.name);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch_with(&self, options: WatchOptions) -> Result<Watch, Error> {
        let deliver_policy = if options.updates_only {
            DeliverPolicy::New
        } else if options.include_history {
            DeliverPolicy::All
        } else {
            DeliverPolicy::LastPerSubject
        };
        let config = OrderedConfig {
            filter_subjects: vec![format!("$O.{}.M.>", self.inner.bucket)],
            max_bytes_per_batch: WATCH_BATCH_BYTES,
            inactive_threshold: WATCH_INACTIVE,
            deliver_policy,
            ..Default::default()
        };
        let ordered = self
            .inner
            .stream
            .ordered_messages(config)
            .await
            .map_err(|e| bucket_not_found(&self.inner.bucket, e))?;
        let signal_due = options.updates_only || ordered.initial_pending() == 0;
        Ok(Watch {
            ordered,
            ignore_deletes: options.ignore_deletes,
            signal_due,
            signalled: false,
        })
    }
}

/// What [`ObjectStore::watch_with`] delivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Every stored version of every object's meta, not only the latest.
    pub include_history: bool,
    /// Skip deleted objects.
    pub ignore_deletes: bool,
    /// Only changes made after the watch started (the end-of-initial-data event comes
    /// first, at once).
    pub updates_only: bool,
}

impl WatchOptions {
    /// Every option off: the latest info of every object, deleted ones included.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`WatchOptions::include_history`].
    pub fn include_history(mut self, on: bool) -> Self {
        self.include_history = on;
        self
    }

    /// Sets [`WatchOptions::ignore_deletes`].
    pub fn ignore_deletes(mut self, on: bool) -> Self {
        self.ignore_deletes = on;
        self
    }

    /// Sets [`WatchOptions::updates_only`].
    pub fn updates_only(mut self, on: bool) -> Self {
        self.updates_only = on;
        self
    }
}

/// One event of a [`Watch`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // nearly every event is an info: boxing would only add an allocation
pub enum WatchEvent {
    /// An object's info (deleted objects have [`ObjectInfo::deleted`] set).
    Info(ObjectInfo),
    /// Every info that existed when the watch started has been delivered (sent once, also
    /// for an empty bucket and at once for `updates_only`).
    InitialDataDone,
}

/// A watcher of a bucket's objects, from [`ObjectStore::watch`]: an ordered consumer of the
/// meta subjects (it survives reconnects and leader changes).
pub struct Watch {
    ordered: Ordered,
    ignore_deletes: bool,
    signal_due: bool,
    signalled: bool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

impl FuturesStream for Watch {
    type Item = Result<WatchEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.signal_due {
                this.signal_due = false;
                this.signalled = true;
                return Poll::Ready(Some(Ok(WatchEvent::InitialDataDone)));
            }
            let msg = match this.ordered.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(msg))) => msg,
            };
            let Ok(meta) = msg.info() else {
                continue;
            };
            let (pending, published) = (meta.pending, meta.published);
            if !this.signalled && pending == 0 {
                this.signal_due = true;
            }
            let info = match ObjectInfo::from_payload(&msg.message.payload, published) {
                Ok(info) => info,
                Err(e) => return Poll::Ready(Some(Err(e))),
            };
            if this.ignore_deletes && info.deleted {
                continue;
            }
            return Poll::Ready(Some(Ok(WatchEvent::Info(info))));
        }
    }
}

/// Bucket management: create, bind, delete, list.
impl Context {
    /// Creates Object Store bucket `config.bucket` and returns a handle to it (OS-17).
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// let store = js.create_object_store(rnats::object_store::Config::new("files")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_object_store(&self, config: Config) -> Result<ObjectStore, Error> {
        let stream_config = config.to_stream_config()?;
        let stream = self.create_stream(stream_config).await?;
        Ok(ObjectStore::from_info(self.clone(), stream.cached_info()))
    }

    /// A handle to an existing bucket (fails with [`Error::is_object_bucket_not_found`]).
    pub async fn object_store(&self, bucket: impl AsRef<str>) -> Result<ObjectStore, Error> {
        let bucket = bucket.as_ref();
        check_bucket(bucket)?;
        let info = self
            .stream_info(stream_name(bucket))
            .await
            .map_err(|e| bucket_not_found(bucket, e))?;
        Ok(ObjectStore::from_info(self.clone(), &info))
    }

    /// Deletes a bucket and every object in it (fails with
    /// [`Error::is_object_bucket_not_found`]).
    pub async fn delete_object_store(&self, bucket: impl AsRef<str>) -> Result<(), Error> {
        let bucket = bucket.as_ref();
        check_bucket(bucket)?;
        self.delete_stream(stream_name(bucket))
            .await
            .map_err(|e| bucket_not_found(bucket, e))
    }

    /// The names of all Object Store buckets, fetched page by page.
    pub fn object_store_names(&self) -> BucketNames {
        BucketNames {
            inner: self.stream_names().with_subject("$O.*.C.>"),
        }
    }

    /// The status of every Object Store bucket, fetched page by page.
    pub fn object_stores(&self) -> BucketStatuses {
        BucketStatuses {
            inner: self.streams().with_subject("$O.*.C.>"),
        }
    }
}

/// Bucket names, from [`Context::object_store_names`].
pub struct BucketNames {
    inner: Names,
}

impl FuturesStream for BucketNames {
    type Item = Result<String, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(name))) => {
                    if let Some(bucket) = name.strip_prefix("OBJ_") {
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

/// Bucket statuses, from [`Context::object_stores`].
pub struct BucketStatuses {
    inner: Paged<stream::Info>,
}

impl FuturesStream for BucketStatuses {
    type Item = Result<Status, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(info))) => {
                    if info.config.name.starts_with("OBJ_") {
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
