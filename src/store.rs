//! The store (SPEC §6): a SQLite database holding the current manual users and the bot, every
//! batch applied and a change log. Every write happens in one transaction taken with
//! `BEGIN IMMEDIATE`, so two imports never interleave and a killed process leaves the store as it
//! was before or after (WAL, synchronous writes).

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod keys;

/// `PRAGMA application_id`: "must" in ASCII, so muster knows its own databases.
const APPLICATION_ID: i32 = 0x6d75_7374;

/// The page size of a new store. A user's row is about 2.9 KB (2.4 KB of record JSON, its keys
/// and digest): 8 KB pages held two, a third of each page left empty; at 16 KB five fit, and a
/// million users take 3.2 GB instead of 4.0 (docs/benchmarks.md). (Before the keys were kept,
/// 4 KB pages held one record and 8 KB three.) A store made before keeps its page size.
const PAGE_SIZE: i64 = 16384;

/// Versioned migrations; `PRAGMA user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    os_user TEXT NOT NULL,
    muster_version TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    reverted_by INTEGER REFERENCES batches(id)
);
CREATE TABLE users (
    record_id TEXT PRIMARY KEY,
    bot INTEGER NOT NULL,
    record TEXT NOT NULL,
    row_version TEXT NOT NULL,
    created_by INTEGER REFERENCES batches(id),
    updated_by INTEGER REFERENCES batches(id)
);
CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    record_id TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX changes_by_record ON changes(record_id);
CREATE INDEX changes_by_batch ON changes(batch_id);
"#,
    r#"
-- Each record's SHA-256 and keys (store::keys), written with it, so that reading the store
-- neither parses nor hashes the records. NULL for a record written before: its text is used.
ALTER TABLE users ADD COLUMN digest BLOB;
ALTER TABLE users ADD COLUMN keys BLOB;
-- A text changed without them (a muster from before, still holding the store open when this
-- migration ran; a hand edit) must not keep the old ones: then its text is read again.
CREATE TRIGGER users_keys_follow_record AFTER UPDATE OF record ON users
WHEN NEW.record IS NOT OLD.record AND NEW.digest IS OLD.digest
BEGIN
    UPDATE users SET digest = NULL, keys = NULL WHERE rowid = NEW.rowid;
END;
"#,
    r#"
-- Each record's digest is of its text as this muster writes the record (store::normal_digest),
-- written by `normal_digests` after this: a record an earlier muster wrote with its tags in
-- another order is the same record, not an update; and the keys and digests a store of the
-- first version never had are written once, not worked out again at every read.
-- An earlier muster (they all said 0.1.0) that opened the store before this migration and
-- waited for its lock would write into it records without digests: its batch is refused.
CREATE TRIGGER IF NOT EXISTS batches_of_earlier_musters BEFORE INSERT ON batches
WHEN NEW.muster_version = '0.1.0'
BEGIN
    SELECT RAISE(ABORT, 'this store was migrated to schema 3 by muster 0.3.0 while this muster waited for it; nothing was changed: upgrade muster');
END;
"#,
];

/// The schema this muster reads and writes: `PRAGMA user_version` once every migration is made.
const SCHEMA: i64 = MIGRATIONS.len() as i64;

/// The migration whose digests [`normal_digests`] writes.
const NORMAL_DIGESTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: not a muster store ({why}); refusing to use or overwrite it", path.display())]
    Foreign { path: PathBuf, why: String },
    #[error("{}: cannot create the store: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the store is damaged ({source}); it was left untouched", path.display())]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: written by a newer muster (store schema {found}; this muster knows {known} at most): use that muster or a later one; nothing was changed", path.display())]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{}: another program is writing to the store (a muster import, revert, remove or forget, or an SQLite tool){holder}; gave up after waiting {} (set MUSTER_LOCK_TIMEOUT to wait longer)", path.display(), shown_wait(*waited))]
    Busy {
        path: PathBuf,
        waited: Duration,
        /// Who holds the lock, where the system says (`: process 1234, muster import b.csv`).
        holder: String,
    },
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: cannot write the store: its folder {} is not writable, and SQLite writes its journal beside the store ({source})", path.display(), folder.display())]
    FolderNotWritable {
        path: PathBuf,
        folder: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: cannot write the store: the file is read-only (its permissions); nothing was changed", path.display())]
    FileNotWritable { path: PathBuf },
    #[error("{}: cannot read the store: {source} (to share a store, its owner gives its group read and write: `chmod g+rw`)", path.display())]
    NoAccess {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a file but {what}: a store is a file (name one with --store or MUSTER_STORE)", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("{}: an SQLite database with nothing in it, not a store yet (`muster import` makes one)", path.display())]
    NotAStoreYet { path: PathBuf },
    #[error("{}: the store changed while it was read (another command wrote it; without write access beside it, this one reads it without taking a lock); nothing was written: run it again", path.display())]
    ChangedWhileRead { path: PathBuf },
    #[error("{0}")]
    Refused(String),
    /// The batch's records, spilled to a temporary file while it was validated, could not be
    /// read back.
    #[error("cannot read back the batch's records from their temporary file: {0}")]
    Records(#[from] std::io::Error),
}

/// A stored user or bot.
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub record_id: String,
    pub bot: bool,
    /// The record as the store holds it (muster's own key order): equal text, equal record.
    pub text: String,
    pub row_version: String,
    pub created_by: Option<i64>,
    /// The parsed record, made when first asked for (a JSONL export's text that is not as
    /// muster writes it; import reads `StoredSummary` instead).
    parsed: std::sync::OnceLock<Value>,
}

impl StoredUser {
    pub fn new(
        record_id: String,
        bot: bool,
        text: String,
        row_version: String,
        created_by: Option<i64>,
    ) -> StoredUser {
        StoredUser {
            record_id,
            bot,
            text,
            row_version,
            created_by,
            parsed: std::sync::OnceLock::new(),
        }
    }

    /// The record as `--out` writes it.
    pub fn record(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(&self.text).unwrap_or(Value::Null))
    }
}

/// A stored user as the import plan and the store rules need it. The record's text is not kept
/// (a million stored users are 2.4 GB of it): it is hashed as it is read, and fetched again by
/// `rowid` only for a record that changes.
#[derive(Debug, Clone)]
pub struct StoredSummary {
    pub rowid: i64,
    pub record_id: String,
    pub bot: bool,
    pub row_version: String,
    /// The batch that last wrote the record (`updated_by`; 0 when unknown): `--prune` on an
    /// export keeps a user written after every row the export holds as it is stored.
    pub written_by: u32,
    /// SHA-256 of the record's text. muster writes a record's keys in one fixed order, so equal
    /// digests are equal texts, and equal texts equal records.
    pub digest: [u8; 32],
}

/// The SHA-256 of a record's text, as [`StoredSummary::digest`] holds it.
pub fn text_digest(text: &str) -> [u8; 32] {
    bytes_digest(text.as_bytes())
}

/// [`text_digest`] of a text still in bytes.
pub fn bytes_digest(text: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text).into()
}

/// A run of stored users in rowid order, with what each one's keys come from (the keys kept
/// beside the record or, where none are, its text) in one buffer (no allocation per record),
/// handed to the caller's parse while the next run is read.
#[derive(Debug, Default)]
pub struct UserChunk {
    pub users: Vec<StoredSummary>,
    data: Vec<u8>,
    /// Per user: where its item ends in `data`, and whether it is a keys blob.
    ends: Vec<(usize, bool)>,
}

/// What a stored user's keys are read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StoredItem<'c> {
    /// The record's text: its digest is still to be computed.
    Text(&'c str),
    /// Its keys as [`keys::encode`] wrote them (well formed: [`UserChunk::push_keys`] checks);
    /// the digest is the user's.
    Keys(&'c [u8]),
}

impl UserChunk {
    /// Adds a user whose digest is still to be computed from `text`.
    pub fn push(&mut self, user: StoredSummary, text: &str) {
        self.push_item(user, text.as_bytes(), false);
    }

    /// Adds a user, its digest given, with the keys stored beside it, if they are well formed
    /// (`keys::is_well_formed`). When they are not, nothing is added and the user comes back:
    /// the caller then adds it with its text.
    pub fn push_keys(&mut self, user: StoredSummary, keys: &[u8]) -> Result<(), StoredSummary> {
        if !keys::is_well_formed(keys) {
            return Err(user);
        }
        self.push_item(user, keys, true);
        Ok(())
    }

    fn push_item(&mut self, user: StoredSummary, item: &[u8], is_keys: bool) {
        self.users.push(user);
        self.data.extend_from_slice(item);
        self.ends.push((self.data.len(), is_keys));
    }

    /// What the `i`th user's keys are read from.
    pub fn item(&self, i: usize) -> StoredItem<'_> {
        let start = if i == 0 { 0 } else { self.ends[i - 1].0 };
        let (end, is_keys) = self.ends[i];
        let bytes = &self.data[start..end];
        if is_keys {
            StoredItem::Keys(bytes)
        } else {
            // Only `push` adds a text, from a `&str`.
            StoredItem::Text(std::str::from_utf8(bytes).expect("pushed as text"))
        }
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Where the plan reads stored users from: the store under the write lock, the store read
/// once (`--dry-run`, `validate --store`), or a test's list.
pub trait UserSource {
    /// Reads every stored user in rowid order, a chunk at a time: `parse` runs on the pool
    /// while the next chunk is read, then `take` gets the chunk's users and what `parse` made
    /// of them, also on the pool, while the chunk after is parsed and the one after that read.
    /// The texts stay behind: their buffer is filled again by a later chunk.
    fn scan_users<T: Send>(
        &self,
        parse: impl Fn(&UserChunk) -> T + Sync,
        take: impl FnMut(Vec<StoredSummary>, T) + Send,
    ) -> Result<(), StoreError>;

    /// The text of the record at `rowid`.
    fn record_text(&self, rowid: i64) -> Result<String, StoreError>;

    /// How many users the store holds (to size the tables the scan fills).
    fn user_count(&self) -> Result<usize, StoreError>;
}

/// Stored users per chunk: large enough that the pool's start-up is nothing next to the parse,
/// small enough (about 10 MB of text) that memory stays flat.
const SCAN_CHUNK: usize = 4096;

fn scan_users<T: Send>(
    conn: &Connection,
    parse: impl Fn(&UserChunk) -> T + Sync,
    mut take: impl FnMut(Vec<StoredSummary>, T) + Send,
) -> rusqlite::Result<()> {
    // The record's text only for a user without its digest and keys (written before they
    // were kept, or of another keys format): SQLite then copies out 400 bytes a user, not 2.4 KB.
    // A store of an older schema, read and not migrated, is read from its texts: its digests,
    // if it has any, are not all `normal_digest`'s.
    let current = schema_of(conn)? >= SCHEMA;
    let mut stmt = conn.prepare(if current {
        "SELECT rowid, record_id, bot, row_version, digest, keys,
                CASE WHEN typeof(digest) = 'blob' AND length(digest) = 32
                     AND typeof(keys) = 'blob' AND substr(keys, 1, 1) = ?1
                     THEN NULL ELSE record END,
                COALESCE(updated_by, created_by, 0)
         FROM users ORDER BY rowid"
    } else {
        // (`?1` only so that both statements take the one binding below.)
        "SELECT rowid, record_id, bot, row_version, NULL, NULL, record,
                COALESCE(updated_by, created_by, 0)
         FROM users WHERE ?1 IS NOT NULL ORDER BY rowid"
    })?;
    let mut rows = stmt.query([&[keys::FORMAT][..]])?;
    let mut fill = |chunk: &mut UserChunk| -> rusqlite::Result<()> {
        while chunk.len() < SCAN_CHUNK {
            let Some(r) = rows.next()? else { break };
            let user = StoredSummary {
                rowid: r.get(0)?,
                record_id: r.get(1)?,
                bot: r.get(2)?,
                row_version: r.get(3)?,
                written_by: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                digest: [0; 32],
            };
            // Borrowed from SQLite and copied once, into the chunk's buffer.
            match r.get_ref(6)?.as_str_or_null()? {
                Some(text) => chunk.push(user, text),
                None => {
                    let digest = r.get_ref(4)?.as_blob()?.try_into().unwrap_or_default();
                    let blob = r.get_ref(5)?.as_blob()?;
                    if let Err(user) = chunk.push_keys(StoredSummary { digest, ..user }, blob) {
                        // Damaged: the text still says what the keys are.
                        let text = record_text(conn, user.rowid)?;
                        chunk.push(
                            StoredSummary {
                                digest: [0; 32],
                                ..user
                            },
                            &text,
                        );
                    }
                }
            }
        }
        Ok(())
    };
    // Three stages, one chunk apart: SQLite reads on this thread, while the pool parses the
    // chunk before and hands the one before that to `take` (which inserting nine million
    // identities into the lookup tables made the slowest stage when it ran here).
    //
    // Two text buffers take turns (one parsed while the other is filled): a new 10 MB buffer
    // per chunk meant fresh pages, zeroed by the kernel, for every chunk.
    let mut current = UserChunk::default();
    fill(&mut current)?;
    let mut parsed_before: Option<(Vec<StoredSummary>, T)> = None;
    let mut spare = UserChunk::default();
    while !current.is_empty() || parsed_before.is_some() {
        let mut next = UserChunk {
            users: Vec::with_capacity(SCAN_CHUNK),
            ..std::mem::take(&mut spare)
        };
        next.data.clear();
        next.ends.clear();
        let mut parsed = None;
        let read = rayon::in_place_scope(|s| {
            if let Some((chunk, t)) = parsed_before.take() {
                let take = &mut take;
                s.spawn(move |_| take(chunk, t));
            }
            if current.is_empty() {
                return Ok(());
            }
            s.spawn(|_| parsed = Some(parse(&current)));
            fill(&mut next)
        });
        read?;
        if let Some(parsed) = parsed {
            parsed_before = Some((std::mem::take(&mut current.users), parsed));
        }
        spare = std::mem::replace(&mut current, next);
    }
    Ok(())
}

fn bot_record_id(conn: &Connection, created_by: Option<i64>) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT record_id FROM users WHERE bot AND (?1 IS NULL OR created_by = ?1) LIMIT 1",
        [created_by],
        |r| r.get(0),
    )
    .optional()
}

