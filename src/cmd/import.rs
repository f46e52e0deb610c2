//! `muster import`: read → validate against the batch, the store and the source → plan → apply
//! in one transaction.

use crate::cli::{Format, ImportArgs};
use crate::config::load_renames;
use crate::plan::{self, FieldChange, Plan};
use crate::progress::Progress;
use crate::record::Keep;
use crate::report::{self, Style, Written};
use crate::rules::Severity;
use crate::store::{
    self, Action, BatchInfo, Store, StoreError, StoredSummary, UserChunk, UserSource, Writer,
};
use crate::validate::{validate_with, Known};
use crate::{input, ExitStatus};
use anyhow::{bail, Context};
use serde::Serialize;

/// The plan as `--format json` prints it (SPEC §6), with what was applied.
#[derive(Serialize)]
struct JsonPlan<'a> {
    create: usize,
    update: usize,
    unchanged: usize,
    remove: usize,
    changes: Vec<JsonChange<'a>>,
    bot_replaced: Option<(&'a str, &'a str)>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    kept_by_id_rows: &'a [String],
    /// The record ids of the rows with errors, whose records the plan leaves out (with
    /// `--partial`, the rest is applied).
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    left_out: std::collections::BTreeSet<&'a str>,
    /// The batch this same file was applied as before, when this plan updates records.
    #[serde(skip_serializing_if = "Option::is_none")]
    applied_before: Option<&'a str>,
    /// Stored users an export's rows left as exported while the store changed them since:
    /// kept as stored.
    #[serde(skip_serializing_if = "is_zero")]
    kept_untouched: usize,
    /// An export's untouched rows whose users were removed from the store since: left out.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    kept_removed: &'a [String],
    /// Stored users an export has no row for, kept (without `--prune`).
    #[serde(skip_serializing_if = "is_zero")]
    kept_absent: usize,
    /// With `--prune`, stored users an export has no row for that were written after the
    /// newest record its rows hold as stored: kept, as the export may be older than them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kept_since_export: Vec<KeptSinceExport<'a>>,
    /// Why nothing was applied when the plan was refused (exit code 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<&'a str>,
    batch: &'a str,
    applied: bool,
    /// The validation's summary and findings, as `validate --format json` gives them (review:
    /// `findings` was a count per code here and a list there).
    summary: report::Summary,
    findings: &'a [crate::finding::Finding],
    exit_code: u8,
}

/// A stored user `--prune` kept as written after the export, and the batch that wrote it.
#[derive(Serialize)]
struct KeptSinceExport<'a> {
    record_id: &'a str,
    written_by: &'a str,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    action: Action,
    record_id: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldChange>,
}

pub fn run(args: &ImportArgs, style: Style) -> anyhow::Result<ExitStatus> {
    let result = match plan_and_apply(args, style) {
        // Planned against no store while another import made it: planned again against it.
        Err(e) if e.is::<MadeMeanwhile>() => plan_and_apply(args, style),
        result => result,
    };
    // A failure before any plan (a refused configuration, an unreadable batch, a busy store)
    // is said in JSON too.
    super::failure_in_json(result, args.format, true)
}

/// Whether `name` has the shape of a batch muster names itself: `remove-<ms>`, `forget-<ms>`
/// and `revert-<batch>-<ms>` (the time in milliseconds), which history and revert tell apart.
pub(crate) fn is_own_batch_name(name: &str) -> bool {
    let timed = |rest: &str| rest.len() >= 10 && rest.bytes().all(|b| b.is_ascii_digit());
    name.strip_prefix("remove-").is_some_and(timed)
        || name.strip_prefix("forget-").is_some_and(timed)
        || name
            .strip_prefix("revert-")
            .and_then(|rest| rest.rsplit_once('-'))
            .is_some_and(|(batch, ms)| !batch.is_empty() && timed(ms))
}

