#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn list(errors: &[impl ToString]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// The shipped files.

#[test]
fn shipped_forms_load() {
    let set = load(DEFAULT_FILES).unwrap_or_else(|e| panic!("{}", list(&e)));
    assert_eq!(set, defaults());
    assert_eq!(
        set.checklists.keys().collect::<Vec<_>>(),
        ["closing", "opening", "voting"]
    );
}

#[test]
fn shipped_checklists_have_the_spec_questions() {
    let set = defaults();
    for (form, prefix, n) in [
        ("opening", "O", 11),
        ("voting", "V", 11),
        ("closing", "C", 15),
    ] {
        let f = set.checklist(form).unwrap();
        assert_eq!(f.version, 1);
        for i in 1..=n {
            let id = format!("{prefix}{i}");
            assert!(f.question(&id).is_some(), "{form} has no {id}");
        }
    }
    let opening = set.checklist("opening").unwrap();
    let q = |id: &str| opening.question(id).unwrap();
    assert_eq!(q("O1").kind, QuestionKind::Time);
    assert_eq!(q("O2").problem, Some(ProblemRule::OneOf(vec!["no".into()])));
    assert_eq!(
        q("O3").when,
        Some(Condition {
            question: "O2".into(),
            values: vec!["no".into()]
        })
    );
    assert!(!q("O3").required);
    assert_eq!(q("O8").kind, QuestionKind::Number { min: 0, max: 200 });
    assert_eq!(q("O9").constraints, [Constraint::AtMost("O8".into())]);
    assert_eq!(
        q("O11").problem,
        Some(ProblemRule::OneOf(vec!["yes".into()]))
    );

    let voting = set.checklist("voting").unwrap();
    assert_eq!(
        voting.question("V10").unwrap().problem,
        Some(ProblemRule::MissingAny)
    );
    let closing = set.checklist("closing").unwrap();
    let c = |id: &str| closing.question(id).unwrap();
    assert_eq!(c("C7").kind, QuestionKind::Number { min: 0, max: 100 });
    assert_eq!(c("C7").problem, Some(ProblemRule::Above(3)));
    assert_eq!(
        c("C5").problem,
        Some(ProblemRule::OneOf(vec!["no".into(), "some".into()]))
    );
    assert_eq!(
        c("C10").problem,
        Some(ProblemRule::OneOf(vec!["refused".into()]))
    );
}

#[test]
fn shipped_incident_taxonomy_is_the_spec() {
    use Severity::*;
    let expected = [
        ("OBS-REMOVED", Critical),
        ("OBS-DETAINED", Critical),
        ("OBS-HARASSED", Serious),
        ("OBS-OBSTRUCTED", Serious),
        ("OBS-BADGERED", Minor),
        ("COUNT-HIDDEN", Critical),
        ("COUNT-IRREGULAR", Serious),
        ("PROTOCOL-NOT-POSTED", Critical),
        ("PROTOCOL-ALTERED", Critical),
        ("TURNOUT-INFLATED", Serious),
        ("STUFFING", Critical),
        ("CAROUSEL", Serious),
        ("COERCION", Serious),
        ("VOTER-TURNED-AWAY", Minor),
        ("SECRECY", Serious),
        ("ACCESS", Minor),
        ("UNAUTHORISED", Serious),
        ("CAMPAIGNING", Minor),
        ("OTHER", Minor),
    ];
    let taxonomy = defaults().incidents;
    let got: Vec<_> = taxonomy
        .categories
        .iter()
        .map(|c| (c.code.as_str(), c.severity))
        .collect();
    assert_eq!(got, expected);
    for c in &taxonomy.categories {
        if c.code != "OTHER" {
            assert!(!c.details.is_empty(), "{} asks no details", c.code);
        }
    }
    let ids: Vec<_> = taxonomy.fields.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "occurred_at",
            "station",
            "involved",
            "description",
            "witnesses",
            "photos"
        ]
    );
    let involved = taxonomy.fields.iter().find(|f| f.id == "involved").unwrap();
    let QuestionKind::SingleChoice { choices } = &involved.kind else {
        panic!("involved is {:?}", involved.kind);
    };
    let roles: Vec<_> = choices.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        roles,
        [
            "commission_chair",
            "commission_member",
            "police",
            "local_official",
            "government_observer",
            "party_observer",
            "voter",
            "unknown"
        ]
    );
}

#[test]
fn shipped_protocol_is_the_spec() {
    let p = defaults().protocol;
    let lines: Vec<_> = p.lines.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(
        lines,
        ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9"]
    );
    assert_eq!(p.candidates.len(), 5);
    assert!(p.against_all.is_some());
    let hard: Vec<_> = p
        .relations
        .iter()
        .filter(|r| r.hard)
        .map(|r| r.rule.as_str())
        .collect();
    assert_eq!(
        hard,
        [
            "L2 = L3 + L4 + L5",
            "L6 + L7 = L8 + L9",
            "L9 = CANDIDATES + A",
            "L3 + L4 <= L1"
        ]
    );
    assert_eq!(p.relations.iter().filter(|r| !r.hard).count(), 4);
    let statuses: Vec<_> = p.statuses.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "posted",
            "not_posted",
            "copy_refused",
            "copy_given",
            "removed",
            "told_stolen",
            "not_allowed_to_stay"
        ]
    );
    assert!(!p.status("posted").unwrap().problem);
    assert!(p.status("told_stolen").unwrap().problem);
}

/// Every question is translated, not copied: the Russian and Kazakh texts
/// differ, and the Kazakh ones are written in the Kazakh alphabet.
#[test]
fn shipped_questions_are_translated() {
    let set = defaults();
    let mut questions: Vec<&Question> =
        set.checklists.values().flat_map(|f| &f.questions).collect();
    questions.extend(&set.incidents.fields);
    questions.extend(set.incidents.categories.iter().flat_map(|c| &c.details));
    let mut kazakh_letters = 0;
    for q in &questions {
        assert_ne!(q.text.ru, q.text.kk, "{} is not translated", q.id);
        assert_ne!(q.text.en, q.text.ru, "{} is not translated", q.id);
        if q.text.kk.chars().any(|c| "әғқңөұүһіӘҒҚҢӨҰҮҺІ".contains(c)) {
            kazakh_letters += 1;
        }
        assert_eq!(q.text.get(Language::Kk), q.text.kk);
    }
    assert!(kazakh_letters * 2 > questions.len());
}

