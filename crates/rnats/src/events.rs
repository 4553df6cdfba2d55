//! Connection events: what happened to the connection, as a stream and/or a callback.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::addr::ServerAddr;
use crate::error::Error;

/// Something that happened to the connection. Read them from [`crate::Client::events`] or
/// have them passed to [`crate::ConnectOptions::event_callback`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The first connection was established.
    Connected {
        /// The server connected to.
        server: ServerAddr,
    },
    /// The connection was lost; the client is reconnecting.
    Disconnected {
        /// Why it was lost.
        reason: Arc<Error>,
    },
    /// A new connection replaced the lost one: subscriptions were replayed and buffered
    /// publishes sent.
    Reconnected {
        /// The server connected to.
        server: ServerAddr,
    },
    /// The client closed for good.
    Closed,
    /// The cluster told the client about servers it did not know.
    DiscoveredServers(Vec<ServerAddr>),
    /// The server is shutting down (lame duck mode); the client moves to another server.
    LameDuck {
        /// The server going away.
        server: ServerAddr,
    },
    /// A subscriber fell behind its pending limits and messages were dropped. Raised once
    /// per episode: again only after the subscriber caught up and fell behind anew.
    SlowConsumer {
        /// The subscription's subject.
        subject: String,
        /// Messages this subscriber has dropped in total.
        dropped: u64,
    },
    /// The server reported an error (`-ERR`), such as a permissions violation.
    ServerError(Arc<Error>),
    /// The client hit an error it could not return to a caller (for example a failed
    /// reconnect attempt).
    ClientError(Arc<Error>),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connected { server } => write!(f, "connected to {server}"),
            Event::Disconnected { reason } => write!(f, "disconnected: {reason}"),
            Event::Reconnected { server } => write!(f, "reconnected to {server}"),
            Event::Closed => f.write_str("closed"),
            Event::DiscoveredServers(s) => {
                write!(f, "discovered {} server(s)", s.len())
            }
            Event::LameDuck { server } => write!(f, "{server} entered lame duck mode"),
            Event::SlowConsumer { subject, dropped } => {
                write!(
                    f,
                    "slow consumer on {subject:?}: {dropped} message(s) dropped"
                )
            }
            Event::ServerError(e) => write!(f, "server error: {e}"),
            Event::ClientError(e) => write!(f, "client error: {e}"),
        }
    }
}

/// A user callback for events.
pub(crate) type Callback =
    Arc<dyn Fn(Event) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Fans events out to every [`EventStream`] and the callback.
#[derive(Default)]
pub(crate) struct EventHub {
    listeners: Mutex<Vec<mpsc::UnboundedSender<Event>>>,
    callback: Option<CallbackTx>,
}

/// Callbacks run one at a time, in order, on their own task.
struct CallbackTx(mpsc::UnboundedSender<Event>);

impl EventHub {
    pub(crate) fn new(callback: Option<Callback>) -> Self {
        let callback = callback.map(|cb| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    cb(event).await;
                }
            });
            CallbackTx(tx)
        });
        Self {
            listeners: Mutex::new(Vec::new()),
            callback,
        }
    }

    pub(crate) fn subscribe(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners.lock().push(tx);
        EventStream { rx }
    }

    /// Ends every [`EventStream`] (after the events already raised).
    pub(crate) fn close(&self) {
        self.listeners.lock().clear();
    }

    pub(crate) fn emit(&self, event: Event) {
        tracing::debug!(%event, "connection event");
        if let Some(cb) = &self.callback {
            let _ = cb.0.send(event.clone());
        }
        self.listeners
            .lock()
            .retain(|tx| tx.send(event.clone()).is_ok());
    }
}

/// The stream of [`Event`]s returned by [`crate::Client::events`]. It sees the events raised
/// after it was created, and ends when the client has closed.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}
