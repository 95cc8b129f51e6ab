//! Tabular files as people have them, for the registry and the results
//! imports alike: a CSV in whatever encoding and delimiter the commission's
//! or the volunteer's software wrote, or a workbook (.xlsx, .xls, .xlsb,
//! .ods), turned into a header and rows of cell texts, each row with the
//! line (or sheet row) a person sees it on.
//!
//! What the reader decided (encoding, delimiter, sheet) is kept in
//! [`Seen`], so that every refusal further on can say how the file was
//! read: a wrong guess must show, never be stored silently.
//!
//! - **Encoding.** A byte-order mark (UTF-8, UTF-16LE/BE) is honoured;
//!   valid UTF-8 is UTF-8; otherwise Windows-1251 (or KOI8-R) when the text
//!   reads as plausible Cyrillic. A file some of whose lines are UTF-8 and
//!   others not is refused, naming the lines of each kind: guessing would
//!   garble one part or the other. A given encoding is applied strictly:
//!   undecodable bytes are errors on their lines, never U+FFFD stored.
//! - **Delimiter.** `,` `;` tab or `|`, whichever gives the same number of
//!   fields (more than one) on the first lines, quotes respected; or given.
//! - **Lines.** Counted from the byte offsets of records, so CRLF ends,
//!   blank lines and newlines inside quoted fields all count as a person
//!   counts them.
//! - **Workbooks** are read with calamine from the bytes (no file access):
//!   the first sheet or a named one; rows numbered as the spreadsheet shows
//!   them; whole numbers come back without ".0".
//!
//! **Pure:** bytes in, cells out; no I/O.

use std::fmt;
use std::io::Cursor;

pub use encoding_rs::Encoding;
use encoding_rs::{KOI8_R, UTF_8, WINDOWS_1251};

use crate::registry::RegistryError as InputError;

/// The delimiters tried when none is given, in order of preference on a tie.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Records looked at to choose the delimiter: enough to see past a title
/// row, few enough to stay cheap on a national file.
const SNIFF_RECORDS: usize = 50;

/// Lines named in an encoding refusal; past this the count is given.
const LINES_NAMED: usize = 10;

/// How to read a file; everything left `None` is detected.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The text encoding of a CSV file.
    pub encoding: Option<&'static Encoding>,
    /// The field delimiter of a CSV file.
    pub delimiter: Option<u8>,
    /// The sheet of a workbook (default: the first).
    pub sheet: Option<String>,
}

/// An encoding by the name people give it ("utf-8", "windows-1251",
/// "cp1251", "utf-16le", "koi8-r", any WHATWG label).
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    let label = label.trim();
    let normalised = match label.to_ascii_lowercase().as_str() {
        "1251" | "win1251" | "win-1251" => "windows-1251",
        "utf16le" => "utf-16le",
        "utf16be" => "utf-16be",
        "koi8r" => "koi8-r",
        _ => label,
    }
    .to_owned();
    Encoding::for_label_no_replacement(normalised.as_bytes()).ok_or_else(|| {
        format!(
            "unknown encoding {label:?} (try utf-8, windows-1251, koi8-r, utf-16le or utf-16be)"
        )
    })
}

/// A delimiter as typed on a command line: one ASCII character, or "tab".
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "TAB" | "\\t" | "\t" => Ok(b'\t'),
        _ => match text.as_bytes() {
            [b] if b.is_ascii() && !b.is_ascii_alphanumeric() && *b != b'"' && *b != b'\n' => {
                Ok(*b)
            }
            _ => Err(format!(
                "the delimiter must be one character such as , ; | or \"tab\" (got {text:?})"
            )),
        },
    }
}

/// How the delimiter is shown in messages.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".into(),
        d => format!("'{}'", char::from(d)),
    }
}

/// How a file was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A CSV (or tab-separated) text.
    Text {
        /// The encoding's name ("UTF-8", "windows-1251").
        encoding: &'static str,
        /// How it was chosen: "byte-order mark", "given", "detected".
        encoding_by: &'static str,
        delimiter: u8,
        delimiter_given: bool,
    },
    /// One sheet of a workbook.
    Sheet {
        /// "xlsx", "xls", "xlsb" or "ods".
        format: &'static str,
        sheet: String,
        /// All sheets of the workbook, in order, for messages.
        sheets: Vec<String>,
    },
}

impl Seen {
    pub fn encoding(&self) -> Option<&'static str> {
        match self {
            Seen::Text { encoding, .. } => Some(encoding),
            Seen::Sheet { .. } => None,
        }
    }

    pub fn delimiter(&self) -> Option<u8> {
        match self {
            Seen::Text { delimiter, .. } => Some(*delimiter),
            Seen::Sheet { .. } => None,
        }
    }

    pub fn sheet(&self) -> Option<&str> {
        match self {
            Seen::Sheet { sheet, .. } => Some(sheet),
            Seen::Text { .. } => None,
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Text {
                encoding,
                encoding_by,
                delimiter,
                delimiter_given,
            } => write!(
                f,
                "read as {encoding} ({encoding_by}), delimiter {} ({})",
                delimiter_name(*delimiter),
                if *delimiter_given {
                    "given"
                } else {
                    "detected"
                }
            ),
            Seen::Sheet { format, sheet, .. } => {
                write!(f, "read as sheet {sheet:?} of an .{format} workbook")
            }
        }
    }
}

