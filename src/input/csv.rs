//! CSV/TSV reading: encoding detection (BOM, UTF-16, Windows-1252 fallback), delimiter sniffing,
//! and row numbers that count every record, blank ones included, as a spreadsheet does.

use super::headers::Renames;
use super::{check_size, sniff_format, Cell, ReadOptions, ReadProblem, Row};
use encoding_rs::Encoding;
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
    let (text, encoding) =
        decode(bytes, options.encoding).map_err(|why| ReadProblem::unreadable(why.to_string()))?;
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(&text, &options.renames));
    let mut rows = parse(&text, delimiter)
        .map_err(|e| ReadProblem::unreadable(format!("not valid CSV: {e}")))?;
    drop_end_of_file_mark(&mut rows);
    if let Some(row) = unterminated_quote(&text, &rows, delimiter) {
        return Err(ReadProblem::unreadable(format!(
            "a quote opened in row {row} is never closed, so the rest of the file would run into one cell"
        ))
        .at_row(row));
    }
    check_size(&rows, None, &options.limits)?;
    Ok((rows, encoding))
}

/// Drops DOS's end-of-file mark (Ctrl-Z, U+001A) that ends a file, as `copy a.csv+b.csv` and
/// DOS-era exports write it: no value of the last row (Windows review: it made a user of its
/// own, V008 and V001, or V008 on the last user's last cell). A row it leaves blank is skipped
/// as blank rows are.
fn drop_end_of_file_mark(rows: &mut [Row]) {
    let Some(last) = rows.last_mut() else {
        return;
    };
    if let Some(cell) = last.cells.iter_mut().rev().find(|c| !c.text.is_empty()) {
        if cell.text.ends_with('\u{1a}') {
            cell.text.pop();
        }
    }
}

/// Decodes bytes to NFC text. Binary content is refused with what it looks like. Bytes that
/// are not UTF-8 are decoded with `legacy` (`--encoding`) when given, else with the encoding
/// their text shows ([`detect_legacy`]).
pub fn decode(
    bytes: &[u8],
    legacy: Option<&'static Encoding>,
) -> Result<(String, Option<&'static str>), String> {
    let (text, encoding) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        match std::str::from_utf8(rest) {
            Ok(text) => (text.to_string(), None),
            // A byte-order mark before bytes that are not UTF-8. With no UTF-8 beyond ASCII at
            // all, it was put before a file nobody converted (Windows-1252): read as such, and
            // said so (F005). With some, the file is UTF-8 with a few bytes gone wrong: each
            // becomes U+FFFD, which V008 then reports in its cell, and the rest stays right.
            Err(_) => {
                let utf8_text = rest.utf8_chunks().any(|c| !c.valid().is_ascii());
                if utf8_text {
                    (String::from_utf8_lossy(rest).into_owned(), None)
                } else {
                    let encoding = legacy.unwrap_or_else(|| detect_legacy(rest));
                    (decode_legacy(rest, encoding), Some(encoding.name()))
                }
            }
        }
    } else if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        let (text, _, lossy) = enc.decode(bytes);
        // A lone surrogate or an odd last byte becomes U+FFFD, which V008 marks in its cell;
        // F005 says why it is there.
        let name = match (enc == encoding_rs::UTF_16LE, lossy) {
            (_, false) => enc.name(),
            (true, true) => "UTF-16LE, with characters it could not decode (U+FFFD, V008)",
            (false, true) => "UTF-16BE, with characters it could not decode (U+FFFD, V008)",
        };
        (text.into_owned(), Some(name))
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
                let encoding = legacy.unwrap_or_else(|| detect_legacy(bytes));
                (decode_legacy(bytes, encoding), Some(encoding.name()))
            }
        }
    };
    Ok((to_nfc(text), encoding))
}

/// The encoding of a file that is not UTF-8. Excel's "CSV" is saved in the system's code page:
/// Windows-1252 in Western Europe and the Americas, but Windows-1251 for Cyrillic, 1250 for
/// Central Europe, Shift_JIS, GBK… Read as Windows-1252, `Иван` loaded as `Èâàí` with no
/// error (review). chardetng (Firefox's detector for unlabeled pages) tells them apart by the
/// text's letter pairs; a file with no sign of another encoding is Windows-1252, as before.
/// Mac Roman, which Excel for Mac still writes as "CSV", is not among chardetng's encodings:
/// [`Detector`] tells it from Windows-1252 by the letters inside words.
pub fn detect_legacy(bytes: &[u8]) -> &'static Encoding {
    let mut detector = Detector::new();
    detector.feed(bytes);
    detector.guess()
}

/// [`detect_legacy`] fed a file a block at a time.
pub struct Detector {
    chardetng: chardetng::EncodingDetector,
    /// Bytes between two ASCII letters that are a letter in Mac Roman and not in
    /// Windows-1252 (`Lef\x8Fvre`, `Pe\x96a`), and those that are one in Windows-1252
    /// (`Lef\xE8vre`): in a word, an accented letter is far likelier than a symbol.
    mac_letters: usize,
    windows_letters: usize,
}

impl Detector {
    pub fn new() -> Self {
        Detector {
            chardetng: chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny),
            mac_letters: 0,
            windows_letters: 0,
        }
    }

    /// Counts the single non-ASCII bytes between two ASCII letters of `window`.
    fn count_letters(&mut self, window: &[u8]) {
        for w in window.windows(3) {
            if !(w[0].is_ascii_alphabetic() && w[2].is_ascii_alphabetic()) {
                continue;
            }
            match w[1] {
                // Windows-1252's letters and apostrophe among 0x80-0x9F: `ƒ Š Œ Ž ’ š œ ž Ÿ`.
                0x83 | 0x8A | 0x8C | 0x8E | 0x92 | 0x9A | 0x9C | 0x9E | 0x9F => {}
                0x80..=0x9F => self.mac_letters += 1,
                0xC0..=0xFF => self.windows_letters += 1,
                _ => {}
            }
        }
    }

    /// Feeds the bytes around each run of non-ASCII ones. chardetng scores pairs of
    /// characters, and a pair of ASCII ones counts for nothing (ISO-2022-JP aside, which is
    /// not asked for): fed a whole 70 MB file it took 4 s, fed this way a blink.
    pub fn feed(&mut self, bytes: &[u8]) {
        // Enough for a letter pair and a word's case before and after; a multi-byte
        // character's second byte (ASCII in Shift_JIS) comes with its first.
        const AROUND: usize = 8;
        let non_ascii_from = |at: usize| {
            let ascii = Encoding::ascii_valid_up_to(&bytes[at..]);
            (at + ascii < bytes.len()).then_some(at + ascii)
        };
        let mut fed_to = 0;
        let mut next = non_ascii_from(0);
        while let Some(first) = next {
            let mut last = first;
            next = loop {
                match non_ascii_from(last + 1) {
                    Some(at) if at - last <= AROUND => last = at,
                    further => break further,
                }
            };
            let start = first.saturating_sub(AROUND).max(fed_to);
            fed_to = (last + 1 + AROUND).min(bytes.len());
            self.chardetng.feed(&bytes[start..fed_to], false);
            self.chardetng.feed(b"\n", false);
            self.count_letters(&bytes[start..fed_to]);
        }
    }

    pub fn guess(&self) -> &'static Encoding {
        match self.chardetng.guess(None, chardetng::Utf8Detection::Deny) {
            enc if enc == encoding_rs::WINDOWS_1252 && self.mac_letters > self.windows_letters => {
                encoding_rs::MACINTOSH
            }
            enc => enc,
        }
    }
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

