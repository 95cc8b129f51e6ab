#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;
use crate::forms::{Choice, Condition, Constraint, DEFAULT_FILES, Localized, QuestionKind, load};

/// The example XLSForm (forms/examples), as the sheets the binary reads.
const EXAMPLE: &str = include_str!("../../../../../forms/examples/observer-checklist.xlsform.tsv");

/// Sheets from the `## name` / tab-separated text of the example.
pub(crate) fn sheets_of(text: &str) -> Vec<Sheet> {
    let mut sheets: Vec<Sheet> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            sheets.push(Sheet {
                name: name.trim().into(),
                rows: Vec::new(),
            });
        } else if let Some(s) = sheets.last_mut() {
            s.rows.push(line.split('\t').map(str::to_owned).collect());
        }
    }
    sheets
}

fn sheet(name: &str, rows: &[&[&str]]) -> Sheet {
    Sheet {
        name: name.into(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|c| (*c).to_owned()).collect())
            .collect(),
    }
}

fn said(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one finding at `place` ("survey!H21"), which must contain `words`.
fn at<'a>(findings: &'a [Finding], place: &str, words: &str) -> &'a Finding {
    let here: Vec<&Finding> = findings
        .iter()
        .filter(|f| {
            let s = f.to_string();
            s.starts_with(&format!("{place} ")) || s.starts_with(&format!("{place}:"))
        })
        .collect();
    assert!(
        here.iter().any(|f| f.message.contains(words)),
        "nothing at {place} saying {words:?}; said:\n{}",
        said(findings)
    );
    here[0]
}

fn l(s: &str) -> Localized {
    Localized {
        en: s.into(),
        ru: s.into(),
        kk: s.into(),
    }
}

fn example() -> Imported {
    import(&sheets_of(EXAMPLE), "observer-checklist")
        .unwrap_or_else(|r| panic!("{}\n--\n{}", said(&r.errors), said(&r.warnings)))
}