fn user_count(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

fn record_text(conn: &Connection, rowid: i64) -> rusqlite::Result<String> {
    conn.prepare_cached("SELECT record FROM users WHERE rowid = ?1")?
        .query_row([rowid], |r| r.get(0))
}

/// A read-only connection to the store at `path`, and its schema version. Reading a WAL store
/// takes its `-shm` file. SQLite cannot make one in a folder the user cannot write, and one it
/// makes where it can is the reader's: left behind, it fails the owner's next import. With no
/// `-wal` or `-journal` file beside the store, no writer is at work and none was killed: every
/// committed row is in the store's own file, which is then read as it is (`immutable`: no
/// locks, no `-shm`). By its absolute path as a URI: a name like `file:x.db` is the file.
fn read_only_connection(
    path: &Path,
) -> Result<(Connection, i64, Option<crate::input::FileStamp>), StoreError> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let beside = |suffix: &str| {
        let mut name = absolute.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name).exists()
    };
    let immutable = !beside("-wal") && !beside("-journal");
    // Taken before SQLite reads a page: what is read is compared with it.
    let stamp = immutable
        .then(|| crate::input::FileStamp::of(&absolute))
        .flatten();
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        | rusqlite::OpenFlags::SQLITE_OPEN_URI
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let uri = format!(
        "file:{}?mode=ro{}",
        uri_path(&absolute),
        if immutable { "&immutable=1" } else { "" }
    );
    let sqlite = |source| classify(path, source);
    let conn = Connection::open_with_flags(uri, flags).map_err(sqlite)?;
    conn.busy_timeout(lock_timeout()).map_err(sqlite)?;
    let version = check_identity(&conn, path, true)?;
    Ok((conn, version, stamp))
}

/// The change log read on a connection of its own, for validation ([`VersionHistory`]): an
/// import holds the write lock on its own connection, and has written nothing yet while it
/// validates.
#[derive(Debug)]
pub struct StoreHistory {
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
    /// For a store read without locks, the store file as it was when the store was first read
    /// (by the [`Store`] before this log, when that too was read without locks): each query
    /// reads the file as it is then, and a writer's checkpoint meanwhile gives pages of two
    /// states ([`StoreHistory::changed_while_read`]).
    read_unlocked: Option<crate::input::FileStamp>,
    /// The record ids the log has a removal of, read once when first asked for: rows of
    /// another store's export each ask, a million of them too.
    removed: std::sync::OnceLock<std::collections::HashSet<String>>,
}

impl StoreHistory {
    /// `store_read` is the stamp of the [`Store`] read before it without locks
    /// ([`Store::read_unlocked`]): the log must be of the same state.
    pub fn open(
        path: &Path,
        store_read: Option<crate::input::FileStamp>,
    ) -> Result<StoreHistory, StoreError> {
        let (conn, _, stamp) = read_only_connection(path)?;
        let history = StoreHistory {
            conn: std::sync::Mutex::new(conn),
            path: path.to_path_buf(),
            read_unlocked: store_read.or(stamp),
            removed: std::sync::OnceLock::new(),
        };
        history.check_unchanged()?;
        Ok(history)
    }

    fn check_unchanged(&self) -> Result<(), StoreError> {
        changed_since(&self.path, self.read_unlocked)
    }
}

/// [`StoreError::ChangedWhileRead`] when the store at `path`, read without locks, is no longer
/// the file `read_unlocked` stamped.
fn changed_since(
    path: &Path,
    read_unlocked: Option<crate::input::FileStamp>,
) -> Result<(), StoreError> {
    match read_unlocked {
        Some(stamp) if crate::input::FileStamp::of(path) != Some(stamp) => {
            Err(StoreError::ChangedWhileRead {
                path: path.to_path_buf(),
            })
        }
        _ => Ok(()),
    }
}

impl crate::validate::VersionHistory for StoreHistory {
    /// The record's versions are the texts its changes started from, then the stored one: the
    /// version after a change is the `before` of the next. The first change followed by
    /// `row_version` wrote it first; `None` when only the last did (or the log cannot be read).
    fn first_writer(&self, record_id: &str, row_version: &str) -> Option<u32> {
        let conn = self.conn.lock().ok()?;
        let mut stmt = conn
            .prepare_cached("SELECT batch_id, before FROM changes WHERE record_id = ?1 ORDER BY id")
            .ok()?;
        let mut rows = stmt.query([record_id]).ok()?;
        let mut previous: Option<i64> = None;
        while let Some(row) = rows.next().ok()? {
            let (batch, before): (i64, Option<String>) = (row.get(0).ok()?, row.get(1).ok()?);
            if let (Some(previous), Some(before)) = (previous, before) {
                if text_row_version(&before).eq_ignore_ascii_case(row_version) {
                    return u32::try_from(previous).ok();
                }
            }
            previous = Some(batch);
        }
        None
    }

    fn was_removed(&self, record_id: &str) -> bool {
        let removed = self.removed.get_or_init(|| {
            let Ok(conn) = self.conn.lock() else {
                return Default::default();
            };
            let read = |conn: &Connection| -> rusqlite::Result<std::collections::HashSet<String>> {
                let mut stmt =
                    conn.prepare("SELECT DISTINCT record_id FROM changes WHERE action = 'remove'")?;
                let ids = stmt.query_map([], |r| r.get(0))?;
                ids.collect()
            };
            read(&conn).unwrap_or_default()
        });
        removed.contains(record_id)
    }

    fn changed_while_read(&self) -> bool {
        self.check_unchanged().is_err()
    }
}

/// One applied batch.
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub id: i64,
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub applied_at: String,
    pub os_user: String,
    pub counts: Counts,
    pub reverted_by: Option<i64>,
    /// The muster that applied it (`muster --version`).
    pub muster_version: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub remove: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Remove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Remove => "remove",
        }
    }
    fn parse(s: &str) -> Action {
        match s {
            "create" => Action::Create,
            "update" => Action::Update,
            _ => Action::Remove,
        }
    }
}

/// A change to one record: `before` absent for a create, `after` absent for a remove (and, as
/// read back from the change log, for a create: the log keeps no second copy of new records).
/// An import's plan holds its `after` as [`crate::plan::After`] until it is applied.
#[derive(Debug, Clone)]
pub struct Change<After = RecordJson> {
    pub record_id: String,
    pub action: Action,
    pub bot: bool,
    pub before: Option<RecordJson>,
    pub after: Option<After>,
}

/// A record's JSON text as muster writes and stores it (its keys in muster's order). It is
/// parsed only where its fields are needed: an import of a million new users need not hold a
/// million parsed trees.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordJson(pub String);

impl RecordJson {
    pub fn from_value(value: &Value) -> RecordJson {
        RecordJson(value.to_string())
    }

    /// The parsed record (`null` if the text is not JSON, which muster never stores).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// A change as the log holds it, with the batch that made it.
#[derive(Debug, Clone)]
pub struct LoggedChange {
    pub batch: BatchRow,
    pub change: Change,
}

/// What a batch row records about the file and the run.
pub struct BatchInfo<'a> {
    pub name: &'a str,
    pub file: &'a str,
    pub sha256: &'a str,
    pub counts: Counts,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// For a store read without locks (`immutable`): the file as it was when opened. A
    /// writer's checkpoint while it is read would give pages of two states ([`Store::check_unchanged`]).
    read_unlocked: Option<crate::input::FileStamp>,
}

/// Refuses a store path that is there but is no regular file (a device, a pipe, a folder):
/// opening one to probe it hangs (a pipe) or changes it (SQLite made `/dev/null` 0600 and
/// wrote a `-journal` beside it; store review).
fn regular_file(path: &Path) -> Result<(), StoreError> {
    let Ok(m) = std::fs::metadata(path) else {
        return Ok(());
    };
    let kind = m.file_type();
    #[cfg(unix)]
    let special = {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            Some("a pipe")
        } else if kind.is_char_device() || kind.is_block_device() {
            Some("a device")
        } else if kind.is_socket() {
            Some("a socket")
        } else {
            None
        }
    };
    #[cfg(not(unix))]
    let special = None;
    let what = if kind.is_dir() {
        "a folder"
    } else if kind.is_file() {
        return Ok(());
    } else {
        special.unwrap_or("no regular file")
    };
    Err(StoreError::NotAFile {
        path: path.to_path_buf(),
        what,
    })
}

/// A wait as a person says it: `10s`, `1.5s`, `0s` (not `0ns`).
fn shown_wait(waited: Duration) -> String {
    format!("{}s", (waited.as_millis() as f64) / 1000.0)
}

/// Who holds a write lock on the store (or on its `-shm`, where WAL writers lock), by
/// `/proc/locks` on Linux: `: process 1234 (muster import b.csv)`; empty where the system
/// does not say (store review: a stopped import held every admin off, unnamed).
fn lock_holder(path: &Path) -> String {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let mut shm = path.as_os_str().to_owned();
        shm.push("-shm");
        let inodes: Vec<(u64, u64)> = [path, Path::new(&shm)]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| (m.dev(), m.ino()))
            .collect();
        let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
            return String::new();
        };
        let me = std::process::id();
        let mut holders: Vec<u32> = Vec::new();
        for line in locks.lines() {
            // `1: POSIX  ADVISORY  WRITE 1234 08:01:5678 120 120`
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_, _, _, "WRITE", pid, device, ..] = fields.as_slice() else {
                continue;
            };
            let (Ok(pid), Some((dev, ino))) = (pid.parse::<u32>(), device.rsplit_once(':')) else {
                continue;
            };
            let Some((major, minor)) = dev.split_once(':') else {
                continue;
            };
            let (Ok(major), Ok(minor), Ok(ino)) = (
                u64::from_str_radix(major, 16),
                u64::from_str_radix(minor, 16),
                ino.parse::<u64>(),
            ) else {
                continue;
            };
            let held = inodes.iter().any(|&(d, i)| {
                i == ino
                    && rustix::fs::major(d) as u64 == major
                    && rustix::fs::minor(d) as u64 == minor
            });
            if held && pid != me && !holders.contains(&pid) {
                holders.push(pid);
            }
        }
        let named: Vec<String> = holders
            .iter()
            .map(|pid| {
                let command = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| {
                        let words: Vec<String> = (c.split(|&b| b == 0))
                            .filter(|w| !w.is_empty())
                            .map(|w| String::from_utf8_lossy(w).into_owned())
                            .collect();
                        let mut shown = words.join(" ");
                        if shown.chars().count() > 80 {
                            shown = shown.chars().take(79).collect::<String>() + "…";
                        }
                        shown
                    })
                    .unwrap_or_default();
                match command.is_empty() {
                    true => format!("process {pid}"),
                    false => format!("process {pid} ({command})"),
                }
            })
            .collect();
        if !named.is_empty() {
            return format!(": held by {}", named.join(", "));
        }
    }
    let _ = path;
    String::new()
}

