//! NATS over WebSocket (nats-server's `websocket` listener): binary frames carry the same
//! byte stream as TCP, so the driver sees an ordinary `AsyncRead + AsyncWrite`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream as _;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_websockets::{ClientBuilder, Message, WebSocketStream};

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};

/// Largest frame written: big writes are split so no frame is huge.
const MAX_FRAME: usize = 64 * 1024;

/// A WebSocket connection seen as a byte stream.
pub(crate) struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// The rest of the last binary message received.
    pending: Bytes,
    closed: bool,
}

/// Runs the HTTP upgrade over `stream` (plain or TLS) to `addr`.
pub(crate) async fn connect<S>(addr: &ServerAddr, stream: S) -> Result<WsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let uri = addr.ws_uri();
    let builder = ClientBuilder::new().uri(&uri).map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!("invalid websocket address {addr}"),
            e,
        )
    })?;
    let (inner, _response) = builder.connect_on(stream).await.map_err(|e| {
        Error::with_source(
            ErrorKind::Io,
            format!("websocket upgrade with {addr} failed"),
            e,
        )
    })?;
    Ok(WsStream {
        inner,
        pending: Bytes::new(),
        closed: false,
    })
}

fn to_io(e: tokio_websockets::Error) -> io::Error {
    match e {
        tokio_websockets::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if self.closed {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                None => {
                    self.closed = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                Some(Ok(msg)) => {
                    if msg.is_close() {
                        self.closed = true;
                    } else if msg.is_binary() || msg.is_text() {
                        self.pending = Bytes::from(msg.into_payload());
                    }
                    // Pings are answered by tokio-websockets; pongs carry nothing for us.
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.inner).poll_ready(cx)).map_err(to_io)?;
        let n = buf.len().min(MAX_FRAME);
        Pin::new(&mut self.inner)
            .start_send(Message::binary(Bytes::copy_from_slice(&buf[..n])))
            .map_err(to_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx).map_err(to_io)
    }
}
