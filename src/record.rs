//! Normalized manual-user records, in the shape of the User Attribute Reference example plus
//! `record_id`, the `user_id_info` lists and, for the bot, `bot_account`. Keys are written in a
//! fixed order so the same input always gives the same bytes.

use crate::input::headers::{Attr, IdList};
#[cfg(test)]
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The row version of `json` (SPEC §6, 16 hex digits), worked out from the fields as the
    /// row is checked, for a record an import will write: the store then need not parse the
    /// text back to canonicalize it (`store::Derived`). `None`: worked out from the text.
    pub row_version: Option<[u8; 16]>,
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
    /// The record of a validated row, and whether its text's SHA-256 is `stored_digest` (the
    /// store's for its record id, in an import). Such a user's record keeps no copy of its text
    /// unless it is the bot's: an import leaves the very text stored out of its spill, and in
    /// a re-import of a million unchanged users the copies were 2.4 GB of memory written,
    /// handed to another thread and freed there.
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
        stored_digest: Option<&[u8; 32]>,
        versioned: bool,
    ) -> (Record, bool) {
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
        // Written into a buffer the thread keeps, then copied once at its length: grown from
        // nothing, each record's text was reallocated five times on its way to 2.4 KB.
        thread_local! {
            static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let (json, same_as_stored) = TEXT.with_borrow_mut(|text| {
            text.clear();
            out.write(text);
            let same = stored_digest.is_some_and(|d| *d == crate::store::bytes_digest(text));
            if same && !bot_account {
                return (String::new(), true);
            }
            let json = String::from_utf8(text.to_vec()).expect("serde_json writes UTF-8");
            (json, same)
        });
        // Only for a record the import will write: not the very text stored.
        let row_version = (versioned && !same_as_stored).then(|| {
            TEXT.with_borrow_mut(|text| {
                text.clear();
                out.write_canonical(text);
                crate::store::row_version_of_canonical(text)
            })
        });
        let record = Record {
            record_id,
            bot_account,
            json,
            row_version,
        };
        (record, same_as_stored)
    }
}

/// A string as JSON, byte for byte as serde_json writes it. serde_json looks up every byte in
/// its escape table, one at a time: 13 % of the instructions of a `validate --out` (callgrind),
/// for values that nearly never hold a byte to escape. They are looked over eight bytes at a
/// time here ([`needs_escape`]), and the rare one that has such a byte is handed to serde_json.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(&mut *out, s).expect("a string serializes");
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether `bytes` hold one that JSON escapes: a control character (below 0x20), a quote or a
/// backslash.
fn needs_escape(bytes: &[u8]) -> bool {
    use crate::swar::{below, equal};
    crate::swar::any(bytes, b'a', |w| {
        below(w, 0x20) | equal(w, b'"') | equal(w, b'\\')
    })
}

/// A JSON object written as serde_json's compact writer writes a map: `{`, `"key":value`
/// pairs between commas, `}`.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>) -> Object<'a> {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes `"key":` and gives the buffer for the value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        write_str(self.key(key), value);
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// A JSON array of `items`, each written by `write`.
pub(crate) fn write_array<T>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = T>,
    write: impl Fn(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(out, item);
    }
    out.push(b']');
}

struct RecordOut<'a> {
    record_id: &'a str,
    bot_account: bool,
    user: UserOut<'a>,
    info: InfoOut<'a>,
}

impl RecordOut<'_> {
    /// The record's text: the same bytes as `serde_json::to_writer` of its `Serialize` (a test
    /// holds the two together), written faster (see [`write_str`]).
    fn write(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        m.str("record_id", self.record_id);
        if self.bot_account {
            m.key("bot_account").extend_from_slice(b"true");
        }
        self.user.write(m.key("user"));
        self.info.write(m.key("user_id_info"));
        m.close();
    }

    /// The canonical JSON of the record's text (`store::canonical`: every object's keys
    /// sorted), written from the fields without parsing the text: the same bytes, as a
    /// property test holds (`tests::the_writer_writes_what_serde_json_writes`).
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        if self.bot_account {
            m.key("bot_account").extend_from_slice(b"true");
        }
        m.str("record_id", self.record_id);
        self.user.write_canonical(m.key("user"));
        self.info.write_canonical(m.key("user_id_info"));
        m.close();
    }
}

/// The reference the writer is tested against (`tests::the_writer_writes_what_serde_json_writes`).
#[cfg(test)]
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

impl UserOut<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        if !self.custom.is_empty() {
            let mut custom = Object::open(m.key("custom_attributes"));
            for (k, v) in self.custom {
                custom.str(k, v);
            }
            custom.close();
        }
        for attr in USER_KEYS {
            match attr {
                Attr::EmailAddr => m.str("email_addr", self.email),
                Attr::UserTags if !self.tags.is_empty() => {
                    write_array(m.key("user_tags"), self.tags, |o, t| write_str(o, t))
                }
                _ => {
                    if let Some(v) = self.attrs.get(&attr) {
                        m.str(attr.name(), v);
                    }
                }
            }
        }
        Identities(self.entries).write(m.key("external_system_identities"));
        m.close();
    }
}

/// A field of `user`, to be written in the canonical order of the keys.
enum UserField<'a> {
    Custom,
    Text(&'a str),
    Tags,
    Identities,
}

impl UserOut<'_> {
    /// `write`'s fields, each object's keys sorted.
    fn write_canonical(&self, out: &mut Vec<u8>) {
        // The keys `write` writes, in its order, then sorted (each key once).
        let mut fields: Vec<(&str, UserField)> = Vec::with_capacity(USER_KEYS.len() + 2);
        if !self.custom.is_empty() {
            fields.push(("custom_attributes", UserField::Custom));
        }
        for attr in USER_KEYS {
            match attr {
                Attr::EmailAddr => fields.push(("email_addr", UserField::Text(self.email))),
                Attr::UserTags if !self.tags.is_empty() => {
                    fields.push(("user_tags", UserField::Tags))
                }
                _ => {
                    if let Some(v) = self.attrs.get(&attr) {
                        fields.push((attr.name(), UserField::Text(v)));
                    }
                }
            }
        }
        fields.push(("external_system_identities", UserField::Identities));
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut m = Object::open(out);
        for (key, field) in fields {
            let out = m.key(key);
            match field {
                UserField::Custom => {
                    // A `BTreeMap` of `String`s: in the canonical (byte) order already.
                    let mut custom = Object::open(out);
                    for (k, v) in self.custom {
                        custom.str(k, v);
                    }
                    custom.close();
                }
                UserField::Text(v) => write_str(out, v),
                UserField::Tags => write_array(out, self.tags, |o, t| write_str(o, t)),
                UserField::Identities => Identities(self.entries).write_canonical(out),
            }
        }
        m.close();
    }
}

/// The reference the writer is tested against (`tests::the_writer_writes_what_serde_json_writes`).
#[cfg(test)]
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

