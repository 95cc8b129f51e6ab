//! The parser: a message as typed on a keypad, under stress, on a Latin or
//! a Cyrillic keyboard, into a [`Command`] — or a [`Refusal`] that says
//! which word was wrong and how to send it.
//!
//! Slips that cannot change the meaning are repaired and recorded
//! ([`Repair`]), as Apollo does, so the confirmation can say what was read.
//! Anything that could mean two things is refused instead: a wrong count
//! stored silently is worse than a resend.

use pollwatch_domain::StationNumber;
use pollwatch_domain::forms::FormSet;
use pollwatch_domain::{ENROLMENT_CODE_ALPHABET as CODE_ALPHABET, ENROLMENT_CODE_LEN as CODE_LEN};
use serde::Serialize;

use crate::report::{AlertKind, Command, Report, Status, figure_slots};

/// Longest message read, in characters: ten SMS parts of 160. Longer ones
/// are refused before any work is done on them.
pub const MAX_CHARS: usize = 1600;
/// Longest note, in characters: a few SMS parts; details go to the app.
pub const MAX_NOTE_CHARS: usize = 500;
/// Digits a count may have before it is certainly too large (u32).
const MAX_DIGITS: usize = 9;
/// Longest a word is quoted back in a refusal.
const QUOTE_CHARS: usize = 20;

/// A message understood, and what had to be repaired to understand it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    pub command: Command,
    pub repairs: Vec<Repair>,
}

/// One slip repaired while reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "repair")]
pub enum Repair {
    /// Spaces around the message, or separators other than one space
    /// between words: commas, dots, `+`, `*`, `#`, `№`, newlines, doubles.
    Spacing,
    /// Lower case read as upper case.
    Case,
    /// A command or alert letter (or word) typed in Cyrillic or as its
    /// Russian or Kazakh mnemonic: "А" read as A, "З" as N, "задержан" as D.
    Letter { typed: String, read_as: char },
    /// Cyrillic look-alikes in an enrolment code: "К7RМ" read as "K7RM".
    Alphabet { typed: String, read_as: String },
    /// Words run together: "H123" read as "H 123", "123D" as "123 D".
    Split { typed: String },
    /// Letters that look like digits inside a number: "12O" read as "120",
    /// "l5" as "15".
    Digits { typed: String, read_as: String },
    /// A word an alert or a check-in does not need, left out ("A 12 D
    /// police" sends the alert). Alerts and check-ins are never refused
    /// for an extra word.
    Ignored { word: String },
    /// An alert said both removed and detained: sent as the plain alarm.
    Conflicting,
}

/// The kinds of command, to say how to send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Join,
    Help,
    CheckIn,
    Alert,
    Headcount,
    Protocol,
    Note,
}

/// What was wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum Problem {
    /// Nothing but spaces.
    #[error("the message is empty")]
    Empty,
    /// Over [`MAX_CHARS`]: not read at all.
    #[error("the message is longer than {max} characters")]
    TooLong { max: usize },
    /// The first letter is no command's.
    #[error("unknown command")]
    UnknownCommand,
    /// A word where a number must be.
    #[error("not a number")]
    NotANumber,
    /// A number above what the forms allow.
    #[error("more than {max}")]
    TooLarge { max: u64 },
    /// `H` with no number.
    #[error("no count of voters")]
    MissingCounted,
    /// More numbers than the command takes.
    #[error("too many numbers (at most {max})")]
    TooManyNumbers { max: usize },
    /// `P` with no number.
    #[error("no protocol status")]
    MissingStatus,
    /// A status number the card does not list.
    #[error("the status must be 1 to {statuses}")]
    UnknownStatus { statuses: usize },
    /// A protocol with some figures but not all.
    #[error("{got} figures, the protocol has {expected}")]
    ProtocolFigures { got: usize, expected: usize },
    /// `N` with no text.
    #[error("the note is empty")]
    NoteEmpty,
    /// A note over [`MAX_NOTE_CHARS`].
    #[error("the note is longer than {max} characters")]
    NoteTooLong { max: usize },
    /// `JOIN` with nothing after it.
    #[error("no enrolment code")]
    MissingCode,
    /// Not twelve letters and digits of the code alphabet.
    #[error("not an enrolment code (12 letters and digits)")]
    BadCode,
}

