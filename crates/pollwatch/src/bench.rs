//! `pollwatch bench …`: measurements of parts of pollwatch on this machine,
//! reported as figures (never asserted in tests: a timing is a property of
//! the machine, not of the code).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use pollwatch_domain::{ClientId, CodeName, EventKind, Language, NewEvent, Slug, Timestamp};
use pollwatch_store::{NewObserver, StationImport, Store, now};

mod bundle;
mod plan;
mod situation;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Each forensic method, and the whole suite, on one results file;
    /// reports seconds and the process's peak memory.
    Forensics {
        #[command(flatten)]
        results: crate::results::ResultsFile,
        /// Runs of each method; the best is reported.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// The store's batched append alone: many tasks appending at once
    /// through group commit, every batch durable before it is answered.
    Append {
        /// "sqlite" (a fresh file in a temporary directory) or "postgres"
        /// (a fresh database on the test server, dropped afterwards).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Events to append in all.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Tasks appending at once.
        #[arg(long, default_value_t = 512)]
        concurrency: u64,
        /// PostgreSQL server for --backend postgres.
        #[arg(
            long,
            env = "POLLWATCH_TEST_POSTGRES",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
    },
    /// A situation room rebuilt from a national group's log: generates
    /// the log (the demo's observers' days replayed at scale) through
    /// batched appends, then folds it in a fresh process as the server
    /// does at start; reports the time and the memory.
    Situation {
        /// "sqlite" (a fresh file in a temporary directory) or "postgres"
        /// (a fresh database on the server of --postgres, dropped afterwards).
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Events in the group's log.
        #[arg(long, default_value_t = 1_200_000)]
        events: u64,
        /// Stations in the registry (95,000 is the national scale).
        #[arg(long, default_value_t = 95_000)]
        stations: u32,
        /// The group's observers, one station each.
        #[arg(long, default_value_t = 30_000)]
        observers: u32,
        #[arg(long, default_value_t = pollwatch_demo::DEFAULT_SEED)]
        seed: u64,
        /// Keep the database afterwards (prints where).
        #[arg(long)]
        keep: bool,
        #[arg(
            long,
            env = "POLLWATCH_TEST_POSTGRES",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres: String,
    },
    /// A group's evidence bundle: a synthetic log of N events and a few
    /// photos, written as a signed bundle to a temporary file, then
    /// verified; reports each stage's time, the file's size and the peak
    /// memory.
    Bundle {
        /// Events in the log.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Photos (64 KiB each), each cited by a protocol.
        #[arg(long, default_value_t = 10)]
        files: u64,
        /// A signed checkpoint every this many leaves (and one of the
        /// whole log).
        #[arg(long, default_value_t = 1_000)]
        checkpoint_every: u64,
        #[arg(long, default_value_t = pollwatch_demo::DEFAULT_SEED)]
        seed: u64,
    },
    /// The rebuild alone, on an existing database: one group's room folded
    /// from its log (what `bench situation` runs in a child process).
    Rebuild {
        /// The database (a SQLite path or a postgres:// URL).
        #[arg(long)]
        database: String,
        /// The group's slug.
        #[arg(long)]
        group: String,
    },
    /// Nearest-to-home planning: a synthetic city of S stations and V
    /// volunteers solved optimally (with its certificate over all pairs),
    /// and a dense N × N case whose matrix scripts/bench/assign_scipy.py
    /// solves with scipy for the side-by-side.
    Plan {
        #[arg(long, default_value_t = 10_000)]
        volunteers: usize,
        #[arg(long, default_value_t = 100_000)]
        stations: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The dense case's size (0: none).
        #[arg(long, default_value_t = 2_000)]
        dense: usize,
        /// Write the dense case's matrix here (JSON) for scipy.
        #[arg(long)]
        dense_out: Option<std::path::PathBuf>,
    },
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Forensics { results, repeat } => forensics(results, repeat),
        BenchCommand::Append {
            backend,
            events,
            concurrency,
            postgres,
        } => append(&backend, events, concurrency, postgres).await,
        BenchCommand::Situation {
            backend,
            events,
            stations,
            observers,
            seed,
            keep,
            postgres,
        } => {
            situation::run(situation::Args {
                backend,
                postgres,
                events,
                stations,
                observers,
                seed,
                keep,
            })
            .await
        }
        BenchCommand::Bundle {
            events,
            files,
            checkpoint_every,
            seed,
        } => bundle::run(bundle::Args {
            events,
            files,
            checkpoint_every,
            seed,
        }),
        BenchCommand::Rebuild { database, group } => situation::rebuild(&database, &group).await,
        BenchCommand::Plan {
            volunteers,
            stations,
            seed,
            dense,
            dense_out,
        } => plan::run(volunteers, stations, seed, dense, dense_out),
    }
}

