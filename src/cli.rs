//! The command line (clap derive). Arguments stay close to the flags; `cmd/` turns them into work.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "muster", version = crate::VERSION, about = "Validate, annotate and normalize spreadsheets of manual users", long_about = None)]
pub struct Cli {
    /// When to colour the terminal output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Draw no progress bar or spinner, whatever the terminal (the closing summary stays).
    /// `MUSTER_NO_PROGRESS=1` (or any value but `0`, `false`, `no`, `off` or empty) does too.
    #[arg(
        long,
        global = true,
        env = "MUSTER_NO_PROGRESS",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

// Parsed once per run: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a batch (workbook, CSV directory or flat CSV) and report every problem with its cell.
    #[command(
        after_help = "Examples:\n  muster validate q3-contractors.xlsx --report findings.csv --out records.jsonl\n  muster validate vendor.xlsx --annotate vendor-annotated.xlsx --report findings.xlsx\n  muster validate vendor-batch/ --format json\n  muster validate flat.csv --deny R001 --allow N001\n\nExit codes: 0 no errors, 1 findings at error severity, 2 muster could not do its job."
    )]
    Validate(ValidateArgs),
    /// Validate a batch against the store too, show the plan, and apply it in one transaction.
    #[command(
        after_help = "Examples:\n  muster import q3-contractors.xlsx --dry-run\n  muster import q3-contractors.xlsx --batch 2026-Q3\n  muster import current.xlsx --prune --max-remove 20\n\nExit codes: 0 applied (or nothing to do), 1 findings at error severity (nothing applied without --partial), 2 muster could not do its job."
    )]
    Import(ImportArgs),
    /// Write the store's manual users and bot as a workbook, a flat CSV or JSONL.
    #[command(
        after_help = "Examples:\n  muster export -o current.xlsx\n  muster export -o current.csv --batch 2026-Q3\n  muster export -o - > records.jsonl"
    )]
    Export(ExportArgs),
    /// What each batch did to a record; without one, every batch applied.
    #[command(
        after_help = "Examples:\n  muster history              (every batch, newest first: the names revert takes)\n  muster history CTR-1042     (each change to one record, field by field)"
    )]
    History(HistoryArgs),
    /// Remove manual users from the store (recorded like a batch, so it can be reverted).
    #[command(
        after_help = "Examples:\n  muster remove CTR-1042 CTR-1043\n  muster remove BOT-0001 --include-bot\n\nThe removal is recorded as a batch `remove-<time>`: `muster revert` with that name brings the records back."
    )]
    Remove(RemoveArgs),
    /// Erase people: remove them from the store and their data from its history (cannot be undone).
    #[command(
        after_help = "Examples:\n  muster forget CTR-1042\n\nThe stored record and every logged change of it are deleted, and the file rewritten without them; the batch `forget-<time>` logs the record ids alone and cannot be reverted."
    )]
    Forget(ForgetArgs),
    /// Undo a batch: restore every record it changed.
    #[command(
        after_help = "Examples:\n  muster history               (the batch names, newest first)\n  muster revert 2026-Q3\n  muster revert 2026-Q3 --force (also undoing later batches' changes to the same records)\n\nThe revert is recorded as a batch `revert-<batch>-<time>`, which can itself be reverted."
    )]
    Revert(RevertArgs),
    /// Write a blank import workbook (or CSV set) to hand to a vendor.
    #[command(
        after_help = "Examples:\n  muster template -o manual-users-template.xlsx\n  muster template -o example.xlsx --example\n  muster template --format csv -o vendor-batch/"
    )]
    Template(TemplateArgs),
    /// List the rules, or explain one (`muster rules V002`).
    #[command(
        after_help = "Examples:\n  muster rules\n  muster rules V002\n  muster rules invalid-email\n  muster rules --markdown > docs/rules.md"
    )]
    Rules(RulesArgs),
    /// Print a shell completion script (`muster completions bash > /etc/bash_completion.d/muster`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Batch files or directories; `-` reads one CSV from standard input.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write every finding to FILE (.csv, .json or .xlsx; `-` for CSV on standard output).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the batch back as a workbook with every problem cell filled and noted, plus Issues and Summary sheets.
    #[arg(long, value_name = "FILE.xlsx")]
    pub annotate: Option<PathBuf>,
    /// Write the normalized records of the valid users to FILE (.jsonl or .json; `-` for JSONL on standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Configuration file (default: $MUSTER_CONFIG, else ./muster.toml, else built-in).
    #[arg(long, value_name = "FILE", env = "MUSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Also check against this store (S001, S004, D004, B001; managers it knows). Default: $MUSTER_STORE when set, else none.
    #[arg(long, value_name = "FILE", env = "MUSTER_STORE")]
    pub store: Option<PathBuf>,
    /// An export of the primary identity source's users, with email_addr and record_id (S002, S003).
    #[arg(long, value_name = "FILE")]
    pub source: Option<PathBuf>,
    /// Header renames for vendor files: a TOML file with a [columns] table.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// CSV delimiter, instead of sniffing it (`,` `;` `|` or `tab`).
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// Encoding of CSV files that are not UTF-8, instead of detecting it (`windows-1251`,
    /// `shift_jis`, `macintosh`, …: any WHATWG label).
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// Make rules errors (codes or names; repeat it, or separate them with commas).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub deny: Vec<String>,
    /// Make rules warnings (codes or names; repeat it, or separate them with commas).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub warn: Vec<String>,
    /// Silence rules (codes or names; repeat it, or separate them with commas).
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Terminal output: a text summary, or the JSON report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// No summary; only file-level problems and a closing line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Refuse tables with more columns than this.
    #[arg(long, value_name = "N", default_value_t = 16_384)]
    pub max_columns: usize,
    /// Refuse tables with more rows than this.
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    pub max_rows: usize,
    /// Refuse workbooks whose parts unpack to more than this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub max_unpacked_mib: u64,
    /// Threads, 1 to 1024 (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateFormat {
    Xlsx,
    Csv,
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The workbook to write (.xlsx), or with --format csv the directory for the CSV set.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Fill in a few realistic rows that validate clean.
    #[arg(long)]
    pub example: bool,
    /// xlsx (default for a .xlsx path) or csv (a directory of users.csv, itsm_ids.csv, …).
    #[arg(long, value_enum)]
    pub format: Option<TemplateFormat>,
    /// Replace a workbook or CSV files already there (by default they are kept: a filled batch
    /// of the same name would be lost).
    #[arg(long)]
    pub force: bool,
    /// Configuration whose connectors fill the integration lists (default: $MUSTER_CONFIG, else ./muster.toml, else built-in).
    #[arg(long, value_name = "FILE", env = "MUSTER_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The store every store command takes.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The store (a SQLite file; `import` creates it, the other commands need it there).
    #[arg(
        long,
        value_name = "FILE",
        env = "MUSTER_STORE",
        default_value = "muster.db"
    )]
    pub store: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The batch: a workbook, a CSV directory, a flat CSV or JSONL records.
    pub batch: PathBuf,
    #[command(flatten)]
    pub store: StoreArg,
    /// The batch's name (default: the file's stem and the first 8 hex digits of its SHA-256).
    #[arg(long = "batch", value_name = "NAME")]
    pub name: Option<String>,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the valid records even when other rows have errors.
    #[arg(long)]
    pub partial: bool,
    /// Remove stored manual users absent from the batch (never the bot).
    #[arg(long)]
    pub prune: bool,
    /// Apply updates that clear stored values of a column or ID sheet the batch does not have
    /// (refused by default: a column left out is not a column emptied).
    #[arg(long)]
    pub clear_absent: bool,
    /// Apply updates whose values a spreadsheet saved another way than the store holds them
    /// (`00123` → `123`, `1.10` → `1.1`, a date, `王` → `?`; refused by default: an export
    /// opened and saved again is not an edit).
    #[arg(long, alias = "accept-lost-zeros")]
    pub accept_reformatted: bool,
    /// Apply a plan that replaces or changes the stored bot account (refused by default: there
    /// is one bot per organization, and a vendor's batch may carry a template's example bot).
    #[arg(long)]
    pub replace_bot: bool,
    /// Refuse a plan removing more users than this (default: 10 % of the store or 500, whichever is smaller).
    #[arg(long, value_name = "N")]
    pub max_remove: Option<usize>,
    /// An export of the primary identity source's users (S002, S003).
    #[arg(long, value_name = "FILE")]
    pub source: Option<PathBuf>,
    /// Configuration file (default: $MUSTER_CONFIG, else ./muster.toml, else built-in).
    #[arg(long, value_name = "FILE", env = "MUSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Header renames for vendor files: a TOML file with a [columns] table.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// CSV delimiter, instead of sniffing it (`,` `;` `|` or `tab`).
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// Encoding of CSV files that are not UTF-8, instead of detecting it (`windows-1251`,
    /// `shift_jis`, `macintosh`, …: any WHATWG label).
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// The plan as text, or as JSON on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only file-level problems and a closing line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// .xlsx (the template's layout), .csv (flat) or .jsonl; `-` for JSONL on standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub store: StoreArg,
    /// Only the records this batch created.
    #[arg(long = "batch", value_name = "NAME")]
    pub name: Option<String>,
    /// Replace a file already there (by default it is kept: an export being edited would be
    /// lost).
    #[arg(long)]
    pub force: bool,
    /// No progress and no closing line.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The record whose changes to show; without one, every batch applied (the names
    /// `revert` takes).
    pub record_id: Option<String>,
    #[command(flatten)]
    pub store: StoreArg,
    /// The history as text, or as JSON on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The record ids of the users to remove.
    #[arg(required = true)]
    pub record_ids: Vec<String>,
    /// Remove the bot account too when its record id is given (refused by default).
    #[arg(long)]
    pub include_bot: bool,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub output: ChangeOutput,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The record ids of the people to erase: stored users, or users removed since.
    #[arg(required = true)]
    pub record_ids: Vec<String>,
    /// Erase the bot account too when its record id is given (refused by default).
    #[arg(long)]
    pub include_bot: bool,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub output: ChangeOutput,
}

#[derive(Debug, Args)]
pub struct RevertArgs {
    /// The batch's name, as `muster history` lists them.
    pub batch: String,
    #[command(flatten)]
    pub store: StoreArg,
    /// Revert even when later batches changed the same records (their changes are undone too).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: ChangeOutput,
}

/// How `remove`, `forget` and `revert` say what they did.
#[derive(Debug, Args)]
pub struct ChangeOutput {
    /// What was done as text, or as JSON on stdout (a failure too).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// No closing line (errors are still said, on stderr); JSON is printed all the same.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A rule code or name to explain.
    pub code: Option<String>,
    /// Print the whole rule table as Markdown (docs/rules.md).
    #[arg(long, conflicts_with = "code")]
    pub markdown: bool,
}
