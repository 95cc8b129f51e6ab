//! Real-looking messages, right and wrong, as typed on Latin and Cyrillic
//! keyboards: each right one with the command it means, each wrong one
//! with the problem its refusal names. Every understood report's event is
//! run through the domain's report check, as the server will.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pollwatch_domain::Language;
use pollwatch_domain::forms::{FormSet, defaults};
use pollwatch_sms::{
    AlertKind, Command, Kind, Problem, Report, Status, confirmation, parse, refusal_text,
};

fn report(station: Option<&str>, report: Report) -> Command {
    Command::Report {
        station: station.map(str::to_owned),
        report,
    }
}

fn alert(station: Option<&str>, kind: AlertKind) -> Command {
    report(station, Report::Alert { kind })
}

fn hc(station: Option<&str>, counted: u32, announced: Option<u32>) -> Command {
    report(station, Report::Headcount { counted, announced })
}

fn proto(forms: &FormSet, station: Option<&str>, status: usize, figures: &[u32]) -> Command {
    report(
        station,
        Report::Protocol {
            status: Status::of(forms, status).unwrap(),
            figures: figures.to_vec(),
        },
    )
}

fn note(station: Option<&str>, text: &str) -> Command {
    report(station, Report::Note { text: text.into() })
}

/// Consistent figures for the default template: L1..L9, C1..C5, A.
const FIG: [u32; 15] = [
    1000, 1010, 600, 20, 390, 600, 20, 10, 610, 300, 200, 60, 30, 15, 5,
];

fn fig_text() -> String {
    FIG.map(|n| n.to_string()).join(" ")
}

fn check_ok(forms: &FormSet, text: &str, want: &Command) {
    let parsed = parse(text, forms).unwrap_or_else(|r| panic!("{text:?} refused: {r}"));
    assert_eq!(&parsed.command, want, "{text:?}");
    if let Command::Report { report, .. } = &parsed.command {
        let (kind, payload) = report.event(forms);
        let payload = payload.as_object().expect("an object payload");
        if let Err(e) = pollwatch_domain::report::check(forms, kind, payload) {
            panic!("{text:?}: the event of {report:?} fails the check: {e:?}");
        }
    }
    for lang in [Language::En, Language::Ru, Language::Kk] {
        let c = confirmation(&parsed, "123", lang);
        assert!(!c.is_empty(), "{text:?}");
        if !matches!(parsed.command, Command::Help) {
            assert!(
                c.chars().count() <= pollwatch_sms::MAX_REPLY_CHARS,
                "{text:?}: {c:?} is {} chars",
                c.chars().count()
            );
        }
    }
}

fn check_refused(forms: &FormSet, text: &str, want: &Problem, word: Option<&str>) {
    let r = match parse(text, forms) {
        Ok(p) => panic!("{text:?} read as {:?}", p.command),
        Err(r) => r,
    };
    assert_eq!(&r.problem, want, "{text:?}: {r}");
    assert_eq!(r.word.as_deref(), word, "{text:?}: {r}");
    for lang in [Language::En, Language::Ru, Language::Kk] {
        let t = refusal_text(&r, lang);
        if let Some(w) = word {
            assert!(t.contains(w), "{t:?} names {w:?}");
        }
        assert!(
            t.chars().count() <= 160,
            "{t:?} is {} chars",
            t.chars().count()
        );
    }
}

