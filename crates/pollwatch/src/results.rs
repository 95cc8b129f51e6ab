//! After the vote: `results import`, `forensics`, `quickcount`,
//! `quickcount-plan` and `compare`. These commands read files and the store
//! and hand the figures to the pure analysis crate; they compute nothing
//! themselves.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use pollwatch_analysis::matching;
use pollwatch_analysis::{compare, forensics, quickcount};
use pollwatch_domain::Slug;
use pollwatch_domain::results::{Mapping, ObservedFigures, ResultSet, parse_results_table};
use pollwatch_domain::table;
use pollwatch_store::{ResultImport, Store, now};
use sha2::{Digest, Sha256};

/// A results file read through its mapping.
pub struct Loaded {
    pub set: ResultSet,
    pub observed: Vec<ObservedFigures>,
    pub mapping: Mapping,
    pub mapping_text: String,
    pub sha256: String,
    pub file_name: String,
    /// How the file was read (encoding, delimiter, sheet).
    pub seen: pollwatch_domain::table::Seen,
}

/// Read a file, gunzipping it when it starts with the gzip magic bytes.
/// The hash is of the file as it lies on disk.
pub fn read_maybe_gzip(path: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let sha = hex::encode(Sha256::digest(&raw));
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{} is not valid gzip", path.display()))?;
        Ok((out, sha))
    } else {
        Ok((raw, sha))
    }
}

/// Load a results file; on bad input print every error and answer `None`.
pub fn load(file: &Path, mapping: &Path, read: &table::Options) -> anyhow::Result<Option<Loaded>> {
    let mapping_name = mapping.display().to_string();
    let mapping_text = std::fs::read_to_string(mapping)
        .with_context(|| format!("cannot read mapping {mapping_name}"))?;
    let parsed_mapping = match Mapping::parse(&mapping_name, &mapping_text) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return Ok(None);
        }
    };
    let (bytes, sha256) = read_maybe_gzip(file)?;
    let file_name = file.display().to_string();
    let parsed = table::read(&file_name, &bytes, read).and_then(|t| {
        for w in &t.warnings {
            eprintln!("warning: {w}");
        }
        parse_results_table(&t, &parsed_mapping).map(|r| (r, t.seen))
    });
    match parsed {
        Ok(((set, observed), seen)) => Ok(Some(Loaded {
            set,
            observed,
            mapping: parsed_mapping,
            mapping_text,
            sha256,
            file_name,
            seen,
        })),
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "{file_name}: {} error{}; nothing was read",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            Ok(None)
        }
    }
}

#[derive(Args)]
pub struct ResultsFile {
    /// Per-station official results: CSV (gzip is read as it is) or a
    /// workbook (.xlsx, .xls, .ods).
    #[arg(long = "results")]
    pub file: PathBuf,
    /// Which column is what (TOML); see mappings/ for examples.
    #[arg(long)]
    pub mapping: PathBuf,
    /// How the --results file is read.
    #[command(flatten)]
    pub read: crate::files::FileOptions,
}

#[derive(clap::Subcommand)]
pub enum ResultsCommand {
    /// Store an official result (all-or-nothing, with its source, time of
    /// import and the file's SHA-256). Importing the same file again
    /// stores nothing.
    Import(ImportArgs),
    /// List the stored official results.
    List,
}

