//! The coverage manifest: which stations a group will cover on election
//! day, signed with the group's key, for groups that never coordinate to
//! see together where they overlap and where nobody goes.
//!
//! A manifest is a C2SP signed note (<https://c2sp.org/signed-note>,
//! [`pollwatch_ledger::note`]) signed with the group's Ed25519 key. It
//! names stations and times, **never an observer**. It travels as a file
//! (USB stick, messenger) or within a shared instance.
//!
//! # The body, exactly
//!
//! The note's text is UTF-8, lines ending in a single `\n` (no `\r`, no
//! other control characters), the last line ending in `\n` too:
//!
//! ```text
//! pollwatch coverage manifest v1
//! election <election>
//! group <group name>
//! issued-at <seconds>
//! key <verifier key>
//! station <number> <window>[,<window>]...
//! station <number> <window>[,<window>]...
//! ```
//!
//! - line 1 is exactly `pollwatch coverage manifest v1`;
//! - lines 2 to 5 are the keyword, one space and the value, in this order;
//!   `<election>` and `<group name>` are 1 to 200 characters, with no
//!   space at either end and no control character;
//! - `<seconds>` is the time of issue the caller gave (POSIX seconds, or
//!   any number that grows with each manifest the group issues), in
//!   decimal without sign or leading zeros (0 alone is allowed);
//! - `<verifier key>` is the group's public key in signed-note form
//!   (`<name>+<hash>+<base64>`, type 0x01), carried so that the receiver
//!   can pin it on first use;
//! - then zero or more `station` lines, in strictly ascending byte order
//!   of `<number>` (so each station once); `<number>` is a station number
//!   as the registry writes it (letters, digits, `- / . _`, at most 32);
//! - each `<window>` is `HH:MM-HH:MM` (00:00 to 24:00, the start before
//!   the end, 24:00 only as an end), windows separated by a comma without
//!   spaces, in ascending order, none touching or overlapping the next;
//! - nothing else: no blank line, no comment, no trailing space.
//!
//! Then, as in every signed note, a blank line and the signature line(s).
//!
//! # Keys
//!
//! [`verify_manifest`] checks the signature with the key the manifest
//! carries. The first manifest of a group pins that key (the caller keeps
//! it by group name); a later manifest of the same group with another
//! key is refused with [`ManifestError::KeyChanged`], whose message says
//! how to accept the new key deliberately. [`peek_group`] reads the group
//! name before verifying, to find the pinned key.

use std::collections::{BTreeMap, BTreeSet};

use pollwatch_domain::model::StationNumber;
use pollwatch_ledger::note::{KeyKind, Note, NoteError, SignerKey, VerifierKey, sign};
use serde::{Deserialize, Serialize};

use crate::map::Coverage;

/// The first line of every manifest.
pub const MAGIC: &str = "pollwatch coverage manifest v1";

/// The longest election or group name.
pub const MAX_NAME: usize = 200;

/// A time window of the day, in minutes since midnight (0 to 1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub from: u16,
    pub to: u16,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.from / 60,
            self.from % 60,
            self.to / 60,
            self.to % 60
        )
    }
}

impl Window {
    /// Parses `HH:MM-HH:MM` strictly.
    pub fn parse(s: &str) -> Result<Window, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("window {s:?} is not HH:MM-HH:MM"))?;
        let from =
            minutes(a).ok_or_else(|| format!("{a:?} is not a time HH:MM from 00:00 to 24:00"))?;
        let to =
            minutes(b).ok_or_else(|| format!("{b:?} is not a time HH:MM from 00:00 to 24:00"))?;
        if from >= to {
            return Err(format!("window {s:?} does not end after it starts"));
        }
        Ok(Window { from, to })
    }
}

fn minutes(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return None;
    }
    let h = u16::from(b[0] - b'0') * 10 + u16::from(b[1] - b'0');
    let m = u16::from(b[3] - b'0') * 10 + u16::from(b[4] - b'0');
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// One station a group will cover, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoveredStation {
    pub number: String,
    pub windows: Vec<Window>,
}

/// A group's coverage manifest (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub election: String,
    pub group: String,
    pub issued_at: u64,
    /// The group's verifier key, in signed-note form.
    pub key: String,
    /// Ascending by number.
    pub stations: Vec<CoveredStation>,
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A line of the body is not what the format says.
    #[error("manifest line {line}: {what}")]
    Line { line: usize, what: String },
    /// The signed note around the body is malformed, or its signature
    /// does not verify with the key the manifest carries.
    #[error("the manifest's signature is refused: {0}")]
    Signature(#[from] NoteError),
    /// A key is pinned for the group and the manifest carries another.
    #[error(
        "the manifest of group {group:?} is signed with key {offered_id}, but key {pinned_id} is \
         pinned for that group: refused. If the group really changed its key (ask them through \
         another channel than the one that brought this file), accept the new key deliberately \
         with --accept-new-key; otherwise this manifest may be forged."
    )]
    KeyChanged {
        group: String,
        pinned_id: String,
        offered_id: String,
    },
    /// The key given to sign is not the key the manifest names.
    #[error("the manifest names key {named}, but it was to be signed with {signer}")]
    WrongSigner { named: String, signer: String },
    /// Signing needs a note key (type 0x01).
    #[error("a manifest is signed with a note key (type 0x01), not a witness key")]
    WrongKeyKind,
}