/// A message refused: what was wrong, where, and what it was taken for,
/// from which [`crate::refusal_text`] says how to send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", english(self))]
pub struct Refusal {
    pub problem: Problem,
    /// The word at fault as typed (cut to 20 characters), if one is.
    pub word: Option<String>,
    /// Its place among the message's words, from 1 (the command is word 1).
    pub position: Option<usize>,
    /// What the message was taken for; `None` when not even that was
    /// understood.
    pub command: Option<Kind>,
}

fn english(r: &Refusal) -> String {
    let example = r
        .command
        .map(|k| {
            format!(
                "; send like: {}",
                crate::reply::example(k, pollwatch_domain::Language::En)
            )
        })
        .unwrap_or_else(|| "; send ? for the commands".into());
    match (&r.word, r.position) {
        (Some(w), Some(p)) => format!("word {p} {w:?}: {}{example}", r.problem),
        (Some(w), None) => format!("{w:?}: {}{example}", r.problem),
        _ => format!("{}{example}", r.problem),
    }
}

fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().nth(QUOTE_CHARS).is_some() {
        out.push('…');
    }
    out
}

impl Refusal {
    fn new(problem: Problem, command: Option<Kind>) -> Self {
        Refusal {
            problem,
            word: None,
            position: None,
            command,
        }
    }

    fn at(problem: Problem, command: Kind, tok: &Tok) -> Self {
        Refusal {
            problem,
            word: Some(quote(&tok.typed)),
            position: Some(tok.position),
            command: Some(command),
        }
    }
}

/// Characters some phones put in a message that no one typed.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Between words: any space, and the punctuation a hurried thumb puts
/// there. Not `-` or `/`, which station numbers hold ("01-010-0001").
fn is_sep(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | '.' | ';' | ':' | '+' | '*' | '#' | '№' | '_' | '!' | '='
        )
        || is_invisible(c)
}

fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '/')
}

fn is_dash(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| matches!(c, '-' | '–' | '—'))
}

/// A letter that stands for a digit when it is inside a number.
fn look_alike_digit(c: char) -> Option<char> {
    match c {
        'O' | 'o' | 'О' | 'о' => Some('0'),
        'I' | 'l' | '|' | 'І' | 'і' => Some('1'),
        _ => None,
    }
}

fn upper(c: char) -> char {
    c.to_uppercase().next().unwrap_or(c)
}

/// The command letters. Latin first (the canonical one), then the Cyrillic
/// look-alike, then Russian and Kazakh mnemonics. No letter twice.
const LETTERS: &[(char, Kind)] = &[
    ('C', Kind::CheckIn),
    ('С', Kind::CheckIn), // Cyrillic Es
    ('Я', Kind::CheckIn), // явка
    ('A', Kind::Alert),
    ('А', Kind::Alert), // Cyrillic A
    ('Т', Kind::Alert), // тревога; kk төтенше
    ('H', Kind::Headcount),
    ('Н', Kind::Headcount), // Cyrillic En
    ('P', Kind::Protocol),
    ('Р', Kind::Protocol), // Cyrillic Er
    ('П', Kind::Protocol), // протокол
    ('Х', Kind::Protocol), // kk хаттама
    ('N', Kind::Note),
    ('З', Kind::Note), // заметка
    ('Ж', Kind::Note), // kk жазба
];

/// Whole words that also name a command (compared in upper case).
const WORDS: &[(&str, Kind)] = &[
    ("JOIN", Kind::Join),
    ("ВХОД", Kind::Join),
    ("КІРУ", Kind::Join),
    ("КИРУ", Kind::Join),
    ("?", Kind::Help),
    ("HELP", Kind::Help),
    ("ПОМОЩЬ", Kind::Help),
    ("СПРАВКА", Kind::Help),
    ("КӨМЕК", Kind::Help),
    ("КОМЕК", Kind::Help),
    ("ALARM", Kind::Alert),
    ("ALERT", Kind::Alert),
    ("SOS", Kind::Alert),
    ("ТРЕВОГА", Kind::Alert),
    ("ДАБЫЛ", Kind::Alert),
    ("NOTE", Kind::Note),
    ("ЗАМЕТКА", Kind::Note),
    ("ЖАЗБА", Kind::Note),
    ("ПРОТОКОЛ", Kind::Protocol),
    ("ХАТТАМА", Kind::Protocol),
];

/// The alert's second letter: Latin, the Cyrillic letter that sounds the
/// same, the Russian and the Kazakh mnemonic.
const ALERT_LETTERS: &[(char, AlertKind)] = &[
    ('R', AlertKind::Removed),
    ('Р', AlertKind::Removed), // Cyrillic Er sounds R
    ('У', AlertKind::Removed), // удаляют
    ('Ш', AlertKind::Removed), // kk шығарды
    ('D', AlertKind::Detained),
    ('Д', AlertKind::Detained), // sounds D
    ('З', AlertKind::Detained), // задержан
];

