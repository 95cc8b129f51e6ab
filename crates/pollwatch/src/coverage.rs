//! `pollwatch coverage`: coverage shared between independent groups by
//! signed manifests (`pollwatch_planning::manifest`): export the group's
//! own, import other groups' (the key pinned on first use), and see the
//! combined coverage, stations covered twice and the gaps nobody covers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use pollwatch_domain::{Group, Slug};
use pollwatch_planning::manifest::{self, Window};
use pollwatch_store::Store;

#[derive(Subcommand)]
pub enum CoverageCommand {
    /// Write the group's signed coverage manifest (stations and times, no
    /// observer): its current assignments, or the stations of a plan.
    Export(ExportArgs),
    /// Take in other groups' manifests (files): each signature checked,
    /// each group's key pinned on first use; a newer manifest of a group
    /// replaces its older one.
    Import(ImportArgs),
    /// The combined coverage: ours and the imported manifests, stations
    /// covered twice, and the gaps nobody covers.
    Show(ShowArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long)]
    group: String,
    /// The manifest file to write.
    #[arg(long)]
    out: PathBuf,
    /// A plan (`pollwatch plan`'s CSV) whose stations to announce, rather
    /// than the group's current assignments.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// When the group will be there, `HH:MM-HH:MM`, repeatable.
    #[arg(long = "window", default_value = "07:00-20:00")]
    windows: Vec<String>,
    /// Also share it with the other groups of this instance (`coverage
    /// import --shared` there takes it in).
    #[arg(long)]
    share: bool,
    #[arg(long)]
    election: Option<String>,
    #[command(flatten)]
    place: crate::evidence::Place,
}

#[derive(Args)]
pub struct ImportArgs {
    #[arg(long)]
    group: String,
    /// Manifest files.
    files: Vec<PathBuf>,
    /// Also take in what the other groups of this instance share.
    #[arg(long)]
    shared: bool,
    /// Accept a manifest signed by another key than the one pinned for
    /// its group, and pin the new one. Only after asking that group, by
    /// another channel, whether it really changed its key.
    #[arg(long)]
    accept_new_key: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    #[arg(long)]
    group: String,
    /// Write every station with who covers it as CSV
    /// (`station,district,coverage,groups`).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    election: Option<String>,
}

pub async fn run(db: &str, cmd: CoverageCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CoverageCommand::Export(a) => export(db, a).await,
        CoverageCommand::Import(a) => import(db, a).await,
        CoverageCommand::Show(a) => show(db, a).await,
    }
}

async fn group_of(store: &dyn Store, slug: &str) -> anyhow::Result<Group> {
    let slug = Slug::parse(slug).context("--group")?;
    store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}"))
}

/// The election's stations (number, district) and its name.
async fn election_stations(
    store: &dyn Store,
    election: Option<&str>,
) -> anyhow::Result<(String, Vec<pollwatch_domain::Station>)> {
    let election = crate::pick_election(store, election)
        .await?
        .context("no election: import a station registry first")?;
    let stations = store.stations(election.id).await?;
    Ok((election.slug.as_str().to_owned(), stations))
}

