//! Key-Value stores on JetStream (ADR-8): buckets of keys whose values keep a history, read
//! directly, changed with compare-and-set, and watched.
//!
//! A bucket `B` is the stream `KV_B` storing subjects `$KV.B.>`; a key is a subject token
//! sequence (`^[-/_=.a-zA-Z0-9]+$`). Everything here goes through the public JetStream API:
//! puts are JetStream publishes, gets are Direct Gets, watchers and key listings are ordered
//! consumers (they survive reconnects, restarts and leader changes).
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use rnats::{jetstream, kv};
//!
//! # async fn demo() -> Result<(), rnats::Error> {
//! let js = jetstream::new(rnats::connect("nats://127.0.0.1:4222").await?);
//! let mut config = kv::Config::new("profiles");
//! config.history = 5;
//! let store = js.create_key_value(config).await?;
//!
//! let revision = store.put("sue.color", "blue").await?;
//! assert_eq!(store.get("sue.color").await?, "blue");
//!
//! // Compare-and-set: only if nobody wrote since `revision`.
//! store.update("sue.color", "green", revision).await?;
//!
//! // Watch every key: current values first, then every change.
//! let mut watch = store.watch_all().await?;
//! while let Some(entry) = watch.next().await {
//!     let entry = entry?;
//!     println!("{} = {:?} ({:?}, revision {})", entry.key, entry.value, entry.operation, entry.revision);
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are the crate's one [`Error`]; the KV predicates are
//! [`Error::is_key_not_found`], [`Error::is_key_deleted`], [`Error::is_key_exists`] (a
//! create or update that lost a compare-and-set, the same as
//! [`Error::is_wrong_last_sequence`]), [`Error::is_bucket_not_found`],
//! [`Error::is_invalid_key`] and [`Error::is_invalid_bucket_name`] (the rule broken is in
//! [`Error::kv_name_error`]). Bad input is an error to the caller; the connection stays up.
//!
//! No read-after-write consistency is promised (ADR-8): a Direct Get may be answered by a
//! replica that has not seen the latest write yet.

mod config;
pub(crate) mod keys;
mod store;
mod watch;

pub use config::{Config, Status, MAX_HISTORY};
pub use keys::{NameError, NameKind, Rule};
pub use store::{BucketNames, BucketStatuses, Entry, Operation, Store};
pub use watch::{Keys, Watch, WatchEvent, WatchEvents, WatchOptions};

use crate::{Error, ErrorKind};

/// How old a delete or purge marker must be for [`Store::purge_deletes`] to remove it
/// entirely by default in nats.go (30 minutes); younger ones are kept, their older values
/// removed.
pub const DEFAULT_PURGE_DELETES_OLDER_THAN: std::time::Duration =
    std::time::Duration::from_secs(30 * 60);

/// Why a KV call failed, when it is not the server's error: the source of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// Nothing is stored under the key.
    KeyNotFound,
    /// The key's last value is a delete or a purge.
    KeyDeleted,
    /// The bucket does not exist.
    BucketNotFound,
}

#[derive(Debug)]
struct KvError(Reason);

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Reason::KeyNotFound => "key not found",
            Reason::KeyDeleted => "key deleted",
            Reason::BucketNotFound => "bucket not found",
        })
    }
}

impl std::error::Error for KvError {}

fn kv_error(reason: Reason, message: String) -> Error {
    Error::with_source(ErrorKind::JetStream, message, KvError(reason))
}

fn reason(e: &Error) -> Option<Reason> {
    std::error::Error::source(e)?
        .downcast_ref::<KvError>()
        .map(|k| k.0)
}

/// Key-Value predicates of the crate's one [`Error`] type.
impl Error {
    /// True when a key has no value: nothing was ever stored, or its last value is a delete
    /// or a purge (then [`Error::is_key_deleted`] is true too), or the revision asked for is
    /// not one of this key's.
    ///
    /// ```no_run
    /// # async fn demo(store: rnats::kv::Store) -> Result<(), rnats::Error> {
    /// match store.get("sue.color").await {
    ///     Ok(value) => println!("{value:?}"),
    ///     Err(e) if e.is_key_not_found() => println!("no color"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_key_not_found(&self) -> bool {
        matches!(reason(self), Some(Reason::KeyNotFound | Reason::KeyDeleted))
    }

    /// True when the key's last value is a delete or a purge marker.
    pub fn is_key_deleted(&self) -> bool {
        reason(self) == Some(Reason::KeyDeleted)
    }

    /// True when a [`Store::create`] found the key holding a value, or a [`Store::update`] /
    /// [`Store::delete_expect_revision`] found another last revision than the one given: the
    /// server's wrong-last-sequence error, err_code 10071 or 10164 (the same as
    /// [`Error::is_wrong_last_sequence`]).
    pub fn is_key_exists(&self) -> bool {
        self.is_wrong_last_sequence()
    }

    /// True when the bucket does not exist.
    pub fn is_bucket_not_found(&self) -> bool {
        reason(self) == Some(Reason::BucketNotFound)
    }

    /// The refused name and the rule it broke, when this error is an invalid key, filter or
    /// bucket name.
    pub fn kv_name_error(&self) -> Option<&NameError> {
        if self.kind() != ErrorKind::InvalidArgument {
            return None;
        }
        std::error::Error::source(self)?.downcast_ref::<NameError>()
    }

    /// True when a key or key filter breaks a rule (see [`Error::kv_name_error`]).
    pub fn is_invalid_key(&self) -> bool {
        self.kv_name_error()
            .is_some_and(|n| matches!(n.kind, NameKind::Key | NameKind::Filter))
    }

    /// True when a bucket name breaks the rule `^[a-zA-Z0-9_-]+$`.
    pub fn is_invalid_bucket_name(&self) -> bool {
        self.kv_name_error()
            .is_some_and(|n| n.kind == NameKind::Bucket)
    }
}

#[cfg(test)]
mod tests {
    use crate::jetstream::{ApiError, ErrorCode};
    use crate::Error;

    #[test]
    fn both_wrong_last_sequence_codes_mean_the_key_exists() {
        for code in [10071, 10164] {
            let e = Error::jetstream_api(
                "update",
                ApiError {
                    code: 400,
                    err_code: ErrorCode(code),
                    description: "wrong last sequence".into(),
                },
            );
            assert!(e.is_key_exists() && e.is_wrong_last_sequence(), "{code}");
            assert!(!e.is_key_not_found() && !e.is_bucket_not_found());
        }
        let other = Error::jetstream_api(
            "update",
            ApiError {
                code: 404,
                err_code: ErrorCode(10059),
                description: "stream not found".into(),
            },
        );
        assert!(!other.is_key_exists());
    }

    #[test]
    fn kv_reasons_are_told_apart() {
        let deleted = super::kv_error(super::Reason::KeyDeleted, "k".into());
        assert!(deleted.is_key_not_found() && deleted.is_key_deleted());
        assert_eq!(deleted.kind(), crate::ErrorKind::JetStream);
        assert!(deleted.jetstream_error().is_none());
        let missing = super::kv_error(super::Reason::KeyNotFound, "k".into());
        assert!(missing.is_key_not_found() && !missing.is_key_deleted());
        let bucket = super::kv_error(super::Reason::BucketNotFound, "b".into());
        assert!(bucket.is_bucket_not_found() && !bucket.is_key_not_found());
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<super::Store>();
        send_sync::<super::Entry>();
        send_sync::<super::Status>();
        send::<super::Watch>();
        send::<super::WatchEvents>();
        send::<super::Keys>();
        send::<super::BucketNames>();
    }
}
