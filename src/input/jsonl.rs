//! Reading muster's own records (`--out` JSONL) back as a batch. Each record becomes a row of a
//! synthetic `Users` (or `Bot Account`) table whose row numbers are the file's line numbers; ID
//! info becomes inline `itsm.<integration>.user_id` columns, so the same rules apply.

use super::headers::{IdList, IdPart};
use super::{Cell, ReadProblem, Row, Sheet, SheetKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Column names in first-seen order, and each record's (line number, column → text).
type Table = (Vec<String>, Vec<(u32, BTreeMap<String, String>)>);

/// The keys a record has at its top level (SPEC §5's `--out` shape and `muster export`'s).
const RECORD_KEYS: [&str; 5] = [
    "record_id",
    "user",
    "user_id_info",
    "bot_account",
    "row_version",
];

/// Top-level keys no record has (a misspelt `user_id_inf`, another tool's own), each with
/// the first line it is on (F004).
pub type IgnoredKeys = Vec<(String, u32)>;

/// A problem with one of a record's ID entries, a finding on its line that makes the record
/// invalid: an integration listed twice in one list (D003, the record keeps the last), an
/// identity in `user.external_system_identities` that says otherwise than `user_id_info`
/// (D003: two entries for one integration), an entry without a `user_id` (V001).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryProblem {
    pub line: u32,
    pub record_id: String,
    pub code: &'static str,
    /// The report's field: `itsm.integration`, `itsm.user_id`.
    pub field: &'static str,
    pub value: String,
    pub message: String,
}

/// What [`flatten`] finds wrong with an entry; [`read`] adds the line and record id.
type EntryFault = (&'static str, &'static str, String, String);

/// Reads the records as sheets, the keys it ignored, and the problems of their ID entries.
pub fn read(
    path: &Path,
    shown: &str,
    file_index: usize,
) -> Result<(Vec<Sheet>, IgnoredKeys, Vec<EntryProblem>), ReadProblem> {
    let bytes = std::fs::read(path)
        .map_err(|e| ReadProblem::unreadable(format!("cannot read the file: {e}")))?;
    let (text, _) =
        super::csv::decode(&bytes, None).map_err(|why| ReadProblem::unreadable(why.to_string()))?;
    let mut tables: BTreeMap<bool, Table> = BTreeMap::new();
    let mut ignored: IgnoredKeys = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = i as u32 + 1;
        let record: Value = serde_json::from_str(line).map_err(|e| {
            ReadProblem::unreadable(format!("line {number} is not a JSON record: {e}"))
                .at_row(number)
        })?;
        let mut twice = Vec::new();
        let record = in_nfc(record, &mut twice);
        // JSON that is not a record would otherwise be a row of empty cells, or nothing.
        if !record["user"].is_object() {
            let what = match &record {
                Value::Object(_) => "an object without a `user` object",
                Value::Array(_) => "an array",
                Value::Null => "null",
                _ => "a single value",
            };
            return Err(ReadProblem::unreadable(format!(
                "line {number} is not a user record: it is {what}"
            ))
            .at_row(number));
        }
        for key in record.as_object().into_iter().flat_map(|o| o.keys()) {
            if !RECORD_KEYS.contains(&key.as_str()) && !ignored.iter().any(|(k, _)| k == key) {
                ignored.push((key.clone(), number));
            }
        }
        let bot = record["bot_account"].as_bool().unwrap_or(false);
        let (cells, faults) = flatten(&record).map_err(|why| {
            ReadProblem::unreadable(format!("line {number} is not a user record: {why}"))
                .at_row(number)
        })?;
        // Two keys of one object that are one in NFC: one value would be lost unsaid, as a
        // sheet's two columns of one name are F003 (adversarial review).
        for key in twice {
            problems.push(EntryProblem {
                line: number,
                record_id: cells["record_id"].trim().to_string(),
                code: "F003",
                field: "custom_attributes",
                value: key.clone(),
                message: format!(
                    "key `{key}` is given twice in this record, in two Unicode forms that are one text: one of its values would be lost"
                ),
            });
        }
        problems.extend(
            (faults.into_iter()).map(|(code, field, value, message)| EntryProblem {
                line: number,
                record_id: cells["record_id"].trim().to_string(),
                code,
                field,
                value,
                message,
            }),
        );
        let (columns, rows) = tables.entry(bot).or_default();
        for k in cells.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        rows.push((number, cells));
    }
    let sheets = tables
        .into_iter()
        .map(|(bot, (columns, rows))| {
            let header = Row {
                number: 0,
                cells: columns.iter().map(Cell::text).collect(),
            };
            let data = rows.into_iter().map(|(number, mut cells)| Row {
                number,
                cells: columns
                    .iter()
                    .map(|c| Cell::text(cells.remove(c).unwrap_or_default()))
                    .collect(),
            });
            let kind = if bot {
                SheetKind::Bot
            } else {
                SheetKind::Users
            };
            Sheet {
                file: shown.to_string(),
                sheet: None,
                kind,
                order: (file_index, bot as usize),
                rows: std::iter::once(header).chain(data).collect(),
                encoding: None,
                lettered: false,
                delimited: false,
                rest: None,
                hidden: Default::default(),
            }
        })
        .collect();
    Ok((sheets, ignored, problems))
}