fn hex_id(key: &VerifierKey) -> String {
    key.id().iter().map(|b| format!("{b:02x}")).collect()
}

fn check_name(line: usize, field: &str, value: &str) -> Result<(), ManifestError> {
    let bad = |what: String| Err(ManifestError::Line { line, what });
    if value.is_empty() {
        return bad(format!("the {field} is empty"));
    }
    if value.chars().count() > MAX_NAME {
        return bad(format!("the {field} is longer than {MAX_NAME} characters"));
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return bad(format!("the {field} has a space at one end"));
    }
    if value.chars().any(char::is_control) {
        return bad(format!("the {field} holds a control character"));
    }
    Ok(())
}

impl Manifest {
    /// The body text, exactly as the format writes it.
    pub fn body(&self) -> String {
        let mut out = format!(
            "{MAGIC}\nelection {}\ngroup {}\nissued-at {}\nkey {}\n",
            self.election, self.group, self.issued_at, self.key
        );
        for s in &self.stations {
            out.push_str("station ");
            out.push_str(&s.number);
            for (i, w) in s.windows.iter().enumerate() {
                out.push(if i == 0 { ' ' } else { ',' });
                out.push_str(&w.to_string());
            }
            out.push('\n');
        }
        out
    }

    /// Parses a body strictly; every error names its line and what is wrong.
    pub fn parse(body: &str) -> Result<Manifest, ManifestError> {
        let Some(text) = body.strip_suffix('\n') else {
            let line = body.split('\n').count();
            return Err(ManifestError::Line {
                line,
                what: "the last line does not end in a newline".into(),
            });
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let bad = |line: usize, what: String| ManifestError::Line { line, what };
        for (i, l) in lines.iter().enumerate() {
            if l.contains('\r') {
                return Err(bad(
                    i + 1,
                    "holds a carriage return (lines end in \\n alone)".into(),
                ));
            }
            if l.chars().any(|c| c.is_control()) {
                return Err(bad(i + 1, "holds a control character".into()));
            }
            if l.is_empty() {
                return Err(bad(i + 1, "is empty".into()));
            }
            if l.ends_with(' ') {
                return Err(bad(i + 1, "ends in a space".into()));
            }
        }
        if lines[0] != MAGIC {
            return Err(bad(1, format!("is not {MAGIC:?}")));
        }
        let field = |idx: usize, keyword: &str| -> Result<&str, ManifestError> {
            let line = lines
                .get(idx)
                .ok_or_else(|| bad(idx + 1, format!("is missing: expected \"{keyword} …\"")))?;
            line.strip_prefix(keyword)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| bad(idx + 1, format!("does not start with \"{keyword} \"")))
        };
        let election = field(1, "election")?;
        check_name(2, "election", election)?;
        let group = field(2, "group")?;
        check_name(3, "group name", group)?;
        let issued = field(3, "issued-at")?;
        if issued.is_empty()
            || !issued.bytes().all(|b| b.is_ascii_digit())
            || (issued.len() > 1 && issued.starts_with('0'))
        {
            return Err(bad(
                4,
                format!("issued-at {issued:?} is not a decimal number without leading zeros"),
            ));
        }
        let issued_at: u64 = issued
            .parse()
            .map_err(|_| bad(4, format!("issued-at {issued:?} is too large")))?;
        let key_text = field(4, "key")?;
        let key = VerifierKey::parse(key_text)
            .map_err(|e| bad(5, format!("the key is not a verifier key: {e}")))?;
        if key.kind() != KeyKind::Ed25519 {
            return Err(bad(
                5,
                "the key is a witness key, not a note key (type 0x01)".into(),
            ));
        }
        let mut stations: Vec<CoveredStation> = Vec::new();
        for (idx, line) in lines.iter().enumerate().skip(5) {
            let n = idx + 1;
            let rest = line
                .strip_prefix("station ")
                .ok_or_else(|| bad(n, "does not start with \"station \"".into()))?;
            let (number, windows) = rest
                .split_once(' ')
                .ok_or_else(|| bad(n, "has no time window after the station number".into()))?;
            let parsed = StationNumber::parse(number)
                .map_err(|e| bad(n, format!("station number {number:?} {e}")))?;
            if parsed.as_str() != number {
                return Err(bad(
                    n,
                    format!("station number {number:?} is not as the registry writes it"),
                ));
            }
            if let Some(prev) = stations.last()
                && prev.number.as_str() >= number
            {
                return Err(bad(
                    n,
                    format!(
                        "station {number:?} comes after {:?}: stations must be in ascending order, each once",
                        prev.number
                    ),
                ));
            }
            let mut ws: Vec<Window> = Vec::new();
            for w in windows.split(',') {
                let w = Window::parse(w).map_err(|e| bad(n, e))?;
                if let Some(prev) = ws.last()
                    && prev.to >= w.from
                {
                    return Err(bad(
                        n,
                        format!("window {w} does not start after {prev} ends"),
                    ));
                }
                ws.push(w);
            }
            stations.push(CoveredStation {
                number: number.to_owned(),
                windows: ws,
            });
        }
        Ok(Manifest {
            election: election.to_owned(),
            group: group.to_owned(),
            issued_at,
            key: key.to_string(),
            stations,
        })
    }

