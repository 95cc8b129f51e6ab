//! `pollwatch loadtest`: many simulated observers submitting reports over
//! real HTTP, as at 20:00 on election day. Reports events/s and latency
//! percentiles. Bounded by a count and a time, and loopback only: it is a
//! measuring tool, not a way to flood someone else's server. With
//! `--login-flood`, wrong passwords instead (see `loadtest/flood.rs`).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hdrhistogram::Histogram;
use pollwatch_domain::{ClientId, CodeName, Language, Slug, Timestamp};
use pollwatch_server::auth;
use pollwatch_store::{NewObserver, Store, StoreError, now};
use serde::Serialize;

use crate::serve::ServeArgs;

mod election_day;
mod flood;
mod national;

#[derive(Args)]
pub struct LoadtestArgs {
    /// A running server to drive (loopback only). Without it, a server is
    /// started in this process on a free loopback port over --database.
    #[arg(long)]
    pub url: Option<String>,
    /// Concurrent simulated observers.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Stop after this many reports in all.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Stop after this many seconds, whatever the count.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// The group the simulated observers belong to (created if absent;
    /// tenancy keeps its reports apart from real groups').
    #[arg(long, default_value = "loadtest")]
    pub group: String,
    /// Print the result as JSON; with a file name (--national), write it
    /// there and print the table.
    #[arg(long, num_args = 0..=1, value_name = "FILE")]
    pub json: Option<Option<std::path::PathBuf>>,
    /// Instead of reports: flood one staff account with wrong passwords
    /// while measuring /healthz and observers' reports, the server's
    /// memory, and how soon the rightful user gets in afterwards.
    #[arg(long)]
    pub login_flood: bool,
    /// With --login-flood: wrong logins in all.
    #[arg(long, default_value_t = 2048)]
    pub logins: u64,
    /// With --login-flood: wrong logins in flight at once.
    #[arg(long, default_value_t = 256)]
    pub at_once: usize,
    /// With --login-flood: spread the flood over this many loopback source
    /// addresses (127.0.0.2, 127.0.0.3, ...), as from many machines.
    #[arg(long, default_value_t = 1)]
    pub from_addresses: u8,
    /// With --login-flood: a new random username for every wrong login
    /// (so that the per-account limits do not stop the flood, only the
    /// per-address ones and the hashing threads' queue).
    #[arg(long)]
    pub random_usernames: bool,
    /// Instead of one report after another: the demo city at closing
    /// time. --observers phones of a demo group (--group, else the demo's
    /// first) each send a closing-time report every --every-ms (with
    /// jitter), while --coordinators watch the live feed; measures
    /// reports/s and the delay from a report to each coordinator's feed.
    /// Needs the demo in the database (`pollwatch demo --no-serve`).
    #[arg(long)]
    pub election_day: bool,
    /// With --election-day: simulated observers (600 unless given). With
    /// --national: phones opened (30,000 unless given).
    #[arg(long)]
    pub observers: Option<usize>,
    /// With --election-day: coordinators connected to the live feed.
    #[arg(long, default_value_t = 20)]
    pub coordinators: usize,
    /// With --election-day: each observer's pause between reports, in
    /// milliseconds (each pause drawn between half and one and a half
    /// times this).
    #[arg(long, default_value_t = 5000)]
    pub every_ms: u64,
    /// With --url: the server's process id, to sample its resident memory
    /// from /proc (the in-process server samples this process).
    /// With --national: found from the listening port when not given.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The national scenario's election day (`pollwatch scenario national`
    /// first): --observers phones open the app within --open-seconds, then
    /// send closing-time reports at --rate per second for --seconds, while
    /// --coordinators and --analysts read their pages. Per endpoint:
    /// count, p50/p99/max latency, largest answer, errors, beside the
    /// targets; the server's memory.
    #[arg(long)]
    pub national: bool,
    /// With --national: analysts reading the official result's pages.
    #[arg(long, default_value_t = 5)]
    pub analysts: usize,
    /// With --national: the window the phones open the app in.
    #[arg(long, default_value_t = 60)]
    pub open_seconds: u64,
    /// With --national: reports per second at closing time.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// With --national: staff's pause between pages, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub think_ms: u64,
    /// With --national: requests in flight at most (phones queue beyond).
    #[arg(long, default_value_t = 1024)]
    pub max_in_flight: usize,
    /// With --national: seed of the reports' choice and content.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// With --national: the official result the analysts read (default:
    /// the scenario's latest).
    #[arg(long)]
    pub result: Option<i64>,
}

