//! Reading batches: files become [`Sheet`]s of typed [`Cell`]s with the row and column numbers a
//! spreadsheet program shows. Nothing here judges values; it only records what the file held.

pub mod csv;
pub mod headers;
pub mod jsonl;
pub mod merged;
pub mod notes;
pub mod ods;
pub mod workbook;
pub mod xls;

pub use merged::Hidden;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How a cell's text came to be, for the raw-cell checks (V007, V009, N009).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CellOrigin {
    /// Text as written (CSV, or a text cell).
    #[default]
    Text,
    /// A numeric cell; the text is the number as a spreadsheet shows it.
    Number,
    /// A numeric cell of 16 or more significant digits: beyond a double's precision.
    ImpreciseNumber,
    /// A numeric cell whose number format shows it in scientific notation (`0.00E+00`): the
    /// sheet shows `1.23E+11`, and the number may be what a spreadsheet kept of such text.
    ScientificNumber,
    /// A date-typed or date-formatted cell; the text is the ISO date.
    Date,
    /// A formula cell; the text is `=` and the formula.
    Formula,
    /// A numeric cell whose number format pads with zeros; the text has the padding restored.
    Padded,
    /// A boolean cell; the text is `TRUE` or `FALSE`, as a spreadsheet shows it.
    Bool,
}

/// One cell as read. `col` is the 0-based column index on its sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub origin: CellOrigin,
    /// A cell under the top of cells merged over rows, whose value the sheet shows over it
    /// ([`merged`]): filled with it (N010), or holding another (V011).
    pub covered: Option<Covered>,
}

/// Where a cell sits under the top of cells merged over rows: the top's row, and whether the
/// cell took the top's value (an empty cell of a shared value, N010) or kept its own, which
/// the sheet does not show (V011: a value hidden by the merge, or a key left empty).
///
/// One `u32`, so that a cell stays 32 bytes: the top bit says "filled". No sheet has 2^31
/// rows (XLSX and ODS stop at 2^20, LibreOffice's newest at 2^24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Covered(std::num::NonZeroU32);

impl Covered {
    const FILLED: u32 = 1 << 31;

    /// Filled with the value of the top in row `top`; `None` for a row past 2^31 - 1.
    pub fn filled(top: u32) -> Option<Covered> {
        Self::kept(top).map(|c| Covered(c.0 | Self::FILLED))
    }

    /// Holding a value of its own, or none in a key's column, under the top in row `top`.
    pub fn kept(top: u32) -> Option<Covered> {
        std::num::NonZeroU32::new(top)
            .filter(|_| top < Self::FILLED)
            .map(Covered)
    }

    /// The row of the merged cells' top.
    pub fn top(self) -> u32 {
        self.0.get() & !Self::FILLED
    }

    pub fn is_filled(self) -> bool {
        self.0.get() & Self::FILLED != 0
    }
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            origin: CellOrigin::Text,
            covered: None,
        }
    }
}

/// One row of a sheet: its spreadsheet row number (1-based) and its cells by 0-based column.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn cell(&self, col: usize) -> Option<&Cell> {
        self.cells.get(col)
    }
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.text.trim().is_empty())
    }
}

/// The rows that hold something, without their empty trailing cells: what two reads of one
/// sheet must agree on (a whole read keeps blank rows and pads rows to the sheet's width).
pub fn filled_rows(rows: &[Row]) -> Vec<(u32, &[Cell])> {
    rows.iter()
        .filter(|r| !r.is_blank())
        .map(|r| {
            let width = r
                .cells
                .iter()
                .rposition(|c| *c != Cell::default())
                .map_or(0, |i| i + 1);
            (r.number, &r.cells[..width])
        })
        .collect()
}

/// What a sheet holds, from its name (workbook) or file name (CSV directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SheetKind {
    Users,
    Itsm,
    Channel,
    Idm,
    Bot,
}

impl SheetKind {
    pub fn sheet_name(self) -> &'static str {
        match self {
            SheetKind::Users => "Users",
            SheetKind::Itsm => "ITSM IDs",
            SheetKind::Channel => "Channel IDs",
            SheetKind::Idm => "IDM IDs",
            SheetKind::Bot => "Bot Account",
        }
    }
    pub fn file_stem(self) -> &'static str {
        match self {
            SheetKind::Users => "users",
            SheetKind::Itsm => "itsm_ids",
            SheetKind::Channel => "channel_ids",
            SheetKind::Idm => "idm_ids",
            SheetKind::Bot => "bot_account",
        }
    }
    pub const ALL: [SheetKind; 5] = [
        SheetKind::Users,
        SheetKind::Itsm,
        SheetKind::Channel,
        SheetKind::Idm,
        SheetKind::Bot,
    ];
    /// Matches a sheet name or file stem, ignoring case, spaces, dashes and underscores.
    pub fn from_name(name: &str) -> Option<SheetKind> {
        let f = headers::fold(name);
        SheetKind::ALL
            .into_iter()
            .find(|k| headers::fold(k.sheet_name()) == f || headers::fold(k.file_stem()) == f)
    }
    pub fn is_user_sheet(self) -> bool {
        matches!(self, SheetKind::Users | SheetKind::Bot)
    }
}

