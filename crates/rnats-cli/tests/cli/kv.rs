//! kv commands.

use rnats_test::NatsServer;

use crate::common::{finish, mask_from, Cli};

#[test]
fn kv_lifecycle() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    cli.ok(["kv", "add", "CFG", "--history", "5"]);
    cli.ok(["kv", "add", "OTHER", "--ttl", "1h"]);
    assert_eq!(cli.ok(["kv", "put", "CFG", "a", "1"]), "1\n");
    assert_eq!(cli.ok(["kv", "put", "CFG", "a", "2"]), "2\n");
    cli.ok(["kv", "put", "CFG", "b.c", "x"]);
    insta::assert_snapshot!(cli.ok(["kv", "ls"]), @r"
    BUCKET  VALUES   SIZE  HISTORY  TTL
    CFG          3  122 B        5  unlimited
    OTHER        0    0 B        1  1h
    ");
    assert_eq!(cli.ok(["kv", "get", "CFG", "a", "--raw"]), "2\n");
    assert_eq!(
        cli.ok(["kv", "get", "CFG", "a", "--revision", "1", "--raw"]),
        "1\n"
    );
    let got = cli.ok(["kv", "get", "CFG", "a"]);
    assert!(got.starts_with("CFG > a revision 2 created "), "{got}");
    let v: serde_json::Value =
        serde_json::from_str(&cli.ok(["kv", "get", "CFG", "b.c", "--json"])).unwrap();
    assert_eq!(v["data"], "x");
    assert_eq!(v["revision"], 3);
    insta::assert_snapshot!(mask_from(&cli.ok(["kv", "history", "CFG", "a"]), "CREATED"), @r"
    KEY  REVISION  OP   LENGTH  VALUE  ~
    a           1  PUT       1      1  ~
    a           2  PUT       1      2  ~
    ");
    assert_eq!(cli.ok(["kv", "keys", "CFG"]), "a\nb.c\n");
    assert_eq!(cli.ok(["kv", "keys", "CFG", "b.*"]), "b.c\n");
    cli.ok(["kv", "del", "CFG", "a"]);
    let err = cli.fails(["kv", "get", "CFG", "a"]);
    assert!(err.contains("was deleted"), "{err}");
    assert_eq!(cli.ok(["kv", "keys", "CFG"]), "b.c\n");
    cli.ok(["kv", "purge", "CFG", "b.c"]);
    assert_eq!(cli.ok(["kv", "keys", "CFG", "--json"]).trim(), "[]");
    cli.ok(["kv", "rm", "OTHER"]);
    cli.ok(["kv", "rm", "CFG"]);
}

#[test]
fn kv_watch_sees_values_then_updates() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    cli.ok(["kv", "add", "W"]);
    cli.ok(["kv", "put", "W", "k1", "old"]);
    let watch = cli.spawn_ready(["kv", "watch", "W", "--count", "2"], "Watching for updates");
    cli.ok(["kv", "put", "W", "k2", "new"]);
    let out = finish(watch);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].ends_with("PUT W > k1: old"), "{out}");
    assert!(lines[1].ends_with("PUT W > k2: new"), "{out}");
}

#[test]
fn kv_errors() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    let err = cli.fails(["kv", "get", "NOPE", "a"]);
    assert!(
        err.contains("not found") && err.contains("rnats kv ls"),
        "{err}"
    );
    cli.ok(["kv", "add", "B"]);
    let err = cli.fails(["kv", "get", "B", "missing"]);
    assert!(
        err.contains("not found") && err.contains("rnats kv keys"),
        "{err}"
    );
    let err = cli.fails(["kv", "put", "B", "bad key", "x"]);
    assert!(err.contains("invalid key"), "{err}");
    let err = cli.fails(["kv", "add", "bad.bucket"]);
    assert!(err.contains("cannot create bucket"), "{err}");
    let err = cli.fails(["kv", "history", "B", "missing"]);
    assert!(err.contains("no history"), "{err}");
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    insta::assert_snapshot!("help_kv", cli.ok(["kv", "--help"]));
}
