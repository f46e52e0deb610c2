//! The workbook reader (zip, calamine, formulas, number formats) on mutated workbooks: seed the
//! corpus with the files of testdata/. Each input is read whole and streamed (the `Users`
//! sheet on its own thread, a chunk at a time); when both succeed, they must give the same
//! sheets and the same filled rows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::input::{filled_rows, workbook, ReadOptions};
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
    let whole = workbook::read(file.path(), "fuzz.xlsx", 0, &options);
    let streamed = workbook::read(
        file.path(),
        "fuzz.xlsx",
        0,
        &ReadOptions {
            stream: true,
            ..options
        },
    );
    let (Ok((whole, _, _)), Ok((streamed, _, _))) = (whole, streamed) else {
        return;
    };
    assert_eq!(whole.len(), streamed.len());
    for (w, s) in whole.iter().zip(&streamed) {
        assert_eq!(w.sheet, s.sheet);
        let mut rows = s.rows.clone();
        if let Some(rest) = &s.rest {
            loop {
                match rest.next_chunk() {
                    Ok(Some(chunk)) => rows.extend(chunk),
                    Ok(None) => break,
                    // Rows out of order: the streamed read refuses what the whole read sorts.
                    Err(_) => return,
                }
            }
        }
        assert_eq!(
            filled_rows(&w.rows),
            filled_rows(&rows),
            "sheet {:?}",
            w.sheet
        );
    }
});
