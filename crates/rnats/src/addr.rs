//! Server addresses: [`ServerAddr`] (URL, credentials, TLS name) and [`ToServerAddrs`].

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::error::{Error, ErrorKind};

/// The default port of a NATS server.
pub const DEFAULT_PORT: u16 = 4222;

/// The address of one NATS server: `nats://host:port`, `host:port` or `host`, optionally with
/// `user:password@` or `token@`.
///
/// ```
/// use rnats::ServerAddr;
/// let addr: ServerAddr = "demo.invalid".parse()?;
/// assert_eq!((addr.host(), addr.port()), ("demo.invalid", 4222));
/// let addr: ServerAddr = "nats://alice:s3cret@127.0.0.1:4333".parse()?;
/// assert_eq!(addr.port(), 4333);
/// assert!(!format!("{addr:?}").contains("s3cret"));
/// # Ok::<(), rnats::Error>(())
/// ```
#[derive(Clone)]
pub struct ServerAddr {
    url: Url,
    /// The name to verify the server's TLS certificate against when it differs from the host
    /// (servers discovered by IP keep the name of the URL they were learned through).
    tls_name: Option<String>,
}

impl PartialEq for ServerAddr {
    /// Two addresses are the same server when scheme, host and port agree.
    fn eq(&self, other: &Self) -> bool {
        self.scheme() == other.scheme()
            && self.host() == other.host()
            && self.port() == other.port()
    }
}

impl Eq for ServerAddr {}

impl ServerAddr {
    /// The host name or IP address.
    pub fn host(&self) -> &str {
        match self.url.host_str() {
            // IPv6 literals keep their brackets in URLs; sockets want them bare.
            Some(h) => h.trim_start_matches('[').trim_end_matches(']'),
            None => "",
        }
    }

    /// The port (4222 when the address did not say).
    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(DEFAULT_PORT)
    }

    /// The URL scheme: `nats`, `tls`, `ws` or `wss`.
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// True for `tls://` and `wss://` addresses.
    pub fn is_tls(&self) -> bool {
        matches!(self.scheme(), "tls" | "wss")
    }

    /// The user name or token given in the address, if any.
    pub(crate) fn username(&self) -> Option<&str> {
        (!self.url.username().is_empty()).then(|| self.url.username())
    }

    /// The password given in the address, if any.
    pub(crate) fn password(&self) -> Option<&str> {
        self.url.password()
    }

    /// The name a TLS certificate must be valid for: the host, or for a server discovered
    /// by IP address, the host name of the URL it was discovered through.
    pub fn tls_name(&self) -> &str {
        self.tls_name.as_deref().unwrap_or_else(|| self.host())
    }

    /// A server learned from the cluster (`host:port` from INFO `connect_urls`), reached
    /// through `origin`: same scheme and credentials, and `origin`'s TLS name when the new
    /// host is an IP address.
    pub(crate) fn discovered(host_port: &str, origin: &ServerAddr) -> Result<Self, Error> {
        let mut addr: ServerAddr = format!("{}://{host_port}", origin.scheme()).parse()?;
        if addr.url.username().is_empty() {
            let _ = addr.url.set_username(origin.url.username());
            let _ = addr.url.set_password(origin.url.password());
        }
        if addr.host().parse::<std::net::IpAddr>().is_ok()
            && origin.host().parse::<std::net::IpAddr>().is_err()
        {
            addr.tls_name = Some(origin.tls_name().to_owned());
        } else {
            addr.tls_name = origin
                .tls_name
                .clone()
                .filter(|_| addr.host() == origin.host());
        }
        Ok(addr)
    }

    /// The URI of the websocket upgrade request: `ws://host:port/path`, never credentials.
    pub(crate) fn ws_uri(&self) -> String {
        format!("ws://{}{}", self.host_port(), self.url.path())
    }

    /// True for `ws://` and `wss://` addresses.
    pub fn is_websocket(&self) -> bool {
        matches!(self.scheme(), "ws" | "wss")
    }

    /// `host:port`, for display and socket address resolution.
    pub fn host_port(&self) -> String {
        match self.url.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]:{}", self.port()),
            _ => format!("{}:{}", self.host(), self.port()),
        }
    }
}