/// [`detect_legacy`] on a file read a block at a time.
fn detect_file(path: &Path) -> std::io::Result<&'static Encoding> {
    let mut file = std::fs::File::open(path)?;
    let mut detector = Detector::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(detector.guess());
        }
        detector.feed(&buf[..n]);
    }
}

/// Bytes that are not UTF-8 decoded with `encoding`; Windows-1252 keeps the UTF-8 rows pasted
/// among its own ([`windows_1252`]).
fn decode_legacy(bytes: &[u8], encoding: &'static Encoding) -> String {
    if encoding == encoding_rs::WINDOWS_1252 {
        windows_1252(bytes)
    } else {
        encoding.decode_without_bom_handling(bytes).0.into_owned()
    }
}

/// A file that is not UTF-8, read as Windows-1252 but where its bytes are UTF-8: a UTF-8 file
/// with a row pasted in from a Windows-1252 one (review: `Zoë` of the UTF-8 rows became
/// `ZoÃ«`). Windows-1252 text is next to never valid UTF-8 beyond ASCII (`Ã«` would have to be
/// meant), and a line break is never inside a UTF-8 sequence: a block of lines reads as the
/// whole file does.
fn windows_1252(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 8);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        let invalid = chunk.invalid();
        if !invalid.is_empty() {
            let (read, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(invalid);
            text.push_str(&read);
        }
    }
    text
}

/// The row of a quoted cell that runs to the end of the file: the csv crate reads it without
/// complaint, taking every later line into the cell, which is then the last row's.
fn unterminated_quote(text: &str, rows: &[Row], delimiter: u8) -> Option<u32> {
    let mut quotes = Quotes::new(0);
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        if matches!(byte, b'"' | b'\n' | b'\r') || byte == delimiter {
            quotes.step(byte, at as u64);
        }
    }
    if quotes.quoted {
        rows.last().map(|r| r.number)
    } else {
        None
    }
}

/// The csv crate's quoting, followed over the bytes that matter (`"`, line breaks and the
/// delimiter) so that a stream can cut a file between records and both reads can tell a quoted
/// cell that never closes. A quote opens a quoted cell only at the cell's start; inside, `""`
/// is an escaped quote; once a quoted cell closes, later quotes in that cell are text.
struct Quotes {
    quoted: bool,
    field_start: u64,
    /// Where a quoted cell closed: a quote right after it is an escaped one.
    closed_at: Option<u64>,
}

/// What a byte did to the record being read.
enum Step {
    Inside,
    Field,
    Record,
}

impl Quotes {
    fn new(field_start: u64) -> Quotes {
        Quotes {
            quoted: false,
            field_start,
            closed_at: None,
        }
    }

    /// Takes `byte` at offset `at`: a quote, `\n`, `\r` or the delimiter.
    fn step(&mut self, byte: u8, at: u64) -> Step {
        match byte {
            b'"' => {
                if self.quoted {
                    self.quoted = false;
                    self.closed_at = Some(at);
                } else if at == self.field_start || self.closed_at.is_some_and(|c| c + 1 == at) {
                    self.quoted = true;
                }
                Step::Inside
            }
            _ if self.quoted => Step::Inside,
            b'\n' | b'\r' => {
                self.field_start = at + 1;
                if byte == b'\n' {
                    Step::Record
                } else {
                    Step::Inside
                }
            }
            _ => {
                self.field_start = at + 1;
                Step::Field
            }
        }
    }
}

/// Brings text to NFC; the quick check skips the copy for text that already is (nearly all).
pub fn to_nfc(text: String) -> String {
    if is_nfc(&text) {
        text
    } else {
        text.nfc().collect()
    }
}

/// Whether `text` is in NFC, by the quick check (a "maybe" counts as no). An ASCII character
/// is in NFC and starts over the quick check's state (its combining class is 0), so only the
/// runs of other characters are checked: decoding every character of a 256 KiB block of
/// nearly all ASCII was 3 % of a validation's instructions.
fn is_nfc(text: &str) -> bool {
    // Looked for 64 bytes at a time: `is_ascii` reads words, a byte search one byte a step.
    let first_other = |t: &str| {
        let at = t.as_bytes().chunks(64).position(|c| !c.is_ascii())? * 64;
        t.as_bytes()[at..]
            .iter()
            .position(|b| !b.is_ascii())
            .map(|i| at + i)
    };
    let mut rest = text;
    loop {
        let Some(start) = first_other(rest) else {
            return true;
        };
        let run = &rest[start..];
        let end = run.bytes().position(|b| b.is_ascii()).unwrap_or(run.len());
        if unicode_normalization::is_nfc_quick(run[..end].chars())
            != unicode_normalization::IsNormalized::Yes
        {
            return false;
        }
        rest = &run[end..];
    }
}

/// The delimiter among `,` `;` tab `|` that splits the header row, outside quotes, into the
/// most fields; ties go to the earlier one (SPEC §2). The header is looked for as the reader of
/// its sheet will (with the `--map` renames): among the first ten non-blank lines, the first
/// that holds two of the columns a user or ID-info sheet requires, split by each delimiter in
/// turn. So a `;` file whose cells hold commas (`Doe, Jane`) is split on `;`, and a title row
/// above the header does not hide it. Where two delimiters each find a header, the one whose
/// header holds more required columns wins before the one with more fields: a title row
/// `Required: Email, Record ID, Full Name` above `Email;Record ID;Full Name` splits on `,`
/// into a header of two. A file with no such line under any delimiter (no header at all)
/// takes the delimiter that splits the widest of those lines into the most fields.
pub fn sniff_delimiter(text: &str, renames: &Renames) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(10)
        .collect();
    // (required columns found, fields) of each delimiter's header.
    let mut header: Option<(u8, (usize, usize))> = None;
    for d in DELIMITERS {
        let found = lines.iter().find_map(|l| {
            let cells = split_line(l, d);
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            let required = super::headers::header_columns(&cells, renames);
            (required >= 2).then_some((required, cells.len()))
        });
        if let Some(strength) = found {
            if header.is_none_or(|(_, best)| strength > best) {
                header = Some((d, strength));
            }
        }
    }
    if let Some((d, _)) = header {
        return d;
    }
    let mut best = (b',', 0usize);
    for d in DELIMITERS {
        let most = lines.iter().map(|l| count_fields(l, d)).max().unwrap_or(0);
        if most > best.1 {
            best = (d, most);
        }
    }
    best.0
}

