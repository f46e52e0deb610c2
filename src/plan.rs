//! What an import would do: the valid records of a batch against what the store holds, as
//! create / update (with the fields that change) / unchanged / remove, and the bot replaced.

use crate::check::email;
use crate::input::headers::{map_sheet, Attr, Field, Renames};
use crate::input::{read_batch, ReadOptions};
use crate::record::{with_entries, IdEntry, Records};
use crate::store::{
    canonical, flatten,
    keys::{self, KeySink},
    text_digest, Action, BatchInfo, Change, Counts, RecordJson, StoreError, StoredItem,
    StoredSummary, UserChunk, UserSource, Writer, APPLY_CHUNK,
};
use crate::validate::{Known, StoredAddresses, StoredIdentities, StoredRecords, StoredVersion};
use foldhash::HashSet;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<PlannedChange>,
    pub counts: Counts,
    /// (old bot, new bot) when the batch's bot account replaces a stored one.
    pub bot_replaced: Option<(String, String)>,
    /// With `--prune`: stored users with no user row in the batch that its ID rows name, so
    /// kept (a user row deleted with its ID rows forgotten would otherwise go unnoticed).
    pub kept_by_id_rows: Vec<String>,
}

/// A change the plan makes: its new text may still be in the batch's records.
pub type PlannedChange = Change<After>;

/// The text a planned change writes.
#[derive(Debug, Clone)]
pub enum After {
    /// Held in memory: an update (its fields are shown), or a stored record with entries added.
    Text(RecordJson),
    /// The batch's valid record at this place, read back from the records when the plan is
    /// applied: a million creates hold no text until then.
    Batch(usize),
}

impl PlannedChange {
    /// The fields an update changes (none for a create or a remove).
    pub fn fields(&self) -> Vec<FieldChange> {
        match (&self.before, &self.after) {
            (Some(b), Some(After::Text(a))) => field_changes(&b.value(), &a.value()),
            _ => Vec::new(),
        }
    }
}

impl Plan {
    /// Applies the plan through `writer`, reading the creates' texts from `records`, the
    /// batch's valid records the plan was made from.
    pub fn apply(
        &self,
        writer: &mut Writer,
        info: &BatchInfo,
        records: &Records,
    ) -> Result<i64, StoreError> {
        let mut texts = records.texts()?;
        let chunks = self.changes.chunks(APPLY_CHUNK).map(move |run| {
            let mut versions = Vec::with_capacity(run.len());
            let changes = run
                .iter()
                .map(|c| {
                    let (after, version) = match &c.after {
                        None => (None, None),
                        Some(After::Text(text)) => (Some(text.clone()), None),
                        Some(After::Batch(n)) => {
                            let (text, version) = texts.text_and_version(*n)?;
                            (Some(RecordJson(text)), version)
                        }
                    };
                    versions.push(version);
                    Ok(Change {
                        record_id: c.record_id.clone(),
                        action: c.action,
                        bot: c.bot,
                        before: c.before.clone(),
                        after,
                    })
                })
                .collect::<Result<Vec<Change>, StoreError>>()?;
            Ok((Cow::Owned(changes), versions))
        });
        writer.apply_chunks(info, chunks)
    }
}

/// One field of an update: its path in the record and its values before and after, as the
/// record holds them (`--format json` gives a list as a list, not as its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl FieldChange {
    /// The value before, as text: a string as it is, anything else as its JSON.
    pub fn before_text(&self) -> Option<Cow<'_, str>> {
        self.before.as_ref().map(value_text)
    }

    pub fn after_text(&self) -> Option<Cow<'_, str>> {
        self.after.as_ref().map(value_text)
    }
}

fn value_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// Records compared with the store per run: their digests are worked out on the pool.
const PLAN_RUN: usize = 4096;

/// Plans the import of `records` (the batch's valid records). With `prune`, `in_batch` holds
/// every record id of the batch's user and ID rows, valid or not, and stored users absent
/// from it and from `stored_entries` are removed, never the bot; without, it is not read (and
/// validation leaves it empty).
/// A create keeps only its record's place in `records`, read again when the plan is applied;
/// a stored record's text is fetched from `source` only when the plan changes it.
pub fn plan(
    stored: &StoredUsers,
    records: &Records,
    stored_entries: &BTreeMap<String, Vec<IdEntry>>,
    in_batch: &HashSet<String>,
    prune: bool,
    source: &impl UserSource,
) -> Result<Plan, StoreError> {
    use rayon::prelude::*;
    let mut plan = Plan::default();
    let mut new_bot: Option<String> = None;
    let mut at = 0;
    records.for_each_run(PLAN_RUN, |run| -> Result<(), StoreError> {
        // Equal digests are equal texts (muster writes a record's keys in one fixed order);
        // the canonical comparison is only needed when they differ. Hashed on all cores, and
        // only for records the store holds.
        let digests: Vec<Option<[u8; 32]>> = run
            .par_iter()
            .map(|r| {
                (!r.same_as_stored && stored.records.contains(r.record_id))
                    .then(|| text_digest(r.json))
            })
            .collect();
        for (r, digest) in run.iter().zip(digests) {
            let place = at;
            at += 1;
            if r.bot_account && new_bot.is_none() {
                new_bot = Some(r.record_id.to_string());
            }
            if r.same_as_stored {
                plan.counts.unchanged += 1;
                continue;
            }
            let Some((s, version)) = stored.get(r.record_id) else {
                plan.counts.create += 1;
                plan.changes.push(PlannedChange {
                    record_id: r.record_id.to_string(),
                    action: Action::Create,
                    bot: r.bot_account,
                    before: None,
                    after: Some(After::Batch(place)),
                });
                continue;
            };
            if digest.as_ref() == Some(version.digest) {
                plan.counts.unchanged += 1;
                continue;
            }
            let before = RecordJson(source.record_text(s.rowid)?);
            let after = RecordJson(r.json.to_string());
            if canonical(&before.value()) == canonical(&after.value()) {
                plan.counts.unchanged += 1;
                continue;
            }
            plan.counts.update += 1;
            plan.changes.push(PlannedChange {
                record_id: r.record_id.to_string(),
                action: Action::Update,
                bot: r.bot_account,
                before: Some(before),
                after: Some(After::Text(after)),
            });
        }
        Ok(())
    })?;
    // ID rows for stored users the batch does not hold add to their records.
    for (rid, entries) in stored_entries {
        let Some((s, _)) = stored.get(rid) else {
            continue;
        };
        let before = RecordJson(source.record_text(s.rowid)?);
        let record = before.value();
        let merged = with_entries(&record, entries);
        if canonical(&merged) == canonical(&record) {
            plan.counts.unchanged += 1;
        } else {
            plan.counts.update += 1;
            plan.changes.push(PlannedChange {
                record_id: rid.clone(),
                action: Action::Update,
                bot: s.bot,
                before: Some(before),
                after: Some(After::Text(RecordJson::from_value(&merged))),
            });
        }
    }
    // There is one bot account: a batch bringing another replaces the stored one.
    if let Some(new_bot) = new_bot {
        for (old_id, old) in stored.iter().filter(|(rid, u)| u.bot && *rid != new_bot) {
            plan.bot_replaced = Some((old_id.to_string(), new_bot.clone()));
            plan.changes.push(PlannedChange {
                record_id: old_id.to_string(),
                action: Action::Remove,
                bot: true,
                before: Some(RecordJson(source.record_text(old.rowid)?)),
                after: None,
            });
        }
    }
    if prune {
        // A stored user an ID row of the batch names is in the batch: its entry was just added,
        // and removing it too would contradict that.
        plan.kept_by_id_rows = (stored_entries.keys())
            .filter(|rid| stored.get(rid).is_some_and(|(u, _)| !u.bot))
            .cloned()
            .collect();
        for (rid, u) in stored.iter().filter(|(rid, u)| {
            !u.bot && !in_batch.contains(*rid) && !stored_entries.contains_key(*rid)
        }) {
            plan.counts.remove += 1;
            plan.changes.push(PlannedChange {
                record_id: rid.to_string(),
                action: Action::Remove,
                bot: false,
                before: Some(RecordJson(source.record_text(u.rowid)?)),
                after: None,
            });
        }
    }
    Ok(plan)
}