/// The kind a sheet or file name stands for when it is a copy or a shortening of one muster
/// reads (`ITSM`, `ITSM IDs (2)`, `Copy of Users`, `itsm_ids_old.csv`): F008, for its rows
/// would otherwise be lost. Names that only look alike (`Changes`, `Channel Partners`,
/// `Uses`) are not: they are F004 like any other (review: a similarity score blocked
/// workbooks with a `Change Log` sheet).
pub fn near_kind(name: &str) -> Option<SheetKind> {
    let mut folded = headers::fold(&lookalikes_folded(name));
    if let Some(rest) = folded.strip_prefix("copyof") {
        folded = rest.to_string();
    }
    // Copy endings, any number of them: `(2)`, `2`, `(old)`, `old`, `copy`, `backup`, `bak`,
    // a version (`v2`, `final`), Apple Numbers' export's ` - Table 1` (review).
    loop {
        let before = folded.len();
        for ending in [
            "(old)", "(copy)", "(backup)", "(final)", "(new)", "old", "copy", "backup", "bak",
            "final", "new", "latest", "updated", "draft", "fixed", "table", "v", ".",
        ] {
            if let Some(rest) = folded.strip_suffix(ending) {
                folded = rest.to_string();
            }
        }
        if let Some(inner) = folded.strip_suffix(')') {
            if let Some((rest, number)) = inner.rsplit_once('(') {
                if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
                    folded = rest.to_string();
                }
            }
        }
        folded = folded
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        if folded.len() == before {
            break;
        }
    }
    let known = SheetKind::ALL.into_iter().find(|k| {
        let names = [headers::fold(k.sheet_name()), headers::fold(k.file_stem())];
        // The name itself, its singular (`User`), or an ID sheet's without `IDs` (`ITSM`).
        names.iter().any(|n| {
            *n == folded
                || n.strip_suffix('s') == Some(folded.as_str())
                || n.strip_suffix("ids") == Some(folded.as_str())
        })
    });
    // A system's own IDs (`Slack IDs`, `servicenow_ids.csv`): its list's sheet (review).
    known.or_else(|| {
        let system = folded.strip_suffix("ids")?;
        SYSTEMS
            .iter()
            .find(|(names, _)| names.contains(&system))
            .map(|(_, kind)| *kind)
    })
}

/// A sheet's or file's name as it looks: compatibility forms (`ＩＴＳＭ`) as their letters,
/// invisible format characters (U+200B, U+200F) left out, other dashes as `-`, and the Cyrillic
/// and Greek letters that look like the Latin ones of the layout's names as those. A name that
/// only looks like one muster reads is then F008, not an ignored sheet whose rows go unchecked
/// and unloaded (security review: `ITSM IDs\u{200B}`, `ІTSM IDs` with a Cyrillic `І`).
pub(crate) fn lookalikes_folded(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    if name.is_ascii() {
        return name.to_string();
    }
    let category =
        icu_properties::CodePointMapData::<icu_properties::props::GeneralCategory>::new();
    name.nfkc()
        .filter(|&c| category.get(c) != icu_properties::props::GeneralCategory::Format)
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            'А' | 'а' | 'Α' | 'α' => 'a',
            'В' | 'в' | 'Β' => 'b',
            'С' | 'с' | 'ϲ' => 'c',
            'Е' | 'е' | 'Ε' | 'ε' => 'e',
            'Н' | 'н' | 'Η' => 'h',
            'І' | 'і' | 'Ι' | 'ι' | 'ӏ' => 'i',
            'Ј' | 'ј' => 'j',
            'К' | 'к' | 'Κ' | 'κ' => 'k',
            'М' | 'м' | 'Μ' => 'm',
            'Ν' | 'ν' => 'n',
            'О' | 'о' | 'Ο' | 'ο' => 'o',
            'Р' | 'р' | 'Ρ' | 'ρ' => 'p',
            'Ѕ' | 'ѕ' => 's',
            'Т' | 'т' | 'Τ' | 'τ' => 't',
            'Х' | 'х' | 'Χ' | 'χ' => 'x',
            'У' | 'у' | 'Υ' => 'y',
            'Ԁ' | 'ԁ' => 'd',
            c => c,
        })
        .collect()
}

/// What makes a name only look like one muster reads, for F008's message: ` (it holds
/// U+200B)`, or nothing for a name of plain letters.
fn lookalike_note(name: &str) -> String {
    match name.chars().find(|c| !c.is_ascii()) {
        Some(c) if lookalikes_folded(name) != name => format!(" (it holds U+{:04X})", c as u32),
        _ => String::new(),
    }
}

