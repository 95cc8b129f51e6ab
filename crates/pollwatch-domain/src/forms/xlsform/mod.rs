//! Checklists from XLSForm, the spreadsheet format of Kobo and ODK: a group
//! that wrote its checklist there brings it over instead of typing it again.
//!
//! [`import`] takes the workbook's sheets as rows of cell texts (the binary
//! reads the `.xlsx` or `.ods`) and gives a checklist file in the `forms/`
//! format, with the [`Form`] it loads as, and a list of what could not be
//! carried over, each naming its sheet, row and column
//! (`survey!F12 (relevant): cannot translate "pulldata(...)"`). Nothing is
//! left out without a word: a cell the importer does not carry over is
//! either reported or a cell of Kobo's own bookkeeping (reported once per
//! column).
//!
//! What maps to what:
//!
//! | XLSForm | pollwatch |
//! | --- | --- |
//! | `integer` | `number`, bounds from the constraint (from 0 when it gives no lower bound) |
//! | `select_one L` | `single_choice`; `yes_no` when L's choices are exactly `yes` and `no` |
//! | `select_multiple L` | `multiple_choice` |
//! | `text`, `time`, `image` | `text`, `time`, `photo` |
//! | `decimal`, `date`, `dateTime` | `text` (pollwatch has no such type; reported) |
//! | `note`, groups | not carried over (pollwatch has no notes or sections; reported) |
//! | `required` yes/no | `required` |
//! | `relevant` on one earlier yes/no or select_one question | `when` |
//! | `constraint` bounds, `. <= ${q}`, `string-length(.) <= n` | `min`/`max`, `constraints`, `max_length` |
//!
//! A question whose `relevant` cannot be translated is kept, asked always
//! and not required (so that no observer is held up by a question that
//! should not have been asked), and reported.
//!
//! **Languages.** Texts come from `label::Language (code)` columns (or
//! `label::code`); English, Russian and Kazakh are read, other languages
//! reported. pollwatch needs every text in all three, so a language the
//! form lacks is filled from the others: first the column without a
//! language (`label`) or the settings' `default_language`, then Russian,
//! English, Kazakh. Each such gap is reported (once per missing column, and
//! once per blank cell of a column that exists), so that the group knows
//! what still needs translating before election day. A one-language form
//! therefore imports with its text shown in all three languages.

mod expr;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use self::expr::{Expr, Node, Op, quote, short};
use super::Form;

/// One sheet as read from the workbook: `rows[0]` is the spreadsheet's row
/// 1 and each row's cell 0 is column A, so that positions in messages are
/// those the user sees. Cells are texts (numbers as written, `true`/`false`
/// for booleans); rows may be of any length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
}

/// Something said about one place of the workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub sheet: String,
    /// 1-based, as the spreadsheet numbers rows; `None` for a whole sheet.
    pub row: Option<usize>,
    /// 0-based (0 is column A); `None` for a whole sheet.
    pub column: Option<usize>,
    /// The column's header, when it has one.
    pub header: Option<String>,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.sheet)?;
        match (self.row, self.column) {
            (Some(r), Some(c)) => write!(f, "!{}{r}", column_letters(c))?,
            (Some(r), None) => write!(f, "!{r}:{r}")?,
            _ => {}
        }
        if let Some(h) = self.header.as_deref().filter(|h| !h.trim().is_empty()) {
            write!(f, " ({})", h.trim())?;
        }
        write!(f, ": {}", self.message)
    }
}

/// "A", "B", …, "Z", "AA", …
pub fn column_letters(column: usize) -> String {
    let mut n = column + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A checklist made from an XLSForm.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The checklist as loaded from [`Imported::toml`].
    pub form: Form,
    /// The checklist file, in the `forms/` format; its comments list the
    /// warnings and the XLSForm row of each question.
    pub toml: String,
    /// What could not be carried over, in sheet and row order.
    pub warnings: Vec<Finding>,
}

/// An XLSForm no checklist can be made of: why, and what else was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// Makes a checklist of an XLSForm's sheets. `fallback_id` is the form's
/// id when the settings give no `form_id` (as XLSForm does, the file's
/// name); it is made into an id if it is not one.
pub fn import(sheets: &[Sheet], fallback_id: &str) -> Result<Imported, Refused> {
    let mut r = Report::default();
    let out = build(sheets, fallback_id, &mut r);
    let finish = |mut r: Report| {
        sort(&mut r.warnings);
        sort(&mut r.errors);
        r
    };
    match out {
        Some(draft) if r.errors.is_empty() => {
            let r = finish(r);
            let toml = draft.to_toml(&r.warnings);
            match Form::parse("(imported)", &toml) {
                Ok(form) => Ok(Imported {
                    form,
                    toml,
                    warnings: r.warnings,
                }),
                // The draft is built to load; this is a defect of the
                // importer, said as plainly as the rest.
                Err(errors) => Err(Refused {
                    errors: errors
                        .into_iter()
                        .map(|e| Finding {
                            sheet: "survey".into(),
                            row: None,
                            column: None,
                            header: None,
                            message: format!("the checklist made of it does not load: {e}"),
                        })
                        .collect(),
                    warnings: r.warnings,
                }),
            }
        }
        _ => {
            let r = finish(r);
            Err(Refused {
                errors: r.errors,
                warnings: r.warnings,
            })
        }
    }
}

fn sort(list: &mut [Finding]) {
    let rank = |s: &str| match s {
        "settings" => 0,
        "survey" => 1,
        "choices" => 2,
        _ => 3,
    };
    list.sort_by(|a, b| {
        (rank(&a.sheet), &a.sheet, a.row, a.column).cmp(&(
            rank(&b.sheet),
            &b.sheet,
            b.row,
            b.column,
        ))
    });
}

#[derive(Default)]
struct Report {
    warnings: Vec<Finding>,
    errors: Vec<Finding>,
}

// ---------------------------------------------------------------------------
// Sheets as tables.

/// A sheet with its header row read.
struct Table<'a> {
    sheet: &'a Sheet,
    /// 0-based index of the header row (the first row with anything in it).
    header_row: usize,
    headers: Vec<Header>,
}

#[derive(Debug, Clone)]
struct Header {
    col: usize,
    raw: String,
    /// Lowercase, `_` for spaces, aliases resolved: "label", "list_name".
    base: String,
    /// What follows `::`, as written ("Russian (ru)").
    lang: Option<String>,
}

impl<'a> Table<'a> {
    fn new(sheet: &'a Sheet) -> Option<Self> {
        let header_row = sheet
            .rows
            .iter()
            .position(|row| row.iter().any(|c| !c.trim().is_empty()))?;
        let headers = sheet.rows[header_row]
            .iter()
            .enumerate()
            .map(|(col, raw)| {
                let (base, lang) = match raw.split_once("::") {
                    Some((b, l)) => (b, Some(l.trim().to_owned())),
                    None => (raw.as_str(), None),
                };
                let base = base.trim().to_lowercase().replace(' ', "_");
                let base = match base.as_str() {
                    "jr:constraintmsg" => "constraint_message".to_owned(),
                    "jr:requiredmsg" => "required_message".to_owned(),
                    "list" => "list_name".to_owned(),
                    _ => base,
                };
                Header {
                    col,
                    raw: raw.clone(),
                    base,
                    lang,
                }
            })
            .collect();
        Some(Self {
            sheet,
            header_row,
            headers,
        })
    }

    fn name(&self) -> &str {
        &self.sheet.name
    }

