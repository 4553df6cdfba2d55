//! Contexts, NKeys, creds and TLS flags.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rnats_test::NatsServer;

use crate::common::{text, Cli};

#[test]
fn contexts_add_ls_select_and_override() {
    let server = NatsServer::start();
    let cli = Cli::bare();
    cli.ok([
        "context",
        "add",
        "local",
        "--server",
        &server.url(),
        "--description",
        "the test server",
    ]);
    // The first context is selected: commands use it without --server.
    cli.ok(["pub", "x", "y"]);
    // "remote": a loopback port nobody listens on (tests never leave the machine).
    let dead = rnats_test::free_ports(1)[0];
    let remote = format!("nats://alice:pw-ctx-secret@127.0.0.1:{dead}");
    cli.ok([
        "context",
        "add",
        "remote",
        "--server",
        &remote,
        "--user",
        "bob",
        "--password",
        "pw-ctx-secret",
        "--token",
        "tok-ctx-secret",
    ]);
    let file = cli.config_dir().join("rnats").join("contexts.json");
    assert!(file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let ls = cli.ok(["context", "ls"]);
    assert!(
        ls.contains("local*") && ls.contains(&format!("nats://***@127.0.0.1:{dead}")),
        "{ls}"
    );
    let json = cli.ok(["context", "ls", "--json"]);
    assert!(!json.contains("secret"), "{json}");
    assert!(!ls.contains("secret"));

    // Selecting the unreachable one makes commands fail; --context and --server override it.
    cli.ok(["context", "select", "remote"]);
    let out = cli.run(["pub", "x", "y", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !text(&out.stderr).contains("secret"),
        "{}",
        text(&out.stderr)
    );
    cli.ok(["pub", "x", "y", "--context", "local"]);
    let ok = cli
        .cmd(["pub", "x", "y"])
        .env("NATS_CONTEXT", "local")
        .output()
        .unwrap();
    assert!(ok.status.success());

    let err = cli.fails(["context", "select", "nope"]);
    assert!(
        err.contains("unknown context") && err.contains("rnats context ls"),
        "{err}"
    );
    let err = cli.fails(["pub", "x", "y", "--context", "nope"]);
    assert!(err.contains("unknown context"), "{err}");
    cli.ok(["context", "rm", "remote"]);
    cli.ok(["context", "select", "local"]);
    cli.ok(["pub", "x", "y"]);
}

#[test]
fn context_table() {
    let cli = Cli::bare();
    cli.ok([
        "context",
        "add",
        "a",
        "--server",
        "nats://127.0.0.2:4222",
        "--description",
        "first",
    ]);
    cli.ok([
        "context",
        "add",
        "b",
        "--server",
        "nats://u:p-secret@127.0.0.3:4222",
        "--user",
        "u",
        "--password",
        "p-secret",
    ]);
    cli.ok(["context", "add", "c", "--creds", "/x.creds", "--select"]);
    insta::assert_snapshot!(cli.ok(["context", "ls"]), @r"
    NAME  SERVER                     AUTH   DESCRIPTION
    a     nats://127.0.0.2:4222      none   first
    b     nats://***@127.0.0.3:4222  user
    c*    nats://127.0.0.1:4222      creds
    ");
}

#[test]
fn broken_context_file_is_reported() {
    let cli = Cli::bare();
    let dir = cli.config_dir().join("rnats");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("contexts.json"), "{ not json").unwrap();
    let err = cli.fails(["context", "ls"]);
    assert!(err.contains("contexts.json"), "{err}");
}

/// The public example seed of the NKeys spec, and its public key.
const USER_SEED: &str = "SUAOY5JZ2WJKVR4UO2KJ2P3SW6FZFNWEOIMAXF4WZEUNVQXXUOKGM55CYE";
const USER_PUB: &str = "UDXB2VMLXPASAJ7ZDTKYNQ7QOCFWSGB4FOMYQQ25HQWSAF7ZQJEBSQSW";

#[test]
fn nkey_and_creds_files() {
    let server = NatsServer::builder()
        .file("user.nk", USER_SEED)
        .config(&format!(
            "authorization {{ users = [ {{ nkey: {USER_PUB:?} }} ] }}"
        ))
        .start();
    let cli = Cli::new(server.url());
    let seed = server.dir().join("user.nk");
    cli.ok(["pub", "x", "y", "--nkey", seed.to_str().unwrap()]);
    let err = cli.fails(["pub", "x", "y"]);
    assert!(err.contains("--nkey"), "{err}");
    let err = cli.fails(["pub", "x", "y", "--creds", "/definitely/missing.creds"]);
    assert!(err.contains("missing.creds"), "{err}");
}

/// A server in operator mode: `--creds` with a user of its account connects and works; a
/// user of another account is refused, with the credentials hint and no secret printed.
#[test]
fn creds_connect_in_operator_mode() {
    let op = rnats_test::jwt::Operator::new();
    let server = op.server();
    let cli = Cli::new(server.url());
    let creds = server.dir().join("user.creds");
    std::fs::write(&creds, op.creds()).unwrap();
    let creds = creds.to_str().unwrap();
    cli.ok(["pub", "x", "y", "--creds", creds]);
    let info = cli.ok(["server", "info", "--creds", creds, "--json"]);
    assert!(info.contains("\"server_id\""), "{info}");

    let stranger = server.dir().join("stranger.creds");
    let other = rnats_test::jwt::Operator::new().creds();
    std::fs::write(&stranger, &other).unwrap();
    let err = cli.fails(["pub", "x", "y", "--creds", stranger.to_str().unwrap()]);
    assert!(err.contains("hint"), "{err}");
    let seed = other
        .lines()
        .find(|l| l.starts_with("SU"))
        .expect("a user seed in the creds");
    assert!(!err.contains(seed), "the seed leaked: {err}");
}

/// A CA: its PEM, certificate and key.
struct Ca {
    pem: String,
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new() -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "rnats-cli test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            cert,
            key,
        }
    }

    /// (certificate PEM, key PEM).
    fn issue(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

fn tls_server(ca: &Ca, extra: &str, first: bool) -> NatsServer {
    let (cert, key) = ca.issue("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
    NatsServer::builder()
        .file("ca.pem", &ca.pem)
        .file("server-cert.pem", cert)
        .file("server-key.pem", key)
        .tls_first(first)
        .config(&format!(
            "tls {{ cert_file: \"server-cert.pem\"\n key_file: \"server-key.pem\"\n ca_file: \"ca.pem\"\n timeout: 2\n {extra} }}"
        ))
        .start()
}

#[test]
fn tls_ca_client_certificate_and_handshake_first() {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);
    let (cert, key) = ca.issue("client", ExtendedKeyUsagePurpose::ClientAuth);
    let cert_file = write(dir.path(), "client.pem", &cert);
    let key_file = write(dir.path(), "client-key.pem", &key);

    let server = tls_server(&ca, "", false);
    let url = format!("tls://127.0.0.1:{}", server.port());
    let cli = Cli::new(url);
    cli.ok(["pub", "x", "y", "--tlsca", &ca_file]);
    // Without the CA the server's certificate is not trusted.
    let err = cli.fails(["pub", "x", "y"]);
    assert!(err.contains("--tlsca"), "{err}");

    let mutual = tls_server(&ca, "verify: true", false);
    let cli = Cli::new(format!("tls://127.0.0.1:{}", mutual.port()));
    cli.ok([
        "pub",
        "x",
        "y",
        "--tlsca",
        &ca_file,
        "--tlscert",
        &cert_file,
        "--tlskey",
        &key_file,
    ]);
    let out = cli.run(["pub", "x", "y", "--tlsca", &ca_file]);
    assert_eq!(out.status.code(), Some(1));
    let err = cli.fails(["pub", "x", "y", "--tlscert", &cert_file]);
    assert!(err.contains("--tlskey"), "{err}");

    let first = tls_server(&ca, "handshake_first: true", true);
    let cli = Cli::new(format!("tls://127.0.0.1:{}", first.port()));
    cli.ok(["pub", "x", "y", "--tlsca", &ca_file, "--tlsfirst"]);
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    insta::assert_snapshot!("help_context", cli.ok(["context", "--help"]));
}