#[test]
fn the_example_carries_over_what_pollwatch_has() {
    let im = example();
    let f = &im.form;
    assert_eq!(f.id, "kobo_checklist");
    assert_eq!(f.version, 2_024_051_501);
    assert_eq!(f.title.kk, "Observer checklist (Kobo)");
    let ids: Vec<&str> = f.questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "arrived",
            "admitted",
            "reason",
            "ballots",
            "observers",
            "independent",
            "turnout",
            "election_day",
            "state",
            "materials",
            "queue",
            "opened_at",
            "list_photo",
            "in_safe",
            "comment",
            "seals_intact",
            "late_minutes",
        ]
    );
    let q = |id: &str| f.question(id).unwrap();
    let when = |q: &str, values: &[&str]| {
        Some(Condition {
            question: q.into(),
            values: values.iter().map(|v| (*v).into()).collect(),
        })
    };

    assert_eq!(q("arrived").kind, QuestionKind::Time);
    assert!(q("arrived").required);
    assert_eq!(q("arrived").text.ru, "Время вашего прихода");
    assert_eq!(q("arrived").text.kk, "Келген уақытыңыз");
    // A list of exactly yes and no is pollwatch's yes/no.
    assert_eq!(q("admitted").kind, QuestionKind::YesNo);
    assert!(q("admitted").required, "TRUE, as a spreadsheet stores it");
    assert_eq!(
        q("reason").kind,
        QuestionKind::Text { max_length: 500 },
        "string-length(.) <= 500"
    );
    assert_eq!(q("reason").when, when("admitted", &["no"]));
    assert_eq!(
        q("ballots").kind,
        QuestionKind::Number { min: 0, max: 5000 }
    );
    assert_eq!(q("ballots").when, when("admitted", &["yes"]));
    assert_eq!(
        q("observers").when,
        when("admitted", &["yes"]),
        "selected()"
    );
    assert_eq!(q("independent").when, when("admitted", &["yes"]), "!= 'no'");
    assert_eq!(
        q("independent").constraints,
        [Constraint::AtMost("observers".into())]
    );
    assert_eq!(
        q("independent").kind,
        QuestionKind::Number {
            min: 0,
            max: 1_000_000
        }
    );
    assert_eq!(q("turnout").kind, QuestionKind::Text { max_length: 32 });
    assert!(!q("turnout").required);
    assert_eq!(
        q("election_day").kind,
        QuestionKind::Text { max_length: 10 }
    );
    let QuestionKind::SingleChoice { choices } = &q("state").kind else {
        panic!("{:?}", q("state").kind)
    };
    assert_eq!(
        choices[0],
        Choice {
            id: "open".into(),
            text: Localized {
                en: "Yes, on time".into(),
                ru: "Да, вовремя".into(),
                kk: "Иә, уақытында".into()
            }
        }
    );
    assert!(
        matches!(&q("materials").kind, QuestionKind::MultipleChoice { choices } if choices.len() == 3)
    );
    assert_eq!(q("materials").when, when("state", &["open", "late"]));
    assert_eq!(q("queue").when, when("state", &["open", "late"]), "not()");
    assert_eq!(q("queue").kind, QuestionKind::Number { min: 0, max: 999 });
    assert_eq!(q("opened_at").when, when("state", &["late"]));
    assert_eq!(
        q("opened_at").constraints,
        [Constraint::AtLeast("arrived".into())]
    );
    assert_eq!(q("list_photo").kind, QuestionKind::Photo);
    assert_eq!(
        q("late_minutes").kind,
        QuestionKind::Number { min: 1, max: 600 }
    );
    assert_eq!(q("late_minutes").when, when("state", &["late"]));
    assert!(!q("late_minutes").required, "required on a condition");
    // Untranslatable conditions: asked always, never required.
    for id in ["in_safe", "comment", "seals_intact"] {
        assert_eq!(q(id).when, None, "{id}");
        assert!(!q(id).required, "{id}");
    }
    // Kazakh left blank in the comment's row: taken from Russian.
    assert_eq!(q("comment").text.kk, "Что-нибудь ещё?");
}

#[test]
fn the_example_says_what_it_cannot_carry_over_and_where() {
    let w = &example().warnings;
    at(w, "survey!A2", "metadata");
    at(w, "survey!A3", "no sections");
    at(w, "survey!K3 (appearance)", "not carried over");
    at(w, "survey!F8 (hint::English (en))", "no hint");
    at(
        w,
        "survey!J8 (constraint_message::English (en))",
        "words its messages",
    );
    at(w, "survey!A11", "no decimal type");
    at(w, "survey!I11 (constraint)", "not checked");
    at(w, "survey!A12", "no date type");
    at(w, "survey!A18", "no notes");
    at(w, "survey!A19", "geopoint");
    at(w, "survey!A20", "calculate");
    at(w, "survey!H21 (relevant)", "pulldata(");
    at(w, "survey!A22", "no repeats");
    at(w, "survey!A23", "inside the repeat begun at survey!A22");
    at(
        w,
        "survey!E25 (label::Kazakh (kk))",
        "taken from Russian (ru)",
    );
    at(w, "survey!H25 (relevant)", "select_multiple");
    at(w, "survey!H26 (relevant)", "one earlier question");
    at(
        w,
        "survey!G27 (required)",
        "cannot translate \"${state} = 'late'\"",
    );
    at(w, "survey!I27 (constraint)", "regex(");
    at(w, "survey!I15 (constraint)", "no lower bound");
    // Columns said once, with their rows.
    at(w, "survey!M1 ($kuid)", "Kobo's bookkeeping");
    at(w, "survey!N1 (notes_for_trainers)", "rows 8, 13");
    at(
        w,
        "choices!F1 (label::French (fr))",
        "not a language pollwatch speaks",
    );
    at(w, "settings!E2 (style)", "no use for style");
    at(w, "settings!A2 (form_title)", "all three languages");
    assert!(
        !w.iter().any(|f| f.to_string().contains("survey!A4")),
        "a plain time question is carried over without a word:\n{}",
        said(w)
    );
}

