//! The client side of discovery: PING, INFO and STATS of all services, of one name, or of one
//! instance, collected over a time window.

use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::{Info, PingResponse, Stats, DEFAULT_API_PREFIX};
use crate::{Client, Error, ErrorKind};

/// Starts a discovery on `client`: by default of every service, collecting answers for one
/// second. Narrow it with [`Discover::name`] or [`Discover::instance`].
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// use std::time::Duration;
/// let everyone = rnats::service::discover(&client).ping().await?;
/// let calc = rnats::service::discover(&client)
///     .name("calc")
///     .window(Duration::from_millis(250))
///     .stats()
///     .await?;
/// for instance in &calc {
///     for endpoint in &instance.endpoints {
///         println!("{} {}: {} requests", instance.id, endpoint.name, endpoint.num_requests);
///     }
/// }
/// # Ok(()) }
/// ```
pub fn discover(client: &Client) -> Discover {
    Discover {
        client: client.clone(),
        api_prefix: DEFAULT_API_PREFIX.to_owned(),
        name: None,
        id: None,
        window: Duration::from_secs(1),
        max: None,
    }
}

/// A discovery query ([`discover`]): which services, how long to listen.
#[derive(Debug, Clone)]
#[must_use = "a discovery does nothing until ping, info or stats is awaited"]
pub struct Discover {
    client: Client,
    api_prefix: String,
    name: Option<String>,
    id: Option<String>,
    window: Duration,
    max: Option<usize>,
}

impl Discover {
    /// Only the services named `name` (all their instances).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self.id = None;
        self
    }

    /// Only the instance `id` of service `name`: the query ends at its first answer.
    pub fn instance(mut self, name: impl Into<String>, id: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self.id = Some(id.into());
        self
    }

    /// How long to collect answers (default 1 s). Services answer at once, but how many there
    /// are is unknown, so the query waits the whole window (unless [`Discover::max`] answers
    /// came, or one instance was asked for).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Ends the query as soon as `max` answers have come.
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max.max(1));
        self
    }

    /// The prefix of the discovery subjects, instead of `$SRV`.
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = prefix.into();
        self
    }

    /// The PING answers.
    pub async fn ping(&self) -> Result<Vec<PingResponse>, Error> {
        self.collect("PING").await
    }

    /// The INFO answers.
    pub async fn info(&self) -> Result<Vec<Info>, Error> {
        self.collect("INFO").await
    }

    /// The STATS answers.
    pub async fn stats(&self) -> Result<Vec<Stats>, Error> {
        self.collect("STATS").await
    }

    /// Sends `verb` to the subject of this query and collects the answers that parse as `T`
    /// until the window ends. Answers that do not parse (not a service, or a broken one) are
    /// skipped and logged, so one bad responder cannot hide the others.
    async fn collect<T: DeserializeOwned>(&self, verb: &str) -> Result<Vec<T>, Error> {
        let mut subject = format!("{}.{verb}", self.api_prefix);
        if let Some(name) = &self.name {
            subject.push('.');
            subject.push_str(name);
            if let Some(id) = &self.id {
                subject.push('.');
                subject.push_str(id);
            }
        }
        let max = if self.id.is_some() { Some(1) } else { self.max };
        let inbox = self.client.new_inbox();
        let mut sub = self.client.subscribe(&inbox).await?;
        self.client
            .publish_with_reply(&subject, &inbox, bytes::Bytes::new())
            .await?;
        let deadline = tokio::time::Instant::now() + self.window;
        let mut found = Vec::new();
        while max.is_none_or(|max| found.len() < max) {
            let msg = match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => {
                    return Err(Error::new(
                        ErrorKind::ConnectionClosed,
                        format!("service discovery on {subject}: the subscription ended"),
                    ))
                }
                Err(_) => break,
            };
            if msg.status.is_some() {
                continue;
            }
            match serde_json::from_slice::<T>(&msg.payload) {
                Ok(answer) => found.push(answer),
                Err(e) => tracing::debug!("service discovery on {subject}: answer skipped: {e}"),
            }
        }
        let _ = sub.unsubscribe().await;
        Ok(found)
    }
}