impl Identities<'_> {
    fn by_integration(&self) -> BTreeMap<&str, &IdEntry> {
        // One value per key: a later entry for the same integration wins, as in a map.
        self.0.iter().map(|e| (e.integration.as_str(), e)).collect()
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        for (integration, e) in self.by_integration() {
            Entry(e, EntryShape::Identity).write(m.key(integration));
        }
        m.close();
    }

    /// `write`'s keys are integrations from a `BTreeMap`: sorted already.
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        for (integration, e) in self.by_integration() {
            Entry(e, EntryShape::Identity).write_canonical(m.key(integration));
        }
        m.close();
    }
}

/// The reference the writer is tested against (`tests::the_writer_writes_what_serde_json_writes`).
#[cfg(test)]
impl Serialize for Identities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let by_integration = self.by_integration();
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

impl Entry<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        let (e, shape) = (self.0, self.1);
        let mut m = Object::open(out);
        if shape != EntryShape::Identity {
            m.str("integration", &e.integration);
        }
        m.str("user_id", &e.user_id);
        match (shape, &e.external_id) {
            (EntryShape::Identity | EntryShape::Listed, Some(x)) => m.str("external_id", x),
            (EntryShape::Listed, None) => m.key("external_id").extend_from_slice(b"null"),
            _ => {}
        }
        m.close();
    }

    /// `write`'s keys sorted: `external_id`, `integration`, `user_id`.
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let (e, shape) = (self.0, self.1);
        let mut m = Object::open(out);
        match (shape, &e.external_id) {
            (EntryShape::Identity | EntryShape::Listed, Some(x)) => m.str("external_id", x),
            (EntryShape::Listed, None) => m.key("external_id").extend_from_slice(b"null"),
            _ => {}
        }
        if shape != EntryShape::Identity {
            m.str("integration", &e.integration);
        }
        m.str("user_id", &e.user_id);
        m.close();
    }
}

/// The reference the writer is tested against (`tests::the_writer_writes_what_serde_json_writes`).
#[cfg(test)]
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

impl InfoOut<'_> {
    fn list(&self, list: IdList) -> impl Iterator<Item = Entry<'_>> {
        let shape = if list == IdList::Channel {
            EntryShape::Channel
        } else {
            EntryShape::Listed
        };
        self.entries
            .iter()
            .filter(move |e| e.list == list)
            .map(move |e| Entry(e, shape))
    }

    fn write(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        write_array(m.key("user_emails"), self.aliases, |o, a| write_str(o, a));
        for (key, list) in [
            ("channel_id_info", IdList::Channel),
            ("itsm_id_info", IdList::Itsm),
            ("idm_id_info", IdList::Idm),
        ] {
            write_array(m.key(key), self.list(list), |o, e| e.write(o));
        }
        m.close();
    }

    /// `write`'s keys sorted; the lists keep their order.
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut m = Object::open(out);
        for (key, list) in [
            ("channel_id_info", IdList::Channel),
            ("idm_id_info", IdList::Idm),
            ("itsm_id_info", IdList::Itsm),
        ] {
            write_array(m.key(key), self.list(list), |o, e| e.write_canonical(o));
        }
        write_array(m.key("user_emails"), self.aliases, |o, a| write_str(o, a));
        m.close();
    }
}

/// The reference the writer is tested against (`tests::the_writer_writes_what_serde_json_writes`).
#[cfg(test)]
impl Serialize for InfoOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let list = |l: IdList| self.list(l).collect::<Vec<_>>();
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
    let value = |write: &dyn Fn(&mut Vec<u8>)| -> Value {
        let mut text = Vec::new();
        write(&mut text);
        serde_json::from_slice(&text).expect("the writer writes JSON")
    };
    let mut out = record.clone();
    out["user"]["external_system_identities"] = value(&|t| Identities(&entries).write(t));
    let info = InfoOut {
        aliases: &aliases,
        entries: &entries,
    };
    out["user_id_info"] = value(&|t| info.write(t));
    out
}

/// What validation does with the records of valid users.
#[derive(Debug, Clone, Default)]
pub enum Keep {
    /// Build none (no `--out`, no import).
    Nothing,
    /// Keep them in memory (import, tests).
    #[default]
    InMemory,
    /// Write every candidate record to an unnamed temporary file in this folder as rows are
    /// checked, and read back the valid ones when they are written out: memory then holds no
    /// record (SPEC §8: "records spilled to a temporary file and filtered").
    SpillIn(std::path::PathBuf),
    /// Spill as [`Keep::SpillIn`], noting each record's id beside it (import: the plan reads
    /// the records back to compare them with the store, and again to write them; held in
    /// memory they were 2.4 GB at a million users). With `row_versions`, each record the
    /// store does not hold as it is brings its row version ([`Record::row_version`]); a dry
    /// run, which writes nothing, leaves them out. With `record_ids`, every user's record id
    /// is noted too ([`Keep::keeps_record_ids`]).
    SpillForImport {
        dir: std::path::PathBuf,
        row_versions: bool,
        record_ids: bool,
    },
}

impl Keep {
    /// Whether validation notes the record id of every user row, valid or not, for `import
    /// --prune`, which never removes a user the batch holds. Without `--prune` nothing reads
    /// them: at a million rows they were a table of about 100 MB, filled on the thread that
    /// gathers the rows.
    pub(crate) fn keeps_record_ids(&self) -> bool {
        matches!(
            self,
            Keep::InMemory
                | Keep::SpillForImport {
                    record_ids: true,
                    ..
                }
        )
    }
}

/// A valid record as the import plan reads it back, borrowed from where it is kept.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub record_id: &'a str,
    pub bot_account: bool,
    /// Empty when `same_as_stored`: such a record's text is not kept.
    pub json: &'a str,
    /// The record is the very text the store holds for its record id.
    pub same_as_stored: bool,
}

impl Record {
    fn view(&self) -> RecordView<'_> {
        RecordView {
            record_id: &self.record_id,
            bot_account: self.bot_account,
            json: &self.json,
            same_as_stored: false,
        }
    }
}

/// Record ids in one buffer, no allocation per record.
#[derive(Debug, Default)]
struct RecordIds {
    text: String,
    ends: Vec<usize>,
}

impl RecordIds {
    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The records of a validation: in memory, or in a spill file with which of them are valid.
#[derive(Debug, Default)]
pub enum Records {
    #[default]
    NotKept,
    InMemory(Vec<Record>),
    Spilled(Spill),
    /// `validate --out`'s records could not be spilled (a full disk): the run goes on for
    /// its other outputs, and `--out` fails with this error (store review: the report was
    /// lost with the records).
    Lost(std::io::Error),
}

impl Records {
    /// Why the records were lost, as an error to return ([`Records::Lost`]).
    fn lost(e: &std::io::Error) -> std::io::Error {
        std::io::Error::new(
            e.kind(),
            format!("the records could not be kept while the batch was checked: {e}"),
        )
    }

