//! The workbook reader (zip, calamine, formulas, number formats) on mutated workbooks: seed the
//! corpus with the files of testdata/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::input::{workbook, ReadOptions};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::Builder::new().suffix(".xlsx").tempfile().unwrap();
    file.write_all(data).unwrap();
    let options = ReadOptions {
        limits: muster::input::Limits {
            max_unpacked_bytes: 64 << 20,
            ..Default::default()
        },
        ..Default::default()
    };
    let _ = workbook::read(file.path(), "fuzz.xlsx", 0, &options);
});