#[test]
fn right_messages() {
    let f = defaults();
    let figs = fig_text();
    let rows: Vec<(String, Command)> = vec![
        // Enrolment.
        (
            "JOIN K7RM-XQ4A-PW9T".into(),
            Command::Join {
                code: "K7RM-XQ4A-PW9T".into(),
            },
        ),
        (
            "join k7rmxq4apw9t".into(),
            Command::Join {
                code: "K7RM-XQ4A-PW9T".into(),
            },
        ),
        (
            "ВХОД К7RМ XQ4А PW9Т".into(),
            Command::Join {
                code: "K7RM-XQ4A-PW9T".into(),
            },
        ),
        (
            "кіру k7rm-xq4a-pw9t".into(),
            Command::Join {
                code: "K7RM-XQ4A-PW9T".into(),
            },
        ),
        // Help.
        ("?".into(), Command::Help),
        ("help".into(), Command::Help),
        ("Помощь".into(), Command::Help),
        ("КӨМЕК".into(), Command::Help),
        // Check-in.
        ("C".into(), report(None, Report::CheckIn)),
        ("C 123".into(), report(Some("123"), Report::CheckIn)),
        ("с 123".into(), report(Some("123"), Report::CheckIn)),
        ("C12O".into(), report(Some("120"), Report::CheckIn)),
        (
            "Я на участке 0123".into(),
            report(Some("0123"), Report::CheckIn),
        ),
        (
            "C 01-010-0001".into(),
            report(Some("01-010-0001"), Report::CheckIn),
        ),
        // Alerts: the most forgiving.
        ("A".into(), alert(None, AlertKind::Alarm)),
        ("a d".into(), alert(None, AlertKind::Detained)),
        ("А Д".into(), alert(None, AlertKind::Detained)),
        ("A123D".into(), alert(Some("123"), AlertKind::Detained)),
        ("A 123 R".into(), alert(Some("123"), AlertKind::Removed)),
        ("АЗ".into(), alert(None, AlertKind::Detained)),
        ("а у".into(), alert(None, AlertKind::Removed)),
        ("A!!!".into(), alert(None, AlertKind::Alarm)),
        (
            "  a 123 , d  ".into(),
            alert(Some("123"), AlertKind::Detained),
        ),
        (
            "А 123 задержали полиция".into(),
            alert(Some("123"), AlertKind::Detained),
        ),
        (
            "тревога 45 удаляют".into(),
            alert(Some("45"), AlertKind::Removed),
        ),
        ("SOS".into(), alert(None, AlertKind::Alarm)),
        ("A D 123".into(), alert(Some("123"), AlertKind::Detained)),
        ("A R D".into(), alert(None, AlertKind::Alarm)),
        // Headcounts.
        ("H 450".into(), hc(None, 450, None)),
        ("H 450 600".into(), hc(None, 450, Some(600))),
        ("H 123 450 600".into(), hc(Some("123"), 450, Some(600))),
        ("H 123 450 -".into(), hc(Some("123"), 450, None)),
        ("H123 450".into(), hc(None, 123, Some(450))),
        ("н 45O 6OO".into(), hc(None, 450, Some(600))),
        ("Н 123, 450, 600.".into(), hc(Some("123"), 450, Some(600))),
        ("h 1l2 3OO".into(), hc(None, 112, Some(300))),
        ("H\n450\n600".into(), hc(None, 450, Some(600))),
        ("H 450+600".into(), hc(None, 450, Some(600))),
        ("H #123 450 600".into(), hc(Some("123"), 450, Some(600))),
        ("H 0".into(), hc(None, 0, None)),
        // Protocols.
        ("P 2".into(), proto(&f, None, 2, &[])),
        ("P 123 3".into(), proto(&f, Some("123"), 3, &[])),
        ("п 3".into(), proto(&f, None, 3, &[])),
        (format!("P 1 {figs}"), proto(&f, None, 1, &FIG)),
        (format!("P 123 1 {figs}"), proto(&f, Some("123"), 1, &FIG)),
        (
            format!("Р 123 4 {}", figs.replace(' ', ",")),
            proto(&f, Some("123"), 4, &FIG),
        ),
        (
            format!("P123 1 {}", figs.replace('0', "O")),
            proto(&f, Some("123"), 1, &FIG),
        ),
        (format!("протокол 1 {figs}"), proto(&f, None, 1, &FIG)),
        // Notes.
        (
            "N queue of 40 people outside".into(),
            note(None, "queue of 40 people outside"),
        ),
        ("N 123 queue of 40".into(), note(Some("123"), "queue of 40")),
        (
            "N123: bus brought voters.".into(),
            note(Some("123"), "bus brought voters."),
        ),
        (
            "З очередь 40 человек".into(),
            note(None, "очередь 40 человек"),
        ),
        (
            "заметка 12 камера выключена".into(),
            note(Some("12"), "камера выключена"),
        ),
        (
            "ж 7 бюллетеньдер жетпейді".into(),
            note(Some("7"), "бюллетеньдер жетпейді"),
        ),
        // The README's examples.
        ("А123З".into(), alert(Some("123"), AlertKind::Detained)),
        ("A 123 Ш".into(), alert(Some("123"), AlertKind::Removed)),
        ("Х 3".into(), proto(&f, None, 3, &[])),
        ("Ж кезек 40 адам".into(), note(None, "кезек 40 адам")),
        ("Н 45О".into(), hc(None, 450, None)),
        (
            "A 123 D полиция".into(),
            alert(Some("123"), AlertKind::Detained),
        ),
        (
            "КИРУ K7RM-XQ4A-PW9T".into(),
            Command::Join {
                code: "K7RM-XQ4A-PW9T".into(),
            },
        ),
    ];
    assert!(rows.len() >= 40);
    for (text, want) in &rows {
        check_ok(&f, text, want);
    }
}

