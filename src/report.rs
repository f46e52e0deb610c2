//! Outputs: the findings report (CSV, JSON), the normalized records (JSONL, JSON), and the
//! terminal summary. Every file is written to a temporary file beside it and renamed into place.

use crate::finding::Finding;
use crate::record::Records;
use crate::validate::{Outcome, Stats};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Xlsx {
        path: std::path::PathBuf,
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot write {}: unsupported extension (use {expected})", path.display())]
    Extension {
        path: std::path::PathBuf,
        expected: &'static str,
    },
}

/// Writes `path` whole or not at all: a temporary file in the same directory, then a rename.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), OutputError> {
    let err = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        return write(&mut out).and_then(|_| out.flush()).map_err(err);
    }
    write_via_temp(path, |file| {
        let mut buf = std::io::BufWriter::new(file);
        write(&mut buf).and_then(|_| buf.flush()).map_err(err)
    })
}

/// Saves a workbook the same way as [`write_atomic`].
/// Builds a workbook with `build` and writes it atomically. rust_xlsxwriter panics when a
/// constant-memory sheet's temporary file cannot be written (a full disk): that is an output
/// error, not a crash, so the panic becomes one.
pub fn write_workbook(
    path: &Path,
    build: impl FnOnce(&mut rust_xlsxwriter::Workbook) -> Result<(), rust_xlsxwriter::XlsxError>,
) -> Result<(), OutputError> {
    let xlsx_err = |source| OutputError::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    let written = crate::catch_panic(|| {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        build(&mut workbook).map_err(xlsx_err)?;
        write_via_temp(path, |file| workbook.save_to_writer(file).map_err(xlsx_err))
    });
    written.unwrap_or_else(|why| {
        Err(OutputError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("the workbook writer failed: {why}")),
        })
    })
}

fn write_via_temp(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), OutputError>,
) -> Result<(), OutputError> {
    let err = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let path = &through_links(path);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // tempfile creates it readable by the user only (0600 on Unix; outputs hold personal data),
    // and the rename keeps the mode.
    // A process killed mid-write leaves at most a `.muster-*.tmp` beside the output, never a
    // partial file under the output's name.
    remove_orphaned_temps(dir);
    // Named with the process's id, so that a later run can tell an orphan from a live one.
    let prefix = format!(".muster-{}-", std::process::id());
    let (mut tmp, _live) = LiveTemp::create(|| {
        tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
    })
    .map_err(|e| err(without_temp_path(e)))?;
    write(tmp.as_file_mut())?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Deletes the `.muster-<pid>-*.tmp` files in `dir` that a run killed with SIGKILL (or a
/// power cut) left: part of an output, personal data nobody would look for (privacy review:
/// they piled up). Only those of a process that is gone, and untouched for ten minutes, in
/// case `dir` is shared with another machine whose process ids mean nothing here.
fn remove_orphaned_temps(dir: &Path) {
    #[cfg(unix)]
    {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let ten_minutes = std::time::Duration::from_secs(600);
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = (name.to_str())
                .and_then(|n| n.strip_prefix(".muster-"))
                .filter(|n| n.ends_with(".tmp"))
                .and_then(|n| n.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
                .filter(|&pid| pid > 0)
            else {
                continue;
            };
            // SAFETY: signal 0 only asks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            let old = (entry.metadata().and_then(|m| m.modified()))
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > ten_minutes);
            if gone && old && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Where an output given as a symbolic link goes: the file the link points to (even one not
/// there yet), so that the rename replaces that file and keeps the link (review: a pipeline's
/// `latest.csv` → `pub/real.csv` became a file of its own, and `pub/real.csv` stayed old).
fn through_links(path: &Path) -> std::path::PathBuf {
    let mut path = path.to_path_buf();
    // As many links as Linux follows (ELOOP): a loop is left to the write to report.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let Ok(target) = std::fs::read_link(&path) else {
                    break;
                };
                path = match path.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => break,
        }
    }
    path
}

/// tempfile's error names the temporary file it could not make (`… at path
/// "dir/.muster-8QS97k.tmp"`), a name the user never gave: the cause alone, as the OS said it
/// (tempfile keeps the OS error only as text).
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.rsplit_once(" at path \"") {
        Some((cause, _)) => std::io::Error::new(e.kind(), cause.to_string()),
        None => e,
    }
}

/// The `.muster-*.tmp` files being written, for [`remove_live_temps`] on Ctrl-C: a signal
/// ends the process without running the destructors that would delete them.
static LIVE_TEMPS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A temporary file noted in [`LIVE_TEMPS`] while it lives.
struct LiveTemp(std::path::PathBuf);

impl LiveTemp {
    /// Creates a temporary file and notes it, under the lock: a signal between the two left
    /// the file behind (a test saw it once in a loaded run), for the signal's thread waits for
    /// the lock.
    fn create(
        make: impl FnOnce() -> std::io::Result<tempfile::NamedTempFile>,
    ) -> std::io::Result<(tempfile::NamedTempFile, LiveTemp)> {
        let mut live = LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        let file = make()?;
        live.push(file.path().to_path_buf());
        let noted = LiveTemp(file.path().to_path_buf());
        Ok((file, noted))
    }
}

impl Drop for LiveTemp {
    fn drop(&mut self) {
        let mut live = LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|p| *p != self.0);
    }
}

