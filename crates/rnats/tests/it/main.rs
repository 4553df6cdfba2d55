//! Integration tests of rnats against real nats-server processes (see rnats-test).
#![allow(clippy::unwrap_used, missing_docs)]

mod api;
mod auth;
mod bad_peer;

#[cfg(feature = "blocking")]
mod blocking;
mod core;
#[cfg(feature = "jetstream")]
mod jetstream;
#[cfg(feature = "jetstream")]
mod jetstream_ack;
#[cfg(feature = "jetstream")]
mod jetstream_batch;
#[cfg(feature = "jetstream")]
mod jetstream_cluster;
#[cfg(feature = "jetstream")]
mod jetstream_consumer;
#[cfg(feature = "jetstream")]
mod jetstream_counter;
#[cfg(feature = "jetstream")]
mod jetstream_ordered;
#[cfg(feature = "jetstream")]
mod jetstream_publish;
#[cfg(feature = "jetstream")]
mod jetstream_pull;
#[cfg(feature = "jetstream")]
mod jetstream_push;
#[cfg(feature = "jetstream")]
mod jetstream_schedule;
#[cfg(feature = "jetstream")]
mod jetstream_schema;
#[cfg(feature = "kv")]
mod kv;
mod lifecycle;
mod limits;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "msg-trace")]
mod msg_trace;
#[cfg(feature = "object-store")]
mod object_store;
mod request;
mod request_many;
mod resilience;
#[cfg(feature = "service")]
mod service;
#[cfg(feature = "service")]
mod service_interop;
#[cfg(feature = "service")]
mod service_python;
mod tls;
#[cfg(feature = "kv")]
mod topology;
mod vectored;
mod websocket;
mod wire;

use std::time::Duration;

use futures_util::StreamExt;

/// Every test holds this lock for reading; the failover test holds it for writing, so it runs
/// alone. Its loss bound depends on how quickly a killed server's socket closes and the client
/// notices, which on 2 cores busy with other tests can take 100 ms instead of a few.
pub static EXCLUSIVE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The shared side of [`EXCLUSIVE`]: call first in every test. Also arms the test's
/// [`Watchdog`].
pub async fn shared() -> TestGuard<tokio::sync::RwLockReadGuard<'static, ()>> {
    let lock = EXCLUSIVE.read().await;
    TestGuard {
        _lock: lock,
        _watchdog: Watchdog::arm(WATCHDOG_LIMIT),
    }
}

/// The exclusive side of [`EXCLUSIVE`], for heavy or timing-sensitive tests that must run
/// alone; with a [`Watchdog`] too.
pub async fn alone() -> TestGuard<tokio::sync::RwLockWriteGuard<'static, ()>> {
    let lock = EXCLUSIVE.write().await;
    TestGuard {
        _lock: lock,
        _watchdog: Watchdog::arm(WATCHDOG_LIMIT),
    }
}

/// [`shared`] for plain `#[test]` functions (no runtime): the blocking client's tests.
#[cfg(feature = "blocking")]
pub fn shared_blocking() -> TestGuard<tokio::sync::RwLockReadGuard<'static, ()>> {
    let lock = EXCLUSIVE.blocking_read();
    TestGuard {
        _lock: lock,
        _watchdog: Watchdog::arm(WATCHDOG_LIMIT),
    }
}

/// Longest a test may run once it holds its lock. Every wait in a test has its own, much
/// shorter bound; this is the backstop for one that was missed.
const WATCHDOG_LIMIT: Duration = Duration::from_secs(300);

/// Held for the whole test: its share of [`EXCLUSIVE`] and its watchdog.
pub struct TestGuard<G> {
    _lock: G,
    _watchdog: Watchdog,
}

/// Ends the test binary with a message naming the test if the test runs past its limit:
/// a hang is then a failure that says where, not a CI job killed without a word. The
/// servers the tests started die with the binary (see rnats-test's server watchdog).
pub struct Watchdog {
    _cancel: std::sync::mpsc::Sender<()>,
}

impl Watchdog {
    fn arm(limit: Duration) -> Self {
        // libtest names each test's thread after the test; the async body runs on it.
        let name = std::thread::current()
            .name()
            .unwrap_or("<unnamed test>")
            .to_owned();
        let (cancel, cancelled) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            // Dropping the guard (end of test, or a panic unwinding) disconnects the channel.
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(limit) {
                eprintln!(
                    "test {name} hung: still running after {limit:?}; ending the test binary"
                );
                std::process::exit(101);
            }
        });
        Watchdog { _cancel: cancel }
    }
}

/// Waits for the first event matching `pred` (fails the test after `secs`).
pub async fn wait_event(
    events: &mut rnats::EventStream,
    secs: u64,
    pred: impl Fn(&rnats::Event) -> bool,
) -> rnats::Event {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let e = events.next().await.expect("event stream ended");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

/// A loopback port nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Receives the next message or fails the test after 5 s.
pub async fn next_msg(sub: &mut rnats::Subscriber) -> rnats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("timed out waiting for a message")
        .expect("subscription ended early")
}

