//! `pollwatch assess`: a group's assessment from its log, by the rules of
//! `forms/assessment.toml` (or a group's own): the overall and per-district
//! ratings with the counts behind them, or the whole assessment as JSON.
//! Nothing in it names an observer.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pollwatch_assessment::{Assessment, Counts, Rating, Rules};
use pollwatch_domain::Slug;

#[derive(Args)]
pub struct AssessArgs {
    /// The group to assess (its slug).
    #[arg(long)]
    group: String,
    /// The whole assessment as JSON: every station, criterion and the
    /// evidence behind each rating.
    #[arg(long)]
    json: bool,
    /// Compare with this stored official result (`pollwatch results
    /// list`), for the rules on the comparison's findings.
    #[arg(long)]
    result: Option<i64>,
    /// A folder of the group's own forms; its `assessment.toml`, if any,
    /// replaces the shipped rules.
    #[arg(long)]
    forms: Option<PathBuf>,
    /// The election (its slug); the latest one if not given.
    #[arg(long)]
    election: Option<String>,
}

/// The rules in force: the folder's `assessment.toml`, else the shipped.
fn rules(
    dir: Option<&std::path::Path>,
    forms: &pollwatch_domain::forms::FormSet,
) -> anyhow::Result<Rules> {
    let (name, text) = match dir.map(|d| d.join("assessment.toml")) {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            (path.display().to_string(), text)
        }
        _ => (
            pollwatch_assessment::DEFAULT_FILE.0.to_owned(),
            pollwatch_assessment::DEFAULT_FILE.1.to_owned(),
        ),
    };
    pollwatch_assessment::parse(&name, &text, forms).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        anyhow::anyhow!("{} error(s) in {name}", errors.len())
    })
}

pub async fn run(db: &str, args: AssessArgs) -> anyhow::Result<ExitCode> {
    let forms = Arc::new(crate::forms::load(args.forms.as_deref())?);
    let rules = rules(args.forms.as_deref(), &forms)?;
    let store = crate::open_store(db).await?;
    let slug = Slug::parse(&args.group).context("--group")?;
    let group = store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}"))?;
    let election = crate::pick_election(&*store, args.election.as_deref()).await?;
    let pollwatch_server::exports::Sources {
        rooms, analysis, ..
    } = pollwatch_server::exports::Sources::new(
        Arc::clone(&store),
        Arc::clone(&forms),
        election.map(|e| e.id),
    );
    let kept = match args.result {
        None => None,
        Some(id) => {
            let info = store.result_import(id).await?.with_context(|| {
                format!("no official result #{id} (see `pollwatch results list`)")
            })?;
            Some(
                analysis
                    .result(&store, &rooms, &info)
                    .await
                    .map_err(|e| anyhow::anyhow!("reading result #{id}: {e}"))?,
            )
        }
    };
    rooms.catch_up(group.id).await?;
    let room = rooms.room(group.id).await?;
    let assessment = {
        let s = room.read().await;
        pollwatch_server::assessment::assess(&rules, &s, kept.as_deref())
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&assessment)?);
    } else {
        print!(
            "{}",
            text(
                &rules,
                &group.slug.to_string(),
                &assessment,
                args.result.is_some()
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn counts(c: &Counts) -> String {
    format!(
        "fair {}, partially fair {}, not fair {}, not rated {}",
        c.fair, c.partially_fair, c.not_fair, c.not_rated
    )
}

fn rating(r: Rating, rules: &Rules) -> &str {
    &r.text(rules).en
}

/// The overall and per-district ratings with their counts.
fn text(rules: &Rules, group: &str, a: &Assessment, compared: bool) -> String {
    let mut out = format!(
        "group {group}: {} (rules version {}; {} of {} stations rated)\n  {}\n",
        rating(a.overall.rating, rules),
        a.rules_version,
        a.overall.counts.rated(),
        a.overall.counts.total(),
        counts(&a.overall.counts),
    );
    if !compared {
        out.push_str("  not compared with an official result (--result ID): criteria on the comparison read only the observers' reports\n");
    }
    for d in &a.districts {
        out.push_str(&format!(
            "{}: {}\n  {}\n",
            d.district,
            rating(d.area.rating, rules),
            counts(&d.area.counts)
        ));
    }
    out
}
