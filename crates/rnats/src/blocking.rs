//! A blocking client (feature `blocking`) for programs without an async runtime.
//!
//! It is the async [`crate::Client`] underneath: its IO task runs on a tokio runtime of
//! its own (one worker thread, named `rnats-blocking`, made at the first use and shared by
//! every blocking client of the process), and each call blocks the calling thread until the
//! async call completes. The program needs no tokio of its own.
//!
//! ```no_run
//! fn main() -> Result<(), rnats::Error> {
//!     let client = rnats::blocking::connect("nats://127.0.0.1:4222")?;
//!     let sub = client.subscribe("greet.*")?;
//!     client.publish("greet.joe", "hello")?;
//!     client.flush()?;
//!     for msg in sub.take(1) {
//!         println!("{}: {:?}", msg.subject, msg.payload);
//!     }
//!     let answer = client.request("time", "");
//!     println!("{answer:?}");
//!     client.drain()?;
//!     Ok(())
//! }
//! ```
//!
//! # Not from async code
//!
//! Every blocking call panics, with a message saying so, when made on a thread that is in a
//! tokio runtime's context (an async task, or `spawn_blocking`, or a thread inside
//! `Runtime::enter`): blocking there would stall the runtime's other tasks. Async code uses
//! the async client, which [`Client::async_client`] hands out.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Runtime;

use crate::error::{Error, ErrorKind};
use crate::message::Message;
use crate::{ConnectOptions, Publish, Request, ToServerAddrs};

/// The runtime every blocking client's IO runs on; `Err` when it could not be made.
static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime, Error> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("rnats-blocking")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot start the blocking client's runtime: {e}"),
            )
        })
}

#[track_caller]
fn check_not_async(call: &str) {
    if tokio::runtime::Handle::try_current().is_ok() {
        panic!(
            "rnats::blocking: `{call}` was called from inside a tokio runtime (an async task, \
             spawn_blocking or Runtime::enter); blocking there would stall the runtime. Use the \
             async rnats::Client there (blocking::Client::async_client gives it)"
        );
    }
}

/// Runs `future` to completion on the blocking client's runtime and returns its output: any
/// async rnats call (JetStream management, acks, Key-Value…) from blocking code.
///
/// # Panics
///
/// When called from inside a tokio runtime (see the [module docs](self)), or when the
/// runtime cannot be started (the OS refused a thread).
///
/// ```no_run
/// # fn demo(client: rnats::blocking::Client) -> Result<(), rnats::Error> {
/// let rtt = rnats::blocking::block_on(client.async_client().rtt())?;
/// # Ok(()) }
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    check_not_async("block_on");
    match runtime() {
        Ok(rt) => rt.block_on(future),
        Err(e) => panic!("rnats::blocking: {e}"),
    }
}

#[track_caller]
fn run<T>(call: &str, future: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    check_not_async(call);
    runtime()?.block_on(future)
}

/// Connects with default options. See [`crate::connect`].
///
/// # Panics
///
/// When called from inside a tokio runtime (see the [module docs](self)).
#[track_caller]
pub fn connect(addrs: impl ToServerAddrs) -> Result<Client, Error> {
    connect_with(ConnectOptions::new(), addrs)
}

/// Connects with `options`. See [`ConnectOptions::connect`].
///
/// # Panics
///
/// When called from inside a tokio runtime (see the [module docs](self)).
#[track_caller]
pub fn connect_with(options: ConnectOptions, addrs: impl ToServerAddrs) -> Result<Client, Error> {
    let client = run("connect", options.connect(addrs))?;
    Ok(Client { inner: client })
}

/// A blocking NATS client: [`crate::Client`] with every call waited for. A cheap clone;
/// the connection closes when the last clone (and every async client taken from it) is
/// dropped.
///
/// Every method panics when called from inside a tokio runtime (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct Client {
    inner: crate::Client,
}

impl Client {
    /// The async client underneath, for async code or for calls this type does not wrap
    /// (run them with [`block_on`]).
    pub fn async_client(&self) -> &crate::Client {
        &self.inner
    }

