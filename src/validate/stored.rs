//! The store's identities as D004 looks them up.

use foldhash::fast::FixedState;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Every stored identity (integration, user id) with the stored record holding it, as an index
/// into `Known::store_records`. The identities are kept side by side as they are given, with
/// their user ids in one buffer, and looked up through an index built once they are all given
/// (`seal`, or the first lookup): a million stored users hold about nine million identities,
/// and inserting them one by one into a hash table, a cache miss each, was the slowest part of
/// a re-import's store read (docs/benchmarks.md, thirteenth session).
#[derive(Debug, Default)]
pub struct StoredIdentities {
    entries: Vec<Identity>,
    /// The integrations, each once: a million users' nine identities name the same few.
    names: Vec<Box<str>>,
    name_ids: foldhash::HashMap<Box<str>, u32>,
    /// The hash of each entry ([`Self::hash`]), which the index is built from; dropped by
    /// `seal` (an insert after it hashes the entries again).
    hashes: Vec<u64>,
    /// The user ids, one after another in the order given.
    text: String,
    /// Where each stored record's identities start in `entries`, while the records come in
    /// order (`holder`): then a record's own identities sit side by side, and a batch row is
    /// checked against them without the index.
    starts: Vec<u32>,
    /// A record's identities came after a later record's: `starts` no longer says where a
    /// record's identities are.
    out_of_order: bool,
    index: OnceLock<Index>,
}

/// 16 bytes an identity (nine million of them in a store of a million users): no start
/// offset, and the integration by number.
#[derive(Debug, Clone, Copy)]
struct Identity {
    /// Where its user id ends in `text`: it starts where the entry before it ends.
    end: usize,
    /// Its integration, in `names`.
    name: u32,
    record: u32,
}

/// The entries with the text and names they point into.
#[derive(Clone, Copy)]
struct Table<'a> {
    entries: &'a [Identity],
    text: &'a str,
    names: &'a [Box<str>],
}

impl<'a> Table<'a> {
    /// Entry `i`'s integration and user id.
    fn parts(self, i: u32) -> (&'a str, &'a str) {
        let i = i as usize;
        let start = match i {
            0 => 0,
            _ => self.entries[i - 1].end,
        };
        let e = &self.entries[i];
        (&self.names[e.name as usize], &self.text[start..e.end])
    }
}

/// The entries grouped by the top bits of their hash: bucket `b` is `slots[dir[b]..dir[b +
/// 1]]`, two to four entries on average, so a lookup reads the directory, one run of slots,
/// and the entry it finds. Built by one counting pass and one placing pass over the hashes (no entry moved
/// twice, no probing), in the order given within each bucket.
#[derive(Debug, Default)]
struct Index {
    shift: u32,
    dir: Vec<u32>,
    slots: Vec<Slot>,
    /// An identity given to more than one record: its first entry → the last record given it
    /// (a map's insert would have kept that one), each later entry → `None` (not in `slots`).
    given_again: foldhash::HashMap<u32, Option<u32>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The hash's low bits (the bucket is its top bits): most other entries of the bucket are
    /// told apart without reading them.
    fingerprint: u32,
    entry: u32,
}