#[test]
fn wrong_messages() {
    let f = defaults();
    let figs = fig_text();
    let fourteen = FIG[..14]
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let sixteen = format!("{figs} 7");
    let rows: Vec<(String, Problem, Option<&str>)> = vec![
        ("".into(), Problem::Empty, None),
        ("   \n ".into(), Problem::Empty, None),
        ("X 123".into(), Problem::UnknownCommand, Some("X")),
        ("Hello".into(), Problem::UnknownCommand, Some("Hello")),
        (
            "Nothing happened".into(),
            Problem::UnknownCommand,
            Some("Nothing"),
        ),
        ("Apple".into(), Problem::UnknownCommand, Some("Apple")),
        ("Б 123".into(), Problem::UnknownCommand, Some("Б")),
        ("5 120".into(), Problem::UnknownCommand, Some("5")),
        ("H".into(), Problem::MissingCounted, None),
        ("H 12x".into(), Problem::NotANumber, Some("12x")),
        ("Н сто".into(), Problem::NotANumber, Some("сто")),
        ("H 120-450".into(), Problem::NotANumber, Some("120-450")),
        ("H - 450".into(), Problem::NotANumber, Some("-")),
        (
            "H 1 2 3 4".into(),
            Problem::TooManyNumbers { max: 3 },
            Some("4"),
        ),
        (
            "H 100001".into(),
            Problem::TooLarge { max: 100_000 },
            Some("100001"),
        ),
        (
            "H 99999999999999999999".into(),
            Problem::TooLarge { max: 100_000 },
            Some("99999999999999999999"),
        ),
        (
            "H 450 10000001".into(),
            Problem::TooLarge { max: 10_000_000 },
            Some("10000001"),
        ),
        (
            "C 12 13".into(),
            Problem::TooManyNumbers { max: 1 },
            Some("13"),
        ),
        ("P".into(), Problem::MissingStatus, None),
        (
            "P 9".into(),
            Problem::UnknownStatus { statuses: 7 },
            Some("9"),
        ),
        (
            "P 0".into(),
            Problem::UnknownStatus { statuses: 7 },
            Some("0"),
        ),
        (
            "P 123 8".into(),
            Problem::UnknownStatus { statuses: 7 },
            Some("8"),
        ),
        (
            format!("P 1 {fourteen}"),
            Problem::ProtocolFigures {
                got: 14,
                expected: 15,
            },
            None,
        ),
        (
            format!("P 123 1 {sixteen}"),
            Problem::ProtocolFigures {
                got: 16,
                expected: 15,
            },
            Some("7"),
        ),
        (
            "P 1 1000 1010".into(),
            Problem::ProtocolFigures {
                got: 2,
                expected: 15,
            },
            None,
        ),
        ("P 1 posted".into(), Problem::NotANumber, Some("posted")),
        (
            format!("P 1 {}", figs.replacen("1010", "1O1x", 1)),
            Problem::NotANumber,
            Some("1O1x"),
        ),
        (
            format!("P 1 {}", figs.replacen("1010", "20000000", 1)),
            Problem::TooLarge { max: 10_000_000 },
            Some("20000000"),
        ),
        ("N".into(), Problem::NoteEmpty, None),
        ("N 123".into(), Problem::NoteEmpty, None),
        (
            format!("N {}", "a".repeat(501)),
            Problem::NoteTooLong { max: 500 },
            None,
        ),
        ("JOIN".into(), Problem::MissingCode, None),
        ("JOIN K7RM-XQ4A".into(), Problem::BadCode, Some("K7RM-XQ4A")),
        (
            "JOIN K0RM-XQ4A-PW9T".into(),
            Problem::BadCode,
            Some("K0RM-XQ4A-PW9T"),
        ),
        ("вход привет".into(), Problem::BadCode, Some("привет")),
        ("C".repeat(1601), Problem::TooLong { max: 1600 }, None),
    ];
    assert!(rows.len() >= 30);
    for (text, problem, word) in &rows {
        check_refused(&f, text, problem, *word);
    }
}

