//! Applying a batch of changes to a serving snapshot, rewriting only the
//! shards around them.
//!
//! A change is a name and its new state: a visible record, or gone (deleted
//! or hidden). The old state of each changed name is read from the name
//! run's shards, so the update knows which runs it leaves (its old type and
//! labels) and which it joins. Then each touched run is re-cut from the
//! start of the first shard a change falls in, with the builder's
//! content-defined rule ([`super::build::Cuts`]), until a cut falls where
//! an old shard ended and no change is pending there: from that point on
//! the old shards are exactly what a rebuild would cut, so they are kept as
//! they are. The result is byte for byte the snapshot a full rebuild of the
//! new table would give (the property tests check it), and its cost follows
//! the number of changes, not the size of the table.
//!
//! The directory is rebuilt from all shard references (about 150 bytes per
//! shard, 1/2000 of the table's size), and its pages are cut by content
//! too, so only the pages around the changes are new objects.

use super::build::{directory, Cuts, Object};
use super::manifest::{Directory, DirectoryPage, Manifest, ShardRef};
use super::shard::{Shard, ShardWriter};
use super::{content_hash, gzip, Run, FORMAT};
use crate::engine::ReadError;
use crate::media::MediaType;
use crate::record::{MediaItem, MediaRecord};
use std::collections::{BTreeMap, BTreeSet};

/// One item as a run holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunItem {
    pub name: String,
    pub media_type: MediaType,
    pub json: String,
}

impl RunItem {
    fn of(record: &MediaRecord) -> RunItem {
        RunItem {
            name: record.name.clone(),
            media_type: record.media_type,
            json: crate::api::item_body(&record.to_media_item()),
        }
    }
}

/// The runs a visible record belongs to.
pub fn runs_of(media_type: MediaType, labels: &[String]) -> BTreeSet<Run> {
    let mut runs = BTreeSet::from([Run::Names, Run::Type(media_type)]);
    runs.extend(labels.iter().map(|l| Run::Label(l.clone())));
    runs
}

/// Reads the decoded shards an update needs.
#[allow(async_fn_in_trait)]
pub trait ShardLoader {
    async fn shard(&self, r: &ShardRef) -> Result<std::sync::Arc<Shard>, ReadError>;
    async fn page(&self, hash: &str) -> Result<std::sync::Arc<DirectoryPage>, ReadError>;
}

/// What an update produced.
#[derive(Debug, Clone)]
pub struct Updated {
    pub manifest: Manifest,
    /// New objects (shards and directory pages), to write before the pointer.
    pub objects: Vec<Object>,
    /// Shards read to apply the changes.
    pub shards_read: usize,
}

fn items_of(shard: &Shard) -> Vec<RunItem> {
    (0..shard.len())
        .map(|i| RunItem {
            name: shard.name(i).to_string(),
            media_type: shard.media_type(i),
            json: shard.json(i).to_string(),
        })
        .collect()
}

/// Every shard reference of a manifest, in directory order.
pub async fn all_entries<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
) -> Result<Vec<ShardRef>, ReadError> {
    match &m.directory {
        Directory::Inline(page) => Ok(page.entries.clone()),
        Directory::Paged(pages) => {
            let mut entries = Vec::new();
            for p in pages {
                entries.extend(loader.page(&p.hash).await?.entries.iter().cloned());
            }
            Ok(entries)
        }
    }
}

/// The index of the shard of `run_shards` a name falls in: the last whose
/// first name is at or before it, else the first.
fn shard_for(run_shards: &[ShardRef], name: &str) -> usize {
    run_shards
        .partition_point(|s| s.first.as_str() <= name)
        .saturating_sub(1)
}

/// Re-cuts one run after `edits` (name to new item, or `None` to remove).
async fn rechunk_run<L: ShardLoader>(
    loader: &L,
    run: &Run,
    old: &[ShardRef],
    edits: &BTreeMap<String, Option<RunItem>>,
    cuts: Cuts,
    objects: &mut Vec<Object>,
    shards_read: &mut usize,
) -> Result<Vec<ShardRef>, ReadError> {
    let run_id = run.id();
    let edits: Vec<(&String, &Option<RunItem>)> = edits.iter().collect();
    let mut out: Vec<ShardRef> = Vec::new();
    let (mut ei, mut si) = (0usize, 0usize);
    let close = |w: ShardWriter, out: &mut Vec<ShardRef>, objects: &mut Vec<Object>| {
        let items = w.items();
        let (raw, first, last) = w.finish();
        let gz = gzip(&raw);
        let hash = content_hash(&gz);
        out.push(ShardRef {
            run: run_id.clone(),
            first,
            last,
            items,
            bytes: gz.len() as u64,
            hash: hash.clone(),
        });
        objects.push((hash, gz));
    };
    while ei < edits.len() {
        // Keep the shards before the next change; start cutting afresh at
        // the start of the shard it falls in (an old cut: nothing before it
        // changed).
        let j = si.max(shard_for(old, edits[ei].0)).min(old.len());
        out.extend(old[si..j].iter().cloned());
        si = j;
        let mut w = ShardWriter::default();
        let mut buffer: std::collections::VecDeque<RunItem> = Default::default();
        loop {
            if buffer.is_empty() && si < old.len() {
                let shard = loader.shard(&old[si]).await?;
                *shards_read += 1;
                buffer.extend(items_of(&shard));
                si += 1;
            }
            // The next item of the merged stream.
            let take_edit = match (buffer.front(), edits.get(ei)) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(b), Some((name, _))) => name.as_str() <= b.name.as_str(),
            };
            let item = if take_edit {
                let (name, edit) = edits[ei];
                ei += 1;
                if buffer.front().is_some_and(|b| &b.name == name) {
                    buffer.pop_front();
                }
                match edit {
                    Some(item) => item.clone(),
                    None => continue,
                }
            } else {
                match buffer.pop_front() {
                    Some(item) => item,
                    None => {
                        // The run and the changes are both exhausted.
                        if !w.is_empty() {
                            close(w, &mut out, objects);
                        }
                        return Ok(out);
                    }
                }
            };
            w.push(&item.name, item.media_type, &item.json);
            if cuts.cut_after(&run_id, &item.name, w.raw_len()) {
                close(std::mem::take(&mut w), &mut out, objects);
                if buffer.is_empty() {
                    // A cut where an old shard ended: back in step with the old cuts.
                    break;
                }
            }
        }
    }
    out.extend(old[si.min(old.len())..].iter().cloned());
    Ok(out)
}

