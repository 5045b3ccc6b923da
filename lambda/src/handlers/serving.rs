//! Publishing the serving snapshot (see `domain::serving`): the sharded,
//! content-addressed layout that the read engine queries.
//!
//! Objects are named by their content hash, so an object that already
//! exists is never written again: a rebuild of an unchanged table writes
//! only the pointer, and a small change rewrites only the shards whose
//! bytes changed. Publication is atomic: every shard and directory page is
//! written first, then the pointer `serving/current.json` in one PUT.
//!
//! Garbage: objects that neither the new version nor the one before it
//! references are deleted, so a reader that fetched the previous pointer
//! just before the switch still finds everything it needs.
//!
//! The snapshot is built from the table's items: those the export writer
//! has just read, or those of an export in DynamoDB's layout
//! ([`export_items`]), ours or a native `ExportTableToPointInTime`
//! full export.

use super::export::{put, s3_err, ExportError, ExportTarget};
use crate::snapshot_bucket::SnapshotBucket;
use crate::store::{MediaStore, StoreError};
use media_query_domain::dynamo::{export_line, parse_export_line, parse_incremental_line, Item};
use media_query_domain::engine::{Fetched, ObjectStore, ReadEngine, VersionLoader};
use media_query_domain::export::{key_candidates, parse_manifest_files, ManifestSummary};
use media_query_domain::page::{PageRequest, MAX_LIMIT};
use media_query_domain::record::{attr, MediaItem};
use media_query_domain::serving::build::Builder;
use media_query_domain::serving::manifest::{Directory, Manifest};
use media_query_domain::serving::update::{all_entries, apply, ObjectSink, Policy};
use media_query_domain::serving::{object_key, objects_prefix, pointer_key};
use media_query_domain::time::iso8601_millis;
use media_query_domain::ListQuery;
use media_query_domain::MediaRecord;
use std::collections::{BTreeMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// An object of the export bucket, `None` if there is none. Any other
/// failure (a refused or failed read) is an error: taken for "no snapshot
/// yet", it would turn a stream batch into a full rebuild.
async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, ExportError> {
    let fetched = SnapshotBucket::new(s3.clone(), Some(bucket.to_string()))
        .get(key, None)
        .await
        .map_err(|detail| ExportError::S3 {
            operation: "GetObject",
            key: key.to_string(),
            detail,
        })?;
    Ok(match fetched {
        Fetched::Object { body, .. } => Some(body),
        Fetched::Missing | Fetched::NotModified => None,
    })
}

/// Every object key under `prefix`.
async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<HashSet<String>, ExportError> {
    let mut keys = HashSet::new();
    let mut token = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(s3_err("ListObjectsV2", prefix))?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        match out.next_continuation_token {
            Some(t) if out.is_truncated == Some(true) => token = Some(t),
            _ => return Ok(keys),
        }
    }
}

/// The object keys a manifest references: its directory pages, their
/// shards, its delta and its level's parts.
async fn referenced(
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
    manifest: &Manifest,
) -> Option<HashSet<String>> {
    let bucket = SnapshotBucket::new(s3.clone(), Some(target.bucket.clone()));
    let engine = ReadEngine::new(&target.prefix, f64::INFINITY, 0);
    let loader = VersionLoader {
        engine: &engine,
        store: &bucket,
        manifest,
    };
    let entries = all_entries(&loader, manifest).await.ok()?;
    let key = |hash: &str| object_key(&target.prefix, hash);
    let mut keys: HashSet<String> = entries.iter().map(|e| key(&e.hash)).collect();
    if let Directory::Paged(pages) = &manifest.directory {
        keys.extend(pages.iter().map(|p| key(&p.hash)));
    }
    keys.extend(manifest.delta.iter().map(|d| key(&d.hash)));
    keys.extend(manifest.level.iter().map(|p| key(&p.part.hash)));
    Some(keys)
}

