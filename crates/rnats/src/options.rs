//! Connection options.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use rnats_proto::Backoff;

use crate::addr::ToServerAddrs;
use crate::auth::{
    BoxError, CredsSource, JwtSource, KeyAuth, Secret, SeedSource, SignCallback, TokenSource,
    UserPasswordCallback,
};
use crate::error::Error;
use crate::events::{Callback, Event};
use crate::transport::tls::TlsOptions;
use crate::Client;

/// The reconnect wait policy.
#[derive(Clone)]
pub(crate) enum ReconnectDelay {
    Backoff(Backoff),
    Callback(Arc<dyn Fn(usize) -> Duration + Send + Sync>),
}

impl ReconnectDelay {
    /// The wait before round `round + 1`, jitter drawn from `random`.
    pub(crate) fn delay(&self, round: u32, random: u64) -> Duration {
        match self {
            ReconnectDelay::Backoff(b) => b.delay_with_jitter(round, random),
            ReconnectDelay::Callback(f) => f(round as usize),
        }
    }
}

impl fmt::Debug for ReconnectDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconnectDelay::Backoff(b) => fmt::Debug::fmt(b, f),
            ReconnectDelay::Callback(_) => f.write_str("<fn>"),
        }
    }
}

/// Options for a connection, set with by-value builder calls, then
/// [`ConnectOptions::connect`].
///
/// ```no_run
/// # async fn demo() -> Result<(), rnats::Error> {
/// use std::time::Duration;
/// let client = rnats::ConnectOptions::new()
///     .name("billing-worker")
///     .request_timeout(Duration::from_secs(2))
///     .connect("nats://127.0.0.1:4222")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConnectOptions {
    pub(crate) name: Option<String>,
    pub(crate) no_echo: bool,
    pub(crate) inbox_prefix: String,
    pub(crate) connection_timeout: Duration,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) ping_interval: Duration,
    pub(crate) max_pings_out: usize,
    pub(crate) reconnect_buffer_size: usize,
    pub(crate) pending_msgs_limit: usize,
    pub(crate) pending_bytes_limit: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) retain_servers_order: bool,
    pub(crate) ignore_discovered_servers: bool,
    pub(crate) retry_on_initial_connect: bool,
    pub(crate) max_reconnects: Option<usize>,
    pub(crate) max_reconnects_per_server: Option<usize>,
    pub(crate) reconnect_delay: ReconnectDelay,
    pub(crate) event_callback: Option<Callback>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) user_password_callback: Option<UserPasswordCallback>,
    pub(crate) token: Option<TokenSource>,
    pub(crate) auth: Option<KeyAuth>,
    pub(crate) tls: TlsOptions,
    #[cfg(feature = "metrics")]
    pub(crate) metrics_interval: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            name: None,
            no_echo: false,
            inbox_prefix: "_INBOX".to_owned(),
            connection_timeout: Duration::from_secs(5),
            request_timeout: Some(Duration::from_secs(10)),
            ping_interval: Duration::from_secs(60),
            max_pings_out: 2,
            reconnect_buffer_size: 8 * 1024 * 1024,
            pending_msgs_limit: 512 * 1024,
            pending_bytes_limit: 64 * 1024 * 1024,
            write_buffer_size: 256 * 1024,
            retain_servers_order: false,
            ignore_discovered_servers: false,
            retry_on_initial_connect: false,
            max_reconnects: None,
            max_reconnects_per_server: None,
            reconnect_delay: ReconnectDelay::Backoff(Backoff::default()),
            event_callback: None,
            user: None,
            password: None,
            user_password_callback: None,
            token: None,
            auth: None,
            tls: TlsOptions::default(),
            #[cfg(feature = "metrics")]
            metrics_interval: Duration::from_secs(1),
        }
    }
}

