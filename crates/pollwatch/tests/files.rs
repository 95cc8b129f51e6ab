//! Registry and results files as people have them, through the command
//! line: Windows-1251, `;`, CRLF, .xlsx and .ods, the refusal of a file
//! of two encodings; and a city's registry matched with the national
//! results of the same election.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{pollwatch, run};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mapping(name: &str) -> PathBuf {
    workspace().join("mappings").join(name)
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

const REGISTRY: &str = "number;name;district;registered_voters;kind\r\n\
843;УИК № 843;1 район Богородское;1887;regular\r\n\
844;УИК № 844;1 район Богородское;2113;regular\r\n\
845;\"УИК № 845; корпус 2\";Ёлкино;311;regular\r\n";

/// A mapping of a small results file keyed by region and number.
const RESULTS_MAPPING: &str = r#"
name = "Test results"
[columns]
station = ["регион", "уик"]
station_number = "уик"
registered = "избиратели"
ballots_issued = "выдано"
[candidates]
columns = ["А", "Б"]
"#;

fn results_rows() -> Vec<[&'static str; 6]> {
    vec![
        ["регион", "уик", "избиратели", "выдано", "А", "Б"],
        ["Город Москва", "843", "1887", "1000", "600", "390"],
        ["Город Москва", "844", "2113", "1200", "700", "480"],
        ["Город Москва", "846", "500", "300", "200", "90"],
        ["Тверская область", "843", "900", "400", "300", "90"],
        ["Тверская область", "844", "400", "200", "100", "90"],
    ]
}

fn import_stations(db: &Path, file: &Path, extra: &[&str]) -> (i32, String, String) {
    run(pollwatch(db)
        .args(["stations", "import"])
        .arg(file)
        .args(extra))
}

fn import_results(db: &Path, file: &Path, mapping: &Path, extra: &[&str]) -> (i32, String, String) {
    run(pollwatch(db)
        .args(["results", "import"])
        .arg(file)
        .arg("--mapping")
        .arg(mapping)
        .args(extra))
}