impl Index {
    /// Builds the index in `ways` parts, side by side on the pool: each part counts and places
    /// the entries of its own share of the buckets, reading every hash. One part runs here,
    /// with no task for the pool: a lookup on the pool that builds the index must not wait for
    /// tasks that may look it up themselves.
    fn build(table: Table, hashes: &[u64], ways: usize) -> Index {
        use rayon::prelude::*;
        let n = hashes.len();
        if n == 0 {
            return Index::default();
        }
        // 2^bits buckets for n entries, 2^(bits - 1) <= n / 4 < 2^bits: two to four entries a
        // bucket on average (within a cache line of slots), and a directory of at most a
        // quarter of the slots' size.
        let bits = (usize::BITS - (n / 4).leading_zeros()).clamp(1, 32);
        let shift = 64 - bits;
        let buckets = 1usize << bits;
        let per = buckets / ways.next_power_of_two().clamp(1, buckets);
        let bucket_of = |h: u64| (h >> shift) as usize;
        // Counts, then the end of each bucket, then (placing from the last entry back) its start.
        let mut dir = vec![0u32; buckets + 1];
        let count = |k: usize, counts: &mut [u32]| {
            let first = k * per;
            for &h in hashes {
                if let Some(c) = counts.get_mut(bucket_of(h).wrapping_sub(first)) {
                    *c += 1;
                }
            }
        };
        if per == buckets {
            count(0, &mut dir[..buckets]);
        } else {
            (dir[..buckets].par_chunks_mut(per).enumerate()).for_each(|(k, c)| count(k, c));
        }
        let mut end = 0;
        for d in &mut dir[..buckets] {
            end += *d;
            *d = end;
        }
        dir[buckets] = n as u32;
        let mut slots = vec![
            Slot {
                fingerprint: 0,
                entry: 0
            };
            n
        ];
        let place = |k: usize, ends: &mut [u32], base: usize, slots: &mut [Slot]| {
            let first = k * per;
            for (i, &h) in hashes.iter().enumerate().rev() {
                if let Some(d) = ends.get_mut(bucket_of(h).wrapping_sub(first)) {
                    *d -= 1;
                    slots[*d as usize - base] = Slot {
                        fingerprint: h as u32,
                        entry: i as u32,
                    };
                }
            }
        };
        if per == buckets {
            place(0, &mut dir[..buckets], 0, &mut slots);
        } else {
            // Each part's slots: from the end of the bucket before its first to its last's end.
            let mut parts = Vec::new();
            let mut rest = &mut slots[..];
            let mut placed = 0;
            for ends in dir[..buckets].chunks(per) {
                let (mine, after) = rest.split_at_mut(ends[per - 1] as usize - placed);
                parts.push((placed, mine));
                placed += ends[per - 1] as usize - placed;
                rest = after;
            }
            (dir[..buckets].par_chunks_mut(per).zip(parts).enumerate())
                .for_each(|(k, (ends, (base, slots)))| place(k, ends, base, slots));
        }
        let mut index = Index {
            shift,
            dir,
            slots,
            given_again: foldhash::HashMap::default(),
        };
        index.find_given_again(table);
        index
    }

    /// Finds identities given more than once (within a bucket, in the order given), keeps the
    /// first entry in the slots with the last record, and takes the later ones out.
    fn find_given_again(&mut self, table: Table) {
        let parts_of = |i: u32| table.parts(i);
        let mut dropped = false;
        for b in 0..self.dir.len() - 1 {
            let run = &self.slots[self.dir[b] as usize..self.dir[b + 1] as usize];
            for (x, first) in run.iter().enumerate() {
                if !self.given_again.is_empty() && self.given_again.get(&first.entry) == Some(&None)
                {
                    continue;
                }
                for later in &run[x + 1..] {
                    if later.fingerprint == first.fingerprint
                        && parts_of(later.entry) == parts_of(first.entry)
                    {
                        let record = table.entries[later.entry as usize].record;
                        self.given_again.insert(first.entry, Some(record));
                        self.given_again.insert(later.entry, None);
                        dropped = true;
                    }
                }
            }
        }
        if dropped {
            // Each bucket keeps its slots but the ones given again, in order: the directory
            // again, from what each bucket kept.
            let dropped = |s: &Slot| self.given_again.get(&s.entry) == Some(&None);
            let mut dir = vec![0u32; self.dir.len()];
            for b in 0..dir.len() - 1 {
                let run = &self.slots[self.dir[b] as usize..self.dir[b + 1] as usize];
                dir[b + 1] = dir[b] + run.iter().filter(|s| !dropped(s)).count() as u32;
            }
            self.slots.retain(|s| !dropped(s));
            self.dir = dir;
        }
    }

    /// The entry holding `(integration, user_id)`.
    fn find(&self, table: Table, hash: u64, integration: &str, user_id: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let b = (hash >> self.shift) as usize;
        self.slots[self.dir[b] as usize..self.dir[b + 1] as usize]
            .iter()
            .find(|s| {
                s.fingerprint == hash as u32 && table.parts(s.entry) == (integration, user_id)
            })
            .map(|s| s.entry)
    }

    /// The record holding entry `i`.
    fn record(&self, entries: &[Identity], i: u32) -> Option<u32> {
        if self.given_again.is_empty() {
            return Some(entries[i as usize].record);
        }
        match self.given_again.get(&i) {
            None => Some(entries[i as usize].record),
            Some(last) => *last,
        }
    }
}

impl StoredIdentities {
    /// The hash [`Self::insert_hashed`] takes: worked out on the pool while the store is read.
    pub fn hash(integration: &str, user_id: &str) -> u64 {
        FixedState::default().hash_one((integration, user_id))
    }

