//! Registry files come from outside (a commission's website, a volunteer's
//! spreadsheet), so the CSV parser must turn any bytes into either stations
//! or errors, never a panic or a hang.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use pollwatch_domain::registry::parse_csv;

fuzz_target!(|data: &[u8]| {
    check(parse_csv("fuzz.csv", data), data);
});

/// Beyond "does not crash": the promises callers rely on.
fn check(
    result: Result<pollwatch_domain::registry::ParsedRegistry, Vec<pollwatch_domain::registry::RegistryError>>,
    data: &[u8],
) {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    match result {
        Ok(parsed) => {
            let mut seen = HashSet::new();
            for s in &parsed.stations {
                assert!(seen.insert(s.number.clone()), "duplicate number accepted");
                assert!(s.accessibility.windows(2).all(|w| w[0] < w[1]));
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "Err with no errors");
            for e in &errors {
                assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            }
        }
    }
}
