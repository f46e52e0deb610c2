//! The cross-row rules (D001–D005, R001, R002, B001, B002) over a batch streamed a block at a
//! time. While rows are checked, each user leaves only its sheet (`UserCore`, 8 bytes) in
//! memory; its record id, addresses and identities go into hash buckets ([`Buckets`]). Once
//! every row is in, each bucket is grouped on its own, in parallel, and the groups give the
//! findings. Items keep the order they were added in, so groups list their members in row
//! order, as the messages name them.

use super::buckets::{bucket_of, items, Buckets, Filled, Item, Reader};
use super::{EntryRow, Known, Place, Reporter, Stats, StoreFinding, UserRow};
use crate::check::email;
use crate::config::ConnectorKind;
use crate::finding::{Finding, Owner};
use crate::input::headers::{IdList, IdPart};
use crate::input::{Batch, Sheet, SheetKind};
use crate::record::IdEntry;
use crate::rules::{Rule, Severity};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What is kept in memory of each user row.
struct UserCore {
    sheet: u32,
    /// No record id (V001): such rows take the fate of ID rows without one.
    no_rid: bool,
}

/// An inline entry with the same record id and integration as an ID-sheet entry, or with the
/// integration of another inline entry of its row (D003).
struct InlineTwin {
    user: usize,
    entry: EntryRow,
}

/// The kinds of address in the email buckets.
const PRIMARY: u32 = 0;
const ALIAS: u32 = 1;
const MANAGER: u32 = 2;

/// The ID-sheet entries grouped by record id, each group in row order: a table of indices
/// built once, after the ID sheets and before the first user row. (A map of lists, one list
/// per entry and one per record id, took half a second at 900,000 entries while the checks
/// waited for it.)
pub(super) struct SheetEntries<'b> {
    entries: Vec<&'b EntryRow>,
    slots: HashMap<&'b str, u32>,
    /// Where each slot's entries start in `members`, and one past the last slot's.
    starts: Vec<u32>,
    /// Indices into `entries`, slot by slot.
    members: Vec<u32>,
}

impl<'b> SheetEntries<'b> {
    pub(super) fn new(entries: Vec<&'b EntryRow>) -> Self {
        let mut slots: HashMap<&str, u32> = HashMap::with_capacity(entries.len() / 4);
        let mut counts: Vec<u32> = Vec::new();
        let slot_of: Vec<u32> = entries
            .iter()
            .map(|e| {
                let next = counts.len() as u32;
                let slot = *slots.entry(e.record_id.as_str()).or_insert(next);
                if slot == next {
                    counts.push(0);
                }
                counts[slot as usize] += 1;
                slot
            })
            .collect();
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut at = 0;
        for n in counts {
            starts.push(at);
            at += n;
        }
        starts.push(at);
        let mut next = starts[..starts.len() - 1].to_vec();
        let mut members = vec![0; entries.len()];
        for (k, slot) in slot_of.into_iter().enumerate() {
            let at = &mut next[slot as usize];
            members[*at as usize] = k as u32;
            *at += 1;
        }
        SheetEntries {
            entries,
            slots,
            starts,
            members,
        }
    }

    /// Every entry, in row order.
    pub(super) fn all(&self) -> &[&'b EntryRow] {
        &self.entries
    }

    /// How many record ids (the empty one too) the entries name.
    fn slots(&self) -> usize {
        self.starts.len() - 1
    }

    /// The slot of a record id the entries name.
    pub(super) fn slot(&self, record_id: &str) -> Option<usize> {
        self.slots.get(record_id).map(|&s| s as usize)
    }

    /// The entries of a slot, in row order.
    fn of_slot(&self, slot: usize) -> impl Iterator<Item = &'b EntryRow> + '_ {
        let (from, to) = (self.starts[slot] as usize, self.starts[slot + 1] as usize);
        self.members[from..to]
            .iter()
            .map(|&k| self.entries[k as usize])
    }

    /// The entries naming a record id, in row order.
    pub(super) fn of(&self, record_id: &str) -> impl Iterator<Item = &'b EntryRow> + '_ {
        let slot = self.slot(record_id);
        slot.into_iter().flat_map(|s| self.of_slot(s))
    }
}

/// Everything the cross-row rules need, gathered row by row.
pub(super) struct CrossRow<'b> {
    cores: Vec<UserCore>,
    rids: Buckets,
    emails: Buckets,
    identities: Buckets,
    entry_identities: EntryIdentities,
    /// Bot rows whole (there is one per organization, a few in a bad batch): B001, B002.
    bots: Vec<(usize, UserRow)>,
    /// The ID-sheet entries (kept whole: their number is that of ID-sheet rows), for D003,
    /// D005 and B002.
    sheet_entries: &'b SheetEntries<'b>,
    inline_twins: Vec<InlineTwin>,
    /// How many user rows hold each record id that an ID-sheet entry names, by its slot in
    /// `sheet_entries` (D003, D005).
    users_of_slot: Vec<u32>,
    /// Whether any user row of each input file is not the bot (F007).
    files_with_users: HashSet<usize>,
    /// Every user's record id, when asked for (`import --prune`).
    record_ids: Option<HashSet<String>>,
    /// With the record ids: the stored records that rows hold with their stored row_version
    /// (an export's rows made since the record was last written), by number in the store.
    pub(super) exported_current: Vec<u32>,
    /// The users whose rows hold their stored record's current row_version, in order.
    pub(super) as_stored: Vec<usize>,
    /// Of those, the stored records rows hold under another record id (S004): `--prune`
    /// keeps them.
    pub(super) renamed: Vec<u32>,
    /// Whether a user sheet has a `row_version` column: the batch is a `muster export`.
    pub(super) from_export: bool,
    /// The inputs with a user sheet without an `email_addr` column (F002): their users'
    /// addresses are unknown, so every manager named there would be R001.
    pub(super) addresses_missing: HashSet<usize>,
    /// The manual users' rows whose record id the store holds, counted as they come.
    pub(super) rows_in_store: usize,
    /// The users whose export rows are untouched since the export while the store changed
    /// them since: kept as stored, so their rows vouch for no key the stored record lets go.
    pub(super) untouched: HashSet<usize>,
    /// Of those, the record ids of the rows whose users were removed from the store since.
    pub(super) removed_since: Vec<String>,
}

impl<'b> CrossRow<'b> {
    pub(super) fn new(
        sheet_entries: &'b SheetEntries<'b>,
        entry_identities: EntryIdentities,
        dir: PathBuf,
        keep_record_ids: bool,
    ) -> Self {
        CrossRow {
            cores: Vec::new(),
            rids: Buckets::new(dir.clone()),
            emails: Buckets::new(dir.clone()),
            identities: Buckets::new(dir),
            entry_identities,
            bots: Vec::new(),
            sheet_entries,
            inline_twins: Vec::new(),
            users_of_slot: vec![0; sheet_entries.slots()],
            files_with_users: HashSet::new(),
            record_ids: keep_record_ids.then(HashSet::new),
            exported_current: Vec::new(),
            as_stored: Vec::new(),
            renamed: Vec::new(),
            from_export: false,
            addresses_missing: HashSet::new(),
            rows_in_store: 0,
            untouched: HashSet::new(),
            removed_since: Vec::new(),
        }
    }

