//! Building a serving snapshot from records sorted by name.
//!
//! The builder is fed visible records in strictly increasing name order
//! (a sorted Scan, a sorted export, or a merge of sorted runs) and cuts
//! every run into shards as it goes.
//!
//! # Where shards are cut: by content, within byte bounds
//!
//! A shard is closed after an item when its raw bytes have reached 3/4 of
//! the target and the item is a *boundary item* (a hash of its run and
//! name, [`is_boundary`], hits 1 in `target / 512`), or unconditionally at
//! 3/2 of the target. So shards are 192-384 KiB raw for the 256 KiB
//! target, about 256 KiB on average, and where a cut falls depends on the
//! items near it, not on everything before it (content-defined chunking,
//! as rsync and backup tools do). Inserting or deleting an item changes
//! the shard that holds it and, at most, the next few, after which the
//! cuts fall where they fell before: an update rewrites the shards around
//! its changes and leaves the rest of the run byte-identical, so with
//! content addressing they are not written again. Finished objects (gzip'd shards, then directory
//! pages) are handed out through [`Builder::take_objects`], so the caller
//! can upload them while building. Memory is one open shard per run plus
//! one [`ShardRef`] per finished shard, never the table.

use super::manifest::{
    Directory, DirectoryPage, Manifest, PageRef, ShardRef, DIRECTORY_PAGE_BYTES, FOLLOWING,
};
use super::shard::ShardWriter;
use super::{content_hash, gzip, Run, FORMAT};
use crate::record::MediaRecord;
use std::collections::BTreeMap;

/// The average raw size of a shard (see the module docs for the bounds).
/// 256 KiB raw is about 50-60 KiB gzip'd and 2,000 typical items: two
/// shards (at least 384 KiB) always hold a full 1,000-item page, and one
/// inflates and indexes in about a millisecond.
pub const SHARD_TARGET_BYTES: usize = 256 * 1024;

/// FNV-1a, 64 bits: a tiny hash that is the same on every platform and
/// release (the standard library's is not promised to be), so shard
/// boundaries never move between builds of this code.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The byte bounds and boundary odds of shards cut for `target` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    pub min: usize,
    pub max: usize,
    pub odds: u64,
}

impl Cuts {
    pub fn for_target(target: usize) -> Cuts {
        let target = target.max(1);
        Cuts {
            min: target * 3 / 4,
            max: (target * 3 / 2).max(1),
            odds: (target as u64 / 512).max(1),
        }
    }

    /// Whether a shard of `raw_len` bytes ends after `name` (of `run`).
    pub fn cut_after(&self, run: &str, name: &str, raw_len: usize) -> bool {
        raw_len >= self.max || (raw_len >= self.min && is_boundary(run, name, self.odds))
    }
}

/// Whether an item is a content-defined boundary: 1 in `odds`.
pub fn is_boundary(run: &str, name: &str, odds: u64) -> bool {
    fnv1a(&[run.as_bytes(), name.as_bytes()]) % odds == 0
}

/// A finished object: its content hash (its name) and gzip'd bytes.
pub type Object = (String, Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("records must come in strictly increasing name order: `{next}` after `{previous}`")]
    Order { previous: String, next: String },
}

/// Builds one version of the serving snapshot.
#[derive(Debug)]
pub struct Builder {
    target: usize,
    cuts: Cuts,
    page_bytes: usize,
    open: BTreeMap<Run, ShardWriter>,
    done: Vec<ShardRef>,
    objects: Vec<Object>,
    last_name: Option<String>,
    items: u64,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new(SHARD_TARGET_BYTES)
    }
}

impl Builder {
    /// A builder cutting shards of about `target` raw bytes.
    pub fn new(target: usize) -> Builder {
        Builder::with_page_bytes(target, DIRECTORY_PAGE_BYTES)
    }

    /// A builder with a directory page size other than the default (tests
    /// use tiny ones to exercise paged directories on small tables).
    pub fn with_page_bytes(target: usize, page_bytes: usize) -> Builder {
        Builder {
            target: target.max(1),
            cuts: Cuts::for_target(target),
            page_bytes: page_bytes.max(1),
            open: BTreeMap::new(),
            done: Vec::new(),
            objects: Vec::new(),
            last_name: None,
            items: 0,
        }
    }

