//! An XLS workbook's formula cells. calamine gives an XLS formula's text, but not a shared
//! one's (a formula filled down a column, as Excel and LibreOffice write them): a `PtgExp`
//! token, which it reads as an empty text. Those cells read as the values the formula left,
//! and loaded as data (review: a `full_name` of `=A2&" "&B2` filled down). SPEC §2: a formula
//! cell is never trusted. Here each sheet's FORMULA records are found in the workbook stream
//! itself: a record's row and column are its first four bytes (MS-XLS 2.4.127). The rows and
//! columns a sheet hides are found in the same walk (ROW and COLINFO records), which calamine
//! gives no word of either (V013). And the number cells whose format pads them with zeros
//! (`000042`): calamine reads no XLS cell's number format, so the XF and FORMAT records are
//! read here, and each NUMBER, RK and MULRK record's XF (cross-format review: the XLS copy of a
//! batch read `42` where its XLSX read `000042`, and found a false D004).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

const FORMULA: u16 = 0x0006;
const SHRFMLA: u16 = 0x04BC;
/// The records of one cell, whose row and column are their first four bytes (MS-XLS 2.4):
/// LABELSST, NUMBER, RK, BLANK, BOOLERR, LABEL, RSTRING, and FORMULA above.
const CELLS: [u16; 7] = [0x00FD, 0x0203, 0x027E, 0x0201, 0x0205, 0x0204, 0x00D6];
/// MULRK and MULBLANK: a row, a first column, and a last column in their last two bytes.
const CELL_RUNS: [u16; 2] = [0x00BD, 0x00BE];
const ROW: u16 = 0x0208;
const COLINFO: u16 = 0x007D;
const EOF: u16 = 0x000A;
const BOUNDSHEET: u16 = 0x0085;
const FILEPASS: u16 = 0x002F;
const FORMAT: u16 = 0x041E;
const XF: u16 = 0x00E0;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027E;
const MULRK: u16 = 0x00BD;
/// BOF of BIFF8, and of BIFF2 to BIFF5.
const BOFS: [u16; 4] = [0x0809, 0x0009, 0x0209, 0x0409];

/// What the walk of one sheet's records finds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct XlsSheet {
    /// The cells (0-based row and column) of its formulas.
    pub formulas: HashSet<(u32, u32)>,
    /// The rows (1-based) and columns (0-based) it hides.
    pub hidden: super::Hidden,
    /// Its name, as the workbook's globals give it.
    pub name: String,
    /// The first and last row and column (0-based) of its cells: calamine allocates every cell
    /// between them.
    pub bounds: Option<(u32, u32, u32, u32)>,
    /// The number cells (0-based row and column) whose format pads them with zeros, with the
    /// format's code.
    pub padded: HashMap<(u32, u32), Arc<str>>,
}

impl XlsSheet {
    /// The cells from the first to the last, as calamine allocates them (security review:
    /// one cell moved to column 65,535 asked for 137 GB, and aborted).
    pub fn span(&self) -> u64 {
        self.bounds.map_or(0, |(r0, r1, c0, c1)| {
            u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1)
        })
    }

    fn take(&mut self, row: u16, first: u16, last: u16) {
        let (row, first, last) = (u32::from(row), u32::from(first), u32::from(last.max(first)));
        let (r0, r1, c0, c1) = self.bounds.unwrap_or((row, row, first, last));
        self.bounds = Some((r0.min(row), r1.max(row), c0.min(first), c1.max(last)));
    }
}

/// Each sheet's formula cells and hidden rows and columns, in the workbook's order of sheets
/// (calamine's); `None` when the stream cannot be read or is encrypted, which leaves the
/// formulas calamine gives.
pub fn sheet_records(path: &Path, pads: impl Fn(&str) -> bool) -> Option<Vec<XlsSheet>> {
    let mut file = cfb::open(path).ok()?;
    let mut stream = ["/Workbook", "/Book"]
        .iter()
        .find_map(|name| file.open_stream(name).ok())?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).ok()?;
    sheets_in(&bytes, pads)
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

