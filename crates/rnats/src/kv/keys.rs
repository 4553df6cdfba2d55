//! The names of the Key-Value world: bucket names, keys and watch filters (ADR-6), and the
//! typed error that says which rule a name broke.

use crate::{Error, ErrorKind};

/// What kind of name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameKind {
    /// A bucket name (`^[a-zA-Z0-9_-]+$`).
    Bucket,
    /// A key (`^[-/_=.a-zA-Z0-9]+$`, no leading, trailing or doubled `.`).
    Key,
    /// A key filter of a watch or a key listing (keys plus the `*` and `>` wildcards).
    Filter,
}

/// The rule a refused name broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// It is empty.
    Empty,
    /// It holds a character the kind of name does not allow.
    InvalidCharacter(char),
    /// It starts with `.`.
    LeadingDot,
    /// It ends with `.`.
    TrailingDot,
    /// It holds `..` (an empty token).
    EmptyToken,
    /// A wildcard (`*`, `>`) is not a whole token, or `>` is not the last token.
    MisplacedWildcard,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Empty => f.write_str("it is empty"),
            Rule::InvalidCharacter(c) => write!(f, "character {c:?} is not allowed"),
            Rule::LeadingDot => f.write_str("it starts with '.'"),
            Rule::TrailingDot => f.write_str("it ends with '.'"),
            Rule::EmptyToken => f.write_str("it holds '..' (an empty token)"),
            Rule::MisplacedWildcard => {
                f.write_str("a wildcard must be a whole token, and '>' the last one")
            }
        }
    }
}

/// A bucket name, key or filter that breaks a rule: the source of an
/// [`ErrorKind::InvalidArgument`] error, reached with [`Error::kv_name_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NameError {
    /// What was refused.
    pub kind: NameKind,
    /// The rule it broke.
    pub rule: Rule,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            NameKind::Bucket => "bucket names allow only a-z, A-Z, 0-9, '_' and '-'",
            NameKind::Key => {
                "keys allow only a-z, A-Z, 0-9 and '-/_=.', with no leading, trailing or doubled '.'"
            }
            NameKind::Filter => "key filters are keys with '*' and '>' as whole tokens",
        };
        f.write_str(what)
    }
}

impl std::error::Error for NameError {}

fn refuse(kind: NameKind, name: &str, rule: Rule) -> Error {
    let what = match kind {
        NameKind::Bucket => "bucket name",
        NameKind::Key => "key",
        NameKind::Filter => "key filter",
    };
    Error::with_source(
        ErrorKind::InvalidArgument,
        format!("invalid {what} {name:?}: {rule}"),
        NameError { kind, rule },
    )
}

/// KV-1: `^[a-zA-Z0-9_-]+$`.
pub(crate) fn check_bucket(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(refuse(NameKind::Bucket, name, Rule::Empty));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(refuse(NameKind::Bucket, name, Rule::InvalidCharacter(c)));
    }
    Ok(())
}

fn key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '=' | '.')
}

fn dots(kind: NameKind, name: &str) -> Result<(), Error> {
    if name.starts_with('.') {
        return Err(refuse(kind, name, Rule::LeadingDot));
    }
    if name.ends_with('.') {
        return Err(refuse(kind, name, Rule::TrailingDot));
    }
    if name.contains("..") {
        return Err(refuse(kind, name, Rule::EmptyToken));
    }
    Ok(())
}

/// KV-2: a key.
pub(crate) fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(refuse(NameKind::Key, key, Rule::Empty));
    }
    if let Some(c) = key.chars().find(|c| !key_char(*c)) {
        return Err(refuse(NameKind::Key, key, Rule::InvalidCharacter(c)));
    }
    dots(NameKind::Key, key)
}

/// KV-2: a watch or keys filter (`*` and `>` as whole tokens, `>` last).
pub(crate) fn check_filter(filter: &str) -> Result<(), Error> {
    if filter.is_empty() {
        return Err(refuse(NameKind::Filter, filter, Rule::Empty));
    }
    if let Some(c) = filter
        .chars()
        .find(|c| !(key_char(*c) || *c == '*' || *c == '>'))
    {
        return Err(refuse(NameKind::Filter, filter, Rule::InvalidCharacter(c)));
    }
    dots(NameKind::Filter, filter)?;
    let tokens: Vec<&str> = filter.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        let wild = token.contains('*') || token.contains('>');
        let whole = *token == "*" || (*token == ">" && i + 1 == tokens.len());
        if wild && !whole {
            return Err(refuse(NameKind::Filter, filter, Rule::MisplacedWildcard));
        }
    }
    Ok(())
}

/// The checks a store with validation turned off still makes: what would break the wire or
/// the subject space (empty, whitespace or control characters, wildcards in a key).
pub(crate) fn check_key_minimal(key: &str, filter: bool) -> Result<(), Error> {
    let kind = if filter {
        NameKind::Filter
    } else {
        NameKind::Key
    };
    if key.is_empty() {
        return Err(refuse(kind, key, Rule::Empty));
    }
    if let Some(c) = key
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || (!filter && matches!(c, '*' | '>')))
    {
        return Err(refuse(kind, key, Rule::InvalidCharacter(c)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(r: Result<(), Error>) -> Option<Rule> {
        r.err().map(|e| {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            e.kv_name_error().map(|n| n.rule).unwrap_or(Rule::Empty)
        })
    }

    #[test]
    fn buckets() {
        assert_eq!(rule(check_bucket("orders_2-x")), None);
        assert_eq!(rule(check_bucket("")), Some(Rule::Empty));
        assert_eq!(rule(check_bucket("a.b")), Some(Rule::InvalidCharacter('.')));
        assert_eq!(rule(check_bucket("a b")), Some(Rule::InvalidCharacter(' ')));
    }

    #[test]
    fn keys() {
        for ok in ["a", "a.b", "A/b_c=d-e.f", "_kv.x", "1"] {
            assert_eq!(rule(check_key(ok)), None, "{ok}");
        }
        assert_eq!(rule(check_key("")), Some(Rule::Empty));
        assert_eq!(rule(check_key(".a")), Some(Rule::LeadingDot));
        assert_eq!(rule(check_key("a.")), Some(Rule::TrailingDot));
        assert_eq!(rule(check_key("a..b")), Some(Rule::EmptyToken));
        assert_eq!(rule(check_key("a*")), Some(Rule::InvalidCharacter('*')));
        assert_eq!(rule(check_key("a b")), Some(Rule::InvalidCharacter(' ')));
        assert_eq!(rule(check_key("é")), Some(Rule::InvalidCharacter('é')));
    }

    #[test]
    fn filters() {
        for ok in [">", "*", "a.*", "a.>", "a.*.c", "*.b.>"] {
            assert_eq!(rule(check_filter(ok)), None, "{ok}");
        }
        assert_eq!(rule(check_filter("a*")), Some(Rule::MisplacedWildcard));
        assert_eq!(rule(check_filter(">.a")), Some(Rule::MisplacedWildcard));
        assert_eq!(rule(check_filter("a.>b")), Some(Rule::MisplacedWildcard));
        assert_eq!(rule(check_filter("a..*")), Some(Rule::EmptyToken));
    }

    #[test]
    fn the_message_names_the_rule() {
        let e = check_key("a..b").err().map(|e| e.to_string());
        let text = e.unwrap_or_default();
        assert!(
            text.contains("invalid key \"a..b\": it holds '..'"),
            "{text}"
        );
        let with = check_key("a..b")
            .err()
            .map(|e| e.with_causes())
            .unwrap_or_default();
        assert!(with.contains("no leading, trailing or doubled"), "{with}");
    }
}