    /// The rows below the header with anything in them, by 0-based index.
    fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        (self.header_row + 1..self.sheet.rows.len())
            .filter(|&i| self.sheet.rows[i].iter().any(|c| !c.trim().is_empty()))
    }

    fn cell(&self, row: usize, col: usize) -> &str {
        self.sheet
            .rows
            .get(row)
            .and_then(|r| r.get(col))
            .map_or("", |c| c.trim())
    }

    fn header(&self, col: usize) -> Option<&Header> {
        self.headers.get(col)
    }

    fn at(&self, row: usize, col: usize, message: impl Into<String>) -> Finding {
        Finding {
            sheet: self.name().trim().to_owned(),
            row: Some(row + 1),
            column: Some(col),
            header: self.header(col).map(|h| h.raw.trim().to_owned()),
            message: message.into(),
        }
    }

    /// The first column named `base` (without a language).
    fn find(&self, base: &str) -> Option<usize> {
        self.headers
            .iter()
            .find(|h| h.base == base && h.lang.is_none())
            .map(|h| h.col)
    }
}

fn find_sheet<'a>(sheets: &'a [Sheet], name: &str) -> Option<&'a Sheet> {
    sheets
        .iter()
        .find(|s| s.name.trim().eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------
// Languages.

/// pollwatch's languages, in the order `Localized` lists them.
const LANGS: [(&str, &str); 3] = [("en", "English"), ("ru", "Russian"), ("kk", "Kazakh")];
const EN: usize = 0;
const RU: usize = 1;
const KK: usize = 2;

/// Which of pollwatch's languages a column's `::` part names: the code in
/// parentheses ("Russian (ru)"), a bare code ("ru") or the language's name
/// in English or in itself.
fn language(tag: &str) -> Option<usize> {
    let tag = tag.trim().to_lowercase();
    let by_word = |w: &str| match w.trim() {
        "en" | "eng" | "english" | "английский" | "ағылшын" | "ағылшынша" => {
            Some(EN)
        }
        "ru" | "rus" | "russian" | "русский" | "русский язык" | "орыс" | "орысша" => {
            Some(RU)
        }
        "kk" | "kaz" | "kz" | "kazakh" | "қазақ" | "қазақша" | "қазақ тілі" | "казахский" => {
            Some(KK)
        }
        _ => None,
    };
    if let (Some(open), true) = (tag.rfind('('), tag.ends_with(')')) {
        let code = &tag[open + 1..tag.len() - 1];
        return by_word(code).or_else(|| by_word(&tag[..open]));
    }
    by_word(&tag)
}

fn lang_name(l: usize) -> String {
    let (code, name) = LANGS[l];
    format!("{name} ({code})")
}

/// The columns of one text (a question's or a choice's label) by language.
struct LangCols {
    own: [Option<usize>; 3],
    /// `label` with no language and no `default_language` saying which.
    unnamed: Option<usize>,
    default: Option<usize>,
}

impl LangCols {
    /// Reads the `base` columns of `t`, reporting the ones in other
    /// languages, the second ones of a language and the missing languages.
    fn read(t: &Table<'_>, base: &str, default: Option<usize>, r: &mut Report) -> Self {
        let mut own = [None; 3];
        let mut plain = None;
        for h in t.headers.iter().filter(|h| h.base == base) {
            let row = t.header_row;
            match &h.lang {
                None if plain.is_none() => plain = Some(h.col),
                None => {
                    r.warnings
                        .push(t.at(row, h.col, format!("a second {base} column; not read")))
                }
                Some(tag) => match language(tag) {
                    Some(l) if own[l].is_none() => own[l] = Some(h.col),
                    Some(l) => r.warnings.push(t.at(
                        row,
                        h.col,
                        format!("a second {base} column in {}; not read", lang_name(l)),
                    )),
                    None => r.warnings.push(t.at(
                        row,
                        h.col,
                        format!(
                            "{tag:?} is not a language pollwatch speaks (English, Russian, \
                             Kazakh); column not read"
                        ),
                    )),
                },
            }
        }
        let mut unnamed = None;
        if let Some(col) = plain {
            match default {
                Some(l) if own[l].is_none() => own[l] = Some(col),
                _ => unnamed = Some(col),
            }
        }
        let cols = Self {
            own,
            unnamed,
            default,
        };
        let first = own.iter().flatten().chain(unnamed.iter()).min().copied();
        if let Some(first) = first {
            for (l, col) in own.iter().enumerate() {
                if col.is_none() {
                    r.warnings.push(t.at(
                        t.header_row,
                        first,
                        format!(
                            "no {base} column in {}: its texts are taken from {}; translate \
                             them before election day",
                            lang_name(l),
                            cols.source_words(l)
                        ),
                    ));
                }
            }
        }
        cols
    }

    fn any(&self) -> bool {
        self.own.iter().any(Option::is_some) || self.unnamed.is_some()
    }

    /// Where a text missing in `l` is taken from, first to last.
    fn fallbacks(&self, l: usize) -> Vec<(usize, String)> {
        let mut order = Vec::new();
        if let Some(c) = self.unnamed {
            order.push((c, "the column without a language".to_owned()));
        }
        let langs = self.default.into_iter().chain([RU, EN, KK]);
        for other in langs {
            if other != l
                && let Some(c) = self.own[other]
                && !order.iter().any(|(o, _)| *o == c)
            {
                order.push((c, lang_name(other)));
            }
        }
        order
    }

    fn source_words(&self, l: usize) -> String {
        let list: Vec<String> = self.fallbacks(l).into_iter().map(|(_, w)| w).collect();
        match list.as_slice() {
            [] => "nowhere".into(),
            [one] => one.clone(),
            many => format!("the first given of {}", many.join(", ")),
        }
    }

    /// The texts of one row; `None` when every cell is blank.
    fn texts(&self, t: &Table<'_>, row: usize, r: &mut Report) -> Option<[String; 3]> {
        let mut out: [String; 3] = Default::default();
        let mut found = false;
        for (l, slot) in out.iter_mut().enumerate() {
            let mine = self.own[l].map(|c| t.cell(row, c)).unwrap_or("");
            if !mine.is_empty() {
                *slot = mine.to_owned();
                found = true;
                continue;
            }
            let from = self
                .fallbacks(l)
                .into_iter()
                .find(|(c, _)| !t.cell(row, *c).is_empty());
            if let Some((c, words)) = from {
                *slot = t.cell(row, c).to_owned();
                found = true;
                if let Some(col) = self.own[l] {
                    r.warnings.push(t.at(
                        row,
                        col,
                        format!("blank: the {} text is taken from {words}", lang_name(l)),
                    ));
                }
            }
        }
        found.then_some(out)
    }
}

// ---------------------------------------------------------------------------
// Ids.

/// `s` as a pollwatch id: ASCII letters, digits, `_` and `-`, at most 40;
/// `None` when nothing of it is left.
fn to_id(s: &str) -> Option<String> {
    let mut out = String::new();
    for c in s.trim().chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('_');
    let out: String = out.chars().take(40).collect();
    let out = out.trim_end_matches('_').to_owned();
    (!out.is_empty()).then_some(out)
}

/// Gives each name an id, distinct within `taken`.
fn unique_id(name: &str, taken: &mut HashSet<String>) -> Option<String> {
    let base = to_id(name)?;
    let mut id = base.clone();
    let mut n = 2;
    while taken.contains(&id) {
        let suffix = format!("_{n}");
        let keep: String = base.chars().take(40 - suffix.len()).collect();
        id = format!("{keep}{suffix}");
        n += 1;
    }
    taken.insert(id.clone());
    Some(id)
}

// ---------------------------------------------------------------------------
// The draft checklist.

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    YesNo,
    Number,
    Single(Vec<DraftChoice>),
    Multiple(Vec<DraftChoice>),
    Time,
    /// `origin` is the XLSForm type when it is not `text` (decimal, date).
    Text {
        max_length: Option<usize>,
        origin: Option<&'static str>,
    },
    Photo,
}

