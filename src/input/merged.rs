//! Cells merged over several rows. A vendor merges `department` over the rows of a group of
//! users; the spreadsheet shows the top cell's value over all of them, but the file holds it in
//! the top cell only, and the cells below are empty. muster reads what the sheet shows: each
//! empty cell of a merged range's first column, in a row that holds other values, takes the
//! top cell's value, and says so (N010). Before, those users loaded without the value, and an
//! import of an export cleared what the store held for them, with no finding.
//!
//! Only down a column: a range merged across columns (a title, a note that needed room) shows
//! its text in its first column's place; the cells to its right stay empty. A row that is
//! blank apart from the range is not filled.
//!
//! Where the sheet shows what the file does not hold, muster cannot know which is meant, and
//! says so with an error (V011): a cell under the top that holds a value of its own, hidden by
//! the merge (LibreOffice can keep the hidden contents), keeps it; so does a user's key (an
//! address, an identity) merged over rows, which is one user's: the rows below read without
//! it. Before, the hidden value loaded unseen, and a merged `employee_id` left the users below
//! without one, with no finding.

use super::{Cell, Covered, Row};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::Path;

/// Cells merged into one: rows `first_row..=last_row` (1-based, as the sheet numbers them),
/// columns `first_col..=last_col` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: u32,
    pub last_row: u32,
    pub first_col: u32,
    pub last_col: u32,
}

impl Merge {
    /// From an A1 range (`B2:B5`, `$B$2:$C$5`); `None` when malformed.
    pub fn from_a1(range: &str) -> Option<Merge> {
        // Byte patterns in this module and `input::notes`, no `char` ones: with them, calamine's
        // string reading (generic, so compiled in muster's crate) stopped inlining the `char`
        // searcher, +1.6 % of a workbook's instructions (docs/benchmarks.md).
        let (a, b) = match range.bytes().position(|b| b == b':') {
            Some(at) => (&range[..at], &range[at + 1..]),
            None => (range, range),
        };
        let ((r0, c0), (r1, c1)) = (cell_a1(a)?, cell_a1(b)?);
        Some(Merge {
            first_row: r0.min(r1),
            last_row: r0.max(r1),
            first_col: c0.min(c1),
            last_col: c0.max(c1),
        })
    }

    /// Whether it spans more than one row, so that it has cells below its top to fill.
    fn spans_rows(&self) -> bool {
        self.last_row > self.first_row
    }
}

/// A cell reference's 1-based row and 0-based column (`B2` → (2, 1)).
pub(super) fn cell_a1(reference: &str) -> Option<(u32, u32)> {
    let reference = reference.trim().replace("$", "");
    let digits = reference.find(|c: char| c.is_ascii_digit())?;
    let (letters, number) = reference.split_at(digits);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let col = letters.bytes().fold(0u32, |n, b| {
        n * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1
    });
    let row: u32 = number.parse().ok().filter(|&r| r >= 1)?;
    Some((row, col - 1))
}

/// The fill of one sheet's merged ranges, applied to its rows in order, a chunk at a time (a
/// streamed sheet's rows come in chunks, its top cells in an earlier chunk than the cells they
/// fill).
#[derive(Debug, Default)]
pub struct MergeFill {
    /// The ranges over more than one row, by first row.
    merges: Vec<(Merge, Spread)>,
    /// How many of `merges` the rows so far have reached.
    next: usize,
    /// The ranges over the row being filled, with their top cell's value (none when empty).
    open: Vec<(Merge, Spread, Option<Cell>)>,
}

/// What the empty cells under a range's top take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// The top's value (N010): a value several users may share, such as a department.
    Shared,
    /// Nothing (V011): a user's key, identity or row version, which is one user's.
    Own,
}

