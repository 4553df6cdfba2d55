//! Running the binary: a private config directory, no NATS_* variables from outside.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

/// The environment variables the tool reads; cleared so the caller's shell cannot leak in.
const VARS: &[&str] = &[
    "NATS_URL",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_TOKEN",
    "NATS_NKEY",
    "NATS_CREDS",
    "NATS_CA",
    "NATS_CERT",
    "NATS_KEY",
    "NATS_CONTEXT",
];

/// One test's view of the tool: its own config directory and a default server.
pub struct Cli {
    pub config: TempDir,
    pub url: Option<String>,
}

impl Cli {
    /// For a server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Cli {
            config: tempfile::tempdir().unwrap(),
            url: Some(url.into()),
        }
    }

    /// With no server given (the default or a context applies).
    pub fn bare() -> Self {
        Cli {
            config: tempfile::tempdir().unwrap(),
            url: None,
        }
    }

    /// The command, ready for arguments.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rnats"));
        for var in VARS {
            cmd.env_remove(var);
        }
        cmd.env("XDG_CONFIG_HOME", self.config.path());
        cmd.env_remove("HOME");
        if let Some(url) = &self.url {
            cmd.env("NATS_URL", url);
        }
        cmd.args(args);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs to the end.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd(args).output().unwrap()
    }

    /// Runs, expects success, returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.run(args);
        assert!(out.status.success(), "failed: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Runs, expects failure (exit 1, one line on stderr), returns stderr.
    pub fn fails<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains("(hint: "), "{err}");
        err
    }

    /// Starts a long-running command and waits until it says (on stderr) that it is ready:
    /// a line containing `ready`.
    pub fn spawn_ready<I, S>(&self, args: I, ready: &str) -> Child
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains(ready) => break,
                Some(Ok(_)) => {}
                other => panic!("{ready:?} never came: {other:?}"),
            }
        }
        // Keep draining stderr so the child never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        child
    }

    /// The config directory.
    #[allow(dead_code)]
    pub fn config_dir(&self) -> &Path {
        self.config.path()
    }
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits for a child and returns its stdout, expecting success.
pub fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    text(&out.stdout)
}

/// A table with everything from column `header` to the end of each line replaced by `~`
/// (for columns of ages and times, which change from run to run).
#[allow(dead_code)]
pub fn mask_from(table: &str, header: &str) -> String {
    let Some(at) = table.lines().next().and_then(|l| l.find(header)) else {
        return table.to_owned();
    };
    table
        .lines()
        .map(|l| {
            let keep: String = l.chars().take(at).collect();
            format!("{}~", keep)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