/// Deletes the temporary files of the outputs being written (the process is ending on a
/// signal). The lock is taken for good: no new one is noted after.
pub fn remove_live_temps() {
    let live = LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
    for path in live.iter() {
        let _ = std::fs::remove_file(path);
    }
    std::mem::forget(live);
}

/// The summary block of the JSON report.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub muster_version: &'static str,
    pub files: Vec<String>,
    /// The configuration in force (SPEC §3: "the summary names the configuration used"), as
    /// the terminal says it: its file, or the built-in defaults, and the rule flags given.
    pub configuration: String,
    pub rows: usize,
    pub users: usize,
    pub valid: usize,
    pub with_errors: usize,
    pub with_warnings: usize,
    pub by_code: BTreeMap<&'static str, usize>,
    pub exit_code: u8,
}

impl Summary {
    pub fn new(files: &[String], configuration: &str, outcome: &Outcome, exit_code: u8) -> Summary {
        let Stats {
            rows,
            users,
            valid,
            with_errors,
            with_warnings,
        } = outcome.stats.clone();
        Summary {
            muster_version: crate::VERSION,
            files: files.to_vec(),
            configuration: configuration.to_string(),
            rows,
            users,
            valid,
            with_errors,
            with_warnings,
            by_code: by_code(&outcome.findings),
            exit_code,
        }
    }
}

pub fn by_code(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.code).or_insert(0) += 1;
    }
    m
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The annotated workbook an XLSX report links into.
pub struct AnnotatedLinks<'a> {
    pub path: &'a Path,
    pub layout: &'a crate::annotate::Layout,
}

/// `--report FILE.csv|.json|.xlsx`.
pub fn write_report(
    path: &Path,
    summary: &Summary,
    findings: &[Finding],
    links: Option<&AnnotatedLinks>,
) -> Result<(), OutputError> {
    let ext = if path.as_os_str() == "-" {
        "csv".to_string()
    } else {
        extension(path)
    };
    match ext.as_str() {
        "csv" => write_atomic(path, |w| {
            // A byte-order mark, as the CSV export has: without it Excel opens the file as
            // Windows-1252, and every name in it reads `JosÃ©` (locale review). Not on standard
            // output, which goes to a program.
            if path.as_os_str() != "-" {
                w.write_all("\u{feff}".as_bytes())?;
            }
            write_csv(w, findings)
        }),
        "json" => write_atomic(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &JsonReport { summary, findings })?;
            writeln!(w)
        }),
        "xlsx" => write_xlsx_report(path, findings, links),
        _ => Err(OutputError::Extension {
            path: path.to_path_buf(),
            expected: ".csv, .json or .xlsx",
        }),
    }
}

