//! Coverage manifests: signed, parsed strictly, tampering and changed keys
//! refused, and combined coverage equal to the plain union.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use pollwatch_ledger::note::{KeyKind, SignerKey};
use pollwatch_planning::manifest::{
    CoveredStation, Manifest, ManifestError, Skipped, Window, combine, peek_group, sign_manifest,
    verify_manifest,
};
use pollwatch_planning::map::Coverage;
use proptest::prelude::*;

fn key(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, KeyKind::Ed25519, [seed; 32]).unwrap()
}

fn manifest(group: &str, key: &SignerKey, issued_at: u64, stations: &[&str]) -> Manifest {
    Manifest {
        election: "Mazhilis 2026".into(),
        group: group.into(),
        issued_at,
        key: key.verifier().to_string(),
        stations: stations
            .iter()
            .map(|n| CoveredStation {
                number: (*n).into(),
                windows: vec![Window {
                    from: 480,
                    to: 1200,
                }],
            })
            .collect(),
    }
}

#[test]
fn a_manifest_roundtrips_and_its_body_is_the_documented_format() {
    let k = key("pollwatch/clean-vote", 1);
    let mut m = manifest("Clean Vote", &k, 1_767_000_000, &["101", "102/a"]);
    m.stations[1].windows = vec![
        Window { from: 420, to: 720 },
        Window {
            from: 780,
            to: 1440,
        },
    ];
    let signed = sign_manifest(&m, &k).unwrap();
    let body = m.body();
    assert_eq!(
        body,
        format!(
            "pollwatch coverage manifest v1\nelection Mazhilis 2026\ngroup Clean Vote\n\
             issued-at 1767000000\nkey {}\nstation 101 08:00-20:00\n\
             station 102/a 07:00-12:00,13:00-24:00\n",
            k.verifier()
        )
    );
    assert!(signed.starts_with(&body));
    assert!(signed[body.len()..].starts_with("\n\u{2014} pollwatch/clean-vote "));
    assert_eq!(peek_group(&signed).unwrap(), "Clean Vote");
    let v = verify_manifest(&signed, None).unwrap();
    assert_eq!(v.manifest, m);
    assert!(v.first_use);
    assert_eq!(v.key, k.verifier());
    let again = verify_manifest(&signed, Some(&v.key)).unwrap();
    assert!(!again.first_use);
    // No observer in it: only stations and times.
    assert!(!signed.to_lowercase().contains("observer"));
}

#[test]
fn strict_parse_errors_name_the_line() {
    let k = key("pollwatch/g", 2);
    let good = manifest("G", &k, 5, &["1", "2"]).body();
    let line_of = |text: &str| match Manifest::parse(text) {
        Err(ManifestError::Line { line, what }) => (line, what),
        other => panic!("{other:?} for {text:?}"),
    };
    let cases: Vec<(String, usize, &str)> = vec![
        (good.replace("manifest v1", "manifest v2"), 1, "is not"),
        (good.replace("election ", "elections "), 2, "election"),
        (good.replace("group G", "group  G"), 3, "space"),
        (
            good.replace("issued-at 5", "issued-at 05"),
            4,
            "leading zeros",
        ),
        (good.replace("issued-at 5", "issued-at -5"), 4, "decimal"),
        (good.replace("key pollwatch", "key xpollwatch"), 5, "key"),
        (good.replace("station 2 ", "station 1 "), 7, "ascending"),
        (
            good.replace("station 2 08:00-20:00", "station 2 20:00-08:00"),
            7,
            "does not end after",
        ),
        (
            good.replace("station 2 08:00-20:00", "station 2 08:00-24:01"),
            7,
            "24:00",
        ),
        (
            good.replace("station 2 08:00-20:00", "station 2 08:00-12:00,11:00-13:00"),
            7,
            "does not start after",
        ),
        (
            good.replace("station 2 08:00-20:00", "station 2 8:00-20:00"),
            7,
            "HH:MM",
        ),
        (
            good.replace("station 2 08:00-20:00", "station 2"),
            7,
            "no time window",
        ),
        (
            good.replace("station 2 08:00-20:00", "station 2 08:00-20:00 "),
            7,
            "ends in a space",
        ),
        (
            good.replace("station 2", "station 2;DROP"),
            7,
            "station number",
        ),
        (
            good.replace("station 2", "stations 2"),
            7,
            "does not start with",
        ),
        (good.replace("\nstation 2", "\n\nstation 2"), 7, "is empty"),
        (
            good.replace("group G\n", "group G\r\n"),
            3,
            "carriage return",
        ),
        (good.trim_end().to_owned(), 7, "newline"),
        (
            "pollwatch coverage manifest v1\nelection E\n".to_owned(),
            3,
            "missing",
        ),
    ];
    for (text, line, word) in cases {
        let (got, what) = line_of(&text);
        assert_eq!(got, line, "{what} for {text:?}");
        assert!(what.contains(word), "{what:?} lacks {word:?}");
        // The error's text names the line too.
        let e = Manifest::parse(&text).unwrap_err().to_string();
        assert!(e.starts_with(&format!("manifest line {line}: ")), "{e}");
    }
    assert!(Manifest::parse(&good).is_ok());
}