impl LoadtestArgs {
    /// --group, or `default` when it was left at the load-test group.
    pub fn group_or(&self, default: &str) -> String {
        if self.group == "loadtest" {
            default.to_owned()
        } else {
            self.group.clone()
        }
    }
}

#[derive(Serialize)]
struct Report {
    backend: String,
    clients: usize,
    events: u64,
    errors: u64,
    seconds: f64,
    events_per_second: f64,
    latency_ms: Latency,
}

#[derive(Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

impl Latency {
    /// Milliseconds from a histogram of microseconds.
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

pub(crate) fn loopback_only(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("bad --url {url}"))?;
    match parsed.host_str() {
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1") => Ok(()),
        other => bail!(
            "the load generator only drives servers on this machine (127.0.0.1, localhost, ::1), not {}",
            other.unwrap_or("?")
        ),
    }
}

pub async fn run(database: &str, args: LoadtestArgs) -> anyhow::Result<ExitCode> {
    if args.clients == 0 || args.clients > 10_000 {
        bail!("--clients must be between 1 and 10000");
    }
    if args.login_flood {
        return flood::run(database, args).await;
    }
    if args.election_day {
        return election_day::run(database, args).await;
    }
    if args.national {
        return national::run(database, args).await;
    }
    let store = crate::open_store(database).await?;
    let stations = station_numbers(&store).await?;
    let codes = enrolment_codes(&store, &args.group, args.clients).await?;
    let base = server(database, &store, args.url.as_deref()).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let tokens = enrol_all(&http, &base, &codes).await?;
    run_reports(store, base, http, stations, tokens, args).await
}

/// The numbers of the latest election's stations.
pub(crate) async fn station_numbers(store: &Arc<dyn Store>) -> anyhow::Result<Vec<String>> {
    let stations: Vec<String> = {
        let election = crate::pick_election(&**store, None)
            .await?
            .context("no stations: run `pollwatch demo --no-serve` or import a registry first")?;
        store
            .stations(election.id)
            .await?
            .into_iter()
            .map(|s| s.record.number.to_string())
            .collect()
    };
    if stations.is_empty() {
        bail!("the election has no stations: import a registry first");
    }
    Ok(stations)
}

/// The server to drive: `url` (loopback only), or one started in this
/// process on a free loopback port.
pub(crate) async fn server(
    database: &str,
    store: &Arc<dyn Store>,
    url: Option<&str>,
) -> anyhow::Result<String> {
    Ok(match url {
        Some(url) => {
            loopback_only(url)?;
            url.trim_end_matches('/').to_owned()
        }
        None => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let serve_args = ServeArgs {
                listen: "127.0.0.1:0".parse()?,
                election: None,
                secure_cookies: false,
                data_dir: Some(crate::serve::default_data_dir(database)),
                blobs: None,
                forms: None,
                trust_forwarded_for: false,
                keys: None,
            };
            let server_store = store.clone();
            tokio::spawn(async move {
                let result = crate::serve::serve(server_store, serve_args, |addr| {
                    let _ = tx.send(addr);
                })
                .await;
                if let Err(e) = result {
                    tracing::error!(error = %e, "in-process server failed");
                }
            });
            format!(
                "http://{}",
                rx.await.context("the in-process server did not start")?
            )
        }
    })
}

