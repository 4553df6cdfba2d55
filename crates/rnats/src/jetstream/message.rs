//! Messages delivered by consumers: metadata from the reply subject, and acknowledgements.

use std::ops::Deref;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

use super::context::Context;
use crate::{Error, ErrorKind, Request};

/// A message delivered by a JetStream consumer. Dereferences to the core
/// [`Message`](crate::Message) (subject, payload, headers); acknowledge it with
/// [`Message::ack`] and relatives.
#[derive(Debug, Clone)]
pub struct Message {
    /// The delivered message.
    pub message: crate::Message,
    pub(crate) context: Context,
}

impl Deref for Message {
    type Target = crate::Message;

    fn deref(&self) -> &crate::Message {
        &self.message
    }
}

/// How a message is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AckKind {
    /// Processed (`+ACK`).
    Ack,
    /// Not processed; redeliver (`-NAK`), after a delay if given.
    Nak(Option<Duration>),
    /// Still working on it: resets the ack wait timer (`+WPI`; may be sent many times).
    Progress,
    /// Never redeliver (`+TERM`), with an optional reason shown in the server's advisory.
    Term(Option<String>),
    /// Processed; deliver the next message to this reply subject (`+NXT`).
    Next,
}

impl AckKind {
    /// The acknowledgement's payload as sent to the message's reply subject (`+ACK`,
    /// `-NAK {"delay":…}`, `+WPI`, `+TERM <reason>`, `+NXT`).
    pub fn body(&self) -> Bytes {
        match self {
            AckKind::Ack => Bytes::from_static(b"+ACK"),
            AckKind::Nak(None) => Bytes::from_static(b"-NAK"),
            AckKind::Nak(Some(delay)) => Bytes::from(format!(
                "-NAK {{\"delay\":{}}}",
                super::nanos::to_i64(delay)
            )),
            AckKind::Progress => Bytes::from_static(b"+WPI"),
            AckKind::Term(None) => Bytes::from_static(b"+TERM"),
            AckKind::Term(Some(reason)) => Bytes::from(format!("+TERM {reason}")),
            AckKind::Next => Bytes::from_static(b"+NXT"),
        }
    }
}

/// A delivered message's metadata, parsed from its `$JS.ACK…` reply subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info<'a> {
    /// The JetStream domain (none for the default domain).
    pub domain: Option<&'a str>,
    /// The account hash (v2 subjects only).
    pub account_hash: Option<&'a str>,
    /// The stream.
    pub stream: &'a str,
    /// The consumer.
    pub consumer: &'a str,
    /// How many times this message was delivered (1 the first time).
    pub delivered: u64,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Its delivery sequence of the consumer.
    pub consumer_sequence: u64,
    /// When it was stored.
    pub published: OffsetDateTime,
    /// Messages left for the consumer after this one.
    pub pending: u64,
    /// The trailing token of v2 subjects, if any.
    pub token: Option<&'a str>,
}

impl Message {
    /// The message's metadata (stream and consumer sequences, delivery count, pending,
    /// timestamp), parsed from its reply subject; both the v1 (9 tokens) and the v2 (11 or
    /// more, with domain and account hash) formats are understood.
    pub fn info(&self) -> Result<Info<'_>, Error> {
        let reply = self.reply_subject()?;
        parse_info(reply)
    }

    /// Acknowledges: the message is processed.
    ///
    /// Cancelling: dropping the future after its first poll may still acknowledge.
    pub async fn ack(&self) -> Result<(), Error> {
        self.ack_with(AckKind::Ack).await
    }

    /// Sends the acknowledgement `kind` (without waiting for the server).
    pub async fn ack_with(&self, kind: AckKind) -> Result<(), Error> {
        let reply = self.reply_subject()?;
        self.context.client().publish(reply, kind.body()).await
    }

    /// Acknowledges and waits for the server to confirm it received the acknowledgement (up
    /// to the context's timeout).
    pub async fn double_ack(&self) -> Result<(), Error> {
        self.double_ack_with(AckKind::Ack).await
    }

    /// Sends the acknowledgement `kind` as a request and waits for the server's confirmation.
    ///
    /// [`AckKind::Next`] is refused: the server answers `+NXT` by delivering the next message
    /// to the request's reply subject, which a request cannot receive (it would time out
    /// while that message waits out its ack wait unseen).
    pub async fn double_ack_with(&self, kind: AckKind) -> Result<(), Error> {
        if kind == AckKind::Next {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "+NXT cannot be a double ack: the server answers it with the next message",
            ));
        }
        let reply = self.reply_subject()?;
        self.context
            .client()
            .request_with(
                reply,
                Request::new()
                    .payload(kind.body())
                    .timeout(self.context.timeout()),
            )
            .await
            .map(|_| ())
    }

    /// Asks for redelivery now.
    pub async fn nak(&self) -> Result<(), Error> {
        self.ack_with(AckKind::Nak(None)).await
    }

    /// Asks for redelivery after `delay`.
    pub async fn nak_with_delay(&self, delay: Duration) -> Result<(), Error> {
        self.ack_with(AckKind::Nak(Some(delay))).await
    }

    /// Says the message is still being worked on (resets the ack wait timer).
    pub async fn in_progress(&self) -> Result<(), Error> {
        self.ack_with(AckKind::Progress).await
    }

    /// Stops redelivery of this message for good.
    pub async fn term(&self) -> Result<(), Error> {
        self.ack_with(AckKind::Term(None)).await
    }

    /// Stops redelivery for good, telling why (the reason appears in the server's advisory).
    pub async fn term_with_reason(&self, reason: impl Into<String>) -> Result<(), Error> {
        self.ack_with(AckKind::Term(Some(reason.into()))).await
    }

    fn reply_subject(&self) -> Result<&str, Error> {
        self.message
            .reply
            .as_deref()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    "the message has no reply subject: it was not delivered by a consumer that acknowledges",
                )
            })
    }
}

/// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>` (v1) or
/// `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>…]` (v2).
///
/// Public for bindings and tools that hold only the reply subject (a message read from a
/// plain subscription on a push consumer's deliver subject, say).
pub fn parse_info(reply: &str) -> Result<Info<'_>, Error> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{reply:?} is not a JetStream ack subject"),
        )
    };
    // Every message of a consumer goes through here (an ordered consumer's and a KV
    // watcher's twice): the tokens go into an array, not a Vec, and the common timestamp
    // is read as an i64, not an i128.
    let mut tokens = [""; 12];
    let mut count = 0;
    let mut start = 0;
    // Dots are ASCII: every cut is on a character boundary.
    let ends = reply
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'.')
        .map(|(i, _)| i);
    for end in ends.chain(std::iter::once(reply.len())) {
        if let Some(slot) = tokens.get_mut(count) {
            *slot = reply.get(start..end).unwrap_or_default();
        }
        count += 1;
        start = end + 1;
    }
    if count < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return Err(bad());
    }
    let (domain, account_hash, rest, token) = match count {
        9 => (None, None, &tokens[2..9], None),
        10 => return Err(bad()),
        _ => {
            let domain = Some(tokens[2]).filter(|d| *d != "_" && !d.is_empty());
            let token = (count > 11).then_some(tokens[11]);
            (domain, Some(tokens[3]), &tokens[4..11], token)
        }
    };
    let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let published = unix_nanos(rest[5]).ok_or_else(bad)?;
    Ok(Info {
        domain,
        account_hash,
        stream: rest[0],
        consumer: rest[1],
        delivered: num(rest[2])?,
        stream_sequence: num(rest[3])?,
        consumer_sequence: num(rest[4])?,
        published,
        pending: num(rest[6])?,
        token,
    })
}

