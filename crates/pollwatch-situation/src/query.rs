//! Reads of the projections: bounded pages, tallies, the alert feed, the
//! report that stands, conflicting reports.

use std::collections::BTreeMap;

use pollwatch_domain::actions::{Audience, Verdict};
use pollwatch_domain::forms::Severity;
use pollwatch_domain::{ClientId, RowId};
use serde::Serialize;
use serde_json::Value;

use crate::{
    Alert, AlertState, Case, FormKey, Message, ObserverState, Review, Safety, Situation, Slot,
    StationState, StationStatus, Summary,
};

/// Which stations a list shows.
#[derive(Debug, Clone, Default)]
pub struct StationFilter {
    pub district: Option<String>,
    pub status: Option<StationStatus>,
    /// A prefix of the station number.
    pub number: Option<String>,
}

/// One page of stations, in registry order, and where the next starts.
#[derive(Debug)]
pub struct StationPage<'a> {
    pub stations: Vec<&'a StationState>,
    /// Pass as `after` for the next page; `None` on the last.
    pub next: Option<usize>,
    pub matching: usize,
}

/// The counts that matter at a glance, for a district or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub stations: u32,
    pub by_status: BTreeMap<&'static str, u32>,
    /// Stations with an observer assigned or a report in.
    pub covered: u32,
    pub protocols_posted: u32,
    /// Not posted, copy refused, removed… (the status counts as a problem).
    pub protocols_refused: u32,
    /// Covered stations without a protocol report yet.
    pub protocols_missing: u32,
    pub observers: u32,
    pub observers_checked_in: u32,
    pub observers_silent: u32,
    pub observers_alarm: u32,
    pub observers_removed: u32,
    pub observers_detained: u32,
    pub open_alerts: u32,
    pub critical_alerts: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tallies {
    pub all: Tally,
    pub districts: BTreeMap<String, Tally>,
}

/// Reports of several observers for one form at one station that disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub form: FormKey,
    /// Answer ids (or protocol lines) the reports differ on.
    pub fields: Vec<String>,
}

impl Situation {
    pub fn districts(&self) -> &[String] {
        &self.districts
    }

    pub fn station(&self, id: RowId) -> Option<&StationState> {
        self.stations.get(*self.station_index.get(&id)?)
    }

    pub fn station_by_number(&self, number: &str) -> Option<&StationState> {
        self.stations.iter().find(|s| s.station.number == number)
    }

    /// Stations whose state changed after log position `seq` (any
    /// report, verdict or choice of theirs, an alert on them), in registry
    /// order: what a projection kept beside this one folds again.
    pub fn stations_changed_since(&self, seq: i64) -> impl Iterator<Item = &StationState> {
        self.stations.iter().filter(move |s| s.changed > seq)
    }

    pub fn station_count(&self) -> usize {
        self.stations.len()
    }

    pub fn observer(&self, id: RowId) -> Option<&ObserverState> {
        self.observers.get(&id)
    }

    pub fn observers(&self) -> impl Iterator<Item = &ObserverState> {
        self.observers.values()
    }

    pub fn review(&self, report: &ClientId) -> Option<&Review> {
        self.verdicts.get(report)
    }

    /// Every verdict, by the report it is on.
    pub fn reviews(&self) -> impl Iterator<Item = (&ClientId, &Review)> {
        self.verdicts.iter()
    }

    fn counts(&self, s: &Slot) -> bool {
        self.verdicts
            .get(&s.client_id)
            .is_none_or(|r| r.verdict != Verdict::Disputed)
    }

