//! `muster history`, `muster remove`, `muster forget` and `muster revert`: reading and undoing
//! the change log.

use crate::cli::{ChangeOutput, ForgetArgs, Format, HistoryArgs, RemoveArgs, RevertArgs};
use crate::plan::field_changes;
use crate::report::one_line;
use crate::store::{Action, BatchInfo, Change, Counts, RecordJson, Writer};
use crate::validate::Known;
use crate::ExitStatus;
use anyhow::bail;

/// The record ids given, each once, as the store spells them ([`Writer::spelt_as_logged`]):
/// trimmed, and in NFC unless the store has them otherwise, so that what a terminal or a copy
/// from a spreadsheet adds does not hide the record.
fn logged_ids(given: &[String], writer: &Writer) -> anyhow::Result<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::new();
    for typed in given {
        let id = writer.spelt_as_logged(typed.trim())?;
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

pub fn history(args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    super::failure_in_json(show_history(args), args.format, false)
}

fn show_history(args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    let store = super::store_to_read(&args.store.store)?;
    let Some(given) = &args.record_id else {
        return list_batches(&store, &args.store.store, args.format);
    };
    let record_id = store.spelt_as_logged(given.trim())?;
    let log = store.history(&record_id)?;
    store.check_unchanged()?;
    if log.is_empty() {
        bail!(
            "no record `{record_id}` has ever been in {}",
            args.store.store.display()
        );
    }
    if args.format == Format::Json {
        let changes: Vec<serde_json::Value> = (log.iter())
            .map(|entry| {
                let fields = match (&entry.change.before, &entry.change.after) {
                    (Some(before), Some(after)) => field_changes(&before.value(), &after.value()),
                    _ => Vec::new(),
                };
                let mut change = batch_json(&entry.batch);
                change["action"] = entry.change.action.as_str().into();
                change["fields"] = serde_json::json!(fields);
                change
            })
            .collect();
        let json = serde_json::json!({ "record_id": record_id, "changes": changes });
        outln!(
            "{}",
            crate::report::json_safe(&serde_json::to_string_pretty(&json)?)
        )?;
        return Ok(ExitStatus::Success);
    }
    outln!("{record_id}")?;
    for entry in log {
        let b = &entry.batch;
        let reverted = if b.reverted_by.is_some() {
            " (reverted)"
        } else {
            ""
        };
        outln!(
            "  {}  {}  batch `{}`{reverted} {} by {}",
            b.applied_at,
            entry.change.action.as_str(),
            one_line(&b.name),
            one_line(&origin(&b.name, &b.file)),
            one_line(&b.os_user)
        )?;
        if let (Some(before), Some(after)) = (&entry.change.before, &entry.change.after) {
            for f in field_changes(&before.value(), &after.value()) {
                outln!(
                    "      {}: {} → {}",
                    f.field,
                    f.before_text().unwrap_or("(none)".into()),
                    f.after_text().unwrap_or("(none)".into())
                )?;
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// A batch as `history --format json` gives it (automation review: history had only text).
fn batch_json(b: &crate::store::BatchRow) -> serde_json::Value {
    serde_json::json!({
        "batch": b.name,
        "applied_at": b.applied_at,
        "file": b.file,
        "sha256": b.sha256,
        "os_user": b.os_user,
        "muster_version": b.muster_version,
        "counts": b.counts,
        "reverted": b.reverted_by.is_some(),
    })
}

/// Where a batch came from: its file, or the command that made it (a revert keeps the file of
/// the batch it undid, which read as if that file had been imported again).
fn origin(name: &str, file: &str) -> String {
    if super::import::is_own_batch_name(name) {
        if name.starts_with("remove-") {
            return "(muster remove)".to_string();
        }
        if name.starts_with("forget-") {
            return "(muster forget)".to_string();
        }
        if let Some((undone, _)) = name
            .strip_prefix("revert-")
            .and_then(|r| r.rsplit_once('-'))
        {
            return format!("(muster revert {undone})");
        }
    }
    match file {
        "" => "from -".to_string(),
        file => format!("from {file}"),
    }
}

/// Every batch applied to the store, newest first: what `revert` takes.
fn list_batches(
    store: &crate::store::Store,
    path: &std::path::Path,
    format: Format,
) -> anyhow::Result<ExitStatus> {
    let mut batches = store.batches()?;
    store.check_unchanged()?;
    if format == Format::Json {
        batches.sort_by_key(|b| std::cmp::Reverse(b.id));
        let json: Vec<serde_json::Value> = batches.iter().map(batch_json).collect();
        let json = serde_json::json!({ "batches": json });
        outln!(
            "{}",
            crate::report::json_safe(&serde_json::to_string_pretty(&json)?)
        )?;
        return Ok(ExitStatus::Success);
    }
    if batches.is_empty() {
        outln!("no batch has been applied to {}", path.display())?;
        return Ok(ExitStatus::Success);
    }
    batches.sort_by_key(|b| std::cmp::Reverse(b.id));
    for b in batches {
        let c = &b.counts;
        outln!(
            "{}  batch `{}`{} {} by {} with muster {}: {} create, {} update, {} remove",
            b.applied_at,
            one_line(&b.name),
            if b.reverted_by.is_some() {
                " (reverted)"
            } else {
                ""
            },
            one_line(&origin(&b.name, &b.file)),
            one_line(&b.os_user),
            one_line(&b.muster_version),
            c.create,
            c.update,
            c.remove
        )?;
    }
    Ok(ExitStatus::Success)
}

fn stamp(what: &str) -> String {
    format!("{what}-{}", jiff::Timestamp::now().as_millisecond())
}

/// The removal of each of `record_ids` the store holds, as a change to log.
fn removals(
    record_ids: &[String],
    stored: &std::collections::HashMap<String, crate::store::StoredUser>,
) -> Vec<Change> {
    (record_ids.iter())
        .filter_map(|rid| {
            let u = stored.get(rid)?;
            Some(Change {
                record_id: rid.clone(),
                action: Action::Remove,
                bot: u.bot,
                before: Some(RecordJson(u.text.clone())),
                after: None,
            })
        })
        .collect()
}

/// The bot is Moveworks's own account, not a manual user: named by mistake among them (a list
/// of ids pasted from an export), it stays unless `include_bot`.
fn refuse_the_bot(
    changes: &[Change],
    include_bot: bool,
    (verb, done): (&str, &str),
) -> anyhow::Result<()> {
    if let Some(bot) = changes.iter().find(|c| c.bot && !include_bot) {
        bail!(
            "`{}` is the bot account; nothing was {done} (pass --include-bot to {verb} it too)",
            bot.record_id
        );
    }
    Ok(())
}

/// The batch `remove` and `forget` record: named by muster, from no file.
fn removal_batch<'a>(name: &'a str, changes: &[Change]) -> BatchInfo<'a> {
    BatchInfo {
        name,
        file: "",
        sha256: "",
        counts: Counts {
            remove: changes.len(),
            ..Default::default()
        },
    }
}

/// What a command that changed the store did: as JSON, or its closing line unless `--quiet`.
fn say_done(output: &ChangeOutput, json: serde_json::Value, text: &str) -> anyhow::Result<()> {
    match output.format {
        Format::Json => outln!(
            "{}",
            crate::report::json_safe(&serde_json::to_string_pretty(&json)?)
        ),
        Format::Text if output.quiet => Ok(()),
        Format::Text => outln!("{text}"),
    }
}

pub fn remove(args: &RemoveArgs) -> anyhow::Result<ExitStatus> {
    super::failure_in_json(remove_users(args), args.output.format, true)
}

fn remove_users(args: &RemoveArgs) -> anyhow::Result<ExitStatus> {
    let mut store = super::existing_store(&args.store.store)?;
    let mut writer = store.write()?;
    let record_ids = logged_ids(&args.record_ids, &writer)?;
    let stored = writer.users_by_id(record_ids.iter().map(String::as_str))?;
    let missing: Vec<&str> = record_ids
        .iter()
        .filter(|r| !stored.contains_key(*r))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "not in {}: {}; nothing was removed",
            args.store.store.display(),
            missing.join(", ")
        );
    }
    // A record id given twice is removed (and logged) once.
    let changes = removals(&record_ids, &stored);
    refuse_the_bot(&changes, args.include_bot, ("remove", "removed"))?;
    let name = stamp("remove");
    let info = removal_batch(&name, &changes);
    writer.apply(&info, &changes)?;
    writer.commit()?;
    let (n, them) = match changes.len() {
        1 => ("1 record".to_string(), "it"),
        n => (format!("{n} records"), "them"),
    };
    let json = serde_json::json!({
        "applied": true,
        "batch": name,
        "removed": changes.iter().map(|c| &c.record_id).collect::<Vec<_>>(),
    });
    say_done(
        &args.output,
        json,
        &format!("removed {n} (batch `{name}`; `muster revert {name}` brings {them} back)"),
    )?;
    Ok(ExitStatus::Success)
}

pub fn forget(args: &ForgetArgs) -> anyhow::Result<ExitStatus> {
    super::failure_in_json(erase(args), args.output.format, true)
}

fn erase(args: &ForgetArgs) -> anyhow::Result<ExitStatus> {
    let mut store = super::existing_store(&args.store.store)?;
    let mut writer = store.write()?;
    if args.record_ids.iter().any(|r| r.trim().is_empty()) {
        bail!("a record id given is empty; nothing was erased");
    }
    let record_ids = logged_ids(&args.record_ids, &writer)?;
    let stored = writer.users_by_id(record_ids.iter().map(String::as_str))?;
    let (mut unknown, mut erased) = (Vec::new(), Vec::new());
    for rid in &record_ids {
        if stored.contains_key(rid) {
            continue;
        }
        if !writer.logged(rid)? {
            unknown.push(rid.as_str());
        } else if !writer.logged_with_data(rid)? {
            erased.push(rid.as_str());
        }
    }
    if !unknown.is_empty() {
        bail!(
            "not in {} nor in its history: {}; nothing was erased",
            args.store.store.display(),
            unknown.join(", ")
        );
    }
    // Erased already: a forget stopped after its commit (killed, a full disk) may not have
    // rewritten the file, and what earlier versions left in free pages is still there. Given
    // again, the file is rewritten (store review: a second forget refused, and the data
    // stayed).
    erased.sort_unstable();
    erased.dedup();
    let erased: Vec<String> = erased.into_iter().map(str::to_string).collect();
    let record_ids: Vec<String> = (record_ids.into_iter())
        .filter(|rid| !erased.contains(rid))
        .collect();
    let already = match erased.as_slice() {
        [] => String::new(),
        _ => format!(
            "\nalready erased before: {}",
            super::shown_list(
                &erased.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>(),
                5
            )
        ),
    };
    if record_ids.is_empty() {
        drop(writer);
        let (emptied, failed) = compacted(&store);
        // The rewrite is all this run is for: its failure is the run's (adversarial review:
        // it said "rewritten" beside "rewriting failed", exit 0).
        if let Some(why) = failed {
            bail!(
                "nothing left to erase: {} erased already; rewriting the file with its live data failed ({why}): what earlier versions left in its free pages stays there (free some room and run it again)",
                erased.join(", ")
            );
        }
        // The shape of a forget that erased something, for a script reads it the same way
        // (automation review: `d["erased"]` raised KeyError on a second forget).
        let json = serde_json::json!({
            "applied": false,
            "batch": null,
            "erased": [],
            "already_erased": erased,
            "removed": [],
            "same_address_elsewhere": [],
            "compacted": true,
            "copies_left_in_wal": !emptied,
        });
        let text = format!(
            "nothing left to erase: {} erased already; the file was rewritten with its live data again (VACUUM), which a forget that was stopped may not have done{}",
            erased.join(", "),
            wal_note(emptied, &args.store.store),
        );
        say_done(&args.output, json, &text)?;
        return Ok(ExitStatus::Success);
    }
    let changes = removals(&record_ids, &stored);
    refuse_the_bot(&changes, args.include_bot, ("erase", "erased"))?;
    let name = stamp("forget");
    let info = removal_batch(&name, &changes);
    let ids: Vec<&str> = record_ids.iter().map(String::as_str).collect();
    let elsewhere = writer.same_address_elsewhere(&ids)?;
    writer.forget(&info, &changes, &ids)?;
    writer.commit()?;
    crate::store::left_undone_if_stopped(
        "the old copies of what was erased may still be in the store's file: give the same `muster forget` again to compact it",
    );
    let (emptied, failed) = compacted(&store);
    let (n, it) = match record_ids.len() {
        1 => ("1 record".to_string(), "it"),
        n => (format!("{n} records"), "them"),
    };
    let mut text = format!(
        "erased {n}: {} removed from the store, and every change of {it} from its history; batch `{name}` logs the record ids alone, and cannot be reverted",
        changes.len()
    );
    // A re-key leaves the person under their old record id too (review: a revert of the
    // re-key brought them back).
    if !elsewhere.is_empty() {
        text += &format!(
            "\n{} also held, now or in the history, by {}: forget {} too if {} the same person",
            if it == "it" {
                "its address is"
            } else {
                "their addresses are"
            },
            super::shown_list(
                &elsewhere
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>(),
                5
            ),
            if elsewhere.len() == 1 { "it" } else { "them" },
            if elsewhere.len() == 1 {
                "it is"
            } else {
                "they are"
            },
        );
    }
    text += &already;
    text += &wal_note(emptied, &args.store.store);
    let json = serde_json::json!({
        "applied": true,
        "batch": name,
        "erased": record_ids,
        "already_erased": erased,
        "removed": changes.iter().map(|c| &c.record_id).collect::<Vec<_>>(),
        "same_address_elsewhere": elsewhere,
        "compacted": failed.is_none(),
        "copies_left_in_wal": !emptied,
    });
    say_done(&args.output, json, &text)?;
    // Said on stderr even under `-q` (adversarial review: nothing was), and not a success:
    // the erasure is done, its rewrite is not.
    if let Some(why) = failed {
        errln!(
            "muster: the erasure is committed, but rewriting the file failed ({why}): what earlier versions of the records left in its free pages stays there until the same `muster forget` is run again"
        );
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// The store rewritten with its live data only, after an erasure: whether the write-ahead
/// log was emptied too, and why the rewrite failed. A failure (a full disk) comes after the
/// erasure's commit: said beside it, not as the erasure's (store review: `"applied": false`
/// for an erasure that was committed).
fn compacted(store: &crate::store::Store) -> (bool, Option<String>) {
    match store.compact() {
        Ok(emptied) => (emptied, None),
        Err(e) => (false, Some(e.to_string())),
    }
}

/// A line for the closing message when [`compacted`] could not empty the write-ahead log.
fn wal_note(emptied: bool, store: &std::path::Path) -> String {
    match emptied {
        true => String::new(),
        false => format!(
            "\nanother process has the store open: copies of the erased data stay in {}-wal until it closes and a muster command runs on the store",
            store.display()
        ),
    }
}

/// A record a revert brings back may hold an address or an identity that another record has
/// taken since (S001, D004 had it come in a batch): the revert `revert_id` has written, not
/// yet committed, is refused when it leaves such a key held twice. The whole store's keys are
/// read for it, only when the revert left records in the store (not for undoing creates).
fn refuse_shared_keys(writer: &Writer, revert_id: i64, name: &str) -> anyhow::Result<()> {
    let kept = writer.kept_records_of(revert_id)?;
    if kept.is_empty() {
        return Ok(());
    }
    let mut known = Known::default();
    crate::plan::read_store(&mut known, writer)?;
    let records = &known.store_records;
    let ids = |at: &[u32]| -> Vec<&str> { at.iter().map(|&r| records.record_id(r)).collect() };
    let addresses = known.store_addresses.shared().into_iter();
    let addresses = addresses.map(|(key, at)| (format!("address `{key}`"), ids(&at)));
    let identities = known.store_identities.shared().into_iter();
    let identities = identities.map(|((integration, user_id), at)| {
        (format!("{integration} user id `{user_id}`"), ids(&at))
    });
    let clashes: Vec<String> = addresses
        .chain(identities)
        .filter(|(_, holders)| holders.iter().any(|r| kept.contains(*r)))
        .map(|(key, holders)| format!("{key} ({})", holders.join(", ")))
        .collect();
    if !clashes.is_empty() {
        bail!(
            "reverting `{name}` would leave {} held by two records: {}; nothing was reverted (change or remove the other record first)",
            match clashes.len() {
                1 => "a key".to_string(),
                n => format!("{n} keys"),
            },
            clashes.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        );
    }
    Ok(())
}

pub fn revert(args: &RevertArgs) -> anyhow::Result<ExitStatus> {
    super::failure_in_json(undo(args), args.output.format, true)
}

fn undo(args: &RevertArgs) -> anyhow::Result<ExitStatus> {
    let mut store = super::existing_store(&args.store.store)?;
    let mut writer = store.write()?;
    // In NFC, as import names batches; as given, for a name a store kept before it did.
    let batch = match writer.batch(&super::nfc(&args.batch))? {
        None => writer.batch(&args.batch)?,
        found => found,
    };
    let Some(batch) = batch else {
        bail!(
            "no batch `{}` in {}",
            args.batch,
            args.store.store.display()
        );
    };
    if batch.reverted_by.is_some() {
        bail!("batch `{}` has already been reverted", batch.name);
    }
    // What `forget` erased is nowhere to bring back from.
    if batch.name.starts_with("forget-") && super::import::is_own_batch_name(&batch.name) {
        bail!(
            "batch `{}` erased records and their history: it cannot be reverted",
            batch.name
        );
    }
    let later = writer.changed_later(batch.id)?;
    if !later.is_empty() && !args.force {
        // Which records and which batches, so that what --force would undo can be judged
        // (review: five ids of ten, and no batch named).
        let ids = super::shown_list(&later, 5);
        let later_batches = writer.batches_changed_later(batch.id)?;
        let names: Vec<String> = (writer.batches()?.into_iter())
            .filter(|b| later_batches.contains(&b.id))
            .map(|b| b.name)
            .collect();
        let reverts = names.iter().any(|n| n.starts_with("revert-"));
        bail!(
            "later batches ({}) changed {} of the records `{}` changed ({ids}); reverting would undo their changes too{}. Nothing was reverted; pass --force to revert anyway",
            super::shown_list(&names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>(), 5),
            later.len(),
            batch.name,
            if reverts {
                ", and undoing a revert brings back what its batch had set"
            } else {
                ""
            }
        );
    }
    let name = stamp(&format!("revert-{}", batch.name));
    let info = BatchInfo {
        name: &name,
        file: &batch.file,
        sha256: &batch.sha256,
        counts: Counts::default(),
    };
    // The batches whose changes this revert undoes: itself, and under --force the later ones
    // on the same records. Those that were reverts bring their batches' changes back.
    let mut undone = writer.batches_changed_later(batch.id)?;
    undone.push(batch.id);
    let bot_before = writer.bot_record_id()?;
    // Undone newest first, from each record as it is now to the record as it was before.
    let (id, counts) = writer.revert(batch.id, &info)?;
    refuse_shared_keys(&writer, id, &batch.name)?;
    writer.unmark_reverted_by(batch.id, &undone)?;
    writer.mark_reverted(batch.id, id)?;
    let bot_after = writer.bot_record_id()?;
    writer.commit()?;
    let mut text = format!(
        "reverted batch `{}`: {} records restored, {} removed, {} brought back (recorded as `{name}`)",
        batch.name, counts.update, counts.remove, counts.create
    );
    // The bot is no manual user: its going is said, with the way back.
    let bot_removed = bot_before.filter(|_| bot_after.is_none());
    if let Some(bot) = &bot_removed {
        text += &format!(
            "\nthe bot account `{bot}` was removed with them; `muster revert {name}` brings it back"
        );
    }
    let json = serde_json::json!({
        "applied": true,
        "batch": name,
        "reverted": batch.name,
        "restored": counts.update,
        "removed": counts.remove,
        "brought_back": counts.create,
        "bot_removed": bot_removed,
    });
    say_done(&args.output, json, &text)?;
    Ok(ExitStatus::Success)
}