#[test]
fn refusals_know_what_the_message_was_for() {
    let f = defaults();
    let r = parse("H 12x", &f).unwrap_err();
    assert_eq!(r.command, Some(Kind::Headcount));
    assert_eq!(r.position, Some(2));
    assert_eq!(
        refusal_text(&r, Language::Ru),
        "Не понято: «12x» — это не число. Пример: H 123 450 600"
    );
    assert_eq!(
        r.to_string(),
        "word 2 \"12x\": not a number; send like: H 123 450 600"
    );
    let r = parse("Б 123", &f).unwrap_err();
    assert_eq!(r.command, None);
    assert!(refusal_text(&r, Language::Kk).contains('?'));
}

#[test]
fn repairs_are_recorded_and_confirmed() {
    use pollwatch_sms::Repair;
    let f = defaults();
    let p = parse("н 45O, 6OO", &f).unwrap();
    assert!(p.repairs.contains(&Repair::Case), "{:?}", p.repairs);
    assert!(p.repairs.contains(&Repair::Spacing), "{:?}", p.repairs);
    assert!(p.repairs.contains(&Repair::Letter {
        typed: "н".into(),
        read_as: 'H'
    }));
    assert!(p.repairs.contains(&Repair::Digits {
        typed: "45O".into(),
        read_as: "450".into()
    }));
    assert_eq!(
        confirmation(&p, "123", Language::Ru),
        "OK 123: насчитали 450, объявлено 600. Исправлено: 45O→450, 6OO→600."
    );
    let p = parse("H123 450", &f).unwrap();
    assert_eq!(
        p.repairs,
        vec![Repair::Split {
            typed: "H123".into()
        }]
    );
    let p = parse("А 123 Д", &f).unwrap();
    assert_eq!(
        confirmation(&p, "123", Language::Ru),
        "OK 123: задержание. Координатор оповещён."
    );
    let p = parse("A 12 D police", &f).unwrap();
    assert_eq!(
        confirmation(&p, "12", Language::En),
        "OK 12: detention. Coordinator alerted. Left out: police."
    );
    let p = parse(&format!("P 123 1 {}", fig_text()), &f).unwrap();
    let c = confirmation(&p, "123", Language::Ru);
    assert!(
        c.starts_with("OK 123: протокол «Вывешен на участке», цифр 15."),
        "{c}"
    );
    assert!(c.chars().count() <= 140, "{c}");
    assert!(parse("H 450 600", &f).unwrap().repairs.is_empty());
}