    /// How many valid records there are.
    pub fn len(&self) -> usize {
        match self {
            Records::NotKept | Records::Lost(_) => 0,
            Records::InMemory(v) => v.len(),
            Records::Spilled(s) => s.valid,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records kept in memory ([`Keep::InMemory`]); empty for the other kinds.
    pub fn in_memory(&self) -> &[Record] {
        match self {
            Records::InMemory(v) => v,
            _ => &[],
        }
    }

    /// Calls `f` with each valid record's JSON text, in order.
    pub fn for_each_json(
        &mut self,
        mut f: impl FnMut(&str) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match self {
            Records::NotKept => Ok(()),
            Records::InMemory(v) => v.iter().try_for_each(|r| f(&r.json)),
            Records::Spilled(s) => s.for_each_json(f),
            Records::Lost(e) => Err(Records::lost(e)),
        }
    }

    /// Calls `f` with the valid records in order, up to `n` at a time (the import plan hashes
    /// each run on the pool). Spilled records need [`Keep::SpillForImport`] for their ids.
    pub fn for_each_run<E: From<std::io::Error>>(
        &self,
        n: usize,
        mut f: impl FnMut(&[RecordView]) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Records::NotKept => Ok(()),
            Records::InMemory(v) => v.chunks(n.max(1)).try_for_each(|run| {
                let views: Vec<RecordView> = run.iter().map(Record::view).collect();
                f(&views)
            }),
            Records::Spilled(s) => s.for_each_run(n.max(1), f),
            Records::Lost(e) => Err(Records::lost(e).into()),
        }
    }

    /// Reads the valid records' texts by their place among the valid records, forward only.
    ///
    /// A spill is read this way once: what has been read is given back to the file system as
    /// it goes (the records of a million new users would otherwise be written to disk beside
    /// the store's own writes).
    pub fn texts(&self) -> std::io::Result<RecordTexts<'_>> {
        if let Records::Spilled(s) = self {
            s.readable()?;
            std::io::Seek::rewind(&mut &s.file)?;
        }
        if let Records::Lost(e) = self {
            return Err(Records::lost(e));
        }
        Ok(RecordTexts {
            records: self,
            input: match self {
                Records::Spilled(s) => Some(std::io::BufReader::with_capacity(1 << 20, &s.file)),
                _ => None,
            },
            at: 0,
            kept: 0,
            offset: 0,
            released: Released::default(),
        })
    }

    /// Writes the valid records to `out` as JSONL.
    pub fn write_jsonl(&mut self, out: &mut std::fs::File) -> std::io::Result<()> {
        match self {
            Records::Spilled(s) => s.copy_kept(out),
            other => {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
                other.for_each_json(|json| {
                    use std::io::Write;
                    out.write_all(json.as_bytes())?;
                    out.write_all(b"\n")
                })?;
                std::io::Write::flush(&mut out)
            }
        }
    }
}

/// Where candidate records go while rows are checked.
pub(crate) enum RecordSink {
    Nothing,
    /// `validate`'s spill failed: no more records are made ([`Records::Lost`]).
    Failed(std::io::Error),
    /// Each candidate with its user's index.
    InMemory(Vec<(u32, Record)>),
    Spill(SpillWriter),
}

pub(crate) struct SpillWriter {
    out: std::io::BufWriter<std::fs::File>,
    bots: Vec<(u32, Record)>,
    /// The user index of each spilled record, in order.
    users: Vec<u32>,
    /// Each spilled record's length, its line break included; 0 for a record not written
    /// because it is the very text stored (import).
    lengths: Vec<u32>,
    /// Each spilled record's id ([`Keep::SpillForImport`]).
    ids: Option<RecordIds>,
    /// Whether records bring their row versions ([`Keep::SpillForImport`]).
    row_versions: bool,
    /// Each spilled record's row version, when the ids are noted (zeros: none).
    versions: Vec<[u8; 16]>,
}

impl RecordSink {
    pub(crate) fn new(keep: &Keep) -> std::io::Result<RecordSink> {
        Ok(match keep {
            Keep::Nothing => RecordSink::Nothing,
            Keep::InMemory => RecordSink::InMemory(Vec::new()),
            Keep::SpillIn(dir) | Keep::SpillForImport { dir, .. } => {
                RecordSink::Spill(SpillWriter {
                    out: std::io::BufWriter::with_capacity(1 << 20, tempfile::tempfile_in(dir)?),
                    bots: Vec::new(),
                    users: Vec::new(),
                    lengths: Vec::new(),
                    ids: matches!(keep, Keep::SpillForImport { .. }).then(RecordIds::default),
                    row_versions: matches!(
                        keep,
                        Keep::SpillForImport {
                            row_versions: true,
                            ..
                        }
                    ),
                    versions: Vec::new(),
                })
            }
        })
    }

    pub(crate) fn wants_records(&self) -> bool {
        !matches!(self, RecordSink::Nothing | RecordSink::Failed(_))
    }

    /// Whether a record that is the very text stored may be left out (an import's spill,
    /// which notes the record ids).
    pub(crate) fn compares_with_store(&self) -> bool {
        matches!(self, RecordSink::Spill(s) if s.ids.is_some())
    }

    /// Whether each record the store does not hold as it is is made with its row version
    /// ([`Record::row_version`]): an import that may write them.
    pub(crate) fn wants_row_versions(&self) -> bool {
        matches!(self, RecordSink::Spill(s) if s.row_versions)
    }

