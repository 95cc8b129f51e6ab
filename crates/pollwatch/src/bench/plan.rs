//! `pollwatch bench plan`: the optimal nearest-to-home assignment at
//! national scale, and a dense case to set beside scipy's
//! `linear_sum_assignment` (scripts/bench/assign_scipy.py).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

pub fn run(
    volunteers: usize,
    stations: usize,
    seed: u64,
    dense: usize,
    dense_out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let r = pollwatch_planning::bench::run(volunteers, stations, seed)?;
    let secs = started.elapsed().as_secs_f64();
    let c = &r.certificate;
    println!(
        "nearest to home: {} volunteers x {} stations (seed {seed}): {:.2} s",
        r.volunteers, r.stations, secs
    );
    println!(
        "  placed {}, left over {}, at their home station {}; total {} m, mean {:.0} m, max {} m",
        r.placed, r.left_over, r.at_home, r.total_m, r.mean_m, r.max_m
    );
    println!(
        "  {} sparse round(s), {} candidate pairs; certificate: primal {} = dual {}, {} of {} pairs measured, largest violation {}: {}",
        r.rounds,
        r.candidate_pairs,
        c.primal,
        c.dual,
        c.checked_pairs,
        c.all_pairs,
        c.max_violation,
        if c.optimal { "optimal" } else { "NOT PROVEN" }
    );
    web_plan(volunteers, stations, seed)?;
    if dense > 0 {
        let cost = pollwatch_planning::bench::dense_case(dense, seed);
        let started = Instant::now();
        let a = pollwatch_planning::solve_dense(&cost, dense, dense)?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "dense {dense} x {dense} (seed {seed}): total {} m in {secs:.3} s, solve and certificate over all {} pairs",
            a.total,
            dense * dense
        );
        if let Some(out) = dense_out {
            let json = serde_json::json!({
                "rows": dense,
                "cols": dense,
                "seed": seed,
                "generated_by": format!("pollwatch_planning::bench::dense_case({dense}, {seed})"),
                "pollwatch_total": a.total,
                "cost": cost,
            });
            std::fs::write(&out, serde_json::to_vec(&json)?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "  wrote the matrix to {}: python3 scripts/bench/assign_scipy.py {}",
                out.display(),
                out.display()
            );
        }
    }
    if let Some(mib) = super::peak_memory_mib() {
        println!("peak memory (VmHWM) {mib:.0} MiB");
    }
    Ok(ExitCode::SUCCESS)
}

/// What `/plan` does with the same city: the strategy run into a proposal,
/// kept as JSON, read back and rebuilt with its summary (a view after a
/// change), and the map drawn.
fn web_plan(volunteers: usize, stations: usize, seed: u64) -> anyhow::Result<()> {
    use pollwatch_planning::map::{Coverage, MapLabels, MapOptions};
    use pollwatch_planning::{Proposal, Strategy};
    let city = pollwatch_planning::bench::city(stations, seed);
    let people = pollwatch_planning::bench::volunteers(&city, volunteers, seed);
    let started = Instant::now();
    let proposal = pollwatch_planning::propose(
        &city,
        &people,
        &Strategy::Nearest {
            per_station: 1,
            around_others: false,
        },
        &[],
    )?;
    let propose_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let json = serde_json::to_string(&proposal)?;
    let kept: Proposal = serde_json::from_str(&json)?;
    let plan = kept
        .rebuild(&city, &[])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let summary = plan.summary();
    let rebuild_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let coverage: Vec<Coverage> = plan
        .volunteers_per_station()
        .iter()
        .map(|&n| if n > 0 { Coverage::Ours } else { Coverage::Gap })
        .collect();
    let label = |s: &str| s.to_owned();
    let svg = pollwatch_planning::map::svg(
        &city,
        &coverage,
        &MapOptions::new(MapLabels {
            title: label("Stations by coverage"),
            ours: label("in the plan"),
            others: label("other groups"),
            both: label("both"),
            gap: label("nobody"),
            share_covered: label("covered"),
            not_drawn: label("not drawn"),
        }),
    );
    let map_s = started.elapsed().as_secs_f64();
    println!(
        "/plan on the same city: strategy run {propose_s:.2} s; kept as {} KiB of JSON, read back and rebuilt with its summary {rebuild_s:.3} s ({} stations covered, {} of {} volunteers placed); map {} KiB in {map_s:.3} s",
        json.len() / 1024,
        summary.stations_covered,
        summary.volunteers_assigned,
        summary.volunteers,
        svg.len() / 1024,
    );
    Ok(())
}
