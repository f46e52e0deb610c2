//! `muster export`: the store as a workbook in the template's layout, a flat CSV, or JSONL
//! records, each row stamped with its `row_version` so an edited export can be imported again.

use crate::input::SheetKind;
use crate::report::{guard_formula, write_atomic, OutputError};
use crate::store::{Store, StoreError, StoredUser};
use crate::template::columns;
use crate::xlsx::{clip, header_format, Widths, TEXT_FORMAT};
use rayon::prelude::*;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::{Map, Value};
use std::path::Path;

/// Users read from the store, parsed and written at a time: the export holds this many, never
/// the whole store (a million users were 20 GB of parsed records).
const CHUNK: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The users an export writes: every stored user, or those one batch created. Each pass over
/// them gives the same users in the same order (run them inside [`Store::reading`]): the
/// manual users in the store's order, then the bots.
pub struct Selection<'a> {
    pub store: &'a Store,
    /// Only the users this batch (by id) created.
    pub created_by: Option<i64>,
}

impl Selection<'_> {
    fn each_chunk<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&[StoredUser]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.store.users_in_chunks(CHUNK, |mut chunk| {
            if let Some(batch) = self.created_by {
                chunk.retain(|u| u.created_by == Some(batch));
            }
            if chunk.is_empty() {
                return Ok(());
            }
            f(&chunk)?;
            // The parsed records are let go on the pool: on the reading thread, freeing them
            // took as long as reading the store (`perf`, a million users).
            chunk.into_par_iter().for_each(drop);
            Ok(())
        })
    }
}

/// Why a pass over the users stopped: the output's error, or the store's.
enum Stop<W> {
    Write(W),
    Store(StoreError),
}

