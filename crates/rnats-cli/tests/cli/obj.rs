//! obj commands.

use rnats_test::NatsServer;

use crate::common::{finish, mask_from, Cli};

#[test]
fn obj_lifecycle() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("data.bin");
    // Several chunks (128 KiB each), not a multiple of the chunk size.
    let data: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    cli.ok(["obj", "add", "FILES", "--description", "docs"]);
    cli.ok(["obj", "put", "FILES", src.to_str().unwrap()]);
    let mut put = cli
        .cmd(["obj", "put", "FILES", "-", "--name", "greet.txt"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut put.stdin.take().unwrap(), b"hello").unwrap();
    assert!(put.wait().unwrap().success());
    insta::assert_snapshot!(cli.ok(["obj", "ls"]), @r"
    BUCKET       SIZE  SEALED  TTL        DESCRIPTION
    FILES   977.7 KiB  false   unlimited  docs
    ");
    insta::assert_snapshot!(mask_from(&cli.ok(["obj", "ls", "FILES"]), "MODIFIED"), @r"
    NAME            SIZE  CHUNKS  ~
    data.bin   976.6 KiB       8  ~
    greet.txt        5 B       1  ~
    ");
    let info = cli.ok(["obj", "info", "FILES", "data.bin"]);
    assert!(info.contains("Digest: SHA-256="), "{info}");
    assert_eq!(
        cli.ok(["obj", "get", "FILES", "greet.txt", "-O", "-"]),
        "hello"
    );
    let dst = dir.path().join("copy.bin");
    cli.ok([
        "obj",
        "get",
        "FILES",
        "data.bin",
        "-O",
        dst.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let status: serde_json::Value =
        serde_json::from_str(&cli.ok(["obj", "info", "FILES", "--json"])).unwrap();
    assert_eq!(status["sealed"], false);
    cli.ok(["obj", "rm", "FILES", "greet.txt"]);
    let err = cli.fails(["obj", "get", "FILES", "greet.txt", "-O", "-"]);
    assert!(
        err.contains("not found") && err.contains("rnats obj ls BUCKET"),
        "{err}"
    );
    cli.ok(["obj", "seal", "FILES"]);
    let err = cli.fails([
        "obj",
        "put",
        "FILES",
        src.to_str().unwrap(),
        "--name",
        "again",
    ]);
    assert!(err.contains("sealed"), "{err}");
    cli.ok(["obj", "rm", "FILES"]);
    assert_eq!(cli.ok(["obj", "ls", "--json"]).trim(), "[]");
}

#[test]
fn obj_watch_and_errors() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    let err = cli.fails(["obj", "ls", "NOPE"]);
    assert!(
        err.contains("not found") && err.contains("rnats obj ls"),
        "{err}"
    );
    let err = cli.fails(["obj", "put", "NOPE", "/definitely/not/here"]);
    assert!(err.contains("not found"), "{err}");
    cli.ok(["obj", "add", "W"]);
    let err = cli.fails(["obj", "put", "W", "/definitely/not/here"]);
    assert!(err.contains("cannot open"), "{err}");
    let watch = cli.spawn_ready(
        ["obj", "watch", "W", "--count", "1"],
        "Watching for updates",
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.txt");
    std::fs::write(&f, "xyz").unwrap();
    cli.ok(["obj", "put", "W", f.to_str().unwrap()]);
    let out = finish(watch);
    assert!(out.trim_end().ends_with("PUT W > x.txt: 3 B"), "{out}");
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    insta::assert_snapshot!("help_obj", cli.ok(["obj", "--help"]));
}
