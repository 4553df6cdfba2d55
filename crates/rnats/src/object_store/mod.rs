//! Object Store on JetStream (ADR-20): buckets of objects of any size, stored as chunks and
//! read back as streams, with a SHA-256 digest checked on every read.
//!
//! A bucket `B` is the stream `OBJ_B` storing subjects `$O.B.C.>` (chunks, one subject per
//! stored version of an object, named by a NUID) and `$O.B.M.>` (one meta message per object,
//! its subject the object's name in base64 URL encoding with padding). Everything here goes
//! through the public JetStream API: chunks and metas are JetStream publishes, infos are
//! Direct Gets, reads, listings and watchers are ordered consumers.
//!
//! ```no_run
//! use rnats::{jetstream, object_store};
//! use tokio::io::AsyncReadExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let js = jetstream::new(rnats::connect("nats://127.0.0.1:4222").await?);
//! let store = js.create_object_store(object_store::Config::new("files")).await?;
//!
//! // Streamed in from any AsyncRead, in 128 KiB chunks.
//! let file = tokio::fs::File::open("/etc/hosts").await?;
//! let info = store.put("hosts", file).await?;
//! println!("{} bytes, {}", info.size, info.digest.as_deref().unwrap_or(""));
//!
//! // Streamed out; the digest is checked at the end.
//! let mut object = store.get("hosts").await?;
//! let mut text = String::new();
//! object.read_to_string(&mut text).await?;
//! # Ok(()) }
//! ```
//!
//! Errors are the crate's one [`Error`]; the Object Store predicates are
//! [`Error::is_object_not_found`], [`Error::is_object_bucket_not_found`],
//! [`Error::is_digest_mismatch`] (the content read is not what was stored: a size or digest
//! mismatch, never silent) and [`Error::is_object_exists`]. An [`Object`] read with
//! [`tokio::io::AsyncRead`] reports a mismatch as an `io::Error` of kind `InvalidData` whose
//! inner error is the [`Error`] ([`Error::from_io`] gets it back).

mod config;
mod info;
mod object;
mod store;

pub use config::{Config, Status};
pub use info::{ObjectInfo, ObjectLink, ObjectMeta, ObjectOptions};
pub use object::Object;
pub use store::{BucketNames, BucketStatuses, ObjectStore, Watch, WatchEvent, WatchOptions};

use crate::{Error, ErrorKind};

/// The default chunk size: 128 KiB (ADR-20).
pub const DEFAULT_CHUNK_SIZE: usize = 128 * 1024;

/// Why an Object Store call failed, when it is not the server's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    ObjectNotFound,
    BucketNotFound,
    DigestMismatch,
    ObjectExists,
}

#[derive(Debug)]
struct ObjectStoreError(Reason);

impl std::fmt::Display for ObjectStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Reason::ObjectNotFound => "object not found",
            Reason::BucketNotFound => "object store bucket not found",
            Reason::DigestMismatch => "object content does not match its size or digest",
            Reason::ObjectExists => "an object of that name exists",
        })
    }
}

impl std::error::Error for ObjectStoreError {}

fn os_error(reason: Reason, message: String) -> Error {
    let kind = match reason {
        Reason::DigestMismatch => ErrorKind::Protocol,
        _ => ErrorKind::JetStream,
    };
    Error::with_source(kind, message, ObjectStoreError(reason))
}

fn reason(e: &Error) -> Option<Reason> {
    std::error::Error::source(e)?
        .downcast_ref::<ObjectStoreError>()
        .map(|k| k.0)
}

/// Object Store predicates of the crate's one [`Error`] type.
impl Error {
    /// True when no object of that name exists, or it is deleted.
    pub fn is_object_not_found(&self) -> bool {
        reason(self) == Some(Reason::ObjectNotFound)
    }

    /// True when the Object Store bucket does not exist.
    pub fn is_object_bucket_not_found(&self) -> bool {
        reason(self) == Some(Reason::BucketNotFound)
    }