/// Applies `changes` (name to its new record; `None` or a hidden record
/// removes it) to the snapshot `m`. `created_at` is an ISO-8601 time.
pub async fn apply<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
    changes: &BTreeMap<String, Option<MediaRecord>>,
    page_bytes: usize,
    created_at: &str,
) -> Result<Updated, ReadError> {
    let cuts = Cuts::for_target(m.shard_target_bytes as usize);
    let entries = all_entries(loader, m).await?;
    let mut by_run: BTreeMap<String, Vec<ShardRef>> = BTreeMap::new();
    for e in entries {
        by_run.entry(e.run.clone()).or_default().push(e);
    }
    let mut shards_read = 0;

    // The old state of each changed name, from the name run.
    let names = by_run.get(&Run::Names.id()).cloned().unwrap_or_default();
    let mut old_runs: BTreeMap<&str, BTreeSet<Run>> = BTreeMap::new();
    let mut loaded: BTreeMap<usize, std::sync::Arc<Shard>> = BTreeMap::new();
    for name in changes.keys() {
        if names.is_empty() {
            break;
        }
        let i = shard_for(&names, name);
        if let std::collections::btree_map::Entry::Vacant(slot) = loaded.entry(i) {
            slot.insert(loader.shard(&names[i]).await?);
            shards_read += 1;
        }
        let shard = &loaded[&i];
        if let Some(k) = shard.find(name) {
            let item: MediaItem = serde_json::from_str(shard.json(k)).map_err(|e| {
                super::FormatError::corrupt(&names[i].hash, format!("item JSON: {e}"))
            })?;
            old_runs.insert(name, runs_of(item.media_type, &item.labels));
        }
    }
    drop(loaded);

    // Per run: the items to remove and to (re)write.
    let mut edits: BTreeMap<Run, BTreeMap<String, Option<RunItem>>> = BTreeMap::new();
    for (name, new) in changes {
        let new = new.as_ref().filter(|r| r.is_visible());
        for run in old_runs.get(name.as_str()).into_iter().flatten() {
            edits
                .entry(run.clone())
                .or_default()
                .insert(name.clone(), None);
        }
        if let Some(r) = new {
            for run in runs_of(r.media_type, &r.labels) {
                edits
                    .entry(run)
                    .or_default()
                    .insert(name.clone(), Some(RunItem::of(r)));
            }
        }
    }

    let mut objects = Vec::new();
    for (run, run_edits) in &edits {
        let id = run.id();
        let old = by_run.remove(&id).unwrap_or_default();
        let new = rechunk_run(
            loader,
            run,
            &old,
            run_edits,
            cuts,
            &mut objects,
            &mut shards_read,
        )
        .await?;
        by_run.insert(id, new);
    }
    // Runs left empty disappear; the rest, in directory order.
    let mut entries: Vec<ShardRef> = by_run.into_values().flatten().collect();
    entries.sort_by(|a, b| a.run.cmp(&b.run).then_with(|| a.first.cmp(&b.first)));
    let item_count = entries
        .iter()
        .filter(|e| e.run == Run::Names.id())
        .map(|e| e.items)
        .sum();
    let shard_count = entries.len() as u64;
    let shard_bytes = entries.iter().map(|e| e.bytes).sum();
    let (directory, pages) = directory(entries, page_bytes);
    // Pages the old version has are not new objects.
    let old_pages: BTreeSet<&str> = match &m.directory {
        Directory::Paged(refs) => refs.iter().map(|p| p.hash.as_str()).collect(),
        Directory::Inline(_) => BTreeSet::new(),
    };
    objects.extend(
        pages
            .into_iter()
            .filter(|(h, _)| !old_pages.contains(h.as_str())),
    );
    Ok(Updated {
        manifest: Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&directory),
            created_at: created_at.to_string(),
            item_count,
            shard_count,
            shard_bytes,
            shard_target_bytes: m.shard_target_bytes,
            directory,
        },
        objects,
        shards_read,
    })
}
