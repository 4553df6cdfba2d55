//! Named contexts: saved connection settings in `$XDG_CONFIG_HOME/rnats/contexts.json`
//! (else `~/.config/rnats/contexts.json`), one of them selected.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::conn::ConnArgs;
use crate::error::{usage, CliError, Result};
use crate::output::{Out, Table};

/// `rnats context …`
#[derive(Subcommand)]
pub(crate) enum ContextCmd {
    /// Save the connection flags given with it under a name.
    Add {
        /// The context's name.
        name: String,
        /// A description to show in `context ls`.
        #[arg(long)]
        description: Option<String>,
        /// Select it too.
        #[arg(long)]
        select: bool,
    },
    /// List the contexts (the selected one is marked with `*`).
    Ls,
    /// Select the context every command uses by default.
    Select {
        /// The context's name.
        name: String,
    },
    /// Delete a context.
    Rm {
        /// The context's name.
        name: String,
    },
}

/// Saved connection settings. Secrets are stored (the file is private to the user) and
/// never printed.
#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(default)]
pub(crate) struct Context {
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    /// Server URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    /// Password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) password: Option<String>,
    /// Token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<String>,
    /// NKey seed file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nkey: Option<PathBuf>,
    /// Credentials file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) creds: Option<PathBuf>,
    /// CA file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tlsca: Option<PathBuf>,
    /// Client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tlscert: Option<PathBuf>,
    /// Client key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tlskey: Option<PathBuf>,
    /// TLS handshake first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) tlsfirst: bool,
}

/// The file's content.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct File {
    /// The selected context's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    selected: Option<String>,
    /// Every context by name.
    contexts: BTreeMap<String, Context>,
}

/// Where the contexts live.
fn path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(usage(
                    "no configuration directory",
                    "set XDG_CONFIG_HOME or HOME",
                ))
            }
        },
    };
    Ok(base.join("rnats").join("contexts.json"))
}

/// Reads the file (empty when missing).
fn read() -> Result<File> {
    let path = path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            usage(
                format!("cannot read {}: {e}", path.display()),
                "fix or delete the file",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(CliError::new(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes the file, readable by the user only.
fn write(file: &File) -> Result<()> {
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let text = serde_json::to_vec_pretty(file).map_err(|e| CliError::new(e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = opts.open(&tmp).and_then(|mut f| {
        use std::io::Write;
        f.write_all(&text)?;
        f.sync_all()
    });
    result
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))
}

/// The named context.
pub(crate) fn load(name: &str) -> Result<Context> {
    read()?.contexts.remove(name).ok_or_else(|| {
        usage(
            format!("unknown context {name:?}"),
            "list the contexts with `rnats context ls`",
        )
    })
}

/// The selected context, if any.
pub(crate) fn selected() -> Result<Option<Context>> {
    let mut file = read()?;
    Ok(match file.selected.take() {
        Some(name) => file.contexts.remove(&name),
        None => None,
    })
}

/// Runs `rnats context …`.
pub(crate) fn run(conn: &ConnArgs, out: &Out, cmd: ContextCmd) -> Result<()> {
    match cmd {
        ContextCmd::Add {
            name,
            description,
            select,
        } => {
            if name.is_empty() || name.contains(['/', '\\']) {
                return Err(usage(
                    format!("invalid context name {name:?}"),
                    "use letters, digits, '-' and '_'",
                ));
            }
            let mut file = read()?;
            let ctx = Context {
                description,
                server: conn.server.clone(),
                user: conn.user.clone(),
                password: conn.password.clone(),
                token: conn.token.clone(),
                nkey: conn.nkey.clone(),
                creds: conn.creds.clone(),
                tlsca: conn.tlsca.clone(),
                tlscert: conn.tlscert.clone(),
                tlskey: conn.tlskey.clone(),
                tlsfirst: conn.tlsfirst,
            };
            file.contexts.insert(name.clone(), ctx);
            if select || file.selected.is_none() {
                file.selected = Some(name.clone());
            }
            write(&file)?;
            out.note(format!("saved context {name:?}"));
            Ok(())
        }
        ContextCmd::Ls => {
            let file = read()?;
            if out.json {
                let list: Vec<_> = file
                    .contexts
                    .iter()
                    .map(|(name, c)| {
                        serde_json::json!({
                            "name": name,
                            "selected": file.selected.as_deref() == Some(name),
                            "server": crate::conn::redact(
                                c.server.as_deref().unwrap_or(crate::conn::DEFAULT_SERVER),
                            ),
                            "description": c.description,
                        })
                    })
                    .collect();
                return out.json(&list);
            }
            let mut table = Table::new(&["NAME", "SERVER", "AUTH", "DESCRIPTION"]);
            for (name, c) in &file.contexts {
                let marker = if file.selected.as_deref() == Some(name) {
                    format!("{name}*")
                } else {
                    name.clone()
                };
                let auth = if c.creds.is_some() {
                    "creds"
                } else if c.nkey.is_some() {
                    "nkey"
                } else if c.token.is_some() {
                    "token"
                } else if c.user.is_some() {
                    "user"
                } else {
                    "none"
                };
                table.row(vec![
                    marker,
                    crate::conn::redact(c.server.as_deref().unwrap_or(crate::conn::DEFAULT_SERVER)),
                    auth.into(),
                    c.description.clone().unwrap_or_default(),
                ]);
            }
            out.table(&table)
        }
        ContextCmd::Select { name } => {
            let mut file = read()?;
            if !file.contexts.contains_key(&name) {
                return Err(usage(
                    format!("unknown context {name:?}"),
                    "list the contexts with `rnats context ls`",
                ));
            }
            file.selected = Some(name.clone());
            write(&file)?;
            out.note(format!("selected context {name:?}"));
            Ok(())
        }
        ContextCmd::Rm { name } => {
            let mut file = read()?;
            if file.contexts.remove(&name).is_none() {
                return Err(usage(
                    format!("unknown context {name:?}"),
                    "list the contexts with `rnats context ls`",
                ));
            }
            if file.selected.as_deref() == Some(name.as_str()) {
                file.selected = None;
            }
            write(&file)?;
            out.note(format!("deleted context {name:?}"));
            Ok(())
        }
    }
}