    /// Adds the candidate record of user `user` (users come in order, each once);
    /// `same_as_stored` (see [`Self::compares_with_store`]) notes it without its text.
    pub(crate) fn push(
        &mut self,
        user: usize,
        record: Record,
        same_as_stored: bool,
    ) -> std::io::Result<()> {
        use std::io::Write;
        match self {
            RecordSink::Nothing | RecordSink::Failed(_) => {}
            RecordSink::InMemory(v) => v.push((user as u32, record)),
            // The bot, at most a few, stays in memory: it is written after every user.
            RecordSink::Spill(s) if record.bot_account => s.bots.push((user as u32, record)),
            RecordSink::Spill(s) => {
                // Left out only where the ids are noted: an import's plan reads them back.
                let left_out = same_as_stored && s.ids.is_some();
                s.users.push(user as u32);
                s.lengths.push(if left_out {
                    0
                } else {
                    record.json.len() as u32 + 1
                });
                if let Some(ids) = &mut s.ids {
                    ids.push(&record.record_id);
                    s.versions.push(record.row_version.unwrap_or_default());
                }
                if !left_out {
                    // JSONL as `--out` writes it, so that the kept records can be copied in runs.
                    let written = (s.out.write_all(record.json.as_bytes()))
                        .and_then(|_| s.out.write_all(b"\n"));
                    match written {
                        // An import needs every record; `validate` goes on without them, for
                        // its report and workbook.
                        Err(e) if s.ids.is_none() => *self = RecordSink::Failed(e),
                        written => written?,
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps the records of the users `valid` says are valid, bots last.
    pub(crate) fn finish(self, valid: impl Fn(usize) -> bool) -> std::io::Result<Records> {
        Ok(match self {
            RecordSink::Nothing => Records::NotKept,
            RecordSink::Failed(e) => Records::Lost(e),
            RecordSink::InMemory(v) => {
                let mut kept: Vec<Record> = v
                    .into_iter()
                    .filter(|(u, _)| valid(*u as usize))
                    .map(|(_, r)| r)
                    .collect();
                // Bots after users, as the Bot Account sheet comes after Users.
                kept.sort_by_key(|r| r.bot_account);
                Records::InMemory(kept)
            }
            RecordSink::Spill(s) => {
                let keep: Vec<bool> = s.users.iter().map(|&u| valid(u as usize)).collect();
                let bots: Vec<Record> = s
                    .bots
                    .into_iter()
                    .filter(|(u, _)| valid(*u as usize))
                    .map(|(_, r)| r)
                    .collect();
                let file = match s.out.into_inner() {
                    Ok(file) => file,
                    Err(e) if s.ids.is_none() => return Ok(Records::Lost(e.into_error())),
                    Err(e) => return Err(e.into_error()),
                };
                Records::Spilled(Spill {
                    valid: keep.iter().filter(|&&k| k).count() + bots.len(),
                    file,
                    given_back: Default::default(),
                    keep,
                    lengths: s.lengths,
                    ids: s.ids,
                    versions: s.versions,
                    bots,
                })
            }
        })
    }
}

/// Candidate records in an unnamed temporary file (gone when the process ends), as JSONL, and
/// which of them belong to valid users.
#[derive(Debug)]
pub struct Spill {
    file: std::fs::File,
    /// Part of the file was given back as it was read for the last time ([`Released`]): it
    /// cannot be read again.
    given_back: AtomicBool,
    keep: Vec<bool>,
    lengths: Vec<u32>,
    ids: Option<RecordIds>,
    /// Each spilled record's row version (zeros: none), when the ids are noted.
    versions: Vec<[u8; 16]>,
    bots: Vec<Record>,
    valid: usize,
}

impl Spill {
    fn for_each_json(
        &mut self,
        mut f: impl FnMut(&str) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::io::{Read, Seek};
        self.whole()?;
        self.file.rewind()?;
        let mut input = std::io::BufReader::with_capacity(1 << 20, &self.file);
        let mut line = Vec::new();
        for (&keep, &len) in self.keep.iter().zip(&self.lengths) {
            if !keep {
                input.seek_relative(i64::from(len))?;
                continue;
            }
            line.resize(len as usize, 0);
            input.read_exact(&mut line)?;
            let json =
                std::str::from_utf8(&line[..line.len() - 1]).map_err(std::io::Error::other)?;
            f(json)?;
        }
        self.bots.iter().try_for_each(|r| f(&r.json))
    }

    /// Refuses to read a spill again once part of it was given back.
    fn readable(&self) -> std::io::Result<()> {
        if self.given_back.load(Ordering::Relaxed) {
            return Err(std::io::Error::other(
                "the records' temporary file was read to its end once already",
            ));
        }
        Ok(())
    }

    /// Refuses to write out a spill that left out records as the very text stored (an
    /// import's): their texts are not in it.
    fn whole(&self) -> std::io::Result<()> {
        self.readable()?;
        if self
            .keep
            .iter()
            .zip(&self.lengths)
            .any(|(&k, &len)| k && len == 0)
        {
            return Err(std::io::Error::other(
                "the records spilled for an import leave out those the store holds",
            ));
        }
        Ok(())
    }

    fn for_each_run<E: From<std::io::Error>>(
        &self,
        n: usize,
        mut f: impl FnMut(&[RecordView]) -> Result<(), E>,
    ) -> Result<(), E> {
        use std::io::{Read, Seek};
        self.readable()?;
        let ids = self.ids.as_ref().ok_or_else(|| {
            std::io::Error::other("the records were spilled without their record ids")
        })?;
        let mut file = &self.file;
        file.rewind()?;
        let mut input = std::io::BufReader::with_capacity(1 << 20, file);
        // One buffer for a run's texts: (spilled index, start, end) of each.
        let mut buf = Vec::new();
        let mut run: Vec<(usize, usize, usize)> = Vec::with_capacity(n);
        let mut flush = |buf: &mut Vec<u8>, run: &mut Vec<(usize, usize, usize)>| {
            let mut views = Vec::with_capacity(run.len());
            for &(i, start, end) in run.iter() {
                let json = std::str::from_utf8(&buf[start..end]).map_err(std::io::Error::other)?;
                views.push(RecordView {
                    record_id: ids.get(i),
                    bot_account: false,
                    json,
                    same_as_stored: end == start,
                });
            }
            f(&views)?;
            buf.clear();
            run.clear();
            Ok::<(), E>(())
        };
        for (i, (&keep, &len)) in self.keep.iter().zip(&self.lengths).enumerate() {
            if !keep {
                input.seek_relative(i64::from(len))?;
                continue;
            }
            let start = buf.len();
            buf.resize(start + len as usize, 0);
            input.read_exact(&mut buf[start..])?;
            // Without its line break; a record left out as the very text stored reads as empty.
            run.push((i, start, start + (len as usize).saturating_sub(1)));
            if run.len() == n {
                flush(&mut buf, &mut run)?;
            }
        }
        if !run.is_empty() {
            flush(&mut buf, &mut run)?;
        }
        let bots: Vec<RecordView> = self.bots.iter().map(Record::view).collect();
        if bots.is_empty() {
            return Ok(());
        }
        f(&bots)
    }

    /// Writes the valid records as JSONL: runs of kept records are copied file to file, never
    /// parsed: past the page cache where the file system allows it ([`DirectOut`]), else by
    /// the kernel.
    fn copy_kept(&mut self, out: &mut std::fs::File) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom, Write};
        self.whole()?;
        let mut runs = Vec::new();
        let (mut from, mut run) = (0u64, 0u64);
        for (&keep, &len) in self.keep.iter().zip(&self.lengths) {
            if keep {
                run += u64::from(len);
                continue;
            }
            if run > 0 {
                runs.push((from, run));
            }
            from += run + u64::from(len);
            run = 0;
        }
        if run > 0 {
            runs.push((from, run));
        }
        let mut released = Released::default();
        let short = || std::io::Error::other("the records' temporary file is short");
        #[cfg(target_os = "linux")]
        {
            // With more than one thread, each full block is written while the next is read
            // from the spill; with `-j 1` one after the other, so one thread means one thread.
            let beside = rayon::current_num_threads() > 1;
            let copied = std::thread::scope(|scope| {
                let mut direct = DirectOut::new(out, beside.then_some(scope))?;
                let mut copy = || {
                    for &(at, len) in &runs {
                        direct
                            .copy_from(&self.file, at, len)
                            .map_err(|e| match e.kind() {
                                std::io::ErrorKind::UnexpectedEof => short(),
                                _ => e,
                            })?;
                        released.up_to(&self.file, at + len, &self.given_back);
                    }
                    for bot in &self.bots {
                        direct.write(bot.json.as_bytes())?;
                        direct.write(b"\n")?;
                    }
                    Ok(())
                };
                Some(copy().and_then(|()| direct.finish()))
            });
            if let Some(copied) = copied {
                return copied;
            }
        }
        let mut spill = &self.file;
        for &(at, len) in &runs {
            spill.seek(SeekFrom::Start(at))?;
            if std::io::copy(&mut spill.take(len), out)? != len {
                return Err(short());
            }
            released.up_to(&self.file, at + len, &self.given_back);
        }
        for bot in &self.bots {
            out.write_all(bot.json.as_bytes())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// A file written from its start past the page cache (`O_DIRECT`), in aligned blocks of a
/// buffer, its last partial block through the page cache. On this benchmark's machine the
/// page cache's writeback took 2.3 GB to the disk at about 330 MB/s, direct writes at 1.0–1.8
/// GB/s (`dd`, docs/benchmarks.md), and the records no longer crowd the page cache. Given a
/// thread scope, full blocks are written on a thread of their own while the next one fills.
#[cfg(target_os = "linux")]
struct DirectOut<'scope, 'a> {
    /// The block being filled, and how much of it is.
    block: Block,
    filled: usize,
    blocks: Blocks<'scope, 'a>,
}

/// Where full blocks go.
#[cfg(target_os = "linux")]
enum Blocks<'scope, 'a> {
    /// Written before the next block is filled.
    Here(BlockWriter<'a>),
    /// Sent to the writing thread, which sends each block back once written; `spare` is the
    /// second block, until it is first needed. `full` and `writer` are taken when the thread
    /// is joined.
    Beside {
        full: Option<std::sync::mpsc::SyncSender<Block>>,
        written: std::sync::mpsc::Receiver<Block>,
        spare: Option<Block>,
        writer: Option<std::thread::ScopedJoinHandle<'scope, std::io::Result<BlockWriter<'a>>>>,
    },
}

/// A buffer over-allocated so that an aligned window of [`DirectOut::SIZE`] bytes fits in it
/// (empty by default: what `DirectOut::finish` leaves in place of the block it takes).
#[cfg(target_os = "linux")]
#[derive(Default)]
struct Block {
    buf: Vec<u8>,
    start: usize,
}

#[cfg(target_os = "linux")]
impl Block {
    fn new() -> Block {
        let buf = vec![0u8; DirectOut::SIZE + DirectOut::ALIGN];
        let start = buf.as_ptr().align_offset(DirectOut::ALIGN);
        Block { buf, start }
    }

    fn window(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + DirectOut::SIZE]
    }
}

/// Writes blocks one after another from the file's start: past the page cache while the file
/// system takes aligned direct writes, through it from the first refusal on.
#[cfg(target_os = "linux")]
struct BlockWriter<'a> {
    file: &'a std::fs::File,
    /// How much of the file is written.
    offset: u64,
    /// Whether writes still go past the page cache: a file system that refuses an aligned
    /// direct write gets the rest through the page cache.
    direct: bool,
}

#[cfg(target_os = "linux")]
impl BlockWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while self.direct && done < bytes.len() {
            match self.file.write_at(&bytes[done..], self.offset) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(k) => (done, self.offset) = (done + k, self.offset + k as u64),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Refused (no direct writes here after all, or a short write left the rest
                // unaligned): the rest goes through the page cache.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                    self.buffered()?
                }
                Err(e) => return Err(e),
            }
        }
        if done < bytes.len() {
            self.file.write_all_at(&bytes[done..], self.offset)?;
            self.offset += (bytes.len() - done) as u64;
        }
        Ok(())
    }

    fn buffered(&mut self) -> std::io::Result<()> {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        self.direct = false;
        let flags = fcntl_getfl(self.file)?;
        fcntl_setfl(self.file, flags - OFlags::DIRECT)?;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
impl<'scope, 'a: 'scope> DirectOut<'scope, 'a> {
    /// The alignment of offsets, lengths and memory: the largest logical block size in use.
    const ALIGN: usize = 4096;
    /// A block's size. Direct writes of 2 MiB went as fast as of 8 MiB (`dd oflag=direct`),
    /// and the two blocks' fresh pages, zeroed by the kernel when the copy begins, were 40 ms
    /// of the one-thread tail of a 100,000-row run at 8 MiB (`perf`).
    const SIZE: usize = if cfg!(test) { 4 * Self::ALIGN } else { 2 << 20 };

    /// `None` when the file cannot be opened for direct writes (tmpfs before Linux 6.6, some
    /// network file systems): it is then written as before. With `scope`, full blocks are
    /// written on a thread of its own.
    fn new<'env>(
        file: &'a std::fs::File,
        scope: Option<&'scope std::thread::Scope<'scope, 'env>>,
    ) -> Option<DirectOut<'scope, 'a>> {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        let flags = fcntl_getfl(file).ok()?;
        fcntl_setfl(file, flags | OFlags::DIRECT).ok()?;
        let mut writer = BlockWriter {
            file,
            offset: 0,
            direct: true,
        };
        let blocks = match scope {
            None => Blocks::Here(writer),
            Some(scope) => {
                let (full, to_write) = std::sync::mpsc::sync_channel::<Block>(1);
                let (back, written) = std::sync::mpsc::channel();
                let writer = scope.spawn(move || {
                    for mut block in to_write {
                        writer.write(block.window())?;
                        // Gone only when the filling side has stopped with an error of its own.
                        let _ = back.send(block);
                    }
                    Ok(writer)
                });
                Blocks::Beside {
                    full: Some(full),
                    written,
                    spare: Some(Block::new()),
                    writer: Some(writer),
                }
            }
        };
        Some(DirectOut {
            block: Block::new(),
            filled: 0,
            blocks,
        })
    }

    /// Appends `len` bytes of `from` at `at`.
    fn copy_from(&mut self, from: &std::fs::File, mut at: u64, len: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let end = at + len;
        while at < end {
            let n = (Self::SIZE - self.filled).min((end - at) as usize);
            let filled = self.filled;
            from.read_exact_at(&mut self.block.window()[filled..filled + n], at)?;
            self.filled += n;
            at += n as u64;
            self.full()?;
        }
        Ok(())
    }

    fn write(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let n = (Self::SIZE - self.filled).min(bytes.len());
            let filled = self.filled;
            self.block.window()[filled..filled + n].copy_from_slice(&bytes[..n]);
            (self.filled, bytes) = (self.filled + n, &bytes[n..]);
            self.full()?;
        }
        Ok(())
    }

    /// Writes the block, or hands it to the writing thread, once it is full.
    fn full(&mut self) -> std::io::Result<()> {
        if self.filled < Self::SIZE {
            return Ok(());
        }
        match &mut self.blocks {
            Blocks::Here(writer) => writer.write(self.block.window())?,
            Blocks::Beside {
                full,
                written,
                spare,
                ..
            } => {
                // An error on either side means the writing thread has stopped: its error is
                // the one to report.
                let next = match spare.take() {
                    Some(block) => block,
                    None => match written.recv() {
                        Ok(block) => block,
                        Err(_) => return Err(self.stop_writer()),
                    },
                };
                let sent = full.as_ref().is_some_and(|full| {
                    full.send(std::mem::replace(&mut self.block, next)).is_ok()
                });
                if !sent {
                    return Err(self.stop_writer());
                }
            }
        }
        self.filled = 0;
        Ok(())
    }

    /// The writing thread's error, once it has stopped with one.
    fn stop_writer(&mut self) -> std::io::Error {
        match self.writing_done() {
            Err(e) => e,
            Ok(_) => std::io::Error::other("the output's writing thread stopped"),
        }
    }

    /// Waits for every full block to be written; the writer, for what is left.
    fn writing_done(&mut self) -> std::io::Result<&mut BlockWriter<'a>> {
        if let Blocks::Beside { full, writer, .. } = &mut self.blocks {
            // Closing the channel ends the writing thread's loop.
            drop(full.take());
            let Some(writer) = writer.take() else {
                return Err(std::io::Error::other("the output's writing thread stopped"));
            };
            let writer = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            self.blocks = Blocks::Here(writer);
        }
        match &mut self.blocks {
            Blocks::Here(writer) => Ok(writer),
            Blocks::Beside { .. } => unreachable!("the writing thread was just joined"),
        }
    }