/// What an export in DynamoDB's layout holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportContents {
    /// A full export (ours, or a native `FULL_EXPORT`): every item.
    Full(Vec<Item>),
    /// A native `INCREMENTAL_EXPORT`: each changed item's latest state
    /// (by `WriteTimestampMicros`), `None` when it was deleted or is not a
    /// media record.
    Incremental(BTreeMap<String, Option<MediaRecord>>),
}

/// Reads an export in DynamoDB's layout, given the key of its
/// `manifest-summary.json`: the export writer's own, or a native
/// `ExportTableToPointInTime` export (DYNAMODB_JSON), full or incremental.
/// Every data file's item count is checked against the manifest.
pub async fn export_items(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    summary_key: &str,
) -> Result<ExportContents, ExportError> {
    let bad = |key: &str, detail: String| ExportError::S3 {
        operation: "read export",
        key: key.to_string(),
        detail,
    };
    let read = |key: String| async move {
        let out = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(s3_err("GetObject", &key))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(s3_err("GetObject", &key))?;
        Ok::<_, ExportError>(bytes.into_bytes().to_vec())
    };
    // A key named by a manifest, wherever the writer meant it to be.
    let snapshot = SnapshotBucket::new(s3.clone(), Some(bucket.to_string()));
    let named = |key: String| {
        let snapshot = &snapshot;
        async move {
            for candidate in key_candidates(summary_key, &key) {
                match snapshot.get(&candidate, None).await {
                    Ok(Fetched::Object { body, .. }) => return Ok((candidate, body)),
                    Ok(_) => continue,
                    Err(detail) => return Err(bad(&candidate, detail)),
                }
            }
            Err(bad(
                &key,
                "no such object, from the bucket's root or the export's folder".into(),
            ))
        }
    };
    let summary = ManifestSummary::parse(&String::from_utf8_lossy(
        &read(summary_key.to_string()).await?,
    ))
    .map_err(|e| bad(summary_key, e.to_string()))?;
    let incremental = summary.export_type.as_deref() == Some("INCREMENTAL_EXPORT");
    let (files_key, files) = named(summary.manifest_files_s3_key.clone()).await?;
    let files = parse_manifest_files(&String::from_utf8_lossy(&files))
        .map_err(|e| bad(&files_key, e.to_string()))?;
    let mut items = Vec::new();
    let mut latest: BTreeMap<String, (u64, Option<MediaRecord>)> = BTreeMap::new();
    let mut skipped = 0u64;
    for f in files {
        let (key, gz) = named(f.data_file_s3_key.clone()).await?;
        let key = &key;
        // A file of no items may be empty rather than an empty gzip stream.
        let mut text = String::new();
        if !gz.is_empty() {
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
                .map_err(|e| bad(key, format!("not gzip'd UTF-8: {e}")))?;
        }
        let mut lines = 0u64;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            lines += 1;
            // One corrupt line is skipped, logged and counted; the rest of
            // the export is still served.
            if !incremental {
                match parse_export_line(line) {
                    Ok(item) => items.push(item),
                    Err(e) => {
                        warn!(key, line = lines, error = %e, "corrupt export line skipped");
                        skipped += 1;
                    }
                }
                continue;
            }
            let change = match parse_incremental_line(line) {
                Ok(change) => change,
                Err(e) => {
                    warn!(key, line = lines, error = %e, "corrupt export line skipped");
                    skipped += 1;
                    continue;
                }
            };
            let Some(name) = change.keys.get(attr::NAME).and_then(|v| v.as_s()) else {
                warn!(key, line = lines, "a change without a `name` key skipped");
                skipped += 1;
                continue;
            };
            let state = change.new_image.as_ref().and_then(|image| {
                MediaRecord::from_item(image)
                    .map_err(|e| warn!(name, error = %e, "not a media record; not served"))
                    .ok()
            });
            match latest.get(name) {
                Some((at, _)) if *at > change.write_micros => {}
                _ => {
                    latest.insert(name.to_string(), (change.write_micros, state));
                }
            }
        }
        // A file with fewer or more lines than its manifest says was cut
        // short or mixed up: that loses items, so it fails loudly.
        if lines != f.item_count {
            return Err(bad(
                key,
                format!("{lines} items, the manifest says {}", f.item_count),
            ));
        }
    }
    if skipped > 0 {
        crate::metrics::emit(&[("ItemsSkipped", skipped as f64, "Count")]);
    }
    Ok(if incremental {
        ExportContents::Incremental(latest.into_iter().map(|(k, (_, r))| (k, r)).collect())
    } else {
        ExportContents::Full(items)
    })
}