    /// The ID-sheet entries whose (non-empty) record id no user row holds, record id by
    /// record id.
    fn unheld(&self) -> impl Iterator<Item = &'b EntryRow> + '_ {
        let slots = self.users_of_slot.iter().enumerate();
        slots
            .filter(|&(_, &users)| users == 0)
            .flat_map(|(slot, _)| self.sheet_entries.of_slot(slot))
            .filter(|e| !e.record_id.is_empty())
    }

    /// How many user rows have been added.
    pub(super) fn users(&self) -> usize {
        self.cores.len()
    }

    /// Adds user `i` (users come in order, `i` is [`Self::users`]) with its keys from
    /// [`keys_of`].
    pub(super) fn add(&mut self, batch: &Batch, u: &UserRow, keys: &Keys) -> std::io::Result<()> {
        let i = self.cores.len();
        self.cores.push(UserCore {
            sheet: u.sheet as u32,
            no_rid: u.record_id.is_empty(),
        });
        if !u.bot {
            self.files_with_users.insert(batch.sheets[u.sheet].order.0);
        }
        if let Some(ids) = &mut self.record_ids {
            ids.insert(u.record_id.clone());
        }
        if let Some(s) = self.sheet_entries.slot(&u.record_id) {
            self.users_of_slot[s] += 1;
        }
        for &(kind, bucket, from, to) in &keys.items {
            let buckets = match kind {
                Kind::Rid => &mut self.rids,
                Kind::Email => &mut self.emails,
                Kind::Identity => &mut self.identities,
            };
            buckets.push(bucket, &keys.bytes[from..to])?;
        }
        for e in &u.entries {
            let twin = |s: &EntryRow| !s.integration.is_empty() && s.integration == e.integration;
            // The row's own entry for the integration in another list (`itsm.foo` beside
            // `channel.foo`, the integration being known to no rule that would say its list).
            let in_row = u.integration_in_two_lists()
                && (u.entries.iter()).any(|o| o.list != e.list && o.integration == e.integration);
            if in_row || (!e.record_id.is_empty() && self.sheet_entries.of(&e.record_id).any(twin))
            {
                self.inline_twins.push(InlineTwin {
                    user: i,
                    entry: e.clone(),
                });
            }
        }
        if u.bot {
            self.bots.push((i, u.clone()));
        }
        Ok(())
    }

