//! Times the planning benchmark (the crate itself has no clock).
//!
//! ```text
//! cargo run --release -p pollwatch-planning --example plan_bench -- sparse 10000 100000 [seed]
//! cargo run --release -p pollwatch-planning --example plan_bench -- dense 2000 OUT.json [seed]
//! cargo run --release -p pollwatch-planning --example plan_bench -- fixture 150 400 OUT.json [seed]
//! ```
//!
//! `dense` writes the matrix for `scripts/bench/assign_scipy.py` and times
//! our dense solver on it; `fixture` writes the nearest-to-home case the
//! tests keep in `tests/data/` (stations, homes and the cost matrix).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::time::Instant;

use pollwatch_planning::bench;

fn arg(args: &[String], i: usize) -> usize {
    args.get(i)
        .unwrap_or_else(|| panic!("argument {i} missing"))
        .parse()
        .expect("a number")
}

fn json_numbers(v: impl IntoIterator<Item = String>) -> String {
    let mut s = String::from("[");
    for (i, x) in v.into_iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x);
    }
    s.push(']');
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sparse") => {
            let (v, s) = (arg(&args, 1), arg(&args, 2));
            let seed = args.get(3).map_or(1, |x| x.parse().expect("a seed"));
            let t = Instant::now();
            let report = bench::run(v, s, seed).expect("solved");
            let secs = t.elapsed().as_secs_f64();
            println!("{report:#?}");
            println!("sparse {v} x {s}: {secs:.3} s (generation, solve and certificate)");
        }
        Some("dense") => {
            let n = arg(&args, 1);
            let out = args.get(2).expect("an output path");
            let seed = args.get(3).map_or(1, |x| x.parse().expect("a seed"));
            let cost = bench::dense_case(n, seed);
            let body = format!(
                "{{\"rows\":{n},\"cols\":{n},\"seed\":{seed},\"generated_by\":\"pollwatch_planning::bench::dense_case({n}, {seed})\",\"cost\":{}}}\n",
                json_numbers(cost.iter().map(u64::to_string))
            );
            std::fs::write(out, body).expect("written");
            let t = Instant::now();
            let a = pollwatch_planning::solve_dense(&cost, n, n).expect("solved");
            let secs = t.elapsed().as_secs_f64();
            println!(
                "dense {n} x {n}: total {} in {secs:.3} s (solve and full certificate: {:?})",
                a.total, a.certificate
            );
        }
        Some("fixture") => {
            let (rows, cols) = (arg(&args, 1), arg(&args, 2));
            let out = args.get(3).expect("an output path");
            let seed = args.get(4).map_or(150, |x| x.parse().expect("a seed"));
            let stations = bench::city(cols, seed);
            let volunteers = bench::volunteers(&stations, rows, seed);
            let cost = bench::cost_matrix(&stations, &volunteers);
            let mut body = String::from("{\n");
            let _ = writeln!(
                body,
                "\"generated_by\": \"cargo run --release -p pollwatch-planning --example plan_bench -- fixture {rows} {cols} OUT.json {seed}: pollwatch_planning::bench::city({cols}, {seed}) and bench::volunteers(&stations, {rows}, {seed}); cost[i][j] = distance_m(home of volunteer i, station j); scipy_total by scripts/bench/assign_scipy.py --store\","
            );
            let _ = writeln!(
                body,
                "\"rows\": {rows},\n\"cols\": {cols},\n\"seed\": {seed},"
            );
            let _ = writeln!(
                body,
                "\"stations\": {},",
                json_numbers(stations.iter().map(|s| {
                    let (lat, lon) = s.at.expect("synthetic stations have coordinates");
                    format!("[{lat:?},{lon:?}]")
                }))
            );
            let _ = writeln!(
                body,
                "\"homes\": {},",
                json_numbers(
                    volunteers
                        .iter()
                        .map(|v| v.home.expect("a home").to_string())
                )
            );
            let _ = writeln!(
                body,
                "\"cost\": {}",
                json_numbers(cost.iter().map(u64::to_string))
            );
            body.push_str("}\n");
            std::fs::write(out, body).expect("written");
            println!("wrote {out}");
        }
        _ => eprintln!(
            "usage: plan_bench sparse V S [seed] | dense N OUT [seed] | fixture ROWS COLS OUT [seed]"
        ),
    }
}