    /// Adds a record. Hidden records (pending, failed, tombstones) are
    /// skipped: the serving snapshot holds only what the API shows.
    pub fn push(&mut self, record: &MediaRecord) -> Result<(), BuildError> {
        if let Some(previous) = &self.last_name {
            if previous.as_str() >= record.name.as_str() {
                return Err(BuildError::Order {
                    previous: previous.clone(),
                    next: record.name.clone(),
                });
            }
        }
        self.last_name = Some(record.name.clone());
        if !record.is_visible() {
            return Ok(());
        }
        let json = crate::api::item_body(&record.to_media_item());
        let mut runs = vec![Run::Names, Run::Type(record.media_type)];
        let mut labels: Vec<&String> = record.labels.iter().collect();
        labels.sort();
        labels.dedup();
        runs.extend(labels.into_iter().map(|l| Run::Label(l.clone())));
        for run in runs {
            let w = self.open.entry(run.clone()).or_default();
            w.push(&record.name, record.media_type, &json);
            if self.cuts.cut_after(&run.id(), &record.name, w.raw_len()) {
                let w = self.open.remove(&run).expect("just used");
                self.close(&run, w);
            }
        }
        self.items += 1;
        Ok(())
    }

    fn close(&mut self, run: &Run, w: ShardWriter) {
        let items = w.items();
        let (raw, first, last) = w.finish();
        let gz = gzip(&raw);
        let hash = content_hash(&gz);
        self.done.push(ShardRef {
            run: run.id(),
            first,
            last,
            items,
            bytes: gz.len() as u64,
            hash: hash.clone(),
        });
        self.objects.push((hash, gz));
    }

    /// Objects finished so far; upload them before [`Builder::finish`].
    pub fn take_objects(&mut self) -> Vec<Object> {
        std::mem::take(&mut self.objects)
    }

    /// Closes every shard, writes the directory and returns the manifest
    /// with the remaining objects. `created_at` is an ISO-8601 time.
    pub fn finish(mut self, created_at: &str) -> (Manifest, Vec<Object>) {
        for (run, w) in std::mem::take(&mut self.open) {
            if !w.is_empty() {
                self.close(&run, w);
            }
        }
        let mut entries = std::mem::take(&mut self.done);
        entries.sort_by(|a, b| a.run.cmp(&b.run).then_with(|| a.first.cmp(&b.first)));
        let shard_count = entries.len() as u64;
        let shard_bytes = entries.iter().map(|e| e.bytes).sum();
        let (directory, pages) = directory(entries, self.page_bytes);
        self.objects.extend(pages);
        let manifest = Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&directory, None, &[]),
            created_at: created_at.to_string(),
            item_count: self.items,
            shard_count,
            shard_bytes,
            shard_target_bytes: self.target as u64,
            directory,
            delta: None,
            level: Vec::new(),
            compact_from: None,
        };
        (manifest, self.objects)
    }
}

/// The directory of `entries` (sorted by `(run, first)`): inline when they
/// fit in `page_bytes`, else pages cut by content like shards (after an
/// entry that is a boundary once a page has 3/4 of `page_bytes`, always at
/// 3/2), so that an update rewrites only the pages around its changes.
/// Returns the directory and the page objects.
pub fn directory(entries: Vec<ShardRef>, page_bytes: usize) -> (Directory, Vec<Object>) {
    let size = |e: &ShardRef| serde_json::to_vec(e).map(|v| v.len() + 1).unwrap_or(0);
    let total: usize = entries.iter().map(size).sum();
    if total <= page_bytes {
        let page = DirectoryPage {
            entries,
            following: Vec::new(),
        };
        return (Directory::Inline(page), Vec::new());
    }
    // Entries are about 150 bytes: 1 in 100 is a boundary, ~15 KB apart.
    let cuts = Cuts {
        min: page_bytes * 3 / 4,
        max: (page_bytes * 3 / 2).max(1),
        odds: (page_bytes as u64 / 600).max(1),
    };
    let mut pages: Vec<Vec<ShardRef>> = vec![Vec::new()];
    let mut bytes = 0;
    for e in entries {
        bytes += size(&e);
        let cut = cuts.cut_after("directory", &format!("{}\u{0}{}", e.run, e.first), bytes);
        pages.last_mut().expect("one page").push(e);
        if cut {
            pages.push(Vec::new());
            bytes = 0;
        }
    }
    if pages.last().is_some_and(Vec::is_empty) {
        pages.pop();
    }
    let mut refs = Vec::with_capacity(pages.len());
    let mut objects = Vec::with_capacity(pages.len());
    for i in 0..pages.len() {
        // The next entries in directory order, over as many pages as it takes.
        let following = pages[i + 1..]
            .iter()
            .flatten()
            .take(FOLLOWING)
            .cloned()
            .collect();
        let page = DirectoryPage {
            entries: std::mem::take(&mut pages[i]),
            following,
        };
        let gz = gzip(&serde_json::to_vec(&page).expect("serialise"));
        let hash = content_hash(&gz);
        refs.push(PageRef {
            run: page.entries[0].run.clone(),
            first: page.entries[0].first.clone(),
            shards: page.entries.len() as u64,
            bytes: gz.len() as u64,
            hash: hash.clone(),
        });
        objects.push((hash, gz));
    }
    (Directory::Paged(refs), objects)
}
