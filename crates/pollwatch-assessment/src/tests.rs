#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use pollwatch_domain::forms::{self, FormSet, QuestionKind, Severity};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn forms() -> FormSet {
    forms::defaults()
}

fn rules() -> Rules {
    defaults()
}

fn rep(seq: i64, review: Review) -> Report {
    Report {
        seq,
        client_id: format!("00000000-0000-4000-8000-{seq:012}"),
        review,
    }
}

/// A closing checklist with no problem answer, then `changes`.
fn closing(seq: i64, review: Review, changes: &[(&str, &str)]) -> ChecklistReport {
    let mut answers: BTreeMap<String, Value> = [
        ("C1", "yes"),
        ("C3", "yes"),
        ("C4", "yes"),
        ("C5", "yes"),
        ("C6", "yes"),
        ("C8", "yes"),
        ("C9", "no"),
        ("C10", "not_requested"),
        ("C11", "yes"),
        ("C12", "yes"),
        ("C13", "yes"),
        ("C14", "23:10"),
        ("C15", "fair"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), json!(v)))
    .collect();
    answers.insert("C7".into(), json!(1));
    for (k, v) in changes {
        answers.insert((*k).to_owned(), json!(v));
    }
    ChecklistReport {
        report: rep(seq, review),
        form: "closing".into(),
        answers,
    }
}

fn checklist(seq: i64, form: &str, answers: &[(&str, &str)]) -> ChecklistReport {
    ChecklistReport {
        report: rep(seq, Review::None),
        form: form.into(),
        answers: answers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
    }
}

fn incident(seq: i64, category: &str, severity: Severity) -> IncidentReport {
    IncidentReport {
        report: rep(seq, Review::None),
        category: category.into(),
        severity,
    }
}

fn station(f: impl FnOnce(&mut StationInput)) -> StationInput {
    let mut s = StationInput {
        id: 1,
        number: "101".into(),
        district: "Almaly".into(),
        ..Default::default()
    };
    f(&mut s);
    s
}

/// The station's rating and, per criterion not met, the rule ids and the
/// log positions of the evidence; `unknown` the criteria with no evidence.
/// A criterion not met: its id and (rule, evidence's log position) pairs.
type NotMet<'a> = (&'a str, &'a [(&'a str, Option<i64>)]);
type Traced = Vec<(String, Vec<(String, Option<i64>)>)>;