/// Systems whose users' ids a vendor may put on a sheet named after them, by list.
const SYSTEMS: [(&[&str], SheetKind); 3] = [
    (
        &[
            "servicenow",
            "snow",
            "jira",
            "jiraservicedesk",
            "jsm",
            "jiraservicemanagement",
            "zendesk",
            "freshservice",
            "ivanti",
            "cherwell",
            "remedy",
            "bmc",
            "helix",
            "salesforce",
            "topdesk",
        ],
        SheetKind::Itsm,
    ),
    (
        &[
            "slack",
            "teams",
            "msteams",
            "microsoftteams",
            "googlechat",
            "webex",
            "chat",
        ],
        SheetKind::Channel,
    ),
    (
        &[
            "okta",
            "azuread",
            "azure",
            "entra",
            "entraid",
            "ad",
            "activedirectory",
            "ping",
            "pingone",
            "onelogin",
            "google",
            "googleworkspace",
            "idp",
            "sso",
        ],
        SheetKind::Idm,
    ),
];

/// What a file in a directory batch is to the reader: a `.csv` or `.tsv` named as one of the
/// layout's files (`users.csv`, `itsm_ids.csv`, …), or nothing (F004).
pub fn directory_file_kind(path: &Path) -> Option<SheetKind> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("tsv"));
    SheetKind::from_name(stem).filter(|_| is_csv)
}

/// A table read from one file or one sheet, before header mapping.
#[derive(Debug)]
pub struct Sheet {
    /// The file as given on the command line, or `dir/users.csv` for a directory batch.
    pub file: String,
    /// The sheet name; `None` for CSV.
    pub sheet: Option<String>,
    pub kind: SheetKind,
    /// Position of the file in the batch, then of the sheet in its workbook, for sorting findings.
    pub order: (usize, usize),
    pub rows: Vec<Row>,
    /// The encoding when it was not UTF-8 (F005).
    pub encoding: Option<&'static str>,
    /// Whether findings name column letters (not for JSONL, whose columns are synthetic).
    pub lettered: bool,
    /// A CSV file, or a workbook muster annotated from one: a row longer than its header is a
    /// value split at a delimiter not in quotes (V012), not a note beside the table (F004).
    pub delimited: bool,
    /// A streamed CSV: the rows after those in `rows`, read while validation runs.
    pub rest: Option<RowStream>,
    /// The rows and columns the sheet hides (XLSX, ODS): read as the others are (V013).
    pub hidden: Hidden,
}

/// The rows of a streamed sheet (a CSV file, or a sheet of an XLSX workbook) that follow those
/// already in [`Sheet::rows`], a chunk at a time. Behind a lock so that validation, which
/// borrows the batch, can take them.
pub struct RowStream {
    source: std::sync::Mutex<StreamSource>,
    /// About how many rows the whole sheet holds, for progress bars.
    pub rows_hint: usize,
}

enum StreamSource {
    Csv(csv::CsvStream),
    Workbook(workbook::SheetStream),
}

impl std::fmt::Debug for RowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("rows_hint", &self.rows_hint)
            .finish()
    }
}

impl RowStream {
    pub(crate) fn csv(stream: csv::CsvStream) -> RowStream {
        RowStream {
            rows_hint: stream.rows_hint,
            source: std::sync::Mutex::new(StreamSource::Csv(stream)),
        }
    }

    pub(crate) fn workbook(stream: workbook::SheetStream, rows_hint: usize) -> RowStream {
        RowStream {
            rows_hint,
            source: std::sync::Mutex::new(StreamSource::Workbook(stream)),
        }
    }

    /// Whether the rows are parsed on a thread of their own (a workbook's sheet reader) while
    /// validation runs, rather than when asked for.
    pub fn has_reader_thread(&self) -> bool {
        matches!(
            &*self.source.lock().unwrap_or_else(|e| e.into_inner()),
            StreamSource::Workbook(_)
        )
    }

    /// The next chunk's rows; `None` when the sheet is done. An error is what made the rest of
    /// the sheet unreadable, for an F001 about it.
    pub fn next_chunk(&self) -> Result<Option<Vec<Row>>, ReadProblem> {
        match &mut *self.source.lock().unwrap_or_else(|e| e.into_inner()) {
            StreamSource::Csv(stream) => stream
                .next_chunk()
                .map_err(|e| ReadProblem::unreadable(format!("cannot read the file: {e}"))),
            StreamSource::Workbook(stream) => stream.next_chunk(),
        }
    }
}

/// A problem with a whole file or sheet, found while reading (F001, F004, F007), or with one
/// JSONL record (D003: its row and record id are given, and it makes only that record invalid).
#[derive(Debug, Clone, Default)]
pub struct FileProblem {
    pub file: String,
    pub sheet: Option<String>,
    pub order: (usize, usize),
    pub code: &'static str,
    pub message: String,
    pub row: Option<u32>,
    pub field: Option<&'static str>,
    pub record_id: Option<String>,
    pub value: Option<String>,
}

