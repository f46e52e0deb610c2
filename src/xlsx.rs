//! What the workbooks muster writes have in common (the annotated batch, the XLSX findings report
//! and the template): severity fills, Excel's cell limit, column widths, and the findings table.

use crate::finding::{Finding, REPORT_FIELDS};
use crate::rules::Severity;
use rust_xlsxwriter::{Color, Format, FormatBorder, Url, Worksheet, XlsxError};

/// Excel's largest cell, in UTF-16 code units.
pub const MAX_CELL: usize = 32_767;
/// Excel refuses (repairs) a worksheet with more hyperlinks than this.
pub const MAX_LINKS: usize = 65_530;
/// Columns never grow wider than this many characters; long messages wrap in the cell instead.
const MAX_WIDTH: usize = 60;

/// The fill of a cell with a finding: red for an error, amber for a warning, none for info (info
/// findings get only a note).
pub fn fill(severity: Severity) -> Option<Color> {
    match severity {
        Severity::Error => Some(Color::RGB(0xFFC7CE)),
        Severity::Warning => Some(Color::RGB(0xFFEB9C)),
        Severity::Info => None,
    }
}

/// Excel's built-in `@` (Text) number format: what is typed stays text.
pub const TEXT_FORMAT: u8 = 49;

/// Bold with a bottom border: every header row muster writes.
pub fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin)
}

/// `s` cut to what one Excel cell holds.
pub fn clip(s: &str) -> &str {
    clip_to(s, MAX_CELL)
}

/// `s` cut to at most `max` UTF-16 code units, on a character boundary.
pub fn clip_to(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

/// Column widths that fit the content (constant-memory sheets cannot autofit after the fact).
#[derive(Debug, Default)]
pub struct Widths(Vec<usize>);

impl Widths {
    pub fn see(&mut self, col: usize, text: &str) {
        if self.0.len() <= col {
            self.0.resize(col + 1, 0);
        }
        // Only the longest line counts, and only up to the cap: no need to count a long cell.
        let width = text
            .lines()
            .map(|l| l.chars().take(MAX_WIDTH).count())
            .max()
            .unwrap_or(0);
        self.0[col] = self.0[col].max(width);
    }

    pub fn apply(&self, ws: &mut Worksheet) -> Result<(), XlsxError> {
        for (col, &w) in self.0.iter().enumerate() {
            if w > 0 {
                ws.set_column_width(col as u16, (w.max(6) + 2) as f64)?;
            }
        }
        Ok(())
    }
}

/// A link from a findings row to the cell it is about.
pub struct Link {
    pub url: String,
    pub text: String,
}

/// Gives the link of a findings row, if it has one.
pub type LinkFn<'a> = &'a dyn Fn(&Finding) -> Option<Link>;

/// Who reads a table of findings: the admin (the report), or the batch's sender (the
/// annotated workbook's Issues sheet, which words some findings for them: see
/// [`Finding::to_sender`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Admin,
    Sender,
}

/// Writes the findings as a frozen, filtered table: the eleven report fields of SPEC §5 in order,
/// then a `link` column when `link` is given. Rows past Excel's hyperlink limit keep the cell's
/// address as plain text.
pub fn findings_table(
    ws: &mut Worksheet,
    findings: &[Finding],
    link: Option<LinkFn>,
    reader: Reader,
) -> Result<(), XlsxError> {
    let header = header_format();
    let mut widths = Widths::default();
    let mut columns: Vec<&str> = REPORT_FIELDS.to_vec();
    if link.is_some() {
        columns.push("link");
    }
    for (c, name) in columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, &header)?;
        widths.see(c, name);
    }
    let severity_formats: Vec<(Severity, Format)> =
        [Severity::Error, Severity::Warning, Severity::Info]
            .into_iter()
            .map(|s| {
                let f = Format::new();
                (s, fill(s).map_or(f.clone(), |c| f.set_background_color(c)))
            })
            .collect();
    let link_format = Format::new()
        .set_font_color(Color::RGB(0x0563C1))
        .set_underline(rust_xlsxwriter::FormatUnderline::Single);
    let mut links = 0;
    for (i, f) in findings.iter().enumerate() {
        let r = i as u32 + 1;
        let format = &severity_formats
            .iter()
            .find(|(s, _)| *s == f.severity)
            .expect("every severity has a format")
            .1;
        ws.write_string_with_format(r, 0, f.severity.as_str(), format)?;
        let texts = [
            Some(f.code),
            Some(match reader {
                Reader::Admin => f.file.as_str(),
                Reader::Sender => f.file_to_sender(),
            }),
            f.sheet.as_deref(),
            None,
            f.column.as_deref(),
            f.field.as_deref(),
            f.record_id.as_deref(),
            f.value.as_deref(),
            Some(match reader {
                Reader::Admin => f.message.as_str(),
                Reader::Sender => f.message_to_sender(),
            }),
            match reader {
                Reader::Admin => f.suggestion.as_deref(),
                Reader::Sender => f.suggestion_to_sender(),
            },
        ];
        for (j, text) in texts.into_iter().enumerate() {
            let c = j + 1;
            if let Some(text) = text {
                let text = clip(text);
                ws.write_string(r, c as u16, text)?;
                widths.see(c, text);
            }
        }
        if let Some(row) = f.row {
            ws.write_number(r, 4, row)?;
            widths.see(4, &row.to_string());
        }
        if let Some(target) = link.and_then(|l| l(f)) {
            let c = columns.len() as u16 - 1;
            widths.see(c as usize, &target.text);
            if links < MAX_LINKS {
                links += 1;
                ws.write_url_with_options(
                    r,
                    c,
                    Url::new(target.url),
                    target.text,
                    "",
                    Some(&link_format),
                )?;
            } else {
                ws.write_string(r, c, target.text)?;
            }
        }
    }
    let last = findings.len() as u32;
    ws.autofilter(0, 0, last, columns.len() as u16 - 1)?;
    ws.set_freeze_panes(1, 0)?;
    widths.apply(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_counts_utf16_units() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(MAX_CELL + 5);
        assert_eq!(clip(&long).chars().count(), MAX_CELL);
        // An astral character takes two units and is never split.
        let astral = "😀".repeat(MAX_CELL);
        assert_eq!(clip(&astral).chars().count(), MAX_CELL / 2);
    }
}