/// The fields an update changes.
pub fn field_changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let (b, a) = (flatten(before), flatten(after));
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            before: b.get(k).cloned(),
            after: a.get(k).cloned(),
        })
        .collect()
}

/// SPEC §6's default for `--max-remove`: 10 % of the store (rounded up) or 500, whichever is
/// smaller.
pub fn default_max_remove(stored_users: usize) -> usize {
    stored_users.div_ceil(10).min(500)
}

/// The keys of a run of stored records, worked out on the pool while SQLite reads the next
/// chunk: each identity and address key hashed, their texts back to back in one buffer. The
/// read's own thread then only inserts them: it had been allocating, hashing and rehashing
/// nine million identities of a million stored users one by one.
#[derive(Debug, Default)]
struct StoredKeys {
    /// Integration then user id of each identity, and each address key, back to back.
    text: String,
    identities: Vec<KeyedIdentity>,
    /// Address keys: `text[start..end]` (`split` is `start`).
    addresses: Vec<KeyedIdentity>,
    /// Per record: where its identities and its address keys end.
    ends: Vec<(usize, usize)>,
    digests: Vec<[u8; 32]>,
}

#[derive(Debug, Clone, Copy)]
struct KeyedIdentity {
    hash: u64,
    start: usize,
    split: usize,
    end: usize,
}

impl StoredKeys {
    /// Adds the keys of a stored user, read from `item`; `digest` is the user's own when its
    /// keys were kept beside it.
    fn add(&mut self, item: StoredItem, digest: [u8; 32]) {
        match item {
            StoredItem::Keys(blob) => {
                self.digests.push(digest);
                // `UserChunk::push_keys` took only a well-formed blob.
                keys::decode(blob, self).expect("a well-formed keys blob");
            }
            StoredItem::Text(text) => {
                self.digests.push(crate::store::normal_digest(text));
                keys::of_text(text, self);
            }
        }
        self.ends
            .push((self.identities.len(), self.addresses.len()));
    }

    /// The identities and address keys of the `i`th record.
    fn of(&self, i: usize) -> (&[KeyedIdentity], &[KeyedIdentity]) {
        let (from_id, from_email) = if i == 0 { (0, 0) } else { self.ends[i - 1] };
        let (to_id, to_email) = self.ends[i];
        (
            &self.identities[from_id..to_id],
            &self.addresses[from_email..to_email],
        )
    }

    /// The (integration, user id) of an identity, or the key of an address (after "").
    fn parts(&self, k: &KeyedIdentity) -> (&str, &str) {
        (&self.text[k.start..k.split], &self.text[k.split..k.end])
    }

    /// Adds `first` then `second` to the text: where they lie, with their hash.
    fn keyed(&mut self, hash: u64, first: &str, second: &str) -> KeyedIdentity {
        let start = self.text.len();
        self.text.push_str(first);
        self.text.push_str(second);
        KeyedIdentity {
            hash,
            start,
            split: start + first.len(),
            end: self.text.len(),
        }
    }
}

impl KeySink for StoredKeys {
    fn identity(&mut self, integration: &str, user_id: &str) {
        let hash = StoredIdentities::hash(integration, user_id);
        let k = self.keyed(hash, integration, user_id);
        self.identities.push(k);
    }

    fn email(&mut self, key: &str) {
        let k = self.keyed(StoredAddresses::hash(key), "", key);
        self.addresses.push(k);
    }
}

/// A stored user as the plan needs it beside its record id, row version and digest, which
/// [`StoredRecords`] holds under the same number. A million stored users were 96 bytes and
/// two strings each here, repeating those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredUser {
    pub rowid: i64,
    pub bot: bool,
}

impl StoredUser {
    fn of(u: &StoredSummary) -> StoredUser {
        StoredUser {
            rowid: u.rowid,
            bot: u.bot,
        }
    }
}

/// The store's users as the plan reads them: what [`read_store`] gave, with the record ids it
/// put in `Known::store_records` (taken from it once validation is done).
#[derive(Debug, Default)]
pub struct StoredUsers {
    pub users: Vec<StoredUser>,
    pub records: StoredRecords,
}

impl StoredUsers {
    /// The stored user with `record_id`, and its version and digest.
    pub fn get(&self, record_id: &str) -> Option<(StoredUser, StoredVersion<'_>)> {
        let version = self.records.get(record_id)?;
        Some((self.users[version.at as usize], version))
    }

    /// Every stored user with its record id, in rowid order with the bot last.
    pub fn iter(&self) -> impl Iterator<Item = (&str, StoredUser)> {
        (self.users.iter().enumerate()).map(|(at, u)| (self.records.record_id(at as u32), *u))
    }
}

/// Users per run of [`StoredKeys`]: a chunk of the store is split among the pool in runs.
const KEYS_RUN: usize = 512;

