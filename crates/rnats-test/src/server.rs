//! One `nats-server` process: [`NatsServer`] and its builder.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::net;

/// How long a server gets to greet with INFO after being spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times [`NatsServerBuilder::start`] picks new ports after losing one to another
/// process between choosing it and the server binding it.
const PORT_ATTEMPTS: usize = 5;
/// Lines of server log quoted in panic messages.
const LOG_TAIL_LINES: usize = 40;

/// A running `nats-server` on 127.0.0.1, killed and reaped when dropped.
///
/// Should the test process die without dropping it (killed by a timeout, say), a small
/// `sh` watchdog kills the server, so no orphan keeps its port.
///
/// Its temporary directory holds the config file, the JetStream store and `server.log`
/// (the server's stdout and stderr; a restart appends). Methods take `&self`, so a server
/// can be shared, e.g. in an `Arc`, and still be restarted or signalled.
///
/// ```
/// use rnats_test::NatsServer;
///
/// let server = NatsServer::start();
/// let port = server.port();
/// server.restart();
/// assert_eq!(server.port(), port);
/// assert!(server.is_running());
/// ```
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    monitor_port: Option<u16>,
    config_path: Option<PathBuf>,
    store_dir: Option<PathBuf>,
    name: Option<String>,
    extra_args: Vec<OsString>,
    log_path: PathBuf,
    /// The client port does TLS before INFO: readiness is an accepted TCP connection.
    tls_first: bool,
    process: Mutex<Process>,
}

/// The current child process, if any, and the pid of the last one spawned.
#[derive(Debug)]
struct Process {
    child: Option<Child>,
    /// Kills the server if this process dies without running `Drop` (see [`spawn_watchdog`]).
    watchdog: Option<Child>,
    pid: u32,
}

/// Builder for a [`NatsServer`], from [`NatsServer::builder`]. Options not set are off.
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until .start()"]
pub struct NatsServerBuilder {
    jetstream: bool,
    config: Option<String>,
    files: Vec<(PathBuf, Vec<u8>)>,
    args: Vec<OsString>,
    port: Option<u16>,
    monitoring: bool,
    monitor_port: Option<u16>,
    name: Option<String>,
    tls_first: bool,
}

/// A signal [`NatsServer::kill_signal`] can send, with what `nats-server` does on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGSTOP`: freezes the process; sockets stay open but nothing is answered.
    Stop,
    /// `SIGCONT`: resumes a process frozen by [`Signal::Stop`].
    Cont,
    /// `SIGHUP`: the server reloads its config file.
    Hup,
    /// `SIGUSR1`: the server reopens its log file.
    Usr1,
    /// `SIGUSR2`: the server enters lame duck mode, then exits.
    Usr2,
    /// `SIGTERM`: graceful shutdown.
    Term,
    /// `SIGINT`: graceful shutdown.
    Int,
    /// `SIGQUIT`: the Go runtime dumps stacks and exits.
    Quit,
    /// `SIGKILL`: immediate death.
    Kill,
}

/// Why a start attempt failed; `port_in_use` says whether new ports may fix it.
#[derive(Debug)]
pub(crate) struct StartError {
    pub(crate) message: String,
    pub(crate) port_in_use: bool,
}

impl NatsServer {
    /// A builder for a server with non-default options.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }

    /// Starts a plain server (no JetStream, no config file) and waits until it is ready.
    ///
    /// # Panics
    ///
    /// As [`NatsServerBuilder::start`].
    pub fn start() -> NatsServer {
        NatsServer::builder().start()
    }

    /// Starts a server with JetStream enabled (store in its temporary directory) and waits
    /// until it is ready.
    ///
    /// # Panics
    ///
    /// As [`NatsServerBuilder::start`].
    pub fn start_jetstream() -> NatsServer {
        NatsServer::builder().jetstream(true).start()
    }