/// One row: its cells as text (untrimmed) and where a person finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line of the file where the record starts, or the sheet row.
    pub line: usize,
    pub cells: Vec<String>,
}

/// A file read: header, rows, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The name for messages: the file, and for a workbook its sheet
    /// (`stations.xlsx (sheet "Лист1")`), so `file:line` names the place.
    pub file: String,
    pub seen: Seen,
    /// The first non-blank row.
    pub header: Row,
    /// The rows after it; blank rows (all cells empty, as spreadsheets
    /// export at the end) are left out.
    pub rows: Vec<Row>,
    /// Things worth saying that do not stop the import.
    pub warnings: Vec<String>,
}

impl Table {
    /// The header's names, trimmed, for matching and messages.
    pub fn header_names(&self) -> Vec<&str> {
        self.header.cells.iter().map(|c| c.trim()).collect()
    }

    /// For a refusal about columns: how the file was read and the headers
    /// it has, with a hint when the delimiter looks wrong.
    pub fn header_context(&self) -> String {
        let names = self.header_names();
        let mut s = format!("{}; headers seen: {}", self.seen, quoted_list(&names));
        if let Seen::Text { delimiter, .. } = self.seen {
            for d in DELIMITERS {
                if d != delimiter && self.header.cells.iter().any(|c| c.contains(char::from(d))) {
                    let name = delimiter_name(d);
                    s.push_str(&format!(
                        "; the header contains {name}: is that the delimiter? (--delimiter {name})"
                    ));
                    break;
                }
            }
        }
        s
    }

    /// Why a row cannot be read column by column: a CSV row whose number
    /// of fields differs from the header's (a delimiter inside an unquoted
    /// value, or a missing one). A workbook row has no such length.
    pub fn misshapen(&self, row: &Row) -> Option<String> {
        let width = self.header.cells.len();
        match self.seen {
            Seen::Text { delimiter, .. } if row.cells.len() != width => Some(format!(
                "has {} fields but the header has {width} (check for an unquoted {} or a missing one)",
                row.cells.len(),
                delimiter_name(delimiter)
            )),
            _ => None,
        }
    }
}

fn quoted_list(names: &[&str]) -> String {
    const SHOWN: usize = 30;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// The workbook formats, by what the file is called or, failing that, by
/// its first bytes (a renamed export).
fn workbook_format(file: &str, bytes: &[u8]) -> Option<&'static str> {
    let name = file.to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "xlsx" | "xlsm" => Some("xlsx"),
        "xlsb" => Some("xlsb"),
        "xls" => Some("xls"),
        "ods" => Some("ods"),
        "csv" | "tsv" | "txt" => None,
        _ if bytes.starts_with(b"PK\x03\x04") => Some("workbook"),
        _ if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) => Some("xls"),
        _ => None,
    }
}

/// Read a CSV or workbook. Errors are `file:line: field: reason`, all
/// found at once where that makes sense (every undecodable line).
pub fn read(file: &str, bytes: &[u8], options: &Options) -> Result<Table, Vec<InputError>> {
    match workbook_format(file, bytes) {
        Some(format) => read_workbook(file, bytes, options, format),
        None => read_text(file, bytes, options),
    }
}

fn error(file: &str, line: usize, field: &str, reason: impl Into<String>) -> InputError {
    InputError {
        file: file.to_owned(),
        line,
        field: field.to_owned(),
        reason: reason.into(),
    }
}

// ---- text ----

/// Read a CSV text (never a workbook).
pub fn read_text(file: &str, bytes: &[u8], options: &Options) -> Result<Table, Vec<InputError>> {
    let mut warnings = Vec::new();
    if let Some(sheet) = &options.sheet {
        warnings.push(format!(
            "{file}: --sheet {sheet:?} ignored: the file is a CSV text, not a workbook"
        ));
    }
    let (text, encoding, encoding_by) = decode(file, bytes, options.encoding)?;
    let (delimiter, delimiter_given) = match options.delimiter {
        Some(d) => (d, true),
        None => (sniff_delimiter(text.as_bytes()), false),
    };
    let seen = Seen::Text {
        encoding: encoding.name(),
        encoding_by,
        delimiter,
        delimiter_given,
    };
    let data = text.as_bytes();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(data);
    let mut lines = LineCounter::new(data);
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Row> = None;
    let mut rows = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(1, |p| to_usize(p.line()));
                return Err(vec![error(
                    file,
                    line,
                    "(file)",
                    format!("cannot be read as CSV ({seen}): {e}"),
                )]);
            }
        }
        let line = lines.line_of(&record);
        if record.iter().all(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        let row = Row {
            line,
            cells: record
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect(),
        };
        if header.is_none() {
            header = Some(row);
        } else {
            rows.push(row);
        }
    }
    let Some(header) = header else {
        return Err(vec![error(
            file,
            1,
            "(file)",
            "is empty: the first line must be a header naming the columns",
        )]);
    };
    Ok(Table {
        file: file.to_owned(),
        seen,
        header,
        rows,
        warnings,
    })
}