#[test]
fn the_made_file_loads_with_the_shipped_forms() {
    let im = example();
    let mut files: Vec<(&str, &str)> = DEFAULT_FILES.to_vec();
    files.push(("forms/kobo_checklist.toml", &im.toml));
    let set = load(&files).unwrap_or_else(|e| panic!("{e:?}\n{}", im.toml));
    assert_eq!(set.checklist("kobo_checklist"), Some(&im.form));
    // The file says what was not carried over, and where each question came from.
    assert!(
        im.toml
            .contains("#   survey!H21 (relevant): cannot translate")
    );
    assert!(
        im.toml
            .contains("# survey row 8\n# hint: Count the ones in the safe too")
    );
}

#[test]
fn a_filled_checklist_is_checked_as_the_xlsform_meant() {
    let f = example().form;
    let answers = |v: serde_json::Value| match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    let ok = answers(serde_json::json!({
        "arrived": "06:40", "admitted": "yes", "ballots": 1200, "observers": 3,
        "independent": 2, "state": "late", "materials": ["ballots"], "queue": 12,
        "opened_at": "07:20", "late_minutes": 20, "seals_intact": "yes"
    }));
    assert_eq!(f.validate(&ok).map(|_| ()), Ok(()));
    let mut bad = ok.clone();
    bad.insert("independent".into(), 4.into()); // more than observers
    bad.insert("ballots".into(), 6000.into()); // over 5000
    bad.insert("reason".into(), "none".into()); // asked only when not admitted
    let errors = f.validate(&bad).unwrap_err();
    let wrong: Vec<&str> = errors.iter().map(|e| e.question.as_str()).collect();
    assert_eq!(wrong, ["reason", "ballots", "independent"], "{errors:?}");
}

#[test]
fn a_form_in_one_language_shows_it_in_all_three() {
    let survey = sheet(
        "survey",
        &[
            &["type", "name", "label", "required"],
            &["integer", "voters", "Сколько избирателей?", "yes"],
        ],
    );
    let im = import(std::slice::from_ref(&survey), "Явка 2024 (v2)").unwrap();
    let q = &im.form.questions[0];
    assert_eq!(q.text, l("Сколько избирателей?"));
    assert_eq!(im.form.id, "2024_v2", "made from the file's name");
    assert_eq!(im.form.title, l("2024_v2"));
    at(&im.warnings, "settings", "made from the file's name");
    for lang in ["English (en)", "Russian (ru)", "Kazakh (kk)"] {
        at(
            &im.warnings,
            "survey!C1 (label)",
            &format!("no label column in {lang}"),
        );
    }

    // With default_language, the plain column is that language, and the
    // others are taken from it.
    let survey = sheet(
        "survey",
        &[
            &["type", "name", "label", "label::English (en)"],
            &[
                "integer",
                "voters",
                "Сколько избирателей?",
                "How many voters?",
            ],
            &["integer", "seen", "Сколько видели?", ""],
        ],
    );
    let settings = sheet(
        "settings",
        &[&["form_id", "default_language"], &["count", "Russian (ru)"]],
    );
    let im = import(&[survey, settings], "x").unwrap();
    let q = &im.form.questions;
    assert_eq!(q[0].text.en, "How many voters?");
    assert_eq!(q[0].text.ru, "Сколько избирателей?");
    assert_eq!(q[0].text.kk, "Сколько избирателей?");
    assert_eq!(q[1].text.en, "Сколько видели?");
    at(
        &im.warnings,
        "survey!C1 (label)",
        "no label column in Kazakh (kk)",
    );
    at(
        &im.warnings,
        "survey!D3 (label::English (en))",
        "taken from Russian (ru)",
    );
}