fn write_xlsx_report(
    path: &Path,
    findings: &[Finding],
    links: Option<&AnnotatedLinks>,
) -> Result<(), OutputError> {
    // Excel resolves a link relative to the report's own folder.
    let target = links.map(|l| relative_to(l.path, path));
    let link = |f: &Finding| {
        let (file, layout) = (target.as_deref()?, links?.layout);
        let reference = (layout.target(f))
            .or_else(|| layout.sheet_start(f))
            .map(|t| t.reference());
        let anchor = reference.as_deref().unwrap_or("'Summary'!A1");
        Some(crate::xlsx::Link {
            url: format!("file:///{file}#{anchor}"),
            text: reference.unwrap_or_else(|| "Summary".to_string()),
        })
    };
    let link: Option<crate::xlsx::LinkFn> = match links {
        Some(_) => Some(&link),
        None => None,
    };
    write_workbook(path, |workbook| {
        let ws = workbook
            .add_worksheet_with_constant_memory()?
            .set_name("Findings")?;
        crate::xlsx::findings_table(ws, findings, link, crate::xlsx::Reader::Admin)
    })
}

/// `target` as a path relative to the folder of `from` when they share it, else absolute.
fn relative_to(target: &Path, from: &Path) -> String {
    let dir = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .canonicalize()
            .ok()
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned());
    match (dir(target), dir(from), name) {
        (Some(a), Some(b), Some(name)) if a == b => name,
        (Some(a), _, Some(name)) => a.join(name).display().to_string(),
        _ => target.display().to_string(),
    }
}

#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub summary: &'a Summary,
    pub findings: &'a [Finding],
}

pub fn write_csv(w: &mut dyn Write, findings: &[Finding]) -> std::io::Result<()> {
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(w);
    out.write_record(crate::finding::REPORT_FIELDS)?;
    for f in findings {
        let row = f.row.map(|r| r.to_string()).unwrap_or_default();
        let o = |s: &Option<String>| s.as_deref().map(guard_formula).unwrap_or_default();
        out.write_record([
            f.severity.as_str(),
            f.code,
            // Standard input's `-` as given (SPEC §5): a lone minus runs as no formula.
            &match f.file.as_str() {
                "-" => "-".to_string(),
                file => guard_formula(file),
            },
            &o(&f.sheet),
            &row,
            f.column.as_deref().unwrap_or(""),
            &o(&f.field),
            &o(&f.record_id),
            &o(&f.value),
            &guard_formula(&f.message),
            &o(&f.suggestion),
        ])?;
    }
    out.flush()
}

/// The first characters a CSV cell is guarded against (SPEC §6): a spreadsheet runs the cell as
/// a formula, or (`'`) would take the guard itself for one.
pub const GUARDED: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

/// Whether `s` starts as a guarded cell does: `'` and a guarded character.
pub fn looks_guarded(s: &str) -> bool {
    s.strip_prefix('\'')
        .is_some_and(|rest| rest.starts_with(GUARDED))
}

/// A workbook export's text cell: written as it is, but a value that looks guarded keeps its
/// own `'` by one more, since a workbook with `row_version` is read back as the CSV's guards
/// are (`'-5` is `-5`).
pub fn guard_guarded(s: &str) -> std::borrow::Cow<'_, str> {
    if looks_guarded(s) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// A cell a spreadsheet would run as a formula gets a leading `'` (SPEC §6).