fn plan_and_apply(args: &ImportArgs, style: Style) -> anyhow::Result<ExitStatus> {
    crate::rules_settings(None, false)?;
    // A batch is kept by its file's name and digest (`history`, "applied before").
    if args.batch.as_os_str() == "-" {
        bail!("import reads a batch from a file, not from standard input: save it to a file and import that (`validate -` reads standard input)");
    }
    if let Some(name) = args.name.as_deref().filter(|n| is_own_batch_name(n)) {
        bail!("--batch `{name}` has the shape of the names muster gives `remove` and `revert` (`remove-<time>`, `revert-<batch>-<time>`); choose another");
    }
    use crate::plan::{ConcernKind, Reformat};
    use std::collections::BTreeMap;
    let config = super::config(args.config.as_deref())?;
    // The store holds one record per record id: a batch's two rows of one id cannot both be
    // applied, whatever severity the configuration gives D001.
    // Nor can two users of one address (D002), which the store would then hold twice.
    for (rule, what, why) in [
        (
            crate::rules::Rule::DuplicateRecordId,
            "a record id given twice",
            "the store holds one record per record id",
        ),
        (
            crate::rules::Rule::DuplicateEmail,
            "an address used by two users",
            "an address is one user's",
        ),
        // The same for what the store holds (configuration review: lowered, each was applied,
        // and the store's own export could not be imported again).
        (
            crate::rules::Rule::EmailInStore,
            "an address that is another stored user's",
            "an address is one user's",
        ),
        (
            crate::rules::Rule::DuplicateIntegrationEntry,
            "two ID entries for one integration",
            "a user has one identity per integration",
        ),
        (
            crate::rules::Rule::WrongIdList,
            "a connector in the wrong ID list",
            "a record's identities are read back by the list they are in",
        ),
        (
            crate::rules::Rule::MultipleBots,
            "a second bot account",
            "the organization has one bot account",
        ),
    ] {
        if config.rules.severity(rule) != Some(Severity::Error) {
            let code = rule.code();
            bail!(
                "import needs {code} ({what}) as an error: {why}; remove {code} from the configuration's `warn`/`allow` lists to import"
            );
        }
    }
    let renames = match &args.map {
        Some(path) => load_renames(path)?,
        None => Default::default(),
    };
    if !args.batch.exists() {
        bail!("{}: no such file or directory", args.batch.display());
    }
    super::refuse_store_as_batch(std::slice::from_ref(&args.batch), &args.store.store)?;
    // The batch file's digest (its default name, its entry in the history) is needed once the
    // rows are checked: it is made on a thread of its own meanwhile (half a second of one core
    // at a million rows).
    let sha = {
        let path = args.batch.clone();
        std::thread::spawn(move || store::batch_sha256(&path))
    };
    let stem = args
        .batch
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "batch".to_string());
    let progress = Progress::new(!args.quiet && args.format == Format::Text);
    let reading = progress.spinner(format!("reading {}", args.batch.display()));
    // A CSV batch streams: its cells are never all in memory at once (SPEC §8).
    let options = input::ReadOptions {
        stream: true,
        renames: renames.clone(),
        delimiter: (args.delimiter.as_deref())
            .map(super::validate::parse_delimiter)
            .transpose()?,
        encoding: (args.encoding.as_deref())
            .map(super::validate::parse_encoding)
            .transpose()?,
        ..Default::default()
    };
    // The batch is opened (a CSV's first pass over its bytes) on a thread of its own while the
    // store is read: the two are independent, and the first pass keeps one core busy at most.
    // A store that does not exist yet waits for a readable batch, so that a bad batch leaves
    // no new store behind; and the batch's own error, if it has one, is the one reported.
    let batch = {
        let path = args.batch.clone();
        std::thread::spawn(move || input::read_batch(std::slice::from_ref(&path), &options))
    };
    let mut batch = if store_has_users(&args.store.store) {
        Pending::Reading(batch)
    } else {
        Pending::Read(Pending::wait(batch)?)
    };

    let mut known = Known::default();
    if let Some(source) = &args.source {
        if let Err(e) = plan::known_from_source(&mut known, source, &renames) {
            return Err(batch.error_first(e.into()));
        }
    }
    // A new store (no file, or an empty one) is made only once there is something to write
    // in it (`fresh`, below): a dry run, or an import that applies nothing, leaves none behind
    // (review: a dry run wrote the tables into an empty file, and a batch with errors left an
    // empty store that `export` then read as one).
    // A dry run reads a store it may not write (a read-only file or folder) as the commands
    // that only read do.
    let new_store = !store_has_users(&args.store.store);
    let mut fresh: Option<Store> = None;
    let mut store = if new_store {
        None
    } else {
        let open = match args.dry_run {
            true => Store::open_read_only,
            false => Store::open,
        };
        match open(&args.store.store) {
            Ok(store) => Some(store),
            // A dry run plans against a blank SQLite file as against no store.
            Err(crate::store::StoreError::NotAStoreYet { .. }) if args.dry_run => None,
            Err(e) => return Err(batch.error_first(e.into())),
        }
    };
    // Under the write lock from reading the store to committing, unless nothing will be written.
    let mut source = match store.as_mut() {
        None => Source::Absent,
        Some(store) if args.dry_run => Source::Read(store),
        Some(store) => match store.write() {
            Ok(writer) => Source::Locked(writer),
            Err(e) => return Err(batch.error_first(e.into())),
        },
    };
    let stored = match plan::read_store(&mut known, &source) {
        Ok(stored) => stored,
        Err(e) => return Err(batch.error_first(e.into())),
    };
    if let Source::Read(store) = &source {
        if let Err(e) = store.check_unchanged() {
            return Err(batch.error_first(e.into()));
        }
    }
    // `--prune` of an export bounds when it was made by when its rows' versions were first
    // written, which the change log says; it says too which users were removed.
    if !matches!(source, Source::Absent) {
        let read_unlocked = match &source {
            Source::Read(store) => store.read_unlocked(),
            _ => None,
        };
        known.history = match crate::store::StoreHistory::open(&args.store.store, read_unlocked) {
            Ok(history) => Some(Box::new(history)),
            Err(e) => return Err(batch.error_first(e.into())),
        };
    }
    let batch = batch.take()?;
    if let Some(map) = &args.map {
        super::warn_unused_renames(map, &batch, &renames);
    }
    reading.finish_and_clear();
    // The valid records wait in a temporary file beside the store, read back by the plan and
    // the apply; in the system's temporary folder when the store's folder takes no file (a dry
    // run against a store whose folder does not exist yet).
    let spill = super::validate::spill_dir(&args.store.store);
    let spill = if tempfile::tempfile_in(&spill).is_ok() {
        spill
    } else {
        std::env::temp_dir()
    };
    let outcome = validate_with(
        &batch,
        &config,
        &renames,
        &mut known,
        &progress.rows(),
        &Keep::SpillForImport {
            dir: spill.clone(),
            // A dry run writes no record: their row versions would go unused.
            row_versions: !args.dry_run,
            record_ids: args.prune,
        },
    )
    .with_context(|| {
        format!(
            "cannot write the batch's records to a temporary file in {}",
            spill.display()
        )
    })?;
    // `--prune` removes the stored users the batch does not hold: a file, sheet or column
    // not read (F001: unreadable, or changed while read; F002, F008, …) holds users it would
    // remove, `--partial` or not (adversarial review: an unreadable file pruned every user).
    if args.prune {
        if let Some(f) = (outcome.findings.iter())
            .find(|f| f.severity == Severity::Error && f.code.starts_with('F'))
        {
            bail!(
                "--prune: {} ({}: {}); the users of what was not read cannot be told from those the batch leaves out, so nothing was applied",
                f.message,
                report::location(f),
                f.code
            );
        }
    }
    // A row whose record id is
    // missing or unusable (a formula, a control character) may stand for one of them, so
    // nothing is pruned while any row is like that.
    if args.prune && outcome.record_ids.contains("") {
        let first = (outcome.findings.iter())
            .find(|f| f.field.as_deref() == Some("record_id") && f.row.is_some())
            .map(|f| format!(" ({}: {})", report::location(f), f.code))
            .unwrap_or_default();
        bail!(
            "--prune: a row has no usable record id{first}; the stored user it stands for cannot be told from those the batch leaves out, so nothing was applied (fix the record id, or import without --prune)"
        );
    }
    // The plan looks stored users up by record id in the table validation read them into.
    let stored = plan::StoredUsers {
        users: stored,
        records: std::mem::take(&mut known.store_records),
    };
    super::refuse_changed_history(&known, &args.store.store)?;
    known.drop_in_background();
    let valid_records = outcome.records.len();
    let errors = outcome
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    let (sha, hashed) = sha
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        .with_context(|| format!("cannot read {}", args.batch.display()))?;
    // Its rows and its digest are of one version of the file, or nothing is applied.
    super::refuse_changed_batch(&batch, &hashed, "nothing was applied")?;
    // In NFC, as `revert` and `history` take a name typed on any keyboard (locale review: a
    // file named on a Mac gave a batch no typed name found).
    let mut name = super::nfc(
        &args
            .name
            .clone()
            .unwrap_or_else(|| format!("{stem}-{}", &sha[..8])),
    );
    let plan = plan::plan(
        &stored,
        &outcome.records,
        &outcome.stored_entries,
        &outcome.record_ids,
        args.prune,
        &source,
    )?;

    let max_remove = args.max_remove.unwrap_or_else(|| {
        plan::default_max_remove(stored.users.iter().filter(|u| !u.bot).count())
    });
    // A batch name names one file's import: refused here, so that a dry run says so too
    // (review: the dry run exited 0 and the import 2).
    let batches = source.batches()?;
    // A dry run's plan, read without locks, is of one state of the store or is not shown.
    if let Source::Read(store) = &source {
        store.check_unchanged()?;
    }
    // The same file applied again, with changes (a user removed or reverted since, whom it
    // brings back): SPEC §6 refuses only a name another file used, so it is applied under
    // the name with the first free `-2`, `-3`, … (automation review: a nightly job re-running
    // its file after a `remove` was refused every night, its dry run too).
    let mut named_again: Option<String> = None;
    let refused = match batches.iter().find(|b| b.name == name) {
        Some(existing) if !plan.changes.is_empty() && existing.sha256 != sha => {
            Some(format!("batch name `{name}` is already used by another file ({}); nothing was applied (pass --batch with a new name)", existing.file))
        }
        Some(existing) if !plan.changes.is_empty() => {
            let free = (2..)
                .map(|n| format!("{name}-{n}"))
                .find(|n| !batches.iter().any(|b| &b.name == n))
                .expect("a free name");
            named_again = Some(format!(
                "`{name}` is this file's import on {}",
                existing.applied_at
            ));
            name = free;
            None
        }
        _ => None,
    };
    // The same file applied before under another name: its updates now set back what was
    // changed since (review: a vendor's file imported again undid an admin's edits unsaid).
    let applied_before = (batches.iter())
        .rfind(|b| {
            // A revert keeps the file of the batch it undid: it applied that file's values
            // back, not the file.
            b.sha256 == sha
                && b.name != name
                && b.reverted_by.is_none()
                && !is_own_batch_name(&b.name)
        })
        .filter(|_| plan.counts.update > 0);
    // Whether any user it updates was written since by another batch: when none was, the
    // updates are this muster reading the same file otherwise than the one that applied it
    // (a newer muster, another configuration), not a setting back (upgrade review).
    let set_back = applied_before.is_some_and(|before| {
        (plan.changes.iter())
            .filter(|c| c.action == Action::Update)
            .any(|c| {
                (stored.records.get(&c.record_id))
                    .is_none_or(|v| i64::from(stored.records.writer(v.at)) != before.id)
            })
    });
    let refused = refused.or_else(|| {
        (plan.counts.remove > max_remove).then(|| {
            format!(
                "the plan removes {} user{}, more than --max-remove {max_remove}; nothing was applied (raise --max-remove if that is intended)",
                plan.counts.remove,
                plural(plan.counts.remove)
            )
        })
    });
    // Then a bot account that would replace the stored one (the organization has one), or
    // change it: a vendor's batch from the example template carries `BOT-0001`.
    let refused = refused.or_else(|| {
        if args.replace_bot {
            return None;
        }
        if let Some((old, new)) = &plan.bot_replaced {
            return Some(format!(
                "the batch's bot account `{new}` would replace the stored bot `{old}` (an organization has one); nothing was applied (leave the batch's Bot Account sheet empty to keep `{old}`, or pass --replace-bot)"
            ));
        }
        let changed = (plan.changes.iter()).find(|c| c.bot && c.action == Action::Update)?;
        let mut fields: Vec<String> = (changed.fields().iter())
            .map(|f| plan::shown_field(&f.field))
            .collect();
        fields.dedup();
        let more = fields.len().saturating_sub(4);
        fields.truncate(4);
        if more > 0 {
            fields.push(format!("{more} more"));
        }
        Some(format!(
            "the batch changes the stored bot account `{}` ({}); nothing was applied (leave the batch's Bot Account sheet and the bot's ID rows out to keep it, or pass --replace-bot)",
            changed.record_id,
            fields.join(", ")
        ))
    });
    let concerns = plan::update_concerns(&plan, &plan::Provided::of(&batch, &renames));
    // Then an update clearing what the batch has no column or sheet for, or an id that lost
    // its leading zeros.
    let refused = refused
        .or_else(|| {
            let absent: Vec<_> = (concerns.list.iter())
                .filter(|c| !matches!(c.kind, ConcernKind::Reformatted(_)))
                .collect();
            (!absent.is_empty() && !args.clear_absent).then(|| {
                let users = concerns.absent_users;
                let names = |(kind, word): (ConcernKind, &str)| {
                    let names: Vec<String> = absent
                        .iter()
                        .filter(|a| a.kind == kind)
                        .map(|a| match a.bot {
                            true => format!("`{}` (on the Bot Account sheet)", a.name),
                            false => format!("`{}`", a.name),
                        })
                        .collect();
                    (!names.is_empty()).then(|| format!("{word} {}", super::shown_list(&names, 5)))
                };
                let what: Vec<String> = [
                    (ConcernKind::AbsentColumn, "column"),
                    (ConcernKind::AbsentSheet, "sheet"),
                ]
                .into_iter()
                .filter_map(names)
                .collect();
                format!(
                    "the batch has no {}: the plan would clear their stored values on {users} user{}; nothing was applied (add them, as an export has them all, or pass --clear-absent to clear them)",
                    what.join(", and no "),
                    plural(users)
                )
            })
        })
        .or_else(|| {
            let reformats: BTreeMap<Reformat, Vec<String>> =
                (concerns.list.iter()).fold(BTreeMap::new(), |mut all, c| {
                    if let ConcernKind::Reformatted(how) = c.kind {
                        all.entry(how).or_default().push(format!("`{}`", c.name));
                    }
                    all
                });
            (!reformats.is_empty() && !args.accept_reformatted).then(|| {
                let users = concerns.reformatted_users;
                let what: Vec<String> = (reformats.into_iter())
                    .map(|(how, names)| format!("{} {}", how.said(), super::shown_list(&names, 5)))
                    .collect();
                format!(
                    "the batch has values a spreadsheet saved another way than the store holds them ({}) on {users} user{}: an export opened and saved again, not an edit; nothing was applied (edit an .xlsx export, whose columns are text, or pass --accept-reformatted to store them so)",
                    what.join("; "),
                    plural(users)
                )
            })
        });
    // A dry run shows the plan it refuses, so that who would go can be looked at first; so
    // does `--format json` always, with why it was refused (a script reads stdout).
    // A batch with errors applies nothing whatever else would refuse it: exit 1, its errors
    // shown, and the refusal said beside them (automation review: the same vendor's typos
    // were exit 2, "muster could not do its job", into a store holding its users).
    let held_by_errors = errors && !args.partial;
    if let (Some(refused), false, Format::Text, false) =
        (&refused, args.dry_run, args.format, held_by_errors)
    {
        bail!("{refused}");
    }
    let blocked = held_by_errors || refused.is_some();
    // The record ids of the rows with errors, which the plan leaves out.
    let left_out: std::collections::BTreeSet<&str> = (outcome.findings.iter())
        .filter(|f| f.severity == Severity::Error)
        .filter_map(|f| f.record_id.as_deref())
        .collect();
    // An export's deleted row does not remove its user (`--prune` does): say how many stored
    // users the export has no row for, which an admin deleting rows expects gone.
    // Counted from the user rows, valid or not (review: from the records and the findings'
    // record ids, it missed users whose ID rows stayed, and counted a file-level error's).
    let kept_absent = if outcome.from_export && !args.prune {
        let manual = stored.users.iter().filter(|u| !u.bot).count();
        manual.saturating_sub(outcome.rows_in_store)
    } else {
        0
    };
    let mut applied = false;
    if new_store && !args.dry_run && !blocked && !plan.changes.is_empty() {
        let writer = fresh.insert(Store::open(&args.store.store)?).write()?;
        // Another muster may have made the store since this one found none: the plan, made
        // against no store, would then not be this store's.
        if writer.user_count()? > 0 || !writer.batches()?.is_empty() {
            return Err(MadeMeanwhile(args.store.store.clone()).into());
        }
        source = Source::Locked(writer);
    }
    if let Source::Locked(w) = &mut source {
        if !blocked && !plan.changes.is_empty() {
            let info = BatchInfo {
                name: &name,
                file: &args.batch.display().to_string(),
                sha256: &sha,
                counts: plan.counts,
            };
            let writing = progress.spinner(format!("writing {} changes", plan.changes.len()));
            plan.apply(w, &info, &outcome.records)?;
            writing.finish_and_clear();
            applied = true;
        }
    }
    // Nothing applied, nothing is committed: an older store's migration, made in this
    // transaction, goes with it (adversarial review: a batch with errors migrated the store,
    // which older musters sharing it then refused).
    if let Source::Locked(w) = source {
        if applied {
            w.commit()?;
        }
    }

    let status = match (&refused, errors) {
        (Some(_), _) if !held_by_errors => ExitStatus::Error,
        (_, true) => ExitStatus::Failure,
        (_, false) => ExitStatus::Success,
    };
    match (args.format, args.quiet) {
        (Format::Json, _) => {
            let json = JsonPlan {
                create: plan.counts.create,
                update: plan.counts.update,
                unchanged: plan.counts.unchanged,
                remove: plan.counts.remove,
                changes: plan
                    .changes
                    .iter()
                    .map(|c| JsonChange {
                        action: c.action,
                        record_id: &c.record_id,
                        fields: c.fields(),
                    })
                    .collect(),
                bot_replaced: plan
                    .bot_replaced
                    .as_ref()
                    .map(|(a, b)| (a.as_str(), b.as_str())),
                kept_by_id_rows: &plan.kept_by_id_rows,
                left_out: left_out.clone(),
                kept_absent,
                kept_since_export: (outcome.since_export.iter())
                    .flat_map(|s| s.kept.iter())
                    .map(|(rid, writer)| KeptSinceExport {
                        record_id: rid,
                        written_by: batch_name(&batches, *writer),
                    })
                    .collect(),
                kept_untouched: outcome.rows_untouched,
                kept_removed: &outcome.removed_since,
                applied_before: applied_before.map(|b| b.name.as_str()),
                refused: refused.as_deref(),
                batch: &name,
                applied,
                summary: report::Summary::new(
                    &[args.batch.display().to_string()],
                    &config.source,
                    &outcome,
                    status as u8,
                ),
                findings: &outcome.findings,
                exit_code: status as u8,
            };
            outln!(
                "{}",
                report::json_safe(&serde_json::to_string_pretty(&json)?)
            )?;
        }
        (Format::Text, quiet) => {
            let files = vec![args.batch.display().to_string()];
            if !quiet {
                // The same validation the import made: with the store (S001–S004, D004 and
                // D005 against it), the source, the configuration and the header map.
                let mut all_with = format!("muster validate {}", shell_word(&args.batch));
                // Not a store a dry run has not made yet: validate refuses a missing one.
                if args.store.store.exists() {
                    all_with.push_str(&format!(" --store {}", shell_word(&args.store.store)));
                }
                for (flag, path) in [
                    ("--source", &args.source),
                    ("--config", &args.config),
                    ("--map", &args.map),
                ] {
                    if let Some(path) = path {
                        all_with.push_str(&format!(" {flag} {}", shell_word(path)));
                    }
                }
                all_with.push_str(" --report FILE.csv");
                let summary = report::summary_text(
                    &files,
                    &config.source,
                    &batch.encodings(),
                    &outcome,
                    &Written {
                        all_with: Some(&all_with),
                        source: args.source.as_deref(),
                        ..Written::default()
                    },
                    style,
                );
                out_raw!("{summary}")?;
                out!("{}", plan_text(&plan, &name, &args.store.store))?;
                if let Some(again) = &named_again {
                    outln!("  note: {again}; this import of it again is batch `{name}`")?;
                }
                if let Some(before) = applied_before {
                    let n = plan.counts.update;
                    let why = match (set_back, n) {
                        (true, _) => "set back what was changed since",
                        (false, 1) => "is how this muster reads it, as nothing was changed since (a newer muster, or another configuration, reads the file otherwise)",
                        (false, _) => "are how this muster reads it, as nothing was changed since (a newer muster, or another configuration, reads the file otherwise)",
                    };
                    outln!(
                        "  note: this file was applied before, as batch `{}` on {}: its {n} update{} {why}",
                        before.name,
                        before.applied_at,
                        plural(n)
                    )?;
                }
                let removed = &outcome.removed_since;
                if !removed.is_empty() {
                    outln!(
                        "  left out {} row{} of users removed from the store since this export, not edited in it: the removal stands (to bring one back, clear its row_version): {}",
                        removed.len(),
                        plural(removed.len()),
                        super::shown_list(removed, 10)
                    )?;
                }
                let untouched = outcome.rows_untouched;
                if untouched > 0 {
                    outln!(
                        "  kept {untouched} stored user{} as they are: changed in the store since this export, and not edited in it",
                        plural(untouched)
                    )?;
                }
                if kept_absent > 0 {
                    outln!(
                        "  kept {kept_absent} stored user{} this export has no row for (a deleted row does not remove its user: --prune does)",
                        plural(kept_absent)
                    )?;
                }
                if let Some(since) = outcome.since_export.as_ref().filter(|s| !s.kept.is_empty()) {
                    out!("{}", since_export_text(since, &batches))?;
                }
                // The users with errors; their record ids where findings name them (an error
                // about a whole file names none, and leaves out all its users).
                let users = outcome.stats.with_errors;
                if users > 0 && args.partial {
                    let left_out: Vec<&str> = left_out.iter().copied().collect();
                    let ids = match left_out.is_empty() {
                        true => String::new(),
                        false => format!("; the errors name {}", super::shown_list(&left_out, 10)),
                    };
                    outln!("  left out {users} user{} with errors{ids}", plural(users))?;
                }
            }
            let outcome_line = if args.dry_run {
                "dry run: nothing was written".to_string()
            } else if blocked {
                format!(
                    "nothing applied: the batch has errors (fix them, or pass --partial to apply the {} valid records)",
                    valid_records
                )
            } else if applied {
                format!(
                    "applied as batch `{name}` in one transaction ({} create, {} update, {} remove{})",
                    plan.counts.create,
                    plan.counts.update,
                    plan.counts.remove,
                    if plan.bot_replaced.is_some() {
                        ", bot account replaced"
                    } else {
                        ""
                    }
                )
            } else {
                "nothing to change; nothing was recorded".to_string()
            };
            if quiet {
                for line in report::file_level_lines(&outcome.findings) {
                    errln!("{line}");
                }
                if errors {
                    errln!("{}", report::closing_line(&files, &outcome.findings));
                    // `--partial` applied the valid records all the same: said, or a script's
                    // log reads as if nothing was (docs review).
                    if applied {
                        errln!("muster: {outcome_line}");
                    }
                }
            } else {
                outln!("{outcome_line}")?;
            }
        }
    }
    // The process ends here: freeing every record one by one would only cost time.
    std::mem::forget((outcome, batch, stored, plan));
    // Refused after the plan was printed (and in JSON, with why): said on stderr too.
    if let Some(refused) = refused {
        match held_by_errors {
            true => errln!("muster: with its errors fixed, it would still be refused: {refused}"),
            false => errln!("muster: {refused}"),
        }
    }
    Ok(status)
}