    /// Publishes `payload` to `subject`. See [`crate::Client::publish`].
    #[track_caller]
    pub fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        run("publish", self.inner.publish(subject, payload))
    }

    /// Publishes with a reply subject and/or headers. See [`crate::Client::publish_with`].
    #[track_caller]
    pub fn publish_with(&self, subject: impl AsRef<str>, publish: Publish) -> Result<(), Error> {
        run("publish_with", self.inner.publish_with(subject, publish))
    }

    /// Subscribes to `subject`; the [`Subscription`] is an iterator of its messages.
    #[track_caller]
    pub fn subscribe(&self, subject: impl AsRef<str>) -> Result<Subscription, Error> {
        let inner = run("subscribe", self.inner.subscribe(subject))?;
        Ok(Subscription { inner })
    }

    /// Subscribes to `subject` in queue group `queue`.
    #[track_caller]
    pub fn queue_subscribe(
        &self,
        subject: impl AsRef<str>,
        queue: impl AsRef<str>,
    ) -> Result<Subscription, Error> {
        let inner = run(
            "queue_subscribe",
            self.inner.queue_subscribe(subject, queue),
        )?;
        Ok(Subscription { inner })
    }

    /// Sends a request and waits for the first answer. See [`crate::Client::request`].
    #[track_caller]
    pub fn request(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<Message, Error> {
        run("request", self.inner.request(subject, payload))
    }

    /// Sends a request with headers and/or its own timeout. See
    /// [`crate::Client::request_with`].
    #[track_caller]
    pub fn request_with(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Message, Error> {
        run("request_with", self.inner.request_with(subject, request))
    }

    /// Sends a request that may have many replies (ADR-47) and returns them as an iterator;
    /// `configure` sets the stop conditions on the [`crate::RequestMany`] (total timeout,
    /// stall, max messages, sentinel). See [`crate::Client::request_many`].
    ///
    /// ```no_run
    /// # fn demo(client: rnats::blocking::Client) -> Result<(), rnats::Error> {
    /// use std::time::Duration;
    /// let replies = client.request_many("svc.status", "", |r| {
    ///     r.timeout(Duration::from_secs(1)).stall(Duration::from_millis(100))
    /// })?;
    /// for reply in replies {
    ///     println!("{:?}", reply.payload);
    /// }
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn request_many(
        &self,
        subject: impl Into<String>,
        payload: impl Into<Bytes>,
        configure: impl FnOnce(crate::RequestMany) -> crate::RequestMany,
    ) -> Result<Replies, Error> {
        let request = configure(self.inner.request_many(subject, payload));
        let inner = run("request_many", request.send())?;
        Ok(Replies { inner })
    }

    /// Waits until the server has everything published so far. See [`crate::Client::flush`].
    #[track_caller]
    pub fn flush(&self) -> Result<(), Error> {
        run("flush", self.inner.flush())
    }

    /// Drains every subscription, flushes and closes. See [`crate::Client::drain`].
    #[track_caller]
    pub fn drain(&self) -> Result<(), Error> {
        run("drain", self.inner.drain())
    }

    /// Closes the connection. See [`crate::Client::close`].
    #[track_caller]
    pub fn close(&self) -> Result<(), Error> {
        run("close", self.inner.close())
    }

    /// A new unique inbox subject.
    pub fn new_inbox(&self) -> String {
        self.inner.new_inbox()
    }

    /// A blocking JetStream context on this client (default API prefix).
    #[cfg(feature = "jetstream")]
    pub fn jetstream(&self) -> JetStream {
        JetStream {
            context: crate::jetstream::new(self.inner.clone()),
        }
    }
}

/// A subscription of a blocking [`Client`]: an [`Iterator`] whose `next` blocks until a
/// message arrives and returns `None` once the subscription ended (unsubscribed, drained,
/// or the client closed). Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    inner: crate::Subscriber,
}

impl Subscription {
    /// The next message, waiting at most `timeout`: `Ok(None)` when the subscription ended,
    /// a timeout error when nothing arrived in time.
    #[track_caller]
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Message>, Error> {
        use futures_util::StreamExt;
        let next = self.inner.next();
        run("Subscription::next_timeout", async move {
            tokio::time::timeout(timeout, next).await.map_err(|_| {
                Error::new(ErrorKind::Timeout, format!("no message within {timeout:?}"))
            })
        })
    }

    /// Unsubscribes now: messages already received are still yielded, then the iterator ends.
    #[track_caller]
    pub fn unsubscribe(&self) -> Result<(), Error> {
        run("Subscription::unsubscribe", self.inner.unsubscribe())
    }

