//! The texts sent back: the confirmation of a report, the refusal of a
//! message, the help text and the answer to a number nobody linked.
//!
//! Short on purpose: a Cyrillic SMS part holds 70 characters, and an
//! observer reading it may have seconds. A confirmation repeats the
//! numbers it understood so a misread shows at once, and names any digit
//! it repaired; it stays within [`MAX_REPLY_CHARS`].

use pollwatch_domain::Language;

use crate::parse::{Kind, Parsed, Problem, Refusal, Repair};
use crate::report::{AlertKind, Command, Report};

/// What a confirmation or a refusal aims at: two Cyrillic SMS parts.
pub const MAX_REPLY_CHARS: usize = 140;
/// Longest protocol status text quoted in a confirmation.
const STATUS_CHARS: usize = 30;

fn tr(lang: Language, en: &'static str, ru: &'static str, kk: &'static str) -> &'static str {
    match lang {
        Language::En => en,
        Language::Ru => ru,
        Language::Kk => kk,
    }
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// How to send a command of this kind, as a short example.
pub fn example(kind: Kind, lang: Language) -> &'static str {
    match kind {
        Kind::Join => "JOIN K7RM-XQ4A-PW9T",
        Kind::Help => "?",
        Kind::CheckIn => "C 123",
        Kind::Alert => "A 123 D",
        Kind::Headcount => "H 123 450 600",
        Kind::Protocol => tr(
            lang,
            "P 1 and the figures in the card's order",
            "P 1 и цифры по порядку карточки",
            "P 1 және карточкадағы ретпен сандар",
        ),
        Kind::Note => "N 123 text",
    }
}

fn problem_text(p: &Problem, lang: Language) -> String {
    match p {
        Problem::Empty => tr(lang, "empty message", "пустое сообщение", "хабарлама бос").into(),
        Problem::TooLong { max } => format!(
            "{} {max}",
            tr(
                lang,
                "too long: at most",
                "слишком длинно: не больше",
                "тым ұзын: ең көбі"
            )
        ),
        Problem::UnknownCommand => tr(
            lang,
            "unknown command",
            "неизвестная команда",
            "белгісіз команда",
        )
        .into(),
        Problem::NotANumber => tr(lang, "not a number", "это не число", "бұл сан емес").into(),
        Problem::TooLarge { max } => match lang {
            Language::En => format!("more than {max}"),
            Language::Ru => format!("больше {max}"),
            Language::Kk => format!("{max} санынан көп"),
        },
        Problem::MissingCounted => tr(
            lang,
            "no count of voters",
            "нет числа избирателей",
            "сайлаушылар саны жоқ",
        )
        .into(),
        Problem::TooManyNumbers { max } => match lang {
            Language::En => format!("too many numbers, at most {max}"),
            Language::Ru => format!("слишком много чисел, не больше {max}"),
            Language::Kk => format!("сандар тым көп, ең көбі {max}"),
        },
        Problem::MissingStatus => tr(
            lang,
            "no protocol status",
            "нет статуса протокола",
            "хаттама мәртебесі жоқ",
        )
        .into(),
        Problem::UnknownStatus { statuses } => match lang {
            Language::En => format!("status is 1 to {statuses}"),
            Language::Ru => format!("статус — от 1 до {statuses}"),
            Language::Kk => format!("мәртебе 1-ден {statuses}-ге дейін"),
        },
        Problem::ProtocolFigures { got, expected } => match lang {
            Language::En => format!("{got} figures, the protocol has {expected} (or send none)"),
            Language::Ru => format!("цифр {got}, а в протоколе {expected} (или ни одной)"),
            Language::Kk => format!("{got} сан, хаттамада {expected} (немесе ешқайсысы)"),
        },
        Problem::NoteEmpty => tr(lang, "the note is empty", "заметка пустая", "жазба бос").into(),
        Problem::NoteTooLong { max } => match lang {
            Language::En => format!("note too long, at most {max} characters"),
            Language::Ru => format!("заметка длинная, не больше {max} знаков"),
            Language::Kk => format!("жазба тым ұзын, ең көбі {max} таңба"),
        },
        Problem::MissingCode => tr(
            lang,
            "no enrolment code",
            "нет кода регистрации",
            "тіркеу коды жоқ",
        )
        .into(),
        Problem::BadCode => tr(
            lang,
            "not an enrolment code (12 letters and digits)",
            "это не код регистрации (12 букв и цифр)",
            "бұл тіркеу коды емес (12 әріп пен сан)",
        )
        .into(),
    }
}

/// The reply to a refused message: what was not understood, why, and an
/// example to send instead.
pub fn refusal_text(r: &Refusal, lang: Language) -> String {
    let head = tr(lang, "Not understood", "Не понято", "Түсінілмеді");
    let what = match &r.word {
        Some(w) => format!("{head}: «{w}» — {}.", problem_text(&r.problem, lang)),
        None => format!("{head}: {}.", problem_text(&r.problem, lang)),
    };
    let how = match r.command {
        Some(k) => format!(
            "{}: {}",
            tr(lang, "Send like", "Пример", "Үлгі"),
            example(k, lang)
        ),
        None => tr(
            lang,
            "Send ? for the commands",
            "Пошлите ? — список команд",
            "? жіберіңіз — командалар тізімі",
        )
        .into(),
    };
    format!("{what} {how}")
}

/// The help text: every command with an example, in one or two SMS.
pub fn help_text(lang: Language) -> String {
    tr(
        lang,
        "C 123 arrived. A 123 R/D alarm: removed/detained. H 123 450 600 counted, announced. \
         P 123 1 figures: protocol. N 123 text: note. Station may be left out.",
        "C 123 прибыл. A 123 У/З тревога: удаляют/задержан. H 123 450 600 насчитал, объявлено. \
         P 123 1 цифры: протокол. N 123 текст: заметка. Участок можно не писать.",
        "C 123 келдім. A 123 R/D дабыл: шығарды/ұстады. H 123 450 600 санадым, жарияланды. \
         P 123 1 сандар: хаттама. N 123 мәтін: жазба. Учаскені жазбауға болады.",
    )
    .into()
}

/// The answer to a number not linked to any observer: how to enrol, in
/// the three languages at once (the server does not know which it speaks).
pub fn unknown_number_text() -> String {
    "Номер не привязан: JOIN <код>. Нөмір тіркелмеген: JOIN <код>. Number not linked: send JOIN <code>."
        .into()
}

/// A `JOIN` whose code is unknown, used, expired or another group's: said
/// in the three languages, since the sender's is not known.
pub fn join_refused_text() -> String {
    "Код неверен или использован: попросите новый. Код қате не қолданылған: жаңасын сұраңыз. Code unknown or used: ask for a new one."
        .into()
}

/// The number is linked to this observer (named by code name only).
pub fn joined_text(code_name: &str, lang: Language) -> String {
    let text = match lang {
        Language::En => format!("OK: this number is {code_name}'s now. Send ? for the commands."),
        Language::Ru => format!("OK: номер привязан к {code_name}. ? — список команд."),
        Language::Kk => format!("OK: нөмір {code_name} атына тіркелді. ? — командалар."),
    };
    text.chars().take(MAX_REPLY_CHARS).collect()
}

/// A report the format allowed but the server did not take (a station
/// not the observer's, figures beyond the register, the store down): why,
/// and that it should be sent again once mended.
pub fn not_accepted_text(why: &str, lang: Language) -> String {
    let head = tr(lang, "NOT accepted: ", "НЕ принято: ", "Қабылданбады: ");
    let text = format!("{head}{why}");
    text.chars().take(MAX_REPLY_CHARS).collect()
}

/// What was understood, said back in the observer's language: the report
/// and its numbers, and the digits read from look-alike letters.
pub fn confirmation(parsed: &Parsed, station: &str, lang: Language) -> String {
    let ok = if station.is_empty() {
        "OK:".to_owned()
    } else {
        format!("OK {station}:")
    };
    let (base, figures) = match &parsed.command {
        Command::Join { .. } => (
            tr(
                lang,
                "OK: this number is linked. Send ? for the commands.",
                "OK: номер привязан. ? — список команд.",
                "OK: нөмір тіркелді. ? — командалар тізімі.",
            )
            .to_owned(),
            None,
        ),
        Command::Help => return help_text(lang),
        Command::Report { report, .. } => match report {
            Report::CheckIn => (
                format!(
                    "{ok} {}",
                    tr(
                        lang,
                        "check-in recorded.",
                        "прибытие отмечено.",
                        "келу белгіленді."
                    )
                ),
                None,
            ),
            Report::Alert { kind } => (
                format!(
                    "{ok} {}",
                    match kind {
                        AlertKind::Alarm => tr(
                            lang,
                            "ALARM sent, coordinator alerted. Add A R or A D when you can.",
                            "ТРЕВОГА, координатор оповещён. Уточните: A У или A З.",
                            "ДАБЫЛ, үйлестіруші хабардар. Нақтылаңыз: A R не A D.",
                        ),
                        AlertKind::Removed => tr(
                            lang,
                            "removal. Coordinator alerted.",
                            "удаление. Координатор оповещён.",
                            "шығару. Үйлестіруші хабардар.",
                        ),
                        AlertKind::Detained => tr(
                            lang,
                            "detention. Coordinator alerted.",
                            "задержание. Координатор оповещён.",
                            "ұстау. Үйлестіруші хабардар.",
                        ),
                    }
                ),
                None,
            ),
            Report::Headcount { counted, announced } => {
                let counted_word = tr(lang, "counted", "насчитали", "саналды");
                let text = match announced {
                    Some(a) => format!(
                        "{ok} {counted_word} {counted}, {} {a}.",
                        tr(lang, "announced", "объявлено", "жарияланды")
                    ),
                    None => format!("{ok} {counted_word} {counted}."),
                };
                (text, None)
            }
            Report::Protocol { status, figures } => {
                let mut name: String = status.text.get(lang).chars().take(STATUS_CHARS).collect();
                if len(status.text.get(lang)) > STATUS_CHARS {
                    name.push('…');
                }
                let word = tr(lang, "protocol", "протокол", "хаттама");
                if figures.is_empty() {
                    let none = tr(lang, "no figures", "без цифр", "сандарсыз");
                    (format!("{ok} {word} «{name}», {none}."), None)
                } else {
                    let n = figures.len();
                    let count = match lang {
                        Language::En => format!("{n} figures"),
                        Language::Ru => format!("цифр {n}"),
                        Language::Kk => format!("{n} сан"),
                    };
                    let list: Vec<String> = figures.iter().map(u32::to_string).collect();
                    (
                        format!("{ok} {word} «{name}», {count}."),
                        Some(list.join(" ")),
                    )
                }
            }
            Report::Note { text } => {
                let n = len(text);
                let saved = match lang {
                    Language::En => format!("note saved ({n} characters)."),
                    Language::Ru => format!("заметка сохранена ({n} зн.)."),
                    Language::Kk => format!("жазба сақталды ({n} таңба)."),
                };
                (format!("{ok} {saved}"), None)
            }
        },
    };

    // Repairs first, then the figures if there is room: a digit read from
    // a letter is what the observer most needs to check.
    let mut out = base;
    let fixed: Vec<String> = parsed
        .repairs
        .iter()
        .filter_map(|r| match r {
            Repair::Digits { typed, read_as } => Some(format!("{typed}→{read_as}")),
            _ => None,
        })
        .collect();
    let left_out: Vec<&str> = parsed
        .repairs
        .iter()
        .filter_map(|r| match r {
            Repair::Ignored { word } => Some(word.as_str()),
            _ => None,
        })
        .collect();
    let mut add = |label: &str, items: &[String]| {
        if items.is_empty() {
            return;
        }
        let mut part = format!(" {label}:");
        // Room kept for the closing " …." however the list is cut.
        const END: usize = 3;
        if len(&out) + len(&part) + END > MAX_REPLY_CHARS {
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            if len(&out) + len(&part) + len(sep) + len(item) + END > MAX_REPLY_CHARS {
                part.push_str(" …");
                break;
            }
            part.push_str(sep);
            part.push_str(item);
        }
        part.push('.');
        out.push_str(&part);
    };
    add(tr(lang, "Read", "Исправлено", "Түзетілді"), &fixed);
    let left_out: Vec<String> = left_out.into_iter().map(str::to_owned).collect();
    add(tr(lang, "Left out", "Пропущено", "Өткізілді"), &left_out);
    if let Some(list) = figures.filter(|l| len(&out) + 1 + len(l) <= MAX_REPLY_CHARS) {
        out.push(' ');
        out.push_str(&list);
    }
    out
}
