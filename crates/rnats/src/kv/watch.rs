//! Watchers, key listings and history: ordered consumers on the bucket's stream (ADR-8
//! §Watchers), with the end-of-initial-data signal (KV-17).

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream as FuturesStream;

use super::store::{operation, Entry, Operation, Store};
use crate::jetstream::consumer::{DeliverPolicy, Ordered, OrderedConfig};
use crate::{Error, ErrorKind};

/// What a watcher delivers, for [`Store::watch_with`].
///
/// ```no_run
/// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
/// let mut options = rnats::kv::WatchOptions::keys(["sue.*"]);
/// options.include_history = true;
/// options.ignore_deletes = true;
/// let watch = store.watch_with(options).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Keys or key filters (`*`, `>` as whole tokens) to watch; none, or an empty one: every
    /// key.
    pub keys: Vec<String>,
    /// Every value kept, not just each key's latest.
    pub include_history: bool,
    /// Deletes and purges are not delivered.
    pub ignore_deletes: bool,
    /// Only the entries' metadata: values are not sent (empty).
    pub meta_only: bool,
    /// Only changes made from now on; the end of initial data comes at once.
    pub updates_only: bool,
    /// Every entry from this revision on (overrides `include_history` and `updates_only`).
    pub resume_from_revision: Option<u64>,
}

impl WatchOptions {
    /// Watches `keys` (keys or filters), each key's latest value first.
    pub fn keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            keys: keys.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

/// What a [`WatchEvents`] stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEvent {
    /// An entry.
    Entry(Entry),
    /// Every entry that existed when the watch started has been delivered (always sent
    /// once, also for an empty bucket and at once for `updates_only`); what follows are
    /// changes.
    InitialDataDone,
}

/// The ordered consumer behind a watcher, turning messages into entries and adding the
/// end-of-initial-data signal.
struct Core {
    store: Store,
    ordered: Ordered,
    ignore_deletes: bool,
    /// The signal is due before the next entry.
    signal_due: bool,
    /// The signal was sent.
    signalled: bool,
}

impl Core {
    async fn start(
        store: &Store,
        options: WatchOptions,
        inactive: Duration,
    ) -> Result<Core, Error> {
        let mut filters = Vec::with_capacity(options.keys.len().max(1));
        if options.keys.is_empty() {
            filters.push(format!("{}>", store.inner.read_prefix));
        }
        for key in &options.keys {
            // An empty key is the whole bucket (ADR-8).
            let key = if key.is_empty() { ">" } else { key.as_str() };
            store.check_filter(key)?;
            filters.push(format!("{}{key}", store.inner.read_prefix));
        }
        let mut config = OrderedConfig::default();
        config.filter_subjects = filters;
        config.headers_only = options.meta_only;
        config.inactive_threshold = inactive;
        // A watcher reads entries as fast as it can: pull up to a byte budget ahead rather
        // than the ordered consumer's default 500 messages, so the server rarely waits for
        // the next pull, and memory stays bounded whatever the value sizes.
        config.max_bytes_per_batch = WATCH_BATCH_BYTES;
        config.deliver_policy = if let Some(revision) = options.resume_from_revision {
            config.opt_start_seq = Some(revision.max(1));
            DeliverPolicy::ByStartSequence
        } else if options.updates_only {
            DeliverPolicy::New
        } else if options.include_history {
            DeliverPolicy::All
        } else {
            DeliverPolicy::LastPerSubject
        };
        let updates_only = options.updates_only && options.resume_from_revision.is_none();
        let ordered = store.inner.stream.ordered_messages(config).await?;
        let signal_due = updates_only || ordered.initial_pending() == 0;
        Ok(Core {
            store: store.clone(),
            ordered,
            ignore_deletes: options.ignore_deletes,
            signal_due,
            signalled: false,
        })
    }

