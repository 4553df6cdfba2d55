//! TLS against real servers, with certificates made at test time (rcgen): server-only TLS,
//! mutual TLS, wrong CA, wrong host name, handshake-first, the `tls_required` upgrade, a
//! refused plain-text fallback, a cluster whose discovered servers are IPs, and TLS that never
//! downgrades (a cluster with one plain node; a pool naming a `tls://` server).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rnats::{ConnectionState, Event};
use rnats_test::{Cluster, NatsServer};

use crate::next_msg;

/// A CA and the PEM texts of certificates it issued.
pub struct TestCa {
    pub pem: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, in PEM.
pub struct Issued {
    pub cert: String,
    pub key: String,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Issued {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate.
    pub fn client(&self, name: &str) -> Issued {
        self.issue(&[name], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Issued {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// A server with TLS on its client port: certificate for `names`, issued by `ca`. `extra`
/// goes inside the `tls {}` block (e.g. `verify: true`, `handshake_first: true`).
pub fn tls_server(ca: &TestCa, names: &[&str], extra: &str) -> NatsServer {
    let issued = ca.server(names);
    NatsServer::builder()
        .file("ca.pem", &ca.pem)
        .file("server-cert.pem", &issued.cert)
        .file("server-key.pem", &issued.key)
        .tls_first(extra.contains("handshake_first: true"))
        .config(&format!(
            r#"
            tls {{
              cert_file: "server-cert.pem"
              key_file: "server-key.pem"
              ca_file: "ca.pem"
              timeout: 2
              {extra}
            }}
            "#
        ))
        .start()
}

/// Writes `contents` as `name` in `dir`, returning the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn options() -> rnats::ConnectOptions {
    rnats::ConnectOptions::new().connection_timeout(Duration::from_secs(3))
}

/// The cause of a failed first connect: the error must be `ConnectFailed`, caused by a TLS
/// error, whose text (with its causes) is returned.
fn tls_failure(err: &rnats::Error) -> String {
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed, "{err:?}");
    let source = std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap_or_else(|| panic!("no rnats::Error cause: {err:?}"));
    assert!(source.is_tls_error(), "not a TLS error: {source:?}");
    format!("{source:?}")
}

/// Round trip through the server: the connection really works.
async fn round_trip(client: &rnats::Client) {
    let mut sub = client.subscribe("tls.check").await.unwrap();
    client.publish("tls.check", "over tls").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "over tls");
}

#[tokio::test]
async fn server_tls_with_custom_ca() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "");
    let url = format!("tls://localhost:{}", server.port());
    let client = options()
        .add_root_certificates(server.dir().join("ca.pem"))
        .connect(url.as_str())
        .await
        .unwrap();
    round_trip(&client).await;
    assert_eq!(client.connection_state(), ConnectionState::Connected);
}

#[tokio::test]
async fn tls_required_by_the_server_upgrades_a_nats_url() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "");
    assert!(server.info().contains("\"tls_required\":true"));
    // nats:// URL, no TLS asked for: INFO says tls_required, the client upgrades.
    let client = options()
        .add_root_certificates(server.dir().join("ca.pem"))
        .connect(format!("nats://localhost:{}", server.port()))
        .await
        .unwrap();
    round_trip(&client).await;
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "verify: true");
    let client_cert = ca.client("rnats-client");
    let dir = server.dir();
    let cert = write(dir, "client-cert.pem", &client_cert.cert);
    let key = write(dir, "client-key.pem", &client_cert.key);
    let url = format!("tls://localhost:{}", server.port());

    let client = options()
        .add_root_certificates(dir.join("ca.pem"))
        .add_client_certificate(&cert, &key)
        .connect(url.as_str())
        .await
        .unwrap();
    round_trip(&client).await;

    let started = std::time::Instant::now();
    let err = options()
        .add_root_certificates(dir.join("ca.pem"))
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "bounded time");
    let source = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap();
    assert!(source.is_tls_error(), "{source:?}");
    assert!(
        format!("{err:?}").contains("CertificateRequired"),
        "{err:?}"
    );

    // A missing key file is the caller's mistake, said as such.
    let err = options()
        .add_root_certificates(dir.join("ca.pem"))
        .add_client_certificate(&cert, dir.join("no-such-key.pem"))
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_rejected() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let other = TestCa::new("some other CA");
    let server = tls_server(&ca, &["localhost"], "");
    let other_pem = write(server.dir(), "other-ca.pem", &other.pem);
    let err = options()
        .add_root_certificates(other_pem)
        .connect(format!("tls://localhost:{}", server.port()))
        .await
        .unwrap_err();
    let cause = tls_failure(&err);
    assert!(cause.contains("TLS handshake"), "{cause}");
    assert!(cause.contains("UnknownIssuer"), "{cause}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_rejected() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    // The certificate names "localhost" only: connecting as 127.0.0.1 must fail.
    let server = tls_server(&ca, &["localhost"], "");
    let err = options()
        .add_root_certificates(server.dir().join("ca.pem"))
        .connect(format!("tls://127.0.0.1:{}", server.port()))
        .await
        .unwrap_err();
    let cause = tls_failure(&err);
    assert!(cause.contains("NotValidForName"), "{cause}");
    // And a certificate for another DNS name, reached as localhost.
    let other = tls_server(&ca, &["nats.example.invalid"], "");
    let err = options()
        .add_root_certificates(other.dir().join("ca.pem"))
        .connect(format!("tls://localhost:{}", other.port()))
        .await
        .unwrap_err();
    let cause = tls_failure(&err);
    assert!(cause.contains("NotValidForName"), "{cause}");
}