/// PUTs in flight at once when writing snapshot objects.
const PUTS_AT_ONCE: usize = 32;

/// Writes new snapshot objects (immutable, cacheable for a year), except
/// those `existing` already holds, [`PUTS_AT_ONCE`] at a time; returns how
/// many and how many bytes.
async fn write_objects(
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
    objects: Vec<(String, Vec<u8>)>,
    existing: &HashSet<String>,
) -> Result<(usize, u64), ExportError> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    let new: Vec<(String, Vec<u8>)> = objects
        .into_iter()
        .map(|(hash, bytes)| (object_key(&target.prefix, &hash), bytes))
        .filter(|(key, _)| !existing.contains(key))
        .collect();
    let count = new.len();
    let bytes_written = new.iter().map(|(_, b)| b.len() as u64).sum();
    stream::iter(new)
        .map(|(key, bytes)| async move {
            let immutable = Some("public, max-age=31536000, immutable");
            put(
                s3,
                &target.bucket,
                &key,
                bytes,
                "application/octet-stream",
                immutable,
            )
            .await
        })
        .buffer_unordered(PUTS_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;
    Ok((count, bytes_written))
}

/// Publishes `manifest`: the single PUT of the pointer that switches
/// readers to the new version. Returns the bytes written.
async fn write_pointer(
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
    manifest: &Manifest,
) -> Result<u64, ExportError> {
    let body = serde_json::to_vec(manifest).expect("serialise");
    let len = body.len() as u64;
    let pointer = pointer_key(&target.prefix);
    put(
        s3,
        &target.bucket,
        &pointer,
        body,
        "application/json",
        Some("no-cache"),
    )
    .await?;
    Ok(len)
}

/// `<prefix>/serving/unreferenced.json`: the snapshot objects no version
/// in use references, and since when (ms since the epoch).
fn gc_ledger_key(prefix: &str) -> String {
    media_query_domain::export::join_key(prefix, "serving/unreferenced.json")
}

async fn read_gc_ledger(
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
) -> Result<BTreeMap<String, u64>, ExportError> {
    let key = gc_ledger_key(&target.prefix);
    Ok(match get(s3, &target.bucket, &key).await? {
        // A ledger that cannot be read restarts the clock: later, not sooner.
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            warn!(key, error = %e, "unreadable garbage ledger; starting a new one");
            BTreeMap::new()
        }),
        None => BTreeMap::new(),
    })
}

async fn write_gc_ledger(
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
    ledger: &BTreeMap<String, u64>,
) -> Result<(), ExportError> {
    let body = serde_json::to_vec(ledger).expect("serialise");
    let key = gc_ledger_key(&target.prefix);
    put(
        s3,
        &target.bucket,
        &key,
        body,
        "application/json",
        Some("no-cache"),
    )
    .await
    .map(|_| ())
}

/// How the published snapshot differed from the table, counted while a
/// rebuild reads the table (reconciliation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drift {
    /// Visible in the table, absent from the snapshot.
    pub missing: u64,
    /// Served by the snapshot, not visible in the table.
    pub extra: u64,
    /// In both, served differently.
    pub changed: u64,
}

impl Drift {
    pub fn total(&self) -> u64 {
        self.missing + self.extra + self.changed
    }
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub manifest: Manifest,
    pub objects_written: usize,
    pub bytes_written: u64,
    pub objects_deleted: usize,
    /// Against the snapshot published before, when there was one.
    pub drift: Option<Drift>,
    /// Table items that are not media records (logged, not served).
    pub skipped: u64,
}

