//! The `pollwatch` binary: glue between the command line and the crates
//! that do the work. It owns configuration (flags, then `POLLWATCH_*`
//! environment), logging, choosing the store from the database URL, and the
//! commands that have no other home: the demo, the load generator and the
//! store benchmark.

mod admin;
mod assess;
mod bench;
mod bundle;
mod coverage;
mod demo;
mod evidence;
mod export;
mod files;
mod forms;
mod import;
mod loadtest;
mod plan;
mod progress;
mod report;
mod results;
mod scenario;
mod serve;

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: a server whose SQLite connections
/// each run on a thread of their own gets a glibc arena per thread, and
/// under the national load test their fragments kept it at 743 MiB where
/// the same work on PostgreSQL took 426 MiB (measured in the note of
/// issue 10).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pollwatch_store::Store;

#[derive(Parser)]
#[command(
    name = "pollwatch",
    version,
    about = "Observe an election, prove what you saw, publish it."
)]
struct Cli {
    /// Where the data lives: a SQLite file path (the default) or a
    /// postgres:// URL.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "pollwatch.db"
    )]
    database: String,

    /// Log format: "text" for people, "json" for log collectors. Defaults
    /// to text on a terminal, JSON otherwise.
    #[arg(long, global = true, env = "POLLWATCH_LOG_FORMAT")]
    log_format: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and the API.
    Serve(serve::ServeArgs),
    /// The station registry.
    #[command(subcommand)]
    Stations(import::StationsCommand),
    /// Groups, staff accounts, observers and enrolment codes.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Build a realistic demo city with three observer groups and a
    /// simulated election day, then serve it.
    Demo(demo::DemoArgs),
    /// Official results: import and list.
    #[command(subcommand)]
    Results(results::ResultsCommand),
    /// Election forensics on official results of all stations.
    Forensics(results::ForensicsArgs),
    /// The quick count (PVT) from sample stations' protocol figures.
    Quickcount(results::QuickcountArgs),
    /// How many sample stations a quick count needs for a margin of error.
    QuickcountPlan(results::PlanArgs),
    /// Compare observers' figures with the official ones, station by station.
    Compare(results::CompareArgs),
    /// A group's assessment: the rating of every station, district and the
    /// whole election by the rules of forms/assessment.toml.
    Assess(assess::AssessArgs),
    /// Scenarios at scale, for measuring: `scenario national`.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// A group's reports, incidents, headcounts, protocols, stations with
    /// coverage, or comparison, as CSV, XLSX or GeoJSON.
    Export(export::ExportArgs),
    /// The group's published report: a static, printable site in Russian,
    /// Kazakh and English with open data, no observer named in it.
    Report(report::ReportArgs),
    /// The forms observers fill: check a group's own before using them.
    #[command(subcommand)]
    Forms(FormsCommand),
    /// Drive a running server with many simulated observers and report
    /// events/s and latency percentiles.
    Loadtest(loadtest::LoadtestArgs),
    /// A group's evidence bundle: verify one offline.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Benchmarks of parts of pollwatch on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// A group's signing keys (log and witness): create, rotate, show.
    #[command(subcommand)]
    Key(evidence::KeyCommand),
    /// Take in the group's log and sign a checkpoint of it now; prints it
    /// and the short string to publish.
    Checkpoint(evidence::CheckpointArgs),
    /// Witnessing between groups: pin keys, cosign, exchange by files.
    #[command(subcommand)]
    Witness(evidence::WitnessCommand),
    /// Before the vote: who covers which station (nearest to home,
    /// districts saturated, a quick-count sample), from a file of homes.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Coverage shared between independent groups: signed manifests out
    /// and in, and the combined coverage with its gaps.
    #[command(subcommand)]
    Coverage(coverage::CoverageCommand),
}

#[derive(Subcommand)]
enum FormsCommand {
    /// Load and check the forms (the shipped ones, or DIR's files over them).
    Check { dir: Option<std::path::PathBuf> },
    /// Make a checklist of an XLSForm (Kobo, ODK) in .xlsx or .ods, saying
    /// what cannot be carried over by sheet, row and column.
    ImportXlsform(forms::ImportXlsformArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.database;
    match cli.command {
        Command::Serve(args) => serve::run(&db, args).await,
        Command::Stations(cmd) => import::run(&db, cmd).await,
        Command::Admin(cmd) => admin::run(&db, cmd).await,
        Command::Demo(args) => demo::run(&db, args).await,
        Command::Results(cmd) => results::run_results(&db, cmd).await,
        Command::Forensics(args) => results::run_forensics(args),
        Command::Quickcount(args) => results::run_quickcount(args),
        Command::QuickcountPlan(args) => results::run_plan(args),
        Command::Compare(args) => results::run_compare(&db, args).await,
        Command::Export(args) => export::run(&db, args).await,
        Command::Report(args) => report::run(&db, args).await,
        Command::Assess(args) => assess::run(&db, args).await,
        Command::Forms(FormsCommand::Check { dir }) => forms::check(dir.as_deref()),
        Command::Forms(FormsCommand::ImportXlsform(args)) => forms::import_xlsform(args),
        Command::Scenario(cmd) => scenario::run(&db, cmd).await,
        Command::Loadtest(args) => loadtest::run(&db, args).await,
        Command::Bundle(cmd) => bundle::run(&db, cmd).await,
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Key(cmd) => evidence::run_key(&db, cmd).await,
        Command::Checkpoint(args) => evidence::run_checkpoint(&db, args).await,
        Command::Witness(cmd) => evidence::run_witness(&db, cmd).await,
        Command::Plan(cmd) => plan::run(&db, cmd).await,
        Command::Coverage(cmd) => coverage::run(&db, cmd).await,
    }
}

fn init_logging(format: Option<&str>) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let json = match format {
        Some("json") => true,
        Some(_) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Open the store the URL names. Anything that is not a postgres:// URL is
/// a SQLite file path (or sqlite:// URL).
pub async fn open_store(database: &str) -> anyhow::Result<Arc<dyn Store>> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let store = pollwatch_store_postgres::PostgresStore::connect(database)
            .await
            .context("opening the PostgreSQL database")?;
        Ok(Arc::new(store))
    } else {
        let store = if database.starts_with("sqlite:") {
            pollwatch_store_sqlite::SqliteStore::open_url(database).await
        } else {
            pollwatch_store_sqlite::SqliteStore::open(std::path::Path::new(database)).await
        }
        .with_context(|| format!("opening the SQLite database {database}"))?;
        Ok(Arc::new(store))
    }
}

/// The election commands act on: the one named, or the latest one.
pub async fn pick_election(
    store: &dyn Store,
    slug: Option<&str>,
) -> anyhow::Result<Option<pollwatch_domain::Election>> {
    match slug {
        Some(s) => {
            let slug = pollwatch_domain::Slug::parse(s).context("--election")?;
            Ok(Some(store.election(&slug).await?.with_context(|| {
                format!("no election {slug}: import a station registry for it first")
            })?))
        }
        None => Ok(store.elections().await?.pop()),
    }
}
