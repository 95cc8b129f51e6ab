//! The comparison kept up to date station by station, for pages that are
//! viewed while reports still arrive.
//!
//! [`compare`](super::compare) sets every observed station against the
//! official result at once: at national scale (95,000 stations) that is
//! seconds per view. [`Maintained`] holds what a page needs of each
//! station — where it sorts, which findings it has, its district — and the
//! totals; when a station's figures change only that station is compared
//! again ([`Maintained::set`], [`Maintained::remove`]). A page is a walk
//! of the sorted stations from a cursor; its rows are compared again from
//! the caller's figures ([`station`](super::station)), so the findings'
//! texts are never held for stations nobody looks at.
//!
//! **Invariant** (a property test): after any sequence of updates, the
//! stations in [`Maintained::iter`] order, compared one by one, and the
//! [`Maintained::totals`], are what `compare` answers for the figures as
//! they now are.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use pollwatch_domain::results::{ResultSet, StationResult};
use serde::Serialize;

use super::{FindingKind, ObservedStation, Rules, describe, findings, natural, unknown_notes};

/// An official result with its stations found by name without a scan.
#[derive(Debug, Clone)]
pub struct Official {
    set: ResultSet,
    /// Positions in `set.stations`, in station-name order (a sorted vector
    /// costs 4 bytes a station where a map of names costs about 50).
    by_name: Vec<u32>,
}

impl Official {
    pub fn new(set: ResultSet) -> Self {
        let mut by_name: Vec<u32> = (0..set.stations.len() as u32).collect();
        by_name.sort_by(|a, b| {
            set.stations[*a as usize]
                .station
                .cmp(&set.stations[*b as usize].station)
        });
        Official { set, by_name }
    }

    pub fn set(&self) -> &ResultSet {
        &self.set
    }

    /// The official figures of a station, if the result has it.
    pub fn station(&self, name: &str) -> Option<&StationResult> {
        let i = self
            .by_name
            .binary_search_by(|i| self.set.stations[*i as usize].station.as_str().cmp(name))
            .ok()?;
        self.set.stations.get(self.by_name[i] as usize)
    }
}

/// Where a station sorts, as `compare` orders its stations: stations with
/// findings first, largest |gap| first, then most findings; then by
/// station name (digit runs as numbers) and source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rank {
    findings: usize,
    gap: u64,
    station: Arc<str>,
    line: usize,
}

impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.findings > 0, other.findings > 0);
        b.cmp(&a)
            .then_with(|| {
                if a && b {
                    other
                        .gap
                        .cmp(&self.gap)
                        .then_with(|| other.findings.cmp(&self.findings))
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| natural(&self.station, &other.station))
            .then_with(|| self.line.cmp(&other.line))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Rank {
    /// The rank as text for a page's "next" link: findings, gap and line,
    /// then the station name (which may hold any character, so it comes
    /// last).
    pub fn cursor(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.findings, self.gap, self.line, self.station
        )
    }

    /// Read [`Rank::cursor`] back; `None` if it is not one.
    pub fn parse_cursor(text: &str) -> Option<Rank> {
        let mut parts = text.splitn(4, '.');
        let findings = parts.next()?.parse().ok()?;
        let gap = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        let station = parts.next()?;
        Some(Rank {
            findings,
            gap,
            station: station.into(),
            line,
        })
    }
}

/// What a page needs to know of one observed station.
#[derive(Debug, Clone)]
pub struct Entry {
    rank: Rank,
    /// The caller's handle on the station's figures (a station id, a row
    /// of a file), to compare it again when a page shows it.
    pub id: u64,
    pub district: Arc<str>,
    /// Finding kinds present, one bit per [`FindingKind::ALL`] position.
    kinds: u8,
    published: bool,
    /// The gap the chart draws: the largest |gap| of the findings, signed.
    chart_gap: Option<i64>,
    /// Candidates of the observers' figures the result does not list.
    unknown: Box<[Box<str>]>,
}

impl Entry {
    pub fn station(&self) -> &str {
        &self.rank.station
    }
    pub fn line(&self) -> usize {
        self.rank.line
    }
    pub fn rank(&self) -> &Rank {
        &self.rank
    }
    pub fn findings(&self) -> usize {
        self.rank.findings
    }
    pub fn has(&self, kind: FindingKind) -> bool {
        self.kinds & bit(kind) != 0
    }
    pub fn published(&self) -> bool {
        self.published
    }
}

fn bit(kind: FindingKind) -> u8 {
    let i = FindingKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_default();
    1 << i
}

/// Which stations a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    All,
    /// Stations with at least one finding.
    Discrepancies,
    /// Stations without any finding.
    Agreeing,
    /// Stations with a finding of this kind.
    Kind(FindingKind),
}

