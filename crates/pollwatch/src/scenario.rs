//! `pollwatch scenario national`: the national-scale scenario of
//! `pollwatch_demo::national` written into a database, to measure pollwatch
//! at the size of a national network (`pollwatch loadtest --national`).
//!
//! The generation is pure and seeded; this only writes it, through the
//! store's own paths: the registry import, observers and assignments as a
//! coordinator's would be, the reports through `append_many` (one
//! transaction of up to 1000, in the order phones would have sent them),
//! and the official result through the results import. Idempotent like the
//! demo: reports carry seeded client ids, names that exist are reused.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use pollwatch_demo::national::{self, National, Size};
use pollwatch_domain::{NewEvent, Role, RowId, StationNumber};
use pollwatch_store::{NewObserver, ResultImport, StationImport, Store, StoreError, now};
use sha2::Digest;

/// Reports per `append_many`: one transaction each.
pub const BATCH: usize = 1000;
/// Hours of polling day generated and written at a time (the days are
/// regenerated per stretch, so memory holds one stretch, not the day).
const STRETCH_HOURS: i64 = 2;

#[derive(Subcommand)]
pub enum ScenarioCommand {
    /// 95,000 stations in 85 regions, a national network of 30,000
    /// observers and about 1.2 M reports of polling day, and the official
    /// result of every station.
    National(NationalArgs),
}

#[derive(Args)]
pub struct NationalArgs {
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[arg(long, default_value_t = Size::NATIONAL.stations)]
    pub stations: u32,
    #[arg(long, default_value_t = Size::NATIONAL.observers)]
    pub observers: u32,
    /// Reports in all (about: an observer detained stops reporting).
    #[arg(long, default_value_t = Size::NATIONAL.reports)]
    pub reports: u64,
    /// Also write the official result here as CSV (read it with
    /// mappings/demo.toml).
    #[arg(long)]
    pub official_csv: Option<std::path::PathBuf>,
}

pub async fn run(database: &str, cmd: ScenarioCommand) -> anyhow::Result<ExitCode> {
    let ScenarioCommand::National(args) = cmd;
    if args.stations == 0 || args.observers == 0 || args.observers > args.stations {
        bail!("--observers must be between 1 and --stations");
    }
    if args.stations > 1_000_000 || args.reports > 20_000_000 {
        bail!("at most 1,000,000 stations and 20,000,000 reports");
    }
    let store = crate::open_store(database).await?;
    let started = Instant::now();
    let size = Size {
        stations: args.stations,
        observers: args.observers,
        reports: args.reports,
    };
    let t = Instant::now();
    let scenario = Arc::new(national::scenario(args.seed, size));
    println!(
        "scenario (seed {}): {} stations, {} observers, generated in {:.1} s",
        args.seed,
        scenario.stations.len(),
        scenario.group.observers.len(),
        t.elapsed().as_secs_f64()
    );
    let figures = write(&store, &scenario, args.official_csv.as_deref()).await?;
    println!(
        "scenario written to {} in {:.1} s: stations {:.1} s, observers and assignments {:.1} s, \
         {} reports {:.1} s ({:.0} reports/s, {} new), official result {:.1} s",
        store.backend(),
        started.elapsed().as_secs_f64(),
        figures.stations_secs,
        figures.observers_secs,
        figures.reports,
        figures.reports_secs,
        figures.reports as f64 / figures.reports_secs.max(1e-9),
        figures.created,
        figures.official_secs,
    );
    println!(
        "busiest minute of polling day: {} reports ({:02}:{:02} local time)",
        figures.busiest.1,
        figures.busiest.0 / 60 % 24,
        figures.busiest.0 % 60
    );
    println!(
        "staff logins (demo password {}; never use it for real): {} (coordinator), {} (analyst), group {}",
        crate::demo::DEMO_PASSWORD,
        national::COORDINATOR,
        national::ANALYST,
        national::GROUP
    );
    Ok(ExitCode::SUCCESS)
}

/// What writing took.
pub struct Written {
    pub stations_secs: f64,
    pub observers_secs: f64,
    pub reports: u64,
    pub created: u64,
    pub reports_secs: f64,
    pub official_secs: f64,
    /// (minute of polling day, reports observed in it) at the busiest.
    pub busiest: (i64, u64),
}