impl MergeFill {
    pub fn new(mut merges: Vec<(Merge, Spread)>) -> MergeFill {
        merges.retain(|(m, _)| m.spans_rows());
        merges.sort_by_key(|(m, _)| (m.first_row, m.first_col));
        // Ranges overlap only in a crafted file (a spreadsheet repairs them away): one range a
        // column at a time keeps a row's work to its cells.
        let mut down_to: HashMap<u32, u32> = HashMap::new();
        merges.retain(|(m, _)| {
            let free = down_to
                .get(&m.first_col)
                .is_none_or(|&last| last < m.first_row);
            if free {
                down_to.insert(m.first_col, m.last_row);
            }
            free
        });
        MergeFill {
            merges,
            ..MergeFill::default()
        }
    }

    /// Fills the empty cells under each range's top in `rows`, which follow the rows of the
    /// calls before, in order, and marks those that hold what the sheet does not show.
    pub fn apply(&mut self, rows: &mut [Row]) {
        if self.merges.is_empty() {
            return;
        }
        for row in rows {
            let number = row.number;
            self.open.retain(|(m, ..)| m.last_row >= number);
            while let Some(&(m, spread)) =
                (self.merges.get(self.next)).filter(|(m, _)| m.first_row <= number)
            {
                // A range whose top row holds nothing (a blank row is not read) shows nothing.
                let top = (m.first_row == number)
                    .then(|| row.cell(m.first_col as usize))
                    .flatten()
                    .filter(|c| !c.text.trim().is_empty())
                    .map(|c| Cell {
                        covered: None,
                        ..c.clone()
                    });
                if m.last_row >= number {
                    self.open.push((m, spread, top));
                }
                self.next += 1;
            }
            if self.open.is_empty() || row.is_blank() {
                continue;
            }
            for (m, spread, top) in &self.open {
                if m.first_row >= number {
                    continue;
                }
                let col = m.first_col as usize;
                let own = row.cell(col).map_or("", |c| c.text.trim());
                let shown = top.as_ref().map_or("", |c| c.text.trim());
                if own == shown {
                    continue;
                }
                let own_empty = own.is_empty();
                if row.cells.len() <= col {
                    row.cells.resize(col + 1, Cell::default());
                }
                match top {
                    Some(top) if own_empty && *spread == Spread::Shared => {
                        row.cells[col] = Cell {
                            covered: Covered::filled(m.first_row),
                            ..top.clone()
                        };
                    }
                    _ => row.cells[col].covered = Covered::kept(m.first_row),
                }
            }
        }
    }
}

/// The ranges merged over more than one row in the sheets of an XLSX workbook named in
/// `names`, by name (a sheet with none, or not found, is left out).
///
/// What [`xlsx_scan`] finds in a worksheet's XML besides its cells.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SheetScan {
    /// The ranges merged over more than one row.
    pub merges: Vec<Merge>,
    /// The rows (1-based) and columns (0-based) the sheet hides, by hand or by a filter:
    /// calamine reads their cells as it reads the others, with no word of it (V013).
    pub hidden: Hidden,
}

/// The rows (1-based, as the sheet numbers them) and columns (0-based) a sheet hides, sorted,
/// and whether the workbook hides the sheet itself.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hidden {
    pub rows: Vec<u32>,
    pub cols: Vec<u32>,
    pub sheet: bool,
}

impl Hidden {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.cols.is_empty() && !self.sheet
    }

    pub fn row(&self, number: u32) -> bool {
        self.rows.binary_search(&number).is_ok()
    }
}