    /// Writes what is left: its aligned part directly, the rest through the page cache.
    fn finish(mut self) -> std::io::Result<()> {
        let filled = self.filled;
        let aligned = filled / Self::ALIGN * Self::ALIGN;
        let block = std::mem::take(&mut self.block);
        let tail = &block.buf[block.start..block.start + filled];
        let writer = self.writing_done()?;
        writer.write(&tail[..aligned])?;
        if writer.direct {
            writer.buffered()?;
        }
        writer.write(&tail[aligned..])
    }
}

/// How much of a temporary file has been given back: its pages up to there were read for the
/// last time. Without it, the kernel writes them to disk once the dirty pages pass its
/// threshold (10 % of memory): at a million rows, 2.3 GB of a file about to be deleted were
/// written while the output waited on the same disk (4.5 GB written for a 2.3 GB `--out`).
#[derive(Debug, Default)]
struct Released(u64);

impl Released {
    /// Gives back `file`'s pages before `offset`, 64 MiB at a time. A file system without
    /// hole punching keeps them, as before.
    fn up_to(&mut self, file: &std::fs::File, offset: u64, given_back: &AtomicBool) {
        // Small in tests, so that they give back too.
        const STEP: u64 = if cfg!(test) { 4096 } else { 64 << 20 };
        if offset < self.0 + STEP {
            return;
        }
        given_back.store(true, Ordering::Relaxed);
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{fallocate, FallocateFlags};
            let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
            let _ = fallocate(file, flags, self.0, offset - self.0);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = file;
        self.0 = offset;
    }
}

/// The valid records' texts, read forward by their place among the valid records (bots last),
/// as the import applies its plan.
pub struct RecordTexts<'a> {
    records: &'a Records,
    input: Option<std::io::BufReader<&'a std::fs::File>>,
    /// The next spilled record's index, and how many kept ones came before it.
    at: usize,
    kept: usize,
    /// Where the next spilled record starts in the file, and how much before it was given back.
    offset: u64,
    released: Released,
}

