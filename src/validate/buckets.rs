//! Keys of the cross-row rules, spread by hash over buckets so that each bucket can be grouped
//! on its own (external hash partitioning): every item with the same key lands in the same
//! bucket, in the order it was added. Buckets stay in memory while they are small and move to
//! unnamed temporary files (gone when the process ends) once they grow, so a batch of millions
//! of users needs memory for one bucket at a time, not for every key (SPEC §8).

use std::hash::BuildHasher;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::PathBuf;

/// How many buckets: a million users' identities make buckets of a few megabytes.
const BUCKETS: usize = 64;
/// Past this many bytes in memory, buckets go to files.
const IN_MEMORY: usize = 64 << 20;

/// In memory, a bucket grows in chunks of this many bytes: growing one buffer would copy it
/// again at every doubling, and have the kernel zero fresh pages for each copy.
const CHUNK: usize = 64 << 10;

pub(crate) struct Buckets {
    memory: Vec<Vec<Vec<u8>>>,
    files: Option<Vec<BufWriter<std::fs::File>>>,
    bytes: usize,
    /// Past this many bytes in memory, buckets go to files.
    limit: usize,
    dir: PathBuf,
}

/// The bucket of a key: the same key always gives the same bucket.
pub(crate) fn bucket_of(key: &impl std::hash::Hash) -> usize {
    (foldhash::fast::FixedState::with_seed(0x6d75_7374).hash_one(key) % BUCKETS as u64) as usize
}

impl Buckets {
    pub(crate) fn new(dir: PathBuf) -> Buckets {
        Buckets::with_limit(dir, IN_MEMORY)
    }

    fn with_limit(dir: PathBuf, limit: usize) -> Buckets {
        Buckets {
            memory: vec![Vec::new(); BUCKETS],
            files: None,
            bytes: 0,
            limit,
            dir,
        }
    }

    /// Adds an item (its bytes, from [`Item`]) to a bucket.
    pub(crate) fn push(&mut self, bucket: usize, item: &[u8]) -> std::io::Result<()> {
        let len = (item.len() as u32).to_le_bytes();
        if let Some(files) = &mut self.files {
            files[bucket].write_all(&len)?;
            return files[bucket].write_all(item);
        }
        let chunks = &mut self.memory[bucket];
        let size = item.len() + 4;
        match chunks.last_mut() {
            Some(chunk) if chunk.capacity() - chunk.len() >= size => {}
            _ => chunks.push(Vec::with_capacity(size.max(CHUNK))),
        }
        let chunk = chunks.last_mut().expect("a chunk with room");
        chunk.extend_from_slice(&len);
        chunk.extend_from_slice(item);
        self.bytes += size;
        if self.bytes > self.limit {
            let mut files = Vec::with_capacity(BUCKETS);
            for chunks in &mut self.memory {
                let mut file =
                    BufWriter::with_capacity(64 << 10, tempfile::tempfile_in(&self.dir)?);
                for chunk in std::mem::take(chunks) {
                    file.write_all(&chunk)?;
                }
                files.push(file);
            }
            self.files = Some(files);
        }
        Ok(())
    }

    /// Ends adding: the buckets, to be read any number of times.
    pub(crate) fn finish(&mut self) -> std::io::Result<Filled> {
        self.bytes = 0;
        let memory = std::mem::replace(&mut self.memory, vec![Vec::new(); BUCKETS]);
        Ok(Filled(match self.files.take() {
            // Joined when read, on the pool: joined here, one thread copied them all while the
            // pool waited for the cross-row pass.
            None => memory.into_iter().map(Bucket::Memory).collect(),
            Some(files) => files
                .into_iter()
                .map(|f| f.into_inner().map_err(|e| e.into_error()).map(Bucket::File))
                .collect::<std::io::Result<_>>()?,
        }))
    }
}

enum Bucket {
    /// The bucket's chunks, each holding whole items.
    Memory(Vec<Vec<u8>>),
    File(std::fs::File),
}