#[tokio::test]
async fn verification_can_only_be_disabled_as_dangerous() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "");
    // No CA given and the test CA is not a system root: refused for that reason alone (the
    // name is right)...
    let url = format!("tls://localhost:{}", server.port());
    let err = options().connect(url.as_str()).await.unwrap_err();
    let cause = tls_failure(&err);
    assert!(cause.contains("UnknownIssuer"), "{cause}");
    // ...unless verification is explicitly turned off.
    let client = options()
        .dangerous()
        .disable_certificate_verification()
        .connect(url.as_str())
        .await
        .unwrap();
    round_trip(&client).await;
}

#[tokio::test]
async fn handshake_first() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "handshake_first: true");
    let url = format!("tls://localhost:{}", server.port());
    let client = options()
        .tls_first(true)
        .add_root_certificates(server.dir().join("ca.pem"))
        .connect(url.as_str())
        .await
        .unwrap();
    round_trip(&client).await;
    // Without tls_first the client waits for an INFO that never comes in plain text, until
    // its connection timeout.
    let started = std::time::Instant::now();
    let err = options()
        .connection_timeout(Duration::from_millis(800))
        .add_root_certificates(server.dir().join("ca.pem"))
        .connect(url.as_str())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed, "{err:?}");
    let source = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap();
    assert!(source.is_timeout(), "{source:?}");
    assert!(
        elapsed >= Duration::from_millis(750) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn tls_wanted_never_falls_back_to_plain_text() {
    let _shared = crate::shared().await;
    let plain = NatsServer::builder().config("trace: true\n").start();
    // Asked for by the options, or by the URL: refused after INFO, before CONNECT.
    for (opts, url, why) in [
        (
            options().require_tls(true),
            format!("nats://127.0.0.1:{}", plain.port()),
            "require_tls is set",
        ),
        (
            options(),
            format!("tls://127.0.0.1:{}", plain.port()),
            "the address is tls:// or wss://",
        ),
    ] {
        let err = opts.connect(url).await.unwrap_err();
        let cause = tls_failure(&err);
        assert!(cause.contains("does not offer TLS"), "{cause}");
        assert!(cause.contains(why), "{cause}");
    }
    // TLS first against a server that speaks plain text first: the handshake fails, typed.
    let err = options()
        .tls_first(true)
        .connect(format!("nats://127.0.0.1:{}", plain.port()))
        .await
        .unwrap_err();
    tls_failure(&err);
    // No client ever sent CONNECT to the plain server (its trace shows every one).
    let log = plain.log();
    assert!(client_connects(&log).is_empty(), "{log}");
}

#[tokio::test]
async fn a_custom_rustls_config_is_used_as_is() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "");
    let mut roots = rnats::rustls::RootCertStore::empty();
    let der = rustls_pki_types_from_pem(&ca.pem);
    roots.add(der).unwrap();
    let config = rnats::rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rnats::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = options()
        .tls_client_config(config)
        .connect(format!("tls://localhost:{}", server.port()))
        .await
        .unwrap();
    round_trip(&client).await;
}

