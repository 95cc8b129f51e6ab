//! Finding a station by what people type: a number, a word of its name or
//! of its address. The store keeps each station's words (lower-cased, one
//! row each) in an index, so a search is a range read of that index by
//! prefix, never a scan of 95,000 stations; this module decides what the
//! words are, for the stored side and the typed side alike.

use std::collections::BTreeSet;

use crate::StationRecord;

/// At most this many words of a query are used; more narrow nothing a
/// person would type and each costs the database one more index probe.
pub const MAX_TERMS: usize = 4;

/// The upper end of a prefix range: every word that starts with `prefix`
/// sorts (bytewise, as the index is ordered) before `prefix` + U+10FFFF.
pub fn prefix_end(prefix: &str) -> String {
    let mut end = String::with_capacity(prefix.len() + 4);
    end.push_str(prefix);
    end.push(char::MAX);
    end
}

fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The words a station can be found by: its number as written, and every
/// word of its name and address.
pub fn station_words(record: &StationRecord) -> BTreeSet<String> {
    let mut words: BTreeSet<String> = words_of(&record.name)
        .chain(words_of(&record.address))
        .collect();
    words.insert(record.number.as_str().to_lowercase());
    words
}

/// The prefixes to look for, longest first (the most selective one is
/// read from the index, the others narrow it), each word at most once.
/// A query of only punctuation has none: it filters nothing.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = words_of(query)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // A number typed as written ("12/3", "01-010") is also one word.
    let whole = query.trim().to_lowercase();
    if !whole.is_empty() && !whole.contains(char::is_whitespace) && !terms.contains(&whole) {
        terms.clear();
        terms.push(whole);
    }
    terms.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    terms.truncate(MAX_TERMS);
    terms
}

/// Whether a station's words answer a query: every term is the start of
/// one of them. The store's SQL asks the same; this is its specification.
pub fn matches(words: &BTreeSet<String>, terms: &[String]) -> bool {
    terms
        .iter()
        .all(|t| words.range(t.clone()..prefix_end(t)).next().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StationKind, StationNumber};
    use proptest::prelude::*;

    fn record(number: &str, name: &str, address: &str) -> StationRecord {
        StationRecord {
            number: StationNumber::parse(number).unwrap(),
            name: name.into(),
            address: address.into(),
            district: "D".into(),
            registered_voters: 1,
            coordinates: None,
            kind: StationKind::Regular,
            accessibility: vec![],
        }
    }

    #[test]
    fn words_are_lower_cased_and_split_on_punctuation() {
        let w = station_words(&record("101", "Школа №12", "ул. Абая, 10"));
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        assert_eq!(w, ["10", "101", "12", "абая", "ул", "школа"]);
    }

    #[test]
    fn a_query_finds_by_prefix_of_every_word() {
        let w = station_words(&record("101", "Школа №12", "ул. Абая, 10"));
        assert!(matches(&w, &query_terms("шко")));
        assert!(matches(&w, &query_terms("ШКОЛА аба")));
        assert!(matches(&w, &query_terms("101")));
        assert!(!matches(&w, &query_terms("школа гагарина")));
        assert!(!matches(&w, &query_terms("лицей")));
        assert!(
            matches(&w, &query_terms("   ")),
            "nothing typed filters nothing"
        );
    }

    #[test]
    fn a_number_with_punctuation_is_one_term() {
        let w = station_words(&record("12/3", "Гимназия", "пр. Мира"));
        assert_eq!(query_terms("12/3"), vec!["12/3".to_string()]);
        assert!(matches(&w, &query_terms("12/3")));
        assert!(!matches(&w, &query_terms("12/4")));
    }

    #[test]
    fn terms_are_longest_first_and_bounded() {
        let t = query_terms("a bb ccc dddd eeeee ffffff");
        assert_eq!(t, vec!["ffffff", "eeeee", "dddd", "ccc"]);
    }

    proptest! {
        #[test]
        fn every_word_of_a_station_finds_it(name in "\\PC{0,40}", address in "\\PC{0,40}", cut in 1usize..6) {
            let r = record("7", &name, &address);
            let w = station_words(&r);
            for word in words_of(&name).chain(words_of(&address)) {
                let prefix: String = word.chars().take(cut).collect();
                // Lower-casing can change a word's length (e.g. 'İ'); the
                // prefix of the stored word is what a person would type.
                prop_assert!(matches(&w, &query_terms(&prefix)) || prefix.chars().any(|c| !c.is_alphanumeric()), "{prefix:?} does not find {w:?}");
            }
        }
    }
}
