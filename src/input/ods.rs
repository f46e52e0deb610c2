//! What calamine leaves out of an OpenDocument spreadsheet: the zero padding a number cell
//! shows (`000123` for 123 under a `000000` format), for N009 (SPEC §2), and the cells merged
//! over rows, for N010 ([`super::merged`]).
//!
//! calamine gives an ODS number cell's value (`office:value`) but neither its number format
//! nor its shown text. The shown text is in the file (`<text:p>000123</text:p>`, written by
//! every spreadsheet program that saves ODS), so this reads `content.xml` once more, counting
//! rows and columns as calamine does, and notes each number cell shown as its value padded
//! with zeros. Reading the shown text, not the styles, spares following a cell's style to its
//! column's default and its data style.

use super::merged::{value_of, Merge};
use super::ReadProblem;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

/// The padded number cells of one sheet: for each run of rows that `table:number-rows-repeated`
/// makes alike, its columns shown padded, with the padded width.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Padded {
    /// Sorted by first row; runs never overlap.
    runs: Vec<PaddedRows>,
}

#[derive(Debug, Clone, PartialEq)]
struct PaddedRows {
    first_row: u32,
    rows: u32,
    /// (first column, columns, width), sorted by first column.
    cells: Vec<(u32, u32, usize)>,
}

impl Padded {
    /// The width the cell at 0-based (row, column) is shown padded to, if it is; 0 for a
    /// number shown in scientific notation (`0.00E+00`).
    pub fn width(&self, row: u32, col: u32) -> Option<usize> {
        let at = self
            .runs
            .partition_point(|r| r.first_row <= row)
            .checked_sub(1)?;
        let run = &self.runs[at];
        if row - run.first_row >= run.rows {
            return None;
        }
        run.cells
            .iter()
            .find(|&&(first, n, _)| first <= col && col - first < n)
            .map(|&(_, _, width)| width)
    }
}

/// What one sheet shows that calamine does not give.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Shown {
    pub padded: Padded,
    /// The ranges merged over more than one row (`table:number-rows-spanned`).
    pub merges: Vec<Merge>,
    /// The sheet's name (`table:name`) and the vendor's notes on its cells, for `--annotate`.
    pub name: String,
    pub notes: Vec<super::notes::CellNote>,
    /// The rows and columns the sheet hides (`table:visibility`, `collapse` by hand or
    /// `filter`).
    pub hidden: super::Hidden,
    /// A row of values repeated past [`REPEATED_VALUE_ROWS`]: (its row, 1-based, and repeats).
    repeated_row: Option<(u32, u32)>,
    /// The value cells its repeats make, past those written.
    repeated_cells: u64,
}

/// A row holding values repeated more than this many times is no table's: a value filled down
/// the whole sheet, which a first row of a million users would read (security review: a 1 KB
/// file gave 1,048,575 users and 6 GB).
const REPEATED_VALUE_ROWS: u32 = 1 << 16;

/// The value cells a sheet's repeats may make beyond those written: as many as a workbook's
/// cells may span (a 1 KB file repeating 1,000 cells over 30,000 rows took 3.4 GiB).
const REPEATED_VALUE_CELLS: u64 = super::workbook::WHOLE_SHEET_CELLS;

impl Shown {
    /// Why the sheet's repeats are refused, if they are: calamine would make every cell.
    fn too_repeated(&self) -> Option<String> {
        if let Some((row, times)) = self.repeated_row {
            return Some(format!(
                "sheet `{}`: row {row} holds values and is repeated {times} times (a value filled down the whole sheet?); delete the rows below the table",
                self.name
            ));
        }
        (self.repeated_cells > REPEATED_VALUE_CELLS).then(|| {
            format!(
                "sheet `{}`: its repeated rows and cells make {} cells with values, more than 16,777,216, too many to read at once",
                self.name, self.repeated_cells
            )
        })
    }

    fn is_empty(&self) -> bool {
        self.padded.runs.is_empty()
            && self.merges.is_empty()
            && self.notes.is_empty()
            && self.hidden.is_empty()
    }
}

/// Whether a row or column element says it is hidden.
fn hides(e: &BytesStart) -> bool {
    e.try_get_attribute("table:visibility")
        .ok()
        .flatten()
        .is_some_and(|a| matches!(a.value.as_ref(), "collapse" | "filter"))
}