impl RecordTexts<'_> {
    /// The text of valid record `n`; `n` never goes back. (The tests' shorthand: the apply
    /// takes each text with its version.)
    #[cfg(test)]
    pub fn text(&mut self, n: usize) -> std::io::Result<String> {
        self.text_and_version(n).map(|(text, _)| text)
    }

    /// The text of valid record `n` and its row version, if it was worked out as the row was
    /// checked ([`Record::row_version`]); `n` never goes back.
    pub fn text_and_version(&mut self, n: usize) -> std::io::Result<(String, Option<[u8; 16]>)> {
        use std::io::Read;
        let spill = match self.records {
            Records::NotKept => return Err(std::io::Error::other("no records were kept")),
            Records::Lost(e) => return Err(Records::lost(e)),
            Records::InMemory(v) => return Ok((v[n].json.clone(), v[n].row_version)),
            Records::Spilled(s) => s,
        };
        let input = self.input.as_mut().expect("a spill has its reader");
        let short = || std::io::Error::other("the records' temporary file is short");
        self.released
            .up_to(&spill.file, self.offset, &spill.given_back);
        while self.at < spill.keep.len() {
            let (keep, len) = (spill.keep[self.at], spill.lengths[self.at]);
            self.at += 1;
            self.offset += u64::from(len);
            if keep && self.kept == n {
                self.kept += 1;
                if len == 0 {
                    return Err(std::io::Error::other(
                        "a record left out as the very text stored was asked for",
                    ));
                }
                let mut line = vec![0; len as usize];
                input.read_exact(&mut line)?;
                line.pop();
                let version = spill
                    .versions
                    .get(self.at - 1)
                    .copied()
                    .filter(|v| *v != [0; 16]);
                return Ok((
                    String::from_utf8(line).map_err(std::io::Error::other)?,
                    version,
                ));
            }
            if n < self.kept {
                return Err(std::io::Error::other("records are read forward only"));
            }
            self.kept += usize::from(keep);
            input.seek_relative(i64::from(len))?;
        }
        let bot = n.checked_sub(self.kept).ok_or_else(short)?;
        spill
            .bots
            .get(bot)
            .map(|r| (r.json.clone(), r.row_version))
            .ok_or_else(short)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_string_is_written_as_serde_json_writes_it_wherever_its_escaped_byte_sits() {
        for special in ['"', '\\', '\u{0}', '\n', '\u{1f}', '\u{7f}', 'é', '😀'] {
            for len in [1, 31, 32, 33, 64, 70] {
                for at in 0..len {
                    let mut s: String = "a".repeat(len - 1);
                    s.insert(at, special);
                    let mut written = Vec::new();
                    write_str(&mut written, &s);
                    assert_eq!(
                        String::from_utf8(written).unwrap(),
                        serde_json::to_string(&s).unwrap(),
                        "{s:?}"
                    );
                }
            }
        }
    }

    /// Values with the bytes serde_json escapes (and some it does not), anywhere in them.
    fn value() -> impl Strategy<Value = String> {
        let odd = prop_oneof![
            Just('"'),
            Just('\\'),
            Just('\u{1}'),
            Just('\n'),
            Just('\u{1f}'),
            Just('\u{7f}'),
            Just('é'),
            Just('😀'),
            Just('a'),
        ];
        prop_oneof![
            "[a-z@. ]{0,80}",
            proptest::collection::vec(odd, 0..70).prop_map(|c| c.into_iter().collect()),
            any::<String>(),
        ]
    }

    fn entry() -> impl Strategy<Value = IdEntry> {
        let list = prop_oneof![Just(IdList::Itsm), Just(IdList::Channel), Just(IdList::Idm)];
        let integration = prop_oneof![
            Just("servicenow".to_string()),
            Just("slack".to_string()),
            value()
        ];
        (list, integration, value(), proptest::option::of(value())).prop_map(
            |(list, integration, user_id, external_id)| IdEntry {
                list,
                integration,
                user_id,
                external_id,
            },
        )
    }

    proptest! {
        /// The record writer against the `Serialize` impls it replaced, run through serde_json;
        /// the canonical writer against the canonical form of the text it wrote.
        #[test]
        fn the_writer_writes_what_serde_json_writes(
            record_id in value(),
            bot_account in any::<bool>(),
            email in value(),
            attrs in proptest::collection::btree_map(
                proptest::sample::select(Attr::ALL.to_vec()), value(), 0..6),
            tags in proptest::collection::vec(value(), 0..3),
            custom in proptest::collection::btree_map(value(), value(), 0..3),
            aliases in proptest::collection::vec(value(), 0..3),
            entries in proptest::collection::vec(entry(), 0..6),
        ) {
            let out = RecordOut {
                record_id: &record_id,
                bot_account,
                user: UserOut { email: &email, attrs: &attrs, tags: &tags, custom: &custom, entries: &entries },
                info: InfoOut { aliases: &aliases, entries: &entries },
            };
            let mut written = Vec::new();
            out.write(&mut written);
            let text = String::from_utf8(written).unwrap();
            prop_assert_eq!(&text, &serde_json::to_string(&out).unwrap());
            // The canonical form written from the fields is the text's, parsed and sorted.
            let mut canonical = Vec::new();
            out.write_canonical(&mut canonical);
            let tree: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(String::from_utf8(canonical.clone()).unwrap(), crate::store::canonical(&tree));
            prop_assert_eq!(
                String::from_utf8(crate::store::row_version_of_canonical(&canonical).to_vec()).unwrap(),
                crate::store::text_row_version(&text)
            );
        }
    }

    /// A record brings its row version only for an import that may write it: not when asked
    /// for none, nor when it is the very text stored.
    #[test]
    fn a_record_brings_its_row_version_only_when_it_may_be_written() {
        let attrs = BTreeMap::from([(Attr::FirstName, "Ann".to_string())]);
        let custom = BTreeMap::from([("Office".to_string(), "B1".to_string())]);
        let make = |bot: bool, stored: Option<&[u8; 32]>, versioned: bool| {
            let entries = vec![IdEntry {
                list: IdList::Itsm,
                integration: "snow".to_string(),
                user_id: "u1".to_string(),
                external_id: None,
            }];
            let tags = ["T".to_string()];
            let aliases = vec!["b@x.com".to_string()];
            let email = "a@x.com".to_string();
            Record::new(
                "R1".to_string(),
                bot,
                email,
                &attrs,
                &tags,
                &custom,
                aliases,
                entries,
                stored,
                versioned,
            )
        };
        for bot in [false, true] {
            let (record, same) = make(bot, None, true);
            assert!(!same);
            let version = record
                .row_version
                .map(|v| String::from_utf8(v.to_vec()).unwrap());
            assert_eq!(version, Some(crate::store::text_row_version(&record.json)));
            assert_eq!(make(bot, None, false).0.row_version, None);
            let stored = crate::store::text_digest(&record.json);
            let (again, same) = make(bot, Some(&stored), true);
            assert!(same && again.row_version.is_none(), "bot: {bot}");
        }
    }

    fn record(rid: &str, bot: bool) -> Record {
        let json = format!(r#"{{"record_id":"{rid}","n":"{}"}}"#, rid.repeat(3));
        // Some with the version worked out as the row was checked, some without.
        let row_version = (rid.bytes().last().is_some_and(|b| b % 2 == 0)).then(|| {
            crate::store::text_row_version(&json)
                .as_bytes()
                .try_into()
                .unwrap()
        });
        Record {
            record_id: rid.to_string(),
            bot_account: bot,
            json,
            row_version,
        }
    }

    /// Keeps `records` as `keep` says, user `i` valid unless `invalid` names it.
    fn kept(keep: &Keep, records: &[Record], invalid: &[usize]) -> Records {
        let mut sink = RecordSink::new(keep).unwrap();
        for (i, r) in records.iter().enumerate() {
            sink.push(i, r.clone(), false).unwrap();
        }
        sink.finish(|i| !invalid.contains(&i)).unwrap()
    }

    /// Spilled for an import, the valid records read back (in runs, and one by one by their
    /// place) are the ones kept in memory: ids, bot flags and texts, bots last.
    #[test]
    fn spilled_records_read_back_as_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let batch: Vec<Record> = ["A", "B", "BOT", "C", "D\u{e9}", "E", "F"]
            .iter()
            .map(|rid| record(rid, *rid == "BOT"))
            .collect();
        let invalid = [1, 5];
        let memory = kept(&Keep::InMemory, &batch, &invalid);
        let spilled = kept(
            &Keep::SpillForImport {
                dir: dir.path().to_path_buf(),
                row_versions: true,
                record_ids: true,
            },
            &batch,
            &invalid,
        );
        assert!(matches!(spilled, Records::Spilled(_)));
        assert_eq!(spilled.len(), 5);
        let views = |records: &Records, n: usize| {
            let mut runs = Vec::new();
            records
                .for_each_run(n, |run| -> std::io::Result<()> {
                    runs.push(
                        run.iter()
                            .map(|r| (r.record_id.to_string(), r.bot_account, r.json.to_string()))
                            .collect::<Vec<_>>(),
                    );
                    Ok(())
                })
                .unwrap();
            runs.concat()
        };
        let expected = views(&memory, 100);
        let ids: Vec<&str> = expected.iter().map(|(id, ..)| id.as_str()).collect();
        assert_eq!(ids, ["A", "C", "D\u{e9}", "F", "BOT"]);
        for n in [1, 2, 3, 100] {
            assert_eq!(views(&spilled, n), expected, "runs of {n}");
        }
        // Forward reads by place, skipping some, the bot last; never backwards.
        let mut texts = spilled.texts().unwrap();
        assert_eq!(texts.text(1).unwrap(), expected[1].2);
        assert_eq!(texts.text(3).unwrap(), expected[3].2);
        // The bot, kept in memory, with the version it was given.
        assert!(batch[2].row_version.is_some());
        let bot = texts.text_and_version(4).unwrap();
        assert_eq!(bot, (expected[4].2.clone(), batch[2].row_version));
        assert!(texts.text(5).is_err());
        let mut texts = spilled.texts().unwrap();
        assert_eq!(texts.text(2).unwrap(), expected[2].2);
        assert!(texts.text(0).is_err());
        // A record that is the very text stored is noted without its text, and never read.
        let mut sink = RecordSink::new(&Keep::SpillForImport {
            dir: dir.path().to_path_buf(),
            row_versions: true,
            record_ids: true,
        })
        .unwrap();
        assert!(sink.compares_with_store());
        sink.push(0, batch[0].clone(), true).unwrap();
        sink.push(1, batch[1].clone(), false).unwrap();
        let records = sink.finish(|_| true).unwrap();
        let seen = views(&records, 10);
        assert_eq!(
            seen,
            [
                ("A".to_string(), false, String::new()),
                ("B".to_string(), false, batch[1].json.clone())
            ]
        );
        let mut texts = records.texts().unwrap();
        assert!(texts.text(0).is_err());
        // The record after it comes with its own row version.
        assert!(batch[1].row_version.is_some());
        assert_eq!(
            texts.text_and_version(1).unwrap(),
            (batch[1].json.clone(), batch[1].row_version)
        );
        // Nor can such a spill be written out as if it were whole.
        let mut records = records;
        assert!(records.for_each_json(|_| Ok(())).is_err());
        let out = tempfile::tempfile_in(dir.path()).unwrap();
        assert!(records.write_jsonl(&mut { out }).is_err());
        // Spilled for `--out` the ids are not noted, and a run says so rather than guessing.
        let out = kept(&Keep::SpillIn(dir.path().to_path_buf()), &batch, &invalid);
        assert!(out
            .for_each_run(10, |_| Ok::<(), std::io::Error>(()))
            .is_err());
    }

    /// Written past the page cache in aligned blocks, with runs and writes of any length, a
    /// file holds exactly what was given, also when writes go back to the page cache midway,
    /// and also with its blocks written on a thread of their own.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_direct_output_holds_exactly_what_was_written() {
        use std::io::{Read, Seek, Write};
        let dir = tempfile::tempdir().unwrap();
        let mut source = tempfile::tempfile_in(dir.path()).unwrap();
        let text: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        source.write_all(&text).unwrap();
        // Back to the page cache at a run's start (before it, or never), on this thread only:
        // the writing thread goes back on its own, at the first write refused.
        let runs = [
            (None, false),
            (Some(3), false),
            (Some(9), false),
            (None, true),
        ]
        .into_iter()
        .flat_map(|(back_at, beside)| (17..24).map(move |count| (back_at, beside, count)));
        let mut finished_unaligned = 0;
        for (back_at, beside, count) in runs {
            let mut out = tempfile::tempfile_in(dir.path()).unwrap();
            let mut expected = Vec::new();
            let written_whole = std::thread::scope(|scope| {
                let Some(mut direct) = DirectOut::new(&out, beside.then_some(scope)) else {
                    return false;
                };
                let mut at = 0u64;
                for (k, len) in [1u64, 4095, 4096, 4097, 16384, 40000, 7, 20000, 3]
                    .into_iter()
                    .cycle()
                    .take(count)
                    .enumerate()
                {
                    if let (true, Blocks::Here(writer)) = (Some(k) == back_at, &mut direct.blocks) {
                        writer.buffered().unwrap();
                    }
                    if k % 4 == 3 {
                        direct.write(b"{bot}\n").unwrap();
                        expected.extend_from_slice(b"{bot}\n");
                    }
                    direct.copy_from(&source, at, len).unwrap();
                    expected.extend_from_slice(&text[at as usize..(at + len) as usize]);
                    at = (at + len + 13) % 100_000;
                }
                if direct.filled > DirectOut::ALIGN && direct.filled % DirectOut::ALIGN > 0 {
                    finished_unaligned += 1;
                }
                direct.finish().unwrap();
                true
            });
            if !written_whole {
                eprintln!("no direct writes in {}", dir.path().display());
                return;
            }
            let mut written = Vec::new();
            out.rewind().unwrap();
            out.read_to_end(&mut written).unwrap();
            let case = format!("back at {back_at:?}, beside {beside}, {count} runs");
            assert_eq!(written.len(), expected.len(), "{case}");
            assert!(written == expected, "{case}");
        }
        assert!(
            finished_unaligned > 3,
            "{finished_unaligned}: the ends tried"
        );
        // A run past the source's end is an error, not a short file.
        let out = tempfile::tempfile_in(dir.path()).unwrap();
        let mut direct = DirectOut::new(&out, None).unwrap();
        assert!(direct.copy_from(&source, 199_000, 2_000).is_err());
    }

    /// The writing thread's error is the one reported, whether the filling side finds the
    /// thread gone while it fills or only at the end.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_refused_beside_is_reported() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut source = tempfile::tempfile_in(dir.path()).unwrap();
        source.write_all(&vec![7u8; 200_000]).unwrap();
        for len in [DirectOut::SIZE as u64 - 1, 150_000] {
            // Opened for reading only: the first block written is refused (EBADF).
            let path = dir.path().join("read-only");
            std::fs::write(&path, b"").unwrap();
            let out = std::fs::File::open(&path).unwrap();
            let result = std::thread::scope(|scope| {
                let mut direct = DirectOut::new(&out, Some(scope))?;
                Some(
                    direct
                        .copy_from(&source, 0, len)
                        .and_then(|()| direct.finish()),
                )
            });
            let Some(result) = result else {
                eprintln!("no direct writes in {}", dir.path().display());
                return;
            };
            let error = result.unwrap_err();
            assert_eq!(
                error.raw_os_error(),
                Some(rustix::io::Errno::BADF.raw_os_error()),
                "{len} bytes: {error}"
            );
        }
    }

    /// Read to its end by the apply (or copied to `--out`), a spill is given back as it goes:
    /// every text still reads as written, and the spill refuses to be read again.
    #[test]
    fn a_spill_read_to_its_end_is_given_back_and_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let batch: Vec<Record> = (0..400)
            .map(|n| record(&format!("R{n:04}"), false))
            .collect();
        let invalid = [3, 250];
        let memory = kept(&Keep::InMemory, &batch, &invalid);
        let expected: Vec<String> = memory.in_memory().iter().map(|r| r.json.clone()).collect();
        let total: usize = expected.iter().map(|j| j.len() + 1).sum();
        assert!(total > 3 * 4096, "{total} bytes: more than the tests' step");

        let spilled = kept(
            &Keep::SpillForImport {
                dir: dir.path().to_path_buf(),
                row_versions: true,
                record_ids: true,
            },
            &batch,
            &invalid,
        );
        let versions: Vec<Option<[u8; 16]>> =
            memory.in_memory().iter().map(|r| r.row_version).collect();
        assert!(versions.iter().any(Option::is_some) && versions.iter().any(Option::is_none));
        let mut texts = spilled.texts().unwrap();
        for (n, json) in expected.iter().enumerate() {
            let (text, version) = texts.text_and_version(n).unwrap();
            assert_eq!(version, versions[n], "record {n}");
            assert_eq!(&text, json, "record {n}");
        }
        assert!(spilled.texts().is_err());
        assert!(spilled
            .for_each_run(10, |_| Ok::<(), std::io::Error>(()))
            .is_err());

        let mut copied = kept(&Keep::SpillIn(dir.path().to_path_buf()), &batch, &invalid);
        let mut out = tempfile::tempfile_in(dir.path()).unwrap();
        copied.write_jsonl(&mut out).unwrap();
        let mut written = String::new();
        std::io::Seek::rewind(&mut out).unwrap();
        std::io::Read::read_to_string(&mut out, &mut written).unwrap();
        assert_eq!(
            written,
            expected
                .iter()
                .map(|j| format!("{j}\n"))
                .collect::<String>()
        );
        assert!(copied.for_each_json(|_| Ok(())).is_err());
    }
}