/// Reads the store's users: their addresses, identities and versions into `known` (S001, S004,
/// R001, D004), and the rowid of each for the plan, in rowid order with the bot last, numbered
/// as in `known.store_records` ([`StoredUsers`]). Each record is parsed and hashed on the
/// pool while the next chunk is read, and its text dropped.
pub fn read_store(
    known: &mut Known,
    source: &impl UserSource,
) -> Result<Vec<StoredUser>, StoreError> {
    use rayon::prelude::*;
    known.has_store = true;
    let count = source.user_count()?;
    let mut users = Vec::with_capacity(count);
    let parse = |chunk: &UserChunk| -> Vec<StoredKeys> {
        let runs: Vec<std::ops::Range<usize>> = (0..chunk.len())
            .step_by(KEYS_RUN)
            .map(|from| from..(from + KEYS_RUN).min(chunk.len()))
            .collect();
        runs.into_par_iter()
            .map(|run| {
                let mut keys = StoredKeys::default();
                for i in run {
                    keys.add(chunk.item(i), chunk.users[i].digest);
                }
                keys
            })
            .collect()
    };
    // The bot is added last, as it comes last in the list: where two stored records share an
    // address or an identity, the one added last is the one the rules name.
    let mut bots = Vec::new();
    let mut sized = false;
    source.scan_users(parse, |mut chunk, parsed| {
        if !sized {
            // Sized once from the first chunk's mix, for the whole store.
            sized = true;
            known.reserve_stored(count, &chunk, &parsed);
        }
        // Each user's digest, and the number in `store_records` of each user added now (the
        // bot waits for the end), which its identities point to.
        for (u, digest) in chunk.iter_mut().zip(parsed.iter().flat_map(|k| &k.digests)) {
            u.digest = *digest;
        }
        let mut next = known.store_records.len() as u32;
        let at: Vec<Option<u32>> = chunk
            .iter()
            .map(|u| {
                (!u.bot).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        // Two tables filled side by side: the identities (nine a user) on one thread, record
        // ids, versions and addresses on another. One thread filling both was the store
        // read's slowest stage.
        let mut identities = std::mem::take(&mut known.store_identities);
        let mut chunk_bots = Vec::new();
        let each = || {
            parsed
                .iter()
                .flat_map(|k| (0..k.ends.len()).map(move |i| (k, i)))
                .zip(&at)
        };
        rayon::join(
            || {
                for ((keys, i), at) in each() {
                    let Some(at) = *at else { continue };
                    for k in keys.of(i).0 {
                        let (integration, user_id) = keys.parts(k);
                        identities.insert_hashed(k.hash, integration, user_id, at);
                    }
                }
            },
            || {
                for (j, ((keys, i), _)) in each().enumerate() {
                    let (identities, addresses) = keys.of(i);
                    let u = &chunk[j];
                    if u.bot {
                        let owned = |k: &KeyedIdentity| {
                            let (a, b) = keys.parts(k);
                            (a.to_string(), b.to_string())
                        };
                        let identities: Vec<(String, String)> =
                            identities.iter().map(owned).collect();
                        let addresses: Vec<String> = addresses
                            .iter()
                            .map(|k| keys.parts(k).1.to_string())
                            .collect();
                        chunk_bots.push((j, identities, addresses));
                    } else {
                        let added = known.add_stored_user(u);
                        debug_assert_eq!(Some(added), at[j]);
                        for k in addresses {
                            known
                                .store_addresses
                                .insert_hashed(k.hash, keys.parts(k).1, added);
                        }
                    }
                }
            },
        );
        known.store_identities = identities;
        let mut chunk_bots = chunk_bots.into_iter().peekable();
        for (j, u) in chunk.into_iter().enumerate() {
            match chunk_bots.next_if(|b| b.0 == j) {
                Some((_, owned, addresses)) => bots.push((u, owned, addresses)),
                None => users.push(StoredUser::of(&u)),
            }
        }
    })?;
    for (u, identities, addresses) in bots {
        let at = known.add_stored_user(&u);
        known.store_bot = Some(at);
        for key in addresses {
            known.store_addresses.insert(&key, at);
        }
        for (integration, user_id) in identities {
            known.store_identities.insert(&integration, &user_id, at);
        }
        users.push(StoredUser::of(&u));
    }
    // Each user's place in the list is its number in `store_records` (`StoredUsers::get`).
    debug_assert_eq!(users.len(), known.store_records.len());
    // Each table's index, built side by side before the rows look into them.
    let Known {
        store_identities,
        store_addresses,
        store_records,
        ..
    } = known;
    rayon::join(
        || store_identities.seal(),
        || rayon::join(|| store_addresses.seal(), || store_records.seal()),
    );
    Ok(users)
}

impl Known {
    /// Sizes the tables for `count` stored users, from a first chunk of them.
    fn reserve_stored(&mut self, count: usize, chunk: &[StoredSummary], parsed: &[StoredKeys]) {
        let sample = chunk.len().max(1);
        let id_bytes: usize = chunk.iter().map(|u| u.record_id.len()).sum();
        let version_bytes: usize = chunk.iter().map(|u| u.row_version.len()).sum();
        // The tables keep the user ids' and addresses' text (the integrations once each).
        let text_of = |ks: &[KeyedIdentity]| ks.iter().map(|k| k.end - k.split).sum::<usize>();
        let (mut identities, mut bytes, mut addresses, mut address_bytes) = (0, 0, 0, 0);
        for keys in parsed {
            identities += keys.identities.len();
            bytes += text_of(&keys.identities);
            addresses += keys.addresses.len();
            address_bytes += text_of(&keys.addresses);
        }
        // A quarter more than the first chunk says: later users' ids run longer (numbers
        // counting up), and a table that outgrows its room by one byte is copied into one
        // twice its size, both held during the copy (270 MB more at the peak of a re-import
        // into a store of a million users). Room never written to takes no memory.
        // Per user at most a generous share, so that an odd first chunk (its users with
        // hundreds of identities each) cannot reserve gigabytes: past it, the tables grow.
        let scale = |n: usize, most_per_user: usize| {
            (n.saturating_mul(count) / sample)
                .saturating_add(n.saturating_mul(count) / sample / 4)
                .min(most_per_user.saturating_mul(count))
        };
        self.store_records
            .reserve(count, scale(id_bytes, 256), scale(version_bytes, 64));
        self.store_addresses
            .reserve(scale(addresses, 8), scale(address_bytes, 512));
        self.store_identities
            .reserve(scale(identities, 32), scale(bytes, 2048));
    }

    /// Adds a stored user's record id and version; returns its number in `store_records`,
    /// which its identities and addresses point to.
    fn add_stored_user(&mut self, u: &StoredSummary) -> u32 {
        self.store_records
            .add(&u.record_id, &u.row_version, u.digest, u.written_by)
    }
}

/// What the batch has columns or sheets for, by the updates' field names (`user.department`,
/// `user.custom_attributes.office`, `user_id_info.user_emails`, `user_id_info.itsm_id_info`),
/// for the users and for the bot apart: a column deleted from the Users sheet is absent for
/// the users even where the Bot Account sheet still has it.
#[derive(Debug, Default)]
pub struct Provided {
    /// JSONL records: every field of a record is given (an absent one is empty).
    all: bool,
    /// The users' (`[0]`) and the bot's (`[1]`).
    kinds: [Given; 2],
}

#[derive(Debug, Default)]
struct Given {
    fields: BTreeSet<String>,
    /// ID lists the batch gives through inline columns only (a flat CSV), each with the
    /// integrations it has columns for (and whether an `external_id` one): the list is given
    /// for those integrations alone, and a stored entry of another stays the batch's silence,
    /// not its word.
    inline: BTreeMap<String, BTreeMap<String, bool>>,
    /// ID lists whose sheet has no `external_id` column (ITSM and IDM).
    no_external: BTreeSet<String>,
}

impl Provided {
    /// The fields the user and bot sheets' columns and the ID sheets of `batch` give.
    pub fn of(batch: &crate::input::Batch, renames: &Renames) -> Provided {
        use crate::input::headers::{IdList, IdPart};
        use crate::input::SheetKind;
        let mut provided = Provided::default();
        let list = |l: IdList| format!("user_id_info.{}_id_info", l.prefix());
        for sheet in &batch.sheets {
            if !sheet.lettered {
                provided.all = true;
            }
            let whole_list = match sheet.kind {
                SheetKind::Users | SheetKind::Bot => None,
                SheetKind::Itsm => Some(IdList::Itsm),
                SheetKind::Channel => Some(IdList::Channel),
                SheetKind::Idm => Some(IdList::Idm),
            };
            // An ID sheet gives its list to users and bot alike.
            if let Some(l) = whole_list {
                let external = (map_sheet(sheet, renames).columns.iter())
                    .any(|c| c.field == Field::Id(IdPart::ExternalId));
                for given in &mut provided.kinds {
                    given.fields.insert(list(l));
                    if !external && l != IdList::Channel {
                        given.no_external.insert(list(l));
                    }
                }
                continue;
            }
            let given = &mut provided.kinds[(sheet.kind == SheetKind::Bot) as usize];
            for col in map_sheet(sheet, renames).columns {
                let field = match &col.field {
                    Field::Attr(a) => format!("user.{}", a.name()),
                    Field::Custom(name) => format!("user.custom_attributes.{name}"),
                    Field::EmailAliases => "user_id_info.user_emails".to_string(),
                    Field::Inline {
                        list: l,
                        integration,
                        part,
                    } => {
                        let entry = given.inline.entry(list(*l)).or_default();
                        let external = entry.entry(integration.clone()).or_default();
                        *external |= *part == IdPart::ExternalId;
                        continue;
                    }
                    _ => continue,
                };
                given.fields.insert(field);
            }
        }
        // An ID sheet gives its whole list, beside any inline columns.
        for given in &mut provided.kinds {
            let fields = &given.fields;
            given.inline.retain(|list, _| !fields.contains(list));
        }
        provided
    }

    /// The columns a batch lacks for what an update of `field` (an ID list) drops from the
    /// stored entries: with inline columns only (a flat CSV), a stored entry of an integration
    /// it has no columns for (`itsm.jira_service_desk.user_id` beside `itsm.servicenow.*`
    /// alone) or the external id of one it has no `external_id` column for; with an ID sheet
    /// without an `external_id` column, every stored external id (`itsm.external_id`).
    fn dropped_entries(
        &self,
        bot: bool,
        field: &str,
        before: &str,
        after: Option<&str>,
    ) -> Vec<String> {
        let given = &self.kinds[bot as usize];
        let inline = given.inline.get(field);
        let sheet_without_external = given.no_external.contains(field);
        if self.all || (inline.is_none() && !sheet_without_external) {
            return Vec::new();
        }
        // Integration → whether its entry has an external id.
        let entries = |text: Option<&str>| -> BTreeMap<String, bool> {
            #[derive(serde::Deserialize)]
            struct Entry {
                integration: String,
                #[serde(default)]
                external_id: Option<String>,
            }
            text.and_then(|t| serde_json::from_str::<Vec<Entry>>(t).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.integration, e.external_id.is_some_and(|x| !x.is_empty())))
                .collect()
        };
        let prefix = field
            .strip_prefix("user_id_info.")
            .and_then(|l| l.strip_suffix("_id_info"))
            .unwrap_or(field);
        let kept = entries(after);
        let mut lacking = Vec::new();
        for (integration, had_external) in entries(Some(before)) {
            let lost_external = had_external && kept.get(&integration) == Some(&false);
            match inline {
                Some(columns)
                    if !kept.contains_key(&integration) && !columns.contains_key(&integration) =>
                {
                    lacking.push(format!("{prefix}.{integration}.user_id"));
                }
                Some(columns) if lost_external && columns.get(&integration) == Some(&false) => {
                    lacking.push(format!("{prefix}.{integration}.external_id"));
                }
                None if lost_external => lacking.push(format!("{prefix}.external_id")),
                _ => {}
            }
        }
        lacking.dedup();
        lacking
    }

    /// The column or sheet a cleared field would have come from, when the batch has none.
    fn absent(&self, bot: bool, field: &str) -> Option<(ConcernKind, String)> {
        let given = &self.kinds[bot as usize];
        if self.all || given.fields.contains(field) || given.inline.contains_key(field) {
            return None;
        }
        let sheet = |name: &str| Some((ConcernKind::AbsentSheet, name.to_string()));
        if let Some(name) = field.strip_prefix("user.custom_attributes.") {
            Some((ConcernKind::AbsentColumn, format!("custom.{name}")))
        } else if field.starts_with("user.external_system_identities.") {
            None // the same entries as `user_id_info`'s lists
        } else if let Some(name) = field.strip_prefix("user.") {
            Some((ConcernKind::AbsentColumn, name.to_string()))
        } else {
            match field {
                "user_id_info.user_emails" => {
                    Some((ConcernKind::AbsentColumn, "email_aliases".to_string()))
                }
                "user_id_info.itsm_id_info" => sheet("ITSM IDs"),
                "user_id_info.channel_id_info" => sheet("Channel IDs"),
                "user_id_info.idm_id_info" => sheet("IDM IDs"),
                _ => None,
            }
        }
    }
}

/// What an update of the plan would do that the batch likely did not mean, and to how many
/// stored users (`import` refuses it unless told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concern {
    pub kind: ConcernKind,
    /// The column, the sheet or the identifier.
    pub name: String,
    /// A column the bot's sheet lacks (the users' sheet may have it).
    pub bot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConcernKind {
    /// The batch has no column of that name, and the update clears its stored values
    /// (`--clear-absent`).
    AbsentColumn,
    /// The same for an ID sheet.
    AbsentSheet,
    /// The value is the stored one as a spreadsheet saves it again (`00123` → `123`, `1.10` →
    /// `1.1`, `3/1/2026` → `2026-03-01`, `Zoë 王` → `Zoë ?`): an export opened and saved, not
    /// an edit (`--accept-reformatted`).
    Reformatted(Reformat),
}

/// How a spreadsheet re-saved a value: [`reformatted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reformat {
    /// `00123` → `123`: digits taken for a number.
    LostZeros,
    /// `1.10` → `1.1`, `1e5` → `100000`, 20 digits → `1.23456789012346E+19`: the same number.
    Number,
    /// `3/1/2026` → `03/01/26` or `2026-03-01`: the same date.
    Date,
    /// `Zoë 王` → `Zoë ?`: characters the file's encoding (Windows-1252) could not hold.
    Lossy,
    /// `José` → `JosÃ©`: the UTF-8 file read as Windows-1252 (or Latin-1), as a spreadsheet
    /// opens a CSV without a byte-order mark, and saved so (review).
    Misread,
}

