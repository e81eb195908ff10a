//! The durable store: everything Eddy must get back after a crash, in RocksDB under
//! `--data-dir`.
//!
//! Three column families. `meta` holds the catalog (one JSON record per object), each
//! source's Kafka offsets and UPSERT state. `log` holds every durable collection (tables,
//! sources, view outputs) as a log of row changes: a batch's packed rows and counts are a
//! few entries under ever-growing keys, so RocksDB neither sorts nor merges them row by
//! row (sorting each row at every memtable flush was most of what durability cost). A
//! collection's rows are the sum of its changes. Collections that retract rows are
//! compacted off the write path: once a collection's log holds more than twice the rows
//! it adds up to, a compactor thread reads it, consolidates it and hands the result to
//! the committer, which swaps it in for the entries it was read from. `data` holds
//! collections as earlier builds wrote them (one key per distinct row, its value the
//! row's count, summed by a merge operator); it is read, and emptied by the first
//! compaction of each collection, but no longer written.
//!
//! Writes go through one committer thread that gathers whatever is queued into one
//! RocksDB write batch and syncs the WAL once for all of it (group commit). A [`WriteSet`]
//! is atomic: a source batch's rows and the offsets it covers land together or not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};

use eddy_repr::{Diff, GlobalId, PackedRef, PackedRow, Row};
use rocksdb::{
    ColumnFamilyDescriptor, CompactionDecision, DBRecoveryMode, Direction, IteratorMode, MergeOperands, Options,
    Snapshot, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode_row, encode_row};

/// The layout version this build writes. A data directory written by a newer layout is
/// refused at startup, never rewritten.
/// 2 added the `log` column family (opening a version-1 directory adds it).
pub const FORMAT_VERSION: u32 = 2;
const FORMAT_FILE: &str = "EDDY_FORMAT";
const PID_FILE: &str = "eddy.pid";
const META: &str = "meta";
const DATA: &str = "data";
const LOG: &str = "log";
/// Where the next `log` entry's sequence number is kept (in `meta`).
const LOG_SEQ_KEY: &[u8] = b"log_seq";
/// Rows per `log` entry at most.
const LOG_ENTRY_ROWS: usize = 1024;
/// A collection's log is compacted only once it holds at least this many changes more
/// than twice its rows: small collections are not rewritten over and over.
const COMPACTION_MIN_CHANGES: i64 = 100_000;
/// How long the committer waits for writes before it looks for finished compactions.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// The most write sets the committer folds into one sync.
const MAX_GROUP: usize = 4096;
/// Memtable size: also what a flush needs free on disk.
const WRITE_BUFFER: usize = 16 << 20;
/// Free space a write must leave on the data directory's device, so that RocksDB can
/// still flush and compact: RocksDB handles a full device badly (some builds abort), so
/// writes are refused with a clear error before it gets there.
const DISK_HEADROOM: u64 = 2 * WRITE_BUFFER as u64;

/// Why the store could not open, read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("data directory {dir} is in use by another eddy process{pid}; stop it or choose another --data-dir")]
    Locked { dir: String, pid: String },
    #[error("data directory {dir} is corrupt ({detail}); eddy will not modify it: restore it from a backup or move it aside")]
    Corrupt { dir: String, detail: String },
    #[error("data directory {dir} was written by a newer eddy (data format {found}; this eddy reads up to {FORMAT_VERSION}); eddy will not modify it")]
    NewerFormat { dir: String, found: u32 },
    #[error("no space left on the device of data directory {dir}: {detail}")]
    DiskFull { dir: String, detail: String },
    #[error("data directory {dir}: {detail}")]
    Io { dir: String, detail: String },
}

/// One catalog object as it is stored: the statement that recreates it, replayed in id
/// order at startup (an object's dependencies always have smaller ids).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRecord {
    pub id: GlobalId,
    pub name: String,
    pub create_sql: String,
    /// Materialized views whose schedule was changed with ALTER: (target lag in ms,
    /// suspended). `None` means as created.
    #[serde(default)]
    pub refresh: Option<(u64, bool)>,
    /// `COMMENT ON` the object (column 0) and its columns (1, 2, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<(i32, String)>,
}

/// Packed rows with their counts, shared between a write set and its writer.
pub type SharedRows = Arc<Vec<(PackedRow, Diff)>>;

/// Changes to make durable together.
#[derive(Debug, Default)]
pub struct WriteSet {
    /// Row changes per collection, appended to its log as they come (see the module
    /// documentation). Packed and shared: the caller applies (or keeps, to undo) the same
    /// rows while they are stored.
    pub changes: Vec<(GlobalId, SharedRows)>,
    /// Per source collection: the next Kafka offset of each partition its rows cover.
    pub offsets: Vec<(GlobalId, i32, i64)>,
    /// UPSERT state per source: key bytes to `Some((partition, current row))` or `None`.
    pub upsert: Vec<(GlobalId, Vec<u8>, crate::envelope::KeyState)>,
    pub catalog_put: Vec<CatalogRecord>,
    pub catalog_delete: Vec<GlobalId>,
    /// Collections whose rows, offsets and upsert state are removed (dropped objects).
    pub drop_collections: Vec<GlobalId>,
    /// The write need not be synced to disk before it counts as done. Source batches
    /// need not: a batch and its offsets are one atomic write, so after a power loss both
    /// are gone and the source reads the same messages again (still exactly once). What
    /// clients are told is durable is always synced.
    pub no_sync: bool,
    /// Materialized views: the time their stored output is complete up to.
    pub uppers: Vec<(GlobalId, u64)>,
    /// The next object id: ids are never reused, so leftovers of a dropped object can
    /// never be mistaken for a new one's.
    pub next_id: Option<GlobalId>,
    /// Per table and serial or identity column (by position): the last number handed
    /// out, so that numbering goes on after it when the server restarts.
    pub sequences: Vec<(GlobalId, u32, i64)>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|(_, u)| u.is_empty())
            && self.offsets.is_empty()
            && self.upsert.is_empty()
            && self.catalog_put.is_empty()
            && self.catalog_delete.is_empty()
            && self.drop_collections.is_empty()
            && self.next_id.is_none()
            && self.uppers.is_empty()
            && self.sequences.is_empty()
    }
}

/// An open data directory. Cheap to share (`Arc`); dropping the last handle stops the
/// committer and closes RocksDB.
pub struct Store {
    /// `None` for an ephemeral store, which keeps nothing.
    db: Option<Arc<DB>>,
    /// Rows and bytes stored per collection, kept up to date by the committer.
    sizes: Arc<Mutex<BTreeMap<GlobalId, StoredSize>>>,
    dir: PathBuf,
    queue: Mutex<Queue>,
    durable: Arc<(Mutex<Durable>, Condvar)>,
}

