//! `muster validate`: read → validate → report.

use crate::cli::{Format, ValidateArgs};
use crate::config::{load_renames, Config};
use crate::plan;
use crate::progress::Progress;
use crate::record::Keep;
use crate::report::{self, Style, Summary};
use crate::rules::{Severity, UnknownRule};
use crate::validate::{validate_with, Known};
use crate::{annotate, input, ExitStatus};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

pub fn run(args: &ValidateArgs, style: Style) -> anyhow::Result<ExitStatus> {
    super::failure_in_json(check(args, style), args.format, false)
}

fn check(args: &ValidateArgs, style: Style) -> anyhow::Result<ExitStatus> {
    crate::rules_settings(args.jobs.map(usize::from), true)?;
    refuse_overwriting_inputs(args)?;
    let mut config = super::config(args.config.as_deref())?;
    apply_rule_flags(&mut config, args)?;
    let renames = match &args.map {
        Some(path) => load_renames(path)?,
        None => Default::default(),
    };
    let delimiter = args.delimiter.as_deref().map(parse_delimiter).transpose()?;
    let encoding = args.encoding.as_deref().map(parse_encoding).transpose()?;
    if let Some(path) = &args.annotate {
        annotate::check_request(path, &args.inputs)?;
    }

    let options = input::ReadOptions {
        delimiter,
        encoding,
        renames: renames.clone(),
        limits: input::Limits {
            max_columns: args.max_columns,
            max_rows: args.max_rows,
            max_unpacked_bytes: args.max_unpacked_mib.saturating_mul(1 << 20),
        },
        keep_other_sheets: args.annotate.is_some(),
        stream: true,
        workbooks_whole: args.annotate.is_some(),
    };
    let progress = Progress::new(!args.quiet && args.format == Format::Text);
    let reading = progress.spinner(format!("reading {}", shown(&args.inputs)));
    let read_as = args
        .annotate
        .as_ref()
        .map(|_| annotate::fingerprint(&args.inputs));
    let batch = input::read_batch(&args.inputs, &options)?;
    reading.finish_and_clear();
    if let Some(map) = &args.map {
        super::warn_unused_renames(map, &batch, &renames);
    }
    let layout = match &args.annotate {
        Some(_) => Some(annotate::Layout::new(&batch, &renames)?),
        None => None,
    };
    let mut known = Known::default();
    if let Some(source) = &args.source {
        plan::known_from_source(&mut known, source, &renames)?;
    }
    if let Some(path) = &args.store {
        // validate never creates a store: a CI result must not depend on the directory.
        let store = super::store_to_read(path)?;
        plan::read_store(&mut known, &store)?;
        store.check_unchanged()?;
        let read_unlocked = store.read_unlocked();
        // Closed first: the last connection to close cleans up the `-wal` and `-shm` files
        // `Store::open` made, and the history's own then reads the store file as it is.
        drop(store);
        known.history = Some(Box::new(crate::store::StoreHistory::open(
            path,
            read_unlocked,
        )?));
    }
    // Records are built only for `--out`, and spilled beside it rather than held in memory.
    // In the system's temporary folder when that folder takes no file: the records then fail
    // when written, and the other outputs are written all the same.
    let keep = match args.out.as_deref() {
        None => Keep::Nothing,
        Some(out) => Keep::SpillIn(
            Some(spill_dir(out))
                .filter(|dir| tempfile::tempfile_in(dir).is_ok())
                .unwrap_or_else(std::env::temp_dir),
        ),
    };
    let mut outcome = validate_with(
        &batch,
        &config,
        &renames,
        &mut known,
        &progress.rows(),
        &keep,
    )
    .with_context(|| match (&keep, &args.out) {
        // The records wait in a temporary file beside the output: its failure is the output's.
        (Keep::SpillIn(dir), Some(out)) => format!(
            "cannot write {} (its temporary file in {})",
            out.display(),
            dir.display()
        ),
        _ => "validation failed".to_string(),
    })?;
    if let Some(path) = &args.store {
        super::refuse_changed_history(&known, path)?;
    }
    known.drop_in_background();
    super::refuse_changed_batch(&batch, &[], "nothing was written")?;
    let writing = progress.spinner("writing outputs".to_string());

    let failed = outcome
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    let status = if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    };
    let summary = Summary::new(&batch.files, &config.source, &outcome, status as u8);
    // Each output is whole or absent on its own: one that fails stops no other, and every
    // failure is said (review: an `--out` in a folder that did not exist cost the report).
    let write_annotated = || -> anyhow::Result<()> {
        let (Some(path), Some(layout)) = (&args.annotate, &layout) else {
            return Ok(());
        };
        // A streamed CSV's rows were not kept: read them again to write them back.
        let again = if annotate::needs_second_read(&batch) {
            let again = input::read_batch(&args.inputs, &options)?;
            if !annotate::same_batch(&batch, &again) {
                bail!(
                    "{}: the batch changed while muster read it; nothing was annotated (run again)",
                    shown(&args.inputs)
                );
            }
            Some(again)
        } else {
            None
        };
        annotate::write(
            path,
            &annotate::Annotation {
                batch: &batch,
                renames: &renames,
                layout,
                findings: &outcome.findings,
                summary: &summary,
                config_source: &config.source,
                checked_against: match (&args.store, &args.source) {
                    (None, None) => "the batch alone",
                    (Some(_), None) => "the users already loaded",
                    (None, Some(_)) => "the organisation's directory",
                    (Some(_), Some(_)) => {
                        "the users already loaded and the organisation's directory"
                    }
                },
                again: again.as_ref(),
                inputs: read_as.as_ref().map(|f| (args.inputs.as_slice(), f)),
            },
        )?;
        Ok(())
    };
    let annotated = write_annotated();
    let write_report = || -> anyhow::Result<()> {
        if let Some(path) = &args.report {
            let links = args
                .annotate
                .as_deref()
                .zip(layout.as_ref())
                .map(|(path, layout)| report::AnnotatedLinks { path, layout });
            report::write_report(path, &summary, &outcome.findings, links.as_ref())?;
        }
        Ok(())
    };
    let records = &mut outcome.records;
    let mut write_records = || -> anyhow::Result<()> {
        if let Some(path) = &args.out {
            report::write_records(path, records)?;
        }
        Ok(())
    };
    // The report is written while the records are copied, which mostly waits on the disk (a
    // second on its own at a million rows); on a pool of one thread, one after the other.
    let to_stdout = |p: &Option<PathBuf>| p.as_deref() == Some(Path::new("-"));
    let (report, records) = if to_stdout(&args.report) && to_stdout(&args.out) {
        (write_report(), write_records())
    } else {
        rayon::join(write_report, write_records)
    };
    let mut unwritten: Vec<anyhow::Error> = [annotated, report, records]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    match unwritten.len() {
        0 => {}
        1 => return Err(unwritten.remove(0)),
        _ => bail!(
            "{}",
            (unwritten.iter().map(crate::error_text))
                .collect::<Vec<_>>()
                .join("; and ")
        ),
    }
    writing.finish_and_clear();
    match (args.format, args.quiet) {
        (Format::Json, _) => {
            let json = serde_json::to_string_pretty(&report::JsonReport {
                summary: &summary,
                findings: &outcome.findings,
            })?;
            outln!("{}", report::json_safe(&json))?;
        }
        (Format::Text, false) => {
            // When a report or the records stream to stdout, the summary goes to stderr.
            let stdout_taken = [&args.report, &args.out]
                .iter()
                .any(|p| p.as_deref() == Some(Path::new("-")));
            let encodings = batch.encodings();
            let written = report::Written {
                report: args.report.as_deref(),
                annotated: args.annotate.as_deref(),
                all_with: None,
                store: args.store.as_deref(),
                source: args.source.as_deref(),
            };
            let text = report::summary_text(
                &batch.files,
                &config.source,
                &encodings,
                &outcome,
                &written,
                style,
            );
            if stdout_taken {
                err_raw!("{text}");
            } else {
                out_raw!("{text}")?;
            }
        }
        (Format::Text, true) => {
            for line in report::file_level_lines(&outcome.findings) {
                errln!("{line}");
            }
            if failed {
                errln!("{}", report::closing_line(&batch.files, &outcome.findings));
            }
        }
    }
    // The process ends here: freeing every cell and record one by one would only cost time.
    std::mem::forget(outcome);
    std::mem::forget(batch);
    Ok(status)
}