    /// Stops the subscription without losing messages already sent by the server. See
    /// [`crate::Subscriber::drain`].
    #[track_caller]
    pub fn drain(&self) -> Result<(), Error> {
        run("Subscription::drain", self.inner.drain())
    }

    /// Messages received but not yet taken.
    pub fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// The async subscriber underneath.
    pub fn into_async(self) -> crate::Subscriber {
        self.inner
    }
}

impl Iterator for Subscription {
    type Item = Message;

    #[track_caller]
    fn next(&mut self) -> Option<Message> {
        use futures_util::StreamExt;
        check_not_async("Subscription::next");
        match runtime() {
            Ok(rt) => rt.block_on(self.inner.next()),
            Err(_) => None,
        }
    }
}

/// The replies of a blocking [`Client::request_many`]: an [`Iterator`] that blocks for each
/// reply and ends at the first stop condition ([`Replies::end`] says which). Dropping it
/// removes the subscription.
#[derive(Debug)]
pub struct Replies {
    inner: crate::Responses,
}

impl Replies {
    /// Why the replies ended; `None` while they have not.
    pub fn end(&self) -> Option<&crate::RequestManyEnd> {
        self.inner.end()
    }
}

impl Iterator for Replies {
    type Item = Message;

    #[track_caller]
    fn next(&mut self) -> Option<Message> {
        use futures_util::StreamExt;
        check_not_async("Replies::next");
        match runtime() {
            Ok(rt) => rt.block_on(self.inner.next()),
            Err(_) => None,
        }
    }
}

/// A blocking JetStream context, from [`Client::jetstream`]: publish with acknowledgement,
/// fetch from a pull consumer, ack. For the rest of the JetStream API, run the async
/// [`crate::jetstream::Context`] ([`JetStream::context`]) with [`block_on`].
#[cfg(feature = "jetstream")]
#[derive(Debug, Clone)]
pub struct JetStream {
    context: crate::jetstream::Context,
}

#[cfg(feature = "jetstream")]
impl JetStream {
    /// The async context underneath.
    pub fn context(&self) -> &crate::jetstream::Context {
        &self.context
    }

    /// Creates a stream (or finds the same one). See
    /// [`crate::jetstream::Context::get_or_create_stream`].
    #[track_caller]
    pub fn get_or_create_stream(
        &self,
        config: impl Into<crate::jetstream::stream::Config>,
    ) -> Result<crate::jetstream::stream::Info, Error> {
        let config = config.into();
        run("JetStream::get_or_create_stream", async {
            let mut stream = self.context.get_or_create_stream(config).await?;
            Ok(stream.info().await?.clone())
        })
    }

    /// Publishes and waits for the stream's acknowledgement.
    #[track_caller]
    pub fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<crate::jetstream::PubAck, Error> {
        run("JetStream::publish", async {
            self.context.publish(subject, payload).await?.await
        })
    }

    /// Publishes with headers, expectations or a message id, and waits for the
    /// acknowledgement.
    #[track_caller]
    pub fn publish_with(
        &self,
        subject: impl AsRef<str>,
        publish: crate::jetstream::Publish,
    ) -> Result<crate::jetstream::PubAck, Error> {
        run("JetStream::publish_with", async {
            self.context.publish_with(subject, publish).await?.await
        })
    }

    /// Fetches up to `max_messages` from pull consumer `consumer` of stream `stream`,
    /// waiting at most `expires` for them: what arrived by then (possibly nothing).
    #[track_caller]
    pub fn fetch(
        &self,
        stream: &str,
        consumer: &str,
        max_messages: usize,
        expires: Duration,
    ) -> Result<Vec<crate::jetstream::Message>, Error> {
        use crate::jetstream::consumer::pull;
        use futures_util::StreamExt;
        run("JetStream::fetch", async {
            let consumer = self
                .context
                .get_consumer_from_stream::<pull::Config>(consumer, stream)
                .await?;
            let mut batch = consumer
                .fetch()
                .max_messages(max_messages)
                .expires(expires)
                .messages()
                .await?;
            let mut out = Vec::new();
            while let Some(msg) = batch.next().await {
                out.push(msg?);
            }
            Ok(out)
        })
    }

    /// Acknowledges a message (and does not wait for the server: see
    /// [`crate::jetstream::Message::double_ack`] through [`block_on`] for that).
    #[track_caller]
    pub fn ack(&self, message: &crate::jetstream::Message) -> Result<(), Error> {
        run("JetStream::ack", message.ack())
    }
}