/// Buckets after the last item.
pub(crate) struct Filled(Vec<Bucket>);

impl Filled {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Bucket `b`'s items, as bytes for [`items`]. Each bucket has its own file, so buckets can
    /// be read from several threads at once.
    pub(crate) fn read(&self, b: usize) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match &self.0[b] {
            Bucket::Memory(chunks) => Ok(match chunks.as_slice() {
                [] => std::borrow::Cow::Borrowed(&[]),
                [one] => std::borrow::Cow::Borrowed(one),
                more => std::borrow::Cow::Owned(more.concat()),
            }),
            Bucket::File(file) => {
                let mut file = file;
                let mut bytes = Vec::new();
                file.rewind()?;
                file.read_to_end(&mut bytes)?;
                Ok(std::borrow::Cow::Owned(bytes))
            }
        }
    }
}

/// The items of one bucket.
pub(crate) fn items(bucket: &[u8]) -> impl Iterator<Item = Reader<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let len = u32::from_le_bytes(bucket.get(at..at + 4)?.try_into().ok()?) as usize;
        let item = bucket.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some(Reader { bytes: item })
    })
}

/// Writes an item's fields.
#[derive(Default)]
pub(crate) struct Item {
    pub(crate) bytes: Vec<u8>,
}

impl Item {
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// An optional index (`u32::MAX` for none).
    pub(crate) fn opt(&mut self, v: Option<usize>) -> &mut Self {
        self.u32(v.map_or(u32::MAX, |v| v as u32))
    }
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.u32(s.len() as u32);
        self.bytes.extend_from_slice(s.as_bytes());
        self
    }
}

/// Reads an item's fields back, in the order they were written.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn u32(&mut self) -> u32 {
        let (head, rest) = self.bytes.split_at(4);
        self.bytes = rest;
        u32::from_le_bytes(head.try_into().expect("four bytes"))
    }
    pub(crate) fn opt(&mut self) -> Option<usize> {
        match self.u32() {
            u32::MAX => None,
            v => Some(v as usize),
        }
    }
    pub(crate) fn str(&mut self) -> &'a str {
        let len = self.u32() as usize;
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(head).expect("written from a str")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_per_bucket_from_memory_and_files() {
        let dir = tempfile::tempdir().unwrap();
        // In memory with one chunk a bucket, in files, in memory with several chunks a bucket.
        for (count, limit, in_files) in [
            (10usize, 1 << 20, false),
            (400_000, 1 << 20, true),
            (400_000, 64 << 20, false),
        ] {
            let mut buckets = Buckets::with_limit(dir.path().to_path_buf(), limit);
            for i in 0..count {
                let key = format!("key{}", i % 1000);
                let mut item = Item::default();
                item.str(&key).u32(i as u32).opt(None);
                buckets.push(bucket_of(&key), &item.bytes).unwrap();
            }
            assert_eq!(buckets.files.is_some(), in_files);
            if !in_files {
                let chunks = buckets.memory.iter().map(Vec::len).max();
                assert_eq!(chunks.unwrap() > 1, count > 10, "{chunks:?}");
            }
            let filled = buckets.finish().unwrap();
            assert!(buckets.files.is_none() && buckets.bytes == 0);
            let mut seen = 0;
            for b in (0..filled.len()).chain(0..filled.len()) {
                let bucket = filled.read(b).unwrap();
                let mut last = std::collections::HashMap::new();
                for mut r in items(&bucket) {
                    let (key, i, none) = (r.str(), r.u32(), r.opt());
                    assert_eq!(none, None);
                    assert_eq!(
                        bucket_of(&key.to_string()),
                        bucket_of(&format!("key{}", i % 1000))
                    );
                    // Within a key, items keep the order they were added in.
                    if let Some(prev) = last.insert(key.to_string(), i) {
                        assert!(prev < i);
                    }
                    seen += 1;
                }
            }
            assert_eq!(seen, 2 * count, "every bucket can be read twice");
        }
    }
}
