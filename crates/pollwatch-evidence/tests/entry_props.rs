//! Leaf lines: every entry round-trips through its line, and no changed
//! byte of a line reads as the same leaf.
#![allow(clippy::unwrap_used)]

use pollwatch_evidence::{Entry, EventEntry, FileEntry, PrivateLine};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn hex64() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

fn uuid() -> impl Strategy<Value = String> {
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
}

fn payload() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        hex64().prop_map(Value::String),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map("[a-z_\u{e9}\u{416}]{1,8}", value, 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

fn event() -> impl Strategy<Value = Entry> {
    (
        1u64..u64::MAX,
        any::<i64>(),
        any::<i64>(),
        "[a-z][a-z_]{0,12}",
        proptest::option::of("[0-9]{1,4}[A-Z]?"),
        any::<bool>(),
        payload(),
        hex64(),
    )
        .prop_map(
            |(seq, received_at, observed_at, kind, station, corrects, payload, sealed)| {
                Entry::Event(EventEntry {
                    seq,
                    received_at,
                    observed_at,
                    kind,
                    station,
                    corrects: (corrects && seq > 1).then_some(seq / 2),
                    payload,
                    sealed,
                })
            },
        )
}

fn file() -> impl Strategy<Value = Entry> {
    (
        hex64(),
        proptest::option::of(hex64()),
        prop_oneof![
            Just("image/jpeg"),
            Just("image/png"),
            Just("image/webp"),
            Just("image/heic"),
            Just("application/pdf")
        ],
        any::<u64>(),
    )
        .prop_map(|(sha256, public_sha256, media_type, size)| {
            Entry::File(FileEntry {
                sha256,
                public_sha256,
                media_type: media_type.into(),
                size,
            })
        })
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![event(), file()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(e in entry()) {
        let line = e.to_line();
        prop_assert!(!line.contains('\n'));
        let back = Entry::parse(line.as_bytes()).unwrap();
        prop_assert_eq!(back.to_line(), line);
        prop_assert_eq!(back.leaf(), e.leaf());
    }

    #[test]
    fn a_changed_byte_is_refused_or_another_leaf(e in entry(), at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let line = e.to_line().into_bytes();
        let i = at.index(line.len());
        prop_assume!(line[i] != to);
        let mut changed = line.clone();
        changed[i] = to;
        if let Ok(other) = Entry::parse(&changed) {
            prop_assert_eq!(other.to_line().into_bytes(), changed);
            prop_assert_ne!(other.leaf(), e.leaf());
        }
    }

    #[test]
    fn private_lines_round_trip_and_refuse_changes(
        client_id in uuid(),
        observer in proptest::option::of(any::<i64>()),
        supersedes in proptest::option::of(uuid()),
        at in any::<prop::sample::Index>(),
        to in any::<u8>(),
    ) {
        let p = PrivateLine { client_id, observer, supersedes };
        let line = p.to_line().into_bytes();
        prop_assert_eq!(PrivateLine::parse(&line).unwrap(), p.clone());
        let i = at.index(line.len());
        prop_assume!(line[i] != to);
        let mut changed = line.clone();
        changed[i] = to;
        if let Ok(other) = PrivateLine::parse(&changed) {
            prop_assert_ne!(other.sealed(), p.sealed());
        }
    }
}
