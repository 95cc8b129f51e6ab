//! `pollwatch bundle …`: a group's evidence bundle. `verify` needs no
//! database: it checks a bundle file offline with pollwatch-evidence and
//! prints what it found.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use pollwatch_evidence::{Options, Report};

#[derive(Subcommand)]
pub enum BundleCommand {
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

pub fn run(cmd: BundleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BundleCommand::Verify(args) => verify(&args),
    }
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
