//! `muster export`: the store → a workbook, a flat CSV or JSONL.

use crate::cli::ExportArgs;
use crate::export::{self, Selection};
use crate::progress::Progress;
use crate::ExitStatus;
use anyhow::bail;

pub fn run(args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    if args.output.as_os_str() != "-" && super::same_file(&args.output, &args.store.store) {
        bail!(
            "output {} is the store; refusing to overwrite it",
            args.output.display()
        );
    }
    // An export is edited and imported back: exporting again to its name would lose the edits
    // (review: `export -o` replaced an edited export unasked, as `template` does not).
    if args.output.is_dir() {
        bail!(
            "{} is a folder: name the file to write (an .xlsx, .csv or .jsonl in it)",
            args.output.display()
        );
    }
    if args.output.as_os_str() != "-" && args.output.exists() && !args.force {
        bail!(
            "{} already exists (an export being edited?): choose another name, or pass --force to replace it",
            args.output.display()
        );
    }
    let store = super::store_to_read(&args.store.store)?;
    let created_by = match &args.name {
        Some(name) => match store.batch(name)? {
            Some(batch) => Some(batch.id),
            None => bail!("no batch `{name}` in {}", args.store.store.display()),
        },
        None => None,
    };
    let count = export::export(
        &args.output,
        &Selection {
            store: &store,
            created_by,
        },
        Progress::new(!args.quiet),
    )?;
    if args.output.as_os_str() != "-" && !args.quiet {
        // A flat row cannot say "bot": say it was left out, for an export is also a backup.
        let flat = (args.output.extension()).is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let bot = match flat {
            true => store.bot_record_id(created_by)?,
            false => None,
        };
        let left_out = bot.map_or(String::new(), |rid| {
            format!(" (not the bot account `{rid}`: a flat CSV has no place for it; export .xlsx or .jsonl to keep it)")
        });
        errln!(
            "muster: exported {count} records to {}{left_out}",
            args.output.display()
        );
    }
    Ok(ExitStatus::Success)
}