/// A sheet's merged ranges come after its cells in its XML, and calamine finds them with a
/// second parse of all of it (1.6 s for the 100,000-row benchmark workbook, against 3.0 s
/// for reading its cells). Here the part is only decompressed and searched for the element's
/// name (0.16 s for its four sheets one after the other), and what follows it is parsed. The
/// hidden rows and columns are found in the same pass, by the attribute's name.
pub fn xlsx_scan(path: &Path, names: &[String]) -> HashMap<String, SheetScan> {
    let Some(mut zip) = open_zip(path) else {
        return HashMap::new();
    };
    let parts = sheet_parts(&mut zip);
    // A sheet a thread, each with the zip opened again (only its directory is read for that).
    // A part that fails here is calamine's to report, as it reads the cells (a fuzzed workbook
    // failed here first, with a message less clear than calamine's).
    std::thread::scope(|scope| {
        let scans: Vec<_> = (names.iter())
            .filter_map(|name| {
                let part = parts.get(name)?;
                let scan = move || {
                    let part = open_zip(path)?.by_name(part).ok().map(scan_sheet)?;
                    part.ok()
                };
                Some((
                    name,
                    scope.spawn(move || crate::catch_panic(scan).ok().flatten()),
                ))
            })
            .collect();
        scans
            .into_iter()
            .filter_map(|(name, scan)| {
                let found = scan.join().ok().flatten()?;
                (found != SheetScan::default()).then(|| (name.clone(), found))
            })
            .collect()
    })
}

pub(super) fn open_zip(path: &Path) -> Option<zip::ZipArchive<std::io::BufReader<std::fs::File>>> {
    let file = std::fs::File::open(path).ok()?;
    zip::ZipArchive::new(std::io::BufReader::new(file)).ok()
}

