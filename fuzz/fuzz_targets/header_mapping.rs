//! Header mapping (aliases, dotted ID columns, near misses, title rows) on any table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muster::input::headers::map_sheet;
use muster::input::{Cell, Row, Sheet, SheetKind};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let rows: Vec<Row> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| Row {
            number: i as u32 + 1,
            cells: line.split(',').map(Cell::text).collect(),
        })
        .collect();
    let sheet = Sheet {
        file: "fuzz.csv".to_string(),
        sheet: None,
        kind: SheetKind::ALL[kind as usize % 5],
        order: (0, 0),
        rows,
        encoding: None,
        lettered: true,
        delimited: true,
        rest: None,
        hidden: Default::default(),
    };
    let mapping = map_sheet(&sheet, &Default::default());
    assert!(mapping.header_at <= sheet.rows.len());
});
