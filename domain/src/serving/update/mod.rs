//! Applying a batch of changes to a serving snapshot, at the cost of the
//! batch.
//!
//! A change is a name and its new state: a visible record, or gone (deleted
//! or hidden). The old state of each changed name is read from the delta
//! or from one shard of the name run, so the update knows which runs it
//! leaves (its old type and labels) and which it joins. The result is a
//! per-run list of edits, merged into the manifest's **delta**
//! ([`super::delta`]): one small object, written with a new root manifest.
//!
//! When the delta outgrows its bound, the batch merges it into the
//! **level** ([`super::level`]) instead, rewriting only the level's parts
//! its keys fall in. While the level is past its own bound, each batch
//! **compacts** a slice of it into the shards: a few parts, taken in turn
//! round the key space, as many raw bytes as the batch added (at least one
//! part), so the level's outflow keeps up with its inflow and no batch pays
//! for a whole level. Each run the slice touches is re-cut from the start
//! of the first shard an edit falls in, with the builder's content-defined
//! rule ([`super::build::Cuts`]), until a cut falls where an old shard
//! ended and no edit is pending there: from that point on the old shards
//! are exactly what a rebuild would cut, so they are kept as they are. A
//! snapshot compacted whole (no level, no delta) is byte for byte the one
//! a full rebuild of the new table would give (the property tests check
//! it), and new objects go to an [`ObjectSink`] as they are cut, so memory
//! stays bounded however many shards a compaction rewrites.

use super::delta::{self, Delta, Edits};
use super::level::{self, LevelRef};
use super::manifest::Manifest;
use super::FORMAT;
use crate::ports::{ObjectSink, ShardLoader};
use crate::record::MediaRecord;
use std::collections::{BTreeMap, BTreeSet};

mod compact;
mod level_merge;
mod outbox;
mod read_ahead;
mod recut;
mod types;
// futures' executor is a native dev-dependency; these are pure logic, so native is enough.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use compact::{compact_all, fold_into_shards};
use level_merge::{delta_object, merge_into_level, read_parts};
use outbox::Outbox;
use recut::{current_runs, merge_change};

pub use types::{runs_of, Policy, RunItem, UpdateError, Updated};

/// Old-state lookups in flight at once (S3 GETs in the export writer).
const LOOKUPS_AT_ONCE: usize = 32;

/// Applies `changes` (name to its new record; `None` or a hidden record
/// removes it) to the snapshot `m`: merged into its delta; past
/// `policy.delta_max_bytes`, the delta merged into the level; while the
/// level is past `policy.level_max_bytes`, a slice of it compacted into the
/// shards (all of it, with the delta, when that bound is 0). New objects go
/// to `sink`; the caller publishes the returned manifest after them.
/// `created_at` is an ISO-8601 time.
pub async fn apply<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    m: &Manifest,
    changes: &BTreeMap<String, Option<MediaRecord>>,
    policy: Policy,
    created_at: &str,
    sink: &K,
) -> Result<Updated, UpdateError> {
    let delta = match &m.delta {
        Some(r) => Some(loader.delta(r).await?),
        None => None,
    };
    let mut edits: Edits = delta.as_deref().map(Delta::edits).unwrap_or_default();
    let mut shards_read = 0;
    let mut item_count = m.item_count as i64;
    let changed: Vec<(&String, &Option<MediaRecord>)> = changes.iter().collect();
    for chunk in changed.chunks(LOOKUPS_AT_ONCE) {
        let lookups = chunk
            .iter()
            .map(|(name, _)| current_runs(loader, m, delta.as_deref(), name));
        let olds = futures_util::future::join_all(lookups).await;
        for ((name, new), old) in chunk.iter().zip(olds) {
            let (old, read) = old?;
            shards_read += usize::from(read);
            merge_change(&mut edits, &mut item_count, name, new.as_ref(), old);
        }
    }
    let item_count = item_count.max(0) as u64;
    let mut outbox = Outbox {
        sink,
        pending: Vec::new(),
        written: 0,
        bytes: 0,
    };
    let raw = delta::encode(&edits);
    // What this batch added to the delta: the share of the level it pays
    // to compact, so that the level's outflow keeps up with its inflow.
    let added = (raw.len() as u64).saturating_sub(m.delta.as_ref().map_or(0, |d| d.raw_bytes));
    let level_merged = raw.len() > policy.delta_max_bytes;
    if level_merged && policy.level_max_bytes == 0 {
        // No level: the delta goes straight into the shards.
        let mut updated = compact_all(loader, m, edits, policy, created_at, &mut outbox).await?;
        updated.shards_read += shards_read;
        return Ok(updated);
    }
    // Past its bound, the level sheds a slice into the shards (before the
    // delta is merged into what is left: the delta is newer).
    let mut level = m.level.clone();
    let mut compact_from = m.compact_from.clone();
    let mut folded = None;
    let mut parts_compacted = 0;
    let incoming = if level_merged { raw.len() as u64 } else { 0 };
    if level::raw_bytes(&level) + incoming > policy.level_max_bytes as u64 && !level.is_empty() {
        let budget = added.max(policy.level_part_bytes as u64);
        let (picked, next) = level::parts_to_compact(&level, compact_from.as_ref(), budget);
        let parts: Vec<LevelRef> = picked.iter().map(|&i| level[i].clone()).collect();
        let slice = read_parts(loader, &parts).await?;
        folded = Some(fold_into_shards(loader, m, &slice, policy, &mut outbox).await?);
        parts_compacted = parts.len();
        let picked: BTreeSet<usize> = picked.into_iter().collect();
        level = level
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !picked.contains(i))
            .map(|(_, p)| p)
            .collect();
        compact_from = next;
    }
    let mut new_delta = None;
    if level_merged {
        level = merge_into_level(loader, &level, &edits, policy, &mut outbox).await?;
    } else if !edits.is_empty() {
        let (r, gz) = delta_object(&edits, &raw);
        if m.delta.as_ref() != Some(&r) {
            outbox.push((r.hash.clone(), gz)).await?;
        }
        new_delta = Some(r);
    }
    if level.is_empty() {
        compact_from = None;
    }
    outbox.flush().await?;
    let (directory, shard_count, shard_bytes, compaction_reads) = match folded {
        Some(f) => (f.directory, f.shard_count, f.shard_bytes, f.shards_read),
        None => (m.directory.clone(), m.shard_count, m.shard_bytes, 0),
    };
    Ok(Updated {
        manifest: Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&directory, new_delta.as_ref(), &level),
            created_at: created_at.to_string(),
            item_count,
            shard_count,
            shard_bytes,
            shard_target_bytes: m.shard_target_bytes,
            directory,
            delta: new_delta,
            level,
            compact_from,
        },
        level_merged,
        compacted: parts_compacted > 0,
        parts_compacted,
        objects_written: outbox.written,
        bytes_written: outbox.bytes,
        shards_read: shards_read + compaction_reads,
    })
}