impl FromStr for ServerAddr {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let s = input.trim();
        let invalid = |why: &str| {
            // The input may hold credentials: show only what is safe.
            Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid server address: {why}"),
            )
        };
        if s.is_empty() {
            return Err(invalid("it is empty"));
        }
        let with_scheme = if s.contains("://") {
            s.to_owned()
        } else {
            format!("nats://{s}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "nats" | "tls" | "ws" | "wss" => {}
            other => {
                return Err(invalid(&format!(
                    "unsupported scheme {other:?}; use nats://, tls://, ws:// or wss://"
                )))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        Ok(Self {
            url,
            tls_name: None,
        })
    }
}

impl fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerAddr({self})")
    }
}

impl fmt::Display for ServerAddr {
    /// `scheme://host:port`, never the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.host_port())
    }
}

/// Anything that names one or more servers: `"nats://a:4222"`, `"a:4222,b:4222"`, a
/// [`ServerAddr`], or a slice / `Vec` / array of those.
pub trait ToServerAddrs {
    /// The servers named.
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error>;
}

impl ToServerAddrs for str {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .and_then(|v| {
                if v.is_empty() {
                    Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "invalid server address: no server given",
                    ))
                } else {
                    Ok(v)
                }
            })
    }
}

impl ToServerAddrs for &str {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        (**self).to_server_addrs()
    }
}

impl ToServerAddrs for String {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self.as_str().to_server_addrs()
    }
}

impl ToServerAddrs for &String {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self.as_str().to_server_addrs()
    }
}

impl ToServerAddrs for ServerAddr {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        Ok(vec![self.clone()])
    }
}

impl<T: ToServerAddrs> ToServerAddrs for [T] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        let mut all = Vec::new();
        for t in self {
            all.extend(t.to_server_addrs()?);
        }
        if all.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "invalid server address: no server given",
            ));
        }
        Ok(all)
    }
}

impl<T: ToServerAddrs> ToServerAddrs for &[T] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        (**self).to_server_addrs()
    }
}

impl<T: ToServerAddrs, const N: usize> ToServerAddrs for [T; N] {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self[..].to_server_addrs()
    }
}

impl<T: ToServerAddrs> ToServerAddrs for Vec<T> {
    fn to_server_addrs(&self) -> Result<Vec<ServerAddr>, Error> {
        self[..].to_server_addrs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let a: ServerAddr = "127.0.0.1:4333".parse().unwrap();
        assert_eq!(a.to_string(), "nats://127.0.0.1:4333");
        let a: ServerAddr = "tls://h.invalid".parse().unwrap();
        assert!(a.is_tls());
        assert_eq!(a.port(), DEFAULT_PORT);
        let all = "nats://a:1, b:2 ,c".to_server_addrs().unwrap();
        assert_eq!(all.len(), 3);
        let all = vec!["a:1", "b:2"].to_server_addrs().unwrap();
        assert_eq!(all[1].port(), 2);
        let a: ServerAddr = "[::1]:4222".parse().unwrap();
        assert_eq!(a.host(), "::1");
        assert_eq!(a.host_port(), "[::1]:4222");
    }

    #[test]
    fn discovered_servers_keep_tls_name_and_credentials() {
        let origin: ServerAddr = "tls://u:p@nats.example:4222".parse().unwrap();
        let d = ServerAddr::discovered("10.1.2.3:4223", &origin).unwrap();
        assert_eq!(d.scheme(), "tls");
        assert_eq!(d.host(), "10.1.2.3");
        assert_eq!(d.tls_name(), "nats.example");
        assert_eq!(d.password(), Some("p"));
        let d2 = ServerAddr::discovered("other.example:4223", &origin).unwrap();
        assert_eq!(d2.tls_name(), "other.example");
        assert_eq!(d, "tls://10.1.2.3:4223".parse::<ServerAddr>().unwrap());
    }

    #[test]
    fn bad_addresses() {
        for bad in ["", "http://a:1", "nats://", ",", "nats://a:notaport"] {
            let err = bad.to_server_addrs().unwrap_err();
            assert!(err.is_invalid_argument(), "{bad}: {err}");
        }
    }

    #[test]
    fn credentials_stay_hidden() {
        let a: ServerAddr = "nats://bob:hunter2@a:1".parse().unwrap();
        assert_eq!(a.username(), Some("bob"));
        assert_eq!(a.password(), Some("hunter2"));
        assert!(!format!("{a:?} {a}").contains("hunter2"));
    }
}
