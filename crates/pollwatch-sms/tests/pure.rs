//! The crate stays pure: the dependencies it is allowed, and no I/O, clock
//! or randomness in its sources.
#![allow(clippy::expect_used)]

const ALLOWED: [&str; 4] = ["pollwatch-domain", "serde", "serde_json", "thiserror"];

const SOURCES: [(&str, &str); 5] = [
    ("lib.rs", include_str!("../src/lib.rs")),
    ("card.rs", include_str!("../src/card.rs")),
    ("parse.rs", include_str!("../src/parse.rs")),
    ("reply.rs", include_str!("../src/reply.rs")),
    ("report.rs", include_str!("../src/report.rs")),
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
fn no_io_clock_or_randomness_in_sources() {
    for (file, source) in SOURCES {
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
            "rand::",
            "random(",
            "OsRng",
            "async ",
            "tokio",
            "sqlx",
            "axum",
            "unsafe",
            "<script",
            "http://",
            "https://",
        ] {
            assert!(!source.contains(banned), "{banned} in src/{file}");
        }
    }
}

#[test]
fn every_source_file_is_scanned() {
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
    assert_eq!(modules.len() + 1, SOURCES.len(), "{modules:?}");
    for m in modules {
        assert!(
            SOURCES.iter().any(|(f, _)| *f == format!("{m}.rs")),
            "src/{m}.rs is not scanned"
        );
    }
}
