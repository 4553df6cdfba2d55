//! A cluster of `nats-server` processes routed to each other: [`Cluster`] and its builder.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::thread;
use std::time::{Duration, Instant};

use crate::net;
use crate::server::NatsServer;

/// How long routes (and, with JetStream, the meta leader) get to form.
const FORM_TIMEOUT: Duration = Duration::from_secs(20);
/// How many times the whole cluster is started on new ports after losing one to another
/// process between choosing it and a server binding it.
const PORT_ATTEMPTS: usize = 3;

/// Starts an `n`-node cluster (no JetStream) and waits until every node has routes to every
/// other. Shortcut for `Cluster::builder(n).start()`.
///
/// # Panics
///
/// As [`ClusterBuilder::start`].
pub fn cluster(n: usize) -> Cluster {
    Cluster::builder(n).start()
}

/// Starts an `n`-node JetStream cluster and waits until routes are formed, a meta leader is
/// elected and every node reports healthy. Shortcut for
/// `Cluster::builder(n).jetstream(true).start()`.
///
/// # Panics
///
/// As [`ClusterBuilder::start`].
pub fn jetstream_cluster(n: usize) -> Cluster {
    Cluster::builder(n).jetstream(true).start()
}

/// Nodes `n1`…`nN` (another prefix: [`ClusterBuilder::node_prefix`]) on 127.0.0.1, each with a client port, a cluster port and a monitoring
/// port, each routed to all the others. Every node is a [`NatsServer`], so it can be
/// restarted, stopped or signalled on its own; dropping the cluster kills them all.
///
/// ```
/// let cluster = rnats_test::cluster(3);
/// assert_eq!(cluster.node(0).name(), Some("n1"));
/// cluster.node(1).restart();
/// cluster.wait_for_routes();
/// ```
#[derive(Debug)]
pub struct Cluster {
    name: String,
    jetstream: bool,
    servers: Vec<NatsServer>,
}

/// Builder for a [`Cluster`], from [`Cluster::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .start()"]
pub struct ClusterBuilder {
    size: usize,
    name: String,
    node_prefix: String,
    jetstream: bool,
    config: Option<String>,
    node_configs: Vec<(usize, String)>,
    args: Vec<OsString>,
}

impl Cluster {
    /// A builder for an `n`-node cluster named `rnats-test`.
    pub fn builder(n: usize) -> ClusterBuilder {
        ClusterBuilder {
            size: n,
            name: "rnats-test".to_owned(),
            node_prefix: "n".to_owned(),
            jetstream: false,
            config: None,
            node_configs: Vec::new(),
            args: Vec::new(),
        }
    }

    /// The cluster name (`--cluster_name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All nodes, `n1` first.
    pub fn servers(&self) -> &[NatsServer] {
        &self.servers
    }

    /// Node `i`, counting from 0: `node(0)` is `n1`.
    ///
    /// # Panics
    ///
    /// If `i` is not below the cluster size.
    pub fn node(&self, i: usize) -> &NatsServer {
        self.servers.get(i).unwrap_or_else(|| {
            panic!(
                "node({i}) of a {}-node cluster (nodes count from 0)",
                self.servers.len()
            )
        })
    }