#[test]
fn alerts_become_what_the_app_sends() {
    let f = defaults();
    let event = |text: &str| match parse(text, &f).unwrap().command {
        Command::Report { report, .. } => report.event(&f),
        other => panic!("{other:?}"),
    };
    let (kind, payload) = event("A");
    assert_eq!(kind, pollwatch_domain::EventKind::Alert);
    assert_eq!(payload, serde_json::json!({"alert": "removed_or_detained"}));
    let (kind, payload) = event("A D");
    assert_eq!(kind, pollwatch_domain::EventKind::Incident);
    assert_eq!(payload["category"], "OBS-DETAINED");
    assert_eq!(payload["severity"], "critical");
    let (_, payload) = event("A R");
    assert_eq!(payload["category"], "OBS-REMOVED");
    let (kind, payload) = event(&format!("P 1 {}", fig_text()));
    assert_eq!(kind, pollwatch_domain::EventKind::Protocol);
    assert_eq!(payload["figures"]["L9"], 610);
    assert_eq!(payload["figures"]["candidates"]["C5"], 15);
    assert_eq!(payload["figures"]["A"], 5);
    // The figures above are consistent: no relation fails.
    let accepted = pollwatch_domain::report::check(&f, kind, payload.as_object().unwrap()).unwrap();
    let flags = accepted.protocol.unwrap();
    assert!(flags.hard_failures.is_empty(), "{flags:?}");

    // A taxonomy without the category: the alarm, never a refusal.
    let mut bare = f.clone();
    bare.incidents
        .categories
        .retain(|c| c.code != "OBS-DETAINED");
    let Command::Report { report, .. } = parse("A D", &bare).unwrap().command else {
        panic!()
    };
    let (kind, payload) = report.event(&bare);
    assert_eq!(kind, pollwatch_domain::EventKind::Alert);
    assert_eq!(payload["type"], "detained");
}

#[test]
fn the_card_lists_every_command_and_the_forms_in_force() {
    let f = defaults();
    for lang in [Language::En, Language::Ru, Language::Kk] {
        let html = pollwatch_sms::card_html(&f, lang);
        for example in [
            "JOIN K7RM-XQ4A-PW9T",
            "C 123",
            "A 123 D",
            "H 123 450 600",
            "P 123 1 ",
            "<code>?</code>",
        ] {
            assert!(html.contains(example), "{lang:?}: no {example:?}");
        }
        for s in &f.protocol.statuses {
            assert!(
                html.contains(s.text.get(lang)),
                "{lang:?}: no status {}",
                s.id
            );
        }
        for (slot, _) in pollwatch_sms::figure_slots(&f) {
            assert!(
                html.contains(&format!("<li>{} · ", slot.id())),
                "{lang:?}: no figure {}",
                slot.id()
            );
        }
        for banned in ["<script", "src=", "href=", "http", "url("] {
            assert!(!html.contains(banned), "{lang:?}: {banned}");
        }
        // Every example on the card is read, not refused: the last column
        // of each row, its examples separated by " · ".
        let mut examples = 0;
        for row in html.split("<tr>").skip(2) {
            let cell = row.rsplit("<td><code>").next().unwrap();
            let cell = &cell[..cell.find("</code>").unwrap()];
            for example in cell.split(" · ") {
                let parsed = parse(example, &f);
                assert!(
                    parsed.is_ok(),
                    "{lang:?}: {example:?} is refused: {parsed:?}"
                );
                examples += 1;
            }
        }
        assert!(examples >= 12, "{lang:?}: {examples} examples");
        // A note's example is written in the card's language.
        let note = match lang {
            Language::En => "N 123 queue",
            Language::Ru => "З 123 очередь",
            Language::Kk => "Ж 123 сыртта",
        };
        assert!(html.contains(note), "{lang:?}: no {note:?}");
    }
    // The group's number at the top, when it gave one.
    let to = pollwatch_sms::card_html_to(&f, Language::Ru, Some("+7 <701>"));
    assert!(
        to.contains("Отправлять на номер: <code>+7 &lt;701&gt;</code>"),
        "{to}"
    );
    assert!(!pollwatch_sms::card_html(&f, Language::Ru).contains("Отправлять на номер"));
    let mut own = f.clone();
    own.protocol.statuses[0].text.en = "<b>posted</b>".into();
    assert!(pollwatch_sms::card_html(&own, Language::En).contains("&lt;b&gt;posted"));
}