/// The published snapshot's items in name order, read page by page
/// through the engine (bounded memory).
struct PublishedItems<'a> {
    engine: ReadEngine,
    bucket: SnapshotBucket,
    manifest: &'a Manifest,
    buffer: std::collections::VecDeque<(String, String)>,
    after: Option<String>,
    done: bool,
}

impl PublishedItems<'_> {
    /// The next item's name and JSON, without taking it.
    async fn peek(&mut self) -> Result<Option<&(String, String)>, ExportError> {
        while self.buffer.is_empty() && !self.done {
            let request = PageRequest {
                limit: MAX_LIMIT,
                explicit_limit: true,
                after: self.after.take(),
            };
            let page = self
                .engine
                .list(&self.bucket, self.manifest, &ListQuery::default(), &request)
                .await
                .map_err(|e| ExportError::S3 {
                    operation: "read the published snapshot",
                    key: pointer_key(""),
                    detail: e.to_string(),
                })?;
            for json in page.items {
                let name = serde_json::from_str::<MediaItem>(&json)
                    .map(|i| i.name)
                    .unwrap_or_default();
                self.buffer.push_back((name, json));
            }
            self.done = page.next_after.is_none();
            self.after = page.next_after;
        }
        Ok(self.buffer.front())
    }
}

/// Counts `drift` for one visible table item (`None`: the table is done),
/// consuming the published items up to it.
async fn compare(
    published: &mut PublishedItems<'_>,
    item: Option<(&str, &str)>,
    drift: &mut Drift,
) -> Result<(), ExportError> {
    while let Some((name, json)) = published.peek().await? {
        match item {
            Some((n, _)) if name.as_str() > n => break,
            Some((n, j)) if name == n => {
                drift.changed += u64::from(json != j);
                published.buffer.pop_front();
                return Ok(());
            }
            _ => {
                drift.extra += 1;
                published.buffer.pop_front();
            }
        }
    }
    drift.missing += u64::from(item.is_some());
    Ok(())
}

