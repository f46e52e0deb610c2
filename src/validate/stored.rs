//! The store's identities as D004 looks them up.

use foldhash::fast::FixedState;
use std::hash::BuildHasher;

/// Every stored identity (integration, user id) with the stored record holding it, as an index
/// into `Known::store_record_ids`. One hash table of indices into one text buffer: a million
/// stored users hold about nine million identities, and a map of owned strings spent most of
/// a re-import's store read allocating and inserting them.
#[derive(Debug, Default)]
pub struct StoredIdentities {
    table: hashbrown::HashTable<u32>,
    entries: Vec<Identity>,
    text: String,
    /// Where each stored record's identities start in `entries`, while the records come in
    /// order and no identity is given twice (`one_holder`): then a record's own identities
    /// sit side by side, and a batch row is checked against them without the table.
    starts: Vec<u32>,
    /// An identity was given to a second record, or a record's identities came after a later
    /// record's: `starts` no longer says where a record's identities are.
    scattered: bool,
}

#[derive(Debug, Clone, Copy)]
struct Identity {
    /// `text[start..start + integration]` is the integration, the user id follows up to `end`.
    start: usize,
    end: usize,
    // The two u32 side by side: 24 bytes an identity, not 32 with padding (nine million of
    // them in a store of a million users).
    integration: u32,
    record: u32,
}

impl StoredIdentities {
    /// The hash [`Self::insert_hashed`] takes: worked out on the pool while the store is read.
    pub fn hash(integration: &str, user_id: &str) -> u64 {
        FixedState::default().hash_one((integration, user_id))
    }

    /// The hash of entry `i`, as the table asks for it when it grows.
    fn rehash(entries: &[Identity], text: &str, i: u32) -> u64 {
        let e = &entries[i as usize];
        let split = e.start + e.integration as usize;
        Self::hash(&text[e.start..split], &text[split..e.end])
    }

    /// Makes room for `more` identities of `bytes` bytes of text in all, so that a store's
    /// nine million identities are not rehashed as the table grows.
    pub fn reserve(&mut self, more: usize, bytes: usize) {
        let Self {
            table,
            entries,
            text,
            ..
        } = self;
        table.reserve(more, |&i| Self::rehash(entries, text, i));
        entries.reserve(more);
        text.reserve(bytes);
    }

    fn parts(&self, e: &Identity) -> (&str, &str) {
        let split = e.start + e.integration as usize;
        (&self.text[e.start..split], &self.text[split..e.end])
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
        let Self {
            table,
            entries,
            text,
            starts,
            scattered,
        } = self;
        // One probe of the table finds the pair or the place for it: nine million identities'
        // tables do not fit the caches, and each probe is a miss.
        let same = |&i: &u32| {
            let e = &entries[i as usize];
            let split = e.start + e.integration as usize;
            &text[e.start..split] == integration && &text[split..e.end] == user_id
        };
        let place = match table.entry(hash, same, |&i| Self::rehash(entries, text, i)) {
            hashbrown::hash_table::Entry::Occupied(given) => {
                entries[*given.get() as usize].record = record;
                *scattered = true;
                return;
            }
            hashbrown::hash_table::Entry::Vacant(place) => place,
        };
        let r = record as usize;
        if r + 1 < starts.len() {
            *scattered = true;
        }
        while starts.len() <= r {
            starts.push(entries.len() as u32);
        }
        let start = text.len();
        text.push_str(integration);
        text.push_str(user_id);
        entries.push(Identity {
            start,
            integration: integration.len() as u32,
            end: text.len(),
            record,
        });
        place.insert((entries.len() - 1) as u32);
    }

    /// The stored record holding `(integration, user_id)`.
    pub fn get(&self, integration: &str, user_id: &str) -> Option<u32> {
        let hash = Self::hash(integration, user_id);
        self.table
            .find(hash, |&i| {
                self.parts(&self.entries[i as usize]) == (integration, user_id)
            })
            .map(|&i| self.entries[i as usize].record)
    }

    /// [`Self::get`] for a batch row whose record is stored as `own`: in a re-import nearly
    /// every identity a row holds is its own stored record's, and finding it among that
    /// record's few identities, side by side in memory, saves a random probe into a table of
    /// nine million.
    pub fn holder(&self, integration: &str, user_id: &str, own: Option<u32>) -> Option<u32> {
        if let Some(r) = own.filter(|_| !self.scattered) {
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
            if self.entries[start..end]
                .iter()
                .any(|e| self.parts(e) == (integration, user_id))
            {
                return Some(own.expect("filtered above"));
            }
        }
        self.get(integration, user_id)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every identity with its record, in the order first given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, u32)> {
        self.entries.iter().map(|e| {
            let (integration, user_id) = self.parts(e);
            (integration, user_id, e.record)
        })
    }
}

/// Every stored address key (primary and aliases) with the stored record holding it, as an
/// index into `Known::store_record_ids` (S001, R001): the identities' table with one key in
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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every address with its record, in the order first given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.iter().map(|(_, key, record)| (key, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_takes_24_bytes() {
        assert_eq!(std::mem::size_of::<Identity>(), 24);
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
        assert!(!ids.scattered);
        agree(&ids);
        assert_eq!(ids.holder("snow", "b", Some(2)), Some(2));
        assert_eq!(ids.holder("snow", "b", Some(0)), Some(2));
        // Out of order: record 1 after record 3.
        let mut late = StoredIdentities::default();
        late.insert("snow", "a", 0);
        late.insert("snow", "c", 3);
        late.insert("snow", "b", 1);
        assert!(late.scattered);
        agree(&late);
        // Given twice: the later record holds it.
        ids.insert("snow", "a", 4);
        assert!(ids.scattered);
        agree(&ids);
        assert_eq!(ids.holder("snow", "a", Some(0)), Some(4));
    }
}