fn check(s: StationInput, rating: Rating, not_met: &[NotMet<'_>]) {
    let r = rules();
    let a = assess_station(&r, &s);
    let got: Traced = a
        .not_met()
        .map(|c| {
            (
                c.criterion.clone(),
                c.failures
                    .iter()
                    .map(|f| (f.rule.clone(), f.evidence.seq))
                    .collect(),
            )
        })
        .collect();
    let want: Traced = not_met
        .iter()
        .map(|(c, fs)| {
            (
                (*c).to_owned(),
                fs.iter().map(|(r, s)| ((*r).to_owned(), *s)).collect(),
            )
        })
        .collect();
    assert_eq!(got, want, "criteria not met");
    assert_eq!(a.rating, rating, "rating of {a:#?}");
}

#[test]
fn shipped_rules_load() {
    let r = rules();
    assert!(r.criteria.len() >= 8);
    assert_eq!(r.evidence.checklists, vec!["closing".to_owned()]);
    // Every rule names something the forms have (the loader refuses the
    // rest); here, that the example of the brief is there.
    let (c, rule) = r.rule("ballots_not_shown").unwrap();
    assert_eq!(c.id, "count_transparency");
    assert!(rule.when.names_question("closing", "C5"));
}

#[test]
fn finding_kinds_are_the_comparisons() {
    let theirs: Vec<&str> = pollwatch_analysis::compare::FindingKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(theirs, FINDING_KINDS.to_vec());
}

#[test]
fn stations() {
    use Rating::*;
    // Nothing reported: not rated, nothing failed.
    check(station(|_| {}), NotRated, &[]);
    // A clean closing checklist: fair.
    check(
        station(|s| s.checklists.push(closing(5, Review::None, &[]))),
        Fair,
        &[],
    );
    // The brief's example: C5 = no fails count transparency, a serious
    // criterion: not fair.
    check(
        station(|s| s.checklists.push(closing(5, Review::None, &[("C5", "no")]))),
        NotFair,
        &[("count_transparency", &[("ballots_not_shown", Some(5))])],
    );
    // Only a minor criterion not met: partially fair.
    check(
        station(|s| {
            s.checklists.push(closing(5, Review::None, &[]));
            s.checklists.push(checklist(3, "voting", &[("V9", "no")]));
        }),
        PartiallyFair,
        &[("station_order", &[("home_voting_unobserved", Some(3))])],
    );
    // A minor problem without the closing checklist: not enough to rate.
    check(
        station(|s| s.checklists.push(checklist(3, "voting", &[("V9", "no")]))),
        NotRated,
        &[("station_order", &[("home_voting_unobserved", Some(3))])],
    );
    // A serious one is enough by itself, without the closing checklist.
    check(
        station(|s| {
            s.incidents
                .push(incident(7, "COUNT-HIDDEN", Severity::Critical))
        }),
        NotFair,
        &[("count_transparency", &[("count_hidden", Some(7))])],
    );
    // A disputed report is not evidence.
    check(
        station(|s| {
            s.checklists
                .push(closing(5, Review::Disputed, &[("C5", "no")]))
        }),
        NotRated,
        &[],
    );
    check(
        station(|s| {
            s.checklists
                .push(closing(5, Review::Disputed, &[("C5", "no")]));
            s.checklists.push(closing(4, Review::None, &[]));
        }),
        Fair,
        &[],
    );
    let mut disputed = station(|s| {
        s.incidents
            .push(incident(7, "COUNT-HIDDEN", Severity::Critical))
    });
    disputed.incidents[0].report.review = Review::Disputed;
    check(disputed, NotRated, &[]);
    // Of two closing checklists, the one received last counts.
    check(
        station(|s| {
            s.checklists.push(closing(9, Review::None, &[]));
            s.checklists.push(closing(5, Review::None, &[("C5", "no")]));
        }),
        Fair,
        &[],
    );
    // Several rules of one criterion, each with its evidence.
    check(
        station(|s| {
            s.checklists
                .push(closing(5, Review::None, &[("C5", "no"), ("C6", "no")]));
            s.incidents
                .push(incident(6, "COUNT-HIDDEN", Severity::Critical));
        }),
        NotFair,
        &[(
            "count_transparency",
            &[
                ("ballots_not_shown", Some(5)),
                ("marks_not_visible", Some(5)),
                ("count_hidden", Some(6)),
            ],
        )],
    );
    // Severity: "OTHER" fails station order only when serious or graver.
    check(
        station(|s| {
            s.checklists.push(closing(5, Review::None, &[]));
            s.incidents.push(incident(6, "OTHER", Severity::Minor));
        }),
        Fair,
        &[],
    );
    check(
        station(|s| {
            s.checklists.push(closing(5, Review::None, &[]));
            s.incidents.push(incident(6, "OTHER", Severity::Critical));
        }),
        PartiallyFair,
        &[("station_order", &[("other_grave", Some(6))])],
    );
    // The protocol's status, an alert, the comparison.
    check(
        station(|s| {
            s.checklists.push(closing(5, Review::None, &[]));
            s.protocols.push(ProtocolReport {
                report: rep(8, Review::None),
                status: "told_stolen".into(),
            });
        }),
        NotFair,
        &[("protocol_public", &[("protocol_not_posted", Some(8))])],
    );
    check(
        station(|s| {
            s.alerts.push(AlertReport {
                report: rep(4, Review::None),
                alert: "observer_removed-4".into(),
                rule: "observer_removed".into(),
            });
            s.checklists
                .push(closing(5, Review::None, &[("C1", "no"), ("C2", "removed")]));
        }),
        NotFair,
        &[(
            "observer_access",
            &[
                ("removed_or_detained_answer", Some(5)),
                ("removed_or_detained_alert", Some(4)),
            ],
        )],
    );
    check(
        station(|s| {
            s.checklists.push(closing(5, Review::None, &[]));
            s.findings = Some(vec![FindingReport {
                kind: "published_differs_from_copy".into(),
                field: "votes:C1".into(),
                message: "published 412, the copy 312".into(),
            }]);
        }),
        NotFair,
        &[("result_matches", &[("published_differs", None)])],
    );
}

#[test]
fn evidence_says_what_and_whether_verified() {
    let r = rules();
    let s = station(|s| {
        s.checklists
            .push(closing(5, Review::Verified, &[("C5", "no")]));
        s.checklists
            .push(closing(3, Review::Disputed, &[("C6", "no")]));
    });
    let a = assess_station(&r, &s);
    let c = a.not_met().next().unwrap();
    let f = &c.failures[0];
    assert!(f.evidence.verified);
    assert_eq!(
        f.evidence.what,
        What::Answer {
            form: "closing".into(),
            question: "C5".into(),
            answer: "no".into()
        }
    );
    assert_eq!(a.not_counted.len(), 1);
    assert_eq!(a.not_counted[0].seq, 3);
    assert_eq!(a.not_counted[0].reason, "disputed");
    // Met needs an answer, the protocol or the comparison to read: no
    // incident reported is no evidence that none happened.
    let state_of = |a: &StationAssessment, id: &str| {
        a.criteria.iter().find(|c| c.criterion == id).unwrap().state
    };
    assert_eq!(state_of(&a, "count_integrity"), State::Met);
    assert_eq!(
        state_of(&a, "free_vote"),
        State::Unknown,
        "no voting checklist"
    );
    assert_eq!(
        state_of(&a, "turnout_honest"),
        State::Unknown,
        "not compared"
    );
    let only_incident = assess_station(
        &r,
        &station(|s| {
            s.incidents
                .push(incident(7, "OBS-BADGERED", Severity::Minor))
        }),
    );
    assert_eq!(
        state_of(&only_incident, "count_transparency"),
        State::Unknown
    );
    assert_eq!(
        state_of(&only_incident, "observer_treatment"),
        State::NotMet
    );
    let nothing = assess_station(&r, &station(|_| {}));
    assert!(nothing.criteria.iter().all(|c| c.state == State::Unknown));
    let protocol_only = assess_station(
        &r,
        &station(|s| {
            s.protocols.push(ProtocolReport {
                report: rep(8, Review::None),
                status: "posted".into(),
            })
        }),
    );
    let state = |id: &str| {
        protocol_only
            .criteria
            .iter()
            .find(|c| c.criterion == id)
            .unwrap()
            .state
    };
    assert_eq!(state("protocol_public"), State::Met);
    assert_eq!(state("count_transparency"), State::Unknown);
    // The JSON the report site reads.
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["rating"], "not_fair");
    assert_eq!(
        v["criteria"][1]["failures"][0]["evidence"]["type"],
        "answer"
    );
    assert_eq!(
        v["criteria"][1]["failures"][0]["evidence"]["question"],
        "C5"
    );
}