/// Beginnings of words that say the same, in upper case.
const ALERT_WORDS: &[(&str, AlertKind)] = &[
    ("REMOV", AlertKind::Removed),
    ("EXPEL", AlertKind::Removed),
    ("УДАЛ", AlertKind::Removed),
    ("ВЫГН", AlertKind::Removed),
    ("ШЫҒАР", AlertKind::Removed),
    ("ШЫГАР", AlertKind::Removed),
    ("DETAIN", AlertKind::Detained),
    ("ARREST", AlertKind::Detained),
    ("ЗАДЕРЖ", AlertKind::Detained),
    ("АРЕСТ", AlertKind::Detained),
    ("ҰСТА", AlertKind::Detained),
    ("УСТАД", AlertKind::Detained),
];

fn canonical_letter(kind: Kind) -> char {
    match kind {
        Kind::CheckIn => 'C',
        Kind::Alert => 'A',
        Kind::Headcount => 'H',
        Kind::Protocol => 'P',
        Kind::Note => 'N',
        Kind::Join => 'J',
        Kind::Help => '?',
    }
}

/// One word of the arguments.
#[derive(Debug, Clone)]
struct Tok {
    typed: String,
    position: usize,
    what: What,
}

#[derive(Debug, Clone)]
enum What {
    /// Digits (look-alikes repaired), possibly with `-` or `/` inside.
    Num(String),
    /// A lone dash: "no figure".
    Dash,
    Word,
}

/// Splits a word where digits meet letters ("123D" → "123", "D"), keeping
/// look-alike letters with the digits around them and leaving words with
/// no digit whole ("Hello" stays one word though `l` and `o` look like
/// digits).
fn split_word(w: &str) -> Vec<&str> {
    let numeric = |c: char| c.is_ascii_digit() || look_alike_digit(c).is_some() || is_joiner(c);
    // Maximal runs of numeric-ish and other characters.
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    for (i, c) in w.char_indices() {
        let n = numeric(c);
        match runs.last_mut() {
            Some((_, end, kind)) if *kind == n => *end = i + c.len_utf8(),
            _ => runs.push((i, i + c.len_utf8(), n)),
        }
    }
    // A numeric-ish run without a digit is letters after all; merge it
    // into its neighbours.
    let mut merged: Vec<(usize, usize, bool)> = Vec::new();
    for (start, end, n) in runs {
        let n = n && w[start..end].chars().any(|c| c.is_ascii_digit());
        match merged.last_mut() {
            Some((_, e, kind)) if !*kind && !n => *e = end,
            _ => merged.push((start, end, n)),
        }
    }
    merged.into_iter().map(|(s, e, _)| &w[s..e]).collect()
}

fn classify(seg: &str, position: usize, repairs: &mut Vec<Repair>) -> Tok {
    let typed = seg.to_owned();
    if is_dash(seg) {
        return Tok {
            typed,
            position,
            what: What::Dash,
        };
    }
    let core = seg.trim_matches(is_joiner);
    let numeric = !core.is_empty()
        && core.chars().any(|c| c.is_ascii_digit())
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || look_alike_digit(c).is_some() || is_joiner(c));
    if !numeric {
        return Tok {
            typed,
            position,
            what: What::Word,
        };
    }
    if core.len() != seg.len() {
        repairs.push(Repair::Spacing);
    }
    let value: String = core
        .chars()
        .map(|c| look_alike_digit(c).unwrap_or(c))
        .collect();
    if value != core {
        repairs.push(Repair::Digits {
            typed: core.to_owned(),
            read_as: value.clone(),
        });
    }
    Tok {
        typed,
        position,
        what: What::Num(value),
    }
}

/// The arguments after the command, as words numbered from 2. Only an
/// alert's words are split where digits meet letters ("123D"): in a count,
/// "12x" is one wrong word, not 12 and a stray x.
fn tokens(args: &str, split: bool, repairs: &mut Vec<Repair>) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut position = 1;
    for raw in args.split(is_sep).filter(|w| !w.is_empty()) {
        let segs = if split { split_word(raw) } else { vec![raw] };
        if segs.len() > 1 {
            repairs.push(Repair::Split {
                typed: raw.to_owned(),
            });
        }
        for seg in segs {
            position += 1;
            out.push(classify(seg, position, repairs));
        }
    }
    out
}

