//! The byte streams a connection runs over: TCP, TLS over TCP, WebSocket and WebSocket over
//! TLS. One enum, dispatched by `match`, so the driver's hot path has no virtual calls.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub(crate) mod batch;
pub(crate) mod tls;
pub(crate) mod websocket;

use websocket::WsStream;

/// An open connection to a server.
pub(crate) enum Stream {
    /// `nats://` without TLS. Shared: callers may write to an idle connection directly
    /// (`TcpStream` reads and writes through `&self`), see `Shared::write_through`.
    Tcp(Arc<TcpStream>),
    /// `tls://`, `nats://` upgraded after INFO, or TLS-first.
    Tls(Box<TlsStream<TcpStream>>),
    /// `ws://`.
    Ws(Box<WsStream<TcpStream>>),
    /// `wss://`.
    Wss(Box<WsStream<TlsStream<TcpStream>>>),
}

impl Stream {
    /// True when the bytes travel encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_) | Stream::Wss(_))
    }
}

/// Reads into `buf` through `&TcpStream`: wait for readiness, then a non-blocking read.
pub(crate) fn poll_read_tcp(
    tcp: &TcpStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    loop {
        ready!(tcp.poll_read_ready(cx))?;
        match tcp.try_read(buf.initialize_unfilled()) {
            Ok(n) => {
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            // Readiness was stale: polling it again registers for the next event.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Reads into `buf`'s spare capacity (no zeroing) through `&TcpStream`.
///
/// A read that did not fill the spare capacity drained the socket, so the readiness is
/// cleared at once (as tokio's own `poll_read` does) instead of by a failing read next time:
/// one syscall fewer per wake-up. The clearing uses the readiness seen before the read, so
/// data that arrived meanwhile is not forgotten.
pub(crate) fn poll_read_tcp_buf(
    tcp: &TcpStream,
    cx: &mut Context<'_>,
    buf: &mut bytes::BytesMut,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(tcp.poll_read_ready(cx))?;
        let spare = buf.capacity() - buf.len();
        let mut got = 0;
        let result = tcp.try_io(Interest::READABLE, || {
            got = tcp.try_read_buf(buf)?;
            if got > 0 && got < spare {
                // Drained: report WouldBlock so that try_io clears the readiness.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match result {
            Ok(()) => return Poll::Ready(Ok(got)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => {
                return Poll::Ready(Ok(got))
            }
            // Readiness was stale: polling it again registers for the next event.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Writes `buf` through `&TcpStream`: wait for writability, then a non-blocking write.
pub(crate) fn poll_write_tcp(
    tcp: &TcpStream,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    loop {
        ready!(tcp.poll_write_ready(cx))?;
        match tcp.try_write(buf) {
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Writes `bufs` in one `writev` through `&TcpStream`: wait for writability, then a
/// non-blocking vectored write.
pub(crate) fn poll_write_vectored_tcp(
    tcp: &TcpStream,
    cx: &mut Context<'_>,
    bufs: &[io::IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    loop {
        ready!(tcp.poll_write_ready(cx))?;
        match tcp.try_write_vectored(bufs) {
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $tcp:ident => $t:expr, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Tcp($tcp) => $t,
            Stream::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            Stream::Ws($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
            Stream::Wss($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        dispatch!(self, tcp => poll_read_tcp(tcp, cx, buf), s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        dispatch!(self, tcp => poll_write_tcp(tcp, cx, buf), s => s.poll_write(cx, buf))
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        dispatch!(
            self,
            tcp => poll_write_vectored_tcp(tcp, cx, bufs),
            s => s.poll_write_vectored(cx, bufs)
        )
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(_) => true,
            Stream::Tls(s) => s.is_write_vectored(),
            Stream::Ws(_) | Stream::Wss(_) => false,
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            // Nothing is buffered in a TCP stream: the common case costs one match.
            Stream::Tcp(_) => Poll::Ready(Ok(())),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            Stream::Ws(s) => Pin::new(&mut **s).poll_flush(cx),
            Stream::Wss(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A shared TcpStream cannot be shut down through `&`: the socket closes when the last
        // reference is dropped. Nothing is buffered in it, so nothing is lost.
        dispatch!(self, _tcp => Poll::Ready(Ok(())), s => s.poll_shutdown(cx))
    }
}
