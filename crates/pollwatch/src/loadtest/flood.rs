//! `pollwatch loadtest --login-flood`: many wrong passwords for one staff
//! account, many at once, from this machine, while a few observers keep
//! reporting and a monitor keeps asking `/healthz`. Measures what the flood
//! does to everyone else (latency, the server's resident memory) and how
//! soon the rightful user gets in once it stops.
//!
//! The target account is made for the run (`flood-XXXXXXXX` in the
//! load-test group, an analyst with a random password only this run
//! knows), so no real account is touched.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use pollwatch_domain::{ClientId, Role, Slug};
use pollwatch_server::auth;
use pollwatch_store::{NewUser, Store, now};
use serde::Serialize;

use super::LoadtestArgs;

/// Observers reporting during the flood, each every 100 ms (40 reports/s).
const OBSERVERS: usize = 4;
const REPORT_EVERY: Duration = Duration::from_millis(100);
/// The monitor's /healthz, every 20 ms (50/s).
const HEALTH_EVERY: Duration = Duration::from_millis(20);
const RSS_EVERY: Duration = Duration::from_millis(50);
/// How long the rightful user keeps trying after the flood, and how often.
const RIGHTFUL_PATIENCE: Duration = Duration::from_secs(180);
const RIGHTFUL_EVERY: Duration = Duration::from_millis(250);

#[derive(Serialize)]
struct FloodReport {
    backend: String,
    logins: u64,
    at_once: usize,
    from_addresses: u8,
    random_usernames: bool,
    flood_seconds: f64,
    /// Answers to the wrong logins by HTTP status ("error" for no answer).
    statuses: BTreeMap<String, u64>,
    /// The server's resident memory, MiB (absent when it cannot be read).
    rss_mib: Rss,
    /// During the flood.
    healthz_ms: Latency,
    /// Observers' reports (POST /api/v1/events) during the flood.
    reports_ms: Latency,
    /// Reports during the flood not answered 201.
    report_errors: u64,
    /// Seconds from the flood's end until the right password was accepted.
    rightful_login_after_s: Option<f64>,
    rightful_attempts: u64,
}

#[derive(Serialize)]
struct Rss {
    before: Option<f64>,
    peak: Option<f64>,
    after: Option<f64>,
}