    /// Runs the cross-row rules and adds their findings, then `late` (the rows' findings about
    /// the store and the source, which once came after them), then decides which users are
    /// valid (by index). Also returns
    /// the ID-sheet entries that add to stored users, and every record id when asked for.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish(
        mut self,
        rep: &Reporter,
        batch: &Batch,
        known: &Known,
        findings: &mut Vec<Finding>,
        late: Vec<StoreFinding>,
        stats: &mut Stats,
    ) -> std::io::Result<Decided> {
        findings.extend(self.no_users(rep, batch));
        // Before anything reads the record ids: a user kept so keeps its keys too.
        let since_export = self.keep_written_since_export(known);
        let cx = Cx {
            rep,
            batch,
            addresses_missing: &self.addresses_missing,
        };
        let identities = self.identities.finish()?;
        let sheet_identities = self.entry_identities.0.finish()?;
        let emails = self.emails.finish()?;
        let rids = self.rids.finish()?;
        // The buckets of the three kinds in one pass on the pool, so that no kind waits for
        // the last bucket of the one before: D004 within the batch (inline entries first,
        // then ID-sheet entries, as rows come), D002 and R001, D001.
        let (n_identities, n_emails) = (identities.len(), emails.len());
        let mut passes = (0..n_identities + n_emails + rids.len())
            .into_par_iter()
            .map(|k| -> std::io::Result<Pass> {
                if k < n_identities {
                    let mut bucket = identities.read(k)?;
                    let more = sheet_identities.read(k)?;
                    if !more.is_empty() {
                        bucket.to_mut().extend_from_slice(&more);
                    }
                    Ok(Pass::Identities(cx.identities(&bucket)))
                } else if k < n_identities + n_emails {
                    let bucket = emails.read(k - n_identities)?;
                    Ok(Pass::Emails(cx.emails(&bucket, known)))
                } else {
                    let bucket = rids.read(k - n_identities - n_emails)?;
                    Ok(Pass::Rids(cx.d001(&bucket)))
                }
            })
            .collect::<std::io::Result<Vec<Pass>>>()?
            .into_iter();
        for pass in passes.by_ref().take(n_identities) {
            if let Pass::Identities(f) = pass {
                findings.extend(f);
            }
        }
        // The identities' temporary files: hundreds of MB at a million rows.
        let_go((identities, sheet_identities));
        self.d003(&cx, findings);
        self.d005(&cx, known, findings);
        // D002, R001, then R002 over the managers found.
        let users = self.cores.len();
        let mut manager_of: Vec<Option<usize>> = vec![None; users];
        let mut managers_held = Vec::new();
        for pass in passes.by_ref().take(n_emails) {
            if let Pass::Emails((f, links, held)) = pass {
                findings.extend(f);
                managers_held.extend(held);
                for (i, j) in links {
                    manager_of[i] = Some(j);
                }
            }
        }
        let cycles: HashSet<usize> = in_cycles(&manager_of).into_iter().collect();
        if !cycles.is_empty() {
            findings.extend(per_bucket(&emails, |bucket| {
                cx.cycles(bucket, &cycles, &manager_of)
            })?);
        }
        let_go(emails);
        self.bots(&cx, findings);
        // S001 and D004 against the store wait for every user's validity; the rest count now.
        let (held, settled): (Vec<StoreFinding>, Vec<StoreFinding>) =
            late.into_iter().partition(|f| f.holder.is_some());
        findings.extend(settled.into_iter().map(|f| f.finding));
        // Which users the findings so far make invalid; D001 and the record-id owners last.
        let mut error_users = vec![false; users];
        let mut warn_users = vec![false; users];
        let mut error_records: HashSet<&str> = HashSet::new();
        let mut warn_records: HashSet<&str> = HashSet::new();
        let mut error_inputs: HashSet<usize> = HashSet::new();
        for pass in passes {
            if let Pass::Rids(f) = pass {
                findings.extend(f);
            }
        }
        findings.extend(self.managers_let_go(managers_held, &rids, known)?);
        for f in findings.iter() {
            let (u, r) = match f.severity {
                Severity::Error => (&mut error_users, &mut error_records),
                Severity::Warning => (&mut warn_users, &mut warn_records),
                Severity::Info => continue,
            };
            match &f.owner {
                Owner::User(i) => u[*i] = true,
                Owner::Record(rid) => {
                    r.insert(rid.as_str());
                }
                Owner::Input(input) if f.severity == Severity::Error => {
                    error_inputs.insert(*input);
                }
                _ => {}
            }
        }
        // Users whose record id an erroneous (or warned) ID-sheet entry names.
        if !error_records.is_empty() || !warn_records.is_empty() {
            let marks = per_bucket_with(&rids, |bucket| {
                let mut marks = Vec::new();
                for mut r in items(bucket) {
                    let i = r.u32() as usize;
                    let (_sheet, _row, _col) = (r.u32(), r.u32(), r.opt());
                    let rid = r.str();
                    marks.push((i, error_records.contains(rid), warn_records.contains(rid)));
                }
                Ok(marks)
            })?;
            for (i, error, warning) in marks.into_iter().flatten() {
                error_users[i] |= error;
                warn_users[i] |= warning;
            }
        }
        for (i, _) in self.cores.iter().enumerate().filter(|(_, c)| c.no_rid) {
            error_users[i] |= error_records.contains("");
            warn_users[i] |= warn_records.contains("");
        }
        let standing = self.settle_held(
            held,
            &rids,
            &cx,
            known,
            &error_inputs,
            [&mut error_users, &mut warn_users],
        )?;
        // Records a standing error of an ID-sheet row names: their stored entries are not added.
        let standing_records: HashSet<String> = standing
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .filter_map(|f| match &f.owner {
                Owner::Record(rid) => Some(rid.clone()),
                _ => None,
            })
            .collect();
        stats.users = users;
        let mut valid = vec![false; users];
        for (i, core) in self.cores.iter().enumerate() {
            let input = batch.sheets[core.sheet as usize].order.0;
            if error_users[i] || error_inputs.contains(&input) {
                stats.with_errors += 1;
                continue;
            }
            if warn_users[i] {
                stats.with_warnings += 1;
            }
            stats.valid += 1;
            valid[i] = true;
        }
        let refused_as_stored = self.refused_as_stored(&rids, findings, &standing, &error_users)?;
        let_go(rids);
        // ID-sheet entries for stored users the batch does not hold add to their records.
        let mut stored_entries: BTreeMap<String, Vec<IdEntry>> = BTreeMap::new();
        for e in self.unheld() {
            let rid = e.record_id.as_str();
            if known.store_records.contains(rid)
                && !error_records.contains(rid)
                && !standing_records.contains(rid)
                && !error_inputs.contains(&batch.sheets[e.sheet].order.0)
            {
                stored_entries
                    .entry(rid.to_string())
                    .or_default()
                    .push(super::to_entry(e));
            }
        }
        // An ID-sheet row in an erroneous input spoils its record's stored entries.
        for e in self.sheet_entries.all() {
            if error_inputs.contains(&batch.sheets[e.sheet].order.0) {
                stored_entries.remove(e.record_id.as_str());
            }
        }
        findings.extend(standing);
        // With --prune, a record an ID row names is in the batch too, whether or not the row
        // is valid: a broken ID row must not have its stored user removed (with --partial).
        let asked = self.record_ids.is_some();
        let mut record_ids = self.record_ids.unwrap_or_default();
        if asked {
            for e in self.sheet_entries.all() {
                if !e.record_id.is_empty() && !record_ids.contains(e.record_id.as_str()) {
                    record_ids.insert(e.record_id.clone());
                }
            }
        }
        Ok(Decided {
            valid,
            stored_entries,
            record_ids,
            since_export,
            refused_as_stored,
        })
    }

    /// The record ids of the rows with errors of their own (not of their file) that hold
    /// their stored record's current row_version, found by the record ids the errors name.
    fn refused_as_stored(
        &self,
        rids: &Filled,
        findings: &[Finding],
        standing: &[Finding],
        error_users: &[bool],
    ) -> std::io::Result<Vec<String>> {
        if !self.as_stored.iter().any(|&i| error_users[i]) {
            return Ok(Vec::new());
        }
        let named: HashSet<String> = (findings.iter().chain(standing))
            .filter(|f| f.severity == Severity::Error)
            .filter_map(|f| f.record_id.clone())
            .filter(|rid| !rid.is_empty())
            .collect();
        let mut ids: Vec<String> = users_of(rids, &named)?
            .into_iter()
            .filter(|(_, users)| {
                (users.iter()).any(|i| error_users[*i] && self.as_stored.binary_search(i).is_ok())
            })
            .map(|(rid, _)| rid)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// With --prune on an export: the stored users it has no row for that were written after
    /// the newest version its rows hold as stored was first written, added to the record ids
    /// so that the plan keeps them. The export was made after that version was written, but
    /// maybe before these users were: a row nobody deleted is not a user to remove (review: a
    /// Monday export imported with `--prune` on Wednesday removed Tuesday's new contractors).
    /// A user written after the export whose row was deleted is kept too, as S004 keeps an
    /// edited row. The stored records rows hold under another record id are kept as well.
    fn keep_written_since_export(&mut self, known: &Known) -> Option<SinceExport> {
        let ids = self.record_ids.as_mut().filter(|_| self.from_export)?;
        let records = &known.store_records;
        for &at in &self.renamed {
            ids.insert(records.record_id(at).to_string());
        }
        // When each row's record first had its version, newest first: the last writer bounds
        // it, so the search ends at the first row last written no later than the newest
        // found (one look-up, unless versions were written again).
        let mut exported = std::mem::take(&mut self.exported_current);
        exported.sort_unstable_by_key(|&at| (std::cmp::Reverse(records.writer(at)), at));
        exported.dedup();
        let mut newest: Option<u32> = None;
        for at in exported {
            let last = records.writer(at);
            if newest.is_some_and(|n| last <= n) {
                break;
            }
            let first = (known.history.as_ref())
                .and_then(|h| h.first_writer(records.record_id(at), records.row_version(at)))
                .map_or(last, |first| first.min(last));
            newest = Some(newest.map_or(first, |n| n.max(first)));
        }
        let in_id_rows: HashSet<&str> = (self.sheet_entries.all().iter())
            .map(|e| e.record_id.as_str())
            .collect();
        let mut kept = Vec::new();
        for at in 0..records.len() as u32 {
            let (rid, writer) = (records.record_id(at), records.writer(at));
            if known.store_bot == Some(at)
                || newest.is_some_and(|n| writer <= n)
                || ids.contains(rid)
                || in_id_rows.contains(rid)
            {
                continue;
            }
            kept.push((rid.to_string(), writer));
        }
        for (rid, _) in &kept {
            ids.insert(rid.clone());
        }
        Some(SinceExport { newest, kept })
    }

    /// With --prune, whether a stored record (by its record id and place) is removed by the
    /// same plan, and its keys with it: a manual user the batch holds nothing of (no user
    /// row, no ID row). Review: re-keying a person, the new record's address was S001 against
    /// the old one, and `--partial` removed the old one and left out the new.
    fn pruned<'s>(&'s self, known: &'s Known) -> impl Fn(&StoreFinding, &str) -> bool + 's {
        let in_id_rows: HashSet<&str> = match &self.record_ids {
            Some(_) => (self.sheet_entries.all().iter())
                .map(|e| e.record_id.as_str())
                .collect(),
            None => HashSet::new(),
        };
        move |f: &StoreFinding, holder: &str| {
            self.record_ids
                .as_ref()
                .is_some_and(|users| !users.contains(holder) && !in_id_rows.contains(holder))
                && known.store_bot != f.holder
        }
    }

    /// R001 on a manager whose address only a stored record holds, when the batch takes it
    /// from that record: its row gives it other addresses, or `--prune` removes it (review:
    /// a manager's address changed, and 46 users pointed at nobody, with no warning until
    /// the next import).
    fn managers_let_go(
        &self,
        held: Vec<StoreFinding>,
        rids: &Filled,
        known: &Known,
    ) -> std::io::Result<Vec<Finding>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let holder_rid = |holder: Option<u32>| known.store_records.record_id(holder.unwrap_or(0));
        let wanted: HashSet<String> = (held.iter())
            .map(|f| holder_rid(f.holder).to_string())
            .collect();
        let rows = users_of(rids, &wanted)?;
        let pruned = self.pruned(known);
        Ok(held
            .into_iter()
            .filter_map(|f| {
                let rid = holder_rid(f.holder);
                let how = if rows.contains_key(rid) {
                    "gives other addresses"
                } else if pruned(&f, rid) {
                    "removes (--prune)"
                } else {
                    return None;
                };
                let mut finding = f.finding;
                let manager = finding.value.as_deref().unwrap_or("").trim().to_string();
                finding.message = format!(
                    "manager `{manager}` is the address of stored record `{rid}`, which this batch {how}: no user will have it"
                );
                Some(finding)
            })
            .collect())
    }

    /// Settles S001 and D004 against the store (`held`): each names a key a stored record
    /// holds, and stands unless the batch gives that record one valid row (whose record then
    /// no longer holds the key: were it still to, D002 or D004 within the batch would have
    /// made it invalid; so only while that rule is an error) or a valid new bot replaces it. Validity depends on these findings in
    /// turn (two users swapping addresses each name the other), so a finding whose holder is
    /// not moved away stands and makes its owner invalid, until nothing changes. Returns the
    /// findings that stand, their owners marked in `marks` (errors, warnings).
    #[allow(clippy::too_many_arguments)]
    fn settle_held(
        &self,
        held: Vec<StoreFinding>,
        rids: &Filled,
        cx: &Cx,
        known: &Known,
        error_inputs: &HashSet<usize>,
        marks: [&mut Vec<bool>; 2],
    ) -> std::io::Result<Vec<Finding>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let holder_rid = |f: &StoreFinding| known.store_records.record_id(f.holder.unwrap_or(0));
        // The batch's users of every record id these findings name, as holder or as owner.
        let mut wanted: HashSet<String> = HashSet::new();
        for f in &held {
            wanted.insert(holder_rid(f).to_string());
            if let Owner::Record(rid) = &f.finding.owner {
                wanted.insert(rid.clone());
            }
        }
        let users_of = users_of(rids, &wanted)?;
        let [errors, warnings] = marks;
        // A holder's valid row vouches that it let the key go only while the rule that would
        // have caught it keeping the key (D002 for an address, D004 for an identity) makes a
        // row invalid: under `--warn D002` a valid row may still hold the address.
        let rules = &cx.rep.config.rules;
        let vouches = |f: &StoreFinding| {
            let within = if f.finding.code == Rule::EmailInStore.code() {
                Rule::DuplicateEmail
            } else {
                Rule::DuplicateExternalIdentity
            };
            rules.severity(within) == Some(Severity::Error)
        };
        let pruned = self.pruned(known);
        let batch = cx.batch;
        let mut standing = vec![false; held.len()];
        loop {
            let mut changed = false;
            for (k, f) in held.iter().enumerate() {
                if standing[k] {
                    continue;
                }
                let valid = |i: usize| {
                    let input = batch.sheets[self.cores[i].sheet as usize].order.0;
                    !errors[i] && !error_inputs.contains(&input) && !self.untouched.contains(&i)
                };
                // The ID-sheet entries of an untouched row are not applied: nothing to answer
                // for against the store. (The row's own findings against the store were
                // dropped with the row: `validate_with`.)
                let untouched_owner = match &f.finding.owner {
                    Owner::Record(rid) => users_of
                        .get(rid.as_str())
                        .is_some_and(|us| us.iter().any(|i| self.untouched.contains(i))),
                    _ => false,
                };
                if untouched_owner {
                    continue;
                }
                let holder = holder_rid(f);
                let moved = pruned(f, holder)
                    || vouches(f)
                        && match users_of.get(holder).map(Vec::as_slice) {
                            Some(&[i]) => valid(i),
                            _ => false,
                        }
                    || (known.store_bot == f.holder
                        && self
                            .bots
                            .iter()
                            .any(|(i, u)| u.record_id != holder && valid(*i)));
                if moved {
                    continue;
                }
                standing[k] = true;
                changed = true;
                let mark = match f.finding.severity {
                    Severity::Error => &mut *errors,
                    Severity::Warning => &mut *warnings,
                    Severity::Info => continue,
                };
                match &f.finding.owner {
                    Owner::User(i) => mark[*i] = true,
                    Owner::Record(rid) => {
                        for &i in users_of.get(rid.as_str()).into_iter().flatten() {
                            mark[i] = true;
                        }
                    }
                    Owner::Input(_) | Owner::Nobody => {}
                }
            }
            if !changed {
                break;
            }
        }
        Ok(held
            .into_iter()
            .zip(standing)
            .filter(|(_, standing)| *standing)
            .map(|(f, _)| f.finding)
            .collect())
    }

    /// F007 for each input that yielded no user rows (and was readable at all).
    fn no_users(&self, rep: &Reporter, batch: &Batch) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, file) in batch.files.iter().enumerate() {
            let unreadable = batch
                .problems
                .iter()
                .any(|p| p.order.0 == i && p.code == "F001");
            if unreadable || self.files_with_users.contains(&i) {
                continue;
            }
            let path = std::path::Path::new(file);
            let has_users_sheet = batch
                .sheets
                .iter()
                .any(|s| s.order.0 == i && s.kind == SheetKind::Users);
            let jsonl = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
            let message = if path.is_dir() && !has_users_sheet {
                "the directory holds no users.csv".to_string()
            } else if jsonl {
                "no user records: the file is empty or holds only the bot account".to_string()
            } else if !has_users_sheet {
                // The sheets it ignored, so that a renamed `Users` sheet is found at once.
                let ignored: Vec<String> = batch
                    .problems
                    .iter()
                    .filter(|p| p.order.0 == i && matches!(p.code, "F004" | "F008"))
                    .filter_map(|p| p.sheet.as_deref().map(|s| format!("`{s}`")))
                    .collect();
                if ignored.is_empty() {
                    "the workbook has no `Users` sheet".to_string()
                } else {
                    format!(
                        "the workbook has no `Users` sheet (it has {}, not read): rename the sheet that holds the users `Users`",
                        ignored.join(", ")
                    )
                }
            } else {
                "no user rows: the file is empty or holds only a header".to_string()
            };
            let sheet = Sheet {
                file: file.clone(),
                sheet: None,
                kind: SheetKind::Users,
                order: (i, 0),
                rows: Vec::new(),
                encoding: None,
                lettered: false,
                delimited: false,
                rest: None,
                hidden: Default::default(),
            };
            let place = Place {
                sheet: &sheet,
                row: None,
                col: None,
                field: Cow::Borrowed(""),
            };
            out.extend(rep.make(
                Rule::NoUsers,
                &place,
                None,
                None,
                message,
                None,
                Owner::Input(i),
            ));
        }
        out
    }

    /// D003: two entries of one user for one integration, on ID sheets or inline, in one list
    /// or in two. An integration is one connector of one kind, and a user has one identity in
    /// it (SPEC §1's `external_system_identities` is keyed by integration): `itsm.foo` beside
    /// `channel.foo`, with I001 lowered, was stored, and the store's own JSONL export was then
    /// refused. Rows sharing a record id are D001 already; their entries are not one user's.
    fn d003(&self, cx: &Cx, findings: &mut Vec<Finding>) {
        let mut twins: HashMap<(&str, &str), Vec<&InlineTwin>> = HashMap::new();
        for t in &self.inline_twins {
            let e = &t.entry;
            twins
                .entry((&e.record_id, &e.integration))
                .or_default()
                .push(t);
        }
        let mut groups: Vec<Vec<(&EntryRow, Owner)>> = Vec::new();
        // The (record id, integration) pairs an ID sheet holds: their inline twins are in
        // the sheet entries' group.
        let mut on_sheets: HashSet<(&str, &str)> = HashSet::new();
        // A record id's sheet entries by integration, in row order.
        let mut keys: Vec<(&str, Vec<&EntryRow>)> = Vec::new();
        for (slot, &users) in self.users_of_slot.iter().enumerate() {
            keys.clear();
            for e in self.sheet_entries.of_slot(slot) {
                if e.record_id.is_empty() || e.integration.is_empty() {
                    continue;
                }
                let key = e.integration.as_str();
                match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, members)) => members.push(e),
                    None => keys.push((key, vec![e])),
                }
            }
            for (integration, sheet_members) in &keys {
                let rid = sheet_members[0].record_id.as_str();
                on_sheets.insert((rid, integration));
                let inline = twins
                    .get(&(rid, *integration))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if inline.len() + sheet_members.len() < 2 || users > 1 {
                    continue;
                }
                groups.push(
                    inline
                        .iter()
                        .map(|t| (&t.entry, Owner::User(t.user)))
                        .chain(
                            sheet_members
                                .iter()
                                .map(|&e| (e, Owner::Record(e.record_id.clone()))),
                        )
                        .collect(),
                );
            }
        }
        // A row's inline entries for one integration in two lists, with none on an ID sheet.
        let mut in_rows: BTreeMap<(usize, &str), Vec<(&EntryRow, Owner)>> = BTreeMap::new();
        for t in &self.inline_twins {
            let e = &t.entry;
            if !on_sheets.contains(&(e.record_id.as_str(), e.integration.as_str())) {
                in_rows
                    .entry((t.user, &e.integration))
                    .or_default()
                    .push((e, Owner::User(t.user)));
            }
        }
        groups.extend(in_rows.into_values().filter(|members| members.len() > 1));
        for members in groups {
            let lists: HashSet<IdList> = members.iter().map(|(e, _)| e.list).collect();
            let locs = Places::new(members.iter().map(|(e, _)| (e.sheet, e.row)).collect());
            for (i, (e, owner)) in members.iter().enumerate() {
                let message = if lists.len() == 1 {
                    format!(
                        "`{}` has another `{}` entry on {}; one entry per integration",
                        e.record_id,
                        e.integration,
                        cx.others(&locs, (e.sheet, e.row))
                    )
                } else {
                    // Across lists each other entry is named with its list (on the same row
                    // too, where `others` names no place).
                    let others: Vec<String> = (members.iter().enumerate())
                        .filter(|&(j, _)| j != i)
                        .map(|(_, (o, _))| {
                            // A JSONL record's lists are named as the record names them.
                            let jsonl = !cx.batch.sheets[o.sheet].lettered;
                            let list = match (o.from_sheet, jsonl) {
                                (true, _) => o.list.sheet_kind().sheet_name().to_string(),
                                (false, false) => {
                                    format!("`{}.{}`", o.list.prefix(), o.integration)
                                }
                                (false, true) => format!("`{}_id_info`", o.list.prefix()),
                            };
                            if (o.sheet, o.row) == (e.sheet, e.row) {
                                let line = if jsonl { "line" } else { "row" };
                                format!("in {list} on this {line}")
                            } else {
                                format!("in {list} on {}", cx.where_(o.sheet, o.row))
                            }
                        })
                        .collect();
                    format!(
                        "`{}` has another `{}` entry, {}; an integration is one connector of one kind, so a user has one entry for it, in that kind's list",
                        e.record_id,
                        e.integration,
                        others.join(", ")
                    )
                };
                findings.extend(cx.make(
                    Rule::DuplicateIntegrationEntry,
                    (e.sheet, e.row, e.integration_col),
                    e.list.field(IdPart::Integration),
                    &e.record_id,
                    &e.integration,
                    message,
                    owner.clone(),
                ));
            }
        }
    }

    /// D005: an ID row belongs to a user of the batch, or to a stored one (whose record it adds
    /// to).
    fn d005(&self, cx: &Cx, known: &Known, findings: &mut Vec<Finding>) {
        let place = if known.has_store {
            "the batch or the store"
        } else {
            "the batch"
        };
        // In an export every stored user's ID rows come with its user row: ID rows of a
        // stored user without one are what is left of a row deleted from the Users sheet, as
        // old as the export, and would overwrite the stored entries unchecked (no
        // row_version of their own, so no S004).
        for e in self.unheld() {
            // An input without user rows is F007 already: its ID rows would each repeat it
            // (a workbook whose `Users` sheet was renamed gave hundreds).
            if !self
                .files_with_users
                .contains(&cx.batch.sheets[e.sheet].order.0)
            {
                continue;
            }
            let stored = known.store_records.contains(&e.record_id);
            let message = match (stored, self.from_export) {
                (false, _) => format!("no user in {place} has record id `{}`", e.record_id),
                (true, true) => format!(
                    "no user row of this export has record id `{}` (the store has it): in an export a user's ID rows go with its row, so delete them too, or bring the row back",
                    e.record_id
                ),
                (true, false) => continue,
            };
            findings.extend(cx.make(
                Rule::UnknownRecordReference,
                (e.sheet, e.row, e.record_col),
                "record_id",
                &e.record_id,
                &e.record_id,
                message,
                Owner::Record(e.record_id.clone()),
            ));
        }
    }

    /// B001 and B002.
    fn bots(&self, cx: &Cx, findings: &mut Vec<Finding>) {
        if self.bots.len() > 1 {
            let locs = Places::new(self.bots.iter().map(|(_, u)| (u.sheet, u.row)).collect());
            for (i, u) in &self.bots {
                findings.extend(cx.make(
                    Rule::MultipleBots,
                    (u.sheet, u.row, u.record_col),
                    "record_id",
                    &u.record_id,
                    u.cell(u.record_col, &u.record_id),
                    format!(
                        "there is one bot account per organization; another is on {}",
                        cx.others(&locs, (u.sheet, u.row))
                    ),
                    Owner::User(*i),
                ));
            }
        }
        let config = cx.rep.config;
        if !config.declared {
            return;
        }
        for (i, u) in &self.bots {
            for (id, c) in &config.connectors {
                if c.kind != ConnectorKind::Itsm {
                    continue;
                }
                // The bot rows' own entries and the ID-sheet rows: a user row sharing the bot's
                // record id is D001, and its entries are not the bot's.
                let mut all = self
                    .bots
                    .iter()
                    .flat_map(|(_, b)| &b.entries)
                    .chain(self.sheet_entries.of(&u.record_id));
                let has = all.any(|e| {
                    e.list == IdList::Itsm && e.record_id == u.record_id && &e.integration == id
                });
                if !has {
                    findings.extend(cx.make(
                        Rule::BotMissingItsm,
                        (u.sheet, u.row, u.record_col),
                        "record_id",
                        &u.record_id,
                        u.cell(u.record_col, &u.record_id),
                        format!("the bot account has no ITSM entry for the `{id}` connector"),
                        Owner::User(*i),
                    ));
                }
            }
        }
    }
}