/// The users `--prune` kept as written after the export: how many, why, and how to remove them.
fn since_export_text(
    since: &crate::validate::SinceExport,
    batches: &[crate::store::BatchRow],
) -> String {
    let name = |id: u32| format!("`{}`", batch_name(batches, id));
    let n = since.kept.len();
    let why = match since.newest {
        Some(id) => format!(
            "written after the newest record its rows hold as stored was (by batch {})",
            name(id)
        ),
        None => "and none of its rows holds a record as stored".to_string(),
    };
    let (them, their) = if n == 1 {
        ("it", "its")
    } else {
        ("them", "their")
    };
    let mut out = format!(
        "  kept {n} stored user{} this export has no row for, {why}: the export may have been made before {them}, or before {their} last change; remove {them} with `muster remove`\n",
        plural(n),
    );
    for (rid, writer) in since.kept.iter().take(SHOWN_KEPT) {
        out.push_str(&format!(
            "    kept {rid} (written by batch {})\n",
            name(*writer)
        ));
    }
    if n > SHOWN_KEPT {
        out.push_str(&format!("    … and {} more\n", n - SHOWN_KEPT));
    }
    out
}

/// The name of batch `id` (0: written before muster kept who wrote a record).
fn batch_name(batches: &[crate::store::BatchRow], id: u32) -> &str {
    match batches.iter().find(|b| b.id == i64::from(id)) {
        Some(b) => &b.name,
        None => "(unknown)",
    }
}