impl ConnectOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often the client's traffic counters are exported to the `metrics` recorder
    /// (feature `metrics`; see [`crate::metrics`]). Default 1 s.
    #[cfg(feature = "metrics")]
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The connection name, shown in the server's monitoring.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// When true, the server does not send this connection the messages it publishes itself.
    pub fn no_echo(mut self, no_echo: bool) -> Self {
        self.no_echo = no_echo;
        self
    }

    /// The prefix of reply subjects made by [`Client::new_inbox`] and requests (default
    /// `_INBOX`). Checked when connecting: it must be a valid subject without wildcards.
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = prefix.into();
        self
    }

    /// How long opening a connection and its handshake may take (default 5 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// Default timeout of [`Client::request`] (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// How often the client PINGs the server to detect a dead connection (default 60 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How many PINGs may go unanswered before the connection is considered dead (default 2).
    pub fn max_pings_out(mut self, max: usize) -> Self {
        self.max_pings_out = max;
        self
    }

    /// Bytes of publishes kept while disconnected, sent after reconnecting (default 8 MiB;
    /// 0 makes publishing while disconnected an error).
    pub fn reconnect_buffer_size(mut self, bytes: usize) -> Self {
        self.reconnect_buffer_size = bytes;
        self
    }

    /// Default pending limits of every subscription: messages received but not yet consumed
    /// (defaults 524,288 messages and 64 MiB). Past either, messages are dropped and counted.
    pub fn subscription_capacity(mut self, messages: usize, bytes: usize) -> Self {
        self.pending_msgs_limit = messages.max(1);
        self.pending_bytes_limit = bytes.max(1);
        self
    }

    /// Size of the write buffer past which publishers wait for the connection to catch up
    /// (default 256 KiB).
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes.max(1024);
        self
    }

    /// Try servers in the order given instead of shuffling them (default false).
    pub fn retain_servers_order(mut self, retain: bool) -> Self {
        self.retain_servers_order = retain;
        self
    }

    /// Do not add the servers the cluster advertises (INFO `connect_urls`) to the pool
    /// (default false: they are added, and a [`crate::Event::DiscoveredServers`] is raised).
    pub fn ignore_discovered_servers(mut self, ignore: bool) -> Self {
        self.ignore_discovered_servers = ignore;
        self
    }

    /// When true, [`ConnectOptions::connect`] returns at once and the client keeps trying to
    /// connect in the background, under the reconnect policy; publishes are buffered
    /// meanwhile. When false (the default) the first connect fails fast with an error listing
    /// every server tried and why.
    pub fn retry_on_initial_connect(mut self, retry: bool) -> Self {
        self.retry_on_initial_connect = retry;
        self
    }

    /// Most failed reconnect attempts in a row, over all servers, before the client gives up
    /// and closes (`None`, the default: never give up).
    pub fn max_reconnects(mut self, max: Option<usize>) -> Self {
        self.max_reconnects = max;
        self
    }

    /// Most failed attempts in a row to one server before it leaves the pool (`None`, the
    /// default: no limit).
    pub fn max_reconnects_per_server(mut self, max: Option<usize>) -> Self {
        self.max_reconnects_per_server = max;
        self
    }

    /// The wait between rounds of reconnect attempts (a round tries every server once):
    /// exponential backoff with jitter (default: 10 ms doubling up to 4 s, plus up to
    /// 10 ms of jitter).
    ///
    /// ```
    /// use std::time::Duration;
    /// let opts = rnats::ConnectOptions::new().reconnect_delay(rnats::Backoff::new(
    ///     Duration::from_millis(50),
    ///     Duration::from_secs(2),
    ///     Duration::from_millis(250),
    /// ));
    /// ```
    pub fn reconnect_delay(mut self, backoff: Backoff) -> Self {
        self.reconnect_delay = ReconnectDelay::Backoff(backoff);
        self
    }

    /// A custom wait between rounds of reconnect attempts: `delay(round)` for round 0, 1, …
    pub fn reconnect_delay_callback(
        mut self,
        delay: impl Fn(usize) -> Duration + Send + Sync + 'static,
    ) -> Self {
        self.reconnect_delay = ReconnectDelay::Callback(Arc::new(delay));
        self
    }

    /// Calls `callback` with every connection [`crate::Event`], one at a time, in order, on a
    /// task of its own.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .event_callback(|event| async move { eprintln!("nats: {event}") })
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn event_callback<F, Fut>(mut self, callback: F) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.event_callback = Some(Arc::new(move |event| Box::pin(callback(event))));
        self
    }

    /// Authenticate with a user name and password (overrides credentials in URLs).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .user_and_password("alice", "s3cret")
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.user = Some(user.into());
        self.password = Some(Secret::new(password));
        self
    }

    /// Authenticate with a user name and password asked for anew before every connect and
    /// reconnect (rotated passwords). Wins over [`ConnectOptions::user_and_password`] and
    /// credentials in URLs. A callback error fails that attempt as an auth error.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .user_and_password_callback(|| async {
    ///         Ok::<_, std::io::Error>(("alice".to_string(), "fresh-password".to_string()))
    ///     })
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn user_and_password_callback<F, Fut, E>(mut self, callback: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(String, String), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let callback = Arc::new(callback);
        self.user_password_callback = Some(Arc::new(move || {
            let fut = callback();
            Box::pin(async move { fut.await.map_err(Into::into) })
        }));
        self
    }

    /// Authenticate with a token (overrides a token in URLs, and replaces a
    /// [`ConnectOptions::token_callback`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .token("s3cret-token")
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(TokenSource::Static(Secret::new(token)));
        self
    }

    /// Authenticate with a token asked for anew before every connect and reconnect, for
    /// short-lived tokens. A callback error fails that attempt (an auth error, reported as an
    /// event on reconnect); the reconnect policy then applies.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .token_callback(|| async {
    ///         // Fetch a fresh token from a vault, a file, an API...
    ///         Ok::<_, std::io::Error>("fresh-token".to_string())
    ///     })
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn token_callback<F, Fut, E>(mut self, callback: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let callback = Arc::new(callback);
        self.token = Some(TokenSource::Callback(Arc::new(move || {
            let fut = callback();
            Box::pin(async move { fut.await.map_err(Into::into) })
        })));
        self
    }

    /// Authenticate with an NKey: `seed` is the `SU…` seed string; the client sends its
    /// public key and signs the server's nonce. Replaces any JWT or credentials set before
    /// (only one of `nkey` and `jwt` is ever sent). The seed is checked when connecting
    /// (an [`Error::is_invalid_argument`] error), never printed, and wiped when dropped.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let seed = std::env::var("NKEY_SEED").unwrap_or_default();
    /// let client = rnats::ConnectOptions::new()
    ///     .nkey(seed)
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [`Error::is_invalid_argument`]: crate::Error::is_invalid_argument
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.auth = Some(KeyAuth::Nkey(SeedSource::Seed(Secret::new(seed))));
        self
    }

    /// Like [`ConnectOptions::nkey`], with the seed read from a file at every connect.
    pub fn nkey_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Some(KeyAuth::Nkey(SeedSource::File(path.into())));
        self
    }

    /// Authenticate with a `.creds` file (user JWT and seed, as `nsc` writes them). The
    /// file is read at every connect, so a rotated file is picked up on reconnect.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .credentials_file("/etc/nats/app.creds")
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Some(KeyAuth::Creds(CredsSource::File(path.into())));
        self
    }

    /// Authenticate with the text of a `.creds` file (user JWT and seed).
    pub fn credentials(mut self, creds: impl Into<String>) -> Self {
        self.auth = Some(KeyAuth::Creds(CredsSource::Text(Secret::new(creds))));
        self
    }

    /// Authenticate with a user JWT, the server's nonce being signed by `signer`, which gets
    /// the nonce bytes and returns the raw Ed25519 signature: the seed can stay in an HSM or
    /// another process.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let jwt = std::env::var("USER_JWT").unwrap_or_default();
    /// let seed = std::env::var("USER_SEED").unwrap_or_default();
    /// let client = rnats::ConnectOptions::new()
    ///     .jwt(jwt, move |nonce: Vec<u8>| {
    ///         let seed = seed.clone();
    ///         async move { nkeys::KeyPair::from_seed(&seed)?.sign(&nonce) }
    ///     })
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn jwt<F, Fut, E>(mut self, jwt: impl Into<String>, signer: F) -> Self
    where
        F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<u8>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.auth = Some(KeyAuth::Jwt {
            jwt: JwtSource::Static(Secret::new(jwt)),
            signer: signer_callback(signer),
        });
        self
    }

    /// Like [`ConnectOptions::jwt`], with the JWT itself asked for at every connect.
    pub fn jwt_callback<J, JFut, F, Fut, E1, E2>(mut self, jwt: J, signer: F) -> Self
    where
        J: Fn() -> JFut + Send + Sync + 'static,
        JFut: Future<Output = Result<String, E1>> + Send + 'static,
        E1: Into<BoxError>,
        F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<u8>, E2>> + Send + 'static,
        E2: Into<BoxError>,
    {
        let jwt = Arc::new(jwt);
        self.auth = Some(KeyAuth::Jwt {
            jwt: JwtSource::Callback(Arc::new(move || {
                let fut = jwt();
                Box::pin(async move { fut.await.map_err(Into::into) })
            })),
            signer: signer_callback(signer),
        });
        self
    }

    /// Require TLS even for `nats://` URLs of servers that do not require it (default
    /// false). A server that does not offer TLS is then refused: there is never a fallback
    /// to plain text.
    ///
    /// TLS is also required on every server, whatever this option says, once the client
    /// was given any `tls://` or `wss://` address, and once any of its connections used TLS
    /// (for example a `nats://` URL upgraded because the server said `tls_required`): TLS
    /// never downgrades. A server of the pool (discovered ones included) that does not
    /// offer TLS is then skipped before CONNECT, so no credentials reach it, and each
    /// refusal is reported as an [`crate::Event::ClientError`] that says why.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .require_tls(true)
    ///     .add_root_certificates("/etc/nats/ca.pem")
    ///     .connect("nats://nats.example.com:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn require_tls(mut self, required: bool) -> Self {
        self.tls.required = required;
        self.tls.changed();
        self
    }

    /// Do the TLS handshake before the server's INFO (nats-server's `handshake_first`,
    /// 2.10.4+). Implies TLS (default false).
    pub fn tls_first(mut self, first: bool) -> Self {
        self.tls.first = first;
        self.tls.changed();
        self
    }

    /// Trust the CA certificates of this PEM file. Once any file is given, only these CAs
    /// are trusted and the system's root store is never loaded. Without one, the system
    /// roots are loaded once per process, the first time TLS is used.
    pub fn add_root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.root_files.push(path.into());
        self.tls.changed();
        self
    }

    /// Present this client certificate chain (PEM) and private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1) for mutual TLS.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), rnats::Error> {
    /// let client = rnats::ConnectOptions::new()
    ///     .add_root_certificates("ca.pem")
    ///     .add_client_certificate("client-cert.pem", "client-key.pem")
    ///     .connect("tls://nats.example.com:4222")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn add_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.client_cert = Some((cert.into(), key.into()));
        self.tls.changed();
        self
    }

    /// Use this rustls configuration for every TLS connection, as is: roots, client
    /// certificates, verifier and crypto provider are all the caller's. The other TLS
    /// settings except [`ConnectOptions::require_tls`] and [`ConnectOptions::tls_first`] are
    /// then ignored, and the system roots are never loaded by rnats.
    pub fn tls_client_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls.custom = Some(Arc::new(config));
        self.tls.changed();
        self
    }

    /// Settings that weaken security, for tests and debugging only.
    pub fn dangerous(self) -> DangerousOptions {
        DangerousOptions(self)
    }

    /// Connects to the first server of `addrs` that answers.
    ///
    /// Fails with [`ErrorKind::ConnectFailed`](crate::ErrorKind::ConnectFailed) listing every server tried and why.
    pub async fn connect(self, addrs: impl ToServerAddrs) -> Result<Client, Error> {
        use tracing::Instrument;
        let servers = addrs.to_server_addrs()?;
        let span = tracing::info_span!("rnats.connect", servers = servers.len());
        crate::connect::connect_with(self, servers)
            .instrument(span)
            .await
    }
}

