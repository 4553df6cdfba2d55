//! Distributed counters (ADR-49, server 2.12+): a stream with `allow_msg_counter` keeps, per
//! subject, a running total. A publish carries only the header `Nats-Incr: +n` (or `-n`);
//! the stream adds it to the subject's last value, stores `{"val":"<total>"}` and answers with
//! the new total in the [`PubAck`](super::PubAck)'s `val`. Totals are arbitrary-precision
//! integers on the server: [`Context::increment`] works in `i128`,
//! [`Context::increment_decimal`] in decimal strings of any size.
//!
//! [`Stream::get_counter`] reads a subject's total, its last increment and, for a stream
//! that sources other counters, what each source contributed (`Nats-Counter-Sources`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::context::Context;
use super::publish::Publish;
use super::stream::{Stream, StreamMessage};
use crate::{Error, ErrorKind};

const INCR: &str = "Nats-Incr";
const SOURCES: &str = "Nats-Counter-Sources";

/// A counter's state, from [`Stream::get_counter`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterEntry {
    /// The counter's subject.
    pub subject: String,
    /// The total, in decimal (any size: see [`CounterEntry::value_i128`]).
    pub value: String,
    /// The increment that made this total (`Nats-Incr` of the last message), when present.
    pub increment: Option<String>,
    /// For a stream sourcing counters: per source stream, per source subject, the last total
    /// seen from it (`Nats-Counter-Sources`). Empty otherwise.
    pub sources: BTreeMap<String, BTreeMap<String, String>>,
    /// The stream sequence of the message holding this total.
    pub sequence: u64,
}

impl CounterEntry {
    /// The total as an `i128`; an invalid-argument error when it does not fit.
    pub fn value_i128(&self) -> Result<i128, Error> {
        parse_total(&self.value, &self.subject)
    }
}

#[derive(Deserialize)]
struct CounterBody {
    val: String,
}

fn parse_total(value: &str, subject: &str) -> Result<i128, Error> {
    value.parse::<i128>().map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!("the total of counter {subject:?} ({value}) is not an i128"),
            e,
        )
    })
}

/// Whether `by` is an increment the server accepts: `[+-]?digits`.
fn check_increment(by: &str) -> Result<(), Error> {
    let digits = by.strip_prefix(['+', '-']).unwrap_or(by);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("a counter increment must be an integer such as +1 or -10, not {by:?}"),
        ));
    }
    Ok(())
}

impl Context {
    /// Adds `by` (negative to subtract, 0 to read through the stream leader) to the counter
    /// at `subject` and returns its new total. The stream storing `subject` needs
    /// `allow_msg_counter` (else [`Error::is_counter_not_enabled`]); a server below API level
    /// 2 (nats-server 2.12) is [`Error::is_unsupported`]. A total beyond `i128` is an
    /// invalid-argument error (the increment was applied: read it with
    /// [`Context::increment_decimal`] or [`Stream::get_counter`]).
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// let hits = js.increment("counter.hits", 1).await?;
    /// let hits = js.increment("counter.hits", -3).await?;
    /// # Ok(()) }
    /// ```
    pub async fn increment(&self, subject: impl AsRef<str>, by: i128) -> Result<i128, Error> {
        let subject = subject.as_ref();
        let total = self.increment_decimal(subject, &format!("{by:+}")).await?;
        parse_total(&total, subject)
    }

    /// [`Context::increment`] with the increment and the total as decimal strings, for
    /// counters beyond `i128`. `by` is `+n`, `-n` or `n`.
    pub async fn increment_decimal(
        &self,
        subject: impl AsRef<str>,
        by: &str,
    ) -> Result<String, Error> {
        let subject = subject.as_ref();
        self.require_api_level(super::api_level::V2_12, "counters")?;
        check_increment(by)?;
        let ack = self
            .publish_with(subject, Publish::new().header(INCR, by))
            .await?
            .await?;
        ack.value.ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "the acknowledgement of an increment of {subject:?} carries no value: is \
                     stream {:?} a counter?",
                    ack.stream
                ),
            )
        })
    }
}

impl Stream {
    /// The counter at `subject` (its last message: no wildcards): total, last increment and
    /// sources. Fails with [`Error::is_message_not_found`] when the subject has no counter
    /// yet.
    pub async fn get_counter(&self, subject: impl AsRef<str>) -> Result<CounterEntry, Error> {
        let msg = self
            .get_last_raw_message_by_subject(subject.as_ref())
            .await?;
        counter_entry(msg, self.name())
    }

    /// The counters of every subject matching `subjects` (wildcards allowed), in one or more
    /// Direct Gets of the last message per subject (the stream needs `allow_direct`; at most
    /// 1024 subjects may match). Subjects without a counter are absent.
    ///
    /// ```no_run
    /// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
    /// for entry in stream.get_counters(&["counter.>"]).await? {
    ///     println!("{} = {}", entry.subject, entry.value);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_counters(&self, subjects: &[&str]) -> Result<Vec<CounterEntry>, Error> {
        self.direct_get_last_for_subjects(subjects, None)
            .await?
            .into_iter()
            .map(|msg| counter_entry(msg, self.name()))
            .collect()
    }
}

/// A counter's state from the last message of its subject.
fn counter_entry(msg: StreamMessage, stream: &str) -> Result<CounterEntry, Error> {
    let subject = msg.subject.to_string();
    let body: CounterBody = serde_json::from_slice(&msg.payload).map_err(|e| {
        Error::with_source(
            ErrorKind::JetStream,
            format!("the last message of {subject:?} in stream {stream:?} is not a counter value"),
            e,
        )
    })?;
    let sources = match msg.headers.get(SOURCES) {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            Error::with_source(
                ErrorKind::JetStream,
                format!("the {SOURCES} header of counter {subject:?} is not valid"),
                e,
            )
        })?,
        None => BTreeMap::new(),
    };
    Ok(CounterEntry {
        increment: msg.headers.get(INCR).map(str::to_owned),
        subject,
        value: body.val,
        sources,
        sequence: msg.sequence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_are_checked() {
        for ok in ["+1", "-10", "0", "123456789012345678901234567890"] {
            assert!(check_increment(ok).is_ok(), "{ok}");
        }
        for bad in ["", "+", "1.5", "+-1", "ten", " 1", "1e3"] {
            assert!(check_increment(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format!("{:+}", 5i128), "+5");
        assert_eq!(format!("{:+}", -5i128), "-5");
    }
}