    /// The client port on 127.0.0.1. It stays the same across [`NatsServer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client URL, `nats://127.0.0.1:PORT`; the same as [`NatsServer::url`].
    pub fn client_url(&self) -> String {
        self.url()
    }

    /// The HTTP monitoring port, when monitoring is on (see
    /// [`NatsServerBuilder::monitoring`]; always on for cluster nodes).
    pub fn monitor_port(&self) -> Option<u16> {
        self.monitor_port
    }

    /// The process id of the current process, or of the last one if it was stopped.
    pub fn pid(&self) -> u32 {
        self.process().pid
    }

    /// The server name given with [`NatsServerBuilder::name`] (`n1`… for cluster nodes).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The server's temporary directory, also its working directory, so relative paths in a
    /// config file resolve here.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config file passed with `-c`, if the server was built with one.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The JetStream store directory (`-sd`), if JetStream was enabled with
    /// [`NatsServerBuilder::jetstream`].
    pub fn store_dir(&self) -> Option<&Path> {
        self.store_dir.as_deref()
    }

    /// The file that receives the server's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Everything the server has logged so far (every run, if it was restarted).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The JSON of the INFO line the server greets a new connection with.
    ///
    /// # Panics
    ///
    /// If the server cannot be reached or does not greet with INFO.
    pub fn info(&self) -> String {
        match net::probe_info(self.port, Duration::from_secs(5)) {
            Ok(Some(info)) => info,
            Ok(None) => panic!("{} did not greet with INFO", self.url()),
            Err(err) => panic!("reading INFO from {}: {err}", self.url()),
        }
    }

    /// `GET path` from the monitoring port (e.g. `"/varz"`, `"/connz?subs=1"`): the body.
    ///
    /// # Panics
    ///
    /// If monitoring is off, the request fails or the status is not 200.
    pub fn http_get(&self, path: &str) -> String {
        let port = self
            .monitor_port
            .expect("http_get needs monitoring: build the server with .monitoring(true)");
        match net::http_get(port, path) {
            Ok((200, body)) => body,
            Ok((status, body)) => panic!("GET {path} on port {port}: status {status}: {body}"),
            Err(err) => panic!("GET {path} on port {port}: {err}"),
        }
    }

