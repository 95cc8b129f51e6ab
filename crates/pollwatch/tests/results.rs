//! After the vote, as a user runs it: official results import, forensics,
//! the quick count and comparisons from the command line, and the analyst's
//! pages in the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::{pollwatch, run, spawn_server};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mapping(name: &str) -> PathBuf {
    workspace().join("mappings").join(name)
}

fn demo_official() -> pollwatch_demo::OfficialResults {
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    pollwatch_demo::official_results(&city, pollwatch_demo::DEFAULT_SEED)
}

fn gzip(path: &Path, text: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
}

#[test]
fn results_import_is_all_or_nothing_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let csv = demo_official().csv;

    // One bad row in the middle: nothing is stored and the line is named.
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[300].split(',').map(str::to_owned).collect();
    cells[2] = "-12".into(); // registered_voters
    lines[300] = cells.join(",");
    let bad = dir.path().join("official-bad.csv.gz");
    gzip(&bad, &(lines.join("\n") + "\n"));
    let (code, _, err) = run(pollwatch(&db)
        .args(["results", "import"])
        .arg(&bad)
        .arg("--mapping")
        .arg(mapping("demo.toml")));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("official-bad.csv.gz:301: registered: must not be negative"),
        "{err}"
    );
    let (_, listed, _) = run(pollwatch(&db).args(["results", "list"]));
    assert!(listed.trim().is_empty(), "nothing stored: {listed}");

    let good = dir.path().join("official.csv.gz");
    gzip(&good, &csv);
    let (code, out, err) = run(pollwatch(&db)
        .args(["results", "import"])
        .arg(&good)
        .arg("--mapping")
        .arg(mapping("demo.toml")));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stored 616 stations as result #1"), "{out}");
    assert!(out.contains("sha256 "), "{out}");
    let (code, out, _) = run(pollwatch(&db)
        .args(["results", "import"])
        .arg(&good)
        .arg("--mapping")
        .arg(mapping("demo.toml")));
    assert_eq!(code, 0);
    assert!(out.contains("already stored as result #1"), "{out}");
    let (_, listed, _) = run(pollwatch(&db).args(["results", "list"]));
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

#[test]
fn forensics_json_has_the_documented_keys_and_finds_the_demo_falsification() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("official.csv");
    std::fs::write(&file, demo_official().csv).unwrap();
    let (code, out, err) = run(pollwatch(dir.path().join("x.db"))
        .arg("forensics")
        .arg("--results")
        .arg(&file)
        .arg("--mapping")
        .arg(mapping("demo.toml"))
        .arg("--json"));
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["stations"], 616);
    let ip = &r["integer_percent"];
    for key in [
        "stations",
        "turnout",
        "leader",
        "either",
        "expected_either",
        "excess_either",
        "z_either",
    ] {
        assert!(ip[key].is_number(), "integer_percent.{key}: {ip}");
    }
    // One district's figures were set to whole percentages.
    assert!(ip["z_either"].as_f64().unwrap() > 5.0, "{ip}");
    assert!(r["shpilkin"]["mode_bin_low_percent"].is_number());
    // One district was stuffed: some excess for the leader.
    assert!(r["shpilkin"]["excess_votes"].as_f64().unwrap() > 0.0);
    for key in ["f_i", "f_e", "alpha"] {
        assert!(r["klimek"][key].is_number(), "klimek.{key}");
    }
    let digits = r["second_digit"].as_array().unwrap();
    assert_eq!(digits.len(), 6);
    for d in digits {
        for key in ["party", "n", "mean", "chi2"] {
            assert!(!d[key].is_null(), "second_digit.{key}: {d}");
        }
    }

    // Without --json: a readable summary.
    let (code, out, _) = run(pollwatch(dir.path().join("x.db"))
        .arg("forensics")
        .arg("--results")
        .arg(&file)
        .arg("--mapping")
        .arg(mapping("demo.toml")));
    assert_eq!(code, 0);
    assert!(out.contains("integer percentages"), "{out}");
    assert!(out.contains("analysed in"), "{out}");
}

