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