/// One line's cells as the csv crate splits them on `delimiter` (quotes removed).
fn split_line(line: &str, delimiter: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// [`sniff_delimiter`] on the first bytes of a file, decoded as the whole file would be; `None`
/// when they do not hold the ten non-blank lines the whole read would look at.
fn sniff_head(
    first: &[u8],
    bom: bool,
    legacy: Option<&'static Encoding>,
    whole_file: bool,
    renames: &Renames,
) -> Option<u8> {
    let bytes = if bom { &first[3..] } else { first };
    let text = match legacy {
        None => {
            let valid = match std::str::from_utf8(bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            };
            String::from_utf8_lossy(&bytes[..valid])
        }
        Some(encoding) => encoding.decode_without_bom_handling(bytes).0,
    };
    let text = to_nfc(text.into_owned());
    let complete = if whole_file {
        &text[..]
    } else {
        // Only whole lines count: a cut one could split into fewer fields.
        let lines = &text[..text.rfind('\n')? + 1];
        if lines.lines().filter(|l| !l.trim().is_empty()).count() < 10 {
            return None;
        }
        lines
    };
    Some(sniff_delimiter(complete, renames))
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

/// A streamed CSV is cut into blocks of about this many bytes, each after a whole record, so
/// that blocks can be parsed on their own, in parallel.
const BLOCK: u64 = 256 << 10;
/// …and of at most this many records. A chunk's rows take memory by their number, not their
/// bytes (a row's cells, findings, keys and record: about 1.5 KB each, however narrow): 4 MiB of
/// three-column rows was 90,000 rows a chunk, and a million of them validated in 666 MiB where
/// a million wide rows took 381 MiB (review). 512 rows of 512 bytes fill a block of 256 KiB.
const BLOCK_ROWS: usize = 512;
/// Blocks read and validated at a time (4 MiB).
const PIECES: usize = 16;

/// A CSV file opened for streaming: the rows of its first blocks (enough to find and map the
/// header), and the rest, read a block at a time while validation runs.
pub struct Streamed {
    pub head: Vec<Row>,
    pub rest: CsvStream,
    pub encoding: Option<&'static str>,
}

/// Opens a CSV file for streaming when a first pass over its bytes (nothing kept) shows that
/// every block can be decoded and parsed on its own: UTF-8 or Windows-1252, no NUL byte, no
/// unclosed quote, within the row and column limits. Any other file returns `None` and is read
/// whole by [`read`], which gives it the same F001 messages as always.
pub fn open_streamed(path: &Path, options: &ReadOptions) -> Result<Option<Streamed>, ReadProblem> {
    open_in_blocks(path, options, BLOCK)
}

/// [`open_streamed`] with blocks of `block` bytes: tests and the `csv_reader` fuzzer use tiny
/// blocks so that every boundary a real file could have is tried.
#[doc(hidden)]
pub fn open_in_blocks(
    path: &Path,
    options: &ReadOptions,
    block: u64,
) -> Result<Option<Streamed>, ReadProblem> {
    let unreadable =
        |e: std::io::Error| ReadProblem::unreadable(format!("cannot read the file: {e}"));
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut first = vec![0u8; 64 << 10];
    let n = read_full(&mut file, &mut first).map_err(unreadable)?;
    first.truncate(n);
    let bom = first.starts_with(b"\xEF\xBB\xBF");
    if first.starts_with(b"\xFF\xFE")
        || first.starts_with(b"\xFE\xFF")
        || sniff_format(&first).is_some()
    {
        return Ok(None);
    }
    let whole_file = n < 64 << 10;
    let guess_utf8 = match std::str::from_utf8(&first) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    let sniff = |legacy: Option<&'static Encoding>| match options.delimiter {
        Some(d) => Some(d),
        None => sniff_head(&first, bom, legacy, whole_file, &options.renames),
    };
    // The delimiter is looked for in bytes that are not UTF-8 as Windows-1252 until the whole
    // file's encoding is known; it is looked for again if that is another.
    let provisional =
        |utf8: bool| (!utf8).then(|| options.encoding.unwrap_or(encoding_rs::WINDOWS_1252));
    let Some(delimiter) = sniff(provisional(guess_utf8)) else {
        return Ok(None);
    };
    let scan = Prescan::run(path, delimiter, bom, block).map_err(unreadable)?;
    // A byte-order mark before bytes that are not UTF-8 is read whole: the stream's blocks
    // would each have to be decoded past a mark that says otherwise.
    if scan.odd_bytes
        || (bom && !scan.utf8)
        || scan.open_quote
        || scan.records > options.limits.max_rows
        || scan.widest > options.limits.max_columns
    {
        return Ok(None);
    }
    let encoding = match (scan.utf8, options.encoding) {
        (true, _) => None,
        (false, Some(given)) => Some(given),
        (false, None) => Some(detect_file(path).map_err(unreadable)?),
    };
    // The whole read sniffs the text as the whole file decodes: bytes past the first 64 KiB
    // that are not UTF-8, or another encoding, may change the delimiter. A multi-byte encoding
    // (Shift_JIS, GBK, Big5) is read whole: its second bytes can be a `|` or a `\`, which the
    // first pass would take for the text's own.
    if (encoding != provisional(guess_utf8) && sniff(encoding) != Some(delimiter))
        || encoding.is_some_and(|e| !e.is_single_byte())
    {
        return Ok(None);
    }
    let mut rest = CsvStream {
        file: std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(path).map_err(unreadable)?,
        ),
        cuts: scan.cuts,
        at: 0,
        next_cut: 0,
        number: 0,
        delimiter,
        encoding,
        bom,
        unguard: false,
        rows_hint: scan.records,
        bytes: Vec::new(),
    };
    // The head: enough rows to find the header among the first ten non-blank ones.
    let mut head = Vec::new();
    while head.iter().filter(|r: &&Row| !r.is_blank()).count() < 32 {
        match rest.next_chunk().map_err(unreadable)? {
            Some(rows) => head.extend(rows),
            None => break,
        }
    }
    rest.unguard = super::unguard_export(&mut head);
    Ok(Some(Streamed {
        head,
        rest,
        encoding: encoding.map(|e| e.name()),
    }))
}

