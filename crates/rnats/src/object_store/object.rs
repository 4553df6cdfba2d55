//! An object being read: chunks from an ordered consumer, hashed as they pass.

use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use super::{os_error, parse_digest, ObjectInfo, Reason};
use crate::jetstream::consumer::Ordered;
use crate::Error;

/// An object's content, from [`ObjectStore::get`](super::ObjectStore::get): a
/// [`tokio::io::AsyncRead`] streaming its chunks. At the end the size and the SHA-256 are
/// checked against the object's info; a mismatch ends the read with an `io::Error` of kind
/// `InvalidData` whose inner error is an [`Error`] with [`Error::is_digest_mismatch`].
pub struct Object {
    info: ObjectInfo,
    ordered: Option<Ordered>,
    chunk: Bytes,
    hasher: Sha256,
    read: u64,
    /// Set once the content was checked (or failed): nothing more to read.
    finished: bool,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("name", &self.info.name)
            .field("size", &self.info.size)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl Object {
    pub(crate) fn new(info: ObjectInfo, ordered: Option<Ordered>) -> Self {
        Object {
            info,
            ordered,
            chunk: Bytes::new(),
            hasher: Sha256::new(),
            read: 0,
            finished: false,
        }
    }

    /// The object's info (the target's, for a link).
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    fn mismatch(&self, what: String) -> Error {
        os_error(
            Reason::DigestMismatch,
            format!(
                "object {:?} of bucket {:?}: {what}",
                self.info.name, self.info.bucket
            ),
        )
    }

    /// Checks what was read against the info.
    fn check(&mut self) -> Result<(), Error> {
        self.finished = true;
        self.ordered = None;
        if self.read != self.info.size {
            return Err(self.mismatch(format!(
                "read {} bytes, the info says {}",
                self.read, self.info.size
            )));
        }
        let got = std::mem::take(&mut self.hasher).finalize();
        let expected = self.info.digest.as_deref().and_then(parse_digest);
        match expected {
            Some(d) if d[..] == got[..] => Ok(()),
            Some(_) => Err(self.mismatch(format!(
                "SHA-256 {} does not match the stored {}",
                super::digest_string(&got),
                self.info.digest.as_deref().unwrap_or_default()
            ))),
            None => Err(self.mismatch(format!(
                "the stored digest {:?} is not a SHA-256 digest",
                self.info.digest
            ))),
        }
    }

    /// The next chunk, `None` at the (checked) end.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<Option<Bytes>, Error>> {
        if self.finished {
            return Poll::Ready(Ok(None));
        }
        let Some(ordered) = &mut self.ordered else {
            return Poll::Ready(self.check().map(|()| None));
        };
        let msg = match ordered.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(self.check().map(|()| None)),
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                self.ordered = None;
                return Poll::Ready(Err(e));
            }
            Poll::Ready(Some(Ok(msg))) => msg,
        };
        let pending = msg.info().map(|i| i.pending).unwrap_or(0);
        let payload = msg.message.payload.clone();
        self.read += payload.len() as u64;
        self.hasher.update(&payload);
        if self.read > self.info.size {
            self.finished = true;
            self.ordered = None;
            return Poll::Ready(Err(self.mismatch(format!(
                "more than the {} bytes the info says",
                self.info.size
            ))));
        }
        if pending == 0 {
            // The last chunk: the consumer is dropped, the check comes on the next poll.
            self.ordered = None;
        }
        Poll::Ready(Ok(Some(payload)))
    }

    /// Reads the whole object into memory (checked).
    pub(crate) async fn read_all(mut self) -> Result<Bytes, Error> {
        let size = usize::try_from(self.info.size).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(size.min(64 * 1024 * 1024));
        while let Some(chunk) = std::future::poll_fn(|cx| self.poll_chunk(cx)).await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out.into())
    }
}

impl AsyncRead for Object {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.remaining());
                buf.put_slice(&this.chunk[..n]);
                this.chunk.advance(n);
                return Poll::Ready(Ok(()));
            }
            match this.poll_chunk(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Some(chunk))) => this.chunk = chunk,
                Poll::Ready(Ok(None)) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => {
                    let kind = if e.is_digest_mismatch() {
                        io::ErrorKind::InvalidData
                    } else {
                        io::ErrorKind::Other
                    };
                    return Poll::Ready(Err(io::Error::new(kind, e)));
                }
            }
        }
    }
}
