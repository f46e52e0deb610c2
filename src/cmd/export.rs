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
        eprintln!(
            "muster: exported {count} records to {}",
            args.output.display()
        );
    }
    Ok(ExitStatus::Success)
}