#[derive(Serialize)]
struct Latency {
    samples: u64,
    p50: f64,
    p99: f64,
    max: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Self {
            samples: h.len(),
            p50: ms(h.value_at_quantile(0.5)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// Resident memory of a process, MiB, from /proc.
fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?)
}

pub async fn run(database: &str, args: LoadtestArgs) -> anyhow::Result<ExitCode> {
    if args.logins == 0 || args.logins > 1_000_000 {
        bail!("--logins must be between 1 and 1000000");
    }
    if args.at_once == 0 || args.at_once > 10_000 {
        bail!("--at-once must be between 1 and 10000");
    }
    if args.url.is_some() != args.server_pid.is_some() {
        tracing::warn!("--server-pid goes with --url: memory is read from that process");
    }
    let store = crate::open_store(database).await?;
    let stations = super::station_numbers(&store).await?;
    let (username, password) = target_account(&store, &args.group).await?;
    let codes = super::enrolment_codes(&store, &args.group, OBSERVERS).await?;
    let base = super::server(database, &store, args.url.as_deref()).await?;
    // Sample this process only when the server runs in it.
    let pid = match (&args.url, args.server_pid) {
        (Some(_), pid) => pid,
        (None, _) => None,
    };
    let remote = args.url.is_some();
    let sample_rss = move || {
        if remote && pid.is_none() {
            None
        } else {
            rss_mib(pid)
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.at_once + OBSERVERS + 1)
        .timeout(Duration::from_secs(60))
        .build()?;
    let tokens = super::enrol_all(&http, &base, &codes).await?;

    let flooding = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let report_errors = Arc::new(AtomicU64::new(0));

    // The monitor.
    let health = {
        let (http, url, flooding, stop) = (
            http.clone(),
            format!("{base}/healthz"),
            flooding.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut hist = histogram()?;
            let mut tick = tokio::time::interval(HEALTH_EVERY);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let t = Instant::now();
                let ok = http.get(&url).send().await.is_ok_and(|r| r.status() == 200);
                if flooding.load(Ordering::Relaxed) {
                    // A failed probe counts as the longest wait there is.
                    let us = if ok {
                        t.elapsed().as_micros() as u64
                    } else {
                        60_000_000
                    };
                    hist.record(us.max(1))?;
                }
            }
            Ok::<_, anyhow::Error>(hist)
        })
    };
    // The observers.
    let mut reporters = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (http, url, flooding, stop, errors) = (
            http.clone(),
            format!("{base}/api/v1/events"),
            flooding.clone(),
            stop.clone(),
            report_errors.clone(),
        );
        let station = stations[i % stations.len()].clone();
        reporters.push(tokio::spawn(async move {
            let mut hist = histogram()?;
            let mut tick = tokio::time::interval(REPORT_EVERY);
            let mut counted = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
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
                let ok = res.is_ok_and(|r| r.status() == 201);
                if flooding.load(Ordering::Relaxed) {
                    let us = t.elapsed().as_micros() as u64;
                    hist.record(us.max(1))?;
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok::<_, anyhow::Error>(hist)
        }));
    }
    // The memory sampler: the peak over the whole run.
    let rss_before = sample_rss();
    let rss_peak = Arc::new(Mutex::new(rss_before));
    let sampler = {
        let (peak, stop) = (rss_peak.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RSS_EVERY);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                if let (Some(now), Ok(mut peak)) = (sample_rss(), peak.lock()) {
                    *peak = Some(peak.map_or(now, |p: f64| p.max(now)));
                }
            }
        })
    };
    // Let the probes reach their pace before the flood.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The attackers' clients: from 127.0.0.1, or from several loopback
    // addresses when the flood is to look as if it came from many places.
    let attack_clients: Vec<reqwest::Client> = if args.from_addresses <= 1 {
        vec![http.clone()]
    } else {
        (0..args.from_addresses.min(250))
            .map(|i| {
                reqwest::Client::builder()
                    .local_address(std::net::IpAddr::from([127, 0, 0, 2 + i]))
                    .timeout(Duration::from_secs(60))
                    .build()
            })
            .collect::<Result<_, _>>()?
    };
    let statuses = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let issued = Arc::new(AtomicU64::new(0));
    let progress = crate::progress::bar(args.logins, "wrong logins");
    flooding.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let mut attackers = Vec::with_capacity(args.at_once);
    for i in 0..args.at_once {
        let (http, url, statuses, issued, progress) = (
            attack_clients[i % attack_clients.len()].clone(),
            format!("{base}/api/v1/login"),
            statuses.clone(),
            issued.clone(),
            progress.clone(),
        );
        let target = username.clone();
        let random = args.random_usernames;
        let limit = args.logins;
        attackers.push(tokio::spawn(async move {
            while issued.fetch_add(1, Ordering::Relaxed) < limit {
                let name = if random {
                    format!("nobody-{}", hex::encode(rand::random::<[u8; 6]>()))
                } else {
                    target.clone()
                };
                let body =
                    serde_json::json!({ "username": name, "password": "wrong password, again" });
                let status = match http.post(&url).json(&body).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16().to_string();
                        // Read the body, as a real client would.
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => "error".to_owned(),
                };
                if let Ok(mut m) = statuses.lock() {
                    *m.entry(status).or_default() += 1;
                }
                progress.inc(1);
            }
        }));
    }
    for a in attackers {
        a.await?;
    }
    let flood_seconds = started.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    progress.finish_and_clear();

    // The rightful user, trying as a person would, a few times a second.
    let ended = Instant::now();
    let mut rightful_attempts = 0u64;
    let mut rightful_login_after_s = None;
    let body = serde_json::json!({ "username": username, "password": password });
    while ended.elapsed() < RIGHTFUL_PATIENCE {
        rightful_attempts += 1;
        let res = http
            .post(format!("{base}/api/v1/login"))
            .json(&body)
            .send()
            .await;
        if res.is_ok_and(|r| r.status() == 201) {
            rightful_login_after_s = Some(ended.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(RIGHTFUL_EVERY).await;
    }
    // Give the allocator a moment to hand memory back, if it will.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = sample_rss();
    stop.store(true, Ordering::Relaxed);
    let health = health.await??;
    let mut reports = histogram()?;
    for r in reporters {
        reports.add(r.await??)?;
    }
    sampler.await?;

    let report = FloodReport {
        backend: store.backend().into(),
        logins: args.logins,
        at_once: args.at_once,
        from_addresses: args.from_addresses.max(1),
        random_usernames: args.random_usernames,
        flood_seconds,
        statuses: statuses.lock().map(|m| m.clone()).unwrap_or_default(),
        rss_mib: Rss {
            before: rss_before,
            peak: rss_peak.lock().ok().and_then(|p| *p),
            after: rss_after,
        },
        healthz_ms: Latency::of(&health),
        reports_ms: Latency::of(&reports),
        report_errors: report_errors.load(Ordering::Relaxed),
        rightful_login_after_s,
        rightful_attempts,
    };
    if args.json.is_some() {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(if report.rightful_login_after_s.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_text(r: &FloodReport) {
    let mib = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.0} MiB"));
    let statuses: Vec<String> = r
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    println!(
        "{} wrong logins, {} at once from {} address(es){}, in {:.1} s on {}: {}",
        r.logins,
        r.at_once,
        r.from_addresses,
        if r.random_usernames {
            " for random usernames"
        } else {
            ""
        },
        r.flood_seconds,
        r.backend,
        statuses.join(", ")
    );
    println!(
        "server memory: {} before, {} peak, {} after",
        mib(r.rss_mib.before),
        mib(r.rss_mib.peak),
        mib(r.rss_mib.after)
    );
    println!(
        "during the flood: /healthz p50 {:.2} ms, p99 {:.2} ms ({} probes); reports p50 {:.2} ms, p99 {:.2} ms ({} reports, {} not stored)",
        r.healthz_ms.p50,
        r.healthz_ms.p99,
        r.healthz_ms.samples,
        r.reports_ms.p50,
        r.reports_ms.p99,
        r.reports_ms.samples,
        r.report_errors
    );
    match r.rightful_login_after_s {
        Some(s) => println!(
            "the rightful user got in {s:.1} s after the flood ({} attempts)",
            r.rightful_attempts
        ),
        None => println!(
            "the rightful user did NOT get in within {} s after the flood",
            RIGHTFUL_PATIENCE.as_secs()
        ),
    }
}

/// A fresh account to flood, with a password only this run knows.
async fn target_account(store: &Arc<dyn Store>, group: &str) -> anyhow::Result<(String, String)> {
    let at = now();
    let slug = Slug::parse(group).context("--group")?;
    let group = match store.group(&slug).await? {
        Some(g) => g,
        None => store.create_group(&slug, "Load test", at).await?,
    };
    let username = format!("flood-{}", hex::encode(rand::random::<[u8; 4]>()));
    let password = auth::new_token();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || auth::hash_password(&password)).await??
    };
    store
        .create_user(
            NewUser {
                group_id: Some(group.id),
                username: username.clone(),
                role: Role::Analyst,
                password_hash: hash,
            },
            at,
        )
        .await?;
    Ok((username, password))
}
