//! Validation: ID sheets first, then user sheets, a chunk at a time when they stream (a CSV's
//! blocks, an XLSX sheet's rows from the reader thread):
//! per-row rules run in parallel (rayon keeps row order), each row's candidate record goes to the
//! record sink and its keys to the cross-row buckets ([`cross`]). Then the cross-row rules
//! (D, R, B) run over the buckets and decide which candidates are records. Order inside a cell
//! follows SPEC §4: raw-cell checks, normalization, value rules.

use crate::check::{did_you_mean, email, ids, values};
use crate::config::{Config, ConnectorKind};
use crate::finding::{column_letter, Finding, Owner, SenderText};
use crate::input::headers::{
    map_sheet, unnamed_column, Attr, Field, HeaderProblem, IdList, IdPart, Mapping, Renames,
};
use crate::input::{Batch, Cell, CellOrigin, Row, Sheet, SheetKind};
use crate::record::{IdEntry, Keep, Record, RecordSink, Records};
use crate::rules::{Rule, Severity};
use foldhash::{HashMap, HashMapExt, HashSet};

mod buckets;
mod cross;
pub use cross::SinceExport;
mod stored;
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;
pub use stored::{StoredAddresses, StoredIdentities, StoredRecords, StoredVersion};

/// What validation produced.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// The records of valid users, bots last.
    pub records: Records,
    pub stats: Stats,
    /// The record id of every user row, valid or not, when [`Keep::keeps_record_ids`] (`import
    /// --prune`, and records kept in memory): `--prune` never removes a user the batch holds,
    /// even one whose row has errors. Empty otherwise.
    pub record_ids: HashSet<String>,
    /// Valid ID-sheet entries for stored users the batch does not hold, by record id: an
    /// import adds them to the stored records.
    pub stored_entries: BTreeMap<String, Vec<IdEntry>>,
    /// The batch is an export (its Users sheet has `row_version`).
    pub from_export: bool,
    /// With the record ids, of an export: the stored users it has no row for that `--prune`
    /// keeps, as they were written after the export may have been made.
    pub since_export: Option<SinceExport>,
    /// The manual users' rows (valid or not) whose record id the store holds.
    pub rows_in_store: usize,
    /// An export's rows untouched since it was made whose users changed in the store since:
    /// no S004, and an import keeps their stored records.
    pub rows_untouched: usize,
    /// The record ids of an export's rows untouched since it was made whose users were removed
    /// from the store since: no S004, and no record (an import leaves them out).
    pub removed_since: Vec<String>,
    /// The record ids of rows with errors that hold their stored record's current
    /// `row_version`: exported from the store as it is, so, unless edited, records an earlier
    /// muster or another configuration stored that this one refuses (upgrade review: the
    /// store's own export failed with no word of why or what to do).
    pub refused_as_stored: Vec<String>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    pub rows: usize,
    pub users: usize,
    pub valid: usize,
    pub with_errors: usize,
    pub with_warnings: usize,
}

/// Where a value sits: enough to build a finding.
#[derive(Debug, Clone)]
struct Place<'a> {
    sheet: &'a Sheet,
    row: Option<u32>,
    col: Option<usize>,
    /// Borrowed from the column's name on the per-cell path; owned only when formatted.
    field: Cow<'a, str>,
}

/// Which raw-cell checks a cell takes beyond V007 and V008's control characters and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Names and other text: nothing more.
    Text,
    /// A value compared with the same value elsewhere (a record id on an ID sheet): V008 for
    /// an invisible format character, which would break the match unseen.
    Key,
    /// An address: a key, but U+200C and U+200D may be part of an internationalized domain
    /// (IDNA2008 allows them where a script needs them; V002 checks the rest).
    Address,
    /// A key a spreadsheet can mangle (SPEC §2's identifier fields): V009 as well.
    Identifier,
}

/// A finding about the store or the source directory, with the stored record (its number in
/// `store_records`) holding the key it names, for S001 and D004 against the store: such a
/// finding stands unless the batch gives that record a valid row of its own, which moves the
/// key away (two users swapping addresses), or a valid new bot replaces it
/// (`CrossRow::finish` settles it once every user's validity is known).
pub(super) struct StoreFinding {
    pub finding: Finding,
    pub holder: Option<u32>,
}

/// What the batch is checked against besides itself: the store (S001, S004, R001) and the
/// primary source's directory (S002, S003, R001). Empty for a plain `validate`.
#[derive(Debug, Default)]
pub struct Known {
    /// Email key (IDNA, lower-case) → the stored record holding it (an index into
    /// `store_records`), for every stored primary address and alias.
    pub store_addresses: StoredAddresses,
    /// Every stored record id, with its `row_version` and the digest of its text.
    pub store_records: StoredRecords,
    /// (integration, user_id) → the stored record holding it (an index into
    /// `store_records`), for every stored ID-info entry (D004).
    pub store_identities: StoredIdentities,
    /// Email key → record id, from `--source`.
    pub source_emails: HashMap<String, String>,
    /// Record ids the source provides.
    pub source_ids: HashSet<String>,
    /// Whether a store was given (for R001's message).
    pub has_store: bool,
    /// The stored bot account's number in `store_records` (B001 for a row of the other kind).
    pub store_bot: Option<u32>,
    /// The store's change log, for `import --prune` of an export ([`VersionHistory`]).
    pub history: Option<Box<dyn VersionHistory>>,
}

/// When a stored record first had a version: `--prune` of an export takes the newest record
/// the export's rows hold as stored for a moment the export was made after, and that is when
/// the record first had the row's version, not when it was last written (review: a revert, or
/// an edit set back, wrote an old version again, and the users created in between were pruned).
pub trait VersionHistory: Send + Sync + std::fmt::Debug {
    /// The batch that first wrote `row_version` of `record_id`, or `None` when the log cannot
    /// tell (then the caller takes the batch that last wrote it).
    fn first_writer(&self, record_id: &str, row_version: &str) -> Option<u32>;

    /// Whether a record of `record_id` was removed from the store (by `remove`, `--prune`, a
    /// revert, a bot replaced).
    fn was_removed(&self, record_id: &str) -> bool;

    /// Whether the log was read without locks and its file changed since: what it answered
    /// may then mix two states of it, and nothing validated against it is to be trusted.
    fn changed_while_read(&self) -> bool {
        false
    }
}

impl Known {
    /// Frees what a store read built (for a million stored users, about 1.4 GB of tables and
    /// a string or two per user) on a thread of its own, once validation is done with it,
    /// instead of making the outputs or the apply wait while it is freed.
    pub fn drop_in_background(mut self) {
        // The change log's connection is closed here, before the store's: the last connection
        // to a store closes its `-wal` and `-shm` files, and one left to a thread the process
        // may end first leaves them beside the store.
        drop(self.history.take());
        if !self.has_store {
            return;
        }
        drop_in_background(self, "free-store-keys");
    }
}

/// Frees `value` on a thread of its own (named `name`), so that what comes next does not
/// wait for it.
fn drop_in_background<T: Send + 'static>(value: T, name: &str) {
    // With no thread to be had, the closure (and `value` in it) is dropped right here.
    let _ = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || drop(value));
}

/// Builds findings with the severities in force; a silenced rule builds nothing.
struct Reporter<'a> {
    config: &'a Config,
}

impl Reporter<'_> {
    #[allow(clippy::too_many_arguments)]
    fn make(
        &self,
        rule: Rule,
        place: &Place,
        record_id: Option<&str>,
        value: Option<&str>,
        message: String,
        suggestion: Option<String>,
        owner: Owner,
    ) -> Option<Finding> {
        // A record cannot be written without its joining keys: an empty or unusable
        // `record_id` or `email_addr` (V001, V002) stays an error whatever the configuration
        // says, or a row without a record id would be stored, and the next one replace it.
        let key = matches!(rule, Rule::RequiredValueEmpty | Rule::InvalidEmail)
            && matches!(&*place.field, "record_id" | "email_addr");
        let severity = match self.config.rules.severity(rule) {
            _ if key => Severity::Error,
            severity => severity?,
        };
        let sheet = place.sheet;
        // A value these rules reject is never written, whatever their severity: lowered, the
        // row stays valid without it, and the finding says so.
        let dropped = severity != Severity::Error
            && matches!(
                rule,
                Rule::InvalidEmail
                    | Rule::InvalidWorkStatus
                    | Rule::UnknownUserTag
                    | Rule::UnknownTimezone
                    | Rule::InvalidCountry
                    | Rule::FormulaCell
                    | Rule::ControlCharacters
                    | Rule::MangledIdentifier
            );
        let message = if dropped {
            format!("{message} (left out of the record)")
        } else {
            message
        };
        Some(Finding {
            severity,
            code: rule.code(),
            file: sheet.file.clone(),
            sheet: sheet.sheet.clone(),
            row: place.row,
            column: place.col.filter(|_| sheet.lettered).map(column_letter),
            field: (!place.field.is_empty()).then(|| place.field.to_string()),
            record_id: record_id.filter(|r| !r.is_empty()).map(str::to_string),
            value: value.map(str::to_string),
            message,
            suggestion,
            to_sender: None,
            owner,
            position: (
                sheet.order.0,
                sheet.order.1,
                place.row.unwrap_or(0),
                // JSONL shows no column: a line's findings go by code alone (SPEC §5).
                place.col.filter(|_| sheet.lettered).map_or(0, |c| c + 1),
            ),
        })
    }
}

/// Per-row work: findings plus what the cross-row pass needs.
struct RowCx<'a> {
    rep: &'a Reporter<'a>,
    findings: Vec<Finding>,
    owner: Owner,
    record_id: String,
}

impl<'a> RowCx<'a> {
    fn report(
        &mut self,
        rule: Rule,
        place: &Place,
        value: &str,
        message: String,
        suggestion: Option<String>,
    ) {
        if let Some(f) = self.rep.make(
            rule,
            place,
            Some(&self.record_id),
            Some(value),
            message,
            suggestion,
            self.owner.clone(),
        ) {
            self.findings.push(f);
        }
    }

