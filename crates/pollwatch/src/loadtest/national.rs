//! `pollwatch loadtest --national`: the national scenario's election day
//! against a running server (`pollwatch scenario national` first). Tens of
//! thousands of phones open the app within a minute (each: `/api/v1/me`,
//! `/api/v1/me/stations`, `/api/v1/forms` with its own session), then
//! phones send closing-time reports at a set pace, while coordinators
//! read the situation room, alerts, stations and observers, and analysts
//! the official result's pages. Reports per endpoint: count, p50, p99 and
//! max latency, largest answer, errors; how soon the openings were done;
//! the server's resident memory; each beside the target of issue 10.
//!
//! The phones' sessions are written into the database by this tool (as
//! today's load tests write enrolment codes), their tokens held only in
//! memory and the sessions expiring two hours later: enrolling 30,000
//! phones over HTTP from one address would only measure the enrolment
//! limits.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use pollwatch_demo::national;
use pollwatch_domain::{ClientId, RowId, Slug, StationRecord, Timestamp};
use pollwatch_server::auth;
use pollwatch_store::{Principal, Session, Store, now};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::LoadtestArgs;

/// Issue 10's targets.
const PAGE_P99_MS: f64 = 100.0;
const OPENING_P99_MS: f64 = 200.0;
const ANALYSIS_P99_MS: f64 = 200.0;
const MAX_BYTES: u64 = 200 * 1024;
const OPENINGS_WITHIN_S: f64 = 60.0;
const RSS_MIB: f64 = 500.0;
/// How long the tool's phone sessions live.
const SESSION_MS: i64 = 2 * 3600 * 1000;

#[derive(Default)]
struct Endpoint {
    hist: Option<Histogram<u64>>,
    errors: u64,
    max_bytes: u64,
    first_error: Option<String>,
}

type Stats = Arc<Mutex<BTreeMap<&'static str, Endpoint>>>;

#[derive(Serialize)]
pub struct EndpointFigures {
    endpoint: String,
    count: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    max_bytes: u64,
    errors: u64,
    target_p99_ms: f64,
    target_bytes: u64,
    met: bool,
    first_error: Option<String>,
}

#[derive(Serialize)]
pub struct NationalReport {
    backend: String,
    phones: usize,
    coordinators: usize,
    analysts: usize,
    sessions_written_secs: f64,
    openings_completed: usize,
    openings_secs: f64,
    openings_target_secs: f64,
    openings_met: bool,
    report_rate: f64,
    reporting_secs: f64,
    reports_sent: u64,
    server_pid: Option<u32>,
    server_rss_max_mib: Option<f64>,
    server_hwm_mib: Option<f64>,
    rss_target_mib: f64,
    /// The first view of each kind, before the measured run: what the
    /// server builds once after it starts (the situation room from the
    /// log, a result's forensics, the kept comparison and quick count),
    /// in seconds. Kept out of the endpoints' figures, which are the
    /// steady state the targets are about.
    first_views: Vec<(String, f64)>,
    endpoints: Vec<EndpointFigures>,
}

fn record(stats: &Stats, endpoint: &'static str, micros: u64, bytes: u64, error: Option<String>) {
    let Ok(mut map) = stats.lock() else { return };
    let e = map.entry(endpoint).or_default();
    if e.hist.is_none() {
        e.hist = Histogram::new_with_bounds(1, 600_000_000, 3).ok();
    }
    if let Some(hist) = e.hist.as_mut() {
        let _ = hist.record(micros.clamp(1, 600_000_000));
    }
    e.max_bytes = e.max_bytes.max(bytes);
    if let Some(err) = error {
        e.errors += 1;
        e.first_error.get_or_insert(err);
    }
}

/// One request, timed to the last byte of the answer.
async fn call(
    stats: &Stats,
    endpoint: &'static str,
    req: reqwest::RequestBuilder,
) -> Option<axum::body::Bytes> {
    let t = Instant::now();
    let result = async {
        let res = req.send().await.map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res.bytes().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, body))
    }
    .await;
    let micros = t.elapsed().as_micros() as u64;
    match result {
        Ok((status, body)) if status.is_success() => {
            record(stats, endpoint, micros, body.len() as u64, None);
            Some(body)
        }
        Ok((status, body)) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            record(
                stats,
                endpoint,
                micros,
                body.len() as u64,
                Some(format!("{status}: {text}")),
            );
            None
        }
        Err(e) => {
            record(stats, endpoint, micros, 0, Some(e));
            None
        }
    }
}

