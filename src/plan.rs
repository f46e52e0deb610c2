//! What an import would do: the valid records of a batch against what the store holds, as
//! create / update (with the fields that change) / unchanged / remove, and the bot replaced.

use crate::check::email;
use crate::input::headers::{map_sheet, Attr, Field, Renames};
use crate::input::{read_batch, ReadOptions};
use crate::record::{with_entries, IdEntry, Record};
use crate::store::{canonical, flatten, Action, Change, Counts, RecordJson, StoredUser};
use crate::validate::Known;
use foldhash::{HashMap, HashSet};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub counts: Counts,
    /// (old bot, new bot) when the batch's bot account replaces a stored one.
    pub bot_replaced: Option<(String, String)>,
}

/// One field of an update: its path in the record and its values before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Plans the import of `records` (the batch's valid records). `in_batch` holds every record id
/// of the batch, valid or not: `prune` removes only stored users absent from it, never the bot.
/// `records` are taken, not copied: a change carries its record's text on to the store (at a
/// million new users, a copy was 2.4 GB more).
pub fn plan(
    stored: &[StoredUser],
    records: Vec<Record>,
    stored_entries: &BTreeMap<String, Vec<IdEntry>>,
    in_batch: &HashSet<String>,
    prune: bool,
) -> Plan {
    let by_id: HashMap<&str, &StoredUser> =
        stored.iter().map(|u| (u.record_id.as_str(), u)).collect();
    let mut plan = Plan::default();
    let mut new_bot: Option<String> = None;
    for r in records {
        if r.bot_account && new_bot.is_none() {
            new_bot = Some(r.record_id.clone());
        }
        let stored = by_id.get(r.record_id.as_str());
        // muster writes a record's keys in one fixed order, so equal text is an equal record;
        // the canonical comparison is only needed when the texts differ.
        if stored.is_some_and(|s| s.text == r.json) {
            plan.counts.unchanged += 1;
            continue;
        }
        match stored {
            None => {
                plan.counts.create += 1;
                plan.changes.push(Change {
                    record_id: r.record_id,
                    action: Action::Create,
                    bot: r.bot_account,
                    before: None,
                    after: Some(RecordJson(r.json)),
                });
            }
            Some(s) if canonical(s.record()) == canonical(&r.value()) => plan.counts.unchanged += 1,
            Some(s) => {
                plan.counts.update += 1;
                plan.changes.push(Change {
                    record_id: r.record_id,
                    action: Action::Update,
                    bot: r.bot_account,
                    before: Some(RecordJson(s.text.clone())),
                    after: Some(RecordJson(r.json)),
                });
            }
        }
    }
    // ID rows for stored users the batch does not hold add to their records.
    for (rid, entries) in stored_entries {
        let Some(s) = by_id.get(rid.as_str()) else {
            continue;
        };
        let merged = with_entries(s.record(), entries);
        if canonical(&merged) == canonical(s.record()) {
            plan.counts.unchanged += 1;
        } else {
            plan.counts.update += 1;
            plan.changes.push(Change {
                record_id: rid.clone(),
                action: Action::Update,
                bot: s.bot,
                before: Some(RecordJson(s.text.clone())),
                after: Some(RecordJson::from_value(&merged)),
            });
        }
    }
    // There is one bot account: a batch bringing another replaces the stored one.
    if let Some(new_bot) = new_bot {
        for old in stored.iter().filter(|u| u.bot && u.record_id != new_bot) {
            plan.bot_replaced = Some((old.record_id.clone(), new_bot.clone()));
            plan.changes.push(Change {
                record_id: old.record_id.clone(),
                action: Action::Remove,
                bot: true,
                before: Some(RecordJson(old.text.clone())),
                after: None,
            });
        }
    }
    if prune {
        for u in stored
            .iter()
            .filter(|u| !u.bot && !in_batch.contains(&u.record_id))
        {
            plan.counts.remove += 1;
            plan.changes.push(Change {
                record_id: u.record_id.clone(),
                action: Action::Remove,
                bot: false,
                before: Some(RecordJson(u.text.clone())),
                after: None,
            });
        }
    }
    plan
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

/// A stored record's identities ((integration, user id)) and address keys.
type StoredKeys = (Vec<(String, String)>, Vec<String>);

/// The store's addresses and versions, for S001, S004 and R001. Each record is parsed here
/// (on all cores) and dropped again.
pub fn known_from_store(known: &mut Known, stored: &[StoredUser]) {
    use rayon::prelude::*;
    known.has_store = true;
    let keys: Vec<StoredKeys> = stored
        .par_iter()
        .map(|u| {
            if let Ok(view) = serde_json::from_str::<StoredView>(&u.text) {
                return view.keys();
            }
            // Not the shape muster writes: take what the parsed tree offers.
            let record: Value = serde_json::from_str(&u.text).unwrap_or(Value::Null);
            let info = &record["user_id_info"];
            let mut identities = Vec::new();
            for list in ["itsm_id_info", "channel_id_info", "idm_id_info"] {
                for e in info[list].as_array().into_iter().flatten() {
                    if let (Some(i), Some(id)) = (e["integration"].as_str(), e["user_id"].as_str())
                    {
                        identities.push((i.to_string(), id.to_string()));
                    }
                }
            }
            let aliases = info["user_emails"].as_array().into_iter().flatten();
            let emails = std::iter::once(&record["user"]["email_addr"])
                .chain(aliases)
                .filter_map(|e| e.as_str().map(email::key))
                .collect();
            (identities, emails)
        })
        .collect();
    for (at, (u, (identities, emails))) in stored.iter().zip(keys).enumerate() {
        known
            .store_versions
            .insert(u.record_id.clone(), u.row_version.clone());
        known.store_record_ids.push(u.record_id.clone());
        for (integration, user_id) in identities {
            known
                .store_identities
                .entry(integration)
                .or_default()
                .insert(user_id, at as u32);
        }
        for e in emails {
            known.store_emails.insert(e, u.record_id.clone());
        }
    }
}

/// The parts of a stored record that the rules compare with, borrowed from its text where no
/// escape needs undoing: parsing only these (serde skips the rest) costs a fraction of a
/// whole `Value` tree per stored user.
#[derive(serde::Deserialize)]
struct StoredView<'a> {
    #[serde(borrow, default)]
    user: UserView<'a>,
    #[serde(borrow, default)]
    user_id_info: InfoView<'a>,
}