    /// The raw-cell checks (V007, V008, V009) and N001/N009. Returns the trimmed text, or `None`
    /// when the cell is empty or a raw check flagged it (it then takes part in no other rule).
    fn raw(
        &mut self,
        place: &Place,
        cell: Option<&Cell>,
        multi: bool,
        role: Role,
    ) -> Option<String> {
        let cell = cell?;
        if let Some(covered) = cell.covered {
            if !self.merged(place, &cell.text, covered) {
                return None;
            }
        }
        let text = cell.text.as_str();
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return None;
        }
        if cell.origin == CellOrigin::Formula || values::runs_as_formula(text.trim_start()) {
            let what = if cell.origin == CellOrigin::Formula && !text.starts_with('=') {
                // An XLS formula filled down a column, whose text is not read: its value.
                "is the value a formula left (an XLS formula filled down the column, whose text is not shown)"
            } else if cell.origin == CellOrigin::Formula {
                "is a formula"
            } else {
                "would run as a formula in a spreadsheet"
            };
            let suggestion = match values::handle_after_at(text.trim()) {
                // `@U012AB3CG`, `@jdoe`: a mention or a handle, whose `@` makes it a formula.
                Some(rest) if cell.origin != CellOrigin::Formula => {
                    format!("Use `{rest}`, without the `@` a spreadsheet reads as a formula")
                }
                _ => "Enter the value itself, not a formula".to_string(),
            };
            self.report(
                Rule::FormulaCell,
                place,
                text,
                format!("`{}` {what}", clip(text)),
                Some(suggestion),
            );
            return None;
        }
        if values::too_wide_mark(trimmed) {
            self.report(
                Rule::FormulaCell,
                place,
                text,
                format!("`{trimmed}` is what a spreadsheet shows for a value too wide for its column: the value is lost"),
                Some("Widen the column in the spreadsheet, save the file again, and check the value".into()),
            );
            return None;
        }
        if values::spreadsheet_error(trimmed) {
            self.report(
                Rule::FormulaCell,
                place,
                text,
                format!("`{trimmed}` is a spreadsheet's error value: the formula that made it failed, and the value is lost"),
                Some("Enter the value itself (look it up again where the formula took it from)".into()),
            );
            return None;
        }
        // A character is at least a byte: only a long text needs its characters counted.
        let length = if text.len() > values::MAX_CELL_CHARS {
            text.chars().count()
        } else {
            text.len()
        };
        if length > values::MAX_CELL_CHARS {
            self.report(
                Rule::ControlCharacters,
                place,
                &clip(text),
                format!(
                    "the value is {length} characters long, more than a spreadsheet cell holds ({})",
                    values::MAX_CELL_CHARS
                ),
                Some("Shorten it; nothing this long belongs in a user attribute".to_string()),
            );
            return None;
        }
        // Within the value: a line break or a tab before or after it is whitespace, trimmed
        // (N001) as a space is (review: a trailing line break was V008).
        if let Some(c) = values::control_character(trimmed, multi) {
            let (what, suggestion) = match c {
                '\n' | '\r' => ("a line break".to_string(), "Put the value on one line"),
                '\t' => ("a tab".to_string(), "Replace the tab with a space"),
                c => (
                    format!("the control character U+{:04X}", c as u32),
                    "Remove the control character",
                ),
            };
            self.report(
                Rule::ControlCharacters,
                place,
                text,
                format!("`{}` holds {what}", clip(text).escape_debug()),
                Some(suggestion.into()),
            );
            return None;
        }
        // What a decoder puts for bytes it could not read (a UTF-16 file with a lone
        // surrogate, a vendor's own export gone wrong): the character is lost, not the cell's.
        if !text.is_ascii() && text.contains('\u{FFFD}') {
            self.report(
                Rule::ControlCharacters,
                place,
                text,
                format!(
                    "`{}` holds U+FFFD, the mark of a character lost in decoding",
                    clip(text)
                ),
                Some("Save the file again as UTF-8 from the program that made it".into()),
            );
            return None;
        }
        if role != Role::Text {
            if let Some(c) = values::format_character(text, role == Role::Address) {
                self.report(
                    Rule::ControlCharacters,
                    place,
                    text,
                    format!(
                        "`{}` holds the invisible character U+{:04X}",
                        clip(text).escape_debug(),
                        c as u32
                    ),
                    Some("Remove the invisible character: type the value again".into()),
                );
                return None;
            }
        } else if let Some(c) = values::bidi_override(text) {
            self.report(
                Rule::ControlCharacters,
                place,
                text,
                format!(
                    "`{}` holds U+{:04X}, which shows the text after it in reverse order",
                    clip(text).escape_debug(),
                    c as u32
                ),
                Some("Remove the invisible character: type the value again".into()),
            );
            return None;
        }
        // A space that is not the one a keyboard types (U+00A0 from a web page or Word) inside
        // a key: it looks the same, so `CTR 1` and `CTR\u{a0}1` would be two ids no one can
        // tell apart. (An address with any space is V002.)
        // Both checks below look only at characters beyond ASCII: one scan rules them out
        // for nearly every key.
        let non_ascii_key = matches!(role, Role::Key | Role::Identifier) && !text.is_ascii();
        if non_ascii_key {
            if let Some(c) = values::odd_space(text) {
                self.report(
                    Rule::ControlCharacters,
                    place,
                    text,
                    format!(
                        "`{}` holds U+{:04X}, a space that looks like a typed one but is not",
                        clip(text),
                        c as u32
                    ),
                    Some("Type the space again (or remove it)".into()),
                );
                return None;
            }
        }
        if non_ascii_key {
            if let Some(l) = values::lookalike(trimmed) {
                let suggestion = format!("Use `{}`", l.fixed);
                self.report(
                    Rule::LookalikeCharacters,
                    place,
                    text,
                    format!(
                        "`{}` holds `{}` (U+{:04X}), {} that looks like an ASCII character but is not: it would be another key than the one it looks like",
                        clip(trimmed),
                        l.found,
                        l.found as u32,
                        l.what
                    ),
                    Some(suggestion),
                );
                // Lowered, the key is taken as written: ids that are full-width in their own
                // system (rare) stay loadable.
                if self.rep.config.rules.severity(Rule::LookalikeCharacters)
                    == Some(Severity::Error)
                {
                    return None;
                }
            }
        }
        if role == Role::Identifier {
            let why = match cell.origin {
                CellOrigin::Date => Some("is a date cell: a spreadsheet turned the id into a date"),
                CellOrigin::ImpreciseNumber => Some(
                    "has 16 or more digits in a number cell: a spreadsheet lost its last digits",
                ),
                CellOrigin::ScientificNumber => Some(
                    "is a number cell the sheet shows in scientific notation: a spreadsheet may have kept only the digits it showed",
                ),
                _ => values::mangled_text(trimmed),
            };
            if let Some(why) = why {
                self.report(
                    Rule::MangledIdentifier,
                    place,
                    text,
                    format!("`{trimmed}` {why}"),
                    Some("Format the column as text and enter the id again from its source".into()),
                );
                return None;
            }
        }
        if cell.origin == CellOrigin::Padded {
            self.report(
                Rule::PaddingRestored,
                place,
                text,
                format!("read as `{trimmed}` with the zero padding its number format shows"),
                None,
            );
        }
        if trimmed != text {
            self.report(
                Rule::WhitespaceTrimmed,
                place,
                text,
                "leading or trailing whitespace trimmed".into(),
                None,
            );
        }
        Some(trimmed.to_string())
    }

    /// N010 on a cell filled from the top of the cells merged with it, V011 on one that holds
    /// another value than the sheet shows over it; whether the cell's value is to be read (not
    /// after V011). Out of line: rare, and `raw` runs for every cell.
    #[cold]
    #[inline(never)]
    fn merged(&mut self, place: &Place, text: &str, covered: crate::input::Covered) -> bool {
        let Some(col) = place.col else { return true };
        let top = format!("{}{}", crate::finding::column_letter(col), covered.top());
        if covered.is_filled() {
            self.report(
                Rule::MergedCellFilled,
                place,
                text,
                format!(
                    "read as `{}`, the value of {top} above: the sheet shows it over this cell, merged with it",
                    clip(text.trim()),
                ),
                Some("Nothing to do if the value is meant for this row; to make it plain, unmerge the cells and enter it in each row".into()),
            );
            return true;
        }
        let (message, suggestion) = if text.trim().is_empty() {
            (
                format!(
                    "the sheet shows {top}'s value over this cell, merged with it, but `{}` belongs to one user: this row is read without it",
                    place.field
                ),
                "Unmerge the cells and enter this row's own value, if it has one",
            )
        } else {
            (
                format!(
                    "holds `{}`, which the sheet hides: it shows {top}'s value over this cell, merged with it",
                    clip(text.trim())
                ),
                "Unmerge the cells to see each row's own value, and keep the one meant",
            )
        };
        self.report(
            Rule::MergedCellHidesValue,
            place,
            text,
            message,
            Some(suggestion.into()),
        );
        false
    }

    /// V001 when a required value is empty; `raw` is the cell as read (spaces only, or nothing).
    fn required(
        &mut self,
        place: &Place,
        raw: &str,
        value: Option<String>,
        flagged: bool,
    ) -> Option<String> {
        if value.is_none() && !flagged {
            self.report(
                Rule::RequiredValueEmpty,
                place,
                raw,
                format!("`{}` is required", place.field),
                None,
            );
        }
        // Only invisible characters (a zero-width space, a Hangul filler): as empty as a blank
        // cell, for a key (V008 has said so) as for a name.
        if value.as_deref().is_some_and(values::invisible_only) {
            if !flagged {
                self.report(
                    Rule::RequiredValueEmpty,
                    place,
                    raw,
                    format!(
                        "`{}` is required, and the cell holds only invisible characters",
                        place.field
                    ),
                    None,
                );
            }
            return None;
        }
        value
    }

    /// V002 and N002 for one address; the lower-cased address when valid.
    fn email(&mut self, place: &Place, raw: &str, value: &str) -> Option<String> {
        if let Err(p) = email::check(value) {
            self.report(
                Rule::InvalidEmail,
                place,
                raw,
                format!("`{value}` is not a valid email address: {}", p.reason),
                p.suggestion,
            );
            return None;
        }
        let lower = value.to_lowercase();
        if lower != value {
            self.report(
                Rule::EmailLowercased,
                place,
                raw,
                format!("`{value}` lower-cased to `{lower}`"),
                None,
            );
        }
        Some(lower)
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Whether an alias is the primary address in another form. Both are normalized: ASCII
/// addresses are their own keys, compared as they are.
fn same_address(alias: &str, primary: &str) -> bool {
    alias == primary
        || (!(alias.is_ascii() && primary.is_ascii()) && email::key(alias) == email::key(primary))
}

/// A user row after the per-row rules.
#[derive(Clone)]
struct UserRow {
    sheet: usize,
    row: u32,
    bot: bool,
    record_id: String,
    record_col: Option<usize>,
    email: Option<(String, Option<usize>)>,
    aliases: Vec<(String, Option<usize>)>,
    manager: Option<(String, Option<usize>)>,
    /// From a `muster export`: the stored record's version when it was exported (S004).
    row_version: Option<(String, Option<usize>)>,
    attrs: BTreeMap<Attr, String>,
    tags: Vec<String>,
    /// The tags in the order the row gave them, when that is not the reference's (`tags`'s):
    /// an export of a record an earlier muster wrote lists them so, and its row_version is
    /// of that order (upgrade review: such an export's untouched rows were S004).
    tags_as_given: Vec<String>,
    custom: BTreeMap<String, String>,
    entries: Vec<EntryRow>,
    /// Its keys (record id, addresses) as read where they differ from the value kept, as
    /// (column, kept, as read): the `value` of a finding about the key (SPEC §5: the cell as
    /// read; for an alias, the alias as written in its cell).
    cells: Vec<(usize, String, String)>,
}

impl UserRow {
    /// The key kept as `kept` from column `col`, as read.
    fn cell<'s>(&'s self, col: Option<usize>, kept: &'s str) -> &'s str {
        self.cells
            .iter()
            .find(|(c, k, _)| Some(*c) == col && k == kept)
            .map_or(kept, |(_, _, read)| read.as_str())
    }

    /// Notes `kept` (from column `col`) was read as `read`, when they differ.
    fn read_as(&mut self, col: usize, kept: &str, read: &str) {
        if kept != read {
            self.cells.push((col, kept.to_string(), read.to_string()));
        }
    }

    /// Frees what the cross-row rules, which have the row's keys, do not look at: all but the
    /// bot's row and the inline entries an ID sheet or the row itself also gives (D003 in
    /// `CrossRow::add`). Freed here,
    /// on the worker that allocated it: freed by the thread appending the rows, the same
    /// values made two threads spend a fifth more CPU than one (mimalloc's cross-thread
    /// frees; docs/benchmarks.md).
    fn keep_for_cross_row(&mut self, sheet_entries: &cross::SheetEntries) {
        self.attrs = BTreeMap::new();
        self.tags = Vec::new();
        self.tags_as_given = Vec::new();
        self.custom = BTreeMap::new();
        if self.bot {
            return;
        }
        self.email = None;
        self.aliases = Vec::new();
        self.manager = None;
        self.row_version = None;
        self.cells = Vec::new();
        if sheet_entries.slot(&self.record_id).is_none() && !self.integration_in_two_lists() {
            self.entries = Vec::new();
        }
    }

    /// Whether two of the row's inline entries are for one integration, in two lists (D003).
    fn integration_in_two_lists(&self) -> bool {
        let e = &self.entries;
        (e.iter().enumerate())
            .any(|(i, a)| e[i + 1..].iter().any(|b| b.integration == a.integration))
    }
}

/// An ID-info entry, from an ID sheet row or a user row's inline columns.
#[derive(Clone)]
struct EntryRow {
    sheet: usize,
    row: u32,
    list: IdList,
    record_id: String,
    record_col: Option<usize>,
    integration: String,
    integration_col: Option<usize>,
    user_id: Option<String>,
    user_id_col: Option<usize>,
    /// The user id's cell as read, where it differs from `user_id` (trimmed, lower-cased):
    /// the `value` of D004.
    user_id_cell: Option<String>,
    external_id: Option<String>,
    /// A raw check (V007, V008, V009) flagged the external_id cell: it is not missing, and
    /// takes part in no other rule (no I003).
    external_id_flagged: bool,
    /// Whether the entry came from an ID sheet (D005 applies) rather than inline columns.
    from_sheet: bool,
    /// An error on this entry's own cells.
    broken: bool,
}

/// Validates a batch, keeping the records in memory; `progress` advances one step per row
/// checked (a hidden bar draws nothing).
pub fn validate(
    batch: &Batch,
    config: &Config,
    renames: &Renames,
    known: &mut Known,
    progress: &indicatif::ProgressBar,
) -> Outcome {
    match validate_with(batch, config, renames, known, progress, &Keep::InMemory) {
        Ok(outcome) => outcome,
        Err(_) => unreachable!("records kept in memory involve no I/O"),
    }
}

/// Validates a batch, doing with the records what `keep` says. Fails only when a spill file
/// cannot be written or read. The store's identities are let go (`known.store_identities`
/// left empty) once every row is checked: the rules after that do not read them, and for a
/// store of a million users they are more than half of what the store read built.
pub fn validate_with(
    batch: &Batch,
    config: &Config,
    renames: &Renames,
    known: &mut Known,
    progress: &indicatif::ProgressBar,
    keep: &Keep,
) -> std::io::Result<Outcome> {
    let mut sink = RecordSink::new(keep)?;
    let mut spill_error: Option<std::io::Error> = None;
    progress.set_length(
        batch
            .sheets
            .iter()
            .map(|s| (s.rows.len() + s.rest.as_ref().map_or(0, |r| r.rows_hint)) as u64)
            .sum(),
    );
    let rep = Reporter { config };
    let mut findings: Vec<Finding> = Vec::new();
    for p in &batch.problems {
        let rule = Rule::from_code(p.code);
        let severity = config.rules.severity(rule);
        if let Some(severity) = severity {
            findings.push(Finding {
                severity,
                code: rule.code(),
                file: p.file.clone(),
                sheet: p.sheet.clone(),
                row: p.row,
                column: None,
                field: p.field.map(str::to_string),
                record_id: p.record_id.clone().filter(|r| !r.is_empty()),
                value: p.value.clone(),
                message: p.message.clone(),
                suggestion: None,
                to_sender: None,
                // A JSONL record's own problem (D003) makes that record invalid, not the file.
                owner: match &p.record_id {
                    Some(rid) => Owner::Record(rid.clone()),
                    None => Owner::Input(p.order.0),
                },
                position: (p.order.0, p.order.1, p.row.unwrap_or(0), 0),
            });
        }
    }
    let mappings: Vec<Mapping> = batch.sheets.iter().map(|s| map_sheet(s, renames)).collect();
    let mut stats = Stats::default();
    // The ID-sheet entries, a chunk's at a time: one list grown to hold them all was copied
    // and zeroed again at each doubling (0.9 s of CPU at 900,000 entries, in `perf`).
    let mut entry_chunks: Vec<Vec<EntryRow>> = Vec::new();
    // Findings about the store and the source directory: after the cross-row ones, as the
    // cross-row pass once made them.
    let mut late: Vec<StoreFinding> = Vec::new();
    let spill_dir = match keep {
        Keep::SpillIn(dir) | Keep::SpillForImport { dir, .. } => dir.clone(),
        _ => std::env::temp_dir(),
    };
    // The ID entries' identities (D004), bucketed as their rows come rather than after the last
    // user row: on a workbook this runs while the reader thread parses the rest.
    let mut entry_identities = cross::EntryIdentities::new(spill_dir.clone());
    // ID sheets first: then each user's record can be built, with its ID-sheet entries, as soon
    // as its row is checked, and the row's values need not be kept.
    let (id_sheets, user_sheets): (Vec<usize>, Vec<usize>) =
        (0..batch.sheets.len()).partition(|&si| !batch.sheets[si].kind.is_user_sheet());
    for &si in &id_sheets {
        let (sheet, mapping) = (&batch.sheets[si], &mappings[si]);
        let Some(list) = IdList::of_sheet(sheet.kind) else {
            continue;
        };
        each_chunk(&rep, sheet, mapping, &mut findings, |data, findings| {
            stats.rows += data.len();
            let results: Vec<(EntryRow, Vec<Finding>)> = data
                .par_iter()
                .with_min_len(256)
                .map(|row| {
                    progress.inc(1);
                    id_row(&rep, si, sheet, mapping, list, row)
                })
                .collect();
            let mut entries = Vec::with_capacity(results.len());
            for (entry, f) in results {
                findings.extend(f);
                late.extend(stored_identity(
                    &rep,
                    sheet,
                    &entry,
                    None,
                    Owner::Record(entry.record_id.clone()),
                    known,
                ));
                if let (Err(e), None) = (entry_identities.add(&entry), &spill_error) {
                    spill_error = Some(e);
                }
                entries.push(entry);
            }
            entry_chunks.push(entries);
        });
    }
    // ID-sheet entries by record id: one lookup per user, not a scan of every entry.
    let sheet_entries = cross::SheetEntries::new(entry_chunks.iter().flatten().collect());
    let keep_record_ids = keep.keeps_record_ids();
    let mut cross =
        cross::CrossRow::new(&sheet_entries, entry_identities, spill_dir, keep_record_ids);
    for &si in &user_sheets {
        let (sheet, mapping) = (&batch.sheets[si], &mappings[si]);
        // Inline columns whose integration got a column-level I001/I006 (unless silenced): their
        // entries take part in no other rule.
        let blocked_inline: HashSet<(IdList, &str)> = mapping
            .columns
            .iter()
            .filter_map(|c| match &c.field {
                Field::Inline {
                    list, integration, ..
                } => integration_problem(config, *list, integration)
                    .filter(|(rule, ..)| config.rules.severity(*rule).is_some())
                    .map(|_| (*list, integration.as_str())),
                _ => None,
            })
            .collect();
        // A chunk's rows are checked on all cores while the previous chunk's results are
        // appended, in order, to the records, the buckets and the findings.
        let mut pending: Option<Vec<CheckedUser>> = None;
        // The keys' buffers of the chunk appended last, for the next chunk's rows.
        let mut spare_keys: Vec<cross::Keys> = Vec::new();
        let mut next_base = cross.users();
        each_chunk(&rep, sheet, mapping, &mut findings, |data, findings| {
            stats.rows += data.len();
            let base = next_base;
            next_base += data.len();
            let wanted = sink.wants_records();
            let compared = sink.compares_with_store();
            let versioned = sink.wants_row_versions();
            let mut spares = std::mem::take(&mut spare_keys);
            spares.resize_with(data.len(), cross::Keys::default);
            let mut spent = Vec::with_capacity(pending.as_ref().map_or(0, Vec::len));
            let (appended, results) = rayon::join(
                || {
                    append(
                        pending.take(),
                        batch,
                        &mut sink,
                        &mut cross,
                        findings,
                        &mut late,
                        &mut spent,
                    )
                },
                || -> Vec<CheckedUser> {
                    data.par_iter()
                        .zip(spares)
                        .with_min_len(256)
                        .enumerate()
                        .map(|(i, (row, spare))| {
                            progress.inc(1);
                            let (mut user, f) =
                                user_row(&rep, si, sheet, mapping, row, base + i, &blocked_inline);
                            // The store's version of this record id, looked up once per row.
                            let stored = known.store_records.get(&user.record_id);
                            // An import needs no copy of a record that is the very text
                            // stored: re-importing a million unchanged users spilled 2.4 GB.
                            let digest = stored.filter(|_| compared).map(|v| v.digest);
                            let (record, same_as_stored) = if wanted {
                                let (r, same) = record_of(&user, &sheet_entries, digest, versioned);
                                (Some(r), same)
                            } else {
                                (None, false)
                            };
                            // A row whose record is the stored one is current, whatever
                            // export its row_version came from (an edit imported already,
                            // an import run again): no S004. Worked out only for a row
                            // whose row_version is not the stored one.
                            // With --prune: the stored record the row holds as stored, by its
                            // record id, or by its row_version under another record id (a
                            // record id changed: S004, and that record is kept).
                            let exported_current = match (&user.row_version, stored) {
                                (Some((v, _)), Some(s)) if keep_record_ids => {
                                    same_row_version(s.row_version, v).then_some(s.at)
                                }
                                (Some((v, _)), None) if keep_record_ids && is_row_version(v) => {
                                    known.store_records.with_version(v).map(|at| at | RENAMED)
                                }
                                _ => None,
                            };
                            // Whether the row is as it was exported: its record still has
                            // the row's own row_version (with its tags in the row's order,
                            // when the export is of a record an earlier muster wrote).
                            let as_exported = |v: &str| {
                                let versioned = |tags: &[String]| {
                                    record_with_tags(&user, tags, &sheet_entries, None, true)
                                        .0
                                        .row_version
                                        .is_some_and(|r| r.eq_ignore_ascii_case(v.as_bytes()))
                                };
                                versioned(&user.tags)
                                    || (!user.tags_as_given.is_empty()
                                        && versioned(&user.tags_as_given))
                            };
                            // Exported from the record as it is stored now.
                            let as_stored = !user.bot
                                && matches!((&user.row_version, stored), (Some((v, _)), Some(s))
                                    if same_row_version(s.row_version, v));
                            let mut removed_since = false;
                            let (current, untouched) = match (&user.row_version, stored) {
                                (Some((v, _)), Some(s)) if !same_row_version(s.row_version, v) => {
                                    let current = if digest.is_some() && record.is_some() {
                                        same_as_stored
                                    } else {
                                        record_of(&user, &sheet_entries, Some(s.digest), false).1
                                    };
                                    // Untouched since its export (its record still has the
                                    // row's own row_version): the user changed in the store
                                    // since, but not by this row, which is not to undo it.
                                    // The stored record is kept (review: a second admin's
                                    // export was S004 on rows they never edited).
                                    let untouched = !current
                                        && !user.bot
                                        && is_row_version(v)
                                        && as_exported(v);
                                    (current || untouched, untouched)
                                }
                                // Untouched since its export, and its user removed from the
                                // store since: the removal stands, as a change does above
                                // (review: S004, an error, on a row nobody edited).
                                // (Not in a store that holds no user: an export loads
                                // into it anew, a restore.)
                                (Some((v, _)), None)
                                    if !user.bot
                                        && is_row_version(v)
                                        && known.store_records.len()
                                            > usize::from(known.store_bot.is_some())
                                        && (known.history.as_ref())
                                            .is_some_and(|h| h.was_removed(&user.record_id))
                                        && as_exported(v) =>
                                {
                                    removed_since = true;
                                    (true, true)
                                }
                                _ => (false, false),
                            };
                            // Kept as stored: an import notes it without its text, as it
                            // notes a record the store holds as it is.
                            let same_as_stored = same_as_stored || (untouched && compared);
                            let mut known_findings = known_checks(
                                &rep,
                                sheet,
                                &user,
                                base + i,
                                (stored, current),
                                known,
                            );
                            // An untouched row is not applied: its keys against the store's
                            // (an address another admin moved since) are not its to answer
                            // for; only the kind of its record is.
                            if untouched {
                                known_findings
                                    .retain(|f| f.finding.code == Rule::MultipleBots.code());
                            }
                            let in_store = stored.is_some() && !user.bot;
                            let keys = cross::keys_of(&user, base + i, spare);
                            user.keep_for_cross_row(&sheet_entries);
                            CheckedUser {
                                user,
                                keys,
                                record,
                                same_as_stored,
                                in_store,
                                untouched,
                                removed_since,
                                as_stored,
                                exported_current,
                                findings: f,
                                known_findings,
                            }
                        })
                        .collect()
                },
            );
            if let (Err(e), None) = (appended, &spill_error) {
                spill_error = Some(e);
            }
            pending = Some(results);
            spare_keys = spent;
        });
        let appended = append(
            pending.take(),
            batch,
            &mut sink,
            &mut cross,
            &mut findings,
            &mut late,
            &mut Vec::new(),
        );
        if let (Err(e), None) = (appended, &spill_error) {
            spill_error = Some(e);
        }
    }
    progress.finish_and_clear();
    if let Some(e) = spill_error {
        return Err(e);
    }
    // D004 was the last rule to read them: the cross-row rules' buckets are filled next.
    let identities = std::mem::take(&mut known.store_identities);
    if !identities.is_empty() {
        drop_in_background(identities, "free-store-identities");
    }
    let from_export = (batch.sheets.iter().zip(&mappings))
        .any(|(s, m)| s.kind == SheetKind::Users && m.column_of(&Field::RowVersion).is_some());
    cross.from_export = from_export;
    cross.addresses_missing = (batch.sheets.iter().zip(&mappings))
        .filter(|(s, m)| {
            s.kind == SheetKind::Users
                && !m.columns.is_empty()
                && m.column_of(&Field::Attr(Attr::EmailAddr)).is_none()
        })
        .map(|(s, _)| s.order.0)
        .collect();
    let removed_since = std::mem::take(&mut cross.removed_since);
    let (rows_in_store, rows_untouched) = (
        cross.rows_in_store,
        cross.untouched.len() - removed_since.len(),
    );
    let decided = cross.finish(&rep, batch, known, &mut findings, late, &mut stats)?;
    // 900,000 ID-sheet entries took a tenth of a second to free, before the outputs.
    drop(sheet_entries);
    if !entry_chunks.is_empty() {
        drop_in_background(entry_chunks, "free-id-entries");
    }
    let records = sink.finish(|i| decided.valid[i])?;
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(Outcome {
        findings,
        records,
        stats,
        record_ids: decided.record_ids,
        stored_entries: decided.stored_entries,
        from_export,
        since_export: decided.since_export,
        refused_as_stored: decided.refused_as_stored,
        rows_in_store,
        rows_untouched,
        removed_since,
    })
}

/// Appends checked rows, in order: their records to the sink, their keys to the cross-row
/// buckets (their buffers then to `spent`), their findings.
fn append(
    checked: Option<Vec<CheckedUser>>,
    batch: &Batch,
    sink: &mut RecordSink,
    cross: &mut cross::CrossRow,
    findings: &mut Vec<Finding>,
    late: &mut Vec<StoreFinding>,
    spent: &mut Vec<cross::Keys>,
) -> std::io::Result<()> {
    let Some(checked) = checked else {
        return Ok(());
    };
    let base = cross.users();
    let mut records = Vec::with_capacity(checked.len());
    let mut rows = Vec::with_capacity(checked.len());
    for (k, user) in checked.into_iter().enumerate() {
        cross.rows_in_store += usize::from(user.in_store);
        if user.untouched {
            cross.untouched.insert(base + k);
        }
        if user.as_stored {
            cross.as_stored.push(base + k);
        }
        // Left out: no record, so the plan neither creates nor counts it.
        let record = match user.removed_since {
            true => {
                cross.removed_since.push(user.user.record_id.clone());
                None
            }
            false => user.record,
        };
        if let Some(at) = user.exported_current {
            cross.exported_current.push(at & !RENAMED);
            if at & RENAMED != 0 {
                cross.renamed.push(at & !RENAMED);
            }
        }
        findings.extend(user.findings);
        late.extend(user.known_findings);
        records.push((record, user.same_as_stored));
        rows.push((user.user, user.keys));
    }
    // The records go to the sink while the keys go to the buckets: the last chunk's append
    // runs after every check, with nothing beside it.
    let (sunk, added) = rayon::join(
        || {
            for (k, (record, same_as_stored)) in records.into_iter().enumerate() {
                if let Some(record) = record {
                    sink.push(base + k, record, same_as_stored)?;
                }
            }
            Ok(())
        },
        || {
            for (user, keys) in rows {
                cross.add(batch, &user, &keys)?;
                spent.push(keys);
            }
            Ok(())
        },
    );
    sunk.and(added)
}

/// A user row after the per-row rules: its keys, its candidate record, its findings, and its
/// findings about the store and the source.
struct CheckedUser {
    user: UserRow,
    keys: cross::Keys,
    record: Option<Record>,
    /// The record is the very text the store holds for its record id (import only).
    same_as_stored: bool,
    /// A manual user's row whose record id the store holds (`import`'s `kept_absent`).
    in_store: bool,
    /// An export's row untouched since the export, whose user changed in the store since, or
    /// was removed from it (then also `removed_since`).
    untouched: bool,
    removed_since: bool,
    /// The stored record's number, when the row holds its stored row_version.
    exported_current: Option<u32>,
    /// The row holds its stored record's current row_version.
    as_stored: bool,
    findings: Vec<Finding>,
    known_findings: Vec<StoreFinding>,
}

/// D004 against the store: an identity a stored user already holds. `own` is the stored
/// record of the entry's record id, when known.
fn stored_identity(
    rep: &Reporter,
    sheet: &Sheet,
    e: &EntryRow,
    own: Option<u32>,
    owner: Owner,
    known: &Known,
) -> Option<StoreFinding> {
    let uid = e.user_id.as_deref().filter(|_| !e.broken)?;
    if known.store_identities.is_empty() || e.record_id.is_empty() {
        return None;
    }
    let at = known.store_identities.holder(&e.integration, uid, own)?;
    let other = known.store_records.record_id(at);
    if other == e.record_id {
        return None;
    }
    let place = Place {
        sheet,
        row: Some(e.row),
        col: e.user_id_col,
        field: Cow::Borrowed(e.list.field(IdPart::UserId)),
    };
    let finding = rep.make(
        Rule::DuplicateExternalIdentity,
        &place,
        Some(&e.record_id),
        Some(e.user_id_cell.as_deref().unwrap_or(uid)),
        format!(
            "`{}` user `{uid}` is already given to stored record `{other}`",
            e.integration
        ),
        None,
        owner,
    )?;
    let finding = to_sender(
        finding,
        format!(
            "`{}` user `{uid}` is already given to another user",
            e.integration
        ),
        None,
    );
    Some(StoreFinding {
        finding,
        holder: Some(at),
    })
}

/// The rules against the store and the source directory that look at one row: D004 for its
/// inline entries, S001–S004. `stored` is what the store holds under the row's record id.
fn known_checks(
    rep: &Reporter,
    sheet: &Sheet,
    u: &UserRow,
    i: usize,
    (stored, current): (Option<StoredVersion>, bool),
    known: &Known,
) -> Vec<StoreFinding> {
    let own = stored.map(|v| v.at);
    let mut out: Vec<StoreFinding> = u
        .entries
        .iter()
        .filter_map(|e| stored_identity(rep, sheet, e, own, Owner::User(i), known))
        .collect();
    let mut push = |rule: Rule,
                    col: Option<usize>,
                    field: &str,
                    value: &str,
                    message: String,
                    suggestion: Option<String>,
                    sender: Option<SenderText>,
                    holder: Option<u32>| {
        let place = Place {
            sheet,
            row: Some(u.row),
            col,
            field: Cow::Borrowed(field),
        };
        out.extend(
            rep.make(
                rule,
                &place,
                Some(&u.record_id),
                Some(value),
                message,
                suggestion,
                Owner::User(i),
            )
            .map(|finding| StoreFinding {
                finding: match sender {
                    Some(t) => to_sender(finding, t.message, t.suggestion),
                    None => finding,
                },
                holder,
            }),
        );
    };
    // A row is of the kind its stored record is: a user row with the stored bot's record id
    // would make the bot a manual user (and leave the store without one), a bot row with a
    // stored user's would make that user the bot.
    if let Some(v) = stored {
        let stored_bot = known.store_bot == Some(v.at);
        if stored_bot != u.bot {
            let message = if stored_bot {
                "is the stored bot account's: a user row would make the bot a manual user"
            } else {
                "is a stored manual user's: the bot account needs a record id of its own"
            };
            push(
                Rule::MultipleBots,
                u.record_col,
                "record_id",
                u.cell(u.record_col, &u.record_id),
                format!("record id `{}` {message}", u.record_id),
                None,
                None,
                None,
            );
        }
    }
    let addresses = u
        .email
        .iter()
        .map(|e| (e, "email_addr"))
        .chain(u.aliases.iter().map(|a| (a, "email_aliases")));
    for ((e, col), field) in addresses {
        if known.store_addresses.is_empty() && known.source_emails.is_empty() {
            break;
        }
        let key = email::key(e);
        if let Some(at) = known.store_addresses.holder(&key, own) {
            let other = known.store_records.record_id(at);
            if other != u.record_id {
                push(
                    Rule::EmailInStore,
                    *col,
                    field,
                    u.cell(*col, e),
                    format!("`{e}` already belongs to stored record `{other}`"),
                    None,
                    Some(SenderText {
                        message: format!("`{e}` already belongs to another user"),
                        suggestion: None,
                    }),
                    Some(at),
                );
            }
        }
        if let Some(other) = known.source_emails.get(&key) {
            if *other != u.record_id {
                // An alias is an address of this user too (SPEC §1: unique across every user).
                let (message, suggestion, sender) = if field == "email_addr" {
                    (
                        format!(
                            "the source directory has `{e}` under record id `{other}`, not `{}`: the records will not merge",
                            u.record_id
                        ),
                        format!("Use the source's record id `{other}` for this user, if it is the same person; else give this user its own address"),
                        SenderText {
                            message: format!(
                                "`{e}` belongs to another user of the organisation's directory, under another record id than `{}`",
                                u.record_id
                            ),
                            suggestion: Some("Give this user its own address, or ask for the record id the directory has for this person".to_string()),
                        },
                    )
                } else {
                    (
                        format!(
                            "the source directory has alias `{e}` as the address of record id `{other}`: an address belongs to one user"
                        ),
                        format!("Remove `{e}` from this user's aliases"),
                        SenderText {
                            message: format!(
                                "alias `{e}` is the address of another user of the organisation's directory: an address belongs to one user"
                            ),
                            suggestion: Some(format!("Remove `{e}` from this user's aliases")),
                        },
                    )
                };
                push(
                    Rule::JoiningKeyMismatch,
                    *col,
                    field,
                    u.cell(*col, e),
                    message,
                    Some(suggestion),
                    Some(sender),
                    None,
                );
            }
        }
    }
    if known.source_ids.contains(&u.record_id) {
        push(
            Rule::RecordInSource,
            u.record_col,
            "record_id",
            u.cell(u.record_col, &u.record_id),
            format!(
                "the primary source already provides record id `{}`; this manual entry will merge with it",
                u.record_id
            ),
            None,
            None,
            None,
        );
    }
    // A row_version names only records of the export the row came from, which its sender
    // was given: S004 says all to them too.
    if let Some((version, col)) = &u.row_version {
        let message = match stored {
            Some(stored) if current || same_row_version(stored.row_version, version) => None,
            Some(_) if !is_row_version(version) => Some(format!(
                "`{version}` is not a row_version muster wrote (16 hex digits): a spreadsheet may have turned it into a number; export again, and keep the column as text"
            )),
            // The row_version of another stored record as it is: record ids swapped or
            // changed between rows, not a change in the store (review).
            Some(stored) => Some(
                match (known.store_records.with_version(version))
                    .filter(|&at| at != stored.at)
                    .map(|at| known.store_records.record_id(at))
                {
                    Some(other) => format!(
                        "the row_version is stored record `{other}`'s, not `{}`'s: were record ids changed or swapped between rows? A record id joins the user's records: write each row's own back",
                        u.record_id
                    ),
                    None => format!(
                        "`{}` has changed in the store since this row was exported; export again and redo the edit",
                        u.record_id
                    ),
                },
            ),
            // An export loaded into a store that holds no user (a restore, a move to a new
            // store; the bot may be there) brings every record anew: nothing there changed
            // since it was exported.
            None if known.has_store
                && known.store_records.len() > usize::from(known.store_bot.is_some()) =>
            {
                let renamed = (is_row_version(version))
                    .then(|| known.store_records.with_version(version))
                    .flatten()
                    .map(|at| known.store_records.record_id(at));
                let removed = || (known.history.as_ref()).is_some_and(|h| h.was_removed(&u.record_id));
                Some(match renamed {
                    None if u.bot && removed() => format!(
                        "the bot account `{}` was removed or replaced since this row was exported: delete the Bot Account row to keep the store's bot as it is (an organization has one)",
                        u.record_id
                    ),
                    None if removed() => format!(
                        "`{}` was removed from the store since this row was exported, and the row is not as exported: delete the row to leave the user removed, or clear its row_version to bring the user back",
                        u.record_id
                    ),
                    Some(other) => format!(
                        "`{}` has a row_version but no stored record, and the row_version is stored record `{other}`'s: the row was copied from `{other}`'s (then clear its row_version), or `{other}`'s record id was changed, which makes a new user (then write `{other}` back; `--prune` keeps `{other}`)",
                        u.record_id
                    ),
                    None => format!(
                    "`{}` has a row_version but no stored record: it was removed since the export, or the row is a new one copied from an exported row, or it comes from another store's export (then clear its row_version)",
                    u.record_id
                ),
                })
            }
            None => None,
        };
        if let Some(message) = message {
            push(
                Rule::StaleExportRow,
                *col,
                "row_version",
                version,
                message,
                None,
                None,
                None,
            );
        }
    }
    out
}

/// `finding`, with what the annotated workbook says of it to the batch's sender instead.
fn to_sender(mut finding: Finding, message: String, suggestion: Option<String>) -> Finding {
    finding.to_sender = Some(Box::new(SenderText {
        message,
        suggestion,
    }));
    finding
}

/// A row_version as muster writes it: 16 hex digits.
fn is_row_version(v: &str) -> bool {
    v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Marks a stored record's number in [`CheckedUser::exported_current`] when the row holds it
/// under another record id.
const RENAMED: u32 = 1 << 31;

/// Whether a row's row_version is the stored one. One in about 1,800 is all digits, which a
/// spreadsheet turns into a number: without its leading zeros, and with 15 significant digits
/// (`5501531955724158` → `5501531955724160`). Such a row still matches when the two are the
/// same number to 15 digits.
fn same_row_version(stored: &str, row: &str) -> bool {
    let number = |v: &str| {
        (!v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_digit()))
            .then(|| v.parse::<f64>().ok())
            .flatten()
            .map(|n| format!("{n:.14e}"))
    };
    stored == row || matches!((number(stored), number(row)), (Some(a), Some(b)) if a == b)
}

/// Feeds the non-blank data rows of a sheet to `check`, a block at a time for a streamed CSV,
/// with the findings about the rows' shape: cells past the header, and data under a column
/// without a header.
fn each_chunk(
    rep: &Reporter,
    sheet: &Sheet,
    mapping: &Mapping,
    findings: &mut Vec<Finding>,
    check: impl FnMut(&[&Row], &mut Vec<Finding>) + Send,
) {
    let beside = sheet.rest.as_ref().filter(|r| r.has_reader_thread());
    match beside.and_then(|_| beside_reader()) {
        Some(pool) => pool.install(|| each_chunk_here(rep, sheet, mapping, findings, check)),
        None => each_chunk_here(rep, sheet, mapping, findings, check),
    }
}

/// The pool that checks a workbook's rows while its reader thread parses the next ones: one
/// thread fewer than the global pool, so that the reader, which sets the pace (parsing a
/// sheet's XML costs more than checking its rows), keeps a core of its own rather than taking
/// turns with the checks (docs/benchmarks.md has what it changed). `None` with one thread.
fn beside_reader() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let threads = rayon::current_num_threads();
        if threads < 2 {
            return None;
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|i| format!("check-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

fn each_chunk_here(
    rep: &Reporter,
    sheet: &Sheet,
    mapping: &Mapping,
    findings: &mut Vec<Finding>,
    mut check: impl FnMut(&[&Row], &mut Vec<Finding>) + Send,
) {
    findings.extend(sheet_findings(rep, sheet, mapping));
    if mapping.columns.is_empty() {
        return;
    }
    let mut unnamed = mapping.unnamed.clone();
    let mut inline_problems = inline_column_problems(rep, sheet, mapping);
    // The hidden columns that are read (mapped to a field): V013 once a row has a value there.
    let mut hidden_cols: Vec<usize> = (sheet.hidden.cols.iter())
        .map(|&c| c as usize)
        .filter(|&c| {
            (mapping.columns.iter())
                .any(|m| m.index == c && !matches!(m.field, Field::Ignored | Field::Credential))
        })
        .collect();
    // A sheet the workbook hides: V013 once, at its first row of values.
    let mut hidden_sheet = sheet.hidden.sheet;
    let mut take =
        |rows: &[Row], findings: &mut Vec<Finding>| {
            findings.extend(stray_cells(rep, sheet, mapping, rows));
            inline_problems.retain_mut(|(col, made)| {
                let has_data = rows
                    .iter()
                    .any(|r| r.cell(*col).is_some_and(|c| !c.text.trim().is_empty()));
                if has_data {
                    findings.append(made);
                }
                !has_data
            });
            unnamed.retain(|&col| {
                let has_data = rows
                    .iter()
                    .any(|r| r.cell(col).is_some_and(|c| !c.text.trim().is_empty()));
                if has_data {
                    findings.extend(header_finding(rep, sheet, mapping, &unnamed_column(col)));
                }
                !has_data
            });
            // A row with values past the header's columns only is a note beside the table (F004
            // or V012 above), not a user (review: it was one, with three V001).
            let data: Vec<&Row> = rows
                .iter()
                .filter(|r| !blank_within(r, mapping.width))
                .collect();
            if !sheet.hidden.is_empty() {
                if let (true, Some(first)) = (std::mem::take(&mut hidden_sheet), data.first()) {
                    findings.extend(hidden_finding(
                        rep,
                        sheet,
                        mapping,
                        HiddenPart::Sheet,
                        first,
                    ));
                }
                hidden_cols.retain(|&col| {
                    let shown = (data.iter())
                        .find(|r| r.cell(col).is_some_and(|c| !c.text.trim().is_empty()));
                    findings.extend(shown.and_then(|r| {
                        hidden_finding(rep, sheet, mapping, HiddenPart::Column(col), r)
                    }));
                    shown.is_none()
                });
                let hidden = data.iter().filter(|r| sheet.hidden.row(r.number));
                findings.extend(
                    hidden.filter_map(|r| hidden_finding(rep, sheet, mapping, HiddenPart::Row, r)),
                );
            }
            check(&data, findings);
        };
    take(&sheet.rows[mapping.header_at + 1..], findings);
    let Some(rest) = &sheet.rest else { return };
    // A CSV's next chunk is parsed on the pool while this one is checked, so that neither
    // waits for the other's last block (a workbook's reader thread parses ahead anyway).
    let ahead = !rest.has_reader_thread();
    let mut next = rest.next_chunk();
    loop {
        match next {
            Ok(Some(rows)) => {
                next = if ahead {
                    rayon::join(|| rest.next_chunk(), || take(&rows, findings)).0
                } else {
                    take(&rows, findings);
                    rest.next_chunk()
                };
                // Freed on the workers, which allocated them, rather than all on this thread.
                rows.into_par_iter().with_min_len(256).for_each(drop);
            }
            Ok(None) => break,
            Err(problem) => {
                // The rest of the sheet cannot be read: none of the file's users is valid.
                let place = Place {
                    sheet,
                    row: None,
                    col: None,
                    field: Cow::Borrowed(""),
                };
                findings.extend(rep.make(
                    Rule::from_code("F001"),
                    &place,
                    None,
                    None,
                    problem.message,
                    None,
                    Owner::Input(sheet.order.0),
                ));
                break;
            }
        }
    }
}

/// The record a user row would give if it turns out valid, built while the row's values are at
/// hand, and whether its text is `stored_digest`'s (see [`Record::new`]).
fn record_of(
    user: &UserRow,
    sheet_entries: &cross::SheetEntries,
    stored_digest: Option<&[u8; 32]>,
    versioned: bool,
) -> (Record, bool) {
    record_with_tags(user, &user.tags, sheet_entries, stored_digest, versioned)
}

/// [`record_of`] with the tags in the order given.
fn record_with_tags(
    user: &UserRow,
    tags: &[String],
    sheet_entries: &cross::SheetEntries,
    stored_digest: Option<&[u8; 32]>,
    versioned: bool,
) -> (Record, bool) {
    let mut ids: Vec<IdEntry> = user.entries.iter().map(to_entry).collect();
    ids.extend(sheet_entries.of(&user.record_id).map(to_entry));
    Record::new(
        user.record_id.clone(),
        user.bot,
        user.email.as_ref().map(|e| e.0.clone()).unwrap_or_default(),
        &user.attrs,
        tags,
        &user.custom,
        // `user_emails` are the addresses besides the primary one (SPEC §1): an alias that is
        // the primary address (in any of its forms) adds nothing, as a repeated alias does not.
        (user.aliases.iter())
            .filter(|a| {
                (user.email.as_ref()).is_none_or(|(primary, _)| !same_address(&a.0, primary))
            })
            .map(|a| a.0.clone())
            .collect(),
        ids,
        stored_digest,
        versioned,
    )
}

/// Column-level findings of a sheet: header mapping, encoding, inline integrations.
fn sheet_findings(rep: &Reporter, sheet: &Sheet, mapping: &Mapping) -> Vec<Finding> {
    let mut out = Vec::new();
    let place = |row: Option<u32>, col: Option<usize>| Place {
        sheet,
        row,
        col,
        field: Cow::Borrowed(""),
    };
    if let Some(enc) = sheet.encoding {
        out.extend(rep.make(
            Rule::NonUtf8Encoding,
            &place(None, None),
            None,
            None,
            sheet.decoded_as(enc),
            // UTF-16's byte-order mark says what it is; a code page is told from the text.
            (!enc.starts_with("UTF-16")).then(|| {
                "If names read wrong, give the file's encoding with `--encoding`, or save it as CSV UTF-8".to_string()
            }),
            Owner::Nobody,
        ));
    }
    for p in &mapping.problems {
        out.extend(header_finding(rep, sheet, mapping, p));
    }
    if !sheet.lettered {
        out.extend(record_integration_findings(rep, sheet, mapping));
    }
    out
}

/// I001 or I006 for each inline column whose integration is unknown or in the wrong list, by
/// column: made once a cell of the column holds a value (SPEC §2: an inline entry exists when
/// any of its cells is non-empty), so that an old template's empty `channel.teams.user_id`
/// column does not leave every user of the file invalid.
fn inline_column_problems(
    rep: &Reporter,
    sheet: &Sheet,
    mapping: &Mapping,
) -> Vec<(usize, Vec<Finding>)> {
    if !sheet.lettered {
        return Vec::new();
    }
    let mut out = Vec::new();
    for col in &mapping.columns {
        if let Field::Inline {
            list, integration, ..
        } = &col.field
        {
            // The integration is in the header: `field` names it as an ID sheet's
            // `integration` cell would (SPEC §5: `itsm.integration` in both layouts).
            let p = Place {
                sheet,
                row: None,
                col: Some(col.index),
                field: Cow::Borrowed(list.field(IdPart::Integration)),
            };
            if let Some((rule, message, suggestion)) =
                integration_problem(rep.config, *list, integration)
            {
                let made = rep.make(
                    rule,
                    &p,
                    None,
                    Some(&col.header),
                    message,
                    suggestion,
                    Owner::Input(sheet.order.0),
                );
                out.push((col.index, made.into_iter().collect()));
            }
        }
    }
    out
}

/// I001 and I006 in JSONL records, whose entries are read as inline columns: one finding per
/// record with an entry for the integration, on its line, making that record invalid (one
/// record's entry is no column of the file's). The value is the integration as written.
fn record_integration_findings(rep: &Reporter, sheet: &Sheet, mapping: &Mapping) -> Vec<Finding> {
    let record_id = mapping
        .columns
        .iter()
        .find(|c| c.field == Field::Attr(Attr::RecordId))
        .map(|c| c.index);
    fn cell(row: &Row, col: usize) -> &str {
        row.cell(col).map_or("", |c| c.text.trim())
    }
    let mut out = Vec::new();
    // Each (list, integration) once: its user_id and external_id are two columns.
    let mut seen: Vec<(IdList, &str)> = Vec::new();
    for col in &mapping.columns {
        let Field::Inline {
            list, integration, ..
        } = &col.field
        else {
            continue;
        };
        if seen.contains(&(*list, integration.as_str())) {
            continue;
        }
        seen.push((*list, integration));
        let Some((rule, message, suggestion)) = integration_problem(rep.config, *list, integration)
        else {
            continue;
        };
        let columns: Vec<usize> = mapping
            .inline_columns(*list, integration)
            .map(|(_, c)| c.index)
            .collect();
        for row in &sheet.rows[mapping.header_at + 1..] {
            if columns.iter().all(|&c| cell(row, c).is_empty()) {
                continue;
            }
            let p = Place {
                sheet,
                row: Some(row.number),
                col: None,
                field: Cow::Borrowed(list.field(IdPart::Integration)),
            };
            let rid = record_id.map_or("", |c| cell(row, c));
            out.extend(rep.make(
                rule,
                &p,
                Some(rid),
                Some(integration),
                message.clone(),
                suggestion.clone(),
                Owner::Record(rid.to_string()),
            ));
        }
    }
    out
}

/// A header-mapping problem as a finding.
fn header_finding(
    rep: &Reporter,
    sheet: &Sheet,
    mapping: &Mapping,
    p: &HeaderProblem,
) -> Option<Finding> {
    let rule = Rule::from_code(p.code);
    let owner = if rep.config.rules.severity(rule) == Some(Severity::Error) {
        Owner::Input(sheet.order.0)
    } else {
        Owner::Nobody
    };
    // The field the column maps to, where it maps to one (F006: `custom_attributes.deparment`).
    let field = p
        .column
        .and_then(|c| mapping.columns.iter().find(|col| col.index == c))
        .map(|col| Cow::Borrowed(col.name.as_str()))
        .or_else(|| p.field.as_deref().map(Cow::Borrowed))
        .unwrap_or_default();
    let place = Place {
        sheet,
        row: p.row,
        col: p.column,
        field,
    };
    rep.make(
        rule,
        &place,
        None,
        p.header.as_deref(),
        p.message.clone(),
        p.suggestion.clone(),
        owner,
    )
}

/// Rows longer than the header. In a workbook, F004: cells with no column name (a note beside
/// the table) are read by no rule. In a CSV, V012 on the row's user: a value with the
/// delimiter in it, not in quotes (`“Lee, Ann”` with typographic quotes), split the row, and
/// its cells from there on are read under the wrong columns (review: loaded, exit 0).
fn stray_cells(rep: &Reporter, sheet: &Sheet, mapping: &Mapping, rows: &[Row]) -> Vec<Finding> {
    let width = mapping.width;
    // Past a CSV header's fields, named or not (`a,b,c,,` has five, as a spreadsheet pads a
    // row to the widest: data under its empty names is F004). A workbook annotated from a
    // CSV has no empty names: past its last named column. Not when no header was found
    // (F002: the first row stands for it).
    let split_at = (sheet.rows.get(mapping.header_at))
        .filter(|_| sheet.delimited && mapping.header_found)
        .map(|header| match sheet.sheet {
            None => header.cells.len().max(width),
            Some(_) => width,
        });
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| r.cells.len() > width) {
        let extra = row
            .cells
            .iter()
            .skip(width)
            .position(|c| !c.text.trim().is_empty());
        let Some(i) = extra else { continue };
        let col = width + i;
        let place = Place {
            sheet,
            row: Some(row.number),
            col: Some(col),
            field: Cow::Borrowed(""),
        };
        let last = column_letter(width.saturating_sub(1));
        // A row with nothing under the header was not split: a note beside the table.
        let split = split_at
            .filter(|&at| (row.cells.iter().skip(at)).any(|c| !c.text.trim().is_empty()))
            .filter(|_| !blank_within(row, width));
        let Some(fields_in_header) = split else {
            out.extend(rep.make(
                Rule::from_code("F004"),
                &place,
                None,
                Some(&row.cells[col].text),
                format!(
                    "row {} has cells past the header's last column ({last}); they were ignored",
                    row.number,
                ),
                Some("Give the column a header, or remove the stray cells".to_string()),
                Owner::Nobody,
            ));
            continue;
        };
        let record_id = record_id_of(mapping, row);
        let fields = row
            .cells
            .iter()
            .rposition(|c| !c.text.trim().is_empty())
            .map_or(0, |i| i + 1);
        out.extend(rep.make(
            Rule::SplitRow,
            &place,
            record_id,
            Some(&row.cells[col].text),
            format!(
                "row {} has {fields} fields where the header has {fields_in_header} (to column {}): a value with the delimiter in it, not in quotes, split the row, and its cells from there on are under the wrong columns",
                row.number,
                column_letter(fields_in_header.saturating_sub(1)),
            ),
            Some("Put the value that holds the delimiter in straight double quotes (\"Lee, Ann\"), or remove the stray cells".to_string()),
            record_id.map_or(Owner::Nobody, |r| Owner::Record(r.to_string())),
        ));
    }
    out
}

/// Whether a row holds nothing in the header's first `width` columns.
fn blank_within(row: &Row, width: usize) -> bool {
    (row.cells.iter().take(width)).all(|c| c.text.trim().is_empty())
}

/// What V013 is about: the sheet, a row, or a column (by index).
#[derive(Clone, Copy)]
enum HiddenPart {
    Sheet,
    Row,
    Column(usize),
}

/// V013 on what a workbook hides, at `row` (a hidden sheet's or column's first row of
/// values): read, and loaded as what is shown is. Counted among the users with warnings, as
/// their rows' own warnings are.
fn hidden_finding(
    rep: &Reporter,
    sheet: &Sheet,
    mapping: &Mapping,
    part: HiddenPart,
    row: &Row,
) -> Option<Finding> {
    let (col, field, message, suggestion) = match part {
        HiddenPart::Sheet => (
            None,
            "",
            format!(
                "sheet `{}` is hidden in the workbook: its rows were read, and load as those of the sheets shown do",
                sheet.sheet.as_deref().unwrap_or_default()
            ),
            "Unhide the sheet to check it, or delete it if its rows are not to be loaded",
        ),
        HiddenPart::Row => (
            None,
            "",
            format!(
                "row {} is hidden in the sheet (by hand, or by a filter): it was read, and loads as the rows shown do",
                row.number
            ),
            "Unhide it to check it, or delete the row if it is not to be loaded",
        ),
        HiddenPart::Column(col) => {
            let column = (mapping.columns.iter()).find(|m| m.index == col)?;
            (
                Some(col),
                column.name.as_str(),
                format!(
                    "column {} (`{}`) is hidden in the sheet: its values were read, and load as those of the columns shown do",
                    column_letter(col),
                    column.header
                ),
                "Unhide it to check its values, or delete the column if they are not to be loaded",
            )
        }
    };
    let record_id = record_id_of(mapping, row);
    let place = Place {
        sheet,
        row: Some(row.number),
        col,
        field: Cow::Borrowed(field),
    };
    rep.make(
        Rule::HiddenCells,
        &place,
        record_id,
        col.and_then(|c| row.cell(c)).map(|c| c.text.as_str()),
        message,
        Some(suggestion.to_string()),
        record_id.map_or(Owner::Nobody, |r| Owner::Record(r.to_string())),
    )
}

/// A row's record id, where it has one.
fn record_id_of<'r>(mapping: &Mapping, row: &'r Row) -> Option<&'r str> {
    (mapping.columns.iter())
        .find(|c| {
            matches!(
                c.field,
                Field::Attr(Attr::RecordId) | Field::Id(IdPart::RecordId)
            )
        })
        .and_then(|c| row.cell(c.index))
        .map(|c| c.text.trim())
        .filter(|r| !r.is_empty())
}