impl Reformat {
    /// What happened, for the refusal: "leading zeros dropped from `employee_id`".
    pub fn said(self) -> &'static str {
        match self {
            Reformat::LostZeros => "leading zeros dropped from",
            Reformat::Number => "numbers written another way in",
            Reformat::Date => "dates or times written another way in",
            Reformat::Lossy => "characters turned into `?` in",
            Reformat::Misread => "UTF-8 read as Windows-1252 (`é` → `Ã©`) in",
        }
    }
}

/// The plan's updates that clear stored values of a column or ID sheet the batch does not
/// have (an export re-imported with a sheet renamed or a column deleted, a vendor's short
/// re-send; a blank cell clears a value on purpose), and those whose identifiers lost their
/// leading zeros (a CSV export saved again by a spreadsheet), and how many users have each
/// kind.
pub fn update_concerns(plan: &Plan, provided: &Provided) -> Concerns {
    use rayon::prelude::*;
    type Found = BTreeSet<(ConcernKind, String, bool)>;
    // Each update's fields are its two texts parsed and compared: on all cores. Beside the
    // concerns, the users with any absent-data concern and with any lost zeros.
    let (found, absent_users, reformatted_users) = plan
        .changes
        .par_iter()
        .filter(|c| c.action == Action::Update)
        .fold(
            || (Found::new(), 0, 0),
            |(mut found, mut absent, mut zeros), change| {
                let mut seen = BTreeSet::new();
                for f in change.fields() {
                    let Some(before) = f.before_text() else {
                        continue;
                    };
                    let before = before.as_ref();
                    let after = f.after_text();
                    let emptied = after.as_deref().is_none_or(|a| a == "[]" || a.is_empty());
                    let mut concerns =
                        (provided.dropped_entries(change.bot, &f.field, before, after.as_deref()))
                            .into_iter()
                            .map(|column| (ConcernKind::AbsentColumn, column))
                            .collect::<Vec<_>>();
                    concerns.extend(match after.as_deref() {
                        _ if emptied => provided.absent(change.bot, &f.field),
                        Some(a) => reformatted(before, a).map(|how| {
                            let name =
                                identifier_name(&f.field).unwrap_or_else(|| shown_field(&f.field));
                            (ConcernKind::Reformatted(how), name)
                        }),
                        None => None,
                    });
                    for (kind, name) in concerns {
                        // The bot's columns are its sheet's: named apart.
                        let concern = (kind, name, change.bot && kind == ConcernKind::AbsentColumn);
                        seen.insert(concern);
                    }
                }
                let is_reformat =
                    |c: &(ConcernKind, _, _)| matches!(c.0, ConcernKind::Reformatted(_));
                absent += usize::from(seen.iter().any(|c| !is_reformat(c)));
                zeros += usize::from(seen.iter().any(is_reformat));
                found.append(&mut seen);
                (found, absent, zeros)
            },
        )
        .reduce(
            || (Found::new(), 0, 0),
            |(mut a, a_absent, a_zeros), (mut b, b_absent, b_zeros)| {
                a.append(&mut b);
                (a, a_absent + b_absent, a_zeros + b_zeros)
            },
        );
    Concerns {
        list: (found.into_iter())
            .map(|(kind, name, bot)| Concern { kind, name, bot })
            .collect(),
        absent_users,
        reformatted_users,
    }
}

/// What [`update_concerns`] found: each concern, and how many users have any of a kind (a user
/// may have several: review, the message gave the largest count of one concern).
#[derive(Debug, Default)]
pub struct Concerns {
    pub list: Vec<Concern>,
    /// Users whose update clears what the batch has no column or sheet for.
    pub absent_users: usize,
    /// Users whose update has a value a spreadsheet reformatted.
    pub reformatted_users: usize,
}