/// The users kept as written after an export that the text names one by one.
const SHOWN_KEPT: usize = 20;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether the store file holds anything yet (an absent or empty file is a new store, made
/// when the import has something to write).
fn store_has_users(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// A new store that another import made while this one planned against none: [`run`] plans
/// again, under the store's lock.
#[derive(Debug, thiserror::Error)]
#[error("{}: another muster made this store while the batch was checked; nothing was applied (run the import again)", .0.display())]
struct MadeMeanwhile(std::path::PathBuf);

/// The batch, read on a thread of its own or already read.
enum Pending {
    Reading(std::thread::JoinHandle<Result<input::Batch, input::InputError>>),
    Read(input::Batch),
}

impl Pending {
    fn wait(
        reading: std::thread::JoinHandle<Result<input::Batch, input::InputError>>,
    ) -> Result<input::Batch, input::InputError> {
        reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    fn take(self) -> Result<input::Batch, input::InputError> {
        match self {
            Pending::Reading(reading) => Pending::wait(reading),
            Pending::Read(batch) => Ok(batch),
        }
    }

    /// `error`, unless the batch has one of its own: a batch that cannot be read is reported
    /// first, as when it was read before the store.
    fn error_first(&mut self, error: anyhow::Error) -> anyhow::Error {
        match std::mem::replace(self, Pending::Read(input::Batch::default())) {
            Pending::Reading(reading) => match Pending::wait(reading) {
                Err(e) => e.into(),
                Ok(_) => error,
            },
            Pending::Read(_) => error,
        }
    }
}

/// Where the plan reads the store: under the write lock, read once for a dry run, or no store
/// at all (a dry run against a store that does not exist yet).
enum Source<'a> {
    Locked(Writer<'a>),
    Read(&'a Store),
    Absent,
}

impl Source<'_> {
    /// The batches applied to the store, oldest first.
    fn batches(&self) -> Result<Vec<crate::store::BatchRow>, StoreError> {
        match self {
            Source::Locked(w) => w.batches(),
            Source::Read(s) => s.batches(),
            Source::Absent => Ok(Vec::new()),
        }
    }
}

impl UserSource for Source<'_> {
    fn scan_users<T: Send>(
        &self,
        parse: impl Fn(&UserChunk) -> T + Sync,
        take: impl FnMut(Vec<StoredSummary>, T) + Send,
    ) -> Result<(), StoreError> {
        match self {
            Source::Locked(w) => w.scan_users(parse, take),
            Source::Read(s) => s.scan_users(parse, take),
            Source::Absent => Ok(()),
        }
    }

    fn record_text(&self, rowid: i64) -> Result<String, StoreError> {
        match self {
            Source::Locked(w) => w.record_text(rowid),
            Source::Read(s) => s.record_text(rowid),
            // No store holds no users, so the plan never asks.
            Source::Absent => Err(StoreError::Refused(format!(
                "no store to read record {rowid} from"
            ))),
        }
    }

    fn user_count(&self) -> Result<usize, StoreError> {
        match self {
            Source::Locked(w) => w.user_count(),
            Source::Read(s) => s.user_count(),
            Source::Absent => Ok(0),
        }
    }
}

/// `plan: 38 create, 2 update, 0 unchanged, 0 remove`, then each change.
fn plan_text(plan: &Plan, name: &str, store: &std::path::Path) -> String {
    const SHOWN_CREATES: usize = 20;
    let c = plan.counts;
    let mut out = format!(
        "plan for batch `{name}` into {}: {} create, {} update, {} unchanged, {} remove\n",
        store.display(),
        c.create,
        c.update,
        c.unchanged,
        c.remove
    );
    let mut creates = 0;
    for change in &plan.changes {
        match change.action {
            Action::Create => {
                creates += 1;
                if creates <= SHOWN_CREATES {
                    out.push_str(&format!("  create {}\n", change.record_id));
                }
            }
            Action::Update => {
                out.push_str(&format!("  update {}\n", change.record_id));
                for f in change.fields() {
                    out.push_str(&format!(
                        "    {}: {} → {}\n",
                        f.field,
                        f.before_text().unwrap_or("(none)".into()),
                        f.after_text().unwrap_or("(none)".into())
                    ));
                }
            }
            Action::Remove if change.bot => {}
            Action::Remove => out.push_str(&format!("  remove {}\n", change.record_id)),
        }
    }
    if creates > SHOWN_CREATES {
        out.push_str(&format!(
            "  … and {} more to create\n",
            creates - SHOWN_CREATES
        ));
    }
    if let Some((old, new)) = &plan.bot_replaced {
        out.push_str(&format!("  bot account replaced: {old} → {new}\n"));
    }
    for rid in &plan.kept_by_id_rows {
        out.push_str(&format!(
            "  kept {rid}: no user row, but ID rows of the batch name it (delete them too to have --prune remove it)\n"
        ));
    }
    out
}

/// A path as a shell word: as it is when it is plain, in single quotes otherwise.
fn shell_word(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-+:@%,=".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    /// The names `remove` and `revert` give are muster's; others that start alike are not.
    #[test]
    fn own_batch_names_are_told_apart() {
        assert!(super::is_own_batch_name("remove-1796595654871"));
        assert!(super::is_own_batch_name("forget-1796595654871"));
        assert!(super::is_own_batch_name("revert-2026-Q3-1796595654871"));
        assert!(!super::is_own_batch_name("remove-old-contractors"));
        assert!(!super::is_own_batch_name("revert-2026-Q3"));
        assert!(!super::is_own_batch_name("2026-Q3"));
        assert!(!super::is_own_batch_name("remove-2026"));
    }

    #[test]
    fn a_path_becomes_one_shell_word() {
        use super::shell_word;
        use std::path::Path;
        assert_eq!(shell_word(Path::new("dir/q3.xlsx")), "dir/q3.xlsx");
        assert_eq!(shell_word(Path::new("Q3 batch.xlsx")), "'Q3 batch.xlsx'");
        assert_eq!(shell_word(Path::new("it's.csv")), r"'it'\''s.csv'");
    }
}
