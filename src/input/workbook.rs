//! Workbook reading through calamine (XLSX, XLSM, XLS, XLSB, ODS): each known sheet becomes a
//! [`Sheet`] numbered as the spreadsheet shows it, with formulas, dates and zero-padding formats
//! recorded in each cell's [`CellOrigin`].

use super::{
    check_size, sniff_format, Cell, CellOrigin, Limits, OtherSheet, ReadOptions, ReadProblem, Row,
    Sheet, SheetKind,
};
use calamine::{open_workbook_auto, Data, Range, Reader, Sheets, StyleRange};
use std::path::Path;

/// Sheets a workbook annotated by muster carries; skipped silently on the way back in.
const ANNOTATION_SHEETS: [&str; 2] = ["Issues", "Summary"];

/// Returns the known sheets and the sheets it ignored (F004); an ignored sheet's cells are read
/// only with `options.keep_other_sheets`.
pub fn read(
    path: &Path,
    shown: &str,
    file_index: usize,
    options: &ReadOptions,
) -> Result<(Vec<Sheet>, Vec<OtherSheet>), ReadProblem> {
    let limits = &options.limits;
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| ReadProblem::unreadable(format!("cannot read the file: {e}")))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let zipped = ext != "xls";
    match sniff_format(&head[..n]) {
        _ if n == 0 => return Err(ReadProblem::unreadable("the file is empty".to_string())),
        Some(kind) if zipped && !kind.starts_with("a zip") => {
            return Err(ReadProblem::unreadable(format!(
                "cannot be read as a workbook: it is {kind}"
            )))
        }
        None if zipped => {
            return Err(ReadProblem::unreadable(
                "not a workbook: it looks like text (a CSV saved with the wrong extension?)"
                    .to_string(),
            ))
        }
        _ => {}
    }
    if zipped {
        check_unpacked_size(path, limits)?;
    }
    read_guarded(|| read_sheets(path, shown, file_index, options))
}

/// Runs the calamine part of reading. A malformed workbook can make calamine panic (fuzzing
/// found an arithmetic overflow on an absurd cell reference); that is a bad file, not a crash of
/// muster, so the panic becomes F001 and its message is not printed.
fn read_guarded<T>(read: impl FnOnce() -> Result<T, ReadProblem>) -> Result<T, ReadProblem> {
    crate::catch_panic(read).unwrap_or_else(|why| {
        Err(ReadProblem::unreadable(format!(
            "not a readable workbook: it is malformed (the reader failed: {why})"
        )))
    })
}

fn read_sheets(
    path: &Path,
    shown: &str,
    file_index: usize,
    options: &ReadOptions,
) -> Result<(Vec<Sheet>, Vec<OtherSheet>), ReadProblem> {
    let limits = &options.limits;
    let mut wb = open_workbook_auto(path)
        .map_err(|e| ReadProblem::unreadable(format!("not a readable workbook: {e}")))?;
    let names = wb.sheet_names();
    // A workbook muster annotated carries its own sheets beside the batch's.
    let single = names
        .iter()
        .filter(|n| !ANNOTATION_SHEETS.contains(&n.as_str()))
        .count()
        == 1;
    let mut sheets = Vec::new();
    let mut ignored = Vec::new();
    for (sheet_index, name) in names.iter().enumerate() {
        if ANNOTATION_SHEETS.contains(&name.as_str()) {
            continue;
        }
        let kind = match SheetKind::from_name(name) {
            Some(kind) => kind,
            // A single-sheet workbook is the flat layout, whatever its sheet is called.
            None if single => SheetKind::Users,
            None => {
                let rows = if options.keep_other_sheets {
                    let formulas = wb.worksheet_formula(name).ok();
                    match wb.worksheet_range(name) {
                        Ok(range) => rows(&range, formulas.as_ref(), None),
                        Err(_) => Vec::new(),
                    }
                } else {
                    Vec::new()
                };
                ignored.push(OtherSheet {
                    file: shown.to_string(),
                    name: name.clone(),
                    order: (file_index, sheet_index),
                    rows,
                });
                continue;
            }
        };
        let unreadable = |e: &dyn std::fmt::Display| ReadProblem {
            code: "F001",
            sheet: Some(name.clone()),
            message: format!("sheet `{name}` cannot be read: {e}"),
        };
        let rows = match &mut wb {
            Sheets::Xlsx(xlsx) => xlsx_rows(xlsx, name).map_err(|e| unreadable(&e))?,
            _ => {
                let range = wb.worksheet_range(name).map_err(|e| unreadable(&e))?;
                let formulas = wb.worksheet_formula(name).ok();
                let styles = wb.worksheet_style(name).ok();
                rows(&range, formulas.as_ref(), styles.as_ref())
            }
        };
        check_size(&rows, Some(name), limits)?;
        sheets.push(Sheet {
            file: shown.to_string(),
            sheet: Some(name.clone()),
            kind,
            order: (file_index, sheet_index),
            rows,
            encoding: None,
            lettered: true,
            rest: None,
        });
    }
    Ok((sheets, ignored))
}