/// The text of the file, its encoding and how that was chosen.
fn decode(
    file: &str,
    bytes: &[u8],
    given: Option<&'static Encoding>,
) -> Result<(String, &'static Encoding, &'static str), Vec<InputError>> {
    if let Some(encoding) = given {
        // A mark of the very encoding given is not text.
        let body = match Encoding::for_bom(bytes) {
            Some((bom, len)) if bom == encoding => bytes.get(len..).unwrap_or_default(),
            _ => bytes,
        };
        return decode_strictly(file, body, encoding, "given").map(|t| (t, encoding, "given"));
    }
    if let Some((encoding, len)) = Encoding::for_bom(bytes) {
        let body = bytes.get(len..).unwrap_or_default();
        return decode_strictly(file, body, encoding, "byte-order mark")
            .map(|t| (t, encoding, "byte-order mark"));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_owned(), UTF_8, "detected"));
    }
    // Not UTF-8 as a whole: is it a mix, or a legacy encoding throughout?
    let mut utf8_lines = Vec::new();
    let mut other_lines = Vec::new();
    let (mut utf8_count, mut other_count) = (0usize, 0usize);
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_ascii() {
            continue;
        }
        if std::str::from_utf8(line).is_ok() {
            utf8_count += 1;
            if utf8_lines.len() < LINES_NAMED {
                utf8_lines.push(i + 1);
            }
        } else {
            other_count += 1;
            if other_lines.len() < LINES_NAMED {
                other_lines.push(i + 1);
            }
        }
    }
    let first_other = other_lines.first().copied().unwrap_or(1);
    if utf8_count > 0 {
        return Err(vec![error(
            file,
            first_other,
            "(encoding)",
            format!(
                "the file mixes encodings: {} UTF-8 text, {} not (Windows-1251 or another legacy encoding?); \
                 nothing was read: save the whole file in one encoding, or give --encoding NAME \
                 (utf-8, windows-1251, koi8-r) to read all of it as one",
                lines_list(&utf8_lines, utf8_count, "is", "are"),
                lines_list(&other_lines, other_count, "is", "are"),
            ),
        )]);
    }
    let mut best: Option<(f64, String, &'static Encoding)> = None;
    for encoding in [WINDOWS_1251, KOI8_R] {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        if had_errors {
            continue;
        }
        if let Some(d) = cyrillic_distance(&text)
            && best.as_ref().is_none_or(|(b, _, _)| d < *b)
        {
            best = Some((d, text.into_owned(), encoding));
        }
    }
    if let Some((_, text, encoding)) = best {
        return Ok((text, encoding, "detected"));
    }
    Err(vec![error(
        file,
        first_other,
        "(encoding)",
        format!(
            "is not UTF-8 ({}), and does not read as Cyrillic text in Windows-1251 or KOI8-R; \
             nothing was read: give --encoding NAME, or save the file as UTF-8",
            lines_list(&other_lines, other_count, "is not valid", "are not valid"),
        ),
    )])
}

/// "line 3 is" / "lines 3, 4 and 9 more are".
fn lines_list(named: &[usize], total: usize, one: &str, many: &str) -> String {
    let list = named
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let more = if total > named.len() {
        format!(" and {} more", total - named.len())
    } else {
        String::new()
    };
    if total == 1 {
        format!("line {list} {one}")
    } else {
        format!("lines {list}{more} {many}")
    }
}

/// Decode with no replacement: every line with bytes the encoding does not
/// have is an error naming it.
fn decode_strictly(
    file: &str,
    bytes: &[u8],
    encoding: &'static Encoding,
    by: &str,
) -> Result<String, Vec<InputError>> {
    if encoding == UTF_8 {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Ok(text.to_owned());
        }
    } else if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    // Find where: decode piece by piece, counting the lines written so far.
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(
        decoder
            .max_utf8_buffer_length_without_replacement(bytes.len())
            .unwrap_or(bytes.len()),
    );
    let mut errors: Vec<InputError> = Vec::new();
    let (mut src, mut line, mut counted, mut bad_lines) = (bytes, 1usize, 0usize, 0usize);
    let mut last_bad_line = 0;
    loop {
        let (result, read) = decoder.decode_to_string_without_replacement(src, &mut out, true);
        line += out
            .as_bytes()
            .get(counted..)
            .map_or(0, |s| s.iter().filter(|&&b| b == b'\n').count());
        counted = out.len();
        src = src.get(read..).unwrap_or_default();
        match result {
            encoding_rs::DecoderResult::InputEmpty => break,
            encoding_rs::DecoderResult::OutputFull => {
                out.reserve(src.len().saturating_mul(3).max(16));
            }
            encoding_rs::DecoderResult::Malformed(..) => {
                if line != last_bad_line {
                    last_bad_line = line;
                    bad_lines += 1;
                    if errors.len() < LINES_NAMED * 10 {
                        errors.push(error(
                            file,
                            line,
                            "(encoding)",
                            format!(
                                "has bytes that are not {} text ({by}); nothing was read: \
                                 give the file's real encoding with --encoding",
                                encoding.name()
                            ),
                        ));
                    }
                }
            }
        }
    }
    if bad_lines > errors.len() {
        errors.push(error(
            file,
            last_bad_line,
            "(encoding)",
            format!(
                "{} more lines are not {} text",
                bad_lines - errors.len(),
                encoding.name()
            ),
        ));
    }
    if errors.is_empty() {
        // Decoding failed as a whole but no piece did: cannot happen, but
        // refusing is the safe answer.
        errors.push(error(
            file,
            1,
            "(encoding)",
            format!("is not {} text", encoding.name()),
        ));
    }
    Err(errors)
}