/// A workbook sheet muster does not validate (`Instructions`, …), kept only when an annotated
/// workbook will be written, so the vendor gets their whole workbook back.
#[derive(Debug, Clone)]
pub struct OtherSheet {
    pub file: String,
    pub name: String,
    pub order: (usize, usize),
    pub rows: Vec<Row>,
}

/// Everything read from the inputs.
#[derive(Debug, Default)]
pub struct Batch {
    pub sheets: Vec<Sheet>,
    /// Ignored workbook sheets, read only with [`ReadOptions::keep_other_sheets`].
    pub others: Vec<OtherSheet>,
    pub problems: Vec<FileProblem>,
    /// Files given, with whether each held a users table (F007 otherwise).
    pub files: Vec<String>,
    /// The vendor's notes on an XLSX or ODS workbook's cells, by file and sheet, read only with
    /// [`ReadOptions::keep_other_sheets`] (for `--annotate`, which writes them back).
    pub notes: HashMap<(String, String), Vec<notes::CellNote>>,
    /// Each file read, as it was when its reading began ([`Batch::changed_file`]).
    pub stamps: Stamps,
}

/// Files, each with its stamp when a reading of it began.
pub type Stamps = Vec<(PathBuf, Option<FileStamp>)>;

/// The first of the files stamped that is no longer as its stamp says.
pub fn changed_since(stamps: &[(PathBuf, Option<FileStamp>)]) -> Option<&Path> {
    (stamps.iter())
        .find(|(path, stamp)| FileStamp::of(path) != *stamp)
        .map(|(path, _)| path.as_path())
}

impl Batch {
    /// The first file read that is not as it was when its reading began: rewritten in place
    /// while muster read it (a drop folder's upload, a copy over it), its rows may be of two
    /// versions, and its SHA-256 of neither (store review: 7 runs in 7 loaded a mix, exit 0).
    /// A streamed file is read to its end by the time validation ends.
    pub fn changed_file(&self) -> Option<&Path> {
        changed_since(&self.stamps)
    }
}

impl Sheet {
    /// `decoded as ENCODING`, with what the decoding made of the first value of the sheet's
    /// first rows with a character beyond ASCII: a short file gives the detector little to go
    /// on, and the value shows at a glance whether it is right (locale review: Turkish and
    /// Hungarian names loaded as `Ayþe Þahin`, said by `decoded as windows-1252` alone). Not
    /// for UTF-16, which its byte-order mark names.
    pub fn decoded_as(&self, encoding: &str) -> String {
        let sample = (self.rows.iter().take(1000))
            .flat_map(|r| &r.cells)
            .map(|c| c.text.trim())
            .find(|t| t.chars().any(|c| !c.is_ascii() && c.is_alphabetic()))
            .filter(|_| !encoding.starts_with("UTF-16"));
        match sample {
            Some(text) => {
                let mut shown: String = text.chars().take(40).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                format!("decoded as {encoding}; the first value with letters beyond ASCII reads `{shown}`")
            }
            None => format!("decoded as {encoding}"),
        }
    }
}

impl Batch {
    /// A line for each file decoded from another encoding than UTF-8 (SPEC §5's summary).
    pub fn encodings(&self) -> Vec<String> {
        (self.sheets.iter())
            .filter_map(|s| {
                s.encoding
                    .map(|e| format!("{} {}", s.file, s.decoded_as(e)))
            })
            .collect()
    }
}

/// Limits on what a reader accepts (SPEC §2), each raised by a flag.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_columns: usize,
    pub max_rows: usize,
    /// What a workbook's zip parts may unpack to, checked before anything is decompressed.
    pub max_unpacked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_columns: 16_384,
            max_rows: 10_000_000,
            max_unpacked_bytes: 1 << 30,
        }
    }
}

/// How to read: the delimiter override and the limits.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub delimiter: Option<u8>,
    /// The encoding of CSV files that are not UTF-8 (`--encoding`), instead of the one their
    /// text shows.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The `--map` renames: the CSV reader finds the header row, and so the delimiter, with
    /// them.
    pub renames: headers::Renames,
    pub limits: Limits,
    /// Read the cells of ignored workbook sheets too (for `--annotate`).
    pub keep_other_sheets: bool,
    /// Read a CSV file, or the sheets of an XLSX workbook, a chunk at a time while they are
    /// validated, rather than whole (SPEC §8).
    pub stream: bool,
    /// Read workbooks whole even when streaming: `--annotate` reads a streamed CSV a second time
    /// to write it back, but writes a workbook's sheets in workbook order, which its reader
    /// thread (ID sheets first) does not give.
    pub workbooks_whole: bool,
}

