//! Integration tests of the harness against the real nats-server binary
//! (`scripts/setup.sh` installs it).

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

mod cluster;
mod server;

/// A bare NATS connection for the tests: protocol lines over a `TcpStream`.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects, checks the INFO greeting, sends CONNECT and waits for the PONG.
    fn connect(url_port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", url_port)).expect("connecting to the server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("setting a read timeout");
        let writer = stream.try_clone().expect("cloning the stream");
        let mut conn = Conn {
            reader: BufReader::new(stream),
            writer,
        };
        let info = conn.line().expect("reading INFO");
        assert!(info.starts_with("INFO "), "greeting: {info}");
        conn.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
        conn.ping();
        conn
    }

    fn send(&mut self, text: &str) {
        self.writer
            .write_all(text.as_bytes())
            .expect("writing to the server");
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if line.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end().to_owned())
    }

    /// Round trip: everything sent before has been processed by the server.
    fn ping(&mut self) {
        self.send("PING\r\n");
        loop {
            let line = self.line().expect("waiting for PONG");
            if line == "PONG" {
                return;
            }
            assert!(!line.starts_with("-ERR"), "server error: {line}");
        }
    }
}

/// Whether a process with this pid exists at all; a zombie still does.
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Polls `condition` every 20 ms for up to `timeout`.
fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
