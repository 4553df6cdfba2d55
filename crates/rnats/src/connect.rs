//! Connecting: the server pool, the shared state and the first connection (or, with
//! `retry_on_initial_connect`, a driver that keeps trying), from [`crate::ConnectOptions`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicIsize};
use std::sync::Arc;

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use rand::Rng;
use rnats_proto::{subject, Backoff, Connection, ConnectionConfig, PoolLimits, ServerPool};
use tokio::sync::Notify;

use crate::addr::ServerAddr;
use crate::client::Client;
use crate::driver;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, EventHub};
use crate::options::ConnectOptions;
use crate::shared::{Core, Lifecycle, Shared, Stats};

/// Connects with `options` to one of `servers`.
pub(crate) async fn connect_with(
    options: ConnectOptions,
    servers: Vec<ServerAddr>,
) -> Result<Client, Error> {
    subject::validate_publish(&options.inbox_prefix).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid inbox prefix: {}", e.detail()),
        )
    })?;
    let mixed = servers.iter().any(|s| matches!(s.scheme(), "ws" | "wss"))
        && servers.iter().any(|s| !matches!(s.scheme(), "ws" | "wss"));
    if mixed {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "websocket (ws://, wss://) and plain (nats://, tls://) servers cannot be mixed in one pool",
        ));
    }
    let mut pool = ServerPool::new(
        servers,
        Backoff::default(),
        PoolLimits::new(
            options
                .max_reconnects_per_server
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            options.max_reconnects.map(|n| n as u64),
        ),
    );
    if !options.retain_servers_order {
        let mut rng = rand::thread_rng();
        pool.shuffle(&mut || rng.gen());
    }
    let config = {
        let mut c = ConnectionConfig::default();
        c.ping_interval = options.ping_interval;
        c.max_pings_out = options.max_pings_out;
        c.reconnect_buffer_size = options.reconnect_buffer_size;
        c
    };
    let initial: Vec<ServerAddr> = pool.entries().iter().map(|e| e.server.clone()).collect();
    let tls_in_pool = initial.iter().any(ServerAddr::is_tls);
    let mux_prefix = format!("{}.{}.", options.inbox_prefix, nuid::next());
    let events = EventHub::new(options.event_callback.clone());
    let retry = options.retry_on_initial_connect;
    #[cfg(feature = "metrics")]
    let metrics = crate::metrics::Handles::new(options.name.as_deref());
    let shared = Arc::new(Shared {
        #[cfg(feature = "metrics")]
        metrics,
        core: Mutex::new(Core {
            conn: Connection::new(config),
            subs: HashMap::default(),
            mux_sid: None,
            requests: HashMap::default(),
            next_request: 0,
            next_expiry: None,
            flushes: HashMap::default(),
            lifecycle: Lifecycle::Open,
            close_waiters: Vec::new(),
            pool,
            current_server: None,
            force_reconnect: false,
            direct: None,
            last_write: None,
            deferred: 0,
            in_msgs: 0,
            out_msgs: 0,
        }),
        driver_waker: AtomicWaker::new(),
        attention: AtomicBool::new(true),
        driver_busy: AtomicBool::new(false),
        unconsumed: AtomicIsize::new(0),
        reply_wakes: Default::default(),
        expiry_moved: Notify::new(),
        expiry_sooner: AtomicBool::new(false),
        space: Notify::new(),
        close_requested: Notify::new(),
        stats: Stats::default(),
        options,
        mux_prefix,
        events,
        tls_in_pool,
        tls_used: AtomicBool::new(false),
    });
    let client = Client::new;
    #[cfg(feature = "metrics")]
    crate::metrics::spawn_sampler(&shared);
    if retry {
        tokio::spawn(driver::Driver::new(shared.clone(), None).run());
        return Ok(client(shared));
    }
    let mut failures = Vec::new();
    let mut last_error = None;
    for addr in &initial {
        match driver::open(&shared, addr).await {
            Ok(transport) => {
                shared.core.lock().pool.connected(addr);
                shared.events.emit(Event::Connected {
                    server: addr.clone(),
                });
                tokio::spawn(driver::Driver::new(shared.clone(), Some(transport)).run());
                return Ok(client(shared));
            }
            // Wrong credentials or options fail the same way on every server.
            Err(e) if e.is_auth_error() || e.is_invalid_argument() => return Err(e),
            Err(e) => {
                failures.push(format!("{addr}: {}", e.with_causes()));
                last_error = Some(e);
            }
        }
    }
    let message = format!(
        "could not connect to any server ({}); check the address and that nats-server is running",
        failures.join("; ")
    );
    Err(match last_error {
        Some(e) => Error::with_source(ErrorKind::ConnectFailed, message, e),
        None => Error::new(ErrorKind::ConnectFailed, message),
    })
}