fn read_full(file: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A streamed file's bytes are no longer what the prescan saw.
fn changed_while_read() -> std::io::Error {
    std::io::Error::other("the file changed while it was read")
}

/// What one pass over a file's bytes found, keeping nothing of them.
struct Prescan {
    utf8: bool,
    /// A NUL byte, or a carriage return that is not part of `\r\n`: such files are read whole.
    odd_bytes: bool,
    /// The file ends inside a quoted cell.
    open_quote: bool,
    /// Records at most (line breaks outside quotes, plus one).
    records: usize,
    /// Fields in the widest record.
    widest: usize,
    /// Byte offsets after which a block ends: a line break outside quotes, about every
    /// [`BLOCK`] bytes; the last is the file's length.
    cuts: Vec<u64>,
}

impl Prescan {
    /// One pass with [`Quotes`] over the three bytes that matter ([`Scanner`]), the next read
    /// made while one is looked at.
    fn run(path: &Path, delimiter: u8, bom: bool, block_size: u64) -> std::io::Result<Prescan> {
        let mut file = std::fs::File::open(path)?;
        // Reads as small as the blocks in tests, so that every boundary is tried.
        let read_size = if block_size < BLOCK {
            block_size.max(1)
        } else {
            4 << 20
        };
        let mut scanner = Scanner::new(delimiter, bom, block_size);
        // One after the other with one thread: at a million rows each took about half a
        // second before the scanner looked at windows of 64 bytes.
        let mut reads = [vec![0u8; read_size as usize], vec![0u8; read_size as usize]];
        let mut n = read_full(&mut file, &mut reads[0])?;
        while n > 0 {
            let [this, next] = &mut reads;
            let (read, fine) =
                rayon::join(|| read_full(&mut file, next), || scanner.look(&this[..n]));
            if !fine {
                return Ok(scanner.scan);
            }
            n = read?;
            reads.swap(0, 1);
        }
        Ok(scanner.finish())
    }
}

/// The state of a [`Prescan`] between reads.
struct Scanner {
    scan: Prescan,
    delimiter: u8,
    /// The delimiter is none of the bytes [`Quotes`] treats on their own (`"`, `\n`, `\r`):
    /// windows without a quote can then be counted by their masks.
    plain_delimiter: bool,
    block_size: u64,
    /// A UTF-8 sequence cut by the end of the last read.
    carry: Vec<u8>,
    /// The offset of the next byte.
    offset: u64,
    /// Fields so far in the record being read.
    fields: usize,
    quotes: Quotes,
    last_cut: u64,
    /// `scan.records` at the last cut.
    records_at_cut: usize,
    last_byte: u8,
}

/// Where the bytes a [`Scanner`] looks for are in a window of up to 64 bytes: bit `i` for
/// byte `i`.
#[derive(Default)]
struct Masks {
    quote: u64,
    newline: u64,
    delimiter: u64,
    cr: u64,
    nul: u64,
}

impl Masks {
    /// The masks of a window of any length up to 64, a byte at a time.
    fn of(window: &[u8], delimiter: u8) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in window.iter().enumerate() {
            m.quote |= u64::from(b == b'"') << i;
            m.newline |= u64::from(b == b'\n') << i;
            m.delimiter |= u64::from(b == delimiter) << i;
            m.cr |= u64::from(b == b'\r') << i;
            m.nul |= u64::from(b == 0) << i;
        }
        m
    }

    /// The masks of a full window, 16 bytes at a time with SSE2 (part of every x86-64): a
    /// byte at a time, the prescan took four times as long as with memchr.
    #[cfg(target_arch = "x86_64")]
    fn of_64(window: &[u8; 64], delimiter: u8) -> Masks {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of every x86-64 target, so its intrinsics can be called; each
        // load reads bytes 16k to 16k + 15 of the 64-byte array, unaligned.
        unsafe {
            let splat = |b: u8| _mm_set1_epi8(b as i8);
            let (quote, newline, delim, cr, nul) = (
                splat(b'"'),
                splat(b'\n'),
                splat(delimiter),
                splat(b'\r'),
                splat(0),
            );
            let mut m = Masks::default();
            for k in 0..4 {
                let v = _mm_loadu_si128(window.as_ptr().add(16 * k).cast::<__m128i>());
                let bits =
                    |b| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, b)) as u16) << (16 * k);
                m.quote |= bits(quote);
                m.newline |= bits(newline);
                m.delimiter |= bits(delim);
                m.cr |= bits(cr);
                m.nul |= bits(nul);
            }
            m
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn of_64(window: &[u8; 64], delimiter: u8) -> Masks {
        Masks::of(window, delimiter)
    }
}

impl Scanner {
    fn new(delimiter: u8, bom: bool, block_size: u64) -> Scanner {
        Scanner {
            scan: Prescan {
                utf8: true,
                odd_bytes: false,
                open_quote: false,
                records: 1,
                widest: 1,
                cuts: Vec::new(),
            },
            delimiter,
            plain_delimiter: !matches!(delimiter, b'"' | b'\n' | b'\r'),
            block_size,
            carry: Vec::new(),
            offset: 0,
            fields: 1,
            quotes: Quotes::new(if bom { 3 } else { 0 }),
            last_cut: 0,
            records_at_cut: 1,
            last_byte: 0,
        }
    }

    /// Looks at one read's bytes; false at an odd byte (the file is then read whole).
    fn look(&mut self, block: &[u8]) -> bool {
        if self.scan.utf8 {
            self.scan.utf8 = utf8_continues(&mut self.carry, block);
        }
        let mut windows = block.chunks_exact(64);
        for window in windows.by_ref() {
            let window: &[u8; 64] = window.try_into().expect("64 bytes");
            if !self.window(window, Masks::of_64(window, self.delimiter)) {
                return false;
            }
        }
        let rest = windows.remainder();
        rest.is_empty() || self.window(rest, Masks::of(rest, self.delimiter))
    }

    /// The bytes of one window of up to 64; false at an odd byte: a NUL, or a carriage return
    /// not followed by a line break (one at the very end of the file is let be).
    fn window(&mut self, window: &[u8], m: Masks) -> bool {
        let len = window.len();
        // The bytes whose next byte is in the window.
        let followed = (1u64 << (len - 1)) - 1;
        if m.nul != 0
            || m.cr & !(m.newline >> 1) & followed != 0
            || (self.last_byte == b'\r' && window[0] != b'\n')
        {
            self.scan.odd_bytes = true;
            return false;
        }
        let base = self.offset;
        if m.quote == 0 && !self.quotes.quoted && self.plain_delimiter {
            // No quote to follow: the fields of each record ended here, counted by the masks.
            let mut delimiters = m.delimiter;
            let mut newlines = m.newline;
            while newlines != 0 {
                let i = newlines.trailing_zeros();
                let before = (1u64 << i) - 1;
                self.fields += (delimiters & before).count_ones() as usize;
                delimiters &= !before;
                self.record_ends(base + u64::from(i));
                newlines &= newlines - 1;
            }
            self.fields += delimiters.count_ones() as usize;
            let starts = m.delimiter | m.newline;
            if starts != 0 {
                self.quotes.field_start = base + u64::from(64 - starts.leading_zeros());
            }
        } else {
            // `\r` only comes before `\n` here (any other is an odd byte above), so the `\n`
            // that follows it does what it would have done.
            let mut hits = m.quote | m.newline | m.delimiter;
            while hits != 0 {
                let i = hits.trailing_zeros() as usize;
                let at = base + i as u64;
                match self.quotes.step(window[i], at) {
                    Step::Inside => {}
                    Step::Record => self.record_ends(at),
                    Step::Field => self.fields += 1,
                }
                hits &= hits - 1;
            }
        }
        self.last_byte = window[len - 1];
        self.offset += len as u64;
        true
    }