impl Kind {
    fn words(&self) -> &'static str {
        match self {
            Kind::YesNo => "a yes/no question",
            Kind::Number => "an integer",
            Kind::Single(_) => "a select_one",
            Kind::Multiple(_) => "a select_multiple",
            Kind::Time => "a time",
            Kind::Text {
                origin: Some(o), ..
            } => o,
            Kind::Text { .. } => "a text",
            Kind::Photo => "an image",
        }
    }

    /// `(XLSForm name, id)` of the values a condition may test.
    fn values(&self) -> Option<Vec<(String, String)>> {
        match self {
            Kind::YesNo => Some(vec![
                ("yes".into(), "yes".into()),
                ("no".into(), "no".into()),
            ]),
            Kind::Single(cs) => Some(cs.iter().map(|c| (c.name.clone(), c.id.clone())).collect()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct DraftChoice {
    /// As the XLSForm names it (conditions compare with it).
    name: String,
    id: String,
    text: [String; 3],
}

#[derive(Debug, Clone)]
struct DraftQuestion {
    id: String,
    /// The spreadsheet row it comes from (1-based).
    row: usize,
    kind: Kind,
    text: [String; 3],
    required: bool,
    when: Option<Cond>,
    min: Option<i64>,
    max: Option<i64>,
    constraints: Vec<(&'static str, String)>,
    hint: Option<String>,
}

/// A condition pollwatch can hold: question `question` answered with one
/// of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cond {
    question: String,
    /// Ids, in the question's order.
    values: Vec<String>,
}

struct Draft {
    id: String,
    version: u32,
    title: [String; 3],
    questions: Vec<DraftQuestion>,
}

// ---------------------------------------------------------------------------
// Reading the workbook.

/// Columns of the survey sheet that are XLSForm's but not carried over,
/// with why.
fn not_carried(base: &str) -> Option<&'static str> {
    Some(match base {
        "hint" | "guidance_hint" => {
            "pollwatch questions have no hint; not carried over (kept as a comment in the file)"
        }
        "constraint_message" | "required_message" => {
            "not carried over: pollwatch's app words its messages itself, in the observer's \
             language"
        }
        "appearance" => "not carried over: pollwatch's app shows each type of question one way",
        "default" => "not carried over: pollwatch questions have no default answer",
        "read_only" | "readonly" => "not carried over: pollwatch has no read-only questions",
        "calculation" => "not carried over: pollwatch computes no answers",
        "choice_filter" => "not carried over: pollwatch shows every choice of a list",
        "repeat_count" => "not carried over: pollwatch has no repeats",
        "parameters" | "trigger" | "body" | "bind" | "instance" | "media" | "image" | "audio"
        | "video" | "big-image" | "note" | "autoplay" => "not carried over",
        _ => return None,
    })
}

/// Settings that pollwatch has no use for.
fn settings_not_carried(base: &str) -> bool {
    matches!(
        base,
        "instance_name"
            | "style"
            | "public_key"
            | "submission_url"
            | "allow_choice_duplicates"
            | "namespaces"
            | "omit_instanceid"
            | "clean_text_values"
            | "auto_send"
            | "auto_delete"
            | "name"
            | "id_string"
    )
}

/// Columns nobody reads, or Kobo's bookkeeping, said once per column with
/// the rows that have something in them.
fn column_once(t: &Table<'_>, col: usize, why: &str, r: &mut Report) {
    let rows: Vec<usize> = t.rows().filter(|&i| !t.cell(i, col).is_empty()).collect();
    if rows.is_empty() {
        return;
    }
    let shown: Vec<String> = rows.iter().take(8).map(|i| (i + 1).to_string()).collect();
    let more = if rows.len() > 8 {
        format!(" and {} more", rows.len() - 8)
    } else {
        String::new()
    };
    r.warnings.push(t.at(
        t.header_row,
        col,
        format!("{why}; not carried over (rows {}{more})", shown.join(", ")),
    ));
}

fn build(sheets: &[Sheet], fallback_id: &str, r: &mut Report) -> Option<Draft> {
    for s in sheets {
        let name = s.name.trim().to_lowercase();
        if !matches!(name.as_str(), "survey" | "choices" | "settings")
            && s.rows.iter().flatten().any(|c| !c.trim().is_empty())
        {
            r.warnings.push(Finding {
                sheet: s.name.trim().to_owned(),
                row: None,
                column: None,
                header: None,
                message: "not read: an XLSForm's sheets are survey, choices and settings".into(),
            });
        }
    }
    let Some(survey) = find_sheet(sheets, "survey") else {
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        r.errors.push(Finding {
            sheet: "survey".into(),
            row: None,
            column: None,
            header: None,
            message: format!(
                "no such sheet: an XLSForm has its questions in a sheet named survey (this \
                 workbook has: {})",
                if names.is_empty() {
                    "no sheets".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        });
        return None;
    };

    let settings = read_settings(find_sheet(sheets, "settings"), fallback_id, r);
    let lists = find_sheet(sheets, "choices").map(|s| read_choices(s, settings.default, r));

    let Some(t) = Table::new(survey) else {
        r.errors.push(Finding {
            sheet: survey.name.trim().to_owned(),
            row: Some(1),
            column: Some(0),
            header: None,
            message: "empty: no header row (type, name, label) and no questions".into(),
        });
        return None;
    };
    let questions = read_survey(&t, lists.as_ref(), settings.default, r)?;
    if questions.is_empty() {
        r.errors.push(t.at(
            t.header_row,
            t.find("type").unwrap_or(0),
            "no question can be carried over (see the warnings for each row)",
        ));
    }
    let id = settings.id?;
    let title = settings.title.unwrap_or_else(|| {
        r.warnings.push(settings.title_place.clone());
        [id.clone(), id.clone(), id.clone()]
    });
    Some(Draft {
        id,
        version: settings.version,
        title,
        questions,
    })
}

struct Settings {
    id: Option<String>,
    version: u32,
    title: Option<[String; 3]>,
    /// Said when there is no title.
    title_place: Finding,
    default: Option<usize>,
}

fn read_settings(sheet: Option<&Sheet>, fallback_id: &str, r: &mut Report) -> Settings {
    let from_file = |r: &mut Report, place: Finding| match to_id(fallback_id) {
        Some(id) => {
            if id != fallback_id {
                let mut f = place;
                f.message = format!(
                    "no form_id: the id {id:?} is made from the file's name {fallback_id:?}"
                );
                r.warnings.push(f);
            }
            Some(id)
        }
        None => {
            let mut f = place;
            f.message = format!(
                "no form_id, and the file's name {fallback_id:?} makes no id: give a form_id \
                 (letters, digits, _ or -)"
            );
            r.errors.push(f);
            None
        }
    };
    // An empty settings sheet is pointed at by its first cell.
    let cell = sheet.map(|_| (1, 0));
    let whole = |sheet: &str, message: &str| Finding {
        sheet: sheet.into(),
        row: cell.map(|c| c.0),
        column: cell.map(|c| c.1),
        header: None,
        message: message.into(),
    };
    let no_title = "no form_title: the form's id is its title in every language";
    let Some(t) = sheet.and_then(Table::new) else {
        let name = sheet.map_or("settings", |s| s.name.trim());
        let id = from_file(r, whole(name, ""));
        return Settings {
            id,
            version: 1,
            title: None,
            title_place: whole(name, no_title),
            default: None,
        };
    };
    let data: Vec<usize> = t.rows().collect();
    let row = data.first().copied();
    for &extra in data.iter().skip(1) {
        r.warnings.push(t.at(
            extra,
            0,
            "settings are read from the first row under the header only; row not read",
        ));
    }
    let value = |col: usize| row.map_or("", |row| t.cell(row, col));
    let at = |col: usize, m: String| t.at(row.unwrap_or(t.header_row + 1), col, m);

    let mut default = None;
    let mut id = None;
    let mut id_seen = false;
    let mut version = 1;
    let mut title = None;
    let mut title_col = None;
    for h in &t.headers {
        let v = value(h.col);
        match (h.base.as_str(), &h.lang) {
            ("form_id", None) if !v.is_empty() => {
                id_seen = true;
                id = match to_id(v) {
                    Some(made) if made == v => Some(made),
                    Some(made) => {
                        r.warnings.push(at(
                            h.col,
                            format!(
                                "{v:?} is not a pollwatch id (letters, digits, _ or -, at most \
                                 40); the checklist's id is {made:?}"
                            ),
                        ));
                        Some(made)
                    }
                    None => {
                        r.errors.push(at(
                            h.col,
                            format!("{v:?} makes no id: use letters, digits, _ or -"),
                        ));
                        None
                    }
                };
            }
            ("version", None) if !v.is_empty() => match v.parse::<u64>() {
                Ok(n) if n >= 1 && n <= u64::from(u32::MAX) => version = n as u32,
                _ => r.warnings.push(at(
                    h.col,
                    format!(
                        "{v:?} is not a whole number from 1 to {}: the checklist is version 1; \
                         raise it by hand when the questions' meaning changes",
                        u32::MAX
                    ),
                )),
            },
            ("form_title", None) if !v.is_empty() => {
                title = Some([v.to_owned(), v.to_owned(), v.to_owned()]);
                title_col = Some(h.col);
            }
            ("default_language", None) if !v.is_empty() => match language(v) {
                Some(l) => default = Some(l),
                None => r.warnings.push(at(
                    h.col,
                    format!(
                        "{v:?} is not a language pollwatch speaks (English, Russian, Kazakh): \
                         the label column without a language is taken as the form's only \
                         language"
                    ),
                )),
            },
            (_, _) if v.is_empty() => {}
            ("form_id" | "version" | "form_title" | "default_language", Some(_)) => r
                .warnings
                .push(at(h.col, "a language on a setting: not read".to_owned())),
            (base, _) if settings_not_carried(base) => r.warnings.push(at(
                h.col,
                format!("not carried over: pollwatch has no use for {base}"),
            )),
            _ => r
                .warnings
                .push(at(h.col, "unknown setting; not carried over".to_owned())),
        }
    }
    if let Some(col) = title_col {
        r.warnings.push(at(
            col,
            "XLSForm gives one title: it is used in all three languages".to_owned(),
        ));
    }
    if !id_seen {
        let place = at(t.find("form_id").unwrap_or(0), String::new());
        id = from_file(r, place);
    }
    Settings {
        id,
        version,
        title,
        title_place: at(t.find("form_title").unwrap_or(0), no_title.to_owned()),
        default,
    }
}

/// The choice lists by name: each choice's XLSForm name, id and texts.
struct Lists {
    sheet: String,
    lists: BTreeMap<String, Vec<DraftChoice>>,
}

fn read_choices(sheet: &Sheet, default: Option<usize>, r: &mut Report) -> Lists {
    let mut lists: BTreeMap<String, Vec<DraftChoice>> = BTreeMap::new();
    let name = sheet.name.trim().to_owned();
    let Some(t) = Table::new(sheet) else {
        return Lists { sheet: name, lists };
    };
    let (Some(list_col), Some(name_col)) = (t.find("list_name"), t.find("name")) else {
        r.warnings.push(t.at(
            t.header_row,
            0,
            "no list_name or no name column: no choice list is read",
        ));
        return Lists { sheet: name, lists };
    };
    let labels = LangCols::read(&t, "label", default, r);
    for h in &t.headers {
        // Label columns LangCols has read, or said it does not.
        if h.col == list_col || h.col == name_col || h.base == "label" {
            continue;
        }
        let why = if h.raw.trim().starts_with('$') {
            format!("{}: Kobo's bookkeeping", h.raw.trim())
        } else if h.raw.trim().is_empty() {
            "a column without a header".to_owned()
        } else {
            format!("column {:?} (a choice filter or media)", h.raw.trim())
        };
        column_once(&t, h.col, &why, r);
    }
    let mut taken: HashMap<String, HashSet<String>> = HashMap::new();
    for row in t.rows() {
        let list = t.cell(row, list_col);
        let cname = t.cell(row, name_col);
        if list.is_empty() {
            r.warnings
                .push(t.at(row, list_col, "no list_name: choice not read"));
            continue;
        }
        if cname.is_empty() {
            r.warnings
                .push(t.at(row, name_col, "no name: choice not read"));
            continue;
        }
        let entries = lists.entry(list.to_owned()).or_default();
        if entries.iter().any(|c| c.name == cname) {
            r.warnings.push(t.at(
                row,
                name_col,
                format!("{cname:?} is already a choice of {list}: not read again"),
            ));
            continue;
        }
        let ids = taken.entry(list.to_owned()).or_default();
        let Some(id) = unique_id(cname, ids) else {
            r.warnings.push(t.at(
                row,
                name_col,
                format!("{cname:?} makes no choice id (letters, digits, _ or -): choice not read"),
            ));
            continue;
        };
        if id != cname {
            r.warnings.push(t.at(
                row,
                name_col,
                format!("{cname:?} is not a pollwatch id: the choice's id is {id:?}"),
            ));
        }
        let text = match labels.texts(&t, row, r) {
            Some(text) => text,
            None => {
                r.warnings.push(
                    t.at(
                        row,
                        labels
                            .own
                            .iter()
                            .flatten()
                            .next()
                            .copied()
                            .unwrap_or(name_col),
                        format!("no label: the choice's name {cname:?} is its text"),
                    ),
                );
                [cname.to_owned(), cname.to_owned(), cname.to_owned()]
            }
        };
        entries.push(DraftChoice {
            name: cname.to_owned(),
            id,
            text,
        });
    }
    Lists { sheet: name, lists }
}

/// What a survey row is, after its type cell.
#[derive(Debug, Clone)]
enum Row {
    Question(Kind),
    BeginGroup,
    EndGroup,
    BeginRepeat,
    EndRepeat,
    /// Not carried over, with why (already reported).
    Dropped(String),
}

/// What a name in an expression stands for.
#[derive(Debug, Clone)]
enum Named {
    /// A question carried over so far, at this position.
    Carried(usize),
    /// A row not carried over, with why.
    Dropped(String),
    /// A question later in the form.
    Later,
}

fn read_type(t: &Table<'_>, row: usize, col: usize, lists: Option<&Lists>, r: &mut Report) -> Row {
    let raw = t.cell(row, col);
    let words: Vec<&str> = raw.split_whitespace().collect();
    let first = words.first().map(|w| w.to_lowercase()).unwrap_or_default();
    let (base, rest) = match (first.as_str(), words.get(1).map(|w| w.to_lowercase())) {
        ("begin" | "end", Some(second)) => (format!("{first}_{second}"), &words[2..]),
        _ => (first.clone(), words.get(1..).unwrap_or(&[])),
    };
    let mut drop = |why: String| {
        r.warnings.push(t.at(row, col, why.clone()));
        Row::Dropped(why)
    };
    let list = |rest: &[&str], multiple: bool, r: &mut Report| -> Row {
        let Some(name) = rest.first() else {
            let why = format!("{raw:?} names no choice list; not carried over");
            r.warnings.push(t.at(row, col, why.clone()));
            return Row::Dropped(why);
        };
        if let Some(extra) = rest.get(1) {
            let why = if extra.eq_ignore_ascii_case("or_other") {
                "or_other: pollwatch has no \"other, write in\" choice; the list is carried \
                 over without it"
                    .to_owned()
            } else {
                format!("{extra:?} after the list's name is not understood; ignored")
            };
            r.warnings.push(t.at(row, col, why));
        }
        let choices = lists.and_then(|l| l.lists.get(*name));
        let Some(choices) = choices.filter(|c| !c.is_empty()) else {
            let sheet = lists.map_or("choices", |l| l.sheet.as_str());
            let why = match lists {
                None => format!("no choices sheet, so no list {name:?}; not carried over"),
                Some(_) => format!("no choice list {name:?} in {sheet}; not carried over"),
            };
            r.warnings.push(t.at(row, col, why.clone()));
            return Row::Dropped(why);
        };
        let names: HashSet<&str> = choices.iter().map(|c| c.name.as_str()).collect();
        if multiple {
            Row::Question(Kind::Multiple(choices.clone()))
        } else if names == HashSet::from(["yes", "no"]) {
            Row::Question(Kind::YesNo)
        } else {
            Row::Question(Kind::Single(choices.clone()))
        }
    };
    let as_text = |origin: &'static str, max: usize, r: &mut Report| {
        r.warnings.push(t.at(
            row,
            col,
            format!(
                "pollwatch has no {origin} type: carried over as text (at most {max} \
                 characters), its answers not checked to be {origin}s"
            ),
        ));
        Row::Question(Kind::Text {
            max_length: Some(max),
            origin: Some(origin),
        })
    };
    match base.as_str() {
        "integer" | "int" => Row::Question(Kind::Number),
        "text" | "string" => Row::Question(Kind::Text {
            max_length: None,
            origin: None,
        }),
        "time" => Row::Question(Kind::Time),
        "image" | "photo" => Row::Question(Kind::Photo),
        "select_one" | "select1" => list(rest, false, r),
        "select_multiple" => list(rest, true, r),
        "decimal" => as_text("decimal", 32, r),
        "date" => as_text("date", 10, r),
        "datetime" => as_text("dateTime", 32, r),
        "begin_group" => Row::BeginGroup,
        "end_group" => Row::EndGroup,
        "begin_repeat" | "begin_loop" => Row::BeginRepeat,
        "end_repeat" | "end_loop" => Row::EndRepeat,
        "note" => drop(
            "note: pollwatch has no notes (texts shown without a question); not carried over"
                .into(),
        ),
        "start"
        | "end"
        | "today"
        | "deviceid"
        | "subscriberid"
        | "simserial"
        | "phonenumber"
        | "username"
        | "email"
        | "audit"
        | "start-geopoint"
        | "background-geopoint" => drop(format!(
            "{raw}: metadata; pollwatch records when and from which phone each report comes \
             itself, and nothing more; not carried over"
        )),
        "" => drop("no type; row not read".into()),
        "calculate"
        | "hidden"
        | "geopoint"
        | "geotrace"
        | "geoshape"
        | "audio"
        | "video"
        | "file"
        | "barcode"
        | "acknowledge"
        | "range"
        | "rank"
        | "trigger"
        | "background-audio"
        | "xml-external"
        | "csv-external"
        | "select_one_from_file"
        | "select_multiple_from_file"
        | "osm"
        | "signature" => drop(format!(
            "{raw}: pollwatch has no such type; not carried over"
        )),
        _ if base.starts_with("select_one_from_file")
            || base.starts_with("select_multiple_from_file") =>
        {
            drop(format!(
                "{raw}: pollwatch has no such type; not carried over"
            ))
        }
        _ => drop(format!(
            "{raw:?} is not an XLSForm type pollwatch knows; not carried over"
        )),
    }
}

struct Group {
    row: usize,
    relevant: Option<(usize, String)>,
    /// The group's condition, translated when its first question needs it:
    /// `Some(Ok)`, or `Some(Err)` once reported.
    cond: Option<Result<Cond, ()>>,
}

fn read_survey(
    t: &Table<'_>,
    lists: Option<&Lists>,
    default: Option<usize>,
    r: &mut Report,
) -> Option<Vec<DraftQuestion>> {
    let (Some(type_col), Some(name_col)) = (t.find("type"), t.find("name")) else {
        let missing: Vec<&str> = ["type", "name"]
            .into_iter()
            .filter(|b| t.find(b).is_none())
            .collect();
        r.errors.push(t.at(
            t.header_row,
            0,
            format!(
                "no {} column in the header row: an XLSForm's survey has type, name and label \
                 columns",
                missing.join(" and no ")
            ),
        ));
        return None;
    };
    let labels = LangCols::read(t, "label", default, r);
    if !labels.any() {
        r.warnings.push(t.at(
            t.header_row,
            name_col,
            "no label column: each question's name is its text",
        ));
    }
    let required_col = t.find("required");
    let relevant_col = t.find("relevant");
    let constraint_col = t.find("constraint");
    let hint_cols: Vec<usize> = t
        .headers
        .iter()
        .filter(|h| h.base == "hint")
        .map(|h| h.col)
        .collect();
    let used = [
        Some(type_col),
        Some(name_col),
        required_col,
        relevant_col,
        constraint_col,
    ];
    // Columns said once, and the columns said cell by cell.
    let mut per_cell: Vec<(usize, &'static str)> = Vec::new();
    let mut seen_bases: HashSet<&str> = HashSet::new();
    for h in &t.headers {
        if used.contains(&Some(h.col)) {
            seen_bases.insert(&h.base);
            continue;
        }
        if h.base == "label" {
            continue; // LangCols said what it does not read
        }
        let raw = h.raw.trim();
        if raw.starts_with('$') {
            column_once(t, h.col, &format!("{raw}: Kobo's bookkeeping"), r);
        } else if let Some(why) = not_carried(&h.base) {
            per_cell.push((h.col, why));
        } else if raw.is_empty() {
            column_once(t, h.col, "a column without a header", r);
        } else if matches!(
            h.base.as_str(),
            "type" | "name" | "required" | "relevant" | "constraint"
        ) {
            column_once(
                t,
                h.col,
                &format!("a second {} column, or one with a language", h.base),
                r,
            );
        } else {
            column_once(t, h.col, &format!("unknown column {raw:?}"), r);
        }
    }

    let mut questions: Vec<DraftQuestion> = Vec::new();
    // Name → what it is, for expressions; filled as rows are read, with
    // every name of the sheet known up front so that a later question is
    // told apart from none.
    let mut named: HashMap<String, Named> = HashMap::new();
    for row in t.rows() {
        let n = t.cell(row, name_col);
        if !n.is_empty() {
            named.entry(n.to_owned()).or_insert(Named::Later);
        }
    }
    let mut taken_ids: HashSet<String> = HashSet::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut repeats: Vec<usize> = Vec::new();
    // Constraints need every question's kind: read after the rows.
    let mut pending: Vec<(usize, usize, String)> = Vec::new();

    for row in t.rows() {
        let kind = read_type(t, row, type_col, lists, r);
        let name = t.cell(row, name_col).to_owned();
        let cell_warn = |r: &mut Report| {
            for &(col, why) in &per_cell {
                if !t.cell(row, col).is_empty() {
                    r.warnings.push(t.at(row, col, why));
                }
            }
        };
        match kind {
            Row::BeginGroup => {
                cell_warn(r);
                r.warnings.push(t.at(
                    row,
                    type_col,
                    "pollwatch checklists have no sections: the group's questions are carried \
                     over in order, without its label",
                ));
                let relevant = relevant_col
                    .map(|c| (c, t.cell(row, c).to_owned()))
                    .filter(|(_, v)| !v.is_empty());
                groups.push(Group {
                    row,
                    relevant,
                    cond: None,
                });
                if !name.is_empty() {
                    named.insert(name, Named::Dropped("a group, not a question".into()));
                }
                continue;
            }
            Row::EndGroup => {
                if groups.pop().is_none() {
                    r.warnings.push(t.at(
                        row,
                        type_col,
                        "end_group without a begin_group; ignored",
                    ));
                }
                continue;
            }
            Row::BeginRepeat => {
                cell_warn(r);
                r.warnings.push(t.at(
                    row,
                    type_col,
                    "pollwatch has no repeats (a question answered many times): the repeat \
                     and every row in it are not carried over",
                ));
                repeats.push(row);
                if !name.is_empty() {
                    named.insert(name, Named::Dropped("a repeat, not a question".into()));
                }
                continue;
            }
            Row::EndRepeat => {
                if repeats.pop().is_none() {
                    r.warnings.push(t.at(
                        row,
                        type_col,
                        "end_repeat without a begin_repeat; ignored",
                    ));
                }
                continue;
            }
            Row::Dropped(why) => {
                if !name.is_empty() {
                    named.insert(name, Named::Dropped(why));
                }
                continue;
            }
            Row::Question(_) if !repeats.is_empty() => {
                let begun = repeats.last().copied().unwrap_or(row);
                let why = format!(
                    "inside the repeat begun at {}!{}{}",
                    t.name().trim(),
                    column_letters(type_col),
                    begun + 1
                );
                r.warnings
                    .push(t.at(row, type_col, format!("{why}: not carried over")));
                if !name.is_empty() {
                    named.insert(name, Named::Dropped(why));
                }
                continue;
            }
            Row::Question(kind) => {
                if name.is_empty() {
                    r.warnings
                        .push(t.at(row, name_col, "no name: question not carried over"));
                    continue;
                }
                if matches!(named.get(&name), Some(Named::Carried(_))) {
                    r.warnings.push(t.at(
                        row,
                        name_col,
                        format!("{name:?} is the name of an earlier question: not carried over"),
                    ));
                    continue;
                }
                let Some(id) = unique_id(&name, &mut taken_ids) else {
                    let why = format!(
                        "{name:?} makes no pollwatch id (letters, digits, _ or -): question not \
                         carried over"
                    );
                    r.warnings.push(t.at(row, name_col, why.clone()));
                    named.insert(name, Named::Dropped(why));
                    continue;
                };
                if id != name {
                    r.warnings.push(t.at(
                        row,
                        name_col,
                        format!(
                            "{name:?} is not a pollwatch id (letters, digits, _ or -, at most \
                             40): the question's id is {id:?}, and its answers are keyed by it"
                        ),
                    ));
                }
                cell_warn(r);
                let text = match labels.texts(t, row, r) {
                    Some(text) => text,
                    None => {
                        let col = labels
                            .own
                            .iter()
                            .flatten()
                            .chain(labels.unnamed.iter())
                            .min()
                            .copied();
                        if let Some(col) = col {
                            r.warnings.push(t.at(
                                row,
                                col,
                                format!("no label: the question's name {name:?} is its text"),
                            ));
                        }
                        [name.clone(), name.clone(), name.clone()]
                    }
                };
                let mut required = match required_col {
                    None => false,
                    Some(c) => match t.cell(row, c).to_lowercase().as_str() {
                        "" | "no" | "false" | "false()" | "0" => false,
                        "yes" | "true" | "true()" | "1" => true,
                        other => {
                            r.warnings.push(t.at(
                                row,
                                c,
                                format!(
                                    "cannot translate {}: pollwatch's required is yes or no; \
                                     carried over as not required",
                                    short(other)
                                ),
                            ));
                            false
                        }
                    },
                };
                // The conditions: the groups' it is in, then its own.
                let mut parts: Vec<Cond> = Vec::new();
                let mut failed = false;
                for g in groups.iter_mut() {
                    let Some((col, text)) = &g.relevant else {
                        continue;
                    };
                    if g.cond.is_none() {
                        g.cond =
                            Some(translate_relevant(text, &named, &questions).map_err(|why| {
                                r.warnings.push(t.at(
                                    g.row,
                                    *col,
                                    format!(
                                        "{why}; the group's questions are asked always and not \
                                     required"
                                    ),
                                ));
                            }));
                    }
                    match &g.cond {
                        Some(Ok(c)) => parts.push(c.clone()),
                        _ => failed = true,
                    }
                }
                let own = relevant_col
                    .map(|c| (c, t.cell(row, c)))
                    .filter(|(_, v)| !v.is_empty());
                if let Some((col, text)) = own {
                    match translate_relevant(text, &named, &questions) {
                        Ok(c) => parts.push(c),
                        Err(why) => {
                            r.warnings.push(t.at(
                                row,
                                col,
                                format!("{why}; asked always and not required"),
                            ));
                            failed = true;
                        }
                    }
                }
                let when = match combine(&parts) {
                    Ok(c) => c,
                    Err(why) => {
                        let col = own.map_or(type_col, |(c, _)| c);
                        r.warnings.push(t.at(
                            row,
                            col,
                            format!("{why}; asked always and not required"),
                        ));
                        failed = true;
                        None
                    }
                };
                let when = if failed { None } else { when };
                if failed {
                    required = false;
                }
                let hint = hint_cols
                    .iter()
                    .map(|&c| t.cell(row, c))
                    .find(|h| !h.is_empty())
                    .map(str::to_owned);
                if let Some(col) = constraint_col {
                    let v = t.cell(row, col);
                    if !v.is_empty() {
                        pending.push((questions.len(), col, v.to_owned()));
                    }
                }
                named.insert(name, Named::Carried(questions.len()));
                questions.push(DraftQuestion {
                    id,
                    row: row + 1,
                    kind,
                    text,
                    required,
                    when,
                    min: None,
                    max: None,
                    constraints: Vec::new(),
                    hint,
                });
            }
        }
    }
    for g in &groups {
        r.warnings.push(t.at(
            g.row,
            type_col,
            "begin_group without its end_group: the group runs to the end of the sheet",
        ));
    }
    for &row in &repeats {
        r.warnings.push(t.at(
            row,
            type_col,
            "begin_repeat without its end_repeat: nothing after it is carried over",
        ));
    }

    // Constraints, now that every question's kind is known.
    let row_of: Vec<usize> = questions.iter().map(|q| q.row - 1).collect();
    for (pos, col, text) in pending {
        translate_constraint(pos, &text, &named, &mut questions, |m| {
            r.warnings.push(t.at(row_of[pos], col, m));
        });
    }
    for (pos, q) in questions.iter_mut().enumerate() {
        if q.kind == Kind::Number {
            if q.min.is_none() {
                let col = constraint_col.unwrap_or(type_col);
                r.warnings.push(t.at(
                    row_of[pos],
                    col,
                    "an integer with no lower bound: pollwatch's number starts at 0, so \
                     answers below 0 are refused",
                ));
            }
            let max = q.max.unwrap_or(super::question::DEFAULT_NUMBER_MAX);
            q.min = Some(q.min.unwrap_or(0).min(max));
            q.max = Some(max);
        }
    }
    Some(questions)
}

// ---------------------------------------------------------------------------
// Expressions.

fn translate_relevant(
    text: &str,
    named: &HashMap<String, Named>,
    questions: &[DraftQuestion],
) -> Result<Cond, String> {
    let e = expr::parse(text).map_err(|e| format!("cannot read {}: {e}", short(text)))?;
    let c = condition(text, &e, named, questions)?;
    if c.values.is_empty() {
        return Err(format!("{} is never true", short(text)));
    }
    Ok(c)
}

/// One condition from the group's and the question's own, when they test
/// the same question.
fn combine(parts: &[Cond]) -> Result<Option<Cond>, String> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(None);
    };
    let mut c = first.clone();
    for p in rest {
        if p.question != c.question {
            return Err(format!(
                "the group asks on the answer to {} and the question on {}: pollwatch asks a \
                 question on the answer to one earlier question",
                c.question, p.question
            ));
        }
        c.values.retain(|v| p.values.contains(v));
    }
    if c.values.is_empty() {
        return Err("the group's condition and the question's are never both true".into());
    }
    Ok(Some(c))
}

/// A question and its `(XLSForm name, id)` values.
type ChoiceQuestion<'a> = (&'a DraftQuestion, Vec<(String, String)>);

/// What `${name}` is, for a condition: its position and choice values.
fn choice_question<'a>(
    name: &str,
    named: &HashMap<String, Named>,
    questions: &'a [DraftQuestion],
) -> Result<ChoiceQuestion<'a>, String> {
    match named.get(name) {
        None => Err(format!("there is no question ${{{name}}}")),
        Some(Named::Later) => Err(format!(
            "${{{name}}} comes later in the form (or is not carried over): pollwatch asks on \
             earlier answers only"
        )),
        Some(Named::Dropped(why)) => Err(format!("${{{name}}} is not carried over ({why})")),
        Some(Named::Carried(pos)) => {
            let Some(q) = questions.get(*pos) else {
                return Err(format!("there is no question ${{{name}}}"));
            };
            match q.kind.values() {
                Some(v) => Ok((q, v)),
                None => Err(format!(
                    "${{{name}}} is {}: pollwatch's conditions test yes/no and select_one \
                     answers only",
                    q.kind.words()
                )),
            }
        }
    }
}