/// What the cross-row pass decided.
pub(super) struct Decided {
    pub(super) valid: Vec<bool>,
    pub(super) stored_entries: BTreeMap<String, Vec<IdEntry>>,
    pub(super) record_ids: HashSet<String>,
    pub(super) since_export: Option<SinceExport>,
    pub(super) refused_as_stored: Vec<String>,
}

/// `import --prune` of an export: the stored users kept because they were written after it.
#[derive(Debug, Default, Clone)]
pub struct SinceExport {
    /// The batch that first wrote the newest version an export's row holds as it is stored
    /// (none: no row does, so when the export was made is unknown).
    pub newest: Option<u32>,
    /// The users kept, with the batch that last wrote each, in the store's order.
    pub kept: Vec<(String, u32)>,
}

/// Which buckets an item goes to.
#[derive(Clone, Copy)]
enum Kind {
    Rid,
    Email,
    Identity,
}

/// A user's bucket items, encoded where the row is checked (on any core): (kind, bucket, byte
/// range in `bytes`).
#[derive(Default)]
pub(super) struct Keys {
    bytes: Vec<u8>,
    items: Vec<(Kind, usize, usize, usize)>,
}

impl Keys {
    /// Adds an item to bucket `bucket`, written by `write` straight after the previous one
    /// (one buffer per row: no allocation per item).
    fn push(&mut self, kind: Kind, bucket: usize, write: impl FnOnce(&mut Item)) {
        let from = self.bytes.len();
        let mut item = Item {
            bytes: std::mem::take(&mut self.bytes),
        };
        write(&mut item);
        self.bytes = item.bytes;
        self.items.push((kind, bucket, from, self.bytes.len()));
    }
}