pub fn guard_formula(s: &str) -> String {
    if s.starts_with(GUARDED) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// `--out FILE.jsonl|.json`.
pub fn write_records(path: &Path, records: &mut Records) -> Result<(), OutputError> {
    let ext = if path.as_os_str() == "-" {
        "jsonl".to_string()
    } else {
        extension(path)
    };
    match ext.as_str() {
        "jsonl" | "ndjson" if path.as_os_str() == "-" => write_atomic(path, |w| {
            records.for_each_json(|json| {
                w.write_all(json.as_bytes())?;
                w.write_all(b"\n")
            })
        }),
        "jsonl" | "ndjson" => write_via_temp(path, |file| {
            records.write_jsonl(file).map_err(|source| OutputError::Io {
                path: path.to_path_buf(),
                source,
            })
        }),
        // A JSON array, one record after another, indented as serde_json's pretty printer does.
        "json" => write_atomic(path, |w| {
            let mut first = true;
            w.write_all(b"[")?;
            records.for_each_json(|json| {
                let value: serde_json::Value =
                    serde_json::from_str(json).map_err(std::io::Error::other)?;
                let pretty = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
                w.write_all(if first { b"\n  " } else { b",\n  " })?;
                first = false;
                w.write_all(pretty.replace('\n', "\n  ").as_bytes())
            })?;
            w.write_all(if first { b"]\n" } else { b"\n]\n" })
        }),
        _ => Err(OutputError::Extension {
            path: path.to_path_buf(),
            expected: ".jsonl or .json",
        }),
    }
}

/// Colours for the terminal summary, when stderr/stdout is a terminal and NO_COLOR is unset.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// How many findings the summary lists before "… and N more".
const SHOWN: usize = 10;

/// The terminal summary.
/// The files a run wrote, for the summary's last lines.
#[derive(Debug, Default)]
pub struct Written<'a> {
    pub report: Option<&'a Path>,
    pub annotated: Option<&'a Path>,
    /// How to write every finding, when not `--report` (import has none): a command line.
    pub all_with: Option<&'a str>,
    /// The store and the source directory the batch was checked against: said, as a
    /// `MUSTER_STORE` set long ago is easily forgotten (privacy review).
    pub store: Option<&'a Path>,
    pub source: Option<&'a Path>,
}

pub fn summary_text(
    files: &[String],
    config_source: &str,
    encodings: &[String],
    outcome: &Outcome,
    written: &Written,
    style: Style,
) -> String {
    let s = &outcome.stats;
    let mut out = String::new();
    out.push_str(&format!(
        "muster {} — {}\n",
        crate::VERSION,
        one_line(&files.join(", "))
    ));
    out.push_str(&format!("configuration: {}\n", one_line(config_source)));
    for (what, path) in [
        ("store", written.store),
        ("source directory", written.source),
    ] {
        if let Some(path) = path {
            out.push_str(&format!(
                "{what}: {}\n",
                one_line(&path.display().to_string())
            ));
        }
    }
    for e in encodings {
        out.push_str(&format!("encoding: {}\n", one_line(e)));
    }
    out.push_str(&format!(
        "rows read: {}   users: {}   valid: {}   with errors: {}   with warnings: {}\n",
        s.rows,
        s.users,
        style.paint("32", &s.valid.to_string()),
        style.paint("31", &s.with_errors.to_string()),
        style.paint("33", &s.with_warnings.to_string())
    ));
    let counts = by_code(&outcome.findings);
    if !counts.is_empty() {
        let list: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
        out.push_str(&format!("findings by code: {}\n", list.join(", ")));
    }
    // Errors, warnings, and the sheets and files left unread (F004 on no row or column):
    // rows there are not in the records, which the count alone would not say.
    let mut notable: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| {
            f.severity != crate::rules::Severity::Info
                || (f.code == "F004" && f.row.is_none() && f.column.is_none())
        })
        .collect();
    // More than are shown: errors first, so that what blocks the batch is never among those
    // left out (review: ten R001 warnings shown, the V002 that refused the import not).
    if notable.len() > SHOWN {
        notable.sort_by_key(|f| match f.severity {
            crate::rules::Severity::Error => 0,
            crate::rules::Severity::Warning => 1,
            crate::rules::Severity::Info => 2,
        });
    }
    if !notable.is_empty() {
        out.push('\n');
    }
    for f in notable.iter().take(SHOWN) {
        let sev = match f.severity {
            crate::rules::Severity::Error => style.paint("31;1", "error"),
            crate::rules::Severity::Warning => style.paint("33;1", "warning"),
            crate::rules::Severity::Info => style.paint("36", "info"),
        };
        out.push_str(&format!(
            "{sev} {} {}: {}",
            f.code,
            one_line(&location(f)),
            one_line(&f.message)
        ));
        if let Some(s) = &f.suggestion {
            out.push_str(&format!(" ({})", one_line(s)));
        }
        out.push('\n');
    }
    if notable.len() > SHOWN {
        let more = notable.len() - SHOWN;
        match written.report.filter(|p| p.as_os_str() != "-") {
            Some(report) => out.push_str(&format!(
                "… and {more} more (all in {})\n",
                one_line(&report.display().to_string())
            )),
            None => out.push_str(&format!(
                "… and {more} more (write them all with {})\n",
                one_line(written.all_with.unwrap_or("--report FILE.csv"))
            )),
        }
    }
    // The way out for a store's own export that this muster refuses (upgrade review).
    let refused = &outcome.refused_as_stored;
    let why = "(stored by an earlier muster, or under another configuration); fix the cells named, or the configuration, and import (an update)";
    match refused.as_slice() {
        [] => {}
        [rid] => out.push_str(&format!(
            "note: `{rid}` has errors but holds its stored record's row_version: unless its row was edited, the store holds a record this muster refuses {why}, or `muster remove {rid}` and import the user anew\n",
            rid = one_line(rid)
        )),
        _ => out.push_str(&format!(
            "note: {} users with errors hold their stored records' row_version ({}): unless their rows were edited, the store holds records this muster refuses {why}, or `muster remove` them and import them anew\n",
            refused.len(),
            one_line(&shown_list(refused, 10))
        )),
    }
    if let Some(path) = written.annotated {
        out.push_str(&format!(
            "annotated workbook: {} (problem cells filled, notes, Issues and Summary sheets)\n",
            one_line(&path.display().to_string())
        ));
    }
    out
}