/// How far a legacy decoding is from text a person wrote, or `None` when it
/// cannot be: its non-ASCII characters must be Cyrillic letters or the
/// punctuation Russian texts use, and no word may mix Latin and Cyrillic
/// letters (a Latin-1 "Müller" read as Windows-1251 is "Mьller"). Among
/// plausible readings the one whose share of vowels is nearest Russian's
/// (about 42%) wins: KOI8-R read as Windows-1251 turns "город" into
/// "ЗПТПД", and Windows-1251 read as KOI8-R turns "УИК" into "схй".
fn cyrillic_distance(text: &str) -> Option<f64> {
    let is_cyrillic = |c: char| ('\u{0400}'..='\u{04FF}').contains(&c);
    let (mut non_ascii, mut odd) = (0usize, 0usize);
    let (mut letters, mut vowels) = (0usize, 0usize);
    for c in text.chars() {
        if c.is_ascii() {
            continue;
        }
        non_ascii += 1;
        if is_cyrillic(c) {
            if c.is_alphabetic() {
                letters += 1;
                if "аеёиоуыэюяіїєАЕЁИОУЫЭЮЯІЇЄ".contains(c) {
                    vowels += 1;
                }
            }
        } else if !"№«»–—“”„‘’…\u{a0}°§©®±·•".contains(c) {
            odd += 1;
        }
    }
    let (mut words, mut mixed) = (0usize, 0usize);
    for word in text.split(|c: char| !c.is_alphabetic()) {
        if word.is_ascii() {
            continue;
        }
        words += 1;
        if word.chars().any(|c| c.is_ascii_alphabetic()) && word.chars().any(is_cyrillic) {
            mixed += 1;
        }
    }
    if letters == 0 || odd * 20 > non_ascii || mixed * 20 > words {
        return None;
    }
    let share = vowels as f64 / letters as f64;
    (0.2..=0.7).contains(&share).then_some((share - 0.42).abs())
}

