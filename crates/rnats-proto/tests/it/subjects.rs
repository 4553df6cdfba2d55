//! Subject validation and wildcard matching laws.

use proptest::prelude::*;
use rnats_proto::subject::{matches, validate_publish, validate_subscribe};
use rnats_proto::ProtoErrorKind;

use crate::strategies::{sub_subject, subject, subject_tokens};

proptest! {
    /// A concrete subject matches itself.
    #[test]
    fn subject_matches_itself(s in subject()) {
        prop_assert!(matches(&s, &s));
    }

    /// `>` matches every subject.
    #[test]
    fn full_wildcard_matches_everything(s in subject()) {
        prop_assert!(matches(">", &s));
    }

    /// Replacing any set of tokens with `*` still matches, and so does replacing any non-empty
    /// tail with `>`.
    #[test]
    fn wildcards_in_place_of_tokens_match(tokens in subject_tokens(), mask in any::<u8>(), tail in any::<prop::sample::Index>()) {
        let s = tokens.join(".");
        let starred: Vec<&str> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| if mask & (1 << i) != 0 { "*" } else { t.as_str() })
            .collect();
        let pattern = starred.join(".");
        prop_assert!(validate_subscribe(&pattern).is_ok());
        prop_assert!(matches(&pattern, &s), "{} vs {}", pattern, s);
        let keep = tail.index(tokens.len());
        let mut gt: Vec<&str> = starred[..keep].to_vec();
        gt.push(">");
        prop_assert!(matches(&gt.join("."), &s), "{:?} vs {}", gt, s);
    }

    /// A pattern without `>` never matches a subject with a different number of tokens; with a
    /// `>` it never matches a subject with fewer tokens than the pattern.
    #[test]
    fn token_count_must_agree(
        pattern_tokens in proptest::collection::vec(prop_oneof![Just("*".to_owned()), "[ab]"], 1..6),
        subject_tokens in proptest::collection::vec("[ab]", 1..6),
    ) {
        let p = pattern_tokens.join(".");
        let s = subject_tokens.join(".");
        if pattern_tokens.len() != subject_tokens.len() {
            prop_assert!(!matches(&p, &s), "{} matched {}", p, s);
        }
        let with_tail = format!("{p}.>");
        if subject_tokens.len() <= pattern_tokens.len() {
            prop_assert!(!matches(&with_tail, &s), "{} matched {}", with_tail, s);
        }
    }

    /// Matching agrees with a token-by-token definition on a small alphabet (where equal tokens
    /// are frequent).
    #[test]
    fn matching_agrees_with_definition(
        pattern in proptest::collection::vec(prop_oneof![Just("*".to_owned()), "[ab]"], 1..5),
        tail in any::<bool>(),
        subject in proptest::collection::vec("[ab]", 1..6),
    ) {
        let mut p = pattern.clone();
        if tail {
            p.push(">".to_owned());
        }
        let tok_ok = |(pt, st): (&String, &String)| pt == "*" || pt == st;
        let want = if tail {
            subject.len() > pattern.len() && pattern.iter().zip(&subject).all(tok_ok)
        } else {
            subject.len() == pattern.len() && pattern.iter().zip(&subject).all(tok_ok)
        };
        prop_assert_eq!(matches(&p.join("."), &subject.join(".")), want);
    }

    /// The generated subjects are valid to publish and to subscribe to; subscription subjects
    /// are valid to subscribe to, and to publish to exactly when they have no wildcard.
    #[test]
    fn generated_subjects_validate(s in subject(), sub in sub_subject()) {
        prop_assert!(validate_publish(&s).is_ok(), "{:?}", s);
        prop_assert!(validate_subscribe(&s).is_ok(), "{:?}", s);
        prop_assert!(validate_subscribe(&sub).is_ok(), "{:?}", sub);
        let wild = sub.split('.').any(|t| t == "*" || t == ">");
        prop_assert_eq!(
            validate_publish(&sub).err().map(|e| e.kind()),
            wild.then_some(ProtoErrorKind::InvalidSubject),
            "{:?}", sub
        );
    }

    /// Whitespace anywhere in a subject is rejected.
    #[test]
    fn whitespace_is_rejected(s in subject(), at in any::<prop::sample::Index>(), ws in prop::sample::select(vec![' ', '\t', '\r', '\n'])) {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        let mut bad = s.clone();
        bad.insert(bounds[at.index(bounds.len())], ws);
        prop_assert_eq!(invalid_kind(validate_publish(&bad)), Some(ProtoErrorKind::InvalidSubject), "{:?}", bad);
        prop_assert_eq!(invalid_kind(validate_subscribe(&bad)), Some(ProtoErrorKind::InvalidSubject), "{:?}", bad);
    }

    /// An empty token (leading, trailing or doubled `.`) is rejected.
    #[test]
    fn empty_token_is_rejected(tokens in subject_tokens(), at in any::<prop::sample::Index>()) {
        let mut t: Vec<&str> = tokens.iter().map(String::as_str).collect();
        t.insert(at.index(t.len() + 1), "");
        let bad = t.join(".");
        prop_assert_eq!(invalid_kind(validate_publish(&bad)), Some(ProtoErrorKind::InvalidSubject), "{:?}", bad);
        prop_assert_eq!(invalid_kind(validate_subscribe(&bad)), Some(ProtoErrorKind::InvalidSubject), "{:?}", bad);
    }
}

/// The kind of a validation error, `None` when it passed.
fn invalid_kind(result: Result<(), rnats_proto::ProtoError>) -> Option<ProtoErrorKind> {
    result.err().map(|e| e.kind())
}