async fn append(
    backend: &str,
    events: u64,
    concurrency: u64,
    postgres: String,
) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let mut scratch = None;
    let store: Arc<dyn Store> = match backend {
        "sqlite" => {
            Arc::new(pollwatch_store_sqlite::SqliteStore::open(&dir.path().join("bench.db")).await?)
        }
        "postgres" => {
            let db = ScratchDatabase::create(&postgres).await?;
            let store = pollwatch_store_postgres::PostgresStore::connect(&db.url).await?;
            scratch = Some(db);
            Arc::new(store)
        }
        other => anyhow::bail!("unknown backend {other}: sqlite or postgres"),
    };

    let at = now();
    let election = store
        .ensure_election(&Slug::parse("bench")?, "Bench", "2026-03-15")
        .await?;
    let mut record = pollwatch_store::domain::StationRecord {
        number: pollwatch_domain::StationNumber::parse("1")?,
        name: "Bench".into(),
        address: String::new(),
        district: "Bench".into(),
        registered_voters: 1000,
        coordinates: None,
        kind: pollwatch_domain::StationKind::Regular,
        accessibility: vec![],
    };
    record.name = "Bench station".into();
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: "bench".into(),
            sha256: String::new(),
            records: vec![record],
            dry_run: false,
            at,
        })
        .await?;
    let station = store.stations(election.id).await?[0].id;
    let group = store
        .create_group(&Slug::parse("bench")?, "Bench", at)
        .await?;
    let observer = store
        .create_observer(
            NewObserver {
                group_id: group.id,
                code_name: CodeName::parse("bench-1")?,
                language: Language::En,
                contact: None,
            },
            at,
        )
        .await?;

    let progress = crate::progress::bar(events, "appends");
    let started = Instant::now();
    let per_task = events.div_ceil(concurrency);
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let store = store.clone();
        let progress = progress.clone();
        let first = t * per_task;
        let last = ((t + 1) * per_task).min(events);
        tasks.push(tokio::spawn(async move {
            for i in first..last {
                let mut id = [0u8; 16];
                // Bytes 6 and 8 carry the UUID version and variant: the
                // counter (far below 2^56) leaves byte 8 zero.
                id[8..16].copy_from_slice(&i.to_be_bytes());
                let e = NewEvent {
                    client_id: ClientId::from_bytes(id),
                    group_id: group.id,
                    observer_id: Some(observer.id),
                    station_id: Some(station),
                    kind: EventKind::Headcount,
                    payload: serde_json::json!({ "counted": i, "announced": null }),
                    observed_at: Timestamp(at.0),
                    supersedes: None,
                };
                store.append(e).await?;
                progress.inc(1);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let stored = store.event_count(group.id).await?;
    println!(
        "{backend}: {stored} events appended by {concurrency} tasks in {secs:.2} s: {:.0} events/s (each batch committed durably before its callers were answered)",
        stored as f64 / secs
    );
    drop(store);
    if let Some(db) = scratch {
        db.drop_now().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident memory so far, in MiB (Linux; `None` elsewhere).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn forensics(results: crate::results::ResultsFile, repeat: usize) -> anyhow::Result<ExitCode> {
    use pollwatch_analysis::forensics as f;
    let t = Instant::now();
    let Some(loaded) =
        crate::results::load(&results.file, &results.mapping, &results.read.options())?
    else {
        return Ok(ExitCode::from(2));
    };
    let read = t.elapsed().as_secs_f64();
    let set = &loaded.set;
    let params = f::Params::default();
    let best = |work: &dyn Fn()| -> f64 {
        (0..repeat.max(1))
            .map(|_| {
                let t = Instant::now();
                work();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    println!(
        "{}: {} stations, read and parsed in {read:.2} s",
        loaded.file_name,
        set.stations.len()
    );
    let rows: Vec<(&str, f64)> = vec![
        (
            "distributions",
            best(&|| drop(f::distributions(set, &params))),
        ),
        (
            "integer percentages (with resampling)",
            best(&|| drop(f::integer_percent(set, &params))),
        ),
        ("shpilkin", best(&|| drop(f::shpilkin(set, &params)))),
        ("klimek fit", best(&|| drop(f::klimek(set, &params)))),
        ("second digit", best(&|| drop(f::second_digit(set)))),
        ("last digit", best(&|| drop(f::last_digit(set)))),
        ("outliers", best(&|| drop(f::outliers(set, &params)))),
        ("whole suite (run)", best(&|| drop(f::run(set, &params)))),
    ];
    for (name, secs) in rows {
        println!("  {name:<40} {secs:>7.3} s");
    }
    if let Some(mib) = peak_memory_mib() {
        println!("peak memory of this process: {mib:.0} MiB (includes the file as read)");
    }
    Ok(ExitCode::SUCCESS)
}

/// A database of the benchmark's own on the given server, dropped after the
/// run (the server's own databases are never touched).
struct ScratchDatabase {
    url: String,
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<Self> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context("no PostgreSQL server: run scripts/postgres-up")?;
        let name = format!("pollwatch_bench_{}_{}", std::process::id(), now().0);
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating {name}"))?;
        let (server, _) = admin_url
            .rsplit_once('/')
            .context("the PostgreSQL URL must end in /database")?;
        Ok(Self {
            url: format!("{server}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    async fn drop_now(self) {
        use sqlx::Connection;
        if let Ok(mut c) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut c)
            .await;
        }
    }
}