/// F001 when a table is wider or longer than the limits allow.
pub fn check_size(rows: &[Row], sheet: Option<&str>, limits: &Limits) -> Result<(), ReadProblem> {
    let what = sheet.map(|s| format!("sheet `{s}` ")).unwrap_or_default();
    if rows.len() > limits.max_rows {
        return Err(ReadProblem::unreadable(format!(
            "{what}has more than {} rows (raise the limit with --max-rows)",
            limits.max_rows
        )));
    }
    if let Some(row) = rows.iter().find(|r| r.cells.len() > limits.max_columns) {
        return Err(ReadProblem::unreadable(format!(
            "{what}row {} has {} columns, more than {} (raise the limit with --max-columns)",
            row.number,
            row.cells.len(),
            limits.max_columns
        ))
        .at_row(row.number));
    }
    Ok(())
}

/// What tells one state of a file from another: its length, times of change and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
    changed: (i64, i64),
}

impl FileStamp {
    pub fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        // The time of the inode's last change too, which no one can set back: `cp -p` gives
        // the copy the source's time of modification (adversarial review).
        #[cfg(unix)]
        let (inode, changed) = {
            use std::os::unix::fs::MetadataExt;
            (m.ino(), (m.ctime(), m.ctime_nsec()))
        };
        #[cfg(not(unix))]
        let (inode, changed) = (0, (0, 0));
        Some(FileStamp {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
            changed,
        })
    }
}

/// Reads every input into one batch. A file that cannot be read becomes an F001 problem and the
/// others are still read; only a path that does not exist is an error (exit code 2).
pub fn read_batch(inputs: &[PathBuf], options: &ReadOptions) -> Result<Batch, InputError> {
    let mut batch = Batch::default();
    for (i, path) in inputs.iter().enumerate() {
        if path.as_os_str() == "-" {
            batch.files.push("-".to_string());
            let mut bytes = Vec::new();
            let read = std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes);
            let result = read
                .map_err(|e| ReadProblem::unreadable(format!("cannot read standard input: {e}")))
                .and_then(|_| csv::read_bytes(&bytes, options));
            push_csv(&mut batch, result, "-", i, SheetKind::Users);
            continue;
        }
        let Ok(meta) = std::fs::metadata(path) else {
            return Err(InputError::NotFound(path.clone()));
        };
        // `<(curl …)`, `/dev/stdin`, a named pipe: what a first read takes is gone for the
        // next (review: a false "the file is empty", or a wait for ever).
        if !meta.is_file() && !meta.is_dir() {
            return Err(InputError::NotAFile(path.clone()));
        }
        let shown = path.display().to_string();
        batch.files.push(shown.clone());
        if path.is_dir() {
            read_dir(&mut batch, path, i, options);
        } else {
            read_file(&mut batch, path, &shown, i, options, None);
        }
    }
    Ok(batch)
}

/// The extensions muster reads as a workbook (calamine's formats).
pub(crate) const WORKBOOK_EXTENSIONS: [&str; 5] = ["xlsx", "xlsm", "xls", "xlsb", "ods"];

fn read_dir(batch: &mut Batch, dir: &Path, i: usize, options: &ReadOptions) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            batch.problems.push(FileProblem {
                file: dir.display().to_string(),
                sheet: None,
                order: (i, 0),
                code: "F001",
                message: format!("cannot read directory `{}`: {e}", dir.display()),
                ..Default::default()
            });
            return;
        }
    };
    entries.sort();
    let present: Vec<SheetKind> = entries
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| directory_file_kind(p))
        .collect();
    let inside = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    for path in entries {
        let shown = path.display().to_string();
        let kind = directory_file_kind(&path);
        if let Some(target) = kind.and_then(|_| linked_outside(&path, &inside)) {
            batch.problems.push(FileProblem {
                file: shown,
                sheet: None,
                order: (i, 0),
                code: "F001",
                message: format!(
                    "not read: a symbolic link to `{}`, outside the directory; copy the file into the directory to have it read",
                    target.display()
                ),
                ..Default::default()
            });
            continue;
        }
        match kind {
            Some(kind) if path.is_file() => read_file(batch, &path, &shown, i, options, Some(kind)),
            _ => {
                // A table named as one of the layout's, a copy or a shortening of one
                // (`itsm.csv`, `itsm_ids (1).csv`), or saved in another format (`itsm_ids.xlsx`,
                // Excel's Unicode text `users.txt`, `itsm_ids.csv.bak`): F008, as for a sheet,
                // for its rows would be lost while the users load (review).
                let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
                let mut parts = name.split('.');
                let base = parts.next().unwrap_or("");
                let mut extensions: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
                // A backup keeps its table's extension before its own (`.csv.bak`); a
                // temporary file (`.csv.tmp`) is no table anyone meant to send (review).
                if extensions.len() > 1
                    && extensions.last().is_some_and(|e| {
                        matches!(e.as_str(), "bak" | "old" | "orig" | "backup" | "copy")
                    })
                {
                    extensions.pop();
                }
                let last = extensions.last().map_or("", String::as_str);
                let workbook = WORKBOOK_EXTENSIONS.contains(&last);
                let is_table = workbook || matches!(last, "csv" | "tsv" | "txt");
                let near = near_kind(base)
                    .filter(|_| is_table && path.is_file())
                    .map(SheetKind::file_stem);
                let (code, message) = match near {
                    Some(known) => {
                        let way = if workbook {
                            format!("save it as CSV, `{known}.csv`, to have its rows read")
                        } else if present.iter().any(|k| k.file_stem() == known) {
                            format!("move its rows to `{known}.csv` to have them read")
                        } else {
                            format!("rename it `{known}.csv` to have its rows read")
                        };
                        ("F008", format!("not read{}: its name is not one of users.csv, itsm_ids.csv, channel_ids.csv, idm_ids.csv, bot_account.csv; {way}, or move it out of the directory", lookalike_note(name)))
                    }
                    None => ("F004", "not one of users.csv, itsm_ids.csv, channel_ids.csv, idm_ids.csv, bot_account.csv and was ignored".to_string()),
                };
                batch.problems.push(FileProblem {
                    file: shown.clone(),
                    sheet: None,
                    order: (i, 10),
                    code,
                    message,
                    ..Default::default()
                })
            }
        }
    }
}

