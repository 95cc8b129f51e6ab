//! Rows as bytes: CSV that Excel opens as UTF-8, and GeoJSON features.
//! Each call answers the bytes of what it was given, so the caller can
//! send a page as soon as it is read.

use serde_json::{Map, Value};

use crate::{Cell, Row};

/// Excel reads a CSV file as the machine's ANSI code page unless it starts
/// with the UTF-8 byte-order mark: without it, Cyrillic comes out garbled.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// CSV with a byte-order mark, CRLF line ends (what Excel writes), every
/// field quoted as needed by the `csv` crate.
pub struct Csv;

impl Csv {
    /// The byte-order mark and the header line.
    pub fn start(headers: &[String]) -> Vec<u8> {
        let mut out = BOM.to_vec();
        out.extend(Self::record(headers.iter().map(|h| guard(h))));
        out
    }

    /// The lines of these rows.
    pub fn rows(rows: &[Row]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            out.extend(Self::record(r.cells.iter().map(|c| match c {
                Cell::Text(s) => guard(s),
                other => other.plain(),
            })));
        }
        out
    }

    fn record(fields: impl Iterator<Item = String>) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        // Writing to memory cannot fail; a failure would leave the line
        // out, never a broken one (the writer buffers the whole record).
        let fields: Vec<String> = fields.collect();
        if w.write_record(&fields).is_err() {
            return Vec::new();
        }
        w.into_inner().unwrap_or_default()
    }
}

/// Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a
/// tab or carriage return before one) gets a leading apostrophe, as Excel
/// itself shows typed text: a seized phone can send any answer, and the
/// file is opened on a coordinator's machine. Numbers are not text, so a
/// negative gap stays a number.
pub fn guard(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// A GeoJSON FeatureCollection written piece by piece: one Point feature
/// per row with a place (rows without coordinates are left out), its
/// properties named by the headers.
pub struct GeoJson {
    first: bool,
}

impl Default for GeoJson {
    fn default() -> Self {
        Self::new()
    }
}

impl GeoJson {
    pub fn new() -> Self {
        Self { first: true }
    }

    pub fn start() -> Vec<u8> {
        br#"{"type":"FeatureCollection","features":["#.to_vec()
    }

    pub fn rows(&mut self, headers: &[String], rows: &[Row]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            let Some(place) = r.place else { continue };
            let mut properties = Map::new();
            for (h, c) in headers.iter().zip(&r.cells) {
                let v = match c {
                    Cell::Empty => Value::Null,
                    Cell::Text(s) => Value::String(s.clone()),
                    Cell::Int(n) => Value::from(*n),
                    Cell::Float(x) => serde_json::Number::from_f64(*x)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                };
                properties.insert(h.clone(), v);
            }
            let (Some(lon), Some(lat)) = (
                serde_json::Number::from_f64(place.longitude),
                serde_json::Number::from_f64(place.latitude),
            ) else {
                continue;
            };
            let feature = serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": properties,
            });
            if !self.first {
                out.push(b',');
            }
            self.first = false;
            out.extend(feature.to_string().into_bytes());
        }
        out
    }

    pub fn end() -> Vec<u8> {
        b"]}".to_vec()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Place;
    use proptest::prelude::*;

    fn row(cells: Vec<Cell>) -> Row {
        Row { cells, place: None }
    }

    #[test]
    fn csv_starts_with_the_bom_and_ends_lines_with_crlf() {
        let mut bytes = Csv::start(&["Участок".into(), "Что произошло?".into()]);
        bytes.extend(Csv::rows(&[row(vec![
            Cell::text("101"),
            Cell::text("Сказали \"уходите\",\nи всё"),
        ])]));
        assert!(bytes.starts_with(BOM));
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.starts_with("Участок,Что произошло?\r\n"), "{text}");
        let mut r = csv::Reader::from_reader(&bytes[3..]);
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[1], "Сказали \"уходите\",\nи всё");
    }

    #[test]
    fn text_that_looks_like_a_formula_is_not_one() {
        let bytes = Csv::rows(&[row(vec![
            Cell::text("=HYPERLINK(\"http://x\")"),
            Cell::Int(-5),
            Cell::text("@SUM(A1)"),
        ])]);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "\"'=HYPERLINK(\"\"http://x\"\")\",-5,'@SUM(A1)\r\n");
    }

    #[test]
    fn geojson_leaves_out_rows_without_a_place() {
        let headers = vec!["n".to_owned(), "name".to_owned()];
        let mut g = GeoJson::new();
        let mut bytes = GeoJson::start();
        bytes.extend(g.rows(
            &headers,
            &[
                Row {
                    cells: vec![Cell::Int(1), Cell::text("a")],
                    place: Some(Place {
                        latitude: 43.25,
                        longitude: 76.95,
                    }),
                },
                row(vec![Cell::Int(2), Cell::Empty]),
            ],
        ));
        bytes.extend(g.rows(
            &headers,
            &[Row {
                cells: vec![Cell::Int(3), Cell::Empty],
                place: Some(Place {
                    latitude: 1.0,
                    longitude: 2.0,
                }),
            }],
        ));
        bytes.extend(GeoJson::end());
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let f = v["features"].as_array().unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0]["geometry"]["coordinates"],
            serde_json::json!([76.95, 43.25])
        );
        assert_eq!(f[1]["properties"]["n"], 3);
        assert!(f[1]["properties"]["name"].is_null());
    }

    proptest! {
        /// Whatever an observer typed comes back from the CSV as typed
        /// (bar the apostrophe before a formula's first character).
        #[test]
        fn any_text_survives_the_round_trip(cells in proptest::collection::vec(".{0,40}", 1..6)) {
            let headers: Vec<String> = (0..cells.len()).map(|i| format!("c{i}")).collect();
            let mut bytes = Csv::start(&headers);
            bytes.extend(Csv::rows(&[row(cells.iter().map(|c| Cell::text(c.clone())).collect())]));
            let mut r = csv::ReaderBuilder::new().from_reader(&bytes[3..]);
            let rec = r.records().next().unwrap().unwrap();
            for (got, sent) in rec.iter().zip(&cells) {
                prop_assert_eq!(got.to_owned(), guard(sent));
            }
        }
    }
}