#[test]
fn conditions_it_can_and_cannot_translate() {
    let form = |relevant: &str| {
        let survey = sheet(
            "survey",
            &[
                &["type", "name", "label", "relevant"],
                &["select_one s", "a", "A", ""],
                &["select_one s", "b", "B", ""],
                &["integer", "n", "N", ""],
                &["text", "t", "T", relevant],
            ],
        );
        let choices = sheet(
            "choices",
            &[
                &["list_name", "name", "label"],
                &["s", "x", "X"],
                &["s", "y", "Y"],
                &["s", "1", "One"],
            ],
        );
        let im = import(&[survey, choices], "f").unwrap();
        let t = im.form.question("t").unwrap().clone();
        let said: Vec<String> = im
            .warnings
            .iter()
            .filter(|f| f.row == Some(5) && f.column == Some(3))
            .map(|f| f.message.clone())
            .collect();
        (t.when.map(|c| (c.question, c.values)), said.join("; "))
    };
    let ok = |rel: &str, q: &str, vs: &[&str]| {
        let (when, said) = form(rel);
        assert_eq!(
            when,
            Some((q.to_owned(), vs.iter().map(|v| (*v).to_owned()).collect())),
            "{rel}: {said}"
        );
        assert_eq!(said, "", "{rel}");
    };
    ok("${a} = 'x'", "a", &["x"]);
    ok("'y' = ${a}", "a", &["y"]);
    ok("${a} = 1", "a", &["1"]);
    ok("${a} != 'x'", "a", &["y", "1"]);
    ok("${a} != ''", "a", &["x", "y", "1"]);
    ok("selected(${b}, 'y')", "b", &["y"]);
    ok("${a} = 'x' or ${a} = 'y'", "a", &["x", "y"]);
    ok("not(${a} = 'x') and ${a} != '1'", "a", &["y"]);
    ok(
        "(${b} = 'x' or ${b} = 'y') and not(selected(${b}, 'x'))",
        "b",
        &["y"],
    );
    let no = |rel: &str, words: &str| {
        let (when, said) = form(rel);
        assert_eq!(when, None, "{rel}");
        assert!(said.contains(words), "{rel}: {said}");
        assert!(
            said.contains("asked always and not required"),
            "{rel}: {said}"
        );
    };
    no("${a} = 'x' and ${b} = 'y'", "one earlier question");
    no("${n} > 3", "cannot translate \"${n} > 3\"");
    no("${n} = 3", "is an integer");
    no(
        "${a} = 'z'",
        "\"z\" is not a choice of ${a} (its choices: x, y, 1)",
    );
    no("${a} = ''", "left out");
    no("${t} = 'x'", "comes later");
    no("${zz} = 'x'", "no question ${zz}");
    no("${a} = 'x' and ${a} = 'y'", "never true");
    no("${a} = 'x", "cannot read");
    no("/data/a = 'x'", "cannot read");
    no("count-selected(${a}) > 1", "cannot translate");
}

