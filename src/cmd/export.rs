//! `muster export`: the store → a workbook, a flat CSV or JSONL.

use crate::cli::ExportArgs;
use crate::store::Store;
use crate::{export, ExitStatus};
use anyhow::bail;

pub fn run(args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let store = Store::open(&args.store.store)?;
    let mut users = store.users()?;
    if let Some(name) = &args.name {
        let Some(batch) = store.batch(name)? else {
            bail!("no batch `{name}` in {}", args.store.store.display());
        };
        users.retain(|u| u.created_by == Some(batch.id));
    }
    export::export(&args.output, &users)?;
    if args.output.as_os_str() != "-" {
        eprintln!(
            "muster: exported {} records to {}",
            users.len(),
            args.output.display()
        );
    }
    Ok(ExitStatus::Success)
}
