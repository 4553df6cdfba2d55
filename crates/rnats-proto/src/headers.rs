//! The `NATS/1.0` header block (ADR-4): [`HeaderMap`] and the inline [`StatusCode`].

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::{ProtoError, ProtoErrorKind};

/// The version line every header block starts with.
pub const HEADER_LINE: &str = "NATS/1.0";

/// A status code carried inline on the header version line (`NATS/1.0 503`).
///
/// The server uses these for control messages: no responders, JetStream heartbeats, pull
/// request outcomes. The associated constants name the common ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 100: idle heartbeat or flow-control request (JetStream).
    pub const IDLE_HEARTBEAT: StatusCode = StatusCode(100);
    /// 200: OK.
    pub const OK: StatusCode = StatusCode(200);
    /// 204: end of a batch (JetStream direct get).
    pub const NO_CONTENT: StatusCode = StatusCode(204);
    /// 400: bad request.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 404: not found / no messages.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 408: request timeout (pull request expired).
    pub const TIMEOUT: StatusCode = StatusCode(408);
    /// 409: conflict (pull request terminated).
    pub const CONFLICT: StatusCode = StatusCode(409);
    /// 503: no responders were listening on the request subject.
    pub const NO_RESPONDERS: StatusCode = StatusCode(503);

    /// A status code from its number; `None` unless it has exactly three digits.
    pub fn from_u16(code: u16) -> Option<Self> {
        (100..=999).contains(&code).then_some(Self(code))
    }

    /// The numeric value.
    pub fn as_u16(self) -> u16 {
        self.0
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Message headers: ordered, multi-valued, case-preserving and case-sensitive (ADR-4).
///
/// ```
/// use rnats_proto::HeaderMap;
/// let mut h = HeaderMap::new();
/// h.insert("Trace-Id", "abc");
/// h.append("Tag", "a");
/// h.append("Tag", "b");
/// assert_eq!(h.get("Trace-Id"), Some("abc"));
/// assert_eq!(h.get_all("Tag").collect::<Vec<_>>(), ["a", "b"]);
/// h.insert("Tag", "c"); // replaces every value
/// assert_eq!(h.get_all("Tag").collect::<Vec<_>>(), ["c"]);
/// assert_eq!(h.get("trace-id"), None); // names are case-sensitive
/// ```
///
/// Names and values are checked when the message is published: a name must be printable ASCII
/// without `:` and a value must not contain CR or LF; a bad one fails that publish with an
/// [`ProtoErrorKind::InvalidHeader`] error.
///
/// Spaces and tabs at either end of a value are not part of it on the wire: the receiver drops
/// them, as HTTP and every NATS client do.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(String, String)>,
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to the single value `value`, replacing any values it had.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        let mut slot = None;
        let mut i = 0;
        self.entries.retain(|(n, _)| {
            let keep = n != &name || slot.is_none();
            if n == &name && slot.is_none() {
                slot = Some(i);
            }
            i += 1;
            keep
        });
        match slot {
            Some(idx) => self.entries[idx].1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// Adds `value` to the values of `name`, keeping the existing ones.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in the order they were added or received.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Removes every value of `name`; true if there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| n != name);
        before != self.entries.len()
    }

    /// True when `name` has at least one value.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every `(name, value)` pair, in order; a name with several values appears several times.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of `(name, value)` pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks every name and value can be written in a header block.
    pub fn validate(&self) -> Result<(), ProtoError> {
        for (name, value) in &self.entries {
            if name.is_empty() {
                return Err(ProtoError::new(
                    ProtoErrorKind::InvalidHeader,
                    "header name must not be empty",
                ));
            }
            if let Some(b) = name.bytes().find(|b| !(33..=126).contains(b) || *b == b':') {
                return Err(ProtoError::new(
                    ProtoErrorKind::InvalidHeader,
                    format!(
                        "header name {name:?} contains byte 0x{b:02x}; names must be printable ASCII without ':'"
                    ),
                ));
            }
            if value.bytes().any(|b| b == b'\r' || b == b'\n') {
                return Err(ProtoError::new(
                    ProtoErrorKind::InvalidHeader,
                    format!("value of header {name:?} contains CR or LF"),
                ));
            }
        }
        Ok(())
    }

    /// The size in bytes of the encoded header block (version line to the blank line).
    pub fn encoded_len(&self) -> usize {
        HEADER_LINE.len()
            + 2
            + self
                .entries
                .iter()
                .map(|(n, v)| n.len() + 2 + v.len() + 2)
                .sum::<usize>()
            + 2
    }

    /// Appends the encoded header block to `out`. Call [`HeaderMap::validate`] first.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        out.put_slice(HEADER_LINE.as_bytes());
        out.put_slice(b"\r\n");
        for (n, v) in &self.entries {
            out.put_slice(n.as_bytes());
            out.put_slice(b": ");
            out.put_slice(v.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
    }

    /// Parses a header block (everything from `NATS/1.0` to the blank line) into the inline
    /// status, its description and the headers.
    pub fn decode(
        block: &[u8],
    ) -> Result<(Option<StatusCode>, Option<String>, HeaderMap), ProtoError> {
        let bad = |why: &str| ProtoError::new(ProtoErrorKind::MalformedHeaders, why.to_owned());
        let text = std::str::from_utf8(block).map_err(|_| bad("header block is not UTF-8"))?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let rest = first
            .strip_prefix(HEADER_LINE)
            .ok_or_else(|| bad("header block does not start with NATS/1.0"))?;
        let (status, description) = parse_status(rest).ok_or_else(|| bad("bad status line"))?;
        let mut map = HeaderMap::new();
        for line in lines {
            if line.is_empty() {
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad("header line without ':'"))?;
            let name = trim_ows(name);
            if name.is_empty() {
                return Err(bad("empty header name"));
            }
            map.entries
                .push((name.to_owned(), trim_ows(value).to_owned()));
        }
        Ok((status, description, map))
    }
}

/// Parses what follows `NATS/1.0` on the version line: nothing, or ` <code>[ <description>]`.
fn parse_status(rest: &str) -> Option<(Option<StatusCode>, Option<String>)> {
    let rest = trim_ows(rest);
    if rest.is_empty() {
        return Some((None, None));
    }
    let (code, desc) = match rest.split_once([' ', '\t']) {
        Some((c, d)) => (c, Some(trim_ows(d))),
        None => (rest, None),
    };
    if code.len() != 3 {
        return None;
    }
    let code = StatusCode::from_u16(code.parse().ok()?)?;
    let desc = desc.filter(|d| !d.is_empty()).map(str::to_owned);
    Some((Some(code), desc))
}

/// Strips the optional whitespace around a header name, value or status description: spaces
/// and tabs only, as HTTP's OWS and every NATS client. `str::trim` would also eat Unicode
/// whitespace (NBSP, U+3000, VT...) that belongs to the value.
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a HeaderMap {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for HeaderMap {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in iter {
            map.append(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_protocol_example() {
        let mut h = HeaderMap::new();
        h.insert("Bar", "Baz");
        let mut out = BytesMut::new();
        h.encode(&mut out);
        assert_eq!(&out[..], b"NATS/1.0\r\nBar: Baz\r\n\r\n");
        assert_eq!(h.encoded_len(), 22);
    }

    #[test]
    fn decode_status_and_description() {
        let (s, d, h) = HeaderMap::decode(b"NATS/1.0 503\r\n\r\n").unwrap();
        assert_eq!(s, Some(StatusCode::NO_RESPONDERS));
        assert_eq!(d, None);
        assert!(h.is_empty());
        let (s, d, h) = HeaderMap::decode(
            b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(s, Some(StatusCode::IDLE_HEARTBEAT));
        assert_eq!(d.as_deref(), Some("Idle Heartbeat"));
        assert_eq!(h.get("Nats-Last-Stream"), Some("0"));
    }

    #[test]
    fn decode_multi_value_keeps_case_and_order() {
        let (_, _, h) = HeaderMap::decode(b"NATS/1.0\r\nA: 1\r\na: 2\r\nA:3\r\n\r\n").unwrap();
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h.get("a"), Some("2"));
    }

    #[test]
    fn decode_rejects_garbage() {
        for bad in [
            &b"HTTP/1.0\r\n\r\n"[..],
            b"NATS/1.0 5x3\r\n\r\n",
            b"NATS/1.0\r\nnocolon\r\n\r\n",
            b"NATS/1.0\r\n: v\r\n\r\n",
            b"NATS/1.0\r\nA: \xff\r\n\r\n",
        ] {
            let err = HeaderMap::decode(bad).unwrap_err();
            assert_eq!(err.kind(), ProtoErrorKind::MalformedHeaders, "{bad:?}");
        }
    }

    #[test]
    fn validate_rejects_crlf_and_colon() {
        let mut h = HeaderMap::new();
        h.insert("Ok", "fine");
        assert!(h.validate().is_ok());
        h.insert("Bad", "a\r\nInjected: yes");
        assert_eq!(
            h.validate().unwrap_err().kind(),
            ProtoErrorKind::InvalidHeader
        );
        let mut h = HeaderMap::new();
        h.insert("Bad:Name", "v");
        assert!(h.validate().is_err());
        let mut h = HeaderMap::new();
        h.insert("Bad Name", "v");
        assert!(h.validate().is_err());
    }

    #[test]
    fn decode_keeps_unicode_whitespace_at_value_ends() {
        let (_, d, h) = HeaderMap::decode(
            "NATS/1.0 503 \u{a0}desc\u{3000}\r\nA: \u{a0}x\u{3000}\r\nB: \u{b}\r\nC:\t y \r\n\r\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(d.as_deref(), Some("\u{a0}desc\u{3000}"));
        assert_eq!(h.get("A"), Some("\u{a0}x\u{3000}"));
        assert_eq!(h.get("B"), Some("\u{b}"));
        assert_eq!(
            h.get("C"),
            Some("y"),
            "spaces and tabs around a value are not part of it"
        );
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut h: HeaderMap = [("A", "1"), ("B", "2"), ("A", "3")].into_iter().collect();
        h.insert("A", "x");
        assert_eq!(h.iter().collect::<Vec<_>>(), [("A", "x"), ("B", "2")]);
        assert!(h.remove("A"));
        assert!(!h.remove("A"));
        assert_eq!(h.len(), 1);
    }
}
