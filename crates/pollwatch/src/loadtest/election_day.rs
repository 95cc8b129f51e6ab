//! `pollwatch loadtest --election-day`: the demo city at closing time.
//! Hundreds of simulated observers of a demo group send what phones send
//! then (headcounts, the closing checklist, protocols, incidents: the
//! demo's own closing-time reports as templates), each every few seconds,
//! while coordinators of the group watch the live feed
//! (`/api/v1/situation/stream`). Measures reports/s, the answer time of a
//! report, and the time from sending a report to each coordinator's feed
//! delivering an update that names its station at or after its `seq`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use pollwatch_domain::{ClientId, EventKind};
use pollwatch_store::now;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{Latency, LoadtestArgs};

/// How long the feeds keep listening after the last report: a few
/// coalescing windows, so a report sent at the end can still arrive.
const GRACE: Duration = Duration::from_secs(3);

#[derive(Serialize)]
struct ElectionDayReport {
    backend: String,
    group: String,
    observers: usize,
    coordinators: usize,
    seconds: f64,
    reports: u64,
    errors: u64,
    reports_per_second: f64,
    /// From sending a report to its 201.
    answer_ms: Latency,
    /// From sending a report to a coordinator's feed naming its station
    /// (one sample per report and coordinator).
    feed_ms: Latency,
    /// The same, from the report's 201.
    feed_after_answer_ms: Latency,
    /// (report, coordinator) pairs never delivered within the grace.
    undelivered: u64,
    /// Updates that said "too much changed: reload" instead of naming
    /// stations.
    resyncs: u64,
    updates: u64,
}

/// One stored report: which station (index), its seq, when it was sent
/// and answered.
struct Sent {
    station: usize,
    seq: i64,
    sent: Instant,
    answered: Instant,
}

/// What one coordinator's feed delivered: per station, (seq, when).
#[derive(Default)]
struct Delivered {
    by_station: HashMap<String, Vec<(i64, Instant)>>,
    updates: u64,
    resyncs: u64,
}

/// The closing-time reports of the demo's election day that a phone
/// sends (their payloads pass the server's checks): by station number
/// (headcounts and protocols carry figures that must fit the station's
/// register), and those without figures, for any station.
struct Templates {
    by_station: HashMap<String, Vec<(EventKind, serde_json::Value)>>,
    anywhere: Vec<(EventKind, serde_json::Value)>,
}

impl Templates {
    fn closing_time() -> Self {
        let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
        let closing = pollwatch_demo::local_time(19, 0);
        let mut t = Self {
            by_station: HashMap::new(),
            anywhere: Vec::new(),
        };
        for e in pollwatch_demo::election_day(&city, pollwatch_demo::DEFAULT_SEED) {
            if e.observed_at < closing {
                continue;
            }
            match e.kind {
                EventKind::Headcount | EventKind::Protocol | EventKind::Checklist => {}
                EventKind::Incident if !e.payload.to_string().contains("evidence") => {}
                _ => continue,
            }
            if matches!(e.kind, EventKind::Checklist | EventKind::Incident) {
                t.anywhere.push((e.kind, e.payload.clone()));
            }
            t.by_station
                .entry(e.station.to_string())
                .or_default()
                .push((e.kind, e.payload));
        }
        t
    }

    fn for_station(&self, number: &str) -> &[(EventKind, serde_json::Value)] {
        self.by_station
            .get(number)
            .map(Vec::as_slice)
            .unwrap_or(&self.anywhere)
    }
}