/// A SQLite error as the user should read it: busy, damaged, or otherwise.
fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Busy {
                holder: lock_holder(&path),
                path,
                waited: lock_timeout(),
            }
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            StoreError::Corrupt { path, source }
        }
        // SQLite writes its journal beside the store: a writable file in a folder the user
        // cannot write is "a readonly database", which sends one to the file, not the folder.
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
            if !folder_writable(&path) =>
        {
            let folder = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            StoreError::FolderNotWritable {
                folder: folder.to_path_buf(),
                path,
                source,
            }
        }
        _ => StoreError::Sqlite { path, source },
    }
}

/// Whether the store's file has no write permission for anyone (`chmod 0444`).
fn frozen(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

/// Whether the user may create files in the store's folder.
fn folder_writable(store: &Path) -> bool {
    let folder = store
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(folder.as_os_str().as_bytes()) else {
            return true;
        };
        // SAFETY: a valid C string; access only reads it.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        !std::fs::metadata(folder).is_ok_and(|m| m.permissions().readonly())
    }
}

/// How long a writer waits for another: `MUSTER_LOCK_TIMEOUT` seconds, else 10. The binary
/// refuses a value [`lock_timeout_setting`] does not take before any store is opened.
fn lock_timeout() -> Duration {
    lock_timeout_setting().unwrap_or(DEFAULT_LOCK_TIMEOUT)
}

const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// `MUSTER_LOCK_TIMEOUT` as seconds (unset or empty: 10), or why it is not a wait SQLite can
/// take: a number from 0 to its longest, 2,147,483 s, some 24 days (review: a larger one
/// panicked in rusqlite, and `abc` or `-1` were taken silently).
pub fn lock_timeout_setting() -> Result<Duration, String> {
    const LONGEST: f64 = i32::MAX as f64 / 1000.0;
    let Some(value) = std::env::var_os("MUSTER_LOCK_TIMEOUT").filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_LOCK_TIMEOUT);
    };
    let value = value.to_string_lossy();
    match value.trim().parse::<f64>() {
        Ok(secs) if (0.0..=LONGEST).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!(
            "MUSTER_LOCK_TIMEOUT is `{value}`: give the seconds to wait for another muster writing to the store, from 0 to {}",
            LONGEST as u64
        )),
    }
}

/// Refuses a file that is not an SQLite database, before SQLite is given it.
fn check_header(path: &Path) -> Result<(), StoreError> {
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| match e.kind() {
            // Another admin's store, not shared: not "not a muster store" (store review).
            std::io::ErrorKind::PermissionDenied => StoreError::NoAccess {
                path: path.to_path_buf(),
                source: e,
            },
            _ => StoreError::Foreign {
                path: path.to_path_buf(),
                why: e.to_string(),
            },
        })?;
    if &head[..n] != b"SQLite format 3\0" {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            why: "it is not a SQLite database".to_string(),
        });
    }
    Ok(())
}

/// Checks that an opened database is muster's store (or a blank one to become it) that this
/// muster knows; returns its schema version.
fn check_identity(conn: &Connection, path: &Path, existing: bool) -> Result<i64, StoreError> {
    // A damaged file says so here; other failures (a full disk) are what they are.
    let corrupt = |source| classify(path, source);
    // One read transaction for the three reads: another muster creating the store may commit
    // its tables between two of them, and an application id read before that commit beside
    // tables read after it is no store muster made.
    let snapshot = conn.unchecked_transaction().map_err(corrupt)?;
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(corrupt)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(corrupt)?;
    // An SQLite file with nothing in it at all is what a muster killed while creating the
    // store leaves (SQLite writes its header before the tables are made): a new store.
    let blank = || -> rusqlite::Result<bool> {
        conn.query_row("SELECT count(*) = 0 FROM sqlite_master", [], |r| r.get(0))
    };
    if existing
        && app_id != APPLICATION_ID
        && !(app_id == 0 && version == 0 && blank().map_err(corrupt)?)
    {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            why: format!("its application id is {app_id:#x}"),
        });
    }
    snapshot.commit().map_err(corrupt)?;
    if version > SCHEMA {
        return Err(StoreError::Newer {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA,
        });
    }
    Ok(version)
}

/// `typed` (a record id as given on the command line, trimmed) as the change log spells it:
/// a muster before the twenty-ninth session stored a JSONL batch's record id as the file wrote
/// it, decomposed (`Zoe` and U+0308), which no one types (upgrade review: `forget` said the
/// person was in neither the store nor its history). Every record ever stored has its create
/// logged. The id as typed when the log has it (two stored spellings of one text are two
/// records: each is reached by its own bytes); else its one spelling in the log, in any
/// Unicode form; several such spellings are refused, named, rather than one taken for the
/// other (adversarial review: `forget` erased the other person); none, the id in NFC.
fn spelt_as_logged(conn: &Connection, typed: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    // An ASCII id has no other spelling.
    if typed.is_ascii() || logged(conn, typed).map_err(|e| e.to_string())? {
        return Ok(typed.to_string());
    }
    let text: String = typed.nfc().collect();
    let spellings: Vec<String> = (|| {
        let mut stmt =
            conn.prepare("SELECT DISTINCT record_id FROM changes WHERE record_id GLOB '*[^ -~]*'")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
        ids.filter(|id| id.as_ref().map_or(true, |id| id.nfc().eq(text.chars())))
            .collect::<rusqlite::Result<Vec<String>>>()
    })()
    .map_err(|e| e.to_string())?;
    match spellings.as_slice() {
        [] => Ok(text),
        [one] => Ok(one.clone()),
        several => {
            let shown: Vec<String> = several
                .iter()
                .map(|id| format!("`{}`", escaped(id)))
                .collect();
            Err(format!(
                "the store holds `{text}` written {} ways, as {} records: {}; give the one meant as it is written there (in bash: $'…' with its \\u escapes)",
                several.len(),
                several.len(),
                shown.join(", ")
            ))
        }
    }
}

/// Whether the change log has `record_id` (every record ever stored has its create there).
fn logged(conn: &Connection, record_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM changes WHERE record_id = ?1)",
        [record_id],
        |r| r.get(0),
    )
}

/// `id` with every character beyond ASCII as its `\u{…}` escape.
fn escaped(id: &str) -> String {
    id.chars()
        .map(|c| match c.is_ascii() {
            true => c.to_string(),
            false => format!("\\u{{{:04x}}}", c as u32),
        })
        .collect()
}