#[test]
fn constraints_it_can_and_cannot_translate() {
    let form = |ty: &str, constraint: &str| {
        let survey = sheet(
            "survey",
            &[
                &["type", "name", "label", "constraint"],
                &["integer", "m", "M", ""],
                &["time", "t0", "T0", ""],
                &[ty, "q", "Q", constraint],
            ],
        );
        let im = import(&[survey], "f").unwrap();
        let q = im.form.question("q").unwrap().clone();
        let said: Vec<String> = im
            .warnings
            .iter()
            .filter(|f| f.row == Some(4) && f.column == Some(3))
            .map(|f| f.message.clone())
            .collect();
        (q, said.join("; "))
    };
    let number = |c: &str, min: i64, max: i64| {
        let (q, said) = form("integer", c);
        assert_eq!(q.kind, QuestionKind::Number { min, max }, "{c}: {said}");
        said
    };
    assert_eq!(number(". >= 0 and . <= 5000", 0, 5000), "");
    assert_eq!(number("0 <= . and 5000 >= .", 0, 5000), "");
    assert_eq!(number(". > -5 and . < 10", -4, 9), "");
    assert_eq!(number(". >= 2 and . >= 3 and . <= 7.0", 3, 7), "");
    assert!(number(". <= 10", 0, 10).contains("no lower bound"));
    assert!(number(". >= 10 and . <= 5", 0, 1_000_000).contains("allows no answer"));
    assert!(number(". != 3 and . >= 1", 1, 1_000_000).contains("\". != 3\""));
    assert!(number(". >= 1 or . <= 0", 0, 1_000_000).contains("cannot translate"));
    assert!(number(". <= 2.5 and . >= 0", 0, 1_000_000).contains("whole numbers"));
    let (q, said) = form("integer", ". >= 0 and . <= ${m}");
    assert_eq!(q.constraints, [Constraint::AtMost("m".into())], "{said}");
    let (q, said) = form("integer", ". < ${m} and . >= 0");
    assert!(
        q.constraints.is_empty() && said.contains("at most (<=)"),
        "{said}"
    );
    let (q, said) = form("integer", ". >= 0 and . <= ${t0}");
    assert!(
        q.constraints.is_empty() && said.contains("is a time"),
        "{said}"
    );
    let (q, said) = form("time", "${t0} <= .");
    assert_eq!(q.constraints, [Constraint::AtLeast("t0".into())], "{said}");
    let (q, said) = form("text", "string-length(.) < 201");
    assert_eq!(q.kind, QuestionKind::Text { max_length: 200 }, "{said}");
    let (_, said) = form("image", ". != ''");
    assert!(said.contains("cannot translate"), "{said}");
}

#[test]
fn refusals_name_the_place() {
    // No survey sheet.
    let r = import(&[sheet("Sheet1", &[&["a"]])], "f").unwrap_err();
    assert!(
        said(&r.errors).starts_with("survey: no such sheet"),
        "{}",
        said(&r.errors)
    );
    assert!(said(&r.errors).contains("Sheet1"));
    // No type column.
    let r = import(&[sheet("survey", &[&["name", "label"], &["a", "A"]])], "f").unwrap_err();
    assert_eq!(
        r.errors[0].to_string().split(':').next(),
        Some("survey!A1 (name)")
    );
    assert!(r.errors[0].message.contains("no type column"));
    // Nothing that can be carried over.
    let r = import(
        &[sheet(
            "survey",
            &[
                &["type", "name", "label"],
                &["geopoint", "g", "G"],
                &["note", "n", "N"],
            ],
        )],
        "f",
    )
    .unwrap_err();
    at(
        &r.errors,
        "survey!A1 (type)",
        "no question can be carried over",
    );
    at(&r.warnings, "survey!A2", "geopoint");
    // A form_id that makes no id, and a list that is not there.
    let r = import(
        &[
            sheet(
                "survey",
                &[&["type", "name", "label"], &["select_one nope", "a", "A"]],
            ),
            sheet("settings", &[&["form_id"], &["форма"]]),
        ],
        "f",
    )
    .unwrap_err();
    at(&r.errors, "settings!A2 (form_id)", "makes no id");
    at(&r.warnings, "survey!A2", "no choices sheet");
}