/// The record with every string and key in NFC (SPEC §2), as the other readers give their
/// cells: a string's `\u0301` escapes are decoded only by the JSON parser, so the file's text
/// brought to NFC would not do (review: `Café-1` from JSONL was a second record id).
/// Keys that two keys of one object became are noted in `twice` (the first one's value kept).
fn in_nfc(value: Value, twice: &mut Vec<String>) -> Value {
    match value {
        Value::String(s) => Value::String(super::csv::to_nfc(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| in_nfc(v, twice)).collect()),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let k = super::csv::to_nfc(k);
                let v = in_nfc(v, twice);
                if out.contains_key(&k) {
                    twice.push(k);
                } else {
                    out.insert(k, v);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// What a JSON value that holds other values is (`an object`, `a list`); `None` for text,
/// a number, a boolean or null.
fn structured(v: &Value) -> Option<&'static str> {
    matches!(v, Value::Object(_) | Value::Array(_)).then(|| what_it_is(v))
}

fn what_it_is(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "an object",
        Value::Array(_) => "a list",
        Value::String(_) => "a text",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

/// A record's cells by column, and what is wrong with its entries.
type Flattened = (BTreeMap<String, String>, Vec<EntryFault>);

/// A record as column → cell text, and what is wrong with its entries (each column holds one
/// entry: the last); why not, for ID info muster would not read (and an import would then
/// take away from the stored record).
fn flatten(record: &Value) -> Result<Flattened, String> {
    let mut cells = BTreeMap::new();
    cells.insert("record_id".to_string(), text(&record["record_id"]));
    // `muster export` stamps each record with the stored version it was exported at (S004).
    if let Some(version) = record.get("row_version") {
        cells.insert("row_version".to_string(), text(version));
    }
    if let Some(user) = record["user"].as_object() {
        for (k, v) in user {
            match (k.as_str(), v) {
                ("custom_attributes", Value::Object(custom)) => {
                    for (name, value) in custom {
                        if let Some(what) = structured(value) {
                            return Err(format!("`user.custom_attributes.{name}` is {what}, not a text (a custom attribute is one text)"));
                        }
                        cells.insert(format!("custom.{name}"), text(value));
                    }
                }
                ("custom_attributes", Value::Null) => {}
                ("custom_attributes", other) => {
                    return Err(format!(
                        "`user.custom_attributes` is {}, not an object of texts",
                        what_it_is(other)
                    ));
                }
                ("external_system_identities", _) => {}
                // The one list of a user's own fields (a sheet's `;`-separated cell).
                ("user_tags", Value::Array(_)) => {
                    cells.insert(k.clone(), text(v));
                }
                _ => {
                    // Kept as JSON prints it, such a value would be stored as a text no one
                    // wrote (`{"code":"X"}`); a number or a boolean is its text, as a cell's.
                    if let Some(what) = structured(v) {
                        return Err(format!("`user.{k}` is {what}, not a text"));
                    }
                    cells.insert(k.clone(), text(v));
                }
            }
        }
    }
    let info = &record["user_id_info"];
    if let Some(what) = (info["user_emails"].as_array().into_iter().flatten()).find_map(structured)
    {
        return Err(format!(
            "an address in `user_id_info.user_emails` is {what}, not a text"
        ));
    }
    cells.insert("email_aliases".to_string(), text(&info["user_emails"]));
    let mut listed = Vec::new();
    let mut faults: Vec<EntryFault> = Vec::new();
    // The reference shape gives identities in `user.external_system_identities` alone;
    // muster reads them from `user_id_info`, which says which list each belongs to.
    let identities = record["user"]["external_system_identities"].as_object();
    for (key, list) in [
        ("channel_id_info", IdList::Channel),
        ("itsm_id_info", IdList::Itsm),
        ("idm_id_info", IdList::Idm),
    ] {
        let prefix = list.prefix();
        if !matches!(info[key], Value::Array(_) | Value::Null) {
            return Err(format!("`user_id_info.{key}` is not a list"));
        }
        for entry in info[key].as_array().into_iter().flatten() {
            for part in ["integration", "user_id", "external_id"] {
                if let Some(what) = structured(&entry[part]) {
                    return Err(format!(
                        "a `user_id_info.{key}` entry's `{part}` is {what}, not a text"
                    ));
                }
            }
            listed.push(text(&entry["integration"]));
            let integration = text(&entry["integration"]);
            let user_id = text(&entry["user_id"]);
            let external_id = (prefix != "channel").then(|| text(&entry["external_id"]));
            // A column's empty cell is no entry; an entry given is one, so it needs its id.
            if user_id.trim().is_empty()
                && external_id.as_deref().is_none_or(|e| e.trim().is_empty())
            {
                faults.push((
                    "V001",
                    list.field(IdPart::UserId),
                    user_id.clone(),
                    format!("the `{key}` entry for `{integration}` has no `user_id`"),
                ));
            }
            // What `external_system_identities` says of the same integration must agree.
            let stated = identities.and_then(|m| m.get(&integration));
            for (part, given) in [
                ("user_id", Some(&user_id)),
                ("external_id", external_id.as_ref()),
            ] {
                let Some(given) = given else { continue };
                let other = stated.map(|s| text(&s[part])).filter(|o| !o.is_empty());
                if let Some(other) = other.filter(|o| !same_identity(o, given)) {
                    faults.push((
                        "D003",
                        list.field(if part == "user_id" { IdPart::UserId } else { IdPart::ExternalId }),
                        given.clone(),
                        format!("`user.external_system_identities.{integration}.{part}` is `{other}` where the `{key}` entry has `{given}`: a user has one identity per integration (muster reads `user_id_info`; make the two agree)"),
                    ));
                }
            }
            let before = cells.insert(format!("{prefix}.{integration}.user_id"), user_id);
            if before.is_some() {
                faults.push((
                    "D003",
                    list.field(IdPart::Integration),
                    integration.clone(),
                    format!("two `{key}` entries for `{integration}`: a user has at most one per integration"),
                ));
            }
            if let Some(external_id) = external_id {
                cells.insert(format!("{prefix}.{integration}.external_id"), external_id);
            }
        }
    }
    if let Some(missing) = identities
        .into_iter()
        .flat_map(|m| m.keys())
        .find(|k| !listed.contains(k))
    {
        return Err(format!(
            "`user.external_system_identities` names `{missing}`, which `user_id_info` does not list (muster reads ID info from `user_id_info`)"
        ));
    }
    Ok((cells, faults))
}

/// Whether two writings of one id are the same identity as muster reads them: case aside
/// (a GUID or sys_id is lower-cased, N008) and a Salesforce id's 15 characters against its 18
/// (N006).
fn same_identity(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    let salesforce = |short: &str, long: &str| {
        short.len() == 15 && long.len() == 18 && long.is_char_boundary(15) && long[..15] == *short
    };
    a.eq_ignore_ascii_case(b) || salesforce(a, b) || salesforce(b, a)
}