// ---------------------------------------------------------------------------
// Load errors.

const T: &str = r#"{ en = "x", ru = "х", kk = "х" }"#;

fn checklist(questions: &str) -> String {
    format!("kind = \"checklist\"\nid = \"t\"\nversion = 1\ntitle = {T}\n\n{questions}")
}

fn q(id: &str, kind: &str, extra: &str) -> String {
    format!("[[questions]]\nid = \"{id}\"\ntype = \"{kind}\"\ntext = {T}\n{extra}\n")
}

fn kind_of(text: &str) -> Option<String> {
    toml::from_str::<Head>(text).ok().and_then(|h| h.kind)
}

/// Loads `text` as "t.toml" with the shipped files of the other kinds.
fn load_errors(text: &str) -> Vec<FormError> {
    let kind = kind_of(text);
    let mut files: Vec<(&str, &str)> = DEFAULT_FILES
        .iter()
        .filter(|(_, t)| kind_of(t) != kind)
        .copied()
        .collect();
    files.push(("t.toml", text));
    match load(&files) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e,
    }
}

#[track_caller]
fn check_error(text: &str, question: Option<&str>, reason: &str) {
    let errors = load_errors(text);
    assert!(
        errors.iter().any(|e| e.file == "t.toml"
            && e.question.as_deref() == question
            && e.reason.contains(reason)),
        "expected t.toml: {question:?}: {reason:?}, got:\n{}",
        list(&errors)
    );
}

#[test]
fn a_valid_test_checklist_loads() {
    let text = checklist(&(q("Q1", "yes_no", "") + &q("Q2", "text", "")));
    let mut files = DEFAULT_FILES[3..5].to_vec();
    files.push(("t.toml", &text));
    files.push(("alerts.toml", MINIMAL_ALERTS));
    let set = load(&files).unwrap_or_else(|e| panic!("{}", list(&e)));
    let form = set.checklist("t").unwrap();
    assert!(form.questions[0].required);
    assert!(!form.questions[1].required);
}

#[test]
fn load_errors_name_file_and_question() {
    let cases: &[(String, Option<&str>, &str)] = &[
        (
            checklist(&(q("O1", "yes_no", "") + &q("O1", "time", ""))),
            Some("O1"),
            "duplicate question id",
        ),
        (
            checklist(&q(
                "O2",
                "text",
                "when = { question = \"O9\", equals = \"no\" }",
            )),
            Some("O2"),
            "when: unknown question \"O9\"",
        ),
        (
            checklist(
                &(q(
                    "O1",
                    "text",
                    "when = { question = \"O2\", equals = \"no\" }",
                ) + &q("O2", "yes_no", "")),
            ),
            Some("O1"),
            "when: refers to O2, which is not an earlier question",
        ),
        (
            checklist(
                &(q("O1", "time", "")
                    + &q(
                        "O2",
                        "text",
                        "when = { question = \"O1\", equals = \"no\" }",
                    )),
            ),
            Some("O2"),
            "when: can test a yes_no or single_choice question, and O1 is time",
        ),
        (
            checklist(
                &(q("O1", "yes_no", "")
                    + &q(
                        "O2",
                        "text",
                        "when = { question = \"O1\", in = [\"maybe\"] }",
                    )),
            ),
            Some("O2"),
            "when: \"maybe\" is not an answer of O1",
        ),
        (
            checklist(&q("O6", "number", "min = 5\nmax = 1")),
            Some("O6"),
            "min 5 is greater than max 1",
        ),
        (
            checklist(&q("C2", "single_choice", "choices = []")),
            Some("C2"),
            "no choices",
        ),
        (
            checklist(&q("C2", "single_choice", "")),
            Some("C2"),
            "no choices",
        ),
        (
            checklist(&q(
                "C2",
                "multiple_choice",
                &format!("choices = [{{ id = \"a\", text = {T} }}, {{ id = \"a\", text = {T} }}]"),
            )),
            Some("C2"),
            "duplicate choice \"a\"",
        ),
        (
            checklist(
                "[[questions]]\nid = \"O1\"\ntype = \"time\"\ntext = { en = \"Time\", ru = \"Время\", kk = \"\" }\n",
            ),
            Some("O1"),
            "text: missing translation kk",
        ),
        (
            checklist(
                "[[questions]]\nid = \"O1\"\ntype = \"time\"\ntext = { en = \"Time\", ru = \"Время\" }\n",
            ),
            Some("O1"),
            "text: missing translation kk",
        ),
        (
            checklist(&q(
                "C2",
                "single_choice",
                "choices = [{ id = \"a\", text = { en = \"A\", ru = \"А\" } }]",
            )),
            Some("C2"),
            "choice a: missing translation kk",
        ),
        (
            checklist(&q("O2", "yes_no", "problem = { above = 3 }")),
            Some("O2"),
            "problem: above applies to number questions, not yes_no",
        ),
        (
            checklist(&q("V10", "number", "problem = { missing_any = true }")),
            Some("V10"),
            "problem: missing_any applies to multiple_choice questions, not number",
        ),
        (
            checklist(&q("O2", "yes_no", "problem = { equals = \"maybe\" }")),
            Some("O2"),
            "problem: \"maybe\" is not an answer of this question",
        ),
        (
            checklist(&q(
                "O2",
                "yes_no",
                "problem = { equals = \"no\", above = 1 }",
            )),
            Some("O2"),
            "problem: give exactly one of",
        ),
        (
            checklist(&q("O9", "number", "constraints = [{ at_most = \"O8\" }]")),
            Some("O9"),
            "constraint at_most: unknown question \"O8\"",
        ),
        (
            checklist(
                &(q("O8", "yes_no", "")
                    + &q("O9", "number", "constraints = [{ at_most = \"O8\" }]")),
            ),
            Some("O9"),
            "constraint at_most: compares with O8, which is yes_no, not number",
        ),
        (
            checklist(&q("O1", "date", "")),
            Some("O1"),
            "unknown type \"date\"",
        ),
        (
            checklist(&q("V9", "yes_no_na", "")),
            Some("V9"),
            "use single_choice",
        ),
        (
            checklist(&q("O2", "yes_no", "choices = []")),
            Some("O2"),
            "choices apply to choice questions, not yes_no",
        ),
        (
            checklist(&q("O2", "yes_no", "max = 3")),
            Some("O2"),
            "min and max apply to number questions",
        ),
        (
            checklist(&q("O3", "text", "max_length = 0")),
            Some("O3"),
            "max_length 0 must be between 1",
        ),
        (
            checklist(&q("O 3", "text", "")),
            Some("O 3"),
            "the id must be a short word",
        ),
        // Mistakes outside any question.
        (
            checklist(&q("O1", "time", "requried = true")),
            None,
            "line 10: unknown field `requried`",
        ),
        (
            "kind = \"checklist\"\nid = \"t\"\nversion = = 1\n".into(),
            None,
            "line 3:",
        ),
        (
            format!(
                "kind = \"checklist\"\nid = \"t\"\ntitle = {T}\n\n{}",
                q("O1", "time", "")
            ),
            None,
            "missing `version`",
        ),
        (
            format!(
                "kind = \"checklist\"\nid = \"t\"\nversion = 0\ntitle = {T}\n\n{}",
                q("O1", "time", "")
            ),
            None,
            "version 0 must be a positive integer",
        ),
        (
            format!(
                "kind = \"checklist\"\nversion = 1\nid = \"t\"\n\n{}",
                q("O1", "time", "")
            ),
            None,
            "title: missing",
        ),
        (
            format!(
                "kind = \"checklist\"\nversion = 1\ntitle = {T}\n\n{}",
                q("O1", "time", "")
            ),
            None,
            "missing checklist `id`",
        ),
        ("version = 1\n".into(), None, "missing top-level key `kind`"),
        (
            "kind = \"ballot\"\nversion = 1\n".into(),
            None,
            "unknown kind \"ballot\"",
        ),
    ];
    for (text, question, reason) in cases {
        check_error(text, *question, reason);
    }
}