/// An XLSX sheet's rows from one pass over its XML for values and formulas (calamine's
/// `worksheet_range` and `worksheet_formula` would each parse it), and a second for number
/// formats only when a cell holds a number: they matter for numbers alone.
fn xlsx_rows<RS: std::io::Read + std::io::Seek>(
    xlsx: &mut calamine::Xlsx<RS>,
    name: &str,
) -> Result<Vec<Row>, calamine::XlsxError> {
    let mut values = Vec::new();
    let mut formulas = Vec::new();
    let mut numbers = false;
    {
        let mut reader = xlsx.worksheet_cells_reader(name)?;
        while let Some(cell) = reader.next_cell_with_formula()? {
            if let Some(formula) = cell.formula.filter(|f| !f.is_empty()) {
                formulas.push(calamine::Cell::new(cell.pos, formula));
            }
            let value: Data = cell.value.into();
            numbers |= matches!(value, Data::Int(_) | Data::Float(_) | Data::DateTime(_));
            if value != Data::Empty {
                values.push(calamine::Cell::new(cell.pos, value));
            }
        }
    }
    let range = Range::from_sparse(values);
    let formulas = Range::from_sparse(formulas);
    let styles = if numbers {
        xlsx.worksheet_style(name).ok()
    } else {
        None
    };
    Ok(rows(&range, Some(&formulas), styles.as_ref()))
}

fn rows(
    range: &Range<Data>,
    formulas: Option<&Range<String>>,
    styles: Option<&StyleRange>,
) -> Vec<Row> {
    let Some((r0, c0)) = range.start() else {
        return Vec::new();
    };
    range
        .rows()
        .enumerate()
        .map(|(i, data)| {
            let r = r0 + i as u32;
            let mut cells = vec![Cell::default(); c0 as usize];
            cells.extend(data.iter().enumerate().map(|(j, value)| {
                let c = c0 + j as u32;
                let formula = formulas
                    .and_then(|f| f.get_value((r, c)))
                    .filter(|f| !f.is_empty());
                if let Some(f) = formula {
                    return Cell {
                        text: format!("={f}"),
                        origin: CellOrigin::Formula,
                    };
                }
                let format = styles
                    .and_then(|s| s.get((r, c)))
                    .and_then(|s| s.number_format.as_ref())
                    .map(|n| n.format_code.as_str());
                cell(value, format)
            }));
            Row {
                number: r + 1,
                cells,
            }
        })
        .collect()
}

/// A zip bomb is refused from the central directory's sizes, before anything is decompressed.
fn check_unpacked_size(path: &Path, limits: &Limits) -> Result<(), ReadProblem> {
    let file = std::fs::File::open(path)
        .map_err(|e| ReadProblem::unreadable(format!("cannot read the file: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        ReadProblem::unreadable(format!(
            "not a readable workbook (damaged or truncated?): {e}"
        ))
    })?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| {
            ReadProblem::unreadable(format!(
                "not a readable workbook (damaged or truncated?): {e}"
            ))
        })?;
        total = total.saturating_add(entry.size());
    }
    if total > limits.max_unpacked_bytes {
        return Err(ReadProblem::unreadable(format!(
            "the workbook would unpack to {} MiB, more than the limit of {} MiB (a zip bomb?); raise it with --max-unpacked-mib",
            total >> 20,
            limits.max_unpacked_bytes >> 20
        )));
    }
    Ok(())
}

/// Converts a calamine value to text the way the spreadsheet shows it.
pub fn cell(value: &Data, number_format: Option<&str>) -> Cell {
    match value {
        Data::Empty => Cell::default(),
        Data::String(s) => Cell::text(super::csv::to_nfc(s.clone())),
        Data::Int(i) => number_cell(*i as f64, Some(*i), number_format),
        Data::Float(f) => number_cell(*f, None, number_format),
        Data::Bool(b) => Cell::text(if *b { "TRUE" } else { "FALSE" }),
        Data::DateTime(dt) => {
            if dt.is_datetime() {
                let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
                let text = if (hh, mm, ss) == (0, 0, 0) {
                    format!("{y:04}-{m:02}-{d:02}")
                } else {
                    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}")
                };
                Cell {
                    text,
                    origin: CellOrigin::Date,
                }
            } else {
                number_cell(dt.as_f64(), None, number_format)
            }
        }
        Data::DateTimeIso(s) => Cell {
            text: s.clone(),
            origin: CellOrigin::Date,
        },
        Data::DurationIso(s) => Cell::text(s.clone()),
        Data::Error(e) => Cell::text(format!("{e}")),
    }
}

fn number_cell(f: f64, int: Option<i64>, number_format: Option<&str>) -> Cell {
    let integral = f.is_finite() && f.fract() == 0.0;
    let digits = if integral {
        format!("{:.0}", f.abs()).trim_start_matches('0').len()
    } else {
        0
    };
    if integral && digits >= 16 && int.is_none() {
        return Cell {
            text: format!("{f:.0}"),
            origin: CellOrigin::ImpreciseNumber,
        };
    }
    let text = match int {
        Some(i) => i.to_string(),
        None if integral => format!("{f:.0}"),
        None => f.to_string(),
    };
    // A format of zeros only ("000000") pads the shown number: restore it (N009).
    if let Some(code) = number_format {
        let width = code.len();
        if integral
            && f >= 0.0
            && width > 1
            && code.bytes().all(|b| b == b'0')
            && text.len() < width
        {
            return Cell {
                text: format!("{text:0>width$}"),
                origin: CellOrigin::Padded,
            };
        }
    }
    Cell {
        text,
        origin: CellOrigin::Number,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_shown() {
        assert_eq!(cell(&Data::Float(123.0), None).text, "123");
        assert_eq!(cell(&Data::Float(1.5), None).text, "1.5");
        let padded = cell(&Data::Float(123.0), Some("000000"));
        assert_eq!(
            (padded.text.as_str(), padded.origin),
            ("000123", CellOrigin::Padded)
        );
        let big = cell(&Data::Float(1.181818878783451e20), None);
        assert_eq!(big.origin, CellOrigin::ImpreciseNumber);
        assert_eq!(
            cell(&Data::Float(123456789012345.0), None).origin,
            CellOrigin::Number
        );
    }
}