#[test]
fn quickcount_json_gives_estimates_with_margins() {
    let dir = tempfile::tempdir().unwrap();
    let csv = demo_official().csv;
    // Every sixth station as the sample.
    let sample: String = csv
        .lines()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 6 == 0)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let sample_file = dir.path().join("sample.csv");
    std::fs::write(&sample_file, sample).unwrap();
    let official_file = dir.path().join("official.csv");
    std::fs::write(&official_file, &csv).unwrap();
    let (code, out, err) = run(pollwatch(dir.path().join("x.db"))
        .arg("quickcount")
        .arg("--results")
        .arg(&sample_file)
        .arg("--mapping")
        .arg(mapping("demo.toml"))
        .args(["--population-stations", "616", "--official"])
        .arg(&official_file)
        .arg("--official-mapping")
        .arg(mapping("demo.toml"))
        .arg("--json"));
    assert_eq!(code, 0, "{err}");
    let q: serde_json::Value = serde_json::from_str(&out).unwrap();
    let candidates = q["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 6);
    for e in candidates.iter().chain(std::iter::once(&q["turnout"])) {
        assert!(e["candidate"].is_string());
        let est = e["estimate"].as_f64().unwrap();
        let m95 = e["moe95"].as_f64().unwrap();
        let m99 = e["moe99"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&est), "{e}");
        assert!(m95 > 0.0 && m99 > m95, "{e}");
        assert!(e["official"].is_number(), "{e}");
    }

    // Stratified by district: the strata and their sizes are reported, and
    // the interval is narrower than the unstratified one for the leader.
    let (code, out, err) = run(pollwatch(dir.path().join("x.db"))
        .arg("quickcount")
        .arg("--results")
        .arg(&sample_file)
        .arg("--mapping")
        .arg(mapping("demo.toml"))
        .arg("--official")
        .arg(&official_file)
        .arg("--official-mapping")
        .arg(mapping("demo.toml"))
        .args(["--strata-column", "district", "--json"]));
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    let strata = s["strata"].as_array().unwrap();
    assert_eq!(strata.len(), 8, "{s}");
    let total: u64 = strata
        .iter()
        .map(|h| h["population_stations"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 616);
    assert!(s["candidates"][0]["moe95"].as_f64().unwrap() > 0.0);
}

