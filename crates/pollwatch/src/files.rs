//! How a tabular file is read, as the registry and results commands take
//! it: `--encoding`, `--delimiter`, `--sheet`. The reading itself is
//! `pollwatch_domain::table`'s.

use pollwatch_domain::table::{self, Encoding};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct FileOptions {
    /// Text encoding of a CSV file: utf-8, windows-1251, koi8-r, utf-16le,
    /// utf-16be (default: a byte-order mark, else UTF-8, else
    /// Windows-1251 or KOI8-R when the text reads as Cyrillic).
    #[arg(long, value_parser = table::parse_encoding)]
    pub encoding: Option<&'static Encoding>,
    /// Field delimiter of a CSV file: , ; | or tab (default: detected).
    #[arg(long, value_parser = table::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// The sheet of an .xlsx, .xls or .ods workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
}

impl FileOptions {
    pub fn options(&self) -> table::Options {
        table::Options {
            encoding: self.encoding,
            delimiter: self.delimiter,
            sheet: self.sheet.clone(),
        }
    }
}