/// Rows or columns repeated more than this are the sheet's empty rest, not values to hide.
const HIDDEN_REPEATS: u32 = 1 << 16;

/// Each sheet's padded number cells, merged ranges and notes, in the order of the workbook's
/// sheets (calamine's `sheet_names`), or nothing when no sheet has any.
pub fn shown_cells(path: &Path) -> Result<Vec<Shown>, ReadProblem> {
    let unreadable = |e: &dyn std::fmt::Display| {
        ReadProblem::unreadable(format!("not a readable workbook: {e}"))
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| unreadable(&e))?;
    // Number styles the document defines in `styles.xml` (LibreOffice puts an xlsx's custom
    // formats there), which `content.xml`'s cell styles name.
    let scientific = match zip.by_name("styles.xml") {
        Ok(styles) => {
            ScientificStyles::read(std::io::BufReader::new(styles)).map_err(|e| unreadable(&e))?
        }
        Err(_) => ScientificStyles::default(),
    };
    let content = zip.by_name("content.xml").map_err(|e| unreadable(&e))?;
    let sheets =
        read_content(std::io::BufReader::new(content), scientific).map_err(|e| unreadable(&e))?;
    if let Some(problem) = sheets.iter().find_map(Shown::too_repeated) {
        return Err(ReadProblem::unreadable(problem));
    }
    Ok(if sheets.iter().all(Shown::is_empty) {
        Vec::new()
    } else {
        sheets
    })
}

/// Whether calamine refused an ODS for the whitespace between its cells: Gnumeric and other
/// programs indent `content.xml`, and calamine takes any text between a row's cells for a
/// malformed row (producers review: no ODS Gnumeric saved could be read).
pub fn refused_for_indentation(e: &calamine::Error) -> bool {
    matches!(
        e,
        calamine::Error::Ods(calamine::OdsError::Mismatch { found, .. }) if found.starts_with("Text(")
    )
}

/// `content.xml` without the whitespace between a tag's `>` and the next `table:` or
/// `office:` tag or paragraph start, which no cell holds. Text inside a paragraph is kept as
/// it is: the space before a `</text:p>` is the paragraph's own (adversarial review: it went,
/// and the indentation after the paragraph stayed in the cell).
fn unindented(content: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    static INDENTATION: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new(r"(>)[ \t\r\n]+(</?(?:table|office):|<text:p[ \t\r\n/>])")
            .expect("valid regex")
    });
    INDENTATION.replace_all(content, &b"$1$2"[..])
}

/// The workbook at `path` with the indentation between its tables, rows, cells and paragraphs
/// taken out of `content.xml`, in a temporary file of no name (deleted when closed), for
/// calamine to read in its place ([`unindented`]).
pub fn without_indentation(path: &Path) -> Result<std::fs::File, ReadProblem> {
    use std::io::{Read, Seek, Write};
    let unreadable = |e: &dyn std::fmt::Display| {
        ReadProblem::unreadable(format!("not a readable workbook: {e}"))
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| unreadable(&e))?;
    let mut out = zip::ZipWriter::new(tempfile::tempfile().map_err(|e| unreadable(&e))?);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| unreadable(&e))?;
        if entry.name().ok().as_deref() != Some("content.xml") {
            out.raw_copy_file(entry).map_err(|e| unreadable(&e))?;
            continue;
        }
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|e| unreadable(&e))?;
        let content = unindented(&content);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file("content.xml", options)
            .map_err(|e| unreadable(&e))?;
        out.write_all(&content).map_err(|e| unreadable(&e))?;
    }
    let mut file = out.finish().map_err(|e| unreadable(&e))?;
    file.rewind().map_err(|e| unreadable(&e))?;
    Ok(file)
}

/// Walks `content.xml`'s tables, rows and cells (with their repeats) and notes the number cells
/// shown padded. Nothing is allocated per repeat: a row repeated a million times is one run.
/// The number styles that show numbers in scientific notation (`<number:number-style>`
/// holding a `<number:scientific-number>`), from `styles.xml` and `content.xml`.
#[derive(Default)]
struct ScientificStyles {
    names: HashSet<String>,
    /// The number style being read.
    open: Option<String>,
}