fn literal(e: &Expr) -> Option<String> {
    match &e.node {
        Node::Str(s) => Some(s.clone()),
        Node::Num(n) => Some(n.clone()),
        Node::Neg(inner) => match &inner.node {
            Node::Num(n) => Some(format!("-{n}")),
            _ => None,
        },
        _ => None,
    }
}

fn condition(
    src: &str,
    e: &Expr,
    named: &HashMap<String, Named>,
    questions: &[DraftQuestion],
) -> Result<Cond, String> {
    let general = || {
        format!(
            "cannot translate {}: pollwatch's conditions are an earlier yes/no or select_one \
             answer being one of some choices (=, !=, selected(), and, or, not() of those)",
            quote(src, e)
        )
    };
    match &e.node {
        Node::Bin(op @ (Op::Or | Op::And), a, b) => {
            let x = condition(src, a, named, questions)?;
            let y = condition(src, b, named, questions)?;
            if x.question != y.question {
                return Err(format!(
                    "cannot translate {}: it tests {} and {}, and pollwatch asks a question on \
                     the answer to one earlier question",
                    quote(src, e),
                    x.question,
                    y.question
                ));
            }
            let (_, all) = choice_question_by_id(&x.question, questions);
            let values = all
                .into_iter()
                .filter(|v| {
                    let (p, q) = (x.values.contains(v), y.values.contains(v));
                    if *op == Op::Or { p || q } else { p && q }
                })
                .collect();
            Ok(Cond {
                question: x.question,
                values,
            })
        }
        Node::Call(f, args) if f == "not" && args.len() == 1 => {
            let x = condition(src, &args[0], named, questions)?;
            let (_, all) = choice_question_by_id(&x.question, questions);
            let values = all.into_iter().filter(|v| !x.values.contains(v)).collect();
            Ok(Cond {
                question: x.question,
                values,
            })
        }
        Node::Bin(op @ (Op::Eq | Op::Ne), a, b) => {
            let (name, lit) = match (&a.node, &b.node) {
                (Node::Ref(n), _) => (n, literal(b)),
                (_, Node::Ref(n)) => (n, literal(a)),
                _ => return Err(general()),
            };
            let Some(lit) = lit else {
                return Err(general());
            };
            let (q, values) = choice_question(name, named, questions)?;
            if lit.is_empty() {
                return match op {
                    Op::Ne => Ok(Cond {
                        question: q.id.clone(),
                        values: values.into_iter().map(|(_, id)| id).collect(),
                    }),
                    _ => Err(format!(
                        "cannot translate {}: pollwatch cannot ask on an answer being left out",
                        quote(src, e)
                    )),
                };
            }
            let Some((_, id)) = values.iter().find(|(n, _)| *n == lit) else {
                return Err(not_a_choice(&lit, name, &values));
            };
            let id = id.clone();
            let values = values
                .into_iter()
                .map(|(_, v)| v)
                .filter(|v| (*v == id) == (*op == Op::Eq))
                .collect();
            Ok(Cond {
                question: q.id.clone(),
                values,
            })
        }
        Node::Call(f, args) if f == "selected" && args.len() == 2 => {
            let Node::Ref(name) = &args[0].node else {
                return Err(general());
            };
            let Some(lit) = literal(&args[1]) else {
                return Err(general());
            };
            if let Some(Named::Carried(pos)) = named.get(name)
                && let Some(DraftQuestion {
                    kind: Kind::Multiple(_),
                    ..
                }) = questions.get(*pos)
            {
                return Err(format!(
                    "cannot translate {}: ${{{name}}} is a select_multiple, and pollwatch's \
                     conditions test yes/no and select_one answers only",
                    quote(src, e)
                ));
            }
            let (q, values) = choice_question(name, named, questions)?;
            let Some((_, id)) = values.iter().find(|(n, _)| *n == lit) else {
                return Err(not_a_choice(&lit, name, &values));
            };
            Ok(Cond {
                question: q.id.clone(),
                values: vec![id.clone()],
            })
        }
        _ => Err(general()),
    }
}