/// What one collection holds in the store: rows (with multiplicity), the row changes
/// stored for them (a log keeps each change until it is compacted) and their bytes
/// before compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredSize {
    pub rows: i64,
    pub changes: i64,
    pub bytes: i64,
}

impl StoredSize {
    fn add(&mut self, other: StoredSize) {
        self.rows += other.rows;
        self.changes += other.changes;
        self.bytes += other.bytes;
    }

    fn sub(&mut self, other: StoredSize) {
        self.rows -= other.rows;
        self.changes -= other.changes;
        self.bytes -= other.bytes;
    }

    /// True once the log holds so many more changes than rows that rewriting it
    /// consolidated pays: compaction work stays proportional to the changes written.
    fn needs_compaction(&self) -> bool {
        self.changes > 2 * self.rows.max(0) + COMPACTION_MIN_CHANGES
    }
}

struct Queue {
    next_seq: u64,
    sender: Option<std::sync::mpsc::Sender<(u64, WriteSet)>>,
    committer: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Durable {
    /// Every write set up to this sequence number has been attempted.
    done: u64,
    /// Sequence ranges whose write failed, with why (newest last; a few kept).
    failed: Vec<(u64, u64, StoreError)>,
}

impl Store {
    /// Opens (creating if missing) the data directory `dir`. Refuses, without writing, a
    /// directory that another eddy holds, that a newer eddy wrote, or that is corrupt.
    pub fn open(dir: &Path) -> Result<Arc<Store>, StoreError> {
        let shown = dir.display().to_string();
        let io = |detail: String| StoreError::Io { dir: shown.clone(), detail };
        std::fs::create_dir_all(dir).map_err(|e| io(format!("cannot create it: {e}")))?;
        let format_file = dir.join(FORMAT_FILE);
        let found = match std::fs::read_to_string(&format_file) {
            Ok(text) => {
                let found = parse_format(&text).ok_or_else(|| StoreError::Corrupt {
                    dir: shown.clone(),
                    detail: format!("{FORMAT_FILE} reads {text:?}"),
                })?;
                if found > FORMAT_VERSION {
                    return Err(StoreError::NewerFormat { dir: shown, found });
                }
                Some(found)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if dir.join("CURRENT").exists() {
                    return Err(StoreError::Corrupt { dir: shown, detail: format!("{FORMAT_FILE} is missing") });
                }
                None
            }
            Err(e) => return Err(io(format!("cannot read {FORMAT_FILE}: {e}"))),
        };
        let db =
            DB::open_cf_descriptors(&db_options(), dir, column_families()).map_err(|e| classify(&shown, e, dir))?;
        // A new directory, or a version-1 one that has just gained the `log` family.
        if found != Some(FORMAT_VERSION) {
            std::fs::write(&format_file, format!("eddy data format {FORMAT_VERSION}\n"))
                .map_err(|e| io(format!("cannot write {FORMAT_FILE}: {e}")))?;
        }
        // RocksDB's LOCK file keeps other processes out; the pid is for the error message.
        let _ = std::fs::write(dir.join(PID_FILE), std::process::id().to_string());
        // Log entries go on after the last one stored (reusing a key would overwrite rows).
        let next_log_seq = read_u64(&db, &shown, LOG_SEQ_KEY)?.unwrap_or(0);
        let db = Arc::new(db);
        let durable: Arc<(Mutex<Durable>, Condvar)> = Arc::default();
        let (sender, receiver) = std::sync::mpsc::channel();
        let sizes: Arc<Mutex<BTreeMap<GlobalId, StoredSize>>> = Arc::default();
        let committer = {
            let (db, durable, dir, sizes) = (db.clone(), durable.clone(), shown.clone(), sizes.clone());
            std::thread::Builder::new()
                .name("store-committer".into())
                .spawn(move || run_committer(&db, &dir, receiver, &durable, &sizes, next_log_seq))
                .map_err(|e| io(format!("cannot start the committer thread: {e}")))?
        };
        let queue = Queue { next_seq: 1, sender: Some(sender), committer: Some(committer) };
        Ok(Arc::new(Store { db: Some(db), sizes, dir: dir.to_path_buf(), queue: Mutex::new(queue), durable }))
    }

    /// A store that keeps nothing: every write is acknowledged at once and gone when the
    /// process ends (`eddy --ephemeral`, to measure what durability costs).
    pub fn ephemeral() -> Arc<Store> {
        let queue = Queue { next_seq: 1, sender: None, committer: None };
        Arc::new(Store {
            db: None,
            sizes: Arc::default(),
            dir: PathBuf::new(),
            queue: Mutex::new(queue),
            durable: Arc::default(),
        })
    }

