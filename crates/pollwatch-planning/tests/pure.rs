//! The crate stays pure: the dependencies it is allowed, and no I/O, clock
//! or unseeded randomness in its sources.
#![allow(clippy::expect_used)]

const ALLOWED: [&str; 7] = [
    "pollwatch-domain",
    "pollwatch-analysis",
    "pollwatch-ledger",
    "rand",
    "rand_chacha",
    "serde",
    "thiserror",
];

#[test]
fn only_pure_dependencies() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("\n[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap_or_default();
    let mut seen = 0;
    for line in deps.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        assert!(ALLOWED.contains(&name), "dependency {name} is not allowed");
        seen += 1;
    }
    assert_eq!(seen, ALLOWED.len(), "the dependencies were not all read");
}

#[test]
fn no_io_clock_or_unseeded_randomness_in_sources() {
    let sources = [
        ("lib.rs", include_str!("../src/lib.rs")),
        ("assign.rs", include_str!("../src/assign.rs")),
        ("bench.rs", include_str!("../src/bench.rs")),
        ("geo.rs", include_str!("../src/geo.rs")),
        ("manifest.rs", include_str!("../src/manifest.rs")),
        ("map.rs", include_str!("../src/map.rs")),
        ("plan.rs", include_str!("../src/plan.rs")),
        ("propose.rs", include_str!("../src/propose.rs")),
        ("sample.rs", include_str!("../src/sample.rs")),
        ("saturate.rs", include_str!("../src/saturate.rs")),
    ];
    for (file, source) in sources {
        for banned in [
            "std::fs",
            "std::net",
            "std::io",
            "std::time",
            "std::env",
            "std::process",
            "std::thread",
            "SystemTime",
            "Instant",
            "thread_rng",
            "rand::rng(",
            "rand::random",
            "OsRng",
            "from_entropy",
            "from_os_rng",
            "async ",
            "tokio",
            "sqlx",
            "axum",
            "unsafe",
        ] {
            assert!(!source.contains(banned), "{banned} in src/{file}");
        }
    }
}

#[test]
fn every_source_file_is_scanned() {
    let listed = [
        "assign.rs",
        "bench.rs",
        "geo.rs",
        "lib.rs",
        "manifest.rs",
        "map.rs",
        "plan.rs",
        "propose.rs",
        "sample.rs",
        "saturate.rs",
    ];
    let lib = include_str!("../src/lib.rs");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))?;
            rest.strip_suffix(';')
        })
        .collect();
    assert_eq!(modules.len() + 1, listed.len(), "{modules:?}");
    for m in modules {
        assert!(
            listed.contains(&format!("{m}.rs").as_str()),
            "src/{m}.rs is not scanned"
        );
    }
}
