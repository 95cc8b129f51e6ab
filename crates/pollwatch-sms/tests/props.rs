//! Properties: the parser never panics and bounds its work; a refusal
//! always says what to send; a command's canonical text reads back as
//! itself; every report's event passes the domain's check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pollwatch_domain::Language;
use pollwatch_domain::forms::{FormSet, defaults};
use pollwatch_sms::{
    AlertKind, Command, MAX_REPLY_CHARS, Report, Status, confirmation, example, parse, refusal_text,
};
use proptest::prelude::*;

const LANGS: [Language; 3] = [Language::En, Language::Ru, Language::Kk];

fn passes_check(forms: &FormSet, report: &Report) -> Result<(), String> {
    let (kind, payload) = report.event(forms);
    let payload = payload.as_object().ok_or("not an object")?;
    pollwatch_domain::report::check(forms, kind, payload)
        .map(|_| ())
        .map_err(|e| format!("{report:?}: {e:?}"))
}

/// Texts near the format: its letters, digits, look-alikes and separators,
/// so that the parser's every branch is reached, not only "unknown".
fn near_miss() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("C"),
            Just("A"),
            Just("H"),
            Just("P"),
            Just("N"),
            Just("С"),
            Just("А"),
            Just("Н"),
            Just("Р"),
            Just("П"),
            Just("З"),
            Just("Я"),
            Just("R"),
            Just("D"),
            Just("Д"),
            Just("У"),
            Just("JOIN"),
            Just("?"),
            Just("O"),
            Just("l"),
            Just("І"),
            Just("-"),
            Just("—"),
            Just(" "),
            Just("  "),
            Just(","),
            Just("."),
            Just("+"),
            Just("#"),
            Just("\n"),
            Just("x"),
            Just("é"),
            Just("🙂"),
            Just("\u{200B}"),
            Just("0"),
            Just("1"),
            Just("7"),
            Just("123"),
            Just("450"),
            Just("99999999999"),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn station() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "[1-9][0-9]{0,5}",
        "0[0-9]{1,4}",
        "[0-9]{2}-[0-9]{3}-[0-9]{4}",
    ])
}

fn command(forms: FormSet) -> impl Strategy<Value = Command> {
    let statuses = forms.protocol.statuses.len();
    let figures = pollwatch_sms::figure_slots(&forms).len();
    let limits = forms.limits;
    let code = proptest::collection::vec(
        proptest::sample::select(b"ABCDEFGHJKMNPQRTUVWXY346789".to_vec()),
        12,
    )
    .prop_map(|b| {
        let s: String = b.into_iter().map(char::from).collect();
        format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
    });
    let headcount = (
        0..=u32::try_from(limits.headcount).unwrap(),
        proptest::option::of(0..=u32::try_from(limits.figure).unwrap()),
    )
        .prop_map(|(counted, announced)| Report::Headcount { counted, announced });
    let protocol = (
        1..=statuses,
        prop_oneof![
            Just(Vec::new()),
            proptest::collection::vec(0..=u32::try_from(limits.figure).unwrap(), figures),
        ],
    )
        .prop_map(move |(n, figures)| Report::Protocol {
            status: Status::of(&forms, n).unwrap(),
            figures,
        });
    // A note that starts with a word: one that starts with a number gives
    // that number as its station (the documented rule).
    let note = "[a-zA-Zа-яА-ЯәіңғүұқөһЁё][a-zA-Zа-яА-Я0-9 ,.!?()-]{0,60}[a-zA-Zа-я0-9.!?)]"
        .prop_map(|text| Report::Note { text });
    let report = prop_oneof![
        Just(Report::CheckIn),
        prop_oneof![
            Just(AlertKind::Alarm),
            Just(AlertKind::Removed),
            Just(AlertKind::Detained)
        ]
        .prop_map(|kind| Report::Alert { kind }),
        headcount,
        protocol,
        note,
    ];
    prop_oneof![
        1 => code.prop_map(|code| Command::Join { code }),
        1 => Just(Command::Help),
        8 => (station(), report).prop_map(|(station, report)| Command::Report { station, report }),
    ]
}

fn refusal_says_what_to_send(text: &str, forms: &FormSet) -> Result<(), TestCaseError> {
    match parse(text, forms) {
        Ok(parsed) => {
            if let Command::Report { report, .. } = &parsed.command {
                prop_assert!(passes_check(forms, report).is_ok(), "{text:?}");
            }
            for lang in LANGS {
                let c = confirmation(&parsed, "01-010-0001", lang);
                prop_assert!(!c.is_empty());
                if parsed.command != Command::Help {
                    prop_assert!(c.chars().count() <= MAX_REPLY_CHARS, "{text:?}: {c:?}");
                }
            }
        }
        Err(r) => {
            prop_assert!(!r.to_string().is_empty());
            for lang in LANGS {
                let t = refusal_text(&r, lang);
                prop_assert!(t.chars().count() <= 200, "{t:?}");
                let how = match r.command {
                    Some(k) => example(k, lang).to_owned(),
                    None => "?".to_owned(),
                };
                prop_assert!(t.contains(&how), "{t:?} does not say {how:?}");
                if let Some(w) = &r.word {
                    prop_assert!(t.contains(w.as_str()), "{t:?} does not name {w:?}");
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_is_read_or_refused_with_what_to_send(text in any::<String>()) {
        refusal_says_what_to_send(&text, &defaults())?;
    }

    #[test]
    fn texts_near_the_format_are_read_or_refused(text in near_miss()) {
        refusal_says_what_to_send(&text, &defaults())?;
    }

    #[test]
    fn huge_texts_are_refused_at_once(text in ".{1601,3000}") {
        let r = parse(&text, &defaults()).unwrap_err();
        prop_assert_eq!(r.problem, pollwatch_sms::Problem::TooLong { max: 1600 });
    }

    #[test]
    fn canonical_text_reads_back(cmd in command(defaults())) {
        let forms = defaults();
        let text = cmd.text();
        let parsed = parse(&text, &forms).map_err(|r| TestCaseError::fail(format!("{text:?}: {r}")))?;
        prop_assert_eq!(&parsed.command, &cmd, "{:?}", text);
        prop_assert!(parsed.repairs.is_empty(), "{:?}: {:?}", text, parsed.repairs);
    }

    #[test]
    fn every_event_passes_the_domain_check(cmd in command(defaults())) {
        let forms = defaults();
        if let Command::Report { report, .. } = &cmd {
            prop_assert!(passes_check(&forms, report).is_ok(), "{:?}", passes_check(&forms, report));
        }
    }
}

#[test]
fn a_megabyte_is_refused_without_reading_it() {
    let text = "H 1 ".repeat(250_000);
    let r = parse(&text, &defaults()).unwrap_err();
    assert_eq!(r.problem, pollwatch_sms::Problem::TooLong { max: 1600 });
    assert!(refusal_text(&r, Language::Ru).contains("1600"));
}
