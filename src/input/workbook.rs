//! Workbook reading through calamine (XLSX, XLSM, XLS, XLSB, ODS): each known sheet becomes a
//! [`Sheet`] numbered as the spreadsheet shows it, with formulas, dates and zero-padding formats
//! recorded in each cell's [`CellOrigin`].

use super::headers::Field;
use super::merged::{self, Hidden, Merge, MergeFill, Spread};
use super::{
    check_size, sniff_format, Cell, CellOrigin, Limits, OtherSheet, ReadOptions, ReadProblem, Row,
    Sheet, SheetKind,
};
use calamine::{open_workbook_auto, Data, Range, Reader, Sheets, StyleRange};
use std::path::Path;

/// Sheets a workbook annotated by muster carries; skipped silently on the way back in.
const ANNOTATION_SHEETS: [&str; 2] = ["Issues", "Summary"];

/// The vendor's notes on a workbook's cells by sheet name, read for `--annotate` to write back
/// ([`super::notes`]).
pub type SheetNotes = std::collections::HashMap<String, Vec<super::notes::CellNote>>;

/// Whether a sheet holds no value (read only for a workbook whose sheets have no layout's name).
fn sheet_is_empty<RS: std::io::Read + std::io::Seek>(wb: &mut Sheets<RS>, name: &str) -> bool {
    match wb {
        // Cell by cell, to the first value: not the whole sheet.
        Sheets::Xlsx(xlsx) => {
            let Ok(mut cells) = xlsx.worksheet_cells_reader(name) else {
                return false;
            };
            loop {
                match cells.next_cell() {
                    Ok(Some(c)) if c.get_value() == &calamine::DataRef::Empty => continue,
                    Ok(None) => return true,
                    _ => return false,
                }
            }
        }
        wb => wb
            .worksheet_range(name)
            .is_ok_and(|r| r.used_cells().next().is_none()),
    }
}