/// The bucket items of user `i`: its record id (D001), addresses (D002, R001, R002) and
/// identities (D004), written into `spare`, the buffers of a row [`CrossRow::add`] took
/// before: they are reused, never freed by the appending thread (see
/// `UserRow::keep_for_cross_row` for what such frees cost).
pub(super) fn keys_of(u: &UserRow, i: usize, spare: Keys) -> Keys {
    let mut keys = spare;
    keys.bytes.clear();
    keys.items.clear();
    // About what a row with an address, a manager and an entry per built-in connector takes.
    keys.bytes.reserve(1024);
    keys.items.reserve(16);
    let at = |item: &mut Item| {
        item.u32(i as u32).u32(u.sheet as u32).u32(u.row);
    };
    // Each item ends with its cell as read where it differs from the key (empty where not):
    // the findings' `value`.
    fn cell<'s>(u: &'s UserRow, col: Option<usize>, kept: &'s str) -> &'s str {
        let cell = u.cell(col, kept);
        if cell == kept {
            ""
        } else {
            cell
        }
    }
    if !u.record_id.is_empty() {
        keys.push(Kind::Rid, bucket_of(&u.record_id.as_str()), |item| {
            at(item);
            item.opt(u.record_col)
                .str(&u.record_id)
                .str(cell(u, u.record_col, &u.record_id));
        });
    }
    let mut address = |kind: u32, text: &str, col: Option<usize>| {
        let key = email::key(text);
        keys.push(Kind::Email, bucket_of(&key.as_str()), |item| {
            item.u32(kind);
            at(item);
            item.opt(col)
                .str(&u.record_id)
                .str(text)
                .str(&key)
                .str(cell(u, col, text));
        });
    };
    if let Some((e, col)) = &u.email {
        address(PRIMARY, e, *col);
    }
    for (a, col) in &u.aliases {
        // An alias equal to the primary address is the same address, not a duplicate.
        if u.email.as_ref().is_some_and(|(e, _)| e == a) {
            continue;
        }
        address(ALIAS, a, *col);
    }
    if let Some((m, col)) = &u.manager {
        address(MANAGER, m, *col);
    }
    for e in &u.entries {
        if let Some(bucket) = identity_bucket(e) {
            keys.push(Kind::Identity, bucket, |item| identity(e, Some(i), item));
        }
    }
    keys
}

