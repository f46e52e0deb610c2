//! CSV decoding (BOMs, UTF-16, Windows-1252, NFC), delimiter sniffing and parsing, on any bytes.
//! The same bytes are also read as a streamed file in tiny blocks (1 to 64 bytes, from the
//! input's length, so that every place a block boundary can fall gets tried): when the stream
//! takes the file, the whole read must take it too and give the same rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::input::csv::{open_in_blocks, read, read_bytes};
use muster::input::{unguard_export, ReadOptions, Row};
use std::io::Write;

fn shape(rows: &[Row]) -> Vec<(u32, Vec<&str>)> {
    rows.iter()
        .map(|r| (r.number, r.cells.iter().map(|c| c.text.as_str()).collect()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions::default();
    if let Ok((rows, _)) = read_bytes(data, &options) {
        // Row numbers only grow: they are what a spreadsheet shows.
        assert!(rows.windows(2).all(|w| w[0].number < w[1].number));
    }
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    file.write_all(data).unwrap();
    let block = 1 + (data.len() % 64) as u64;
    let Ok(Some(streamed)) = open_in_blocks(file.path(), &options, block) else {
        return;
    };
    let (mut whole, encoding) =
        read(file.path(), &options).expect("a file the stream takes is one the whole read takes");
    unguard_export(&mut whole);
    assert_eq!(streamed.encoding, encoding);
    let mut rows = streamed.head;
    let mut rest = streamed.rest;
    while let Some(chunk) = rest
        .next_chunk()
        .expect("a block the prescan passed parses")
    {
        rows.extend(chunk);
    }
    assert_eq!(shape(&rows), shape(&whole), "blocks of {block}");
});