fn rustls_pki_types_from_pem(pem: &str) -> rnats::rustls::pki_types::CertificateDer<'static> {
    use rnats::rustls::pki_types::pem::PemObject;
    rnats::rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_cluster_discovered_ips_verify_against_the_original_name() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    // The certificate names localhost only, no IP: discovered 127.0.0.1 servers pass only
    // because they keep "localhost" as their TLS name.
    let issued = ca.server(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let ca_path = write(dir.path(), "ca.pem", &ca.pem);
    let cert = write(dir.path(), "cert.pem", &issued.cert);
    let key = write(dir.path(), "key.pem", &issued.key);
    let config = format!(
        "tls {{ cert_file: {:?}\n key_file: {:?}\n timeout: 2 }}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let cluster = tokio::task::spawn_blocking(move || Cluster::builder(3).config(&config).start())
        .await
        .unwrap();
    let first = cluster.node(0).port();
    let client = options()
        .add_root_certificates(&ca_path)
        .retain_servers_order(true)
        .reconnect_delay(rnats::Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
            Duration::from_millis(20),
        ))
        .connect(format!("tls://localhost:{first}"))
        .await
        .unwrap();
    let mut events = client.events();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !client
            .servers()
            .iter()
            .any(|s| s.host() == "127.0.0.1" && s.port() != first)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("servers discovered");
    for s in client.servers().iter().filter(|s| s.host() == "127.0.0.1") {
        assert_eq!(s.tls_name(), "localhost", "{s}");
    }
    let mut sub = client.subscribe("cluster.tls").await.unwrap();
    client.flush().await.unwrap();

    // Take the server named by URL away: the client must move to a discovered IP.
    cluster.node(0).stop();
    let reconnected = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await.unwrap() {
                Event::Reconnected { server } => return server,
                Event::ClientError(e) | Event::ServerError(e) => {
                    assert!(
                        !e.is_tls_error(),
                        "TLS failed on a discovered server: {e:?}"
                    )
                }
                _ => {}
            }
        }
    })
    .await
    .expect("reconnected to a discovered server");
    assert_eq!(reconnected.host(), "127.0.0.1");
    assert_ne!(reconnected.port(), first);
    assert_eq!(reconnected.tls_name(), "localhost");
    client.publish("cluster.tls", "still here").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "still here");
}

/// Lines of a nats-server trace log where a client (not a route) sent CONNECT.
fn client_connects(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" - cid:") && l.contains("<<- [CONNECT"))
        .collect()
}