    /// Makes room for `more` identities of `bytes` bytes of text in all.
    pub fn reserve(&mut self, more: usize, bytes: usize) {
        self.entries.reserve(more);
        self.hashes.reserve(more);
        self.text.reserve(bytes);
    }

    /// Gives `(integration, user_id)` to stored record `record`. A later record given the same
    /// identity replaces the earlier one, as a map's insert would.
    pub fn insert(&mut self, integration: &str, user_id: &str, record: u32) {
        self.insert_hashed(
            Self::hash(integration, user_id),
            integration,
            user_id,
            record,
        )
    }

    /// [`Self::insert`] with the pair's [`Self::hash`] worked out already.
    pub fn insert_hashed(&mut self, hash: u64, integration: &str, user_id: &str, record: u32) {
        // Given after a lookup or `seal`, the index is built again at the next lookup; after
        // `seal`, from hashes worked out again for every entry (nothing gives more once the
        // store is read).
        self.index.take();
        if self.hashes.len() != self.entries.len() {
            let table = self.table();
            self.hashes = (0..self.entries.len() as u32)
                .map(|i| {
                    let (integration, user_id) = table.parts(i);
                    Self::hash(integration, user_id)
                })
                .collect();
        }
        let r = record as usize;
        if r + 1 < self.starts.len() {
            self.out_of_order = true;
        }
        while self.starts.len() <= r {
            self.starts.push(self.entries.len() as u32);
        }
        let name = match self.name_ids.get(integration) {
            Some(&name) => name,
            None => {
                let name = self.names.len() as u32;
                self.names.push(integration.into());
                self.name_ids.insert(integration.into(), name);
                name
            }
        };
        self.text.push_str(user_id);
        self.entries.push(Identity {
            end: self.text.len(),
            name,
            record,
        });
        self.hashes.push(hash);
    }

    /// Builds the index now (once every identity is given), and frees the hashes it was built
    /// from. A lookup before would build it.
    pub fn seal(&mut self) {
        if self.index.get().is_none() {
            // Each part reads every hash: more than eight would read more than they share.
            let ways = rayon::current_num_threads().min(8);
            let index = Index::build(self.table(), &self.hashes, ways);
            self.index = OnceLock::from(index);
        }
        self.hashes = Vec::new();
    }

    fn index(&self) -> &Index {
        // In one part: a lookup may come from the pool, which must not wait on itself.
        self.index
            .get_or_init(|| Index::build(self.table(), &self.hashes, 1))
    }

    fn table(&self) -> Table<'_> {
        Table {
            entries: &self.entries,
            text: &self.text,
            names: &self.names,
        }
    }

    /// Some identity was given twice, or records out of order: only the index answers.
    fn scattered(&self) -> bool {
        self.out_of_order || !self.index().given_again.is_empty()
    }

    /// The stored record holding `(integration, user_id)`.
    pub fn get(&self, integration: &str, user_id: &str) -> Option<u32> {
        let index = self.index();
        let hash = Self::hash(integration, user_id);
        let i = index.find(self.table(), hash, integration, user_id)?;
        index.record(&self.entries, i)
    }

    /// [`Self::get`] for a batch row whose record is stored as `own`: in a re-import nearly
    /// every identity a row holds is its own stored record's, and finding it among that
    /// record's few identities, side by side in memory, saves a random lookup among nine
    /// million.
    pub fn holder(&self, integration: &str, user_id: &str, own: Option<u32>) -> Option<u32> {
        if let Some(r) = own.filter(|_| !self.scattered()) {
            let r = r as usize;
            let start = self
                .starts
                .get(r)
                .map_or(self.entries.len(), |&s| s as usize);
            let end = self
                .starts
                .get(r + 1)
                .map_or(self.entries.len(), |&s| s as usize);
            // Every identity was given once, so its holder is the record it sits under.
            let table = self.table();
            if (start as u32..end as u32).any(|i| table.parts(i) == (integration, user_id)) {
                return Some(own.expect("filtered above"));
            }
        }
        self.get(integration, user_id)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every identity given to more than one record, with those records (each once, in the
    /// order given).
    pub fn shared(&self) -> Vec<((&str, &str), Vec<u32>)> {
        let index = self.index();
        let table = self.table();
        let mut held: std::collections::BTreeMap<(&str, &str), Vec<u32>> = Default::default();
        let mut again: Vec<u32> = index.given_again.keys().copied().collect();
        again.sort_unstable();
        for i in again {
            let records = held.entry(table.parts(i)).or_default();
            let record = self.entries[i as usize].record;
            if !records.contains(&record) {
                records.push(record);
            }
        }
        held.into_iter().filter(|(_, r)| r.len() > 1).collect()
    }

    /// Every identity with its record, in the order first given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, u32)> {
        let index = self.index();
        (0..self.entries.len() as u32).filter_map(move |i| {
            let record = index.record(&self.entries, i)?;
            let (integration, user_id) = self.table().parts(i);
            Some((integration, user_id, record))
        })
    }
}