#[test]
fn incident_load_errors() {
    let shipped = DEFAULT_FILES[3].1;
    let replace = |from: &str, to: &str| {
        assert!(shipped.contains(from), "{from}");
        shipped.replacen(from, to, 1)
    };
    check_error(
        &replace("severity = \"critical\"", "severity = \"grave\""),
        None,
        "category OBS-REMOVED: unknown severity \"grave\"",
    );
    check_error(
        &replace("code = \"OBS-DETAINED\"", "code = \"OBS-REMOVED\""),
        None,
        "category OBS-REMOVED: duplicate code",
    );
    check_error(
        &replace("code = \"OBS-DETAINED\"", "code = \"obs detained\""),
        None,
        "the code must be capital letters",
    );
    check_error(
        &replace(
            "id = \"time_in\"\ntype = \"time\"",
            "id = \"time_in\"\ntype = \"clock\"",
        ),
        Some("OBS-DETAINED.time_in"),
        "unknown type \"clock\"",
    );
    check_error(
        &replace("id = \"station\"", "id = \"details\""),
        Some("details"),
        "reserved",
    );
    check_error(
        &replace("kk = \"Байқаушыны полиция ұстады\"", "kk = \" \""),
        None,
        "category OBS-DETAINED: name: missing translation kk",
    );
}

#[test]
fn protocol_load_errors() {
    let shipped = DEFAULT_FILES[4].1;
    let replace = |from: &str, to: &str| {
        assert!(shipped.contains(from), "{from}");
        shipped.replacen(from, to, 1)
    };
    let cases = [
        (
            "L2 = L3 + L4 + L5",
            "L2 = L3 + L4 +",
            "relation \"L2 = L3 + L4 +\": ends too early",
        ),
        (
            "L2 = L3 + L4 + L5",
            "L2 = L3 + L4 + L10",
            "relation \"L2 = L3 + L4 + L10\": unknown line L10",
        ),
        (
            "L2 = L3 + L4 + L5",
            "L2 = L3 * L4",
            "relation \"L2 = L3 * L4\": multiplies two figures",
        ),
        (
            "L2 = L3 + L4 + L5",
            "L2 < L3",
            "relation \"L2 < L3\": `<` is not supported",
        ),
        (
            "L2 = L3 + L4 + L5",
            "L2 L3",
            "relation \"L2 L3\": expected =, <=, >= or ~, found L3",
        ),
        (
            "L2 = L3 + L4 + L5",
            "L2 = 1.0000001 * L3",
            "not a number with at most 6 decimal places",
        ),
        ("L2 = L3 + L4 + L5", "L2 = (L3 + L4", "a `(` is not closed"),
        ("L2 = L3 + L4 + L5", "1 = 2", "compares two numbers"),
        (
            "tolerance = 0.005",
            "tolerance = 2.0",
            "tolerance 2 must be between 0 and 1",
        ),
        ("tolerance = 0.005\n", "", "`~` needs a tolerance"),
        (
            "against_all = true",
            "against_all = false",
            "relation \"L9 = CANDIDATES + A\": uses A but",
        ),
        ("id = \"L3\"", "id = \"L2\"", "line L2: duplicate id"),
        ("id = \"L3\"", "id = \"A\"", "line A: the id is reserved"),
        ("id = \"C1\"", "id = \"L1\"", "candidate L1: duplicate id"),
        (
            "id = \"copy_given\"",
            "id = \"posted\"",
            "status posted: duplicate id",
        ),
        (
            "rule = \"L6 + L7 = L8 + L9\"\nhard = true\n",
            "rule = \"L6 + L7 = L8 + L9\"\n",
            "missing `hard`",
        ),
    ];
    for (from, to, reason) in cases {
        check_error(&replace(from, to), None, reason);
    }
}

