//! Loopback plumbing: free ports, the INFO probe, a tiny HTTP/1.0 GET for the monitoring
//! endpoints and a field picker for their JSON.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The one address every server binds.
pub(crate) const HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Ports this process already handed out. Never handing one out twice rules out collisions
/// between tests running in parallel threads; collisions with other processes are left to
/// the callers' retries.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// `n` distinct free ports on 127.0.0.1.
///
/// All `n` listeners are held at once so the kernel cannot give the same port twice, then
/// dropped: the port is free until someone else binds it, hence the retries upstream.
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    let mut held = Vec::new();
    let mut ports = Vec::with_capacity(n);
    let mut tries = 0;
    while ports.len() < n {
        tries += 1;
        assert!(tries < 10_000, "could not find {n} free ports on 127.0.0.1");
        let listener = TcpListener::bind(SocketAddr::from((HOST, 0)))
            .expect("binding 127.0.0.1:0 to find a free port");
        let port = listener
            .local_addr()
            .expect("local address of a bound listener")
            .port();
        if handed_out.insert(port) {
            ports.push(port);
        }
        held.push(listener);
    }
    ports
}

/// Connects to a NATS port and returns the JSON of the INFO line the server greets with;
/// `Ok(None)` when the peer said something else.
pub(crate) fn probe_info(port: u16, timeout: Duration) -> io::Result<Option<String>> {
    let stream = TcpStream::connect_timeout(&SocketAddr::from((HOST, port)), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line
        .strip_prefix("INFO ")
        .map(|json| json.trim_end().to_owned()))
}

/// `GET path` over HTTP/1.0 from 127.0.0.1:`port`: the status code and the body.
pub(crate) fn http_get(port: u16, path: &str) -> io::Result<(u16, String)> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from((HOST, port)), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    // HTTP/1.0 without keep-alive: the body runs to the end of the stream, never chunked.
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {text}"));
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of headers in HTTP response"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status code in HTTP response"))?;
    Ok((status, body.to_owned()))
}

/// Every value of `"key": value` in a JSON text, without the quotes of strings.
///
/// Good enough for the monitoring endpoints' flat fields (`num_routes`, `remote_name`,
/// `leader`): it does not unescape strings and does not know about nesting.
pub(crate) fn json_values<'a>(json: &'a str, key: &str) -> Vec<&'a str> {
    let needle = format!("\"{key}\"");
    let mut values = Vec::new();
    let mut rest = json;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let Some(after_colon) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let value = after_colon.trim_start();
        if let Some(string) = value.strip_prefix('"') {
            if let Some(end) = string.find('"') {
                values.push(&string[..end]);
            }
        } else {
            let end = value.find([',', '}', ']', '\n']).unwrap_or(value.len());
            values.push(value[..end].trim());
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_reads_strings_numbers_and_empties() {
        let json = r#"{ "num_routes": 8, "routes": [ {"remote_name": "n2"}, {"remote_name":"n3"} ],
            "meta_cluster": { "leader": "" }, "x": {"num_routes":1} }"#;
        assert_eq!(json_values(json, "num_routes"), ["8", "1"]);
        assert_eq!(json_values(json, "remote_name"), ["n2", "n3"]);
        assert_eq!(json_values(json, "leader"), [""]);
        assert!(json_values(json, "missing").is_empty());
    }

    #[test]
    fn a_key_mentioned_as_a_value_is_not_a_field() {
        assert!(json_values(r#"{"a": "leader", "b": 1}"#, "leader").is_empty());
        assert_eq!(
            json_values(r#"{"a": "leader", "leader": "n1"}"#, "leader"),
            ["n1"]
        );
    }

    #[test]
    fn free_ports_are_distinct_and_never_repeat() {
        let first = free_ports(5);
        let second = free_ports(5);
        let all: HashSet<u16> = first.iter().chain(&second).copied().collect();
        assert_eq!(all.len(), 10);
    }
}