/// The store's schema version (`PRAGMA user_version`; 0 for a new store).
fn schema_of(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Makes the migrations after `from` on `conn`, in the caller's transaction.
fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        conn.execute_batch(sql)?;
        // Migration 3's work is done in Rust: a digest is a SHA-256 of a reordered text.
        if i + 1 == NORMAL_DIGESTS {
            normal_digests(conn)?;
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        conn.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    Ok(())
}

/// Migration 3: every record's digest made [`normal_digest`]'s, and the keys of a record
/// without them (a store of the first version) written beside it. A run of records at a time,
/// worked out on the pool.
fn normal_digests(conn: &Connection) -> rusqlite::Result<()> {
    use rayon::prelude::*;
    type Row = (i64, String, Option<Vec<u8>>, Option<Vec<u8>>);
    let mut read = conn.prepare(
        "SELECT rowid, record, digest, keys FROM users WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    )?;
    let mut write =
        conn.prepare("UPDATE users SET digest = ?2, keys = COALESCE(?3, keys) WHERE rowid = ?1")?;
    let mut after = i64::MIN;
    loop {
        let rows: Vec<Row> = read
            .query_map(params![after, SCAN_CHUNK as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.0;
        let changed: Vec<(i64, [u8; 32], Option<Vec<u8>>)> = rows
            .par_iter()
            .filter_map(|(rowid, text, digest, kept)| {
                let digest_now = normal_digest(text);
                let keys_kept = kept
                    .as_deref()
                    .is_some_and(|k| k.first() == Some(&keys::FORMAT) && keys::is_well_formed(k));
                (digest.as_deref() != Some(&digest_now[..]) || !keys_kept)
                    .then(|| (*rowid, digest_now, (!keys_kept).then(|| keys::encode(text))))
            })
            .collect();
        for (rowid, digest, keys) in changed {
            write.execute(params![rowid, digest, keys])?;
        }
    }
}

/// The digest a stored record is compared under ([`StoredSummary::digest`]): of its text as
/// this muster writes the record. An earlier muster listed a record's tags in the order its
/// sheet gave them; since the twenty-ninth session they are written in the reference's order
/// (a set, SPEC §1), and such a record is the same record, not one to update.
pub fn normal_digest(text: &str) -> [u8; 32] {
    match reordered_tags(text) {
        Some(normal) => text_digest(&normal),
        None => text_digest(text),
    }
}

/// The record's text with `user.user_tags` in the reference's order
/// ([`crate::check::values::USER_TAGS`]), when they are in another; `None` when they are in
/// that order, or absent, or not tags muster writes.
fn reordered_tags(text: &str) -> Option<String> {
    use crate::check::values::USER_TAGS;
    // A key of this name followed by a list: inside a JSON string every `"` is escaped, and a
    // custom attribute's value is a text, so this is the user's tags.
    const KEY: &str = "\"user_tags\":[";
    let start = text.find(KEY)? + KEY.len();
    let end = start + text[start..].find(']')?;
    let mut tags: Vec<(usize, &str)> = Vec::new();
    for item in text[start..end].split(',') {
        let tag = item.strip_prefix('"')?.strip_suffix('"')?;
        tags.push((USER_TAGS.iter().position(|known| *known == tag)?, tag));
    }
    if tags.is_sorted_by_key(|(at, _)| *at) {
        return None;
    }
    tags.sort_by_key(|(at, _)| *at);
    let listed: Vec<String> = tags.iter().map(|(_, tag)| format!("\"{tag}\"")).collect();
    Some(format!(
        "{}{}{}",
        &text[..start],
        listed.join(","),
        &text[end..]
    ))
}

/// Who runs muster, for a batch's record: the name of the process's user id, which no one
/// sets by hand, and beside it `$USER` (`$LOGNAME`) when that says another name (an audit of a
/// shared store; `USER=bob muster import` was recorded as bob). Without a name for the id (a
/// container's user), `$USER` and the id; on Windows `%USERNAME%`.
fn os_user() -> String {
    let said = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
    #[cfg(unix)]
    {
        let uid = unsafe { libc::getuid() };
        match (account_name(uid), said) {
            (Some(account), Some(said)) if said != account => format!("{account} ($USER {said})"),
            (Some(account), _) => account,
            (None, Some(said)) => format!("{said} (uid {uid})"),
            (None, None) => format!("uid {uid}"),
        }
    }
    #[cfg(not(unix))]
    said.unwrap_or_else(|| "unknown".to_string())
}

/// The name the system's user database gives `uid`.
#[cfg(unix)]
fn account_name(uid: libc::uid_t) -> Option<String> {
    // SAFETY: getpwuid_r writes only into `entry` and `buf` (whose length it is given) and sets
    // `found` to `&entry` or null; `pw_name` then points into `buf`, which outlives its
    // reading here.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    name.to_str()
        .ok()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// A path as an SQLite URI's path: bytes other than letters, digits and `/-._~` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Store {
    /// Opens the store at `path`, creating it (and its tables) when it does not exist or is an
    /// empty file. Anything else that is not muster's store is refused, never overwritten.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_to(path, true)
    }

    /// [`Store::open`] for a command that changes a store but makes none (`remove`, `revert`,
    /// `forget`): a blank SQLite file is refused, left as it is (adversarial review: `remove`
    /// gave one muster's tables while saying nothing was removed).
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        Store::open_to(path, false)
    }

    /// [`Store::open`]; `may_make` false for a command that only reads, which takes no blank
    /// SQLite file as a new store (store review: `history` gave one muster's tables).
    fn open_to(path: &Path, may_make: bool) -> Result<Store, StoreError> {
        regular_file(path)?;
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) > 0;
        if existing {
            check_header(path)?;
            // SQLite would open it read-only, make its `-shm` file as read-only as the store
            // (which then fails every later open, the store made writable again or not), and
            // fail at the first write: refused before SQLite is given it.
            // By its mode too: root may open any file to write, and an admin who froze the
            // store with `chmod 0444` means it (review: root's import wrote it).
            let opened = std::fs::OpenOptions::new().write(true).open(path);
            if frozen(path)
                || opened.is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
            {
                return Err(StoreError::FileNotWritable {
                    path: path.to_path_buf(),
                });
            }
        }
        if !existing {
            // Personal data: created readable by the user only, before SQLite writes a byte (its
            // -wal and -shm files take the database's mode).
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(path).map_err(|source| StoreError::Create {
                path: path.to_path_buf(),
                source,
            })?;
            // An empty file given as the store was made by someone else, with their mode
            // (review: `: > empty.db` held the users readable by all): made the user's only, as
            // far as the user may.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
            }
            drop(file);
        }
        // Opened by its absolute path: SQLite reads `:memory:` as no file at all and a name
        // starting `file:` as a URI, and the store is the file the user named.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let conn = Connection::open(&absolute).map_err(sqlite)?;
        conn.busy_timeout(lock_timeout()).map_err(sqlite)?;
        let version = check_identity(&conn, path, existing)?;
        if existing && version == 0 && !may_make {
            return Err(StoreError::NotAStoreYet {
                path: path.to_path_buf(),
            });
        }
        if !existing {
            conn.pragma_update(None, "page_size", PAGE_SIZE)
                .map_err(sqlite)?;
        }
        // WAL, unless someone is in a store left with a rollback journal (a first batch whose
        // writer could not set the WAL again): it is as safe, and the next open sets it.
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {}
            set => set.map_err(sqlite)?,
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite)?;
        // A new store gets its tables now. An older store is migrated by the first change
        // written to it, in that change's transaction ([`Store::write`]): reading one changes
        // nothing, and a store an older muster shares stays its own until this one writes
        // (upgrade review: `history` made every older muster refuse the store).
        if version == 0 {
            let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
                .map_err(sqlite)?;
            // Another process may have made it meanwhile.
            let locked = |e| classify(path, e);
            migrate(&tx, schema_of(&tx).map_err(locked)?).map_err(locked)?;
            tx.commit().map_err(locked)?;
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            read_unlocked: None,
        })
    }

    /// Opens an existing store for a command that only reads it (`export`, `history`,
    /// `validate --store`). A store the user may write is opened as by [`Store::open`], which
    /// sets its journal mode, makes any migration and recovers what a killed writer left.
    /// Another (a folder the user cannot write, a store someone else owns) is opened
    /// read-only.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        regular_file(path)?;
        // SQLite's own words for it name its URI (store review).
        if let Err(source) = std::fs::File::open(path) {
            if source.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(StoreError::NoAccess {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        let writable = !frozen(path) && std::fs::OpenOptions::new().write(true).open(path).is_ok();
        let refused = if writable {
            match Store::open_to(path, false) {
                Err(
                    StoreError::Sqlite { source, .. }
                    | StoreError::FolderNotWritable { source, .. },
                ) if matches!(
                    source.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
                ) =>
                {
                    Some(StoreError::Sqlite {
                        path: path.to_path_buf(),
                        source,
                    })
                }
                opened => return opened,
            }
        } else {
            None
        };
        match read_only_connection(path) {
            Ok((_, 0, _)) => Err(StoreError::NotAStoreYet {
                path: path.to_path_buf(),
            }),
            // An older store too: its reads do without what a migration adds.
            Ok((conn, _, stamp)) => Ok(Store {
                conn,
                path: path.to_path_buf(),
                read_unlocked: stamp,
            }),
            Err(e) => Err(refused.unwrap_or(e)),
        }
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source)
    }

    /// For a store read without locks (a reader who cannot make the `-shm` beside it): an
    /// error when the file changed since it was opened, for a writer's checkpoint may then
    /// have given pages of two states (store review: a read-only account's export lost 16,000
    /// users and repeated 3,648, exit 0). A store read with locks is one snapshot.
    pub fn check_unchanged(&self) -> Result<(), StoreError> {
        changed_since(&self.path, self.read_unlocked)
    }

    /// The store file as it was when it was opened, when it is read without locks.
    pub fn read_unlocked(&self) -> Option<crate::input::FileStamp> {
        self.read_unlocked
    }

    /// Rewrites the file with its live pages only (`VACUUM`), and empties the write-ahead log
    /// into it: what earlier writes left in free pages and in the log, which `secure_delete`
    /// on one transaction does not reach, is gone from the file (review: after `forget`, a
    /// person's first record version was still in a free page). False when another
    /// connection kept the log from being emptied: until it closes, copies stay there.
    pub fn compact(&self) -> Result<bool, StoreError> {
        let err = |e| self.err(e);
        self.conn
            .pragma_update(None, "secure_delete", true)
            .map_err(err)?;
        self.conn.execute_batch("VACUUM").map_err(err)?;
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(err)?;
        Ok(busy == 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the write lock (waiting at most the lock timeout) for a read-plan-apply cycle: the
    /// plan is made from what the store holds under the same lock it is applied under.
    ///
    /// A store that holds nothing yet takes its first batch with a rollback journal instead of
    /// the WAL: into an empty database the records are then written once, where the WAL wrote
    /// them twice (the log, then the checkpoint: 14 s of a million-user first import). Others
    /// cannot read the empty store beside such a write: they wait up to the lock timeout, then
    /// fail as they would for a locked store; and a reader already in it when the commit
    /// comes delays the commit (up to the same timeout). The WAL is back for everyone once it
    /// is committed (and every open asks for it).
    ///
    /// A store of an older schema (or a new one, of none) is migrated in that transaction,
    /// so that it is migrated only along with a change: a write refused or stopped leaves it
    /// as it was, for the older muster that may share it.
    pub fn write(&mut self) -> Result<Writer<'_>, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let empty: bool = schema_of(&self.conn).map_err(err)? == 0
            || self
                .conn
                .query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM batches)",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
        // Leaving the WAL needs the store to itself: with anyone else in it, the WAL stays
        // (no waiting for it), and the lock below is taken as ever. Only speed depends on it.
        let journal = empty && set_journal_mode(&self.conn, "DELETE").map_err(err)?;
        if journal {
            // With a rollback journal a commit is the journal's deletion, durable through a
            // power cut only once the folder is synced too: EXTRA does that (FULL does not).
            self.conn
                .pragma_update(None, "synchronous", "EXTRA")
                .map_err(err)?;
        }
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(err)?;
        // Read again under the lock: another process may have migrated it meanwhile.
        migrate(&tx, schema_of(&tx).map_err(err)?).map_err(err)?;
        Ok(Writer {
            tx,
            conn: &self.conn,
            path: path.clone(),
            restore_wal: journal,
        })
    }

    /// Every stored user, the bots last, held at once: for small stores (the tests). The
    /// commands read them in chunks ([`Self::users_in_chunks`]) or by id.
    pub fn users(&self) -> Result<Vec<StoredUser>, StoreError> {
        read_users(&self.conn).map_err(|e| self.err(e))
    }

    /// Runs `f` in one read transaction, so that every pass it makes over the users sees one
    /// state of the store.
    pub fn reading<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let out = f()?;
        tx.commit().map_err(|e| self.err(e))?;
        self.check_unchanged()?;
        Ok(out)
    }

    /// The users in [`Self::users`]' order, `n` at a time (the bots, a few at most, in a last
    /// chunk of their own): an export of a million users need not hold them all.
    pub fn users_in_chunks<E: From<StoreError>>(
        &self,
        n: usize,
        mut f: impl FnMut(Vec<StoredUser>) -> Result<(), E>,
    ) -> Result<(), E> {
        let err = |e| self.err(e);
        let mut stmt = self.conn.prepare(USERS_IN_ORDER).map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        let mut chunk = Vec::with_capacity(n);
        let mut bots = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let user = stored_user(row).map_err(err)?;
            if user.bot {
                bots.push(user);
                continue;
            }
            chunk.push(user);
            if chunk.len() == n {
                f(std::mem::replace(&mut chunk, Vec::with_capacity(n)))?;
            }
        }
        for last in [chunk, bots] {
            if !last.is_empty() {
                f(last)?;
            }
        }
        // Before an export's file takes its name.
        self.check_unchanged()?;
        Ok(())
    }

    pub fn batches(&self) -> Result<Vec<BatchRow>, StoreError> {
        read_batches(&self.conn, None).map_err(|e| self.err(e))
    }

    pub fn batch(&self, name: &str) -> Result<Option<BatchRow>, StoreError> {
        Ok(read_batches(&self.conn, Some(name))
            .map_err(|e| self.err(e))?
            .into_iter()
            .next())
    }

    /// Every change to a record, oldest first.
    pub fn history(&self, record_id: &str) -> Result<Vec<LoggedChange>, StoreError> {
        read_changes(&self.conn, "c.record_id = ?1", record_id).map_err(|e| self.err(e))
    }

    /// [`spelt_as_logged`] on this store.
    pub fn spelt_as_logged(&self, typed: &str) -> Result<String, StoreError> {
        spelt_as_logged(&self.conn, typed).map_err(StoreError::Refused)
    }

    pub fn changes_of(&self, batch_id: i64) -> Result<Vec<LoggedChange>, StoreError> {
        read_changes(&self.conn, "c.batch_id = ?1", &batch_id.to_string()).map_err(|e| self.err(e))
    }
}

impl UserSource for Store {
    fn scan_users<T: Send>(
        &self,
        parse: impl Fn(&UserChunk) -> T + Sync,
        take: impl FnMut(Vec<StoredSummary>, T) + Send,
    ) -> Result<(), StoreError> {
        // One read transaction: the chunks come from one state of the store.
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        scan_users(&tx, parse, take).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn record_text(&self, rowid: i64) -> Result<String, StoreError> {
        record_text(&self.conn, rowid).map_err(|e| self.err(e))
    }

    fn user_count(&self) -> Result<usize, StoreError> {
        user_count(&self.conn).map_err(|e| self.err(e))
    }
}

impl Store {
    /// The record id of the stored bot account, if there is one (and `created_by` that batch,
    /// when given).
    pub fn bot_record_id(&self, created_by: Option<i64>) -> Result<Option<String>, StoreError> {
        bot_record_id(&self.conn, created_by).map_err(|e| self.err(e))
    }
}

impl UserSource for Writer<'_> {
    fn scan_users<T: Send>(
        &self,
        parse: impl Fn(&UserChunk) -> T + Sync,
        take: impl FnMut(Vec<StoredSummary>, T) + Send,
    ) -> Result<(), StoreError> {
        scan_users(&self.tx, parse, take).map_err(|e| self.err(e))
    }

    fn record_text(&self, rowid: i64) -> Result<String, StoreError> {
        record_text(&self.tx, rowid).map_err(|e| self.err(e))
    }

    fn user_count(&self) -> Result<usize, StoreError> {
        user_count(&self.tx).map_err(|e| self.err(e))
    }
}

