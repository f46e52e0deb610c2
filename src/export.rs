//! `muster export`: the store as a workbook in the template's layout, a flat CSV, or JSONL
//! records, each row stamped with its `row_version` so an edited export can be imported again.

use crate::input::SheetKind;
use crate::report::{guard_formula, write_atomic, OutputError};
use crate::store::StoredUser;
use crate::template::columns;
use crate::xlsx::{clip, header_format, Widths, TEXT_FORMAT};
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::{Map, Value};
use std::path::Path;

/// The user columns every export writes: the template's, then custom attributes, then
/// `row_version`.
struct UserTable {
    headers: Vec<String>,
    custom: Vec<String>,
}

impl UserTable {
    fn new(users: &[&StoredUser]) -> UserTable {
        let mut custom: Vec<String> = Vec::new();
        for u in users {
            if let Some(attrs) = u.record()["user"]["custom_attributes"].as_object() {
                for name in attrs.keys() {
                    if !custom.contains(name) {
                        custom.push(name.clone());
                    }
                }
            }
        }
        let mut headers: Vec<String> = columns(SheetKind::Users)
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        headers.extend(custom.iter().map(|c| format!("custom.{c}")));
        headers.push("row_version".to_string());
        UserTable { headers, custom }
    }

    fn row(&self, u: &StoredUser) -> Vec<String> {
        let user = &u.record()["user"];
        let mut row: Vec<String> = columns(SheetKind::Users)
            .iter()
            .map(|c| match c.name {
                "record_id" => u.record_id.clone(),
                "email_aliases" => joined(&u.record()["user_id_info"]["user_emails"]),
                name => joined(&user[name]),
            })
            .collect();
        row.extend(
            self.custom
                .iter()
                .map(|c| joined(&user["custom_attributes"][c])),
        );
        row.push(u.row_version.clone());
        row
    }
}

/// A value as one cell: lists joined with `;`.
fn joined(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(joined).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

/// (list prefix, ID sheet, record key) of the three ID-info lists.
const LISTS: [(&str, SheetKind, &str); 3] = [
    ("itsm", SheetKind::Itsm, "itsm_id_info"),
    ("channel", SheetKind::Channel, "channel_id_info"),
    ("idm", SheetKind::Idm, "idm_id_info"),
];

/// `-o F.jsonl|.csv|.xlsx`.
pub fn export(path: &Path, users: &[StoredUser]) -> Result<(), OutputError> {
    let ext = if path.as_os_str() == "-" {
        "jsonl".to_string()
    } else {
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    match ext.as_str() {
        "jsonl" => write_atomic(path, |w| {
            for u in users {
                serde_json::to_writer(&mut *w, &stamped(u))?;
                writeln!(w)?;
            }
            Ok(())
        }),
        "csv" => write_atomic(path, |w| write_csv(w, users)),
        "xlsx" => crate::report::write_workbook(path, |workbook| write_workbook(workbook, users)),
        _ => Err(OutputError::Extension {
            path: path.to_path_buf(),
            expected: ".xlsx, .csv or .jsonl",
        }),
    }
}

/// The record with `row_version` after `record_id`.
fn stamped(u: &StoredUser) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = &u.record() {
        for (k, v) in m {
            out.insert(k.clone(), v.clone());
            if k == "record_id" {
                out.insert("row_version".into(), Value::String(u.row_version.clone()));
            }
        }
    }
    Value::Object(out)
}

/// The flat layout: one row per manual user with inline ID columns, every cell guarded against
/// formula injection (reversed on reading, since the file has a `row_version` column). The bot
/// account has no place in a flat file: it is in the workbook and JSONL exports.
fn write_csv(w: &mut dyn std::io::Write, users: &[StoredUser]) -> std::io::Result<()> {
    let manual: Vec<&StoredUser> = users.iter().filter(|u| !u.bot).collect();
    let table = UserTable::new(&manual);
    let mut inline: Vec<(&str, &str, String)> = Vec::new(); // (prefix, key, integration)
    for (prefix, _, key) in LISTS {
        let mut ids: Vec<String> = manual
            .iter()
            .flat_map(|u| {
                u.record()["user_id_info"][key]
                    .as_array()
                    .into_iter()
                    .flatten()
            })
            .filter_map(|e| e["integration"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids.dedup();
        inline.extend(ids.into_iter().map(|i| (prefix, key, i)));
    }
    let mut headers = table.headers.clone();
    let row_version = headers.pop().expect("row_version is last");
    for (prefix, _, integration) in &inline {
        headers.push(format!("{prefix}.{integration}.user_id"));
        if *prefix != "channel" {
            headers.push(format!("{prefix}.{integration}.external_id"));
        }
    }
    headers.push(row_version);
    let mut out = csv::Writer::from_writer(w);
    out.write_record(&headers)?;
    for u in manual {
        let mut row = table.row(u);
        let version = row.pop().expect("row_version is last");
        for (prefix, key, integration) in &inline {
            let entry = u.record()["user_id_info"][*key]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["integration"].as_str() == Some(integration.as_str()));
            let field = |name: &str| entry.map(|e| joined(&e[name])).unwrap_or_default();
            row.push(field("user_id"));
            if *prefix != "channel" {
                row.push(field("external_id"));
            }
        }
        row.push(version);
        out.write_record(row.iter().map(|c| guard_formula(c)))?;
    }
    out.flush()
}

/// The template's layout: `Users`, the three ID sheets and `Bot Account`, every cell a string.
fn write_workbook(workbook: &mut Workbook, users: &[StoredUser]) -> Result<(), XlsxError> {
    let header = header_format();
    let text = Format::new().set_num_format_index(TEXT_FORMAT);
    let manual: Vec<&StoredUser> = users.iter().filter(|u| !u.bot).collect();
    let bots: Vec<&StoredUser> = users.iter().filter(|u| u.bot).collect();
    let mut sheet = |name: &str,
                     headers: &[String],
                     rows: &mut dyn Iterator<Item = Vec<String>>|
     -> Result<(), XlsxError> {
        let ws = workbook.add_worksheet_with_constant_memory()?;
        ws.set_name(name)?;
        let mut widths = Widths::default();
        for (c, h) in headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &header)?;
            widths.see(c, h);
        }
        for (r, row) in rows.enumerate() {
            for (c, value) in row.iter().enumerate() {
                if !value.is_empty() {
                    let value = clip(value);
                    ws.write_string_with_format(r as u32 + 1, c as u16, value, &text)?;
                    widths.see(c, value);
                }
            }
        }
        ws.set_freeze_panes(1, 0)?;
        widths.apply(ws)
    };
    let table = UserTable::new(&manual);
    sheet(
        "Users",
        &table.headers,
        &mut manual.iter().map(|u| table.row(u)),
    )?;
    for (_, kind, key) in LISTS {
        let headers: Vec<String> = columns(kind).iter().map(|c| c.name.to_string()).collect();
        let mut rows = users.iter().flat_map(|u| {
            let headers = &headers;
            u.record()["user_id_info"][key]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |e| {
                    headers
                        .iter()
                        .map(|h| match h.as_str() {
                            "record_id" => u.record_id.clone(),
                            name => joined(&e[name]),
                        })
                        .collect()
                })
        });
        sheet(kind.sheet_name(), &headers, &mut rows)?;
    }
    let table = UserTable::new(&bots);
    sheet(
        SheetKind::Bot.sheet_name(),
        &table.headers,
        &mut bots.iter().map(|u| table.row(u)),
    )?;
    Ok(())
}