#[test]
fn a_candidate_name_may_be_one_for_all_languages() {
    let shipped = DEFAULT_FILES[4].1;
    let from = r#"name = { en = "Candidate 1", ru = "Кандидат 1", kk = "1-кандидат" }"#;
    assert!(shipped.contains(from));
    let text = shipped.replace(from, r#"name = "Айбек Сарсенов""#);
    let p = ProtocolTemplate::parse("t.toml", &text).unwrap_or_else(|e| panic!("{}", list(&e)));
    assert_eq!(p.candidates[0].name.get(Language::En), "Айбек Сарсенов");
    assert_eq!(p.candidates[0].name.kk, "Айбек Сарсенов");
    check_error(
        &shipped.replace(from, "name = \"\""),
        None,
        "candidate C1: name: missing translation en",
    );
    check_error(&shipped.replace(from, "name = 1"), None, "line ");
}

#[test]
fn load_needs_one_incidents_and_one_protocol_file() {
    let errors = load(&DEFAULT_FILES[..3]).unwrap_err();
    assert_eq!(
        list(&errors),
        "(forms): no incidents file (one with kind = \"incidents\")\n\
         (forms): no protocol file (one with kind = \"protocol\")\n\
         (forms): no alerts file (one with kind = \"alerts\")"
    );

    let mut files = DEFAULT_FILES.to_vec();
    files.push(("again.toml", DEFAULT_FILES[0].1));
    files.push(("protocol2.toml", DEFAULT_FILES[4].1));
    let errors = load(&files).unwrap_err();
    assert_eq!(
        list(&errors),
        "again.toml: checklist id \"opening\" is already used by forms/opening.toml\n\
         protocol2.toml: a second protocol file: forms/protocol.toml is one already"
    );
}

#[test]
fn form_error_display() {
    let e = FormError {
        file: "forms/opening.toml".into(),
        question: Some("O3".into()),
        reason: "when: unknown question \"O9\"".into(),
    };
    assert_eq!(
        e.to_string(),
        "forms/opening.toml: question O3: when: unknown question \"O9\""
    );
    let e = FormError {
        question: None,
        ..e
    };
    assert_eq!(
        e.to_string(),
        "forms/opening.toml: when: unknown question \"O9\""
    );
}

// ---------------------------------------------------------------------------
// Answers.

/// Checks a filled form: `Ok(problems)` or `Err((question, part of the
/// reason))` for each error, in order.
#[track_caller]
fn check_answers(form: &str, answers: Value, expected: Result<&[&str], &[(&str, &str)]>) {
    let set = defaults();
    let form = set.checklist(form).unwrap();
    let got = form.validate(&obj(answers));
    match (&got, expected) {
        (Ok(v), Ok(problems)) => assert_eq!(v.problems, problems),
        (Err(errors), Err(expected)) => {
            assert_eq!(errors.len(), expected.len(), "errors:\n{}", list(errors));
            for (e, (q, reason)) in errors.iter().zip(expected) {
                assert_eq!(&e.question, q, "errors:\n{}", list(errors));
                assert!(e.reason.contains(reason), "errors:\n{}", list(errors));
            }
        }
        _ => panic!("expected {expected:?}, got {got:?}"),
    }
}

fn opening(changes: Value) -> Value {
    let mut base = obj(json!({
        "O1": "06:45", "O2": "yes", "O4": "yes", "O5": "yes", "O6": 1212, "O7": "yes",
        "O8": 5, "O9": 2, "O10": "yes", "O11": "no",
    }));
    for (k, v) in obj(changes) {
        if v == json!("-") {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
    Value::Object(base)
}

#[test]
fn valid_opening_and_its_problems() {
    check_answers("opening", opening(json!({})), Ok(&[]));
    check_answers(
        "opening",
        opening(json!({"O4": "no", "O11": "yes", "O10": "no"})),
        Ok(&["O4", "O10", "O11"]),
    );
    // Not admitted: the inside questions are not asked.
    check_answers(
        "opening",
        json!({"O1": "06:50", "O2": "no", "O3": "The chair said the list was full", "O4": "yes"}),
        Ok(&["O2"]),
    );
    // Null is no answer; an optional text may be left out.
    check_answers(
        "opening",
        json!({"O1": "06:50", "O2": "no", "O3": null, "O4": "yes", "O5": null}),
        Ok(&["O2"]),
    );
}

#[test]
fn answer_errors() {
    let cases: &[(Value, &[(&str, &str)])] = &[
        (
            opening(json!({"O2": true})),
            &[("O2", "expected \"yes\" or \"no\", got true")],
        ),
        (
            opening(json!({"O6": "1212"})),
            &[("O6", "expected a whole number, got \"1212\"")],
        ),
        (
            opening(json!({"O6": 12.5})),
            &[("O6", "expected a whole number, got 12.5")],
        ),
        (
            opening(json!({"O8": 500})),
            &[("O8", "500 is out of range: must be between 0 and 200")],
        ),
        (
            opening(json!({"O8": -1})),
            &[("O8", "-1 is out of range: must be between 0 and 200")],
        ),
        (
            opening(json!({"O6": u64::MAX})),
            &[(
                "O6",
                "18446744073709551615 is out of range: must be between 0 and 10000",
            )],
        ),
        (
            opening(json!({"O4": "-"})),
            &[("O4", "missing required answer")],
        ),
        (
            opening(json!({"O3": "Nothing"})),
            &[("O3", "answered, but asked only when O2 is \"no\"")],
        ),
        (
            opening(json!({"O12": "yes"})),
            &[("O12", "unknown question")],
        ),
        (
            opening(json!({"O1": "24:00"})),
            &[(
                "O1",
                "expected a time \"HH:MM\" (00:00 to 23:59), got \"24:00\"",
            )],
        ),
        (opening(json!({"O1": "7:05"})), &[("O1", "expected a time")]),
        (
            opening(json!({"O1": "07:60"})),
            &[("O1", "expected a time")],
        ),
        (opening(json!({"O1": 705})), &[("O1", "expected a time")]),
        (
            opening(json!({"O8": 3, "O9": 5})),
            &[("O9", "must be at most the answer to O8 (3), is 5")],
        ),
        // A broken answer is reported once, not again through what depends on it.
        (
            opening(json!({"O2": "maybe", "O3": "x"})),
            &[("O2", "expected \"yes\" or \"no\"")],
        ),
        (
            opening(json!({"O2": "no", "O3": "x".repeat(1001)})),
            &[
                ("O3", "text is 1001 characters long, at most 1000 allowed"),
                ("O5", "answered, but asked only when O2 is \"yes\""),
                ("O6", "answered"),
                ("O7", "answered"),
                ("O8", "answered"),
                ("O9", "answered"),
                ("O10", "answered"),
                ("O11", "answered"),
            ],
        ),
    ];
    for (answers, errors) in cases {
        check_answers("opening", answers.clone(), Err(errors));
    }
}

#[test]
fn choices_and_conditions_in_voting_and_closing() {
    let voting = |changes: Value| {
        let mut base = obj(json!({
            "V1": 120, "V2": null, "V3": "no", "V5": "no", "V6": "no", "V7": "yes", "V8": "no",
            "V9": "not_held", "V10": ["ramp", "magnifier", "hearing_aid"], "V11": "no",
        }));
        base.extend(obj(changes));
        Value::Object(base)
    };
    check_answers("voting", voting(json!({})), Ok(&[]));
    check_answers(
        "voting",
        voting(
            json!({"V3": "yes", "V4": 12, "V4R": ["not_on_list", "moved_station"], "V10": ["ramp"]}),
        ),
        Ok(&["V3", "V10"]),
    );
    check_answers("voting", voting(json!({"V10": []})), Ok(&["V10"]));
    check_answers(
        "voting",
        voting(json!({"V3": "yes"})),
        Err(&[
            ("V4", "missing required answer"),
            ("V4R", "missing required answer"),
        ]),
    );
    check_answers(
        "voting",
        voting(json!({"V9": "sometimes", "V10": ["ramp", "ramp"]})),
        Err(&[
            (
                "V9",
                "unknown choice \"sometimes\": expected one of yes, no, not_held",
            ),
            ("V10", "choice \"ramp\" is listed twice"),
        ]),
    );
    check_answers(
        "voting",
        voting(json!({"V10": "ramp", "V4R": ["lift"]})),
        Err(&[
            ("V4R", "answered, but asked only when V3 is \"yes\""),
            ("V10", "expected a list of choice ids, got \"ramp\""),
        ]),
    );
    check_answers(
        "voting",
        voting(json!({"V3": "yes", "V4": 2, "V4R": ["lift"]})),
        Err(&[(
            "V4R",
            "unknown choice \"lift\": expected any of not_on_list",
        )]),
    );

    let closing = json!({
        "C1": "no", "C2": "asked_to_leave", "C3": "yes", "C4": "yes", "C5": "some", "C6": "no",
        "C7": 6, "C8": "no", "C9": "unknown", "C10": "refused", "C11": "no", "C15": "not_fair",
    });
    check_answers(
        "closing",
        closing.clone(),
        Ok(&["C1", "C5", "C6", "C7", "C8", "C10", "C11"]),
    );
    let mut no_reason = obj(closing);
    no_reason.remove("C2");
    no_reason.insert("C14".into(), json!("23:10"));
    check_answers(
        "closing",
        Value::Object(no_reason),
        Err(&[
            ("C2", "missing required answer"),
            ("C14", "answered, but asked only when C1 is \"yes\""),
        ]),
    );
}

// ---------------------------------------------------------------------------
// Incidents.

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[track_caller]
fn check_incident(incident: Value, expected: &[(&str, &str)]) {
    let taxonomy = defaults().incidents;
    match (taxonomy.validate(&obj(incident)), expected) {
        (Ok(()), []) => {}
        (Ok(()), _) => panic!("valid, expected {expected:?}"),
        (Err(errors), _) => {
            let got: Vec<_> = errors.iter().map(|e| e.question.as_str()).collect();
            let want: Vec<_> = expected.iter().map(|(q, _)| *q).collect();
            assert_eq!(got, want, "errors:\n{}", list(&errors));
            for (e, (_, reason)) in errors.iter().zip(expected) {
                assert!(e.reason.contains(reason), "errors:\n{}", list(&errors));
            }
        }
    }
}

#[test]
fn incidents_validate() {
    let detained = json!({
        "category": "OBS-DETAINED",
        "occurred_at": "21:40",
        "involved": "police",
        "description": "Two officers took me out of the count and drove me away",
        "witnesses": 3,
        "details": {"where_taken": "District police station", "time_in": "21:40", "lawyer_reached": "no"},
        "photos": [HASH],
    });
    check_incident(detained.clone(), &[]);
    let taxonomy = defaults().incidents;
    assert_eq!(
        taxonomy.severity(&obj(detained.clone())),
        Some(Severity::Critical)
    );
    let mut minor = obj(detained.clone());
    minor.insert("severity".into(), json!("minor"));
    check_incident(Value::Object(minor.clone()), &[]);
    assert_eq!(taxonomy.severity(&minor), Some(Severity::Minor));
    check_incident(
        json!({"category": "OTHER", "description": "A fight outside", "photos": HASH}),
        &[],
    );

    let cases: &[(Value, &[(&str, &str)])] = &[
        (
            json!({"description": "x"}),
            &[("category", "missing required answer")],
        ),
        (
            json!({"category": "OBS-ARRESTED", "description": "x", "details": {"a": 1}}),
            &[("category", "unknown category \"OBS-ARRESTED\"")],
        ),
        (
            json!({"category": "OTHER", "description": "x", "severity": "grave"}),
            &[(
                "severity",
                "expected \"critical\", \"serious\" or \"minor\"",
            )],
        ),
        (
            json!({"category": "OTHER"}),
            &[("description", "missing required answer")],
        ),
        (
            json!({"category": "OTHER", "description": "x", "involved": "bus organiser"}),
            &[("involved", "unknown choice \"bus organiser\"")],
        ),
        (
            json!({"category": "OTHER", "description": "x", "witnesses": 1001}),
            &[("witnesses", "must be between 0 and 1000")],
        ),
        (
            json!({"category": "OTHER", "description": "x", "photos": ["abc"]}),
            &[("photos", "SHA-256")],
        ),
        (
            json!({"category": "OTHER", "description": "x", "photos": HASH.to_uppercase()}),
            &[("photos", "SHA-256")],
        ),
        (
            json!({"category": "OTHER", "description": "x", "where": "here"}),
            &[("where", "unknown question")],
        ),
        (
            json!({"category": "OBS-DETAINED", "description": "x",
                   "details": {"time_in": "9pm", "lawyer": "no"}}),
            &[
                ("details.lawyer", "unknown question"),
                ("details.time_in", "expected a time"),
            ],
        ),
        (
            json!({"category": "OBS-DETAINED", "description": "x", "details": ["where_taken"]}),
            &[("details", "expected an object")],
        ),
    ];
    for (incident, errors) in cases {
        check_incident(incident.clone(), errors);
    }
}

// ---------------------------------------------------------------------------
// Protocol.

fn figures(lines: [u64; 9], candidates: [u64; 5], against_all: u64) -> ProtocolFigures {
    ProtocolFigures {
        lines: (1..)
            .zip(lines)
            .map(|(i, v)| (format!("L{i}"), v))
            .collect(),
        candidates: (1..)
            .zip(candidates)
            .map(|(i, v)| (format!("C{i}"), v))
            .collect(),
        against_all: Some(against_all),
    }
}

/// L1 1000 voters; L2 1010 ballots = 700 + 20 + 290; 718 in the boxes =
/// 18 invalid + 700 valid = 690 for candidates + 10 against all.
const GOOD: [u64; 9] = [1000, 1010, 700, 20, 290, 698, 20, 18, 700];
const VOTES: [u64; 5] = [400, 150, 80, 40, 20];

fn failed(f: &[RelationFailure]) -> Vec<(&str, f64, f64)> {
    f.iter()
        .map(|f| (f.rule.as_str(), f.left, f.right))
        .collect()
}

#[test]
fn a_consistent_protocol_passes() {
    let check = defaults().protocol.check(&figures(GOOD, VOTES, 10));
    assert_eq!(check, ProtocolCheck::default());
    assert!(check.is_consistent());
}

#[test]
fn hard_failures_carry_both_sides() {
    let mut lines = GOOD;
    lines[1] = 1014; // L2 ≠ L3 + L4 + L5
    let check = defaults().protocol.check(&figures(lines, VOTES, 12));
    assert_eq!(
        failed(&check.hard_failures),
        [
            ("L2 = L3 + L4 + L5", 1014.0, 1010.0),
            ("L9 = CANDIDATES + A", 700.0, 702.0)
        ]
    );
    assert!(!check.is_consistent());
    assert_eq!(
        check.hard_failures[0].text,
        defaults().protocol.relations[0].text
    );
    assert!(check.soft_warnings.is_empty());
}

#[test]
fn soft_warnings() {
    // 40 more ballots in the boxes than issued, 200 home voters of 1000,
    // and 1100 ballots for 1000 voters.
    let lines = [1000, 1100, 700, 200, 200, 900, 40, 40, 900];
    let check = defaults()
        .protocol
        .check(&figures(lines, [800, 50, 20, 10, 10], 10));
    assert!(check.hard_failures.is_empty(), "{:?}", check.hard_failures);
    assert_eq!(
        failed(&check.soft_warnings),
        [
            ("L6 + L7 <= L3 + L4", 940.0, 900.0),
            ("L4 <= 0.15 * L1", 200.0, 150.0),
            ("L2 ~ 1.01 * L1", 1100.0, 1010.0)
        ]
    );
    // Issued but not found: 30 missing.
    let mut lines = GOOD;
    lines[5] = 670;
    lines[8] = 672;
    let check = defaults()
        .protocol
        .check(&figures(lines, [372, 150, 80, 40, 20], 10));
    assert_eq!(
        failed(&check.soft_warnings),
        [("L3 + L4 - (L6 + L7) <= 10", 30.0, 10.0)]
    );
}

#[test]
fn missing_figures_skip_their_relations() {
    let mut f = figures(GOOD, VOTES, 10);
    f.lines.remove("L5");
    f.candidates.remove("C3");
    let check = defaults().protocol.check(&f);
    assert_eq!(check.skipped, ["L2 = L3 + L4 + L5", "L9 = CANDIDATES + A"]);
    assert!(check.hard_failures.is_empty() && check.soft_warnings.is_empty());
    let check = defaults().protocol.check(&ProtocolFigures::default());
    assert_eq!(check.skipped.len(), 8);
}

/// Loads the shipped protocol with other relations.
fn protocol_with(relations: &str) -> ProtocolTemplate {
    let shipped = DEFAULT_FILES[4].1;
    let head = &shipped[..shipped.find("[[relations]]").unwrap()];
    let statuses = &shipped[shipped.find("[[statuses]]").unwrap()..];
    let text = format!("{head}{relations}\n{statuses}");
    ProtocolTemplate::parse("t.toml", &text).unwrap_or_else(|e| panic!("{}", list(&e)))
}

fn relation(rule: &str, extra: &str) -> String {
    format!("[[relations]]\nrule = \"{rule}\"\nhard = false\n{extra}\ntext = {T}\n")
}

/// Whether `rule` warns on the good figures with some lines changed.
fn warns(rule: &str, extra: &str, changes: &[(&str, u64)]) -> bool {
    let p = protocol_with(&relation(rule, extra));
    let mut f = figures(GOOD, VOTES, 10);
    for (line, v) in changes {
        f.lines.insert((*line).to_owned(), *v);
    }
    let check = p.check(&f);
    assert!(check.skipped.is_empty());
    !check.soft_warnings.is_empty()
}

#[test]
fn relations_are_exact_decimals() {
    // 0.57 × 100 is 56.99999999999999 in floating point; here it is 57.
    assert!(!warns("L4 <= 0.57 * L1", "", &[("L1", 100), ("L4", 57)]));
    assert!(warns("L4 <= 0.57 * L1", "", &[("L1", 100), ("L4", 58)]));
    // 1.01 × 1000 = 1010, give or take 0.5 % of it (5.05).
    let about = |l2| warns("L2 ~ 1.01 * L1", "tolerance = 0.005", &[("L2", l2)]);
    assert_eq!(
        [1004, 1005, 1010, 1015, 1016].map(about),
        [true, false, false, false, true]
    );
    assert!(!warns("L2 ~ 0 * L1", "tolerance = 0", &[("L2", 0)]));
    assert!(warns("L2 ~ 0 * L1", "tolerance = 0", &[("L2", 1)]));
    // Unicode operators as in protocol.md, parentheses, negation, constants.
    let missing = "L3 + L4 − (L6 + L7) ≤ 10";
    assert!(!warns(missing, "", &[]));
    assert!(warns(missing, "", &[("L6", 600)]));
    let negative = "L8 - L9 >= -L1 - 3";
    assert!(!warns(negative, "", &[]));
    assert!(warns(negative, "", &[("L1", 100)]));
    assert!(!warns("L3 == L4 × 35", "", &[]));
    assert!(!warns("L1 = CANDIDATES + A + 300", "", &[]));
    assert!(warns("L1 = C1 + 2 * (C2 + A) - 1", "", &[]));
    assert!(!warns("L1 = C1 + 2 * (C2 + A) - 1 + 281", "", &[]));
}

#[test]
fn rule_parser() {
    for ok in [
        "L1 = L2",
        "L1 <= 2 * L2 + 3",
        "L1 >= (L2 - L3) * 0.5",
        "-L1 ~ -(L2)",
        "L1-L2 = 0",
        "L1 ≈ C1 + CANDIDATES + A",
    ] {
        assert_eq!(protocol::parse_rule_for_test(ok), Ok(()), "{ok}");
    }
    for (bad, reason) in [
        ("", "ends too early"),
        ("L1", "no comparison"),
        ("L1 = L2 = L3", "unexpected = after the right side"),
        ("L1 = L4", "unknown line L4"),
        ("L1 = 0.0000001 * L2", "at most 6 decimal places"),
        ("L1 = 0.0001 * 0.001 * L2", "more than 6 decimal places"),
        ("L1 = 99999999999999 * L2", "not a number"),
        ("L1 = L2 / 2", "unexpected character '/'"),
        ("L1 = 1.2.3", "not a number"),
        (
            "L1 = (((((((((((((((((((((L2)))))))))))))))))))))",
            "nested too deep",
        ),
    ] {
        let got = protocol::parse_rule_for_test(bad).unwrap_err();
        assert!(got.contains(reason), "{bad}: {got}");
    }
}

#[test]
fn huge_figures_do_not_overflow() {
    let p = defaults().protocol;
    let check = p.check(&figures([u64::MAX; 9], [u64::MAX; 5], u64::MAX));
    // L2 ≠ 3 × max, L9 ≠ 6 × max, 2 × max > max.
    assert_eq!(check.hard_failures.len(), 3);
    // Beyond i128: the comparison falls back to floating point.
    let p = protocol_with(&relation("L2 ~ 1000000000000 * L1", "tolerance = 1"));
    let check = p.check(&figures([u64::MAX; 9], VOTES, 0));
    assert!(check.soft_warnings.is_empty());
}

// ---------------------------------------------------------------------------
// Properties: nothing panics.

/// Loaded once for the property tests.
static SHIPPED: std::sync::LazyLock<FormSet> = std::sync::LazyLock::new(defaults);

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-300i64..300).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        prop::sample::select(vec![
            "yes",
            "no",
            "some",
            "not_held",
            "ramp",
            "refused",
            "00:00",
            "23:59",
            "24:00",
            "07:5",
            HASH,
            "OTHER",
            "OBS-DETAINED",
            "critical",
            "police",
            "",
        ])
        .prop_map(Value::from),
    ];
    // The closure runs for every value generated: build the keys once.
    let key = arb_key();
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Question ids of the shipped forms, now and then any string.
fn arb_key() -> BoxedStrategy<String> {
    let set = &*SHIPPED;
    let mut ids: Vec<String> = set
        .checklists
        .values()
        .flat_map(|f| f.questions.iter().map(|q| q.id.clone()))
        .collect();
    ids.extend(set.incidents.fields.iter().map(|f| f.id.clone()));
    ids.extend(
        set.incidents
            .categories
            .iter()
            .flat_map(|c| c.details.iter().map(|q| q.id.clone())),
    );
    ids.extend(RESERVED_INCIDENT_KEYS.map(String::from));
    prop_oneof![4 => prop::sample::select(ids), 1 => any::<String>()].boxed()
}

fn arb_answers() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(arb_key(), arb_json(), 0..16).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #[test]
    fn load_never_panics_on_text(
        kind in prop::sample::select(vec!["checklist", "incidents", "protocol", "other"]),
        text in prop_oneof![any::<String>(), "[\\[\\]{}=\"., a-z0-9_\n]{0,200}"],
    ) {
        let text = format!("kind = \"{kind}\"\n{text}");
        let _ = load(&[("t.toml", &text)]);
    }

    #[test]
    fn load_never_panics_on_mutated_files(
        file in 0..DEFAULT_FILES.len(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in prop_oneof![any::<String>(), "[\\[\\]{}=\"., a-zA-Z0-9_<>~*+()-]{0,20}"],
    ) {
        let text = DEFAULT_FILES[file].1;
        let chars: Vec<char> = text.chars().collect();
        let start = at.index(chars.len());
        let end = (start + cut).min(chars.len());
        let mutated: String = chars[..start]
            .iter()
            .chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter())
            .collect();
        let mut files = DEFAULT_FILES.to_vec();
        files[file].1 = &mutated;
        let _ = load(&files);
    }

    #[test]
    fn validate_never_panics(answers in arb_answers()) {
        let set = &*SHIPPED;
        for form in set.checklists.values() {
            let _ = form.validate(&answers);
        }
        let _ = set.incidents.validate(&answers);
        let _ = set.incidents.severity(&answers);
    }

    #[test]
    fn check_never_panics(
        lines in prop::collection::btree_map(
            prop_oneof![prop::sample::select(vec!["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9"]).prop_map(String::from), any::<String>()],
            prop_oneof![any::<u64>(), 0u64..2000, Just(u64::MAX)],
            0..12,
        ),
        candidates in prop::collection::btree_map(
            prop::sample::select(vec!["C1", "C2", "C3", "C4", "C5", "C6"]).prop_map(String::from),
            prop_oneof![any::<u64>(), 0u64..2000, Just(u64::MAX)],
            0..6,
        ),
        against_all in prop::option::of(any::<u64>()),
    ) {
        let f = ProtocolFigures { lines, candidates, against_all };
        let check = defaults().protocol.check(&f);
        prop_assert_eq!(
            check.hard_failures.len() + check.soft_warnings.len() <= 8,
            true
        );
    }

    #[test]
    fn rule_parser_never_panics(
        rule in prop_oneof![any::<String>(), "[LCA0-9 .+*()=<>~≤≥≈−×-]{0,40}"],
    ) {
        let _ = protocol::parse_rule_for_test(&rule);
    }
}

