//! Compaction: a slice of the level (or the delta) folded into the shards.

use super::level_merge::read_parts;
use super::outbox::Outbox;
use super::read_ahead::ReadAhead;
use super::recut::{rechunk_run, shards_to_read};
use super::types::{Policy, UpdateError, Updated};
use crate::ports::{ObjectSink, ShardLoader};
use crate::serving::build::{directory, Cuts};
use crate::serving::delta::Edits;
use crate::serving::level;
use crate::serving::manifest::{Directory, Manifest, ShardRef};
use crate::serving::version::all_entries;
use crate::serving::{Run, FORMAT};
use std::collections::{BTreeMap, BTreeSet};

/// Folds the whole level of `m` and `edits` (the delta and the batch) into
/// its shards, giving a manifest without a delta or a level.
pub(super) async fn compact_all<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    m: &Manifest,
    edits: Edits,
    policy: Policy,
    created_at: &str,
    outbox: &mut Outbox<'_, K>,
) -> Result<Updated, UpdateError> {
    let mut all = read_parts(loader, &m.level).await?;
    level::overlay(&mut all, &edits);
    let f = fold_into_shards(loader, m, &all, policy, outbox).await?;
    outbox.flush().await?;
    Ok(Updated {
        manifest: Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&f.directory, None, &[]),
            created_at: created_at.to_string(),
            item_count: f.item_count,
            shard_count: f.shard_count,
            shard_bytes: f.shard_bytes,
            shard_target_bytes: m.shard_target_bytes,
            directory: f.directory,
            delta: None,
            level: Vec::new(),
            compact_from: None,
        },
        level_merged: false,
        compacted: true,
        parts_compacted: m.level.len(),
        objects_written: outbox.written,
        bytes_written: outbox.bytes,
        shards_read: f.shards_read,
    })
}

/// The shards after a fold.
pub(super) struct Folded {
    pub(super) directory: Directory,
    pub(super) shard_count: u64,
    pub(super) shard_bytes: u64,
    /// Items of the name run's shards.
    pub(super) item_count: u64,
    pub(super) shards_read: usize,
}

/// Folds `edits` into the shards of `m`: each run they touch is re-cut
/// around them ([`rechunk_run`]), and the directory pages that changed are
/// written.
pub(super) async fn fold_into_shards<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    m: &Manifest,
    edits: &Edits,
    policy: Policy,
    outbox: &mut Outbox<'_, K>,
) -> Result<Folded, UpdateError> {
    let cuts = Cuts::for_target(m.shard_target_bytes as usize);
    let mut by_run: BTreeMap<String, Vec<ShardRef>> = BTreeMap::new();
    for e in all_entries(loader, m).await? {
        by_run.entry(e.run.clone()).or_default().push(e);
    }
    // Every shard the runs' re-cuts will read, in the order they read them.
    let order = edits
        .iter()
        .flat_map(|(run, run_edits)| {
            let old = by_run.get(run).map_or(&[][..], Vec::as_slice);
            shards_to_read(old, run_edits)
        })
        .collect();
    let mut ahead = ReadAhead::new(order);
    for (run, run_edits) in edits {
        let old = by_run.remove(run).unwrap_or_default();
        let new = rechunk_run(loader, run, &old, run_edits, cuts, &mut ahead, outbox).await?;
        by_run.insert(run.clone(), new);
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
    let (directory, pages) = directory(entries, policy.page_bytes);
    // Pages the old version has are not new objects.
    let old_pages: BTreeSet<&str> = match &m.directory {
        Directory::Paged(refs) => refs.iter().map(|p| p.hash.as_str()).collect(),
        Directory::Inline(_) => BTreeSet::new(),
    };
    for page in pages
        .into_iter()
        .filter(|(h, _)| !old_pages.contains(h.as_str()))
    {
        outbox.push(page).await?;
    }
    Ok(Folded {
        directory,
        shard_count,
        shard_bytes,
        item_count,
        shards_read: ahead.reads,
    })
}