/// Where a directory batch's member leads when it is a symbolic link out of the directory
/// `inside` (resolved): such a file is not read. A vendor's folder unpacked from a zip can hold
/// `idm_ids.csv -> /etc/passwd`, whose lines the annotated workbook would send back to the
/// vendor (security review).
fn linked_outside(path: &Path, inside: &Path) -> Option<PathBuf> {
    let link = std::fs::symlink_metadata(path).ok()?;
    if !link.file_type().is_symlink() {
        return None;
    }
    // A link that leads nowhere is left to the read, which says the file cannot be read.
    let target = std::fs::canonicalize(path).ok()?;
    (target.parent() != Some(inside)).then_some(target)
}

fn read_file(
    batch: &mut Batch,
    path: &Path,
    shown: &str,
    i: usize,
    options: &ReadOptions,
    kind: Option<SheetKind>,
) {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let sub = kind.map_or(0, |k| k as usize);
    batch.stamps.push((path.to_path_buf(), FileStamp::of(path)));
    // Excel's owner file beside a workbook it has open (`~$batch.xlsx`, 165 bytes), which a
    // wildcard hands muster: said as what it is (Windows review: "not a workbook: it looks like
    // text", or UTF-16 without a byte-order mark).
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if let Some(of) = name.strip_prefix("~$") {
        if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= 4096) {
            batch.problems.push(FileProblem {
                file: shown.to_string(),
                order: (i, sub),
                code: "F001",
                message: format!("Excel's lock file, which says who has a workbook named like `…{of}` open, not a batch: leave it out (it goes when the workbook is closed)"),
                ..Default::default()
            });
            return;
        }
    }
    let result = match ext.as_str() {
        ext if WORKBOOK_EXTENSIONS.contains(&ext) => workbook::read(path, shown, i, options).map(|(sheets, others, notes)| {
            // The vendor's notes are all written back, up to a bound: rust_xlsxwriter holds every
            // note and its drawing in memory (security review: a 2.5 MB workbook of a million
            // notes took 13 GB, then aborted).
            let mut notes: Vec<(String, Vec<notes::CellNote>)> = notes.into_iter().collect();
            notes.sort_by(|a, b| a.0.cmp(&b.0));
            let mut left = crate::annotate::MAX_NOTES;
            let mut dropped = 0;
            for (name, mut notes) in notes {
                dropped += notes.len().saturating_sub(left);
                notes.truncate(left);
                left -= notes.len();
                if !notes.is_empty() {
                    batch.notes.insert((shown.to_string(), name), notes);
                }
            }
            if dropped > 0 {
                batch.problems.push(FileProblem {
                    file: shown.to_string(),
                    sheet: None,
                    order: (i, 0),
                    code: "F004",
                    message: format!(
                        "the workbook has {dropped} more notes than the {} an annotated workbook carries; those are not written back",
                        crate::annotate::MAX_NOTES
                    ),
                    ..Default::default()
                });
            }
            for other in others {
                let name = other.name.clone();
                // A sheet named almost as one muster reads (`ITSM`, `ITSM IDs (2)`) likely holds
                // rows meant to be read: F008, an error, for they would be lost without a sound.
                let known = near_kind(&name).map(SheetKind::sheet_name);
                let (code, message) = match known {
                    Some(known) => {
                        let way = if sheets.iter().any(|s| s.sheet.as_deref() == Some(known)) {
                            format!("move its rows to `{known}` to have them read")
                        } else {
                            format!("rename it `{known}` to have its rows read")
                        };
                        ("F008", format!("sheet `{name}`{} was not read: its name is not one of Users, ITSM IDs, Channel IDs, IDM IDs, Bot Account; {way}, or delete it", lookalike_note(&name)))
                    }
                    None => ("F004", format!("sheet `{name}` is not one of Users, ITSM IDs, Channel IDs, IDM IDs, Bot Account and was ignored")),
                };
                batch.problems.push(FileProblem {
                    file: shown.to_string(),
                    sheet: Some(name.clone()),
                    order: other.order,
                    code,
                    message,
                    ..Default::default()
                });
                if options.keep_other_sheets {
                    batch.others.push(other);
                }
            }
            sheets
        }),
        // `--out records.json` writes one JSON array, which has no line for a record's findings.
        "json" => Err(ReadProblem::unreadable(
            "a JSON file: muster reads records as JSONL, one record per line (write them with `--out records.jsonl`)".to_string(),
        )),
        "jsonl" | "ndjson" => jsonl::read(path, shown, i).map(|(sheets, ignored, entries)| {
            for e in entries {
                batch.problems.push(FileProblem {
                    file: shown.to_string(),
                    order: (i, 0),
                    code: e.code,
                    message: e.message,
                    row: Some(e.line),
                    field: Some(e.field),
                    record_id: Some(e.record_id),
                    value: Some(e.value),
                    ..Default::default()
                });
            }
            for (key, line) in ignored {
                batch.problems.push(FileProblem {
                    file: shown.to_string(),
                    sheet: None,
                    order: (i, 0),
                    code: "F004",
                    message: format!(
                        "key `{key}` (first on line {line}) is not part of a record and was ignored"
                    ),
                    ..Default::default()
                });
            }
            sheets
        }),
        _ => {
            let kind = kind.unwrap_or(SheetKind::Users);
            if options.stream {
                match csv::open_streamed(path, options) {
                    Ok(Some(streamed)) => {
                        return batch.sheets.push(Sheet {
                            file: shown.to_string(),
                            sheet: None,
                            kind,
                            order: (i, kind as usize),
                            rows: streamed.head,
                            encoding: streamed.encoding,
                            lettered: true,
                            delimited: true,
                            rest: Some(RowStream::csv(streamed.rest)),
                            hidden: Default::default(),
                        });
                    }
                    Ok(None) => {}
                    Err(err) => return push_csv(batch, Err(err), shown, i, kind),
                }
            }
            return push_csv(batch, csv::read(path, options), shown, i, kind);
        }
    };
    match result {
        Ok(sheets) => batch.sheets.extend(sheets),
        Err(err) => batch.problems.push(FileProblem {
            file: shown.to_string(),
            sheet: err.sheet.clone(),
            order: (i, sub),
            code: err.code,
            message: err.message,
            row: err.row,
            ..Default::default()
        }),
    }
}

