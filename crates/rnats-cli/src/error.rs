//! The one error of the tool: a message, a hint, and how to exit.

use std::io;
use std::process::ExitCode;

/// What went wrong, as printed on stderr: `error: MESSAGE (hint: HINT)`. Never holds a
/// secret: messages are built from library errors (which redact credentials) and from
/// arguments that are not secrets.
#[derive(Debug)]
pub(crate) struct CliError {
    /// What failed.
    msg: String,
    /// What to try next.
    hint: Option<String>,
    /// Stdout was closed by its reader (`rnats sub … | head`): not an error, exit 0.
    closed_pipe: bool,
}

impl CliError {
    /// An error with no hint.
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        CliError {
            msg: msg.into(),
            hint: None,
            closed_pipe: false,
        }
    }

    /// Adds (or replaces) the hint.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done.
    pub(crate) fn context(mut self, what: impl std::fmt::Display) -> Self {
        if !self.closed_pipe {
            self.msg = format!("{what}: {}", self.msg);
        }
        self
    }
}

/// Shorthand for a result of the tool.
pub(crate) type Result<T> = std::result::Result<T, CliError>;

/// Prints the error (unless it is a closed pipe) and picks the exit code.
pub(crate) fn report(e: &CliError) -> ExitCode {
    if e.closed_pipe {
        return ExitCode::SUCCESS;
    }
    // One line: newlines in server texts would break scripts that read stderr by line.
    let msg = e.msg.replace(['\n', '\r'], " ");
    match &e.hint {
        Some(hint) => eprintln!("error: {msg} (hint: {hint})"),
        None => eprintln!("error: {msg}"),
    }
    ExitCode::FAILURE
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return CliError {
                msg: String::new(),
                hint: None,
                closed_pipe: true,
            };
        }
        CliError::new(e.to_string())
    }
}

impl From<rnats::Error> for CliError {
    fn from(e: rnats::Error) -> Self {
        CliError::from(&e)
    }
}

impl From<&rnats::Error> for CliError {
    fn from(e: &rnats::Error) -> Self {
        let hint = hint_for(e);
        // The message and its causes, each once (a cause may already be in the message).
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !msg.contains(&text) {
                msg.push_str(": ");
                msg.push_str(&text);
            }
            source = cause.source();
        }
        let mut err = CliError::new(msg);
        err.hint = hint;
        err
    }
}

/// What to suggest for a library error.
fn hint_for(e: &rnats::Error) -> Option<String> {
    use rnats::ErrorKind as K;
    if e.is_stream_not_found() {
        return Some("list the streams with `rnats stream ls`".into());
    }
    if e.is_consumer_not_found() {
        return Some("list the consumers with `rnats consumer ls STREAM`".into());
    }
    if e.is_bucket_not_found() {
        return Some("list the buckets with `rnats kv ls`, create one with `rnats kv add`".into());
    }
    if e.is_object_bucket_not_found() {
        return Some(
            "list the buckets with `rnats obj ls`, create one with `rnats obj add`".into(),
        );
    }
    if e.is_key_not_found() || e.is_key_deleted() {
        return Some("list the keys with `rnats kv keys BUCKET`".into());
    }
    if e.is_invalid_key() {
        return Some(
            "keys use a-z, A-Z, 0-9 and -/_=. (no spaces, no leading or double dots)".into(),
        );
    }
    if e.is_invalid_bucket_name() {
        return Some("bucket names use a-z, A-Z, 0-9, '-' and '_'".into());
    }
    if e.is_object_not_found() {
        return Some("list the objects with `rnats obj ls BUCKET`".into());
    }
    if e.is_jetstream_not_enabled() {
        return Some("JetStream is off on this server: start nats-server with -js".into());
    }
    if e.is_message_not_found() {
        return Some("see the stream's sequences with `rnats stream info STREAM`".into());
    }
    // A connect failure carries the last attempt's error: a TLS or auth failure there is
    // what to fix, not the address.
    let mut kind = e.kind();
    if kind == K::ConnectFailed {
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            if let Some(inner) = cause.downcast_ref::<rnats::Error>() {
                if matches!(inner.kind(), K::Tls | K::Authorization) {
                    kind = inner.kind();
                    break;
                }
            }
            source = cause.source();
        }
        let text = e.to_string();
        if text.contains("TLS") || text.contains("certificate") {
            kind = K::Tls;
        } else if text.contains("uthorization") {
            kind = K::Authorization;
        }
    }
    let hint = match kind {
        K::ConnectFailed | K::Io => {
            "is nats-server running there? choose the server with --server or NATS_URL"
        }
        K::Authorization => "check --user/--password, --token, --nkey or --creds",
        K::Tls => "check --tlsca, --tlscert/--tlskey, and --tlsfirst if the server wants it",
        K::NoResponders => "nobody listens on that subject",
        K::Timeout => "no answer in time: raise --timeout, or check that someone answers",
        K::InvalidArgument => {
            let text = e.to_string();
            if text.contains("server address") || text.contains("URL") {
                "give servers as nats://host:4222 (or tls://, ws://), comma-separated"
            } else if text.contains("subject") || text.contains("queue") {
                "subjects are tokens separated by '.', with '*' and '>' only where allowed"
            } else {
                "check the values given; `rnats COMMAND --help` lists them"
            }
        }
        K::MaxPayloadExceeded => "the message is larger than the server's max_payload",
        K::PermissionDenied => "the server's permissions for this user refuse it",
        K::JetStream => "the server refused the JetStream request for the reason given",
        _ => return None,
    };
    Some(hint.into())
}

/// Turns anything displayable into a `CliError` with this hint.
pub(crate) fn usage(msg: impl Into<String>, hint: impl Into<String>) -> CliError {
    CliError::new(msg).hint(hint)
}