/// The delimiter that splits the first records into the same number of
/// fields, the most fields on a tie; a file no candidate splits evenly
/// (a bad row among the first) gets the one that splits its header most.
fn sniff_delimiter(data: &[u8]) -> u8 {
    let mut best: Option<(bool, usize, u8)> = None;
    for d in DELIMITERS {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(d)
            .from_reader(data);
        let mut widths = Vec::new();
        let mut record = csv::ByteRecord::new();
        while widths.len() < SNIFF_RECORDS {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {
                    if !record.iter().all(|f| f.trim_ascii().is_empty()) {
                        widths.push(record.len());
                    }
                }
                Ok(false) | Err(_) => break,
            }
        }
        let Some(&header) = widths.first() else {
            continue;
        };
        if header < 2 {
            continue;
        }
        let even = widths.iter().all(|&w| w == header);
        let score = (even, header, d);
        let better = match best {
            None => true,
            Some((e, w, _)) => (even, header) > (e, w),
        };
        if better {
            best = Some(score);
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

/// Turns the csv reader's record positions into the line a person sees the
/// record on.
///
/// `Position::line()` cannot be used as is: the reader stamps a record with
/// the position where it *started looking*, which is before the line break
/// that ended the previous record when lines end in CRLF (the `\n` is still
/// unread), and before any blank lines it skips. Both would put every error
/// in a Windows export one line too early. The byte offset is exact, so
/// count from there, skipping the leftover line breaks. Quoted newlines
/// inside earlier records are counted, as they should be.
struct LineCounter<'a> {
    data: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            offset: 0,
            line: 1,
        }
    }

    fn line_of(&mut self, record: &csv::ByteRecord) -> usize {
        let Some(pos) = record.position() else {
            return self.line;
        };
        let mut start = to_usize(pos.byte()).max(self.offset);
        while matches!(self.data.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let newlines = self
            .data
            .get(self.offset..start)
            .map_or(0, |s| s.iter().filter(|&&b| b == b'\n').count());
        self.line += newlines;
        self.offset = start;
        self.line
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

// ---- workbooks ----

/// A workbook open over the file's bytes.
type Workbook<'a> = calamine::Sheets<Cursor<&'a [u8]>>;

fn read_workbook(
    file: &str,
    bytes: &[u8],
    options: &Options,
    format: &'static str,
) -> Result<Table, Vec<InputError>> {
    use calamine::{Reader as _, Sheets};
    let mut warnings = Vec::new();
    if options.encoding.is_some() || options.delimiter.is_some() {
        warnings.push(format!(
            "{file}: --encoding and --delimiter ignored: the file is a workbook, not a CSV text"
        ));
    }
    let cursor = Cursor::new(bytes);
    let opened: Result<(Workbook<'_>, &'static str), String> = match format {
        "xlsx" => calamine::open_workbook_from_rs(cursor)
            .map(|b| (Sheets::Xlsx(b), "xlsx"))
            .map_err(|e: calamine::XlsxError| e.to_string()),
        "xlsb" => calamine::open_workbook_from_rs(cursor)
            .map(|b| (Sheets::Xlsb(b), "xlsb"))
            .map_err(|e: calamine::XlsbError| e.to_string()),
        "xls" => calamine::open_workbook_from_rs(cursor)
            .map(|b| (Sheets::Xls(b), "xls"))
            .map_err(|e: calamine::XlsError| e.to_string()),
        "ods" => calamine::open_workbook_from_rs(cursor)
            .map(|b| (Sheets::Ods(b), "ods"))
            .map_err(|e: calamine::OdsError| e.to_string()),
        _ => calamine::open_workbook_auto_from_rs(cursor)
            .map(|b| {
                let f = match &b {
                    Sheets::Xlsx(_) => "xlsx",
                    Sheets::Xlsb(_) => "xlsb",
                    Sheets::Xls(_) => "xls",
                    Sheets::Ods(_) => "ods",
                };
                (b, f)
            })
            .map_err(|e| e.to_string()),
    };
    let (mut book, format) = opened.map_err(|e| {
        vec![error(
            file,
            1,
            "(file)",
            format!("cannot be read as an .{format} workbook: {e}"),
        )]
    })?;
    let sheets = book.sheet_names();
    let sheet = match &options.sheet {
        Some(wanted) => match sheets.iter().find(|s| *s == wanted).or_else(|| {
            sheets
                .iter()
                .find(|s| s.trim().to_lowercase() == wanted.trim().to_lowercase())
        }) {
            Some(s) => s.clone(),
            None => {
                return Err(vec![error(
                    file,
                    1,
                    "(sheet)",
                    format!(
                        "has no sheet {wanted:?}; its sheets are {}",
                        quoted_list(&sheets.iter().map(String::as_str).collect::<Vec<_>>())
                    ),
                )]);
            }
        },
        None => match sheets.first() {
            Some(s) => s.clone(),
            None => {
                return Err(vec![error(file, 1, "(file)", "has no sheets")]);
            }
        },
    };
    let shown = format!("{file} (sheet {sheet:?})");
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| vec![error(&shown, 1, "(sheet)", format!("cannot be read: {e}"))])?;
    let seen = Seen::Sheet {
        format,
        sheet: sheet.clone(),
        sheets,
    };
    let top = range.start().map_or(0, |(top, _)| top);
    let mut header: Option<Row> = None;
    let mut rows = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        let line = to_usize(u64::from(top)) + i + 1;
        let cells: Vec<String> = cells.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let row = Row { line, cells };
        if header.is_none() {
            header = Some(row);
        } else {
            rows.push(row);
        }
    }
    let Some(header) = header else {
        return Err(vec![error(
            &shown,
            1,
            "(file)",
            "is empty: the first row must be a header naming the columns",
        )]);
    };
    Ok(Table {
        file: shown,
        seen,
        header,
        rows,
        warnings,
    })
}