/// Changes written per chunk, while the pool works out the next chunk's row versions.
pub(crate) const APPLY_CHUNK: usize = 4096;

/// What is written beside a record's text, worked out from it.
struct Derived {
    row_version: String,
    digest: [u8; 32],
    keys: Vec<u8>,
}

impl Derived {
    /// `row_version`, when given, is the text's, worked out from the record's fields as its
    /// row was checked ([`crate::record::Record::row_version`]): the text is then not parsed
    /// back to canonicalize it.
    fn of(text: &str, row_version: Option<[u8; 16]>) -> Derived {
        let row_version = match row_version {
            Some(hex) => {
                let given = String::from_utf8(hex.to_vec()).expect("hex digits");
                debug_assert_eq!(given, text_row_version(text), "{text}");
                given
            }
            None => text_row_version(text),
        };
        Derived {
            row_version,
            digest: text_digest(text),
            keys: keys::encode(text),
        }
    }
}

/// A chunk of changes to apply, with the row versions of their new texts where they were
/// worked out as the rows were checked (empty, or one per change).
pub type ChangeChunk<'c> = (std::borrow::Cow<'c, [Change]>, Vec<Option<[u8; 16]>>);

/// Changes a revert reads from the log and writes at a time (tests: two, so that a few
/// changes make several chunks).
const REVERT_CHUNK: usize = if cfg!(test) { 2 } else { 4096 };

/// The row versions (a parse, a sort and a hash each, unless the batch's records bring
/// theirs, one per change in `versions`), digests and keys of a chunk of changes, on the pool:
/// for a million new users they cost as long as the inserts.
fn derive(chunk: &[Change], versions: &[Option<[u8; 16]>]) -> Vec<Option<Derived>> {
    use rayon::prelude::*;
    (chunk.par_iter().enumerate())
        .map(|(i, c)| {
            let version = versions.get(i).copied().flatten();
            c.after.as_ref().map(|a| Derived::of(&a.0, version))
        })
        .collect()
}

/// Whether a record's text says it is the bot account (`"bot_account": true`), read without
/// building its tree.
fn is_bot(text: &str) -> bool {
    // A struct would also read a list positionally.
    if !text.trim_start().starts_with('{') {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Flag {
        bot_account: Option<Value>,
    }
    serde_json::from_str::<Flag>(text).is_ok_and(|f| f.bot_account == Some(Value::Bool(true)))
}

/// What this process has committed to a store, for the thread that ends muster on a signal: a
/// signal in what follows a commit (SQLite's checkpoint, a JSON plan, `forget`'s compaction)
/// said the change "was not made" while it stood (automation review).
static COMMITTED: std::sync::OnceLock<Committed> = std::sync::OnceLock::new();

/// A change committed to a store, and what is left undone if muster stops after it.
#[derive(Debug)]
pub struct Committed {
    pub store: PathBuf,
    pub left_undone: std::sync::OnceLock<&'static str>,
}

/// The change this process committed, if any.
pub fn committed() -> Option<&'static Committed> {
    COMMITTED.get()
}

/// Says what is left undone should muster stop after its commit (`forget`: the compaction).
pub fn left_undone_if_stopped(what: &'static str) {
    if let Some(c) = COMMITTED.get() {
        let _ = c.left_undone.set(what);
    }
}

/// The write lock and the transaction that applies one batch.
pub struct Writer<'a> {
    tx: rusqlite::Transaction<'a>,
    conn: &'a Connection,
    path: PathBuf,
    /// The store was empty and took this write with a rollback journal (`Store::write`).
    restore_wal: bool,
}

