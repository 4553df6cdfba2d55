//! pub, sub, req, reply; connection flags, errors and exit codes.

use std::io::{BufRead, BufReader};

use rnats_test::NatsServer;

use crate::common::{finish, text, Cli};

#[test]
fn pub_sub_with_headers_template_and_count() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let sub = cli.spawn_ready(["sub", "orders.>", "--count", "2"], "Subscribing on");
    cli.ok([
        "pub",
        "orders.new",
        "n={{Count}}",
        "--count",
        "2",
        "-H",
        "Trace:7",
    ]);
    insta::assert_snapshot!(finish(sub), @r#"
    [#1] Received on "orders.new"
    Trace: 7

    n=1

    [#2] Received on "orders.new"
    Trace: 7

    n=2

    "#);
}

#[test]
fn sub_raw_and_json() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let raw = cli.spawn_ready(["sub", "x", "--count", "1", "--raw"], "Subscribing");
    let json = cli.spawn_ready(["sub", "x", "--count", "1", "--json"], "Subscribing");
    cli.ok(["pub", "x", "hello", "-H", "A:1"]);
    assert_eq!(finish(raw), "hello\n");
    let line = finish(json);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["subject"], "x");
    assert_eq!(v["data"], "hello");
    assert_eq!(v["headers"]["A"][0], "1");
}

#[test]
fn pub_reads_stdin() {
    use std::io::Write;
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let sub = cli.spawn_ready(["sub", "in", "--count", "1", "--raw"], "Subscribing");
    let mut child = cli
        .cmd(["pub", "in"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(finish(sub), "from stdin\n");
}

#[test]
fn queue_group_shares_messages() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let a = cli.spawn_ready(
        ["sub", "q", "-q", "g", "--count", "1", "--raw"],
        "Subscribing",
    );
    let b = cli.spawn_ready(
        ["sub", "q", "-q", "g", "--count", "1", "--raw"],
        "Subscribing",
    );
    // The server picks one member per message: publish until both got one and exited.
    let (mut a, mut b) = (Some(a), Some(b));
    let mut got = Vec::new();
    while a.is_some() || b.is_some() {
        cli.ok(["pub", "q", "m"]);
        for child in [&mut a, &mut b] {
            if let Some(c) = child {
                if c.try_wait().unwrap().is_some() {
                    got.push(finish(child.take().unwrap()));
                }
            }
        }
    }
    assert_eq!(got, ["m\n", "m\n"]);
}

#[test]
fn req_reply_echo_template_and_command() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let echo = cli.spawn_ready(["reply", "echo", "--count", "1"], "Listening");
    assert_eq!(cli.ok(["req", "echo", "ping", "--raw"]), "ping\n");
    finish(echo);

    let tpl = cli.spawn_ready(
        ["reply", "tpl", "got {{Request}} #{{Count}}", "--count", "1"],
        "Listening",
    );
    assert_eq!(cli.ok(["req", "tpl", "x", "--raw"]), "got x #1\n");
    finish(tpl);

    let cmd = cli.spawn_ready(
        [
            "reply",
            "up",
            "--command",
            "tr a-z A-Z",
            "--count",
            "1",
            "-H",
            "K:v",
        ],
        "Listening",
    );
    let out = cli.ok(["req", "up", "shout"]);
    assert_eq!(out, "K: v\n\nSHOUT\n");
    finish(cmd);
}

#[test]
fn req_json_and_headers_reach_the_replier() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let sub = cli.spawn_ready(["sub", "svc", "--count", "1", "--json"], "Subscribing");
    let rep = cli.spawn_ready(["reply", "svc", "ok", "--count", "1"], "Listening");
    let out = cli.ok(["req", "svc", "body", "-H", "Who:me", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["data"], "ok");
    let seen: serde_json::Value = serde_json::from_str(finish(sub).trim()).unwrap();
    assert_eq!(seen["headers"]["Who"][0], "me");
    assert!(seen["reply"].as_str().unwrap().starts_with("_INBOX."));
    finish(rep);
}

#[test]
fn req_without_responders_fails_with_a_hint() {
    let server = NatsServer::start();
    let err = Cli::new(server.url()).fails(["req", "nobody.home", "x"]);
    assert!(err.contains("no responders"), "{err}");
    assert!(err.contains("nobody listens"), "{err}");
}

#[test]
fn bad_subject_and_bad_header_fail() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let err = cli.fails(["pub", "bad subject", "x"]);
    assert!(err.contains("invalid subject"), "{err}");
    let err = cli.fails(["sub", "a..b"]);
    assert!(err.contains("empty token"), "{err}");
    let err = cli.fails(["pub", "ok", "x", "-H", "nocolon"]);
    assert!(err.contains("invalid header"), "{err}");
}