fn sheets_in(bytes: &[u8], pads: impl Fn(&str) -> bool) -> Option<Vec<XlsSheet>> {
    let u16_at = |data: &[u8], at: usize| u16::from_le_bytes([data[at], data[at + 1]]);
    // The globals: where each sheet's records start, and the cell formats (XF, by their
    // order) whose number format (FORMAT, by its number) pads with zeros.
    let mut starts = Vec::new();
    let mut formats: HashMap<u16, Arc<str>> = HashMap::new();
    let mut xfs: Vec<u16> = Vec::new();
    // BIFF8 (version 0x0600) writes a FORMAT's code as an XLUnicodeString; BIFF5 and older as
    // one length byte and single-byte characters (review: a BIFF5 file's formats lost their
    // first two characters).
    let biff8 = (records(bytes, 0).next())
        .is_some_and(|(_, bof)| bof.len() >= 2 && u16_at(bof, 0) == 0x0600);
    for (kind, data) in records(bytes, 0).skip(1) {
        match kind {
            BOUNDSHEET => starts.push((
                u32::from_le_bytes(data.get(..4)?.try_into().ok()?),
                sheet_name(data),
            )),
            // MS-XLS 2.4.126: the format's number, then an XLUnicodeString.
            FORMAT if data.len() >= 5 => {
                let code = match biff8 {
                    true => unicode_text(usize::from(u16_at(data, 2)), data[4], &data[5..]),
                    false => unicode_text(usize::from(data[2]), 0, &data[3..]),
                };
                if pads(&code) {
                    formats.insert(u16_at(data, 0), code.into());
                }
            }
            // MS-XLS 2.4.353: the font, then the number format.
            XF if data.len() >= 4 => xfs.push(u16_at(data, 2)),
            FILEPASS => return None,
            EOF => break,
            _ => {}
        }
    }
    let padding: HashMap<u16, Arc<str>> = (xfs.iter().enumerate())
        .filter_map(|(xf, f)| Some((u16::try_from(xf).ok()?, formats.get(f)?.clone())))
        .collect();
    let sheet = |(start, name): (u32, String)| {
        let mut found = XlsSheet {
            name,
            ..XlsSheet::default()
        };
        // An embedded chart has a BOF and an EOF of its own within the sheet's.
        let mut depth = 0usize;
        // Cells whose formula is a shared one's and whose value is a truth value, with the
        // shared formula's first cell; and the first cells of the shared formulas that are
        // `TRUE()` or `FALSE()`.
        let mut shared_truths: Vec<((u16, u16), (u16, u16))> = Vec::new();
        let mut truth_formulas: HashSet<(u16, u16)> = HashSet::new();
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
                    let (row, col) = (u16_at(data, 0), u16_at(data, 2));
                    match constant_truth(data) {
                        Some(Truth::Constant) => {}
                        Some(Truth::Shared(master)) => shared_truths.push(((row, col), master)),
                        None => {
                            found.formulas.insert((u32::from(row), u32::from(col)));
                        }
                    }
                    found.take(row, col, col);
                }
                // MS-XLS 2.4.260: the range (rows, then columns of one byte), two bytes, and
                // the shared formula's tokens.
                SHRFMLA if depth == 1 && data.len() >= 10 => {
                    let first = (u16_at(data, 0), u16::from(data[4]));
                    let cce = usize::from(u16_at(data, 8));
                    if data.get(10..10 + cce).is_some_and(is_truth_function) {
                        truth_formulas.insert(first);
                    }
                }
                k if depth == 1 && CELLS.contains(&k) && data.len() >= 4 => {
                    let (row, col) = (u16_at(data, 0), u16_at(data, 2));
                    found.take(row, col, col);
                    if matches!(k, NUMBER | RK) && data.len() >= 6 && !padding.is_empty() {
                        if let Some(code) = padding.get(&u16_at(data, 4)) {
                            found.padded.insert((row.into(), col.into()), code.clone());
                        }
                    }
                }
                k if depth == 1 && CELL_RUNS.contains(&k) && data.len() >= 6 => {
                    let (row, first) = (u16_at(data, 0), u16_at(data, 2));
                    found.take(row, first, u16_at(data, data.len() - 2));
                    // MS-XLS 2.4.175: an XF and an RK number (six bytes) for each column.
                    if k == MULRK && !padding.is_empty() {
                        let runs = data[4..data.len() - 2].chunks_exact(6);
                        for (col, run) in (u32::from(first)..).zip(runs) {
                            if let Some(code) = padding.get(&u16_at(run, 0)) {
                                found.padded.insert((row.into(), col), code.clone());
                            }
                        }
                    }
                }
                // fDyZero: the row's height is zero, hidden (MS-XLS 2.4.221).
                ROW if depth == 1 && data.len() >= 14 && u16_at(data, 12) & 0x20 != 0 => {
                    found.hidden.rows.push(u32::from(u16_at(data, 0)) + 1);
                }
                // fHidden (MS-XLS 2.4.53); the last column may run past the sheet's 256.
                COLINFO if depth == 1 && data.len() >= 10 && u16_at(data, 8) & 1 != 0 => {
                    let (first, last) = (u16_at(data, 0), u16_at(data, 2).min(255));
                    found.hidden.cols.extend(u32::from(first)..=u32::from(last));
                }
                // A chart or a macro sheet starts otherwise: it has no cells to read.
                _ if depth == 0 => return Some(found),
                _ => {}
            }
        }
        // A shared formula's cells are formulas unless it is `TRUE()` or `FALSE()` (one whose
        // shared formula is not found too).
        for ((row, col), master) in shared_truths {
            if !truth_formulas.contains(&master) {
                found.formulas.insert((u32::from(row), u32::from(col)));
            }
        }
        found.hidden.rows.sort_unstable();
        found.hidden.cols.sort_unstable();
        found.hidden.cols.dedup();
        Some(found)
    };
    starts.into_iter().map(sheet).collect()
}