/// I001 or I006 for an integration id in a list.
fn integration_problem(
    config: &Config,
    list: IdList,
    integration: &str,
) -> Option<(Rule, String, Option<String>)> {
    match config.connectors.get(integration) {
        Some(c) => {
            let expected = match list {
                IdList::Itsm => ConnectorKind::Itsm,
                IdList::Channel => ConnectorKind::Chat,
                IdList::Idm => ConnectorKind::Idm,
            };
            let sheet = |k| match k {
                ConnectorKind::Itsm => "ITSM IDs",
                ConnectorKind::Chat => "Channel IDs",
                ConnectorKind::Idm => "IDM IDs",
            };
            (c.kind != expected).then(|| {
                (
                    Rule::WrongIdList,
                    format!(
                        "`{integration}` is a connector of {}, not of {}",
                        sheet(c.kind),
                        sheet(expected)
                    ),
                    Some(format!("Move the entry to {}", sheet(c.kind))),
                )
            })
        }
        None => {
            let case = config
                .connectors
                .keys()
                .find(|k| k.eq_ignore_ascii_case(integration));
            let (message, suggestion) = match case {
                Some(k) => (format!("`{integration}` differs from the connector `{k}` only in case; integration ids are case-sensitive"), Some(format!("Use `{k}`"))),
                None => (
                    format!("`{integration}` is not a configured connector"),
                    did_you_mean(integration, config.connectors.keys().map(String::as_str)).map(|k| format!("Use `{k}`")),
                ),
            };
            Some((Rule::UnknownIntegration, message, suggestion))
        }
    }
}

