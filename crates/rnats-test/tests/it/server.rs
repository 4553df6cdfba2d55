use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use rnats_test::{nats_server_bin, NatsServer, Signal};

use crate::{eventually, process_exists, Conn};

#[test]
fn the_binary_is_found() {
    assert!(nats_server_bin().is_file());
}

#[test]
fn a_started_server_greets_with_info_on_its_port() {
    let server = NatsServer::start();
    assert!(server.is_running());
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert_eq!(server.client_url(), server.url());

    let mut line = String::new();
    let stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connecting");
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("reading the greeting");
    assert!(line.starts_with("INFO {"), "greeting: {line}");
    assert!(line.ends_with("\r\n"), "greeting: {line:?}");

    let info = server.info();
    assert!(
        info.contains(&format!("\"port\":{}", server.port())),
        "{info}"
    );
    assert!(info.contains("\"host\":\"127.0.0.1\""), "{info}");
    assert!(!info.contains("\"jetstream\":true"), "{info}");
    assert!(server.store_dir().is_none());
}

#[test]
fn a_server_speaks_the_protocol() {
    let server = NatsServer::start();
    let mut sub = Conn::connect(server.port());
    sub.send("SUB greet 1\r\n");
    sub.ping();
    let mut publisher = Conn::connect(server.port());
    publisher.send("PUB greet 5\r\nhello\r\n");
    publisher.ping();
    assert_eq!(sub.line().expect("MSG"), "MSG greet 1 5");
    assert_eq!(sub.line().expect("payload"), "hello");
}

#[test]
fn output_goes_to_the_log_file_not_the_test_output() {
    let server = NatsServer::start();
    assert!(server.log_path().starts_with(server.dir()));
    assert!(server.log().contains("Server is ready"), "{}", server.log());
}

#[test]
fn restart_keeps_the_port() {
    let server = NatsServer::start();
    let (port, pid) = (server.port(), server.pid());
    server.restart();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), pid);
    assert!(!process_exists(pid), "the old process {pid} was not reaped");
    assert!(server.info().contains(&format!("\"port\":{port}")));
    // Both runs are in the one log, each after a marker line.
    assert_eq!(server.log().matches("--- rnats-test: starting").count(), 2);
}

#[test]
fn stop_then_restart() {
    let server = NatsServer::start();
    let pid = server.pid();
    server.stop();
    assert!(!server.is_running());
    assert!(!process_exists(pid));
    assert!(TcpStream::connect(("127.0.0.1", server.port())).is_err());
    server.stop(); // stopping twice is harmless
    server.restart();
    assert!(server.is_running());
    server.info();
}

#[test]
fn drop_kills_and_reaps_the_process() {
    let server = NatsServer::start();
    let (pid, port, dir) = (server.pid(), server.port(), server.dir().to_path_buf());
    assert!(process_exists(pid));
    drop(server);
    assert!(
        !process_exists(pid),
        "process {pid} still exists after drop"
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(
        !dir.exists(),
        "temporary directory {} left behind",
        dir.display()
    );
}

#[test]
fn a_jetstream_server_says_so_in_info() {
    let server = NatsServer::start_jetstream();
    let info = server.info();
    assert!(info.contains("\"jetstream\":true"), "{info}");
    let store = server
        .store_dir()
        .expect("a JetStream server has a store dir");
    assert!(store.starts_with(server.dir()));
    assert!(store.join("jetstream").is_dir());
}

#[test]
fn a_jetstream_restart_keeps_the_store() {
    let server = NatsServer::builder().jetstream(true).start();
    let mut conn = Conn::connect(server.port());
    let config = r#"{"name":"KEPT","subjects":["kept.>"]}"#;
    conn.send(&format!(
        "SUB _INBOX.r 1\r\nPUB $JS.API.STREAM.CREATE.KEPT _INBOX.r {}\r\n{config}\r\n",
        config.len()
    ));
    assert!(conn.line().expect("MSG").starts_with("MSG _INBOX.r 1 "));
    let reply = conn.line().expect("payload");
    assert!(reply.contains("\"type\":\"io.nats.jetstream.api.v1.stream_create_response\""));
    assert!(!reply.contains("\"error\""), "{reply}");
    drop(conn);

    server.restart();
    let mut conn = Conn::connect(server.port());
    conn.send("SUB _INBOX.r 1\r\nPUB $JS.API.STREAM.NAMES _INBOX.r 0\r\n\r\n");
    conn.line().expect("MSG");
    let names = conn.line().expect("payload");
    assert!(
        names.contains("\"KEPT\""),
        "stream lost over restart: {names}"
    );
}

#[test]
fn a_config_file_is_used() {
    let server = NatsServer::builder()
        .config("max_payload: 4096\nauthorization { token: s3cret }\n")
        .start();
    let info = server.info();
    assert!(info.contains("\"max_payload\":4096"), "{info}");
    assert!(info.contains("\"auth_required\":true"), "{info}");
    let config = server.config_path().expect("a config path");
    assert!(config.starts_with(server.dir()));
}

#[test]
fn files_and_args_reach_the_server() {
    let server = NatsServer::builder()
        .file("certs/note.txt", "kept")
        .args(["--no_advertise=true"])
        .arg("-D")
        .start();
    let note = server.dir().join("certs/note.txt");
    assert_eq!(
        std::fs::read_to_string(note).expect("reading the file"),
        "kept"
    );
    assert!(server.log().contains("[DBG]"), "{}", server.log());
}

#[test]
fn a_fixed_port_is_used() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
    let port = free.local_addr().expect("address").port();
    drop(free);
    let server = NatsServer::builder().port(port).start();
    assert_eq!(server.port(), port);
    server.info();
}

