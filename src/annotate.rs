//! `--annotate`: the batch as the vendor sent it, marked up. Every cell with a finding is filled
//! (red for an error, amber for a warning) and carries a note with the code, message and
//! suggestion; an `Issues` sheet links to every cell and a `Summary` sheet counts them.
//!
//! The batch's sheets are written in rust_xlsxwriter's constant-memory mode, row by row, so the
//! workbook is never held in memory beside the batch. A streamed CSV batch is not held either:
//! its rows are read a second time, a chunk at a time, to be written back.

use crate::finding::{column_letter, Finding};
use crate::input::headers::{map_sheet, Field, Renames};
use crate::input::notes::{CellNote, MUSTER_AUTHOR, MUSTER_MARK};
use crate::input::{Batch, CellOrigin, Row};
use crate::report::{write_workbook, OutputError, Summary};
use crate::rules::{Rule, Severity};
use crate::xlsx::{
    clip, clip_to, fill, findings_table, header_format, Link, Reader, Widths, MAX_CELL, TEXT_FORMAT,
};
use rust_xlsxwriter::{ExcelDateTime, Format, Note, Workbook, Worksheet, XlsxError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The sheets the annotated workbook adds; the reader skips them silently.
pub const SUMMARY_SHEET: &str = "Summary";
pub const ISSUES_SHEET: &str = "Issues";

/// Where each sheet of the batch lands in the annotated workbook, and its header row, so that a
/// finding can be turned into the cell it marks (here, and in the XLSX report's links).
#[derive(Debug, Default)]
pub struct Layout {
    /// By the sheet's `order` (file, sheet): its name in the annotated workbook and its 0-based
    /// header row.
    sheets: HashMap<(usize, usize), (String, Option<u32>)>,
}

/// A cell of the annotated workbook, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target<'a> {
    pub sheet: &'a str,
    pub row: u32,
    pub col: u16,
}

impl Target<'_> {
    /// `'Users'!C5`, for links.
    pub fn reference(&self) -> String {
        format!(
            "'{}'!{}{}",
            self.sheet.replace('\'', "''"),
            column_letter(self.col as usize),
            self.row + 1
        )
    }
}

/// Why a batch cannot be annotated (exit code 2, before anything is written).
#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    #[error("--annotate writes one batch as one workbook; give it a single input (got {0})")]
    SeveralInputs(usize),
    #[error("--annotate needs a workbook or CSV batch: {0} holds records, which have no cells to mark (use --report)")]
    Records(String),
    #[error("--annotate must name an .xlsx file (got {0})")]
    Extension(String),
}

/// Refuses what cannot be annotated, before the batch is read.
pub fn check_request(path: &Path, inputs: &[std::path::PathBuf]) -> Result<(), AnnotateError> {
    let is_xlsx = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !is_xlsx {
        return Err(AnnotateError::Extension(path.display().to_string()));
    }
    if inputs.len() != 1 {
        return Err(AnnotateError::SeveralInputs(inputs.len()));
    }
    Ok(())
}

