//! The batch of buffers the driver took from the connection and is writing: encoded bytes
//! and large payloads as their own buffers, written vectored (one `writev` for many).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use rnats_proto::Connection;
use tokio::io::AsyncWrite;

/// Buffers handed to one vectored write at most (Linux takes up to 1,024).
const MAX_SLICES: usize = 64;

/// Buffers in write order, and how far writing got.
#[derive(Default)]
pub(crate) struct WriteBatch {
    chunks: Vec<Bytes>,
    /// Bytes in `chunks`.
    len: usize,
    /// Bytes of `chunks` written.
    written: usize,
    /// The first chunk not completely written, and how much of it was.
    idx: usize,
    off: usize,
}

impl WriteBatch {
    /// Nothing taken, or everything taken was written.
    pub(crate) fn is_done(&self) -> bool {
        self.written == self.len
    }

    /// Nothing was taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the batch (written, or lost with its connection), releasing its buffers so
    /// the connection's write buffer can reuse its allocation.
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
        self.written = 0;
        self.idx = 0;
        self.off = 0;
    }

    /// Takes everything `conn` has to write. Call only when done.
    pub(crate) fn take_from(&mut self, conn: &mut Connection) {
        self.clear();
        conn.poll_transmit_chunks(&mut self.chunks);
        self.len = self.chunks.iter().map(Bytes::len).sum();
        // Point `idx` past empty buffers: a batch not done always has bytes at `idx`, so
        // `poll_write` always has something to write.
        self.advance(0);
    }

    /// The whole batch as one buffer and the bytes of it already written: what
    /// `Connection::handle_disconnect` needs to keep the publishes not completely written.
    pub(crate) fn unsent(&self) -> (BytesMut, usize) {
        let mut all = BytesMut::with_capacity(self.len);
        self.chunks.iter().for_each(|c| all.extend_from_slice(c));
        (all, self.written)
    }

    /// Writes what is left, as much as `stream` takes now. `Ready(Ok(n))` after a write of
    /// `n > 0` bytes (call again while not done); `Ready(Ok(0))` means the stream takes no
    /// more.
    pub(crate) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut count = 0;
        for (i, chunk) in self.chunks[self.idx..].iter().enumerate() {
            if count == MAX_SLICES {
                break;
            }
            let from = if i == 0 { self.off } else { 0 };
            if from < chunk.len() {
                slices[count] = IoSlice::new(&chunk[from..]);
                count += 1;
            }
        }
        let result = if count == 1 {
            Pin::new(&mut *stream).poll_write(cx, &slices[0])
        } else {
            Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count])
        };
        if let Poll::Ready(Ok(n)) = result {
            self.advance(n);
        }
        result
    }

    fn advance(&mut self, mut n: usize) {
        self.written += n;
        while n > 0 {
            let Some(chunk) = self.chunks.get(self.idx) else {
                break;
            };
            let left = chunk.len() - self.off;
            if n < left {
                self.off += n;
                return;
            }
            n -= left;
            self.idx += 1;
            self.off = 0;
        }
        // Skip empty buffers so `idx` points at bytes still to write.
        while self.chunks.get(self.idx).is_some_and(Bytes::is_empty) {
            self.idx += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes per call, vectored or not.
    struct Trickle {
        step: usize,
        got: Vec<u8>,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            let n = buf.len().min(self.step);
            self.got.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            let mut left = self.step;
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(left);
                self.got.extend_from_slice(&b[..take]);
                n += take;
                left -= take;
                if left == 0 {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn batch(chunks: &[&[u8]]) -> WriteBatch {
        let mut b = WriteBatch {
            chunks: chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect(),
            len: chunks.iter().map(|c| c.len()).sum(),
            ..WriteBatch::default()
        };
        b.advance(0);
        b
    }

    /// Writes the batch out through `w`, returning what `w` received.
    fn drain(b: &mut WriteBatch, w: &mut Trickle) -> Vec<u8> {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        while !b.is_done() {
            match b.poll_write(w, &mut cx) {
                Poll::Ready(Ok(n)) => assert!(n > 0, "no progress"),
                other => panic!("{other:?}"),
            }
        }
        std::mem::take(&mut w.got)
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let parts: [&[u8]; 5] = [
            b"PUB a 10\r\n",
            b"",
            b"0123456789",
            b"\r\nPUB b 1\r\nx\r\n",
            b"z",
        ];
        let want: Vec<u8> = parts.concat();
        for step in 1..=want.len() {
            let mut b = batch(&parts);
            let mut w = Trickle {
                step,
                got: Vec::new(),
                calls: 0,
            };
            assert_eq!(drain(&mut b, &mut w), want, "step {step}");
            assert_eq!(b.written, want.len());
        }
    }

    #[test]
    fn more_buffers_than_one_vectored_write_takes() {
        let chunks: Vec<Vec<u8>> = (0..(3 * MAX_SLICES + 5))
            .map(|i| vec![i as u8; i % 7 + 1])
            .collect();
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let want = chunks.concat();
        let mut b = batch(&refs);
        let mut w = Trickle {
            step: usize::MAX,
            got: Vec::new(),
            calls: 0,
        };
        assert_eq!(drain(&mut b, &mut w), want);
        assert_eq!(w.calls, 4, "64 buffers per write");
    }

    #[test]
    fn unsent_is_the_whole_batch_and_what_was_written() {
        let mut b = batch(&[b"abc", b"defg"]);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut w = Trickle {
            step: 5,
            got: Vec::new(),
            calls: 0,
        };
        assert!(matches!(b.poll_write(&mut w, &mut cx), Poll::Ready(Ok(5))));
        let (all, written) = b.unsent();
        assert_eq!((&all[..], written), (&b"abcdefg"[..], 5));
        b.clear();
        assert!(b.is_done() && b.is_empty());
    }
}