/// The identities of the ID-sheet entries (D004), bucketed as the entries come.
pub(super) struct EntryIdentities(Buckets);

impl EntryIdentities {
    pub(super) fn new(dir: PathBuf) -> Self {
        EntryIdentities(Buckets::new(dir))
    }

    pub(super) fn add(&mut self, e: &EntryRow) -> std::io::Result<()> {
        let Some(bucket) = identity_bucket(e) else {
            return Ok(());
        };
        let mut item = Item::default();
        identity(e, None, &mut item);
        self.0.push(bucket, &item.bytes)
    }
}

/// The bucket of an entry's identity, for D004; `None` when it has none to compare.
fn identity_bucket(e: &EntryRow) -> Option<usize> {
    let uid = e.user_id.as_deref()?;
    if e.broken || e.record_id.is_empty() {
        return None;
    }
    Some(bucket_of(&(e.integration.as_str(), uid)))
}

/// Writes an entry's identity (one [`identity_bucket`] found): `user` is the owning user's
/// index for an inline entry, `None` for an ID-sheet row.
fn identity(e: &EntryRow, user: Option<usize>, item: &mut Item) {
    item.opt(user)
        .u32(e.sheet as u32)
        .u32(e.row)
        .opt(e.user_id_col)
        .u32(e.list as u32)
        .str(&e.record_id)
        .str(&e.integration)
        .str(e.user_id.as_deref().unwrap_or_default())
        .str(e.user_id_cell.as_deref().unwrap_or_default());
}

/// Lets go of buckets read for the last time. Deleting a temporary file gives its pages back
/// to the kernel one by one (0.3 s of CPU for the buckets of a million rows, `perf`): with
/// more than one thread, on a thread of its own, beside the writing of the outputs, which
/// mostly waits on the disk; with one, here.
fn let_go<T: Send + 'static>(buckets: T) {
    if rayon::current_num_threads() > 1 {
        super::drop_in_background(buckets, "free-buckets");
    }
}

/// What one bucket of [`CrossRow::finish`]'s pass gave, by kind.
enum Pass {
    Identities(Vec<Finding>),
    Emails(EmailsPass),
    Rids(Vec<Finding>),
}

/// Runs `f` on every bucket, on all cores, and gathers the findings.
fn per_bucket(
    buckets: &Filled,
    f: impl Fn(&[u8]) -> Vec<Finding> + Sync,
) -> std::io::Result<Vec<Finding>> {
    Ok(per_bucket_with(buckets, |b| Ok(f(b)))?
        .into_iter()
        .flatten()
        .collect())
}

/// The batch's users (by index) of each record id in `wanted`, from the record-id buckets.
fn users_of(
    rids: &Filled,
    wanted: &HashSet<String>,
) -> std::io::Result<HashMap<String, Vec<usize>>> {
    let found = per_bucket_with(rids, |bucket| {
        let mut found = Vec::new();
        for mut r in items(bucket) {
            let i = r.u32() as usize;
            let (_sheet, _row, _col) = (r.u32(), r.u32(), r.opt());
            let rid = r.str();
            if wanted.contains(rid) {
                found.push((rid.to_string(), i));
            }
        }
        Ok(found)
    })?;
    let mut users_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (rid, i) in found.into_iter().flatten() {
        users_of.entry(rid).or_default().push(i);
    }
    Ok(users_of)
}

fn per_bucket_with<T: Send>(
    buckets: &Filled,
    f: impl Fn(&[u8]) -> std::io::Result<T> + Sync,
) -> std::io::Result<Vec<T>> {
    (0..buckets.len())
        .into_par_iter()
        .map(|b| f(&buckets.read(b)?))
        .collect()
}

