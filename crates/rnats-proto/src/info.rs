//! The JSON bodies of `INFO` (server to client) and `CONNECT` (client to server).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the server says about itself in `INFO`. Unknown fields are ignored, missing ones take
/// their defaults, so newer and older servers both parse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's unique id.
    pub server_id: String,
    /// The server's configured name.
    pub server_name: String,
    /// The server's version, e.g. `2.15.1`.
    pub version: String,
    /// Go version the server was built with.
    pub go: String,
    /// Host the server listens on.
    pub host: String,
    /// Port the server listens on.
    pub port: u16,
    /// Whether the server understands headers (`HPUB` / `HMSG`).
    pub headers: bool,
    /// Largest message (headers plus payload) the server accepts, in bytes.
    pub max_payload: usize,
    /// Protocol version; `>= 1` means echo control and asynchronous INFO are supported.
    pub proto: i32,
    /// The id the server gave this client connection.
    pub client_id: u64,
    /// Whether the server requires authentication.
    pub auth_required: bool,
    /// Whether the server requires TLS.
    pub tls_required: bool,
    /// Whether the server verifies client certificates.
    pub tls_verify: bool,
    /// Whether the server offers TLS without requiring it.
    pub tls_available: bool,
    /// Other servers of the cluster a client may connect to (`host:port`).
    pub connect_urls: Vec<String>,
    /// Websocket URLs of the cluster.
    pub ws_connect_urls: Vec<String>,
    /// True when the server is in lame duck mode and about to shut down.
    #[serde(rename = "ldm")]
    pub lame_duck_mode: bool,
    /// Nonce to sign for NKey / JWT authentication.
    pub nonce: Option<String>,
    /// The client's IP address as seen by the server.
    pub client_ip: String,
    /// Whether JetStream is enabled.
    pub jetstream: bool,
    /// JetStream domain.
    pub domain: Option<String>,
    /// The cluster's name.
    pub cluster: Option<String>,
    /// JetStream API level.
    pub api_lvl: Option<i32>,
}

impl ServerInfo {
    /// Parses the JSON of an `INFO` line.
    pub fn from_json(json: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

/// The client's `CONNECT` options.
///
/// `Debug` never prints secrets: the password, token, JWT and signature show as `<redacted>`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConnectInfo {
    /// Ask for `+OK` after every operation (rnats always sends `false`).
    pub verbose: bool,
    /// Ask the server for strict subject checking.
    pub pedantic: bool,
    /// Whether the client requires TLS.
    pub tls_required: bool,
    /// Client library name.
    pub lang: String,
    /// Client library version.
    pub version: String,
    /// Protocol version (1: echo control and asynchronous INFO).
    pub protocol: u8,
    /// Whether the server may send the client its own messages.
    pub echo: bool,
    /// Headers support (always true, ADR-40).
    pub headers: bool,
    /// Ask for 503 status messages when a request has no responders.
    pub no_responders: bool,
    /// Connection name shown in monitoring.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password (a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Token (a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// User JWT (a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// Public NKey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// Signature of the server nonce (a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl Default for ConnectInfo {
    fn default() -> Self {
        Self {
            verbose: false,
            pedantic: false,
            tls_required: false,
            lang: "rust".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: 1,
            echo: true,
            headers: true,
            no_responders: true,
            name: None,
            user: None,
            pass: None,
            auth_token: None,
            jwt: None,
            nkey: None,
            sig: None,
        }
    }
}

impl ConnectInfo {
    /// The JSON body, ready to follow `CONNECT `.
    pub fn to_json(&self) -> String {
        // Serializing plain strings and bools cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl fmt::Debug for ConnectInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConnectInfo")
            .field("verbose", &self.verbose)
            .field("pedantic", &self.pedantic)
            .field("tls_required", &self.tls_required)
            .field("lang", &self.lang)
            .field("version", &self.version)
            .field("protocol", &self.protocol)
            .field("echo", &self.echo)
            .field("headers", &self.headers)
            .field("no_responders", &self.no_responders)
            .field("name", &self.name)
            .field("user", &self.user)
            .field("pass", &redact(&self.pass))
            .field("auth_token", &redact(&self.auth_token))
            .field("jwt", &redact(&self.jwt))
            .field("nkey", &self.nkey)
            .field("sig", &redact(&self.sig))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_ignores_unknown_fields() {
        let info = ServerInfo::from_json(
            br#"{"server_id":"X","version":"2.15.1","max_payload":1048576,"headers":true,"proto":1,"ldm":true,"brand_new":{"a":1},"connect_urls":["127.0.0.1:4223"]}"#,
        )
        .unwrap();
        assert_eq!(info.max_payload, 1 << 20);
        assert!(info.lame_duck_mode);
        assert_eq!(info.connect_urls, ["127.0.0.1:4223"]);
    }

    #[test]
    fn connect_debug_hides_secrets() {
        let c = ConnectInfo {
            pass: Some("hunter2".into()),
            auth_token: Some("s3cr3t".into()),
            ..ConnectInfo::default()
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("s3cr3t"), "{dbg}");
        let json = c.to_json();
        assert!(json.contains("\"pass\":\"hunter2\""));
        assert!(!json.contains("\"jwt\""));
    }
}