fn not_a_choice(lit: &str, name: &str, values: &[(String, String)]) -> String {
    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "{lit:?} is not a choice of ${{{name}}} (its choices: {})",
        names.join(", ")
    )
}

/// A question's value ids, by its pollwatch id.
fn choice_question_by_id<'a>(
    id: &str,
    questions: &'a [DraftQuestion],
) -> (Option<&'a DraftQuestion>, Vec<String>) {
    let q = questions.iter().find(|q| q.id == id);
    let values = q
        .and_then(|q| q.kind.values())
        .map(|v| v.into_iter().map(|(_, id)| id).collect())
        .unwrap_or_default();
    (q, values)
}

/// The `and`-joined parts of a constraint.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut todo = vec![e];
    while let Some(e) = todo.pop() {
        match &e.node {
            Node::Bin(Op::And, a, b) => {
                todo.push(b);
                todo.push(a);
            }
            _ => out.push(e),
        }
    }
    out
}

/// A whole number written in a cell ("5000", "-3", "2.0").
fn whole(e: &Expr) -> Option<i64> {
    let s = literal(e)?;
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let f = s.parse::<f64>().ok()?;
    (f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
}

fn translate_constraint(
    pos: usize,
    text: &str,
    named: &HashMap<String, Named>,
    questions: &mut [DraftQuestion],
    mut warn: impl FnMut(String),
) {
    let e = match expr::parse(text) {
        Ok(e) => e,
        Err(err) => {
            warn(format!(
                "cannot read {}: {err}; the constraint is not carried over",
                short(text)
            ));
            return;
        }
    };
    let kind = questions[pos].kind.clone();
    if let Kind::Text {
        origin: Some(origin),
        ..
    } = kind
    {
        warn(format!(
            "not carried over: the question is carried over as text (pollwatch has no {origin} \
             type), so {} is not checked",
            short(text)
        ));
        return;
    }
    let mut min: Option<i64> = None;
    let mut max: Option<i64> = None;
    let mut max_length: Option<usize> = None;
    let mut relations: Vec<(&'static str, String)> = Vec::new();
    for part in conjuncts(&e) {
        let cannot = |why: &str| format!("cannot translate {}: {why}", quote(text, part));
        let Node::Bin(op, a, b) = &part.node else {
            warn(cannot(
                "pollwatch's checks are bounds (. >= 0 and . <= 5000), . <= ${other} and \
                 string-length(.) <= n",
            ));
            continue;
        };
        if !matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq) {
            warn(cannot(
                "pollwatch's checks are bounds (. >= 0 and . <= 5000), . <= ${other} and \
                 string-length(.) <= n",
            ));
            continue;
        }
        // `. OP x` with `.` on the left.
        let (op, this, other) = if matches!(a.node, Node::Dot | Node::Call(..)) {
            (*op, a.as_ref(), b.as_ref())
        } else {
            (op.flipped(), b.as_ref(), a.as_ref())
        };
        match (&kind, &this.node) {
            (Kind::Number, Node::Dot) => {
                if let Some(n) = whole(other) {
                    let (lo, hi) = match op {
                        Op::Ge => (Some(n), None),
                        Op::Gt => (n.checked_add(1), None),
                        Op::Le => (None, Some(n)),
                        Op::Lt => (None, n.checked_sub(1)),
                        _ => (Some(n), Some(n)),
                    };
                    if let Some(lo) = lo {
                        min = Some(min.map_or(lo, |m| m.max(lo)));
                    }
                    if let Some(hi) = hi {
                        max = Some(max.map_or(hi, |m| m.min(hi)));
                    }
                } else if let Node::Ref(name) = &other.node {
                    match relation(op, name, pos, &kind, named, questions) {
                        Ok(rel) => relations.push(rel),
                        Err(why) => warn(cannot(&why)),
                    }
                } else {
                    warn(cannot(
                        "an integer's bounds are whole numbers or ${another integer}",
                    ));
                }
            }
            (Kind::Time, Node::Dot) => match &other.node {
                Node::Ref(name) => match relation(op, name, pos, &kind, named, questions) {
                    Ok(rel) => relations.push(rel),
                    Err(why) => warn(cannot(&why)),
                },
                _ => warn(cannot("a time can be checked against ${another time} only")),
            },
            (Kind::Text { origin: None, .. }, Node::Call(f, args))
                if f == "string-length"
                    && matches!(
                        args.as_slice(),
                        [Expr {
                            node: Node::Dot,
                            ..
                        }]
                    ) =>
            {
                let n = whole(other);
                let limit = match (op, n) {
                    (Op::Le, Some(n)) => Some(n),
                    (Op::Lt, Some(n)) => Some(n - 1),
                    _ => None,
                };
                match limit {
                    Some(n) if (1..=100_000).contains(&n) => {
                        max_length = Some(max_length.map_or(n as usize, |m| m.min(n as usize)));
                    }
                    _ => warn(cannot(
                        "pollwatch checks a text's length against an upper limit only (1 to \
                         100000 characters)",
                    )),
                }
            }
            _ => warn(cannot(&format!(
                "pollwatch has no such check for {}",
                kind.words()
            ))),
        }
    }
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        warn(format!(
            "{} allows no answer; its bounds are not carried over",
            short(text)
        ));
        min = None;
        max = None;
    }
    let q = &mut questions[pos];
    q.min = min;
    q.max = max;
    if let Some(n) = max_length
        && let Kind::Text { max_length, .. } = &mut q.kind
    {
        *max_length = Some(n);
    }
    q.constraints = relations;
}

