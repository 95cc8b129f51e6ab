//! The tabular reader under both imports takes any bytes a user has: it
//! must answer a table or errors, never panic or hang, and every line it
//! names must be in the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollwatch_domain::table::{Options, read};

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    for name in ["fuzz.csv", "fuzz.xlsx", "fuzz.ods"] {
        match read(name, data, &Options::default()) {
            Ok(table) => {
                if name == "fuzz.csv" {
                    for row in std::iter::once(&table.header).chain(&table.rows) {
                        assert!(row.line >= 1 && row.line <= lines, "line {} of {lines}", row.line);
                    }
                }
            }
            Err(errors) => assert!(!errors.is_empty(), "Err with no errors"),
        }
    }
});
