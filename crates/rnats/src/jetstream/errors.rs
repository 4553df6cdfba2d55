//! What JetStream errors mean: the predicates of the crate's one [`Error`] type
//! (`is_stream_not_found`…). The error object itself, [`ApiError`], and its [`ErrorCode`]s
//! are the API's wire format: they live in `api.rs`.

use super::api::{ApiError, ErrorCode};
use crate::{Error, ErrorKind, StatusCode};

/// JetStream predicates of the crate's one [`Error`] type.
impl Error {
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
