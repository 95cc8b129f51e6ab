//! `pollwatch forms import-xlsform` as a group coming from Kobo runs it: the
//! example XLSForm (forms/examples/observer-checklist.xlsx, made by
//! scripts/xlsform-example) becomes a checklist that `forms check` accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{pollwatch, run};
use pollwatch_domain::forms::xlsform;

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../forms/examples")
        .join(name)
}

/// The `.tsv` the `.xlsx` was made from, as sheets.
fn tsv_sheets() -> Vec<xlsform::Sheet> {
    let text = std::fs::read_to_string(example("observer-checklist.xlsform.tsv")).unwrap();
    let mut sheets: Vec<xlsform::Sheet> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            sheets.push(xlsform::Sheet {
                name: name.trim().into(),
                rows: Vec::new(),
            });
        } else if let Some(s) = sheets.last_mut() {
            s.rows.push(line.split('\t').map(str::to_owned).collect());
        }
    }
    sheets
}

#[test]
fn an_xlsform_becomes_a_checklist_that_forms_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db").display().to_string();
    let out = dir.path().join("kobo.toml");
    let (code, stdout, stderr) = run(pollwatch(&db)
        .args(["forms", "import-xlsform"])
        .arg(example("observer-checklist.xlsx"))
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("checklist kobo_checklist v2024051501: 17 questions"),
        "{stdout}"
    );
    // What cannot be carried over is said, by sheet, row and column.
    for said in [
        "warning: survey!H21 (relevant): cannot translate \"pulldata(",
        "warning: survey!A19 (type): geopoint",
        "warning: survey!A22 (type): pollwatch has no repeats",
        "warning: choices!F1 (label::French (fr))",
    ] {
        assert!(stderr.contains(said), "{said:?} not in:\n{stderr}");
    }
    // The spreadsheet read by calamine gives what its source text gives:
    // numbers and booleans as typed, every cell where the sheet has it.
    let text = std::fs::read_to_string(&out).unwrap();
    let from_tsv = xlsform::import(&tsv_sheets(), "observer-checklist").unwrap();
    assert_eq!(text, from_tsv.toml);

    let (code, stdout, stderr) = run(pollwatch(&db).args(["forms", "check"]).arg(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("checklist kobo_checklist v2024051501: 17 questions"),
        "{stdout}"
    );

    // Written once; replaced only when asked.
    let again = || {
        let mut c = pollwatch(&db);
        c.args(["forms", "import-xlsform"])
            .arg(example("observer-checklist.xlsx"))
            .arg("--out")
            .arg(&out);
        c
    };
    let (code, _, stderr) = run(&mut again());
    assert_ne!(code, 0);
    assert!(stderr.contains("--force"), "{stderr}");
    let (code, _, stderr) = run(again().arg("--force"));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_file_that_is_no_spreadsheet_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db").display().to_string();
    let out = dir.path().join("out.toml");
    let not_xlsx = dir.path().join("notes.xlsx");
    std::fs::write(&not_xlsx, b"this is not a spreadsheet").unwrap();
    let (code, _, stderr) = run(pollwatch(&db)
        .args(["forms", "import-xlsform"])
        .arg(&not_xlsx)
        .arg("--out")
        .arg(&out));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("cannot read") && stderr.contains("notes.xlsx"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
}