fn spacing_is_odd(text: &str) -> bool {
    let mut run = String::new();
    let mut odd = false;
    for c in text.chars() {
        if is_sep(c) {
            run.push(c);
        } else {
            odd |= !run.is_empty() && run != " ";
            run.clear();
        }
    }
    odd || !run.is_empty()
}

/// Reads one message against the forms in force (the protocol's statuses
/// and figures, and the bounds of counts).
pub fn parse(text: &str, forms: &FormSet) -> Result<Parsed, Refusal> {
    if text.chars().nth(MAX_CHARS).is_some() {
        return Err(Refusal::new(Problem::TooLong { max: MAX_CHARS }, None));
    }
    let mut repairs = Vec::new();
    // Only spaces: a note's closing full stop is its own.
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
    let Some(first) = trimmed.chars().next() else {
        return Err(Refusal::new(Problem::Empty, None));
    };
    let first_word = trimmed.split(is_sep).next().unwrap_or_default();
    let first_upper: String = first_word.chars().map(upper).collect();

    // A whole command word, else the first letter.
    let (kind, rest) = if let Some(&(_, kind)) = WORDS.iter().find(|(w, _)| *w == first_upper) {
        if first_word.chars().any(|c| c != upper(c)) {
            repairs.push(Repair::Case);
        }
        if matches!(kind, Kind::Alert | Kind::Note | Kind::Protocol) {
            repairs.push(Repair::Letter {
                typed: first_word.to_owned(),
                read_as: canonical_letter(kind),
            });
        }
        (kind, &trimmed[first_word.len()..])
    } else if first == '?' {
        (Kind::Help, &trimmed[1..])
    } else {
        let unknown = || Refusal {
            problem: Problem::UnknownCommand,
            word: Some(quote(first_word)),
            position: Some(1),
            command: None,
        };
        let up = upper(first);
        let &(_, kind) = LETTERS.iter().find(|(l, _)| *l == up).ok_or_else(unknown)?;
        if up != first {
            repairs.push(Repair::Case);
        }
        let canonical = canonical_letter(kind);
        if up != canonical {
            repairs.push(Repair::Letter {
                typed: first.to_string(),
                read_as: canonical,
            });
        }
        let rest = &trimmed[first.len_utf8()..];
        let tail = &first_word[first.len_utf8()..];
        let digits_first = split_word(tail)
            .first()
            .is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()));
        match tail.chars().next() {
            None => {}
            Some(c) if !c.is_alphabetic() || digits_first => repairs.push(Repair::Split {
                typed: first_word.to_owned(),
            }),
            Some(c) => {
                // "AD", "АЗ": the alert and its kind in one word. Any other
                // word that starts with a command letter ("Hello",
                // "Nothing") is no command.
                let one_letter = tail.chars().count() == 1;
                let alert_kind = ALERT_LETTERS.iter().any(|(l, _)| *l == upper(c));
                if !(kind == Kind::Alert && one_letter && alert_kind) {
                    return Err(unknown());
                }
                repairs.push(Repair::Split {
                    typed: first_word.to_owned(),
                });
            }
        }
        (kind, rest)
    };
    if trimmed.len() != text.len() || (kind != Kind::Note && spacing_is_odd(rest)) {
        repairs.push(Repair::Spacing);
    }

    let report = |station: Option<String>, report: Report| Command::Report { station, report };
    let command = match kind {
        Kind::Help => Command::Help,
        Kind::Join => join(rest, &mut repairs)?,
        Kind::Note => {
            let (station, text) = note(rest)?;
            report(station, Report::Note { text })
        }
        Kind::CheckIn => {
            let toks = tokens(rest, false, &mut repairs);
            let mut station = None;
            for t in toks {
                match (&t.what, &station) {
                    (What::Num(_), None) => station = Some(station_of(&t, kind)?),
                    (What::Num(_), Some(_)) => {
                        return Err(Refusal::at(Problem::TooManyNumbers { max: 1 }, kind, &t));
                    }
                    _ => repairs.push(Repair::Ignored {
                        word: quote(&t.typed),
                    }),
                }
            }
            report(station, Report::CheckIn)
        }
        Kind::Alert => {
            let toks = tokens(rest, true, &mut repairs);
            let mut station = None;
            let mut said: Option<AlertKind> = None;
            let mut conflict = false;
            for t in toks {
                if let What::Num(_) = t.what {
                    match (&station, station_of(&t, kind)) {
                        (None, Ok(s)) => station = Some(s),
                        _ => repairs.push(Repair::Ignored {
                            word: quote(&t.typed),
                        }),
                    }
                    continue;
                }
                let up: String = t.typed.chars().map(upper).collect();
                let mut chars = up.chars();
                let single = match (chars.next(), chars.next()) {
                    (Some(c), None) => ALERT_LETTERS.iter().find(|(l, _)| *l == c),
                    _ => None,
                };
                let found = single.map(|&(_, k)| k).or_else(|| {
                    ALERT_WORDS
                        .iter()
                        .find(|(w, _)| up.starts_with(w))
                        .map(|&(_, k)| k)
                });
                match found {
                    Some(k) => {
                        if up != t.typed {
                            repairs.push(Repair::Case);
                        }
                        let latin = if k == AlertKind::Removed { 'R' } else { 'D' };
                        if up != latin.to_string() {
                            repairs.push(Repair::Letter {
                                typed: quote(&t.typed),
                                read_as: latin,
                            });
                        }
                        match said {
                            Some(s) if s != k => conflict = true,
                            _ => said = Some(k),
                        }
                    }
                    None => repairs.push(Repair::Ignored {
                        word: quote(&t.typed),
                    }),
                }
            }
            let kind = if conflict {
                repairs.push(Repair::Conflicting);
                AlertKind::Alarm
            } else {
                said.unwrap_or(AlertKind::Alarm)
            };
            report(station, Report::Alert { kind })
        }
        Kind::Headcount => {
            let toks = tokens(rest, false, &mut repairs);
            if let Some(t) = toks.iter().find(|t| matches!(t.what, What::Word)) {
                return Err(Refusal::at(Problem::NotANumber, kind, t));
            }
            let limits = forms.limits;
            let announced = |t: &Tok| match t.what {
                What::Dash => Ok(None),
                _ => count(t, kind, limits.figure).map(Some),
            };
            match toks.as_slice() {
                [] => return Err(Refusal::new(Problem::MissingCounted, Some(kind))),
                [c] => report(
                    None,
                    Report::Headcount {
                        counted: count(c, kind, limits.headcount)?,
                        announced: None,
                    },
                ),
                [c, a] => report(
                    None,
                    Report::Headcount {
                        counted: count(c, kind, limits.headcount)?,
                        announced: announced(a)?,
                    },
                ),
                [s, c, a] => report(
                    Some(station_of(s, kind)?),
                    Report::Headcount {
                        counted: count(c, kind, limits.headcount)?,
                        announced: announced(a)?,
                    },
                ),
                [_, _, _, extra, ..] => {
                    return Err(Refusal::at(Problem::TooManyNumbers { max: 3 }, kind, extra));
                }
            }
        }
        Kind::Protocol => {
            let toks = tokens(rest, false, &mut repairs);
            if let Some(t) = toks.iter().find(|t| !matches!(t.what, What::Num(_))) {
                return Err(Refusal::at(Problem::NotANumber, kind, t));
            }
            let expected = figure_slots(forms).len();
            let n = toks.len();
            // The figures' count is fixed by the template, so a station is
            // the one extra leading number. Checked in this order so that a
            // one-figure template reads "P 1 5" as status and figure.
            let (station, status, figures) = if n == 0 {
                return Err(Refusal::new(Problem::MissingStatus, Some(kind)));
            } else if n == 1 || n == 1 + expected {
                (None, &toks[0], &toks[1..])
            } else if n == 2 || n == 2 + expected {
                (Some(&toks[0]), &toks[1], &toks[2..])
            } else if n > 2 + expected {
                return Err(Refusal::at(
                    Problem::ProtocolFigures {
                        got: n - 2,
                        expected,
                    },
                    kind,
                    &toks[2 + expected],
                ));
            } else {
                return Err(Refusal::new(
                    Problem::ProtocolFigures {
                        got: n - 1,
                        expected,
                    },
                    Some(kind),
                ));
            };
            let statuses = forms.protocol.statuses.len();
            let unknown = || Refusal::at(Problem::UnknownStatus { statuses }, kind, status);
            let number = match &status.what {
                What::Num(v) => v.parse::<usize>().map_err(|_| unknown())?,
                _ => return Err(unknown()),
            };
            let status = Status::of(forms, number).ok_or_else(unknown)?;
            let figures = figures
                .iter()
                .map(|t| count(t, kind, forms.limits.figure))
                .collect::<Result<Vec<_>, _>>()?;
            let station = station.map(|s| station_of(s, kind)).transpose()?;
            report(station, Report::Protocol { status, figures })
        }
    };
    repairs.dedup();
    Ok(Parsed { command, repairs })
}