#[test]
fn belarus_photos_against_protocols() {
    let Some(data) = common::shared_data(
        "belarus_photos_against_protocols",
        "belarus-2020-voice-photos-vs-official.csv.gz",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(pollwatch(dir.path().join("x.db"))
        .arg("compare")
        .arg("--results")
        .arg(&data)
        .arg("--mapping")
        .arg(mapping("belarus-2020.toml"))
        .arg("--json"));
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(c["stations_published"].as_u64().unwrap() > 1000);
    let above = c["by_kind"]["candidate_above_official"].as_u64().unwrap();
    assert!(above > 300, "{above}");
    // A station from the public record: 1,850 photo-confirmed ballots for
    // Tsikhanouskaya against 244 in the protocol.
    let station = c["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["station"] == "07-006-0042")
        .unwrap();
    let finding = station["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "candidate_above_official")
        .unwrap();
    assert_eq!(finding["observed"], 1850);
    assert_eq!(finding["official"], 244);
    assert!(finding["message"].as_str().unwrap().contains("gap 1,606"));
}

#[tokio::test]
async fn analysts_see_forensics_comparison_and_quick_count_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    let (_child, addr) = spawn_server(&db, "demo");
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let group = &city.groups[0];
    let http = common::http_client();
    let login = |user: String| {
        let http = http.clone();
        let addr = addr.clone();
        async move {
            let res = http
                .post(format!("{addr}/api/v1/login"))
                .json(&serde_json::json!({"username": user, "password": "pollwatch-demo"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
            res.json::<serde_json::Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let analyst = login(group.analyst.clone()).await;
    let page =
        |path: &str, token: &str| http.get(format!("{addr}{path}")).bearer_auth(token).send();
    let list = page("/results", &analyst)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("/results/1"), "{list}");
    let report = page("/results/1", &analyst).await.unwrap();
    assert_eq!(report.status(), 200);
    let html = report.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("Integer percentages"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no external assets"
    );
    let compare = page("/results/1/compare", &analyst).await.unwrap();
    assert_eq!(compare.status(), 200);
    let html = compare.text().await.unwrap();
    assert!(html.contains("with findings"), "{html}");
    assert!(html.contains("gap"), "findings carry their size");
    let qc = page("/results/1/quickcount", &analyst).await.unwrap();
    assert_eq!(qc.status(), 200);
    assert!(qc.text().await.unwrap().contains("Quick count"));

    // The same pages in Russian and Kazakh, charts' titles included.
    let texts = [
        (
            "ru",
            [
                "Целые проценты",
                "Явка: число участков",
                "Наши данные и официальные цифры",
                "Быстрый подсчёт по нашим копиям протоколов",
            ],
        ),
        (
            "kk",
            [
                "Бүтін пайыздар",
                "Келу үлесі: әр 0,1",
                "Біздің деректер және ресми сандар",
                "Біздің хаттама көшірмелері бойынша жылдам есеп",
            ],
        ),
    ];
    for (lang, [integer, chart, compare, quick]) in texts {
        let get = |path: &str| {
            http.get(format!("{addr}{path}"))
                .bearer_auth(&analyst)
                .header("cookie", format!("lang={lang}"))
                .send()
        };
        let html = get("/results/1").await.unwrap().text().await.unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{lang}\">")),
            "{html:.300}"
        );
        assert!(
            html.contains(integer) && html.contains(chart),
            "{lang}: {html}"
        );
        assert!(!html.contains("Integer percentages"), "{lang}");
        let html = get("/results/1/compare")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(compare), "{lang}: {html}");
        let html = get("/results/1/quickcount")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(quick), "{lang}: {html}");
    }

    // Admins run the instance but do not analyse groups' evidence.
    let admin = login("admin".into()).await;
    let res = page("/results/1", &admin).await.unwrap();
    assert_eq!(res.status(), 403);
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    text
}

/// Read a Russian file through its shipped mapping, and check the parsed
/// figures against the file's own columns, station by station: the mapping
/// must point each figure at the right column. Answers the stations read.
fn russian_file_reads_through_its_mapping(
    file: &Path,
    mapping_file: &str,
    leader_column: &str,
) -> pollwatch_domain::results::ResultSet {
    use pollwatch_domain::results::{Mapping, parse_results};
    let text = std::fs::read_to_string(mapping(mapping_file)).unwrap();
    let m = Mapping::parse(mapping_file, &text).unwrap();
    let bytes = gunzip(file);
    let (set, _) = parse_results(&file.display().to_string(), &bytes, &m)
        .unwrap_or_else(|e| panic!("{mapping_file}: {:?}", &e[..e.len().min(5)]));
    let mut rows = csv::Reader::from_reader(bytes.as_slice());
    let headers = rows.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (region, uik, registered, valid, leader) = (
        col("region"),
        col("uik"),
        col("registered_voters"),
        col("valid_ballots"),
        col(leader_column),
    );
    let by_line: std::collections::HashMap<usize, _> =
        set.stations.iter().map(|s| (s.line, s)).collect();
    let mut checked = 0;
    for row in rows.records() {
        let row = row.unwrap();
        let line = row.position().unwrap().line() as usize;
        // Absent: a protocol with an empty figure, counted as skipped.
        let Some(s) = by_line.get(&line) else {
            continue;
        };
        assert_eq!(
            s.station,
            format!("{} / {}", row[region].trim(), row[uik].trim()),
            "line {line}"
        );
        let n = |i: usize| row[i].parse::<u64>().unwrap();
        assert_eq!(s.registered, n(registered), "{}", s.station);
        assert_eq!(s.valid, n(valid), "{}", s.station);
        assert_eq!(s.votes[set.leader], n(leader), "{}", s.station);
        checked += 1;
    }
    assert_eq!(checked, set.stations.len());
    set
}

/// The two shipped Russian mappings read an excerpt of their real files
/// (committed under tests/data: 400 stations at home, 100 abroad).
#[test]
fn russian_mappings_read_their_files() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let duma = russian_file_reads_through_its_mapping(
        &data.join("russia-2011-duma-excerpt.csv.gz"),
        "russia-2011-duma.toml",
        "United_Russia",
    );
    assert_eq!(duma.stations.len() + duma.skipped_incomplete, 500);
    assert_eq!(duma.candidates.len(), 7);
    let president = russian_file_reads_through_its_mapping(
        &data.join("russia-2012-president-excerpt.csv.gz"),
        "russia-2012-president.toml",
        "Putin",
    );
    assert_eq!(president.stations.len() + president.skipped_incomplete, 500);
    assert_eq!(president.candidates.len(), 5);
}

/// ...and the whole national files in ../shared/data, against the totals
/// their README gives.
#[test]
fn russian_mappings_read_the_national_files() {
    let Some(duma) = common::shared_data(
        "russian_mappings_read_the_national_files",
        "russia-2011-duma-stations.csv.gz",
    ) else {
        return;
    };
    let Some(president) = common::shared_data(
        "russian_mappings_read_the_national_files",
        "russia-2012-president-stations.csv.gz",
    ) else {
        return;
    };
    let set =
        russian_file_reads_through_its_mapping(&duma, "russia-2011-duma.toml", "United_Russia");
    assert_eq!(set.stations.len() + set.skipped_incomplete, 95_225);
    let leader: u64 = set.stations.iter().map(|s| s.votes[set.leader]).sum();
    assert_eq!(leader, 32_371_737, "United Russia's votes");
    let set =
        russian_file_reads_through_its_mapping(&president, "russia-2012-president.toml", "Putin");
    assert_eq!(set.stations.len() + set.skipped_incomplete, 95_415);
    let leader: u64 = set.stations.iter().map(|s| s.votes[set.leader]).sum();
    assert_eq!(leader, 45_602_075, "Putin's votes");
}