/// `. <= ${name}` and `. >= ${name}` as pollwatch's `at_most`/`at_least`.
fn relation(
    op: Op,
    name: &str,
    pos: usize,
    kind: &Kind,
    named: &HashMap<String, Named>,
    questions: &[DraftQuestion],
) -> Result<(&'static str, String), String> {
    let key = match op {
        Op::Le => "at_most",
        Op::Ge => "at_least",
        _ => {
            return Err(
                "pollwatch compares with another answer as at most (<=) or at least (>=) only"
                    .into(),
            );
        }
    };
    // Every carried question is known by now, later ones included.
    let other = match named.get(name) {
        Some(Named::Carried(p)) => *p,
        Some(Named::Dropped(why)) => {
            return Err(format!("${{{name}}} is not carried over ({why})"));
        }
        _ => return Err(format!("there is no question ${{{name}}}")),
    };
    if other == pos {
        return Err("compares the answer with itself".into());
    }
    let target = &questions[other];
    if std::mem::discriminant(&target.kind) != std::mem::discriminant(kind) {
        return Err(format!(
            "${{{name}}} is {}, this question {}: pollwatch compares answers of the same type",
            target.kind.words(),
            kind.words()
        ));
    }
    Ok((key, target.id.clone()))
}

// ---------------------------------------------------------------------------
// The file.

fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_localized(t: &[String; 3]) -> String {
    format!(
        "{{ en = {}, ru = {}, kk = {} }}",
        toml_string(&t[EN]),
        toml_string(&t[RU]),
        toml_string(&t[KK])
    )
}

/// One line of a comment, whatever the text holds.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Draft {
    fn to_toml(&self, warnings: &[Finding]) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# Made from an XLSForm by `pollwatch forms import-xlsform`. Format: forms/README.md."
        );
        if warnings.is_empty() {
            let _ = writeln!(o, "# Everything in the XLSForm was carried over.");
        } else {
            let _ = writeln!(o, "# Not carried over, or carried over differently:");
            for w in warnings {
                let _ = writeln!(o, "#   {}", comment(&w.to_string()));
            }
        }
        let _ = writeln!(
            o,
            "# pollwatch's problem rules (which answers count as a problem) are not part of an \
             XLSForm:\n# add them by hand (`problem = ...`) for the assessment to use them.\n"
        );
        let _ = writeln!(o, "kind = \"checklist\"");
        let _ = writeln!(o, "id = {}", toml_string(&self.id));
        let _ = writeln!(o, "version = {}", self.version);
        let _ = writeln!(o, "title = {}", toml_localized(&self.title));
        for q in &self.questions {
            let _ = writeln!(o, "\n# survey row {}", q.row);
            if let Some(h) = &q.hint {
                let _ = writeln!(o, "# hint: {}", comment(h));
            }
            let _ = writeln!(o, "[[questions]]");
            let _ = writeln!(o, "id = {}", toml_string(&q.id));
            let ty = match &q.kind {
                Kind::YesNo => "yes_no",
                Kind::Number => "number",
                Kind::Single(_) => "single_choice",
                Kind::Multiple(_) => "multiple_choice",
                Kind::Time => "time",
                Kind::Text { .. } => "text",
                Kind::Photo => "photo",
            };
            let _ = writeln!(o, "type = \"{ty}\"");
            let _ = writeln!(o, "text = {}", toml_localized(&q.text));
            let _ = writeln!(o, "required = {}", q.required);
            if let Some(min) = q.min {
                let _ = writeln!(o, "min = {min}");
            }
            if let Some(max) = q.max {
                let _ = writeln!(o, "max = {max}");
            }
            if let Kind::Text {
                max_length: Some(n),
                ..
            } = &q.kind
            {
                let _ = writeln!(o, "max_length = {n}");
            }
            if let Some(w) = &q.when {
                match w.values.as_slice() {
                    [one] => {
                        let _ = writeln!(
                            o,
                            "when = {{ question = {}, equals = {} }}",
                            toml_string(&w.question),
                            toml_string(one)
                        );
                    }
                    many => {
                        let list: Vec<String> = many.iter().map(|v| toml_string(v)).collect();
                        let _ = writeln!(
                            o,
                            "when = {{ question = {}, in = [{}] }}",
                            toml_string(&w.question),
                            list.join(", ")
                        );
                    }
                }
            }
            if !q.constraints.is_empty() {
                let list: Vec<String> = q
                    .constraints
                    .iter()
                    .map(|(k, id)| format!("{{ {k} = {} }}", toml_string(id)))
                    .collect();
                let _ = writeln!(o, "constraints = [{}]", list.join(", "));
            }
            if let Kind::Single(cs) | Kind::Multiple(cs) = &q.kind {
                let _ = writeln!(o, "choices = [");
                for c in cs {
                    let _ = writeln!(
                        o,
                        "  {{ id = {}, text = {} }},",
                        toml_string(&c.id),
                        toml_localized(&c.text)
                    );
                }
                let _ = writeln!(o, "]");
            }
        }
        o
    }
}
