//! Subjects: the [`Subject`] string type, validation and wildcard matching.
//!
//! Rules (NATS protocol conventions, ADR-6): a subject is non-empty, has no whitespace (space,
//! tab, CR, LF), and is made of `.`-separated non-empty tokens. In subscriptions `*` matches one
//! token and `>` one or more trailing tokens; both must be whole tokens and `>` must be last.
//! Publish subjects may not contain wildcards at all.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

use crate::error::{ProtoError, ProtoErrorKind};

/// A subject (or reply subject): an immutable, cheaply cloneable UTF-8 string.
///
/// Subjects of received messages are zero-copy slices of the connection's read buffer.
/// `Subject` dereferences to `str`, so all string methods work on it.
///
/// ```
/// use rnats_proto::Subject;
/// let s = Subject::from("orders.eu.new");
/// assert!(s.starts_with("orders."));
/// assert_eq!(s, "orders.eu.new");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Subject(ByteString);

impl Subject {
    /// A subject from a static string, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Self(ByteString::from_static(s))
    }

    /// Takes bytes that must be UTF-8 (used by the parser on slices of the read buffer).
    pub(crate) fn from_utf8_bytes(b: Bytes) -> Result<Self, ProtoError> {
        ByteString::try_from(b).map(Self).map_err(|_| {
            ProtoError::new(ProtoErrorKind::MalformedFrame, "subject is not valid UTF-8")
        })
    }

    /// The subject as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subject's bytes, sharing the underlying buffer.
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }
}

