//! `pollwatch demo`: the first thing a newcomer runs. Builds the seeded
//! demo city into the store — stations, three independent groups, their
//! staff and observers, a simulated election day — then serves it.
//!
//! Idempotent: stations are imported through the registry diff, names
//! that exist are reused, and events carry seeded client ids, so a second
//! run stores nothing new but a fresh enrolment code per group (the one
//! printed before may have been used).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use pollwatch_demo::DemoCity;
use pollwatch_domain::{NewEvent, Role, RowId, StationNumber, Timestamp};
use pollwatch_server::auth;
use pollwatch_store::{NewObserver, NewUser, StationImport, Store, StoreError, now};
use rand::{Rng, SeedableRng};
use sha2::Digest;

use crate::serve::ServeArgs;

/// Every demo account has this password. Demo only: say so wherever it is shown.
pub const DEMO_PASSWORD: &str = "pollwatch-demo";

#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Seed of the simulated city and election day.
    #[arg(long, default_value_t = pollwatch_demo::DEFAULT_SEED)]
    pub seed: u64,
    /// Build the data and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Where to write the demo's files for the README's examples: the
    /// official result (official.csv) and a quick-count sample
    /// (quickcount-sample.csv), both read with mappings/demo.toml.
    #[arg(long, default_value = "demo-data")]
    pub files: std::path::PathBuf,
}