fn station_of(t: &Tok, kind: Kind) -> Result<String, Refusal> {
    match &t.what {
        What::Num(v) => StationNumber::parse(v)
            .map(|s| s.as_str().to_owned())
            .map_err(|_| Refusal::at(Problem::NotANumber, kind, t)),
        _ => Err(Refusal::at(Problem::NotANumber, kind, t)),
    }
}

fn count(t: &Tok, kind: Kind, max: u64) -> Result<u32, Refusal> {
    let What::Num(v) = &t.what else {
        return Err(Refusal::at(Problem::NotANumber, kind, t));
    };
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::at(Problem::NotANumber, kind, t));
    }
    let digits = v.trim_start_matches('0');
    let too_large = || Refusal::at(Problem::TooLarge { max }, kind, t);
    if digits.len() > MAX_DIGITS {
        return Err(too_large());
    }
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| too_large())?
    };
    if n > max {
        return Err(too_large());
    }
    u32::try_from(n).map_err(|_| too_large())
}

/// A note keeps its text as typed; only a leading station is taken off.
fn note(rest: &str) -> Result<(Option<String>, String), Refusal> {
    let body = rest.trim_start_matches(|c: char| is_sep(c) || matches!(c, '-' | '–' | '—'));
    let word_end = body.find(|c: char| is_sep(c)).unwrap_or(body.len());
    let word = &body[..word_end];
    let station_like = word.starts_with(|c: char| c.is_ascii_digit())
        && word.chars().all(|c| c.is_ascii_digit() || is_joiner(c))
        && !word.ends_with(is_joiner)
        && StationNumber::parse(word).is_ok();
    let (station, text) = if station_like {
        (Some(word.to_owned()), &body[word_end..])
    } else {
        (None, body)
    };
    let text = text
        .trim_start_matches(|c: char| is_sep(c) || matches!(c, '-' | '–' | '—'))
        .trim_end();
    if text.is_empty() {
        return Err(Refusal::new(Problem::NoteEmpty, Some(Kind::Note)));
    }
    if text.chars().nth(MAX_NOTE_CHARS).is_some() {
        return Err(Refusal::new(
            Problem::NoteTooLong {
                max: MAX_NOTE_CHARS,
            },
            Some(Kind::Note),
        ));
    }
    Ok((station, text.to_owned()))
}