/// A FORMULA record whose value is a truth value and whose formula is `TRUE()` or `FALSE()`
/// itself, or a shared formula's (which may be). LibreOffice writes an Excel workbook's boolean
/// cells so, and two alike side by side as a shared formula, whose text calamine does not give
/// (producers review: V007 on `TRUE`, in the XLS copy only).
enum Truth {
    Constant,
    /// The shared formula's first cell (row, column).
    Shared((u16, u16)),
}

/// MS-XLS 2.4.127: row, column, XF, the value (eight bytes; a truth value is `1` in its first
/// byte and `FFFF` in its last two), flags, four bytes, then the formula's length and tokens.
fn constant_truth(data: &[u8]) -> Option<Truth> {
    let value = data.get(6..14)?;
    if value[0] != 1 || value[6..8] != [0xFF, 0xFF] {
        return None;
    }
    let cce = usize::from(u16::from_le_bytes([*data.get(20)?, *data.get(21)?]));
    let tokens = data.get(22..22 + cce)?;
    if is_truth_function(tokens) {
        return Some(Truth::Constant);
    }
    // PtgExp: the shared formula's first cell, its row and then its column.
    match tokens {
        [0x01, r0, r1, c0, c1] => Some(Truth::Shared((
            u16::from_le_bytes([*r0, *r1]),
            u16::from_le_bytes([*c0, *c1]),
        ))),
        _ => None,
    }
}

/// Whether a formula's tokens are `TRUE()` or `FALSE()`: one PtgFunc (of any class) of the
/// function 34 or 35, or one PtgBool (as LibreOffice writes them).
fn is_truth_function(tokens: &[u8]) -> bool {
    matches!(tokens, [0x21 | 0x41 | 0x61, 34 | 35, 0] | [0x1D, 0 | 1])
}

/// A BOUNDSHEET record's sheet name (MS-XLS 2.4.28: a ShortXLUnicodeString after six bytes),
/// `?` where it cannot be read.
fn sheet_name(data: &[u8]) -> String {
    let (Some(&count), Some(&flags)) = (data.get(6), data.get(7)) else {
        return "?".to_string();
    };
    unicode_text(count.into(), flags, &data[8.min(data.len())..])
}