fn user_row<'a>(
    rep: &Reporter,
    si: usize,
    sheet: &'a Sheet,
    mapping: &'a Mapping,
    row: &Row,
    index: usize,
    blocked_inline: &HashSet<(IdList, &str)>,
) -> (UserRow, Vec<Finding>) {
    let mut cx = RowCx {
        rep,
        findings: Vec::new(),
        owner: Owner::User(index),
        record_id: String::new(),
    };
    let place = |col: &'a crate::input::headers::Column| Place {
        sheet,
        row: Some(row.number),
        col: Some(col.index),
        field: Cow::Borrowed(&col.name),
    };
    // The record id first, so every other finding of the row can name it.
    let rid_col = mapping.column_of(&Field::Attr(Attr::RecordId));
    if let Some(c) = rid_col {
        cx.record_id = row
            .cell(c.index)
            .map(|c| c.text.trim().to_string())
            .unwrap_or_default();
    }
    let mut user = UserRow {
        sheet: si,
        row: row.number,
        bot: sheet.kind == SheetKind::Bot,
        record_id: String::new(),
        record_col: rid_col.map(|c| c.index),
        email: None,
        aliases: Vec::new(),
        manager: None,
        row_version: None,
        attrs: BTreeMap::new(),
        tags: Vec::new(),
        tags_as_given: Vec::new(),
        custom: BTreeMap::new(),
        entries: Vec::new(),
        cells: Vec::new(),
    };
    if let Some(c) = rid_col {
        let raw = row.cell(c.index).map_or("", |c| c.text.as_str());
        user.read_as(c.index, &cx.record_id, raw);
    }
    // Keyed by the integration as the mapping names it: no copy of the name per cell.
    let mut inline: BTreeMap<(IdList, &str), EntryRow> = BTreeMap::new();
    for col in &mapping.columns {
        let p = place(col);
        let cell = row.cell(col.index);
        let raw_text = cell.map(|c| c.text.as_str()).unwrap_or("");
        let role = match col.field {
            Field::Attr(Attr::RecordId | Attr::EmployeeId | Attr::CostCenterId)
            | Field::Inline {
                part: IdPart::UserId,
                ..
            } => Role::Identifier,
            Field::Attr(Attr::EmailAddr | Attr::ManagerEmail) | Field::EmailAliases => {
                Role::Address
            }
            _ => Role::Text,
        };
        let multi = matches!(col.field, Field::Attr(Attr::UserTags) | Field::EmailAliases);
        match &col.field {
            Field::RowVersion => {
                let v = raw_text.trim();
                let merged = cell.and_then(|c| c.covered);
                if merged.is_none_or(|covered| cx.merged(&p, raw_text, covered)) && !v.is_empty() {
                    user.row_version = Some((v.to_string(), Some(col.index)));
                }
                continue;
            }
            Field::Credential | Field::Ignored | Field::Id(_) => continue,
            Field::Inline {
                list,
                integration,
                part,
            } => {
                if blocked_inline.contains(&(*list, integration.as_str())) {
                    continue;
                }
                let role = match (role, *part == IdPart::ExternalId, raw_text.contains('@')) {
                    (_, true, false) => Role::Identifier,
                    (_, true, true) => Role::Address,
                    (role, false, _) => role,
                };
                let flagged_before = cx.findings.len();
                let value = cx.raw(&p, cell, false, role);
                let flagged = cx.findings[flagged_before..]
                    .iter()
                    .any(|f| f.severity == Severity::Error);
                if value.is_none() && !flagged {
                    continue;
                }
                let e = inline
                    .entry((*list, integration.as_str()))
                    .or_insert_with(|| EntryRow {
                        sheet: si,
                        row: row.number,
                        list: *list,
                        record_id: String::new(),
                        record_col: None,
                        integration: integration.clone(),
                        integration_col: None,
                        user_id: None,
                        user_id_col: None,
                        user_id_cell: None,
                        external_id: None,
                        external_id_flagged: false,
                        from_sheet: false,
                        broken: false,
                    });
                e.broken |= flagged;
                e.external_id_flagged |= *part == IdPart::ExternalId && flagged;
                match part {
                    IdPart::UserId => {
                        if value.as_deref().is_some_and(|v| v != raw_text) {
                            e.user_id_cell = Some(raw_text.to_string());
                        }
                        e.user_id = value;
                        e.user_id_col = Some(col.index);
                        // The integration is in the header: findings about it point at the id.
                        e.integration_col = Some(col.index);
                    }
                    _ => e.external_id = value,
                }
                continue;
            }
            _ => {}
        }
        let flagged_before = cx.findings.len();
        let value = cx.raw(&p, cell, multi, role);
        // Flagged by an error: a raw check lowered below error still leaves the value out,
        // and a required one then is V001 (review: a lowered V008 on `full_name`, or V007 on
        // `record_id`, gave a valid row without it).
        let flagged = cx.findings[flagged_before..]
            .iter()
            .any(|f| f.severity == Severity::Error);
        let required = matches!(
            col.field,
            Field::Attr(Attr::EmailAddr | Attr::RecordId | Attr::FullName)
        );
        // Only invisible characters (a zero-width space, a Hangul filler) show nothing: an
        // optional value is read as empty, as a blank cell (review: a `first_name` of U+200B was
        // V010 against the full name); a required one is V001 in `required`.
        let value = match value {
            // `raw` trimmed it: a value of ASCII is not blank.
            Some(v) if !required && !v.is_ascii() && values::invisible_only(&v) => {
                cx.report(
                    Rule::WhitespaceTrimmed,
                    &p,
                    raw_text,
                    format!(
                        "`{}` holds only invisible characters: read as empty",
                        raw_text.escape_debug()
                    ),
                    None,
                );
                None
            }
            v => v,
        };
        let text_field = match &col.field {
            Field::Attr(
                Attr::FullName
                | Attr::FirstName
                | Attr::LastName
                | Attr::EmailAddr
                | Attr::ManagerEmail,
            )
            | Field::EmailAliases => Some(true),
            Field::Attr(
                Attr::Role
                | Attr::Department
                | Attr::CostCenterName
                | Attr::Region
                | Attr::City
                | Attr::State,
            )
            | Field::Custom(_) => Some(false),
            _ => None,
        };
        if let (Some(v), Some(name_or_address)) = (value.as_deref(), text_field) {
            if values::lost_character(v, name_or_address) {
                let code_page = sheet
                    .encoding
                    .map_or(String::new(), |e| format!(" (this file was read as {e})"));
                cx.report(
                    Rule::LostCharacter,
                    &p,
                    raw_text,
                    format!(
                        "`{}` holds `?` where a character was: a save in a code page without it writes `?`{code_page}",
                        clip(v)
                    ),
                    Some("Save the file again from the original as CSV UTF-8 (or as a workbook), and send that".into()),
                );
            }
        }
        match &col.field {
            Field::Attr(attr @ (Attr::EmailAddr | Attr::RecordId | Attr::FullName)) => {
                let Some(v) = cx.required(&p, raw_text, value, flagged) else {
                    continue;
                };
                match attr {
                    Attr::EmailAddr => {
                        let email = cx.email(&p, raw_text, &v);
                        if let Some(e) = &email {
                            user.read_as(col.index, e, raw_text);
                        }
                        user.email = email.map(|e| (e, Some(col.index)));
                    }
                    Attr::RecordId => user.record_id = v,
                    _ => {
                        user.attrs.insert(*attr, v);
                    }
                }
            }
            Field::EmailAliases => {
                let whole = value.as_deref().unwrap_or("");
                for alias in values::split_multi(whole) {
                    if let Some(a) = cx.email(&p, raw_text, alias) {
                        // The same address in Unicode and in punycode is given twice too
                        // (review: both were kept).
                        if let Some((x, _)) = user.aliases.iter().find(|(x, _)| same_address(x, &a))
                        {
                            let message = if x == &a {
                                format!("alias `{a}` is given twice: kept once")
                            } else {
                                format!(
                                    "alias `{a}` is `{x}`, given before in another form: kept once"
                                )
                            };
                            cx.report(Rule::EmailLowercased, &p, raw_text, message, None);
                        } else {
                            // The cell as read when it holds this alias alone.
                            let read = if alias.len() == whole.len() {
                                raw_text
                            } else {
                                alias
                            };
                            user.read_as(col.index, &a, read);
                            user.aliases.push((a, Some(col.index)));
                        }
                    }
                }
            }
            Field::Attr(Attr::ManagerEmail) => {
                if let Some(v) = value {
                    let manager = cx.email(&p, raw_text, &v);
                    if let Some(m) = &manager {
                        user.read_as(col.index, m, raw_text);
                    }
                    user.manager = manager.map(|m| (m, Some(col.index)));
                    if let Some((m, _)) = &user.manager {
                        user.attrs.insert(Attr::ManagerEmail, m.clone());
                    }
                }
            }
            Field::Attr(Attr::WorkStatus) => {
                let Some(v) = value else { continue };
                match values::work_status(&v) {
                    Some(status) => {
                        if status != v {
                            cx.report(
                                Rule::WorkStatusMapped,
                                &p,
                                raw_text,
                                format!("`{v}` mapped to `{status}`"),
                                None,
                            );
                        }
                        user.attrs.insert(Attr::WorkStatus, status.to_string());
                    }
                    None => {
                        let suggestion = did_you_mean(&v, values::WORK_STATUSES)
                            .map(|s| format!("Use `{s}`"))
                            .or_else(|| {
                                Some(format!("Use one of {}", values::WORK_STATUSES.join(", ")))
                            });
                        cx.report(
                            Rule::InvalidWorkStatus,
                            &p,
                            raw_text,
                            format!("`{v}` is not a work status"),
                            suggestion,
                        );
                    }
                }
            }
            Field::Attr(Attr::UserTags) => {
                let Some(v) = value else { continue };
                let mut tags: Vec<String> = Vec::new();
                let (mut changed, mut rejected) = (false, false);
                for tag in values::split_multi(&v) {
                    let upper = tag.to_uppercase();
                    changed |= upper != tag;
                    if !values::USER_TAGS.contains(&upper.as_str()) {
                        rejected = true;
                        // Tags joined by another separator (`HAS_ACCESS_TO_BOT | VIP`): each
                        // known, the list as muster reads it (review: `Use HAS_ACCESS_TO_BOT`
                        // dropped VIP).
                        // A space between them too (`VIP TESTER`; review: `Use TESTER`).
                        let parts: Vec<&str> = (upper.split(|c: char| {
                            matches!(c, '|' | '/' | '+' | '&') || c.is_whitespace()
                        }))
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .collect();
                        let listed = (parts.len() > 1
                            && parts.iter().all(|t| values::USER_TAGS.contains(t)))
                        .then(|| format!("Separate the tags with `;`: `{}`", parts.join("; ")));
                        // Nothing near: the tags there are (docs review: no suggestion).
                        let suggestion = listed
                            .or_else(|| {
                                did_you_mean(&upper, values::USER_TAGS)
                                    .map(|s| format!("Use `{s}`"))
                            })
                            .or_else(|| {
                                Some(format!("Use one of {}", values::USER_TAGS.join(", ")))
                            });
                        cx.report(
                            Rule::UnknownUserTag,
                            &p,
                            raw_text,
                            format!("`{tag}` is not a user tag"),
                            suggestion,
                        );
                    } else if tags.contains(&upper) {
                        changed = true;
                    } else {
                        tags.push(upper);
                    }
                }
                // The tags are a set (SPEC §1): written in the reference's order, so that
                // one set is one record whatever order a sheet lists it in (review: a
                // re-import of `TESTER;VIP` over `VIP;TESTER` was an update).
                let at = |t: &String| values::USER_TAGS.iter().position(|known| known == t);
                if !tags.is_sorted_by_key(at) {
                    user.tags_as_given = tags.clone();
                    tags.sort_by_key(at);
                }
                // A value a rule rejects is not normalized further (SPEC §4).
                if changed && !rejected {
                    cx.report(
                        Rule::TagsNormalized,
                        &p,
                        raw_text,
                        format!("tags written as `{}`", tags.join(";")),
                        None,
                    );
                }
                user.tags = tags;
            }
            Field::Attr(Attr::Timezone) => {
                let Some(v) = value else { continue };
                match values::timezone(&v) {
                    values::Tz::Exact => {
                        user.attrs.insert(Attr::Timezone, v);
                    }
                    values::Tz::Recased(canon) => {
                        cx.report(
                            Rule::TimezoneCanonical,
                            &p,
                            raw_text,
                            format!("`{v}` written as `{canon}`"),
                            None,
                        );
                        user.attrs.insert(Attr::Timezone, canon);
                    }
                    values::Tz::Unknown(s) => {
                        cx.report(
                            Rule::UnknownTimezone,
                            &p,
                            raw_text,
                            format!("`{v}` is not an IANA timezone"),
                            s.map(|s| format!("Use `{s}`")),
                        );
                    }
                }
            }
            Field::Attr(Attr::CountryCode) => {
                let Some(v) = value else { continue };
                match values::country(&v) {
                    values::Country::Exact => {
                        user.attrs.insert(Attr::CountryCode, v);
                    }
                    values::Country::Mapped(code) => {
                        cx.report(
                            Rule::CountryMapped,
                            &p,
                            raw_text,
                            format!("`{v}` mapped to `{code}`"),
                            None,
                        );
                        user.attrs.insert(Attr::CountryCode, code.to_string());
                    }
                    values::Country::Unknown(s) => {
                        cx.report(Rule::InvalidCountry, &p, raw_text, format!("`{v}` is not an assigned ISO 3166-1 alpha-2 code or a known country name"), Some(s.map_or_else(|| "Use the country's two-letter ISO 3166-1 code (`DE`, `GB`, `US`) or its English name".to_string(), |s| format!("Use `{s}`"))));
                    }
                }
            }
            Field::Attr(attr) => {
                if let Some(v) = value {
                    user.attrs.insert(*attr, v);
                }
            }
            Field::Custom(name) => {
                if let Some(v) = value {
                    user.custom.insert(name.clone(), v);
                }
            }
            _ => {}
        }
    }
    // A required column the sheet does not have: F002 says so once, and while it is an error
    // no user of the file is valid. Under `--allow F002` or `--warn F002` each row misses the
    // value (V001), so that no record is written without an address, a record id or a name.
    if cx.rep.config.rules.severity(Rule::RequiredColumnMissing) != Some(Severity::Error) {
        for attr in [Attr::EmailAddr, Attr::RecordId, Attr::FullName] {
            if mapping.column_of(&Field::Attr(attr)).is_none() {
                let p = Place {
                    sheet,
                    row: Some(row.number),
                    col: None,
                    field: Cow::Borrowed(attr.name()),
                };
                cx.report(
                    Rule::RequiredValueEmpty,
                    &p,
                    "",
                    format!(
                        "`{0}` is required, and the sheet has no `{0}` column",
                        attr.name()
                    ),
                    None,
                );
            }
        }
    }
    // V010: the first and last names are words of the full name.
    if let Some(full) = user.attrs.get(&Attr::FullName) {
        let fc = mapping
            .column_of(&Field::Attr(Attr::FullName))
            .map(|c| c.index);
        for (attr, which) in [
            (Attr::FirstName, values::NamePart::Given),
            (Attr::LastName, values::NamePart::Family),
        ] {
            if let Some(part) = user.attrs.get(&attr) {
                if !values::words_in(part, full, which) {
                    let p = Place {
                        sheet,
                        row: Some(row.number),
                        col: fc,
                        field: Cow::Borrowed("full_name"),
                    };
                    cx.report(
                        Rule::NameMismatch,
                        &p,
                        full,
                        format!(
                            "{} `{part}` is not a word of full_name `{full}`",
                            attr.name()
                        ),
                        None,
                    );
                }
            }
        }
    }
    // An alias that is the address itself adds nothing to `user_emails` (`record_of` leaves it
    // out): said, as every change the records make is (SPEC §4; review).
    if let Some((primary, _)) = &user.email {
        for (alias, col) in &user.aliases {
            if same_address(alias, primary) {
                let p = Place {
                    sheet,
                    row: Some(row.number),
                    col: *col,
                    field: Cow::Borrowed("email_aliases"),
                };
                // The cell as read (SPEC §5), as the cell's other findings give it.
                let read = col
                    .and_then(|c| row.cell(c))
                    .map_or(alias.as_str(), |c| c.text.as_str());
                cx.report(
                    Rule::EmailLowercased,
                    &p,
                    read,
                    format!("alias `{alias}` is the user's own address: left out of the aliases"),
                    None,
                );
            }
        }
    }
    // Inline entries get the same checks as ID-sheet rows.
    for (_, mut e) in inline {
        e.record_id = cx.record_id.clone();
        entry_checks(&mut cx, sheet, &mut e, mapping);
        user.entries.push(e);
    }
    (user, cx.findings)
}