impl Show {
    /// Every value, in the order a page offers them.
    pub fn all() -> impl Iterator<Item = Show> {
        [Show::Discrepancies, Show::All, Show::Agreeing]
            .into_iter()
            .chain(FindingKind::ALL.into_iter().map(Show::Kind))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Show::All => "all",
            Show::Discrepancies => "discrepancies",
            Show::Agreeing => "agreeing",
            Show::Kind(k) => k.as_str(),
        }
    }

    pub fn parse(text: &str) -> Option<Show> {
        Show::all().find(|s| s.as_str() == text)
    }

    fn admits(self, e: &Entry) -> bool {
        match self {
            Show::All => true,
            Show::Discrepancies => e.rank.findings > 0,
            Show::Agreeing => e.rank.findings == 0,
            Show::Kind(k) => e.has(k),
        }
    }
}

/// The totals of a comparison, for all observed stations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub rules: Rules,
    pub stations_observed: usize,
    pub stations_published: usize,
    pub official_stations: usize,
    pub stations_with_findings: usize,
    pub by_kind: BTreeMap<String, usize>,
    pub description: String,
    pub notes: Vec<String>,
}

/// One page of stations, in comparison order.
#[derive(Debug)]
pub struct Page<'a> {
    pub entries: Vec<&'a Entry>,
    /// Give as `after` for the next page; `None` on the last.
    pub next: Option<Rank>,
    /// Stations the filter admits, on every page.
    pub matching: usize,
}

/// The comparison of one result with one source of observers' figures,
/// kept up to date station by station.
#[derive(Debug, Clone)]
pub struct Maintained {
    rules: Rules,
    official_stations: usize,
    entries: HashMap<(Arc<str>, usize), Entry>,
    order: BTreeSet<Rank>,
    published: usize,
    with_findings: usize,
    by_kind: [usize; FindingKind::ALL.len()],
    unknown: BTreeMap<Box<str>, usize>,
}