impl Layout {
    pub fn new(batch: &Batch, renames: &Renames) -> Result<Layout, AnnotateError> {
        let mut sheets = HashMap::new();
        for sheet in &batch.sheets {
            if !sheet.lettered {
                return Err(AnnotateError::Records(sheet.file.clone()));
            }
            let mapping = map_sheet(sheet, renames);
            let header = sheet.rows.get(mapping.header_at).map(|r| r.number - 1);
            let name = match &sheet.sheet {
                Some(name) => name.clone(),
                // A CSV becomes the sheet SPEC §2 names for its kind.
                None => sheet.kind.sheet_name().to_string(),
            };
            sheets.insert(sheet.order, (name, header));
        }
        // Sheet names are unique regardless of case: muster's own, then the batch's.
        let mut taken: HashSet<String> = [SUMMARY_SHEET, ISSUES_SHEET]
            .iter()
            .map(|s| s.to_lowercase())
            .chain(sheets.values().map(|(n, _)| n.to_lowercase()))
            .chain(batch.others.iter().map(|o| o.name.to_lowercase()))
            .collect();
        for other in &batch.others {
            // A vendor's own `Summary` or `Issues` sheet is kept, beside muster's of that name,
            // as Excel names a copy: `Summary (2)`, or the first number not taken.
            let name = if [SUMMARY_SHEET, ISSUES_SHEET]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&other.name))
            {
                let name = (2..)
                    .map(|n| format!("{} ({n})", other.name))
                    .find(|n| !taken.contains(&n.to_lowercase()))
                    .expect("a free name");
                taken.insert(name.to_lowercase());
                name
            } else {
                other.name.clone()
            };
            sheets.insert(other.order, (name, None));
        }
        Ok(Layout { sheets })
    }

    /// The cell a finding marks: its own cell; the header cell for a finding about a whole
    /// column; the row's first cell for one about a whole row. `None` for a finding about a whole
    /// file, which the `Summary` sheet lists.
    pub fn target(&self, f: &Finding) -> Option<Target<'_>> {
        let (name, header) = self.sheets.get(&(f.position.0, f.position.1))?;
        let col = f.position.3.checked_sub(1).filter(|_| f.column.is_some());
        let row = match (f.row, col) {
            (Some(r), _) => r - 1,
            (None, Some(_)) => (*header)?,
            (None, None) => return None,
        };
        Some(Target {
            sheet: name,
            row,
            col: col.unwrap_or(0) as u16,
        })
    }
}

impl Layout {
    /// The first cell of the sheet a finding is about (its header row's, if known), for the
    /// Issues sheet's link of a finding about a whole sheet (F002, an ignored sheet's F004): it
    /// marks no cell, but its sheet is in the workbook.
    pub fn sheet_start(&self, f: &Finding) -> Option<Target<'_>> {
        f.sheet.as_ref()?;
        let (name, header) = self.sheets.get(&(f.position.0, f.position.1))?;
        Some(Target {
            sheet: name,
            row: header.unwrap_or(0),
            col: 0,
        })
    }
}

/// What the annotated workbook needs besides the batch.
pub struct Annotation<'a> {
    pub batch: &'a Batch,
    pub renames: &'a Renames,
    pub layout: &'a Layout,
    pub findings: &'a [Finding],
    pub summary: &'a Summary,
    pub config_source: &'a str,
    /// What beside the batch its rows were checked against, in the sender's words (the
    /// store's and the directory's paths are the admin's: see [`crate::finding::SenderText`]).
    pub checked_against: &'a str,
    /// The batch read a second time, for the rows of the sheets that were streamed (a CSV's
    /// rows are not kept while it is validated: see [`needs_second_read`]).
    pub again: Option<&'a Batch>,
    /// The inputs and their [`fingerprint`] before the first read: if a second read was needed
    /// and they changed, nothing is written.
    pub inputs: Option<(&'a [std::path::PathBuf], &'a Fingerprint)>,
}

/// Whether the batch was streamed: its rows then come from a second read.
pub fn needs_second_read(batch: &Batch) -> bool {
    batch.sheets.iter().any(|s| s.rest.is_some())
}

/// Each input file with its size and modification time.
pub type Fingerprint = Vec<(std::path::PathBuf, u64, Option<std::time::SystemTime>)>;

/// The size and modification time of every input file (a directory's files included), to tell
/// whether a batch changed between its two reads.
pub fn fingerprint(inputs: &[std::path::PathBuf]) -> Fingerprint {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for path in inputs {
        match std::fs::read_dir(path) {
            Ok(entries) => files.extend(entries.flatten().map(|e| e.path())),
            Err(_) => files.push(path.clone()),
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(&f).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (f, len, modified)
        })
        .collect()
}

/// A second read of a streamed batch, checked against the first: the same sheets with the same
/// first rows, or the file changed in between.
pub fn same_batch(first: &Batch, again: &Batch) -> bool {
    first.sheets.len() == again.sheets.len()
        && first.sheets.iter().zip(&again.sheets).all(|(a, b)| {
            a.order == b.order
                && a.rest.is_some() == b.rest.is_some()
                && crate::input::filled_rows(&a.rows) == crate::input::filled_rows(&b.rows)
        })
}