/// Whether `after` is the stored `before` as a spreadsheet saves it again, and how: an export
/// opened and saved changes these without anyone meaning to (review: `cost_center_id` `1.10`
/// → `1.1`, a custom `02134` → `2134`, a date, `王` → `?` were applied as edits).
pub fn reformatted(before: &str, after: &str) -> Option<Reformat> {
    if before == after {
        return None;
    }
    if lost_zeros(before, after) {
        return Some(Reformat::LostZeros);
    }
    if let (Some(b), Some(a)) = (number(before), number(after)) {
        return same_number(before, b, after, a).then_some(Reformat::Number);
    }
    // A decimal comma, as German, French or Brazilian settings write a number (`85.5` →
    // `85,5`, `1234.5` → `1.234,5`; locale review: planned as an update, where the same
    // file's dates were refused).
    if let (Some(b), Some(a)) = (number(before), decimal_comma(after)) {
        if b == a {
            return Some(Reformat::Number);
        }
    }
    // A day and month swapped in the same shape (`3/1/2026` → `1/3/2026`) is an edit, as is a
    // dotted version (`1.2.10` → `2.1.10`): a spreadsheet writes a date in a shape of its own.
    // A spreadsheet writes digits for a date typed with digits: a month's name put in
    // (`3/1/2026` → `Jan 3, 2026`) is an admin saying which date was meant (review).
    let named = |s: &str| {
        s.split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| month_of(w).is_some())
    };
    if date_shape(before) != date_shape(after)
        && (named(before) || !named(after))
        && same_moment(before, after)
    {
        return Some(Reformat::Date);
    }
    if misread(before, after) {
        return Some(Reformat::Misread);
    }
    lossy(before, after).then_some(Reformat::Lossy)
}