/// Waits for a failed-connect event about `port` and returns its text (Display and Debug).
async fn refusal_event(events: &mut rnats::EventStream, port: u16) -> std::sync::Arc<rnats::Error> {
    let needle = format!(":{port}");
    let event = crate::wait_event(
        events,
        15,
        |e| matches!(e, Event::ClientError(err) if err.to_string().contains(&needle)),
    )
    .await;
    let Event::ClientError(err) = event else {
        unreachable!()
    };
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_never_downgraded_to_a_plain_node_of_the_cluster() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let issued = ca.server(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let ca_path = write(dir.path(), "ca.pem", &ca.pem);
    let cert = write(dir.path(), "cert.pem", &issued.cert);
    let key = write(dir.path(), "key.pem", &issued.key);
    // Node 1 requires TLS of its clients; node 2 offers none and traces every protocol line.
    let tls = format!(
        "tls {{ cert_file: {:?}\n key_file: {:?}\n timeout: 2 }}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let cluster = tokio::task::spawn_blocking(move || {
        Cluster::builder(2)
            .config("authorization { user: alice, password: \"s3cret-pw\" }\n")
            .node_config(0, &tls)
            .node_config(1, "trace: true\n")
            .start()
    })
    .await
    .unwrap();
    let (tls_port, plain_port) = (cluster.node(0).port(), cluster.node(1).port());
    let info = cluster.node(1).info();
    assert!(
        !info.contains("\"tls_required\":true") && !info.contains("\"tls_available\":true"),
        "{info}"
    );

    // A nats:// URL: TLS only because the server requires it (the upgrade).
    let client = options()
        .add_root_certificates(&ca_path)
        .retain_servers_order(true)
        .reconnect_delay(rnats::Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(100),
            Duration::from_millis(10),
        ))
        .connect(format!("nats://alice:s3cret-pw@localhost:{tls_port}"))
        .await
        .unwrap();
    let mut events = client.events();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !client.servers().iter().any(|s| s.port() == plain_port) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the plain node discovered");
    round_trip(&client).await;

    // The TLS node goes away: the only other server is the plain one, and the client must
    // refuse it before CONNECT, each time, saying why.
    cluster.node(0).stop();
    for _ in 0..2 {
        let err = refusal_event(&mut events, plain_port).await;
        let text = format!("{err} {err:?}");
        assert!(err.is_tls_error(), "{text}");
        assert!(
            text.contains("an earlier connection of this client used TLS")
                && text.contains("does not offer TLS"),
            "{text}"
        );
        assert!(!text.contains("s3cret-pw"), "secret in an event: {text}");
    }
    assert_ne!(client.connection_state(), ConnectionState::Connected);
    let log = cluster.node(1).log();
    assert!(
        client_connects(&log).is_empty(),
        "the client sent CONNECT to the plain node:\n{}",
        client_connects(&log).join("\n")
    );

    // The TLS node comes back: the client returns to it, over TLS, with its subscription.
    let mut sub = client.subscribe("downgrade.check").await.unwrap();
    cluster.node(0).restart();
    let server =
        crate::wait_event(&mut events, 15, |e| matches!(e, Event::Reconnected { .. })).await;
    let Event::Reconnected { server } = server else {
        unreachable!()
    };
    assert_eq!(server.port(), tls_port);
    client
        .publish("downgrade.check", "back on tls")
        .await
        .unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "back on tls");

    // The check above can fail: a client that never used TLS does CONNECT to the plain
    // node, and the trace shows it.
    let plain = options()
        .connect(format!("nats://alice:s3cret-pw@127.0.0.1:{plain_port}"))
        .await
        .unwrap();
    plain.flush().await.unwrap();
    let log = cluster.node(1).log();
    assert_eq!(client_connects(&log).len(), 1, "{log}");
    assert!(client.statistics().reconnects >= 1);
}

#[tokio::test]
async fn a_tls_address_in_the_pool_makes_every_server_tls() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let secure = tls_server(&ca, &["localhost"], "");
    let plain = NatsServer::builder().config("trace: true\n").start();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = write(dir.path(), "ca.pem", &ca.pem);
    let pool = |tls_port: u16| {
        vec![
            format!("nats://127.0.0.1:{}", plain.port()),
            format!("tls://localhost:{tls_port}"),
        ]
    };
    // The plain server is tried first (order kept) and refused: the pool names a tls:// one.
    let client = options()
        .add_root_certificates(&ca_path)
        .retain_servers_order(true)
        .connect(pool(secure.port()))
        .await
        .unwrap();
    assert_eq!(client.connected_server().unwrap().port(), secure.port());
    round_trip(&client).await;
    // With the TLS server unreachable, the error says why the plain one was refused.
    let err = options()
        .add_root_certificates(&ca_path)
        .retain_servers_order(true)
        .connect(pool(crate::free_port()))
        .await
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("the client was given a tls:// or wss:// address")
            && text.contains("does not offer TLS"),
        "{text}"
    );
    assert!(client_connects(&plain.log()).is_empty(), "{}", plain.log());
}