/// Writes the annotated workbook atomically.
pub fn write(path: &Path, a: &Annotation) -> Result<(), OutputError> {
    write_workbook(path, |workbook| build(workbook, a))
}

fn build(workbook: &mut Workbook, a: &Annotation) -> Result<(), XlsxError> {
    // Errors and warnings by the cell they mark, per annotated sheet. Info findings (what muster
    // normalized) ask nothing of the vendor: they are listed on the Issues sheet only.
    let mut marks: HashMap<&str, BTreeMap<(u32, u16), Vec<&Finding>>> = HashMap::new();
    let mut whole_file = Vec::new();
    for f in a.findings {
        match a.layout.target(f) {
            Some(_) if f.severity == Severity::Info => {}
            Some(t) => marks
                .entry(t.sheet)
                .or_default()
                .entry((t.row, t.col))
                .or_default()
                .push(f),
            None => whole_file.push(f),
        }
    }

    let marked: usize = marks.values().map(BTreeMap::len).sum();
    let summary = workbook.add_worksheet().set_name(SUMMARY_SHEET)?;
    summary.set_active(true);
    write_summary(summary, a, &whole_file, marked)?;

    let issues = workbook
        .add_worksheet_with_constant_memory()?
        .set_name(ISSUES_SHEET)?;
    let link = |f: &Finding| {
        let reference = match a.layout.target(f).or_else(|| a.layout.sheet_start(f)) {
            Some(t) => t.reference(),
            None => format!("'{SUMMARY_SHEET}'!A1"),
        };
        Some(Link {
            url: format!("internal:{reference}"),
            text: reference,
        })
    };
    findings_table(issues, a.findings, Some(&link), Reader::Sender)?;

    // The batch's sheets in their order: the workbook's, or SPEC §2's for a CSV set.
    enum Source<'b> {
        Validated(&'b crate::input::Sheet),
        Other(&'b crate::input::OtherSheet),
    }
    let mut sources: Vec<((usize, usize), Source)> = a
        .batch
        .sheets
        .iter()
        .map(|s| (s.order, Source::Validated(s)))
        .chain(a.batch.others.iter().map(|o| (o.order, Source::Other(o))))
        .collect();
    sources.sort_by_key(|(order, _)| *order);
    let mut marker = Marker {
        formats: CellFormats::default(),
        notes_left: MAX_NOTES,
        vendor: HashMap::new(),
    };
    let empty = BTreeMap::new();
    // An export's values are read back without their guards (`input::unguard_cells`, in a
    // workbook as in a CSV): a value that looks guarded keeps its own `'` by one more, as in
    // the xlsx export.
    let guard = (a.batch.sheets.iter()).any(|s| crate::input::is_export(&s.rows));
    for (order, source) in sources {
        let (name, header) = &a.layout.sheets[&order];
        let ws = workbook
            .add_worksheet_with_constant_memory()?
            .set_name(name)?;
        let sheet_marks = marks.get(name.as_str()).unwrap_or(&empty);
        let (rows, columns, again) = match source {
            Source::Validated(sheet) => {
                let mapping = map_sheet(sheet, a.renames);
                let mut columns = vec![ColumnKind::Plain; mapping.columns.len()];
                for c in &mapping.columns {
                    if c.index >= columns.len() {
                        columns.resize(c.index + 1, ColumnKind::Plain);
                    }
                    columns[c.index] = match c.field {
                        Field::Credential => ColumnKind::Credential,
                        ref f if f.is_identifier() => ColumnKind::Identifier,
                        _ => ColumnKind::Plain,
                    };
                }
                // A streamed sheet's rows were read once for validation; they are read again.
                let again = sheet
                    .rest
                    .as_ref()
                    .and_then(|_| a.again?.sheets.iter().find(|s| s.order == sheet.order));
                (&sheet.rows, columns, again)
            }
            Source::Other(other) => (&other.rows, Vec::new(), None),
        };
        let guard = guard && matches!(source, Source::Validated(_));
        // The vendor's own notes on this sheet's cells, written with muster's (`input::notes`).
        let (file, sheet_name) = match source {
            Source::Validated(sheet) => (&sheet.file, sheet.sheet.as_deref()),
            Source::Other(other) => (&other.file, Some(other.name.as_str())),
        };
        marker.vendor = sheet_name
            .and_then(|n| a.batch.notes.get(&(file.clone(), n.to_string())))
            .into_iter()
            .flatten()
            .map(|n| ((n.row, n.col), n.clone()))
            .collect();
        // What the vendor hid stays hidden (V013 says so on the cells): the workbook sent back
        // is theirs, with muster's marks, and validates again to the same findings.
        if let Source::Validated(sheet) = source {
            // Within the sheet's 1,048,576 rows and 16,384 columns (a hostile file's numbers
            // past them would fail the workbook).
            for &r in (sheet.hidden.rows.iter()).filter(|r| (1..=1_048_576).contains(*r)) {
                ws.set_row_hidden(r - 1)?;
            }
            for c in (sheet.hidden.cols.iter()).filter_map(|&c| u16::try_from(c).ok()) {
                if c < 16_384 {
                    ws.set_column_hidden(c)?;
                }
            }
            if sheet.hidden.sheet {
                ws.set_hidden(true);
            }
        }
        let mut writer = SheetWriter::start(ws, *header, columns, sheet_marks, guard, &mut marker)?;
        // A note on a credential is as secret as the cell (privacy review: "hint: …" on a
        // blanked password went back to the vendor).
        marker
            .vendor
            .retain(|&(r, c), _| !writer.credential_column(r, usize::from(c)));
        match again {
            None => writer.rows(ws, rows, &mut marker)?,
            Some(sheet) => {
                writer.rows(ws, &sheet.rows, &mut marker)?;
                if let Some(rest) = &sheet.rest {
                    while let Some(rows) = rest
                        .next_chunk()
                        .map_err(|p| XlsxError::CustomError(p.message))?
                    {
                        writer.rows(ws, &rows, &mut marker)?;
                    }
                }
            }
        }
        writer.finish(ws, &mut marker)?;
        marker.vendor_notes(ws)?;
    }
    // The rows written came from a second read: they must be the rows that were validated.
    if let (Some(_), Some((inputs, before))) = (a.again, a.inputs) {
        if fingerprint(inputs) != *before {
            return Err(XlsxError::CustomError(
                "the batch changed while muster read it; nothing was annotated (run again)"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Plain,
    /// Kept as text: the column and every cell in it are formatted `@`.
    Identifier,
    /// X001: the values are never copied.
    Credential,
}

/// A cell's number format in the annotated workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NumFormat {
    General,
    /// `@`: what is typed stays text.
    Text,
    /// `000000`: a padded number, as the vendor's sheet had it.
    Zeros(usize),
    /// `0.00E+00`: a number shown in scientific notation (V009 in an id column).
    Scientific,
    Date,
    DateTime,
    /// A time of day, `09:30:00`.
    Time,
    /// A duration past a day, `37:30:00`: a time format would show `13:30:00`.
    Duration,
}

/// One format per combination in use; rust_xlsxwriter dedups equal formats, but building a
/// `Format` per cell would cost an allocation each.
#[derive(Default)]
struct CellFormats(HashMap<(bool, Option<Severity>, NumFormat), Format>);

impl CellFormats {
    fn get(&mut self, bold: bool, severity: Option<Severity>, number: NumFormat) -> &Format {
        self.0.entry((bold, severity, number)).or_insert_with(|| {
            let mut f = Format::new();
            if bold {
                f = f.set_bold();
            }
            if let Some(color) = severity.and_then(fill) {
                f = f.set_background_color(color);
            }
            match number {
                NumFormat::General => f,
                NumFormat::Text => f.set_num_format_index(TEXT_FORMAT),
                NumFormat::Zeros(n) => f.set_num_format("0".repeat(n)),
                NumFormat::Scientific => f.set_num_format("0.00E+00"),
                NumFormat::Date => f.set_num_format("yyyy-mm-dd"),
                NumFormat::DateTime => f.set_num_format("yyyy-mm-dd hh:mm:ss"),
                NumFormat::Time => f.set_num_format("hh:mm:ss"),
                NumFormat::Duration => f.set_num_format("[h]:mm:ss"),
            }
        })
    }
}

/// Writes one sheet of the batch, a chunk of rows at a time (a streamed CSV comes back in
/// blocks), with the marks of the cells in row order.
struct SheetWriter<'m> {
    header: Option<u32>,
    columns: Vec<ColumnKind>,
    /// A muster export's sheet: a text that looks guarded gets one more `'`.
    guard: bool,
    marks: &'m BTreeMap<(u32, u16), Vec<&'m Finding>>,
    widths: Widths,
    /// The first cell whose marks are still to be written.
    next: (u32, u16),
}

impl<'m> SheetWriter<'m> {
    fn start(
        ws: &mut Worksheet,
        header: Option<u32>,
        columns: Vec<ColumnKind>,
        marks: &'m BTreeMap<(u32, u16), Vec<&'m Finding>>,
        guard: bool,
        marker: &mut Marker,
    ) -> Result<Self, XlsxError> {
        let text_column = marker.formats.get(false, None, NumFormat::Text).clone();
        for (c, k) in columns.iter().enumerate() {
            if *k == ColumnKind::Identifier {
                ws.set_column_format(c as u16, &text_column)?;
            }
        }
        Ok(SheetWriter {
            header,
            columns,
            guard,
            marks,
            widths: Widths::default(),
            next: (0, 0),
        })
    }

    fn kind(&self, c: usize) -> ColumnKind {
        self.columns.get(c).copied().unwrap_or(ColumnKind::Plain)
    }

    /// A cell of a credential column, its header included (a note there may say the
    /// password: review).
    fn credential_column(&self, r: u32, c: usize) -> bool {
        self.header.is_some_and(|h| r >= h) && self.kind(c) == ColumnKind::Credential
    }

    fn credential(&self, r: u32, c: usize) -> bool {
        self.header.is_some_and(|h| r > h) && self.kind(c) == ColumnKind::Credential
    }

    fn rows(
        &mut self,
        ws: &mut Worksheet,
        rows: &[Row],
        marker: &mut Marker,
    ) -> Result<(), XlsxError> {
        let marks = self.marks;
        // Marks on cells no row holds are written as blank cells, in row order between the rows.
        for row in rows {
            let r = row.number - 1;
            for (&(mr, mc), fs) in marks.range(self.next..(r, 0)) {
                marker.blank(ws, mr, mc, fs, self.kind(mc as usize))?;
            }
            let is_header = Some(r) == self.header;
            for (c, cell) in row.cells.iter().enumerate() {
                if cell.text.is_empty() || self.credential(r, c) {
                    continue;
                }
                let col = c as u16;
                let found = marks.get(&(r, col));
                let severity = found.and_then(|fs| worst(fs));
                let text_format = if self.kind(c) == ColumnKind::Identifier && !is_header {
                    NumFormat::Text
                } else {
                    NumFormat::General
                };
                let text = clip(&cell.text);
                self.widths.see(c, text);
                // Numbers stay numbers and dates dates, as the vendor's sheet had them, so that
                // validating the annotated workbook finds what validating the original found.
                let number = match cell.origin {
                    CellOrigin::Number
                    | CellOrigin::ImpreciseNumber
                    | CellOrigin::ScientificNumber
                    | CellOrigin::Padded => text.parse::<f64>().ok().filter(|n| n.is_finite()),
                    _ => None,
                };
                let date = match cell.origin {
                    CellOrigin::Date => ExcelDateTime::parse_from_str(text).ok(),
                    _ => None,
                };
                // A cell with no mark, in General or in its identifier column's Text, is
                // written without a format: the writer then gives it its column's (as Excel
                // does), where it would have looked the format up by its hash, a third of the
                // time spent writing rows (`perf`, 100,000 rows).
                let plain = |shown| {
                    !is_header
                        && severity.is_none()
                        && matches!(shown, NumFormat::General | NumFormat::Text)
                };
                if let Some(n) = number {
                    let shown = match cell.origin {
                        // The sign is no digit: `-0042` is four (cross-format review).
                        CellOrigin::Padded => NumFormat::Zeros(text.trim_start_matches('-').len()),
                        CellOrigin::ScientificNumber => NumFormat::Scientific,
                        _ => NumFormat::General,
                    };
                    if plain(shown) {
                        ws.write_number(r, col, n)?;
                    } else {
                        let format = marker.formats.get(is_header, severity, shown);
                        ws.write_number_with_format(r, col, n, format)?;
                    }
                } else if cell.origin == CellOrigin::Bool {
                    // A boolean stays one (it was written back as the text `TRUE`).
                    let b = text == "TRUE";
                    if plain(NumFormat::General) {
                        ws.write_boolean(r, col, b)?;
                    } else {
                        let format = marker.formats.get(is_header, severity, NumFormat::General);
                        ws.write_boolean_with_format(r, col, b, format)?;
                    }
                } else if let Some(date) = date {
                    // A time and a duration stay what they were (cross-format review: they
                    // came back as dates, `37:30:00` as `1900-01-01T13:30:00`).
                    let shown = if text.contains('T') {
                        NumFormat::DateTime
                    } else if !text.contains(':') {
                        NumFormat::Date
                    } else if date.to_excel() >= 1.0 {
                        NumFormat::Duration
                    } else {
                        NumFormat::Time
                    };
                    let format = marker.formats.get(is_header, severity, shown);
                    ws.write_datetime_with_format(r, col, date, format)?;
                } else {
                    // Everything else, formulas included, is written as the text that was read.
                    let guarded = match self.guard {
                        true => crate::report::guard_guarded(text),
                        false => text.into(),
                    };
                    let text = clip(&guarded);
                    if plain(text_format) {
                        ws.write_string(r, col, text)?;
                    } else {
                        let format = marker.formats.get(is_header, severity, text_format);
                        ws.write_string_with_format(r, col, text, format)?;
                    }
                }
                if let Some(fs) = found {
                    marker.note(ws, r, col, fs)?;
                }
            }
            // Marks on this row's empty or blanked cells, or past its last cell.
            for (&(_, mc), fs) in marks.range((r, 0)..=(r, u16::MAX)) {
                let c = mc as usize;
                let written = row.cells.get(c).is_some_and(|cell| !cell.text.is_empty());
                if !written || self.credential(r, c) {
                    marker.blank(ws, r, mc, fs, self.kind(c))?;
                }
            }
            self.next = (r + 1, 0);
        }
        Ok(())
    }

    fn finish(self, ws: &mut Worksheet, marker: &mut Marker) -> Result<(), XlsxError> {
        for (&(mr, mc), fs) in self.marks.range(self.next..) {
            marker.blank(ws, mr, mc, fs, self.kind(mc as usize))?;
        }
        if let Some(h) = self.header {
            ws.set_freeze_panes(h + 1, 0)?;
        }
        self.widths.apply(ws)
    }
}

/// Beyond this many notes a workbook would need gigabytes to write (rust_xlsxwriter keeps every
/// note and its drawing in memory): the remaining cells are still filled, and the Issues sheet
/// lists every finding.
pub const MAX_NOTES: usize = 10_000;

/// Fills and notes the marked cells, up to [`MAX_NOTES`] notes.
struct Marker {
    formats: CellFormats,
    notes_left: usize,
    /// The vendor's notes on the sheet being written, by cell, until written.
    vendor: HashMap<(u32, u16), CellNote>,
}

impl Marker {
    fn note(
        &mut self,
        ws: &mut Worksheet,
        r: u32,
        c: u16,
        fs: &[&Finding],
    ) -> Result<(), XlsxError> {
        // The vendor's own notes are written whatever the limit (their workbook held them all):
        // a marked cell with one gets muster's text in it (review: they were dropped past it).
        let vendor = self.vendor.remove(&(r, c));
        if vendor.is_some() || self.notes_left > 0 {
            if vendor.is_none() {
                self.notes_left -= 1;
            }
            ws.insert_note(r, c, &note(fs, vendor.as_ref()))?;
        }
        Ok(())
    }

    /// The vendor's notes on cells muster found nothing on, as the vendor wrote them.
    fn vendor_notes(&mut self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        let mut left: Vec<_> = self.vendor.drain().collect();
        left.sort_by_key(|(at, _)| *at);
        for ((r, c), vendor) in left {
            ws.insert_note(r, c, &sized_note(vendor.text, &vendor.author))?;
        }
        Ok(())
    }

    /// A finding on an empty cell (a missing email, a blanked credential): the fill and the note.
    fn blank(
        &mut self,
        ws: &mut Worksheet,
        r: u32,
        c: u16,
        fs: &[&Finding],
        kind: ColumnKind,
    ) -> Result<(), XlsxError> {
        let number = match kind {
            ColumnKind::Identifier => NumFormat::Text,
            _ => NumFormat::General,
        };
        let format = self.formats.get(false, worst(fs), number);
        ws.write_blank(r, c, format)?;
        self.note(ws, r, c, fs)
    }
}

fn worst(fs: &[&Finding]) -> Option<Severity> {
    fs.iter().map(|f| f.severity).max()
}

/// `V002 (error): message` and the suggestion, one paragraph per finding on the cell; after
/// the vendor's own note on the cell, if it has one, and [`MUSTER_MARK`], in the vendor's
/// name (read back, a note by muster is left out, and a shared one is cut at the mark).
fn note(fs: &[&Finding], vendor: Option<&CellNote>) -> Note {
    let text = fs
        .iter()
        .map(|f| {
            let mut s = format!(
                "{} ({}): {}",
                f.code,
                f.severity.as_str(),
                f.message_to_sender()
            );
            if let Some(suggestion) = f.suggestion_to_sender() {
                s.push_str("\nSuggestion: ");
                s.push_str(suggestion);
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    match vendor {
        Some(v) => sized_note(format!("{}{MUSTER_MARK}{text}", v.text), &v.author),
        None => sized_note(text, MUSTER_AUTHOR),
    }
}

/// A note sized to its text, in `author`'s name. An author with no name gets no prefix (it
/// showed a bold `:`).
fn sized_note(text: String, author: &str) -> Note {
    let lines = text.len() / 40 + text.lines().count();
    // 54 units are kept for the author prefix Excel adds.
    let note = Note::new(clip_to(&text, MAX_CELL - 60))
        .set_width(320)
        .set_height((lines as u32 * 16 + 24).min(600));
    match author.trim() {
        "" => note.add_author_prefix(false),
        _ => note.set_author(author),
    }
}

fn write_summary(
    ws: &mut Worksheet,
    a: &Annotation,
    whole_file: &[&Finding],
    marked: usize,
) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let header = header_format();
    let title = Format::new().set_bold().set_font_size(14);
    let s = a.summary;
    ws.write_string_with_format(
        0,
        0,
        format!("muster {} validation summary", s.muster_version),
        &title,
    )?;
    let mut guide = [
        "Cells with an error are filled red, warnings amber; each has a note with the rule, the problem and a suggestion.".to_string(),
        "The Issues sheet lists every finding, info included, with a link to its cell.".to_string(),
        "Fix the cells in this workbook and validate it again: the Summary and Issues sheets and the notes are ignored.".to_string(),
    ];
    if marked > MAX_NOTES {
        guide[0] = format!(
            "Cells with an error are filled red, warnings amber; the first {MAX_NOTES} of the {marked} marked cells have a note (the Issues sheet has them all)."
        );
    }
    for (i, line) in guide.iter().enumerate() {
        ws.write_string(1 + i as u32, 0, line)?;
    }
    let facts: [(&str, String); 9] = [
        // Names, not the admin's folders (review).
        (
            "Files",
            (s.files.iter())
                .map(|f| crate::finding::file_name_only(f))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "Configuration",
            crate::finding::file_name_only(a.config_source).to_string(),
        ),
        ("Checked against", a.checked_against.to_string()),
        ("Rows read", s.rows.to_string()),
        ("Users", s.users.to_string()),
        ("Valid", s.valid.to_string()),
        ("With errors", s.with_errors.to_string()),
        ("With warnings", s.with_warnings.to_string()),
        ("Exit code", s.exit_code.to_string()),
    ];
    // Counts sit beside their labels, not at the far edge of a wide column.
    let left = Format::new().set_align(rust_xlsxwriter::FormatAlign::Left);
    let mut r = 5;
    for (label, value) in facts {
        ws.write_string_with_format(r, 0, label, &bold)?;
        match value.parse::<u32>() {
            Ok(n) => ws.write_number_with_format(r, 1, n, &left)?,
            Err(_) => ws.write_string(r, 1, clip(&value))?,
        };
        r += 1;
    }

    r += 1;
    ws.write_string_with_format(r, 0, "Findings by rule", &title)?;
    r += 1;
    for (c, h) in ["code", "rule", "severity", "count"].iter().enumerate() {
        ws.write_string_with_format(r, c as u16, *h, &header)?;
    }
    let mut by_rule: BTreeMap<&str, (Severity, usize)> = BTreeMap::new();
    for f in a.findings {
        let e = by_rule.entry(f.code).or_insert((f.severity, 0));
        e.1 += 1;
    }
    for (code, (severity, n)) in &by_rule {
        r += 1;
        ws.write_string(r, 0, *code)?;
        ws.write_string(r, 1, Rule::from_code(code).name())?;
        write_severity(ws, r, 2, *severity)?;
        ws.write_number(r, 3, *n as u32)?;
    }

    r += 2;
    ws.write_string_with_format(r, 0, "Findings by sheet", &title)?;
    r += 1;
    for (c, h) in ["sheet", "errors", "warnings", "info"].iter().enumerate() {
        ws.write_string_with_format(r, c as u16, *h, &header)?;
    }
    let mut by_sheet: BTreeMap<(usize, usize), (&str, [u32; 3])> = BTreeMap::new();
    for f in a.findings {
        if let Some(t) = a.layout.target(f) {
            let e = by_sheet
                .entry((f.position.0, f.position.1))
                .or_insert((t.sheet, [0; 3]));
            e.1[2 - f.severity as usize] += 1;
        }
    }
    for (name, counts) in by_sheet.values() {
        r += 1;
        ws.write_string(r, 0, *name)?;
        for (c, n) in counts.iter().enumerate() {
            ws.write_number(r, c as u16 + 1, *n)?;
        }
    }

    r += 2;
    ws.write_string_with_format(r, 0, "About whole files", &title)?;
    r += 1;
    for (c, h) in ["severity", "code", "file", "sheet", "message"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(r, c as u16, *h, &header)?;
    }
    if whole_file.is_empty() {
        r += 1;
        ws.write_string(r, 0, "none")?;
    }
    for f in whole_file {
        r += 1;
        write_severity(ws, r, 0, f.severity)?;
        ws.write_string(r, 1, f.code)?;
        ws.write_string(r, 2, clip(f.file_to_sender()))?;
        if let Some(sheet) = &f.sheet {
            ws.write_string(r, 3, clip(sheet))?;
        }
        ws.write_string(r, 4, clip(f.message_to_sender()))?;
    }
    ws.set_column_width(0, 18)?;
    ws.set_column_width(1, 28)?;
    ws.set_column_width(2, 14)?;
    ws.set_column_width(3, 14)?;
    ws.set_column_width(4, 80)?;
    Ok(())
}

fn write_severity(ws: &mut Worksheet, r: u32, c: u16, severity: Severity) -> Result<(), XlsxError> {
    let mut f = Format::new();
    if let Some(color) = fill(severity) {
        f = f.set_background_color(color);
    }
    ws.write_string_with_format(r, c, severity.as_str(), &f)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch rewritten between its two reads (another size) is told apart, file or folder.
    #[test]
    fn a_changed_input_changes_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.csv");
        std::fs::write(&file, "email_addr,record_id\na@acme.com,R1\n").unwrap();
        let inputs = [file.clone()];
        let folder = [dir.path().to_path_buf()];
        let (before, before_folder) = (fingerprint(&inputs), fingerprint(&folder));
        assert_eq!(fingerprint(&inputs), before);
        std::fs::write(&file, "email_addr,record_id\na@acme.com,R2x\n").unwrap();
        assert_ne!(fingerprint(&inputs), before);
        assert_ne!(fingerprint(&folder), before_folder);
    }
}