/// `count` characters of `text`, one byte each or, with the flags' first bit, UTF-16.
fn unicode_text(count: usize, flags: u8, text: &[u8]) -> String {
    match flags & 1 {
        0 => text.iter().take(count).map(|&b| char::from(b)).collect(),
        _ => {
            let units: Vec<u16> = (text.chunks_exact(2).take(count))
                .map(|p| u16::from_le_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
    }
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
        let found = sheets_in(&bytes, |_| true).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].formulas, HashSet::from([(1, 2), (3, 0)]));
        assert_eq!((found[0].bounds, found[0].span()), (Some((1, 3, 0, 2)), 9));
        assert_eq!(found[0].name, "S");
        assert_eq!(found[1].formulas, HashSet::new());
        // Encrypted: nothing read. Cut short: what there is.
        let encrypted = [record(0x0809, &[0; 4]), record(FILEPASS, &[0; 4])].concat();
        assert_eq!(sheets_in(&encrypted, |_| true), None);
        assert!(sheets_in(&bytes[..bytes.len() - 9], |_| true).is_some());
    }

    /// A workbook of BIFF `version` whose one sheet has a NUMBER cell at (1, 0) in XF 1 and an
    /// RK and a MULRK run in XF 0, with XF 1 in format 164, `000000`.
    fn workbook(version: u16) -> Vec<u8> {
        let format = match version {
            0x0600 => [
                &164u16.to_le_bytes()[..],
                &6u16.to_le_bytes(),
                &[0],
                b"000000",
            ]
            .concat(),
            _ => [&164u16.to_le_bytes()[..], &[6], b"000000"].concat(),
        };
        let xf = |format: u16| [&0u16.to_le_bytes()[..], &format.to_le_bytes(), &[0; 16]].concat();
        let cell = |kind: u16, row: u16, col: u16, xf: u16| {
            record(
                kind,
                &[
                    &row.to_le_bytes()[..],
                    &col.to_le_bytes(),
                    &xf.to_le_bytes(),
                    &[0; 8],
                ]
                .concat(),
            )
        };
        let globals = |at: u32| {
            [
                record(0x0809, &[&version.to_le_bytes()[..], &[0; 2]].concat()),
                record(FORMAT, &format),
                record(XF, &xf(0)),
                record(XF, &xf(164)),
                record(
                    BOUNDSHEET,
                    &[&at.to_le_bytes()[..], &[0, 0, 1, 0, b'S']].concat(),
                ),
                record(EOF, &[]),
            ]
            .concat()
        };
        let at = globals(0).len() as u32;
        // MULRK: row 2, columns 0 and 1 in XF 1 and XF 0, the last column.
        let mulrk = [
            &2u16.to_le_bytes()[..],
            &0u16.to_le_bytes(),
            &1u16.to_le_bytes(),
            &[0; 4],
            &0u16.to_le_bytes(),
            &[0; 4],
            &1u16.to_le_bytes(),
        ]
        .concat();
        [
            globals(at),
            record(0x0809, &[&version.to_le_bytes()[..], &[0; 2]].concat()),
            cell(NUMBER, 1, 0, 1),
            cell(RK, 1, 1, 0),
            record(MULRK, &mulrk),
            record(EOF, &[]),
        ]
        .concat()
    }

    /// The number cells in a padding format, by their XF, in BIFF8 and in BIFF5, whose FORMAT
    /// codes are written otherwise (review: a BIFF5 file's lost their first two characters).
    #[test]
    fn padded_cells_by_their_format() {
        for version in [0x0600, 0x0500] {
            let found = sheets_in(&workbook(version), |code| code == "000000").unwrap();
            let mut cells: Vec<_> = found[0].padded.keys().copied().collect();
            cells.sort_unstable();
            assert_eq!(cells, [(1, 0), (2, 0)], "BIFF {version:#x}");
            assert_eq!(&*found[0].padded[&(1, 0)], "000000");
        }
    }
}