/// Asks for journal `mode` without waiting on anyone else; whether it was set.
fn set_journal_mode(conn: &Connection, mode: &str) -> rusqlite::Result<bool> {
    conn.busy_timeout(Duration::ZERO)?;
    let set = conn.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| {
        r.get::<_, String>(0)
    });
    conn.busy_timeout(lock_timeout())?;
    match set {
        Ok(now) => Ok(now.eq_ignore_ascii_case(mode)),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Writer<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source)
    }

    /// The stored users with these record ids (by the primary key: `remove` needs a few
    /// records, not the store), keyed by record id; an id the store does not hold is absent.
    pub fn users_by_id<'i>(
        &self,
        record_ids: impl IntoIterator<Item = &'i str>,
    ) -> Result<std::collections::HashMap<String, StoredUser>, StoreError> {
        let err = |e| self.err(e);
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT record_id, bot, record, row_version, created_by FROM users \
                 WHERE record_id = ?1",
            )
            .map_err(err)?;
        let mut found = std::collections::HashMap::new();
        for id in record_ids {
            if found.contains_key(id) {
                continue;
            }
            if let Some(user) = stmt.query_row([id], stored_user).optional().map_err(err)? {
                found.insert(user.record_id.clone(), user);
            }
        }
        Ok(found)
    }

    pub fn batches(&self) -> Result<Vec<BatchRow>, StoreError> {
        read_batches(&self.tx, None).map_err(|e| self.err(e))
    }

    pub fn batch(&self, name: &str) -> Result<Option<BatchRow>, StoreError> {
        Ok(read_batches(&self.tx, Some(name))
            .map_err(|e| self.err(e))?
            .into_iter()
            .next())
    }

    /// The records batch `batch_id` changed that a later batch changed again, in the order
    /// it changed them.
    pub fn changed_later(&self, batch_id: i64) -> Result<Vec<String>, StoreError> {
        let err = |e| self.err(e);
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT c.record_id FROM changes c WHERE c.batch_id = ?1 AND EXISTS
                   (SELECT 1 FROM changes l WHERE l.record_id = c.record_id AND l.batch_id > ?1)
                 ORDER BY c.id",
            )
            .map_err(err)?;
        let found = stmt
            .query_map([batch_id], |r| r.get(0))
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<String>>>();
        found.map_err(err)
    }

    /// The later batches that changed a record batch `batch_id` changed: a forced revert
    /// undoes their changes to those records too.
    pub fn batches_changed_later(&self, batch_id: i64) -> Result<Vec<i64>, StoreError> {
        let err = |e| self.err(e);
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT DISTINCT l.batch_id FROM changes c
                 JOIN changes l ON l.record_id = c.record_id AND l.batch_id > ?1
                 WHERE c.batch_id = ?1",
            )
            .map_err(err)?;
        let found = stmt
            .query_map([batch_id], |r| r.get(0))
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<i64>>>();
        found.map_err(err)
    }

    /// Batches reverted by one of `undone` (the batches whose changes the revert of batch
    /// `target` is undoing), themselves not undone: their own changes are live again, so they
    /// are no longer marked reverted (and can be reverted). Only a revert undone whole counts:
    /// a forced revert undoes later batches' changes to `target`'s records alone.
    pub fn unmark_reverted_by(&mut self, target: i64, undone: &[i64]) -> Result<(), StoreError> {
        for id in undone {
            let whole: bool = (self.tx)
                .query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM changes r WHERE r.batch_id = ?1
                       AND r.record_id NOT IN (SELECT record_id FROM changes WHERE batch_id = ?2))",
                    [id, &target],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            if !whole {
                continue;
            }
            let mut stmt = (self.tx)
                .prepare_cached("SELECT id FROM batches WHERE reverted_by = ?1")
                .map_err(|e| self.err(e))?;
            let reverted: Vec<i64> = stmt
                .query_map([id], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err(e))?;
            drop(stmt);
            for batch in reverted.into_iter().filter(|b| !undone.contains(b)) {
                self.tx
                    .execute(
                        "UPDATE batches SET reverted_by = NULL WHERE id = ?1",
                        [batch],
                    )
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// The record id of the stored bot account, if there is one.
    pub fn bot_record_id(&self) -> Result<Option<String>, StoreError> {
        bot_record_id(&self.tx, None).map_err(|e| self.err(e))
    }

    /// The record ids batch `batch_id` changed that the store holds now.
    pub fn kept_records_of(
        &self,
        batch_id: i64,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let err = |e| self.err(e);
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT DISTINCT c.record_id FROM changes c JOIN users u ON u.record_id = c.record_id
                 WHERE c.batch_id = ?1",
            )
            .map_err(err)?;
        let found = stmt
            .query_map([batch_id], |r| r.get(0))
            .map_err(err)?
            .collect::<rusqlite::Result<_>>();
        found.map_err(err)
    }

    /// Records the batch and applies its changes; the caller commits.
    pub fn apply(&mut self, info: &BatchInfo, changes: &[Change]) -> Result<i64, StoreError> {
        self.apply_chunks(
            info,
            changes
                .chunks(APPLY_CHUNK)
                .map(|c| Ok((std::borrow::Cow::Borrowed(c), Vec::new()))),
        )
    }

    /// Whether the change log holds a change of `record_id` (a user removed since).
    /// [`spelt_as_logged`] on the store being written.
    pub fn spelt_as_logged(&self, typed: &str) -> Result<String, StoreError> {
        spelt_as_logged(&self.tx, typed).map_err(StoreError::Refused)
    }

    pub fn logged(&self, record_id: &str) -> Result<bool, StoreError> {
        logged(&self.tx, record_id).map_err(|e| self.err(e))
    }

    /// Whether the change log holds a copy of `record_id`'s data (a create logs none).
    pub fn logged_with_data(&self, record_id: &str) -> Result<bool, StoreError> {
        self.tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM changes WHERE record_id = ?1 \
                 AND (before IS NOT NULL OR after IS NOT NULL))",
                [record_id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// The other record ids, stored or in the change log, that held a primary address one of
    /// `record_ids` held: the same person under another record id, as a re-key leaves them.
    pub fn same_address_elsewhere(&self, record_ids: &[&str]) -> Result<Vec<String>, StoreError> {
        let find = || -> rusqlite::Result<Vec<String>> {
            let mut addresses = std::collections::BTreeSet::new();
            let mut of = self.tx.prepare_cached(
                "SELECT json_extract(record, '$.user.email_addr') FROM users WHERE record_id = ?1
                 UNION SELECT json_extract(before, '$.user.email_addr') FROM changes WHERE record_id = ?1
                 UNION SELECT json_extract(after, '$.user.email_addr') FROM changes WHERE record_id = ?1",
            )?;
            for rid in record_ids {
                let found = of.query_map([rid], |r| r.get::<_, Option<String>>(0))?;
                for address in found {
                    addresses.extend(address?);
                }
            }
            let mut holders = self.tx.prepare_cached(
                "SELECT record_id FROM users WHERE json_extract(record, '$.user.email_addr') = ?1
                 UNION SELECT record_id FROM changes
                 WHERE json_extract(before, '$.user.email_addr') = ?1
                    OR json_extract(after, '$.user.email_addr') = ?1",
            )?;
            let mut others = std::collections::BTreeSet::new();
            for address in &addresses {
                for rid in holders.query_map([address], |r| r.get::<_, String>(0))? {
                    let rid = rid?;
                    if !record_ids.contains(&rid.as_str()) {
                        others.insert(rid);
                    }
                }
            }
            Ok(others.into_iter().collect())
        };
        find().map_err(|e| self.err(e))
    }

    /// Erases records (the right to erasure): `removals` removes those still stored, as a
    /// batch; then every logged change of each record id given, whose before and after hold
    /// its data, is deleted, and one `remove` without data logged in its place, so that an old
    /// export's row of it is still told from a new user's (S004), and a revert of an earlier
    /// batch brings none of it back. The pages the data leaves are overwritten with zeros
    /// (`secure_delete`; [`Store::compact`] then clears what earlier writes left). Other
    /// records that name the person (a `manager_email`) are not changed.
    pub fn forget(
        &mut self,
        info: &BatchInfo,
        removals: &[Change],
        record_ids: &[&str],
    ) -> Result<i64, StoreError> {
        self.tx
            .pragma_update(None, "secure_delete", true)
            .map_err(|e| self.err(e))?;
        let id = self.apply(info, removals)?;
        let erase = || -> rusqlite::Result<()> {
            let mut delete = self
                .tx
                .prepare_cached("DELETE FROM changes WHERE record_id = ?1")?;
            let mut log = self.tx.prepare_cached(
                "INSERT INTO changes (batch_id, record_id, action, before, after) \
                 VALUES (?1, ?2, 'remove', NULL, NULL)",
            )?;
            for rid in record_ids {
                delete.execute([rid])?;
                log.execute(params![id, rid])?;
            }
            Ok(())
        };
        erase().map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Applies changes that come a chunk at a time (an import's creates are read back from the
    /// batch's spilled records as they are written): the next chunk is made, and its row
    /// versions worked out, on the pool while this one is inserted.
    pub fn apply_chunks<'c>(
        &mut self,
        info: &BatchInfo,
        mut chunks: impl Iterator<Item = Result<ChangeChunk<'c>, StoreError>> + Send,
    ) -> Result<i64, StoreError> {
        let batch_id = self.begin_batch(info)?;
        type Prepared<'c> = Option<(std::borrow::Cow<'c, [Change]>, Vec<Option<Derived>>)>;
        let prepare = |chunks: &mut dyn Iterator<Item = _>| -> Result<Prepared<'c>, StoreError> {
            let Some(chunk) = chunks.next() else {
                return Ok(None);
            };
            let (chunk, versions): ChangeChunk<'c> = chunk?;
            let derived = derive(&chunk, &versions);
            Ok(Some((chunk, derived)))
        };
        // The next chunk is made and derived on the pool while this one is written.
        let mut current = prepare(&mut chunks)?;
        while let Some((chunk, derived)) = current.take() {
            let mut next = Ok(None);
            let written = rayon::in_place_scope(|s| {
                s.spawn(|_| next = prepare(&mut chunks));
                self.write_changes(batch_id, &chunk, derived)
            });
            written.map_err(|e| self.err(e))?;
            current = next?;
        }
        Ok(batch_id)
    }

    /// Records a batch (the user and time from here); its id.
    fn begin_batch(&mut self, info: &BatchInfo) -> Result<i64, StoreError> {
        let user = os_user();
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        self.tx
            .execute(
                "INSERT INTO batches (name, file, sha256, applied_at, os_user, muster_version, created, updated, unchanged, removed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    info.name,
                    info.file,
                    info.sha256,
                    now,
                    user,
                    crate::VERSION,
                    info.counts.create as i64,
                    info.counts.update as i64,
                    info.counts.unchanged as i64,
                    info.counts.remove as i64
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Logs and applies a chunk of batch `batch_id`'s changes, with what [`derive`] worked out
    /// for each.
    fn write_changes(
        &self,
        batch_id: i64,
        chunk: &[Change],
        derived: Vec<Option<Derived>>,
    ) -> rusqlite::Result<()> {
        let mut log = self.tx.prepare_cached(
            "INSERT INTO changes (batch_id, record_id, action, before, after) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut upsert = self.tx.prepare_cached(
            "INSERT INTO users (record_id, bot, record, row_version, created_by, updated_by, digest, keys)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)
             ON CONFLICT(record_id) DO UPDATE
             SET bot = ?2, record = ?3, row_version = ?4, updated_by = ?5, digest = ?6, keys = ?7",
        )?;
        // A create has a statement of its own: the upsert may fire the keys' trigger, so
        // SQLite copied every page each one touched to a statement journal first, in case
        // it had to be undone halfway (a tenth of a first import's time, docs/benchmarks.md).
        // The plan was made under this write lock, so a create's record id is not stored.
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO users (record_id, bot, record, row_version, created_by, updated_by, digest, keys)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
        )?;
        let mut delete = self
            .tx
            .prepare_cached("DELETE FROM users WHERE record_id = ?1")?;
        for (c, derived) in chunk.iter().zip(derived) {
            // A create logs no copy of the record: as created, it is the `before` of its next
            // change, or the stored record. A million new users would otherwise be written
            // twice (see docs/status.md).
            let logged_after = c.after.as_ref().filter(|_| c.before.is_some());
            log.execute(params![
                batch_id,
                c.record_id,
                c.action.as_str(),
                c.before.as_ref().map(|v| v.0.as_str()),
                logged_after.map(|v| v.0.as_str())
            ])?;
            match (&c.after, derived) {
                (Some(after), Some(derived)) => {
                    let statement = match c.action {
                        Action::Create => &mut insert,
                        _ => &mut upsert,
                    };
                    statement.execute(params![
                        c.record_id,
                        c.bot,
                        after.0,
                        derived.row_version,
                        batch_id,
                        derived.digest,
                        derived.keys
                    ])?;
                }
                _ => {
                    delete.execute(params![c.record_id])?;
                }
            }
        }
        Ok(())
    }

    /// Undoes batch `batch_id`, recorded as the batch `info` (whose counts are replaced by
    /// those of the changes made): each change it logged, newest first, from the record as it
    /// is now to the record as it was before. The log is read a chunk at a time, each chunk
    /// written before the next is read: reverting a batch of a million new users held every
    /// record at once (6 GB).
    pub fn revert(&mut self, batch_id: i64, info: &BatchInfo) -> Result<(i64, Counts), StoreError> {
        let id = self.begin_batch(info)?;
        let mut counts = Counts::default();
        let mut below = i64::MAX;
        loop {
            let (chunk, last) = self
                .undo_chunk(batch_id, below, &mut counts)
                .map_err(|e| self.err(e))?;
            let Some(last) = last else { break };
            below = last;
            let derived = derive(&chunk, &[]);
            self.write_changes(id, &chunk, derived)
                .map_err(|e| self.err(e))?;
            self.restore_creators(id, &chunk).map_err(|e| self.err(e))?;
        }
        self.tx
            .execute(
                "UPDATE batches SET created = ?2, updated = ?3, unchanged = 0, removed = ?4 WHERE id = ?1",
                params![
                    id,
                    counts.create as i64,
                    counts.update as i64,
                    counts.remove as i64
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok((id, counts))
    }

    /// The changes that undo the next [`REVERT_CHUNK`] changes of batch `batch_id` logged
    /// A record a revert brings back was created by the batch that first created it, not by
    /// the revert (review: `export --batch Q1` left out a Q1 user that a `remove` and its
    /// revert had brought back): the latest create of it by a batch that is no revert.
    fn restore_creators(&self, revert: i64, chunk: &[Change]) -> rusqlite::Result<()> {
        let mut restore = self.tx.prepare_cached(
            "UPDATE users SET created_by = COALESCE((
                SELECT c.batch_id FROM changes c JOIN batches b ON b.id = c.batch_id
                WHERE c.record_id = ?1 AND c.action = 'create' AND c.batch_id <> ?2
                  AND NOT b.name GLOB 'revert-*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*'
                ORDER BY c.id DESC LIMIT 1), created_by)
             WHERE record_id = ?1",
        )?;
        for c in chunk.iter().filter(|c| c.action == Action::Create) {
            restore.execute(params![c.record_id, revert])?;
        }
        Ok(())
    }

    /// before change `below`, newest first, and the oldest change read (`None`: none was left).
    /// Each starts from the record as the changes undone before it left it (the store has
    /// those of earlier chunks), so where chunks end does not matter: a batch that logged a
    /// record twice (`remove R1 R1` before it took each id once) is undone change by change.
    fn undo_chunk(
        &self,
        batch_id: i64,
        below: i64,
        counts: &mut Counts,
    ) -> rusqlite::Result<(Vec<Change>, Option<i64>)> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT c.id, c.record_id, c.before, c.after, u.record
             FROM changes c LEFT JOIN users u ON u.record_id = c.record_id
             WHERE c.batch_id = ?1 AND c.id < ?2 ORDER BY c.id DESC LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![batch_id, below, REVERT_CHUNK as i64])?;
        let (mut changes, mut last) = (Vec::new(), None);
        // Records this chunk's changes leave, by record id.
        let mut left: std::collections::HashMap<String, Option<String>> = Default::default();
        while let Some(r) = rows.next()? {
            last = Some(r.get::<_, i64>(0)?);
            let record_id: String = r.get(1)?;
            let before: Option<String> = r.get(2)?;
            let now: Option<String> = match left.get(&record_id) {
                Some(now) => now.clone(),
                None => r.get(4)?,
            };
            left.insert(record_id.clone(), before.clone());
            let action = match (&now, &before) {
                (None, None) => continue,
                (None, Some(_)) => Action::Create,
                (Some(_), None) => Action::Remove,
                (Some(_), Some(_)) => Action::Update,
            };
            *match action {
                Action::Create => &mut counts.create,
                Action::Remove => &mut counts.remove,
                Action::Update => &mut counts.update,
            } += 1;
            // As the log reads it: the bot flag of the record before, or else after, the
            // change undone.
            let logged_after: Option<String> = r.get(3)?;
            let bot = before
                .as_deref()
                .or(logged_after.as_deref())
                .is_some_and(is_bot);
            changes.push(Change {
                record_id,
                action,
                bot,
                before: now.map(RecordJson),
                after: before.map(RecordJson),
            });
        }
        Ok((changes, last))
    }

    pub fn mark_reverted(&mut self, batch_id: i64, by: i64) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE batches SET reverted_by = ?2 WHERE id = ?1",
                params![batch_id, by],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn commit(self) -> Result<(), StoreError> {
        let path = self.path.clone();
        self.tx.commit().map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let _ = COMMITTED.set(Committed {
            store: path,
            left_undone: std::sync::OnceLock::new(),
        });
        if self.restore_wal {
            // Committed either way; someone already in the store sets the WAL as it opens.
            let _ = set_journal_mode(self.conn, "WAL");
            let _ = self.conn.pragma_update(None, "synchronous", "FULL");
        }
        Ok(())
    }
}

/// The users in rowid order, to be read with [`stored_user`]; the bot is set aside by the
/// reader and comes last. `ORDER BY rowid` is the table's own order; `ORDER BY bot, rowid` made
/// SQLite sort every record's text (2.4 GB at a million users).
const USERS_IN_ORDER: &str =
    "SELECT record_id, bot, record, row_version, created_by FROM users ORDER BY rowid";

fn stored_user(r: &rusqlite::Row) -> rusqlite::Result<StoredUser> {
    Ok(StoredUser::new(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
    ))
}

fn read_users(conn: &Connection) -> rusqlite::Result<Vec<StoredUser>> {
    let mut stmt = conn.prepare(USERS_IN_ORDER)?;
    let rows = stmt.query_map([], stored_user)?;
    let mut users = Vec::new();
    let mut bots = Vec::new();
    for user in rows {
        let user = user?;
        if user.bot {
            bots.push(user);
        } else {
            users.push(user);
        }
    }
    users.append(&mut bots);
    Ok(users)
}

fn batch_row(r: &rusqlite::Row, offset: usize) -> rusqlite::Result<BatchRow> {
    let count = |i: usize| -> rusqlite::Result<usize> { Ok(r.get::<_, i64>(offset + i)? as usize) };
    Ok(BatchRow {
        id: r.get(offset)?,
        name: r.get(offset + 1)?,
        file: r.get(offset + 2)?,
        sha256: r.get(offset + 3)?,
        applied_at: r.get(offset + 4)?,
        os_user: r.get(offset + 5)?,
        counts: Counts {
            create: count(6)?,
            update: count(7)?,
            unchanged: count(8)?,
            remove: count(9)?,
        },
        reverted_by: r.get(offset + 10)?,
        muster_version: r.get(offset + 11)?,
    })
}

const BATCH_COLUMNS: &str =
    "b.id, b.name, b.file, b.sha256, b.applied_at, b.os_user, b.created, b.updated, b.unchanged, b.removed, b.reverted_by, b.muster_version";

fn read_batches(conn: &Connection, name: Option<&str>) -> rusqlite::Result<Vec<BatchRow>> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM batches b WHERE ?1 IS NULL OR b.name = ?1 ORDER BY b.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![name], |r| batch_row(r, 0))?;
    rows.collect()
}