    /// The report that stands for a form: the coordinator's choice if it is
    /// not disputed, else the latest received that is not disputed.
    pub fn standing<'a>(&self, s: &'a StationState, form: &FormKey) -> Option<&'a Slot> {
        let slots = s.slots.get(form)?;
        if let Some(chosen) = s.chosen.get(form)
            && let Some(slot) = slots
                .iter()
                .find(|x| &x.client_id == chosen && self.counts(x))
        {
            return Some(slot);
        }
        slots
            .iter()
            .filter(|x| self.counts(x))
            .max_by_key(|x| x.seq)
    }

    /// Every standing headcount, protocol and checklist, station by
    /// station: what the comparison and the quick count read.
    pub fn standing_reports(&self) -> impl Iterator<Item = (&StationState, &Slot)> {
        self.stations.iter().flat_map(move |s| {
            s.slots
                .keys()
                .filter_map(move |k| self.standing(s, k).map(|slot| (s, slot)))
        })
    }

    /// A station's state on the map, as kept by the fold.
    pub fn status(&self, s: &StationState) -> StationStatus {
        s.filed
    }

    /// A station's state worked out from its reports and alerts: what the
    /// fold files it under (and what a test checks the filing against).
    pub fn compute_status(&self, s: &StationState) -> StationStatus {
        let critical = s.open_alerts.iter().any(|id| {
            self.alert(id)
                .is_some_and(|a| a.severity == Severity::Critical)
        });
        if critical {
            return StationStatus::Critical;
        }
        let problem = !s.open_alerts.is_empty()
            || s.slots
                .keys()
                .filter_map(|k| self.standing(s, k))
                .any(Slot::has_problem);
        if problem {
            StationStatus::Problem
        } else if s.last_report.is_some() {
            StationStatus::Reporting
        } else if !s.checked_in.is_empty() {
            StationStatus::CheckedIn
        } else if !s.observers.is_empty() {
            StationStatus::Assigned
        } else {
            StationStatus::NotCovered
        }
    }

    /// The standing headcount's gap between announced and counted.
    pub fn turnout_gap(&self, s: &StationState) -> Option<(u64, u64, u64)> {
        match &self.standing(s, &FormKey::Headcount)?.summary {
            Summary::Headcount {
                counted,
                announced: Some(a),
            } => Some((*counted, *a, counted.abs_diff(*a))),
            _ => None,
        }
    }

    /// The `n` stations with the largest turnout gaps (then by number),
    /// from the kept order: a district's are picked from its own.
    pub fn largest_gaps(&self, district: Option<&str>, n: usize) -> Vec<(&StationState, u64, u64)> {
        self.order
            .gaps
            .iter()
            .map(|(_, _, i)| &self.stations[*i])
            .filter(|s| district.is_none_or(|d| s.station.district == d))
            .filter_map(|s| {
                let (c, a, _) = self.turnout_gap(s)?;
                Some((s, c, a))
            })
            .take(n)
            .collect()
    }

    fn matches(&self, s: &StationState, f: &StationFilter) -> bool {
        f.district.as_ref().is_none_or(|d| &s.station.district == d)
            && f.number
                .as_ref()
                .is_none_or(|n| s.station.number.starts_with(n.as_str()))
            && f.status.is_none_or(|st| self.status(s) == st)
    }

    /// A page of stations after position `after` (from [`StationPage::next`]).
    pub fn stations_page(&self, f: &StationFilter, after: usize, limit: usize) -> StationPage<'_> {
        let mut out = Vec::new();
        let mut next = None;
        let mut matching = 0;
        for (i, s) in self.stations.iter().enumerate() {
            if !self.matches(s, f) {
                continue;
            }
            matching += 1;
            if i < after {
                continue;
            }
            if out.len() == limit {
                next.get_or_insert(i);
                continue;
            }
            out.push(s);
        }
        StationPage {
            stations: out,
            next,
            matching,
        }
    }

    /// A page of stations, most urgent first (critical, problem, reporting,
    /// …, not covered last; registry order within a state), from position
    /// `offset` of that order.
    pub fn stations_by_urgency(
        &self,
        f: &StationFilter,
        offset: usize,
        limit: usize,
    ) -> StationPage<'_> {
        // A district's stations are few: filed on the spot. The whole
        // election's come from the kept order, already sorted.
        let picked: Vec<usize> = match &f.district {
            Some(d) => {
                let mut v: Vec<(std::cmp::Reverse<StationStatus>, usize)> = self
                    .order
                    .by_district
                    .get(d)
                    .into_iter()
                    .flatten()
                    .filter(|&&i| self.matches(&self.stations[i], f))
                    .map(|&i| (std::cmp::Reverse(self.stations[i].filed), i))
                    .collect();
                v.sort_unstable();
                v.into_iter().map(|(_, i)| i).collect()
            }
            None if f.number.is_none() => {
                // No scan of the stations: a range of the kept order.
                type Filed = (std::cmp::Reverse<StationStatus>, usize);
                let range = || -> Box<dyn Iterator<Item = &Filed> + '_> {
                    match f.status {
                        Some(st) => Box::new(self.order.urgency.range(
                            (std::cmp::Reverse(st), 0)..=(std::cmp::Reverse(st), usize::MAX),
                        )),
                        None => Box::new(self.order.urgency.iter()),
                    }
                };
                let matching = match f.status {
                    Some(_) => range().count(),
                    None => self.order.urgency.len(),
                };
                let stations: Vec<&StationState> = range()
                    .skip(offset)
                    .take(limit)
                    .map(|(_, i)| &self.stations[*i])
                    .collect();
                return StationPage {
                    stations,
                    next: (offset + limit < matching).then_some(offset + limit),
                    matching,
                };
            }
            None => self
                .order
                .urgency
                .iter()
                .filter(|(status, i)| {
                    f.status.is_none_or(|st| st == status.0) && self.matches(&self.stations[*i], f)
                })
                .map(|(_, i)| *i)
                .collect(),
        };
        let matching = picked.len();
        let stations = picked
            .iter()
            .skip(offset)
            .take(limit)
            .map(|i| &self.stations[*i])
            .collect();
        StationPage {
            stations,
            next: (offset + limit < matching).then_some(offset + limit),
            matching,
        }
    }

    /// Every station matching, for the map (the caller bounds how many it
    /// draws).
    pub fn stations_matching<'a>(
        &'a self,
        f: &'a StationFilter,
    ) -> Box<dyn Iterator<Item = &'a StationState> + 'a> {
        match &f.district {
            Some(d) => Box::new(
                self.order
                    .by_district
                    .get(d)
                    .into_iter()
                    .flatten()
                    .map(|&i| &self.stations[i])
                    .filter(move |s| self.matches(s, f)),
            ),
            None => Box::new(self.stations.iter().filter(move |s| self.matches(s, f))),
        }
    }

    fn observer_district(&self, o: &ObserverState) -> Option<&str> {
        o.stations
            .iter()
            .chain(o.last_station.iter())
            .find_map(|id| self.station(*id))
            .map(|s| s.station.district.as_str())
    }

    /// Tallies by district and in all. Linear in stations and observers:
    /// computed once per change and shared, not per view.
    pub fn tallies(&self) -> Tallies {
        let mut t = Tallies::default();
        for d in &self.districts {
            let mut tally = Tally::default();
            for st in StationStatus::ALL {
                tally.by_status.insert(st.as_str(), 0);
            }
            t.districts.insert(d.clone(), tally);
        }
        for st in StationStatus::ALL {
            t.all.by_status.insert(st.as_str(), 0);
        }
        let add = |t: &mut Tallies, district: Option<&str>, f: &dyn Fn(&mut Tally)| {
            f(&mut t.all);
            if let Some(d) = district.and_then(|d| t.districts.get_mut(d)) {
                f(d);
            }
        };
        for s in &self.stations {
            let status = self.status(s);
            let covered = status != StationStatus::NotCovered;
            let protocol = self
                .standing(s, &FormKey::Protocol)
                .map(|p| match &p.summary {
                    Summary::Protocol { status_problem, .. } => *status_problem,
                    _ => false,
                });
            add(&mut t, Some(&s.station.district), &|x: &mut Tally| {
                x.stations += 1;
                *x.by_status.entry(status.as_str()).or_default() += 1;
                x.covered += u32::from(covered);
                match protocol {
                    Some(false) => x.protocols_posted += 1,
                    Some(true) => x.protocols_refused += 1,
                    None if covered => x.protocols_missing += 1,
                    None => {}
                }
            });
        }
        for o in self.observers.values() {
            let silent = o
                .silent
                .as_ref()
                .and_then(|id| self.alert(id))
                .is_some_and(|a| a.state != AlertState::Resolved);
            add(&mut t, self.observer_district(o), &|x: &mut Tally| {
                x.observers += 1;
                x.observers_checked_in += u32::from(o.checked_in_at.is_some());
                x.observers_silent += u32::from(silent);
                match o.safety {
                    Safety::Safe => {}
                    Safety::Alarm => x.observers_alarm += 1,
                    Safety::Removed => x.observers_removed += 1,
                    Safety::Detained => x.observers_detained += 1,
                }
            });
        }
        for a in self
            .alerts
            .iter()
            .filter(|a| a.state != AlertState::Resolved)
        {
            let district = a
                .station
                .and_then(|s| self.station(s))
                .map(|s| s.station.district.as_str())
                .or_else(|| {
                    a.observer
                        .and_then(|o| self.observers.get(&o))
                        .and_then(|o| self.observer_district(o))
                });
            add(&mut t, district, &|x: &mut Tally| {
                x.open_alerts += 1;
                x.critical_alerts += u32::from(a.severity == Severity::Critical);
            });
        }
        t
    }

    /// Every alert of the day, in the order raised: the assessment reads
    /// them station by station, resolved ones too (resolving an alert
    /// does not undo a removal).
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter()
    }

    pub fn alert(&self, id: &str) -> Option<&Alert> {
        self.alerts.get(*self.alert_index.get(id)?)
    }

    /// The feed: unresolved before resolved, then the most severe, then the
    /// newest; `open_only` leaves the resolved out. Bounded by `limit`.
    /// The feed: open alerts before resolved ones, then by severity,
    /// newest first; read from the kept order, so a page of the feed does
    /// not sort every alert of the day.
    pub fn alert_feed(&self, open_only: bool, district: Option<&str>, limit: usize) -> Vec<&Alert> {
        self.order
            .alerts
            .iter()
            .take_while(|k| !open_only || !k.0)
            .map(|k| &self.alerts[k.4])
            .filter(|a| {
                district.is_none_or(|d| {
                    a.station
                        .and_then(|s| self.station(s))
                        .is_some_and(|s| s.station.district == d)
                })
            })
            .take(limit)
            .collect()
    }

    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.get(*self.case_index.get(id)?)
    }

    /// Events a coordinator attached to a case.
    pub fn attached(&self, case: &str) -> &[ClientId] {
        self.attached.get(case).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Cases, open first, newest first.
    pub fn cases(&self, limit: usize) -> Vec<&Case> {
        let mut v: Vec<&Case> = self.cases.iter().collect();
        v.sort_by(|a, b| {
            (a.status as u8)
                .cmp(&(b.status as u8))
                .then(b.opened_at.cmp(&a.opened_at))
        });
        v.truncate(limit);
        v
    }

    pub(crate) fn is_for(&self, m: &Message, observer: RowId) -> bool {
        match &m.audience {
            Audience::Observer { observer: o } => *o == observer,
            Audience::All => true,
            Audience::District { district } => self.observers.get(&observer).is_some_and(|o| {
                o.stations
                    .iter()
                    .filter_map(|s| self.station(*s))
                    .any(|s| &s.station.district == district)
            }),
        }
    }

    /// An observer's messages, newest first. A district's message reaches
    /// whoever is assigned there now: an observer moved in mid-day sees
    /// what the district was told.
    pub fn messages_for(&self, observer: RowId, limit: usize) -> Vec<&Message> {
        self.messages
            .iter()
            .rev()
            .filter(|m| self.is_for(m, observer))
            .take(limit)
            .collect()
    }

    /// The coordinators' messages, newest first.
    pub fn messages(&self, limit: usize) -> Vec<&Message> {
        self.messages.iter().rev().take(limit).collect()
    }

    pub fn message(&self, id: &ClientId) -> Option<&Message> {
        self.messages.iter().rev().find(|m| &m.id == id)
    }

    /// Observers a message is for, as of now.
    pub fn recipients(&self, m: &Message) -> Vec<RowId> {
        self.observers
            .keys()
            .copied()
            .filter(|o| self.is_for(m, *o))
            .collect()
    }

    /// Forms on which several observers' latest reports at a station
    /// disagree, and on what. Headcounts are counts at different moments,
    /// so they are shown side by side but never "conflict".
    pub fn conflicts(&self, s: &StationState) -> Vec<Conflict> {
        let mut out = Vec::new();
        for (form, slots) in &s.slots {
            if slots.len() < 2 || *form == FormKey::Headcount {
                continue;
            }
            let parsed: Vec<Value> = slots.iter().map(Slot::payload).collect();
            let section = match form {
                FormKey::Checklist(_) => "answers",
                _ => "figures",
            };
            let mut keys: Vec<String> = parsed
                .iter()
                .filter_map(|p| p.get(section).and_then(Value::as_object))
                .flat_map(|m| m.keys().cloned())
                .collect();
            keys.sort();
            keys.dedup();
            let mut fields: Vec<String> = keys
                .into_iter()
                .filter(|k| {
                    let first = parsed[0].get(section).and_then(|m| m.get(k));
                    parsed
                        .iter()
                        .any(|p| p.get(section).and_then(|m| m.get(k)) != first)
                })
                .collect();
            if *form == FormKey::Protocol
                && parsed
                    .iter()
                    .any(|p| p.get("status") != parsed[0].get("status"))
            {
                fields.insert(0, "status".into());
            }
            if !fields.is_empty() {
                out.push(Conflict {
                    form: form.clone(),
                    fields,
                });
            }
        }
        out
    }
}