/// Whether `after` is `before`'s UTF-8 bytes read one character a byte, as Windows-1252 or
/// Latin-1 (which differ on 0x80–0x9F: `’` is `â€™` in one, `â` and two controls in the other).
fn misread(before: &str, after: &str) -> bool {
    if before.is_ascii() || after.len() <= before.len() {
        return false;
    }
    let (read, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(before.as_bytes());
    read == after || before.bytes().map(char::from).eq(after.chars())
}

/// Whether two texts can mean the same date, time of day, or both (`Mar 1, 2026` and
/// `03/01/26`, `9:30` and `09:30:00 AM`, `2026-03-01 10:00` and `2026-03-01 10:00:00`).
fn same_moment(before: &str, after: &str) -> bool {
    let (b_day, b_time) = split_moment(before);
    let (a_day, a_time) = split_moment(after);
    // A missing time is midnight, as a date cell's.
    let seconds = |t: Option<&str>| t.map_or(Some(0), time_seconds);
    let same_time = seconds(b_time).is_some() && seconds(b_time) == seconds(a_time);
    if b_day.is_empty() || a_day.is_empty() {
        return b_day.is_empty() && a_day.is_empty() && b_time.is_some() && same_time;
    }
    let (b, a) = (dates(b_day), dates(a_day));
    same_time && b.iter().any(|d| a.contains(d))
}

/// A text's date and its time of day: the time starts at the last space or `T` before its
/// first `:` (`Mar 1, 2026 9:30 AM` is `Mar 1, 2026` and `9:30 AM`).
fn split_moment(s: &str) -> (&str, Option<&str>) {
    let s = s.trim();
    let Some(colon) = s.find(':') else {
        return (s, None);
    };
    match s[..colon].rfind([' ', 'T']) {
        Some(at) => (s[..at].trim_end_matches(','), Some(&s[at + 1..])),
        None => ("", Some(s)),
    }
}

/// `9:30`, `09:30:00`, `9:30:00.000`, `9:30 AM`, `09:30:00 PM` as seconds into the day.
fn time_seconds(s: &str) -> Option<u32> {
    let s = s.trim();
    // Split where a character starts (review: `Sales: 東京` panicked in the middle of `京`).
    let split = (s.len().checked_sub(2))
        .filter(|&at| s.is_char_boundary(at))
        .map(|at| s.split_at(at));
    let (clock, half) = match split {
        Some((clock, half)) if half.eq_ignore_ascii_case("am") => (clock.trim_end(), Some(0)),
        Some((clock, half)) if half.eq_ignore_ascii_case("pm") => (clock.trim_end(), Some(12)),
        _ => (s, None),
    };
    let mut parts = clock.split(':');
    let number = |p: Option<&str>, max: u32| {
        let p = p?;
        let p = p.split_once('.').map_or(p, |(whole, _)| whole);
        (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n < max)
    };
    let hours = number(parts.next(), 24)?;
    let minutes = number(parts.next(), 60)?;
    let secs = match parts.next() {
        Some(p) => number(Some(p), 60)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let hours = match half {
        Some(offset) if (1..=12).contains(&hours) => hours % 12 + offset,
        Some(_) => return None,
        None => hours,
    };
    Some(hours * 3600 + minutes * 60 + secs)
}

/// The month a name gives (`Mar`, `march`, `Sept`): 1–12.
fn month_of(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let name = name.to_ascii_lowercase();
    let name = name.trim_end_matches('.');
    (name.len() >= 3)
        .then(|| MONTHS.iter().position(|m| m.starts_with(name)))
        .flatten()
        .map(|i| i as u32 + 1)
}

/// Whether `after` is the number `before` as a spreadsheet writes it: in its own form (no `+`,
/// no leading zeros, no trailing zeros after the point: `123` → `00123` and `1.1` → `1.10`
/// are repairs, review), the same value, or rounded to the 15 digits it keeps, or to the
/// digits its scientific form shows (Excel's `4.41235E+11`).
fn same_number(before: &str, b: f64, after: &str, a: f64) -> bool {
    let (mantissa, exponent) = match after.find(['e', 'E']) {
        Some(at) => (&after[..at], true),
        None => (after, false),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let whole = whole.strip_prefix('-').unwrap_or(whole);
    let own_form = !whole.is_empty()
        && (whole == "0" || !whole.starts_with('0'))
        && !mantissa.starts_with('+')
        // LibreOffice's scientific form keeps its zeros (`1.00E+05`).
        && !(mantissa.contains('.')
            && (fraction.is_empty() || (fraction.ends_with('0') && !exponent)));
    if !own_form {
        return false;
    }
    let rounded = |digits: usize| format!("{b:.*e}", digits.saturating_sub(1)).parse() == Ok(a);
    let shown = significant_digits(after);
    if exponent {
        shown <= significant_digits(before) && rounded(shown.max(1))
    } else if significant_digits(before) > 15 {
        rounded(15)
    } else {
        b == a
    }
}

/// Whether `after` is `before`, digits with leading zeros, without them.
fn lost_zeros(before: &str, after: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(before)
        && before.starts_with('0')
        && digits(after)
        && before.trim_start_matches('0') == after
}

/// A plain decimal number (`-1.10`, `1e5`, `1.23456789012346E+019`, `1,234`), not `inf` or
/// `0x1F`.
fn number(s: &str) -> Option<f64> {
    let plain = s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if plain {
        return s.parse().ok();
    }
    // Thousands grouped by commas, as a spreadsheet shows them (`1,234,567.5`).
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let mut groups = whole.strip_prefix('-').unwrap_or(whole).split(',');
    let first = groups.next()?;
    let grouped = (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && whole.contains(',')
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
        && fraction.bytes().all(|b| b.is_ascii_digit());
    grouped.then(|| s.replace(',', "").parse().ok()).flatten()
}

/// A number written with a decimal comma, its thousands grouped by points or not (`85,5`,
/// `1.234,5`, `-0,25`).
fn decimal_comma(s: &str) -> Option<f64> {
    let (whole, fraction) = s.split_once(',')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let unsigned = whole.strip_prefix('-').unwrap_or(whole);
    let mut groups = unsigned.split('.');
    let first = groups.next()?;
    let whole_ok = digits(first)
        && (!unsigned.contains('.')
            || ((1..=3).contains(&first.len()) && groups.all(|g| g.len() == 3 && digits(g))));
    (whole_ok && digits(fraction))
        .then(|| {
            format!("{}.{fraction}", whole.replace('.', ""))
                .parse()
                .ok()
        })
        .flatten()
}

/// The significant digits of a number's text: `0012.50` has three.
fn significant_digits(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or("");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').trim_end_matches('0').len()
}

/// The days a date text can mean: `2026-03-01` (and a time of midnight after it), `2026/03/01`,
/// and `3/1/2026`, `03.01.26` read month first and day first (a spreadsheet's locale decides).
fn dates(s: &str) -> Vec<(u32, u32, u32)> {
    // A month by name (`Mar 1, 2026`, `1-Mar-26`, `1 March 2026`): day and year around it.
    let words: Vec<&str> = (s.split([' ', ',', '-', '/', '.']))
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(at) = words.iter().position(|w| month_of(w).is_some()) {
        let month = words.get(at).and_then(|w| month_of(w));
        let others: Vec<&str> = (words.iter().enumerate())
            .filter(|(i, _)| *i != at)
            .map(|(_, w)| *w)
            .collect();
        // A month and a year alone (`March 2026`) is that month's first day in a date cell.
        let (Some(month), [day, year]) = (month, others.as_slice()) else {
            return match (month, others.as_slice()) {
                (Some(month), [year]) if year.len() == 4 => year
                    .parse()
                    .ok()
                    .map(|y| (y, month, 1))
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            };
        };
        let (day, year) = if day.len() == 4 {
            (year, day)
        } else {
            (day, year)
        };
        let (Ok(d), Ok(y)) = (day.parse::<u32>(), year.parse::<u32>()) else {
            return Vec::new();
        };
        let y = match year.len() {
            4 => y,
            2 if y < 30 => 2000 + y,
            2 => 1900 + y,
            _ => return Vec::new(),
        };
        return ((1..=31).contains(&d))
            .then_some((y, month, d))
            .into_iter()
            .collect();
    }
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    let numbers: Option<Vec<u32>> = parts
        .iter()
        .map(|p| {
            (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect();
    let Some([x, y, z]) = numbers.as_deref() else {
        return Vec::new();
    };
    let day = |y: u32, m: u32, d: u32| {
        ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
    };
    if parts[0].len() == 4 {
        return day(*x, *y, *z).into_iter().collect();
    }
    let years = match parts[2].len() {
        4 => vec![*z],
        // Two digits as spreadsheets read them: 00–29 this century, 30–99 the last.
        2 if *z < 30 => vec![2000 + z],
        2 => vec![1900 + z],
        _ => return Vec::new(),
    };
    years
        .into_iter()
        .flat_map(|year| [day(year, *x, *y), day(year, *y, *x)])
        .flatten()
        .collect()
}

/// A date text's shape: its separator and the length of each part (`3/1/2026` is `/`, 1, 1, 4).
fn date_shape(s: &str) -> (Option<char>, Vec<usize>) {
    let separator = s.chars().find(|c| matches!(c, '-' | '/' | '.'));
    (separator, s.split(['-', '/', '.']).map(str::len).collect())
}

/// `after` is `before` with characters outside ASCII turned into `?`, as a save to Windows-1252
/// (Excel's "CSV (Comma delimited)") does to what that code page has no byte for.
fn lossy(before: &str, after: &str) -> bool {
    let mut changed = false;
    let mut b = before.chars();
    for a in after.chars() {
        match b.next() {
            Some(c) if c == a => {}
            Some(c) if a == '?' && !c.is_ascii() => changed = true,
            _ => return false,
        }
    }
    changed && b.next().is_none()
}

/// A changed field as a batch's column or sheet names it, for a message: `department`,
/// `custom.office`, `email_aliases`, `servicenow.user_id`, `ITSM IDs`.
pub fn shown_field(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("user.external_system_identities.") {
        return rest.to_string();
    }
    if let Some(name) = field.strip_prefix("user.custom_attributes.") {
        return format!("custom.{name}");
    }
    if let Some(name) = field.strip_prefix("user.") {
        return name.to_string();
    }
    match field {
        "user_id_info.user_emails" => "email_aliases",
        "user_id_info.itsm_id_info" => "ITSM IDs",
        "user_id_info.channel_id_info" => "Channel IDs",
        "user_id_info.idm_id_info" => "IDM IDs",
        other => other,
    }
    .to_string()
}

/// An identifier field's name for a message (`employee_id`, `servicenow user_id`).
fn identifier_name(field: &str) -> Option<String> {
    match field {
        "user.employee_id" | "user.cost_center_id" => Some(field["user.".len()..].to_string()),
        _ => {
            let rest = field.strip_prefix("user.external_system_identities.")?;
            let (integration, part) = rest.rsplit_once('.')?;
            Some(format!("{integration} {part}"))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("--source {0}: {1}")]
    Unreadable(String, String),
    #[error("--source {0}: needs `email_addr` and `record_id` columns")]
    Columns(String),
}

/// `--source FILE`: the users the primary identity source provides (S002, S003, R001).
pub fn known_from_source(
    known: &mut Known,
    path: &Path,
    renames: &Renames,
) -> Result<(), SourceError> {
    let shown = path.display().to_string();
    let batch = read_batch(&[path.to_path_buf()], &ReadOptions::default())
        .map_err(|e| SourceError::Unreadable(shown.clone(), e.to_string()))?;
    if let Some(p) = batch.problems.iter().find(|p| p.code == "F001") {
        return Err(SourceError::Unreadable(shown, p.message.clone()));
    }
    let mut found = false;
    for sheet in batch.sheets.iter().filter(|s| s.kind.is_user_sheet()) {
        let mapping = map_sheet(sheet, renames);
        let (Some(e), Some(r)) = (
            mapping.column_of(&Field::Attr(Attr::EmailAddr)),
            mapping.column_of(&Field::Attr(Attr::RecordId)),
        ) else {
            continue;
        };
        found = true;
        for row in &sheet.rows[mapping.header_at + 1..] {
            let cell = |i: usize| row.cell(i).map(|c| c.text.trim()).unwrap_or("");
            let (address, rid) = (cell(e.index), cell(r.index));
            if !rid.is_empty() {
                known.source_ids.insert(rid.to_string());
                if !address.is_empty() {
                    known
                        .source_emails
                        .insert(email::key(address), rid.to_string());
                }
            }
        }
    }
    if !found {
        return Err(SourceError::Columns(shown));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Keep, Record, RecordSink};

    /// Changed fields are named as a batch's columns and sheets name them.
    #[test]
    fn shown_fields_are_column_names() {
        let shown: Vec<String> = [
            "user.department",
            "user.custom_attributes.office",
            "user.external_system_identities.servicenow.user_id",
            "user_id_info.user_emails",
            "user_id_info.itsm_id_info",
        ]
        .iter()
        .map(|f| shown_field(f))
        .collect();
        assert_eq!(
            shown,
            [
                "department",
                "custom.office",
                "servicenow.user_id",
                "email_aliases",
                "ITSM IDs"
            ]
        );
    }

    proptest::proptest! {
        /// Any two texts, and texts made of what dates, times and numbers are made of, with
        /// characters of several bytes among them: an answer, never a panic (review).
        #[test]
        fn reformatted_answers_any_two_texts(
            before in "[0-9:.,/ APMapmTE+-é東✅”]{0,14}|\\PC{0,10}",
            after in "[0-9:.,/ APMapmTE+-é東✅”]{0,14}|\\PC{0,10}",
        ) {
            let _ = reformatted(&before, &after);
        }
    }

    #[test]
    fn a_value_a_spreadsheet_saved_again_is_told_from_an_edit() {
        use Reformat::*;
        for (before, after, how) in [
            ("02134", "2134", Some(LostZeros)),
            ("1.10", "1.1", Some(Number)),
            ("1e5", "100000", Some(Number)),
            (
                "12345678901234567890",
                "1.23456789012346E+019",
                Some(Number),
            ),
            ("12345678901234567890", "12345678901234599936", Some(Number)),
            ("3/1/2026", "03/01/26", Some(Date)),
            ("3/1/2026", "2026-03-01", Some(Date)),
            ("2026-03-01", "01.03.2026", Some(Date)),
            ("2026-03-01", "2026-03-01T00:00:00", Some(Date)),
            ("Mar 1, 2026", "03/01/26", Some(Date)),
            ("1-Mar-26", "2026-03-01", Some(Date)),
            ("9:30", "09:30:00 AM", Some(Date)),
            ("21:05", "9:05:00 PM", Some(Date)),
            ("2026-03-01 10:00", "2026-03-01 10:00:00", Some(Date)),
            ("Mar 1, 2026 9:30 AM", "03/01/26 09:30", Some(Date)),
            ("March 2026", "03/01/2026", Some(Date)),
            ("1e5", "1.00E+05", Some(Number)),
            ("1,234", "1234", Some(Number)),
            ("1,234,567.5", "1234567.5", Some(Number)),
            ("85.5", "85,5", Some(Number)),
            ("1234.5", "1.234,5", Some(Number)),
            ("-0.25", "-0,25", Some(Number)),
            ("85.5", "85,6", None),
            ("85", "85,0", Some(Number)),
            ("Zoë 王", "Zoë ?", Some(Lossy)),
            ("Zoë", "Zo?", Some(Lossy)),
            ("José Müller", "JosÃ© MÃ¼ller", Some(Misread)),
            ("São Paulo", "SÃ£o Paulo", Some(Misread)),
            ("O’Neil", "Oâ€™Neil", Some(Misread)),
            ("O’Neil", "Oâ\u{80}\u{99}Neil", Some(Misread)),
            ("王", "çŽ‹", Some(Misread)),
            // An edit, and the repair of a misread value.
            ("José", "JosÃ©e", None),
            ("JosÃ©", "José", None),
            ("441234567890", "4.41235E+11", Some(Number)),
            ("2.0", "2", Some(Number)),
            ("3/1/26", "2026-03-01", Some(Date)),
            ("3/1/2026", "01/03/2026", Some(Date)),
            // Edits, and repairs of what a spreadsheet did (review).
            ("123", "00123", None),
            ("1.1", "1.10", None),
            ("15550100", "+15550100", None),
            ("0", "00", None),
            ("1.1", "1", None),
            ("3/1/2026", "1/3/2026", None),
            ("1.2.10", "2.1.10", None),
            ("12.05.10", "05.12.10", None),
            ("3/1/26", "3/1/1926", None),
            ("9:30", "9:31", None),
            ("3/1/2026", "Jan 3, 2026", None),
            ("1,23", "123", None),
            ("March 2026", "03/02/2026", None),
            ("9:30", "21:30", None),
            ("Mar 1, 2026", "Mar 2, 2026", None),
            ("2026-03-01 10:00", "2026-03-01 11:00:00", None),
            ("May", "May 2026", None),
            ("Building 12:30", "Building 12:30:00", None),
            // Not a time, and no panic in the middle of a character (review).
            ("Sales", "Sales: 東京", None),
            ("Known as: “Bob”", "Bob", None),
            ("Status: ok ✅", "Status: ok", None),
            ("9:30王", "9:30", None),
            ("a:é1", "a:e1", None),
            ("1.10", "1.2", None),
            ("12345678901234567890", "12345678901234567000", None),
            ("12345678901234567890", "12345678901234567891", None),
            ("12345678901234567890", "12345678901234600000", Some(Number)),
            ("3/1/2026", "3/2/2026", None),
            ("2026-03-01", "2026-03-02", None),
            ("Zoë 王", "Zoë ?x", None),
            ("Zoe", "Zo?", None),
            ("inf", "infinity", None),
            ("1-2-3", "1-2-3", None),
            ("Building 1", "Building 2", None),
        ] {
            assert_eq!(reformatted(before, after), how, "{before} → {after}");
        }
    }

    #[test]
    fn an_identifier_that_lost_its_leading_zeros_is_told_from_an_edit() {
        assert!(lost_zeros("00123", "123"));
        assert!(lost_zeros("0042", "42"));
        assert!(!lost_zeros("00123", "124"));
        assert!(!lost_zeros("123", "23"));
        assert!(!lost_zeros("00123", "00123"));
        assert!(!lost_zeros("0A1", "A1"));
        assert!(!lost_zeros("000", ""));
        assert_eq!(
            identifier_name("user.employee_id").as_deref(),
            Some("employee_id")
        );
        assert_eq!(
            identifier_name("user.external_system_identities.servicenow.user_id").as_deref(),
            Some("servicenow user_id")
        );
        assert_eq!(identifier_name("user.department"), None);
    }
    use serde_json::json;

    /// The borrowed view finds the keys the whole tree finds, escapes included, and a record
    /// of another shape still gives what its tree offers.
    #[test]
    fn stored_keys_from_the_view_are_the_tree_s() {
        let record = json!({
            "user": {"email_addr": "Jane.Doe@Acme.com", "first_name": "Jane"},
            "user_id_info": {
                "itsm_id_info": [{"integration": "snow", "user_id": "a\"b\u{e9}"}],
                "channel_id_info": [{"integration": "slack", "user_id": "U123"}, {"integration": "teams"}],
                "idm_id_info": [],
                "user_emails": ["jd@acme.com"]
            }
        });
        // As its text, and (second of a pair) as the keys kept beside it: the same keys.
        let (empty, user) = (("R0", false, json!({})), ("R1", false, record));
        for users in [vec![user.clone()], vec![empty, user]] {
            let mut known = Known::default();
            read_store(&mut known, &TestStore::new(&users)).unwrap();
            let identities: BTreeSet<_> = known
                .store_identities
                .iter()
                .map(|(i, id, _)| (i.to_string(), id.to_string()))
                .collect();
            assert_eq!(
                identities,
                BTreeSet::from([
                    ("slack".to_string(), "U123".to_string()),
                    ("snow".to_string(), "a\"b\u{e9}".to_string())
                ])
            );
            let emails: BTreeSet<_> = known
                .store_addresses
                .iter()
                .map(|(key, _)| key.to_string())
                .collect();
            assert_eq!(
                emails,
                BTreeSet::from(["jane.doe@acme.com".to_string(), "jd@acme.com".to_string()])
            );
        }
        // `user_emails` holding a number: not muster's shape, read from the tree.
        let odd = json!({"user": {"email_addr": "a@acme.com"}, "user_id_info": {"user_emails": [5, "b@acme.com"]}});
        let mut known = Known::default();
        read_store(&mut known, &TestStore::new(&[("R2", false, odd)])).unwrap();
        assert_eq!(known.store_addresses.iter().count(), 2);
    }

    /// Stored users in memory, handed out two to a chunk, the first of each pair as its text
    /// and the second as the keys and digest kept beside it; counts the texts fetched by rowid.
    struct TestStore {
        users: Vec<(String, bool, String)>,
        fetched: std::cell::Cell<usize>,
    }

    impl TestStore {
        fn new(users: &[(&str, bool, Value)]) -> TestStore {
            TestStore {
                users: users
                    .iter()
                    .map(|(rid, bot, record)| (rid.to_string(), *bot, record.to_string()))
                    .collect(),
                fetched: Default::default(),
            }
        }
    }

    impl UserSource for TestStore {
        fn scan_users<T: Send>(
            &self,
            parse: impl Fn(&UserChunk) -> T + Sync,
            mut take: impl FnMut(Vec<StoredSummary>, T) + Send,
        ) -> Result<(), StoreError> {
            for (at, pair) in self.users.chunks(2).enumerate() {
                let mut chunk = UserChunk::default();
                for (i, (rid, bot, text)) in pair.iter().enumerate() {
                    let rowid = (at * 2 + i + 1) as i64;
                    let user = StoredSummary {
                        rowid,
                        record_id: rid.clone(),
                        bot: *bot,
                        row_version: format!("v{rowid}"),
                        written_by: rowid as u32,
                        digest: [0; 32],
                    };
                    if i == 0 {
                        chunk.push(user, text);
                    } else {
                        let digest = text_digest(text);
                        let user = StoredSummary { digest, ..user };
                        assert!(chunk.push_keys(user, &keys::encode(text)).is_ok());
                    }
                }
                let parsed = parse(&chunk);
                take(chunk.users, parsed);
            }
            Ok(())
        }

        fn record_text(&self, rowid: i64) -> Result<String, StoreError> {
            self.fetched.set(self.fetched.get() + 1);
            Ok(self.users[rowid as usize - 1].2.clone())
        }

        fn user_count(&self) -> Result<usize, StoreError> {
            Ok(self.users.len())
        }
    }

    fn record(rid: &str, bot: bool, json: Value) -> Record {
        Record {
            record_id: rid.to_string(),
            bot_account: bot,
            json: json.to_string(),
            row_version: None,
        }
    }

    #[test]
    fn creates_updates_keeps_prunes_and_replaces_the_bot() {
        let source = TestStore::new(&[
            ("BOT1", true, json!({"record_id": "BOT1"})),
            ("A", false, json!({"record_id": "A", "user": {"role": "x"}})),
            ("B", false, json!({"record_id": "B", "user": {"role": "y"}})),
            ("C", false, json!({"record_id": "C"})),
            ("E", false, json!({"record_id": "E", "user": {"role": "w"}})),
        ]);
        let mut known = Known::default();
        let users = read_store(&mut known, &source).unwrap();
        let store = StoredUsers {
            users,
            records: std::mem::take(&mut known.store_records),
        };
        // Rowid order with the bot last, each with its own rowid and version.
        let order: Vec<_> = store
            .iter()
            .map(|(rid, u)| (rid, u.rowid, store.get(rid).unwrap().1.row_version))
            .collect();
        assert_eq!(
            order,
            [
                ("A", 2, "v2"),
                ("B", 3, "v3"),
                ("C", 4, "v4"),
                ("E", 5, "v5"),
                ("BOT1", 1, "v1")
            ]
        );
        let ids: Vec<&str> = (0..store.records.len() as u32)
            .map(|at| store.records.record_id(at))
            .collect();
        assert_eq!(ids, ["A", "B", "C", "E", "BOT1"]);
        let batch = [
            // Same record, keys in another order: unchanged.
            record("A", false, json!({"user": {"role": "x"}, "record_id": "A"})),
            record("B", false, json!({"record_id": "B", "user": {"role": "z"}})),
            record("D", false, json!({"record_id": "D"})),
            record("BOT2", true, json!({"record_id": "BOT2"})),
            // The very text stored: unchanged, and its text is never fetched.
            record("E", false, json!({"record_id": "E", "user": {"role": "w"}})),
        ];
        let ids: HashSet<String> = ["A", "B", "D", "BOT2", "E"]
            .map(String::from)
            .into_iter()
            .collect();
        let p = plan(
            &store,
            &Records::InMemory(batch.to_vec()),
            &BTreeMap::new(),
            &ids,
            true,
            &source,
        )
        .unwrap();
        assert_eq!(
            p.counts,
            Counts {
                create: 2,
                update: 1,
                unchanged: 2,
                remove: 1
            }
        );
        // A (keys in another order), B (changed), BOT1 (replaced) and C (pruned); never E.
        assert_eq!(source.fetched.get(), 4);
        let removed = p.changes.iter().find(|c| c.record_id == "C").unwrap();
        assert_eq!(removed.before.as_ref().unwrap().0, r#"{"record_id":"C"}"#);
        assert_eq!(p.bot_replaced, Some(("BOT1".into(), "BOT2".into())));
        let update = p.changes.iter().find(|c| c.record_id == "B").unwrap();
        assert_eq!(
            update.fields(),
            [FieldChange {
                field: "user.role".into(),
                before: Some("y".into()),
                after: Some("z".into()),
            }]
        );
        // Without --prune nothing but the replaced bot goes.
        let p = plan(
            &store,
            &Records::InMemory(batch.to_vec()),
            &BTreeMap::new(),
            &ids,
            false,
            &source,
        )
        .unwrap();
        assert_eq!(p.counts.remove, 0);
        assert_eq!(
            p.changes
                .iter()
                .filter(|c| c.action == Action::Remove)
                .count(),
            1
        );
    }

    /// One user of a generated batch: record id (from a small pool, so ids repeat), bot,
    /// whether the cross-row rules left it valid, and which of two texts it has.
    type Generated = (u8, bool, bool, bool);

    /// A plan's counts and each change with the texts it holds and writes.
    type PlanSeen = (
        Counts,
        Vec<(String, Action, Option<String>, Option<String>)>,
    );

    /// The plan of a batch whose records are spilled (as an import keeps them, texts equal to
    /// the stored ones left out) and of the same batch in memory, each change with the text
    /// it would write.
    fn both_plans(users: &[Generated], stored: &[(u8, bool, bool)], prune: bool) -> [PlanSeen; 2] {
        let text = |rid: u8, bot: bool, second: bool| json!({"record_id": format!("R{rid}"), "bot_account": bot, "n": second});
        let source = TestStore::new(
            &stored
                .iter()
                .map(|&(rid, bot, second)| (format!("R{rid}"), bot, text(rid, bot, second)))
                .collect::<Vec<_>>()
                .iter()
                .map(|(rid, bot, v)| (rid.as_str(), *bot, v.clone()))
                .collect::<Vec<_>>(),
        );
        let mut known = Known::default();
        let summaries = StoredUsers {
            users: read_store(&mut known, &source).unwrap(),
            records: std::mem::take(&mut known.store_records),
        };
        let in_batch: HashSet<String> = users.iter().map(|u| format!("R{}", u.0)).collect();
        let dir = tempfile::tempdir().unwrap();
        [
            Keep::InMemory,
            Keep::SpillForImport {
                dir: dir.path().to_path_buf(),
                row_versions: true,
                record_ids: prune,
            },
        ]
        .map(|keep| {
            let mut sink = RecordSink::new(&keep).unwrap();
            let compared = sink.compares_with_store();
            for (i, &(rid, bot, _, second)) in users.iter().enumerate() {
                let r = record(&format!("R{rid}"), bot, text(rid, bot, second));
                // As the workers decide it.
                let same = compared
                    && summaries
                        .records
                        .get(&r.record_id)
                        .is_some_and(|v| *v.digest == text_digest(&r.json));
                sink.push(i, r, same).unwrap();
            }
            let records = sink.finish(|i| users[i].2).unwrap();
            let p = plan(
                &summaries,
                &records,
                &BTreeMap::new(),
                &in_batch,
                prune,
                &source,
            )
            .unwrap();
            let mut texts = records.texts().unwrap();
            let changes = p
                .changes
                .iter()
                .map(|c| {
                    let after = match &c.after {
                        None => None,
                        Some(After::Text(t)) => Some(t.0.clone()),
                        Some(After::Batch(n)) => Some(texts.text(*n).unwrap()),
                    };
                    let before = c.before.as_ref().map(|b| b.0.clone());
                    (c.record_id.clone(), c.action, before, after)
                })
                .collect();
            (p.counts, changes)
        })
    }

    proptest::proptest! {
        /// Spilled or held in memory, the records give the same plan and the same texts to
        /// write, whatever mix of new, changed, unchanged, invalid, repeated and bot records.
        #[test]
        fn a_spilled_batch_plans_as_one_in_memory(
            users in proptest::collection::vec(
                (0u8..12, proptest::bool::weighted(0.1), proptest::bool::weighted(0.8), proptest::bool::ANY),
                0..40,
            ),
            stored in proptest::collection::btree_map(0u8..12, (proptest::bool::weighted(0.1), proptest::bool::ANY), 0..10),
            prune in proptest::bool::ANY,
        ) {
            let stored: Vec<(u8, bool, bool)> =
                stored.into_iter().map(|(rid, (bot, second))| (rid, bot, second)).collect();
            let [memory, spilled] = both_plans(&users, &stored, prune);
            proptest::prop_assert_eq!(memory, spilled);
        }
    }

    #[test]
    fn max_remove_defaults_to_a_tenth_or_500() {
        assert_eq!(default_max_remove(0), 0);
        assert_eq!(default_max_remove(7), 1);
        assert_eq!(default_max_remove(1000), 100);
        assert_eq!(default_max_remove(1_000_000), 500);
    }
}