fn push_csv(
    batch: &mut Batch,
    result: Result<(Vec<Row>, Option<&'static str>), ReadProblem>,
    shown: &str,
    i: usize,
    kind: SheetKind,
) {
    let order = (i, kind as usize);
    match result {
        Ok((mut rows, encoding)) => {
            unguard_export(&mut rows);
            batch.sheets.push(Sheet {
                file: shown.to_string(),
                sheet: None,
                kind,
                order,
                rows,
                encoding,
                lettered: true,
                delimited: true,
                rest: None,
                hidden: Default::default(),
            })
        }
        Err(err) => batch.problems.push(FileProblem {
            file: shown.to_string(),
            sheet: None,
            order,
            code: err.code,
            message: err.message,
            row: err.row,
            ..Default::default()
        }),
    }
}

/// A CSV that `muster export` wrote (it has a `row_version` column) guards every cell a
/// spreadsheet would run as a formula with a leading `'` (SPEC §6); that `'` is taken off again,
/// so `-5` and `+1 555 0100` survive the round trip. Returns whether the rows are such an export.
#[doc(hidden)]
pub fn unguard_export(rows: &mut [Row]) -> bool {
    let exported = is_export(rows);
    if exported {
        unguard_cells(rows);
    }
    exported
}

/// Whether a header among the first rows is `row_version`: rows `muster export` wrote.
pub(crate) fn is_export(rows: &[Row]) -> bool {
    rows.iter().take(10).any(|r| {
        r.cells
            .iter()
            .any(|c| headers::fold(&c.text) == "rowversion")
    })
}

/// Takes off the `'` that [`crate::report::guard_formula`] put before a guarded character, and
/// only that one: a name typed as `'t Hooft` keeps its `'` (review).
fn unguard_cells(rows: &mut [Row]) {
    for cell in rows.iter_mut().flat_map(|r| r.cells.iter_mut()) {
        if crate::report::looks_guarded(&cell.text) {
            cell.text.remove(0);
        }
    }
}

/// A file-level problem found by a reader.
#[derive(Debug, Clone)]
pub struct ReadProblem {
    pub code: &'static str,
    pub sheet: Option<String>,
    pub message: String,
    /// The row (a JSONL file's line) the message names, for the finding's `row` (review: it
    /// was `null` beside "line 5").
    pub row: Option<u32>,
}

impl ReadProblem {
    pub fn unreadable(message: String) -> Self {
        ReadProblem {
            code: "F001",
            sheet: None,
            message,
            row: None,
        }
    }

    pub fn at_row(self, row: u32) -> Self {
        ReadProblem {
            row: Some(row),
            ..self
        }
    }
}

/// Errors that stop the tool (exit code 2) rather than becoming findings.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: no such file or directory", .0.display())]
    NotFound(PathBuf),
    #[error("{}: not a file but a pipe or a device, which can be read only once, and muster reads a batch more than once; save it to a file first (one CSV can come on standard input, as `-`)", .0.display())]
    NotAFile(PathBuf),
}