    /// The manifest's key, parsed.
    pub fn verifier(&self) -> Result<VerifierKey, ManifestError> {
        VerifierKey::parse(&self.key).map_err(|e| ManifestError::Line {
            line: 5,
            what: format!("the key is not a verifier key: {e}"),
        })
    }
}

/// The signed manifest: `manifest`'s body signed with `key`, which must be
/// the key the manifest names. What is signed is checked to parse back to
/// the same manifest, so nothing is signed that [`verify_manifest`] would
/// refuse.
pub fn sign_manifest(manifest: &Manifest, key: &SignerKey) -> Result<String, ManifestError> {
    if key.verifier().kind() != KeyKind::Ed25519 {
        return Err(ManifestError::WrongKeyKind);
    }
    let signer = key.verifier().to_string();
    if signer != manifest.key {
        return Err(ManifestError::WrongSigner {
            named: manifest.key.clone(),
            signer,
        });
    }
    let body = manifest.body();
    let back = Manifest::parse(&body)?;
    if &back != manifest {
        return Err(ManifestError::Line {
            line: 1,
            what: "the manifest does not read back as itself (a name or window not as the format writes it)".into(),
        });
    }
    Ok(sign(&body, &[key])?)
}

/// The group name of a signed manifest, not yet verified: to look up the
/// key pinned for it before [`verify_manifest`].
pub fn peek_group(text: &str) -> Result<String, ManifestError> {
    let note = Note::parse(text.as_bytes())?;
    Ok(Manifest::parse(&note.text)?.group)
}

/// A manifest whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedManifest {
    pub manifest: Manifest,
    /// The key that signed it: to pin, when nothing was pinned.
    pub key: VerifierKey,
    /// No key was pinned for the group: the caller pins `key` now.
    pub first_use: bool,
}

/// Verifies a signed manifest: the note well-formed, the body strict, the
/// key it carries the one pinned for its group (when one is), and the
/// signature by that key valid.
pub fn verify_manifest(
    text: &str,
    pinned: Option<&VerifierKey>,
) -> Result<VerifiedManifest, ManifestError> {
    let note = Note::parse(text.as_bytes())?;
    let manifest = Manifest::parse(&note.text)?;
    let offered = manifest.verifier()?;
    if let Some(pinned) = pinned
        && pinned != &offered
    {
        return Err(ManifestError::KeyChanged {
            group: manifest.group,
            pinned_id: hex_id(pinned),
            offered_id: hex_id(&offered),
        });
    }
    note.verify(std::slice::from_ref(&offered))?;
    Ok(VerifiedManifest {
        manifest,
        key: offered,
        first_use: pinned.is_none(),
    })
}

/// One group's coverage of a station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverer {
    pub group: String,
    /// Empty for our own stations (the plan has no windows).
    pub windows: Vec<Window>,
}

/// Why a manifest did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skipped {
    /// A newer manifest of the same group replaces it (or one issued at the
    /// same time later in the list).
    Replaced { group: String, issued_at: u64 },
    /// Of another election.
    OtherElection {
        group: String,
        issued_at: u64,
        election: String,
    },
    /// Our own group's: our plan stands for it.
    Own { issued_at: u64 },
}

/// Counts of a combined coverage, over the given station list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombinedCounts {
    pub stations: usize,
    /// By anyone.
    pub covered: usize,
    pub by_us: usize,
    pub by_others: usize,
    /// By us and another group.
    pub by_us_and_others: usize,
    /// By two groups or more (us included).
    pub twice_or_more: usize,
    pub gaps: usize,
}

