//! The orders a coordinator's screens list stations in, kept as the log
//! is folded: each station's state on the map, the stations most urgent
//! first, and the largest turnout gaps. At national scale (95,000
//! stations) working these out per view meant a status and a sort of
//! every station for each of twenty coordinators' refreshes; here a folded
//! event re-files only the stations it changed.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use pollwatch_domain::Timestamp;
use pollwatch_domain::forms::Severity;

use crate::{Alert, AlertState, StationStatus};

#[derive(Debug, Clone, Default)]
pub(crate) struct Order {
    /// Most urgent first, then registry order.
    pub(crate) urgency: BTreeSet<(Reverse<StationStatus>, usize)>,
    /// Each station's turnout gap (counted against announced), when the
    /// standing headcount has one above zero.
    pub(crate) gap_of: Vec<Option<u64>>,
    /// Largest gap first, then station number.
    pub(crate) gaps: BTreeSet<(Reverse<u64>, String, usize)>,
    /// The stations of each district, in registry order.
    pub(crate) by_district: HashMap<String, Vec<usize>>,
    /// The alerts in the feed's order: open before resolved, then by
    /// severity, newest first; the last field is the alert's index.
    pub(crate) alerts: BTreeSet<AlertKey>,
}

/// Where an alert stands in the feed.
pub(crate) type AlertKey = (bool, Severity, Reverse<Timestamp>, Reverse<String>, usize);

pub(crate) fn alert_key(a: &Alert, i: usize) -> AlertKey {
    (
        a.state == AlertState::Resolved,
        a.severity,
        Reverse(a.raised_at),
        Reverse(a.id.clone()),
        i,
    )
}

impl Order {
    pub(crate) fn new<'a>(districts: impl Iterator<Item = &'a str>) -> Self {
        let mut by_district: HashMap<String, Vec<usize>> = HashMap::new();
        let mut n = 0;
        for (i, d) in districts.enumerate() {
            by_district.entry(d.to_owned()).or_default().push(i);
            n = i + 1;
        }
        Self {
            urgency: (0..n)
                .map(|i| (Reverse(StationStatus::NotCovered), i))
                .collect(),
            gap_of: vec![None; n],
            gaps: BTreeSet::new(),
            by_district,
            alerts: BTreeSet::new(),
        }
    }

    /// File station `i` again: from the state it was filed under
    /// (`StationState::filed`, the one record of it) to `status`, and
    /// under its gap as it is now.
    pub(crate) fn set(
        &mut self,
        i: usize,
        number: &str,
        old: StationStatus,
        status: StationStatus,
        gap: Option<u64>,
    ) {
        let Some(old_gap) = self.gap_of.get_mut(i) else {
            return;
        };
        if old != status {
            self.urgency.remove(&(Reverse(old), i));
            self.urgency.insert((Reverse(status), i));
        }
        if *old_gap != gap {
            if let Some(g) = *old_gap {
                self.gaps.remove(&(Reverse(g), number.to_owned(), i));
            }
            if let Some(g) = gap {
                self.gaps.insert((Reverse(g), number.to_owned(), i));
            }
            *old_gap = gap;
        }
    }
}