impl Deref for Subject {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Subject {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Subject {
    fn from(s: &str) -> Self {
        Self(ByteString::from(s))
    }
}

impl From<String> for Subject {
    fn from(s: String) -> Self {
        Self(ByteString::from(s))
    }
}

impl From<&String> for Subject {
    fn from(s: &String) -> Self {
        Self(ByteString::from(s.as_str()))
    }
}

impl From<Subject> for String {
    fn from(s: Subject) -> Self {
        s.as_str().to_owned()
    }
}

impl PartialEq<str> for Subject {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Subject {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Subject {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Subject> for str {
    fn eq(&self, other: &Subject) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Subject> for &str {
    fn eq(&self, other: &Subject) -> bool {
        *self == other.as_str()
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn invalid(kind: ProtoErrorKind, what: &str, s: &str, why: &str) -> ProtoError {
    // Subjects are not secrets; quoting them with {:?} escapes control characters.
    ProtoError::new(kind, format!("{what} {s:?} {why}"))
}

/// What a byte is to subject validation: 0 ordinary, 1 the token separator, 2 anything the
/// fast path leaves to [`check_tokens_in_full`] (whitespace, wildcards).
const BYTE_CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    class[b'.' as usize] = 1;
    class[b' ' as usize] = 2;
    class[b'\t' as usize] = 2;
    class[b'\r' as usize] = 2;
    class[b'\n' as usize] = 2;
    class[b'*' as usize] = 2;
    class[b'>' as usize] = 2;
    class
};

/// Runs for every publish (twice for a request), so the common case — ordinary bytes and
/// single dots between non-empty tokens — is one table lookup per byte; anything else
/// (a wildcard, whitespace, an empty token, or nothing at all) goes through the full check,
/// which also says what is wrong.
fn check_tokens(s: &str, allow_wildcards: bool, what: &str) -> Result<(), ProtoError> {
    // `after_dot` starts true: a leading dot is an empty token.
    let mut after_dot = true;
    for &c in s.as_bytes() {
        match BYTE_CLASS[c as usize] {
            0 => after_dot = false,
            1 if !after_dot => after_dot = true,
            _ => return check_tokens_in_full(s, allow_wildcards, what),
        }
    }
    if after_dot {
        // Empty, or a trailing dot.
        return check_tokens_in_full(s, allow_wildcards, what);
    }
    Ok(())
}

/// One pass over the bytes, every rule, with the error naming the rule broken.
fn check_tokens_in_full(s: &str, allow_wildcards: bool, what: &str) -> Result<(), ProtoError> {
    let kind = ProtoErrorKind::InvalidSubject;
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(ProtoError::new(kind, format!("{what} must not be empty")));
    }
    let empty_token = || {
        invalid(
            kind,
            what,
            s,
            "has an empty token (leading, trailing or double '.')",
        )
    };
    let mut token_start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                return Err(invalid(
                    kind,
                    what,
                    s,
                    "contains whitespace (space, tab, CR or LF)",
                ))
            }
            b'.' => {
                if i == token_start {
                    return Err(empty_token());
                }
                token_start = i + 1;
            }
            b'*' | b'>' => {
                if !allow_wildcards {
                    return Err(invalid(
                        kind,
                        what,
                        s,
                        "contains a wildcard ('*' or '>'), which only subscriptions may use",
                    ));
                }
                let whole = i == token_start && b.get(i + 1).is_none_or(|n| *n == b'.');
                if !whole {
                    return Err(invalid(
                        kind,
                        what,
                        s,
                        "uses a wildcard inside a token; '*' and '>' must be whole tokens",
                    ));
                }
                if c == b'>' && i + 1 != b.len() {
                    return Err(invalid(kind, what, s, "has '>' before the last token"));
                }
            }
            _ => {}
        }
    }
    if token_start == b.len() {
        return Err(empty_token());
    }
    Ok(())
}

/// Checks a subject to publish to: no wildcards, no whitespace, no empty tokens.
///
/// ```
/// use rnats_proto::subject::validate_publish;
/// assert!(validate_publish("orders.new").is_ok());
/// assert!(validate_publish("orders.*").is_err());
/// assert!(validate_publish("orders..new").is_err());
/// ```
pub fn validate_publish(s: &str) -> Result<(), ProtoError> {
    check_tokens(s, false, "publish subject")
}

/// Checks a reply subject: same rules as a publish subject.
pub fn validate_reply(s: &str) -> Result<(), ProtoError> {
    check_tokens(s, false, "reply subject")
}

/// Checks a subscription subject: wildcards allowed as whole tokens, `>` only last.
///
/// ```
/// use rnats_proto::subject::validate_subscribe;
/// assert!(validate_subscribe("orders.*.new").is_ok());
/// assert!(validate_subscribe("orders.>").is_ok());
/// assert!(validate_subscribe("orders.>.new").is_err());
/// assert!(validate_subscribe("orders.n*").is_err());
/// ```
pub fn validate_subscribe(s: &str) -> Result<(), ProtoError> {
    check_tokens(s, true, "subscription subject")
}

/// Checks a queue group name: non-empty, no whitespace.
pub fn validate_queue_group(q: &str) -> Result<(), ProtoError> {
    let kind = ProtoErrorKind::InvalidQueueGroup;
    if q.is_empty() {
        return Err(ProtoError::new(kind, "queue group must not be empty"));
    }
    if q.bytes().any(is_space) {
        return Err(invalid(
            kind,
            "queue group",
            q,
            "contains whitespace (space, tab, CR or LF)",
        ));
    }
    Ok(())
}

/// True when `subject` (a concrete subject) is matched by `pattern` (which may contain `*` and
/// `>` wildcards).
///
/// ```
/// use rnats_proto::subject::matches;
/// assert!(matches("a.*.c", "a.b.c"));
/// assert!(matches("a.>", "a.b.c"));
/// assert!(!matches("a.>", "a"));
/// assert!(!matches("a.*", "a.b.c"));
/// ```
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(pt), Some(st)) if pt == st => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_rules() {
        for ok in ["a", "a.b", "A-b_c.$JS.API", "_INBOX.abc.1"] {
            assert!(validate_publish(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", " ", "a b", "a\tb", "a\r\n", "a..b", ".a", "a.", "a.*", "a.>", "*", "a\nb",
        ] {
            let err = validate_publish(bad).unwrap_err();
            assert_eq!(err.kind(), ProtoErrorKind::InvalidSubject, "{bad:?}");
        }
    }

    #[test]
    fn subscribe_rules() {
        for ok in ["a", "*", ">", "a.*", "a.>", "*.b.*", "a.*.>"] {
            assert!(validate_subscribe(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.>.b", "a*", "a.b>", ">.a", "a..b", "a b", "a.\r\n"] {
            assert!(validate_subscribe(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn queue_rules() {
        assert!(validate_queue_group("workers").is_ok());
        assert!(validate_queue_group("").is_err());
        assert!(validate_queue_group("a b").is_err());
        assert!(validate_queue_group("a\r\n").is_err());
    }

    #[test]
    fn error_text_names_the_problem() {
        let err = validate_publish("a..b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid subject: publish subject \"a..b\" has an empty token (leading, trailing or double '.')"
        );
    }

    #[test]
    fn matching() {
        assert!(matches("a", "a"));
        assert!(!matches("a", "b"));
        assert!(matches("*", "a"));
        assert!(!matches("*", "a.b"));
        assert!(matches(">", "a.b.c"));
        assert!(matches("a.*.c", "a.x.c"));
        assert!(!matches("a.*.c", "a.x.d"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
    }

    #[test]
    fn subject_compares_with_str() {
        let s = Subject::from("x.y");
        assert_eq!(s, "x.y");
        assert_eq!("x.y", s);
        assert_eq!(format!("{s:?}"), "\"x.y\"");
        assert_eq!(s.len(), 3);
    }

    proptest::proptest! {
        /// The fast path decides exactly as the full check, on subjects made mostly of the
        /// bytes that matter (dots, wildcards, whitespace) and on any string at all.
        #[test]
        fn fast_path_agrees_with_the_full_check(
            picked in proptest::collection::vec(
                proptest::sample::select(vec!["a", "Z", "-", ".", "*", ">", " ", "\t", "\r", "\n", "é"]),
                0..12,
            ),
            any in ".{0,16}",
            wildcards: bool,
        ) {
            for subject in [picked.concat(), any] {
                let fast = check_tokens(&subject, wildcards, "subject").is_ok();
                let full = check_tokens_in_full(&subject, wildcards, "subject").is_ok();
                proptest::prop_assert_eq!(fast, full, "{:?}", subject);
            }
        }
    }
}
