//! CSV/TSV reading: encoding detection (BOM, UTF-16, Windows-1252 fallback), delimiter sniffing,
//! and row numbers that count every record, blank ones included, as a spreadsheet does.

use super::{check_size, sniff_format, Cell, ReadOptions, ReadProblem, Row};
use std::path::Path;
use unicode_normalization::UnicodeNormalization;

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Reads a CSV file into rows; returns the encoding when it was not UTF-8.
pub fn read(
    path: &Path,
    options: &ReadOptions,
) -> Result<(Vec<Row>, Option<&'static str>), ReadProblem> {
    let bytes = std::fs::read(path)
        .map_err(|e| ReadProblem::unreadable(format!("cannot read the file: {e}")))?;
    read_bytes(&bytes, options)
}

/// Reads CSV bytes (a file's, or standard input's).
pub fn read_bytes(
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<(Vec<Row>, Option<&'static str>), ReadProblem> {
    let (text, encoding) = decode(bytes).map_err(|why| ReadProblem::unreadable(why.to_string()))?;
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&text));
    let rows = parse(&text, delimiter)
        .map_err(|e| ReadProblem::unreadable(format!("not valid CSV: {e}")))?;
    if let Some(row) = unterminated_quote(&text, &rows) {
        return Err(ReadProblem::unreadable(format!(
            "a quote opened in row {row} is never closed, so the rest of the file would run into one cell"
        )));
    }
    check_size(&rows, None, &options.limits)?;
    Ok((rows, encoding))
}

/// Decodes bytes to NFC text. Binary content is refused with what it looks like.
pub fn decode(bytes: &[u8]) -> Result<(String, Option<&'static str>), String> {
    let (text, encoding) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        (String::from_utf8_lossy(rest).into_owned(), None)
    } else if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, _, _) = enc.decode(bytes);
        (text.into_owned(), Some(enc.name()))
    } else {
        if let Some(kind) = sniff_format(bytes) {
            return Err(format!("not a CSV file: it looks like {kind}"));
        }
        let head = &bytes[..bytes.len().min(8192)];
        let nuls = head.iter().filter(|&&b| b == 0).count();
        if nuls * 3 >= head.len() && nuls > 0 {
            return Err("not a CSV file: it looks like UTF-16 text without a byte-order mark; save it as UTF-8".to_string());
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(format!(
                "not a CSV file: it holds NUL bytes, the first on line {line} (binary data?)"
            ));
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), None),
            Err(_) => {
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
                (text.into_owned(), Some(encoding_rs::WINDOWS_1252.name()))
            }
        }
    };
    Ok((to_nfc(text), encoding))
}

/// The row of a quoted cell that runs to the end of the file: the csv crate reads it without
/// complaint, taking every later line into the cell. Its signs: the last row holds a line break,
/// and the file has an odd number of quotes (closed quoted cells, escaped quotes included, have
/// an even number).
fn unterminated_quote(text: &str, rows: &[Row]) -> Option<u32> {
    let last = rows.last()?;
    let broken = last.cells.iter().any(|c| c.text.contains('\n'));
    let quotes = text.bytes().filter(|&b| b == b'"').count();
    (broken && quotes % 2 == 1).then_some(last.number)
}

/// Brings text to NFC; the quick check skips the copy for text that already is (nearly all).
pub fn to_nfc(text: String) -> String {
    match unicode_normalization::is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text,
        _ => text.nfc().collect(),
    }
}

/// The delimiter among `,` `;` tab `|` that splits the widest of the first ten non-blank lines,
/// outside quotes, into the most fields; ties go to the earlier one. Looking at ten lines rather
/// than only the first keeps a title row above the header from hiding the delimiter.
pub fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(10)
        .collect();
    let mut best = (b',', 0usize);
    for d in DELIMITERS {
        let most = lines.iter().map(|l| count_fields(l, d)).max().unwrap_or(0);
        if most > best.1 {
            best = (d, most);
        }
    }
    best.0
}

fn count_fields(line: &str, delimiter: u8) -> usize {
    let mut quoted = false;
    let mut n = 1;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            n += 1;
        }
    }
    n
}

/// Parses text into rows numbered as a spreadsheet numbers them: the csv crate skips blank
/// lines, so they are counted back from each record's start position.
pub fn parse(text: &str, delimiter: u8) -> Result<Vec<Row>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut number = 0u32;
    while reader.read_record(&mut record)? {
        let start = record.position().map_or(0, |p| p.byte() as usize);
        number += 1 + leading_breaks(bytes, start);
        rows.push(Row {
            number,
            cells: record.iter().map(Cell::text).collect(),
        });
    }
    Ok(rows)
}

/// Blank lines the csv crate skipped before the record starting at `start`: its position points
/// at the first of them (or at the `\n` of the previous record's `\r\n`).
fn leading_breaks(bytes: &[u8], start: usize) -> u32 {
    let mut i = start;
    if i > 0 && bytes[i - 1] == b'\r' && bytes.get(i) == Some(&b'\n') {
        i += 1;
    }
    let mut n = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\r' => {
                n += 1;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => n += 1,
            _ => break,
        }
        i += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(text: &str) -> Vec<u32> {
        parse(text, b',')
            .unwrap()
            .iter()
            .map(|r| r.number)
            .collect()
    }

    #[test]
    fn rows_count_blank_lines_and_not_quoted_breaks() {
        assert_eq!(numbers("a,b\n1,2\n"), vec![1, 2]);
        assert_eq!(numbers("a,b\n\n1,2\r\n\r\n\r\n3,4"), vec![1, 3, 6]);
        assert_eq!(numbers("a,b\n\"x\ny\",2\n3,4\n"), vec![1, 2, 3]);
        assert_eq!(numbers("\n\na,b\n1,2"), vec![3, 4]);
    }

    #[test]
    fn sniffs_the_delimiter_that_splits_most() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3"), b';');
        assert_eq!(sniff_delimiter("a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",c\n"), b',');
        assert_eq!(sniff_delimiter("Title row\nemail|record_id|name\n"), b'|');
        assert_eq!(sniff_delimiter("one\n"), b',');
    }

    #[test]
    fn an_unclosed_quote_is_found() {
        let text = "a,b\n1,\"open\n2,3\n";
        let rows = parse(text, b',').unwrap();
        assert_eq!(unterminated_quote(text, &rows), Some(2));
        let fine = "a,b\n1,\"two\nlines\"\n2,\"say \"\"hi\"\"\"\n";
        assert_eq!(unterminated_quote(fine, &parse(fine, b',').unwrap()), None);
    }

    #[test]
    fn decodes_boms_and_windows_1252() {
        assert_eq!(decode(b"\xEF\xBB\xBFa").unwrap(), ("a".to_string(), None));
        let (t, e) = decode(b"\xFF\xFEa\0b\0").unwrap();
        assert_eq!((t.as_str(), e), ("ab", Some("UTF-16LE")));
        let (t, e) = decode(b"Jos\xe9").unwrap();
        assert_eq!((t.as_str(), e), ("José", Some("windows-1252")));
        assert!(decode(b"PK\x03\x04rest").unwrap_err().contains("zip"));
        assert!(decode(b"a\0b\0c\0").unwrap_err().contains("UTF-16"));
    }

    #[test]
    fn text_is_nfc() {
        let (t, _) = decode("Jose\u{301}".as_bytes()).unwrap();
        assert_eq!(t, "Jos\u{e9}");
    }
}