fn id_row(
    rep: &Reporter,
    si: usize,
    sheet: &Sheet,
    mapping: &Mapping,
    list: IdList,
    row: &Row,
) -> (EntryRow, Vec<Finding>) {
    let col_of = |part| mapping.column_of(&Field::Id(part));
    let record_id = col_of(IdPart::RecordId)
        .and_then(|c| row.cell(c.index))
        .map(|c| c.text.trim().to_string())
        .unwrap_or_default();
    let mut cx = RowCx {
        rep,
        findings: Vec::new(),
        owner: Owner::Record(record_id.clone()),
        record_id,
    };
    let mut entry = EntryRow {
        sheet: si,
        row: row.number,
        list,
        record_id: String::new(),
        record_col: col_of(IdPart::RecordId).map(|c| c.index),
        integration: String::new(),
        integration_col: col_of(IdPart::Integration).map(|c| c.index),
        user_id: None,
        user_id_col: col_of(IdPart::UserId).map(|c| c.index),
        user_id_cell: None,
        external_id: None,
        external_id_flagged: false,
        from_sheet: true,
        broken: false,
    };
    let mut values: HashMap<IdPart, Option<String>> = HashMap::new();
    for part in [
        IdPart::RecordId,
        IdPart::Integration,
        IdPart::UserId,
        IdPart::ExternalId,
    ] {
        let Some(col) = col_of(part) else { continue };
        let p = Place {
            sheet,
            row: Some(row.number),
            col: Some(col.index),
            field: Cow::Borrowed(&col.name),
        };
        let cell = row.cell(col.index);
        let raw_text = cell.map(|c| c.text.as_str()).unwrap_or("");
        let role = match part {
            IdPart::UserId => Role::Identifier,
            IdPart::ExternalId if !raw_text.contains('@') => Role::Identifier,
            IdPart::ExternalId => Role::Address,
            IdPart::RecordId => Role::Key,
            IdPart::Integration => Role::Text,
        };
        let before = cx.findings.len();
        let v = cx.raw(&p, cell, false, role);
        let flagged = cx.findings[before..]
            .iter()
            .any(|f| f.severity == Severity::Error);
        entry.broken |= flagged;
        entry.external_id_flagged |= part == IdPart::ExternalId && flagged;
        if part == IdPart::UserId && v.as_deref().is_some_and(|v| v != raw_text) {
            entry.user_id_cell = Some(raw_text.to_string());
        }
        let v = if part == IdPart::ExternalId {
            v
        } else {
            cx.required(&p, raw_text, v, flagged)
        };
        values.insert(part, v);
    }
    let take = |values: &mut HashMap<IdPart, Option<String>>, p| values.remove(&p).flatten();
    entry.record_id = take(&mut values, IdPart::RecordId).unwrap_or_default();
    entry.integration = take(&mut values, IdPart::Integration).unwrap_or_default();
    entry.user_id = take(&mut values, IdPart::UserId);
    entry.external_id = take(&mut values, IdPart::ExternalId);
    if entry.integration.is_empty() {
        entry.broken = true;
    } else {
        let p = Place {
            sheet,
            row: Some(row.number),
            col: entry.integration_col,
            field: Cow::Borrowed(list.field(IdPart::Integration)),
        };
        if let Some((rule, message, suggestion)) =
            integration_problem(rep.config, list, &entry.integration)
        {
            let integration = entry.integration.clone();
            cx.report(rule, &p, &integration, message, suggestion);
            entry.broken = true;
        } else {
            entry_checks(&mut cx, sheet, &mut entry, mapping);
        }
    }
    (entry, cx.findings)
}

