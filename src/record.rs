//! Normalized manual-user records, in the shape of the User Attribute Reference example plus
//! `record_id`, the `user_id_info` lists and, for the bot, `bot_account`. Keys are written in a
//! fixed order so the same input always gives the same bytes.

use crate::input::headers::{Attr, IdList};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
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
    /// The whole record as written to `--out`: compact JSON text, built straight from the
    /// validated row (a `serde_json::Value` tree per record cost a third of validation time and
    /// most of its memory).
    pub json: String,
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
        let out = RecordOut {
            record_id: &record_id,
            bot_account,
            user: UserOut {
                email: &email,
                attrs,
                tags,
                custom,
                entries: &entries,
            },
            info: InfoOut {
                aliases: &aliases,
                entries: &entries,
            },
        };
        let json = serde_json::to_string(&out).expect("a record serializes");
        Record {
            record_id,
            bot_account,
            json,
        }
    }

    /// The record as a JSON value (for the import plan and the store).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).expect("muster wrote this JSON")
    }
}

struct RecordOut<'a> {
    record_id: &'a str,
    bot_account: bool,
    user: UserOut<'a>,
    info: InfoOut<'a>,
}

impl Serialize for RecordOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("record_id", self.record_id)?;
        if self.bot_account {
            m.serialize_entry("bot_account", &true)?;
        }
        m.serialize_entry("user", &self.user)?;
        m.serialize_entry("user_id_info", &self.info)?;
        m.end()
    }
}

struct UserOut<'a> {
    email: &'a str,
    attrs: &'a BTreeMap<Attr, String>,
    tags: &'a [String],
    custom: &'a BTreeMap<String, String>,
    entries: &'a [IdEntry],
}

impl Serialize for UserOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if !self.custom.is_empty() {
            m.serialize_entry("custom_attributes", self.custom)?;
        }
        for attr in USER_KEYS {
            match attr {
                Attr::EmailAddr => m.serialize_entry("email_addr", self.email)?,
                Attr::UserTags if !self.tags.is_empty() => {
                    m.serialize_entry("user_tags", self.tags)?
                }
                _ => {
                    if let Some(v) = self.attrs.get(&attr) {
                        m.serialize_entry(attr.name(), v)?;
                    }
                }
            }
        }
        m.serialize_entry("external_system_identities", &Identities(self.entries))?;
        m.end()
    }
}

/// `external_system_identities`: integration → `{user_id, external_id}`, one per integration.
struct Identities<'a>(&'a [IdEntry]);

impl Serialize for Identities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // One value per key: a later entry for the same integration wins, as in a map.
        let by_integration: BTreeMap<&str, &IdEntry> =
            self.0.iter().map(|e| (e.integration.as_str(), e)).collect();
        let mut m = s.serialize_map(Some(by_integration.len()))?;
        for (integration, e) in by_integration {
            m.serialize_entry(integration, &Entry(e, EntryShape::Identity))?;
        }
        m.end()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EntryShape {
    /// `{user_id, external_id}` without a null external id.
    Identity,
    /// `{integration, user_id}`.
    Channel,
    /// `{integration, user_id, external_id}`, the external id possibly null.
    Listed,
}

struct Entry<'a>(&'a IdEntry, EntryShape);

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (e, shape) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        if shape != EntryShape::Identity {
            m.serialize_entry("integration", &e.integration)?;
        }
        m.serialize_entry("user_id", &e.user_id)?;
        match (shape, &e.external_id) {
            (EntryShape::Identity, Some(x)) => m.serialize_entry("external_id", x)?,
            (EntryShape::Listed, x) => m.serialize_entry("external_id", x)?,
            _ => {}
        }
        m.end()
    }
}

/// `user_id_info`: the aliases and the three lists.
struct InfoOut<'a> {
    aliases: &'a [String],
    entries: &'a [IdEntry],
}

impl Serialize for InfoOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let list = |l: IdList| {
            let shape = if l == IdList::Channel {
                EntryShape::Channel
            } else {
                EntryShape::Listed
            };
            self.entries
                .iter()
                .filter(move |e| e.list == l)
                .map(move |e| Entry(e, shape))
                .collect::<Vec<_>>()
        };
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("user_emails", self.aliases)?;
        m.serialize_entry("channel_id_info", &list(IdList::Channel))?;
        m.serialize_entry("itsm_id_info", &list(IdList::Itsm))?;
        m.serialize_entry("idm_id_info", &list(IdList::Idm))?;
        m.end()
    }
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
    let mut out = record.clone();
    out["user"]["external_system_identities"] =
        serde_json::to_value(Identities(&entries)).expect("entries serialize");
    out["user_id_info"] = serde_json::to_value(InfoOut {
        aliases: &aliases,
        entries: &entries,
    })
    .expect("entries serialize");
    out
}
