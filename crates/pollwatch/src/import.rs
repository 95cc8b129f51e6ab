//! `pollwatch stations …`: the station registry from CSV or GeoJSON.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use pollwatch_domain::{Slug, registry, table};
use pollwatch_store::{StationImport, now};

#[derive(Subcommand)]
pub enum StationsCommand {
    /// Import or update the registry from a CSV or GeoJSON file,
    /// all-or-nothing.
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// CSV (header: number,name,address,district,registered_voters,
    /// latitude,longitude,kind,accessibility; any encoding and delimiter,
    /// see --encoding, --delimiter), a workbook with the same header
    /// (.xlsx, .xls, .ods; see --sheet), or GeoJSON points with the same
    /// properties (.geojson or .json). Gzip is read as it is.
    pub file: PathBuf,
    #[command(flatten)]
    pub read: crate::files::FileOptions,
    /// The election the registry belongs to (default: the latest, or a new
    /// one called "main" if there is none).
    #[arg(long)]
    pub election: Option<String>,
    /// A name for the election when it is created by this import.
    #[arg(long, default_value = "Election")]
    pub election_name: String,
    /// Polling day (YYYY-MM-DD) when the election is created by this import.
    #[arg(long, default_value = "")]
    pub polling_day: String,
    /// The election's time zone (IANA, like Europe/Moscow or Asia/Almaty):
    /// staff pages show local times in it and silences count in its
    /// opening hours. Set on the election whether new or not.
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Check the file and report what would change; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// List every changed field (by default the first 50).
    #[arg(long)]
    pub all: bool,
}

pub async fn run(database: &str, cmd: StationsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StationsCommand::Import(args) => import(database, args).await,
    }
}

async fn import(database: &str, args: ImportArgs) -> anyhow::Result<ExitCode> {
    // A wrong zone is refused before anything is stored.
    if let Some(zone) = &args.time_zone {
        let hours = pollwatch_domain::forms::defaults().alerts.hours;
        pollwatch_situation::ElectionClock::new(zone, hours).context("--time-zone")?;
    }
    let progress = crate::progress::bar(4, "reading");
    let (bytes, sha256) = crate::results::read_maybe_gzip(&args.file)?;
    let name = args.file.display().to_string();
    progress.inc(1);
    progress.set_message("validating");
    let lower = name.to_lowercase();
    let lower = lower.strip_suffix(".gz").unwrap_or(&lower);
    let is_geojson = lower.ends_with(".geojson") || lower.ends_with(".json");
    let mut seen = None;
    let parsed = if is_geojson {
        registry::parse_geojson(&name, &bytes)
    } else {
        table::read(&name, &bytes, &args.read.options()).and_then(|t| {
            seen = Some(t.seen.clone());
            registry::parse_table(&t)
        })
    };
    progress.inc(1);
    let parsed = match parsed {
        Ok(p) => p,
        Err(errors) => {
            progress.finish_and_clear();
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "{name}: {} error{}; nothing was imported",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::from(2));
        }
    };
    for w in &parsed.warnings {
        progress.suspend(|| eprintln!("warning: {w}"));
    }

    progress.set_message("storing");
    let store = crate::open_store(database).await?;
    let election = match crate::pick_election(&*store, args.election.as_deref()).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            store
                .ensure_election(
                    &Slug::parse("main")?,
                    &args.election_name,
                    &args.polling_day,
                )
                .await?
        }
        Err(e) if args.election.is_some() => {
            // A named election that does not exist yet is created.
            let slug =
                Slug::parse(args.election.as_deref().unwrap_or("main")).context("--election")?;
            tracing::debug!(error = %e, "creating election");
            store
                .ensure_election(&slug, &args.election_name, &args.polling_day)
                .await?
        }
        Err(e) => return Err(e),
    };
    if let Some(zone) = &args.time_zone
        && !args.dry_run
    {
        store.set_election_time_zone(election.id, zone).await?;
    }
    let count = parsed.stations.len();
    let report = store
        .import_stations(StationImport {
            election_id: election.id,
            source: name.clone(),
            sha256,
            records: parsed.stations,
            dry_run: args.dry_run,
            at: now(),
        })
        .await?;
    progress.inc(2);
    progress.finish_and_clear();

    let verb = if args.dry_run { "would be " } else { "" };
    println!(
        "{name}: {count} stations for election {}: {} {verb}created, {} {verb}updated, {} unchanged{}",
        election.slug,
        report.created,
        report.updated,
        report.unchanged,
        if report.missing_from_file > 0 {
            format!(
                "; {} stored stations are not in the file (kept)",
                report.missing_from_file
            )
        } else {
            String::new()
        }
    );
    if let Some(seen) = &seen {
        println!("  {seen}");
    }
    const SHOWN: usize = 50;
    let shown = if args.all { usize::MAX } else { SHOWN };
    for (number, change) in report.changes.iter().take(shown) {
        println!(
            "  station {number}: {}: {:?} -> {:?}",
            change.field, change.old, change.new
        );
    }
    if report.changes.len() > shown {
        println!(
            "  … and {} more changes (--all lists them)",
            report.changes.len() - shown
        );
    }
    if args.dry_run {
        println!("dry run: nothing was stored");
    }
    Ok(ExitCode::SUCCESS)
}