#[derive(serde::Deserialize, Default)]
struct UserView<'a> {
    #[serde(borrow, default)]
    email_addr: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize, Default)]
struct InfoView<'a> {
    #[serde(borrow, default)]
    itsm_id_info: Vec<EntryView<'a>>,
    #[serde(borrow, default)]
    channel_id_info: Vec<EntryView<'a>>,
    #[serde(borrow, default)]
    idm_id_info: Vec<EntryView<'a>>,
    #[serde(borrow, default)]
    user_emails: Vec<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct EntryView<'a> {
    #[serde(borrow, default)]
    integration: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<std::borrow::Cow<'a, str>>,
}

impl StoredView<'_> {
    fn keys(&self) -> StoredKeys {
        let info = &self.user_id_info;
        let identities = [&info.itsm_id_info, &info.channel_id_info, &info.idm_id_info]
            .into_iter()
            .flatten()
            .filter_map(|e| match (&e.integration, &e.user_id) {
                (Some(i), Some(id)) => Some((i.to_string(), id.to_string())),
                _ => None,
            })
            .collect();
        let emails = self
            .user
            .email_addr
            .iter()
            .chain(&info.user_emails)
            .map(|e| email::key(e))
            .collect();
        (identities, emails)
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
        let mut known = Known::default();
        known_from_store(&mut known, &[stored("R1", false, record)]);
        let identities: BTreeSet<_> = known
            .store_identities
            .iter()
            .flat_map(|(i, ids)| ids.keys().map(|id| (i.clone(), id.clone())))
            .collect();
        assert_eq!(
            identities,
            BTreeSet::from([
                ("slack".to_string(), "U123".to_string()),
                ("snow".to_string(), "a\"b\u{e9}".to_string())
            ])
        );
        let emails: BTreeSet<_> = known.store_emails.keys().cloned().collect();
        assert_eq!(
            emails,
            BTreeSet::from(["jane.doe@acme.com".to_string(), "jd@acme.com".to_string()])
        );
        // `user_emails` holding a number: not muster's shape, read from the tree.
        let odd = json!({"user": {"email_addr": "a@acme.com"}, "user_id_info": {"user_emails": [5, "b@acme.com"]}});
        let mut known = Known::default();
        known_from_store(&mut known, &[stored("R2", false, odd)]);
        assert_eq!(known.store_emails.len(), 2);
    }

    fn stored(rid: &str, bot: bool, record: Value) -> StoredUser {
        StoredUser::new(
            rid.to_string(),
            bot,
            record.to_string(),
            crate::store::row_version(&record),
            None,
        )
    }

    fn record(rid: &str, bot: bool, json: Value) -> Record {
        Record {
            record_id: rid.to_string(),
            bot_account: bot,
            json: json.to_string(),
        }
    }

    #[test]
    fn creates_updates_keeps_prunes_and_replaces_the_bot() {
        let store = [
            stored("A", false, json!({"record_id": "A", "user": {"role": "x"}})),
            stored("B", false, json!({"record_id": "B", "user": {"role": "y"}})),
            stored("C", false, json!({"record_id": "C"})),
            stored("BOT1", true, json!({"record_id": "BOT1"})),
        ];
        let batch = [
            // Same record, keys in another order: unchanged.
            record("A", false, json!({"user": {"role": "x"}, "record_id": "A"})),
            record("B", false, json!({"record_id": "B", "user": {"role": "z"}})),
            record("D", false, json!({"record_id": "D"})),
            record("BOT2", true, json!({"record_id": "BOT2"})),
        ];
        let ids: HashSet<String> = ["A", "B", "D", "BOT2"]
            .map(String::from)
            .into_iter()
            .collect();
        let p = plan(&store, batch.to_vec(), &BTreeMap::new(), &ids, true);
        assert_eq!(
            p.counts,
            Counts {
                create: 2,
                update: 1,
                unchanged: 1,
                remove: 1
            }
        );
        assert_eq!(p.bot_replaced, Some(("BOT1".into(), "BOT2".into())));
        let update = p.changes.iter().find(|c| c.record_id == "B").unwrap();
        let fields = field_changes(
            &update.before.as_ref().unwrap().value(),
            &update.after.as_ref().unwrap().value(),
        );
        assert_eq!(
            fields,
            [FieldChange {
                field: "user.role".into(),
                before: Some("y".into()),
                after: Some("z".into())
            }]
        );
        // Without --prune nothing but the replaced bot goes.
        let p = plan(&store, batch.to_vec(), &BTreeMap::new(), &ids, false);
        assert_eq!(p.counts.remove, 0);
        assert_eq!(
            p.changes
                .iter()
                .filter(|c| c.action == Action::Remove)
                .count(),
            1
        );
    }

    #[test]
    fn max_remove_defaults_to_a_tenth_or_500() {
        assert_eq!(default_max_remove(0), 0);
        assert_eq!(default_max_remove(7), 1);
        assert_eq!(default_max_remove(1000), 100);
        assert_eq!(default_max_remove(1_000_000), 500);
    }
}
