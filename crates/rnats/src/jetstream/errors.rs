//! JetStream API errors: the server's `code`, `err_code` and description, kept as data.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, ErrorKind, StatusCode};

/// The error object of a JetStream API response: `{"code":404,"err_code":10059,...}`.
///
/// `code` is HTTP-like, `err_code` identifies the error precisely; the description is for
/// people and may change between server versions, so code never branches on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP-like status code (400, 404, 503...).
    pub code: u16,
    /// The server's precise error code (10059 is "stream not found"); 0 when the server gave
    /// none (a status message rather than a JSON error).
    #[serde(default)]
    pub err_code: ErrorCode,
    /// The server's description, for people.
    #[serde(default)]
    pub description: String,
}

impl ApiError {
    /// An error from a status message (a pull that ended with 409, a direct get with 404).
    pub(crate) fn from_status(status: StatusCode, description: Option<&str>) -> Self {
        Self {
            code: status.as_u16(),
            err_code: ErrorCode(0),
            description: description.unwrap_or_default().to_owned(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let description = if self.description.is_empty() {
            "no description"
        } else {
            &self.description
        };
        if self.err_code.0 == 0 {
            write!(f, "{description} (status {})", self.code)
        } else {
            write!(
                f,
                "{description} (code {}, err_code {})",
                self.code, self.err_code.0
            )
        }
    }
}

impl std::error::Error for ApiError {}

/// A JetStream `err_code` (from the server's `errors.json`). The constants name the ones
/// clients commonly branch on; any other value is kept as is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// 10003: bad request.
    pub const BAD_REQUEST: ErrorCode = ErrorCode(10003);
    /// 10008: JetStream system temporarily unavailable.
    pub const CLUSTER_NOT_AVAILABLE: ErrorCode = ErrorCode(10008);
    /// 10013: consumer name already in use.
    pub const CONSUMER_NAME_EXISTS: ErrorCode = ErrorCode(10013);
    /// 10014: consumer not found.
    pub const CONSUMER_NOT_FOUND: ErrorCode = ErrorCode(10014);
    /// 10037: no message found.
    pub const NO_MESSAGE_FOUND: ErrorCode = ErrorCode(10037);
    /// 10039: JetStream not enabled for account.
    pub const NOT_ENABLED_FOR_ACCOUNT: ErrorCode = ErrorCode(10039);
    /// 10052: stream configuration is invalid.
    pub const STREAM_INVALID_CONFIG: ErrorCode = ErrorCode(10052);
    /// 10058: stream name already in use with a different configuration.
    pub const STREAM_NAME_EXISTS: ErrorCode = ErrorCode(10058);
    /// 10059: stream not found.
    pub const STREAM_NOT_FOUND: ErrorCode = ErrorCode(10059);
    /// 10060: expected stream does not match (`Nats-Expected-Stream`).
    pub const STREAM_WRONG_EXPECTED_STREAM: ErrorCode = ErrorCode(10060);
    /// 10065: subjects overlap with an existing stream.
    pub const STREAM_SUBJECT_OVERLAP: ErrorCode = ErrorCode(10065);
    /// 10070: wrong last msg ID (`Nats-Expected-Last-Msg-Id`).
    pub const STREAM_WRONG_LAST_MSG_ID: ErrorCode = ErrorCode(10070);
    /// 10071: wrong last sequence (`Nats-Expected-Last-Sequence`,
    /// `Nats-Expected-Last-Subject-Sequence`).
    pub const STREAM_WRONG_LAST_SEQUENCE: ErrorCode = ErrorCode(10071);
    /// 10076: JetStream not enabled.
    pub const NOT_ENABLED: ErrorCode = ErrorCode(10076);
    /// 10105: consumer already exists and is still active.
    pub const CONSUMER_EXISTING_ACTIVE: ErrorCode = ErrorCode(10105);
    /// 10148: consumer already exists (create with a different configuration).
    pub const CONSUMER_ALREADY_EXISTS: ErrorCode = ErrorCode(10148);
    /// 10149: consumer does not exist (update of a missing consumer).
    pub const CONSUMER_DOES_NOT_EXIST: ErrorCode = ErrorCode(10149);
    /// 10164: wrong last sequence (the constant form replicated streams report).
    pub const STREAM_WRONG_LAST_SEQUENCE_CONSTANT: ErrorCode = ErrorCode(10164);
    /// 10165: invalid per-message TTL.
    pub const MESSAGE_TTL_INVALID: ErrorCode = ErrorCode(10165);
    /// 10166: per-message TTL is disabled on the stream.
    pub const MESSAGE_TTL_DISABLED: ErrorCode = ErrorCode(10166);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// JetStream predicates of the crate's one [`Error`] type.
impl Error {
    /// An API error answered by the server to a request on `subject`.
    pub(crate) fn jetstream_api(context: impl Into<String>, error: ApiError) -> Self {
        Error::with_source(ErrorKind::JetStream, context, error)
    }

    /// The server's JetStream API error, when this error is one (kind
    /// [`ErrorKind::JetStream`]).
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) {
    /// match js.get_stream("ORDERS").await {
    ///     Err(e) if e.is_stream_not_found() => eprintln!("no such stream"),
    ///     Err(e) => match e.jetstream_error() {
    ///         Some(api) => eprintln!("server said {} ({})", api.description, api.err_code),
    ///         None => eprintln!("{e}"),
    ///     },
    ///     Ok(_stream) => {}
    /// }
    /// # }
    /// ```
    pub fn jetstream_error(&self) -> Option<&ApiError> {
        if self.kind() != ErrorKind::JetStream {
            return None;
        }
        std::error::Error::source(self)?.downcast_ref::<ApiError>()
    }

    fn has_err_code(&self, codes: &[ErrorCode]) -> bool {
        self.jetstream_error()
            .is_some_and(|e| codes.contains(&e.err_code))
    }

    /// True when the stream does not exist (err_code 10059).
    pub fn is_stream_not_found(&self) -> bool {
        self.has_err_code(&[ErrorCode::STREAM_NOT_FOUND])
    }

    /// True when the consumer does not exist (err_code 10014, or 10149 for an update).
    pub fn is_consumer_not_found(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::CONSUMER_NOT_FOUND,
            ErrorCode::CONSUMER_DOES_NOT_EXIST,
        ])
    }

