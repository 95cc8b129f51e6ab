//! `pollwatch bench situation`: how long a situation room takes to rebuild
//! from a national group's log, and how much memory it takes.
//!
//! The log is generated from the demo's election day, the seeded city's
//! observers' days replayed by tens of thousands of observers at stations
//! of a national registry, so the kinds, payloads and their mix (check-ins,
//! checklists, headcounts, protocols, incidents, alarms) are the ones real
//! phones send. The rebuild runs in a child process of its own, so its
//! peak memory is the rebuild's, not the generator's.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use pollwatch_domain::{
    ClientId, CodeName, EventKind, Language, NewEvent, Slug, StationKind, StationNumber,
    StationRecord, Timestamp,
};
use pollwatch_store::{NewObserver, StationImport, Store, now};
use rand::{Rng, SeedableRng};

/// Events per `append_many`: one transaction each.
const BATCH: usize = 5000;
const GROUP: &str = "bench";

pub struct Args {
    pub backend: String,
    pub postgres: String,
    pub events: u64,
    pub stations: u32,
    pub observers: u32,
    pub seed: u64,
    pub keep: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.observers == 0 || args.stations == 0 || args.observers > args.stations {
        anyhow::bail!("--observers must be between 1 and --stations");
    }
    let dir = tempfile::tempdir()?;
    let mut scratch = None;
    let url = match args.backend.as_str() {
        "sqlite" => dir.path().join("bench.db").display().to_string(),
        "postgres" => {
            let db = super::ScratchDatabase::create(&args.postgres).await?;
            let url = db.url.clone();
            scratch = Some(db);
            url
        }
        other => anyhow::bail!("unknown backend {other}: sqlite or postgres"),
    };
    let store = crate::open_store(&url).await?;
    let started = Instant::now();
    let (stored, kinds) = generate(&store, &args).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: a group log of {stored} events ({} stations, {} observers) stored in {secs:.1} s ({:.0} events/s, batches of {BATCH})",
        args.backend,
        args.stations,
        args.observers,
        stored as f64 / secs
    );
    let mix: Vec<String> = kinds
        .iter()
        .map(|(k, n)| format!("{k} {:.1}%", *n as f64 * 100.0 / stored.max(1) as f64))
        .collect();
    println!("  mix: {}", mix.join(", "));
    drop(store);

    // A clean process for the rebuild: its peak memory is the rebuild's.
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "rebuild", "--database", &url, "--group", GROUP])
        .env("RUST_LOG", "error")
        .status()
        .context("running the rebuild")?;
    if args.keep {
        println!("kept: {url} (again: pollwatch bench rebuild --database {url} --group {GROUP})");
        std::mem::forget(dir);
    } else if let Some(db) = scratch {
        db.drop_now().await;
    }
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One observer's day in the demo, as (kind, payload, observed at).
type Day = Vec<(EventKind, serde_json::Value, Timestamp)>;

