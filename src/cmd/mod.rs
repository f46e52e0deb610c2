//! One module per subcommand; each `run` reads as the stages it strings together.

// The text muster prints holds the vendor's names (files, sheets, headers, batches): each
// macro below prints it through [`crate::report::terminal_safe`], so that a control sequence
// in a name reaches the terminal as text (security review: a sheet name that cleared the
// screen and drew a clean summary). The `_raw` ones print text made safe already, with
// muster's own colours.

/// `print!` that returns what keeps it from writing (a full disk, a closed descriptor) as an
/// error, where `print!` panics (review: exit 101 after an import had committed, on `>
/// /dev/full`). The binary then says so and exits 2.
macro_rules! out {
    ($($arg:tt)*) => {
        out_raw!("{}", $crate::report::terminal_safe(&format!($($arg)*)))
    };
}

/// [`out!`] with a line break.
macro_rules! outln {
    ($($arg:tt)*) => {
        out_raw!("{}\n", $crate::report::terminal_safe(&format!($($arg)*)))
    };
}

/// [`out!`] of text already safe for a terminal.
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*).map_err($crate::cmd::stdout_error)
    }};
}

/// `eprintln!` that goes on when stderr cannot be written: the diagnostics are lost, not the
/// run (and not the exit code, which says what happened).
macro_rules! errln {
    ($($arg:tt)*) => {
        err_raw!("{}\n", $crate::report::terminal_safe(&format!($($arg)*)))
    };
}

/// [`errln!`] of text already safe for a terminal, without the line break.
macro_rules! err_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `result`, with its failure printed as JSON on stdout when JSON was asked for: a script
/// reading `--format json` gets JSON whatever happened (review: a batch that was not there
/// printed nothing there). `applies` for the commands that change the store, whose JSON says
/// `"applied"` either way.
pub(crate) fn failure_in_json(
    result: anyhow::Result<crate::ExitStatus>,
    format: crate::cli::Format,
    applies: bool,
) -> anyhow::Result<crate::ExitStatus> {
    if let (Err(e), crate::cli::Format::Json) = (&result, format) {
        let mut json = serde_json::Map::new();
        if applies {
            json.insert("applied".into(), false.into());
        }
        json.insert("error".into(), crate::error_text(e).into());
        json.insert("exit_code".into(), (crate::ExitStatus::Error as u8).into());
        let json = serde_json::Value::Object(json);
        // Standard output that failed already fails the run.
        let _ = outln!("{}", crate::report::json_safe(&format!("{json:#}")));
    }
    result
}

/// `text` in NFC, the form muster keeps names and keys in (SPEC §2).
pub(crate) fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

/// Standard output that cannot be written, named.
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    anyhow::Error::new(e).context("cannot write to standard output")
}

use crate::report::shown_list;

pub mod export;
pub mod import;
pub mod rules;
pub mod store;
pub mod template;
pub mod validate;

/// Opens a store that must already exist: only `import` creates one. Reading or undoing a
/// store that is not there (a mistyped `--store`) says so, and leaves no empty store behind.
/// The configuration in force ([`crate::config::Config::find`]), its warnings printed on
/// stderr (a system name close to a known one).
pub(crate) fn config(explicit: Option<&std::path::Path>) -> anyhow::Result<crate::config::Config> {
    let config = crate::config::Config::find(explicit)?;
    for warning in &config.warnings {
        errln!("muster: warning: {warning}");
    }
    Ok(config)
}

/// Says on stderr which `--map` entries no header matched.
pub(crate) fn warn_unused_renames(
    map: &std::path::Path,
    batch: &crate::input::Batch,
    renames: &crate::input::headers::Renames,
) {
    for entry in crate::config::unused_renames(map, batch, renames) {
        errln!(
            "muster: warning: {}: the entry {entry} matched no header of the batch",
            map.display()
        );
    }
}