/// Wraps a nonce signer into the shared callback type.
fn signer_callback<F, Fut, E>(signer: F) -> SignCallback
where
    F: Fn(Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<u8>, E>> + Send + 'static,
    E: Into<BoxError>,
{
    let signer = Arc::new(signer);
    Arc::new(move |nonce| {
        let fut = signer(nonce);
        Box::pin(async move { fut.await.map_err(Into::into) })
    })
}

/// Options that weaken security, from [`ConnectOptions::dangerous`]. Each returns the
/// [`ConnectOptions`] so the chain goes on.
///
/// ```no_run
/// # async fn demo() -> Result<(), rnats::Error> {
/// // A throwaway test server with a self-signed certificate.
/// let client = rnats::ConnectOptions::new()
///     .dangerous()
///     .disable_certificate_verification()
///     .connect("tls://127.0.0.1:4222")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "call a method to get the ConnectOptions back"]
pub struct DangerousOptions(ConnectOptions);

impl DangerousOptions {
    /// Accept any server certificate, for any name: the connection is encrypted but the
    /// server is not authenticated, so anyone in the middle can read everything. Ignored
    /// when a [`ConnectOptions::tls_client_config`] is given.
    pub fn disable_certificate_verification(mut self) -> ConnectOptions {
        self.0.tls.no_verify = true;
        self.0.tls.changed();
        self.0
    }

    /// Back to the options without changing anything.
    pub fn done(self) -> ConnectOptions {
        self.0
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("name", &self.name)
            .field("no_echo", &self.no_echo)
            .field("inbox_prefix", &self.inbox_prefix)
            .field("connection_timeout", &self.connection_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("max_pings_out", &self.max_pings_out)
            .field("reconnect_buffer_size", &self.reconnect_buffer_size)
            .field("pending_msgs_limit", &self.pending_msgs_limit)
            .field("pending_bytes_limit", &self.pending_bytes_limit)
            .field("write_buffer_size", &self.write_buffer_size)
            .field("retain_servers_order", &self.retain_servers_order)
            .field("ignore_discovered_servers", &self.ignore_discovered_servers)
            .field("retry_on_initial_connect", &self.retry_on_initial_connect)
            .field("metrics_interval", &{
                #[cfg(feature = "metrics")]
                {
                    Some(self.metrics_interval)
                }
                #[cfg(not(feature = "metrics"))]
                {
                    None::<Duration>
                }
            })
            .field("max_reconnects", &self.max_reconnects)
            .field("max_reconnects_per_server", &self.max_reconnects_per_server)
            .field("reconnect_delay", &self.reconnect_delay)
            .field(
                "event_callback",
                &self.event_callback.as_ref().map(|_| "<fn>"),
            )
            .field("user", &self.user)
            .field("password", &self.password)
            .field(
                "user_password_callback",
                &self.user_password_callback.as_ref().map(|_| "<fn>"),
            )
            .field("token", &self.token)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_hidden() {
        let o = ConnectOptions::new()
            .user_and_password("bob", "hunter2")
            .token("t0ken")
            .nkey("SUAOY5JZ2WJKVR4UO2KJ2P3SW6FZFNWEOIMAXF4WZEUNVQXXUOKGM55CYE");
        let dbg = format!("{o:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("t0ken") && !dbg.contains("SUAOY"),
            "{dbg}"
        );
    }
}