/// A timestamp in Unix nanoseconds. Those that fit an i64 (1677 to 2262) go through whole
/// seconds, without the i128 arithmetic of `from_unix_timestamp_nanos`.
fn unix_nanos(text: &str) -> Option<OffsetDateTime> {
    const NANOS: i64 = 1_000_000_000;
    match text.parse::<i64>() {
        Ok(ts) => OffsetDateTime::from_unix_timestamp(ts.div_euclid(NANOS))
            .ok()?
            .replace_nanosecond(ts.rem_euclid(NANOS) as u32)
            .ok(),
        Err(_) => OffsetDateTime::from_unix_timestamp_nanos(text.parse::<i128>().ok()?).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_subject() {
        let i = parse_info("$JS.ACK.ORDERS.proc.2.15.9.1700000000123456789.4").unwrap();
        assert_eq!(i.stream, "ORDERS");
        assert_eq!(i.consumer, "proc");
        assert_eq!(i.delivered, 2);
        assert_eq!(i.stream_sequence, 15);
        assert_eq!(i.consumer_sequence, 9);
        assert_eq!(i.pending, 4);
        assert_eq!(i.domain, None);
        assert_eq!(
            i.published.unix_timestamp_nanos(),
            1_700_000_000_123_456_789
        );
    }

    #[test]
    fn v2_subject_with_and_without_domain() {
        let i =
            parse_info("$JS.ACK.hub.ACCHASH.ORDERS.proc.1.3.3.1700000000000000000.0.xyz").unwrap();
        assert_eq!(i.domain, Some("hub"));
        assert_eq!(i.account_hash, Some("ACCHASH"));
        assert_eq!(i.stream, "ORDERS");
        assert_eq!(i.token, Some("xyz"));
        let i = parse_info("$JS.ACK._.H.S.C.1.3.3.1700000000000000000.0.t.more").unwrap();
        assert_eq!(i.domain, None);
        assert_eq!(i.stream, "S");
        let i = parse_info("$JS.ACK._.H.S.C.1.3.3.1700000000000000000.0").unwrap();
        assert_eq!(i.token, None);
    }

    #[test]
    fn bad_subjects_are_errors_not_panics() {
        for s in [
            "",
            "$JS.ACK",
            "$JS.ACK.S.C.1.2.3.4",
            "$JS.ACK.S.C.x.2.3.4.5",
            "$JS.ACK.a.b.S.C.1.2.3.4",
            "foo.ACK.S.C.1.2.3.4.5",
            "$JS.ACK.S.C.1.2.3.99999999999999999999999999.5",
        ] {
            assert!(parse_info(s).is_err(), "{s:?}");
        }
    }

    /// What a reading found: domain, account hash, stream and consumer, the four numbers,
    /// the timestamp, the token.
    type Read<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        [&'a str; 2],
        [u64; 4],
        i128,
        Option<&'a str>,
    );

    /// The reference reading: every token collected, the timestamp as an i128.
    fn parse_info_reference(reply: &str) -> Option<Read<'_>> {
        let tokens: Vec<&str> = reply.split('.').collect();
        if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" || tokens.len() == 10 {
            return None;
        }
        let (domain, hash, rest, token) = if tokens.len() == 9 {
            (None, None, &tokens[2..9], None)
        } else {
            let domain = Some(tokens[2]).filter(|d| *d != "_" && !d.is_empty());
            (
                domain,
                Some(tokens[3]),
                &tokens[4..11],
                tokens.get(11).copied(),
            )
        };
        let n = |s: &str| s.parse::<u64>().ok();
        let ts = rest[5].parse::<i128>().ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(ts).ok()?;
        Some((
            domain,
            hash,
            [rest[0], rest[1]],
            [n(rest[2])?, n(rest[3])?, n(rest[4])?, n(rest[6])?],
            ts,
            token,
        ))
    }

    fn ours(reply: &str) -> Option<Read<'_>> {
        parse_info(reply).ok().map(|i| {
            (
                i.domain,
                i.account_hash,
                [i.stream, i.consumer],
                [
                    i.delivered,
                    i.stream_sequence,
                    i.consumer_sequence,
                    i.pending,
                ],
                i.published.unix_timestamp_nanos(),
                i.token,
            )
        })
    }

    use proptest::strategy::Strategy as _;

    fn token() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::string::string_regex("[0-9]{1,20}").unwrap(),
            proptest::string::string_regex("-?[0-9]{1,30}").unwrap(),
            proptest::string::string_regex("[A-Za-z_]{0,4}").unwrap(),
        ]
    }

    proptest::proptest! {
        /// Any dotted tokens after `$JS.ACK`: both readings agree, errors included.
        #[test]
        fn parse_info_reads_any_subject_as_the_reference_does(
            tokens in proptest::collection::vec(token(), 0..14),
        ) {
            let reply = format!("$JS.ACK.{}", tokens.join("."));
            proptest::prop_assert_eq!(ours(&reply), parse_info_reference(&reply), "{}", reply);
        }

        /// Well-formed v1 and v2 subjects with any numbers and timestamps.
        #[test]
        fn parse_info_reads_well_formed_subjects_as_the_reference_does(
            v2 in proptest::bool::ANY,
            numbers in proptest::array::uniform4(proptest::num::u64::ANY),
            ts in proptest::prop_oneof![
                proptest::num::i64::ANY.prop_map(i128::from),
                -400_000_000_000_000_000_000i128..400_000_000_000_000_000_000i128,
            ],
            extra in proptest::collection::vec("[a-z]{1,3}", 0..3),
        ) {
            let [d, s, c, p] = numbers;
            let head = if v2 { "$JS.ACK.dom.HASH" } else { "$JS.ACK" };
            let mut reply = format!("{head}.STREAM.cons.{d}.{s}.{c}.{ts}.{p}");
            if v2 {
                for e in &extra {
                    reply.push('.');
                    reply.push_str(e);
                }
            }
            let expected = parse_info_reference(&reply);
            proptest::prop_assert_eq!(ours(&reply), expected, "{}", reply);
        }
    }

    #[test]
    fn timestamps_before_1970_and_beyond_i64() {
        let i = parse_info("$JS.ACK.S.C.1.2.3.-1500000000.0").unwrap();
        assert_eq!(i.published.unix_timestamp_nanos(), -1_500_000_000);
        let far = "$JS.ACK.S.C.1.2.3.9300000000000000000.0";
        assert_eq!(
            parse_info(far).unwrap().published.unix_timestamp_nanos(),
            9_300_000_000_000_000_000
        );
    }

    #[test]
    fn ack_bodies() {
        assert_eq!(AckKind::Ack.body(), "+ACK");
        assert_eq!(
            AckKind::Nak(Some(Duration::from_millis(1500))).body(),
            "-NAK {\"delay\":1500000000}"
        );
        assert_eq!(AckKind::Term(Some("bad".into())).body(), "+TERM bad");
    }
}