/// Cyrillic letters that look like Latin ones of the code alphabet.
fn latin_look_alike(c: char) -> Option<char> {
    Some(match c {
        'А' => 'A',
        'В' => 'B',
        'С' => 'C',
        'Е' => 'E',
        'Н' => 'H',
        'К' => 'K',
        'М' => 'M',
        'Р' => 'P',
        'Т' => 'T',
        'Х' => 'X',
        'У' => 'Y',
        _ => return None,
    })
}

fn join(rest: &str, repairs: &mut Vec<Repair>) -> Result<Command, Refusal> {
    let typed = rest.trim_matches(|c: char| is_sep(c) || c == '-');
    if typed.is_empty() {
        return Err(Refusal::new(Problem::MissingCode, Some(Kind::Join)));
    }
    let bad = || Refusal {
        problem: Problem::BadCode,
        word: Some(quote(typed)),
        position: Some(2),
        command: Some(Kind::Join),
    };
    let mut code = String::new();
    let mut case = false;
    for c in typed.chars() {
        if is_sep(c) || matches!(c, '-' | '–' | '—') {
            continue;
        }
        let up = upper(c);
        case |= up != c;
        code.push(latin_look_alike(up).unwrap_or(up));
        if code.len() > CODE_LEN {
            return Err(bad());
        }
    }
    if code.chars().count() != CODE_LEN || !code.chars().all(|c| CODE_ALPHABET.contains(c)) {
        return Err(bad());
    }
    let typed_upper: String = typed
        .chars()
        .filter(|c| !is_sep(*c) && !matches!(c, '-' | '–' | '—'))
        .map(upper)
        .collect();
    if typed_upper != code {
        repairs.push(Repair::Alphabet {
            typed: quote(typed),
            read_as: code.clone(),
        });
    }
    if case {
        repairs.push(Repair::Case);
    }
    let code = format!("{}-{}-{}", &code[0..4], &code[4..8], &code[8..12]);
    Ok(Command::Join { code })
}