pub async fn run_results(database: &str, cmd: ResultsCommand) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    match cmd {
        ResultsCommand::Import(args) => return import(&*store, args).await,
        ResultsCommand::List => {
            for i in store.result_imports().await? {
                println!(
                    "#{} {} — {} stations — {} — sha256 {}",
                    i.id,
                    i.name,
                    i.stations,
                    i.file_name,
                    &i.sha256[..i.sha256.len().min(16)]
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ImportArgs {
    /// Per-station official results: CSV (any encoding and delimiter; gzip
    /// is read as it is) or a workbook (.xlsx, .xls, .ods).
    pub file: PathBuf,
    /// Which column is what (TOML); see mappings/ for examples.
    #[arg(long)]
    pub mapping: PathBuf,
    #[command(flatten)]
    pub read: crate::files::FileOptions,
    /// The group's region in a national file ("Город Москва", compared
    /// ignoring case): its stations are the registry's, by number. Stored
    /// with the result (as the mapping's home_region). Without it the
    /// region is found from the registry. Needs the mapping's
    /// columns.station_number.
    #[arg(long)]
    pub region: Option<String>,
    /// List every station on one side and not the other (by default the
    /// first 10 of each).
    #[arg(long)]
    pub all: bool,
    /// Print what was stored and matched as JSON (with every list).
    #[arg(long)]
    pub json: bool,
}

/// `results import`: store the result, then say how it matches the
/// registry of the latest election.
async fn import(store: &dyn Store, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let progress = crate::progress::bar(2, "reading");
    let Some(mut loaded) = load(&args.file, &args.mapping, &args.read.options())? else {
        progress.finish_and_clear();
        return Ok(ExitCode::from(2));
    };
    progress.inc(1);
    let key = loaded.mapping.station_key();
    let region = args
        .region
        .clone()
        .or_else(|| loaded.mapping.home_region.clone());
    if let Some(given) = &region {
        progress.finish_and_clear();
        if !key.has_region() {
            eprintln!(
                "{}: --region needs the mapping to say which station column is the number (columns.station_number); nothing was stored",
                args.mapping.display()
            );
            return Ok(ExitCode::from(2));
        }
        // Checked before anything is stored: a misspelt region would
        // store a result that no station of the group matches.
        let named = match matching::match_registry(&loaded.set, key, Some(given), &[]) {
            Ok(m) => match m.home {
                matching::Home::Region { region, .. } => region,
                matching::Home::Ids => given.clone(),
            },
            Err(e) => {
                eprintln!("{}: {e}; nothing was stored", loaded.file_name);
                return Ok(ExitCode::from(2));
            }
        };
        match loaded
            .mapping
            .text_with_home_region(&loaded.mapping_text, &named)
        {
            Ok(text) => loaded.mapping_text = text,
            Err(e) => {
                eprintln!("{}: {e}; nothing was stored", args.mapping.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    progress.set_message("storing");
    let (info, created) = store
        .import_results(ResultImport {
            name: loaded.mapping.name.clone(),
            source: loaded.mapping.source.clone(),
            file_name: loaded.file_name.clone(),
            sha256: loaded.sha256.clone(),
            mapping: loaded.mapping_text.clone(),
            set: &loaded.set,
            observed: &loaded.observed,
            at: now(),
        })
        .await?;
    progress.finish_and_clear();

    let registry = match crate::pick_election(store, None).await? {
        Some(e) => store.stations(e.id).await?,
        None => Vec::new(),
    };
    let stations: Vec<matching::RegistryStation<'_>> = registry
        .iter()
        .map(|s| matching::RegistryStation {
            number: s.record.number.as_str(),
            registered_voters: s.record.registered_voters,
        })
        .collect();
    let matched = if stations.is_empty() && region.is_none() {
        Err("no station registry is imported: nothing to match the result with".to_owned())
    } else {
        matching::match_registry(&loaded.set, key, region.as_deref(), &stations)
            .map_err(|e| e.to_string())
    };

    if args.json {
        let out = serde_json::json!({
            "result": {
                "id": info.id,
                "name": info.name,
                "stations": info.stations,
                "skipped_incomplete": info.skipped_incomplete,
                "sha256": info.sha256,
                "created": created,
            },
            "read": loaded.seen.to_string(),
            "matching": match &matched {
                Ok(m) => serde_json::to_value(m)?,
                Err(e) => serde_json::json!({ "error": e }),
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if created {
        println!(
            "{}: stored {} stations as result #{} ({}){}",
            loaded.file_name,
            info.stations,
            info.id,
            info.name,
            if info.skipped_incomplete > 0 {
                format!(
                    "; {} rows without published figures left out",
                    info.skipped_incomplete
                )
            } else {
                String::new()
            }
        );
        if !loaded.observed.is_empty() {
            println!(
                "  with observers' figures for {} stations",
                loaded.observed.len()
            );
        }
    } else {
        println!(
            "{}: already stored as result #{} (same file, same mapping); nothing changed",
            loaded.file_name, info.id
        );
    }
    println!("  {}", loaded.seen);
    println!("  sha256 {}", info.sha256);
    match &matched {
        Ok(m) => {
            println!("  {}", m.summary());
            let shown = if args.all { usize::MAX } else { 10 };
            let lists = [
                ("registry stations without a result", &m.without_result),
                ("result stations not in the registry", &m.outside_registry),
            ];
            for (what, list) in lists {
                if list.is_empty() {
                    continue;
                }
                println!("  {what}:");
                for s in list.iter().take(shown) {
                    println!("    {s}");
                }
                if list.len() > shown {
                    println!("    … and {} more (--all lists them)", list.len() - shown);
                }
            }
        }
        Err(e) => println!("  not matched with the registry: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ForensicsArgs {
    #[command(flatten)]
    pub results: ResultsFile,
    /// Seed of the resampling and the model simulation.
    #[arg(long, default_value_t = forensics::Params::default().seed)]
    pub seed: u64,
    /// Resampling draws for the integer-percentage null model (at least 1000).
    #[arg(long, default_value_t = forensics::Params::default().draws)]
    pub draws: usize,
    #[arg(long)]
    pub json: bool,
    /// List every outlier station (by default the 10 most anomalous).
    #[arg(long)]
    pub all: bool,
}

pub fn run_forensics(args: ForensicsArgs) -> anyhow::Result<ExitCode> {
    if args.draws < 1000 {
        bail!("--draws must be at least 1000");
    }
    let progress = crate::progress::bar(2, "reading");
    let started = Instant::now();
    let Some(loaded) = load(
        &args.results.file,
        &args.results.mapping,
        &args.results.read.options(),
    )?
    else {
        progress.finish_and_clear();
        return Ok(ExitCode::from(2));
    };
    let read_secs = started.elapsed().as_secs_f64();
    progress.inc(1);
    progress.set_message("analysing");
    let params = forensics::Params {
        seed: args.seed,
        draws: args.draws,
        ..forensics::Params::default()
    };
    let t = Instant::now();
    let report = forensics::run(&loaded.set, &params);
    let analyse_secs = t.elapsed().as_secs_f64();
    progress.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{} — {}", loaded.mapping.name, loaded.file_name);
        if !loaded.mapping.source.is_empty() {
            println!("source: {}", loaded.mapping.source);
        }
        print!(
            "{}",
            forensics_summary(&loaded.set, &report, if args.all { usize::MAX } else { 10 })
        );
        println!("read in {read_secs:.2} s, analysed in {analyse_secs:.2} s");
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "n/a".into())
}

/// The readable summary of a forensics report.
/// At most `outliers` outlier stations are listed, and the rest counted.
pub fn forensics_summary(set: &ResultSet, r: &forensics::Report, outliers: usize) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let leader = set.candidates.get(set.leader).cloned().unwrap_or_default();
    let _ = writeln!(s, "{} stations; leader: {leader}", r.stations);
    let ip = &r.integer_percent;
    let _ = writeln!(
        s,
        "integer percentages (Kobak, Shpilkin & Pshenichnikov 2016), {} stations included:\n  turnout {} (expected {:.1}), leader {} (expected {:.1}), either {} (expected {:.1}, excess {:.1}, z = {:.1})",
        ip.stations,
        ip.turnout,
        ip.expected_turnout,
        ip.leader,
        ip.expected_leader,
        ip.either,
        ip.expected_either,
        ip.excess_either,
        ip.z_either
    );
    let sh = &r.shpilkin;
    let _ = writeln!(
        s,
        "excess votes (Shpilkin): {}",
        match sh.mode_bin_low_percent {
            Some(p) => format!(
                "turnout mode in ({p}%, {}%]; about {:.0} votes for the leader above the mode's ratio",
                p + 1,
                sh.excess_votes
            ),
            None => "too few stations to find a turnout mode".into(),
        }
    );
    let k = &r.klimek;
    let _ = writeln!(
        s,
        "stuffing model (Klimek et al. 2012): incremental fraud f_i = {}, extreme fraud f_e = {}, alpha = {}",
        fmt_opt(k.f_i, 3),
        fmt_opt(k.f_e, 3),
        fmt_opt(k.alpha, 2)
    );
    for d in &r.second_digit {
        let _ = writeln!(
            s,
            "second digit {}: n = {}, mean {} (Benford 4.187), chi2 = {:.1} (9 df)",
            d.party,
            d.n,
            fmt_opt(d.mean, 3),
            d.chi2
        );
    }
    let _ = writeln!(s, "most anomalous stations:");
    for o in r.outliers.iter().take(outliers) {
        let _ = writeln!(s, "  {}: {}", o.station, o.reason);
    }
    if r.outliers.len() > outliers {
        let _ = writeln!(
            s,
            "  … and {} more (--all lists them)",
            r.outliers.len() - outliers
        );
    }
    s
}

#[derive(Args)]
pub struct QuickcountArgs {
    /// The sample stations' protocol figures.
    #[command(flatten)]
    pub results: ResultsFile,
    /// Stations in the whole election (applies the finite-population correction).
    #[arg(long)]
    pub population_stations: Option<usize>,
    /// The official result of all stations, to say whether it lies inside the interval.
    #[arg(long, requires = "official_mapping")]
    pub official: Option<PathBuf>,
    #[arg(long)]
    pub official_mapping: Option<PathBuf>,
    /// Stratify by this column (e.g. region or district): the sample was
    /// drawn per stratum, and the stratum sizes come from --official.
    #[arg(long, requires = "official")]
    pub strata_column: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run_quickcount(args: QuickcountArgs) -> anyhow::Result<ExitCode> {
    let sample_read = args.results.read.options();
    let Some(sample) = load(&args.results.file, &args.results.mapping, &sample_read)? else {
        return Ok(ExitCode::from(2));
    };
    let official = match (&args.official, &args.official_mapping) {
        (Some(f), Some(m)) => match load(f, m, &table::Options::default())? {
            Some(l) => Some(l),
            None => return Ok(ExitCode::from(2)),
        },
        _ => None,
    };
    let qc = match (&args.strata_column, &official) {
        (Some(column), Some(population)) => {
            let strata_of = |path: &Path,
                             loaded: &Loaded,
                             read: &table::Options|
             -> anyhow::Result<_> {
                let (bytes, _) = read_maybe_gzip(path)?;
                let t = table::read(&loaded.file_name, &bytes, read).map_err(|e| {
                    anyhow::anyhow!("{}", e.first().map(ToString::to_string).unwrap_or_default())
                })?;
                Ok(pollwatch_domain::results::column_by_station_table(
                    &t,
                    &loaded.mapping,
                    column,
                )?)
            };
            let mut strata = strata_of(&args.results.file, &sample, &sample_read)?;
            if let Some(path) = &args.official {
                strata.extend(strata_of(path, population, &table::Options::default())?);
            }
            let sizes = quickcount::stratum_sizes(&population.set, &strata);
            quickcount::estimate_stratified(&sample.set, &strata, &sizes, Some(&population.set))
        }
        _ => quickcount::estimate(
            &sample.set,
            args.population_stations,
            official.as_ref().map(|o| &o.set),
        ),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&qc)?);
    } else {
        println!(
            "quick count from {} sample stations{}",
            qc.sample_stations,
            args.population_stations
                .map(|n| format!(" of {n}"))
                .unwrap_or_default()
        );
        for e in qc.candidates.iter().chain(std::iter::once(&qc.turnout)) {
            let official = match (e.official, e.inside95) {
                (Some(o), Some(inside)) => format!(
                    "; official {o:.2}% {} the 95% interval",
                    if inside { "inside" } else { "OUTSIDE" }
                ),
                _ => String::new(),
            };
            println!(
                "  {:<24} {}% ± {} (95%), ± {} (99%){official}",
                e.candidate,
                fmt_opt(e.estimate, 2),
                fmt_opt(e.moe95, 2),
                fmt_opt(e.moe99, 2)
            );
        }
        println!("{}", qc.method);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct PlanArgs {
    /// The margin of error wanted, in percentage points.
    #[arg(long)]
    pub moe: f64,
    /// 0.95 or 0.99.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    #[arg(long)]
    pub population_stations: usize,
    /// The closest share to plan for (0.5 is the safe choice).
    #[arg(long, default_value_t = 0.5)]
    pub expected_share: f64,
    /// Mean valid votes per station.
    #[arg(long)]
    pub mean_valid: f64,
    /// How much station clustering inflates the variance (NDI suggests 1.5 to 2 without pilot data).
    #[arg(long, default_value_t = 1.5)]
    pub design_effect: f64,
    #[arg(long)]
    pub json: bool,
}

pub fn run_plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let plan = quickcount::plan(
        args.moe,
        args.confidence,
        args.population_stations,
        args.expected_share,
        args.mean_valid,
        args.design_effect,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!(
            "sample {} stations (about {} voters) for ± {} points at {:.0}% confidence\n{}",
            plan.stations_needed,
            plan.voters_covered_approx,
            args.moe,
            args.confidence * 100.0,
            plan.formula
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct CompareArgs {
    /// The official results.
    #[command(flatten)]
    pub results: ResultsFile,
    /// A file of observers' figures (its mapping needs an [observed] table).
    /// Without it, the results file's own [observed] columns are used.
    #[arg(long, requires = "observed_mapping")]
    pub observed: Option<PathBuf>,
    #[arg(long)]
    pub observed_mapping: Option<PathBuf>,
    /// Use this group's stored reports (protocol copies, headcounts) as the
    /// observers' figures.
    #[arg(long, conflicts_with = "observed")]
    pub group: Option<String>,
    /// With --group: the group's region in a national results file (see
    /// `results import --region`); without it, the mapping's home_region,
    /// or the region found from the registry.
    #[arg(long, requires = "group")]
    pub region: Option<String>,
    /// Allowed gap between the official turnout and the observers' headcount.
    #[arg(long, default_value_t = compare::Rules::default().headcount_tolerance)]
    pub headcount_tolerance: u64,
    #[arg(long)]
    pub json: bool,
    /// List every station with findings (by default the first 50).
    #[arg(long)]
    pub all: bool,
}

pub async fn run_compare(database: &str, args: CompareArgs) -> anyhow::Result<ExitCode> {
    let Some(mut official) = load(
        &args.results.file,
        &args.results.mapping,
        &args.results.read.options(),
    )?
    else {
        return Ok(ExitCode::from(2));
    };
    let mut matched_note = None;
    let mut rules = compare::Rules {
        headcount_tolerance: args.headcount_tolerance,
        ..compare::Rules::default()
    };
    let observed: Vec<compare::Observed> = match (
        &args.observed,
        &args.observed_mapping,
        &args.group,
    ) {
        (Some(f), Some(m), _) => {
            let Some(l) = load(f, m, &table::Options::default())? else {
                return Ok(ExitCode::from(2));
            };
            let Some(o) = &l.mapping.observed else {
                bail!("{} has no [observed] table", m.display());
            };
            rules.votes_are_lower_bound = o.lower_bound;
            l.observed.into_iter().map(Into::into).collect()
        }
        (_, _, Some(group)) => {
            let store = crate::open_store(database).await?;
            let region = args
                .region
                .as_deref()
                .or(official.mapping.home_region.as_deref());
            // The group's reports name registry stations: find each one's
            // row (in a national file, in the group's region).
            let registry = match crate::pick_election(&*store, None).await? {
                Some(e) => store.stations(e.id).await?,
                None => Vec::new(),
            };
            let stations: Vec<matching::RegistryStation<'_>> = registry
                .iter()
                .map(|s| matching::RegistryStation {
                    number: s.record.number.as_str(),
                    registered_voters: s.record.registered_voters,
                })
                .collect();
            let key = official.mapping.station_key();
            match matching::match_registry(&official.set, key, region, &stations) {
                Ok(m) => {
                    let set = std::mem::replace(
                        &mut official.set,
                        ResultSet {
                            candidates: Vec::new(),
                            leader: 0,
                            stations: Vec::new(),
                            skipped_incomplete: 0,
                        },
                    );
                    official.set = m.apply(set);
                    matched_note = Some(m.summary());
                }
                Err(e) if region.is_some() => bail!("{e}"),
                Err(e) => matched_note = Some(format!("not matched with the registry: {e}")),
            }
            observed_from_store(store, group, &official.set.candidates).await?
        }
        _ => {
            let Some(o) = &official.mapping.observed else {
                bail!(
                    "no observers' figures: give --observed FILE --observed-mapping MAP, --group SLUG, or a mapping with an [observed] table"
                );
            };
            rules.votes_are_lower_bound = o.lower_bound;
            official.observed.iter().cloned().map(Into::into).collect()
        }
    };
    let name = official.mapping.name.clone();
    let official = compare::Official::new(official.set);
    let mut kept = compare::Maintained::new(&official, rules);
    for (i, o) in observed.iter().enumerate() {
        kept.set(&official, o, i as u64, "".into());
    }
    // One station at a time, in the comparison's order: a national
    // comparison is never held whole (it was 300 MB more than this).
    let rows = kept.iter().filter_map(|e| {
        let o = observed.get(e.id as usize)?;
        let off = official.station(&o.figures.station);
        Some(compare::station(
            official.set(),
            off,
            o,
            kept.rules(),
            &mut Default::default(),
        ))
    });
    let totals = kept.totals();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        write_comparison(&mut out, &totals, rows)?;
    } else {
        use std::io::Write;
        if let Some(note) = &matched_note {
            writeln!(out, "{note}")?;
        }
        writeln!(
            out,
            "{name}: {} stations observed, {} with published figures, {} with findings",
            totals.stations_observed, totals.stations_published, totals.stations_with_findings
        )?;
        for (kind, n) in &totals.by_kind {
            writeln!(out, "  {kind}: {n} stations")?;
        }
        let shown = if args.all { usize::MAX } else { 50 };
        for s in rows.take_while(|s| !s.findings.is_empty()).take(shown) {
            for f in &s.findings {
                writeln!(out, "  station {}: {}", s.station, f.message)?;
            }
        }
        if totals.stations_with_findings > shown {
            writeln!(
                out,
                "  … and {} more stations (--all lists them, --json gives everything)",
                totals.stations_with_findings - shown
            )?;
        }
    }
    std::io::Write::flush(&mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// A comparison as JSON (the fields of `compare::Comparison`), written a
/// station at a time.
fn write_comparison(
    out: &mut impl std::io::Write,
    totals: &compare::Totals,
    rows: impl Iterator<Item = compare::StationComparison>,
) -> anyhow::Result<()> {
    let head = serde_json::to_value(totals)?;
    let fields = head.as_object().context("the totals are a JSON object")?;
    write!(out, "{{")?;
    for (k, v) in fields.iter() {
        write!(out, "{}:{},", serde_json::to_string(k)?, v)?;
    }
    write!(out, "\"stations\":[")?;
    for (i, row) in rows.enumerate() {
        if i > 0 {
            write!(out, ",")?;
        }
        writeln!(out)?;
        serde_json::to_writer(&mut *out, &row)?;
    }
    writeln!(out, "\n]}}")?;
    Ok(())
}

/// The group's stored reports as observers' figures, per station number.
pub async fn observed_from_store(
    store: std::sync::Arc<dyn Store>,
    group: &str,
    candidates: &[String],
) -> anyhow::Result<Vec<compare::Observed>> {
    let slug = Slug::parse(group).context("--group")?;
    let group = store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}"))?;
    // The same projections as the server's pages, so a disputed report is
    // left out here too and the coordinator's choice stands.
    let election = crate::pick_election(&*store, None).await?.map(|e| e.id);
    let rooms = pollwatch_server::rooms::Rooms::new(
        store,
        std::sync::Arc::new(pollwatch_domain::forms::defaults()),
        election,
    );
    Ok(pollwatch_server::analysis::observed_from_group(&rooms, group.id, candidates).await?)
}