/// Every stored address key (primary and aliases) with the stored record holding it, as an
/// index into `Known::store_records` (S001, R001): the identities' table with one key in
/// place of the pair. A million stored users hold about three million addresses, which a map
/// of owned strings held as six million allocations.
#[derive(Debug, Default)]
pub struct StoredAddresses(StoredIdentities);

impl StoredAddresses {
    /// The hash [`Self::insert_hashed`] takes.
    pub fn hash(key: &str) -> u64 {
        StoredIdentities::hash("", key)
    }

    pub fn reserve(&mut self, more: usize, bytes: usize) {
        self.0.reserve(more, bytes);
    }

    /// See [`StoredIdentities::seal`].
    pub fn seal(&mut self) {
        self.0.seal();
    }

    /// Gives address `key` to stored record `record`; a later record given it replaces the
    /// earlier one.
    pub fn insert(&mut self, key: &str, record: u32) {
        self.0.insert("", key, record);
    }

    /// [`Self::insert`] with the key's [`Self::hash`] worked out already.
    pub fn insert_hashed(&mut self, hash: u64, key: &str, record: u32) {
        self.0.insert_hashed(hash, "", key, record);
    }

    /// The stored record holding address `key`, looked for first among the addresses of
    /// `own` (see [`StoredIdentities::holder`]).
    pub fn holder(&self, key: &str, own: Option<u32>) -> Option<u32> {
        self.0.holder("", key, own)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.get("", key).is_some()
    }

    /// Every address given to more than one record, with those records.
    pub fn shared(&self) -> Vec<(&str, Vec<u32>)> {
        let shared = self.0.shared().into_iter();
        shared.map(|((_, key), records)| (key, records)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every address with its record, in the order first given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.iter().map(|(_, key, record)| (key, record))
    }
}

/// Every stored record id, numbered in the order given (the number the identities and
/// addresses point to), with its row version (S004) and the digest of its text (an import's
/// unchanged records). A million stored users were a map of a million owned ids and versions:
/// inserting into it was the slowest part of the store read after the identities.
#[derive(Debug, Default)]
pub struct StoredRecords {
    /// Record id → its number, as the identities' table with one key in place of the pair.
    ids: StoredIdentities,
    /// By number: the digest, and where the row version ends in `versions_text`.
    versions: Vec<([u8; 32], usize)>,
    versions_text: String,
    /// By number: the batch that last wrote the record (0 when unknown).
    writers: Vec<u32>,
    /// Row version (lower case) → the first record with it, made when first asked for: only
    /// for an export's row whose record id the store does not hold (S004).
    by_version: OnceLock<foldhash::HashMap<String, u32>>,
}

/// What the store holds under a record id.
#[derive(Debug, Clone, Copy)]
pub struct StoredVersion<'a> {
    pub row_version: &'a str,
    pub digest: &'a [u8; 32],
    /// Its number in [`StoredRecords`].
    pub at: u32,
}

impl StoredRecords {
    /// Makes room for `more` records whose ids take `id_bytes` bytes in all, and their row
    /// versions `version_bytes`.
    pub fn reserve(&mut self, more: usize, id_bytes: usize, version_bytes: usize) {
        self.ids.reserve(more, id_bytes);
        self.versions.reserve(more);
        self.versions_text.reserve(version_bytes);
        self.writers.reserve(more);
    }

    /// Adds a stored record, last written by batch `writer`; returns its number.
    pub fn add(
        &mut self,
        record_id: &str,
        row_version: &str,
        digest: [u8; 32],
        writer: u32,
    ) -> u32 {
        let at = self.versions.len() as u32;
        self.ids.insert("", record_id, at);
        self.versions_text.push_str(row_version);
        self.versions.push((digest, self.versions_text.len()));
        self.writers.push(writer);
        at
    }