    /// True when an object read back is not what was stored: its size or its SHA-256
    /// digest differs from its info's.
    pub fn is_digest_mismatch(&self) -> bool {
        reason(self) == Some(Reason::DigestMismatch)
    }

    /// True when a rename or a link would replace an existing object.
    pub fn is_object_exists(&self) -> bool {
        reason(self) == Some(Reason::ObjectExists)
    }

    /// The crate's [`Error`] inside an `io::Error` that an [`Object`] read returned, if any.
    pub fn from_io(error: &std::io::Error) -> Option<&Error> {
        error.get_ref()?.downcast_ref::<Error>()
    }
}

/// `SHA-256=` and the base64 URL encoding (with padding) of a digest (ADR-20, OS-5).
pub(crate) fn digest_string(digest: &[u8]) -> String {
    use base64::Engine;
    format!(
        "SHA-256={}",
        base64::engine::general_purpose::URL_SAFE.encode(digest)
    )
}

/// The 32 bytes of a digest string, in the URL or the standard alphabet, padded or not.
pub(crate) fn parse_digest(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let (algo, value) = s.split_once('=')?;
    if !algo.eq_ignore_ascii_case("SHA-256") {
        return None;
    }
    [URL_SAFE, URL_SAFE_NO_PAD, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(value).ok())
        .filter(|d| d.len() == 32)
}

/// The meta subject token of an object name: base64 URL encoding with padding (OS-3).
pub(crate) fn encode_name(name: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.encode(name.as_bytes())
}

/// A bucket name is `^[a-zA-Z0-9_-]+$` (OS-1).
pub(crate) fn check_bucket(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("object store bucket name {name:?} must match ^[a-zA-Z0-9_-]+$"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_formatted_per_os5() {
        use sha2::Digest;
        let empty = sha2::Sha256::digest(b"");
        assert_eq!(
            digest_string(&empty),
            "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let hello = sha2::Sha256::digest(b"hello world");
        let s = digest_string(&hello);
        assert_eq!(s, "SHA-256=uU0nuZNNPgilLlLX2n2r-sSE7-N6U4DukIj3rOLvzek=");
        assert_eq!(parse_digest(&s).as_deref(), Some(&hello[..]));
        // Other clients' variants are read too.
        assert_eq!(
            parse_digest("sha-256=uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek").as_deref(),
            Some(&hello[..])
        );
        assert_eq!(parse_digest("MD5=abc"), None);
        assert_eq!(parse_digest("SHA-256=YQ=="), None);
        assert_eq!(parse_digest("nothing"), None);
    }

    #[test]
    fn names_are_encoded_per_os3() {
        assert_eq!(encode_name("hello"), "aGVsbG8=");
        assert_eq!(encode_name("a"), "YQ==");
        assert_eq!(encode_name("my/obj name.txt"), "bXkvb2JqIG5hbWUudHh0");
        assert!(!encode_name("ünïcødé ✓ with.dots and >*").contains(['.', '*', '>', ' ']));
    }

    #[test]
    fn bucket_names() {
        assert!(check_bucket("a-B_9").is_ok());
        for bad in ["", "a.b", "a b", "a*", "é"] {
            let e = check_bucket(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn reasons_are_told_apart() {
        let e = os_error(Reason::DigestMismatch, "x".into());
        assert!(e.is_digest_mismatch() && !e.is_object_not_found());
        let e = os_error(Reason::ObjectNotFound, "x".into());
        assert!(e.is_object_not_found() && !e.is_object_bucket_not_found());
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            os_error(Reason::DigestMismatch, "y".into()),
        );
        assert!(Error::from_io(&io).is_some_and(Error::is_digest_mismatch));
    }

    #[test]
    fn handles_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<ObjectStore>();
        send_sync::<ObjectInfo>();
        send_sync::<Status>();
        send::<Object>();
        send::<Watch>();
        send::<BucketNames>();
        send::<BucketStatuses>();
    }
}