    /// A record ended with the line break at `at`.
    fn record_ends(&mut self, at: u64) {
        self.scan.records += 1;
        self.scan.widest = self.scan.widest.max(self.fields);
        self.fields = 1;
        if at + 1 - self.last_cut >= self.block_size
            || self.scan.records - self.records_at_cut >= BLOCK_ROWS
        {
            self.scan.cuts.push(at + 1);
            self.last_cut = at + 1;
            self.records_at_cut = self.scan.records;
        }
    }

    fn finish(mut self) -> Prescan {
        if !self.carry.is_empty() {
            self.scan.utf8 = false;
        }
        self.scan.open_quote = self.quotes.quoted;
        self.scan.widest = self.scan.widest.max(self.fields);
        self.scan.cuts.push(self.offset);
        self.scan
    }
}

/// Whether bytes that were UTF-8 so far still are with `block` after them; a sequence the
/// block's end cuts is kept in `carry` for the next block.
fn utf8_continues(carry: &mut Vec<u8>, block: &[u8]) -> bool {
    let mut rest = block;
    if let Some(&lead) = carry.first() {
        // A carried sequence starts with a lead byte: an invalid one was an error already.
        let width: usize = match lead {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let take = width.saturating_sub(carry.len()).min(rest.len());
        carry.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        match std::str::from_utf8(carry) {
            Ok(_) => carry.clear(),
            // Still cut: the block was shorter than the sequence.
            Err(e) if e.error_len().is_none() => return true,
            Err(_) => return false,
        }
    }
    match std::str::from_utf8(rest) {
        Ok(_) => true,
        Err(e) if e.error_len().is_none() => {
            carry.extend_from_slice(&rest[e.valid_up_to()..]);
            true
        }
        Err(_) => false,
    }
}

/// The rest of a streamed CSV: one block at a time, parsed into rows numbered as in the whole
/// file.
pub struct CsvStream {
    file: std::io::BufReader<std::fs::File>,
    cuts: Vec<u64>,
    /// Bytes read so far, and the index of the cut that ends the next block.
    at: u64,
    next_cut: usize,
    /// The row number of the last row returned.
    number: u32,
    delimiter: u8,
    encoding: Option<&'static encoding_rs::Encoding>,
    bom: bool,
    /// A `muster export` CSV: cells lose their formula guard (see `unguard_export`).
    pub(super) unguard: bool,
    /// About how many rows the file holds, for progress bars.
    pub rows_hint: usize,
    /// The last chunk's bytes, kept for the next: a new 4 MB buffer each chunk was fresh
    /// memory from the system each time, zeroed by the kernel.
    bytes: Vec<u8>,
}

impl std::fmt::Debug for CsvStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvStream")
            .field("at", &self.at)
            .field("number", &self.number)
            .finish()
    }
}

impl CsvStream {
    /// The next chunk's rows (up to `PIECES` blocks, parsed on all cores); `None` at the end
    /// of the file.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Vec<Row>>> {
        use rayon::prelude::*;
        use std::io::Read;
        let first = self.next_cut;
        let last = (first + PIECES).min(self.cuts.len());
        if first == last {
            return Ok(None);
        }
        self.next_cut = last;
        let start = self.at;
        let end = self.cuts[last - 1];
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        let len = (end - start) as usize;
        bytes.reserve(len);
        std::io::Read::by_ref(&mut self.file)
            .take(len as u64)
            .read_to_end(&mut bytes)?;
        if bytes.len() != len {
            return Err(changed_while_read());
        }
        self.at = end;
        let mut bounds = Vec::with_capacity(last - first);
        let mut from = start;
        for &cut in &self.cuts[first..last] {
            let skip = if from == 0 && self.bom { 3 } else { 0 };
            bounds.push((
                (from - start) as usize + skip,
                (cut - start) as usize,
                from == 0,
            ));
            from = cut;
        }
        let (delimiter, encoding) = (self.delimiter, self.encoding);
        let pieces: Vec<std::io::Result<(Vec<Row>, u32)>> = bounds
            .into_par_iter()
            .map(|(a, b, first)| parse_block(&bytes[a..b], first, delimiter, encoding))
            .collect();
        self.bytes = bytes;
        let all = pieces.iter().flatten().map(|(rows, _)| rows.len()).sum();
        let mut rows = Vec::with_capacity(all);
        for piece in pieces {
            let (mut piece_rows, breaks) = piece?;
            for row in &mut piece_rows {
                row.number += self.number;
            }
            if let Some(last) = piece_rows.last() {
                self.number = last.number;
            }
            // Blank lines at a block's end count towards the next block's first row, as they
            // would in the whole file.
            self.number += breaks.saturating_sub(u32::from(!piece_rows.is_empty()));
            rows.append(&mut piece_rows);
        }
        if last == self.cuts.len() {
            drop_end_of_file_mark(&mut rows);
        }
        if self.unguard {
            super::unguard_cells(&mut rows);
        }
        Ok(Some(rows))
    }
}