/// Whether a workbook is one muster annotated: it has both [`ANNOTATION_SHEETS`], and its
/// `Summary` starts with muster's title. Only then are those sheets muster's own and skipped
/// silently (SPEC §2); a vendor's sheets of those names are ignored with F004 like any other.
fn annotated_by_muster<RS: std::io::Read + std::io::Seek>(
    wb: &mut Sheets<RS>,
    names: &[String],
) -> Option<Vec<String>> {
    if !ANNOTATION_SHEETS
        .iter()
        .all(|a| names.iter().any(|n| n == a))
    {
        return None;
    }
    let summary = wb.worksheet_range("Summary").ok()?;
    let title = summary.rows().next().and_then(|r| r.first());
    if !matches!(title, Some(Data::String(t))
        if t.starts_with("muster ") && t.ends_with(" validation summary"))
    {
        return None;
    }
    // The files it was made from, on the row `Files` (SPEC §5's summary).
    let files = (summary.rows())
        .find(|r| matches!(r.first(), Some(Data::String(t)) if t == "Files"))
        .map(|r| {
            r.iter()
                .skip(1)
                .map(|d| d.to_string())
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Some(files)
}

/// Whether a file's name is a workbook's (not a CSV's or a CSV directory's).
fn is_workbook_name(file: &str) -> bool {
    let ext = Path::new(file).extension().and_then(|e| e.to_str());
    ext.is_some_and(|e| super::WORKBOOK_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Returns the known sheets and the sheets it ignored (F004); an ignored sheet's cells are read
/// only with `options.keep_other_sheets`.
pub fn read(
    path: &Path,
    shown: &str,
    file_index: usize,
    options: &ReadOptions,
) -> Result<(Vec<Sheet>, Vec<OtherSheet>, SheetNotes), ReadProblem> {
    let limits = &options.limits;
    let mut head = [0u8; 64];
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
        Some(kind) if !zipped && !kind.starts_with("an OLE") => {
            return Err(ReadProblem::unreadable(format!(
                "cannot be read as a workbook: it is {kind}"
            )))
        }
        // A web service's CSV named `.xls` too (producers review: calamine's "Invalid OLE
        // signature").
        None => {
            return Err(ReadProblem::unreadable(
                "not a workbook: it looks like text (a CSV saved with the wrong extension?)"
                    .to_string(),
            ))
        }
        _ => {}
    }
    if zipped {
        check_unpacked_size(path, &ext, limits)?;
    }
    read_guarded(|| read_sheets(path, shown, file_index, options))
}

/// Runs the calamine part of reading. A malformed workbook can make calamine panic (fuzzing
/// found an arithmetic overflow on an absurd cell reference); that is a bad file, not a crash of
/// muster, so the panic becomes F001 and its message is not printed.
fn read_guarded<T>(read: impl FnOnce() -> Result<T, ReadProblem>) -> Result<T, ReadProblem> {
    crate::catch_panic(read).unwrap_or_else(|why| Err(malformed(&why)))
}

fn read_sheets(
    path: &Path,
    shown: &str,
    file_index: usize,
    options: &ReadOptions,
) -> Result<(Vec<Sheet>, Vec<OtherSheet>, SheetNotes), ReadProblem> {
    let limits = &options.limits;
    // An XLS workbook's sheets are looked over before calamine reads them: it allocates every
    // cell from a sheet's first to its last.
    let is_xls = (path.extension().and_then(|e| e.to_str()))
        .is_some_and(|e| e.eq_ignore_ascii_case("xls") || e.eq_ignore_ascii_case("xla"));
    let mut xls_sheets = match is_xls {
        true => super::xls::sheet_records(path, format_read),
        false => None,
    };
    if let Some(far) = (xls_sheets.iter().flatten()).find(|s| s.span() > WHOLE_SHEET_CELLS) {
        let (r0, r1, c0, c1) = far.bounds.unwrap_or_default();
        return Err(ReadProblem::unreadable(format!(
            "sheet `{}`: its cells span rows {} to {} and columns {} to {}, more than 16,777,216 cells from the first to the last, too many to read at once (a stray cell far from the others?)",
            far.name,
            r0 + 1,
            r1 + 1,
            crate::finding::column_letter(c0 as usize),
            crate::finding::column_letter(c1 as usize)
        )));
    }
    // calamine gives no number formats for ODS: the padding its number cells show is read here,
    // with the ranges merged over rows; first, for calamine makes every cell a sheet's repeats
    // make (refused here when they are too many).
    let is_ods =
        (path.extension().and_then(|e| e.to_str())).is_some_and(|e| e.eq_ignore_ascii_case("ods"));
    let mut ods_shown = match is_ods {
        true => super::ods::shown_cells(path)?,
        false => Vec::new(),
    };
    let mut wb = match open_workbook_auto(path) {
        Err(e) if is_ods && super::ods::refused_for_indentation(&e) => {
            let file = super::ods::without_indentation(path)?;
            calamine::Ods::new(std::io::BufReader::new(file))
                .map(Sheets::Ods)
                .map_err(calamine::Error::Ods)
        }
        wb => wb,
    }
    .map_err(|e| ReadProblem::unreadable(format!("not a readable workbook: {e}")))?;
    let names = wb.sheet_names();
    // A workbook muster annotated carries its own sheets beside the batch's.
    let annotated = annotated_by_muster(&mut wb, &names);
    // From a CSV: its rows longer than the header are split values (V012), as in the CSV.
    let from_csv =
        (annotated.as_ref()).is_some_and(|files| !files.iter().any(|f| is_workbook_name(f)));
    let annotated = annotated.is_some();
    let skipped: &[&str] = if annotated { &ANNOTATION_SHEETS } else { &[] };
    // The sheet read as the flat layout, whatever it is called: a workbook's only sheet, or
    // its only one with a value when none has a layout's name (Excel's default `Sheet1`,
    // `Sheet2`, `Sheet3`, two of them empty; review: F007).
    let candidates: Vec<&String> = (names.iter())
        .filter(|n| !skipped.contains(&n.as_str()))
        .collect();
    let flat: Option<String> = match candidates.as_slice() {
        [only] => Some(only.to_string()),
        several if several.iter().all(|n| SheetKind::from_name(n).is_none()) => {
            let mut filled = several.iter().filter(|n| !sheet_is_empty(&mut wb, n));
            match (filled.next(), filled.next()) {
                (Some(only), None) => Some(only.to_string()),
                _ => None,
            }
        }
        _ => None,
    };
    let single = |name: &str| flat.as_deref() == Some(name);
    let mut sheets = Vec::new();
    let mut ignored = Vec::new();
    let one_pass = match (&mut wb, names.first()) {
        (Sheets::Xlsx(xlsx), Some(first)) => !has_formats_read(xlsx, first),
        _ => false,
    };
    // Streamed, each sheet's head is read here, in workbook order, and the rest of every sheet
    // on one thread of its own, in the order validation takes them (see [`SheetStream`]).
    let stream = options.stream && !options.workbooks_whole && one_pass;
    if !matches!(wb, Sheets::Ods(_)) {
        ods_shown = Vec::new();
    }
    // An XLS workbook's formula cells, by sheet: calamine gives no shared formula's text.
    if !matches!(wb, Sheets::Xls(_)) || xls_sheets.as_ref().is_some_and(|f| f.len() != names.len())
    {
        xls_sheets = None;
    }
    // The ranges merged over rows of an XLSX workbook's sheets (N010) are found on a thread of
    // their own while the sheets are read here, and filled in once both are done.
    let scanned: Vec<String> = (names.iter())
        .filter(|n| !skipped.contains(&n.as_str()))
        .filter(|n| single(n) || SheetKind::from_name(n).is_some())
        .cloned()
        .collect();
    let path_owned = path.to_path_buf();
    let scan = matches!(wb, Sheets::Xlsx(_))
        .then(|| std::thread::spawn(move || merged::xlsx_scan(&path_owned, &scanned)));
    // (A read that fails below leaves the scan to end on its own: it only reads the file.)
    let mut rests: Vec<Rest> = Vec::new();
    // An XLS or ODS workbook's merged ranges, by sheet, from calamine and the ODS pass.
    let mut other_merges = std::collections::HashMap::new();
    for (sheet_index, name) in names.iter().enumerate() {
        if skipped.contains(&name.as_str()) {
            continue;
        }
        let kind = match SheetKind::from_name(name) {
            Some(kind) => kind,
            // A single-sheet workbook is the flat layout, whatever its sheet is called.
            None if single(name) => SheetKind::Users,
            None => {
                let rows = if options.keep_other_sheets {
                    match &mut wb {
                        // Read as a sheet muster reads, a stray cell far from the others
                        // refused (security review: an ignored sheet's asked for 512 GB).
                        Sheets::Xlsx(xlsx) => xlsx_rows(xlsx, name).unwrap_or_default(),
                        _ => {
                            let formulas = wb.worksheet_formula(name).ok();
                            match wb.worksheet_range(name) {
                                Ok(range) => {
                                    rows(&range, Formulas::of(formulas.as_ref()), None, None)
                                }
                                Err(_) => Vec::new(),
                            }
                        }
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
        let unreadable = |e: &dyn std::fmt::Display| sheet_unreadable(name, e);
        let rows = match &mut wb {
            Sheets::Xlsx(xlsx) if stream => {
                let (head, rest) = read_head(xlsx, name, limits)?;
                if let Some((resume, rows_hint)) = rest {
                    rests.push(Rest {
                        at: sheets.len(),
                        name: name.clone(),
                        user_sheet: kind.is_user_sheet(),
                        resume,
                        rows_hint,
                        fill: MergeFill::default(),
                    });
                }
                head
            }
            Sheets::Xlsx(xlsx) if one_pass => {
                let mut rows = Vec::new();
                read_rows(xlsx, name, limits, Resume::default(), |mut chunk| {
                    rows.append(&mut chunk);
                    true
                })?;
                rows
            }
            Sheets::Xlsx(xlsx) => xlsx_rows(xlsx, name).map_err(|e| unreadable(&e))?,
            _ => {
                let range = wb.worksheet_range(name).map_err(|e| unreadable(&e))?;
                let formulas = wb.worksheet_formula(name).ok();
                let styles = wb.worksheet_style(name).ok();
                let shown = ods_shown.get(sheet_index);
                let padded = shown.map(|s| &s.padded);
                let formulas = Formulas {
                    texts: formulas.as_ref(),
                    cells: xls_sheets.as_ref().map(|f| &f[sheet_index].formulas),
                };
                let padding = match (padded, &xls_sheets) {
                    (Some(ods), _) => Some(Padding::Shown(ods)),
                    (None, Some(xls)) => Some(Padding::Formats(&xls[sheet_index].padded)),
                    (None, None) => None,
                };
                let rows = rows(&range, formulas, styles.as_ref(), padding);
                let merges = match &wb {
                    Sheets::Ods(_) => shown.map(|s| s.merges.clone()).unwrap_or_default(),
                    Sheets::Xls(xls) => (xls.merge_cells_by_sheet_name(name).unwrap_or_default())
                        .iter()
                        .map(|d| Merge {
                            first_row: d.start.0 + 1,
                            last_row: d.end.0 + 1,
                            first_col: d.start.1,
                            last_col: d.end.1,
                        })
                        .collect(),
                    // calamine gives no merged ranges for XLSB.
                    _ => Vec::new(),
                };
                if !merges.is_empty() {
                    other_merges.insert(name.clone(), merges);
                }
                rows
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
            delimited: from_csv,
            rest: None,
            hidden: Hidden::default(),
        });
    }
    for sheet in &mut sheets {
        let name = sheet.sheet.as_deref();
        sheet.hidden.sheet = (wb.sheets_metadata().iter())
            .any(|m| Some(m.name.as_str()) == name && m.visible != calamine::SheetVisible::Visible);
        let found = match (ods_shown.get_mut(sheet.order.1), xls_sheets.as_mut()) {
            (Some(shown), _) => std::mem::take(&mut shown.hidden),
            (None, Some(read)) => read
                .get_mut(sheet.order.1)
                .map(|r| std::mem::take(&mut r.hidden))
                .unwrap_or_default(),
            (None, None) => Hidden::default(),
        };
        (sheet.hidden.rows, sheet.hidden.cols) = (found.rows, found.cols);
    }
    let scanned = scan.and_then(|scan| scan.join().ok()).unwrap_or_default();
    let mut merges = std::collections::HashMap::new();
    for (name, scan) in scanned {
        if let Some(sheet) = (sheets.iter_mut()).find(|s| s.sheet.as_deref() == Some(&name)) {
            (sheet.hidden.rows, sheet.hidden.cols) = (scan.hidden.rows, scan.hidden.cols);
        }
        if !scan.merges.is_empty() {
            merges.insert(name, scan.merges);
        }
    }
    merges.extend(other_merges);
    // The merged ranges filled in: the rows read so far, and the rest of a streamed sheet as
    // its reader thread reads it, from where its head left the ranges.
    for (at, sheet) in sheets.iter_mut().enumerate() {
        let Some(merges) = sheet.sheet.as_ref().and_then(|name| merges.remove(name)) else {
            continue;
        };
        let merges = fillable(sheet, merges, &options.renames);
        let mut fill = MergeFill::new(merges);
        fill.apply(&mut sheet.rows);
        if let Some(rest) = rests.iter_mut().find(|r| r.at == at) {
            rest.fill = fill;
        }
    }
    // A muster export, or its CSV export saved as a workbook by a spreadsheet (which keeps the
    // CSV's guards as text, `'-5`): the guards come off as in the CSV (review). So they do in
    // a workbook muster annotated from an export, which puts them on again (`annotate`):
    // whether its own sheets are still there changes nothing (review: a vendor deleted the
    // Issues sheet, and `'-5` became `-5`).
    let unguard = sheets.iter().any(|s| super::is_export(&s.rows));
    if unguard {
        for sheet in &mut sheets {
            super::unguard_cells(&mut sheet.rows);
        }
    }
    // The vendor's notes, for `--annotate`: an ODS workbook's from the pass above, an XLSX's
    // from its comments parts; calamine gives none.
    let notes: SheetNotes = match &wb {
        _ if !options.keep_other_sheets => SheetNotes::new(),
        Sheets::Ods(_) => (names.iter().zip(ods_shown))
            .filter(|(_, shown)| !shown.notes.is_empty())
            .map(|(name, shown)| (name.clone(), shown.notes))
            .collect(),
        Sheets::Xlsx(_) => {
            let read: Vec<String> = (names.iter())
                .filter(|n| !skipped.contains(&n.as_str()))
                .cloned()
                .collect();
            super::notes::xlsx_notes(path, &read)
        }
        _ => SheetNotes::new(),
    };
    if let (false, Sheets::Xlsx(xlsx)) = (rests.is_empty(), wb) {
        for (at, stream) in SheetStream::start(xlsx, rests, limits, unguard)? {
            sheets[at].rest = Some(stream);
        }
    }
    Ok((sheets, ignored, notes))
}

/// The ranges to read, and what the cells under their tops take: those that start below the
/// header row (a header cell merged down, or a note box beside the table from above it, would
/// give every user the header's or the note's text; review), in a column muster reads. A
/// key, an identity or a row version merged over rows stays in its top row
/// ([`Spread::Own`]): two users with one such value are always a mistake, and the top row's
/// user is not made one (review: an address merged over two users made both D002); the rows
/// below are V011.
fn fillable(
    sheet: &Sheet,
    merges: Vec<Merge>,
    renames: &super::headers::Renames,
) -> Vec<(Merge, Spread)> {
    let mapping = super::headers::map_sheet(sheet, renames);
    let Some(header) = sheet
        .rows
        .get(mapping.header_at)
        .filter(|_| !mapping.columns.is_empty())
    else {
        return Vec::new();
    };
    let spread = |col: u32| {
        let field = &mapping
            .columns
            .iter()
            .find(|c| c.index == col as usize)?
            .field;
        match field {
            Field::Ignored | Field::Credential => None,
            f if f.is_shareable() => Some(Spread::Shared),
            _ => Some(Spread::Own),
        }
    };
    merges
        .into_iter()
        .filter(|m| m.first_row > header.number)
        .filter_map(|m| Some((m, spread(m.first_col)?)))
        .collect()
}

/// Where the rest of a streamed sheet starts: past the rows of its head.
#[derive(Debug, Clone, Copy, Default)]
struct Resume {
    /// The head's last row number (0: nothing read yet).
    after: u32,
    /// The 0-based index of the sheet's first row with a value, for the row limit.
    first_row: Option<u32>,
}

/// A sheet whose rows past its head are still to be read.
struct Rest {
    /// Its index among the workbook's sheets that [`read_sheets`] returns.
    at: usize,
    name: String,
    user_sheet: bool,
    resume: Resume,
    rows_hint: usize,
    /// The sheet's merged ranges, their top cells as the head left them.
    fill: MergeFill,
}

/// A sheet's first rows, and where the rest starts with about how many rows the sheet holds
/// (none when the sheet ended within them).
type Head = (Vec<Row>, Option<(Resume, usize)>);

/// A sheet's head: enough rows to find the header among the first ten non-blank ones, and
/// where the rest starts, unless the sheet ended within them.
fn read_head<RS: std::io::Read + std::io::Seek>(
    xlsx: &mut calamine::Xlsx<RS>,
    name: &str,
    limits: &Limits,
) -> Result<Head, ReadProblem> {
    let rows_hint = {
        let reader = xlsx
            .worksheet_cells_reader(name)
            .map_err(|e| sheet_unreadable(name, &e))?;
        let d = reader.dimensions();
        (d.end.0.saturating_sub(d.start.0) as usize + 1).min(limits.max_rows)
    };
    let mut head: Vec<Row> = Vec::new();
    let mut more = false;
    read_rows(xlsx, name, limits, Resume::default(), |mut chunk| {
        head.append(&mut chunk);
        more = head.iter().filter(|r| !r.is_blank()).count() >= 32;
        !more
    })?;
    let rest = match (more, head.first(), head.last()) {
        (true, Some(first), Some(last)) => Some((
            Resume {
                after: last.number,
                first_row: Some(first.number - 1),
            },
            rows_hint,
        )),
        _ => None,
    };
    Ok((head, rest))
}

/// Whether the workbook's styles have a number format muster reads ([`format_read`]). Cells
/// are then read with their styles, which calamine gives in a pass of their own; otherwise in
/// one pass that leaves the styles out (they matter for nothing else).
fn has_formats_read<RS: std::io::Read + std::io::Seek>(
    xlsx: &mut calamine::Xlsx<RS>,
    name: &str,
) -> bool {
    xlsx.worksheet_cells_reader(name).map_or(true, |reader| {
        reader.styles().iter().any(|style| {
            style
                .number_format
                .as_ref()
                .is_some_and(|f| format_read(&f.format_code))
        })
    })
}

/// A number format that changes how a number cell is read: zero padding ("000000", N009) or
/// scientific notation (`0.00E+00`, V009 in an id column).
fn format_read(code: &str) -> bool {
    zero_padding(code).is_some() || scientific(code)
}

/// Whether a number format shows positive numbers in scientific notation (`0.00E+00`,
/// `##0.0E+0`): an `E+` or `E-` in its first section, outside quoted text, escapes and
/// brackets.
fn scientific(code: &str) -> bool {
    let positive = code.split(';').next().unwrap_or("");
    let mut chars = positive.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                chars.by_ref().find(|&c| c == '"');
            }
            '[' => {
                chars.by_ref().find(|&c| c == ']');
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            'E' | 'e' => {
                if matches!(chars.clone().next(), Some('+' | '-')) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// How many rows a streamed sheet sends at a time.
const CHUNK_ROWS: usize = 4096;

/// What the thread reading a streamed sheet sends.
enum Piece {
    Rows(Vec<Row>),
    Failed(ReadProblem),
    End,
}

/// The rows of a workbook sheet, read on a thread of their own and handed over a chunk at a
/// time, so that the sheet's XML is parsed while the rows before are validated.
pub struct SheetStream {
    pieces: std::sync::mpsc::Receiver<Piece>,
    done: bool,
    /// The sheet's merged ranges, filled in as the rows come (here rather than on the reader
    /// thread, which sets the pace).
    fill: MergeFill,
    /// A muster export's rows: their guards come off (`super::unguard_cells`).
    unguard: bool,
}

impl SheetStream {
    /// Starts one thread that reads the rest of every sheet in `rests`: the ID sheets first,
    /// then the user sheets, as validation takes them, so that each sheet's rows are parsed
    /// while the rows before are validated. Returns each sheet's stream by its index.
    fn start(
        mut xlsx: calamine::Xlsx<std::io::BufReader<std::fs::File>>,
        mut rests: Vec<Rest>,
        limits: &Limits,
        unguard: bool,
    ) -> Result<Vec<(usize, super::RowStream)>, ReadProblem> {
        rests.sort_by_key(|r| r.user_sheet);
        let mut streams = Vec::new();
        let mut jobs = Vec::new();
        for rest in rests {
            // Room for the rows read while the sheets before are validated.
            let (send, pieces) = std::sync::mpsc::sync_channel(8);
            let stream = SheetStream {
                pieces,
                done: false,
                fill: rest.fill,
                unguard,
            };
            streams.push((rest.at, super::RowStream::workbook(stream, rest.rows_hint)));
            jobs.push((rest.name, rest.resume, send));
        }
        let limits = *limits;
        std::thread::Builder::new()
            .name("sheet reader".to_string())
            .spawn(move || {
                let mut next = 0;
                let read = crate::catch_panic(|| {
                    while let Some((name, resume, send)) = jobs.get(next) {
                        // A closed channel means validation stopped early: stop reading too.
                        let read = read_rows(&mut xlsx, name, &limits, *resume, |rows| {
                            send.send(Piece::Rows(rows)).is_ok()
                        });
                        // The receiver is gone only when validation stopped: nothing to tell.
                        let _ = send.send(match read {
                            Ok(()) => Piece::End,
                            Err(problem) => Piece::Failed(problem),
                        });
                        next += 1;
                    }
                });
                if let Err(why) = read {
                    // The reader may be in any state: no sheet after this one is read.
                    for (_, _, send) in &jobs[next..] {
                        let _ = send.send(Piece::Failed(malformed(&why)));
                    }
                }
            })
            .map_err(|e| ReadProblem::unreadable(format!("cannot start reading: {e}")))?;
        Ok(streams)
    }

    /// The next chunk of rows; `None` once the sheet is done.
    pub(super) fn next_chunk(&mut self) -> Result<Option<Vec<Row>>, ReadProblem> {
        if self.done {
            return Ok(None);
        }
        match self.pieces.recv() {
            Ok(Piece::Rows(mut rows)) => {
                self.fill.apply(&mut rows);
                if self.unguard {
                    super::unguard_cells(&mut rows);
                }
                Ok(Some(rows))
            }
            Ok(Piece::End) => {
                self.done = true;
                Ok(None)
            }
            Ok(Piece::Failed(problem)) => {
                self.done = true;
                Err(problem)
            }
            Err(_) => {
                self.done = true;
                Err(ReadProblem::unreadable(
                    "the sheet reader stopped unexpectedly".to_string(),
                ))
            }
        }
    }
}

/// Reads a sheet's cells in one pass and hands them to `take` as rows, numbered as the
/// spreadsheet shows them, [`CHUNK_ROWS`] at a time. Rows without a value are left out (they
/// are blank); cells keep their column. Stops early when `take` returns false.
fn read_rows<RS: std::io::Read + std::io::Seek>(
    xlsx: &mut calamine::Xlsx<RS>,
    name: &str,
    limits: &Limits,
    resume: Resume,
    mut take: impl FnMut(Vec<Row>) -> bool,
) -> Result<(), ReadProblem> {
    let mut reader = xlsx
        .worksheet_cells_reader(name)
        .map_err(|e| sheet_unreadable(name, &e))?;
    let mut chunk: Vec<Row> = Vec::with_capacity(CHUNK_ROWS);
    let mut first_row = resume.first_row;
    let mut last_number = resume.after;
    // The head's rows come first and were read before; a row at or above them later on is out
    // of order, as below.
    let mut past_head = resume.after == 0;
    let mut width = 0;
    let mut flush =
        |chunk: &mut Vec<Row>| take(std::mem::replace(chunk, Vec::with_capacity(CHUNK_ROWS)));
    while let Some(c) = reader
        .next_cell_with_formula()
        .map_err(|e| sheet_unreadable(name, &e))?
    {
        // A formula with no text (`<f/>`, a what-if data table's `<f t="dataTable"/>`) is a
        // formula all the same: its cached value is what it computed (security review).
        let formula = c.formula;
        if formula.is_none() && c.value == calamine::DataRef::Empty {
            continue;
        }
        let (r, col) = c.pos;
        let number = r + 1;
        if !past_head {
            if number <= resume.after {
                continue;
            }
            past_head = true;
        }
        let first = *first_row.get_or_insert(r);
        if (r - first.min(r)) as usize >= limits.max_rows {
            return Err(ReadProblem::unreadable(format!(
                "sheet `{name}` has more than {} rows (raise the limit with --max-rows)",
                limits.max_rows
            )));
        }
        if col as usize >= limits.max_columns {
            // The first cell past the limit, read before the rest of its row (review: "row 1
            // has 1 columns" of a row of twenty).
            return Err(ReadProblem::unreadable(format!(
                "sheet `{name}` row {number} has a value in column {}, past the limit of {} columns (raise it with --max-columns)",
                col as usize + 1,
                limits.max_columns
            ))
            .at_row(number));
        }
        if number < last_number {
            return Err(ReadProblem {
                code: "F001",
                sheet: Some(name.to_string()),
                message: format!(
                    "sheet `{name}` lists row {number} after row {last_number}: open it in a spreadsheet program and save it again"
                ),
                row: Some(number),
            });
        }
        if number > last_number {
            last_number = number;
            if chunk.len() >= CHUNK_ROWS && !flush(&mut chunk) {
                return Ok(());
            }
            chunk.push(Row {
                number,
                // Rows of a sheet are about as wide as each other: one allocation per row.
                cells: Vec::with_capacity(width),
            });
        }
        let cell = match formula {
            Some(f) => boolean_formula(&f).unwrap_or_else(|| Cell {
                text: format!("={f}"),
                origin: CellOrigin::Formula,
                covered: None,
            }),
            None => match c.value {
                calamine::DataRef::SharedString(s) => Cell::text(super::csv::to_nfc(s.to_string())),
                calamine::DataRef::String(s) => Cell::text(super::csv::to_nfc(s)),
                value => cell(&value.into(), None),
            },
        };
        let cells = &mut chunk.last_mut().expect("a row was pushed").cells;
        let col = col as usize;
        if col >= cells.len() {
            cells.resize(col + 1, Cell::default());
            width = width.max(col + 1);
        }
        cells[col] = cell;
    }
    if !chunk.is_empty() {
        flush(&mut chunk);
    }
    Ok(())
}

fn sheet_unreadable(name: &str, e: &dyn std::fmt::Display) -> ReadProblem {
    let e = e.to_string();
    // calamine reads the classic error values (`#N/A`, V007) and no newer one (review).
    let hint = if e.contains("Unsupported cell error value") {
        " (what a failed formula leaves: enter the value itself in its cell)"
    } else {
        ""
    };
    ReadProblem {
        code: "F001",
        sheet: Some(name.to_string()),
        message: format!("sheet `{name}` cannot be read: {e}{hint}"),
        row: None,
    }
}

fn malformed(why: &str) -> ReadProblem {
    ReadProblem::unreadable(format!(
        "not a readable workbook: it is malformed (the reader failed: {why})"
    ))
}

/// The most cells a sheet read whole may span, first cell to last (a `Range` holds every one
/// of them, about 32 bytes each: 512 MiB).
pub(super) const WHOLE_SHEET_CELLS: u64 = 1 << 24;

/// How many cells the rectangle from the first of these positions to the last holds.
fn span(positions: impl Iterator<Item = (u32, u32)>) -> u64 {
    let mut bounds: Option<(u32, u32, u32, u32)> = None;
    for (row, col) in positions {
        let (r0, r1, c0, c1) = bounds.unwrap_or((row, row, col, col));
        bounds = Some((r0.min(row), r1.max(row), c0.min(col), c1.max(col)));
    }
    bounds.map_or(0, |(r0, r1, c0, c1)| {
        u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1)
    })
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
            if let Some(formula) = cell.formula {
                formulas.push(calamine::Cell::new(cell.pos, formula));
            }
            let value: Data = cell.value.into();
            numbers |= matches!(value, Data::Int(_) | Data::Float(_) | Data::DateTime(_));
            if value != Data::Empty {
                values.push(calamine::Cell::new(cell.pos, value));
            }
        }
    }
    // A range is the rectangle from the first cell to the last, every cell in it allocated:
    // one stray cell at XFD1048576 would ask for 512 GiB.
    if span(values.iter().map(|c| c.get_position()))
        .max(span(formulas.iter().map(|c| c.get_position())))
        > WHOLE_SHEET_CELLS
    {
        return Err(calamine::XlsxError::Unexpected(
            "its cells span more than 16,777,216 from the first to the last, too many to read at once (a stray cell far from the others?)",
        ));
    }
    let range = Range::from_sparse(values);
    let formulas = Range::from_sparse(formulas);
    let styles = if numbers {
        xlsx.worksheet_style(name).ok()
    } else {
        None
    };
    Ok(rows(
        &range,
        Formulas::of(Some(&formulas)),
        styles.as_ref(),
        None,
    ))
}

/// A sheet's formulas: their texts as calamine gives them, and for XLS the cells that hold one
/// ([`super::xls`]), whose text calamine may not give.
#[derive(Clone, Copy, Default)]
struct Formulas<'a> {
    texts: Option<&'a Range<String>>,
    cells: Option<&'a std::collections::HashSet<(u32, u32)>>,
}

impl<'a> Formulas<'a> {
    fn of(texts: Option<&'a Range<String>>) -> Self {
        Formulas { texts, cells: None }
    }
}

/// The number cells padded with zeros where calamine gives no number format.
#[derive(Clone, Copy)]
enum Padding<'a> {
    /// An ODS sheet's cells shown padded, with the width.
    Shown(&'a super::ods::Padded),
    /// An XLS sheet's cells with a padding format, with its code ([`super::xls`]).
    Formats(&'a std::collections::HashMap<(u32, u32), std::sync::Arc<str>>),
}

/// A sheet's rows from calamine's ranges, with the number cells padded as `padding` says.
fn rows(
    range: &Range<Data>,
    formulas: Formulas,
    styles: Option<&StyleRange>,
    padding: Option<Padding>,
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
                let formula = (formulas.texts)
                    .and_then(|f| f.get_value((r, c)))
                    .filter(|f| !f.is_empty());
                if let Some(f) = formula {
                    if let Some(boolean) = boolean_formula(f) {
                        return boolean;
                    }
                    // OpenDocument names its formula language before the `=` (`of:=SUM(…)`,
                    // older files `oooc:=`) and brackets its references: the cell as the
                    // spreadsheet shows it, and as an xlsx holds it, has neither.
                    let text = match ["of:=", "oooc:="].iter().find_map(|p| f.strip_prefix(p)) {
                        Some(f) => format!("={}", super::ods::formula_as_shown(f)),
                        None => format!("={f}"),
                    };
                    return Cell {
                        text,
                        origin: CellOrigin::Formula,
                        covered: None,
                    };
                }
                let format = match padding {
                    Some(Padding::Shown(shown)) => match shown.width(r, c) {
                        // Width 0: shown in scientific notation.
                        Some(0) => return cell(value, Some("0.00E+00")),
                        Some(width) => return cell(value, Some(&"0".repeat(width))),
                        None => None,
                    },
                    Some(Padding::Formats(codes)) => codes.get(&(r, c)).map(|c| &**c),
                    None => None,
                };
                let format = format.or_else(|| {
                    styles
                        .and_then(|s| s.get((r, c)))
                        .and_then(|s| s.number_format.as_ref())
                        .map(|n| n.format_code.as_str())
                });
                let read = cell(value, format);
                // A formula whose text calamine does not give (XLS's shared formulas): the
                // value it left, told as a formula's (V007).
                if formulas.cells.is_some_and(|f| f.contains(&(r, c))) {
                    return Cell {
                        origin: CellOrigin::Formula,
                        ..read
                    };
                }
                read
            }));
            Row {
                number: r + 1,
                cells,
            }
        })
        .collect()
}

/// A zip bomb is refused from the central directory's sizes, before anything is decompressed.
/// Also refuses a workbook of another kind than its extension says (an ODS named `.xlsx`),
/// naming what it is (SPEC §2): calamine would fail on a part it looks for in vain.
fn check_unpacked_size(path: &Path, ext: &str, limits: &Limits) -> Result<(), ReadProblem> {
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
    let kind = if zip.index_for_name("content.xml").is_some()
        && zip.index_for_name("mimetype").is_some()
    {
        Some(("ods", "an OpenDocument spreadsheet"))
    } else if zip.index_for_name("xl/workbook.bin").is_some() {
        Some(("xlsb", "an Excel binary workbook"))
    } else if zip.index_for_name("xl/workbook.xml").is_some() {
        Some(("xlsx", "an Excel workbook"))
    } else {
        None
    };
    let fits = |k: &str| k == ext || (k == "xlsx" && ext == "xlsm");
    if let Some((kind, what)) = kind.filter(|(k, _)| !fits(k)) {
        return Err(ReadProblem::unreadable(format!(
            "cannot be read as .{ext}: it is {what} (rename it to .{kind})"
        )));
    }
    if total > limits.max_unpacked_bytes {
        return Err(ReadProblem::unreadable(format!(
            "the workbook would unpack to {} MiB, more than the limit of {} MiB (a zip bomb?); raise it with --max-unpacked-mib",
            // Under 1 MiB is not "0 MiB, more than the limit of 0 MiB" (review).
            (total >> 20).max(1),
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
        Data::Bool(b) => Cell {
            text: if *b { "TRUE" } else { "FALSE" }.to_string(),
            origin: CellOrigin::Bool,
            covered: None,
        },
        Data::DateTime(dt) => {
            if dt.is_datetime() {
                let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
                // A time of day alone is a fraction of a day: not a date of 1899 (review: a
                // shift start read as `1899-12-31T09:30:00`, `PT09H30M00S` from ODS).
                let text = if (0.0..1.0).contains(&dt.as_f64()) {
                    format!("{hh:02}:{mm:02}:{ss:02}")
                } else if (hh, mm, ss) == (0, 0, 0) {
                    format!("{y:04}-{m:02}-{d:02}")
                } else {
                    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}")
                };
                Cell {
                    text,
                    origin: CellOrigin::Date,
                    covered: None,
                }
            } else if dt.as_f64() >= 0.0 {
                // A duration (`[h]:mm:ss`): its hours go on past 24, as ODS gives them.
                Cell {
                    text: clock((dt.as_f64() * 86_400_000.0).round() as u64),
                    origin: CellOrigin::Date,
                    covered: None,
                }
            } else {
                number_cell(dt.as_f64(), None, number_format)
            }
        }
        Data::DateTimeIso(s) => Cell {
            // A date at midnight is the date, as a serial date cell reads (producers review:
            // an xlsx `t="d"` cell, openpyxl's ISO dates, read `2026-03-01T00:00:00`).
            text: epoch_time_ms(s).map_or_else(|| midnight_as_date(s).to_string(), clock),
            origin: CellOrigin::Date,
            covered: None,
        },
        Data::DurationIso(s) => match iso_duration_ms(s).map(clock) {
            Some(text) => Cell {
                text,
                origin: CellOrigin::Date,
                covered: None,
            },
            // A negative duration is the number of days an xlsx reads for it (review: its
            // ISO text, `-PT36H00M00S`, was V007 as a would-be formula).
            None => match s.strip_prefix('-').and_then(iso_duration_ms) {
                Some(ms) => number_cell(-(ms as f64) / 86_400_000.0, None, None),
                None => Cell::text(s.clone()),
            },
        },
        Data::Error(e) => Cell::text(format!("{e}")),
    }
}

/// LibreOffice keeps a boolean as the formula `TRUE()` or `FALSE()` (an Excel workbook's
/// boolean cells, opened and saved by it, in ODS, XLS and XLSX; calamine reads an XLS one as
/// `TRUE`): the value, not a formula to refuse (review: V007 on each, and the rows invalid).
fn boolean_formula(formula: &str) -> Option<Cell> {
    let f = ["of:=", "oooc:=", "="]
        .iter()
        .fold(formula.trim(), |f, p| f.strip_prefix(p).unwrap_or(f));
    let text = match f.to_ascii_uppercase().as_str() {
        "TRUE()" | "TRUE" => "TRUE",
        "FALSE()" | "FALSE" => "FALSE",
        _ => return None,
    };
    Some(Cell {
        text: text.to_string(),
        origin: CellOrigin::Bool,
        covered: None,
    })
}

/// A time of day or a duration as a spreadsheet shows it (`09:30:00`, `37:30:00`; the hours
/// of a duration go on past 24, as a `[h]:mm:ss` format shows them), from milliseconds: the
/// seconds are cut, as calamine cuts an xlsx time's after rounding it to milliseconds, so that
/// a whole second stored a hair under itself reads as itself, and an xlsx and its ODS read
/// alike (review: `00:05:30` and `00:05:29`).
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// ODS's time cell (`PT09H30M00S`, `PT37H30M05.250S`) in milliseconds.
fn iso_duration_ms(iso: &str) -> Option<u64> {
    let rest = iso.strip_prefix("PT")?;
    let (h, rest) = rest.split_once('H')?;
    let (m, rest) = rest.split_once('M')?;
    let hm: [u64; 2] = [h.parse().ok()?, m.parse().ok()?];
    let ms = seconds_ms(rest.strip_suffix('S')?)?;
    (hm[1] < 60).then(|| (hm[0] * 60 + hm[1]) * 60_000 + ms)
}

/// Seconds under a minute, maybe with a fraction (`07.250`), in milliseconds.
fn seconds_ms(text: &str) -> Option<u64> {
    let whole = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let s: f64 = text.parse().ok().filter(|s| whole && *s < 60.0)?;
    Some((s * 1000.0).round() as u64)
}

/// ODS's date-time cell on the day before its epoch's first (`1899-12-30T12:00:00`): a value
/// under 1 in a date format, a time of day, as xlsx reads it (review).
/// An ISO date and time at midnight as the date alone (`2026-03-01T00:00:00`, with `.000` or
/// `Z` after it too); any other text as it is.
fn midnight_as_date(iso: &str) -> &str {
    let Some((date, time)) = iso.split_once('T') else {
        return iso;
    };
    let time = time.strip_suffix('Z').unwrap_or(time);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    match clock == "00:00:00" && fraction.bytes().all(|b| b == b'0') {
        true => date,
        false => iso,
    }
}

fn epoch_time_ms(iso: &str) -> Option<u64> {
    let mut parts = iso.strip_prefix("1899-12-30T")?.splitn(3, ":");
    let [h, m]: [u64; 2] = [parts.next()?.parse().ok()?, parts.next()?.parse().ok()?];
    let ms = seconds_ms(parts.next()?)?;
    (h < 24 && m < 60).then(|| (h * 60 + m) * 60_000 + ms)
}

/// The width a number format of zeros only ("000000") pads numbers to.
/// The format's first section (positive numbers) counts, without a locale or colour in
/// brackets: `0000;-0000`, `0000000;@`, `[$-409]000000` pad as `000000` does (review: their
/// zeros were lost in xlsx, kept in the same workbook saved as ODS).
fn zero_padding(code: &str) -> Option<usize> {
    let positive = code.split(';').next().unwrap_or("");
    let mut zeros = 0;
    let mut rest = positive;
    while let Some(c) = rest.chars().next() {
        if c == '0' {
            zeros += 1;
            rest = &rest[1..];
            continue;
        }
        // Brackets that change no digit: a locale without a currency sign (`[$-409]`) or a
        // colour; a condition (`[>100]`) or a currency (`[$€-407]`) shows other text (review).
        let (inner, after) = rest.strip_prefix('[')?.split_once(']')?;
        let locale = inner
            .strip_prefix("$-")
            .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let colour = !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_alphabetic());
        if !(locale || colour) {
            return None;
        }
        rest = after;
    }
    (zeros > 1).then_some(zeros)
}

/// What a format that pads with zeros shows for the whole number `f` (`digits`: its digits,
/// no sign), when padded: the section for its sign (`0000;-0000` shows -42 as `-0042`; with
/// no negative section, the first with a `-`), and for 0 the third section, which may show
/// nothing (`0000;-0000;;@`). `None` when it shows the number as it is.
fn padded(f: f64, digits: &str, code: &str) -> Option<String> {
    let sections: Vec<&str> = code.split(';').collect();
    let pad = |section: &str, sign: &str| {
        let width = zero_padding(section)?;
        (digits.len() < width).then(|| format!("{sign}{digits:0>width$}"))
    };
    match (f, sections.as_slice()) {
        (0.0, [_, _, "", ..]) => Some(String::new()),
        (0.0, [_, _, zero, ..]) => pad(zero, ""),
        // The sign as a literal: `-`, or escaped, `\-` or `"-"` (LibreOffice's XLS).
        (f, [_, negative, ..]) if f < 0.0 => match ["-", "\\-", "\"-\""]
            .iter()
            .find_map(|sign| negative.strip_prefix(sign))
        {
            Some(body) => pad(body, "-"),
            // Shown without a sign, or in brackets: not a padded id.
            None => None,
        },
        (f, [positive, ..]) if f < 0.0 => pad(positive, "-"),
        (_, [positive, ..]) => pad(positive, ""),
        _ => None,
    }
}

fn number_cell(f: f64, int: Option<i64>, number_format: Option<&str>) -> Cell {
    // Negative zero is zero: a spreadsheet shows `0` (cross-format review: `-0` from XLSX).
    let f = if f == 0.0 { 0.0 } else { f };
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
            covered: None,
        };
    }
    let text = match int {
        Some(i) => i.to_string(),
        None if integral => format!("{f:.0}"),
        None => f.to_string(),
    };
    // A format of zeros only ("000000") pads the shown number: restore it (N009).
    if let Some(shown) = number_format
        .filter(|code| integral && zero_padding(code).is_some())
        .and_then(|code| padded(f, text.trim_start_matches('-'), code))
    {
        return Cell {
            origin: if shown.is_empty() {
                CellOrigin::Number
            } else {
                CellOrigin::Padded
            },
            text: shown,
            covered: None,
        };
    }
    // Shown as `1.23E+11`: the digits may be what a spreadsheet kept of that text.
    let origin = if number_format.is_some_and(scientific) {
        CellOrigin::ScientificNumber
    } else {
        CellOrigin::Number
    };
    Cell {
        text,
        origin,
        covered: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scientific_formats() {
        use super::scientific;
        for code in [
            "0.00E+00",
            "0.00E+0",
            "##0.0E+0",
            "0E-00",
            "[Blue]0.00E+00",
            "0.0e+00",
        ] {
            assert!(scientific(code), "{code}");
        }
        for code in [
            "General",
            "0",
            "000000",
            "\"E+\"0",
            "\\E+0",
            "[$EUR]0",
            "0;0.00E+00",
            "@",
        ] {
            assert!(!scientific(code), "{code}");
        }
    }

    #[test]
    fn times_and_durations() {
        use super::{clock, epoch_time_ms, iso_duration_ms};
        let ods = |iso| iso_duration_ms(iso).map(clock);
        assert_eq!(ods("PT09H30M00S").as_deref(), Some("09:30:00"));
        assert_eq!(ods("PT9H5M7.250S").as_deref(), Some("09:05:07"));
        assert_eq!(ods("PT37H30M00S").as_deref(), Some("37:30:00"));
        assert_eq!(ods("PT00H05M29.9999999S").as_deref(), Some("00:05:30"));
        assert_eq!(ods("PT00H05M29.6S").as_deref(), Some("00:05:29"));
        assert_eq!(ods("PT123H00M00S").as_deref(), Some("123:00:00"));
        for not in [
            "P1DT1H0M0S",
            "PT09H30M",
            "09:30",
            "PT09H60M00S",
            "PT09H30M60S",
            "PT09H30MNaNS",
            "PT09H30M1e1S",
            "-PT09H30M00S",
        ] {
            assert_eq!(iso_duration_ms(not), None, "{not}");
        }
        let epoch = |iso| epoch_time_ms(iso).map(clock);
        assert_eq!(epoch("1899-12-30T12:00:00").as_deref(), Some("12:00:00"));
        assert_eq!(
            epoch("1899-12-30T09:30:59.9999").as_deref(),
            Some("09:31:00")
        );
        assert_eq!(epoch("1899-12-31T12:00:00"), None);
        assert_eq!(epoch("1899-12-30"), None);
        // An xlsx time's milliseconds, as calamine rounds them (a time, a `[h]:mm` duration).
        assert_eq!(
            clock((0.3958333333 * 86_400_000.0f64).round() as u64),
            "09:30:00"
        );
        assert_eq!(clock((1.5625 * 86_400_000.0f64).round() as u64), "37:30:00");
    }

    #[test]
    fn zero_padding_formats() {
        use super::zero_padding;
        for (code, width) in [
            ("000000", 6),
            ("0000;-0000", 4),
            ("00000;00000;00000", 5),
            ("0000000;@", 7),
            ("[$-409]000000", 6),
        ] {
            assert_eq!(zero_padding(code), Some(width), "{code}");
        }
        assert_eq!(zero_padding("[Red]0000"), Some(4));
        // As the sheet shows them (review): a negative number by its section, a 0 by the third.
        for (f, code, shown) in [
            (42.0, "0000;-0000", Some("0042")),
            (-42.0, "0000;-0000", Some("-0042")),
            (-42.0, "0000", Some("-0042")),
            (-42.0, "0000;\\-0000", Some("-0042")),
            (-42.0, "0000;\"-\"0000", Some("-0042")),
            (-42.0, "0000;(0000)", None),
            (0.0, "0000;-0000;;@", Some("")),
            (0.0, "0000;-0000;000;@", Some("000")),
            (0.0, "0000", Some("0000")),
            (12345.0, "0000", None),
        ] {
            let digits = format!("{:.0}", f64::abs(f));
            assert_eq!(padded(f, &digits, code).as_deref(), shown, "{f} {code}");
        }
        for code in [
            "0",
            "0.00",
            "#,##0",
            "General",
            "00-00",
            "[Red]0",
            "@",
            "[0000",
            "[>100]0000;00",
            "[$€-407]0000",
            "[<=9999]0000;000000",
            "\"ID\"0000",
        ] {
            assert_eq!(zero_padding(code), None, "{code}");
        }
    }

    use super::*;

    /// The one-pass reader gives the cells calamine's `Range` gives, on every sheet of the
    /// shipped workbooks without zero-padding formats.
    #[test]
    fn one_pass_rows_are_the_range_rows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut compared = 0;
        for file in [
            "testdata/batches/q3-contractors.xlsx",
            "testdata/bad/hidden-sheets.xlsx",
            "testdata/bad/merged-cells.xlsx",
            "testdata/bad/no-users-sheet.xlsx",
        ] {
            let path = root.join(file);
            if !path.exists() {
                panic!("{file} is missing");
            }
            let mut xlsx: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
            for name in xlsx.sheet_names() {
                if has_formats_read(&mut xlsx, &name) {
                    continue;
                }
                let range = xlsx.worksheet_range(&name).unwrap();
                let formulas = xlsx.worksheet_formula(&name).ok();
                let whole = rows(&range, Formulas::of(formulas.as_ref()), None, None);
                let mut one_pass = Vec::new();
                read_rows(
                    &mut xlsx,
                    &name,
                    &Limits::default(),
                    Resume::default(),
                    |mut chunk| {
                        one_pass.append(&mut chunk);
                        true
                    },
                )
                .unwrap();
                assert_eq!(
                    super::super::filled_rows(&whole),
                    super::super::filled_rows(&one_pass),
                    "{file} sheet {name}"
                );
                compared += whole.len();
            }
        }
        assert!(compared > 100, "{compared} rows compared");
    }

    #[test]
    fn numbers_read_as_shown() {
        assert_eq!(cell(&Data::Float(123.0), None).text, "123");
        assert_eq!(cell(&Data::Float(1.5), None).text, "1.5");
        assert_eq!(cell(&Data::Float(-0.0), None).text, "0");
        // A negative ODS duration, as an xlsx reads the same cell (review: it was V007).
        let negative = cell(&Data::DurationIso("-PT36H00M00S".into()), None);
        assert_eq!(
            (negative.text.as_str(), negative.origin),
            ("-1.5", CellOrigin::Number)
        );
        assert_eq!(cell(&Data::Float(-0.0), Some("000")).text, "000");
        // An ISO date cell (xlsx `t="d"`) at midnight is the date, as a serial one reads.
        let iso = |s: &str| cell(&Data::DateTimeIso(s.into()), None).text;
        assert_eq!(iso("2026-03-01T00:00:00"), "2026-03-01");
        assert_eq!(iso("2026-03-01T09:30:00"), "2026-03-01T09:30:00");
        assert_eq!(iso("2026-03-01T00:00:00Z"), "2026-03-01");
        assert_eq!(iso("2026-03-01T00:00:00.000"), "2026-03-01");
        assert_eq!(iso("2026-03-01T00:00:10"), "2026-03-01T00:00:10");
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