pub async fn run(database: &str, mut args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    args.serve
        .data_dir
        .get_or_insert_with(|| crate::serve::default_data_dir(database));
    let store = crate::open_store(database).await?;
    let logins = build(&store, args.seed).await?;
    write_files(&args.files, args.seed)?;
    println!(
        "demo data ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if args.no_serve {
        print_logins(None, &logins);
        return Ok(ExitCode::SUCCESS);
    }
    crate::serve::serve(store, args.serve, |addr| {
        print_logins(Some(addr), &logins);
        println!(
            "first page served {:.1} s after start",
            started.elapsed().as_secs_f64()
        );
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The demo's official result and a quick-count sample as files, so the
/// README's `results import`, `compare` and `quickcount` examples have
/// something to read. Written again on every run (same seed, same bytes).
fn write_files(dir: &std::path::Path, seed: u64) -> anyhow::Result<()> {
    let city = pollwatch_demo::city(seed);
    let official = pollwatch_demo::official_results(&city, seed);
    let sample =
        pollwatch_demo::quick_count_sample(&city, seed, pollwatch_demo::QUICK_COUNT_SAMPLE);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in [
        ("official.csv", &official.csv),
        ("quickcount-sample.csv", &sample),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "files: {0}/official.csv (the official result, {1} stations) and {0}/quickcount-sample.csv ({2} sample stations), read with mappings/demo.toml",
        dir.display(),
        city.stations.len(),
        pollwatch_demo::QUICK_COUNT_SAMPLE
    );
    Ok(())
}

/// Who can log in to the demo, and how.
pub struct Logins {
    staff: Vec<(String, String)>,
    codes: Vec<(String, String, String)>,
}

fn print_logins(addr: Option<std::net::SocketAddr>, logins: &Logins) {
    if let Some(addr) = addr {
        println!("\nOpen http://{addr}/ and log in (demo passwords; never use them for real):");
    } else {
        println!("\nDemo logins (demo passwords; never use them for real):");
    }
    for (user, what) in &logins.staff {
        println!("  {user:<22} password {DEMO_PASSWORD}   {what}");
    }
    println!(
        "Observers enrol a phone at /enrol with a one-time code (new on every run; \
         unused codes of earlier runs still work until they expire):"
    );
    for (group, code_name, code) in &logins.codes {
        println!("  {code}  for {code_name} ({group})");
    }
}

pub(crate) async fn ensure_user(
    store: &Arc<dyn Store>,
    username: &str,
    role: Role,
    group_id: Option<RowId>,
) -> anyhow::Result<()> {
    if store.user_for_login(username).await?.is_some() {
        return Ok(());
    }
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(DEMO_PASSWORD)).await??;
    let user = NewUser {
        group_id,
        username: username.into(),
        role,
        password_hash: hash,
    };
    match store.create_user(user, now()).await {
        Ok(_) | Err(StoreError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The next code of the group's seeded sequence that was never issued,
/// stored for `observer_id`. The store refuses a code it holds already
/// (used or not), which is how an issued code is recognised.
async fn fresh_code(
    store: &Arc<dyn Store>,
    code_rng: &mut rand_chacha::ChaCha8Rng,
    group_id: RowId,
    observer_id: RowId,
    at: Timestamp,
) -> anyhow::Result<String> {
    // Each run takes one code: a thousand runs is more than a demo sees.
    for _ in 0..1000 {
        let code = auth::enrolment_code_from(code_rng.random());
        let expires = Timestamp(at.0 + auth::ENROLMENT_CODE_MS);
        match store
            .create_enrolment_code(
                &auth::enrolment_code_hash(&code),
                group_id,
                observer_id,
                expires,
                at,
            )
            .await
        {
            Ok(()) => return Ok(code),
            Err(StoreError::AlreadyExists(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("no fresh enrolment code in 1000 tries: start the demo on a new database")
}

pub async fn build(store: &Arc<dyn Store>, seed: u64) -> anyhow::Result<Logins> {
    let city: DemoCity = pollwatch_demo::city(seed);
    let at = now();
    let election = store
        .ensure_election(
            &city.election.slug,
            &city.election.name,
            &city.election.polling_day,
        )
        .await?;
    store
        .set_election_time_zone(election.id, &city.election.time_zone)
        .await?;
    let report = store
        .import_stations(StationImport {
            election_id: election.id,
            source: format!("pollwatch demo (seed {seed})"),
            sha256: String::new(),
            records: city.stations.clone(),
            dry_run: false,
            at,
        })
        .await?;
    println!(
        "stations: {} created, {} updated, {} unchanged",
        report.created, report.updated, report.unchanged
    );
    let station_ids: HashMap<StationNumber, RowId> = store
        .stations(election.id)
        .await?
        .into_iter()
        .map(|s| (s.record.number, s.id))
        .collect();

    let mut logins = Logins {
        staff: vec![("admin".into(), "instance admin".into())],
        codes: vec![],
    };
    ensure_user(store, "admin", Role::Admin, None).await?;
    let mut group_ids = HashMap::new();
    let mut observer_ids = HashMap::new();
    // Homes for planning: a station of the district each volunteer works
    // in, drawn from a stream of its own so that the rest of the demo stays
    // what it was.
    let mut by_district: HashMap<&str, Vec<RowId>> = HashMap::new();
    for r in &city.stations {
        if let Some(id) = station_ids.get(&r.number) {
            by_district
                .entry(r.district.as_str())
                .or_default()
                .push(*id);
        }
    }
    let district_of: HashMap<&StationNumber, &str> = city
        .stations
        .iter()
        .map(|r| (&r.number, r.district.as_str()))
        .collect();
    for (i, g) in city.groups.iter().enumerate() {
        let mut code_rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0de ^ i as u64);
        let mut home_rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x0040_43e5 ^ i as u64);
        let group = match store.group(&g.slug).await? {
            Some(group) => group,
            None => store.create_group(&g.slug, &g.name, at).await?,
        };
        group_ids.insert(g.slug.clone(), group.id);
        ensure_user(store, &g.coordinator, Role::Coordinator, Some(group.id)).await?;
        ensure_user(store, &g.analyst, Role::Analyst, Some(group.id)).await?;
        logins
            .staff
            .push((g.coordinator.clone(), format!("coordinator of {}", g.name)));
        logins
            .staff
            .push((g.analyst.clone(), format!("analyst of {}", g.name)));
        for o in &g.observers {
            let observer = match store.observer_by_code_name(group.id, &o.code_name).await? {
                Some(found) => found,
                None => {
                    store
                        .create_observer(
                            NewObserver {
                                group_id: group.id,
                                code_name: o.code_name.clone(),
                                language: o.language,
                                contact: None,
                            },
                            at,
                        )
                        .await?
                }
            };
            observer_ids.insert((g.slug.clone(), o.code_name.clone()), observer.id);
            for number in &o.stations {
                let station = *station_ids
                    .get(number)
                    .with_context(|| format!("demo assigns unknown station {number}"))?;
                store.assign(group.id, observer.id, station).await?;
            }
            let near = o
                .stations
                .first()
                .and_then(|n| district_of.get(n))
                .and_then(|d| by_district.get(d))
                .filter(|ids| !ids.is_empty());
            if let Some(ids) = near {
                let home = ids[home_rng.random_range(0..ids.len())];
                store
                    .set_home(group.id, observer.id, Some(home), true, at)
                    .await?;
            }
        }
        // A fresh code on every run: a code printed by an earlier run may
        // have been used already (the store cannot tell us), and printing it
        // again would send a newcomer into "this code was already used".
        // The codes come from a seeded sequence per group, so a fresh
        // database always prints the same first codes.
        if let Some(first) = g.observers.first() {
            let observer_id = observer_ids[&(g.slug.clone(), first.code_name.clone())];
            let code = fresh_code(store, &mut code_rng, group.id, observer_id, at).await?;
            logins
                .codes
                .push((g.slug.to_string(), first.code_name.to_string(), code));
        }
    }

    let events = pollwatch_demo::election_day(&city, seed);
    let progress = crate::progress::bar(events.len() as u64, "election day");
    let mut created = 0usize;
    for chunk in events.chunks(256) {
        let appends = chunk.iter().map(|e| {
            let event = NewEvent {
                client_id: e.client_id.clone(),
                group_id: group_ids[&e.group],
                observer_id: observer_ids
                    .get(&(e.group.clone(), e.observer.clone()))
                    .copied(),
                station_id: station_ids.get(&e.station).copied(),
                kind: e.kind,
                payload: e.payload.clone(),
                observed_at: e.observed_at,
                supersedes: None,
            };
            store.append(event)
        });
        // Awaited together, so the group-commit writer commits them in few
        // transactions.
        for result in futures::future::join_all(appends).await {
            if result?.created {
                created += 1;
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    println!(
        "election day: {} events, {} new, {} already stored",
        events.len(),
        created,
        events.len() - created
    );

    // The commission's published result, with its known falsification.
    let official = pollwatch_demo::official_results(&city, seed);
    let (info, created) = store
        .import_results(pollwatch_store::ResultImport {
            name: "Demo city: official result (synthetic)".into(),
            source: "pollwatch demo".into(),
            file_name: format!("demo-official-{seed}.csv"),
            sha256: hex::encode(sha2::Sha256::digest(official.csv.as_bytes())),
            mapping: pollwatch_demo::MAPPING.into(),
            set: &official.set,
            observed: &[],
            at,
        })
        .await?;
    println!(
        "official result: {} stations as result #{}{}",
        info.stations,
        info.id,
        if created { "" } else { " (already stored)" }
    );
    Ok(logins)
}