    /// True when a stream of that name exists with a different configuration (10058).
    pub fn is_stream_already_exists(&self) -> bool {
        self.has_err_code(&[ErrorCode::STREAM_NAME_EXISTS])
    }

    /// True when a consumer of that name exists with a different configuration (10148, 10013,
    /// 10105).
    pub fn is_consumer_already_exists(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::CONSUMER_ALREADY_EXISTS,
            ErrorCode::CONSUMER_NAME_EXISTS,
            ErrorCode::CONSUMER_EXISTING_ACTIVE,
        ])
    }

    /// True when an expected last sequence (of the stream or of the subject) did not match
    /// (10071, or 10164 as replicated streams report it).
    pub fn is_wrong_last_sequence(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::STREAM_WRONG_LAST_SEQUENCE,
            ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT,
        ])
    }

    /// True when the expected last message id did not match (10070).
    pub fn is_wrong_last_message_id(&self) -> bool {
        self.has_err_code(&[ErrorCode::STREAM_WRONG_LAST_MSG_ID])
    }

    /// True when the expected stream did not match (10060).
    pub fn is_wrong_expected_stream(&self) -> bool {
        self.has_err_code(&[ErrorCode::STREAM_WRONG_EXPECTED_STREAM])
    }

    /// True when no message matched a get (10037, or status 404 from a direct get).
    pub fn is_message_not_found(&self) -> bool {
        self.has_err_code(&[ErrorCode::NO_MESSAGE_FOUND])
            || self.jetstream_error().is_some_and(|e| {
                e.err_code == ErrorCode(0) && e.code == StatusCode::NOT_FOUND.as_u16()
            })
    }

    /// True when JetStream is not enabled (10076) or not enabled for the account (10039).
    pub fn is_jetstream_not_enabled(&self) -> bool {
        self.has_err_code(&[ErrorCode::NOT_ENABLED, ErrorCode::NOT_ENABLED_FOR_ACCOUNT])
    }

    /// True when a pull consumer's messages ended because the consumer was deleted
    /// (status `409 Consumer Deleted`).
    pub fn is_consumer_deleted(&self) -> bool {
        self.jetstream_error().is_some_and(|e| {
            e.err_code == ErrorCode(0)
                && e.code == StatusCode::CONFLICT.as_u16()
                && e.description.eq_ignore_ascii_case("consumer deleted")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_parses_and_classifies() {
        let e: ApiError = serde_json::from_str(
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.err_code, ErrorCode::STREAM_NOT_FOUND);
        let err = Error::jetstream_api("get stream", e);
        assert_eq!(err.kind(), ErrorKind::JetStream);
        assert!(err.is_stream_not_found());
        assert!(!err.is_consumer_not_found());
        assert_eq!(
            err.with_causes(),
            "get stream: stream not found (code 404, err_code 10059)"
        );
    }

    #[test]
    fn other_kinds_have_no_api_error() {
        let err = Error::new(ErrorKind::Timeout, "x");
        assert!(err.jetstream_error().is_none());
        assert!(!err.is_stream_not_found());
    }
}