/// The combined coverage of our plan and other groups' manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Combined {
    /// Every covered station of the list, with who covers it (us first,
    /// then groups in name order).
    pub stations: BTreeMap<String, Vec<Coverer>>,
    /// Stations covered by two groups or more, ascending.
    pub covered_twice: Vec<String>,
    /// Stations of the list nobody covers, in the list's order.
    pub gaps: Vec<String>,
    pub counts: CombinedCounts,
    /// The manifests that counted: (group, issued-at), by group.
    pub used: Vec<(String, u64)>,
    pub skipped: Vec<Skipped>,
    /// Stations named (by us or a manifest) that are not in the list, with who named them.
    pub unknown_stations: Vec<(String, String)>,
}

impl Combined {
    /// The map's colour of each station of `numbers`.
    pub fn coverage(&self, own_group: &str, numbers: &[String]) -> Vec<Coverage> {
        numbers
            .iter()
            .map(|n| match self.stations.get(n) {
                None => Coverage::Gap,
                Some(cs) => {
                    let us = cs.iter().any(|c| c.group == own_group);
                    let others = cs.iter().any(|c| c.group != own_group);
                    match (us, others) {
                        (true, true) => Coverage::Both,
                        (true, false) => Coverage::Ours,
                        (false, true) => Coverage::Others,
                        (false, false) => Coverage::Gap,
                    }
                }
            })
            .collect()
    }
}

/// Combines our own stations with other groups' (verified) manifests over
/// the election's `stations`: the newest manifest of each group replaces
/// its older ones (at equal issued-at the later in `manifests`), manifests
/// of another election and of our own group do not count.
pub fn combine(
    election: &str,
    stations: &[String],
    own_group: &str,
    own: &[String],
    manifests: &[Manifest],
) -> Combined {
    let mut skipped = Vec::new();
    let mut newest: BTreeMap<&str, &Manifest> = BTreeMap::new();
    for m in manifests {
        if m.election != election {
            skipped.push(Skipped::OtherElection {
                group: m.group.clone(),
                issued_at: m.issued_at,
                election: m.election.clone(),
            });
            continue;
        }
        if m.group == own_group {
            skipped.push(Skipped::Own {
                issued_at: m.issued_at,
            });
            continue;
        }
        match newest.get(m.group.as_str()) {
            Some(old) if old.issued_at > m.issued_at => skipped.push(Skipped::Replaced {
                group: m.group.clone(),
                issued_at: m.issued_at,
            }),
            Some(old) => {
                skipped.push(Skipped::Replaced {
                    group: old.group.clone(),
                    issued_at: old.issued_at,
                });
                newest.insert(&m.group, m);
            }
            None => {
                newest.insert(&m.group, m);
            }
        }
    }
    let known: BTreeSet<&str> = stations.iter().map(String::as_str).collect();
    let mut by_station: BTreeMap<String, Vec<Coverer>> = BTreeMap::new();
    let mut unknown = Vec::new();
    let own_set: BTreeSet<&str> = own.iter().map(String::as_str).collect();
    for n in &own_set {
        if known.contains(n) {
            by_station
                .entry((*n).to_owned())
                .or_default()
                .push(Coverer {
                    group: own_group.to_owned(),
                    windows: Vec::new(),
                });
        } else {
            unknown.push((own_group.to_owned(), (*n).to_owned()));
        }
    }
    for m in newest.values() {
        for s in &m.stations {
            if known.contains(s.number.as_str()) {
                by_station
                    .entry(s.number.clone())
                    .or_default()
                    .push(Coverer {
                        group: m.group.clone(),
                        windows: s.windows.clone(),
                    });
            } else {
                unknown.push((m.group.clone(), s.number.clone()));
            }
        }
    }
    let covered_twice: Vec<String> = by_station
        .iter()
        .filter(|(_, c)| c.len() >= 2)
        .map(|(n, _)| n.clone())
        .collect();
    let mut seen = BTreeSet::new();
    let list: Vec<&String> = stations
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .collect();
    let gaps: Vec<String> = list
        .iter()
        .filter(|n| !by_station.contains_key(n.as_str()))
        .map(|n| (*n).clone())
        .collect();
    let mut counts = CombinedCounts {
        stations: list.len(),
        covered: by_station.len(),
        by_us: 0,
        by_others: 0,
        by_us_and_others: 0,
        twice_or_more: covered_twice.len(),
        gaps: gaps.len(),
    };
    for c in by_station.values() {
        let us = c.iter().any(|c| c.group == own_group);
        let others = c.iter().any(|c| c.group != own_group);
        counts.by_us += usize::from(us);
        counts.by_others += usize::from(others);
        counts.by_us_and_others += usize::from(us && others);
    }
    Combined {
        stations: by_station,
        covered_twice,
        gaps,
        counts,
        used: newest
            .values()
            .map(|m| (m.group.clone(), m.issued_at))
            .collect(),
        skipped,
        unknown_stations: unknown,
    }
}