fn read_changes(
    conn: &Connection,
    filter: &str,
    value: &str,
) -> rusqlite::Result<Vec<LoggedChange>> {
    let sql = format!(
        "SELECT c.record_id, c.action, c.before, c.after, {BATCH_COLUMNS}
         FROM changes c JOIN batches b ON b.id = c.batch_id WHERE {filter} ORDER BY c.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![value], |r| {
        let before = r.get::<_, Option<String>>(2)?.map(RecordJson);
        let after = r.get::<_, Option<String>>(3)?.map(RecordJson);
        let bot = before
            .as_ref()
            .or(after.as_ref())
            .is_some_and(|v| v.value()["bot_account"] == Value::Bool(true));
        Ok(LoggedChange {
            change: Change {
                record_id: r.get(0)?,
                action: Action::parse(&r.get::<_, String>(1)?),
                bot,
                before,
                after,
            },
            batch: batch_row(r, 4)?,
        })
    })?;
    rows.collect()
}

/// The record's JSON with every object's keys sorted: what `row_version` hashes. Text is already
/// NFC (muster normalizes on reading).
pub fn canonical(value: &Value) -> String {
    let mut out = Vec::with_capacity(4096);
    write_canonical(value, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Writes `value` as compact JSON with every object's keys sorted, straight from the borrowed
/// tree (no sorted copy of it): this runs for every record an import stores or compares.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::record::write_str(out, key);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            crate::record::write_array(out, items, |out, item| write_canonical(item, out))
        }
        Value::String(text) => crate::record::write_str(out, text),
        other => write_leaf(other, out),
    }
}

/// A scalar as serde_json writes it (strings and keys: `record::write_str`, the same bytes).
fn write_leaf(leaf: &impl serde::Serialize, out: &mut Vec<u8>) {
    serde_json::to_writer(out, leaf).expect("writing JSON to memory cannot fail");
}

/// SPEC §6: the first 16 hex digits of the SHA-256 of the canonical JSON.
pub fn row_version(record: &Value) -> String {
    version_of_canonical(&canonical(record))
}

fn version_of_canonical(canonical: &str) -> String {
    let hex = row_version_of_canonical(canonical.as_bytes());
    String::from_utf8(hex.to_vec()).expect("hex digits")
}

/// The row version of canonical JSON, as 16 ASCII hex digits.
pub fn row_version_of_canonical(canonical: &[u8]) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(canonical);
    let mut hex = [0; 16];
    for (i, b) in digest.iter().take(8).enumerate() {
        hex[2 * i] = HEX[usize::from(b >> 4)];
        hex[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    hex
}

/// `row_version` of a record's text, the text canonicalized as it is parsed: no `Value` tree
/// is built (a tree per record was most of the time an import spent on row versions). Text
/// that is not JSON gets the version of `null`, as `RecordJson::value` reads it.
pub fn text_row_version(text: &str) -> String {
    version_of_canonical(&canonical_text(text))
}

/// `canonical` of the parsed text, written while parsing.
fn canonical_text(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = serde::de::DeserializeSeed::deserialize(Canonical(&mut out), &mut de)
        .and_then(|()| de.end());
    match parsed {
        Ok(()) => String::from_utf8(out).expect("JSON is UTF-8"),
        Err(_) => "null".to_string(),
    }
}

/// Writes the value it deserializes as canonical JSON (`write_canonical`'s bytes).
struct Canonical<'o>(&'o mut Vec<u8>);

impl<'de> serde::de::DeserializeSeed<'de> for Canonical<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Canonical<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        write_leaf(&v, self.0);
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        write_leaf(&v, self.0);
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        write_leaf(&v, self.0);
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // Through `Value`, as the tree would hold it (non-finite numbers become null there).
        write_leaf(&Value::from(v), self.0);
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        crate::record::write_str(self.0, v);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let out = self.0;
        out.push(b'[');
        let mut first = true;
        loop {
            let mark = out.len();
            if !first {
                out.push(b',');
            }
            if seq.next_element_seed(Canonical(out))?.is_none() {
                out.truncate(mark);
                break;
            }
            first = false;
        }
        out.push(b']');
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Each value is written to one scratch buffer and the entries sorted by key; a key
        // given twice keeps its last value, as the parsed map does.
        let mut scratch = Vec::new();
        let mut entries: Vec<(std::borrow::Cow<'de, str>, std::ops::Range<usize>)> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let start = scratch.len();
            map.next_value_seed(Canonical(&mut scratch))?;
            entries.push((key, start..scratch.len()));
        }
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| later.0 == kept.0);
        let out = self.0;
        out.push(b'{');
        for (i, (key, value)) in entries.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            crate::record::write_str(out, key.as_ref());
            out.push(b':');
            out.extend_from_slice(&scratch[value]);
        }
        out.push(b'}');
        Ok(())
    }
}

/// An object key, borrowed from the text unless it has escapes.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_string()))
    }
}

/// The SHA-256 of a file, in hex.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The SHA-256 a batch is recorded with: the file's, or for a directory the hash of each file's
/// name and hash in name order; and each file hashed as it was when its hashing began. The
/// digest is made on a thread of its own, which may begin before the batch's reading: a file
/// still as stamped once both are done was one version for both.
pub fn batch_sha256(path: &Path) -> std::io::Result<(String, crate::input::Stamps)> {
    let stamped = |path: &Path| (path.to_path_buf(), crate::input::FileStamp::of(path));
    if !path.is_dir() {
        let stamp = stamped(path);
        return Ok((file_sha256(path)?, vec![stamp]));
    }
    let mut stamps = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        stamps.push(stamped(&name));
        hasher.update(name.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.update(file_sha256(&name)?.as_bytes());
    }
    let digest = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((digest, stamps))
}

/// A record's fields as path → value (a string, a list, a number), for the plan's "before →
/// after".
pub fn flatten(record: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, v, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", record, &mut out);
    // The tags are a set: listed in the reference's order, an earlier muster's order is not
    // shown as a change beside a real one (adversarial review).
    if let Some(Value::Array(tags)) = out.get_mut("user.user_tags") {
        use crate::check::values::USER_TAGS;
        tags.sort_by_key(|t| {
            USER_TAGS
                .iter()
                .position(|known| Some(*known) == t.as_str())
        });
    }
    out
}

#[cfg(test)]
mod tests {
    /// The canonical JSON is the record with its keys sorted, compact: as the sorted copy that
    /// defined it first would print.
    #[test]
    fn canonical_json_is_the_sorted_copy() {
        fn sorted(v: &Value) -> Value {
            match v {
                Value::Object(m) => {
                    let sorted: BTreeMap<&String, Value> =
                        m.iter().map(|(k, v)| (k, sorted(v))).collect();
                    Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
                }
                Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        let record = serde_json::json!({
            "z": [3, {"b": "\"quoted\"\n", "a": null}], "record_id": "CTR-1",
            "Ä": 1.5, "bot_account": false, "": {"y": true, "x": "naïve \u{1}"}
        });
        assert_eq!(canonical(&record), sorted(&record).to_string());
        assert_eq!(canonical(&serde_json::json!({})), "{}");
    }

    use super::*;
    use serde_json::json;

    /// A store read without locks (a frozen file: no `-shm` is made for it) is refused once it
    /// changed while read; one read with locks is not stamped.
    #[test]
    fn a_store_read_without_locks_is_refused_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open_read_only(&path).unwrap();
        assert!(store.read_unlocked.is_none());
        store.check_unchanged().unwrap();
        drop(store);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
            let store = Store::open_read_only(&path).unwrap();
            assert!(store.read_unlocked.is_some());
            store.check_unchanged().unwrap();
            let file = std::fs::File::options().read(true).open(&path).unwrap();
            let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
            // Its owner may set the time of a file no one may write.
            file.set_modified(later).unwrap();
            assert!(matches!(
                store.check_unchanged(),
                Err(StoreError::ChangedWhileRead { .. })
            ));
        }
    }