pub async fn write(
    store: &Arc<dyn Store>,
    scenario: &Arc<National>,
    official_csv: Option<&std::path::Path>,
) -> anyhow::Result<Written> {
    let at = now();
    let t = Instant::now();
    let e = &scenario.election;
    let election = store
        .ensure_election(&e.slug, &e.name, &e.polling_day)
        .await?;
    store
        .set_election_time_zone(election.id, &e.time_zone)
        .await?;
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: format!("pollwatch scenario national (seed {})", scenario.seed),
            sha256: String::new(),
            records: scenario.stations.clone(),
            dry_run: false,
            at,
        })
        .await?;
    let station_ids: HashMap<StationNumber, RowId> = store
        .stations(election.id)
        .await?
        .into_iter()
        .map(|s| (s.record.number, s.id))
        .collect();
    let stations_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let g = &scenario.group;
    let group = match store.group(&g.slug).await? {
        Some(group) => group,
        None => store.create_group(&g.slug, &g.name, at).await?,
    };
    crate::demo::ensure_user(store, &g.coordinator, Role::Coordinator, Some(group.id)).await?;
    crate::demo::ensure_user(store, &g.analyst, Role::Analyst, Some(group.id)).await?;
    let progress = crate::progress::bar(g.observers.len() as u64, "observers");
    let mut observer_ids = HashMap::with_capacity(g.observers.len());
    // A thousand observers with their stations per transaction, in order,
    // so their row ids (which the reports' content hashes cover) are the
    // same on every run. Written before, they are found by code name.
    let station_of = |n: &StationNumber| {
        station_ids
            .get(n)
            .copied()
            .with_context(|| format!("the scenario assigns unknown station {n}"))
    };
    for chunk in g.observers.chunks(1000) {
        let roster = chunk
            .iter()
            .map(|o| {
                let stations = o
                    .stations
                    .iter()
                    .map(station_of)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok((
                    NewObserver {
                        group_id: group.id,
                        code_name: o.code_name.clone(),
                        language: o.language,
                        contact: None,
                    },
                    stations,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        match store.enlist_observers(group.id, roster.clone(), at).await {
            Ok(made) => {
                for m in made {
                    observer_ids.insert(m.code_name.clone(), m.id);
                }
            }
            Err(StoreError::AlreadyExists(_)) => {
                for (o, stations) in roster {
                    let id = match store.observer_by_code_name(group.id, &o.code_name).await? {
                        Some(found) => found.id,
                        None => store.create_observer(o.clone(), at).await?.id,
                    };
                    for s in stations {
                        store.assign(group.id, id, s).await?;
                    }
                    observer_ids.insert(o.code_name, id);
                }
            }
            Err(e) => return Err(e.into()),
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let observers_secs = t.elapsed().as_secs_f64();

    // The day in stretches: the next one is generated on a thread of its
    // own while this one is written.
    let t = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let generator = Arc::clone(scenario);
    let producer = tokio::task::spawn_blocking(move || {
        let (from, to) = (national::DAY_STARTS, national::DAY_ENDS);
        let mut h = from.0;
        while h < to.0 {
            let stretch = generator.events_between(
                pollwatch_demo::local_time(h, 0),
                pollwatch_demo::local_time(h + STRETCH_HOURS, 0),
            );
            if tx.blocking_send(stretch).is_err() {
                return;
            }
            h += STRETCH_HOURS;
        }
    });
    let expected = scenario.size.reports;
    let progress = crate::progress::bar(expected, "reports");
    let (mut reports, mut created) = (0u64, 0u64);
    let mut per_minute: HashMap<i64, u64> = HashMap::new();
    while let Some(stretch) = rx.recv().await {
        for chunk in stretch.chunks(BATCH) {
            let batch: Vec<NewEvent> = chunk
                .iter()
                .map(|e| {
                    *per_minute
                        .entry((e.observed_at.0 - pollwatch_demo::POLLING_DAY_START.0) / 60_000)
                        .or_default() += 1;
                    NewEvent {
                        client_id: e.client_id.clone(),
                        group_id: group.id,
                        observer_id: observer_ids.get(&e.observer).copied(),
                        station_id: station_ids.get(&e.station).copied(),
                        kind: e.kind,
                        payload: e.payload.clone(),
                        observed_at: e.observed_at,
                        supersedes: None,
                    }
                })
                .collect();
            for r in store.append_many(batch).await? {
                if r?.created {
                    created += 1;
                }
            }
            reports += chunk.len() as u64;
            progress.inc(chunk.len() as u64);
        }
    }
    producer.await.context("the generator thread failed")?;
    progress.finish_and_clear();
    let reports_secs = t.elapsed().as_secs_f64();
    let busiest = per_minute
        .into_iter()
        .max_by_key(|&(m, n)| (n, std::cmp::Reverse(m)))
        .unwrap_or((0, 0));

    let t = Instant::now();
    let official = scenario.official_results();
    if let Some(path) = official_csv {
        std::fs::write(path, &official.csv)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (info, _) = store
        .import_results(ResultImport {
            name: "National scenario: official result (synthetic)".into(),
            source: "pollwatch scenario national".into(),
            file_name: format!("national-official-{}.csv", scenario.seed),
            sha256: hex::encode(sha2::Sha256::digest(official.csv.as_bytes())),
            mapping: pollwatch_demo::MAPPING.into(),
            set: &official.set,
            observed: &[],
            at,
        })
        .await?;
    let official_secs = t.elapsed().as_secs_f64();
    println!(
        "official result #{}: {} stations ({} stuffed where nobody watched, {} altered after posting)",
        info.id,
        info.stations,
        official.stuffed.len(),
        official.altered_after_posting.len()
    );
    Ok(Written {
        stations_secs,
        observers_secs,
        reports,
        created,
        reports_secs,
        official_secs,
        busiest,
    })
}
