//! `pollwatch export`: the same files as the `/exports` page, written to
//! a file. The file appears whole or not at all (written beside the target
//! and renamed at the end).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pollwatch_domain::Slug;
use pollwatch_server::exports::{self, Format, Sources, What};
use pollwatch_server::i18n::Lang;

#[derive(Args)]
pub struct ExportArgs {
    /// The group whose data to export (its slug).
    #[arg(long)]
    group: String,
    /// reports, incidents, headcounts, protocols, stations or comparison.
    #[arg(long)]
    what: String,
    /// csv (for Excel: UTF-8 with a byte-order mark), xlsx or geojson.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Where to write the file.
    #[arg(long)]
    out: PathBuf,
    /// The language of headers and answers: ru, kk or en.
    #[arg(long, default_value = "en")]
    lang: String,
    /// For the comparison: the id of the official result (`pollwatch
    /// results list`).
    #[arg(long)]
    result: Option<i64>,
    /// The election (its slug); the latest one if not given.
    #[arg(long)]
    election: Option<String>,
}

pub async fn run(db: &str, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let what = What::parse(&args.what).with_context(|| {
        format!(
            "--what {:?}: expected reports, incidents, headcounts, protocols, stations or comparison",
            args.what
        )
    })?;
    let format = Format::parse(&args.format)
        .with_context(|| format!("--format {:?}: expected csv, xlsx or geojson", args.format))?;
    let lang = Lang::parse(&args.lang)
        .with_context(|| format!("--lang {:?}: expected ru, kk or en", args.lang))?;
    if what == What::Comparison && args.result.is_none() {
        anyhow::bail!(
            "--what comparison needs --result ID (the official result's id: see `pollwatch results list`)"
        );
    }
    let store = crate::open_store(db).await?;
    let slug = Slug::parse(&args.group).context("--group")?;
    let group = store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}"))?;
    let election = crate::pick_election(&*store, args.election.as_deref()).await?;
    let src = Sources::new(
        store,
        Arc::new(pollwatch_domain::forms::defaults()),
        election.map(|e| e.id),
    );
    let export = exports::prepare(&src, group.id, what, lang.tr(), args.result)
        .await
        .with_context(|| format!("exporting {}", what.as_str()))?;
    let dir = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let out = std::io::BufWriter::new(tmp);
    let out = exports::write_to(export, format, dir, out)
        .await
        .with_context(|| format!("writing {}", args.out.display()))?;
    let tmp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", args.out.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", args.out.display()))?;
    tmp.persist(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} of group {} to {}",
        what.as_str(),
        group.slug,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