async fn generate(
    store: &Arc<dyn Store>,
    args: &Args,
) -> anyhow::Result<(u64, BTreeMap<&'static str, u64>)> {
    let at = now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let election = store
        .ensure_election(&Slug::parse("national")?, "National", "2026-03-15")
        .await?;
    store
        .set_election_time_zone(election.id, "Asia/Almaty")
        .await?;
    // Regions of about 40 stations, as territorial commissions.
    let records: Vec<StationRecord> = (1..=args.stations)
        .map(|n| {
            Ok(StationRecord {
                number: StationNumber::parse(&n.to_string())?,
                name: format!("Station {n}"),
                address: String::new(),
                district: format!("District {}", n.div_ceil(40)),
                registered_voters: rng.random_range(300..=3000),
                coordinates: None,
                kind: StationKind::Regular,
                accessibility: vec![],
            })
        })
        .collect::<anyhow::Result<_>>()?;
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: "bench".into(),
            sha256: String::new(),
            records,
            dry_run: false,
            at,
        })
        .await?;
    let stations: Vec<_> = store
        .stations(election.id)
        .await?
        .into_iter()
        .map(|s| (s.id, s.record.number))
        .collect();
    let group = store
        .create_group(&Slug::parse(GROUP)?, "Bench", at)
        .await?;

    // Observer k covers one station, spread evenly over the registry.
    let progress = crate::progress::bar(u64::from(args.observers), "observers");
    let mut observers = Vec::with_capacity(args.observers as usize);
    for chunk in (0..args.observers).collect::<Vec<_>>().chunks(256) {
        let made = chunk.iter().map(|&k| {
            let store = Arc::clone(store);
            let station = stations[(k as usize * stations.len()) / args.observers as usize].0;
            async move {
                let o = store
                    .create_observer(
                        NewObserver {
                            group_id: group.id,
                            code_name: CodeName::parse(&format!("bench-{k:05}"))?,
                            language: Language::Ru,
                            contact: None,
                        },
                        at,
                    )
                    .await?;
                store.assign(group.id, o.id, station).await?;
                Ok::<_, anyhow::Error>((o.id, station))
            }
        });
        for r in futures::future::join_all(made).await {
            observers.push(r?);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();

    // The demo's observers' days, replayed in turn.
    let city = pollwatch_demo::city(args.seed);
    let mut days: BTreeMap<(Slug, CodeName), Day> = BTreeMap::new();
    for e in pollwatch_demo::election_day(&city, args.seed) {
        days.entry((e.group, e.observer))
            .or_default()
            .push((e.kind, e.payload, e.observed_at));
    }
    let days: Vec<Day> = days.into_values().filter(|d| !d.is_empty()).collect();
    anyhow::ensure!(!days.is_empty(), "the demo's election day is empty");

    // Round r: every observer's r-th report (their day again, an hour
    // on, once the day is over), so the log interleaves observers as
    // receipt would.
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let progress = crate::progress::bar(args.events, "events");
    let mut batch = Vec::with_capacity(BATCH);
    let mut stored = 0u64;
    let mut n = 0u64;
    'rounds: for round in 0.. {
        for (k, &(observer, station)) in observers.iter().enumerate() {
            if n == args.events {
                break 'rounds;
            }
            let day = &days[k % days.len()];
            let (kind, payload, observed_at) = &day[round % day.len()];
            let again = (round / day.len()) as i64;
            let mut id = [0u8; 16];
            id[8..16].copy_from_slice(&n.to_be_bytes());
            *kinds.entry(kind.as_str()).or_default() += 1;
            batch.push(NewEvent {
                client_id: ClientId::from_bytes(id),
                group_id: group.id,
                observer_id: Some(observer),
                station_id: Some(station),
                kind: *kind,
                payload: payload.clone(),
                observed_at: Timestamp(observed_at.0 + again * 3_600_000),
                supersedes: None,
            });
            n += 1;
            if batch.len() == BATCH {
                stored += append(store, std::mem::take(&mut batch)).await?;
                progress.inc(BATCH as u64);
            }
        }
    }
    if !batch.is_empty() {
        stored += append(store, batch).await?;
    }
    progress.finish_and_clear();
    Ok((stored, kinds))
}

async fn append(store: &Arc<dyn Store>, batch: Vec<NewEvent>) -> anyhow::Result<u64> {
    let mut stored = 0;
    for r in store.append_many(batch).await? {
        if r?.created {
            stored += 1;
        }
    }
    Ok(stored)
}

/// The rebuild, in this (fresh) process: the room's fold over the whole
/// log, as the server does at start.
pub async fn rebuild(database: &str, group: &str) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    let group = store
        .group(&Slug::parse(group)?)
        .await?
        .with_context(|| format!("no group {group}"))?;
    let election = crate::pick_election(&*store, None)
        .await?
        .context("no election")?;
    let forms = Arc::new(pollwatch_domain::forms::defaults());
    let before = memory();
    let started = Instant::now();
    let (clock, stations) =
        pollwatch_server::rooms::election_reference(&*store, &forms, Some(election.id)).await?;
    let (mut situation, events) =
        pollwatch_server::rooms::situation_from_log(&store, &forms, clock, stations, group.id)
            .await?;
    situation.tick(now());
    let tallies = situation.tallies();
    let secs = started.elapsed().as_secs_f64();
    let after = memory();
    println!(
        "rebuild on {}: {events} events folded in {secs:.2} s ({:.0} events/s); {} stations in the tallies",
        store.backend(),
        events as f64 / secs,
        tallies.all.stations
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "  memory: peak {:.0} MiB (process; {:.0} MiB before the rebuild), projections resident {:.0} MiB",
            a.peak,
            b.resident,
            a.resident - b.resident
        );
    }
    drop(situation);
    // Where the time goes: the same pages read again, not folded.
    let started = Instant::now();
    let (mut after, mut read) = (0, 0usize);
    loop {
        let page = store.events(group.id, after, 2000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        read += page.len();
    }
    println!(
        "  of which reading the log ({read} events, pages of 2000, decoded): about {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

struct Memory {
    resident: f64,
    peak: f64,
}

/// VmRSS and VmHWM of this process, in MiB (Linux; `None` elsewhere).
fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some(Memory {
        resident: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}
