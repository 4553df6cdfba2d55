//! Test harness for rnats: runs real `nats-server` processes on loopback.
//!
//! Every server binds `127.0.0.1` on a free port, keeps its files (config, JetStream store,
//! log) in a temporary directory it owns, and is killed and reaped when dropped, so a test
//! can start as many as it likes and leave nothing behind. Everything here is synchronous
//! (std only), so it works the same from `#[test]` and `#[tokio::test]` functions.
//!
//! The binary is found by [`nats_server_bin`]: `$NATS_SERVER_BIN`, else the copy
//! `scripts/setup.sh` installs into `<workspace>/.tools/bin/`, else `nats-server` on `PATH`.
//!
//! Set-up failures (no binary, a server that does not come up) panic with a message that
//! includes the tail of the server's log: a harness has nothing better to do with them.
//!
//! ```
//! use rnats_test::NatsServer;
//!
//! let server = NatsServer::start();
//! assert!(server.url().starts_with("nats://127.0.0.1:"));
//! assert!(server.info().contains("\"version\""));
//!
//! let js = NatsServer::builder().jetstream(true).start();
//! assert!(js.info().contains("\"jetstream\":true"));
//! ```
//!
//! A cluster of three, with routes formed:
//!
//! ```
//! let cluster = rnats_test::cluster(3);
//! assert_eq!(cluster.urls().len(), 3);
//! ```

use std::env;
use std::path::{Path, PathBuf};

mod cluster;
#[cfg(feature = "jwt")]
pub mod jwt;
mod net;
mod server;

pub use cluster::{cluster, jetstream_cluster, Cluster, ClusterBuilder};
pub use server::{NatsServer, NatsServerBuilder, Signal};

/// `n` distinct free ports on 127.0.0.1 that this process has not handed out before, for
/// listeners a config file declares (a websocket port, say). Free when returned: another
/// process may still take one before the server binds it.
pub fn free_ports(n: usize) -> Vec<u16> {
    net::free_ports(n)
}

/// Environment variable naming the `nats-server` binary to run.
pub const NATS_SERVER_BIN_ENV: &str = "NATS_SERVER_BIN";

/// The `nats-server` binary the harness runs.
///
/// In order: the `NATS_SERVER_BIN` environment variable (which must then name an existing
/// file), `<workspace root>/.tools/bin/nats-server` (where `scripts/setup.sh` installs the
/// pinned version), `nats-server` on `PATH`.
///
/// # Panics
///
/// When none of them exists; the message says to run `scripts/setup.sh`.
pub fn nats_server_bin() -> PathBuf {
    if let Some(value) = env::var_os(NATS_SERVER_BIN_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        assert!(
            path.is_file(),
            "{NATS_SERVER_BIN_ENV}={} does not name a file; run scripts/setup.sh and point it at \
             .tools/bin/nats-server, or unset it",
            path.display()
        );
        return path;
    }
    let tools = workspace_root().join(".tools/bin/nats-server");
    if tools.is_file() {
        return tools;
    }
    if let Some(found) = env::var_os("PATH")
        .iter()
        .flat_map(env::split_paths)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
    {
        return found;
    }
    panic!(
        "no nats-server binary found: run scripts/setup.sh (it installs the pinned version into \
         {}), or set {NATS_SERVER_BIN_ENV}, or put nats-server on PATH",
        tools.display()
    );
}

/// The workspace root: this crate lives at `<root>/crates/rnats-test`.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}