    /// Whether the process is alive (a process frozen by [`Signal::Stop`] counts as alive).
    pub fn is_running(&self) -> bool {
        let mut process = self.process();
        match process.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(Ok(Some(_)) | Err(_)) => {
                process.child = None;
                end_watchdog(&mut process);
                false
            }
            None => false,
        }
    }

    /// Kills the server (`SIGKILL`) and waits for the process to end. Does nothing if it is
    /// not running. [`NatsServer::restart`] starts it again.
    pub fn stop(&self) {
        kill_and_reap(&mut self.process());
    }

    /// Kills the server if it is running, then starts it again with the same port, arguments
    /// and JetStream store, and waits until it is ready.
    ///
    /// # Panics
    ///
    /// If the server does not come back within 10 s (e.g. its port was taken meanwhile); the
    /// message includes the tail of its log.
    pub fn restart(&self) {
        let mut process = self.process();
        kill_and_reap(&mut process);
        if let Err(err) = self.spawn_and_wait(&mut process) {
            panic!("restarting nats-server: {}", err.message);
        }
    }

    /// Sends `signal` to the server process, with the system's `kill`.
    ///
    /// # Panics
    ///
    /// If the server is not running or `kill` fails.
    pub fn kill_signal(&self, signal: Signal) {
        assert!(
            self.is_running(),
            "kill_signal({signal:?}): the server is not running"
        );
        let pid = self.pid().to_string();
        // The shell's builtin `kill` exists wherever `sh` does, unlike a `kill` binary, and
        // takes the same portable signal names; unsafe libc calls are forbidden here.
        let status = Command::new("sh")
            .args(["-c", "kill -s \"$1\" \"$2\"", "sh", signal.name(), &pid])
            .status()
            .expect("running sh to send a signal");
        assert!(
            status.success(),
            "kill -s {} {pid} failed: {status}",
            signal.name()
        );
    }

    /// Freezes the server (`SIGSTOP`): connections stay open, nothing is answered.
    ///
    /// Unlike `kill_signal(Signal::Stop)`, returns only once every thread of the process is
    /// stopped (as `/proc` shows it), since signal delivery is asynchronous.
    ///
    /// # Panics
    ///
    /// If the server is not running, or is not seen stopped within 5 s.
    pub fn pause(&self) {
        self.kill_signal(Signal::Stop);
        let pid = self.pid();
        assert!(
            poll(Duration::from_secs(5), || thread_stopped_states(pid)
                .is_none_or(|states| states.iter().all(|stopped| *stopped))),
            "nats-server (pid {pid}) not stopped 5 s after SIGSTOP"
        );
    }

    /// Resumes a server frozen by [`NatsServer::pause`] (`SIGCONT`), returning once no
    /// thread of the process is seen stopped.
    ///
    /// # Panics
    ///
    /// If the server is not running, or is still seen stopped after 5 s.
    pub fn resume(&self) {
        self.kill_signal(Signal::Cont);
        let pid = self.pid();
        assert!(
            poll(Duration::from_secs(5), || thread_stopped_states(pid)
                .is_none_or(|states| !states.contains(&true))),
            "nats-server (pid {pid}) still stopped 5 s after SIGCONT"
        );
    }

    /// Puts the server in lame duck mode (`SIGUSR2`): it stops accepting, tells clients to
    /// go elsewhere, closes them over time and then exits.
    pub fn lame_duck(&self) {
        self.kill_signal(Signal::Usr2);
    }

    /// Makes the server reload its config file (`SIGHUP`); rewrite
    /// [`NatsServer::config_path`] first.
    pub fn reload(&self) {
        self.kill_signal(Signal::Hup);
    }

    /// Waits up to `timeout` for the process to exit on its own (after
    /// [`NatsServer::lame_duck`], say). Returns whether it did.
    pub fn wait_for_exit(&self, timeout: Duration) -> bool {
        poll(timeout, || !self.is_running())
    }

    /// The full argument list, as passed to the binary.
    fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-a".into(), "127.0.0.1".into()];
        args.extend(["-p".into(), self.port.to_string().into()]);
        if let Some(config) = &self.config_path {
            args.extend(["-c".into(), config.clone().into()]);
        }
        if let Some(store) = &self.store_dir {
            args.extend(["-js".into(), "-sd".into(), store.clone().into()]);
        }
        if let Some(port) = self.monitor_port {
            args.extend(["-m".into(), port.to_string().into()]);
        }
        if let Some(name) = &self.name {
            args.extend(["-n".into(), name.into()]);
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Spawns the process and waits until it greets with INFO (and serves monitoring).
    fn spawn_and_wait(&self, process: &mut Process) -> Result<(), StartError> {
        let args = self.args();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("opening the server log file");
        let mut command_line = self.bin.display().to_string();
        for arg in &args {
            let _ = write!(command_line, " {}", arg.to_string_lossy());
        }
        // Best effort: the marker only helps a human read a log spanning restarts.
        let _ = writeln!(log, "--- rnats-test: starting {command_line}");
        let stderr = log.try_clone().expect("duplicating the log file handle");
        let child = Command::new(&self.bin)
            .args(&args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("spawning {}: {err}", self.bin.display()));
        process.pid = child.id();
        process.watchdog = Some(spawn_watchdog(process.pid));
        let child = process.child.insert(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        let failure = loop {
            match child.try_wait() {
                Ok(Some(status)) => break format!("nats-server exited early ({status})"),
                Ok(None) => {}
                Err(err) => break format!("waiting on nats-server: {err}"),
            }
            if self.is_ready() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break format!("nats-server not ready after {READY_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        kill_and_reap(process);
        let log = self.log();
        Err(StartError {
            message: format!(
                "{failure}\ncommand: {command_line}\nlast lines of {}:\n{}",
                self.log_path.display(),
                tail(&log, LOG_TAIL_LINES)
            ),
            port_in_use: log.contains("address already in use"),
        })
    }

    /// Whether the client port greets with INFO and the monitoring port, if any, answers.
    fn is_ready(&self) -> bool {
        let info = if self.tls_first {
            std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from((net::HOST, self.port)),
                Duration::from_millis(500),
            )
            .is_ok()
        } else {
            matches!(
                net::probe_info(self.port, Duration::from_millis(500)),
                Ok(Some(_))
            )
        };
        info && self
            .monitor_port
            .is_none_or(|port| net::http_get(port, "/varz").is_ok_and(|(status, _)| status == 200))
    }

    fn process(&self) -> MutexGuard<'_, Process> {
        // A panic while the lock was held leaves nothing half-done worth refusing to touch.
        self.process.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if thread::panicking() {
            // The test failed: what the server said is likely part of why. Written with
            // `writeln!`, not `eprintln!`: a panic here (closed stderr) would abort the process
            // before the server is killed.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "--- rnats-test: last lines of the log of nats-server on port {}:\n{}",
                self.port,
                tail(&self.log(), 20)
            );
        }
        kill_and_reap(&mut self.process());
    }
}

