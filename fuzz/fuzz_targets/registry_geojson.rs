//! The GeoJSON parser also scans the raw text to find where each feature
//! starts; that scanner must survive whatever serde_json accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollwatch_domain::registry::parse_geojson;

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    if let Err(errors) = parse_geojson("fuzz.geojson", data) {
        assert!(!errors.is_empty(), "Err with no errors");
        for e in &errors {
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
        }
    }
});