/// Enrol a phone per code; answers their bearer tokens.
pub(crate) async fn enrol_all(
    http: &reqwest::Client,
    base: &str,
    codes: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(codes.len());
    for code in codes {
        let res = http
            .post(format!("{base}/api/v1/enrol"))
            .json(&serde_json::json!({ "code": code }))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        if !res.status().is_success() {
            bail!(
                "enrolment failed: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        let body: serde_json::Value = res.json().await?;
        tokens.push(
            body["token"]
                .as_str()
                .context("enrolment answered no token")?
                .to_owned(),
        );
    }
    Ok(tokens)
}

async fn run_reports(
    store: Arc<dyn Store>,
    base: String,
    http: reqwest::Client,
    stations: Vec<String>,
    tokens: Vec<String>,
    args: LoadtestArgs,
) -> anyhow::Result<ExitCode> {
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let progress = crate::progress::bar(args.events, "reports");
    let stations = Arc::new(stations);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.into_iter().enumerate() {
        let http = http.clone();
        let url = format!("{base}/api/v1/events");
        let issued = issued.clone();
        let errors = errors.clone();
        let stations = stations.clone();
        let progress = progress.clone();
        let limit = args.events;
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let station = &stations[i % stations.len()];
            let mut counted = 0u64;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < limit {
                counted += 1;
                let body = serde_json::json!({
                    "client_id": ClientId::from_bytes(rand::random()).to_string(),
                    "station": station,
                    "kind": "headcount",
                    "payload": { "counted": counted, "announced": null },
                    "observed_at": pollwatch_server::api::format_time(now()),
                });
                let t = Instant::now();
                let res = http.post(&url).bearer_auth(&token).json(&body).send().await;
                let micros = t.elapsed().as_micros() as u64;
                hist.record(micros.max(1))?;
                match res {
                    Ok(r) if r.status().as_u16() == 201 => {}
                    Ok(r) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            tracing::warn!(%status, %text, "first failed report");
                        }
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            tracing::warn!(error = %e, "first failed report");
                        }
                    }
                }
                progress.inc(1);
            }
            Ok::<_, anyhow::Error>(hist)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        hist.add(t.await??)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let report = Report {
        backend: store.backend().into(),
        clients: args.clients,
        events: hist.len(),
        errors: errors.load(Ordering::Relaxed),
        seconds,
        events_per_second: hist.len() as f64 / seconds,
        latency_ms: Latency {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: hist.max() as f64 / 1000.0,
        },
    };
    if args.json.is_some() {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} reports from {} clients in {:.1} s on {}: {:.0} reports/s, {} errors\nlatency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            report.events,
            report.clients,
            report.seconds,
            report.backend,
            report.events_per_second,
            report.errors,
            report.latency_ms.p50,
            report.latency_ms.p90,
            report.latency_ms.p99,
            report.latency_ms.p999,
            report.latency_ms.max
        );
    }
    Ok(if report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Fresh one-time codes for `n` simulated observers of the load-test group.
pub(crate) async fn enrolment_codes(
    store: &Arc<dyn Store>,
    group: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let at = now();
    let slug = Slug::parse(group).context("--group")?;
    let group = match store.group(&slug).await? {
        Some(g) => g,
        None => store.create_group(&slug, "Load test", at).await?,
    };
    // Client i reports for station i (mod the count), in the order
    // `station_numbers` gives: observers report only where assigned.
    let station_ids: Vec<_> = match crate::pick_election(&**store, None).await? {
        Some(e) => store.stations(e.id).await?.iter().map(|s| s.id).collect(),
        None => vec![],
    };
    let mut codes = Vec::with_capacity(n);
    for i in 0..n {
        let code_name = CodeName::parse(&format!("load-{i:05}"))?;
        let observer = match store
            .create_observer(
                NewObserver {
                    group_id: group.id,
                    code_name: code_name.clone(),
                    language: Language::En,
                    contact: None,
                },
                at,
            )
            .await
        {
            Ok(o) => o,
            Err(StoreError::AlreadyExists(_)) => store
                .observer_by_code_name(group.id, &code_name)
                .await?
                .context("observer vanished")?,
            Err(e) => return Err(e.into()),
        };
        if !station_ids.is_empty() {
            store
                .assign(group.id, observer.id, station_ids[i % station_ids.len()])
                .await?;
        }
        let code = auth::new_enrolment_code();
        store
            .create_enrolment_code(
                &auth::enrolment_code_hash(&code),
                group.id,
                observer.id,
                Timestamp(at.0 + 3600 * 1000),
                at,
            )
            .await?;
        codes.push(code);
    }
    Ok(codes)
}
