//! A group's own forms: the shipped checklists, incident taxonomy and
//! protocol template, with any file of the same name in the group's folder
//! taking its place (and new checklists added). Checked at start: a mistake
//! stops the server with every error named by file and question.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use pollwatch_domain::forms::{self, DEFAULT_FILES, FormSet};

/// The forms in force: the defaults, overridden from `dir`.
pub fn load(dir: Option<&Path>) -> anyhow::Result<FormSet> {
    let Some(dir) = dir else {
        return Ok(forms::defaults());
    };
    let mut files: Vec<(String, String)> = DEFAULT_FILES
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read forms folder {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let shown = path.display().to_string();
        match files
            .iter_mut()
            .find(|(name, _)| name.ends_with(&format!("/{base}")))
        {
            Some(slot) => *slot = (shown, text),
            None => files.push((shown, text)),
        }
    }
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    match forms::load(&borrowed) {
        Ok(set) => Ok(set),
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            bail!(
                "{} error(s) in the forms of {}",
                errors.len(),
                dir.display()
            )
        }
    }
}

/// `pollwatch forms check [DIR]`.
pub fn check(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let set = match load(dir) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    for form in set.checklists.values() {
        println!(
            "checklist {} v{}: {} questions",
            form.id,
            form.version,
            form.questions.len()
        );
    }
    println!(
        "incidents v{}: {} categories; protocol v{}: {} lines, {} candidates, {} control relations",
        set.incidents.version,
        set.incidents.categories.len(),
        set.protocol.version,
        set.protocol.lines.len(),
        set.protocol.candidates.len(),
        set.protocol.relations.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct ImportXlsformArgs {
    /// The XLSForm: .xlsx (as Kobo and ODK export it), .xls, .xlsb or .ods.
    pub file: std::path::PathBuf,
    /// Where to write the checklist (TOML, the forms/ format). Put it in a
    /// group's forms folder and check it with `pollwatch forms check DIR`.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `pollwatch forms import-xlsform FILE --out FILE.toml`: the conversion is
/// the domain's (`forms::xlsform`); reading the workbook is done here.
pub fn import_xlsform(args: ImportXlsformArgs) -> anyhow::Result<ExitCode> {
    use calamine::Reader as _;
    use pollwatch_domain::forms::xlsform;

    let mut book = calamine::open_workbook_auto(&args.file)
        .with_context(|| format!("cannot read {} as a spreadsheet", args.file.display()))?;
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        let range = book
            .worksheet_range(&name)
            .with_context(|| format!("{}: cannot read sheet {name}", args.file.display()))?;
        sheets.push(xlsform::Sheet {
            rows: rows_of(&range),
            name,
        });
    }
    let fallback = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("form")
        .to_owned();
    match xlsform::import(&sheets, &fallback) {
        Ok(imported) => {
            for w in &imported.warnings {
                eprintln!("warning: {w}");
            }
            if args.out.exists() && !args.force {
                bail!("{} exists: give --force to replace it", args.out.display());
            }
            std::fs::write(&args.out, &imported.toml)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!(
                "checklist {} v{}: {} questions written to {}; {} thing(s) not carried over \
                 as they were (listed above and at the top of the file)",
                imported.form.id,
                imported.form.version,
                imported.form.questions.len(),
                args.out.display(),
                imported.warnings.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refused) => {
            for w in &refused.warnings {
                eprintln!("warning: {w}");
            }
            for e in &refused.errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "error: no checklist can be made of {}: {} error(s); nothing written",
                args.file.display(),
                refused.errors.len()
            );
            Ok(ExitCode::from(2))
        }
    }
}

/// A sheet's cells as texts, placed where the spreadsheet has them: the
/// range starts at its first used cell, the rows here at A1, so that the
/// importer's row and column numbers are the ones the user sees.
fn rows_of(range: &calamine::Range<calamine::Data>) -> Vec<Vec<String>> {
    let Some((top, left)) = range.start() else {
        return Vec::new();
    };
    let mut rows = vec![Vec::new(); top as usize];
    for row in range.rows() {
        let mut cells = vec![String::new(); left as usize];
        cells.extend(row.iter().map(pollwatch_domain::table::cell_text));
        rows.push(cells);
    }
    rows
}