impl Maintained {
    /// No station observed yet.
    pub fn new(official: &Official, rules: Rules) -> Self {
        Maintained {
            rules,
            official_stations: official.set.stations.len(),
            entries: HashMap::new(),
            order: BTreeSet::new(),
            published: 0,
            with_findings: 0,
            by_kind: Default::default(),
            unknown: BTreeMap::new(),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A station's figures, new or changed: compare it (alone) and put it
    /// in its place. Keyed by station name and source line.
    pub fn set<O: ObservedStation>(
        &mut self,
        official: &Official,
        observed: &O,
        id: u64,
        district: Arc<str>,
    ) {
        let f = observed.figures();
        let mut unknown = BTreeSet::new();
        let off = official.station(&f.station);
        // Only the findings: the views are made again for the stations a
        // page shows.
        let findings = findings(&official.set, off, observed, &self.rules, &mut unknown);
        let name: Arc<str> = match self
            .entries
            .get_key_value(&(f.station.as_str().into(), f.line))
        {
            Some(((n, _), _)) => Arc::clone(n),
            None => f.station.as_str().into(),
        };
        self.remove(&f.station, f.line);
        let entry = Entry {
            rank: Rank {
                findings: findings.len(),
                gap: findings
                    .iter()
                    .filter_map(|x| x.gap)
                    .map(i64::unsigned_abs)
                    .max()
                    .unwrap_or(0),
                station: Arc::clone(&name),
                line: f.line,
            },
            id,
            district,
            kinds: findings.iter().fold(0, |k, x| k | bit(x.kind)),
            published: off.is_some(),
            chart_gap: findings
                .iter()
                .filter_map(|x| x.gap)
                .max_by_key(|g| g.unsigned_abs()),
            unknown: unknown.into_iter().map(String::into_boxed_str).collect(),
        };
        self.count(&entry, true);
        self.order.insert(entry.rank.clone());
        self.entries.insert((name, f.line), entry);
    }

    /// A station no longer observed (its reports were disputed or
    /// corrected away).
    pub fn remove(&mut self, station: &str, line: usize) {
        if let Some(old) = self.entries.remove(&(station.into(), line)) {
            self.order.remove(&old.rank);
            self.count(&old, false);
        }
    }

    fn count(&mut self, e: &Entry, add: bool) {
        let step = |n: &mut usize| {
            if add {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        };
        if e.published {
            step(&mut self.published);
        }
        if e.rank.findings > 0 {
            step(&mut self.with_findings);
        }
        for (i, k) in FindingKind::ALL.iter().enumerate() {
            if e.has(*k) {
                step(&mut self.by_kind[i]);
            }
        }
        for name in &e.unknown {
            let n = self.unknown.entry(name.clone()).or_default();
            step(n);
            if *n == 0 {
                self.unknown.remove(name);
            }
        }
    }

    /// A station's entry, if it is observed.
    pub fn get(&self, station: &str, line: usize) -> Option<&Entry> {
        self.entries.get(&(station.into(), line))
    }

    /// Every station, in comparison order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.order.iter().filter_map(|r| self.by_rank(r))
    }

    fn by_rank(&self, r: &Rank) -> Option<&Entry> {
        self.entries.get(&(Arc::clone(&r.station), r.line))
    }

    /// The totals for all observed stations, and the comparison in words.
    pub fn totals(&self) -> Totals {
        let by_kind: BTreeMap<String, usize> = FindingKind::ALL
            .iter()
            .zip(self.by_kind)
            .map(|(k, n)| (k.as_str().to_owned(), n))
            .collect();
        Totals {
            rules: self.rules.clone(),
            stations_observed: self.entries.len(),
            stations_published: self.published,
            official_stations: self.official_stations,
            stations_with_findings: self.with_findings,
            description: describe(
                self.official_stations,
                self.entries.len(),
                self.published,
                self.with_findings,
                &by_kind,
                &self.rules,
            ),
            by_kind,
            notes: unknown_notes(self.unknown.keys().map(|k| &**k)),
        }
    }

    /// How many stations `show` admits, in all districts.
    fn admitted(&self, show: Show) -> usize {
        match show {
            Show::All => self.entries.len(),
            Show::Discrepancies => self.with_findings,
            Show::Agreeing => self.entries.len() - self.with_findings,
            Show::Kind(k) => FindingKind::ALL
                .iter()
                .position(|x| *x == k)
                .map_or(0, |i| self.by_kind[i]),
        }
    }

    /// Up to `limit` stations that `show` admits (and in `district`, if
    /// given), after the station ranked `after`.
    pub fn page(
        &self,
        show: Show,
        district: Option<&str>,
        after: Option<&Rank>,
        limit: usize,
    ) -> Page<'_> {
        let admits = |e: &Entry| show.admits(e) && district.is_none_or(|d| &*e.district == d);
        let from = match after {
            Some(r) => Bound::Excluded(r),
            None => Bound::Unbounded,
        };
        let mut walk = self
            .order
            .range((from, Bound::Unbounded))
            .filter_map(|r| self.by_rank(r))
            .filter(|e| admits(e));
        let entries: Vec<&Entry> = walk.by_ref().take(limit).collect();
        let next = match (entries.last(), walk.next()) {
            (Some(last), Some(_)) => Some(last.rank.clone()),
            _ => None,
        };
        let matching = match district {
            None => self.admitted(show),
            Some(_) => self.entries.values().filter(|e| admits(e)).count(),
        };
        Page {
            entries,
            next,
            matching,
        }
    }

    /// The `n` largest gaps (station and signed gap), largest first: what
    /// the chart draws, whatever page is shown.
    pub fn top_gaps(&self, n: usize) -> Vec<(&str, i64)> {
        self.iter()
            .take_while(|e| e.rank.findings > 0 && e.rank.gap > 0)
            .filter_map(|e| Some((e.station(), e.chart_gap?)))
            .take(n)
            .collect()
    }
}