/// The relations are served as parsed, so that the app evaluates each as
/// the server does (it once parsed the text again, and counted "against
/// all" twice in `L9 = CANDIDATES + A`).
#[test]
fn relations_are_served_parsed() {
    let forms = defaults();
    let served = serde_json::to_value(&forms.protocol).unwrap();
    let relation = |rule: &str| {
        served["relations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == rule)
            .unwrap_or_else(|| panic!("no relation {rule}"))
            .clone()
    };
    let r = relation("L9 = CANDIDATES + A");
    assert_eq!(r["comparison"], "equal");
    assert_eq!(
        r["left"],
        serde_json::json!({"terms": {"L9": 1e6}, "constant": 0.0})
    );
    assert_eq!(
        r["right"],
        serde_json::json!({"terms": {"CANDIDATES": 1e6, "A": 1e6}, "constant": 0.0})
    );
    let r = relation("L3 + L4 - (L6 + L7) <= 10");
    assert_eq!(r["comparison"], "at_most");
    assert_eq!(
        r["left"]["terms"],
        serde_json::json!({"L3": 1e6, "L4": 1e6, "L6": -1e6, "L7": -1e6})
    );
    assert_eq!(r["right"]["constant"], 10e6);
    let r = relation("L2 ~ 1.01 * L1");
    assert_eq!(r["comparison"]["about"]["tolerance"], 0.005);
    assert_eq!(r["right"]["terms"]["L1"], 1.01e6);
}

/// Alert rules that name no checklist, for tests that bring their own.
const MINIMAL_ALERTS: &str = r#"
kind = "alerts"
version = 1
hours = { opens = "08:00", closes = "20:00" }
[[rules]]
id = "observer_in_danger"
severity = "critical"
title = { en = "Alarm", ru = "Тревога", kk = "Дабыл" }
when = { alarm = true }
"#;

fn alerts_errors(rules: &str) -> Vec<FormError> {
    let text = format!(
        "kind = \"alerts\"\nversion = 1\nhours = {{ opens = \"08:00\", closes = \"20:00\" }}\n{rules}"
    );
    let mut files = DEFAULT_FILES[..5].to_vec();
    files.push(("a.toml", &text));
    load(&files).err().unwrap_or_default()
}

#[test]
fn shipped_alert_rules_cover_what_the_issue_asks() {
    let set = defaults();
    let ids: Vec<&str> = set.alerts.rules.iter().map(|r| r.id.as_str()).collect();
    for id in [
        "observer_in_danger",
        "observer_removed",
        "observer_detained",
        "observer_silent",
        "count_not_shown",
        "protocol_not_posted",
        "protocol_impossible",
        "turnout_gap",
        "critical_incident",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let gap = set.alerts.rule("turnout_gap").unwrap();
    assert_eq!(
        gap.when,
        Trigger::TurnoutGap {
            voters: 100,
            share: 0.10
        }
    );
    assert_eq!(
        set.alerts.hours,
        OpeningHours {
            opens: 8 * 60,
            closes: 20 * 60
        }
    );
    assert!(set.alerts.rule("observer_in_danger").unwrap().opens_case);
}

#[test]
fn alert_rules_are_checked_against_the_forms() {
    let title = r#"title = { en = "x", ru = "х", kk = "х" }"#;
    let cases = [
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"critical\"\n{title}\nwhen = {{ incident = [\"NOPE\"] }}"
            ),
            "no incident category \"NOPE\"",
        ),
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"critical\"\n{title}\nwhen = {{ checklist = \"closing\", question = \"C99\", in = [\"no\"] }}"
            ),
            "has no question \"C99\"",
        ),
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"critical\"\n{title}\nwhen = {{ checklist = \"closing\", question = \"C5\", in = [\"perhaps\"] }}"
            ),
            "\"perhaps\" is not an answer of C5",
        ),
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"critical\"\n{title}\nwhen = {{ protocol_status = [\"eaten\"] }}"
            ),
            "no protocol status \"eaten\"",
        ),
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"grave\"\n{title}\nwhen = {{ alarm = true }}"
            ),
            "severity",
        ),
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"minor\"\n{title}\nwhen = {{ alarm = true, silent_minutes = 5 }}"
            ),
            "exactly one",
        ),
        (
            "[[rules]]\nid = \"a\"\nseverity = \"minor\"\ntitle = { en = \"x\" }\nwhen = { alarm = true }"
                .to_string(),
            "missing translation ru",
        ),
        (
            format!(
                "[[rules]]\nid = \"a\"\nseverity = \"minor\"\n{title}\nwhen = {{ turnout_gap = {{ voters = 1, share = -1.0 }} }}"
            ),
            "share",
        ),
    ];
    for (text, reason) in cases {
        let errors = alerts_errors(&text);
        assert!(
            errors
                .iter()
                .any(|e| e.file == "a.toml" && e.reason.contains(reason)),
            "expected {reason:?} for\n{text}\ngot:\n{}",
            list(&errors)
        );
    }
}