    fn poll_event(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<WatchEvent, Error>>> {
        loop {
            if self.signal_due {
                self.signal_due = false;
                self.signalled = true;
                return Poll::Ready(Some(Ok(WatchEvent::InitialDataDone)));
            }
            let (msg, info) = match self.ordered.poll_next_delivered(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(next))) => next,
            };
            let (revision, delta, created) = (info.stream_sequence, info.pending, info.published);
            if !self.signalled && delta == 0 {
                self.signal_due = true;
            }
            let op = operation(msg.headers.as_ref());
            if self.ignore_deletes && op != Operation::Put {
                continue;
            }
            let inner = &self.store.inner;
            return Poll::Ready(Some(Ok(WatchEvent::Entry(Entry {
                bucket: inner.bucket.clone(),
                key: self.store.key_of(&msg.subject).to_owned(),
                value: msg.message.payload.clone(),
                revision,
                delta,
                created,
                operation: op,
            }))));
        }
    }
}

/// The entries of a watcher, from [`Store::watch`] and relatives: each watched key's current
/// entry (or every kept one), then every change, as long as it is read. It survives
/// reconnects, server restarts and stream leader changes (an ordered consumer recreated
/// after the last entry delivered). [`Watch::events`] also yields the end of initial data.
pub struct Watch {
    core: Core,
}

impl Watch {
    /// The same watcher yielding [`WatchEvent`]s: entries and the end-of-initial-data signal.
    pub fn events(self) -> WatchEvents {
        WatchEvents { core: self.core }
    }

    /// Whether every entry that existed at the start has been delivered.
    pub fn initial_data_done(&self) -> bool {
        self.core.signalled || self.core.signal_due
    }

    /// How many times the underlying consumer was recreated.
    pub fn resets(&self) -> u64 {
        self.core.ordered.resets()
    }
}

impl FuturesStream for Watch {
    type Item = Result<Entry, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match self.core.poll_event(cx) {
                Poll::Ready(Some(Ok(WatchEvent::InitialDataDone))) => continue,
                Poll::Ready(Some(Ok(WatchEvent::Entry(e)))) => Poll::Ready(Some(Ok(e))),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("bucket", &self.core.store.bucket())
            .finish_non_exhaustive()
    }
}

/// A watcher yielding [`WatchEvent`]s, from [`Watch::events`].
///
/// ```no_run
/// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
/// use futures_util::StreamExt;
/// use rnats::kv::WatchEvent;
/// let mut events = store.watch_all().await?.events();
/// while let Some(event) = events.next().await {
///     match event? {
///         WatchEvent::Entry(entry) => println!("{} changed", entry.key),
///         WatchEvent::InitialDataDone => println!("up to date"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub struct WatchEvents {
    core: Core,
}

impl WatchEvents {
    /// How many times the underlying consumer was recreated.
    pub fn resets(&self) -> u64 {
        self.core.ordered.resets()
    }
}

impl FuturesStream for WatchEvents {
    type Item = Result<WatchEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.core.poll_event(cx)
    }
}

impl std::fmt::Debug for WatchEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchEvents")
            .field("bucket", &self.core.store.bucket())
            .finish_non_exhaustive()
    }
}

/// The keys that hold a value, from [`Store::keys`] and [`Store::keys_with_filters`]: a
/// headers-only consumer delivering each key's last entry, filtered by the server; ends once
/// every key that existed at the start was seen.
pub struct Keys {
    core: Option<Core>,
}

impl FuturesStream for Keys {
    type Item = Result<String, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let Some(core) = &mut self.core else {
            return Poll::Ready(None);
        };
        let got = core.poll_event(cx);
        match got {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(WatchEvent::Entry(e)))) => Poll::Ready(Some(Ok(e.key))),
            Poll::Ready(Some(Err(e))) => {
                self.core = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(WatchEvent::InitialDataDone)) | None) => {
                self.core = None;
                Poll::Ready(None)
            }
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