    /// A record an earlier muster wrote with its tags in the sheet's order is compared as the
    /// record this muster writes: its tags in the reference's order.
    #[test]
    fn a_record_is_compared_with_its_tags_in_the_reference_order() {
        let text = |tags: &str| {
            format!(
                r#"{{"record_id":"R1","user":{{"email_addr":"a@acme.com","user_tags":[{tags}],"custom_attributes":{{"user_tags":"VIP,TESTER"}}}}}}"#
            )
        };
        let old = text(r#""TESTER","HAS_ACCESS_TO_BOT","VIP""#);
        let new = text(r#""VIP","TESTER","HAS_ACCESS_TO_BOT""#);
        assert_eq!(reordered_tags(&old).as_deref(), Some(new.as_str()));
        assert_eq!(normal_digest(&old), text_digest(&new));
        // In order, one tag, none, or a tag muster does not write: as it is.
        for same in [
            new.clone(),
            text(r#""VIP""#),
            text(""),
            text(r#""VIP","SOMETHING""#),
            r#"{"record_id":"R1","user":{"custom_attributes":{"note":"\"user_tags\":[\"VIP\"]"}}}"#
                .to_string(),
        ] {
            assert_eq!(reordered_tags(&same), None, "{same}");
            assert_eq!(normal_digest(&same), text_digest(&same));
        }
    }

    /// A store of schema 2 (the twenty-ninth session's and before) whose digests are of texts
    /// with tags in another order: migrated by the first write, its digests are the normal
    /// ones, and the texts are left as they are.
    #[test]
    fn migration_3_writes_normal_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        let old = r#"{"record_id":"OLD-1","user":{"email_addr":"old@acme.com","user_tags":["TESTER","VIP"]}}"#;
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute(
                "INSERT INTO users (record_id, bot, record, row_version, digest, keys) VALUES ('OLD-1', 0, ?1, 'v', ?2, ?3)",
                params![old, text_digest(old), keys::encode(old)],
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        // Read before the migration: from its text.
        assert_eq!(
            scanned(&store),
            [("OLD-1".to_string(), [0; 32], Ok(old.to_string()))]
        );
        store.write().unwrap().commit().unwrap();
        assert_eq!(schema_of(&store.conn).unwrap(), SCHEMA);
        assert_eq!(
            scanned(&store),
            [(
                "OLD-1".to_string(),
                normal_digest(old),
                Err(keys::encode(old))
            )]
        );
        assert_ne!(normal_digest(old), text_digest(old));
        let kept: String = store
            .conn
            .query_row("SELECT record FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, old);
        // An earlier muster that opened it before the migration and waited for its lock
        // writes no batch into it (adversarial review: 50 records without digests).
        let refused = store
            .conn
            .execute(
                "INSERT INTO batches (name, file, sha256, applied_at, os_user, muster_version, created, updated, unchanged, removed)
                 VALUES ('old', 'old.csv', '0', 'now', 'me', '0.1.0', 1, 0, 0, 0)",
                [],
            )
            .unwrap_err();
        assert!(refused.to_string().contains("upgrade muster"), "{refused}");
    }

    /// The digest says which files it read, each as it was when its hashing began: a file
    /// written over since then (before the batch's own reading began, which the digest may
    /// run ahead of) is told.
    #[test]
    fn a_batch_digest_stamps_the_files_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.csv");
        std::fs::write(&file, "a\n").unwrap();
        let (digest, stamps) = batch_sha256(&file).unwrap();
        assert_eq!(digest, file_sha256(&file).unwrap());
        assert_eq!(stamps, [(file.clone(), crate::input::FileStamp::of(&file))]);
        assert_eq!(crate::input::changed_since(&stamps), None);
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        let handle = std::fs::File::options().write(true).open(&file).unwrap();
        handle.set_modified(later).unwrap();
        assert_eq!(crate::input::changed_since(&stamps), Some(file.as_path()));

        // A CSV directory: each of its files.
        std::fs::write(dir.path().join("itsm.csv"), "b\n").unwrap();
        let (_, stamps) = batch_sha256(dir.path()).unwrap();
        let names: Vec<_> = (stamps.iter())
            .map(|(p, s)| (p.file_name().unwrap().to_str().unwrap(), s.is_some()))
            .collect();
        assert_eq!(names, [("itsm.csv", true), ("users.csv", true)]);
        std::fs::write(dir.path().join("itsm.csv"), "bc\n").unwrap();
        assert_eq!(
            crate::input::changed_since(&stamps),
            Some(dir.path().join("itsm.csv").as_path())
        );
    }

    /// The change log read without locks is of the state the store was read in: a store
    /// changed before the log is opened is refused, and one changed while the log is read
    /// leaves the log's answers untrusted.
    #[cfg(unix)]
    #[test]
    fn a_change_log_read_without_locks_tells_a_change() {
        use crate::validate::VersionHistory;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        drop(Store::open(&path).unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let touch = |secs| {
            let file = std::fs::File::options().read(true).open(&path).unwrap();
            let later = std::time::SystemTime::now() + std::time::Duration::from_secs(secs);
            file.set_modified(later).unwrap();
        };
        let store = Store::open_read_only(&path).unwrap();
        let read = store.read_unlocked();
        assert!(read.is_some());
        drop(store);

        let history = StoreHistory::open(&path, read).unwrap();
        assert!(!history.changed_while_read());
        assert!(!history.was_removed("CTR-1"));
        touch(5);
        assert!(history.changed_while_read());
        drop(history);

        // Changed between the store's read and the log's.
        assert!(matches!(
            StoreHistory::open(&path, read),
            Err(StoreError::ChangedWhileRead { .. })
        ));
        // The log alone is stamped when it is opened.
        let history = StoreHistory::open(&path, None).unwrap();
        assert!(!history.changed_while_read());
        touch(10);
        assert!(history.changed_while_read());
    }

    /// Any JSON value, nested a few levels, with keys that sort in interesting ways.
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,8}|[\"\\\\\u{0}-\u{1f}é😀]{0,4}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::vec(("[a-cA-C_é\"]{0,3}", inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The text canonicalized while parsing is the parsed tree's canonical JSON, whether
        /// the text is compact or pretty.
        #[test]
        fn canonical_text_is_the_tree_s(value in any_json()) {
            // Against the tree parsed from the same text, as `RecordJson::value` reads it (a
            // float need not come back from its text as the very same f64).
            for text in [value.to_string(), serde_json::to_string_pretty(&value).unwrap()] {
                let parsed: Value = serde_json::from_str(&text).unwrap();
                proptest::prop_assert_eq!(canonical_text(&text), canonical(&parsed));
                proptest::prop_assert_eq!(text_row_version(&text), row_version(&parsed));
            }
        }
    }

    /// A revert read and written two changes at a time leaves the store as it was before the
    /// batch: changed records restored, created ones removed, removed ones back.
    #[test]
    fn a_revert_in_chunks_restores_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let text = |rid: &str, dept: &str, bot: bool| {
            let bot = if bot { r#","bot_account":true"# } else { "" };
            RecordJson(format!(
                r#"{{"record_id":"{rid}"{bot},"user":{{"department":"{dept}"}}}}"#
            ))
        };
        fn info(name: &str) -> BatchInfo<'_> {
            BatchInfo {
                name,
                file: "",
                sha256: "",
                counts: Counts::default(),
            }
        }
        let change =
            |rid: &str, action, before: Option<RecordJson>, after: Option<RecordJson>| Change {
                record_id: rid.to_string(),
                action,
                bot: rid == "BOT",
                before,
                after,
            };
        let update = |rid: &str, from: &str, to: &str| {
            let (from, to) = (text(rid, from, false), text(rid, to, false));
            change(rid, Action::Update, Some(from), Some(to))
        };
        let remove = |rid: &str| {
            change(
                rid,
                Action::Remove,
                Some(text(rid, "IT", rid == "BOT")),
                None,
            )
        };
        let first: Vec<Change> = ["R0", "R1", "R2", "R3", "R4", "BOT"]
            .iter()
            .map(|&r| change(r, Action::Create, None, Some(text(r, "IT", r == "BOT"))))
            .collect();
        let mut w = store.write().unwrap();
        w.apply(&info("one"), &first).unwrap();
        w.commit().unwrap();
        let snapshot = |store: &Store| {
            let mut users: Vec<_> = (store.users().unwrap().into_iter())
                .map(|u| (u.record_id, u.bot, u.text, u.row_version))
                .collect();
            users.sort();
            users
        };
        let before = snapshot(&store);
        let second = vec![
            update("R1", "IT", "HR"),
            remove("R2"),
            change("R5", Action::Create, None, Some(text("R5", "HR", false))),
            remove("BOT"),
            update("R3", "IT", "OPS"),
        ];
        let mut w = store.write().unwrap();
        let two = w.apply(&info("two"), &second).unwrap();
        w.commit().unwrap();
        assert_ne!(snapshot(&store), before);
        let mut w = store.write().unwrap();
        let (_, counts) = w.revert(two, &info("undo")).unwrap();
        w.commit().unwrap();
        assert_eq!(snapshot(&store), before);
        assert_eq!(
            (counts.update, counts.remove, counts.create),
            (2, 1, 2),
            "R1 and R3 restored, R5 removed, R2 and the bot brought back"
        );
        let undo = store.batch("undo").unwrap().unwrap();
        assert_eq!(undo.counts, counts);
        // The log of the revert: the newest change undone first.
        let undone: Vec<_> = (store.changes_of(undo.id).unwrap().into_iter())
            .map(|c| (c.change.record_id, c.change.action))
            .collect();
        let expected = [
            ("R3", Action::Update),
            ("BOT", Action::Create),
            ("R5", Action::Remove),
            ("R2", Action::Create),
            ("R1", Action::Update),
        ];
        assert_eq!(undone, expected.map(|(r, a)| (r.to_string(), a)));

        // A batch that logged R0's removal twice (as `remove R0 R0` once did), the two ends in
        // different chunks, then in one: each undone change starts from what the one after it
        // left, so R0 comes back once and the revert does not fail on its record id.
        for (k, third) in [
            vec![remove("R0"), update("R1", "IT", "OPS"), remove("R0")],
            vec![update("R1", "IT", "OPS"), remove("R0"), remove("R0")],
        ]
        .into_iter()
        .enumerate()
        {
            let (name, undo) = (format!("three-{k}"), format!("undo three-{k}"));
            let mut w = store.write().unwrap();
            let three = w.apply(&info(&name), &third).unwrap();
            w.commit().unwrap();
            let mut w = store.write().unwrap();
            let (_, counts) = w.revert(three, &info(&undo)).unwrap();
            w.commit().unwrap();
            assert_eq!(snapshot(&store), before);
            assert_eq!((counts.update, counts.remove, counts.create), (2, 0, 1));
        }
    }

    #[test]
    fn canonical_text_of_odd_texts_is_the_tree_s() {
        for text in [
            r#"{"b":1,"a":{"d":[1,2.5,-0.0,1e300],"c":null},"b":2}"#,
            r#"{"k\u00e9y":"v\n","ke":"\ud83d\ude00","":[]}"#,
            r#"[{"z":{}},{"y":[[]]}]"#,
            r#"{"a":1} x"#,
            r#"{"a":"#,
            "",
            "12345678901234567890123",
            " true ",
            // Once found by `canonical_text_is_the_tree_s` (kept here rather than in a
            // proptest-regressions folder at the top of the repository).
            r#"{"":[-3.1611815992547582e60]}"#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            assert_eq!(canonical_text(text), canonical(&value), "{text}");
        }
    }

    #[test]
    fn row_version_ignores_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "é"}});
        let b = json!({"a": {"x": "é", "y": [1, 2]}, "b": 1});
        assert_eq!(row_version(&a), row_version(&b));
        assert_eq!(row_version(&a).len(), 16);
        assert_ne!(row_version(&a), row_version(&json!({"b": 2})));
    }

    #[test]
    fn refuses_what_is_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.db");
        std::fs::write(&text, "hello").unwrap();
        assert!(matches!(
            Store::open(&text),
            Err(StoreError::Foreign { .. })
        ));
        assert_eq!(std::fs::read(&text).unwrap(), b"hello");

        let foreign = dir.path().join("other.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(
            Store::open(&foreign),
            Err(StoreError::Foreign { .. })
        ));

        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, "").unwrap();
        let store = Store::open(&empty).unwrap();
        assert!(store.users().unwrap().is_empty());
        let page_size: i64 = store
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(page_size, PAGE_SIZE);
        drop(store);
        // Opening again finds muster's store.
        assert!(Store::open(&empty).unwrap().batches().unwrap().is_empty());

        // SQLite's header and nothing else (a muster killed while creating the store): new.
        let blank = dir.path().join("blank.db");
        Connection::open(&blank)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL")
            .unwrap();
        assert!(std::fs::metadata(&blank).unwrap().len() > 0);
        assert!(Store::open(&blank).unwrap().users().unwrap().is_empty());
        assert!(Store::open(&blank).is_ok());
    }

    /// A user as `scan_users` hands it to the parse: its text (`Ok`) or its keys (`Err`).
    type Scanned = (String, [u8; 32], Result<String, Vec<u8>>);

    /// What `scan_users` hands the parse for each user.
    fn scanned(store: &Store) -> Vec<Scanned> {
        let seen = std::sync::Mutex::new(Vec::new());
        store
            .scan_users(
                |chunk: &UserChunk| {
                    for (i, u) in chunk.users.iter().enumerate() {
                        let item = match chunk.item(i) {
                            StoredItem::Text(t) => Ok(t.to_string()),
                            StoredItem::Keys(k) => Err(k.to_vec()),
                        };
                        seen.lock()
                            .unwrap()
                            .push((u.record_id.clone(), u.digest, item));
                    }
                },
                |_, ()| {},
            )
            .unwrap();
        seen.into_inner().unwrap()
    }

    #[test]
    fn a_store_of_the_first_version_is_migrated_and_its_records_read_from_their_texts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let old = r#"{"record_id":"OLD-1","user":{"email_addr":"old@acme.com"}}"#;
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO users (record_id, bot, record, row_version) VALUES ('OLD-1', 0, ?1, 'v')",
                [old],
            )
            .unwrap();
        }
        // Opened and read, it is not migrated: an older muster may share it.
        let mut store = Store::open(&path).unwrap();
        assert_eq!(schema_of(&store.conn).unwrap(), 1);
        assert_eq!(
            scanned(&store),
            [("OLD-1".to_string(), [0; 32], Ok(old.to_string()))]
        );
        // A write refused (rolled back) leaves it as it was.
        drop(store.write().unwrap());
        assert_eq!(schema_of(&store.conn).unwrap(), 1);
        let new = r#"{"record_id":"NEW-1","user":{"email_addr":"new@acme.com"}}"#;
        let info = BatchInfo {
            name: "b",
            file: "b.csv",
            sha256: "0",
            counts: Counts::default(),
        };
        let mut writer = store.write().unwrap();
        writer
            .apply(
                &info,
                &[Change {
                    record_id: "NEW-1".to_string(),
                    action: Action::Create,
                    bot: false,
                    before: None,
                    after: Some(RecordJson(new.to_string())),
                }],
            )
            .unwrap();
        writer.commit().unwrap();
        // Migrated with the change: the old record's keys and digest are written beside it,
        // and both records are read from their keys, without their texts.
        assert_eq!(schema_of(&store.conn).unwrap(), SCHEMA);
        assert_eq!(
            scanned(&store),
            [
                (
                    "OLD-1".to_string(),
                    text_digest(old),
                    Err(keys::encode(old))
                ),
                (
                    "NEW-1".to_string(),
                    text_digest(new),
                    Err(keys::encode(new))
                ),
            ]
        );
        // Keys of another format, or damaged ones, send the scan back to the text.
        for damage in [
            "keys = X'02'",
            "keys = X'01FF'",
            "digest = X'00'",
            "keys = 'text'",
        ] {
            store
                .conn
                .execute(
                    "UPDATE users SET keys = ?1, digest = ?2 WHERE record_id = 'NEW-1'",
                    params![keys::encode(new), text_digest(new)],
                )
                .unwrap();
            assert!(scanned(&store)[1].2.is_err());
            store
                .conn
                .execute_batch(&format!(
                    "UPDATE users SET {damage} WHERE record_id = 'NEW-1'"
                ))
                .unwrap();
            assert_eq!(
                scanned(&store)[1],
                ("NEW-1".to_string(), [0; 32], Ok(new.to_string())),
                "{damage}"
            );
        }
    }
}
