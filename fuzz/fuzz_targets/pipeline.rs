//! The whole validation on arbitrary bytes read as a CSV batch: every rule, the cross-row indexes
//! and the records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::config::Config;
use muster::input::{csv::read_bytes, Batch, ReadOptions, Sheet, SheetKind};
use muster::validate::validate;

fuzz_target!(|data: &[u8]| {
    let Ok((rows, encoding)) = read_bytes(data, &ReadOptions::default()) else {
        return;
    };
    let batch = Batch {
        sheets: vec![Sheet {
            file: "fuzz.csv".to_string(),
            sheet: None,
            kind: SheetKind::Users,
            order: (0, 0),
            rows,
            encoding,
            lettered: true,
            delimited: true,
            rest: None,
            hidden: Default::default(),
        }],
        files: vec!["fuzz.csv".to_string()],
        ..Default::default()
    };
    let outcome = validate(
        &batch,
        &Config::builtin(),
        &Default::default(),
        &mut Default::default(),
        &indicatif::ProgressBar::hidden(),
    );
    // Every record muster writes is valid JSON.
    for r in outcome.records.in_memory() {
        let _: serde_json::Value = serde_json::from_str(&r.json).unwrap();
    }
});