    /// True for a store that keeps nothing (`--ephemeral`).
    pub fn is_ephemeral(&self) -> bool {
        self.db.is_none()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues `writes`; returns the ticket to [`Store::wait`] on. Tickets are handed out
    /// in queue order, and a later ticket is durable only after every earlier one.
    pub fn enqueue(&self, writes: WriteSet) -> u64 {
        let Ok(mut queue) = self.queue.lock() else { return 0 };
        let seq = queue.next_seq;
        queue.next_seq += 1;
        match &queue.sender {
            Some(sender) if sender.send((seq, writes)).is_ok() => {}
            _ if self.db.is_none() => self.record_done(seq, None),
            _ => self.record_done(seq, Some(self.io_error("the store is shut down"))),
        }
        seq
    }

    /// The ticket of the newest queued write set: waiting on it waits for everything
    /// queued so far.
    pub fn last_ticket(&self) -> u64 {
        self.queue.lock().map(|q| q.next_seq - 1).unwrap_or(0)
    }

    /// Blocks until the write set with ticket `seq` (and all before it) is synced, or
    /// says why it could not be written.
    pub fn wait(&self, seq: u64) -> Result<(), StoreError> {
        let (lock, changed) = &*self.durable;
        let mut state = lock.lock().map_err(|_| self.io_error("committer state poisoned"))?;
        while state.done < seq {
            state = changed.wait(state).map_err(|_| self.io_error("committer state poisoned"))?;
        }
        match state.failed.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&seq)) {
            Some((_, _, e)) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Queues `writes` and waits until they are durable.
    pub fn commit(&self, writes: WriteSet) -> Result<(), StoreError> {
        let seq = self.enqueue(writes);
        self.wait(seq)
    }

    fn record_done(&self, seq: u64, error: Option<StoreError>) {
        mark_done(&self.durable, seq, seq, error);
    }

    fn io_error(&self, detail: &str) -> StoreError {
        StoreError::Io { dir: self.dir.display().to_string(), detail: detail.into() }
    }

    /// The catalog, in id order.
    pub fn catalog(&self) -> Result<Vec<CatalogRecord>, StoreError> {
        let mut records = Vec::new();
        self.scan(META, b"cat/", |key, value| {
            let record: CatalogRecord = serde_json::from_slice(value)
                .map_err(|e| self.corrupt(format!("catalog record {}: {e}", String::from_utf8_lossy(key))))?;
            records.push(record);
            Ok(true)
        })?;
        records.sort_by_key(|r| r.id);
        Ok(records)
    }

    /// The next object id, if one was stored.
    pub fn next_id(&self) -> Result<Option<GlobalId>, StoreError> {
        self.get_u64(b"next_id")
    }

    fn get_u64(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        match &self.db {
            Some(db) => read_u64(db, &self.dir.display().to_string(), key),
            None => Ok(None),
        }
    }

    /// The time materialized view `id`'s stored output is complete up to, if stored.
    pub fn upper(&self, id: GlobalId) -> Result<Option<u64>, StoreError> {
        self.get_u64(&prefixed(b"upp/", id))
    }

    /// Streams collection `id`'s row changes, `chunk` at a time, to `each`: as stored, so
    /// a row may come more than once and with negative counts; their sum is the
    /// collection.
    pub fn read_collection(
        &self,
        id: GlobalId,
        chunk: usize,
        each: impl FnMut(Vec<(Row, Diff)>),
    ) -> Result<(), StoreError> {
        self.read_rows(id, chunk, |row| row, |packed| packed.unpack(), each)
    }

    /// [`Store::read_collection`] with the rows packed, as compute takes them: rows of the
    /// log are handed on as stored.
    pub fn read_collection_packed(
        &self,
        id: GlobalId,
        chunk: usize,
        each: impl FnMut(Vec<(PackedRow, Diff)>),
    ) -> Result<(), StoreError> {
        self.read_rows(id, chunk, |row| PackedRow::pack(&row), |packed| packed.to_owned(), each)
    }

    /// Reads both families of collection `id` at one point in time (a compaction may
    /// move rows from one to the other meanwhile): consolidated rows decoded and passed
    /// through `from_row`, logged rows through `from_packed`.
    fn read_rows<R>(
        &self,
        id: GlobalId,
        chunk: usize,
        from_row: impl Fn(Row) -> R,
        from_packed: impl Fn(PackedRef<'_>) -> R,
        mut each: impl FnMut(Vec<(R, Diff)>),
    ) -> Result<(), StoreError> {
        let Some(db) = &self.db else { return Ok(()) };
        let snapshot = db.snapshot();
        let mut rows = Vec::with_capacity(chunk.min(65_536));
        let size = read_stored(db, &snapshot, id, u64::MAX, &|| false, |row, count| {
            let row = match row {
                StoredRow::Decoded(row) => from_row(row),
                StoredRow::Packed(packed) => from_packed(packed),
            };
            rows.push((row, count));
            if rows.len() >= chunk {
                each(std::mem::take(&mut rows));
            }
        })
        .map_err(|e| self.read_error(e))?;
        if !rows.is_empty() {
            each(rows);
        }
        // A whole scan counts exactly what is there (after a restart, the first count).
        if let Ok(mut sizes) = self.sizes.lock() {
            sizes.insert(id, size);
        }
        Ok(())
    }

    fn read_error(&self, e: ReadError) -> StoreError {
        match e {
            ReadError::Rocks(e) => classify(&self.dir.display().to_string(), e, &self.dir),
            ReadError::Corrupt(detail) => self.corrupt(detail),
            ReadError::Stopped => self.io_error("the store is shut down"),
        }
    }

    /// Rows and bytes stored per collection (for collections written or read since the
    /// start).
    pub fn sizes(&self) -> BTreeMap<GlobalId, StoredSize> {
        self.sizes.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Bytes the data directory takes on disk now (RocksDB's files and WAL).
    pub fn bytes_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(Result::ok).filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    /// Source collection `id`'s stored next offset per partition.
    pub fn offsets(&self, id: GlobalId) -> Result<BTreeMap<i32, i64>, StoreError> {
        let records = self.numbered_records(b"off/", id, &format!("source {id}: bad offset record"))?;
        Ok(records.into_iter().map(|(partition, offset)| (i32::from_be_bytes(partition), offset)).collect())
    }

    /// The records under `tag` for collection `id` whose key ends in 4 bytes (a partition,
    /// a column) and whose value is an `i64`.
    fn numbered_records(&self, tag: &[u8], id: GlobalId, bad: &str) -> Result<Vec<([u8; 4], i64)>, StoreError> {
        let mut out = Vec::new();
        self.scan(META, &prefixed(tag, id), |key, value| {
            let record = key[12..]
                .try_into()
                .ok()
                .zip(value.try_into().ok().map(i64::from_le_bytes))
                .ok_or_else(|| self.corrupt(bad.to_string()))?;
            out.push(record);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Source `id`'s UPSERT state: key bytes, partition, current row.
    pub fn upsert_state(&self, id: GlobalId) -> Result<Vec<(Vec<u8>, i32, Row)>, StoreError> {
        let mut out = Vec::new();
        self.scan(META, &prefixed(b"ups/", id), |key, value| {
            let bad = |e: String| self.corrupt(format!("source {id}: bad upsert state: {e}"));
            let partition = value.get(..4).and_then(|b| b.try_into().ok()).map(i32::from_be_bytes);
            let partition = partition.ok_or_else(|| bad("too short".into()))?;
            let row = decode_row(&value[4..]).map_err(|e| bad(e.0))?;
            out.push((key[12..].to_vec(), partition, row));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Table `id`'s serial and identity counters: the last number handed out per column.
    pub fn sequences(&self, id: GlobalId) -> Result<BTreeMap<u32, i64>, StoreError> {
        let records = self.numbered_records(b"seq/", id, &format!("table {id}: bad sequence record"))?;
        Ok(records.into_iter().map(|(column, last)| (u32::from_be_bytes(column), last)).collect())
    }

    /// Every collection id that has stored rows (to find leftovers of dropped objects).
    pub fn collections(&self) -> Result<Vec<GlobalId>, StoreError> {
        let mut out = self.collections_in(DATA)?;
        out.extend(self.collections_in(LOG)?);
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn collections_in(&self, family: &str) -> Result<Vec<GlobalId>, StoreError> {
        let mut out: Vec<GlobalId> = Vec::new();
        let Some(db) = &self.db else { return Ok(out) };
        let cf = self.cf(family)?;
        let mut next: GlobalId = 0;
        loop {
            let mut iter = db.iterator_cf(cf, IteratorMode::From(&next.to_be_bytes(), rocksdb::Direction::Forward));
            let Some(item) = iter.next() else { break };
            let (key, _) = item.map_err(|e| classify(&self.dir.display().to_string(), e, &self.dir))?;
            let Some(id) = key.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes) else { break };
            out.push(id);
            match id.checked_add(1) {
                Some(n) => next = n,
                None => break,
            }
        }
        Ok(out)
    }

    fn scan(
        &self,
        family: &str,
        prefix: &[u8],
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let Some(db) = &self.db else { return Ok(()) };
        let cf = self.cf(family)?;
        for item in db.iterator_cf(cf, IteratorMode::From(prefix, rocksdb::Direction::Forward)) {
            let (key, value) = item.map_err(|e| classify(&self.dir.display().to_string(), e, &self.dir))?;
            if !key.starts_with(prefix) || !each(&key, &value)? {
                break;
            }
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .as_ref()
            .and_then(|db| db.cf_handle(name))
            .ok_or_else(|| self.corrupt(format!("column family {name} is missing")))
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt { dir: self.dir.display().to_string(), detail }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.sender = None;
            if let Some(committer) = queue.committer.take() {
                let _ = committer.join();
            }
        }
        if self.db.is_some() {
            let _ = std::fs::remove_file(self.dir.join(PID_FILE));
        }
    }
}

fn parse_format(text: &str) -> Option<u32> {
    text.trim().strip_prefix("eddy data format ")?.parse().ok()
}

fn db_options() -> Options {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    // A torn record at the WAL's end is a write never acknowledged; anything else is
    // corruption and must stop the start rather than silently lose acknowledged data.
    options.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    options.increase_parallelism(2);
    options.set_write_buffer_size(WRITE_BUFFER);
    // The catalog's column family changes rarely: without a cap its memtable would keep
    // every WAL file alive. The WAL is also what a restart after a crash replays before
    // anything else: kept small, that takes a fraction of a second.
    options.set_max_total_wal_size(2 * WRITE_BUFFER as u64);
    // One committer thread writes; a vector memtable needs this off.
    options.set_allow_concurrent_memtable_write(false);
    options
}

/// Bytes free for an unprivileged writer on the device holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a writable statvfs.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Flushes and the first compactions are most of RocksDB's CPU: compress only the
/// levels where data settles.
fn compress_lower_levels(options: &mut Options) {
    use rocksdb::DBCompressionType::{Lz4, None};
    options.set_compression_per_level(&[None, None, Lz4, Lz4, Lz4, Lz4, Lz4]);
}

fn column_families() -> Vec<ColumnFamilyDescriptor> {
    let mut data = db_options();
    // What directories written before every collection was logged hold (see the module
    // documentation): read, and emptied by compaction, never written now.
    data.set_memtable_factory(rocksdb::MemtableFactory::Vector);
    compress_lower_levels(&mut data);
    data.set_merge_operator_associative("eddy_add_counts", add_counts);
    data.set_compaction_filter("eddy_drop_zero_counts", |_level: u32, _key: &[u8], value: &[u8]| {
        if decode_count(value) == Some(0) {
            CompactionDecision::Remove
        } else {
            CompactionDecision::Keep
        }
    });
    // Entries arrive in key order, so flushed files do not overlap and move down the
    // levels without being rewritten.
    let mut log = db_options();
    compress_lower_levels(&mut log);
    vec![
        ColumnFamilyDescriptor::new(META, db_options()),
        ColumnFamilyDescriptor::new(DATA, data),
        ColumnFamilyDescriptor::new(LOG, log),
    ]
}

/// The merge operator of `data`: a row's count is the sum of its changes.
fn add_counts(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut total = existing.and_then(decode_count).unwrap_or(0);
    for op in operands.iter() {
        total += decode_count(op)?;
    }
    Some(total.to_le_bytes().to_vec())
}

fn decode_count(bytes: &[u8]) -> Option<Diff> {
    bytes.try_into().ok().map(i64::from_le_bytes)
}

fn prefixed(tag: &[u8], id: GlobalId) -> Vec<u8> {
    let mut key = tag.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// Maps a RocksDB error to what a user should know.
/// The number stored under `key` in `meta`, if any.
fn read_u64(db: &DB, dir: &str, key: &[u8]) -> Result<Option<u64>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt { dir: dir.to_string(), detail };
    let cf = db.cf_handle(META).ok_or_else(|| corrupt(format!("column family {META} is missing")))?;
    let value = db.get_cf(cf, key).map_err(|e| classify(dir, e, Path::new(dir)))?;
    match value {
        None => Ok(None),
        Some(v) => v
            .as_slice()
            .try_into()
            .map(|b| Some(u64::from_le_bytes(b)))
            .map_err(|_| corrupt(format!("{} is not a number", String::from_utf8_lossy(key)))),
    }
}

fn classify(dir: &str, e: rocksdb::Error, path: &Path) -> StoreError {
    let detail = e.to_string();
    let lower = detail.to_lowercase();
    // RocksDB names its LOCK file when another holder has it ("lock hold by current
    // process", "Resource temporarily unavailable", ... depending on who holds it).
    if detail.contains("/LOCK") || lower.contains("lock hold") {
        let pid =
            std::fs::read_to_string(path.join(PID_FILE)).map(|p| format!(" (pid {})", p.trim())).unwrap_or_default();
        return StoreError::Locked { dir: dir.into(), pid };
    }
    if lower.contains("no space left") {
        return StoreError::DiskFull { dir: dir.into(), detail };
    }
    match e.kind() {
        rocksdb::ErrorKind::Corruption => StoreError::Corrupt { dir: dir.into(), detail },
        _ if lower.contains("corrupt") || lower.contains("checksum") => StoreError::Corrupt { dir: dir.into(), detail },
        _ => StoreError::Io { dir: dir.into(), detail },
    }
}

fn mark_done(durable: &(Mutex<Durable>, Condvar), lo: u64, hi: u64, error: Option<StoreError>) {
    let (lock, changed) = durable;
    if let Ok(mut state) = lock.lock() {
        state.done = state.done.max(hi);
        if let Some(e) = error {
            state.failed.push((lo, hi, e));
            let excess = state.failed.len().saturating_sub(64);
            state.failed.drain(..excess);
        }
    }
    changed.notify_all();
}

/// Folds queued write sets into one RocksDB batch per round and syncs it once; swaps in
/// the compactions its compactor thread finishes and asks for new ones.
fn run_committer(
    db: &DB,
    dir: &str,
    queue: Receiver<(u64, WriteSet)>,
    durable: &(Mutex<Durable>, Condvar),
    sizes: &Mutex<BTreeMap<GlobalId, StoredSize>>,
    next_log_seq: u64,
) {
    let (requests, requested) = std::sync::mpsc::channel();
    let (finished, compacted) = std::sync::mpsc::channel();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let compactor = std::thread::Builder::new()
            .name("store-compactor".into())
            .spawn_scoped(scope, || run_compactor(db, requested, finished, &stop));
        if let Err(e) = compactor {
            tracing::warn!("cannot start the store's compactor thread; logs will not be compacted: {e}");
        }
        let mut committer =
            Committer { db, dir, sizes, next_log_seq, drops: BTreeMap::new(), compacting: BTreeSet::new(), requests };
        loop {
            let first = match queue.recv_timeout(IDLE_POLL) {
                Ok(first) => Some(first),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            for (request, result) in compacted.try_iter() {
                committer.swap_in(request, result);
            }
            let Some((lo, first)) = first else { continue };
            let mut hi = lo;
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok((seq, writes)) => {
                        hi = seq;
                        group.push(writes);
                    }
                    Err(_) => break,
                }
            }
            let error = committer.write(&group).err();
            if let Some(e) = &error {
                tracing::error!("writing to the data directory failed: {e}");
            }
            // Writers may take back rows they share with their write set (see `changes`).
            drop(group);
            mark_done(durable, lo, hi, error);
            committer.request_compactions();
        }
        // Dropping the committer closes the request channel: the compactor ends after
        // giving up the compaction it is reading, if any.
        stop.store(true, Ordering::Relaxed);
        drop(committer);
    });
}

/// The committer thread's state.
struct Committer<'a> {
    db: &'a DB,
    dir: &'a str,
    sizes: &'a Mutex<BTreeMap<GlobalId, StoredSize>>,
    next_log_seq: u64,
    /// How often each collection was dropped (its rows removed): a compaction read
    /// before a drop must not bring the rows back.
    drops: BTreeMap<GlobalId, u64>,
    /// Collections with a compaction in flight.
    compacting: BTreeSet<GlobalId>,
    requests: Sender<CompactionRequest>,
}

/// Collection `id`'s log below sequence number `upto`, to consolidate, as it stood when
/// the collection had been dropped `drops` times and held `size`.
struct CompactionRequest {
    id: GlobalId,
    upto: u64,
    drops: u64,
    size: StoredSize,
}

/// A compaction's outcome: the rows the entries it read add up to.
type CompactionResult = Result<Vec<(PackedRow, Diff)>, ReadError>;

impl Committer<'_> {
    /// Writes `group` as one batch, synced unless no write set needs it.
    fn write(&mut self, group: &[WriteSet]) -> Result<(), StoreError> {
        let io = |detail: String| StoreError::Io { dir: self.dir.into(), detail };
        let (batch, changes) = build_batch(self.db, group, &mut self.next_log_seq).map_err(io)?;
        self.write_batch(batch, group.iter().any(|w| !w.no_sync))?;
        for id in &changes.dropped {
            *self.drops.entry(*id).or_default() += 1;
        }
        if let Ok(mut sizes) = self.sizes.lock() {
            changes.apply(&mut sizes);
        }
        Ok(())
    }

    fn write_batch(&self, batch: WriteBatch, sync: bool) -> Result<(), StoreError> {
        let needed = batch.size_in_bytes() as u64 + DISK_HEADROOM;
        if let Some(free) = free_bytes(Path::new(self.dir)).filter(|&free| free < needed) {
            return Err(StoreError::DiskFull {
                dir: self.dir.into(),
                detail: format!(
                    "{free} bytes free, a write needs {needed} (its size plus {DISK_HEADROOM} for RocksDB to flush and compact)"
                ),
            });
        }
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db.write_opt(batch, &options).map_err(|e| classify(self.dir, e, Path::new(self.dir)))
    }

    /// Asks the compactor for every collection whose log has grown enough.
    fn request_compactions(&mut self) {
        let due: Vec<(GlobalId, StoredSize)> = match self.sizes.lock() {
            Ok(sizes) => sizes
                .iter()
                .filter(|(id, size)| size.needs_compaction() && !self.compacting.contains(id))
                .map(|(&id, &size)| (id, size))
                .collect(),
            Err(_) => return,
        };
        for (id, size) in due {
            let drops = self.drops.get(&id).copied().unwrap_or(0);
            if self.requests.send(CompactionRequest { id, upto: self.next_log_seq, drops, size }).is_ok() {
                self.compacting.insert(id);
            }
        }
    }

    /// Replaces the entries a compaction read with the rows they add up to, unless the
    /// collection was dropped meanwhile. Not synced: a compaction lost in a crash leaves
    /// the entries it would have replaced, which add up to the same rows.
    fn swap_in(&mut self, request: CompactionRequest, result: CompactionResult) {
        self.compacting.remove(&request.id);
        let id = request.id;
        let rows = match result {
            Ok(rows) => rows,
            Err(ReadError::Stopped) => return,
            Err(e) => {
                tracing::warn!(collection = id, "compacting a collection's log failed; it stays as it is: {e}");
                return;
            }
        };
        if self.drops.get(&id).copied().unwrap_or(0) != request.drops {
            return;
        }
        let mut swap = || -> Result<StoredSize, String> {
            let [data, log, meta] = families(self.db)?;
            let mut batch = WriteBatch::default();
            batch.delete_range_cf(data, id.to_be_bytes(), (id + 1).to_be_bytes());
            batch.delete_range_cf(log, log_key(id, 0), log_key(id, request.upto));
            let mut next_log_seq = self.next_log_seq;
            let written = put_log(&mut batch, log, id, &rows, &mut next_log_seq);
            batch.put_cf(meta, LOG_SEQ_KEY, next_log_seq.to_le_bytes());
            self.write_batch(batch, false).map_err(|e| e.to_string())?;
            self.next_log_seq = next_log_seq;
            Ok(written)
        };
        match swap() {
            Ok(written) => {
                if let Ok(mut sizes) = self.sizes.lock() {
                    let size = sizes.entry(id).or_default();
                    size.sub(request.size);
                    size.add(written);
                }
                tracing::debug!(
                    collection = id,
                    changes_before = request.size.changes,
                    changes_after = written.changes,
                    "compacted a collection's log"
                );
            }
            Err(e) => tracing::warn!(collection = id, "compacting a collection's log failed; it stays as it is: {e}"),
        }
    }
}

/// The compactor thread: reads each requested collection's log at one point in time and
/// consolidates it, off the committer's (and so every writer's) path.
fn run_compactor(
    db: &DB,
    requests: Receiver<CompactionRequest>,
    finished: Sender<(CompactionRequest, CompactionResult)>,
    stop: &AtomicBool,
) {
    while let Ok(request) = requests.recv() {
        let snapshot = db.snapshot();
        let mut rows = Vec::new();
        let stopped = || stop.load(Ordering::Relaxed);
        let read = read_stored(db, &snapshot, request.id, request.upto, &stopped, |row, count| {
            rows.push((row.packed(), count))
        });
        drop(snapshot);
        let result = read.map(|_| eddy_repr::packed::consolidate(rows));
        if finished.send((request, result)).is_err() {
            break;
        }
    }
}

/// A stored row as [`read_stored`] finds it: decoded from `data`, or packed in the log.
enum StoredRow<'a> {
    Decoded(Row),
    Packed(PackedRef<'a>),
}

impl StoredRow<'_> {
    fn packed(self) -> PackedRow {
        match self {
            StoredRow::Decoded(row) => PackedRow::pack(&row),
            StoredRow::Packed(packed) => packed.to_owned(),
        }
    }
}

/// Why [`read_stored`] stopped.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("{0}")]
    Rocks(rocksdb::Error),
    #[error("{0}")]
    Corrupt(String),
    #[error("the store is shut down")]
    Stopped,
}

/// Reads collection `id` as `snapshot` holds it (its rows in `data` and its log entries
/// below sequence number `upto`), calling `each` with every row change; returns what it
/// read. Gives up once `stop` says so.
fn read_stored(
    db: &DB,
    snapshot: &Snapshot<'_>,
    id: GlobalId,
    upto: u64,
    stop: &dyn Fn() -> bool,
    mut each: impl FnMut(StoredRow<'_>, Diff),
) -> Result<StoredSize, ReadError> {
    let [data, log, _] = families(db).map_err(ReadError::Corrupt)?;
    let corrupt = |what: &str, e: String| ReadError::Corrupt(format!("collection {id}: {what}: {e}"));
    let prefix = id.to_be_bytes();
    let mut size = StoredSize::default();
    for item in snapshot.iterator_cf(data, IteratorMode::From(&prefix, Direction::Forward)) {
        let (key, value) = item.map_err(ReadError::Rocks)?;
        if !key.starts_with(&prefix) {
            break;
        }
        if stop() {
            return Err(ReadError::Stopped);
        }
        let count = decode_count(&value).ok_or_else(|| corrupt("bad row count", format!("{value:?}")))?;
        if count != 0 {
            let row = decode_row(&key[8..]).map_err(|e| corrupt("undecodable row", e.to_string()))?;
            size.add(StoredSize { rows: count, changes: 1, bytes: (key.len() + value.len()) as i64 });
            each(StoredRow::Decoded(row), count);
        }
    }
    let end = log_key(id, upto);
    for item in snapshot.iterator_cf(log, IteratorMode::From(&prefix, Direction::Forward)) {
        let (key, value) = item.map_err(ReadError::Rocks)?;
        if !key.starts_with(&prefix) || *key >= *end {
            break;
        }
        if stop() {
            return Err(ReadError::Stopped);
        }
        size.bytes += value.len() as i64;
        for_each_logged_row(&value, |row, count| {
            size.rows += count;
            size.changes += 1;
            each(StoredRow::Packed(PackedRef::from_packed_bytes(row)), count);
            Ok(())
        })
        .map_err(|e| corrupt("bad log entry", e))?;
    }
    Ok(size)
}

/// The `data`, `log` and `meta` column families.
fn families(db: &DB) -> Result<[&rocksdb::ColumnFamily; 3], String> {
    let family = |name: &str| db.cf_handle(name).ok_or_else(|| format!("column family {name} is missing"));
    Ok([family(DATA)?, family(LOG)?, family(META)?])
}

/// The key of collection `id`'s log entry number `seq`.
fn log_key(id: GlobalId, seq: u64) -> Vec<u8> {
    let mut key = id.to_be_bytes().to_vec();
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// Appends `rows` to collection `id`'s log in `batch`, in entries of at most
/// [`LOG_ENTRY_ROWS`] under the next sequence numbers; returns what they add.
fn put_log(
    batch: &mut WriteBatch,
    log: &rocksdb::ColumnFamily,
    id: GlobalId,
    rows: &[(PackedRow, Diff)],
    next_log_seq: &mut u64,
) -> StoredSize {
    let mut added = StoredSize::default();
    for entry_rows in rows.chunks(LOG_ENTRY_ROWS) {
        let value = log_entry(entry_rows);
        added.add(StoredSize {
            rows: entry_rows.iter().map(|(_, d)| d).sum(),
            changes: entry_rows.len() as i64,
            bytes: value.len() as i64,
        });
        batch.put_cf(log, log_key(id, *next_log_seq), value);
        *next_log_seq += 1;
    }
    added
}

/// How a write batch changes the stored sizes.
#[derive(Default)]
struct SizeChanges {
    dropped: Vec<GlobalId>,
    deltas: BTreeMap<GlobalId, StoredSize>,
}

impl SizeChanges {
    fn apply(self, sizes: &mut BTreeMap<GlobalId, StoredSize>) {
        for id in self.dropped {
            sizes.remove(&id);
        }
        for (id, delta) in self.deltas {
            sizes.entry(id).or_default().add(delta);
        }
    }
}

fn build_batch(db: &DB, group: &[WriteSet], next_log_seq: &mut u64) -> Result<(WriteBatch, SizeChanges), String> {
    let [data, log, meta] = families(db)?;
    let mut batch = WriteBatch::default();
    let mut changes = SizeChanges::default();
    for writes in group {
        for &id in &writes.drop_collections {
            changes.dropped.push(id);
            changes.deltas.remove(&id);
            let (from, to) = (id.to_be_bytes(), (id + 1).to_be_bytes());
            batch.delete_range_cf(data, from, to);
            batch.delete_range_cf(log, from, to);
            for tag in [b"off/", b"ups/", b"upp/", b"seq/"] {
                batch.delete_range_cf(meta, prefixed(tag, id), prefixed(tag, id + 1));
            }
        }
        let logged_before = *next_log_seq;
        for (id, rows) in &writes.changes {
            let added = put_log(&mut batch, log, *id, rows, next_log_seq);
            changes.deltas.entry(*id).or_default().add(added);
        }
        if *next_log_seq != logged_before {
            batch.put_cf(meta, LOG_SEQ_KEY, next_log_seq.to_le_bytes());
        }
        for (id, partition, offset) in &writes.offsets {
            let mut key = prefixed(b"off/", *id);
            key.extend_from_slice(&partition.to_be_bytes());
            batch.put_cf(meta, key, offset.to_le_bytes());
        }
        for (id, key_bytes, state) in &writes.upsert {
            let mut key = prefixed(b"ups/", *id);
            key.extend_from_slice(key_bytes);
            match state {
                Some((partition, row)) => {
                    let mut value = partition.to_be_bytes().to_vec();
                    encode_row(row, &mut value);
                    batch.put_cf(meta, key, value);
                }
                None => batch.delete_cf(meta, key),
            }
        }
        for id in &writes.catalog_delete {
            batch.delete_cf(meta, prefixed(b"cat/", *id));
        }
        for (id, upper) in &writes.uppers {
            batch.put_cf(meta, prefixed(b"upp/", *id), upper.to_le_bytes());
        }
        for (id, column, last) in &writes.sequences {
            let mut key = prefixed(b"seq/", *id);
            key.extend_from_slice(&column.to_be_bytes());
            batch.put_cf(meta, key, last.to_le_bytes());
        }
        if let Some(id) = writes.next_id {
            batch.put_cf(meta, b"next_id", id.to_le_bytes());
        }
        for record in &writes.catalog_put {
            let value = serde_json::to_vec(record).map_err(|e| e.to_string())?;
            batch.put_cf(meta, prefixed(b"cat/", record.id), value);
        }
    }
    Ok((batch, changes))
}

/// A `log` entry: per row its count (8 bytes), its length (4) and its bytes, packed as
/// dataflows hold it (so `PackedRow`'s encoding is part of the data format).
fn log_entry(rows: &[(PackedRow, Diff)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(|(row, _)| 12 + row.as_bytes().len()).sum());
    for (row, diff) in rows {
        let bytes = row.as_bytes();
        out.extend_from_slice(&diff.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// Calls `each` with every (packed row, count) of a `log` entry.
fn for_each_logged_row(
    mut entry: &[u8],
    mut each: impl FnMut(&[u8], Diff) -> Result<(), String>,
) -> Result<(), String> {
    while !entry.is_empty() {
        let header = entry.get(..12).ok_or("truncated")?;
        let count = Diff::from_le_bytes(header[..8].try_into().map_err(|_| "truncated")?);
        let len = u32::from_le_bytes(header[8..].try_into().map_err(|_| "truncated")?) as usize;
        let row = entry.get(12..12 + len).ok_or("truncated")?;
        each(row, count)?;
        entry = &entry[12 + len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_repr::Datum;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("eddy-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn row(i: i64, s: &str) -> Row {
        Row::new(vec![Datum::Int64(i), Datum::Text(s.into())])
    }

    fn shared(rows: Vec<(Row, Diff)>) -> SharedRows {
        Arc::new(rows.iter().map(|(r, d)| (PackedRow::pack(r), *d)).collect())
    }

    /// What collection `id` adds up to, sorted.
    fn contents(store: &Store, id: GlobalId) -> Vec<(Row, Diff)> {
        let mut rows: BTreeMap<Row, Diff> = BTreeMap::new();
        store
            .read_collection(id, 2, |chunk| chunk.into_iter().for_each(|(r, d)| *rows.entry(r).or_default() += d))
            .unwrap();
        rows.into_iter().filter(|(_, d)| *d != 0).collect()
    }

    #[test]
    fn rows_consolidate_and_survive_reopen() {
        let dir = temp_dir("consolidate");
        {
            let store = Store::open(&dir).unwrap();
            let mut w = WriteSet::default();
            w.changes.push((7, shared(vec![(row(1, "a"), 1), (row(2, "b"), 2), (row(3, "c"), 1)])));
            w.changes.push((8, shared(vec![(row(1, "a"), 5)])));
            store.commit(w).unwrap();
            let mut w = WriteSet::default();
            w.changes.push((7, shared(vec![(row(2, "b"), -1), (row(3, "c"), -1)])));
            w.offsets.push((7, 0, 42));
            w.offsets.push((7, -1 + 3, 9));
            w.sequences.push((7, 0, 12));
            store.commit(w).unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(contents(&store, 7), vec![(row(1, "a"), 1), (row(2, "b"), 1)]);
        assert_eq!(contents(&store, 8), vec![(row(1, "a"), 5)]);
        assert_eq!(store.offsets(7).unwrap(), BTreeMap::from([(0, 42), (2, 9)]));
        assert_eq!(store.sequences(7).unwrap(), BTreeMap::from([(0, 12)]));
        assert_eq!(store.collections().unwrap(), vec![7, 8]);
        assert_eq!(store.sizes()[&7].rows, 2, "a full read counts what is stored");
        let mut w = WriteSet::default();
        w.drop_collections.push(7);
        store.commit(w).unwrap();
        assert!(!store.sizes().contains_key(&7), "a dropped collection has no size");
        assert!(contents(&store, 7).is_empty());
        store.commit(WriteSet { changes: vec![(8, shared(vec![(row(9, "z"), 3)]))], ..WriteSet::default() }).unwrap();
        assert_eq!(store.sizes()[&8].rows, 8, "5 read back, 3 written since");
        assert!(store.offsets(7).unwrap().is_empty());
        assert!(store.sequences(7).unwrap().is_empty(), "dropped with its table");
        assert_eq!(contents(&store, 8), vec![(row(1, "a"), 5), (row(9, "z"), 3)]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn appended_rows_are_logged_in_order_survive_reopen_and_drop() {
        let dir = temp_dir("log");
        let many: Vec<(Row, Diff)> = (0..2500).map(|i| (row(i, "m"), 1)).collect();
        {
            let store = Store::open(&dir).unwrap();
            let w = WriteSet {
                changes: vec![(5, shared(many.clone()))],
                offsets: vec![(5, 0, 2500)],
                ..WriteSet::default()
            };
            store.commit(w).unwrap();
            assert_eq!(store.sizes()[&5].rows, 2500);
        }
        // After a reopen, new entries go after the old ones instead of over them.
        let store = Store::open(&dir).unwrap();
        let shared = shared(vec![(row(1, "m"), 1)]);
        store.commit(WriteSet { changes: vec![(5, shared.clone())], ..WriteSet::default() }).unwrap();
        assert!(Arc::try_unwrap(shared).is_ok(), "the store keeps no reference once the write is done");
        let mut expected = many.clone();
        expected.push((row(1, "m"), 1));
        let mut read = Vec::new();
        store.read_collection(5, 1000, |rows| read.extend(rows)).unwrap();
        assert_eq!(read, expected, "every row, in the order appended, a duplicate kept as such");
        let mut packed_read = Vec::new();
        store.read_collection_packed(5, 700, |rows| packed_read.extend(rows)).unwrap();
        assert_eq!(packed_read, expected.iter().map(|(r, d)| (PackedRow::pack(r), *d)).collect::<Vec<_>>());
        assert_eq!(store.sizes()[&5].rows, 2501);
        assert_eq!(store.collections().unwrap(), vec![5]);
        store.commit(WriteSet { drop_collections: vec![5], ..WriteSet::default() }).unwrap();
        assert!(contents(&store, 5).is_empty());
        assert!(store.collections().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_version_1_directory_opens_and_is_marked_current() {
        let dir = temp_dir("v1");
        {
            // What version 1 wrote: the catalog and data families only.
            let families = column_families().into_iter().take(2);
            let db = DB::open_cf_descriptors(&db_options(), &dir, families).unwrap();
            let mut key = 3u64.to_be_bytes().to_vec();
            encode_row(&row(1, "a"), &mut key);
            db.merge_cf(db.cf_handle(DATA).unwrap(), key, 1i64.to_le_bytes()).unwrap();
        }
        std::fs::write(dir.join(FORMAT_FILE), "eddy data format 1\n").unwrap();
        let store = Store::open(&dir).unwrap();
        assert_eq!(contents(&store, 3), vec![(row(1, "a"), 1)]);
        let appended = Arc::new(vec![(PackedRow::pack(&row(2, "b")), 1)]);
        store.commit(WriteSet { changes: vec![(4, appended)], ..WriteSet::default() }).unwrap();
        assert_eq!(contents(&store, 4), vec![(row(2, "b"), 1)]);
        let format = std::fs::read_to_string(dir.join(FORMAT_FILE)).unwrap();
        assert_eq!(parse_format(&format), Some(FORMAT_VERSION));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_log_that_retracts_is_compacted_with_the_rows_of_the_data_family() {
        let dir = temp_dir("compact");
        let store = Store::open(&dir).unwrap();
        // A row as earlier builds stored it: a key per distinct row in `data`.
        let mut key = 3u64.to_be_bytes().to_vec();
        encode_row(&row(1, "old"), &mut key);
        let db = store.db.as_ref().unwrap();
        db.merge_cf(store.cf(DATA).unwrap(), key, 2i64.to_le_bytes()).unwrap();
        let churn: Vec<(Row, Diff)> = (0..60_000).map(|i| (row(i, "x"), 1)).collect();
        store.commit(WriteSet { changes: vec![(3, shared(churn.clone()))], ..WriteSet::default() }).unwrap();
        let mut retract: Vec<(Row, Diff)> = churn.into_iter().map(|(r, d)| (r, -d)).collect();
        retract.push((row(7, "keep"), 1));
        store.commit(WriteSet { changes: vec![(3, shared(retract))], ..WriteSet::default() }).unwrap();
        assert_eq!(store.sizes()[&3].changes, 120_001, "the log holds every change until it is compacted");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while store.sizes()[&3].changes > 2 {
            assert!(std::time::Instant::now() < deadline, "no compaction: {:?}", store.sizes()[&3]);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let expected = vec![(row(1, "old"), 2), (row(7, "keep"), 1)];
        let mut stored = Vec::new();
        store.read_collection(3, 100, |rows| stored.extend(rows)).unwrap();
        stored.sort();
        assert_eq!(stored, expected, "compacted: one change per row, the old family's row included");
        assert_eq!(store.sizes()[&3], StoredSize { rows: 3, changes: 2, bytes: store.sizes()[&3].bytes });
        let mut old_keys = 0;
        store
            .scan(DATA, &3u64.to_be_bytes(), |_, _| {
                old_keys += 1;
                Ok(true)
            })
            .unwrap();
        assert_eq!(old_keys, 0, "the compaction moved the data family's rows into the log");
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(contents(&store, 3), expected);
        assert_eq!(store.sizes()[&3].changes, 2);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn catalog_and_upsert_state_round_trip() {
        let dir = temp_dir("catalog");
        let store = Store::open(&dir).unwrap();
        let record = |id: u64| CatalogRecord {
            id,
            name: format!("t{id}"),
            create_sql: format!("CREATE TABLE t{id} (a int)"),
            refresh: None,
            comments: if id == 5 { vec![] } else { vec![(0, "a table".into()), (1, "its column".into())] },
        };
        let mut w = WriteSet { catalog_put: vec![record(5), record(2)], ..WriteSet::default() };
        w.upsert.push((3, b"k1".to_vec(), Some((0, row(1, "v")))));
        w.upsert.push((3, b"k2".to_vec(), Some((1, row(2, "w")))));
        store.commit(w).unwrap();
        let mut w = WriteSet { catalog_delete: vec![5], ..WriteSet::default() };
        w.upsert.push((3, b"k1".to_vec(), None));
        store.commit(w).unwrap();
        assert_eq!(store.catalog().unwrap(), vec![record(2)]);
        assert_eq!(store.next_id().unwrap(), None);
        store.commit(WriteSet { next_id: Some(9), ..WriteSet::default() }).unwrap();
        assert_eq!(store.next_id().unwrap(), Some(9));
        assert_eq!(store.upsert_state(3).unwrap(), vec![(b"k2".to_vec(), 1, row(2, "w"))]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_directory() {
        let dir = temp_dir("locked");
        let first = Store::open(&dir).unwrap();
        let err = Store::open(&dir).err().expect("second open must fail");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("in use by another eddy process"), "{err}");
        drop(first);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn newer_format_and_corrupt_directories_are_refused_untouched() {
        let dir = temp_dir("newer");
        drop(Store::open(&dir).unwrap());
        std::fs::write(dir.join(FORMAT_FILE), "eddy data format 99\n").unwrap();
        let err = Store::open(&dir).err().expect("newer format must be refused");
        assert!(matches!(err, StoreError::NewerFormat { found: 99, .. }), "{err}");
        std::fs::remove_file(dir.join(FORMAT_FILE)).unwrap();
        let err = Store::open(&dir).err().expect("a RocksDB directory without a format file is corrupt");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_commits_share_syncs_and_all_land() {
        let dir = temp_dir("group");
        let store = Store::open(&dir).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let store = &store;
                s.spawn(move || {
                    for i in 0..50 {
                        let mut w = WriteSet::default();
                        w.changes.push((1, shared(vec![(row(t * 1000 + i, "g"), 1)])));
                        store.commit(w).unwrap();
                    }
                });
            }
        });
        assert_eq!(contents(&store, 1).len(), 400);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