/// One block's rows, numbered from 1, and the line breaks at its end. `first`: the block
/// starts the file.
fn parse_block(
    bytes: &[u8],
    first: bool,
    delimiter: u8,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> std::io::Result<(Vec<Row>, u32)> {
    // UTF-8 already in NFC (nearly every block) is parsed where it lies, not copied.
    let text: std::borrow::Cow<str> = match encoding {
        None => match std::str::from_utf8(bytes) {
            Ok(s) if is_nfc(s) => s.into(),
            Ok(s) => s.nfc().collect::<String>().into(),
            Err(_) => return Err(changed_while_read()),
        },
        // A block may start with bytes that look like a byte-order mark (`ÿþ` in Windows-1252):
        // they are text there, as in the whole file.
        Some(enc) if enc == encoding_rs::WINDOWS_1252 => to_nfc(windows_1252(bytes)).into(),
        Some(enc) => to_nfc(enc.decode_without_bom_handling(bytes).0.into_owned()).into(),
    };
    let rows = if !first && text.starts_with('\u{feff}') {
        // The csv crate drops a byte-order mark at the start of what it reads. Inside the file
        // it is text, as the whole read keeps it: a line break before it keeps it, and the rows
        // are numbered back by that line.
        let mut rows = parse(&format!("\n{text}"), delimiter).map_err(std::io::Error::other)?;
        for row in &mut rows {
            row.number -= 1;
        }
        rows
    } else {
        parse(&text, delimiter).map_err(std::io::Error::other)?
    };
    let breaks = text
        .bytes()
        .rev()
        .take_while(|&b| b == b'\n' || b == b'\r')
        .filter(|&b| b == b'\n')
        .count() as u32;
    Ok((rows, breaks))
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
        let none = Renames::new();
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3", &none), b';');
        assert_eq!(sniff_delimiter("a\tb\n", &none), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",c\n", &none), b',');
        assert_eq!(
            sniff_delimiter("Title row\nemail|record_id|name\n", &none),
            b'|'
        );
        assert_eq!(sniff_delimiter("one\n", &none), b',');
        // SPEC §2: the header row decides, not the widest line below it.
        let semicolons = "email_addr;record_id;full_name\na@x.com;R1;Doe, Jane, Q, Ph.D., MBA\n";
        assert_eq!(sniff_delimiter(semicolons, &none), b';');
        let title = "Vendor batch, Q3, 2026, final, v2\nEmail|Record ID|Name\n";
        assert_eq!(sniff_delimiter(title, &none), b'|');
        let ids = "record_id\tintegration\tuser_id\nR1\tjira,x,y,z\tu1\n";
        assert_eq!(sniff_delimiter(ids, &none), b'\t');
        // A header under two delimiters, as many columns each: the one with more fields.
        assert_eq!(
            sniff_delimiter("email_addr,full_name,z;record_id;name\n", &none),
            b','
        );
        assert_eq!(
            sniff_delimiter("email_addr,full_name,z;record_id;name;w\n", &none),
            b';'
        );
        // Both split a header: the one holding more required columns (review).
        let title = "Required: Email, Record ID, Full Name\nEmail;Record ID;Full Name\na@x.com;R1;Lee, Ann\n";
        assert_eq!(sniff_delimiter(title, &none), b';');
        // A header only `--map` names is found with its renames.
        let renames = Renames::from([
            ("mail".to_string(), "email_addr".to_string()),
            ("id".to_string(), "record_id".to_string()),
            ("who".to_string(), "full_name".to_string()),
        ]);
        let mapped = "Mail\tID\tWho\na@x.com\tR1\tDoe, Jane, Q, PhD\n";
        assert_eq!(sniff_delimiter(mapped, &none), b',');
        assert_eq!(sniff_delimiter(mapped, &renames), b'\t');
    }

    #[test]
    fn an_unclosed_quote_is_found() {
        let text = "a,b\n1,\"open\n2,3\n";
        let rows = parse(text, b',').unwrap();
        assert_eq!(unterminated_quote(text, &rows, b','), Some(2));
        let fine = "a,b\n1,\"two\nlines\"\n2,\"say \"\"hi\"\"\"\n";
        assert_eq!(
            unterminated_quote(fine, &parse(fine, b',').unwrap(), b','),
            None
        );
        // Found by the csv_reader fuzzer: an odd number of quotes, every quoted cell closed
        // (the last quote is text in a cell that did not start with one).
        let closed = "a,b\n1,\"x\ny\"z, w\",2\n";
        let rows = parse(closed, b',').unwrap();
        assert_eq!(rows.last().unwrap().cells[1].text, "x\nyz");
        assert_eq!(unterminated_quote(closed, &rows, b','), None);
    }

    #[test]
    fn the_end_of_file_mark_of_dos_is_no_value() {
        let options = ReadOptions::default();
        let texts = |bytes: &[u8]| -> Vec<Vec<String>> {
            let (rows, _) = read_bytes(bytes, &options).unwrap();
            (rows.iter())
                .filter(|r| !r.is_blank())
                .map(|r| r.cells.iter().map(|c| c.text.clone()).collect())
                .collect()
        };
        let want = vec![vec!["a", "b"], vec!["1", "2"]];
        assert_eq!(texts(b"a,b\r\n1,2\r\n\x1a"), want);
        assert_eq!(texts(b"a,b\r\n1,2\x1a"), want);
        // Anywhere else it is a value, for V008 to flag.
        assert_eq!(texts(b"a,b\r\n1\x1a,2\r\n")[1][0], "1\u{1a}");
    }

    #[test]
    fn decodes_boms_and_windows_1252() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFa", None).unwrap(),
            ("a".to_string(), None)
        );
        // A mark before Windows-1252 bytes: decoded as such and said so, not U+FFFD.
        assert_eq!(
            decode(b"\xEF\xBB\xBFJos\xE9", None).unwrap(),
            ("José".to_string(), Some("windows-1252"))
        );
        // A mark before UTF-8 with one byte gone wrong: that byte alone is lost (review).
        assert_eq!(
            decode(b"\xEF\xBB\xBFZo\xC3\xAB Caf\xE9", None).unwrap(),
            ("Zoë Caf\u{FFFD}".to_string(), None)
        );
        let (t, e) = decode(b"\xFF\xFEa\0b\0", None).unwrap();
        assert_eq!((t.as_str(), e), ("ab", Some("UTF-16LE")));
        // A lone surrogate and an odd last byte: said so.
        let (t, e) = decode(b"\xFE\xFF\0a\xD8\0\0b\0", None).unwrap();
        assert_eq!(
            (t.as_str(), e),
            (
                "a\u{FFFD}b\u{FFFD}",
                Some("UTF-16BE, with characters it could not decode (U+FFFD, V008)")
            )
        );
        let (t, e) = decode(b"Jos\xe9", None).unwrap();
        assert_eq!((t.as_str(), e), ("José", Some("windows-1252")));
        // UTF-8 rows, and one pasted in from a Windows-1252 file: each read as it is written
        // (review: the UTF-8 rows were read as Windows-1252, `ZoÃ«`).
        let (t, e) = decode(b"Zo\xC3\xAB \xE7\x8E\x8B\nZo\xEB\n", None).unwrap();
        assert_eq!((t.as_str(), e), ("Zoë 王\nZoë\n", Some("windows-1252")));
        assert!(decode(b"PK\x03\x04rest", None).unwrap_err().contains("zip"));
        assert!(decode(b"a\0b\0c\0", None).unwrap_err().contains("UTF-16"));
    }

    /// A file that is not UTF-8 is decoded in the code page its text shows (review: a Russian
    /// vendor's `Иван` loaded as `Èâàí`), or in the one `--encoding` gives.
    #[test]
    fn a_code_page_is_told_from_the_text() {
        let (ru, _, _) = encoding_rs::WINDOWS_1251.encode("a;b\nИван Петров;Продажи\nПётр;Кадры\n");
        let (t, e) = decode(&ru, None).unwrap();
        assert_eq!(
            (t.as_str(), e),
            (
                "a;b\nИван Петров;Продажи\nПётр;Кадры\n",
                Some("windows-1251")
            )
        );
        let (jp, _, _) = encoding_rs::SHIFT_JIS.encode("a,b\n山田 太郎,営業部\n");
        let (t, e) = decode(&jp, None).unwrap();
        assert_eq!(
            (t.as_str(), e),
            ("a,b\n山田 太郎,営業部\n", Some("Shift_JIS"))
        );
        // Mac Roman (Excel for Mac's "CSV"), by its letters inside words; `--encoding` reads
        // a file it takes for another.
        let mac = b"a,b\nJos\x8E Garc\x92a,Lef\x8Fvre\n";
        let (t, e) = decode(mac, None).unwrap();
        assert_eq!(
            (t.as_str(), e),
            ("a,b\nJosé García,Lefèvre\n", Some("macintosh"))
        );
        let (t, e) = decode(b"Jos\x8E Garc\x92a", Some(encoding_rs::MACINTOSH)).unwrap();
        assert_eq!((t.as_str(), e), ("José García", Some("macintosh")));
        // Windows-1252's own letters and apostrophe in that range stay Windows-1252.
        let (t, e) = decode(b"O\x92Brien,Lef\xE8vre,c\x9Cur", None).unwrap();
        assert_eq!(
            (t.as_str(), e),
            ("O’Brien,Lefèvre,cœur", Some("windows-1252"))
        );
        // What `--encoding` gives applies to bytes that are not UTF-8 only.
        let (t, e) = decode("Zoë".as_bytes(), Some(encoding_rs::MACINTOSH)).unwrap();
        assert_eq!((t.as_str(), e), ("Zoë", None));
    }

    /// A streamed file in a code page: the encoding is told from the whole file (here its
    /// first 64 KiB are ASCII), and a multi-byte one, whose second bytes can be a `|`, is read
    /// whole.
    #[test]
    fn a_streamed_code_page_is_told_from_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("email_addr;record_id;full_name\n");
        for i in 0..3000 {
            text.push_str(&format!("u{i}@acme.com;R{i};Jane Doe\n"));
        }
        text.push_str("ivan@acme.com;R-IV;Иван Петров\n");
        let path = dir.path().join("ru.csv");
        std::fs::write(&path, encoding_rs::WINDOWS_1251.encode(&text).0).unwrap();
        let options = ReadOptions::default();
        let (whole, encoding) = read(&path, &options).unwrap();
        assert_eq!(encoding, Some("windows-1251"));
        assert_eq!(whole.last().unwrap().cells[2].text, "Иван Петров");
        let streamed = open_in_blocks(&path, &options, 4096).unwrap().unwrap();
        assert_eq!(streamed.encoding, Some("windows-1251"));
        let mut rest = streamed.rest;
        let mut last = None;
        while let Some(chunk) = rest.next_chunk().unwrap() {
            last = chunk.last().map(|r| r.cells[2].text.clone()).or(last);
        }
        assert_eq!(last.as_deref(), Some("Иван Петров"));

        let jp = dir.path().join("jp.csv");
        let text = text.replace("Иван Петров", "山田 太郎");
        std::fs::write(&jp, encoding_rs::SHIFT_JIS.encode(&text).0).unwrap();
        assert!(open_in_blocks(&jp, &options, 4096).unwrap().is_none());
        assert_eq!(read(&jp, &options).unwrap().1, Some("Shift_JIS"));
    }

    /// A block ends after [`BLOCK_ROWS`] records however few bytes they are: a chunk's memory
    /// goes by its rows.
    #[test]
    fn narrow_rows_are_cut_into_blocks_by_their_number() {
        let mut text = b"a,b\n".to_vec();
        for i in 0..2000 {
            text.extend_from_slice(format!("{i},x\n").as_bytes());
        }
        let mut scanner = Scanner::new(b',', false, BLOCK);
        assert!(scanner.look(&text));
        let scan = scanner.finish();
        assert_eq!(scan.records, 2002);
        // After the header and 511 rows, then every 512 rows, then the file's end.
        let lines = |n: usize| {
            text.split_inclusive(|&b| b == b'\n')
                .take(n)
                .map(<[u8]>::len)
        };
        let cuts: Vec<u64> = [512, 1024, 1536, 2001]
            .iter()
            .map(|&n| lines(n).sum::<usize>() as u64)
            .collect();
        assert_eq!(scan.cuts, cuts);
        assert_eq!(prescan_by_memchr(&text, b',', 4096, BLOCK).cuts, cuts);
    }

    /// Every way a block boundary could fall: the streamed rows equal the rows of the whole file.
    #[test]
    fn streamed_blocks_give_the_rows_of_the_whole_file() {
        let texts: Vec<Vec<u8>> = vec![
            b"a,b\n1,2\n\n\n3,4\n5,6".to_vec(),
            b"a,b\r\n1,2\r\n\r\n3,4\r\n".to_vec(),
            b"\xEF\xBB\xBF\"a\",b\n\"x\ny\",2\n\"say \"\"hi\"\"\",3\n\n".to_vec(),
            b"a,b\nab\"c,2\nd\"e,\"f\ng\"\n4,5\n".to_vec(),
            b"a;b\nJos\xe9;2\n\"\";\"\"\"\"\n".to_vec(),
            b"a,b\nZo\xC3\xAB,1\nZo\xEB,2\n\xE7\x8E\x8B,3\n".to_vec(),
            b"\n\na,b\n1,\"two\r\nlines\"\n\n2,3\n".to_vec(),
            "a,b\nJose\u{301},2\n".as_bytes().to_vec(),
            // Found by the csv_reader fuzzer: Windows-1252 rows starting with what would be a
            // UTF-16 or UTF-8 byte-order mark at the start of a file.
            b"a,b\n\xFF\xFEx,\xE9\n\xEF\xBB\xBFy,2\n".to_vec(),
            // Also the fuzzer's: a UTF-8 byte-order mark that starts a line (and a block) inside
            // the file is text, alone on its line or before a cell.
            b"a,b\n\n\xEF\xBB\xBF\n\xEF\xBB\xBFx,1\n".to_vec(),
            // DOS's end-of-file mark after the last line break, and ending the last cell.
            b"a,b\r\n1,2\r\n\x1a".to_vec(),
            b"a,b\r\n1,2\x1a".to_vec(),
            // Also the fuzzer's: lines that are blank in Windows-1252 (a no-break space) but
            // not when read as UTF-8 decide which ten lines the delimiter is sniffed from.
            [&b"\xA0\n"[..]; 10]
                .concat()
                .into_iter()
                .chain(b"a\tb\tc\n1\t2,3\t4\n".iter().copied())
                .collect(),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (n, text) in texts.iter().enumerate() {
            let path = dir.path().join(format!("{n}.csv"));
            std::fs::write(&path, text).unwrap();
            let options = ReadOptions::default();
            let (whole, encoding) = read(&path, &options).unwrap();
            let shape = |rows: &[Row]| -> Vec<(u32, Vec<String>)> {
                rows.iter()
                    .map(|r| (r.number, r.cells.iter().map(|c| c.text.clone()).collect()))
                    .collect()
            };
            for block in 1..=text.len() as u64 + 1 {
                let streamed = open_in_blocks(&path, &options, block).unwrap().unwrap();
                assert_eq!(streamed.encoding, encoding, "file {n}");
                let mut rows = streamed.head;
                let mut rest = streamed.rest;
                while let Some(chunk) = rest.next_chunk().unwrap() {
                    rows.extend(chunk);
                }
                assert_eq!(shape(&rows), shape(&whole), "file {n}, blocks of {block}");
            }
        }
    }

    /// The prescan as it was before it looked at windows of 64 bytes: `memchr` for the odd
    /// bytes and for the three that matter, each read's bytes carried whole for the UTF-8 check.
    fn prescan_by_memchr(bytes: &[u8], delimiter: u8, read: usize, block: u64) -> Prescan {
        let mut scan = Scanner::new(delimiter, false, block).scan;
        let mut carry: Vec<u8> = Vec::new();
        let (mut offset, mut fields, mut last_cut, mut last_byte) = (0u64, 1usize, 0u64, 0u8);
        let mut records_at_cut = 1;
        let mut quotes = Quotes::new(0);
        for part in bytes.chunks(read) {
            if memchr::memchr(0, part).is_some()
                || memchr::memchr_iter(b'\r', part)
                    .any(|i| part.get(i + 1).is_some_and(|&b| b != b'\n'))
                || (last_byte == b'\r' && part[0] != b'\n')
            {
                scan.odd_bytes = true;
                return scan;
            }
            if scan.utf8 {
                carry.extend_from_slice(part);
                match std::str::from_utf8(&carry) {
                    Ok(_) => carry.clear(),
                    Err(e) if e.error_len().is_none() => carry = carry.split_off(e.valid_up_to()),
                    Err(_) => {
                        scan.utf8 = false;
                        carry.clear();
                    }
                }
            }
            for i in memchr::memchr3_iter(b'"', b'\n', delimiter, part) {
                let at = offset + i as u64;
                match quotes.step(part[i], at) {
                    Step::Inside => {}
                    Step::Record => {
                        scan.records += 1;
                        scan.widest = scan.widest.max(fields);
                        fields = 1;
                        if at + 1 - last_cut >= block || scan.records - records_at_cut >= BLOCK_ROWS
                        {
                            scan.cuts.push(at + 1);
                            last_cut = at + 1;
                            records_at_cut = scan.records;
                        }
                    }
                    Step::Field => fields += 1,
                }
            }
            last_byte = part[part.len() - 1];
            offset += part.len() as u64;
        }
        if !carry.is_empty() {
            scan.utf8 = false;
        }
        scan.open_quote = quotes.quoted;
        scan.widest = scan.widest.max(fields);
        scan.cuts.push(offset);
        scan
    }

    /// The windows of 64 bytes find what `memchr` found, for any bytes, reads and blocks.
    #[test]
    fn the_prescan_by_windows_agrees_with_memchr() {
        use proptest::prelude::*;
        let shape = |p: &Prescan| {
            if p.odd_bytes {
                // The file is read whole: nothing else of the scan is used.
                return (true, false, false, 0, 0, Vec::new());
            }
            (
                false,
                p.utf8,
                p.open_quote,
                p.records,
                p.widest,
                p.cuts.clone(),
            )
        };
        let run = |bytes: &[u8], delimiter: u8, read: usize, block: u64| {
            let mut scanner = Scanner::new(delimiter, false, block);
            for part in bytes.chunks(read) {
                if !scanner.look(part) {
                    return scanner.scan;
                }
            }
            scanner.finish()
        };
        // Mostly plain text, so that windows without a quote (the counted path) come often.
        let byte = prop_oneof![
            8 => Just(b'a'),
            4 => Just(b','),
            2 => Just(b'\n'),
            1 => Just(b'"'),
            1 => Just(b';'),
            1 => Just(b'\r'),
            1 => Just(0xC3),
            1 => Just(0xA9),
            1 => Just(0xE2),
            1 => Just(0x82),
            1 => Just(0xAC),
            1 => Just(0xE9),
        ];
        let rare = |b: u8| prop_oneof![20 => Just(b'a'), 1 => Just(b)];
        let text = prop_oneof![
            proptest::collection::vec(byte, 0..400),
            // No carriage return, no NUL: longer runs of windows get past the odd-byte check.
            proptest::collection::vec(
                prop_oneof![6 => Just(b'a'), 3 => Just(b','), 1 => Just(b'\n'), 1 => rare(b'"')],
                0..700
            ),
            proptest::collection::vec(rare(0), 0..200),
        ];
        proptest!(ProptestConfig::with_cases(3_000), |(
            bytes in text,
            delimiter in prop_oneof![Just(b','), Just(b';'), Just(b'"'), Just(b'\n'), Just(b'\r')],
            read in 1usize..200,
            block in 1u64..300,
        )| {
            let windows = run(&bytes, delimiter, read, block);
            let memchr = prescan_by_memchr(&bytes, delimiter, read, block);
            prop_assert_eq!(shape(&windows), shape(&memchr), "{:?}", String::from_utf8_lossy(&bytes));
        });
    }

    #[test]
    fn files_a_block_cannot_read_alone_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            &b"a,b\n1,\"open\n2,3\n"[..],
            b"a,b\r1,2\r",
            b"a,b\n1,\0\n",
            b"\xFF\xFEa\0",
            // Found by the csv_reader fuzzer: a BOM, then a byte that is not UTF-8.
            b"\xEF\xBB\xBFu\xB2+c",
        ] {
            let path = dir.path().join("x.csv");
            std::fs::write(&path, text).unwrap();
            assert!(open_in_blocks(&path, &ReadOptions::default(), 4)
                .unwrap()
                .is_none());
        }
    }

    #[test]
    fn text_is_nfc() {
        let (t, _) = decode("Jose\u{301}".as_bytes(), None).unwrap();
        assert_eq!(t, "Jos\u{e9}");
    }

    #[test]
    fn the_nfc_check_by_runs_agrees_with_the_whole_quick_check() {
        let whole = |t: &str| {
            unicode_normalization::is_nfc_quick(t.chars())
                == unicode_normalization::IsNormalized::Yes
        };
        for text in [
            "",
            "plain ascii, 123",
            "Jos\u{e9} Mar\u{ed}a",
            "Jose\u{301}",
            "e\u{301}",
            "\u{301} at the start",
            "a\u{323}\u{301} in order, a\u{301}\u{323} not",
            "a\u{301}\u{323}",
            "\u{1100}\u{1161} hangul jamo",
            "\u{212b} angstrom sign",
            "日本語 and ascii",
            "ｶ half-width",
        ] {
            assert_eq!(is_nfc(text), whole(text), "{text:?}");
        }
        use proptest::prelude::*;
        let char = prop_oneof![
            Just('a'),
            Just(' '),
            Just('e'),
            Just('\u{e9}'),
            Just('\u{301}'),
            Just('\u{323}'),
            Just('\u{1100}'),
            Just('\u{1161}'),
            Just('\u{212b}'),
            Just('日'),
        ];
        proptest!(ProptestConfig::with_cases(5_000), |(
            chars in proptest::collection::vec(char, 0..150)
        )| {
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(is_nfc(&text), whole(&text), "{:?}", text);
        });
    }
}
