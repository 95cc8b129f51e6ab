//! The report's open data: stations with coverage and rating, the
//! incidents that stand, the comparison, as CSV (for spreadsheets: BOM,
//! CRLF) and JSON (for scripts). Column names are fixed English words, so
//! a script reads every group's files alike; nothing names an observer.

use pollwatch_export::{Cell, Csv, Row};
use serde_json::{Map, Value, json};

use super::{Gathered, SiteError};

/// The files (name, what they hold).
pub const NAMES: [(&str, &str); 6] = [
    ("stations.csv", "stations"),
    ("stations.json", "stations"),
    ("incidents.csv", "incidents"),
    ("incidents.json", "incidents"),
    ("comparison.csv", "comparison"),
    ("comparison.json", "comparison"),
];

fn text(s: &str) -> Cell {
    Cell::text(s)
}

fn opt_f(x: Option<f64>) -> Cell {
    x.map(Cell::Float).unwrap_or(Cell::Empty)
}

fn table(headers: &[&str], rows: Vec<Vec<Cell>>) -> (Vec<u8>, Vec<u8>) {
    let heads: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|cells| Row { cells, place: None })
        .collect();
    let mut csv = Csv::start(&heads);
    csv.extend(Csv::rows(&rows));
    let json: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            for (h, c) in heads.iter().zip(&r.cells) {
                m.insert(
                    h.clone(),
                    match c {
                        Cell::Empty => Value::Null,
                        Cell::Text(s) => json!(s),
                        Cell::Int(n) => json!(n),
                        Cell::Float(x) => json!(x),
                    },
                );
            }
            Value::Object(m)
        })
        .collect();
    let mut json = serde_json::to_vec_pretty(&json).unwrap_or_default();
    json.push(b'\n');
    (csv, json)
}

/// Every file of the open data, by name.
pub fn files(g: &Gathered) -> Result<Vec<(&'static str, Vec<u8>)>, SiteError> {
    let stations = g
        .stations
        .iter()
        .map(|s| {
            vec![
                text(&s.number),
                text(&s.name),
                text(&s.district),
                Cell::Int(i64::from(s.registered)),
                opt_f(s.coordinates.map(|c| c.0)),
                opt_f(s.coordinates.map(|c| c.1)),
                text(s.covered.as_str()),
                Cell::count(s.incidents as u64),
                text(s.protocol.as_deref().unwrap_or("")),
                text(s.rating.map(|r| r.as_str()).unwrap_or("")),
            ]
        })
        .collect();
    let (stations_csv, stations_json) = table(
        &[
            "station",
            "name",
            "district",
            "registered_voters",
            "latitude",
            "longitude",
            "coverage",
            "incidents",
            "protocol_status",
            "rating",
        ],
        stations,
    );
    let incidents = g
        .incidents
        .iter()
        .map(|i| {
            vec![
                Cell::Int(i.seq),
                text(&i.station),
                text(&i.district),
                text(&i.category),
                text(&i.severity),
                text(&i.observed_at),
                i.voters.map(Cell::count).unwrap_or(Cell::Empty),
            ]
        })
        .collect();
    let (incidents_csv, incidents_json) = table(
        &[
            "log_seq",
            "station",
            "district",
            "category",
            "severity",
            "observed_at",
            "voters_turned_away",
        ],
        incidents,
    );
    let compared = g
        .result
        .as_ref()
        .map(|r| {
            r.compared
                .iter()
                .map(|(district, c)| {
                    let kinds: Vec<&str> = c.findings.iter().map(|f| f.kind.as_str()).collect();
                    let fields: Vec<String> = c
                        .findings
                        .iter()
                        .map(|f| {
                            format!(
                                "{}:{}:{}",
                                f.field,
                                f.official.map(|x| x.to_string()).unwrap_or_default(),
                                f.observed.map(|x| x.to_string()).unwrap_or_default()
                            )
                        })
                        .collect();
                    vec![
                        text(&c.station),
                        text(district),
                        Cell::count(c.findings.len() as u64),
                        Cell::count(c.largest_gap()),
                        text(&kinds.join(" ")),
                        text(&fields.join(" ")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let (comparison_csv, comparison_json) = table(
        &[
            "station",
            "district",
            "findings",
            "largest_gap",
            "finding_kinds",
            "figures_official_observed",
        ],
        compared,
    );
    Ok(vec![
        ("stations.csv", stations_csv),
        ("stations.json", stations_json),
        ("incidents.csv", incidents_csv),
        ("incidents.json", incidents_json),
        ("comparison.csv", comparison_csv),
        ("comparison.json", comparison_json),
    ])
}
