//! Header block laws: encode → decode round trip, and what `validate()` accepts and rejects.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use rnats_proto::{HeaderMap, ProtoErrorKind, StatusCode};

use crate::strategies::{header_map, header_name, header_value, header_value_any_valid, line_text};

fn encoded(map: &HeaderMap) -> BytesMut {
    let mut out = BytesMut::new();
    map.encode(&mut out);
    out
}

/// Inserts `ch` into `s` at the char boundary chosen by `at`.
fn insert_at(s: &str, at: prop::sample::Index, ch: char) -> String {
    let bounds: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let i = bounds[at.index(bounds.len())];
    let mut out = s.to_owned();
    out.insert(i, ch);
    out
}

/// A character a header name must not contain: `:`, whitespace, control, DEL or non-ASCII.
fn bad_name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just(':'),
        Just(' '),
        Just('\t'),
        Just('\r'),
        Just('\n'),
        Just('\u{7f}'),
        (0u8..32).prop_map(char::from),
        any::<char>().prop_filter("non-ASCII", |c| !c.is_ascii()),
    ]
}

proptest! {
    /// A valid map encodes to exactly `encoded_len()` bytes and decodes to an equal map, with
    /// no status.
    #[test]
    fn header_map_round_trips(map in header_map()) {
        prop_assert!(map.validate().is_ok());
        let out = encoded(&map);
        prop_assert_eq!(out.len(), map.encoded_len());
        let (status, desc, got) = HeaderMap::decode(&out).unwrap();
        prop_assert_eq!(status, None);
        prop_assert_eq!(desc, None);
        prop_assert_eq!(got, map);
    }

    /// Any map `validate()` accepts round trips up to the optional whitespace around values:
    /// spaces and tabs at the ends of a value are not part of it.
    #[test]
    fn any_valid_map_round_trips_up_to_value_whitespace(
        entries in vec((header_name(), header_value_any_valid()), 0..6),
    ) {
        let map: HeaderMap = entries.iter().cloned().collect();
        prop_assert!(map.validate().is_ok());
        let (_, _, got) = HeaderMap::decode(&encoded(&map)).unwrap();
        let want: HeaderMap = entries
            .iter()
            .map(|(n, v)| (n.clone(), v.trim_matches([' ', '\t']).to_owned()))
            .collect();
        prop_assert_eq!(got, want);
    }

    /// The inline status and its description come back from the version line.
    #[test]
    fn status_line_round_trips(code in 100u16..=999, desc in proptest::option::of(line_text()), map in header_map()) {
        let mut block = format!("NATS/1.0 {code}").into_bytes();
        if let Some(d) = &desc {
            block.extend_from_slice(format!(" {d}").as_bytes());
        }
        block.extend_from_slice(&encoded(&map)[b"NATS/1.0".len()..]);
        let (status, got_desc, got) = HeaderMap::decode(&block).unwrap();
        prop_assert_eq!(status, StatusCode::from_u16(code));
        prop_assert_eq!(got_desc, desc.filter(|d| !d.is_empty()));
        prop_assert_eq!(got, map);
    }

    /// A value with a CR or LF anywhere is rejected: it would end the header line.
    #[test]
    fn validate_rejects_cr_or_lf_in_value(
        map in header_map(),
        name in header_name(),
        value in header_value(),
        at in any::<prop::sample::Index>(),
        ch in prop_oneof![Just('\r'), Just('\n')],
    ) {
        let mut map = map;
        map.append(name, insert_at(&value, at, ch));
        prop_assert_eq!(map.validate().unwrap_err().kind(), ProtoErrorKind::InvalidHeader);
    }

    /// A name with `:`, whitespace or a byte outside printable ASCII anywhere is rejected, as is
    /// an empty name.
    #[test]
    fn validate_rejects_bad_names(
        map in header_map(),
        name in header_name(),
        value in header_value(),
        at in any::<prop::sample::Index>(),
        ch in bad_name_char(),
        empty in prop::bool::weighted(0.1),
    ) {
        let bad = if empty { String::new() } else { insert_at(&name, at, ch) };
        let mut map = map;
        map.append(bad, value);
        prop_assert_eq!(map.validate().unwrap_err().kind(), ProtoErrorKind::InvalidHeader);
    }
}