/// The first `n` items joined, then how many more.
pub fn shown_list<S: AsRef<str>>(items: &[S], n: usize) -> String {
    let shown: Vec<&str> = items.iter().take(n).map(AsRef::as_ref).collect();
    let mut shown = shown.join(", ");
    if items.len() > n {
        shown.push_str(&format!(" and {} more", items.len() - n));
    }
    shown
}

#[cfg(test)]
mod shown_list_tests {
    #[test]
    fn a_long_list_says_how_many_more() {
        let ids: Vec<String> = (1..=7).map(|i| format!("R{i}")).collect();
        assert_eq!(super::shown_list(&ids[..2], 5), "R1, R2");
        assert_eq!(super::shown_list(&ids, 5), "R1, R2, R3, R4, R5 and 2 more");
    }
}

/// Characters a terminal acts on rather than shows: the control characters (C0 but a line
/// break and a tab, DEL, C1 with its one-character CSI), and those that reorder the text shown
/// after them (the bidirectional overrides, embeddings, isolates and marks).
fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with what would act on a terminal written as an escape (`\u{1b}`): the text muster
/// prints holds the vendor's names, and a sheet named with control sequences cleared the
/// screen and drew a clean summary (security review).
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    escaped(s, acts_on_terminal)
}

/// [`terminal_safe`] that escapes a line break too: a name in a line of its own.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    escaped(s, |c| c == '\n' || acts_on_terminal(c))
}

fn escaped(s: &str, escape: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    escaped_as(s, escape, |c| format!("\\u{{{:x}}}", c as u32))
}

/// `s` with each character `escape` picks written as `written` has it.
fn escaped_as(
    s: &str,
    escape: impl Fn(char) -> bool,
    written: impl Fn(char) -> String,
) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(&escape) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match escape(c) {
            true => out.push_str(&written(c)),
            false => out.push(c),
        }
    }
    out.into()
}

/// JSON text with the characters [`acts_on_terminal`] that serde_json leaves as they are (C1,
/// the bidirectional ones) written as `\uXXXX` escapes, as JSON allows: the same value, safe
/// to print on a terminal.
pub fn json_safe(json: &str) -> std::borrow::Cow<'_, str> {
    // serde_json escapes C0 already: in ASCII, DEL alone is left, which JSON takes as it is.
    if json.is_ascii() {
        return json.into();
    }
    escaped_as(json, acts_on_terminal, |c| format!("\\u{:04x}", c as u32))
}

