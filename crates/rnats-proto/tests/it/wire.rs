//! Test-only codecs written from the protocol description, independent of the crate's own:
//! an encoder of server operations (what nats-server writes) and a decoder of client operations
//! (what nats-server reads).

use bytes::Bytes;
use proptest::prelude::*;
use rnats_proto::{ClientOp, ConnectInfo, HeaderMap, ServerInfo, ServerOp, Sid, Subject};

/// How a control line is laid out: field separator and op name case. The server writes one
/// space and upper case; the parser must accept any run of spaces and tabs and any case.
#[derive(Debug, Clone)]
pub(crate) struct Spacing {
    pub(crate) sep: &'static str,
    pub(crate) lowercase: bool,
}

impl Spacing {
    fn name(&self, name: &str) -> String {
        if self.lowercase {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        }
    }
}

/// The fields of an `INFO` this test writes.
#[derive(Debug, Clone)]
pub(crate) struct InfoModel {
    pub(crate) server_id: String,
    pub(crate) version: String,
    pub(crate) max_payload: usize,
    pub(crate) headers: bool,
    pub(crate) proto: i32,
    pub(crate) connect_urls: Vec<String>,
    pub(crate) ldm: bool,
    pub(crate) nonce: Option<String>,
    pub(crate) port: u16,
    pub(crate) client_id: u64,
}

impl InfoModel {
    fn json(&self) -> String {
        let mut v = serde_json::json!({
            "server_id": self.server_id,
            "version": self.version,
            "max_payload": self.max_payload,
            "headers": self.headers,
            "proto": self.proto,
            "connect_urls": self.connect_urls,
            "ldm": self.ldm,
            "port": self.port,
            "client_id": self.client_id,
            // Newer servers add fields; they must be ignored.
            "some_future_field": {"nested": [1, "two", null]},
        });
        if let Some(nonce) = &self.nonce {
            v["nonce"] = nonce.clone().into();
        }
        v.to_string()
    }

    pub(crate) fn expected(&self) -> ServerInfo {
        let mut i = ServerInfo::default();
        i.server_id = self.server_id.clone();
        i.version = self.version.clone();
        i.max_payload = self.max_payload;
        i.headers = self.headers;
        i.proto = self.proto;
        i.connect_urls = self.connect_urls.clone();
        i.lame_duck_mode = self.ldm;
        i.nonce = self.nonce.clone();
        i.port = self.port;
        i.client_id = self.client_id;
        i
    }
}

/// The header block of an `HMSG`: optional inline status and description, then headers.
#[derive(Debug, Clone)]
pub(crate) struct HeaderModel {
    pub(crate) status: Option<(u16, Option<String>)>,
    pub(crate) map: HeaderMap,
}

