//! Normalized manual-user records, in the shape of the User Attribute Reference example plus
//! `record_id`, the `user_id_info` lists and, for the bot, `bot_account`. Keys are written in a
//! fixed order so the same input always gives the same bytes.

use crate::input::headers::{Attr, IdList};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdEntry {
    pub list: IdList,
    pub integration: String,
    pub user_id: String,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub record_id: String,
    pub bot_account: bool,
    /// The whole record as written to `--out`.
    pub json: Value,
}

/// The order of the reference example.
const USER_KEYS: [Attr; 17] = [
    Attr::FirstName,
    Attr::LastName,
    Attr::EmailAddr,
    Attr::Role,
    Attr::Department,
    Attr::ManagerEmail,
    Attr::FullName,
    Attr::EmployeeId,
    Attr::CostCenterId,
    Attr::CostCenterName,
    Attr::WorkStatus,
    Attr::CountryCode,
    Attr::Timezone,
    Attr::Region,
    Attr::City,
    Attr::State,
    Attr::UserTags,
];

impl Record {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        record_id: String,
        bot_account: bool,
        email: String,
        attrs: &BTreeMap<Attr, String>,
        tags: &[String],
        custom: &BTreeMap<String, String>,
        aliases: Vec<String>,
        mut entries: Vec<IdEntry>,
    ) -> Record {
        // Canonical order, whatever the layout the entries came from: a workbook's ID sheets, inline
        // columns or JSONL all give the same bytes.
        entries.sort_by(|a, b| (a.list, &a.integration).cmp(&(b.list, &b.integration)));
        let mut user = Map::new();
        if !custom.is_empty() {
            user.insert("custom_attributes".into(), json!(custom));
        }
        for attr in USER_KEYS {
            match attr {
                Attr::EmailAddr => {
                    user.insert("email_addr".into(), json!(email));
                }
                Attr::UserTags if !tags.is_empty() => {
                    user.insert("user_tags".into(), json!(tags));
                }
                _ => {
                    if let Some(v) = attrs.get(&attr) {
                        user.insert(attr.name().into(), json!(v));
                    }
                }
            }
        }
        let (identities, info) = id_parts(entries, aliases);
        user.insert("external_system_identities".into(), identities);
        let mut top = Map::new();
        top.insert("record_id".into(), json!(record_id));
        if bot_account {
            top.insert("bot_account".into(), json!(true));
        }
        top.insert("user".into(), Value::Object(user));
        top.insert("user_id_info".into(), info);
        Record {
            record_id,
            bot_account,
            json: Value::Object(top),
        }
    }
}

/// `external_system_identities` and `user_id_info` from the entries (sorted by list, then
/// integration) and the aliases.
fn id_parts(entries: Vec<IdEntry>, aliases: Vec<String>) -> (Value, Value) {
    let mut identities = BTreeMap::new();
    for e in &entries {
        let mut id = Map::new();
        id.insert("user_id".into(), json!(e.user_id));
        if let Some(x) = &e.external_id {
            id.insert("external_id".into(), json!(x));
        }
        identities.insert(e.integration.clone(), Value::Object(id));
    }
    let list = |l: IdList| -> Vec<Value> {
        entries
            .iter()
            .filter(|e| e.list == l)
            .map(|e| {
                let mut m = Map::new();
                m.insert("integration".into(), json!(e.integration));
                m.insert("user_id".into(), json!(e.user_id));
                if l != IdList::Channel {
                    m.insert("external_id".into(), json!(e.external_id));
                }
                Value::Object(m)
            })
            .collect()
    };
    let mut info = Map::new();
    info.insert("user_emails".into(), json!(aliases));
    info.insert(
        "channel_id_info".into(),
        Value::Array(list(IdList::Channel)),
    );
    info.insert("itsm_id_info".into(), Value::Array(list(IdList::Itsm)));
    info.insert("idm_id_info".into(), Value::Array(list(IdList::Idm)));
    (json!(identities), Value::Object(info))
}

/// A stored record with ID-info entries added from a batch's ID sheets (rows for a user the
/// batch itself does not hold). An entry replaces the record's entry for the same integration
/// in the same list: one entry per integration.
pub fn with_entries(record: &Value, added: &[IdEntry]) -> Value {
    let info = &record["user_id_info"];
    let mut entries: Vec<IdEntry> = Vec::new();
    for (key, list) in [
        ("itsm_id_info", IdList::Itsm),
        ("channel_id_info", IdList::Channel),
        ("idm_id_info", IdList::Idm),
    ] {
        for e in info[key].as_array().into_iter().flatten() {
            entries.push(IdEntry {
                list,
                integration: e["integration"].as_str().unwrap_or_default().to_string(),
                user_id: e["user_id"].as_str().unwrap_or_default().to_string(),
                external_id: e["external_id"].as_str().map(str::to_string),
            });
        }
    }
    for a in added {
        entries.retain(|e| (e.list, &e.integration) != (a.list, &a.integration));
        entries.push(a.clone());
    }
    entries.sort_by(|a, b| (a.list, &a.integration).cmp(&(b.list, &b.integration)));
    let aliases: Vec<String> = info["user_emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let (identities, new_info) = id_parts(entries, aliases);
    let mut out = record.clone();
    out["user"]["external_system_identities"] = identities;
    out["user_id_info"] = new_info;
    out
}
