//! Building a serving snapshot from records sorted by name.
//!
//! The builder is fed visible records in strictly increasing name order
//! (a sorted Scan, a sorted export, or a merge of sorted runs) and cuts
//! every run into shards as it goes: a shard is closed as soon as its raw
//! bytes reach the target. Finished objects (gzip'd shards, then directory
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

/// Raw bytes at which a shard is closed. 256 KiB raw is about 40-60 KiB
/// gzip'd and 1,200-1,500 typical items: two shards always hold a full
/// 1,000-item page, and one inflates and indexes in about a millisecond.
pub const SHARD_TARGET_BYTES: usize = 256 * 1024;

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
    /// A builder cutting shards at `target` raw bytes.
    pub fn new(target: usize) -> Builder {
        Builder::with_page_bytes(target, DIRECTORY_PAGE_BYTES)
    }

    /// A builder with a directory page size other than the default (tests
    /// use tiny ones to exercise paged directories on small tables).
    pub fn with_page_bytes(target: usize, page_bytes: usize) -> Builder {
        Builder {
            target: target.max(1),
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
            if w.raw_len() >= self.target {
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
        let directory = self.directory(entries);
        let manifest = Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&directory),
            created_at: created_at.to_string(),
            item_count: self.items,
            shard_count,
            shard_bytes,
            shard_target_bytes: self.target as u64,
            directory,
        };
        (manifest, self.objects)
    }

    fn directory(&mut self, entries: Vec<ShardRef>) -> Directory {
        let size = |e: &ShardRef| serde_json::to_vec(e).map(|v| v.len() + 1).unwrap_or(0);
        let total: usize = entries.iter().map(size).sum();
        if total <= self.page_bytes {
            return Directory::Inline(DirectoryPage {
                entries,
                following: Vec::new(),
            });
        }
        let mut pages: Vec<Vec<ShardRef>> = vec![Vec::new()];
        let mut bytes = 0;
        for e in entries {
            let n = size(&e);
            if bytes + n > self.page_bytes && !pages.last().expect("one page").is_empty() {
                pages.push(Vec::new());
                bytes = 0;
            }
            bytes += n;
            pages.last_mut().expect("one page").push(e);
        }
        let mut refs = Vec::with_capacity(pages.len());
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
            self.objects.push((hash, gz));
        }
        Directory::Paged(refs)
    }
}