/// The groups of [`group`] with more than one item. The items' key hashes are sorted, and
/// groups are made only where a hash repeats: a list per key, for a bucket of identities nearly
/// all of which are distinct, was most of the cross-row pass, and a map of every key still took
/// 2 s of CPU for a million users' nine million identities.
fn repeated<K: std::hash::Hash + Eq, T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<Vec<T>> {
    use std::hash::BuildHasher;
    let hasher = foldhash::fast::FixedState::default();
    let mut items: Vec<Option<T>> = items.map(Some).collect();
    let mut hashed: Vec<(u64, u32)> = items
        .iter()
        .enumerate()
        .map(|(k, item)| {
            (
                hasher.hash_one(key(item.as_ref().expect("just made"))),
                k as u32,
            )
        })
        .collect();
    // Equal hashes side by side, each run in the items' order.
    hashed.sort_unstable();
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut run = 0;
    while run < hashed.len() {
        let end = run + hashed[run..].partition_point(|&(h, _)| h == hashed[run].0);
        if end - run > 1 {
            // One hash, and most likely one key: the items of each key, in their order.
            let mut left: Vec<u32> = hashed[run..end].iter().map(|&(_, k)| k).collect();
            while let Some(&first) = left.first() {
                let first_key = key(items[first as usize].as_ref().expect("not taken yet"));
                let (same, other): (Vec<u32>, Vec<u32>) = left.iter().partition(|&&k| {
                    key(items[k as usize].as_ref().expect("not taken yet")) == first_key
                });
                if same.len() > 1 {
                    groups.push(same);
                }
                left = other;
            }
        }
        run = end;
    }
    // In the order of each group's first item, as `group` gives them.
    groups.sort_unstable_by_key(|g| g[0]);
    groups
        .into_iter()
        .map(|g| {
            g.into_iter()
                .map(|k| items[k as usize].take().expect("an item is in one group"))
                .collect()
        })
        .collect()
}

/// Groups items by a key, keeping the order of first appearance and of members.
fn group<K: std::hash::Hash + Eq, T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<Vec<T>> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut groups: Vec<Vec<T>> = Vec::new();
    for item in items {
        let k = key(&item);
        match index.get(&k) {
            Some(&g) => groups[g].push(item),
            None => {
                index.insert(k, groups.len());
                groups.push(vec![item]);
            }
        }
    }
    groups
}

/// (user, manager) for users whose manager is a user of the batch.
type ManagerLinks = Vec<(usize, usize)>;

/// An emails bucket's D002 and R001, its manager links, and the R001s on managers whose
/// address a stored record holds, to settle once the batch's record ids are known.
type EmailsPass = (Vec<Finding>, ManagerLinks, Vec<StoreFinding>);

/// Builds cross-row findings.
struct Cx<'a> {
    rep: &'a Reporter<'a>,
    batch: &'a Batch,
    addresses_missing: &'a HashSet<usize>,
}

/// An identity item read back.
struct Identity<'a> {
    user: Option<usize>,
    sheet: usize,
    row: u32,
    col: Option<usize>,
    list: IdList,
    rid: &'a str,
    integration: &'a str,
    uid: &'a str,
    /// The user id's cell as read (SPEC §5's `value`).
    cell: &'a str,
}

impl<'a> Identity<'a> {
    fn read(mut r: Reader<'a>) -> Self {
        let (user, sheet, row, col) = (r.opt(), r.u32() as usize, r.u32(), r.opt());
        let list = match r.u32() {
            0 => IdList::Itsm,
            1 => IdList::Channel,
            _ => IdList::Idm,
        };
        let (rid, integration, uid, cell) = (r.str(), r.str(), r.str(), r.str());
        Identity {
            user,
            sheet,
            row,
            col,
            list,
            rid,
            integration,
            uid,
            cell: if cell.is_empty() { uid } else { cell },
        }
    }
}

/// An address item read back.
struct Address<'a> {
    kind: u32,
    user: usize,
    sheet: usize,
    row: u32,
    col: Option<usize>,
    rid: &'a str,
    text: &'a str,
    key: &'a str,
    /// The address's cell as read (SPEC §5's `value`).
    cell: &'a str,
}

impl<'a> Address<'a> {
    fn read(mut r: Reader<'a>) -> Self {
        let (kind, user, sheet, row, col) = (
            r.u32(),
            r.u32() as usize,
            r.u32() as usize,
            r.u32(),
            r.opt(),
        );
        let (rid, text, key, cell) = (r.str(), r.str(), r.str(), r.str());
        Address {
            kind,
            user,
            sheet,
            row,
            col,
            rid,
            text,
            key,
            cell: if cell.is_empty() { text } else { cell },
        }
    }
}

impl<'a> Cx<'a> {
    #[allow(clippy::too_many_arguments)]
    fn make(
        &self,
        rule: Rule,
        (sheet, row, col): (usize, u32, Option<usize>),
        field: &str,
        rid: &str,
        value: &str,
        message: String,
        owner: Owner,
    ) -> Option<Finding> {
        let place = Place {
            sheet: &self.batch.sheets[sheet],
            row: Some(row),
            col,
            field: Cow::Borrowed(field),
        };
        self.rep
            .make(rule, &place, Some(rid), Some(value), message, None, owner)
    }