/// Collects what a subscription yields until it ends (fails after 10 s).
pub async fn collect_until_end(sub: &mut rnats::Subscriber) -> Vec<rnats::Message> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = sub.next().await {
            out.push(m);
        }
    })
    .await
    .expect("subscription did not end");
    out
}

/// The repository's `.venv/bin/python` (made by scripts/setup.sh, with nats-py in it).
#[cfg(any(feature = "kv", feature = "object-store"))]
pub fn venv_python() -> std::path::PathBuf {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (it builds the venv with nats-py)",
        python.display()
    );
    python
}

/// Runs the nats-py script `tests/data/<script>` with `args` under the venv's Python (at
/// most 60 s) and returns the JSON it prints.
#[cfg(any(feature = "kv", feature = "object-store"))]
pub async fn nats_py_script(script: &str, args: &[&str]) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(script);
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(venv_python())
            .arg(path)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{script} did not finish within 60 s"))
    .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The INFO a [`Peer`] sends: headers on, 1 MiB payloads.
pub const PEER_INFO: &[u8] = b"INFO {\"server_id\":\"scripted\",\"version\":\"0.0.0\",\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n";

/// A scripted NATS server on loopback, played by the test itself: it speaks just enough
/// protocol to get a client connected (INFO, then PONG to the handshake PING), and the test
/// decides every byte after that. Every read is bounded: a client that never sends what
/// the test waits for fails the test with a message, not a hang.
pub struct Peer {
    pub sock: tokio::net::TcpStream,
    /// Bytes read but not yet handed out by [`Peer::read_until`].
    buffered: Vec<u8>,
    /// What the client sent during the handshake (CONNECT and PING).
    pub handshake: Vec<u8>,
}

/// A loopback listener for a [`Peer`], and its `nats://` URL.
pub async fn peer_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    (listener, url)
}

impl Peer {
    /// Accepts one client and completes its handshake.
    pub async fn accept(listener: &tokio::net::TcpListener) -> Peer {
        Peer::accept_with_info(listener, PEER_INFO).await
    }

    /// [`Peer::accept`] sending `info` (a whole `INFO …\r\n` line) instead of [`PEER_INFO`].
    pub async fn accept_with_info(listener: &tokio::net::TcpListener, info: &[u8]) -> Peer {
        let (sock, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("no client connected to the scripted peer")
            .unwrap();
        let mut peer = Peer {
            sock,
            buffered: Vec::new(),
            handshake: Vec::new(),
        };
        peer.send(info).await;
        peer.handshake = peer.read_until(b"PING\r\n").await;
        peer.send(b"PONG\r\n").await;
        peer
    }

    /// Writes `bytes` to the client.
    pub async fn send(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.sock.write_all(bytes).await.unwrap();
    }

    /// Reads until `needle` and returns everything up to and including it (fails after 5 s
    /// or at end of stream).
    pub async fn read_until(&mut self, needle: &[u8]) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let found = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(at) = self
                    .buffered
                    .windows(needle.len())
                    .position(|w| w == needle)
                {
                    let rest = self.buffered.split_off(at + needle.len());
                    return Some(std::mem::replace(&mut self.buffered, rest));
                }
                let mut buf = [0u8; 16 * 1024];
                let n = self.sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    return None;
                }
                self.buffered.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        let text = String::from_utf8_lossy(needle).into_owned();
        match found {
            Ok(Some(bytes)) => bytes,
            Ok(None) => panic!("the client closed the connection before sending {text:?}"),
            Err(_) => panic!(
                "the client did not send {text:?} within 5 s; got {:?}",
                String::from_utf8_lossy(&self.buffered)
            ),
        }
    }

    /// Makes sure the client has handled everything sent to it so far: sends a PING and
    /// waits for the client's PONG, which its driver writes only after reading what came
    /// before. Returns the bytes the client sent meanwhile (PONG included).
    pub async fn sync(&mut self) -> Vec<u8> {
        self.send(b"PING\r\n").await;
        self.read_until(b"PONG\r\n").await
    }
}

/// `.bounded()` on any future: awaits it for at most 10 s, then fails the test naming the
/// line of the await. For the client calls that wait on the server (flush, drain, close).
pub trait Bounded: std::future::Future + Sized {
    #[track_caller]
    fn bounded(self) -> impl std::future::Future<Output = Self::Output> {
        let at = std::panic::Location::caller();
        async move {
            tokio::time::timeout(Duration::from_secs(10), self)
                .await
                .unwrap_or_else(|_| panic!("the await at {at} did not complete within 10 s"))
        }
    }
}

impl<F: std::future::Future> Bounded for F {}
