//! `muster export`: the store as a workbook in the template's layout, a flat CSV, or JSONL
//! records, each row stamped with its `row_version` so an edited export can be imported again.

use crate::input::SheetKind;
use crate::progress::Progress;
use crate::report::{guard_formula, write_atomic, OutputError};
use crate::store::{Store, StoreError, StoredUser, UserSource};
use crate::template::columns;
use crate::xlsx::{clip, header_format, Widths, TEXT_FORMAT};
use indicatif::ProgressBar;
use rayon::prelude::*;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::{Map, Value};
use std::path::Path;
use view::{member, RecordView};

mod view;

/// Users read from the store, parsed and written at a time: the export holds a few such
/// chunks, never the whole store (a million users were 20 GB of parsed records). Tests take
/// three, so that a few users make several chunks.
const CHUNK: usize = if cfg!(test) { 3 } else { 4096 };

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
    /// Each chunk of users through `work` on the pool, then its result and its number of
    /// users through `write` on this thread (and onto `bar`), chunk after chunk in order.
    /// While the pool works
    /// on one chunk, this thread writes the one before and reads the one after: SQLite's
    /// reads and the output's writes stay on the thread that owns them, and none of the three
    /// waits for the others (one after the other, the pool sat idle for half of an export).
    fn each_chunk<T: Send, E: From<StoreError>>(
        &self,
        bar: &ProgressBar,
        work: impl Fn(&[StoredUser]) -> T + Sync,
        mut write: impl FnMut(T, usize) -> Result<(), E>,
    ) -> Result<(), E> {
        use std::sync::mpsc::{sync_channel, Receiver};
        let work = &work;
        // The chunks on the pool, oldest first, each with its number of users.
        type Pending<T> = std::collections::VecDeque<(Receiver<T>, usize)>;
        let mut pending: Pending<T> = Default::default();
        let mut write_oldest = |pending: &mut Pending<T>| -> Result<(), E> {
            let Some((done, users)) = pending.pop_front() else {
                return Ok(());
            };
            // A task that panicked sent nothing: stop here, not a chunk short at the end.
            let t = done
                .recv()
                .unwrap_or_else(|_| panic!("the work on a chunk of users panicked"));
            write(t, users)?;
            bar.inc(users as u64);
            Ok(())
        };
        // Its rate and time left from this pass's start; cleared however the pass ends.
        bar.reset();
        let passed = rayon::in_place_scope(|scope| {
            self.store
                .users_in_chunks(CHUNK, |mut chunk| -> Result<(), E> {
                    if let Some(batch) = self.created_by {
                        chunk.retain(|u| u.created_by == Some(batch));
                    }
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    let (send, done) = sync_channel(1);
                    pending.push_back((done, chunk.len()));
                    // The chunk is let go on the pool too: on the reading thread, freeing parsed
                    // records once took as long as reading the store (`perf`, a million users).
                    scope.spawn(move |_| {
                        let _ = send.send(work(&chunk));
                    });
                    if pending.len() > 1 {
                        write_oldest(&mut pending)?;
                    }
                    Ok(())
                })?;
            while !pending.is_empty() {
                write_oldest(&mut pending)?;
            }
            Ok(())
        });
        bar.finish_and_clear();
        passed
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
    fn new<'v>(views: impl Iterator<Item = &'v RecordView>) -> UserTable {
        let mut custom: Vec<String> = Vec::new();
        for v in views {
            add_custom(&mut custom, v);
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

    fn row(&self, u: &StoredUser, v: &RecordView) -> Vec<String> {
        let mut row: Vec<String> = columns(SheetKind::Users)
            .iter()
            .map(|c| match c.name {
                "record_id" => u.record_id.clone(),
                "email_aliases" => v.emails.clone(),
                name => v.user(name).to_string(),
            })
            .collect();
        row.extend(self.custom.iter().map(|c| v.custom(c).to_string()));
        row.push(u.row_version.clone());
        row
    }
}

/// Adds the custom attributes of a record that `custom` does not name yet, in their order.
fn add_custom(custom: &mut Vec<String>, v: &RecordView) {
    for (name, _) in &v.custom {
        if !custom.contains(name) {
            custom.push(name.clone());
        }
    }
}

/// (list prefix, ID sheet) of the three ID-info lists, in the order of [`RecordView::lists`].
const LISTS: [(&str, SheetKind); 3] = [
    ("itsm", SheetKind::Itsm),
    ("channel", SheetKind::Channel),
    ("idm", SheetKind::Idm),
];

/// `-o F.jsonl|.csv|.xlsx`: writes the selected users and returns how many there were.
pub fn export(path: &Path, users: &Selection, progress: Progress) -> Result<usize, ExportError> {
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
        // The bars' length: every stored user (counted from an index), or, for one batch's
        // users, which only reading the records would count, none.
        let len = match users.created_by {
            None if progress.shown() => Some(users.store.user_count()?),
            _ => None,
        };
        let columns_bar = progress.users("reading the columns".to_string(), len);
        let shown = match path.as_os_str() == "-" {
            true => "standard output".into(),
            false => path.display().to_string(),
        };
        let writing_bar = progress.users(format!("writing {shown}"), len);
        let written = match ext.as_str() {
            "jsonl" => write_atomic(path, |w| {
                write_jsonl(w, users, &writing_bar, &mut count)
                    .map_err(|e| e.into_write(&mut store_error, stopped))
            }),
            "csv" => {
                // The columns first: the custom attributes and integrations of every user.
                let columns = Columns::of(users, &columns_bar)?;
                write_atomic(path, |w| {
                    write_csv(w, users, &columns, &writing_bar, &mut count)
                        .map_err(|e| e.into_write(&mut store_error, stopped))
                })
            }
            "xlsx" => {
                let columns = Columns::of(users, &columns_bar)?;
                // Shown while the workbook is zipped, once its sheets are written.
                let mut saving = None;
                let written = crate::report::write_workbook(path, |workbook| {
                    let filled = write_workbook(workbook, users, columns, &writing_bar, &mut count);
                    if filled.is_ok() {
                        saving = Some(progress.spinner(format!("saving {shown}")));
                    }
                    filled.map_err(|e| {
                        e.into_write(&mut store_error, || {
                            XlsxError::ParameterError(stopped().to_string())
                        })
                    })
                });
                saving.inspect(ProgressBar::finish_and_clear);
                written
            }
            _ => Err(OutputError::Extension {
                path: path.to_path_buf(),
                expected: ".xlsx, .csv or .jsonl",
            }),
        };
        // A pass that never ran (a sheet refused first) leaves its bar to clear.
        writing_bar.finish_and_clear();
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
    bar: &ProgressBar,
    count: &mut usize,
) -> Result<(), Stop<std::io::Error>> {
    users.each_chunk(
        bar,
        |chunk| {
            let lines: Vec<Vec<u8>> = chunk
                .par_iter()
                .map(|u| {
                    let mut line = match spliced(u) {
                        Some(line) => line,
                        None => serde_json::to_vec(&stamped(u)).expect("a JSON value serializes"),
                    };
                    line.push(b'\n');
                    line
                })
                .collect();
            lines
        },
        |lines, users| {
            for line in lines {
                w.write_all(&line).map_err(Stop::Write)?;
            }
            *count += users;
            Ok(())
        },
    )
}

/// The stored text with `"row_version":"…"` spliced in after the record id, when the text
/// starts with it as muster writes every record (`{"record_id":"…",…`), is JSON, and holds
/// no line break. For every text muster wrote the bytes are those [`stamped`] would write (a
/// text edited by hand may keep its own spaces or escapes), without parsing the record into a
/// tree and writing it again (the whole of a JSONL export's time: `perf`, docs/benchmarks.md).
fn spliced(u: &StoredUser) -> Option<Vec<u8>> {
    const HEAD: &str = "{\"record_id\":";
    let rest = u.text.strip_prefix(HEAD).filter(|r| r.starts_with('"'))?;
    // A line break would split the JSONL line; text that is not JSON is written as before.
    if memchr::memchr2(b'\n', b'\r', u.text.as_bytes()).is_some()
        || serde_json::from_str::<serde::de::IgnoredAny>(&u.text).is_err()
    {
        return None;
    }
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    // The record id as a string, then a comma and the next member: a record holds `user`.
    values.next()?.ok()?;
    let (id, after) = rest.split_at(values.byte_offset());
    after.strip_prefix(',')?;
    let version = serde_json::to_string(&u.row_version).expect("a string serializes");
    let mut line = Vec::with_capacity(u.text.len() + version.len() + 16);
    line.extend_from_slice(HEAD.as_bytes());
    line.extend_from_slice(id.as_bytes());
    line.extend_from_slice(b",\"row_version\":");
    line.extend_from_slice(version.as_bytes());
    line.extend_from_slice(after.as_bytes());
    Some(line)
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
    /// (prefix, list slot, integration), sorted by list, then integration.
    inline: Vec<(&'static str, usize, String)>,
    /// The rows the workbook's Users sheet and three ID sheets will hold, headers aside: a
    /// sheet past Excel's rows is refused before anything is written.
    rows: [usize; 4],
}

impl Columns {
    fn of(users: &Selection, bar: &ProgressBar) -> Result<Columns, StoreError> {
        let mut custom = Vec::new();
        let mut ids: [std::collections::BTreeSet<String>; 3] = Default::default();
        let mut rows = [0; 4];
        /// A user's custom attributes, integrations by list, and rows on the four sheets.
        type Own = (Vec<String>, [Vec<String>; 3], [usize; 4]);
        users.each_chunk(
            bar,
            // Each user's own, worked out on the pool; then added in the users' order.
            |chunk| -> Vec<Own> {
                chunk
                    .par_iter()
                    .map(|u| {
                        let RecordView { custom, lists, .. } = RecordView::of(&u.text);
                        // A bot's entries are on the ID sheets; it has a sheet of its own and
                        // no columns in the flat file.
                        let [itsm, channel, idm] = lists.each_ref().map(Vec::len);
                        let rows = [usize::from(!u.bot), itsm, channel, idm];
                        if u.bot {
                            return (Vec::new(), Default::default(), rows);
                        }
                        let own = custom.into_iter().map(|(name, _)| name).collect();
                        // An entry without an integration (muster writes none such) names no column.
                        let lists = lists.map(|entries| {
                            entries
                                .into_iter()
                                .filter_map(|mut e| {
                                    let k = e.iter().position(|(n, _)| n == "integration")?;
                                    Some(e.swap_remove(k).1).filter(|i| !i.is_empty())
                                })
                                .collect()
                        });
                        (own, lists, rows)
                    })
                    .collect()
            },
            |found, _| {
                for (own, lists, own_rows) in found {
                    for (total, n) in rows.iter_mut().zip(own_rows) {
                        *total += n;
                    }
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
            },
        )?;
        let inline = LISTS
            .iter()
            .zip(ids)
            .enumerate()
            .flat_map(|(slot, (&(prefix, _), set))| set.into_iter().map(move |i| (prefix, slot, i)))
            .collect();
        Ok(Columns {
            custom,
            inline,
            rows,
        })
    }
}

/// The flat layout: one row per manual user with inline ID columns, every cell guarded against
/// formula injection (reversed on reading, since the file has a `row_version` column). The bot
/// account has no place in a flat file: it is in the workbook and JSONL exports.
fn write_csv(
    w: &mut dyn std::io::Write,
    users: &Selection,
    columns: &Columns,
    bar: &ProgressBar,
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
    // A byte-order mark: without it, Excel and LibreOffice open the file as Windows-1252 or
    // Latin-1, and a save writes `José` back as `JosÃ©` (review; `plan::reformatted` refuses
    // such an import, but the admin has edited a file that shows every accent wrong).
    w.write_all("\u{FEFF}".as_bytes()).map_err(Stop::Write)?;
    let mut out = csv::Writer::from_writer(w);
    let io = |e: csv::Error| Stop::Write(std::io::Error::from(e));
    out.write_record(&headers).map_err(io)?;
    users.each_chunk(
        bar,
        |chunk| -> Vec<Vec<String>> {
            chunk
                .par_iter()
                .filter(|u| !u.bot)
                .map(|u| {
                    let v = RecordView::of(&u.text);
                    let mut row = table.row(u, &v);
                    let version = row.pop().expect("row_version is last");
                    for (prefix, slot, integration) in inline {
                        let entry = v.lists[*slot]
                            .iter()
                            .find(|e| member(e, "integration") == integration);
                        let field = |name: &str| entry.map_or("", |e| member(e, name)).to_string();
                        row.push(field("user_id"));
                        if *prefix != "channel" {
                            row.push(field("external_id"));
                        }
                    }
                    row.push(version);
                    row
                })
                .collect()
        },
        |rows, _| {
            // The users written: the bot is not one (a flat row cannot say "bot").
            *count += rows.len();
            for row in rows {
                out.write_record(row.iter().map(|c| guard_formula(c)))
                    .map_err(io)?;
            }
            Ok::<(), Stop<std::io::Error>>(())
        },
    )?;
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
        // Custom attributes from many batches can add up past a sheet's columns (each batch
        // is held to 1,000): said before the writer's own "Row or column exceeds Excel's
        // allowed limits", and before a column number past 65,535 would wrap.
        const EXCEL_COLUMNS: usize = 16_384;
        if headers.len() > EXCEL_COLUMNS {
            return Err(XlsxError::ParameterError(format!(
                "the {} sheet needs {} columns (its users' custom attributes with the standard \
                 ones), more than the {EXCEL_COLUMNS} Excel holds; export to .jsonl instead",
                self.name,
                headers.len()
            )));
        }
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

    /// Refuses `more` rows past the sheet's last that Excel could not hold, before the
    /// writer's own "Row or column exceeds Excel's allowed limits" would.
    fn fits(&self, more: usize) -> Result<(), XlsxError> {
        const EXCEL_ROWS: usize = 1_048_576;
        if self.next_row as usize + more > EXCEL_ROWS {
            return Err(XlsxError::ParameterError(format!(
                "the {} sheet needs more than the {EXCEL_ROWS} rows Excel holds; export to .csv \
                 or .jsonl instead",
                self.name
            )));
        }
        Ok(())
    }

    fn rows(&mut self, workbook: &mut Workbook, rows: &[Vec<String>]) -> Result<(), XlsxError> {
        self.fits(rows.len())?;
        let ws = workbook.worksheet_from_index(self.index)?;
        for row in rows {
            for (c, value) in row.iter().enumerate() {
                if !value.is_empty() {
                    // A text cell needs no guard against formulas; clipped after the guard
                    // (review: a value of the cell's full length failed the export).
                    let value = crate::report::guard_guarded(value);
                    let value = clip(&value);
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
    found: Columns,
    bar: &ProgressBar,
    count: &mut usize,
) -> Result<(), Stop<XlsxError>> {
    let x = Stop::Write;
    let table = UserTable::with_custom(found.custom);
    let mut users_sheet = SheetOut::add(workbook, "Users").map_err(x)?;
    users_sheet.header(workbook, &table.headers).map_err(x)?;
    let mut id_sheets = Vec::new();
    let mut id_headers = Vec::new();
    for (_, kind) in LISTS {
        let headers: Vec<String> = columns(kind).iter().map(|c| c.name.to_string()).collect();
        let mut sheet = SheetOut::add(workbook, kind.sheet_name()).map_err(x)?;
        sheet.header(workbook, &headers).map_err(x)?;
        id_sheets.push(sheet);
        id_headers.push(headers);
    }
    // A sheet Excel could not hold is refused before any row is written (at a million users,
    // after 7 s rather than 19).
    for (sheet, rows) in [&users_sheet].into_iter().chain(&id_sheets).zip(found.rows) {
        sheet.fits(rows).map_err(x)?;
    }
    // Its header waits for the bots, whose custom attributes are its columns.
    let mut bot_sheet = SheetOut::add(workbook, SheetKind::Bot.sheet_name()).map_err(x)?;
    let mut bots: Vec<(StoredUser, RecordView)> = Vec::new();
    /// A user's rows: on the Users sheet (none for a bot), on each ID sheet, and the bot.
    type Rows = (
        Option<Vec<String>>,
        [Vec<Vec<String>>; 3],
        Option<(StoredUser, RecordView)>,
    );
    users.each_chunk(
        bar,
        |chunk| -> Vec<Rows> {
            // Each user's rows on the four sheets, its record read once.
            chunk
                .par_iter()
                .map(|u| {
                    let v = RecordView::of(&u.text);
                    let ids = std::array::from_fn(|slot| id_rows(u, &v, slot, &id_headers[slot]));
                    if u.bot {
                        (None, ids, Some((u.clone(), v)))
                    } else {
                        (Some(table.row(u, &v)), ids, None)
                    }
                })
                .collect()
        },
        |rows, users| {
            let mut manual = Vec::new();
            let mut per_sheet: [Vec<Vec<String>>; 3] = Default::default();
            for (row, ids, bot) in rows {
                manual.extend(row);
                for (sheet, rows) in per_sheet.iter_mut().zip(ids) {
                    sheet.extend(rows);
                }
                bots.extend(bot);
            }
            users_sheet.rows(workbook, &manual).map_err(x)?;
            for (sheet, rows) in id_sheets.iter_mut().zip(&per_sheet) {
                sheet.rows(workbook, rows).map_err(x)?;
            }
            *count += users;
            Ok::<(), Stop<XlsxError>>(())
        },
    )?;
    let bot_table = UserTable::new(bots.iter().map(|(_, v)| v));
    bot_sheet.header(workbook, &bot_table.headers).map_err(x)?;
    let rows: Vec<Vec<String>> = bots.iter().map(|(u, v)| bot_table.row(u, v)).collect();
    bot_sheet.rows(workbook, &rows).map_err(x)?;
    // What the columns pass counted is what was written.
    for (sheet, rows) in [&users_sheet].into_iter().chain(&id_sheets).zip(found.rows) {
        debug_assert_eq!(sheet.next_row as usize - 1, rows, "{}", sheet.name);
    }
    for sheet in id_sheets.iter().chain([&users_sheet, &bot_sheet]) {
        sheet.finish(workbook).map_err(x)?;
    }
    Ok(())
}

/// A user's rows on the ID sheet of the list in `slot`.
fn id_rows(u: &StoredUser, v: &RecordView, slot: usize, headers: &[String]) -> Vec<Vec<String>> {
    v.lists[slot]
        .iter()
        .map(|e| {
            headers
                .iter()
                .map(|h| match h.as_str() {
                    "record_id" => u.record_id.clone(),
                    name => member(e, name).to_string(),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Action, BatchInfo, Change, Counts, RecordJson};

    /// A store of users R0…R{n-1}, R4 the bot.
    fn store_of(dir: &Path, n: usize) -> Store {
        let mut store = Store::open(&dir.join("s.db")).unwrap();
        let changes: Vec<Change> = (0..n)
            .map(|i| Change {
                record_id: format!("R{i}"),
                action: Action::Create,
                bot: i == 4,
                before: None,
                after: Some(RecordJson(format!(r#"{{"record_id":"R{i}","user":{{}}}}"#))),
            })
            .collect();
        let info = BatchInfo {
            name: "b",
            file: "",
            sha256: "",
            counts: Counts {
                create: n,
                ..Default::default()
            },
        };
        let mut writer = store.write().unwrap();
        writer.apply(&info, &changes).unwrap();
        writer.commit().unwrap();
        store
    }

    #[test]
    fn chunks_are_written_in_order_each_counted_on_the_bar() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of(dir.path(), 10);
        let users = Selection {
            store: &store,
            created_by: None,
        };
        let bar = ProgressBar::hidden();
        let mut written = Vec::new();
        store
            .reading(|| {
                users.each_chunk(
                    &bar,
                    |chunk| {
                        chunk
                            .iter()
                            .map(|u| u.record_id.clone())
                            .collect::<Vec<_>>()
                    },
                    |ids, users| {
                        assert_eq!(ids.len(), users);
                        written.extend(ids);
                        Ok::<(), StoreError>(())
                    },
                )
            })
            .unwrap();
        // Four chunks of three: the manual users in the store's order, then the bot.
        let expected: Vec<String> = [0, 1, 2, 3, 5, 6, 7, 8, 9, 4]
            .iter()
            .map(|i| format!("R{i}"))
            .collect();
        assert_eq!(written, expected);
        assert_eq!(bar.position(), 10);
        assert!(bar.is_finished());
    }

    #[test]
    fn the_version_spliced_into_the_text_is_the_record_written_again() {
        let texts = [
            r#"{"record_id":"CTR-1","user":{"first_name":"Zoë","email_addr":"z@x.com"}}"#,
            r#"{"record_id":"a \"quoted\" \\ id","user":{"email_addr":"q@x.com"},"user_id_info":{"user_emails":[]}}"#,
            r#"{"record_id":"Ünï-\u0001","bot":true,"user":{}}"#,
        ];
        for (k, text) in texts.into_iter().enumerate() {
            let version = ["v1", "7f3a\"x", "é"][k];
            let u = StoredUser::new(
                "ignored".into(),
                false,
                text.to_string(),
                version.to_string(),
                None,
            );
            let written = serde_json::to_vec(&stamped(&u)).unwrap();
            assert_eq!(
                spliced(&u).map(String::from_utf8),
                Some(Ok(String::from_utf8(written).unwrap())),
                "{text}"
            );
        }
        // Texts muster does not write are parsed and written again.
        for text in [
            r#"{"user":{},"record_id":"R"}"#,
            r#"{"record_id":"R"}"#,
            r#"{"record_id": "R","user":{}}"#,
            r#"{"record_id":7,"user":{}}"#,
            r#"{"record_id":"R"#,
            "{\"record_id\":\"R\",\n\"user\":{}}",
            "{\"record_id\":\"R\",\"user\":{}}\r\n",
            r#"{"record_id":"R","user":{"#,
            r#"{"record_id":"R","user":{}}}"#,
        ] {
            let u = StoredUser::new("R".into(), false, text.into(), "v".into(), None);
            assert_eq!(spliced(&u), None, "{text}");
        }
    }

    /// Writes a workbook of a store of three users, as if the columns pass had found
    /// `found`: the error it is refused with, the rows counted, and the bar's position.
    fn refused_workbook(found: Columns) -> (String, usize, u64) {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of(dir.path(), 3);
        let users = Selection {
            store: &store,
            created_by: None,
        };
        let (mut count, mut workbook, bar) = (0, Workbook::new(), ProgressBar::hidden());
        let err = store.reading(|| {
            match write_workbook(&mut workbook, &users, found, &bar, &mut count) {
                Err(Stop::Write(e)) => Ok(e.to_string()),
                _ => panic!("not refused"),
            }
        });
        let err = err.map_err(|e: StoreError| e.to_string()).unwrap();
        (err, count, bar.position())
    }

    #[test]
    fn a_users_sheet_wider_than_excel_s_is_refused_before_any_row() {
        let (err, count, _) = refused_workbook(Columns {
            custom: (0..16_400).map(|i| format!("c{i}")).collect(),
            inline: Vec::new(),
            rows: [3, 0, 0, 0],
        });
        assert!(
            err.contains("Users sheet needs") && err.contains(".jsonl"),
            "{err}"
        );
        assert_eq!(count, 0);
    }

    #[test]
    fn a_workbook_whose_sheet_excel_cannot_hold_is_refused_before_any_row() {
        // As the columns pass would find them for a store of a million users.
        let (err, count, position) = refused_workbook(Columns {
            custom: Vec::new(),
            inline: Vec::new(),
            rows: [3, 1_048_576, 0, 0],
        });
        assert!(err.contains("ITSM IDs") && err.contains(".csv"), "{err}");
        assert_eq!((count, position), (0, 0));
    }

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
