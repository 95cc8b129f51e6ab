//! The crate stays pure: the dependencies it is allowed, and no I/O, clock
//! or randomness in its sources.
#![allow(clippy::expect_used)]

const ALLOWED: [&str; 4] = ["sha2", "thiserror", "base64", "ed25519-dalek"];

#[test]
fn only_pure_dependencies() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap_or_default();
    for line in deps.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        assert!(ALLOWED.contains(&name), "dependency {name} is not allowed");
    }
}

#[test]
fn no_io_clock_or_rng_in_sources() {
    let sources = [
        include_str!("../src/lib.rs"),
        include_str!("../src/merkle.rs"),
        include_str!("../src/note.rs"),
        include_str!("../src/checkpoint.rs"),
    ];
    for source in sources {
        for banned in [
            "std::fs",
            "std::net",
            "std::io",
            "std::time",
            "std::env",
            "SystemTime",
            "Instant",
            "rand::",
            "rand_core",
            "thread_rng",
            "OsRng",
            "async ",
        ] {
            assert!(!source.contains(banned), "{banned} in the ledger's sources");
        }
    }
}