/// A phone: its token and its first station.
struct Phone {
    token: String,
    station: StationRecord,
}

pub(super) async fn run(database: &str, args: LoadtestArgs) -> anyhow::Result<ExitCode> {
    let phones_wanted = args
        .observers
        .unwrap_or(national::Size::NATIONAL.observers as usize);
    if phones_wanted == 0 || phones_wanted > 200_000 {
        bail!("--observers must be between 1 and 200000");
    }
    if args.coordinators > 500 || args.analysts > 500 {
        bail!("--coordinators and --analysts must be at most 500");
    }
    let store = crate::open_store(database).await?;
    let slug = Slug::parse(&args.group_or(national::GROUP))?;
    let group = store.group(&slug).await?.with_context(|| {
        format!("no group {slug}: run `pollwatch scenario national` on this database first")
    })?;
    let election = store
        .election(&Slug::parse("national-2026")?)
        .await?
        .context("no national-2026 election: run `pollwatch scenario national` first")?;
    let result_id = match args.result {
        Some(id) => id,
        None => store
            .result_imports()
            .await?
            .into_iter()
            .rev()
            .find(|r| r.name.starts_with("National scenario"))
            .map(|r| r.id)
            .context("no official result of the scenario: run `pollwatch scenario national`")?,
    };

    // Phones: the group's observers, each at its first assigned station.
    let stations: HashMap<RowId, StationRecord> = store
        .stations(election.id)
        .await?
        .into_iter()
        .map(|s| (s.id, s.record))
        .collect();
    let numbers: Vec<String> = stations.values().map(|r| r.number.to_string()).collect();
    let mut first_station: HashMap<RowId, RowId> = HashMap::new();
    for a in store.assignments(group.id).await? {
        first_station.entry(a.observer_id).or_insert(a.station_id);
    }
    let observers: Vec<(RowId, RowId)> = store
        .observers(group.id)
        .await?
        .into_iter()
        .filter_map(|o| first_station.get(&o.id).map(|s| (o.id, *s)))
        .take(phones_wanted)
        .collect();
    if observers.len() < phones_wanted {
        bail!(
            "the group has {} assigned observers, fewer than --observers {phones_wanted}",
            observers.len()
        );
    }
    let t = Instant::now();
    let progress = crate::progress::bar(observers.len() as u64, "phone sessions");
    let mut phones = Vec::with_capacity(observers.len());
    for chunk in observers.chunks(256) {
        let made = chunk.iter().map(|&(observer_id, station)| {
            let store = Arc::clone(&store);
            let record = stations.get(&station).cloned();
            async move {
                let token = new_session(
                    &store,
                    Principal::Observer {
                        observer_id,
                        group_id: group.id,
                    },
                )
                .await?;
                Ok::<_, anyhow::Error>(Phone {
                    token,
                    station: record.context("an assignment names an unknown station")?,
                })
            }
        });
        for p in futures::future::join_all(made).await {
            phones.push(p?);
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    let staff = |username: &'static str, n: usize| {
        let store = Arc::clone(&store);
        async move {
            let (user, _) = store.user_for_login(username).await?.with_context(|| {
                format!("no user {username}: run `pollwatch scenario national`")
            })?;
            let mut tokens = Vec::with_capacity(n);
            for _ in 0..n {
                tokens.push(
                    new_session(
                        &store,
                        Principal::Staff {
                            user_id: user.id,
                            group_id: user.group_id,
                            role: user.role,
                        },
                    )
                    .await?,
                );
            }
            Ok::<_, anyhow::Error>(tokens)
        }
    };
    let coordinators = staff(national::COORDINATOR, args.coordinators).await?;
    let analysts = staff(national::ANALYST, args.analysts).await?;
    let sessions_written_secs = t.elapsed().as_secs_f64();
    println!(
        "{} phone sessions and {} staff sessions written in {sessions_written_secs:.1} s",
        phones.len(),
        coordinators.len() + analysts.len()
    );

    let base = super::server(database, &store, args.url.as_deref()).await?;
    let server_pid = match (args.server_pid, args.url.is_some()) {
        (Some(pid), _) => Some(pid),
        (None, false) => Some(std::process::id()),
        (None, true) => listener_pid(&base),
    };
    if server_pid.is_none() {
        eprintln!(
            "the server's process was not found (give --server-pid): its memory is not measured"
        );
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_in_flight)
        .timeout(Duration::from_secs(60))
        .build()?;
    let stats: Stats = Arc::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let memory = tokio::spawn(sample_memory(server_pid, stop_rx.clone()));

    // The server's warm-up, timed apart: the first views wait for what is
    // built once (a national room is 1.2 M events folded).
    let mut first_views = Vec::new();
    let warm: Vec<(&str, &String, String)> = coordinators
        .first()
        .map(|t| ("GET /api/v1/situation", t, "/api/v1/situation".to_owned()))
        .into_iter()
        .chain(analysts.first().into_iter().flat_map(|t| {
            [
                ("GET /results/{id}", t, format!("/results/{result_id}")),
                (
                    "GET /results/{id}/compare",
                    t,
                    format!("/results/{result_id}/compare"),
                ),
                (
                    "GET /results/{id}/quickcount",
                    t,
                    format!("/results/{result_id}/quickcount"),
                ),
            ]
        }))
        .collect();
    for (name, token, path) in warm {
        let t = Instant::now();
        let res = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(600))
            .send()
            .await;
        let ok = match res {
            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
            Err(_) => false,
        };
        let secs = t.elapsed().as_secs_f64();
        println!(
            "first view (warm-up) {name}: {secs:.1} s{}",
            if ok { "" } else { " (failed)" }
        );
        first_views.push((name.to_owned(), secs));
    }

    // Staff read throughout, each at its own pace.
    let think = Duration::from_millis(args.think_ms);
    let numbers = Arc::new(numbers);
    let mut readers = Vec::new();
    for (i, token) in coordinators.into_iter().enumerate() {
        let (http, stats, base, numbers) =
            (http.clone(), stats.clone(), base.clone(), numbers.clone());
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1000 + i as u64);
            let pages: [(&'static str, &str); 5] = [
                ("GET /situation", "/situation"),
                ("GET /api/v1/situation", "/api/v1/situation"),
                ("GET /alerts", "/alerts"),
                ("GET /stations", "/stations"),
                ("GET /observers", "/observers"),
            ];
            let mut k = 0usize;
            while !*stop.borrow() {
                let (name, path) = if k % 6 == 5 {
                    let n = &numbers[rng.random_range(0..numbers.len())];
                    ("GET /stations/{number}", format!("/stations/{n}"))
                } else {
                    let (name, path) = pages[k % 6];
                    (name, path.to_owned())
                };
                k += 1;
                let req = http.get(format!("{base}{path}")).bearer_auth(&token);
                call(&stats, name, req).await;
                tokio::select! {
                    _ = tokio::time::sleep(think.mul_f64(rng.random_range(0.5..1.5))) => {}
                    _ = stop.changed() => {}
                }
            }
        }));
    }
    for (i, token) in analysts.into_iter().enumerate() {
        let (http, stats, base) = (http.clone(), stats.clone(), base.clone());
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2000 + i as u64);
            let pages: [(&'static str, String); 3] = [
                ("GET /results/{id}", format!("/results/{result_id}")),
                (
                    "GET /results/{id}/compare",
                    format!("/results/{result_id}/compare"),
                ),
                (
                    "GET /results/{id}/quickcount",
                    format!("/results/{result_id}/quickcount"),
                ),
            ];
            let mut k = 0usize;
            while !*stop.borrow() {
                let (name, path) = &pages[k % 3];
                k += 1;
                let req = http.get(format!("{base}{path}")).bearer_auth(&token);
                call(&stats, name, req).await;
                tokio::select! {
                    _ = tokio::time::sleep(think.mul_f64(rng.random_range(1.0..3.0))) => {}
                    _ = stop.changed() => {}
                }
            }
        }));
    }

    // Openings: phone i starts at i/N of the window less the 200 ms an
    // opening may take at p99, so "all within the window" can be met by a
    // server that answers in time (spread over the whole window, the last
    // phone would start at its very end and always finish after it).
    let phones = Arc::new(phones);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(args.max_in_flight.max(1)));
    let window = Duration::from_secs(args.open_seconds.max(1))
        .saturating_sub(Duration::from_secs_f64(OPENING_P99_MS / 1000.0));
    let started = Instant::now();
    let progress = crate::progress::bar(phones.len() as u64, "openings");
    let mut openings = Vec::with_capacity(phones.len());
    for i in 0..phones.len() {
        let (http, stats, base, phones, in_flight, progress) = (
            http.clone(),
            stats.clone(),
            base.clone(),
            phones.clone(),
            in_flight.clone(),
            progress.clone(),
        );
        let at = started + window.mul_f64(i as f64 / phones.len() as f64);
        openings.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let _permit = in_flight.acquire().await.ok()?;
            let token = &phones[i].token;
            let mut ok = true;
            for (name, path) in [
                ("GET /api/v1/me", "/api/v1/me"),
                ("GET /api/v1/me/stations", "/api/v1/me/stations"),
                ("GET /api/v1/forms", "/api/v1/forms"),
            ] {
                let req = http.get(format!("{base}{path}")).bearer_auth(token);
                ok &= call(&stats, name, req).await.is_some();
            }
            progress.inc(1);
            ok.then(|| started.elapsed())
        }));
    }
    let mut openings_completed = 0;
    let mut openings_secs = 0f64;
    for o in openings {
        if let Some(done) = o.await.ok().flatten() {
            openings_completed += 1;
            openings_secs = openings_secs.max(done.as_secs_f64());
        }
    }
    progress.finish_and_clear();
    println!(
        "{openings_completed} of {} openings completed within {openings_secs:.1} s",
        phones.len()
    );

    // Closing time: reports at the pace asked, from phones at random.
    let rate = args.rate.max(0.1);
    let reporting = Duration::from_secs(args.seconds);
    let started_reports = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut sends = Vec::new();
    let mut sent = 0u64;
    let progress = crate::progress::bar((rate * reporting.as_secs_f64()) as u64, "reports");
    loop {
        let at = started_reports + Duration::from_secs_f64(sent as f64 / rate);
        if at >= started_reports + reporting {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        let j = rng.random_range(0..phones.len());
        let salt = rng.random::<u64>();
        let (http, stats, base, phones, in_flight, progress) = (
            http.clone(),
            stats.clone(),
            base.clone(),
            phones.clone(),
            in_flight.clone(),
            progress.clone(),
        );
        let seed = args.seed;
        sends.push(tokio::spawn(async move {
            let Ok(_permit) = in_flight.acquire().await else {
                return;
            };
            let phone = &phones[j];
            let reports = national::closing_reports(&phone.station, seed, salt);
            let Some((kind, payload)) = reports.get(salt as usize % reports.len().max(1)) else {
                return;
            };
            let body = serde_json::json!({
                "client_id": ClientId::from_bytes(rand::random()).to_string(),
                "station": phone.station.number.as_str(),
                "kind": kind.as_str(),
                "payload": payload,
                "observed_at": pollwatch_server::api::format_time(now()),
            });
            let req = http
                .post(format!("{base}/api/v1/events"))
                .bearer_auth(&phone.token)
                .json(&body);
            call(&stats, "POST /api/v1/events", req).await;
            progress.inc(1);
        }));
        sent += 1;
    }
    for s in sends {
        let _ = s.await;
    }
    progress.finish_and_clear();
    let reporting_secs = started_reports.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    for r in readers {
        let _ = r.await;
    }
    let (rss_max, hwm) = memory.await.unwrap_or((None, None));

    let map = stats
        .lock()
        .map_err(|_| anyhow::anyhow!("a measuring task panicked"))?;
    let endpoints: Vec<EndpointFigures> = map
        .iter()
        .map(|(name, e)| {
            let ms = |q: f64| {
                e.hist
                    .as_ref()
                    .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
            };
            let target = if name.contains("/me") || name.contains("/forms") {
                OPENING_P99_MS
            } else if name.contains("compare") || name.contains("quickcount") {
                ANALYSIS_P99_MS
            } else {
                PAGE_P99_MS
            };
            let p99 = ms(0.99);
            EndpointFigures {
                endpoint: (*name).to_owned(),
                count: e.hist.as_ref().map_or(0, |h| h.len()),
                p50_ms: ms(0.5),
                p99_ms: p99,
                max_ms: e.hist.as_ref().map_or(0.0, |h| h.max() as f64 / 1000.0),
                max_bytes: e.max_bytes,
                errors: e.errors,
                target_p99_ms: target,
                target_bytes: MAX_BYTES,
                met: p99 < target && e.max_bytes < MAX_BYTES && e.errors == 0,
                first_error: e.first_error.clone(),
            }
        })
        .collect();
    drop(map);
    let report = NationalReport {
        backend: store.backend().into(),
        phones: phones.len(),
        coordinators: args.coordinators,
        analysts: args.analysts,
        sessions_written_secs,
        openings_completed,
        openings_secs,
        openings_target_secs: OPENINGS_WITHIN_S,
        openings_met: openings_completed == phones.len() && openings_secs <= OPENINGS_WITHIN_S,
        report_rate: rate,
        reporting_secs,
        reports_sent: sent,
        server_pid,
        server_rss_max_mib: rss_max,
        server_hwm_mib: hwm,
        rss_target_mib: RSS_MIB,
        first_views,
        endpoints,
    };
    print_table(&report);
    match &args.json {
        Some(Some(path)) => std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?,
        Some(None) => println!("{}", serde_json::to_string_pretty(&report)?),
        None => {}
    }
    let all_met = report.openings_met
        && report.endpoints.iter().all(|e| e.met)
        && report.server_hwm_mib.is_none_or(|m| m < RSS_MIB);
    Ok(if all_met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// A session written straight into the store; answers its token.
async fn new_session(store: &Arc<dyn Store>, principal: Principal) -> anyhow::Result<String> {
    let token = auth::new_token();
    let at = now();
    let session = Session {
        id: hex::encode(rand::random::<[u8; 16]>()),
        token_hash: auth::token_hash(&token),
        principal,
        csrf_token: auth::new_token(),
        expires_at: Timestamp(at.0 + SESSION_MS),
        device: "pollwatch loadtest".into(),
        created_at: at,
        last_seen_at: at,
    };
    store.create_session(&session, at).await?;
    Ok(token)
}

fn print_table(r: &NationalReport) {
    println!(
        "\nnational election day on {}: {} phones, {} coordinators, {} analysts",
        r.backend, r.phones, r.coordinators, r.analysts
    );
    println!(
        "{:<32} {:>8} {:>9} {:>9} {:>9} {:>10} {:>6}   target",
        "endpoint", "count", "p50 ms", "p99 ms", "max ms", "max bytes", "errors"
    );
    for e in &r.endpoints {
        println!(
            "{:<32} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>10} {:>6}   p99 < {:.0} ms, < {} KB: {}",
            e.endpoint,
            e.count,
            e.p50_ms,
            e.p99_ms,
            e.max_ms,
            e.max_bytes,
            e.errors,
            e.target_p99_ms,
            e.target_bytes / 1024,
            if e.met { "met" } else { "MISSED" }
        );
        if let Some(err) = &e.first_error {
            println!("    first error: {err}");
        }
    }
    println!(
        "openings: {} of {} completed within {:.1} s (target: all within {:.0} s): {}",
        r.openings_completed,
        r.phones,
        r.openings_secs,
        r.openings_target_secs,
        if r.openings_met { "met" } else { "MISSED" }
    );
    println!(
        "reports: {} sent at {:.0}/s over {:.1} s",
        r.reports_sent, r.report_rate, r.reporting_secs
    );
    match (r.server_rss_max_mib, r.server_hwm_mib) {
        (Some(rss), Some(hwm)) => println!(
            "server memory (pid {}): resident at most {rss:.0} MiB sampled, peak (VmHWM) {hwm:.0} MiB (target < {:.0} MiB): {}",
            r.server_pid.unwrap_or(0),
            r.rss_target_mib,
            if hwm < r.rss_target_mib {
                "met"
            } else {
                "MISSED"
            }
        ),
        _ => println!("server memory: not measured"),
    }
}

/// VmRSS and VmHWM of `pid`, in MiB.
fn memory_of(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// The largest resident size sampled (every 250 ms) and the peak the
/// kernel kept, once told to stop.
async fn sample_memory(
    pid: Option<u32>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Option<f64>, Option<f64>) {
    let Some(pid) = pid else { return (None, None) };
    let mut max: Option<f64> = None;
    loop {
        if let Some((rss, _)) = memory_of(pid) {
            max = Some(max.map_or(rss, |m: f64| m.max(rss)));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.changed() => break,
        }
    }
    (max, memory_of(pid).map(|(_, hwm)| hwm))
}

/// The process listening on the URL's loopback port (Linux: the socket's
/// inode in /proc/net/tcp*, then the process holding it; only this user's
/// processes can be seen).
fn listener_pid(base: &str) -> Option<u32> {
    let port = reqwest::Url::parse(base).ok()?.port_or_known_default()?;
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (cols.get(1), cols.get(3), cols.get(9))
            else {
                continue;
            };
            let p = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && p == Some(port) {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| link.as_os_str() == i.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}