#[test]
fn names_that_are_not_ids_are_made_into_ids() {
    let long = "were_the_ballot_boxes_shown_empty_and_sealed_before_voting";
    let survey = sheet(
        "survey",
        &[
            &["type", "name", "label", "relevant"],
            &["select_one yn", long, "Sealed?", ""],
            &[
                "text",
                "why.not",
                "Why not?",
                &format!("${{{long}}} = 'no'"),
            ],
            &["text", "why_not", "Why not, again?", ""],
        ],
    );
    let choices = sheet(
        "choices",
        &[
            &["list_name", "name", "label"],
            &["yn", "yes", "Yes"],
            &["yn", "no", "No"],
        ],
    );
    let im = import(&[survey, choices], "f").unwrap();
    let ids: Vec<&str> = im.form.questions.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "were_the_ballot_boxes_shown_empty_and_se",
            "why_not",
            "why_not_2"
        ]
    );
    assert_eq!(
        im.form.questions[1]
            .when
            .as_ref()
            .map(|c| c.question.as_str()),
        Some("were_the_ballot_boxes_shown_empty_and_se")
    );
    at(
        &im.warnings,
        "survey!B3 (name)",
        "the question's id is \"why_not\"",
    );
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        2 => prop::sample::select(vec![
            "type", "name", "label", "label::Russian (ru)", "label::English (en)", "label::kk",
            "hint", "required", "relevant", "constraint", "list_name", "form_id", "version",
            "form_title", "default_language", "integer", "decimal", "text", "select_one l",
            "select_multiple l", "select_one yn", "time", "date", "note", "image", "geopoint",
            "begin_group", "end_group", "begin_repeat", "end_repeat", "calculate", "yes", "no",
            "a", "b", "l", "yn", "${a} = 'yes'", ". >= 0 and . <= 10", "selected(${b}, 'a')",
            "not(${a} = 'no') or ${a} = 'yes'", ". <= ${a}", "string-length(.) < 5", "((",
            "${", "'", "Russian (ru)", "$kuid", "1", "0", "-", "_", "x.y",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>(),
        1 => "[a-z_${}.()'= <>0-9]{0,30}",
    ]
}

fn sheet_strategy() -> impl Strategy<Value = Sheet> {
    (
        prop::sample::select(vec!["survey", "choices", "settings", "Survey "]),
        prop::collection::vec(prop::collection::vec(cell(), 0..8), 0..12),
    )
        .prop_map(|(name, rows)| Sheet {
            name: name.into(),
            rows,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn any_cells_give_a_checklist_or_refusals_that_say_where(
        sheets in prop::collection::vec(sheet_strategy(), 0..4),
        fallback in prop_oneof![Just("form".to_owned()), any::<String>()],
    ) {
        let present = |name: &str| sheets.iter().any(|s| s.name.trim().eq_ignore_ascii_case(name));
        let (errors, warnings) = match import(&sheets, &fallback) {
            Ok(im) => {
                prop_assert!(!im.form.questions.is_empty());
                (Vec::new(), im.warnings)
            }
            Err(r) => {
                prop_assert!(!r.errors.is_empty(), "a refusal gives its reasons");
                (r.errors, r.warnings)
            }
        };
        for f in errors.iter().chain(&warnings) {
            prop_assert!(!f.message.is_empty());
            prop_assert!(!f.message.contains("does not load"), "{f}");
            // A finding names a cell, unless it is about a sheet that is
            // not there (or not read at all).
            let whole_sheet = !present(&f.sheet) || !["survey", "choices", "settings"]
                .contains(&f.sheet.trim().to_lowercase().as_str());
            if !whole_sheet {
                prop_assert!(f.row.is_some() && f.column.is_some(), "{f}");
            }
        }
    }

    #[test]
    fn expressions_never_panic(src in prop_oneof![any::<String>(), "[${}a-z.()'\"= <>!0-9,-]{0,60}"]) {
        if let Ok(e) = super::expr::parse(&src) {
            let _ = super::expr::quote(&src, &e);
        }
    }
}

#[test]
fn column_letters_count_like_a_spreadsheet() {
    let l: Vec<String> = [0, 25, 26, 27, 51, 52, 701, 702].map(column_letters).into();
    assert_eq!(l, ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
}

#[test]
#[ignore = "prints the example's import, to read"]
fn show_the_example() {
    let im = example();
    println!("{}\n{}", said(&im.warnings), im.toml);
}
