//! The connection flags shared by every command, merged with the selected context.

use std::path::PathBuf;
use std::time::Duration;

use rnats::{Client, ConnectOptions};

use crate::context::{self, Context};
use crate::error::{CliError, Result};
use crate::util::parse_duration;

/// The default server when neither a flag, `NATS_URL` nor a context names one.
pub(crate) const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// How to connect. Every flag also reads an environment variable; values from the
/// environment are never shown in `--help`.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnArgs {
    /// Server URLs, comma-separated.
    #[arg(
        short,
        long,
        env = "NATS_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) server: Option<String>,
    /// User name.
    #[arg(long, env = "NATS_USER", global = true, hide_env_values = true)]
    pub(crate) user: Option<String>,
    /// Password (with --user).
    #[arg(long, env = "NATS_PASSWORD", global = true, hide_env_values = true)]
    pub(crate) password: Option<String>,
    /// Authentication token.
    #[arg(long, env = "NATS_TOKEN", global = true, hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// NKey seed file.
    #[arg(
        long,
        env = "NATS_NKEY",
        global = true,
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub(crate) nkey: Option<PathBuf>,
    /// Credentials file (JWT and seed).
    #[arg(
        long,
        env = "NATS_CREDS",
        global = true,
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub(crate) creds: Option<PathBuf>,
    /// CA certificates to trust (PEM).
    #[arg(
        long,
        env = "NATS_CA",
        global = true,
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub(crate) tlsca: Option<PathBuf>,
    /// Client certificate for mutual TLS (PEM, with --tlskey).
    #[arg(
        long,
        env = "NATS_CERT",
        global = true,
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub(crate) tlscert: Option<PathBuf>,
    /// Client private key for mutual TLS (PEM).
    #[arg(
        long,
        env = "NATS_KEY",
        global = true,
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub(crate) tlskey: Option<PathBuf>,
    /// Do the TLS handshake before the server's INFO (servers with handshake_first).
    #[arg(long, global = true)]
    pub(crate) tlsfirst: bool,
    /// Use this named context instead of the selected one.
    #[arg(
        long,
        env = "NATS_CONTEXT",
        global = true,
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub(crate) context: Option<String>,
    /// Connect and request timeout.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
}

impl ConnArgs {
    /// The flags with the gaps filled from the context (`--context`, else the selected one).
    pub(crate) fn resolved(&self) -> Result<ConnArgs> {
        let ctx = match &self.context {
            Some(name) => Some(context::load(name)?),
            None => context::selected()?,
        };
        let Some(ctx) = ctx else {
            return Ok(self.clone());
        };
        Ok(self.merged(&ctx))
    }

    /// The flags, with what they leave unset taken from `ctx`.
    fn merged(&self, ctx: &Context) -> ConnArgs {
        let mut out = self.clone();
        out.server = out
            .server
            .filter(|s| !s.trim().is_empty())
            .or_else(|| ctx.server.clone());
        out.user = out.user.or_else(|| ctx.user.clone());
        out.password = out.password.or_else(|| ctx.password.clone());
        out.token = out.token.or_else(|| ctx.token.clone());
        out.nkey = out.nkey.or_else(|| ctx.nkey.clone());
        out.creds = out.creds.or_else(|| ctx.creds.clone());
        out.tlsca = out.tlsca.or_else(|| ctx.tlsca.clone());
        out.tlscert = out.tlscert.or_else(|| ctx.tlscert.clone());
        out.tlskey = out.tlskey.or_else(|| ctx.tlskey.clone());
        out.tlsfirst = out.tlsfirst || ctx.tlsfirst;
        out
    }

    /// The server URLs to connect to.
    pub(crate) fn server(&self) -> &str {
        self.server
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(DEFAULT_SERVER)
    }

    /// The options the flags describe.
    pub(crate) fn options(&self) -> Result<ConnectOptions> {
        let mut opts = ConnectOptions::new()
            .name("rnats")
            .connection_timeout(self.timeout)
            .request_timeout(self.timeout);
        match (&self.user, &self.password) {
            (Some(user), password) => {
                opts = opts.user_and_password(user, password.clone().unwrap_or_default());
            }
            (None, Some(_)) => {
                return Err(CliError::new("--password without --user")
                    .hint("give the user name with --user or NATS_USER"))
            }
            (None, None) => {}
        }
        if let Some(token) = &self.token {
            opts = opts.token(token);
        }
        if let Some(path) = &self.nkey {
            opts = opts.nkey_file(path);
        }
        if let Some(path) = &self.creds {
            opts = opts.credentials_file(path);
        }
        if let Some(path) = &self.tlsca {
            opts = opts.add_root_certificates(path);
        }
        match (&self.tlscert, &self.tlskey) {
            (Some(cert), Some(key)) => opts = opts.add_client_certificate(cert, key),
            (None, None) => {}
            _ => {
                return Err(CliError::new("--tlscert and --tlskey go together")
                    .hint("give both the certificate and its key"))
            }
        }
        if self.tlsfirst {
            opts = opts.tls_first(true);
        }
        Ok(opts)
    }

    /// Connects as the flags (and context) say; after a lost connection, a few reconnect
    /// attempts before giving up.
    pub(crate) async fn connect(&self) -> Result<Client> {
        self.connect_with(Some(3)).await
    }

    /// For commands that run until stopped (`sub`, `reply`, watchers): reconnect forever, as
    /// a long-running client should.
    pub(crate) async fn connect_long(&self) -> Result<Client> {
        self.connect_with(None).await
    }

    /// Connects with this reconnect limit.
    async fn connect_with(&self, max_reconnects: Option<usize>) -> Result<Client> {
        let args = self.resolved()?;
        let opts = args.options()?.max_reconnects(max_reconnects);
        let server = args.server();
        opts.connect(server)
            .await
            .map_err(|e| CliError::from(e).context(format!("cannot connect to {}", redact(server))))
    }
}

/// A server list with any `user:password@` parts hidden.
pub(crate) fn redact(servers: &str) -> String {
    servers
        .split(',')
        .map(|url| {
            let url = url.trim();
            let (scheme, rest) = match url.find("://") {
                Some(i) => (&url[..i + 3], &url[i + 3..]),
                None => ("", url),
            };
            match rest.rfind('@') {
                Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(redact("nats://a:b@h:1,h2:2"), "nats://***@h:1,h2:2");
        assert_eq!(redact("tok@h:1"), "***@h:1");
        assert_eq!(redact("nats://h:1"), "nats://h:1");
    }
}