fn apply_rule_flags(config: &mut Config, args: &ValidateArgs) -> anyhow::Result<()> {
    let mut listed = std::collections::BTreeMap::new();
    for (keys, severity, flag) in [
        (&args.deny, Some(Severity::Error), "--deny"),
        (&args.warn, Some(Severity::Warning), "--warn"),
        (&args.allow, None, "--allow"),
    ] {
        for key in keys {
            let rule = crate::rules::Rule::lookup(key.trim())
                .ok_or_else(|| UnknownRule::Unknown(key.clone()))?;
            if let Some(other) = listed.insert(rule, flag).filter(|o| *o != flag) {
                bail!(
                    "{} is given to both {other} and {flag}; give it once",
                    rule.code()
                );
            }
            config.rules.set(key, severity)?;
        }
    }
    // The summary names the configuration in force, these flags too (configuration review:
    // `--allow I001` still said "built-in defaults").
    let given: Vec<String> = [
        ("--deny", &args.deny),
        ("--warn", &args.warn),
        ("--allow", &args.allow),
    ]
    .into_iter()
    .filter(|(_, keys)| !keys.is_empty())
    .map(|(flag, keys)| format!("{flag} {}", keys.join(",")))
    .collect();
    if !given.is_empty() {
        config.source = format!("{}, with {}", config.source, given.join(" "));
    }
    Ok(())
}