/// Recognizes a file's real format from its first bytes, for F001 messages.
pub fn sniff_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"PK\x03\x04") {
        Some("a zip archive (an XLSX/ODS workbook)")
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("an OLE compound file (a legacy XLS, or a password-protected workbook)")
    } else if bytes.starts_with(b"%PDF") {
        Some("a PDF document")
    } else if markup(bytes) {
        Some("XML or HTML: a flat OpenDocument spreadsheet (`.fods`), an Excel 2003 XML spreadsheet or a web page; open it in a spreadsheet program and save it as .xlsx or .ods")
    } else {
        None
    }
}

/// Whether a file starts as XML or HTML does (after a byte-order mark and blank space): what a
/// web service serves as `.xls`, and LibreOffice's flat `.fods`, which were read as a CSV of
/// tags (producers review).
fn markup(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let head = &bytes[start..bytes.len().min(start + 16)];
    [
        "<?xml",
        "<!doctype html",
        "<html",
        "<table",
        "<office:document",
    ]
    .iter()
    .any(|tag| head.len() >= tag.len() && head[..tag.len()].eq_ignore_ascii_case(tag.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::{near_kind, SheetKind};

    /// A file written over after its reading began is named (store review: a drop folder's
    /// file copied over during an import loaded a mix of two versions).
    #[test]
    fn a_file_written_over_while_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.csv");
        std::fs::write(
            &path,
            "email_addr,record_id,full_name\na@acme.com,R1,Al Bo\n",
        )
        .unwrap();
        let options = super::ReadOptions {
            stream: true,
            ..Default::default()
        };
        let batch = super::read_batch(std::slice::from_ref(&path), &options).unwrap();
        assert_eq!(batch.changed_file(), None);
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(batch.changed_file(), Some(path.as_path()));
    }

    /// Copies and shortenings of a name muster reads, not names that only look alike.
    #[test]
    fn a_near_name_is_a_copy_or_a_shortening() {
        for (name, kind) in [
            ("ITSM", SheetKind::Itsm),
            ("ITSM IDs (2)", SheetKind::Itsm),
            ("ITSM IDs (old)", SheetKind::Itsm),
            ("itsm_ids_2", SheetKind::Itsm),
            ("Copy of Users", SheetKind::Users),
            ("users_old", SheetKind::Users),
            ("User", SheetKind::Users),
            ("Channel", SheetKind::Channel),
            ("IDM IDs backup", SheetKind::Idm),
            ("Bot Account (2)", SheetKind::Bot),
            // Versions, Numbers' export, a stray dot, a system's own (review).
            ("ITSM IDs v2", SheetKind::Itsm),
            ("ITSM IDs (Final)", SheetKind::Itsm),
            ("ITSM IDs - Table 1", SheetKind::Itsm),
            ("ITSM Ids.", SheetKind::Itsm),
            ("itsm_ids_final", SheetKind::Itsm),
            ("Users - Table 1", SheetKind::Users),
            ("Slack IDs", SheetKind::Channel),
            ("ServiceNow IDs", SheetKind::Itsm),
            ("servicenow_ids", SheetKind::Itsm),
            ("Okta IDs", SheetKind::Idm),
        ] {
            assert_eq!(near_kind(name), Some(kind), "{name}");
        }
        for name in [
            "Changes",
            "Change Log",
            "Changelog",
            "Channel Partners",
            "Uses",
            "Idioms",
            "Botany",
            "Summary",
            "Issues",
            "Instructions",
            "Lists",
            "Notes",
            "Sheet1",
            "Contractors",
            "findings",
            "README",
            "Export Summary",
            "Table 1",
            "Vendor IDs",
            "Review",
            "Renew",
        ] {
            assert_eq!(near_kind(name), None, "{name}");
        }
    }
}