#[test]
fn a_changed_key_is_refused_with_how_to_accept_it() {
    let old = key("pollwatch/g", 3);
    let new = key("pollwatch/g", 4);
    let signed_old = sign_manifest(&manifest("G", &old, 1, &["1"]), &old).unwrap();
    let pinned = verify_manifest(&signed_old, None).unwrap().key;
    let signed_new = sign_manifest(&manifest("G", &new, 2, &["1", "2"]), &new).unwrap();
    let err = verify_manifest(&signed_new, Some(&pinned)).unwrap_err();
    let ManifestError::KeyChanged {
        group,
        pinned_id,
        offered_id,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(group, "G");
    assert_ne!(pinned_id, offered_id);
    let text = err.to_string();
    assert!(text.contains("--accept-new-key"), "{text}");
    assert!(text.contains(pinned_id) && text.contains(offered_id));
    // The old key's body re-signed by another key: not the key it names.
    let forged = {
        let body = manifest("G", &old, 3, &["1", "2"]).body();
        pollwatch_ledger::note::sign(&body, &[&new]).unwrap()
    };
    assert!(matches!(
        verify_manifest(&forged, Some(&pinned)),
        Err(ManifestError::Signature(_))
    ));
    assert!(matches!(
        verify_manifest(&forged, None),
        Err(ManifestError::Signature(_))
    ));
    // Signing with a key the manifest does not name is refused.
    assert!(matches!(
        sign_manifest(&manifest("G", &old, 1, &["1"]), &new),
        Err(ManifestError::WrongSigner { .. })
    ));
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any changed byte of the body is refused: it no longer parses, or
    /// its signature no longer verifies (with or without a pinned key).
    #[test]
    fn a_tampered_manifest_is_refused(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let k = key("pollwatch/g", 5);
        let m = manifest("G", &k, 9, &["10", "11", "12"]);
        let signed = sign_manifest(&m, &k).unwrap();
        let body_len = m.body().len();
        let i = pos.index(body_len);
        let mut bytes = signed.clone().into_bytes();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(verify_manifest(&text, None).is_err());
        prop_assert!(verify_manifest(&text, Some(&k.verifier())).is_err());
    }

    /// The combined coverage of two groups' manifests and ours is the
    /// union computed independently; gaps are its complement; stations
    /// covered twice are those in two sets or more.
    #[test]
    fn combined_coverage_is_the_union(
        own in prop::collection::btree_set(0u32..60, 0..30),
        a in prop::collection::btree_set(0u32..60, 0..30),
        b in prop::collection::btree_set(0u32..60, 0..30),
        a_old in prop::collection::btree_set(0u32..60, 0..30),
    ) {
        let all: Vec<String> = (0..50).map(|n| format!("{n:03}")).collect();
        let names = |s: &BTreeSet<u32>| -> Vec<String> { s.iter().map(|n| format!("{n:03}")).collect() };
        let refs = |v: &[String]| -> Vec<String> { v.to_vec() };
        let (ka, kb) = (key("pollwatch/a", 6), key("pollwatch/b", 7));
        let ma_names = names(&a);
        let mb_names = names(&b);
        let mo_names = names(&a_old);
        let ma = manifest("A", &ka, 20, &str_refs(&ma_names));
        let mb = manifest("B", &kb, 20, &str_refs(&mb_names));
        let older = manifest("A", &ka, 10, &str_refs(&mo_names));
        // Through the signed form, as they would arrive.
        let arrive = |m: &Manifest, k: &SignerKey| verify_manifest(&sign_manifest(m, k).unwrap(), None).unwrap().manifest;
        let manifests = vec![arrive(&ma, &ka), arrive(&older, &ka), arrive(&mb, &kb)];
        let c = combine("Mazhilis 2026", &all, "Us", &refs(&names(&own)), &manifests);
        // Independently: the sets, limited to the station list.
        let list: BTreeSet<String> = all.iter().cloned().collect();
        let sets: Vec<BTreeSet<String>> = [names(&own), ma_names.clone(), mb_names.clone()]
            .into_iter()
            .map(|v| v.into_iter().filter(|n| list.contains(n)).collect())
            .collect();
        let union: BTreeSet<String> = sets.iter().flatten().cloned().collect();
        let got: BTreeSet<String> = c.stations.keys().cloned().collect();
        prop_assert_eq!(&got, &union);
        let gaps: BTreeSet<String> = list.difference(&union).cloned().collect();
        prop_assert_eq!(c.gaps.iter().cloned().collect::<BTreeSet<_>>(), gaps);
        let mut times: BTreeMap<&String, usize> = BTreeMap::new();
        for s in &sets { for n in s { *times.entry(n).or_insert(0) += 1; } }
        let twice: Vec<String> = times.iter().filter(|&(_, &t)| t >= 2).map(|(n, _)| (*n).clone()).collect();
        prop_assert_eq!(&c.covered_twice, &twice);
        prop_assert_eq!(c.counts.covered + c.counts.gaps, 50);
        prop_assert_eq!(c.counts.by_us, sets[0].len());
        // The older manifest of A was replaced.
        let replaced = Skipped::Replaced { group: "A".into(), issued_at: 10 };
        prop_assert!(c.skipped.contains(&replaced));
        prop_assert_eq!(&c.used, &vec![("A".to_owned(), 20), ("B".to_owned(), 20)]);
        // Stations past the list are reported, not counted.
        let past: BTreeSet<String> = [names(&own), ma_names, mb_names].into_iter().flatten().filter(|n| !list.contains(n)).collect();
        prop_assert_eq!(c.unknown_stations.iter().map(|(_, n)| n.clone()).collect::<BTreeSet<_>>(), past);
        // The map's colours agree.
        let colours = c.coverage("Us", &all);
        for (n, col) in all.iter().zip(&colours) {
            let us = sets[0].contains(n);
            let others = sets[1].contains(n) || sets[2].contains(n);
            let expected = match (us, others) {
                (true, true) => Coverage::Both,
                (true, false) => Coverage::Ours,
                (false, true) => Coverage::Others,
                (false, false) => Coverage::Gap,
            };
            prop_assert_eq!(*col, expected);
        }
    }
}

#[test]
fn combine_skips_other_elections_and_our_own() {
    let k = key("pollwatch/a", 8);
    let mut other = manifest("A", &k, 5, &["1"]);
    other.election = "Senate 2027".into();
    let own = manifest("Us", &k, 5, &["2"]);
    let newer = manifest("A", &k, 6, &["3"]);
    let same_time = manifest("A", &k, 6, &["4"]);
    let all: Vec<String> = ["1", "2", "3", "4"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let c = combine(
        "Mazhilis 2026",
        &all,
        "Us",
        &[],
        &[other, own, newer, same_time],
    );
    // At equal issued-at the later manifest stands.
    assert_eq!(c.stations.keys().collect::<Vec<_>>(), ["4"]);
    assert_eq!(c.gaps, ["1", "2", "3"]);
    assert!(matches!(c.skipped[0], Skipped::OtherElection { .. }));
    assert_eq!(c.skipped[1], Skipped::Own { issued_at: 5 });
    assert_eq!(
        c.skipped[2],
        Skipped::Replaced {
            group: "A".into(),
            issued_at: 6
        }
    );
}