/// Builds the serving snapshot of `items` (in any order) and publishes it.
pub async fn publish_serving(
    items: &[Item],
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
) -> Result<Published, ExportError> {
    let mut lines: Vec<(String, Vec<u8>)> = items
        .iter()
        .map(|i| {
            let name = i.get(attr::NAME).and_then(|v| v.as_s()).unwrap_or("");
            (name.to_string(), export_line(i).into_bytes())
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    publish_sorted(lines.into_iter().map(Ok), s3, target).await
}

/// Builds the serving snapshot from the table's items in name order (each
/// as its name and export-layout line), streaming: shards are written as
/// they are cut, so memory holds open shards, not the table. On the way it
/// compares the table with the published snapshot and counts the drift.
/// Publishes unless the new version is the published one.
pub async fn publish_sorted(
    sorted: impl Iterator<Item = std::io::Result<(String, Vec<u8>)>>,
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
) -> Result<Published, ExportError> {
    let pointer = pointer_key(&target.prefix);
    let previous = match get(s3, &target.bucket, &pointer).await? {
        Some(bytes) => Manifest::parse(&pointer, &bytes).ok(),
        None => None,
    };
    let mut published = previous.as_ref().map(|m| PublishedItems {
        engine: ReadEngine::new(&target.prefix, f64::INFINITY, 64 << 20),
        bucket: SnapshotBucket::new(s3.clone(), Some(target.bucket.clone())),
        manifest: m,
        buffer: Default::default(),
        after: None,
        done: false,
    });
    let prefix = objects_prefix(&target.prefix);
    let existing = list_keys(s3, &target.bucket, &prefix).await?;
    let (mut objects_written, mut bytes_written) = (0, 0);
    let (mut drift, mut skipped) = (Drift::default(), 0u64);
    let mut builder = Builder::default();
    let mut last: Option<String> = None;
    for entry in sorted {
        let (name, line) = entry.map_err(|e| ExportError::S3 {
            operation: "sort the table's items",
            key: String::new(),
            detail: e.to_string(),
        })?;
        let record = std::str::from_utf8(&line)
            .map_err(|e| e.to_string())
            .and_then(|l| parse_export_line(l).map_err(|e| e.to_string()))
            .and_then(|item| MediaRecord::from_item(&item).map_err(|e| e.to_string()));
        let record = match record {
            Ok(r) if last.as_deref() != Some(r.name.as_str()) => r,
            Ok(_) => continue,
            Err(why) => {
                warn!(name, why, "skipping an item that is not a media record");
                skipped += 1;
                continue;
            }
        };
        builder.push(&record).map_err(|e| ExportError::S3 {
            operation: "build the serving snapshot",
            key: name.clone(),
            detail: e.to_string(),
        })?;
        if let Some(p) = published.as_mut().filter(|_| record.is_visible()) {
            let json = media_query_domain::api::item_body(&record.to_media_item());
            compare(p, Some((&record.name, &json)), &mut drift).await?;
        }
        last = Some(record.name);
        let ready = builder.take_objects();
        if !ready.is_empty() {
            let (n, b) = write_objects(s3, target, ready, &existing).await?;
            objects_written += n;
            bytes_written += b;
        }
    }
    if let Some(p) = published.as_mut() {
        compare(p, None, &mut drift).await?;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let (manifest, objects) = builder.finish(&iso8601_millis(now));
    let (n, b) = write_objects(s3, target, objects, &existing).await?;
    objects_written += n;
    bytes_written += b;
    let drift = previous.as_ref().map(|_| drift);
    if let Some(d) = drift.filter(|d| d.total() > 0) {
        warn!(
            missing = d.missing,
            extra = d.extra,
            changed = d.changed,
            "reconciliation: the published snapshot had drifted from the table"
        );
    }
    crate::metrics::emit(&[
        (
            "SnapshotDrift",
            drift.map_or(0, |d| d.total()) as f64,
            "Count",
        ),
        ("ItemsSkipped", skipped as f64, "Count"),
    ]);

    // Publish: the single PUT that switches readers to the new version.
    if previous.as_ref().map(|m| &m.version) != Some(&manifest.version) {
        bytes_written += write_pointer(s3, target, &manifest).await?;
    }
    let mut keep = referenced(s3, target, &manifest).await.unwrap_or_default();
    let mut objects_deleted = 0;
    if let Some(prev) = &previous {
        match referenced(s3, target, prev).await {
            Some(old) => keep.extend(old),
            None => {
                warn!("the previous version could not be read; deleting nothing this time");
                keep.extend(existing.iter().cloned());
            }
        }
    }
    // Unreferenced objects go only after the grace period, counted from
    // when a run first found them unreferenced (the ledger), not from when
    // they were written: content-addressed, an old object may have been in
    // use until a minute ago.
    let mut ledger = read_gc_ledger(s3, target).await?;
    let unreferenced: HashSet<&String> = existing.difference(&keep).collect();
    ledger.retain(|key, _| unreferenced.contains(key));
    let grace_ms = target.gc_grace_seconds * 1000;
    for key in unreferenced {
        let since = *ledger.entry(key.clone()).or_insert(now);
        if now.saturating_sub(since) < grace_ms {
            continue;
        }
        s3.delete_object()
            .bucket(&target.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_err("DeleteObject", key))?;
        ledger.remove(key);
        objects_deleted += 1;
    }
    write_gc_ledger(s3, target, &ledger).await?;
    info!(
        version = manifest.version,
        items = manifest.item_count,
        shards = manifest.shard_count,
        objects_written,
        bytes_written,
        objects_deleted,
        skipped,
        "serving snapshot published"
    );
    crate::metrics::emit(&[
        ("SnapshotPublishes", 1.0, "Count"),
        ("SnapshotBytes", manifest.shard_bytes as f64, "Bytes"),
    ]);
    Ok(Published {
        manifest,
        objects_written,
        bytes_written,
        objects_deleted,
        drift,
        skipped,
    })
}

/// The export writer's [`ObjectSink`]: new objects go to the bucket as
/// the update cuts them.
struct BucketSink<'a> {
    s3: &'a aws_sdk_s3::Client,
    target: &'a ExportTarget,
}

impl ObjectSink for BucketSink<'_> {
    async fn put(&self, objects: Vec<(String, Vec<u8>)>) -> Result<(), String> {
        write_objects(self.s3, self.target, objects, &HashSet::new())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The current state of each changed name, read from the table with
/// consistent reads (16 at a time). The stream says *which* items
/// changed; the table says what they are now. So a batch that is
/// replayed, or arrives after a later one, still leaves the snapshot equal
/// to the table, and a deleted item never comes back. Items that are not
/// media records are logged and not served.
pub async fn current_states(
    store: &impl MediaStore,
    names: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, Option<MediaRecord>>, ExportError> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    stream::iter(names)
        .map(|name| async move {
            match store.get(&name).await {
                Ok(record) => Ok((name, record)),
                Err(StoreError::Corrupt(why)) => {
                    warn!(name, why, "not a media record; not served");
                    Ok((name, None))
                }
                Err(e) => Err(ExportError::Store(e)),
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await
}

/// Applies one batch of the table's changes (name to its current state) to
/// the current serving snapshot: merged into the snapshot's delta; past
/// its bound, the delta merged into the level; past the level's bound,
/// both compacted into the shards around the changes (see
/// `domain::serving::update`). The new objects are written first, then
/// the pointer. `None` when no snapshot is published yet (the caller then
/// builds one in full).
///
/// Objects that the new version no longer references are left for the
/// next full publish to collect, so a reader holding an older pointer
/// still finds them.
pub async fn apply_changes(
    changes: &BTreeMap<String, Option<MediaRecord>>,
    s3: &aws_sdk_s3::Client,
    target: &ExportTarget,
) -> Result<Option<Published>, ExportError> {
    let pointer = pointer_key(&target.prefix);
    let Some(bytes) = get(s3, &target.bucket, &pointer).await? else {
        return Ok(None);
    };
    let update_error = |detail: String| ExportError::S3 {
        operation: "update the serving snapshot",
        key: pointer.clone(),
        detail,
    };
    let current = Manifest::parse(&pointer, &bytes).map_err(|e| update_error(e.to_string()))?;
    let bucket = SnapshotBucket::new(s3.clone(), Some(target.bucket.clone()));
    // A private engine: its cache lives for this batch only.
    let engine = ReadEngine::new(&target.prefix, f64::INFINITY, 64 << 20);
    let loader = VersionLoader {
        engine: &engine,
        store: &bucket,
        manifest: &current,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let sink = BucketSink { s3, target };
    let updated = apply(
        &loader,
        &current,
        changes,
        Policy::default(),
        &iso8601_millis(now),
        &sink,
    )
    .await
    .map_err(|e| update_error(e.to_string()))?;
    let bytes_written =
        updated.bytes_written + write_pointer(s3, target, &updated.manifest).await?;
    info!(
        version = updated.manifest.version,
        changes = changes.len(),
        level_merged = updated.level_merged,
        compacted = updated.compacted,
        parts_compacted = updated.parts_compacted,
        level_parts = updated.manifest.level.len(),
        delta_entries = updated.manifest.delta.as_ref().map_or(0, |d| d.entries),
        shards_read = updated.shards_read,
        objects_written = updated.objects_written,
        bytes_written,
        "serving snapshot updated"
    );
    Ok(Some(Published {
        manifest: updated.manifest,
        objects_written: updated.objects_written,
        bytes_written,
        objects_deleted: 0,
        drift: None,
        skipped: 0,
    }))
}