pub(crate) fn existing_store(path: &std::path::Path) -> anyhow::Result<crate::store::Store> {
    must_exist(path)?;
    Ok(crate::store::Store::open_existing(path)?)
}

/// [`existing_store`] for a command that only reads it: a store in a folder the user cannot
/// write (an archive, a share) is still read.
pub(crate) fn store_to_read(path: &std::path::Path) -> anyhow::Result<crate::store::Store> {
    must_exist(path)?;
    Ok(crate::store::Store::open_read_only(path)?)
}

fn must_exist(path: &std::path::Path) -> anyhow::Result<()> {
    // Checked here, inside each command, so that `--format json` says it as JSON too.
    crate::store::lock_timeout_setting().map_err(anyhow::Error::msg)?;
    // A folder that cannot be looked into says so, rather than "no such store".
    let exists = path
        .try_exists()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !exists {
        anyhow::bail!(
            "{}: no such store (`muster import` makes one; name another with --store or MUSTER_STORE)",
            path.display()
        );
    }
    // An empty file becomes a store only by an import: a read must not give it tables.
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        anyhow::bail!(
            "{}: an empty file, not a store yet (`muster import` makes one)",
            path.display()
        );
    }
    Ok(())
}

/// Refuses the store given as a batch (read as text, "UTF-16 without a byte-order mark";
/// store review), under its own name or another (a link).
pub(crate) fn refuse_store_as_batch(
    inputs: &[std::path::PathBuf],
    store: &std::path::Path,
) -> anyhow::Result<()> {
    if let Some(input) = inputs.iter().find(|input| same_file(input, store)) {
        anyhow::bail!(
            "{}: the batch given is the store itself; nothing was done (give the vendor's file, or an export: `muster export -o all.xlsx`)",
            input.display()
        );
    }
    Ok(())
}

/// Refuses a batch one of whose files was written over while it was read (its rows may be
/// of two versions); `nothing` says what was not done.
pub(crate) fn refuse_changed_batch(
    batch: &crate::input::Batch,
    also: &[(std::path::PathBuf, Option<crate::input::FileStamp>)],
    nothing: &str,
) -> anyhow::Result<()> {
    if let Some(file) = batch.changed_file().or(crate::input::changed_since(also)) {
        anyhow::bail!(
            "{}: the file changed while muster read it (written over while it was read?): its rows may be of two versions; {nothing} (run again once it is whole)",
            file.display()
        );
    }
    Ok(())
}

/// The change log read beside the store during validation, when it was read without locks
/// and the store changed meanwhile: its answers (who first wrote a row's version, who was
/// removed) may be of two states.
pub(crate) fn refuse_changed_history(
    known: &crate::validate::Known,
    store: &std::path::Path,
) -> Result<(), crate::store::StoreError> {
    match &known.history {
        Some(history) if history.changed_while_read() => {
            Err(crate::store::StoreError::ChangedWhileRead {
                path: store.to_path_buf(),
            })
        }
        _ => Ok(()),
    }
}

/// Whether two paths name the same file: by their canonical forms when both exist.
pub(crate) fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    // Two names of one file (a hard link) too (adversarial review: the store, hard-linked
    // as `hard.csv`, was taken as a batch and pruned empty).
    #[cfg(unix)]
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt;
        if (x.dev(), x.ino()) == (y.dev(), y.ino()) {
            return true;
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A path made absolute with its links followed; one that does not exist yet, by its folder's
/// (review: `--report same.json --out ./same.json` wrote one over the other).
fn resolved(path: &std::path::Path) -> Option<std::path::PathBuf> {
    if let Ok(path) = path.canonicalize() {
        return Some(path);
    }
    let name = path.file_name()?;
    let folder = path.parent().filter(|d| !d.as_os_str().is_empty());
    let folder = folder.unwrap_or(std::path::Path::new("."));
    Some(folder.canonicalize().ok()?.join(name))
}
