//! The station registry as the commission publishes it: CSV or GeoJSON in,
//! validated station records out, every error named by file, line and field.
//! Also the diff of an incoming registry against the stored one, so that a
//! re-import is a no-op and an updated file says what changed.
//!
//! Both formats are reduced to the same shape — a map from column name to raw
//! text plus the line the station starts on — and validated by one function,
//! so a CSV and a GeoJSON of the same registry accept and reject the same
//! stations with the same messages.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::model::{AccessibilityFeature, Coordinates, StationKind, StationNumber, StationRecord};
use crate::table::Table;

/// One problem in an input file, as `file:line: field: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {reason}")]
pub struct RegistryError {
    pub file: String,
    /// 1-based line in the file (the header is line 1 in CSV). For GeoJSON,
    /// the line on which the feature starts.
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// A registry that parsed without errors.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRegistry {
    pub stations: Vec<StationRecord>,
    /// Things worth saying that do not stop the import (unknown columns).
    pub warnings: Vec<String>,
}

/// The columns a registry may have, in the order a template would list them.
pub const COLUMNS: [&str; 9] = [
    "number",
    "name",
    "address",
    "district",
    "registered_voters",
    "latitude",
    "longitude",
    "kind",
    "accessibility",
];

/// Columns without which a station cannot be identified or planned for.
/// The others may be absent from the header entirely (read as empty).
pub const REQUIRED_COLUMNS: [&str; 5] = ["number", "name", "district", "registered_voters", "kind"];

/// Longest accepted station or district name, in characters. Generous for
/// real names, small enough that a mangled file (a whole document pasted into
/// one cell) is caught here rather than in a page layout.
pub const MAX_NAME_CHARS: usize = 200;

/// How many errors one import reports. A file with the wrong delimiter or
/// encoding fails on every row; past this point more messages only bury the
/// first, which is the one that explains the rest.
pub const MAX_ERRORS: usize = 1000;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Column names are matched ignoring case and surrounding spaces, because
/// people retype headers by hand ("Number", "Registered_Voters ").
fn known_column(name: &str) -> Option<&'static str> {
    let name = name.trim().to_lowercase();
    COLUMNS.iter().find(|c| **c == name).copied()
}

/// Spreadsheet programs on Windows put a byte-order mark in front of "UTF-8"
/// exports; left in place it would become part of the first column's name.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Parse a CSV registry, its encoding and delimiter detected. All-or-nothing:
/// any bad row makes the whole file an `Err` with every error found.
pub fn parse_csv(file: &str, bytes: &[u8]) -> Result<ParsedRegistry, Vec<RegistryError>> {
    parse_table(&crate::table::read_text(
        file,
        bytes,
        &crate::table::Options::default(),
    )?)
}

/// Parse a registry read by [`crate::table::read`] (a CSV in any encoding
/// and delimiter, or a workbook's sheet).
pub fn parse_table(table: &Table) -> Result<ParsedRegistry, Vec<RegistryError>> {
    let file = table.file.as_str();
    let mut out = Collector::new(file);
    let header_line = table.header.line;
    // As written, for messages; matching ignores case.
    let header = table.header_names();

    let mut warnings = table.warnings.clone();
    // For each column position, the known field it feeds (None = ignored).
    let mut columns: Vec<Option<&'static str>> = Vec::with_capacity(header.len());
    let mut present: HashSet<&'static str> = HashSet::new();
    let mut unknown = Vec::new();
    for name in &header {
        match known_column(name) {
            Some(known) => {
                if !present.insert(known) {
                    out.error(
                        header_line,
                        known,
                        "appears twice in the header: which one holds the data is ambiguous",
                    );
                }
                columns.push(Some(known));
            }
            None => {
                unknown.push(format!("{file}: unknown column {name:?} ignored"));
                columns.push(None);
            }
        }
    }
    for required in REQUIRED_COLUMNS {
        if !present.contains(required) {
            out.error(
                header_line,
                required,
                format!(
                    "required column is missing from the header (expected columns: {}; {})",
                    COLUMNS.join(","),
                    table.header_context()
                ),
            );
        }
    }
    if out.has_errors() {
        // Every row would repeat the header's problem; one report is enough.
        return out.finish(warnings);
    }
    warnings.extend(unknown);

    for row in &table.rows {
        if let Some(reason) = table.misshapen(row) {
            out.error(row.line, "(row)", reason);
            continue;
        }
        let mut raw = RawStation::default();
        for (i, cell) in row.cells.iter().enumerate() {
            if let Some(Some(field)) = columns.get(i) {
                raw.set(field, cell.clone());
            }
        }
        out.station(row.line, &raw, Vec::new());
    }
    out.finish(warnings)
}

/// Parse a GeoJSON FeatureCollection of Points with the CSV's columns as properties.
pub fn parse_geojson(file: &str, bytes: &[u8]) -> Result<ParsedRegistry, Vec<RegistryError>> {
    let text = strip_bom(bytes);
    let mut out = Collector::new(file);
    let root: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            out.error(e.line().max(1), "(file)", format!("is not valid JSON: {e}"));
            return out.finish(Vec::new());
        }
    };
    let Value::Object(root) = root else {
        out.error(1, "(file)", "must be a GeoJSON FeatureCollection object");
        return out.finish(Vec::new());
    };
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        out.error(1, "type", "must be \"FeatureCollection\"");
        return out.finish(Vec::new());
    }
    let Some(Value::Array(features)) = root.get("features") else {
        out.error(1, "features", "must be a list of Point features");
        return out.finish(Vec::new());
    };

    let lines = feature_lines(text);
    let mut warnings = Vec::new();
    let mut warned: HashSet<String> = HashSet::new();
    for (i, feature) in features.iter().enumerate() {
        // The scanner only fails to find a feature on JSON it cannot follow
        // (which serde_json already rejected); line 1 is a safe fallback.
        let line = lines.get(i).copied().unwrap_or(1);
        // Once per property name: the same extra property on every feature
        // is one fact, not six hundred.
        let (raw, problems) = feature_to_raw(feature, |name, is_coordinate| {
            if warned.insert(name.to_owned()) {
                warnings.push(if is_coordinate {
                    format!("{file}: property {name:?} ignored: coordinates come from the geometry")
                } else {
                    format!("{file}: unknown property {name:?} ignored")
                });
            }
        });
        match raw {
            Some(raw) => out.station(line, &raw, problems),
            None => {
                for Problem { field, reason } in problems {
                    out.error(line, field, reason);
                }
            }
        }
    }
    out.finish(warnings)
}