/// A cell as the text the user typed: whole numbers without ".0" (a
/// spreadsheet keeps every number as a float), others as Rust prints them
/// (shortest exact form, a dot for decimals).
pub fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d.to_string(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use encoding_rs::{UTF_16BE, UTF_16LE};
    use proptest::prelude::*;

    fn read_default(bytes: &[u8]) -> Result<Table, Vec<InputError>> {
        read("r.csv", bytes, &Options::default())
    }

    /// Header and rows as (line, cells).
    fn check(bytes: &[u8], options: &Options, expected: &[(usize, &[&str])]) -> Seen {
        let t = read("r.csv", bytes, options).unwrap();
        let mut got = vec![(t.header.line, t.header.cells.clone())];
        got.extend(t.rows.iter().map(|r| (r.line, r.cells.clone())));
        let expected: Vec<(usize, Vec<String>)> = expected
            .iter()
            .map(|(l, cells)| (*l, cells.iter().map(|c| (*c).to_owned()).collect()))
            .collect();
        assert_eq!(got, expected);
        t.seen
    }

    fn text(encoding: &'static str, by: &'static str, delimiter: u8, given: bool) -> Seen {
        Seen::Text {
            encoding,
            encoding_by: by,
            delimiter,
            delimiter_given: given,
        }
    }

    const RU: &str = "регион,уик,избиратели\nГород Москва,843,1887\nМосковская область,1,900\n";

    fn ru_rows() -> [(usize, &'static [&'static str]); 3] {
        [
            (1, &["регион", "уик", "избиратели"]),
            (2, &["Город Москва", "843", "1887"]),
            (3, &["Московская область", "1", "900"]),
        ]
    }

    #[test]
    fn utf8_with_and_without_a_mark() {
        let seen = check(RU.as_bytes(), &Options::default(), &ru_rows());
        assert_eq!(seen, text("UTF-8", "detected", b',', false));
        let marked = [b"\xEF\xBB\xBF".as_slice(), RU.as_bytes()].concat();
        let seen = check(&marked, &Options::default(), &ru_rows());
        assert_eq!(seen, text("UTF-8", "byte-order mark", b',', false));
    }

    #[test]
    fn utf16_by_its_mark() {
        for (encoding, mark) in [(UTF_16LE, [0xFF, 0xFE]), (UTF_16BE, [0xFE, 0xFF])] {
            let mut bytes = mark.to_vec();
            for unit in RU.encode_utf16() {
                let b = if encoding == UTF_16LE {
                    unit.to_le_bytes()
                } else {
                    unit.to_be_bytes()
                };
                bytes.extend_from_slice(&b);
            }
            let seen = check(&bytes, &Options::default(), &ru_rows());
            assert_eq!(seen.encoding(), Some(encoding.name()));
        }
    }

    #[test]
    fn windows_1251_and_koi8_r_are_detected_by_their_text() {
        for encoding in [WINDOWS_1251, KOI8_R] {
            let (bytes, _, unmappable) = encoding.encode(RU);
            assert!(!unmappable);
            let seen = check(&bytes, &Options::default(), &ru_rows());
            assert_eq!(seen, text(encoding.name(), "detected", b',', false));
        }
        // Abbreviations only: still the right one.
        let (bytes, _, _) = WINDOWS_1251.encode("номер,имя\n1,УИК № 1\n");
        assert_eq!(
            read_default(&bytes).unwrap().seen.encoding(),
            Some("windows-1251")
        );
    }

    #[test]
    fn text_that_is_no_cyrillic_is_refused_not_guessed() {
        // Latin-1: "Müller" would read as "Mьller".
        let bytes = b"name,city\nM\xfcller,K\xf6ln\nStra\xdfe,D\xfcsseldorf\n";
        let e = read_default(bytes).unwrap_err();
        assert_eq!((e[0].line, e[0].field.as_str()), (2, "(encoding)"));
        assert!(e[0].reason.contains("lines 2, 3 are not valid"), "{}", e[0]);
        assert!(e[0].reason.contains("--encoding"), "{}", e[0]);
        // Given, it is read.
        let options = Options {
            encoding: Some(parse_encoding("latin1").unwrap()),
            ..Options::default()
        };
        let t = read("r.csv", bytes, &options).unwrap();
        assert_eq!(t.rows[0].cells, ["Müller", "Köln"]);
    }

    #[test]
    fn a_file_of_two_encodings_is_refused_naming_the_lines_of_each() {
        let mut bytes = "регион,уик\nГород Москва,1\nabc,2\n".as_bytes().to_vec();
        let (legacy, _, _) = WINDOWS_1251.encode("Московская область,3\nТверь,4\n");
        bytes.extend_from_slice(&legacy);
        bytes.extend_from_slice("Город Москва,5\n".as_bytes());
        let e = read_default(&bytes).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].line, e[0].field.as_str()), (4, "(encoding)"));
        assert!(
            e[0].reason
                .contains("lines 1, 2, 6 are UTF-8 text, lines 4, 5 are not"),
            "{}",
            e[0]
        );
        assert!(e[0].reason.contains("--encoding"), "{}", e[0]);
    }

    #[test]
    fn a_given_encoding_is_strict_and_names_the_bad_lines() {
        let (legacy, _, _) = WINDOWS_1251.encode("Тверь,4\n");
        let bytes = [b"a,b\n".as_slice(), &legacy, b"x,y\n", &legacy].concat();
        let options = Options {
            encoding: Some(UTF_8),
            ..Options::default()
        };
        let e = read("r.csv", &bytes, &options).unwrap_err();
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4]);
        assert!(e[0].reason.contains("not UTF-8 text (given)"), "{}", e[0]);
        let options = Options {
            encoding: Some(parse_encoding("cp1251").unwrap()),
            ..Options::default()
        };
        let t = read("r.csv", &bytes, &options).unwrap();
        assert_eq!(t.rows[0].cells, ["Тверь", "4"]);
        assert_eq!(t.seen.encoding(), Some("windows-1251"));
        // UTF-16 with an odd byte out.
        let options = Options {
            encoding: Some(UTF_16LE),
            ..Options::default()
        };
        let bytes = [b'a', 0, b',', 0, b'b', 0, b'\n', 0, 0x00, 0xD8, b'x', 0];
        let e = read("r.csv", &bytes, &options).unwrap_err();
        assert_eq!(e[0].line, 2, "{e:?}");
    }

    #[test]
    fn encoding_and_delimiter_names() {
        for (label, name) in [
            ("utf-8", "UTF-8"),
            ("UTF8", "UTF-8"),
            ("windows-1251", "windows-1251"),
            ("cp1251", "windows-1251"),
            ("1251", "windows-1251"),
            ("koi8-r", "KOI8-R"),
            ("utf-16le", "UTF-16LE"),
            ("utf-16be", "UTF-16BE"),
        ] {
            assert_eq!(parse_encoding(label).unwrap().name(), name, "{label}");
        }
        assert!(parse_encoding("klingon").is_err());
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("|"), Ok(b'|'));
        assert!(parse_delimiter("ab").is_err());
        assert!(parse_delimiter("a").is_err());
    }

    #[test]
    fn the_delimiter_is_the_one_that_splits_evenly() {
        // Excel in a Russian locale: ';' and decimal commas.
        let bytes = "номер;широта;долгота\n1;55,75;37,61\n2;55,8;37,5\n".as_bytes();
        let seen = check(
            bytes,
            &Options::default(),
            &[
                (1, &["номер", "широта", "долгота"]),
                (2, &["1", "55,75", "37,61"]),
                (3, &["2", "55,8", "37,5"]),
            ],
        );
        assert_eq!(seen.delimiter(), Some(b';'));
        for (d, text) in [
            (b'\t', "a\tb\n1\t2\n"),
            (b'|', "a|b\n1|2\n"),
            (b',', "a,b\n1,2\n"),
        ] {
            assert_eq!(
                read_default(text.as_bytes()).unwrap().seen.delimiter(),
                Some(d)
            );
        }
        // Quotes respected: the ';' inside quotes do not split.
        let quoted = "a,b\n\"x;y;z\",1\n\"p;q\",2\n";
        assert_eq!(
            read_default(quoted.as_bytes()).unwrap().seen.delimiter(),
            Some(b',')
        );
        // Given, it is used even when another splits better.
        let options = Options {
            delimiter: Some(b','),
            ..Options::default()
        };
        let t = read("r.csv", "a;b\n1;2\n".as_bytes(), &options).unwrap();
        assert_eq!(t.header.cells, ["a;b"]);
        assert!(
            t.header_context().contains("--delimiter ';'"),
            "{}",
            t.header_context()
        );
        assert!(t.header_context().contains("headers seen: \"a;b\""));
    }

    #[test]
    fn lines_count_crlf_blank_lines_and_quoted_newlines() {
        let bytes = b"\r\na,b\r\n1,2\r\n\r\n\"x\r\ny\",3\r\n4,5\r\n,\r\n6,7";
        check(
            bytes,
            &Options::default(),
            &[
                (2, &["a", "b"]),
                (3, &["1", "2"]),
                (5, &["x\r\ny", "3"]),
                (7, &["4", "5"]),
                (9, &["6", "7"]),
            ],
        );
    }

    #[test]
    fn empty_files_are_refused_on_line_1() {
        for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\n", b" , \n"] {
            let e = read_default(bytes).unwrap_err();
            assert_eq!((e[0].line, e[0].field.as_str()), (1, "(file)"), "{bytes:?}");
        }
    }

    #[test]
    fn misshapen_rows_are_found() {
        let t = read_default(b"a,b\n1,2\n3\n4,5,6\n").unwrap();
        let lines: Vec<usize> = t
            .rows
            .iter()
            .filter(|r| t.misshapen(r).is_some())
            .map(|r| r.line)
            .collect();
        assert_eq!(lines, [3, 4]);
        assert_eq!(
            t.misshapen(&t.rows[1]).unwrap(),
            "has 1 fields but the header has 2 (check for an unquoted ',' or a missing one)"
        );
    }

    fn xlsx(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        for (name, rows) in sheets {
            let sheet = book.add_worksheet();
            sheet.set_name(*name).unwrap();
            for (r, row) in rows.iter().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    let (r, c) = (r as u32 + 1, c as u16);
                    match cell.parse::<f64>() {
                        Ok(n) => sheet.write_number(r, c, n).unwrap(),
                        Err(_) => sheet.write_string(r, c, *cell).unwrap(),
                    };
                }
            }
        }
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn xlsx_sheets_by_name_or_the_first_with_spreadsheet_rows() {
        let bytes = xlsx(&[
            ("Итоги", &[&["регион", "уик"], &["Город Москва", "843"]]),
            (
                "Участки",
                &[&["number", "lat"], &["7", "55.75"], &["", ""], &["8", "3"]],
            ),
        ]);
        // Written from row 2 on (row 1 left empty): rows keep their places.
        let t = read("s.xlsx", &bytes, &Options::default()).unwrap();
        assert_eq!(t.file, "s.xlsx (sheet \"Итоги\")");
        assert_eq!(
            (t.header.line, t.header.cells.clone()),
            (2, vec!["регион".into(), "уик".into()])
        );
        assert_eq!(t.rows[0].cells, ["Город Москва", "843"], "no .0");
        let options = Options {
            sheet: Some("участки".into()),
            ..Options::default()
        };
        let t = read("s.xlsx", &bytes, &options).unwrap();
        assert_eq!(t.seen.sheet(), Some("Участки"));
        let rows: Vec<(usize, Vec<String>)> =
            t.rows.iter().map(|r| (r.line, r.cells.clone())).collect();
        assert_eq!(
            rows,
            [
                (3, vec!["7".to_owned(), "55.75".to_owned()]),
                (5, vec!["8".to_owned(), "3".to_owned()])
            ]
        );
        assert_eq!(
            t.seen.to_string(),
            "read as sheet \"Участки\" of an .xlsx workbook"
        );
        let options = Options {
            sheet: Some("Лист1".into()),
            ..Options::default()
        };
        let e = read("s.xlsx", &bytes, &options).unwrap_err();
        assert_eq!(e[0].field, "(sheet)");
        assert!(e[0].reason.contains("\"Итоги\", \"Участки\""), "{}", e[0]);
        // A renamed workbook is still one; a broken one is an error.
        assert!(read("s.dat", &bytes, &Options::default()).is_ok());
        let e = read("s.xlsx", b"PK\x03\x04garbage", &Options::default()).unwrap_err();
        assert!(
            e[0].reason.contains("cannot be read as an .xlsx workbook"),
            "{}",
            e[0]
        );
    }

    /// The smallest OpenDocument spreadsheet calamine reads: a mimetype
    /// a content.xml with one table and its manifest.
    pub(crate) fn ods(sheet: &str, rows: &[&[&str]]) -> Vec<u8> {
        use std::io::Write;
        let mut body = String::new();
        for row in rows {
            body.push_str("<table:table-row>");
            for cell in *row {
                if cell.parse::<f64>().is_ok() {
                    body.push_str(&format!(
                        "<table:table-cell office:value-type=\"float\" office:value=\"{cell}\"><text:p>{cell}</text:p></table:table-cell>"
                    ));
                } else {
                    body.push_str(&format!(
                        "<table:table-cell office:value-type=\"string\"><text:p>{cell}</text:p></table:table-cell>"
                    ));
                }
            }
            body.push_str("</table:table-row>");
        }
        let content = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="{sheet}">{body}</table:table></office:spreadsheet></office:body></office:document-content>"#
        );
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", stored).unwrap();
        zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        zip.start_file("content.xml", stored).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
        zip.start_file("META-INF/manifest.xml", stored).unwrap();
        zip.write_all(
            br#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
        )
        .unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn ods_is_read() {
        let bytes = ods("Лист1", &[&["номер", "избиратели"], &["843", "1887"]]);
        let t = read("s.ods", &bytes, &Options::default()).unwrap();
        assert_eq!(t.seen.sheet(), Some("Лист1"));
        assert_eq!(t.rows[0].cells, ["843", "1887"]);
        assert_eq!(t.rows[0].line, 2);
    }

    // ---- properties ----

    /// A cell: letters the encodings share, spaces, quotes, newlines, and
    /// `\u{1}` standing for the delimiter.
    fn cell() -> impl Strategy<Value = String> {
        "[a-zA-Zа-яА-ЯёЁ0-9 \"\n\u{1}]{0,8}"
    }

    fn rows() -> impl Strategy<Value = Vec<Vec<String>>> {
        (1usize..5).prop_flat_map(|width| {
            proptest::collection::vec(
                (
                    "[a-zа-я]{1,5}",
                    proptest::collection::vec(cell(), width - 1),
                )
                    .prop_map(|(first, rest)| {
                        std::iter::once(first).chain(rest).collect::<Vec<_>>()
                    }),
                1..8,
            )
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            for name in ["f.csv", "f.xlsx", "f.ods", "f.xls"] {
                if let Err(errors) = read(name, &bytes, &Options::default()) {
                    prop_assert!(!errors.is_empty());
                }
            }
            let _ = read("f.csv", &bytes, &Options { encoding: Some(UTF_16BE), ..Options::default() });
        }

        #[test]
        fn written_csv_reads_back_with_its_lines(
            rows in rows(),
            d in proptest::sample::select(DELIMITERS.to_vec()),
            encoding in 0usize..5,
            crlf in any::<bool>(),
            give_delimiter in any::<bool>(),
        ) {
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|r| r.into_iter().map(|c| c.replace('\u{1}', &char::from(d).to_string())).collect())
                .collect();
            let mut text = String::new();
            let mut lines = Vec::new();
            let mut line = 1;
            for row in &rows {
                let mut w = csv::WriterBuilder::new()
                    .delimiter(d)
                    .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
                    .from_writer(Vec::new());
                w.write_record(row).unwrap();
                let record = String::from_utf8(w.into_inner().unwrap()).unwrap();
                lines.push(line);
                line += record.matches('\n').count();
                text.push_str(&record);
            }
            let (bytes, options) = match encoding {
                0 => (text.as_bytes().to_vec(), Options::default()),
                1 => ([b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(), Options::default()),
                2 => {
                    let mut b = vec![0xFF, 0xFE];
                    b.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                    (b, Options::default())
                }
                3 => {
                    let mut b = vec![0xFE, 0xFF];
                    b.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
                    (b, Options::default())
                }
                _ => {
                    let (b, _, _) = WINDOWS_1251.encode(&text);
                    (b.into_owned(), Options { encoding: Some(WINDOWS_1251), ..Options::default() })
                }
            };
            // Detection needs two columns to split; a one-column file is
            // read with any delimiter alike.
            let width = rows[0].len();
            let options = Options {
                delimiter: (give_delimiter || width == 1).then_some(d),
                ..options
            };
            let t = read("rt.csv", &bytes, &options).unwrap();
            prop_assert_eq!(t.seen.delimiter(), Some(d));
            let mut got = vec![(t.header.line, t.header.cells.clone())];
            got.extend(t.rows.iter().map(|r| (r.line, r.cells.clone())));
            let expected: Vec<(usize, Vec<String>)> = lines.into_iter().zip(rows).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
