//! `muster template`: the import workbook (or CSV set) to hand to a vendor.

use crate::cli::{TemplateArgs, TemplateFormat};
use crate::{template, ExitStatus};
use anyhow::bail;

pub fn run(args: &TemplateArgs) -> anyhow::Result<ExitStatus> {
    let config = super::config(args.config.as_deref())?;
    let is_xlsx = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let format = match (args.format, is_xlsx) {
        (Some(format), _) => format,
        (None, true) => TemplateFormat::Xlsx,
        (None, false) => bail!(
            "cannot tell the format of {}: name an .xlsx file, or pass --format csv for a CSV set",
            args.output.display()
        ),
    };
    // Said first: replacing the file would not help (review: `-o folder` said to pass --force).
    if matches!(format, TemplateFormat::Xlsx) && !is_xlsx {
        bail!(
            "the template workbook must be an .xlsx file (got {})",
            args.output.display()
        );
    }
    // A filled batch often has the template's name: replacing it would lose the vendor's rows.
    let existing = match format {
        TemplateFormat::Xlsx => vec![args.output.clone()],
        TemplateFormat::Csv => template::csv_set_files(&args.output),
    };
    if let Some(there) = existing.iter().find(|p| p.exists()).filter(|_| !args.force) {
        bail!(
            "{} already exists (a filled batch?): choose another name, or pass --force to replace it",
            there.display()
        );
    }
    match format {
        TemplateFormat::Xlsx => template::write_workbook(&args.output, &config, args.example)?,
        TemplateFormat::Csv => template::write_csv_set(&args.output, &config, args.example)?,
    }
    Ok(ExitStatus::Success)
}
