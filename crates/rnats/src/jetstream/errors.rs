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

    /// True when the stream does not allow atomic batches (`allow_atomic` is off, 10174), or
    /// fast batches (`allow_batched` is off, 10205).
    pub fn is_batch_not_enabled(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::ATOMIC_PUBLISH_DISABLED,
            ErrorCode::BATCH_PUBLISH_DISABLED,
        ])
    }

    /// True when an atomic batch was refused as a whole: incomplete or abandoned (10176), too
    /// large (10199), a bad commit (10200), a duplicate message id (10201), a header batches do
    /// not support (10177), a missing sequence (10175), an invalid id (10179), or too many
    /// batches in flight (10210). Nothing of the batch was stored.
    pub fn is_batch_rejected(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::ATOMIC_PUBLISH_INCOMPLETE_BATCH,
            ErrorCode::ATOMIC_PUBLISH_TOO_LARGE_BATCH,
            ErrorCode::ATOMIC_PUBLISH_INVALID_BATCH_COMMIT,
            ErrorCode::ATOMIC_PUBLISH_DUPLICATE_MESSAGE,
            ErrorCode::ATOMIC_PUBLISH_UNSUPPORTED_HEADER,
            ErrorCode::ATOMIC_PUBLISH_MISSING_SEQ,
            ErrorCode::ATOMIC_PUBLISH_INVALID_BATCH_ID,
            ErrorCode::ATOMIC_PUBLISH_TOO_MANY_INFLIGHT,
        ])
    }

    /// True when the stream is not a counter (`allow_msg_counter` is off, 10168).
    pub fn is_counter_not_enabled(&self) -> bool {
        self.has_err_code(&[ErrorCode::MESSAGE_INCR_DISABLED])
    }

    /// True when a counter refused the increment: missing (10169), with a payload (10170),
    /// not an integer (10171), or the stored value is broken (10172).
    pub fn is_counter_rejected(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::MESSAGE_INCR_MISSING,
            ErrorCode::MESSAGE_INCR_PAYLOAD,
            ErrorCode::MESSAGE_INCR_INVALID,
            ErrorCode::MESSAGE_COUNTER_BROKEN,
        ])
    }

    /// True when the stream does not allow message schedules (`allow_msg_schedules` is off,
    /// 10188).
    pub fn is_schedules_not_enabled(&self) -> bool {
        self.has_err_code(&[ErrorCode::MESSAGE_SCHEDULES_DISABLED])
    }

    /// True when the stream refused a schedule: its pattern (10189) or target (10190) is
    /// invalid.
    pub fn is_schedule_invalid(&self) -> bool {
        self.has_err_code(&[
            ErrorCode::MESSAGE_SCHEDULES_PATTERN_INVALID,
            ErrorCode::MESSAGE_SCHEDULES_TARGET_INVALID,
        ])
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