/// Each worksheet's part in the zip by the sheet's name, as calamine finds them: the workbook
/// part from the package's relationships, its sheets' targets from its own. Empty when any of
/// it is missing (calamine then fails on the workbook, or the sheets have nothing merged).
pub(super) fn sheet_parts<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
) -> HashMap<String, String> {
    let mut parts = HashMap::new();
    let workbook = relationships(zip, "_rels/.rels")
        .into_iter()
        .find(|(_, (kind, _))| kind.ends_with("/officeDocument"))
        .map_or_else(
            || "xl/workbook.xml".to_string(),
            |(_, (_, target))| target.trim_start_matches("/").to_string(),
        );
    let (folder, file) = match workbook.rfind("/") {
        Some(at) => (&workbook[..=at], &workbook[at + 1..]),
        None => ("", workbook.as_str()),
    };
    let targets = relationships(zip, &format!("{folder}_rels/{file}.rels"));
    let Ok(part) = zip.by_name(&workbook) else {
        return parts;
    };
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buf = Vec::new();
    while let Ok(event) = xml.read_event_into(&mut buf) {
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if e.local_name().as_ref() == "sheet" => {
                let (mut name, mut id) = (None, None);
                for attr in e.attributes().flatten() {
                    let key = attr.key.as_ref();
                    let value = value_of(&attr);
                    if key == "name" {
                        name = value;
                    } else if key.ends_with(":id") {
                        id = value;
                    }
                }
                let target = id.and_then(|id| targets.get(&id)).map(|(_, t)| t);
                if let (Some(name), Some(target)) = (name, target) {
                    let part = match target.strip_prefix("/") {
                        Some(absolute) => absolute.to_string(),
                        None => format!("{folder}{target}"),
                    };
                    parts.insert(name, part);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    parts
}

/// An attribute's value, its entities (`&amp;`) read.
pub(super) fn value_of(attr: &quick_xml::events::attributes::Attribute) -> Option<String> {
    (attr
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .ok())
    .map(|v| v.into_owned())
}

/// A relationships part's entries: id → (type, target).
pub(super) fn relationships<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> HashMap<String, (String, String)> {
    let mut found = HashMap::new();
    let Ok(part) = zip.by_name(name) else {
        return found;
    };
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buf = Vec::new();
    while let Ok(event) = xml.read_event_into(&mut buf) {
        match event {
            Event::Start(ref e) | Event::Empty(ref e)
                if e.local_name().as_ref() == "Relationship" =>
            {
                let attr = |key: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == key)
                        .and_then(|a| value_of(&a))
                };
                if let (Some(id), Some(target)) = (attr("Id"), attr("Target")) {
                    found.insert(id, (attr("Type").unwrap_or_default(), target));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    found
}

/// A worksheet part's ranges merged over more than one row, and its hidden rows and columns:
/// the part is searched for the `mergeCells` element's start, and parsed from there; before the
/// cells end, for the `hidden` attribute.
fn scan_sheet(part: impl Read) -> std::io::Result<SheetScan> {
    scan_sheet_by(part, 1 << 16)
}

/// [`scan_sheet`] reading `block` bytes at a time.
fn scan_sheet_by(mut part: impl Read, block: usize) -> std::io::Result<SheetScan> {
    const NAME: &[u8] = b"mergeCells";
    // Enough of a block's end kept for a tag split between two blocks: a row's start tag with
    // its attributes, or `</`, a namespace prefix, the name and the bytes after it.
    const KEEP: usize = 1024;
    let merges = memchr::memmem::Finder::new(NAME);
    let data = memchr::memmem::Finder::new(DATA);
    let hidden = memchr::memmem::Finder::new(HIDDEN);
    let heights = memchr::memmem::Finder::new(HEIGHT);
    let widths = memchr::memmem::Finder::new(WIDTH);
    let mut buf = vec![0u8; block.max(2 * KEEP)];
    let mut len = 0;
    let mut scan = SheetScan::default();
    // Whether the cells are behind: ranges are looked for only past them, so that a cell's
    // text or a comment before them (review: `<mergeCells>` in a comment or a CDATA section)
    // is not taken for them; hidden rows and columns only before.
    let mut past_data = false;
    loop {
        let n = part.read(&mut buf[len..])?;
        if n == 0 {
            break;
        }
        let end = len + n;
        let mut from = 0;
        if !past_data {
            let data_end = (data.find_iter(&buf[..end])).find_map(|at| data_end(&buf[..end], at));
            let before = data_end.unwrap_or(end);
            for at in hidden.find_iter(&buf[..before]) {
                hidden_in_tag(&buf[..before], at, &mut scan.hidden);
            }
            // A row or a column of no height or width shows as hidden too (Excel writes
            // `ht="0"` for a row dragged shut; security review: not V013).
            for (finder, name) in [(&heights, HEIGHT), (&widths, WIDTH)] {
                for at in finder.find_iter(&buf[..before]) {
                    zero_in_tag(&buf[..before], at, name.len(), &mut scan.hidden);
                }
            }
            if let Some(after) = data_end {
                past_data = true;
                from = after;
            }
        }
        let start = (merges.find_iter(&buf[from..end]))
            .find_map(|at| element_start(&buf[..end], from + at, NAME.len()))
            .filter(|_| past_data);
        if let Some(start) = start {
            let rest = std::io::Cursor::new(buf[start..end].to_vec()).chain(part);
            scan.merges = merge_cells(std::io::BufReader::new(rest));
            break;
        }
        let keep = end.min(KEEP);
        buf.copy_within(end - keep..end, 0);
        len = keep;
    }
    // A tag in the part of a block kept for the next is seen twice.
    for found in [&mut scan.hidden.rows, &mut scan.hidden.cols] {
        found.sort_unstable();
        found.dedup();
    }
    Ok(scan)
}

const HIDDEN: &[u8] = b"hidden=";
/// A row's height and a column's width, with the space before them (not `customHeight=`).
const HEIGHT: &[u8] = b" ht=";
const WIDTH: &[u8] = b" width=";

/// Notes the row or the columns whose start tag gives them no height or width (`ht="0"`,
/// `width="0"`), found at `at`.
fn zero_in_tag(bytes: &[u8], at: usize, name_len: usize, hidden: &mut Hidden) {
    let value = &bytes[at + name_len..];
    let Some(&quote @ (b'"' | b'\'')) = value.first() else {
        return;
    };
    let Some(end) = value[1..].iter().position(|&b| b == quote) else {
        return;
    };
    let zero = std::str::from_utf8(&value[1..=end])
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .is_some_and(|v| v == 0.0);
    if zero {
        mark_tag(bytes, at + 1, hidden);
    }
}

/// Notes the row or the columns whose start tag holds the `hidden` attribute found at `at`
/// (`<row r="7" hidden="1">`, `<col min="3" max="4" hidden="true"/>`), when it is in a whole
/// tag of one of them and says so: text escapes its `<`, so the `<` before is the tag's.
fn hidden_in_tag(bytes: &[u8], at: usize, hidden: &mut Hidden) {
    let value = &bytes[at + HIDDEN.len()..];
    let says = |v: &[u8]| value.len() > v.len() + 1 && &value[1..=v.len()] == v;
    if !matches!(value.first(), Some(b'"' | b'\'')) || !(says(b"1") || says(b"true")) {
        return;
    }
    mark_tag(bytes, at, hidden);
}

/// Notes the row or the columns of the start tag an attribute found at `at` is in, when it is
/// a whole tag of one of them: text escapes its `<`, so the `<` before is the tag's.
fn mark_tag(bytes: &[u8], at: usize, hidden: &mut Hidden) {
    let Some(lt) = bytes[..at].iter().rposition(|&b| b == b'<') else {
        return;
    };
    let Some(gt) = bytes[at..].iter().position(|&b| b == b'>') else {
        return;
    };
    let tag = &bytes[lt + 1..at + gt];
    if tag[..at - lt - 1].contains(&b'>') {
        return;
    }
    let name_end = tag
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    let name = match name.iter().position(|&b| b == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    };
    match name {
        // A sheet's rows are 1 to 1,048,576: a number past them is a broken part's.
        b"row" => hidden
            .rows
            .extend(attribute_number(tag, b"r").filter(|r| (1..=1_048_576).contains(r))),
        b"col" => {
            if let (Some(min), Some(max)) =
                (attribute_number(tag, b"min"), attribute_number(tag, b"max"))
            {
                // 1-based in the XML; a column range past the sheet's last (16,384) is not one.
                if (1..=max).contains(&min) && max <= 16_384 {
                    hidden.cols.extend(min - 1..max);
                }
            }
        }
        _ => {}
    }
}

/// The number an attribute of a start tag holds (`r="7"` → 7).
fn attribute_number(tag: &[u8], name: &[u8]) -> Option<u32> {
    let finder = memchr::memmem::Finder::new(name);
    finder.find_iter(tag).find_map(|at| {
        let before = *tag.get(at.checked_sub(1)?)?;
        let rest = &tag[at + name.len()..];
        if !before.is_ascii_whitespace() || rest.first() != Some(&b'=') {
            return None;
        }
        let quote = *rest.get(1)?;
        let value = &rest[2..];
        let end = value.iter().position(|&b| b == quote)?;
        std::str::from_utf8(&value[..end]).ok()?.parse().ok()
    })
}

const DATA: &[u8] = b"sheetData";

/// Where the cells end, when the name at `at` is that of their end tag (`</sheetData>`,
/// `</x:sheetData>`) or of an empty element (`<sheetData/>`): past it.
fn data_end(bytes: &[u8], at: usize) -> Option<usize> {
    let before = &bytes[at.saturating_sub(32)..at];
    let lt = before.iter().rposition(|&b| b == b'<')?;
    let between = &before[lt + 1..];
    let closing = between.first() == Some(&b'/');
    let prefix = if closing { &between[1..] } else { between };
    let prefixed = match prefix.split_last() {
        None => true,
        Some((b':', name)) => !name.is_empty() && name.iter().all(name_char),
        Some(_) => false,
    };
    let rest = &bytes[at + DATA.len()..];
    match (prefixed, closing) {
        (true, true) if rest.first() == Some(&b'>') => Some(at + DATA.len() + 1),
        (true, false) if rest.starts_with(b"/>") => Some(at + DATA.len() + 2),
        _ => None,
    }
}

fn name_char(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Where the element whose name is at `at` (`len` bytes long) starts, when it is an element's
/// start tag (`<mergeCells …`, `<x:mergeCells>`) rather than text (text escapes its `<`).
fn element_start(bytes: &[u8], at: usize, len: usize) -> Option<usize> {
    let after = *bytes.get(at + len)?;
    if !matches!(after, b' ' | b'>' | b'/' | b'\t' | b'\r' | b'\n') {
        return None;
    }
    let before = &bytes[at.saturating_sub(32)..at];
    match before.last()? {
        b'<' => Some(at - 1),
        b':' => {
            let lt = before.iter().rposition(|&b| b == b'<')?;
            let prefix = &before[lt + 1..before.len() - 1];
            (!prefix.is_empty() && prefix.iter().all(name_char)).then_some(at - (before.len() - lt))
        }
        _ => None,
    }
}

/// The `mergeCell` elements' ranges over more than one row, to the end of the part (a
/// hand-made part may have two `mergeCells`). What is malformed ends the list: calamine's read
/// of the cells reports a broken part.
fn merge_cells(source: impl BufRead) -> Vec<Merge> {
    let mut xml = quick_xml::Reader::from_reader(source);
    let mut buf = Vec::new();
    let mut merges = Vec::new();
    while let Ok(event) = xml.read_event_into(&mut buf) {
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if e.local_name().as_ref() == "mergeCell" => {
                let range = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "ref")
                    .and_then(|a| Merge::from_a1(&value_of(&a)?));
                merges.extend(range.filter(Merge::spans_rows));
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    merges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_ranges() {
        let m = |r0, r1, c0, c1| Merge {
            first_row: r0,
            last_row: r1,
            first_col: c0,
            last_col: c1,
        };
        assert_eq!(Merge::from_a1("B2:B5"), Some(m(2, 5, 1, 1)));
        assert_eq!(Merge::from_a1("$AA$10:$AB$3"), Some(m(3, 10, 26, 27)));
        assert_eq!(Merge::from_a1("c7"), Some(m(7, 7, 2, 2)));
        for bad in [
            "",
            "B",
            "2",
            "B0:B3",
            "B2:",
            "ABCD1:ABCD2",
            "B2:B-3",
            "B²:B3",
        ] {
            assert_eq!(Merge::from_a1(bad), None, "{bad}");
        }
    }

    /// Fills a whole sheet's merged ranges of shared values at once.
    fn fill(rows: &mut [Row], merges: Vec<Merge>) {
        let merges = merges.into_iter().map(|m| (m, Spread::Shared)).collect();
        MergeFill::new(merges).apply(rows);
    }

    fn row(number: u32, cells: &[&str]) -> Row {
        Row {
            number,
            cells: cells.iter().map(|t| Cell::text(*t)).collect(),
        }
    }

    fn texts(rows: &[Row]) -> Vec<Vec<&str>> {
        rows.iter()
            .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn down_the_first_column_into_rows_with_values_and_empty_cells_only() {
        let mut rows = vec![
            row(1, &["name", "dept", "site"]),
            row(2, &["a", "Eng", "Oslo"]),
            row(3, &["b", "", ""]),
            row(4, &["", "", ""]),
            row(5, &["c", "Own", ""]),
            row(6, &["d"]),
            row(8, &["e", "", ""]),
        ];
        // B2:C6 over rows 2–6 (row 4 blank, row 5 with a value of its own, row 6 short); B8
        // alone is no range; B3:B8 overlaps B2:C6 (a crafted file) and is left out.
        fill(
            &mut rows,
            vec![
                Merge::from_a1("B3:B8").unwrap(),
                Merge::from_a1("B2:C6").unwrap(),
                Merge::from_a1("B8").unwrap(),
            ],
        );
        assert_eq!(
            texts(&rows),
            [
                vec!["name", "dept", "site"],
                vec!["a", "Eng", "Oslo"],
                vec!["b", "Eng", ""],
                vec!["", "", ""],
                vec!["c", "Own", ""],
                vec!["d", "Eng"],
                vec!["e", "", ""],
            ]
        );
        let from =
            |r: usize, c: usize| (rows[r].cells[c].covered).map(|c| (c.top(), c.is_filled()));
        assert_eq!(from(2, 1), Some((2, true)));
        assert_eq!(from(5, 1), Some((2, true)));
        assert_eq!(from(1, 1), None, "the top is not covered");
        assert_eq!(from(3, 1), None, "a blank row is not read");
        assert_eq!(
            from(4, 1),
            Some((2, false)),
            "its own value, hidden by the merge"
        );
    }

    /// A key's range (`Spread::Own`) fills nothing. The cells under a top that the sheet shows
    /// otherwise than they hold are marked (V011): an empty key, a value of their own hidden by
    /// the merge (under an empty top too). A value equal to the top's hides nothing.
    #[test]
    fn a_key_is_not_filled_and_what_the_sheet_hides_is_marked() {
        let mut rows = vec![
            row(2, &["k1", "Eng", "a"]),
            row(3, &["", "", "b"]),
            row(4, &["k1 ", "Eng", "c"]),
            row(5, &["k5", "Ops", "d"]),
            row(6, &["", "", "e"]),
            row(7, &["", "", "f"]),
            row(8, &["k8", "", "g"]),
        ];
        let merges = vec![
            (Merge::from_a1("A2:A5").unwrap(), Spread::Own),
            (Merge::from_a1("A6:A8").unwrap(), Spread::Own),
            (Merge::from_a1("B2:B5").unwrap(), Spread::Shared),
        ];
        MergeFill::new(merges).apply(&mut rows);
        assert_eq!(
            texts(&rows),
            [
                vec!["k1", "Eng", "a"],
                vec!["", "Eng", "b"],
                vec!["k1 ", "Eng", "c"],
                vec!["k5", "Ops", "d"],
                vec!["", "", "e"],
                vec!["", "", "f"],
                vec!["k8", "", "g"],
            ]
        );
        let covered: Vec<Vec<Option<(u32, bool)>>> = (rows.iter())
            .map(|r| {
                (r.cells.iter())
                    .map(|c| c.covered.map(|c| (c.top(), c.is_filled())))
                    .collect()
            })
            .collect();
        let kept = |top| Some((top, false));
        assert_eq!(
            covered,
            [
                vec![None, None, None],
                vec![kept(2), Some((2, true)), None],
                vec![None, None, None],
                vec![kept(2), kept(2), None],
                vec![None, None, None],
                vec![None, None, None],
                vec![kept(6), None, None],
            ]
        );
    }

    #[test]
    fn chunk_by_chunk_as_one() {
        let merges = vec![(Merge::from_a1("A2:A4").unwrap(), Spread::Shared)];
        let mut chunks = MergeFill::new(merges);
        let mut first = vec![row(1, &["h", "x"]), row(2, &["v", "x"])];
        let mut second = vec![row(3, &["", "y"]), row(4, &["", "z"]), row(5, &["", "w"])];
        chunks.apply(&mut first);
        chunks.apply(&mut second);
        assert_eq!(
            texts(&second),
            [vec!["v", "y"], vec!["v", "z"], vec!["", "w"]]
        );
        // A range whose top row is blank (not read) fills nothing.
        let mut rows = vec![row(3, &["", "y"])];
        fill(&mut rows, vec![Merge::from_a1("A2:A4").unwrap()]);
        assert_eq!(texts(&rows), [vec!["", "y"]]);
    }

    #[test]
    fn hidden_rows_and_columns_are_found_across_blocks() {
        let rows: String = (1..=40)
            .map(|r| {
                let hidden = match r {
                    7 => " hidden=\"1\"",
                    9 => " x14ac:dyDescent=\"0.25\" hidden='true'",
                    11 => " hidden=\"0\"",
                    // No height shows as hidden; a little does not.
                    13 => " ht=\"0\" customHeight=\"1\"",
                    15 => " ht=\"0.5\" customHeight=\"1\"",
                    _ => "",
                };
                format!("<x:row r=\"{r}\" spans=\"1:3\"{hidden}><x:c r=\"A{r}\" t=\"inlineStr\"><x:is><x:t>hidden=\"1\" r=\"99\" ht=\"0\"</x:t></x:is></x:c></x:row>")
            })
            .collect();
        let xml = format!(
            "<x:worksheet><x:cols><x:col min=\"2\" max=\"3\" width=\"0\" hidden=\"1\"/><x:col min=\"5\" max=\"5\" hidden=\"0\"/><x:col min=\"12\" max=\"12\" width=\"0\" customWidth=\"1\"/><x:col min=\"9\" max=\"99999\" hidden=\"1\"/></x:cols><x:sheetData><x:row r=\"0\" hidden=\"1\"/><x:row r=\"9999999\" hidden=\"1\"/>{rows}</x:sheetData><x:row r=\"50\" hidden=\"1\"/></x:worksheet>"
        );
        for block in [128, 300, 1 << 16] {
            for pad in [0, 1, 37, 100] {
                let xml = format!("{}{xml}", " ".repeat(pad));
                let found = scan_sheet_by(xml.as_bytes(), block).unwrap();
                assert_eq!(
                    found.hidden,
                    Hidden {
                        rows: vec![7, 9, 13],
                        cols: vec![1, 2, 11],
                        sheet: false
                    },
                    "{block} {pad}"
                );
            }
        }
    }

    #[test]
    fn the_element_is_found_across_blocks_and_behind_a_prefix() {
        let text = "<c><is><t>&lt;mergeCells ref=\"A1:A9\"/></t></is></c>".repeat(30);
        for (open, close, cell) in [
            ("<mergeCells count=\"2\">", "</mergeCells>", "mergeCell"),
            (
                "<x:mergeCells count=\"2\">",
                "</x:mergeCells>",
                "x:mergeCell",
            ),
        ] {
            let xml = format!(
                "<worksheet><sheetData>{text}</sheetData>{open}<{cell} ref=\"B2:B5\"/><{cell} ref=\"A1:F1\"/>{close}<pageMargins/></worksheet>"
            );
            // Blocks of 128 bytes, 64 of them new each time: every place the name could be
            // split at between two blocks.
            for pad in 0..80 {
                let xml = format!("{}{xml}", " ".repeat(pad));
                let found = scan_sheet_by(xml.as_bytes(), 128).unwrap().merges;
                assert_eq!(
                    found,
                    vec![Merge::from_a1("B2:B5").unwrap()],
                    "{open} {pad}"
                );
            }
        }
        assert_eq!(scan_sheet(text.as_bytes()).unwrap().merges, vec![]);
        // Only past the cells: not in a comment or a cell's CDATA before them (review); every
        // `mergeCells`, a reference's entities read.
        let xml = "<worksheet><!-- <mergeCells><mergeCell ref=\"E2:E9\"/></mergeCells> --><sheetData><c><is><t><![CDATA[<mergeCells><mergeCell ref=\"F2:F9\"/>]]></t></is></c></sheetData><mergeCells><mergeCell ref=\"&#66;2:B5\"/></mergeCells><mergeCells><mergeCell ref=\"C2:C3\"/></mergeCells></worksheet>";
        assert_eq!(
            scan_sheet_by(xml.as_bytes(), 128).unwrap().merges,
            vec![
                Merge::from_a1("B2:B5").unwrap(),
                Merge::from_a1("C2:C3").unwrap()
            ]
        );
        let empty = "<worksheet><sheetData/><mergeCells><mergeCell ref=\"B2:B5\"/></mergeCells></worksheet>";
        assert_eq!(scan_sheet(empty.as_bytes()).unwrap().merges.len(), 1);
    }
}