/// Bytes a watcher's pulls ask for.
const WATCH_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// How long the server keeps the consumer of a finished listing or history.
const LISTING_INACTIVE: Duration = Duration::from_secs(30);
/// How long the server keeps the consumer of a watcher nobody reads.
const WATCH_INACTIVE: Duration = Duration::from_secs(300);

impl Store {
    /// Watches a key, or the keys matching a filter (`sue.*`, `sue.>`): its current entry,
    /// then every change.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
    /// use futures_util::StreamExt;
    /// let mut watch = store.watch("sue.*").await?;
    /// while let Some(entry) = watch.next().await {
    ///     let entry = entry?;
    ///     println!("{}: {:?}", entry.key, entry.operation);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn watch(&self, key: impl AsRef<str>) -> Result<Watch, Error> {
        self.watch_with(WatchOptions::keys([key.as_ref()])).await
    }

    /// Watches the keys matching any of `filters` (one consumer with several filter
    /// subjects).
    pub async fn watch_many<I, S>(&self, filters: I) -> Result<Watch, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let options = WatchOptions::keys(filters);
        if options.keys.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "watch_many needs at least one filter",
            ));
        }
        self.watch_with(options).await
    }

    /// Watches every key of the bucket.
    pub async fn watch_all(&self) -> Result<Watch, Error> {
        self.watch_with(WatchOptions::default()).await
    }

    /// Watches with [`WatchOptions`]: keys, history, deletes, metadata only, updates only,
    /// resume from a revision.
    pub async fn watch_with(&self, options: WatchOptions) -> Result<Watch, Error> {
        Ok(Watch {
            core: Core::start(self, options, WATCH_INACTIVE).await?,
        })
    }

    /// Every key holding a value (deleted and purged keys are left out), as a stream.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
    /// use futures_util::TryStreamExt;
    /// let keys: Vec<String> = store.keys().await?.try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub async fn keys(&self) -> Result<Keys, Error> {
        self.keys_with_filters(Vec::<String>::new()).await
    }

    /// The keys holding a value that match any of `filters`. The server applies the filters
    /// (the consumer's `filter_subjects`) and sends headers only: a listing of 10 keys out of
    /// 100,000 receives 10 entries, not 100,000.
    pub async fn keys_with_filters<I, S>(&self, filters: I) -> Result<Keys, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut options = WatchOptions::keys(filters);
        options.ignore_deletes = true;
        options.meta_only = true;
        Ok(Keys {
            core: Some(Core::start(self, options, LISTING_INACTIVE).await?),
        })
    }

    /// Every entry kept for `key`, oldest first, deletes and purges included. Fails with
    /// [`Error::is_key_not_found`] when there is none.
    pub async fn history(&self, key: impl AsRef<str>) -> Result<Vec<Entry>, Error> {
        let key = key.as_ref();
        self.check_key(key)?;
        let mut options = WatchOptions::keys([key]);
        options.include_history = true;
        let mut core = Core::start(self, options, LISTING_INACTIVE).await?;
        let mut out = Vec::new();
        let timeout = self.inner.context.timeout();
        loop {
            let next = futures_util::future::poll_fn(|cx| core.poll_event(cx));
            match tokio::time::timeout(timeout, next).await {
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "history of key {key:?} in bucket {:?}: the entries did not arrive \
                             within {timeout:?}",
                            self.inner.bucket
                        ),
                    ))
                }
                Ok(Some(Ok(WatchEvent::Entry(e)))) => out.push(e),
                Ok(Some(Ok(WatchEvent::InitialDataDone)) | None) => break,
                Ok(Some(Err(e))) => return Err(e),
            }
        }
        if out.is_empty() {
            return Err(super::kv_error(
                super::Reason::KeyNotFound,
                format!(
                    "key {key:?} not found in bucket {:?}: no history",
                    self.inner.bucket
                ),
            ));
        }
        Ok(out)
    }
}
