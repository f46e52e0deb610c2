//! An XLS workbook's formula cells. calamine gives an XLS formula's text, but not a shared
//! one's (a formula filled down a column, as Excel and LibreOffice write them): a `PtgExp`
//! token, which it reads as an empty text. Those cells read as the values the formula left,
//! and loaded as data (review: a `full_name` of `=A2&" "&B2` filled down). SPEC §2: a formula
//! cell is never trusted. Here each sheet's FORMULA records are found in the workbook stream
//! itself: a record's row and column are its first four bytes (MS-XLS 2.4.127).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

const FORMULA: u16 = 0x0006;
const EOF: u16 = 0x000A;
const BOUNDSHEET: u16 = 0x0085;
const FILEPASS: u16 = 0x002F;
/// BOF of BIFF8, and of BIFF2 to BIFF5.
const BOFS: [u16; 4] = [0x0809, 0x0009, 0x0209, 0x0409];

/// The cells (0-based row and column) of each sheet's formulas, in the workbook's order of
/// sheets (calamine's); `None` when the stream cannot be read or is encrypted, which leaves
/// the formulas calamine gives.
pub fn formula_cells(path: &Path) -> Option<Vec<HashSet<(u32, u32)>>> {
    let mut file = cfb::open(path).ok()?;
    let mut stream = ["/Workbook", "/Book"]
        .iter()
        .find_map(|name| file.open_stream(name).ok())?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).ok()?;
    formulas_in(&bytes)
}

/// The records from `at` on, as (type, data); ends where a record runs past the stream.
fn records(bytes: &[u8], at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = at;
    std::iter::from_fn(move || {
        let head = bytes.get(at..at.checked_add(4)?)?;
        let kind = u16::from_le_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
        let data = bytes.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((kind, data))
    })
}

fn formulas_in(bytes: &[u8]) -> Option<Vec<HashSet<(u32, u32)>>> {
    // The globals: where each sheet's records start.
    let mut starts = Vec::new();
    for (kind, data) in records(bytes, 0).skip(1) {
        match kind {
            BOUNDSHEET => starts.push(u32::from_le_bytes(data.get(..4)?.try_into().ok()?)),
            FILEPASS => return None,
            EOF => break,
            _ => {}
        }
    }
    let sheet = |start: u32| {
        let mut cells = HashSet::new();
        // An embedded chart has a BOF and an EOF of its own within the sheet's.
        let mut depth = 0usize;
        for (kind, data) in records(bytes, usize::try_from(start).ok()?) {
            match kind {
                k if BOFS.contains(&k) => depth += 1,
                EOF => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        break;
                    }
                }
                FORMULA if depth == 1 && data.len() >= 4 => {
                    let row = u16::from_le_bytes([data[0], data[1]]);
                    let col = u16::from_le_bytes([data[2], data[3]]);
                    cells.insert((u32::from(row), u32::from(col)));
                }
                // A chart or a macro sheet starts otherwise: it has no cells to read.
                _ if depth == 0 => return Some(cells),
                _ => {}
            }
        }
        Some(cells)
    };
    starts.into_iter().map(sheet).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    #[test]
    fn formula_records_by_sheet() {
        let formula = |row: u16, col: u16| {
            let mut data = row.to_le_bytes().to_vec();
            data.extend(col.to_le_bytes());
            data.extend([0; 18]);
            record(FORMULA, &data)
        };
        let sheet = |at: u32| {
            record(
                BOUNDSHEET,
                &[&at.to_le_bytes()[..], &[0, 0, 1, 0, b'S']].concat(),
            )
        };
        let globals = |first: u32, second: u32| {
            [
                record(0x0809, &[0; 4]),
                sheet(first),
                sheet(second),
                record(EOF, &[]),
            ]
            .concat()
        };
        // Globals, then two sheets: the first with a chart inside it (a FORMULA-typed record
        // there is not the sheet's), the second empty.
        let globals_len = globals(0, 0).len() as u32;
        let first: Vec<u8> = [
            record(0x0809, &[0; 4]),
            formula(1, 2),
            record(0x0809, &[0; 4]),
            formula(7, 7),
            record(EOF, &[]),
            formula(3, 0),
            record(EOF, &[]),
        ]
        .concat();
        let second_at = globals_len + first.len() as u32;
        let bytes: Vec<u8> = [
            globals(globals_len, second_at),
            first,
            record(0x0809, &[0; 4]),
            record(EOF, &[]),
        ]
        .concat();
        let found = formulas_in(&bytes).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], HashSet::from([(1, 2), (3, 0)]));
        assert!(found[1].is_empty());
        // Encrypted: nothing read. Cut short: what there is.
        let encrypted = [record(0x0809, &[0; 4]), record(FILEPASS, &[0; 4])].concat();
        assert_eq!(formulas_in(&encrypted), None);
        assert!(formulas_in(&bytes[..bytes.len() - 9]).is_some());
    }
}
