//! `pollwatch bundle …`: a group's evidence bundle. `export` writes it
//! from the store (`pollwatch_server::ledger::export_bundle`); `verify`
//! needs no database: it checks a bundle file offline with
//! pollwatch-evidence and prints what it found.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use pollwatch_evidence::{Options, Report};

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Write the group's evidence bundle: every event and evidence file
    /// of its log with the tree, its checkpoints (a new one signed now)
    /// and witnesses' cosignatures, sealed with its log key. With
    /// --public, only what may be published: observations without who
    /// sent them, photos without location data; the proof still holds.
    Export(ExportArgs),
    /// Check a bundle file offline: its structure, seal, leaves, entries,
    /// files, checkpoints, witnesses' cosignatures and consistency
    /// proofs. Exits 0 if it verifies, 1 naming every failure.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The bundle (a .tar file).
    pub file: PathBuf,
    /// A checkpoint the group posted, as `ORIGIN SIZE ROOT`: the bundle's
    /// log must contain it.
    #[arg(long)]
    pub checkpoint: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub group: String,
    /// The bundle file to write (a .tar), replaced only once whole.
    #[arg(long)]
    pub out: PathBuf,
    /// The public subset: no private lines, only public kinds of report,
    /// public copies of the photos.
    #[arg(long)]
    pub public: bool,
    #[command(flatten)]
    pub place: crate::evidence::Place,
}

pub async fn run(database: &str, cmd: BundleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BundleCommand::Export(args) => export(database, &args).await,
        BundleCommand::Verify(args) => verify(&args),
    }
}

async fn export(database: &str, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    use pollwatch_server::ledger;
    let store = crate::open_store(database).await?;
    let slug = pollwatch_domain::Slug::parse(&args.group).context("--group")?;
    let group = store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}"))?;
    let keys = args.place.keys(database);
    let key = ledger::signing_key(&*store, &keys, &group, ledger::LOG_KEY)
        .await?
        .with_context(|| {
            format!(
                "no log key of group {slug} in {}: `pollwatch key create --group {slug}`",
                keys.dir().display()
            )
        })?;
    let dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    // Written beside its final name and renamed when sealed: a bundle cut
    // off half-way never takes the name of a bundle.
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    let (file, done) = ledger::export_bundle(
        &*store,
        &args.place.blobs(database),
        &group,
        &key,
        args.public,
        tmp.reopen()?,
    )
    .await?;
    file.sync_all()?;
    drop(file);
    tmp.persist(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} bundle): tree size {}, {} entries, {} files, {} checkpoints",
        args.out.display(),
        if args.public { "public" } else { "full" },
        done.size,
        done.entries,
        done.files,
        done.checkpoints
    );
    println!("checkpoint: {}", done.short);
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let report = pollwatch_evidence::verify(
        file,
        Options {
            checkpoint: args.checkpoint.as_deref(),
        },
    )
    .with_context(|| format!("reading {}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", summary(&report));
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn summary(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let or = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    let _ = writeln!(
        s,
        "{} bundle of {} ({}), tree size {}",
        match r.public {
            Some(true) => "public",
            Some(false) => "full",
            None => "unreadable",
        },
        or(r.group.clone()),
        or(r.origin.clone()),
        or(r.size.map(|n| n.to_string())),
    );
    let _ = writeln!(
        s,
        "{} entries ({} events), {} files, {} checkpoints{}",
        r.entries,
        r.events,
        r.files,
        r.checkpoints.len(),
        r.checkpoints
            .last()
            .map(|c| format!(", the last of size {} root {}", c.size, c.root))
            .unwrap_or_default()
    );
    if r.witnesses.is_empty() {
        let _ = writeln!(s, "cosigned by no witness");
    } else {
        let _ = writeln!(s, "cosigned by {}", r.witnesses.join(", "));
    }
    if r.ok() {
        let _ = writeln!(s, "verified");
    } else {
        let n = r.failures.len() as u64 + r.more_failures;
        let _ = writeln!(s, "NOT VERIFIED: {n} failures");
        for f in &r.failures {
            let _ = writeln!(s, "  {f}");
        }
        if r.more_failures > 0 {
            let _ = writeln!(s, "  … and {} more", r.more_failures);
        }
    }
    s
}