#[test]
fn a_windows_1251_semicolon_crlf_registry_imports_and_says_how_it_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let file = dir.path().join("stations.csv");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(REGISTRY);
    std::fs::write(&file, &bytes).unwrap();
    let (code, out, err) = import_stations(&db, &file, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 stations"), "{out}");
    assert!(
        out.contains("read as windows-1251 (detected), delimiter ';' (detected)"),
        "{out}"
    );
    // Stored as the text it is: the same registry in UTF-8 changes nothing.
    let utf8 = dir.path().join("stations-utf8.csv");
    std::fs::write(
        &utf8,
        REGISTRY.replace(';', ",").replace(", корпус", "; корпус"),
    )
    .unwrap();
    let (code, out, err) = import_stations(&db, &utf8, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 created, 0 updated, 3 unchanged"), "{out}");

    // An error in a CRLF file is named on its line, with the encoding given.
    let bad = REGISTRY.replace("2113", "-5");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&bad);
    std::fs::write(&file, &bytes).unwrap();
    let (code, _, err) = import_stations(&db, &file, &["--encoding", "cp1251"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("stations.csv:3: registered_voters: must not be negative"),
        "{err}"
    );
}

#[test]
fn a_file_of_two_encodings_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let file = dir.path().join("stations.csv");
    let mut bytes = REGISTRY.as_bytes().to_vec();
    let (legacy, _, _) = encoding_rs::WINDOWS_1251.encode("846;УИК № 846;Тверская;100;regular\r\n");
    bytes.extend_from_slice(&legacy);
    std::fs::write(&file, &bytes).unwrap();
    let (code, out, err) = import_stations(&db, &file, &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("stations.csv:5: (encoding): the file mixes encodings"),
        "{err}"
    );
    assert!(
        err.contains("lines 2, 3, 4 are UTF-8 text, line 5 is not"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    // Told it is UTF-8, the other line is refused by its number.
    let (code, _, err) = import_stations(&db, &file, &["--encoding", "utf-8"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("stations.csv:5: (encoding): has bytes that are not UTF-8 text (given)"),
        "{err}"
    );
    // Nothing was stored by either: a good file creates all its stations.
    std::fs::write(&file, REGISTRY).unwrap();
    let (code, out, err) = import_stations(&db, &file, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 created"), "{out}");

    // The same for a results file: exit 2, no result stored.
    let results = dir.path().join("results.csv");
    let mut text: Vec<u8> = results_rows()[..3]
        .iter()
        .map(|r| r.join(","))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes();
    let (legacy, _, _) =
        encoding_rs::WINDOWS_1251.encode("\nТверская область,843,900,400,300,90\n");
    text.extend_from_slice(&legacy);
    std::fs::write(&results, &text).unwrap();
    let m = dir.path().join("m.toml");
    std::fs::write(&m, RESULTS_MAPPING).unwrap();
    let (code, _, err) = import_results(&db, &results, &m, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("results.csv:4: (encoding): the file mixes encodings"),
        "{err}"
    );
    let (_, listed, _) = run(pollwatch(&db).args(["results", "list"]));
    assert!(listed.trim().is_empty(), "nothing stored: {listed}");
}

#[test]
fn a_crlf_semicolon_results_file_names_the_right_line_and_the_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let m = dir.path().join("m.toml");
    std::fs::write(&m, RESULTS_MAPPING).unwrap();
    let mut rows = results_rows();
    rows[4][3] = "x";
    let text = rows
        .iter()
        .map(|r| r.join(";"))
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n";
    let file = dir.path().join("results.csv");
    std::fs::write(&file, &text).unwrap();
    let (code, _, err) = import_results(&db, &file, &m, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("results.csv:5: ballots_issued: \"x\" is not a whole number"),
        "{err}"
    );
    // Read with the wrong delimiter given, the refusal says what it saw.
    let (code, _, err) = import_results(&db, &file, &m, &["--delimiter", ","]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the mapping names column \"уик\", which the file does not have"),
        "{err}"
    );
    assert!(
        err.contains("read as UTF-8 (detected), delimiter ',' (given)"),
        "{err}"
    );
    assert!(err.contains("--delimiter ';'"), "{err}");
}

#[test]
fn an_xlsx_registry_and_an_ods_result_are_read_and_matched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");

    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("Пояснения").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Участки").unwrap();
    for (r, line) in REGISTRY.lines().enumerate() {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(b';')
            .from_reader(line.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        for (c, cell) in record.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell.parse::<f64>() {
                Ok(n) => sheet.write_number(r, c, n).unwrap(),
                Err(_) => sheet.write_string(r, c, cell).unwrap(),
            };
        }
    }
    let xlsx = dir.path().join("stations.xlsx");
    book.save(&xlsx).unwrap();
    // The first sheet is the notes: refused, naming the sheet.
    let (code, _, err) = import_stations(&db, &xlsx, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stations.xlsx (sheet \"Пояснения\")"), "{err}");
    let (code, out, err) = import_stations(&db, &xlsx, &["--sheet", "Участки"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 stations"), "{out}");
    assert!(
        out.contains("read as sheet \"Участки\" of an .xlsx workbook"),
        "{out}"
    );

    let ods = dir.path().join("results.ods");
    std::fs::write(&ods, ods_bytes("Итоги", &results_rows())).unwrap();
    let m = dir.path().join("m.toml");
    std::fs::write(&m, RESULTS_MAPPING).unwrap();
    let (code, out, err) = import_results(&db, &ods, &m, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["result"]["stations"], 5);
    assert_eq!(j["read"], "read as sheet \"Итоги\" of an .ods workbook");
    let matching = &j["matching"];
    assert_eq!(matching["home"]["region"], "Город Москва", "{matching}");
    assert_eq!(matching["home"]["found"], true);
    assert_eq!(matching["matched"], 2);
    assert_eq!(matching["without_result"], serde_json::json!(["845"]));
    assert_eq!(
        matching["outside_registry"],
        serde_json::json!(["Город Москва / 846"])
    );
    assert_eq!(matching["other_regions"], 2);

    // Human output lists both sides; a region is checked before storing.
    let (code, out, err) = import_results(&db, &ods, &m, &["--all"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("already stored as result #1"), "{out}");
    assert!(
        out.contains("registry stations without a result:\n    845"),
        "{out}"
    );
    let (code, _, err) = import_results(&db, &ods, &m, &["--region", "Марс"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no station of the results file is in region \"Марс\""),
        "{err}"
    );
    let (_, listed, _) = run(pollwatch(&db).args(["results", "list"]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    // Given, the region is stored with the result's mapping.
    let (code, out, err) = import_results(&db, &ods, &m, &["--region", "тверская область"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stored 5 stations as result #2"), "{out}");
    assert!(
        out.contains("region \"Тверская область\", as given"),
        "{out}"
    );
}

/// An OpenDocument spreadsheet of one sheet, as small as calamine reads.
fn ods_bytes(sheet: &str, rows: &[[&str; 6]]) -> Vec<u8> {
    use std::io::Write;
    let mut body = String::new();
    for row in rows {
        body.push_str("<table:table-row>");
        for cell in row {
            if cell.parse::<f64>().is_ok() {
                body.push_str(&format!(
                    "<table:table-cell office:value-type=\"float\" office:value=\"{cell}\"><text:p>{cell}</text:p></table:table-cell>"
                ));
            } else {
                body.push_str(&format!(
                    "<table:table-cell office:value-type=\"string\"><text:p>{cell}</text:p></table:table-cell>"
                ));
            }
        }
        body.push_str("</table:table-row>");
    }
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="{sheet}">{body}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("content.xml", stored).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
    )
    .unwrap();
    zip.finish().unwrap().into_inner()
}

/// Issue 10, point 4: Moscow's 3,386 stations as the registry (shipped,
/// made from the 2012 file), the national 2012 results with the shipped
/// mapping, and a headcount at one Moscow station: the comparison finds
/// the station's official figures, from the command line and on the page.
#[tokio::test]
async fn a_city_registry_is_matched_with_the_national_results() {
    let Some(national) = common::shared_data(
        "a_city_registry_is_matched_with_the_national_results",
        "russia-2012-president-stations.csv.gz",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let (code, out, err) = import_stations(&db, &data("moscow-2012-stations.csv.gz"), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3386 stations"), "{out}");
    let mapping = mapping("russia-2012-president.toml");
    let (code, out, err) = import_results(&db, &national, &mapping, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["result"]["stations"], 95_415);
    let m = &j["matching"];
    assert_eq!(m["home"]["region"], "Город Москва", "{m}");
    assert_eq!(m["home"]["found"], true);
    assert_eq!(m["matched"], 3386);
    assert_eq!(m["without_result"], serde_json::json!([]));
    assert_eq!(m["outside_registry"], serde_json::json!([]));
    assert_eq!(m["other_regions"], 95_415 - 3386);

    for args in [
        vec!["admin", "create-group", "moscow"],
        vec![
            "admin",
            "create-observer",
            "--group",
            "moscow",
            "--observer",
            "Sokol",
        ],
        vec![
            "admin",
            "assign",
            "--group",
            "moscow",
            "--observer",
            "Sokol",
            "--station",
            "843",
        ],
    ] {
        let (code, _, err) = run(pollwatch(&db).args(&args));
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let (code, _, err) = run(pollwatch(&db)
        .args([
            "admin",
            "create-user",
            "analyst-moscow",
            "--role",
            "analyst",
            "--group",
            "moscow",
        ])
        .env("POLLWATCH_PASSWORD", common::PASSWORD));
    assert_eq!(code, 0, "{err}");
    {
        use pollwatch_store::Store as _;
        let store = pollwatch_store_sqlite::SqliteStore::open(&db)
            .await
            .unwrap();
        let g = store
            .group(&pollwatch_domain::Slug::parse("moscow").unwrap())
            .await
            .unwrap()
            .unwrap();
        let o = store
            .observer_by_code_name(g.id, &pollwatch_domain::CodeName::parse("Sokol").unwrap())
            .await
            .unwrap()
            .unwrap();
        let e = store.elections().await.unwrap().remove(0);
        let s = store
            .station(
                e.id,
                &pollwatch_domain::StationNumber::parse("843").unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        // A final headcount: the protocol's fate recorded after it.
        for (n, kind, payload) in [
            (
                1u8,
                pollwatch_domain::EventKind::Headcount,
                serde_json::json!({"counted": 100, "announced": null}),
            ),
            (
                2,
                pollwatch_domain::EventKind::Protocol,
                serde_json::json!({"status": "posted"}),
            ),
        ] {
            store
                .append(pollwatch_domain::NewEvent {
                    client_id: pollwatch_domain::ClientId::from_bytes([n; 16]),
                    group_id: g.id,
                    observer_id: Some(o.id),
                    station_id: Some(s.id),
                    kind,
                    payload,
                    observed_at: pollwatch_domain::Timestamp(1_330_880_000_000 + i64::from(n)),
                    supersedes: None,
                })
                .await
                .unwrap();
        }
    }

    let (code, out, err) = run(pollwatch(&db)
        .arg("compare")
        .arg("--results")
        .arg(&national)
        .arg("--mapping")
        .arg(&mapping)
        .args(["--group", "moscow", "--json"]));
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let station = c["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["station"] == "843")
        .unwrap_or_else(|| panic!("{c}"));
    assert_eq!(station["official"]["registered"], 1887, "{station}");
    let kinds: Vec<&str> = station["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["turnout_above_headcount"], "{station}");
    let (code, out, err) = run(pollwatch(&db)
        .arg("compare")
        .arg("--results")
        .arg(&national)
        .arg("--mapping")
        .arg(&mapping)
        .args(["--group", "moscow"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("region \"Город Москва\", found by the registry"),
        "{out}"
    );
    assert!(out.contains("station 843: official turnout"), "{out}");
    assert!(!out.contains("no figures"), "{out}");

    // The page: the stored result, matched the same way.
    let (_child, addr) = common::spawn_server(&db, "serve");
    let http = common::http_client();
    let res = http
        .post(format!("{addr}/api/v1/login"))
        .json(&serde_json::json!({"username": "analyst-moscow", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let html = http
        .get(format!("{addr}/results/1/compare"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("/stations/843"), "{html}");
    assert!(html.contains("Official turnout"), "{html}");
    assert!(!html.contains("has no figures"), "{html}");
}