    /// The client URL of every node, `n1` first.
    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }

    /// Waits until every node has routes to every other node, e.g. after a restart. All
    /// nodes must be running.
    ///
    /// "Formed" means: each node's `/routez` names every other node and no one else, with
    /// the same number of connections to each (route pooling opens several per peer), and
    /// all nodes count the same total.
    ///
    /// # Panics
    ///
    /// If that does not happen within 20 s; the message says what was missing.
    pub fn wait_for_routes(&self) {
        self.wait_until("routes", || self.routes_formed());
    }

    /// Waits until every node knows the JetStream meta leader and answers `/healthz` with
    /// 200. Only meaningful for a JetStream cluster; all nodes must be running.
    ///
    /// # Panics
    ///
    /// If that does not happen within 20 s; the message says what was missing.
    pub fn wait_for_jetstream(&self) {
        self.wait_until("JetStream", || self.jetstream_ready());
    }

    fn wait_until(&self, what: &str, check: impl Fn() -> Result<(), String>) {
        let deadline = Instant::now() + FORM_TIMEOUT;
        loop {
            let missing = match check() {
                Ok(()) => return,
                Err(missing) => missing,
            };
            if Instant::now() >= deadline {
                panic!(
                    "{}-node cluster: {what} not ready after {FORM_TIMEOUT:?}: {missing}",
                    self.servers.len()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn routes_formed(&self) -> Result<(), String> {
        let mut totals = BTreeSet::new();
        for server in &self.servers {
            let node = server.name().unwrap_or("?");
            let body = monitor_get(server, "/routez")?;
            let mut per_peer: BTreeMap<&str, usize> = BTreeMap::new();
            for peer in net::json_values(&body, "remote_name") {
                *per_peer.entry(peer).or_default() += 1;
            }
            let expected: BTreeSet<&str> = self
                .servers
                .iter()
                .filter_map(NatsServer::name)
                .filter(|peer| *peer != node)
                .collect();
            let peers: BTreeSet<&str> = per_peer.keys().copied().collect();
            if peers != expected {
                return Err(format!(
                    "{node} has routes to {peers:?}, expected {expected:?}"
                ));
            }
            let counts: BTreeSet<usize> = per_peer.values().copied().collect();
            if counts.len() > 1 {
                return Err(format!(
                    "{node} has unequal route counts per peer: {per_peer:?}"
                ));
            }
            totals.insert(per_peer.values().sum::<usize>());
        }
        if totals.len() > 1 {
            return Err(format!("nodes count different route totals: {totals:?}"));
        }
        Ok(())
    }

    fn jetstream_ready(&self) -> Result<(), String> {
        for server in &self.servers {
            let node = server.name().unwrap_or("?");
            let jsz = monitor_get(server, "/jsz")?;
            if !net::json_values(&jsz, "leader")
                .iter()
                .any(|leader| !leader.is_empty())
            {
                return Err(format!("{node} knows no JetStream meta leader"));
            }
            monitor_get(server, "/healthz")?;
        }
        Ok(())
    }
}

impl ClusterBuilder {
    /// Enables JetStream on every node, each with its own store directory. `start` then also
    /// waits for [`Cluster::wait_for_jetstream`].
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.jetstream = enabled;
        self
    }

    /// The cluster name (`--cluster_name`); `rnats-test` unless set.
    pub fn name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// What node names start with (`n` unless set: `n1`, `n2`…). Servers joined by
    /// gateways or leaf connections must have distinct names, so two clusters of one
    /// supercluster need different prefixes.
    pub fn node_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.node_prefix);
        self
    }

    /// A config file given to every node (`-c`), e.g. accounts or authorization. The
    /// harness' command-line options (ports, cluster, routes, name, JetStream) override it.
    pub fn config(mut self, text: &str) -> Self {
        self.config = Some(text.to_owned());
        self
    }

    /// Config text for node `index` only (0-based), appended to the [`ClusterBuilder::config`]
    /// text every node gets: e.g. TLS on one node's client port and not on the others'.
    pub fn node_config(mut self, index: usize, text: &str) -> Self {
        self.node_configs.push((index, text.to_owned()));
        self
    }

    /// An extra command-line argument for every node, passed after the harness' own.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Extra command-line arguments for every node, passed after the harness' own.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Starts the nodes and waits until routes are formed (and, with JetStream, a meta
    /// leader is elected and every node is healthy).
    ///
    /// # Panics
    ///
    /// If the size is 0, a node does not start (the message includes its log), or the
    /// cluster does not form within 20 s.
    pub fn start(self) -> Cluster {
        assert!(self.size > 0, "a cluster needs at least one node");
        let mut attempt = 0;
        let cluster = loop {
            attempt += 1;
            match self.try_start() {
                Ok(cluster) => break cluster,
                Err(err) if err.port_in_use && attempt < PORT_ATTEMPTS => continue,
                Err(err) => panic!(
                    "starting a {}-node nats-server cluster: {}",
                    self.size, err.message
                ),
            }
        };
        cluster.wait_for_routes();
        if cluster.jetstream {
            cluster.wait_for_jetstream();
        }
        cluster
    }

    fn try_start(&self) -> Result<Cluster, crate::server::StartError> {
        let n = self.size;
        let ports = net::free_ports(3 * n);
        let (client_ports, rest) = ports.split_at(n);
        let (cluster_ports, monitor_ports) = rest.split_at(n);
        let route_url = |port: &u16| format!("nats://127.0.0.1:{port}");
        let mut servers = Vec::with_capacity(n);
        for i in 0..n {
            let routes: Vec<String> = cluster_ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, port)| route_url(port))
                .collect();
            let mut builder = NatsServer::builder()
                .jetstream(self.jetstream)
                .port(client_ports[i])
                .monitor_port(monitor_ports[i])
                .name(&format!("{}{}", self.node_prefix, i + 1))
                .args(["--cluster_name", self.name.as_str()])
                .args(["--cluster".to_owned(), route_url(&cluster_ports[i])]);
            if !routes.is_empty() {
                builder = builder.args(["--routes".to_owned(), routes.join(",")]);
            }
            let mut config = self.config.clone().unwrap_or_default();
            for (_, text) in self.node_configs.iter().filter(|(j, _)| *j == i) {
                config.push('\n');
                config.push_str(text);
            }
            if !config.is_empty() {
                builder = builder.config(&config);
            }
            // On error the nodes already started are dropped, which kills them.
            servers.push(builder.args(&self.args).try_start()?);
        }
        Ok(Cluster {
            name: self.name.clone(),
            jetstream: self.jetstream,
            servers,
        })
    }
}

/// `GET path` from a node's monitoring port; an error unless the status is 200.
fn monitor_get(server: &NatsServer, path: &str) -> Result<String, String> {
    let node = server.name().unwrap_or("?");
    let port = server
        .monitor_port()
        .ok_or_else(|| format!("{node} has no monitoring port"))?;
    match net::http_get(port, path) {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => Err(format!("{node}: GET {path}: status {status}: {body}")),
        Err(err) => Err(format!("{node}: GET {path}: {err}")),
    }
}
