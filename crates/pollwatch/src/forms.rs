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
