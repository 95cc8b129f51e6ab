//! The crate stays pure: none of the server's machinery among its
//! dependencies, direct or not, and no files, clock, network or
//! randomness in its sources (`std::io` is allowed: it reads and writes
//! only the `Read`/`Write` it is given).
#![allow(clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

const REFUSED: [&str; 11] = [
    "pollwatch-store",
    "pollwatch-store-sqlite",
    "pollwatch-store-postgres",
    "pollwatch-server",
    "pollwatch-domain",
    "tokio",
    "axum",
    "sqlx",
    "hyper",
    "reqwest",
    "rand",
];

#[test]
fn no_store_server_or_runtime_among_dependencies() {
    // Only this machine's platform: the others' crates are not in the
    // offline cache, and a build here only ever links these.
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host, "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .map(|n| (n["id"].as_str().unwrap_or(""), n))
        .collect();
    let root = names
        .iter()
        .find(|(_, name)| **name == "pollwatch-evidence")
        .map(|(id, _)| *id)
        .expect("this crate in the metadata");
    // Normal (not dev, not build) dependencies, transitively.
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|k| k["kind"].is_null());
            let pkg = dep["pkg"].as_str().unwrap_or("");
            if normal && seen.insert(names[pkg]) {
                todo.push(pkg);
            }
        }
    }
    // ed25519-dalek comes only through the ledger: the walk is transitive.
    assert!(
        seen.contains("pollwatch-ledger") && seen.contains("ed25519-dalek"),
        "{seen:?}"
    );
    for name in REFUSED {
        assert!(!seen.contains(name), "{name} is a dependency: {seen:?}");
    }
}

#[test]
fn no_files_clock_network_or_rng_in_sources() {
    let sources = [
        include_str!("../src/lib.rs"),
        include_str!("../src/entry.rs"),
        include_str!("../src/bundle.rs"),
        include_str!("../src/verify.rs"),
        include_str!("../src/tar.rs"),
        include_str!("../src/sample.rs"),
    ];
    for source in sources {
        for banned in [
            "std::fs",
            "std::net",
            "std::time",
            "std::env",
            "std::process",
            "SystemTime",
            "Instant",
            "rand::",
            "thread_rng",
            "OsRng",
            "async ",
        ] {
            assert!(
                !source.contains(banned),
                "{banned} in the evidence crate's sources"
            );
        }
    }
}
