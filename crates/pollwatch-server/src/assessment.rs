//! The assessment of a group from its situation room: the room's
//! projections (which report stands, verdicts, incidents, alerts) and,
//! when an official result is named, the comparison's findings per
//! station, handed to `pollwatch-assessment`. Read from the room already
//! kept, never by folding the log again.

use std::collections::BTreeSet;

use pollwatch_analysis::compare;
use pollwatch_assessment::{Assessment, FindingReport, Rules, StationInput, situation};
use pollwatch_situation::Situation;

use crate::analysis::{Kept, observed_at, official_name};

/// Every station's input. With `kept`, each station the observers have
/// figures for is compared with the official result (as the comparison
/// page does, with its default rules); without, none is compared.
pub fn inputs(s: &Situation, kept: Option<&Kept>) -> Vec<StationInput> {
    let rules = compare::Rules::default();
    let mut unknown = BTreeSet::new();
    situation::inputs(s, |st| {
        let kept = kept?;
        let o = observed_at(s, st, &kept.set().candidates)?;
        let off = kept.official.station(official_name(st));
        let c = compare::station(kept.set(), off, &o, &rules, &mut unknown);
        Some(
            c.findings
                .into_iter()
                .map(|f| FindingReport {
                    kind: f.kind.as_str().to_owned(),
                    field: f.field,
                    message: f.message,
                })
                .collect(),
        )
    })
}

/// The group's assessment now.
pub fn assess(rules: &Rules, s: &Situation, kept: Option<&Kept>) -> Assessment {
    pollwatch_assessment::assess(rules, &inputs(s, kept))
}
