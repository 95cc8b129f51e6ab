//! `pollwatch report`: the published report of a group as a static site
//! in a folder (`DIR/index.html`, `DIR/ru/`, `DIR/kk/`, `DIR/en/`,
//! `DIR/data/`). The pages are the server's (`pollwatch_server::report`);
//! this only writes them. The folder is written beside its target and
//! renamed at the end, so a half-written report never stands in its place.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pollwatch_domain::Slug;
use pollwatch_server::exports::Sources;
use pollwatch_server::report::{self, Inputs};

#[derive(Args)]
pub struct ReportArgs {
    /// The group whose report to write (its slug).
    #[arg(long)]
    group: String,
    /// The folder to write (made; must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// The official result to compare with (`pollwatch results list`);
    /// the latest imported one if not given.
    #[arg(long)]
    result: Option<i64>,
    /// The election (its slug); the latest one if not given.
    #[arg(long)]
    election: Option<String>,
    /// Where the group's keys and evidence files are: with the group's
    /// log key there, a checkpoint is signed now and the report pins it.
    #[command(flatten)]
    place: crate::evidence::Place,
}

pub async fn run(db: &str, args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists()
        && std::fs::read_dir(&args.out)
            .with_context(|| format!("reading {}", args.out.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} exists and is not empty: give a new folder",
            args.out.display()
        );
    }
    let store = crate::open_store(db).await?;
    let slug = Slug::parse(&args.group).context("--group")?;
    let group = store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}"))?;
    // Pin the log as of this report: take it all into the tree and sign.
    let keys = args.place.keys(db);
    match pollwatch_server::ledger::signing_key(
        &*store,
        &keys,
        &group,
        pollwatch_server::ledger::LOG_KEY,
    )
    .await?
    {
        Some(key) => {
            pollwatch_server::ledger::extend(&*store, &args.place.blobs(db), group.id).await?;
            pollwatch_server::ledger::checkpoint_now(&*store, &group, &key).await?;
        }
        None => eprintln!(
            "note: no log key of group {slug} in {}: the report shows the latest checkpoint, if any (`pollwatch key create`)",
            keys.dir().display()
        ),
    }
    let election = crate::pick_election(&*store, args.election.as_deref()).await?;
    let src = Sources::new(
        store,
        Arc::new(pollwatch_domain::forms::defaults()),
        election.map(|e| e.id),
    );
    let inputs = Inputs {
        result: args.result,
        // Both from the store and the room: the assessment by the shipped
        // rules, the latest checkpoint.
        rating: None,
        checkpoint: None,
        made_at: pollwatch_store::now(),
    };
    let gathered = report::gather(&src, group.id, inputs)
        .await
        .context("reading the group's evidence")?;
    let files = report::site(&gathered).context("rendering the report")?;

    let parent = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".report-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    let mut bytes = 0;
    for (path, body) in &files {
        let at = tmp.path().join(path);
        if let Some(dir) = at.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&at, body).with_context(|| format!("writing {}", at.display()))?;
        bytes += body.len();
    }
    if args.out.exists() {
        std::fs::remove_dir(&args.out)
            .with_context(|| format!("replacing the empty {}", args.out.display()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, &args.out)
        .with_context(|| format!("moving the report to {}", args.out.display()))?;
    eprintln!(
        "wrote the report of group {} to {}: {} files, {} KB; open {}/index.html",
        group.slug,
        args.out.display(),
        files.len(),
        bytes / 1024,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