/// Flatten one GeoJSON feature to the CSV's shape so the shared validation
/// applies. Structural problems come back as `problems`; `None` means the
/// feature is not an object at all and there is nothing to validate.
fn feature_to_raw(
    feature: &Value,
    mut ignored: impl FnMut(&str, bool),
) -> (Option<RawStation>, Vec<Problem>) {
    let mut problems = Vec::new();
    let Value::Object(feature) = feature else {
        problems.push(Problem::new("(feature)", "is not a JSON object"));
        return (None, problems);
    };
    let mut raw = RawStation::default();
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        problems.push(Problem::new("type", "must be \"Feature\""));
    }

    match feature.get("geometry") {
        None | Some(Value::Null) => problems.push(Problem::new(
            "geometry",
            "is missing: each station must be a Point",
        )),
        Some(Value::Object(geometry)) => match geometry.get("type").and_then(Value::as_str) {
            Some("Point") => match point_lon_lat(geometry.get("coordinates")) {
                Some((lon, lat)) => {
                    // Display of f64 round-trips exactly, so the shared
                    // validator sees the very number the file holds.
                    raw.set("latitude", lat.to_string());
                    raw.set("longitude", lon.to_string());
                }
                None => problems.push(Problem::new(
                    "geometry",
                    "coordinates must be [longitude, latitude] numbers",
                )),
            },
            Some(other) => problems.push(Problem::new(
                "geometry",
                format!("is a {other:?}, but each station must be a \"Point\""),
            )),
            None => problems.push(Problem::new(
                "geometry",
                "has no type: each station must be a \"Point\"",
            )),
        },
        Some(_) => problems.push(Problem::new("geometry", "must be a GeoJSON Point object")),
    }

    match feature.get("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(properties)) => {
            for (key, value) in properties {
                let field = match known_column(key) {
                    Some("latitude" | "longitude") => {
                        ignored(key, true);
                        continue;
                    }
                    Some(field) => field,
                    None => {
                        ignored(key, false);
                        continue;
                    }
                };
                if raw.has(field) {
                    problems.push(Problem::new(
                        field,
                        "is given twice among the properties (names are compared ignoring case)",
                    ));
                    continue;
                }
                match property_text(field, value) {
                    Ok(text) => raw.set(field, text),
                    Err(reason) => problems.push(Problem::new(field, reason)),
                }
            }
        }
        Some(_) => problems.push(Problem::new("properties", "must be a JSON object")),
    }
    (Some(raw), problems)
}

fn point_lon_lat(coordinates: Option<&Value>) -> Option<(f64, f64)> {
    match coordinates? {
        // A third element (altitude) is allowed by GeoJSON and ignored.
        Value::Array(c) if c.len() >= 2 => Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)),
        _ => None,
    }
}

/// The text a CSV cell would hold for this property. Numbers are accepted
/// for every field because converters write station numbers and voter counts
/// as JSON numbers; accessibility may also be a list.
fn property_text(field: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(items) if field == "accessibility" => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(s) => parts.push(s),
                    None => return Err("must be a list of words or a ;-separated text".into()),
                }
            }
            Ok(parts.join(";"))
        }
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
            Err("must be text or a number".into())
        }
    }
}

/// The lines on which the elements of the top-level `"features"` array
/// start. serde_json's `Value` forgets positions, and an error that says
/// "feature 412" sends the user counting; a line number they can jump to.
/// Run only on text serde_json accepted, so the scan can be simple; on
/// anything it cannot follow it returns what it has (never panics).
fn feature_lines(text: &[u8]) -> Vec<usize> {
    let offsets = feature_offsets(text);
    let mut lines = Vec::with_capacity(offsets.len());
    let (mut line, mut pos) = (1usize, 0usize);
    for offset in offsets {
        let newlines = text
            .get(pos..offset)
            .map_or(0, |s| s.iter().filter(|&&b| b == b'\n').count());
        line += newlines;
        pos = offset.max(pos);
        lines.push(line);
    }
    lines
}

fn feature_offsets(t: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = skip_ws(t, 0);
    if t.get(i) != Some(&b'{') {
        return found;
    }
    i += 1;
    loop {
        i = skip_ws(t, i);
        if t.get(i) != Some(&b'"') {
            return found;
        }
        let key_end = skip_string(t, i);
        // Decode rather than compare bytes: the key may be written with escapes.
        let is_features = t
            .get(i..key_end)
            .and_then(|k| serde_json::from_slice::<String>(k).ok())
            .is_some_and(|k| k == "features");
        i = skip_ws(t, key_end);
        if t.get(i) != Some(&b':') {
            return found;
        }
        i = skip_ws(t, i + 1);
        if is_features && t.get(i) == Some(&b'[') {
            // A repeated key: serde_json keeps the last, and so do we.
            let mut starts = Vec::new();
            i += 1;
            loop {
                i = skip_ws(t, i);
                match t.get(i) {
                    None => return found,
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {}
                }
                starts.push(i);
                i = skip_ws(t, skip_value(t, i));
                match t.get(i) {
                    Some(b',') => i += 1,
                    Some(b']') => {}
                    _ => return found,
                }
            }
            found = starts;
        } else {
            i = skip_value(t, i);
        }
        i = skip_ws(t, i);
        if t.get(i) == Some(&b',') {
            i += 1;
        } else {
            return found;
        }
    }
}