    /// The batch that last wrote stored record `at` (0 when unknown).
    pub fn writer(&self, at: u32) -> u32 {
        self.writers[at as usize]
    }

    /// The stored record whose row version is `version` (as muster writes them, any case).
    pub fn with_version(&self, version: &str) -> Option<u32> {
        let index = self.by_version.get_or_init(|| {
            let mut index = foldhash::HashMap::default();
            for at in (0..self.len() as u32).rev() {
                index.insert(self.row_version(at).to_ascii_lowercase(), at);
            }
            index
        });
        index.get(&version.to_ascii_lowercase()).copied()
    }

    /// The row version of stored record `at`.
    pub fn row_version(&self, at: u32) -> &str {
        let start = match at {
            0 => 0,
            _ => self.versions[at as usize - 1].1,
        };
        &self.versions_text[start..self.versions[at as usize].1]
    }

    /// See [`StoredIdentities::seal`].
    pub fn seal(&mut self) {
        self.ids.seal();
    }

    /// What the store holds under `record_id`.
    pub fn get(&self, record_id: &str) -> Option<StoredVersion<'_>> {
        let at = self.ids.get("", record_id)?;
        Some(StoredVersion {
            row_version: self.row_version(at),
            digest: &self.versions[at as usize].0,
            at,
        })
    }

    pub fn contains(&self, record_id: &str) -> bool {
        self.ids.get("", record_id).is_some()
    }

    /// The record id of stored record `at`.
    pub fn record_id(&self, at: u32) -> &str {
        self.ids.table().parts(at).1
    }

    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_takes_16_bytes() {
        assert_eq!(std::mem::size_of::<Identity>(), 16);
    }

    #[test]
    fn finds_exactly_what_was_given_and_the_last_record_wins() {
        let mut ids = StoredIdentities::default();
        assert!(ids.is_empty());
        assert_eq!(ids.get("slack", "U1"), None);
        ids.insert("slack", "U1", 0);
        ids.insert("snow", "U1", 1);
        // The pair is the key, not the joined text.
        ids.insert("sla", "ckU1", 2);
        ids.insert("slack", "U1", 3);
        assert_eq!(ids.get("slack", "U1"), Some(3));
        assert_eq!(ids.get("snow", "U1"), Some(1));
        assert_eq!(ids.get("sla", "ckU1"), Some(2));
        assert_eq!(ids.get("slac", "kU1"), None);
        assert_eq!(ids.get("Slack", "U1"), None);
        for n in 0..10_000u32 {
            ids.insert("okta", &format!("00u{n}"), n);
        }
        assert!((0..10_000u32).all(|n| ids.get("okta", &format!("00u{n}")) == Some(n)));
        assert_eq!(ids.iter().count(), 10_003);
    }

    #[test]
    fn shared_keys_name_every_record_holding_them() {
        let mut ids = StoredIdentities::default();
        ids.insert("slack", "U1", 0);
        ids.insert("slack", "U2", 1);
        ids.insert("snow", "U1", 1);
        ids.insert("slack", "U1", 2);
        ids.insert("slack", "U1", 3);
        assert_eq!(ids.shared(), [(("slack", "U1"), vec![0, 2, 3])]);
        let mut addresses = StoredAddresses::default();
        addresses.insert("a@x.com", 0);
        addresses.insert("b@x.com", 1);
        assert!(addresses.shared().is_empty());
        addresses.insert("b@x.com", 2);
        assert_eq!(addresses.shared(), [("b@x.com", vec![1, 2])]);
    }

    #[test]
    fn addresses_are_found_by_their_key_and_the_last_record_wins() {
        let mut addresses = StoredAddresses::default();
        assert!(addresses.is_empty() && !addresses.contains("a@x.com"));
        addresses.insert("a@x.com", 0);
        addresses.insert("b@x.com", 0);
        addresses.insert("c@x.com", 2);
        for own in [None, Some(0), Some(1), Some(2)] {
            assert_eq!(addresses.holder("b@x.com", own), Some(0));
            assert_eq!(addresses.holder("c@x.com", own), Some(2));
            assert_eq!(addresses.holder("d@x.com", own), None);
        }
        addresses.insert("a@x.com", 3);
        assert_eq!(addresses.holder("a@x.com", Some(0)), Some(3));
        assert!(addresses.contains("a@x.com") && !addresses.contains("A@x.com"));
        let all: Vec<_> = addresses.iter().collect();
        assert_eq!(all, [("a@x.com", 3), ("b@x.com", 0), ("c@x.com", 2)]);
    }

    /// `holder` answers what `get` answers, whoever is named as the row's own record: records
    /// with no identities between others, a record named that holds none, identities given
    /// out of order or twice (after which the table alone answers).
    #[test]
    fn the_holder_is_the_one_get_finds() {
        let pairs = |ids: &StoredIdentities| {
            let mut all: Vec<(String, String)> = ids
                .iter()
                .map(|(i, u, _)| (i.to_string(), u.to_string()))
                .collect();
            all.push(("okta".to_string(), "nobody".to_string()));
            all
        };
        let agree = |ids: &StoredIdentities| {
            for (i, u) in pairs(ids) {
                for own in [None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(9)] {
                    assert_eq!(ids.holder(&i, &u, own), ids.get(&i, &u), "{i} {u} {own:?}");
                }
            }
        };
        let mut ids = StoredIdentities::default();
        // Record 0 holds two, 1 none, 2 one, 3 two, 4 none (the last).
        for (i, u, r) in [("snow", "a", 0), ("slack", "a", 0), ("snow", "b", 2)] {
            ids.insert(i, u, r);
        }
        ids.insert("snow", "c", 3);
        ids.insert("okta", "c", 3);
        assert!(!ids.scattered());
        agree(&ids);
        assert_eq!(ids.holder("snow", "b", Some(2)), Some(2));
        assert_eq!(ids.holder("snow", "b", Some(0)), Some(2));
        // Out of order: record 1 after record 3.
        let mut late = StoredIdentities::default();
        late.insert("snow", "a", 0);
        late.insert("snow", "c", 3);
        late.insert("snow", "b", 1);
        assert!(late.scattered());
        agree(&late);
        // Given twice: the later record holds it.
        ids.insert("snow", "a", 4);
        assert!(ids.scattered());
        agree(&ids);
        assert_eq!(ids.holder("snow", "a", Some(0)), Some(4));
    }

    #[test]
    fn records_are_numbered_in_the_order_given_with_their_versions() {
        let mut records = StoredRecords::default();
        assert!(records.is_empty() && records.get("A").is_none());
        assert_eq!(records.add("A", "v1", [1; 32], 1), 0);
        assert_eq!(records.add("B", "", [2; 32], 2), 1);
        assert_eq!(records.add("C", "v3", [3; 32], 3), 2);
        records.seal();
        assert_eq!(records.len(), 3);
        let b = records.get("B").unwrap();
        assert_eq!((b.row_version, b.digest, b.at), ("", &[2; 32], 1));
        let c = records.get("C").unwrap();
        assert_eq!((c.row_version, c.digest, c.at), ("v3", &[3; 32], 2));
        assert_eq!(records.get("A").unwrap().row_version, "v1");
        assert!(records.contains("A") && !records.contains("a") && !records.contains(""));
        assert_eq!(
            (0..3).map(|at| records.record_id(at)).collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
    }

    /// Built in parts on the pool, the index is the one built in one part.
    #[test]
    fn an_index_built_in_parts_is_the_same() {
        let mut ids = StoredIdentities::default();
        for n in 0..5_000u32 {
            ids.insert(
                ["slack", "snow", "okta"][n as usize % 3],
                &format!("U{}", n % 1_000),
                n,
            );
        }
        let one = Index::build(ids.table(), &ids.hashes, 1);
        assert!(!one.given_again.is_empty());
        for ways in [2, 4, 8, 1 << 20] {
            let parts = Index::build(ids.table(), &ids.hashes, ways);
            assert_eq!(parts.dir, one.dir);
            let slots = |i: &Index| -> Vec<(u32, u32)> {
                i.slots.iter().map(|s| (s.fingerprint, s.entry)).collect()
            };
            assert_eq!(slots(&parts), slots(&one));
            assert_eq!(parts.given_again, one.given_again);
        }
    }

    proptest::proptest! {
        /// Against a map: any identities (a few integrations and user ids, so that many are
        /// given twice), given to records in or out of order, looked up before, between and
        /// after the inserts, sealed before, between or after them. Enough of them that
        /// buckets hold several.
        #[test]
        fn answers_as_a_map_does(
            given in proptest::collection::vec((0u8..3, 0u16..400, 0u32..50), 0..600),
            looked_at in proptest::collection::vec(0usize..600, 0..4),
            sealed_at in 0usize..700,
        ) {
            let name = |i: u8| ["slack", "snow", "sla"][i as usize];
            let mut ids = StoredIdentities::default();
            let mut map = std::collections::HashMap::new();
            let mut first_given = Vec::new();
            let agree = |ids: &StoredIdentities, map: &std::collections::HashMap<(String, String), u32>| {
                for i in 0..3u8 {
                    for u in 0..400u16 {
                        let (i, u) = (name(i), format!("U{u}"));
                        let want = map.get(&(i.to_string(), u.clone())).copied();
                        proptest::prop_assert_eq!(ids.get(i, &u), want);
                        for own in [None, Some(0), Some(7), Some(49)] {
                            proptest::prop_assert_eq!(ids.holder(i, &u, own), want);
                        }
                    }
                }
                Ok(())
            };
            for (n, &(i, u, record)) in given.iter().enumerate() {
                if looked_at.contains(&n) {
                    agree(&ids, &map)?;
                }
                if sealed_at == n {
                    ids.seal();
                }
                let key = (name(i).to_string(), format!("U{u}"));
                ids.insert(&key.0, &key.1, record);
                if map.insert(key.clone(), record).is_none() {
                    first_given.push(key);
                }
            }
            if sealed_at == given.len() {
                ids.seal();
            }
            agree(&ids, &map)?;
            let all: Vec<(String, String, u32)> =
                ids.iter().map(|(i, u, r)| (i.to_string(), u.to_string(), r)).collect();
            let want: Vec<(String, String, u32)> = first_given
                .into_iter()
                .map(|k| { let r = map[&k]; (k.0, k.1, r) })
                .collect();
            proptest::prop_assert_eq!(all, want);
        }

        /// Records given in order, each identity once (as a store muster wrote gives them):
        /// `holder` finds a row's own identities among its record's, and answers as `get`
        /// for any record named.
        #[test]
        fn in_order_the_holder_is_the_one_get_finds(
            held in proptest::collection::vec(0usize..6, 1..120),
            sealed in proptest::bool::ANY,
        ) {
            let mut ids = StoredIdentities::default();
            let mut given = Vec::new();
            for (record, &n) in held.iter().enumerate() {
                for j in 0..n {
                    let key = (["snow", "slack"][j % 2], format!("R{record}-{j}"));
                    ids.insert(key.0, &key.1, record as u32);
                    given.push((key, record as u32));
                }
            }
            if sealed {
                ids.seal();
            }
            proptest::prop_assert!(!ids.scattered());
            let records = held.len() as u32;
            for ((integration, user_id), record) in &given {
                proptest::prop_assert_eq!(ids.holder(integration, user_id, Some(*record)), Some(*record));
                for own in [None, Some(0), Some(records / 2), Some(records - 1), Some(records)] {
                    proptest::prop_assert_eq!(ids.holder(integration, user_id, own), Some(*record));
                }
            }
            for own in [None, Some(0), Some(records - 1), Some(records)] {
                proptest::prop_assert_eq!(ids.holder("snow", "nobody", own), None);
                proptest::prop_assert_eq!(ids.holder("slack", "R0-0", own), None);
            }
        }
    }

    /// Looked up first on the pool, with no `seal`: the index is built by one of the lookups
    /// while the others wait for it.
    #[test]
    fn lookups_on_the_pool_build_the_index_once() {
        use rayon::prelude::*;
        let mut ids = StoredIdentities::default();
        for n in 0..20_000u32 {
            ids.insert("okta", &format!("00u{n}"), n);
        }
        let found: Vec<Option<u32>> = (0..20_000u32)
            .into_par_iter()
            .map(|n| ids.holder("okta", &format!("00u{n}"), Some(n)))
            .collect();
        assert!(found.iter().enumerate().all(|(n, r)| *r == Some(n as u32)));
    }

    #[test]
    fn a_record_id_given_twice_is_found_as_its_last() {
        let mut records = StoredRecords::default();
        records.add("A", "v1", [1; 32], 1);
        records.add("B", "v2", [2; 32], 2);
        records.add("A", "v3", [3; 32], 3);
        records.seal();
        let a = records.get("A").unwrap();
        assert_eq!((a.row_version, a.digest, a.at), ("v3", &[3; 32], 2));
        assert_eq!(records.get("B").unwrap().at, 1);
        assert_eq!((records.record_id(0), records.record_id(2)), ("A", "A"));
    }
}