pub(super) async fn run(database: &str, args: LoadtestArgs) -> anyhow::Result<ExitCode> {
    let phones_wanted = args.observers.unwrap_or(600);
    if phones_wanted == 0 || phones_wanted > 10_000 {
        bail!("--observers must be between 1 and 10000");
    }
    if args.coordinators > 200 {
        bail!("--coordinators must be at most 200");
    }
    let city = pollwatch_demo::city(pollwatch_demo::DEFAULT_SEED);
    let demo_group = if args.group == "loadtest" {
        city.groups.first()
    } else {
        city.groups.iter().find(|g| g.slug.as_str() == args.group)
    }
    .context("--election-day drives a demo group: run `pollwatch demo --no-serve` first and name one of its groups with --group")?;
    let group = demo_group.slug.to_string();
    let templates = Arc::new(Templates::closing_time());
    if templates.anywhere.is_empty() {
        bail!("the demo's election day has no closing-time reports");
    }

    let store = crate::open_store(database).await?;
    if store.group(&demo_group.slug).await?.is_none() {
        bail!("no group {group} in this database: run `pollwatch demo --no-serve` on it first");
    }
    let stations = Arc::new(super::station_numbers(&store).await?);
    let codes = super::enrolment_codes(&store, &group, phones_wanted).await?;
    let base = super::server(database, &store, args.url.as_deref()).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(phones_wanted + args.coordinators)
        .timeout(Duration::from_secs(30))
        .build()?;
    let phones = super::enrol_all(&http, &base, &codes).await?;

    // Coordinators log in (the demo's coordinator, one session each) and
    // open the feed; reporting starts once every feed said hello.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut feeds = Vec::with_capacity(args.coordinators);
    let mut ready = Vec::with_capacity(args.coordinators);
    for _ in 0..args.coordinators {
        let res = http
            .post(format!("{base}/api/v1/login"))
            .json(&serde_json::json!({
                "username": demo_group.coordinator,
                "password": crate::demo::DEMO_PASSWORD,
            }))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        if !res.status().is_success() {
            bail!(
                "coordinator login failed: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        let token = res.json::<serde_json::Value>().await?["token"]
            .as_str()
            .context("login answered no token")?
            .to_owned();
        let res = reqwest::Client::new()
            .get(format!("{base}/api/v1/situation/stream"))
            .bearer_auth(&token)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("the live feed answered {}", res.status());
        }
        let (hello_tx, hello_rx) = tokio::sync::oneshot::channel();
        ready.push(hello_rx);
        feeds.push(tokio::spawn(watch(res, hello_tx, stop_rx.clone())));
    }
    for r in ready {
        r.await.context("a live feed ended before its hello")?;
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let every = Duration::from_millis(args.every_ms.max(1));
    let mut observers = Vec::with_capacity(phones.len());
    for (i, phone) in phones.into_iter().enumerate() {
        let http = http.clone();
        let url = format!("{base}/api/v1/events");
        let stations = Arc::clone(&stations);
        let templates = Arc::clone(&templates);
        observers.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(i as u64);
            let mut answers = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut sent_log = Vec::new();
            let mut errors = 0u64;
            let station = i % stations.len();
            // Phones do not send in step: a random start within a period.
            tokio::time::sleep(every.mul_f64(rng.random_range(0.0..1.0))).await;
            let mine = templates.for_station(&stations[station]);
            while Instant::now() < deadline {
                let (kind, payload) = &mine[rng.random_range(0..mine.len())];
                let body = serde_json::json!({
                    // Fresh on every run, so a second run against the same
                    // database is not a retry of the first.
                    "client_id": ClientId::from_bytes(rand::random()).to_string(),
                    "station": stations[station],
                    "kind": kind.as_str(),
                    "payload": payload,
                    "observed_at": pollwatch_server::api::format_time(now()),
                });
                let sent = Instant::now();
                let res = http.post(&url).bearer_auth(&phone).json(&body).send().await;
                let answered = Instant::now();
                answers.record((answered - sent).as_micros().max(1) as u64)?;
                match res {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let seq = r.json::<serde_json::Value>().await?["seq"]
                            .as_i64()
                            .unwrap_or(i64::MAX);
                        sent_log.push(Sent {
                            station,
                            seq,
                            sent,
                            answered,
                        });
                    }
                    Ok(r) => {
                        if errors == 0 {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            tracing::warn!(%status, %text, "a failed report");
                        }
                        errors += 1;
                    }
                    Err(e) => {
                        if errors == 0 {
                            tracing::warn!(error = %e, "a failed report");
                        }
                        errors += 1;
                    }
                }
                let pause = every.mul_f64(rng.random_range(0.5..1.5));
                tokio::time::sleep_until((Instant::now() + pause).min(deadline).into()).await;
            }
            Ok::<_, anyhow::Error>((answers, sent_log, errors))
        }));
    }
    let mut answers = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut sent = Vec::new();
    let mut errors = 0;
    for o in observers {
        let (h, s, e) = o.await??;
        answers.add(h)?;
        sent.extend(s);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(GRACE).await;
    let _ = stop_tx.send(true);

    let mut feed = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut after_answer = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (mut undelivered, mut updates, mut resyncs) = (0u64, 0u64, 0u64);
    for f in feeds {
        let mut d = f.await??;
        updates += d.updates;
        resyncs += d.resyncs;
        for list in d.by_station.values_mut() {
            list.sort_by_key(|(seq, _)| *seq);
        }
        for s in &sent {
            let first = d.by_station.get(&stations[s.station]).and_then(|list| {
                let at = list.partition_point(|(seq, _)| *seq < s.seq);
                list.get(at)
            });
            match first {
                Some((_, at)) => {
                    feed.record(at.saturating_duration_since(s.sent).as_micros().max(1) as u64)?;
                    after_answer.record(
                        at.saturating_duration_since(s.answered).as_micros().max(1) as u64,
                    )?;
                }
                None => undelivered += 1,
            }
        }
    }

    let report = ElectionDayReport {
        backend: store.backend().into(),
        group,
        observers: phones_wanted,
        coordinators: args.coordinators,
        seconds,
        reports: sent.len() as u64,
        errors,
        reports_per_second: sent.len() as f64 / seconds,
        answer_ms: Latency::of(&answers),
        feed_ms: Latency::of(&feed),
        feed_after_answer_ms: Latency::of(&after_answer),
        undelivered,
        resyncs,
        updates,
    };
    if args.json.is_some() {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let l = |l: &Latency| {
            format!(
                "p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
                l.p50, l.p90, l.p99, l.p999, l.max
            )
        };
        println!(
            "election day on {} ({}): {} observers, {} coordinators on the live feed, {:.1} s\n\
             {} reports stored, {:.1} reports/s, {} errors\n\
             report answered, ms:        {}\n\
             sent → coordinator's feed, ms: {}\n\
             answered → feed, ms:       {}\n\
             {} updates delivered in all, {} resyncs, {} (report, coordinator) pairs undelivered",
            report.backend,
            report.group,
            report.observers,
            report.coordinators,
            report.seconds,
            report.reports,
            report.reports_per_second,
            report.errors,
            l(&report.answer_ms),
            l(&report.feed_ms),
            l(&report.feed_after_answer_ms),
            report.updates,
            report.resyncs,
            report.undelivered,
        );
    }
    Ok(if report.errors == 0 && report.undelivered == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Read one coordinator's feed until told to stop: every update's
/// stations, with the update's seq and when it arrived.
async fn watch(
    mut res: reqwest::Response,
    hello: tokio::sync::oneshot::Sender<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Delivered> {
    let mut hello = Some(hello);
    let mut out = Delivered::default();
    let mut buf = String::new();
    loop {
        let chunk = tokio::select! {
            c = res.chunk() => c?,
            _ = stop.changed() => return Ok(out),
        };
        let Some(chunk) = chunk else {
            bail!("the live feed ended");
        };
        let arrived = Instant::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = "message";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = if v.trim() == "update" {
                        "update"
                    } else {
                        "other"
                    };
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if name != "update" {
                if let Some(h) = hello.take() {
                    let _ = h.send(());
                }
                continue;
            }
            let update: serde_json::Value = serde_json::from_str(&data)?;
            out.updates += 1;
            if update["resync"] == true {
                out.resyncs += 1;
            }
            let seq = update["seq"].as_i64().unwrap_or(0);
            for st in update["stations"].as_array().into_iter().flatten() {
                if let Some(n) = st["number"].as_str() {
                    out.by_station
                        .entry(n.to_owned())
                        .or_default()
                        .push((seq, arrived));
                }
            }
        }
    }
}