#[test]
fn areas_follow_the_shares() {
    let r = rules();
    let counts = |fair, partially_fair, not_fair, not_rated| Counts {
        fair,
        partially_fair,
        not_fair,
        not_rated,
    };
    let d = &r.district; // min 3, not fair ≥ 25 %, fair ≥ 90 %
    assert_eq!(area_rating(d, &counts(2, 0, 0, 50)), Rating::NotRated);
    assert_eq!(area_rating(d, &counts(0, 0, 0, 0)), Rating::NotRated);
    assert_eq!(area_rating(d, &counts(9, 0, 1, 0)), Rating::Fair);
    assert_eq!(area_rating(d, &counts(8, 1, 1, 0)), Rating::PartiallyFair);
    assert_eq!(area_rating(d, &counts(3, 0, 1, 9)), Rating::NotFair);
    assert_eq!(area_rating(d, &counts(4, 0, 1, 9)), Rating::PartiallyFair);

    let stations = vec![
        station(|s| s.checklists.push(closing(1, Review::None, &[]))),
        station(|s| {
            s.district = "Bostandyk".into();
            s.checklists.push(closing(2, Review::None, &[("C5", "no")]))
        }),
        station(|_| {}),
    ];
    let a = assess(&r, &stations);
    assert_eq!(a.overall.counts, counts(1, 0, 1, 1));
    assert_eq!(a.overall.rating, Rating::NotRated, "fewer than 10 rated");
    let names: Vec<&str> = a.districts.iter().map(|d| d.district.as_str()).collect();
    assert_eq!(names, ["Almaly", "Bostandyk"]);
    assert_eq!(a.districts[0].area.counts, counts(1, 0, 0, 1));
}

