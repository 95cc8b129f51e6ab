//! Figures no station could have, checked against the station's register.
//! [`super::check`] knows the forms but not the station; the server, which
//! knows which station a report is for, calls this as well.
//!
//! The bounds leave room for what really happens, and refuse what a slip
//! of the thumb makes (a headcount of 10,000,000 at a 2,000-voter station,
//! an extra digit or three):
//!
//! - **Voters counted or announced** (a headcount): at a regular station
//!   everyone who votes is on its list, or added to it on the day (moved
//!   house, court decision); a list can also be stale. Allowed: registered
//!   × 1.5 + 500. At an **open** station anyone may vote with a
//!   certificate, so the register says little: registered × 5 + 10,000.
//! - **Protocol figures**: ballot supply lines (received, cancelled) run far
//!   above the voters: 2,900 ballots at a 7-voter station in Russia's 2011
//!   protocols, 70,000 at a 1,018-voter station abroad. The protocol's own
//!   control relations flag what does not add up, so this bound only has
//!   to catch the impossible, and must never refuse a real protocol:
//!   registered × 2 + 3,000 at a regular station, which no figure of the
//!   189,886 domestic station protocols of Russia 2011 and 2012 exceeds;
//!   registered × 10 + 100,000 at an open one, which none of the 754
//!   stations abroad (open to any citizen) exceeds.

use serde_json::{Map, Value};

use super::PayloadError;
use crate::event::EventKind;
use crate::model::{StationKind, StationRecord};

/// Most voters a headcount may report at `station`.
pub fn headcount_bound(station: &StationRecord) -> u64 {
    let r = u64::from(station.registered_voters);
    match station.kind {
        StationKind::Open => r * 5 + 10_000,
        StationKind::Regular => r * 3 / 2 + 500,
    }
}

/// Largest figure a protocol of `station` may carry.
pub fn protocol_bound(station: &StationRecord) -> u64 {
    let r = u64::from(station.registered_voters);
    match station.kind {
        StationKind::Open => r * 10 + 100_000,
        StationKind::Regular => r * 2 + 3_000,
    }
}

/// Check a payload that [`super::check`] accepted against the register of
/// the station it is for; every figure beyond the bound is named.
pub fn check_against_register(
    kind: EventKind,
    payload: &Map<String, Value>,
    station: &StationRecord,
) -> Result<(), Vec<PayloadError>> {
    let mut errors = Vec::new();
    let mut over = |field: String, n: u64, bound: u64, what: &str| {
        if n > bound {
            errors.push(PayloadError {
                field,
                question: None,
                rule: crate::forms::Rule::Range {
                    min: 0,
                    max: i64::try_from(bound).unwrap_or(i64::MAX),
                },
                reason: format!(
                    "{n} is more than {what} (at most {bound} at station {}, {} registered voters{})",
                    station.number.as_str(),
                    station.registered_voters,
                    if station.kind == StationKind::Open {
                        ", open to voters with a certificate"
                    } else {
                        ""
                    }
                ),
            });
        }
    };
    match kind {
        EventKind::Headcount => {
            let bound = headcount_bound(station);
            for key in ["counted", "announced"] {
                if let Some(n) = payload.get(key).and_then(Value::as_u64) {
                    over(key.to_owned(), n, bound, "this station can have voted");
                }
            }
        }
        EventKind::Protocol => {
            let bound = protocol_bound(station);
            let Some(figures) = payload.get("figures").and_then(Value::as_object) else {
                return Ok(());
            };
            for (key, value) in figures {
                if let Some(candidates) = value.as_object() {
                    for (c, v) in candidates {
                        if let Some(n) = v.as_u64() {
                            over(
                                format!("figures.{key}.{c}"),
                                n,
                                bound,
                                "a protocol of this station can hold",
                            );
                        }
                    }
                } else if let Some(n) = value.as_u64() {
                    over(
                        format!("figures.{key}"),
                        n,
                        bound,
                        "a protocol of this station can hold",
                    );
                }
            }
        }
        _ => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::StationNumber;
    use proptest::prelude::*;
    use serde_json::json;

    fn station(registered: u32, kind: StationKind) -> StationRecord {
        StationRecord {
            number: StationNumber::parse("12/3").unwrap(),
            name: "School".into(),
            address: "Street 1".into(),
            district: "D".into(),
            registered_voters: registered,
            coordinates: None,
            kind,
            accessibility: vec![],
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_headcount_beyond_the_register_is_named() {
        let s = station(2000, StationKind::Regular);
        let ok = obj(json!({"counted": 1200, "announced": 3500}));
        assert!(check_against_register(EventKind::Headcount, &ok, &s).is_ok());
        let bad = obj(json!({"counted": 1200, "announced": 10_000_000}));
        let e = check_against_register(EventKind::Headcount, &bad, &s).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "announced");
        assert!(e[0].reason.contains("3500"), "{}", e[0].reason);
        assert!(e[0].reason.contains("2000 registered"), "{}", e[0].reason);
        // One past the bound is refused, the bound itself is not.
        let edge = obj(json!({"counted": 3501}));
        assert!(check_against_register(EventKind::Headcount, &edge, &s).is_err());
        // An open station takes voters from anywhere.
        let open = station(2000, StationKind::Open);
        let many = obj(json!({"counted": 15_000}));
        assert!(check_against_register(EventKind::Headcount, &many, &open).is_ok());
        assert!(check_against_register(EventKind::Headcount, &many, &s).is_err());
    }

    #[test]
    fn protocol_figures_are_bounded_loosely_and_named() {
        let s = station(7, StationKind::Regular);
        // A real one: 2,900 ballots received at a 7-voter station.
        let real = obj(json!({"status": "posted", "figures": {"L1": 7, "L2": 2900,
            "candidates": {"C1": 5}}}));
        assert!(check_against_register(EventKind::Protocol, &real, &s).is_ok());
        let typo = obj(json!({"status": "posted", "figures": {"L1": 7, "L2": 2900,
            "candidates": {"C1": 50000}}}));
        let e = check_against_register(EventKind::Protocol, &typo, &s).unwrap_err();
        assert_eq!(e[0].field, "figures.candidates.C1");
        let none = obj(json!({"status": "not_posted", "figures": null}));
        assert!(check_against_register(EventKind::Protocol, &none, &s).is_ok());
    }

    proptest! {
        /// Whatever the register, a headcount is refused exactly when it
        /// passes the bound, and the bound is never below the register.
        #[test]
        fn the_bound_is_the_line(registered in 0u32..100_000, n in 0u64..1_000_000, open: bool) {
            let s = station(registered, if open { StationKind::Open } else { StationKind::Regular });
            let bound = headcount_bound(&s);
            prop_assert!(bound >= u64::from(registered));
            prop_assert!(protocol_bound(&s) >= bound);
            let p = obj(json!({"counted": n}));
            prop_assert_eq!(check_against_register(EventKind::Headcount, &p, &s).is_err(), n > bound);
        }
    }
}
