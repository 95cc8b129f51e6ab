//! Every report the demo sends is one the server accepts: each payload
//! passes `report::check` against the default forms.

use pollwatch_demo::{DEFAULT_SEED, city, election_day};
use pollwatch_domain::forms;
use pollwatch_domain::report;

const SEEDS: [u64; 4] = [DEFAULT_SEED, 1, 42, 7777];

#[test]
fn every_payload_passes_the_forms() {
    let forms = forms::defaults();
    let mut failures = Vec::new();
    let mut checked = 0;
    for seed in SEEDS {
        let events = election_day(&city(seed), seed);
        checked += events.len();
        for e in &events {
            let Some(payload) = e.payload.as_object() else {
                failures.push(format!(
                    "seed {seed}: {} at {}: payload is not an object: {}",
                    e.kind.as_str(),
                    e.station,
                    e.payload
                ));
                continue;
            };
            if let Err(errors) = report::check(&forms, e.kind, payload) {
                let errors: Vec<String> = errors
                    .iter()
                    .map(|err| format!("{}: {}", err.field, err.reason))
                    .collect();
                failures.push(format!(
                    "seed {seed}: {} at {}: {}\n    {}",
                    e.kind.as_str(),
                    e.station,
                    e.payload,
                    errors.join("\n    ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} payloads fail the forms:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