/// A rules file with one change, and what the loader says of it.
fn refused(from: &str, to: &str) -> Vec<String> {
    // The first line that is not a comment (the file's comments show
    // examples of rules).
    let mut done = false;
    let text: String = DEFAULT_FILE
        .1
        .lines()
        .map(|line| {
            if !done && !line.trim_start().starts_with('#') && line.contains(from) {
                done = true;
                line.replacen(from, to, 1)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(done, "{from:?} is not in the file");
    parse("assessment.toml", &text, &forms())
        .expect_err(to)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn unknown_names_are_refused_with_file_rule_and_field() {
    let cases = [
        (
            r#"checklist = "closing", question = "C5""#,
            r#"checklist = "closng", question = "C5""#,
            r#"assessment.toml: rule ballots_not_shown: when.checklist: unknown checklist "closng""#,
        ),
        (
            r#"question = "C5", equals"#,
            r#"question = "C55", equals"#,
            r#"assessment.toml: rule ballots_not_shown: when.question: checklist closing has no question "C55""#,
        ),
        (
            r#"question = "C5", equals = "no""#,
            r#"question = "C5", equals = "sometimes""#,
            r#"assessment.toml: rule ballots_not_shown: when.equals: closing C5 has no answer "sometimes" (it has yes, no, some)"#,
        ),
        (
            r#"in = ["removed", "detained"]"#,
            r#"in = ["removed", "arrested"]"#,
            r#"assessment.toml: rule removed_or_detained_answer: when.in: closing C2 has no answer "arrested""#,
        ),
        (
            r#"question = "C6", equals = "no""#,
            r#"question = "C7", equals = "no""#,
            "assessment.toml: rule marks_not_visible: when.question: closing C7 is not a yes/no or single-choice question",
        ),
        (
            r#"incident = ["COUNT-HIDDEN"]"#,
            r#"incident = ["COUNT-HIDEN"]"#,
            r#"assessment.toml: rule count_hidden: when.incident: unknown incident category "COUNT-HIDEN""#,
        ),
        (
            r#"severity = "serious" }"#,
            r#"severity = "grave" }"#,
            r#"assessment.toml: rule other_grave: when.severity: "grave": expected critical, serious or minor"#,
        ),
        (
            r#"alert = ["observer_removed","#,
            r#"alert = ["observer_expelled","#,
            r#"assessment.toml: rule removed_or_detained_alert: when.alert: unknown alert rule "observer_expelled""#,
        ),
        (
            r#"protocol_status = ["not_allowed_to_stay"]"#,
            r#"protocol_status = ["not_allowed"]"#,
            r#"assessment.toml: rule not_allowed_to_stay: when.protocol_status: unknown protocol status "not_allowed""#,
        ),
        (
            r#"finding = ["not_published"]"#,
            r#"finding = ["unpublished"]"#,
            "assessment.toml: rule not_published: when.finding: unknown comparison finding \"unpublished\"",
        ),
        (
            r#"id = "marks_not_visible""#,
            r#"id = "ballots_not_shown""#,
            "assessment.toml: rule ballots_not_shown: id: used by another rule",
        ),
        (
            r#"checklists = ["closing"]"#,
            r#"checklists = ["counting"]"#,
            r#"assessment.toml: [evidence]: checklists: unknown checklist "counting""#,
        ),
        (
            r#"weight = "minor""#,
            r#"weight = "small""#,
            "assessment.toml: line ",
        ),
        (
            r#"kk = "Саналған нәтиже жарияланды" "#,
            r#"kk = " " "#,
            "assessment.toml: criterion result_matches: title: missing translation kk",
        ),
        (
            "fair = 0.90",
            "fair = 1.5",
            "assessment.toml: [district]: fair: 1.5 must be a share above 0 and at most 1",
        ),
        (
            r#"when = { incident = ["STUFFING", "CAROUSEL"] }"#,
            r#"when = { incident = ["STUFFING"], finding = ["not_published"] }"#,
            "assessment.toml: rule stuffing: when: needs exactly one of",
        ),
    ];
    for (from, to, want) in cases {
        let got = refused(from, to);
        assert!(
            got.iter().any(|e| e.starts_with(want)),
            "{to}: want {want:?}, got {got:#?}"
        );
    }
}

#[test]
fn the_forms_folder_may_hold_the_rules() {
    let mut files = forms::DEFAULT_FILES.to_vec();
    files.push(DEFAULT_FILE);
    assert!(forms::load(&files).is_ok());
}

/// The yes/no and single-choice questions of the shipped checklists, with
/// their answers.
fn choice_questions() -> Vec<(String, String, Vec<String>)> {
    let f = forms();
    let mut out = Vec::new();
    for form in f.checklists.values() {
        for q in &form.questions {
            let answers: Vec<String> = match &q.kind {
                QuestionKind::YesNo => vec!["yes".into(), "no".into()],
                QuestionKind::SingleChoice { choices } => {
                    choices.iter().map(|c| c.id.clone()).collect()
                }
                _ => continue,
            };
            out.push((form.id.clone(), q.id.clone(), answers));
        }
    }
    out
}

const CATEGORIES: [(&str, Severity); 6] = [
    ("COUNT-HIDDEN", Severity::Critical),
    ("OTHER", Severity::Minor),
    ("OTHER", Severity::Serious),
    ("OBS-BADGERED", Severity::Minor),
    ("COERCION", Severity::Serious),
    ("ACCESS", Severity::Minor),
];

fn arb_station() -> impl Strategy<Value = (StationInput, usize, usize)> {
    let qs = choice_questions();
    let n = qs.len();
    let answers = proptest::collection::vec((any::<bool>(), 0usize..8), n);
    (
        answers,
        proptest::collection::vec(0usize..CATEGORIES.len(), 0..3),
        proptest::option::of(0usize..7),
        proptest::option::of(proptest::collection::vec(0usize..FINDING_KINDS.len(), 0..2)),
        0usize..n,
        1usize..8,
    )
        .prop_map(
            move |(answers, incidents, protocol, findings, pick, shift)| {
                let mut s = station(|_| {});
                let mut by_form: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
                for ((form, q, choices), (asked, i)) in qs.iter().zip(&answers) {
                    if *asked || q == &qs[pick].1 {
                        by_form
                            .entry(form.clone())
                            .or_default()
                            .insert(q.clone(), json!(choices[i % choices.len()]));
                    }
                }
                for (k, (form, answers)) in by_form.into_iter().enumerate() {
                    s.checklists.push(ChecklistReport {
                        report: rep(k as i64 + 1, Review::None),
                        form,
                        answers,
                    });
                }
                for (k, c) in incidents.into_iter().enumerate() {
                    let (cat, sev) = CATEGORIES[c];
                    s.incidents.push(incident(20 + k as i64, cat, sev));
                }
                if let Some(p) = protocol {
                    let st = forms().protocol.statuses[p % forms().protocol.statuses.len()]
                        .id
                        .clone();
                    s.protocols.push(ProtocolReport {
                        report: rep(30, Review::None),
                        status: st,
                    });
                }
                s.findings = findings.map(|v| {
                    v.into_iter()
                        .map(|k| FindingReport {
                            kind: FINDING_KINDS[k].into(),
                            field: "valid".into(),
                            message: String::new(),
                        })
                        .collect()
                });
                (s, pick, shift)
            },
        )
}

/// The rating from the criteria by the file's mapping, worked out again.
fn mapped(r: &Rules, a: &StationAssessment) -> Rating {
    let count = |w: Weight| {
        a.criteria
            .iter()
            .filter(|c| c.state == State::NotMet && c.weight == w)
            .count() as u32
    };
    let (serious, minor) = (count(Weight::Serious), count(Weight::Minor));
    let reaches = |limit: Option<u32>, n: u32| limit.is_some_and(|l| n >= l);
    if reaches(r.station.not_fair_serious, serious) || reaches(r.station.not_fair_minor, minor) {
        Rating::NotFair
    } else if !a.enough_evidence {
        Rating::NotRated
    } else if serious + minor > 0 {
        Rating::PartiallyFair
    } else {
        Rating::Fair
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Changing one answer changes only the criteria whose rules name that
    /// question, and the rating follows the mapping and nothing else.
    #[test]
    fn one_answer_changes_only_its_criteria((s, pick, shift) in arb_station()) {
        let r = rules();
        let qs = choice_questions();
        let (form, question, choices) = &qs[pick];
        let mut changed = s.clone();
        let c = changed.checklists.iter_mut().find(|c| &c.form == form).unwrap();
        let now = c.answers[question].as_str().unwrap().to_owned();
        let i = choices.iter().position(|x| *x == now).unwrap();
        c.answers.insert(question.clone(), json!(choices[(i + shift) % choices.len()]));

        let (a, b) = (assess_station(&r, &s), assess_station(&r, &changed));
        for (x, y) in a.criteria.iter().zip(&b.criteria) {
            let criterion = r.criterion(&x.criterion).unwrap();
            let names = criterion.rules.iter().any(|rule| rule.when.names_question(form, question));
            if !names {
                prop_assert_eq!(x, y, "{} changed by {} {}", &x.criterion, form, question);
            }
        }
        prop_assert_eq!(a.rating, mapped(&r, &a));
        prop_assert_eq!(b.rating, mapped(&r, &b));
        prop_assert_eq!(a.enough_evidence, b.enough_evidence);
        // A rating moves only when a criterion did.
        if a.criteria == b.criteria {
            prop_assert_eq!(a.rating, b.rating);
        }
    }

    /// A criterion is not met exactly when one of its rules has evidence,
    /// and every piece of evidence is the input's.
    #[test]
    fn failures_are_the_inputs((s, _, _) in arb_station()) {
        let r = rules();
        let a = assess_station(&r, &s);
        for c in &a.criteria {
            prop_assert_eq!(c.state == State::NotMet, !c.failures.is_empty());
            for f in &c.failures {
                let (owner, _) = r.rule(&f.rule).unwrap();
                prop_assert_eq!(&owner.id, &c.criterion);
                match &f.evidence.what {
                    What::Answer { form, question, answer } => {
                        let rep = s.checklists.iter().find(|x| Some(x.report.seq) == f.evidence.seq).unwrap();
                        prop_assert_eq!(&rep.form, form);
                        prop_assert_eq!(rep.answers[question].as_str(), Some(answer.as_str()));
                    }
                    What::Incident { category, .. } => {
                        prop_assert!(s.incidents.iter().any(|x| Some(x.report.seq) == f.evidence.seq && &x.category == category));
                    }
                    What::ProtocolStatus { status } => {
                        prop_assert_eq!(&s.protocols[0].status, status);
                    }
                    What::Finding { kind, .. } => {
                        prop_assert!(s.findings.as_ref().unwrap().iter().any(|x| &x.kind == kind));
                    }
                    What::Alert { .. } => prop_assert!(false, "no alerts in the input"),
                }
            }
        }
    }
}