impl NatsServerBuilder {
    /// Enables JetStream (`-js`), with its store in the server's temporary directory.
    pub fn jetstream(mut self, enabled: bool) -> Self {
        self.jetstream = enabled;
        self
    }

    /// A config file for the server (`-c`), written into its temporary directory. Command-line
    /// options the harness passes (`-a`, `-p`, `-js`, `-sd`, `-m`, `-n`) override the file.
    pub fn config(mut self, text: &str) -> Self {
        self.config = Some(text.to_owned());
        self
    }

    /// Writes a file (a certificate, a credentials file…) into the server's temporary
    /// directory before it starts; `name` is relative to that directory.
    pub fn file(mut self, name: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Self {
        self.files
            .push((name.as_ref().to_path_buf(), contents.as_ref().to_vec()));
        self
    }

    /// An extra command-line argument, passed after the harness' own.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Extra command-line arguments, passed after the harness' own.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// A fixed client port instead of a free one. The start is then not retried on another
    /// port if this one is taken.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Enables HTTP monitoring (`-m`) on a free port; see [`NatsServer::monitor_port`] and
    /// [`NatsServer::http_get`].
    pub fn monitoring(mut self, enabled: bool) -> Self {
        self.monitoring = enabled;
        self
    }

    /// The server name (`-n`), required by clustered JetStream.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Starts the server on 127.0.0.1 and waits until its client port greets with INFO.
    ///
    /// Free ports are chosen by binding port 0; if another process takes one before the
    /// server binds it, the start is retried on new ports.
    ///
    /// # Panics
    ///
    /// If there is no binary (see [`crate::nats_server_bin`]), or the server does not become
    /// ready within 10 s; the message includes the tail of its log.
    pub fn start(self) -> NatsServer {
        let attempts = if self.port.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        let mut last_error = String::new();
        for _ in 0..attempts {
            match self.clone().try_start() {
                Ok(server) => return server,
                Err(err) if err.port_in_use => last_error = err.message,
                Err(err) => panic!("starting nats-server: {}", err.message),
            }
        }
        panic!("starting nats-server (tried {attempts} times): {last_error}");
    }

    /// Says the config makes the client port do TLS before INFO (`tls { handshake_first:
    /// true }`): the server is then ready when it accepts a TCP connection, since it greets
    /// nobody in plain text.
    pub fn tls_first(mut self, tls_first: bool) -> Self {
        self.tls_first = tls_first;
        self
    }

    /// Used by the cluster builder to pin the monitoring port it routes by.
    pub(crate) fn monitor_port(mut self, port: u16) -> Self {
        self.monitoring = true;
        self.monitor_port = Some(port);
        self
    }

    /// One start attempt: unset ports are picked now, nothing is retried.
    pub(crate) fn try_start(self) -> Result<NatsServer, StartError> {
        let bin = crate::nats_server_bin();
        let dir = tempfile::Builder::new()
            .prefix("rnats-test-")
            .tempdir()
            .expect("creating a temporary directory for nats-server");
        for (name, contents) in &self.files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)
                    .unwrap_or_else(|err| panic!("creating {}: {err}", parent.display()));
            }
            fs::write(&path, contents)
                .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
        }
        let config_path = self.config.as_ref().map(|text| {
            let path = dir.path().join("server.conf");
            File::create(&path)
                .and_then(|mut file| file.write_all(text.as_bytes()))
                .unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
            path
        });
        let store_dir = self.jetstream.then(|| dir.path().join("store"));
        let wants_monitor_port = self.monitoring && self.monitor_port.is_none();
        let needed = usize::from(self.port.is_none()) + usize::from(wants_monitor_port);
        let mut free = net::free_ports(needed).into_iter();
        let port = self
            .port
            .or_else(|| free.next())
            .expect("a free port was picked for the client port");
        let monitor_port = self.monitor_port.or_else(|| {
            if wants_monitor_port {
                free.next()
            } else {
                None
            }
        });
        let server = NatsServer {
            bin,
            log_path: dir.path().join("server.log"),
            dir,
            port,
            monitor_port,
            config_path,
            store_dir,
            name: self.name,
            extra_args: self.args,
            tls_first: self.tls_first,
            process: Mutex::new(Process {
                child: None,
                watchdog: None,
                pid: 0,
            }),
        };
        server.spawn_and_wait(&mut server.process())?;
        Ok(server)
    }
}