/// The per-system checks of one entry's user_id and external_id (I002–I005, I007, N006, N008).
fn entry_checks(cx: &mut RowCx, sheet: &Sheet, e: &mut EntryRow, mapping: &Mapping) {
    let rep = cx.rep;
    let Some(connector) = rep.config.connectors.get(&e.integration) else {
        return;
    };
    let system = connector.system.as_str();
    let prefix = e.list.prefix();
    // The entry's column for `part`, found from the mapping when the cell is empty.
    let column = |part: IdPart| {
        if e.from_sheet {
            mapping.column_of(&Field::Id(part)).map(|c| c.index)
        } else {
            mapping
                .inline_columns(e.list, &e.integration)
                .find(|(p, _)| *p == part)
                .map(|(_, c)| c.index)
        }
    };
    let uid_place = Place {
        sheet,
        row: Some(e.row),
        col: e.user_id_col.or_else(|| column(IdPart::UserId)),
        field: Cow::Borrowed(e.list.field(IdPart::UserId)),
    };
    if let Some(uid) = e.user_id.take() {
        let c = ids::user_id(system, &uid);
        if let Some((message, suggestion)) = c.error {
            let rule = match e.list {
                IdList::Itsm => Rule::MalformedItsmUserId,
                IdList::Channel => Rule::MalformedChannelUserId,
                IdList::Idm => Rule::MalformedIdmUserId,
            };
            cx.report(
                rule,
                &uid_place,
                &uid,
                format!("`{uid}` is not a valid {system} user id: {message}"),
                suggestion,
            );
            e.broken = true;
            e.user_id = Some(uid);
        } else {
            if let Some(w) = c.warning {
                cx.report(
                    Rule::UnusualId,
                    &uid_place,
                    &uid,
                    format!("`{uid}`: {w}"),
                    None,
                );
            }
            if let Some(code) = c.change {
                cx.report(
                    Rule::from_code(code),
                    &uid_place,
                    &uid,
                    format!("`{uid}` written as `{}`", c.normalized),
                    None,
                );
            }
            if c.normalized != uid && e.user_id_cell.is_none() {
                e.user_id_cell = Some(uid);
            }
            e.user_id = Some(c.normalized);
        }
    } else if !e.from_sheet && !e.broken {
        cx.report(
            Rule::RequiredValueEmpty,
            &uid_place,
            "",
            format!(
                "`{prefix}.{}.user_id` is required when the entry has other values",
                e.integration
            ),
            None,
        );
        e.broken = true;
    }
    if e.list != IdList::Channel {
        let p = Place {
            sheet,
            row: Some(e.row),
            col: column(IdPart::ExternalId),
            field: Cow::Borrowed(e.list.field(IdPart::ExternalId)),
        };
        match &e.external_id {
            None if e.external_id_flagged => {}
            None => cx.report(
                Rule::MalformedExternalId,
                &p,
                "",
                // The integration, not the system: two connectors may share one (jira_sandbox,
                // jira_prod).
                format!("the `{}` entry has no external_id", e.integration),
                Some("Add the name the system shows for the user (usually the email)".into()),
            ),
            Some(x) => {
                if let Some(problem) = ids::external_id(system, x) {
                    let x = x.clone();
                    cx.report(
                        Rule::MalformedExternalId,
                        &p,
                        &x,
                        format!("`{x}`: {problem}"),
                        None,
                    );
                }
            }
        }
    }
}

fn to_entry(e: &EntryRow) -> IdEntry {
    IdEntry {
        list: e.list,
        integration: e.integration.clone(),
        user_id: e.user_id.clone().unwrap_or_default(),
        external_id: e.external_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_version_a_spreadsheet_made_a_number_still_matches() {
        assert!(same_row_version("0289610527048647", "0289610527048647"));
        assert!(same_row_version("0289610527048647", "289610527048647"));
        // 5501531955724158 as a double shows as 5501531955724160.
        assert!(same_row_version("5501531955724158", "5501531955724160"));
        assert!(!same_row_version("5501531955724158", "5501531955724200"));
        assert!(!same_row_version("0289610527048647", "0289610527048648"));
        assert!(!same_row_version("a289610527048647", "289610527048647"));
        assert!(is_row_version("a289610527048647"));
        assert!(!is_row_version("289610527048647"));
    }
}