fn skip_ws(t: &[u8], mut i: usize) -> usize {
    while matches!(t.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// From an opening quote to just past the closing one.
fn skip_string(t: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    while let Some(&b) = t.get(j) {
        match b {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    t.len()
}

/// Past one JSON value. Always advances at least one byte when `i` is in
/// range, so the callers' loops end on any input.
fn skip_value(t: &[u8], i: usize) -> usize {
    match t.get(i) {
        None => t.len(),
        Some(b'"') => skip_string(t, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&b) = t.get(j) {
                match b {
                    b'"' => {
                        j = skip_string(t, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            t.len()
        }
        Some(_) => {
            let mut j = i + 1;
            while let Some(&b) = t.get(j) {
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            j
        }
    }
}

/// One station as the file spells it: column name to raw (untrimmed) text.
/// A column the file does not have reads as empty, which is what makes the
/// optional columns optional.
#[derive(Debug, Default)]
struct RawStation(HashMap<&'static str, String>);

impl RawStation {
    fn set(&mut self, field: &'static str, value: String) {
        self.0.insert(field, value);
    }

    fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    fn get(&self, field: &str) -> &str {
        self.0.get(field).map_or("", |s| s.trim())
    }
}

/// A field-level problem before it is placed in a file at a line.
#[derive(Debug)]
struct Problem {
    field: &'static str,
    reason: String,
}

impl Problem {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Check one station's fields. Every bad field is reported, not just the
/// first, so one round of corrections fixes the row.
fn validate_station(raw: &RawStation) -> Result<StationRecord, Vec<Problem>> {
    let mut problems = Vec::new();

    let number = StationNumber::parse(raw.get("number"))
        .map_err(|e| problems.push(Problem::new("number", e.0)))
        .ok();
    let name = required_name(raw, "name", &mut problems);
    let address = raw.get("address").to_owned();
    let district = required_name(raw, "district", &mut problems);
    let registered_voters = parse_voters(raw.get("registered_voters"))
        .map_err(|reason| problems.push(Problem::new("registered_voters", reason)))
        .ok();
    let coordinates = parse_coordinates(raw.get("latitude"), raw.get("longitude"))
        .map_err(|p| problems.push(p))
        .ok();
    let kind = match raw.get("kind") {
        "" => {
            problems.push(Problem::new(
                "kind",
                "is missing: expected \"regular\" or \"open\"",
            ));
            None
        }
        text => StationKind::parse(text)
            .map_err(|e| problems.push(Problem::new("kind", e.0)))
            .ok(),
    };
    let mut accessibility = Vec::new();
    for item in raw.get("accessibility").split(';') {
        if item.trim().is_empty() {
            continue;
        }
        match AccessibilityFeature::parse(item) {
            Ok(feature) => accessibility.push(feature),
            Err(e) => problems.push(Problem::new("accessibility", e.0)),
        }
    }
    accessibility.sort();
    accessibility.dedup();

    match (number, name, district, registered_voters, coordinates, kind) {
        (
            Some(number),
            Some(name),
            Some(district),
            Some(registered_voters),
            Some(coordinates),
            Some(kind),
        ) if problems.is_empty() => Ok(StationRecord {
            number,
            name,
            address,
            district,
            registered_voters,
            coordinates,
            kind,
            accessibility,
        }),
        _ => Err(problems),
    }
}

fn required_name(
    raw: &RawStation,
    field: &'static str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let value = raw.get(field);
    if value.is_empty() {
        problems.push(Problem::new(field, "is missing"));
        return None;
    }
    let chars = value.chars().count();
    if chars > MAX_NAME_CHARS {
        problems.push(Problem::new(
            field,
            format!("is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"),
        ));
        return None;
    }
    Some(value.to_owned())
}

/// Digits only: `u32::from_str` would also take "+5", and a sign in a count
/// column is more likely a slip than intent.
fn parse_voters(text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err("is missing".into());
    }
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if text.strip_prefix('-').is_some_and(all_digits) {
        return Err(format!("must not be negative (got {text})"));
    }
    if !all_digits(text) {
        return Err(format!("is not a whole number (got {text:?})"));
    }
    text.parse::<u32>()
        .map_err(|_| format!("is too large (got {text}, at most {})", u32::MAX))
}

fn parse_coordinates(lat: &str, lon: &str) -> Result<Option<Coordinates>, Problem> {
    let number = |field: &'static str, text: &str| {
        text.parse::<f64>().map_err(|_| {
            Problem::new(
                field,
                format!("is not a number (got {text:?}; use a dot for decimals)"),
            )
        })
    };
    match (lat.is_empty(), lon.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => Err(Problem::new(
            "longitude",
            "is missing while latitude is given: give both or neither",
        )),
        (true, false) => Err(Problem::new(
            "latitude",
            "is missing while longitude is given: give both or neither",
        )),
        (false, false) => {
            let latitude = number("latitude", lat)?;
            let longitude = number("longitude", lon)?;
            Coordinates::new(latitude, longitude)
                .map(Some)
                .map_err(|(field, e)| Problem::new(field, e.0))
        }
    }
}

/// Gathers stations and errors for one file, and applies the rules that span
/// rows (duplicate numbers, the error cap) the same way for both formats.
struct Collector<'f> {
    file: &'f str,
    errors: Vec<RegistryError>,
    suppressed: usize,
    first_suppressed_line: usize,
    /// Each number seen so far and the line it was first seen on.
    seen: HashMap<StationNumber, usize>,
    stations: Vec<StationRecord>,
}

impl<'f> Collector<'f> {
    fn new(file: &'f str) -> Self {
        Self {
            file,
            errors: Vec::new(),
            suppressed: 0,
            first_suppressed_line: 0,
            seen: HashMap::new(),
            stations: Vec::new(),
        }
    }

    fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    fn error(&mut self, line: usize, field: &str, reason: impl Into<String>) {
        if self.errors.len() >= MAX_ERRORS {
            if self.suppressed == 0 {
                self.first_suppressed_line = line;
            }
            self.suppressed += 1;
            return;
        }
        self.errors.push(RegistryError {
            file: self.file.to_owned(),
            line,
            field: field.to_owned(),
            reason: reason.into(),
        });
    }

    /// Validate one station that starts on `line`, adding any problems the
    /// format-specific reader already found there (`earlier`).
    fn station(&mut self, line: usize, raw: &RawStation, earlier: Vec<Problem>) {
        // The duplicate check looks only at the number, so that a second
        // occurrence is reported even when either row is also wrong elsewhere.
        let mut problems = Vec::new();
        if let Ok(number) = StationNumber::parse(raw.get("number")) {
            match self.seen.get(&number) {
                Some(first) => problems.push(Problem::new(
                    "number",
                    format!("station {number} appears twice: first on line {first}"),
                )),
                None => {
                    self.seen.insert(number, line);
                }
            }
        }
        let result = validate_station(raw);
        problems.extend(earlier);
        match result {
            Ok(record) if problems.is_empty() => self.stations.push(record),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
        for Problem { field, reason } in problems {
            self.error(line, field, reason);
        }
    }

    fn finish(mut self, warnings: Vec<String>) -> Result<ParsedRegistry, Vec<RegistryError>> {
        if self.suppressed > 0 {
            self.errors.push(RegistryError {
                file: self.file.to_owned(),
                line: self.first_suppressed_line,
                field: "(file)".to_owned(),
                reason: format!(
                    "{} more errors from this line on are not shown; fix the ones above and import again",
                    self.suppressed
                ),
            });
        }
        if self.errors.is_empty() {
            Ok(ParsedRegistry {
                stations: self.stations,
                warnings,
            })
        } else {
            Err(self.errors)
        }
    }
}

/// One field of one station that an import changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

/// What importing `incoming` over `existing` would do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistryDiff {
    pub created: Vec<StationRecord>,
    pub updated: Vec<(StationRecord, Vec<FieldChange>)>,
    pub unchanged: usize,
    /// Stored stations absent from the file. They are kept (events refer to
    /// them); the count is reported so the user can tell.
    pub missing_from_file: usize,
}

/// Compare by station number.
///
/// Fields are compared in the text form the user sees, so a reported change
/// always shows an old and a new value that differ.
pub fn diff(existing: &[StationRecord], incoming: &[StationRecord]) -> RegistryDiff {
    let mut stored: HashMap<&StationNumber, &StationRecord> = HashMap::new();
    for record in existing {
        stored.entry(&record.number).or_insert(record);
    }
    let incoming_numbers: HashSet<&StationNumber> = incoming.iter().map(|r| &r.number).collect();

    let mut out = RegistryDiff::default();
    for new in incoming {
        match stored.get(&new.number) {
            None => out.created.push(new.clone()),
            Some(old) => {
                let changes: Vec<FieldChange> = field_texts(old)
                    .into_iter()
                    .zip(field_texts(new))
                    .filter(|((_, a), (_, b))| a != b)
                    .map(|((field, old), (_, new))| FieldChange { field, old, new })
                    .collect();
                if changes.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.updated.push((new.clone(), changes));
                }
            }
        }
    }
    out.missing_from_file = stored
        .keys()
        .filter(|n| !incoming_numbers.contains(*n))
        .count();
    out
}

/// The compared fields of a station, as text, in a fixed order.
fn field_texts(r: &StationRecord) -> [(&'static str, String); 7] {
    [
        ("name", r.name.clone()),
        ("address", r.address.clone()),
        ("district", r.district.clone()),
        ("registered_voters", r.registered_voters.to_string()),
        (
            "coordinates",
            r.coordinates
                .map_or(String::new(), |c| format!("{},{}", c.latitude, c.longitude)),
        ),
        ("kind", r.kind.as_str().to_owned()),
        (
            "accessibility",
            r.accessibility
                .iter()
                .map(AccessibilityFeature::as_str)
                .collect::<Vec<_>>()
                .join(";"),
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HEADER: &str =
        "number,name,address,district,registered_voters,latitude,longitude,kind,accessibility";

    fn csv_of(rows: &[&str]) -> Vec<u8> {
        let mut s = String::from(HEADER);
        for row in rows {
            s.push('\n');
            s.push_str(row);
        }
        s.push('\n');
        s.into_bytes()
    }

    fn errors_csv(bytes: &[u8]) -> Vec<RegistryError> {
        parse_csv("stations.csv", bytes).expect_err("the file should be rejected")
    }

    fn only_error(errors: &[RegistryError]) -> &RegistryError {
        assert_eq!(
            errors.len(),
            1,
            "expected exactly one error, got {errors:#?}"
        );
        &errors[0]
    }

    #[test]
    fn csv_with_cyrillic_and_kazakh_names_parses() {
        let bytes = csv_of(&[
            "1,Школа № 12,\"ул. Абая, 10\",Медеу,1520,43.238949,76.889709,regular,ramp;Magnifier",
            "2,Әл-Фараби мектебі,,Әл-Фараби,0,,,OPEN,",
            "01-010-0003,Гимназия,пр. Сейфуллина 5,Алмалы,  200 , , ,Regular, hearing aid ; ramp ;ramp",
        ]);
        let parsed = parse_csv("stations.csv", &bytes).unwrap();
        assert!(parsed.warnings.is_empty());
        let s = &parsed.stations;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].number.as_str(), "1");
        assert_eq!(s[0].name, "Школа № 12");
        assert_eq!(s[0].address, "ул. Абая, 10");
        assert_eq!(s[0].district, "Медеу");
        assert_eq!(s[0].registered_voters, 1520);
        assert_eq!(
            s[0].coordinates,
            Some(Coordinates::new(43.238949, 76.889709).unwrap())
        );
        assert_eq!(s[0].kind, StationKind::Regular);
        let names = |r: &StationRecord| {
            r.accessibility
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&s[0]), ["magnifier", "ramp"]);
        assert_eq!(s[1].name, "Әл-Фараби мектебі");
        assert_eq!(s[1].district, "Әл-Фараби");
        assert_eq!(s[1].coordinates, None);
        assert_eq!(s[1].kind, StationKind::Open);
        assert!(s[1].accessibility.is_empty());
        assert_eq!(s[2].number.as_str(), "01-010-0003");
        assert_eq!(s[2].registered_voters, 200);
        assert_eq!(names(&s[2]), ["hearing_aid", "ramp"]);
    }

    #[test]
    fn columns_in_any_order_any_case_with_bom_and_optional_ones_absent() {
        let bytes =
            "\u{feff} Kind ,DISTRICT,Registered_Voters,Name,Number\nopen,Медеу,10,Школа,7\n";
        let parsed = parse_csv("stations.csv", bytes.as_bytes()).unwrap();
        assert_eq!(parsed.stations.len(), 1);
        let s = &parsed.stations[0];
        assert_eq!(
            (s.number.as_str(), s.kind, s.address.as_str(), s.coordinates),
            ("7", StationKind::Open, "", None)
        );
    }

    #[test]
    fn missing_number_is_named() {
        let errors = errors_csv(&csv_of(&["1,A,,D,10,,,regular,", ",B,,D,10,,,regular,"]));
        let e = only_error(&errors);
        assert_eq!((e.line, e.field.as_str()), (3, "number"));
        assert!(e.reason.contains("missing"), "{e}");
        assert_eq!(e.file, "stations.csv");
    }

    #[test]
    fn duplicate_number_names_the_first_line() {
        let errors = errors_csv(&csv_of(&[
            "5,A,,D,10,,,regular,",
            "6,B,,D,10,,,regular,",
            "5,C,,D,10,,,regular,",
        ]));
        let e = only_error(&errors);
        assert_eq!((e.line, e.field.as_str()), (4, "number"));
        assert!(e.reason.contains("line 2"), "{e}");
    }

    #[test]
    fn negative_and_non_numeric_voters() {
        let errors = errors_csv(&csv_of(&[
            "1,A,,D,-5,,,regular,",
            "2,B,,D,abc,,,regular,",
            "3,C,,D,4294967296,,,regular,",
            "4,C,,D,,,,regular,",
        ]));
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert_eq!(
            (errors[0].line, errors[0].field.as_str()),
            (2, "registered_voters")
        );
        assert_eq!(errors[0].reason, "must not be negative (got -5)");
        assert_eq!(errors[1].line, 3);
        assert!(
            errors[1].reason.contains("is not a whole number"),
            "{}",
            errors[1]
        );
        assert_eq!(errors[2].line, 4);
        assert!(errors[2].reason.contains("too large"), "{}", errors[2]);
        assert_eq!(errors[3].line, 5);
        assert!(errors[3].reason.contains("missing"), "{}", errors[3]);
    }

    #[test]
    fn coordinates_out_of_range_or_half_given() {
        let errors = errors_csv(&csv_of(&[
            "1,A,,D,1,95.5,76.9,regular,",
            "2,A,,D,1,43.2,181,regular,",
            "3,A,,D,1,43.2,,regular,",
            "4,A,,D,1,,76.9,regular,",
            "5,A,,D,1,north,76.9,regular,",
        ]));
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            [
                (2, "latitude"),
                (3, "longitude"),
                (4, "longitude"),
                (5, "latitude"),
                (6, "latitude")
            ]
        );
        assert!(errors[0].reason.contains("out of range"), "{}", errors[0]);
    }

    #[test]
    fn unknown_and_missing_kind() {
        let errors = errors_csv(&csv_of(&["1,A,,D,1,,,mobile,", "2,A,,D,1,,,,"]));
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "kind"));
        assert!(errors[0].reason.contains("mobile"), "{}", errors[0]);
        assert_eq!((errors[1].line, errors[1].field.as_str()), (3, "kind"));
        assert!(errors[1].reason.contains("missing"), "{}", errors[1]);
    }

    #[test]
    fn names_required_and_bounded() {
        let long = "я".repeat(MAX_NAME_CHARS + 1);
        let ok = "я".repeat(MAX_NAME_CHARS);
        let row_long = format!("1,{long},,D,1,,,regular,");
        let row_ok = format!("2,{ok},,D,1,,,regular,");
        let errors = errors_csv(&csv_of(&[
            &row_long,
            &row_ok,
            "3,  ,,D,1,,,regular,",
            "4,A,, ,1,,,regular,",
        ]));
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(got, [(2, "name"), (4, "name"), (5, "district")]);
    }

    #[test]
    fn a_bad_row_reports_every_bad_field() {
        let errors = errors_csv(&csv_of(&["x y,,,,-1,100,,weird,ramp;a b c!"]));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "number",
                "name",
                "district",
                "registered_voters",
                "longitude",
                "kind",
                "accessibility"
            ]
        );
        assert!(errors.iter().all(|e| e.line == 2));
    }

    #[test]
    fn missing_column_is_an_error_on_line_1() {
        let bytes = "number,name,district,kind\n1,A,D,regular\n";
        let e = errors_csv(bytes.as_bytes());
        let e = only_error(&e);
        assert_eq!((e.line, e.field.as_str()), (1, "registered_voters"));
    }

    #[test]
    fn empty_file_and_blank_file_are_errors_on_line_1() {
        for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\n"] {
            let errors = errors_csv(bytes);
            let e = only_error(&errors);
            assert_eq!((e.line, e.field.as_str()), (1, "(file)"));
        }
    }

    #[test]
    fn header_only_is_an_empty_registry() {
        let parsed = parse_csv("stations.csv", &csv_of(&[])).unwrap();
        assert!(parsed.stations.is_empty());
    }

    #[test]
    fn quoted_newlines_do_not_shift_later_lines() {
        let bytes = csv_of(&[
            "1,\"Школа\nкорпус 2\",\"ул. Абая,\n10\",D,1,,,regular,",
            "2,B,,D,1,,,regular,",
            "3,C,,D,-1,,,regular,",
            "4,\"multi\nline\",,D,x,,,regular,",
        ]);
        let errors = errors_csv(&bytes);
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        // Row 1 spans lines 2-4, row 2 is line 5, row 3 line 6, row 4 starts on line 7.
        assert_eq!(got, [(6, "registered_voters"), (7, "registered_voters")]);
    }

    #[test]
    fn crlf_line_endings_count_like_lf() {
        let bytes = format!("{HEADER}\r\n1,A,,D,1,,,regular,\r\n2,B,,D,-1,,,regular,\r\n");
        let e = errors_csv(bytes.as_bytes());
        assert_eq!(only_error(&e).line, 3);
    }

    #[test]
    fn blank_lines_do_not_shift_lines() {
        let bytes = format!("\n\n{HEADER}\n\n1,A,,D,1,,,regular,\n\n\n2,B,,D,-1,,,regular,\n");
        let e = errors_csv(bytes.as_bytes());
        assert_eq!(only_error(&e).line, 8);
        let bytes = "\r\nnumber,name,district,kind\r\n1,A,D,regular\r\n";
        let e = errors_csv(bytes.as_bytes());
        assert_eq!(only_error(&e).line, 2);
        let bytes =
            format!("{HEADER}\r\n\r\n1,\"A\r\nB\",,D,1,,,regular,\r\n2,B,,D,-1,,,regular,\r\n");
        let e = errors_csv(bytes.as_bytes());
        assert_eq!(only_error(&e).line, 5);
    }

    #[test]
    fn unknown_column_is_a_warning() {
        let bytes =
            "number,name,district,registered_voters,kind,comment,Extra\n1,A,D,5,open,hi,x\n";
        let parsed = parse_csv("stations.csv", bytes.as_bytes()).unwrap();
        assert_eq!(parsed.stations.len(), 1);
        assert_eq!(
            parsed.warnings,
            [
                "stations.csv: unknown column \"comment\" ignored",
                "stations.csv: unknown column \"Extra\" ignored"
            ]
        );
    }

    #[test]
    fn duplicate_column_is_an_error() {
        let bytes = "number,name,district,registered_voters,kind,Name\n1,A,D,5,open,B\n";
        let e = errors_csv(bytes.as_bytes());
        let e = only_error(&e);
        assert_eq!((e.line, e.field.as_str()), (1, "name"));
    }

    #[test]
    fn wrong_field_count_is_an_error_for_that_line() {
        let errors = errors_csv(&csv_of(&[
            "1,A,,D,1,,,regular,",
            "2,A,D,1,regular",
            "3,A,,D,1,,,regular,,extra",
            "4,A,,D,1,,,regular,",
        ]));
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(got, [(3, "(row)"), (4, "(row)")]);
    }

    #[test]
    fn blank_rows_are_skipped() {
        let parsed = parse_csv(
            "stations.csv",
            &csv_of(&["1,A,,D,1,,,regular,", ",,,,,,,,", "  "]),
        )
        .unwrap();
        assert_eq!(parsed.stations.len(), 1);
    }

    #[test]
    fn a_row_in_another_encoding_is_refused_naming_the_lines() {
        let mut bytes = csv_of(&["1,A,,D,1,,,regular,"]);
        bytes.extend_from_slice(b"2,\xCF\xEA\xEE\xEB\xE0,,D,1,,,regular,\n");
        bytes.extend_from_slice("3,Медеу,,D,-1,,,regular,\n".as_bytes());
        let errors = errors_csv(&bytes);
        let e = only_error(&errors);
        assert_eq!((e.line, e.field.as_str()), (3, "(encoding)"));
        assert!(
            e.reason.contains("line 4 is UTF-8") && e.reason.contains("line 3 is not"),
            "{e}"
        );
        assert!(e.reason.contains("--encoding"), "{e}");
    }

    #[test]
    fn a_windows_1251_registry_reads_as_its_text() {
        let text = "number;name;district;registered_voters;kind\r\n843;УИК № 843;1 район Богородское;1887;regular\r\n844;УИК № 844;Ёлки;-1;regular\r\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let errors = errors_csv(&bytes);
        let e = only_error(&errors);
        assert_eq!((e.line, e.field.as_str()), (3, "registered_voters"));
        let good = text.replace("-1", "10");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&good);
        let parsed = parse_csv("s.csv", &bytes).unwrap();
        assert_eq!(parsed.stations[0].district, "1 район Богородское");
        assert_eq!(parsed.stations[1].district, "Ёлки");
    }

    #[test]
    fn a_missing_column_says_how_the_file_was_read() {
        // A ';' file read with ',' given: the header is one column.
        let text = "number;name;district;registered_voters;kind\n1;A;D;1;regular\n";
        let table = crate::table::read(
            "s.csv",
            text.as_bytes(),
            &crate::table::Options {
                delimiter: Some(b','),
                ..Default::default()
            },
        )
        .unwrap();
        let errors = parse_table(&table).unwrap_err();
        assert!(
            errors[0]
                .reason
                .contains("read as UTF-8 (detected), delimiter ',' (given)"),
            "{}",
            errors[0]
        );
        assert!(
            errors[0].reason.contains("--delimiter ';'"),
            "{}",
            errors[0]
        );
    }

    fn generated_rows(n: usize) -> Vec<String> {
        (1..=n)
            .map(|i| {
                format!(
                    "{i},Участок {i},ул. Төле би {i},Алатау,{},43.2,76.9,regular,ramp",
                    i * 3
                )
            })
            .collect()
    }

    #[test]
    fn one_bad_row_among_616_gives_one_error_on_its_line() {
        let mut rows = generated_rows(616);
        // Data row k (1-based) is on line k + 1.
        rows[298] = "299,Участок,,Алатау,-7,43.2,76.9,regular,".to_owned();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let errors = errors_csv(&csv_of(&refs));
        let e = only_error(&errors);
        assert_eq!((e.line, e.field.as_str()), (300, "registered_voters"));

        rows[298] = "299,Участок,,Алатау,7,43.2,76.9,regular,".to_owned();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        assert_eq!(
            parse_csv("stations.csv", &csv_of(&refs))
                .unwrap()
                .stations
                .len(),
            616
        );
    }

    #[test]
    fn errors_are_capped() {
        let rows: Vec<String> = (1..=MAX_ERRORS + 50)
            .map(|i| format!("{i},A,,D,-1,,,regular,"))
            .collect();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let errors = errors_csv(&csv_of(&refs));
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        let last = errors.last().unwrap();
        assert!(last.reason.starts_with("50 more errors"), "{last}");
        assert_eq!(last.line, MAX_ERRORS + 2);
    }

    #[test]
    fn error_display_is_file_line_field_reason() {
        let errors = errors_csv(&csv_of(&["1,A,,D,-5,,,regular,"]));
        assert_eq!(
            errors[0].to_string(),
            "stations.csv:2: registered_voters: must not be negative (got -5)"
        );
    }

    const GEOJSON: &str = r#"{
  "type": "FeatureCollection",
  "features": [
    {
      "type": "Feature",
      "geometry": {"type": "Point", "coordinates": [76.889709, 43.238949]},
      "properties": {"number": "1", "name": "Школа № 12", "district": "Медеу",
                     "registered_voters": 1520, "kind": "regular",
                     "accessibility": ["ramp", "magnifier", "ramp"], "note": "x {[\"]}"}
    },
    {"type": "Feature",
     "geometry": {"type": "Point", "coordinates": [76.9, 43.2, 800]},
     "properties": {"Number": 2, "name": "Әл-Фараби", "address": "ул. Абая, 10", "district": "Әл-Фараби",
                    "registered_voters": "300", "kind": "Open", "accessibility": "hearing aid;ramp",
                    "latitude": 1}}
  ]
}"#;

    #[test]
    fn geojson_happy_path() {
        let parsed = parse_geojson("stations.geojson", GEOJSON.as_bytes()).unwrap();
        let s = &parsed.stations;
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "Школа № 12");
        assert_eq!(s[0].registered_voters, 1520);
        assert_eq!(
            s[0].coordinates,
            Some(Coordinates::new(43.238949, 76.889709).unwrap())
        );
        assert_eq!(s[0].accessibility.len(), 2);
        assert_eq!(s[1].number.as_str(), "2");
        assert_eq!(s[1].kind, StationKind::Open);
        assert_eq!(s[1].registered_voters, 300);
        assert_eq!(s[1].address, "ул. Абая, 10");
        assert_eq!(s[1].accessibility.len(), 2);
        assert_eq!(
            parsed.warnings,
            [
                "stations.geojson: unknown property \"note\" ignored",
                "stations.geojson: property \"latitude\" ignored: coordinates come from the geometry"
            ]
        );
    }

    #[test]
    fn geojson_errors_name_the_line_the_feature_starts_on() {
        let text = r#"{"type": "FeatureCollection", "features": [
  {"type": "Feature", "geometry": {"type": "Point", "coordinates": [76.9, 43.2]},
   "properties": {"number": "1", "name": "A", "district": "D", "registered_voters": 1, "kind": "regular"}},
  {"type": "Feature", "geometry": {"type": "Point", "coordinates": [76.9, 43.2]},
   "properties": {"number": "2", "name": "B\n]}{", "district": "D",
                  "registered_voters": -5, "kind": "regular"}},
  {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
   "properties": {"number": "3", "name": "C", "district": "D", "registered_voters": 1, "kind": "regular"}},
  {"type": "Feature", "geometry": null,
   "properties": {"number": "1", "name": "D", "district": "D", "registered_voters": 1, "kind": "regular"}},

  {"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 43.2]},
   "properties": {"number": "5", "name": "E", "district": "D", "registered_voters": "1.5", "kind": "regular"}},
  42
]}"#;
        let errors = parse_geojson("s.geojson", text.as_bytes()).unwrap_err();
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            got,
            [
                (4, "registered_voters"),
                (7, "geometry"),
                (9, "number"),
                (9, "geometry"),
                (12, "registered_voters"),
                (12, "longitude"),
                (14, "(feature)"),
            ],
            "{errors:#?}"
        );
        assert!(errors[2].reason.contains("line 2"), "{}", errors[2]);
        assert_eq!(errors[0].reason, "must not be negative (got -5)");
    }

    #[test]
    fn geojson_invalid_json_is_one_error_at_serde_line() {
        let text = "{\"type\": \"FeatureCollection\",\n\"features\": [\n{,}\n]}";
        let errors = parse_geojson("s.geojson", text.as_bytes()).unwrap_err();
        let e = only_error(&errors);
        assert_eq!((e.line, e.field.as_str()), (3, "(file)"));
        for bad in [
            &b""[..],
            b"[]",
            b"{\"type\":\"Feature\"}",
            b"{\"type\":\"FeatureCollection\"}",
        ] {
            let errors = parse_geojson("s.geojson", bad).unwrap_err();
            assert_eq!(only_error(&errors).line, 1);
        }
    }

    #[test]
    fn feature_lines_follow_escapes_and_repeated_keys() {
        let text = br#"{"a": "\"features\": [", "feat\u0075res": [1,
 {"x": "]"},
 [[]], "s\\"], "features" : [
   true, null]}"#;
        // serde_json keeps the last of repeated keys; the scanner must too.
        assert_eq!(feature_lines(text), [4, 4]);
        let text = br#"{"a": "\"features\": [", "feat\u0075res": [1,
 {"x": "]"},
 [[]], "s\\"]}"#;
        assert!(serde_json::from_slice::<Value>(text).is_ok());
        assert_eq!(feature_lines(text), [1, 2, 3, 3]);
        assert_eq!(feature_lines(br#"{"features":[]}"#), Vec::<usize>::new());
    }

    fn station(number: &str, voters: u32) -> StationRecord {
        StationRecord {
            number: StationNumber::parse(number).unwrap(),
            name: format!("Участок {number}"),
            address: String::new(),
            district: "Медеу".into(),
            registered_voters: voters,
            coordinates: Some(Coordinates::new(43.25, 76.95).unwrap()),
            kind: StationKind::Regular,
            accessibility: vec![AccessibilityFeature::parse("ramp").unwrap()],
        }
    }

    #[test]
    fn diff_of_the_same_registry_changes_nothing() {
        let a = vec![station("1", 10), station("2", 20)];
        let d = diff(&a, &a);
        assert_eq!(
            d,
            RegistryDiff {
                unchanged: 2,
                ..RegistryDiff::default()
            }
        );
    }

    #[test]
    fn diff_reports_changed_fields_new_and_missing_stations() {
        let existing = vec![station("1", 10), station("2", 20), station("3", 30)];
        let mut moved = station("2", 25);
        moved.coordinates = None;
        let incoming = vec![station("4", 40), moved.clone(), station("1", 10)];
        let d = diff(&existing, &incoming);
        assert_eq!(d.created, [station("4", 40)]);
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.missing_from_file, 1);
        assert_eq!(
            d.updated,
            [(
                moved,
                vec![
                    FieldChange {
                        field: "registered_voters",
                        old: "20".into(),
                        new: "25".into()
                    },
                    FieldChange {
                        field: "coordinates",
                        old: "43.25,76.95".into(),
                        new: String::new()
                    }
                ]
            )]
        );
    }

    #[test]
    fn diff_of_a_reparsed_file_is_a_no_op() {
        let rows = generated_rows(50);
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let first = parse_csv("a.csv", &csv_of(&refs)).unwrap().stations;
        let second = parse_csv("a.csv", &csv_of(&refs)).unwrap().stations;
        assert_eq!(diff(&first, &second).unchanged, 50);
    }

    // ---- property tests ----

    const LETTER: &str = "[a-zA-Zа-яА-ЯёЁәғқңөұүһіӘҒҚҢӨҰҮҺІ0-9]";

    fn name_strategy() -> impl Strategy<Value = String> {
        // Inner characters include the CSV-significant ones; ends are letters
        // so the value survives trimming unchanged.
        proptest::string::string_regex(&format!(
            "{LETTER}([a-zA-Zа-яА-ЯәғқңөұүһіӘҒҚҢӨҰҮҺІ0-9 ,.;\"№-]{{0,30}}{LETTER})?"
        ))
        .unwrap()
    }

    fn records_strategy() -> impl Strategy<Value = Vec<StationRecord>> {
        let rest = || {
            (
                name_strategy(),
                prop_oneof![Just(String::new()), name_strategy()],
                name_strategy(),
                0u32..5000,
                proptest::option::of((-90.0f64..=90.0, -180.0f64..=180.0)),
                prop_oneof![Just(StationKind::Regular), Just(StationKind::Open)],
                proptest::sample::subsequence(vec!["ramp", "magnifier", "hearing_aid"], 0..=3),
            )
        };
        proptest::collection::btree_set(1u32..100_000, 0..40)
            .prop_flat_map(move |numbers| {
                let n = numbers.len();
                (Just(numbers), proptest::collection::vec(rest(), n))
            })
            .prop_map(|(numbers, rests)| {
                numbers
                    .into_iter()
                    .zip(rests)
                    .map(
                        |(number, (name, address, district, voters, coords, kind, acc))| {
                            let mut accessibility: Vec<AccessibilityFeature> = acc
                                .into_iter()
                                .map(|a| AccessibilityFeature::parse(a).unwrap())
                                .collect();
                            accessibility.sort();
                            StationRecord {
                                number: StationNumber::parse(&number.to_string()).unwrap(),
                                name,
                                address,
                                district,
                                registered_voters: voters,
                                coordinates: coords
                                    .map(|(lat, lon)| Coordinates::new(lat, lon).unwrap()),
                                kind,
                                accessibility,
                            }
                        },
                    )
                    .collect()
            })
    }

    fn accessibility_text(r: &StationRecord) -> String {
        r.accessibility
            .iter()
            .map(AccessibilityFeature::as_str)
            .collect::<Vec<_>>()
            .join(";")
    }

    fn to_csv(records: &[StationRecord]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(COLUMNS).unwrap();
        for r in records {
            let (lat, lon) = r.coordinates.map_or((String::new(), String::new()), |c| {
                (c.latitude.to_string(), c.longitude.to_string())
            });
            w.write_record([
                r.number.as_str(),
                &r.name,
                &r.address,
                &r.district,
                &r.registered_voters.to_string(),
                &lat,
                &lon,
                r.kind.as_str(),
                &accessibility_text(r),
            ])
            .unwrap();
        }
        w.into_inner().unwrap()
    }

    fn to_geojson(records: &[StationRecord]) -> Vec<u8> {
        let features: Vec<Value> = records
            .iter()
            .map(|r| {
                let c = r.coordinates.unwrap_or(Coordinates {
                    latitude: 0.0,
                    longitude: 0.0,
                });
                serde_json::json!({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [c.longitude, c.latitude]},
                    "properties": {
                        "number": r.number.as_str(),
                        "name": r.name,
                        "address": r.address,
                        "district": r.district,
                        "registered_voters": r.registered_voters,
                        "kind": r.kind.as_str(),
                        "accessibility": r.accessibility.iter().map(AccessibilityFeature::as_str).collect::<Vec<_>>(),
                    }
                })
            })
            .collect();
        serde_json::to_vec_pretty(
            &serde_json::json!({"type": "FeatureCollection", "features": features}),
        )
        .unwrap()
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z\\[\\]{}\",:\\\\ \n-]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        proptest::sample::select(COLUMNS.to_vec()).prop_map(str::to_owned),
                        Just("type".to_owned()),
                        Just("coordinates".to_owned()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = parse_csv("f.csv", &bytes);
            let _ = parse_geojson("f.geojson", &bytes);
        }

        #[test]
        fn csv_parser_never_panics_on_csvish_text(body in "[a-z0-9,;\"\n\r -]{0,500}") {
            let text = format!("{HEADER}\n{body}");
            if let Err(errors) = parse_csv("f.csv", text.as_bytes()) {
                prop_assert!(!errors.is_empty());
                let lines = text.matches('\n').count() + 1;
                prop_assert!(errors.iter().all(|e| e.line >= 1 && e.line <= lines));
            }
            let _ = parse_geojson("f.geojson", text.as_bytes());
        }

        #[test]
        fn geojson_parser_never_panics_on_jsonish_features(
            features in proptest::collection::vec(json_value(), 0..8),
            pretty in any::<bool>(),
        ) {
            let doc = serde_json::json!({"type": "FeatureCollection", "features": features});
            let text = if pretty {
                serde_json::to_vec_pretty(&doc).unwrap()
            } else {
                serde_json::to_vec(&doc).unwrap()
            };
            // Locating features must agree with serde_json on how many there are.
            prop_assert_eq!(feature_lines(&text).len(), features.len());
            let _ = parse_geojson("f.geojson", &text);
        }

        #[test]
        fn csv_round_trip(records in records_strategy()) {
            let parsed = parse_csv("rt.csv", &to_csv(&records));
            prop_assert_eq!(parsed, Ok(ParsedRegistry { stations: records, warnings: Vec::new() }));
        }

        #[test]
        fn geojson_round_trip(records in records_strategy()) {
            let records: Vec<StationRecord> = records
                .into_iter()
                .map(|mut r| {
                    r.coordinates.get_or_insert(Coordinates { latitude: 0.0, longitude: 0.0 });
                    r
                })
                .collect();
            let parsed = parse_geojson("rt.geojson", &to_geojson(&records));
            prop_assert_eq!(parsed, Ok(ParsedRegistry { stations: records, warnings: Vec::new() }));
        }
    }
}