#[test]
fn no_server_fails_with_a_hint() {
    let port = rnats_test::free_ports(1)[0];
    let cli = Cli::new(format!("nats://127.0.0.1:{port}"));
    let err = cli.fails(["pub", "x", "y"]);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains("--server or NATS_URL"), "{err}");
}

#[test]
fn bad_server_url_fails_with_a_hint() {
    let err = Cli::bare().fails(["pub", "x", "y", "--server", "nats://bad host:1"]);
    assert!(err.contains("nats://host:4222"), "{err}");
}

#[test]
fn server_flag_wins_over_env() {
    let server = NatsServer::start();
    let port = rnats_test::free_ports(1)[0];
    let cli = Cli::new(format!("nats://127.0.0.1:{port}"));
    cli.ok(["pub", "x", "y", "--server", &server.url()]);
}

#[test]
fn user_password_and_refused_credentials() {
    let server = NatsServer::builder()
        .config(r#"authorization { user: "alice", password: "pw-right-secret" }"#)
        .start();
    let cli = Cli::new(server.url());
    cli.ok([
        "pub",
        "x",
        "y",
        "--user",
        "alice",
        "--password",
        "pw-right-secret",
    ]);
    let out = cli.run([
        "pub",
        "x",
        "y",
        "--user",
        "alice",
        "--password",
        "pw-wrong-secret",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("--user/--password"), "{err}");
    assert!(!err.contains("pw-wrong-secret"), "{err}");
    // Credentials in the URL are not printed either.
    let url = format!("nats://alice:pw-url-secret@127.0.0.1:{}", server.port());
    let out = cli.run(["pub", "x", "y", "--server", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(!err.contains("pw-url-secret"), "{err}");
    // The environment works like the flags.
    let ok = cli
        .cmd(["pub", "x", "y"])
        .env("NATS_USER", "alice")
        .env("NATS_PASSWORD", "pw-right-secret")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stderr));
}

#[test]
fn token_auth() {
    let server = NatsServer::builder()
        .config(r#"authorization { token: "tok-secret" }"#)
        .start();
    let cli = Cli::new(server.url());
    cli.ok(["pub", "x", "y", "--token", "tok-secret"]);
    let err = cli.fails(["pub", "x", "y", "--token", "tok-wrong"]);
    assert!(!err.contains("tok-wrong"), "{err}");
}

#[test]
fn closed_pipe_exits_zero() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let mut sub = cli.spawn_ready(["sub", "flood", "--raw"], "Subscribing");
    let stdout = sub.stdout.take().unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(stdout);
    // Publish until the subscriber printed a line, then close its stdout like `head -1`.
    cli.ok(["pub", "flood", "x", "--count", "1"]);
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "x\n");
    drop(reader);
    // More messages: the next write hits the closed pipe and the tool exits 0.
    loop {
        cli.ok(["pub", "flood", "x", "--count", "10"]);
        if let Some(status) = sub.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn usage_errors_exit_two() {
    let cli = Cli::bare();
    let out = cli.run(["pub"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(text(&out.stderr), @"error: the following required arguments were not provided: <SUBJECT> (hint: Usage: rnats pub <SUBJECT> [BODY])");
    let out = cli.run(["req", "x", "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid duration"));
    assert_eq!(text(&out.stderr).lines().count(), 1);
    let out = cli.run(["subb"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("similar subcommands exist"),
        "{}",
        text(&out.stderr)
    );
    // Help and version are not errors.
    let out = cli.run(["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("rnats {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    for cmd in ["pub", "sub", "req", "reply"] {
        insta::assert_snapshot!(format!("help_{cmd}"), cli.ok([cmd, "--help"]));
    }
}

#[test]
fn headers_only_and_a_failing_command() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let sub = cli.spawn_ready(
        ["sub", "h", "--count", "1", "--headers-only"],
        "Subscribing",
    );
    cli.ok(["pub", "h", "secret body", "-H", "A:1", "-H", "B:2"]);
    assert_eq!(finish(sub), "[#1] Received on \"h\"\nA: 1\nB: 2\n\n");

    // A command that fails answers nothing (the request times out) and the replier goes on.
    let rep = cli.spawn_ready(
        [
            "reply",
            "cmd",
            "--command",
            "read x; test \"$x\" = ok && echo fine",
            "--count",
            "1",
        ],
        "Listening",
    );
    let err = cli.fails(["req", "cmd", "bad", "--timeout", "300ms"]);
    assert!(
        err.contains("timed out") || err.contains("timeout"),
        "{err}"
    );
    assert_eq!(cli.ok(["req", "cmd", "ok", "--raw"]), "fine\n\n");
    finish(rep);
}