/// `--encoding`: a WHATWG label (`windows-1251`, `cp1251`, `shift_jis`, `mac`). UTF-16 is
/// told by its byte-order mark, and one without is refused as such.
pub(super) fn parse_encoding(s: &str) -> anyhow::Result<&'static encoding_rs::Encoding> {
    match encoding_rs::Encoding::for_label(s.trim().as_bytes()) {
        Some(e) if e != encoding_rs::UTF_16LE && e != encoding_rs::UTF_16BE && e != encoding_rs::REPLACEMENT => Ok(e),
        Some(e) => bail!("--encoding cannot be {} (got `{s}`): a UTF-16 file is read by its byte-order mark", e.name()),
        None => bail!("--encoding `{s}` is not an encoding's name (try `windows-1251`, `windows-1250`, `shift_jis`, `gbk`, `macintosh`)"),
    }
}

pub(super) fn parse_delimiter(s: &str) -> anyhow::Result<u8> {
    Ok(match s {
        "tab" | "\\t" | "\t" => b'\t',
        "," | ";" | "|" => s.as_bytes()[0],
        _ => bail!("--delimiter must be one of , ; | tab (got `{s}`)"),
    })
}

/// An output path equal to an input (a batch, `--store`, `--source`), or to another output
/// (standard output too), is refused before anything is read or written.
fn refuse_overwriting_inputs(args: &ValidateArgs) -> anyhow::Result<()> {
    // Standard output takes one of them: two would run into each other.
    let to_stdout = (args.report.iter().chain(&args.out).chain(&args.annotate))
        .filter(|p| p.as_os_str() == "-")
        .count()
        + usize::from(args.format == Format::Json);
    if to_stdout > 1 {
        bail!("two outputs go to standard output (`-` or --format json); give one of them a file");
    }
    let same = super::same_file;
    if let Some(store) = &args.store {
        super::refuse_store_as_batch(&args.inputs, store)?;
    }
    let outputs: Vec<&PathBuf> = args
        .report
        .iter()
        .chain(&args.out)
        .chain(&args.annotate)
        .filter(|p| p.as_os_str() != "-")
        .collect();
    for (i, out) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|earlier| same(earlier, out)) {
            bail!("{} is given as two outputs", out.display());
        }
        // The store and the source are read too: an output over the store would destroy it.
        for input in args.inputs.iter().chain(&args.store).chain(&args.source) {
            // In a directory batch, a file the reader takes (`users.csv`, …) is an input too.
            let in_directory = || {
                let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
                input.is_dir()
                    && same(dir.unwrap_or(Path::new(".")), input)
                    && crate::input::directory_file_kind(out).is_some()
            };
            if same(out, input) || in_directory() {
                return Err(anyhow::anyhow!(
                    "output {} is also an input; refusing to overwrite it",
                    out.display()
                ))
                .context("checking outputs");
            }
            // An output is written where a link points (`report::through_links`); a link in
            // the vendor's folder is the vendor's, and could point at any file of the admin's
            // (security review: `findings.csv -> ../victim.conf`).
            let link_in_batch = || {
                let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
                input.is_dir()
                    && same(dir.unwrap_or(Path::new(".")), input)
                    && std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink())
            };
            if link_in_batch() {
                return Err(anyhow::anyhow!(
                    "output {} is a symbolic link in the batch's folder {}, which may point anywhere; write the output outside that folder",
                    out.display(),
                    input.display()
                ))
                .context("checking outputs");
            }
        }
    }
    Ok(())
}

/// Where the records wait for the cross-row rules: beside `--out` (which needs the room
/// anyway), or in the temporary folder when they go to standard output.
pub(crate) fn spill_dir(out: &Path) -> PathBuf {
    if out.as_os_str() == "-" {
        return std::env::temp_dir();
    }
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The inputs as the progress line names them.
fn shown(inputs: &[PathBuf]) -> String {
    inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