impl ScientificStyles {
    /// Notes an element's start: a number style's, or its scientific number's.
    fn start(&mut self, e: &BytesStart) {
        match e.name().as_ref() {
            "number:number-style" => {
                self.open =
                    (e.try_get_attribute("style:name").ok().flatten()).and_then(|a| value_of(&a));
            }
            "number:scientific-number" => {
                if let Some(name) = &self.open {
                    self.names.insert(name.clone());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, e: &quick_xml::events::BytesEnd) {
        if e.name().as_ref() == "number:number-style" {
            self.open = None;
        }
    }

    /// Those of `styles.xml`.
    fn read(source: impl BufRead) -> Result<ScientificStyles, quick_xml::Error> {
        let mut reader = quick_xml::Reader::from_reader(source);
        let mut buf = Vec::new();
        let mut styles = ScientificStyles::default();
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf)? {
                Event::Start(ref e) | Event::Empty(ref e) => styles.start(e),
                Event::End(ref e) => styles.end(e),
                Event::Eof => return Ok(styles),
                _ => {}
            }
        }
    }
}

fn read_content(
    source: impl BufRead,
    scientific_styles: ScientificStyles,
) -> Result<Vec<Shown>, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_reader(source);
    let mut buf = Vec::new();
    let mut sheets: Vec<Shown> = Vec::new();
    let mut row: u32 = 0;
    let mut row_repeats: u32 = 1;
    let mut col: u32 = 0;
    // The next column element's column (0-based).
    let mut column: u32 = 0;
    let mut row_cells: Vec<(u32, u32, usize)> = Vec::new();
    // The row's value cells as written, and as their columns' repeats make them.
    let (mut written, mut made) = (0u64, 0u64);
    // The number cell being read: (its column, columns repeated, value), and its shown text.
    let mut cell: Option<(u32, u32, f64)> = None;
    let mut shown = String::new();
    // Paragraphs of the number cell's text so far, and whether one or a note is open.
    let mut paragraphs = 0;
    let mut in_paragraph = false;
    let mut in_note = false;
    // The cell a note is on, its author and text so far, and what of it is being read.
    let mut cell_at = (0, 0);
    let mut note = (String::new(), String::new());
    let (mut in_creator, mut in_note_paragraph) = (false, false);
    // Number styles that show numbers in scientific notation, the cell styles that use one,
    // and the current sheet's columns' default cell styles (first column, columns, style):
    // a number cell under one is V009 in an id column, as an xlsx cell under `0.00E+00` is.
    // Its shown text would not do: Gnumeric shows a number too wide for its column as
    // `2.7E+10` under the General format.
    let mut scientific_styles = scientific_styles;
    let mut scientific_cells: HashSet<String> = HashSet::new();
    let mut column_styles: Vec<(u32, u32)> = Vec::new();
    let attribute = |e: &BytesStart, name: &str| -> Option<String> {
        Some(e.try_get_attribute(name).ok()??.value.into_owned())
    };
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.name().as_ref() {
                    "number:number-style" | "number:scientific-number" => {
                        scientific_styles.start(e);
                    }
                    "style:style" => {
                        let data = attribute(e, "style:data-style-name");
                        if let (Some(name), true) = (
                            attribute(e, "style:name"),
                            data.is_some_and(|d| scientific_styles.names.contains(&d)),
                        ) {
                            scientific_cells.insert(name);
                        }
                    }
                    "table:table" => {
                        column_styles.clear();
                        let name = e.try_get_attribute("table:name").ok().flatten();
                        sheets.push(Shown {
                            name: name.and_then(|a| value_of(&a)).unwrap_or_default(),
                            ..Shown::default()
                        });
                        row = 0;
                        column = 0;
                    }
                    "table:table-column" => {
                        let n = repeats(e, "table:number-columns-repeated");
                        if attribute(e, "table:default-cell-style-name")
                            .is_some_and(|s| scientific_cells.contains(&s))
                        {
                            column_styles.push((column, n));
                        }
                        if let (Some(sheet), true) = (sheets.last_mut(), hides(e)) {
                            if n <= HIDDEN_REPEATS {
                                sheet.hidden.cols.extend(column..column.saturating_add(n));
                            }
                        }
                        column = column.saturating_add(n);
                    }
                    "table:table-row" => {
                        row_repeats = repeats(e, "table:number-rows-repeated");
                        col = 0;
                        row_cells.clear();
                        (written, made) = (0, 0);
                        // 1-based, as the sheet numbers rows; an empty row has nothing read.
                        if let (Some(sheet), false, true) = (sheets.last_mut(), empty, hides(e)) {
                            if row_repeats <= HIDDEN_REPEATS {
                                let first = row.saturating_add(1);
                                sheet
                                    .hidden
                                    .rows
                                    .extend(first..first.saturating_add(row_repeats));
                            }
                        }
                        if empty {
                            row = row.saturating_add(row_repeats);
                        }
                    }
                    "table:table-cell" | "table:covered-table-cell" => {
                        let n = repeats(e, "table:number-columns-repeated");
                        cell_at = (row, col);
                        let spanned = repeats(e, "table:number-rows-spanned");
                        if let (Some(sheet), true) = (sheets.last_mut(), spanned > 1) {
                            let columns = repeats(e, "table:number-columns-spanned");
                            sheet.merges.push(Merge {
                                first_row: row.saturating_add(1),
                                last_row: row.saturating_add(spanned),
                                first_col: col,
                                last_col: col.saturating_add(columns - 1),
                            });
                        }
                        cell = None;
                        if e.try_get_attribute("office:value-type")
                            .ok()
                            .flatten()
                            .is_some()
                        {
                            written += 1;
                            made += u64::from(n);
                        }
                        if !empty {
                            cell = number_value(e).map(|v| (col, n, v));
                            shown.clear();
                            paragraphs = 0;
                            // Shown in scientific notation: width 0 ([`Padded::width`]).
                            let scientific = match attribute(e, "table:style-name") {
                                Some(style) => scientific_cells.contains(&style),
                                None => column_styles
                                    .iter()
                                    .any(|&(first, n)| first <= col && col - first < n),
                            };
                            if let (true, Some(_)) = (scientific, cell) {
                                row_cells.push((col, n, 0));
                                cell = None;
                            }
                        }
                        col = col.saturating_add(n);
                    }
                    "text:p" if cell.is_some() && !in_note && !empty => {
                        if paragraphs > 0 {
                            shown.push('\n');
                        }
                        paragraphs += 1;
                        in_paragraph = true;
                    }
                    "office:annotation" if !empty => {
                        in_note = true;
                        note = (String::new(), String::new());
                    }
                    "dc:creator" if in_note && !empty => in_creator = true,
                    "text:p" if in_note => {
                        if !note.1.is_empty() {
                            note.1.push('\n');
                        }
                        in_note_paragraph = !empty;
                    }
                    "text:line-break" if in_note_paragraph => note.1.push('\n'),
                    "text:s" | "text:tab" if in_note_paragraph => note.1.push(' '),
                    // Spaces, tabs and line breaks inside the shown text: not a padded number.
                    "text:s" | "text:tab" | "text:line-break" if in_paragraph => {
                        shown.push(' ');
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_creator => note.0.push_str(&t),
            Event::Text(t) if in_note_paragraph => note.1.push_str(&t),
            Event::GeneralRef(r) if in_note_paragraph || in_creator => {
                let entity = super::notes::entity(&r);
                match in_creator {
                    true => note.0.push_str(&entity),
                    false => note.1.push_str(&entity),
                }
            }
            Event::Text(t) if in_paragraph => {
                shown.push_str(&t);
            }
            // An entity (`&amp;`) is never part of a padded number.
            Event::GeneralRef(_) if in_paragraph => shown.push('&'),
            Event::End(e) => match e.name().as_ref() {
                "number:number-style" => scientific_styles.end(&e),
                "table:table-cell" | "table:covered-table-cell" => {
                    if let Some((first, n, value)) = cell.take() {
                        if let Some(width) = padded_width(value, &shown) {
                            row_cells.push((first, n, width));
                        }
                    }
                }
                "text:p" => {
                    in_paragraph = false;
                    in_note_paragraph = false;
                }
                // A note's text is not the cell's.
                "office:annotation" => {
                    in_note = false;
                    let (author, text) = std::mem::take(&mut note);
                    let found = u16::try_from(cell_at.1)
                        .ok()
                        .and_then(|col| super::notes::vendor_note(cell_at.0, col, author, &text));
                    if let (Some(sheet), Some(found)) = (sheets.last_mut(), found) {
                        sheet.notes.push(found);
                    }
                }
                "dc:creator" => in_creator = false,
                "table:table-row" => {
                    if let (Some(sheet), true) = (sheets.last_mut(), made > 0) {
                        if row_repeats > REPEATED_VALUE_ROWS && sheet.repeated_row.is_none() {
                            sheet.repeated_row = Some((row.saturating_add(1), row_repeats));
                        }
                        let all = made.saturating_mul(u64::from(row_repeats));
                        sheet.repeated_cells =
                            (sheet.repeated_cells).saturating_add(all.saturating_sub(written));
                    }
                    if let (Some(sheet), false) = (sheets.last_mut(), row_cells.is_empty()) {
                        sheet.padded.runs.push(PaddedRows {
                            first_row: row,
                            rows: row_repeats,
                            cells: std::mem::take(&mut row_cells),
                        });
                    }
                    row = row.saturating_add(row_repeats);
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(sheets)
}

fn repeats(e: &BytesStart, name: &str) -> u32 {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.value.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(1)
}

/// A plain number cell's value: `office:value-type="float"` and no formula (a formula cell is
/// V007 whatever it shows).
fn number_value(e: &BytesStart) -> Option<f64> {
    let attr = |name: &str| e.try_get_attribute(name).ok().flatten();
    if attr("table:formula").is_some() {
        return None;
    }
    if attr("office:value-type")?.value != "float" {
        return None;
    }
    attr("office:value")?.value.parse().ok()
}

/// The width of `shown` when it is the whole number `value` padded with zeros (`000123` for
/// 123), as a `000000` format shows it.
fn padded_width(value: f64, shown: &str) -> Option<usize> {
    // A negative number keeps its sign before the padding (`-0042`), as XLSX's reader gives it
    // (cross-format review: ODS read `-42`).
    let shown = match value < 0.0 {
        true => shown.strip_prefix('-')?,
        false => shown,
    };
    let whole = value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15;
    if !whole || shown.len() < 2 || !shown.starts_with('0') {
        return None;
    }
    let digits = format!("{:.0}", value.abs());
    (shown.len() > digits.len()
        && shown.bytes().all(|b| b.is_ascii_digit())
        && shown.trim_start_matches('0') == digits.trim_start_matches('0'))
    .then_some(shown.len())
}

/// An OpenDocument formula (its `of:=` prefix gone) as a spreadsheet shows it, and as an xlsx
/// holds it: cell references without their brackets and dots (`[.C2]` → `C2`,
/// `[$Sheet2.A1:.B2]` → `Sheet2!A1:B2`) and `,` between arguments where OpenDocument has `;`.
/// Text in quotes is kept as it is.
pub fn formula_as_shown(formula: &str) -> String {
    let mut out = String::with_capacity(formula.len());
    let mut rest = formula;
    while let Some(at) = rest.find(['"', '[', ';']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let taken = match rest.as_bytes()[0] {
            b'"' => {
                let end = quoted_end(rest, '"');
                out.push_str(&rest[..end]);
                end
            }
            b'[' => match rest.find(']') {
                Some(end) => {
                    out.push_str(&reference(&rest[1..end]));
                    end + 1
                }
                None => {
                    out.push_str(rest);
                    rest.len()
                }
            },
            _ => {
                out.push(',');
                1
            }
        };
        rest = &rest[taken..];
    }
    out.push_str(rest);
    out
}

/// Where the quoted text that `text` starts with ends (past its closing quote), a doubled
/// quote inside it standing for one; the whole of `text` when it is not closed.
fn quoted_end(text: &str, quote: char) -> usize {
    let mut at = 1;
    while let Some(i) = text[at..].find(quote) {
        at += i + 1;
        if !text[at..].starts_with(quote) {
            return at;
        }
        at += 1;
    }
    text.len()
}

/// A reference's text between its brackets, as an xlsx formula writes it: `.C2` → `C2`,
/// `$Sheet2.A1:.B2` → `Sheet2!A1:B2`, `'My sheet'.A1` → `'My sheet'!A1`. Anything else
/// (`#REF!`) is kept without its brackets.
fn reference(inside: &str) -> String {
    let mut sheet_before: Option<&str> = None;
    let mut parts = Vec::new();
    for part in split_outside_quotes(inside, ':') {
        let Some(dot) = last_outside_quotes(part, '.') else {
            return inside.to_string();
        };
        let sheet = part[..dot].trim_start_matches('$');
        let cell = &part[dot + 1..];
        // The sheet is written once, before the first cell, as xlsx writes a range.
        if sheet.is_empty() || Some(sheet) == sheet_before {
            parts.push(cell.to_string());
        } else {
            parts.push(format!("{sheet}!{cell}"));
            sheet_before = Some(sheet);
        }
    }
    parts.join(":")
}

/// `text` split at each `sep` outside single quotes (a sheet's name may hold `.` or `:`).
fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn last_outside_quotes(text: &str, sep: char) -> Option<usize> {
    let mut quoted = false;
    let mut last = None;
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            c if c == sep && !quoted => last = Some(i),
            _ => {}
        }
    }
    last
}

#[cfg(test)]
mod tests {
    #[test]
    fn indentation_goes_and_a_paragraph_s_own_spaces_stay() {
        let indented = b"<table:table-row>\n  <table:table-cell>\n    <text:p>Ann <text:span>Lee</text:span> </text:p>\n    <text:p>  second</text:p>\n  </table:table-cell>\n</table:table-row>";
        let flat = b"<table:table-row><table:table-cell><text:p>Ann <text:span>Lee</text:span> </text:p><text:p>  second</text:p></table:table-cell></table:table-row>";
        assert_eq!(
            String::from_utf8_lossy(&super::unindented(indented)),
            String::from_utf8_lossy(flat)
        );
    }

    use super::*;

    #[test]
    fn an_opendocument_formula_reads_as_an_xlsx_holds_it() {
        for (odf, xlsx) in [
            ("[.C2]&\"x\"", "C2&\"x\""),
            ("SUM([.A1];[.A2])", "SUM(A1,A2)"),
            ("SUM([.A1:.B2])", "SUM(A1:B2)"),
            ("[$Sheet2.$A$1]", "Sheet2!$A$1"),
            ("SUM([$Sheet2.A1:.B2])", "SUM(Sheet2!A1:B2)"),
            ("[$'My.sheet'.A1]", "'My.sheet'!A1"),
            ("\"a;[.b]\"\"c\"&[.D1]", "\"a;[.b]\"\"c\"&D1"),
            ("\"Di \"&\"Lu\"", "\"Di \"&\"Lu\""),
            ("[#REF!]", "#REF!"),
            ("\"open", "\"open"),
            ("[.A1", "[.A1"),
        ] {
            assert_eq!(formula_as_shown(odf), xlsx, "{odf}");
        }
    }

    fn read(xml: &str) -> Vec<Padded> {
        read_content(xml.as_bytes(), ScientificStyles::default())
            .unwrap()
            .into_iter()
            .map(|s| s.padded)
            .collect()
    }

    const NUMBER: &str = r#"<table:table-cell office:value-type="float" office:value="123">"#;

    /// Repeats that would make more value cells than a sheet can hold are refused before
    /// calamine makes them; those of empty cells, and a few of values, are not.
    #[test]
    fn repeats_of_values_past_the_bounds_are_refused() {
        let refused = |xml: &str| {
            let sheets = read_content(xml.as_bytes(), ScientificStyles::default()).unwrap();
            sheets.iter().find_map(Shown::too_repeated)
        };
        let sheet = |rows: &str| format!(r#"<table:table table:name="Users">{rows}</table:table>"#);
        let value =
            r#"<table:table-cell office:value-type="string"><text:p>v</text:p></table:table-cell>"#;
        let row = |times: u32, cells: &str| {
            format!(
                r#"<table:table-row table:number-rows-repeated="{times}">{cells}</table:table-row>"#
            )
        };
        // A sheet's empty rest, styled, repeated a million times: read.
        let empty =
            r#"<table:table-cell table:number-columns-repeated="1024" table:style-name="ce1"/>"#;
        assert_eq!(refused(&sheet(&row(1_048_000, empty))), None);
        assert_eq!(refused(&sheet(&row(65_536, value))), None);
        assert_eq!(
            refused(&sheet(&format!("{}{}", row(2, value), row(65_537, value)))).as_deref(),
            Some("sheet `Users`: row 3 holds values and is repeated 65537 times (a value filled down the whole sheet?); delete the rows below the table")
        );
        let wide = r#"<table:table-cell table:number-columns-repeated="1000" office:value-type="string"><text:p>v</text:p></table:table-cell>"#;
        assert_eq!(refused(&sheet(&row(16_000, wide))), None);
        assert_eq!(
            refused(&sheet(&row(30_000, wide))).as_deref(),
            Some("sheet `Users`: its repeated rows and cells make 29999999 cells with values, more than 16,777,216, too many to read at once")
        );
    }

    #[test]
    fn a_number_shown_padded_is_noted_where_calamine_puts_it() {
        let xml = format!(
            r#"<table:table table:name="A"><table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>
            <table:table-row><table:table-cell table:number-columns-repeated="2"/>{NUMBER}<text:p>000123</text:p></table:table-cell>{NUMBER}<text:p>123</text:p></table:table-cell></table:table-row></table:table>
            <table:table table:name="B"><table:table-row table:number-rows-repeated="3">
            <table:covered-table-cell/>{NUMBER}<office:annotation><text:p>0123</text:p></office:annotation><text:p>0123</text:p></table:table-cell>
            </table:table-row></table:table>"#
        );
        let sheets = read(&xml);
        assert_eq!(sheets.len(), 2);
        assert_eq!(sheets[0].width(2, 2), Some(6));
        assert_eq!(sheets[0].width(2, 3), None, "shown as its value");
        assert_eq!(sheets[0].width(1, 2), None);
        assert_eq!(sheets[0].width(3, 2), None);
        for row in 0..3 {
            assert_eq!(sheets[1].width(row, 1), Some(4), "row {row}");
        }
        assert_eq!(sheets[1].width(3, 1), None);
    }

    /// A note (`office:annotation`) on its cell, its paragraphs as lines, for `--annotate`;
    /// its text is not the cell's shown text.
    #[test]
    fn a_vendors_notes_are_read_where_calamine_puts_their_cells() {
        let xml = format!(
            r#"<table:table table:name="Users &amp; more"><table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>
            <table:table-row><table:table-cell table:number-columns-repeated="2"/>{NUMBER}<office:annotation><dc:creator>Jane &amp; Co</dc:creator><dc:date>2026-12-01</dc:date><text:p>call</text:p><text:p>her<text:s/>back</text:p></office:annotation><text:p>000123</text:p></table:table-cell></table:table-row></table:table>"#
        );
        let sheets = read_content(xml.as_bytes(), ScientificStyles::default()).unwrap();
        assert_eq!(sheets[0].name, "Users & more");
        assert_eq!(sheets[0].padded.width(2, 2), Some(6));
        let notes: Vec<_> = (sheets[0].notes.iter())
            .map(|n| (n.row, n.col, n.author.as_str(), n.text.as_str()))
            .collect();
        assert_eq!(notes, [(2, 2, "Jane & Co", "call\nher back")]);
    }

    #[test]
    fn only_a_plain_number_shown_as_its_padded_digits_counts() {
        let cell = |attrs: &str, shown: &str| {
            let xml = format!(
                r#"<table:table><table:table-row><table:table-cell {attrs}><text:p>{shown}</text:p></table:table-cell></table:table-row></table:table>"#
            );
            read(&xml)[0].width(0, 0)
        };
        let number = r#"office:value-type="float" office:value="7""#;
        assert_eq!(cell(number, "007"), Some(3));
        assert_eq!(cell(number, "7"), None);
        assert_eq!(cell(number, "0007.0"), None);
        assert_eq!(cell(number, "0008"), None, "not its value");
        let negative = r#"office:value-type="float" office:value="-42""#;
        assert_eq!(cell(negative, "-0042"), Some(4));
        assert_eq!(cell(negative, "0042"), None, "not its value");
        assert_eq!(
            cell(r#"office:value-type="string" office:value="7""#, "007"),
            None
        );
        let formula = r#"table:formula="of:=7" office:value-type="float" office:value="7""#;
        assert_eq!(cell(formula, "007"), None);
        assert_eq!(
            cell(r#"office:value-type="float" office:value="0""#, "000"),
            Some(3)
        );
        assert_eq!(
            cell(r#"office:value-type="float" office:value="7.5""#, "0007.5"),
            None
        );
    }
}