async fn export(db: &str, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(db).await?;
    let group = group_of(&*store, &a.group).await?;
    let keys = a.place.keys(db);
    let key = pollwatch_server::coverage::manifest_key(&*store, &keys, &group).await?;
    let (election, stations) = election_stations(&*store, a.election.as_deref()).await?;
    let windows = a
        .windows
        .iter()
        .map(|w| Window::parse(w).map_err(|e| anyhow::anyhow!("--window {w:?}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let numbers: Vec<String> = match &a.plan {
        None => pollwatch_server::coverage::own_stations(&*store, group.id, &stations).await?,
        Some(path) => {
            let known: std::collections::HashSet<&str> =
                stations.iter().map(|s| s.record.number.as_str()).collect();
            let mut r = csv::Reader::from_path(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let col = r
                .headers()?
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}') == "station")
                .with_context(|| format!("{}:1: no column \"station\"", path.display()))?;
            let mut out = Vec::new();
            for (i, rec) in r.records().enumerate() {
                let rec = rec.with_context(|| format!("{}:{}", path.display(), i + 2))?;
                let n = rec.get(col).unwrap_or("").trim();
                if !known.contains(n) {
                    anyhow::bail!(
                        "{}:{}: station: no station {n:?} in election {election}",
                        path.display(),
                        i + 2
                    );
                }
                out.push(n.to_owned());
            }
            out.sort();
            out.dedup();
            out
        }
    };
    let signed = pollwatch_server::coverage::sign(&group, &key, &election, numbers, &windows)?;
    let (m, signed) = (signed.manifest, signed.text);
    write_atomically(&a.out, signed.as_bytes())
        .with_context(|| format!("writing {}", a.out.display()))?;
    if a.share {
        store
            .share_manifest(group.id, m.issued_at, &signed, pollwatch_store::now())
            .await?;
    }
    eprintln!(
        "wrote the coverage manifest of {} ({} stations, election {}){} to {}",
        group.name,
        m.stations.len(),
        m.election,
        if a.share {
            ", shared on this instance,"
        } else {
            ""
        },
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn import(db: &str, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(db).await?;
    let group = group_of(&*store, &a.group).await?;
    let mut texts: Vec<(String, String)> = Vec::new();
    for f in &a.files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{}: not a manifest (not UTF-8 text)", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    if a.shared {
        for (id, note) in store.shared_manifests(group.id).await? {
            texts.push((format!("shared by group #{id}"), note));
        }
    }
    if texts.is_empty() {
        anyhow::bail!("no manifest given: name files, or --shared");
    }
    let mut refused = 0;
    for (from, text) in &texts {
        match pollwatch_server::coverage::import_one(&*store, &group, text, a.accept_new_key).await
        {
            Ok(line) => eprintln!("{from}: {line}"),
            Err(e) => {
                refused += 1;
                // Through anyhow, for the same chain of causes as every
                // other error the CLI prints.
                eprintln!("{from}: REFUSED: {:#}", anyhow::Error::from(e));
            }
        }
    }
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn show(db: &str, a: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(db).await?;
    let group = group_of(&*store, &a.group).await?;
    let (election, stations) = election_stations(&*store, a.election.as_deref()).await?;
    let own = pollwatch_server::coverage::own_stations(&*store, group.id, &stations).await?;
    let (manifests, refused) = pollwatch_server::coverage::imported(&*store, group.id).await?;
    for (origin, why) in &refused {
        eprintln!("{origin:?}'s stored manifest is refused: {why}");
    }
    let numbers: Vec<String> = stations
        .iter()
        .map(|s| s.record.number.as_str().to_owned())
        .collect();
    let c = manifest::combine(&election, &numbers, &group.name, &own, &manifests);
    let n = &c.counts;
    println!(
        "{} stations: {} covered ({} by us, {} by other groups, {} by us and others), {} covered twice or more, {} gaps",
        n.stations, n.covered, n.by_us, n.by_others, n.by_us_and_others, n.twice_or_more, n.gaps
    );
    for (g, issued) in &c.used {
        println!("  manifest of {g:?}, issued at {issued}");
    }
    for s in &c.skipped {
        println!("  not counted: {}", serde_json::to_string(s)?);
    }
    const SHOWN: usize = 30;
    if !c.covered_twice.is_empty() {
        let first: Vec<&str> = c
            .covered_twice
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect();
        println!(
            "covered twice: {}{}",
            first.join(", "),
            more(c.covered_twice.len(), SHOWN)
        );
    }
    if let Some(out) = &a.out {
        let coverage = c.coverage(&group.name, &numbers);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["station", "district", "coverage", "groups"])?;
        for ((s, number), cov) in stations.iter().zip(&numbers).zip(&coverage) {
            let groups = c
                .stations
                .get(number)
                .map(|cs| {
                    cs.iter()
                        .map(|x| x.group.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            w.write_record([
                number.as_str(),
                &s.record.district,
                coverage_word(*cov),
                &groups,
            ])?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        write_atomically(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {} stations to {}", numbers.len(), out.display());
    } else if !c.gaps.is_empty() {
        let first: Vec<&str> = c.gaps.iter().take(SHOWN).map(String::as_str).collect();
        println!("gaps: {}{}", first.join(", "), more(c.gaps.len(), SHOWN));
    }
    Ok(ExitCode::SUCCESS)
}

fn more(all: usize, shown: usize) -> String {
    if all > shown {
        format!(" and {} more (--out FILE lists every station)", all - shown)
    } else {
        String::new()
    }
}

fn coverage_word(c: pollwatch_planning::map::Coverage) -> &'static str {
    use pollwatch_planning::map::Coverage as C;
    match c {
        C::Ours => "ours",
        C::Others => "others",
        C::Both => "both",
        C::Gap => "gap",
    }
}

/// Write the whole file or leave what was there.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