impl<W> From<StoreError> for Stop<W> {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl<W> Stop<W> {
    /// The output's error for the writer, keeping a store error aside in `store` (the writers
    /// take only their own error type; the store's is the one to report).
    fn into_write(self, store: &mut Option<StoreError>, stand_in: impl FnOnce() -> W) -> W {
        match self {
            Stop::Write(e) => e,
            Stop::Store(e) => {
                *store = Some(e);
                stand_in()
            }
        }
    }
}

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
            add_custom(&mut custom, u);
        }
        UserTable::with_custom(custom)
    }

    fn with_custom(custom: Vec<String>) -> UserTable {
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

/// Adds the custom attributes of `u` that `custom` does not name yet, in their order.
fn add_custom(custom: &mut Vec<String>, u: &StoredUser) {
    if let Some(attrs) = u.record()["user"]["custom_attributes"].as_object() {
        for name in attrs.keys() {
            if !custom.contains(name) {
                custom.push(name.clone());
            }
        }
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

/// `-o F.jsonl|.csv|.xlsx`: writes the selected users and returns how many there were.
pub fn export(path: &Path, users: &Selection) -> Result<usize, ExportError> {
    let ext = if path.as_os_str() == "-" {
        "jsonl".to_string()
    } else {
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let mut count = 0;
    let mut store_error = None;
    users.store.reading(|| {
        let written = match ext.as_str() {
            "jsonl" => write_atomic(path, |w| {
                write_jsonl(w, users, &mut count)
                    .map_err(|e| e.into_write(&mut store_error, stopped))
            }),
            "csv" => {
                // The columns first: the custom attributes and integrations of every user.
                let columns = Columns::of(users)?;
                write_atomic(path, |w| {
                    write_csv(w, users, &columns, &mut count)
                        .map_err(|e| e.into_write(&mut store_error, stopped))
                })
            }
            "xlsx" => {
                let custom = Columns::of(users)?.custom;
                crate::report::write_workbook(path, |workbook| {
                    write_workbook(workbook, users, custom, &mut count).map_err(|e| {
                        e.into_write(&mut store_error, || {
                            XlsxError::ParameterError(stopped().to_string())
                        })
                    })
                })
            }
            _ => Err(OutputError::Extension {
                path: path.to_path_buf(),
                expected: ".xlsx, .csv or .jsonl",
            }),
        };
        match (store_error.take(), written) {
            (Some(e), _) => Err(ExportError::Store(e)),
            (None, written) => Ok(written?),
        }
    })?;
    Ok(count)
}

/// The writer's stand-in error when the store failed (the store's error is reported).
fn stopped() -> std::io::Error {
    std::io::Error::other("the store could not be read")
}

fn write_jsonl(
    w: &mut dyn std::io::Write,
    users: &Selection,
    count: &mut usize,
) -> Result<(), Stop<std::io::Error>> {
    users.each_chunk(|chunk| {
        let lines: Vec<Vec<u8>> = chunk
            .par_iter()
            .map(|u| {
                let mut line = serde_json::to_vec(&stamped(u)).expect("a JSON value serializes");
                line.push(b'\n');
                line
            })
            .collect();
        for line in lines {
            w.write_all(&line).map_err(Stop::Write)?;
        }
        *count += chunk.len();
        Ok(())
    })
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

/// What the manual users' columns are, from a first pass over them: their custom attributes (in
/// the order they first come) and, for the flat layout, the integrations of each ID list.
struct Columns {
    custom: Vec<String>,
    /// (prefix, record key, integration), sorted by list, then integration.
    inline: Vec<(&'static str, &'static str, String)>,
}

impl Columns {
    fn of(users: &Selection) -> Result<Columns, StoreError> {
        let mut custom = Vec::new();
        let mut ids: [std::collections::BTreeSet<String>; 3] = Default::default();
        users.each_chunk(|chunk| {
            // Each user's own, worked out on the pool; then added in the users' order.
            let found: Vec<(Vec<String>, [Vec<String>; 3])> = chunk
                .par_iter()
                .filter(|u| !u.bot)
                .map(|u| {
                    let mut own = Vec::new();
                    add_custom(&mut own, u);
                    let lists = LISTS.map(|(_, _, key)| {
                        u.record()["user_id_info"][key]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|e| e["integration"].as_str().map(str::to_string))
                            .collect()
                    });
                    (own, lists)
                })
                .collect();
            for (own, lists) in found {
                for name in own {
                    if !custom.contains(&name) {
                        custom.push(name);
                    }
                }
                for (set, list) in ids.iter_mut().zip(lists) {
                    set.extend(list);
                }
            }
            Ok::<(), StoreError>(())
        })?;
        let inline = LISTS
            .iter()
            .zip(ids)
            .flat_map(|(&(prefix, _, key), set)| set.into_iter().map(move |i| (prefix, key, i)))
            .collect();
        Ok(Columns { custom, inline })
    }
}

/// The flat layout: one row per manual user with inline ID columns, every cell guarded against
/// formula injection (reversed on reading, since the file has a `row_version` column). The bot
/// account has no place in a flat file: it is in the workbook and JSONL exports.
fn write_csv(
    w: &mut dyn std::io::Write,
    users: &Selection,
    columns: &Columns,
    count: &mut usize,
) -> Result<(), Stop<std::io::Error>> {
    let table = UserTable::with_custom(columns.custom.clone());
    let inline = &columns.inline;
    let mut headers = table.headers.clone();
    let row_version = headers.pop().expect("row_version is last");
    for (prefix, _, integration) in inline {
        headers.push(format!("{prefix}.{integration}.user_id"));
        if *prefix != "channel" {
            headers.push(format!("{prefix}.{integration}.external_id"));
        }
    }
    headers.push(row_version);
    let mut out = csv::Writer::from_writer(w);
    let io = |e: csv::Error| Stop::Write(std::io::Error::from(e));
    out.write_record(&headers).map_err(io)?;
    users.each_chunk(|chunk| {
        let rows: Vec<Vec<String>> = chunk
            .par_iter()
            .filter(|u| !u.bot)
            .map(|u| {
                let mut row = table.row(u);
                let version = row.pop().expect("row_version is last");
                for (prefix, key, integration) in inline {
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
                row
            })
            .collect();
        *count += chunk.len();
        for row in rows {
            out.write_record(row.iter().map(|c| guard_formula(c)))
                .map_err(io)?;
        }
        Ok::<(), Stop<std::io::Error>>(())
    })?;
    out.flush().map_err(Stop::Write)
}

/// One sheet of the exported workbook, written a chunk of users at a time.
struct SheetOut {
    name: &'static str,
    index: usize,
    next_row: u32,
    widths: Widths,
}

impl SheetOut {
    /// Adds a sheet, its header row still to be written ([`Self::header`]).
    fn add(workbook: &mut Workbook, name: &'static str) -> Result<SheetOut, XlsxError> {
        workbook
            .add_worksheet_with_constant_memory()?
            .set_name(name)?;
        Ok(SheetOut {
            name,
            index: workbook.worksheets().len() - 1,
            next_row: 0,
            widths: Widths::default(),
        })
    }

    /// The header row; every column is formatted as text, so that its cells, written without a
    /// format of their own, are text (and stay text as they are edited).
    fn header(&mut self, workbook: &mut Workbook, headers: &[String]) -> Result<(), XlsxError> {
        let ws = workbook.worksheet_from_index(self.index)?;
        let (header, text) = (
            header_format(),
            Format::new().set_num_format_index(TEXT_FORMAT),
        );
        for (c, h) in headers.iter().enumerate() {
            ws.set_column_format(c as u16, &text)?;
            ws.write_string_with_format(0, c as u16, h, &header)?;
            self.widths.see(c, h);
        }
        self.next_row = 1;
        Ok(())
    }

    fn rows(&mut self, workbook: &mut Workbook, rows: &[Vec<String>]) -> Result<(), XlsxError> {
        // Said before the writer's own "Row or column exceeds Excel's allowed limits".
        const EXCEL_ROWS: usize = 1_048_576;
        if self.next_row as usize + rows.len() > EXCEL_ROWS {
            return Err(XlsxError::ParameterError(format!(
                "the {} sheet needs more than the {EXCEL_ROWS} rows Excel holds; export to .csv \
                 or .jsonl instead",
                self.name
            )));
        }
        let ws = workbook.worksheet_from_index(self.index)?;
        for row in rows {
            for (c, value) in row.iter().enumerate() {
                if !value.is_empty() {
                    let value = clip(value);
                    ws.write_string(self.next_row, c as u16, value)?;
                    self.widths.see(c, value);
                }
            }
            self.next_row += 1;
        }
        Ok(())
    }

    fn finish(&self, workbook: &mut Workbook) -> Result<(), XlsxError> {
        let ws = workbook.worksheet_from_index(self.index)?;
        ws.set_freeze_panes(1, 0)?;
        self.widths.apply(ws)
    }
}

/// The template's layout: `Users`, the three ID sheets and `Bot Account`, every cell a string.
/// The sheets are written side by side, a chunk of users at a time; the bots come last.
fn write_workbook(
    workbook: &mut Workbook,
    users: &Selection,
    custom: Vec<String>,
    count: &mut usize,
) -> Result<(), Stop<XlsxError>> {
    let x = Stop::Write;
    let table = UserTable::with_custom(custom);
    let mut users_sheet = SheetOut::add(workbook, "Users").map_err(x)?;
    users_sheet.header(workbook, &table.headers).map_err(x)?;
    let mut id_sheets = Vec::new();
    for (_, kind, key) in LISTS {
        let headers: Vec<String> = columns(kind).iter().map(|c| c.name.to_string()).collect();
        let mut sheet = SheetOut::add(workbook, kind.sheet_name()).map_err(x)?;
        sheet.header(workbook, &headers).map_err(x)?;
        id_sheets.push((sheet, key, headers));
    }
    // Its header waits for the bots, whose custom attributes are its columns.
    let mut bot_sheet = SheetOut::add(workbook, SheetKind::Bot.sheet_name()).map_err(x)?;
    let mut bots: Vec<StoredUser> = Vec::new();
    users.each_chunk(|chunk| {
        let manual: Vec<Vec<String>> = chunk
            .par_iter()
            .filter(|u| !u.bot)
            .map(|u| table.row(u))
            .collect();
        users_sheet.rows(workbook, &manual).map_err(x)?;
        for (sheet, key, headers) in &mut id_sheets {
            let rows: Vec<Vec<String>> = chunk
                .par_iter()
                .flat_map_iter(|u| id_rows(u, key, headers))
                .collect();
            sheet.rows(workbook, &rows).map_err(x)?;
        }
        bots.extend(chunk.iter().filter(|u| u.bot).cloned());
        *count += chunk.len();
        Ok::<(), Stop<XlsxError>>(())
    })?;
    let bots: Vec<&StoredUser> = bots.iter().collect();
    let bot_table = UserTable::new(&bots);
    bot_sheet.header(workbook, &bot_table.headers).map_err(x)?;
    let rows: Vec<Vec<String>> = bots.iter().map(|u| bot_table.row(u)).collect();
    bot_sheet.rows(workbook, &rows).map_err(x)?;
    for sheet in id_sheets
        .iter()
        .map(|(s, _, _)| s)
        .chain([&users_sheet, &bot_sheet])
    {
        sheet.finish(workbook).map_err(x)?;
    }
    Ok(())
}

/// A user's rows on the ID sheet of the list `key`.
fn id_rows<'a>(
    u: &'a StoredUser,
    key: &'a str,
    headers: &'a [String],
) -> impl Iterator<Item = Vec<String>> + 'a {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_past_excels_rows_names_itself_and_the_way_out() {
        let mut workbook = Workbook::new();
        let headers = vec!["record_id".to_string()];
        let mut sheet = SheetOut::add(&mut workbook, "ITSM IDs").unwrap();
        sheet.header(&mut workbook, &headers).unwrap();
        let row = vec![vec!["R1".to_string()]];
        sheet.next_row = 1_048_575;
        sheet.rows(&mut workbook, &row).unwrap();
        let err = sheet.rows(&mut workbook, &row).unwrap_err().to_string();
        assert!(err.contains("ITSM IDs") && err.contains(".csv"), "{err}");
    }
}