    fn where_(&self, sheet: usize, row: u32) -> String {
        let s = &self.batch.sheets[sheet];
        let shown = |s: &'a Sheet| {
            let file = crate::finding::file_name_only(&s.file);
            s.sheet.as_deref().unwrap_or(file)
        };
        let name = shown(s);
        // Two inputs may show the same name (two folders' users.csv, two workbooks' Users
        // sheets): the file as given then says which.
        let shared = self
            .batch
            .sheets
            .iter()
            .any(|o| o.file != s.file && shown(o) == name);
        match (&s.sheet, shared) {
            (_, false) => format!("{name} row {row}"),
            (Some(sheet), true) => format!("{} sheet {sheet} row {row}", s.file),
            (None, true) => format!("{} row {row}", s.file),
        }
    }

    /// The other places of a group, as a message names them: the first [`OTHERS_NAMED`], then
    /// how many more. Named all, a column filled down with one value named every row in every
    /// row's message (review: 20,000 rows of one record id took 11 GB, then aborted).
    fn others(&self, group: &Places, me: (usize, u32)) -> String {
        let others = group.places.iter().filter(|g| **g != me);
        let mine = group.times.get(&me).copied().unwrap_or(0);
        let more = (group.places.len() - mine).saturating_sub(OTHERS_NAMED);
        let mut named: Vec<String> = others
            .take(OTHERS_NAMED)
            .map(|&(si, r)| self.where_(si, r))
            .collect();
        if more > 0 {
            named.push(format!(
                "and {more} more row{}",
                if more == 1 { "" } else { "s" }
            ));
        }
        named.join(", ")
    }

    /// D004: one system's user id given to users of two record ids.
    fn identities(&self, bucket: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let all = items(bucket).map(Identity::read);
        for group in repeated(all, |e| (e.integration, e.uid)) {
            let distinct: HashSet<&str> = group.iter().map(|e| e.rid).collect();
            if distinct.len() < 2 {
                continue;
            }
            let locs = Places::new(group.iter().map(|e| (e.sheet, e.row)).collect());
            for e in &group {
                let owner = match e.user {
                    Some(i) => Owner::User(i),
                    None => Owner::Record(e.rid.to_string()),
                };
                out.extend(self.make(
                    Rule::DuplicateExternalIdentity,
                    (e.sheet, e.row, e.col),
                    e.list.field(IdPart::UserId),
                    e.rid,
                    e.cell,
                    format!(
                        "`{}` user `{}` is also given to another user on {}",
                        e.integration,
                        e.uid,
                        self.others(&locs, (e.sheet, e.row))
                    ),
                    owner,
                ));
            }
        }
        out
    }

    /// D002 (an address on two users) and R001 (a manager no user has as address); returns the
    /// findings and, for each user whose manager is a user of the batch, (user, manager).
    fn emails(&self, bucket: &[u8], known: &Known) -> EmailsPass {
        let mut out = Vec::new();
        let mut links = Vec::new();
        let mut held = Vec::new();
        let searched = match (known.has_store, !known.source_ids.is_empty()) {
            (false, false) => "in the batch",
            (true, false) => "in the batch or the store",
            (false, true) => "in the batch or the source directory",
            (true, true) => "in the batch, the store or the source directory",
        };
        let all = items(bucket).map(Address::read);
        for group in group(all, |a| a.key) {
            let addresses: Vec<&Address> = group.iter().filter(|a| a.kind != MANAGER).collect();
            let distinct: HashSet<usize> = addresses.iter().map(|a| a.user).collect();
            if distinct.len() > 1 {
                let locs = Places::new(addresses.iter().map(|a| (a.sheet, a.row)).collect());
                for a in &addresses {
                    let field = if a.kind == PRIMARY {
                        "email_addr"
                    } else {
                        "email_aliases"
                    };
                    let suggestion = match a.kind {
                        PRIMARY => "Give each user an address of its own; if the rows are one person, keep one row",
                        _ => "Remove the alias from all but one user: an address belongs to one user",
                    };
                    out.extend(
                        self.make(
                            Rule::DuplicateEmail,
                            (a.sheet, a.row, a.col),
                            field,
                            a.rid,
                            a.cell,
                            format!(
                                "`{}` is also used on {}",
                                a.text,
                                self.others(&locs, (a.sheet, a.row))
                            ),
                            Owner::User(a.user),
                        )
                        .map(|f| suggesting(f, suggestion)),
                    );
                }
            }
            // The manager is the first user with the address.
            let manager = addresses.first().map(|a| a.user);
            for m in group.iter().filter(|a| a.kind == MANAGER) {
                let holder = match manager {
                    Some(j) => {
                        links.push((m.user, j));
                        continue;
                    }
                    None if known.source_emails.contains_key(m.key) => continue,
                    // F002 says the addresses are missing: an R001 for every manager would
                    // bury it.
                    None if (self.addresses_missing)
                        .contains(&self.batch.sheets[m.sheet].order.0) =>
                    {
                        continue
                    }
                    None => known.store_addresses.holder(m.key, None),
                };
                let made = self.make(
                    Rule::UnknownManager,
                    (m.sheet, m.row, m.col),
                    "manager_email",
                    m.rid,
                    m.cell,
                    format!(
                        "manager `{}` is not the address of any user {searched}",
                        m.text
                    ),
                    Owner::User(m.user),
                );
                // A stored record's address: R001 only if the batch takes it from that record
                // ([`CrossRow::managers_let_go`]).
                match holder {
                    Some(at) => held.extend(made.map(|finding| StoreFinding {
                        finding,
                        holder: Some(at),
                    })),
                    None => out.extend(made),
                }
            }
        }
        (out, links, held)
    }

    /// R002 for the users on a cycle of managers.
    fn cycles(
        &self,
        bucket: &[u8],
        cycles: &HashSet<usize>,
        manager_of: &[Option<usize>],
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        for m in items(bucket).map(Address::read) {
            if m.kind != MANAGER || !cycles.contains(&m.user) {
                continue;
            }
            let message = if manager_of[m.user] == Some(m.user) {
                format!("`{}` is their own manager", m.rid)
            } else {
                format!(
                    "manager `{}` leads back to `{}` through a cycle of managers",
                    m.text, m.rid
                )
            };
            out.extend(self.make(
                Rule::ManagerCycle,
                (m.sheet, m.row, m.col),
                "manager_email",
                m.rid,
                m.cell,
                message,
                Owner::User(m.user),
            ));
        }
        out
    }

    /// D001: a record id on two user rows.
    fn d001(&self, bucket: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let all = items(bucket).map(|mut r| {
            let (i, sheet, row, col) = (r.u32() as usize, r.u32() as usize, r.u32(), r.opt());
            let (rid, cell) = (r.str(), r.str());
            (
                i,
                sheet,
                row,
                col,
                rid,
                if cell.is_empty() { rid } else { cell },
            )
        });
        for group in repeated(all, |u| u.4) {
            let locs = Places::new(group.iter().map(|u| (u.1, u.2)).collect());
            for &(i, sheet, row, col, rid, cell) in &group {
                out.extend(
                    self.make(
                        Rule::DuplicateRecordId,
                        (sheet, row, col),
                        "record_id",
                        rid,
                        cell,
                        format!(
                            "record id `{rid}` is also on {}",
                            self.others(&locs, (sheet, row))
                        ),
                        Owner::User(i),
                    )
                    .map(|f| {
                        suggesting(
                            f,
                            "Give each user a record id of its own; if the rows are one person, keep one row",
                        )
                    }),
                );
            }
        }
        out
    }
}

/// `finding` with `suggestion` (docs review: D001 and D002 said which rows, not what to do).
fn suggesting(mut finding: Finding, suggestion: &str) -> Finding {
    finding.suggestion = Some(suggestion.to_string());
    finding
}

/// The other rows a duplicate's message names (D001, D002, D004).
const OTHERS_NAMED: usize = 5;

/// The places (sheet, row) of a group of duplicates, and how many times each is in it (a row
/// may hold the duplicate twice): each member's message counts the others without reading the
/// whole group again.
struct Places {
    places: Vec<(usize, u32)>,
    times: HashMap<(usize, u32), usize>,
}

impl Places {
    fn new(places: Vec<(usize, u32)>) -> Places {
        let mut times = HashMap::with_capacity(places.len());
        for &p in &places {
            *times.entry(p).or_insert(0) += 1;
        }
        Places { places, times }
    }
}

/// Users on a cycle of managers (including their own manager), in O(n).
fn in_cycles(manager_of: &[Option<usize>]) -> Vec<usize> {
    let mut state = vec![0u8; manager_of.len()]; // 0 new, 1 on the current path, 2 done
    let mut out = Vec::new();
    for start in 0..manager_of.len() {
        let mut path = Vec::new();
        let mut at = Some(start);
        while let Some(i) = at {
            match state[i] {
                0 => {
                    state[i] = 1;
                    path.push(i);
                    at = manager_of[i];
                }
                1 => {
                    let from = path.iter().position(|&p| p == i).expect("on the path");
                    out.extend_from_slice(&path[from..]);
                    break;
                }
                _ => break,
            }
        }
        for p in path {
            state[p] = 2;
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keeps_the_groups_of_more_than_one_in_order() {
        let items = ["b1", "a1", "c1", "a2", "b2", "a3", "d1"];
        let first_letter = |s: &&str| s.as_bytes()[0];
        let all = group(items.iter().copied(), first_letter);
        let many: Vec<Vec<&str>> = all.into_iter().filter(|g| g.len() > 1).collect();
        assert_eq!(many, vec![vec!["b1", "b2"], vec!["a1", "a2", "a3"]]);
        assert_eq!(repeated(items.iter().copied(), first_letter), many);
        assert!(repeated(["x", "y"].into_iter(), first_letter).is_empty());
        // Many groups, of sizes 1 to 4, their members spread out.
        let items: Vec<(u32, u32)> = (0..5000).map(|i| (i, (i * 7919) % 1700)).collect();
        let by_key = |&(_, k): &(u32, u32)| k;
        let all = group(items.iter().copied(), by_key);
        let many: Vec<Vec<(u32, u32)>> = all.into_iter().filter(|g| g.len() > 1).collect();
        assert!(many.len() > 1000);
        assert_eq!(repeated(items.iter().copied(), by_key), many);
    }
}