#[test]
fn a_taken_fixed_port_fails_with_the_log() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
    let port = taken.local_addr().expect("address").port();
    let panic = std::panic::catch_unwind(|| NatsServer::builder().port(port).start())
        .expect_err("the start should fail");
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(message.contains("address already in use"), "{message}");
}

#[test]
fn monitoring_answers_http() {
    let server = NatsServer::builder().monitoring(true).start();
    assert!(server.monitor_port().is_some());
    let varz = server.http_get("/varz");
    assert!(varz.contains("\"server_id\""), "{varz}");
    assert!(NatsServer::start().monitor_port().is_none());
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let server = NatsServer::start();
    server.pause();
    // The kernel still accepts the connection, but nobody says INFO.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("setting a timeout");
    let err = stream
        .read(&mut [0; 64])
        .expect_err("a frozen server is silent");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert!(server.is_running());
    server.resume();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("setting a timeout");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("INFO after resume");
    assert!(line.starts_with("INFO "), "{line}");
}

#[test]
fn lame_duck_mode_ends_the_server() {
    // Under load the server may not yet have noticed the close of the harness' readiness
    // probe; with a client left it waits the grace period (10 s by default) before closing.
    let server = NatsServer::builder()
        .config("lame_duck_grace_period: \"200ms\"\n")
        .start();
    server.lame_duck();
    assert!(server.wait_for_exit(Duration::from_secs(20)));
    assert!(!server.is_running());
    assert!(server.log().contains("lame duck mode"), "{}", server.log());
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let server = NatsServer::start();
    server.kill_signal(Signal::Term);
    assert!(eventually(Duration::from_secs(10), || !server.is_running()));
    assert!(server.log().contains("Server Exiting"), "{}", server.log());
}

#[test]
fn a_frozen_server_is_killed_on_drop() {
    let server = NatsServer::start();
    let pid = server.pid();
    server.pause();
    drop(server);
    assert!(!process_exists(pid));
}

#[test]
fn reload_rereads_the_config_file() {
    let server = NatsServer::builder().config("max_payload: 4096\n").start();
    let config = server.config_path().expect("a config path");
    std::fs::write(config, "max_payload: 8192\n").expect("rewriting the config");
    server.reload();
    assert!(
        eventually(Duration::from_secs(10), || server
            .info()
            .contains("\"max_payload\":8192")),
        "{}",
        server.log()
    );
}

/// The environment variable that turns [`orphan_helper`] from a no-op into a server holder.
const ORPHAN_HELPER_ENV: &str = "RNATS_TEST_ORPHAN_HELPER";

/// Passes at once unless run as the child of
/// [`a_test_process_killed_outright_takes_its_servers_along`]: then it starts a server,
/// prints its pid and waits to be killed.
#[test]
fn orphan_helper() {
    if std::env::var_os(ORPHAN_HELPER_ENV).is_none() {
        return;
    }
    let server = NatsServer::start();
    println!("server dir {}", server.dir().display());
    println!("server pid {}", server.pid());
    std::io::stdout().flush().expect("flushing stdout");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_test_process_killed_outright_takes_its_servers_along() {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut helper = Command::new(exe)
        .args(["--exact", "server::orphan_helper", "--nocapture"])
        .env(ORPHAN_HELPER_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running the test binary again");
    let stdout = helper.stdout.take().expect("the helper's stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let dir = lines
        .find_map(|line| Some(PathBuf::from(line.strip_prefix("server dir ")?)))
        .expect("the helper prints its server's directory");
    let pid: u32 = lines
        .find_map(|line| line.strip_prefix("server pid ")?.parse().ok())
        .expect("the helper prints its server's pid");
    assert!(process_exists(pid));

    // SIGKILL: no unwinding, no Drop. The watchdog must do the job.
    helper.kill().expect("killing the helper");
    helper.wait().expect("reaping the helper");
    // Nothing ran the helper's destructors: its temporary directory is left to us.
    std::fs::remove_dir_all(&dir).expect("removing the helper's server directory");
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('Z')))
            .is_some_and(|zombie| !zombie)
    };
    assert!(
        eventually(Duration::from_secs(10), || !alive()),
        "nats-server {pid} outlived its killed test process"
    );
}
