//! CSV decoding (BOMs, UTF-16, Windows-1252, NFC), delimiter sniffing and parsing, on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::input::csv::read_bytes;
use muster::input::ReadOptions;

fuzz_target!(|data: &[u8]| {
    if let Ok((rows, _)) = read_bytes(data, &ReadOptions::default()) {
        // Row numbers only grow: they are what a spreadsheet shows.
        assert!(rows.windows(2).all(|w| w[0].number < w[1].number));
    }
});