impl Signal {
    /// The name `kill -s` takes: `STOP`, `CONT`, `HUP`…
    pub fn name(self) -> &'static str {
        match self {
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
            Signal::Hup => "HUP",
            Signal::Usr1 => "USR1",
            Signal::Usr2 => "USR2",
            Signal::Term => "TERM",
            Signal::Int => "INT",
            Signal::Quit => "QUIT",
            Signal::Kill => "KILL",
        }
    }
}

/// Starts a watchdog for the server `pid`: a shell blocked reading a pipe whose only writer
/// is this process. If this process dies without dropping the [`NatsServer`] (killed by a
/// timeout, `process::exit`, an abort), the pipe closes, the read returns and the server is
/// killed, instead of living on as an orphan holding its port. (`PR_SET_PDEATHSIG` would
/// need unsafe code, which the workspace forbids.)
///
/// The watchdog is always ended before the server is reaped, so it cannot hit a reused pid.
fn spawn_watchdog(pid: u32) -> Child {
    Command::new("sh")
        .args([
            "-c",
            "read -r _ignored; kill -9 \"$1\" 2>/dev/null",
            "sh",
            &pid.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning sh as the nats-server watchdog")
}

/// Ends the watchdog, if any, without letting it act.
fn end_watchdog(process: &mut Process) {
    if let Some(mut watchdog) = process.watchdog.take() {
        let _ = watchdog.kill();
        let _ = watchdog.wait();
    }
}

/// Kills the child if there is one and reaps it, so no zombie is left behind.
fn kill_and_reap(process: &mut Process) {
    end_watchdog(process);
    if let Some(mut child) = process.child.take() {
        // Fails only if the process already exited; reaping it is all that is left to do.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Whether each thread of `pid` is stopped (`T`), as `/proc` shows it; `None` when `/proc`
/// says nothing, in which case the callers do not wait.
fn thread_stopped_states(pid: u32) -> Option<Vec<bool>> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let states: Vec<bool> = tasks
        .filter_map(|task| {
            let stat = fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            // "pid (comm) S ...": comm may hold anything, so look after its last ')'.
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(matches!(state, 'T' | 't'))
        })
        .collect();
    (!states.is_empty()).then_some(states)
}

/// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false).
fn poll(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