/// `vendor.xlsx:Users!C7` or `users.csv:7:C`.
pub fn location(f: &Finding) -> String {
    let mut s = f.file.clone();
    match (&f.sheet, f.row, &f.column) {
        (Some(sheet), Some(r), Some(c)) => s.push_str(&format!(":{sheet}!{c}{r}")),
        (Some(sheet), None, Some(c)) => s.push_str(&format!(":{sheet}!{c} (column)")),
        (Some(sheet), Some(r), None) => s.push_str(&format!(":{sheet} row {r}")),
        (Some(sheet), None, None) => s.push_str(&format!(":{sheet}")),
        (None, Some(r), Some(c)) => s.push_str(&format!(":{r}:{c}")),
        (None, None, Some(c)) => s.push_str(&format!(" column {c}")),
        (None, Some(r), None) => s.push_str(&format!(":{r}")),
        (None, None, None) => {}
    }
    s
}

/// The closing line under `--quiet` when there are errors: `muster: 3 errors in vendor.xlsx (V002 2, D001 1)`.
/// What `--quiet` still says before its closing line: the errors about a file, a sheet or a
/// column (F001–F009 at error severity), each with where it is (review: F008 and F009 went
/// unsaid, only counted).
pub fn file_level_lines(findings: &[Finding]) -> impl Iterator<Item = String> + '_ {
    (findings.iter())
        .filter(|f| f.code.starts_with('F') && f.severity == crate::rules::Severity::Error)
        .map(|f| format!("muster: {}: {}", location(f), f.message))
}

pub fn closing_line(files: &[String], findings: &[Finding]) -> String {
    let errors: Vec<Finding> = findings
        .iter()
        .filter(|f| f.severity == crate::rules::Severity::Error)
        .cloned()
        .collect();
    let counts: Vec<String> = by_code(&errors)
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let n = errors.len();
    format!(
        "muster: {n} error{} in {} ({})",
        if n == 1 { "" } else { "s" },
        files.join(", "),
        counts.join(", ")
    )
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn what_acts_on_a_terminal_is_escaped_and_json_stays_the_same_value() {
        assert_eq!(terminal_safe("plain, é"), "plain, é");
        assert_eq!(
            terminal_safe("a\u{1b}[2Jb\u{9b}c\rd\u{202E}e\nf\tg"),
            "a\\u{1b}[2Jb\\u{9b}c\\u{d}d\\u{202e}e\nf\tg"
        );
        assert_eq!(one_line("a\nb"), "a\\u{a}b");
        let value = "x\u{9b}31m\u{202E}y\u{1b}";
        let json = serde_json::to_string(value).unwrap();
        let safe = json_safe(&json);
        assert!(
            !safe.contains('\u{9b}') && !safe.contains('\u{202E}'),
            "{safe}"
        );
        assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), value);
    }
}

#[cfg(all(test, unix))]
mod temp_tests {
    use super::*;

    /// A `.muster-<pid>-*.tmp` of a process that is gone, untouched for ten minutes, is
    /// deleted by the next output written beside it; a live process's, a recent one, and
    /// other files are not.
    #[test]
    fn orphaned_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let make = |name: &str, old: bool| {
            let path = dir.path().join(name);
            let file = std::fs::File::create(&path).unwrap();
            if old {
                file.set_modified(hour_ago).unwrap();
            }
            path
        };
        let orphan = make(&format!(".muster-{gone}-a1B2c3.tmp"), true);
        let recent = make(&format!(".muster-{gone}-d4E5f6.tmp"), false);
        let live = make(&format!(".muster-{}-g7H8i9.tmp", std::process::id()), true);
        let older_name = make(".muster-j1K2l3.tmp", true);
        let other = make("notes.tmp", true);
        write_via_temp(&dir.path().join("out.csv"), |f| {
            std::io::Write::write_all(f, b"x").map_err(|source| OutputError::Io {
                path: "out.csv".into(),
                source,
            })
        })
        .unwrap();
        assert!(!orphan.exists());
        for kept in [recent, live, older_name, other] {
            assert!(kept.exists(), "{}", kept.display());
        }
    }
}
