//! Garbage collection of snapshot objects.
//!
//! Objects that no version in use (the new one and the one before it)
//! references are deleted, so a reader that fetched the previous pointer
//! just before the switch still finds everything it needs. They go only
//! after a grace period, counted in a ledger
//! (`serving/unreferenced.json`) from when a run first found them
//! unreferenced: content-addressed, an old object may have been in use
//! until a minute ago. The set of what is referenced is never partial: a
//! version that cannot be read fails it, and nothing is deleted.

use super::objects::{delete_objects, get};
use crate::handlers::writer::{put, SnapshotTarget, WriterError};
use media_query_domain::engine::{ReadEngine, VersionLoader};
use media_query_domain::ports::{Bucket, ObjectStore, PutMeta};
use media_query_domain::serving::manifest::{Directory, Manifest};
use media_query_domain::serving::object_key;
use media_query_domain::serving::version::all_entries;
use std::collections::{BTreeMap, HashMap, HashSet};
use tracing::warn;

/// The object keys a manifest references: its directory pages, their
/// shards, its delta and its level's parts. Fails when any directory page
/// cannot be read: an incomplete set must never pass for the whole one,
/// or garbage collection would delete what a reader needs.
pub(super) async fn referenced(
    bucket: &impl ObjectStore,
    prefix: &str,
    manifest: &Manifest,
) -> Result<HashSet<String>, WriterError> {
    let engine = ReadEngine::new(prefix, f64::INFINITY, 0);
    let loader = VersionLoader {
        engine: &engine,
        store: bucket,
        manifest,
    };
    let entries = all_entries(&loader, manifest)
        .await
        .map_err(|e| WriterError::S3 {
            operation: "read the directory of a published version",
            key: manifest.version.clone(),
            detail: e.to_string(),
        })?;
    let key = |hash: &str| object_key(prefix, hash);
    let mut keys: HashSet<String> = entries.iter().map(|e| key(&e.hash)).collect();
    if let Directory::Paged(pages) = &manifest.directory {
        keys.extend(pages.iter().map(|p| key(&p.hash)));
    }
    keys.extend(manifest.delta.iter().map(|d| key(&d.hash)));
    keys.extend(manifest.level.iter().map(|p| key(&p.part.hash)));
    Ok(keys)
}

/// `<prefix>/serving/unreferenced.json`: the snapshot objects no version
/// in use references, and since when (ms since the epoch).
pub(super) fn gc_ledger_key(prefix: &str) -> String {
    media_query_domain::export::join_key(prefix, "serving/unreferenced.json")
}

async fn read_gc_ledger(
    bucket: &impl ObjectStore,
    prefix: &str,
) -> Result<BTreeMap<String, u64>, WriterError> {
    let key = gc_ledger_key(prefix);
    Ok(match get(bucket, &key).await? {
        // A ledger that cannot be read restarts the clock: later, not sooner.
        Some((bytes, _)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            warn!(key, error = %e, "unreadable garbage ledger; starting a new one");
            BTreeMap::new()
        }),
        None => BTreeMap::new(),
    })
}

async fn write_gc_ledger(
    bucket: &impl Bucket,
    prefix: &str,
    ledger: &BTreeMap<String, u64>,
) -> Result<(), WriterError> {
    let body = serde_json::to_vec(ledger).expect("serialise");
    let meta = PutMeta {
        content_type: "application/json",
        cache_control: Some("no-cache"),
    };
    put(bucket, &gc_ledger_key(prefix), body, meta)
        .await
        .map(|_| ())
}

/// Garbage collection of snapshot objects: `existing` (key to when it was
/// last written) less `keep` (what the versions in use reference).
///
/// An object goes only after the grace period, counted from when a run
/// first found it unreferenced (the ledger), not from when it was written:
/// content-addressed, an old object may have been in use until a minute
/// ago. For the same reason an object written again since the ledger's
/// entry (an update re-cut the same bytes: a version published between
/// two runs referenced it again) starts its grace period again now.
///
/// The ledger is written before anything is deleted, so a run killed
/// half-way still leaves what it found; the next run sees the keys that
/// were deleted gone from the listing and the rest still due.
/// Returns how many objects were deleted.
pub async fn collect_garbage(
    bucket: &impl Bucket,
    target: &SnapshotTarget,
    existing: &HashMap<String, u64>,
    keep: &HashSet<String>,
    now: u64,
) -> Result<usize, WriterError> {
    let mut ledger = read_gc_ledger(bucket, &target.prefix).await?;
    let unreferenced: HashMap<&String, u64> = existing
        .iter()
        .filter(|(key, _)| !keep.contains(*key))
        .map(|(key, &written)| (key, written))
        .collect();
    ledger.retain(|key, _| unreferenced.contains_key(key));
    let grace_ms = target.gc_grace_seconds * 1000;
    let mut due = Vec::new();
    for (key, written) in unreferenced {
        let since = ledger.entry(key.clone()).or_insert(now);
        if written > *since {
            *since = now;
        }
        if now.saturating_sub(*since) >= grace_ms {
            due.push(key.clone());
        }
    }
    due.sort();
    write_gc_ledger(bucket, &target.prefix, &ledger).await?;
    if due.is_empty() {
        return Ok(0);
    }
    delete_objects(bucket, &due).await?;
    for key in &due {
        ledger.remove(key);
    }
    write_gc_ledger(bucket, &target.prefix, &ledger).await?;
    Ok(due.len())
}