impl HeaderModel {
    fn encode(&self) -> Vec<u8> {
        let mut out = b"NATS/1.0".to_vec();
        if let Some((code, desc)) = &self.status {
            out.extend_from_slice(format!(" {code}").as_bytes());
            if let Some(desc) = desc {
                out.push(b' ');
                out.extend_from_slice(desc.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.map {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// A `MSG` (headers `None`) or `HMSG`.
#[derive(Debug, Clone)]
pub(crate) struct MsgModel {
    pub(crate) subject: String,
    pub(crate) sid: u64,
    pub(crate) reply: Option<String>,
    pub(crate) headers: Option<HeaderModel>,
    pub(crate) payload: Vec<u8>,
    pub(crate) spacing: Spacing,
}

/// A server operation as this test writes it.
#[derive(Debug, Clone)]
pub(crate) enum ServerModel {
    Info(InfoModel),
    Msg(MsgModel),
    Ping(Spacing),
    Pong(Spacing),
    Ok(Spacing),
    /// Text, and whether it is quoted (nats-server quotes it).
    Err(String, bool),
}

/// Writes `op` as nats-server would (modulo spacing and case, which the parser must tolerate).
pub(crate) fn encode_server(op: &ServerModel, out: &mut Vec<u8>) {
    match op {
        ServerModel::Info(info) => {
            out.extend_from_slice(b"INFO ");
            out.extend_from_slice(info.json().as_bytes());
        }
        ServerModel::Ping(s) => out.extend_from_slice(s.name("PING").as_bytes()),
        ServerModel::Pong(s) => out.extend_from_slice(s.name("PONG").as_bytes()),
        ServerModel::Ok(s) => out.extend_from_slice(s.name("+OK").as_bytes()),
        ServerModel::Err(text, quoted) => {
            let q = if *quoted { "'" } else { "" };
            out.extend_from_slice(format!("-ERR {q}{text}{q}").as_bytes());
        }
        ServerModel::Msg(m) => {
            let s = &m.spacing;
            let block = m.headers.as_ref().map(HeaderModel::encode);
            let mut line = vec![
                s.name(if block.is_some() { "HMSG" } else { "MSG" }),
                m.subject.clone(),
                m.sid.to_string(),
            ];
            line.extend(m.reply.clone());
            let hlen = block.as_ref().map_or(0, Vec::len);
            if block.is_some() {
                line.push(hlen.to_string());
            }
            line.push((hlen + m.payload.len()).to_string());
            out.extend_from_slice(line.join(s.sep).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(block.as_deref().unwrap_or_default());
            out.extend_from_slice(&m.payload);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Checks the parser's `op` is what `model` describes.
pub(crate) fn check_server_op(model: &ServerModel, op: &ServerOp) -> Result<(), TestCaseError> {
    match (model, op) {
        (ServerModel::Info(i), ServerOp::Info(got)) => prop_assert_eq!(&i.expected(), &**got),
        (ServerModel::Ping(_), ServerOp::Ping)
        | (ServerModel::Pong(_), ServerOp::Pong)
        | (ServerModel::Ok(_), ServerOp::Ok) => {}
        (ServerModel::Err(text, _), ServerOp::Err(got)) => prop_assert_eq!(text, got),
        (ServerModel::Msg(m), ServerOp::Msg(got)) => {
            prop_assert_eq!(got.subject.as_str(), m.subject.as_str());
            prop_assert_eq!(got.sid, Sid(m.sid));
            prop_assert_eq!(got.reply.as_deref(), m.reply.as_deref());
            prop_assert_eq!(&got.payload[..], &m.payload[..]);
            let hlen = m.headers.as_ref().map_or(0, |h| h.encode().len());
            prop_assert_eq!(got.length, hlen + m.payload.len());
            match &m.headers {
                None => {
                    prop_assert_eq!(&got.headers, &None);
                    prop_assert_eq!(got.status, None);
                    prop_assert_eq!(&got.description, &None);
                }
                Some(h) => {
                    prop_assert_eq!(got.headers.as_ref(), Some(&h.map));
                    prop_assert_eq!(
                        got.status.map(|s| s.as_u16()),
                        h.status.as_ref().map(|s| s.0)
                    );
                    prop_assert_eq!(
                        got.description.as_deref(),
                        h.status.as_ref().and_then(|s| s.1.as_deref())
                    );
                }
            }
        }
        _ => prop_assert!(false, "expected {model:?}, parsed {op:?}"),
    }
    Ok(())
}

/// Decodes the client operation at the front of `buf` the way a server reads it, returning it
/// and the number of bytes it took. Sizes announced on the control line are trusted to find
/// the payload, then checked against the bytes that follow.
pub(crate) fn decode_client(buf: &[u8]) -> Result<(ClientOp, usize), String> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n").ok_or("no CRLF")?;
    let line = std::str::from_utf8(&buf[..line_end]).map_err(|e| e.to_string())?;
    if line.contains('\n') {
        return Err(format!("bare LF in control line {line:?}"));
    }
    let body = line_end + 2;
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    let f: Vec<&str> = rest.split(' ').collect();
    let num = |s: &str| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
    let size = |s: &str| s.parse::<usize>().map_err(|e| format!("{s:?}: {e}"));
    // Checks the payload of `len` bytes after the line ends with CRLF; returns the frame end.
    let payload_end = |len: usize| -> Result<usize, String> {
        let end = body + len;
        if buf.get(end..end + 2) != Some(b"\r\n") {
            return Err(format!("payload of {len} bytes not followed by CRLF"));
        }
        Ok(end + 2)
    };
    let op = match (name, f.as_slice()) {
        ("PING", [""]) => return Ok((ClientOp::Ping, body)),
        ("PONG", [""]) => return Ok((ClientOp::Pong, body)),
        ("CONNECT", _) => {
            let c = connect_from_json(rest)?;
            return Ok((ClientOp::Connect(Box::new(c)), body));
        }
        ("SUB", [subject, sid]) => ClientOp::Sub {
            sid: Sid(num(sid)?),
            subject: Subject::from(*subject),
            queue_group: None,
        },
        ("SUB", [subject, queue, sid]) => ClientOp::Sub {
            sid: Sid(num(sid)?),
            subject: Subject::from(*subject),
            queue_group: Some((*queue).to_owned()),
        },
        ("UNSUB", [sid]) => ClientOp::Unsub {
            sid: Sid(num(sid)?),
            max: None,
        },
        ("UNSUB", [sid, max]) => ClientOp::Unsub {
            sid: Sid(num(sid)?),
            max: Some(num(max)?),
        },
        ("PUB", [subject, reply @ .., len]) if reply.len() <= 1 => {
            let len = size(len)?;
            let end = payload_end(len)?;
            let op = ClientOp::Pub {
                subject: Subject::from(*subject),
                reply: reply.first().map(|r| Subject::from(*r)),
                headers: None,
                payload: Bytes::copy_from_slice(&buf[body..body + len]),
            };
            return Ok((op, end));
        }
        ("HPUB", [subject, reply @ .., hlen, total]) if reply.len() <= 1 => {
            let (hlen, total) = (size(hlen)?, size(total)?);
            if hlen > total {
                return Err(format!("header size {hlen} > total size {total}"));
            }
            let end = payload_end(total)?;
            let block = &buf[body..body + hlen];
            if !block.ends_with(b"\r\n\r\n") {
                return Err(format!(
                    "header block of {hlen} bytes does not end with a blank line: {:?}",
                    String::from_utf8_lossy(block)
                ));
            }
            let (status, desc, headers) = HeaderMap::decode(block).map_err(|e| e.to_string())?;
            if status.is_some() || desc.is_some() {
                return Err("client header block with a status".into());
            }
            let op = ClientOp::Pub {
                subject: Subject::from(*subject),
                reply: reply.first().map(|r| Subject::from(*r)),
                headers: Some(headers),
                payload: Bytes::copy_from_slice(&buf[body + hlen..body + total]),
            };
            return Ok((op, end));
        }
        _ => return Err(format!("unknown client op {line:?}")),
    };
    Ok((op, body))
}

/// Rebuilds a [`ConnectInfo`] from `CONNECT` JSON; any key it does not know is an error, so a
/// field added to `ConnectInfo` must be added here too.
fn connect_from_json(json: &str) -> Result<ConnectInfo, String> {
    let v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut c = ConnectInfo::default();
    for (k, val) in v {
        let b = || val.as_bool().ok_or(format!("{k} is not a bool"));
        let s = || {
            val.as_str()
                .map(str::to_owned)
                .ok_or(format!("{k} is not a string"))
        };
        match k.as_str() {
            "verbose" => c.verbose = b()?,
            "pedantic" => c.pedantic = b()?,
            "tls_required" => c.tls_required = b()?,
            "echo" => c.echo = b()?,
            "headers" => c.headers = b()?,
            "no_responders" => c.no_responders = b()?,
            "lang" => c.lang = s()?,
            "version" => c.version = s()?,
            "protocol" => {
                c.protocol = val
                    .as_u64()
                    .and_then(|p| u8::try_from(p).ok())
                    .ok_or("protocol is not a u8")?;
            }
            "name" => c.name = Some(s()?),
            "user" => c.user = Some(s()?),
            "pass" => c.pass = Some(s()?),
            "auth_token" => c.auth_token = Some(s()?),
            "jwt" => c.jwt = Some(s()?),
            "nkey" => c.nkey = Some(s()?),
            "sig" => c.sig = Some(s()?),
            other => return Err(format!("unknown CONNECT field {other:?}")),
        }
    }
    Ok(c)
}
