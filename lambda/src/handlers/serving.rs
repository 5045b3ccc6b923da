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

use super::writer::{now_ms, put, sort_error, SnapshotTarget, WriterError};
use crate::spill::SpillSorter;
use crate::store::{MediaStore, StoreError};
use media_query_domain::dynamo::{export_line, parse_export_line, parse_incremental_line, Item};
use media_query_domain::engine::{ReadEngine, VersionLoader};
use media_query_domain::export::{key_candidates, parse_manifest_files, ManifestSummary};
use media_query_domain::page::{PageRequest, MAX_LIMIT};
use media_query_domain::ports::ObjectSink;
use media_query_domain::ports::ShardLoader;
use media_query_domain::ports::{Bucket, Condition, Put, PutMeta, DELETE_BATCH};
use media_query_domain::ports::{Fetched, ObjectStore};
use media_query_domain::record::{attr, MediaItem};
use media_query_domain::serving::build::Builder;
use media_query_domain::serving::manifest::{Directory, Manifest, ShardRef};
use media_query_domain::serving::update::{apply, Policy};
use media_query_domain::serving::version::all_entries;
use media_query_domain::serving::{object_key, objects_prefix, pointer_key, Run};
use media_query_domain::time::iso8601_millis;
use media_query_domain::ListQuery;
use media_query_domain::MediaRecord;
use std::collections::{BTreeMap, HashMap, HashSet};
use tracing::{error, info, warn};

fn s3_error(operation: &'static str, key: &str) -> impl FnOnce(String) -> WriterError {
    let key = key.to_string();
    move |detail| WriterError::S3 {
        operation,
        key,
        detail,
    }
}

/// An object of the export bucket and its ETag, `None` if there is none.
/// Any other failure (a refused or failed read) is an error: taken for "no
/// snapshot yet", it would turn a stream batch into a full rebuild.
pub(crate) async fn get(
    bucket: &impl ObjectStore,
    key: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, WriterError> {
    Ok(
        match bucket
            .get(key, None)
            .await
            .map_err(s3_error("GetObject", key))?
        {
            Fetched::Object { body, etag } => Some((body, etag)),
            Fetched::Missing | Fetched::NotModified => None,
        },
    )
}

/// Every object under `prefix`, and when it was last written (ms).
async fn list_objects(
    bucket: &impl Bucket,
    prefix: &str,
) -> Result<HashMap<String, u64>, WriterError> {
    let listed = bucket
        .list(prefix)
        .await
        .map_err(s3_error("ListObjectsV2", prefix))?;
    Ok(listed
        .into_iter()
        .map(|o| (o.key, o.last_modified_ms))
        .collect())
}

/// Deletes `keys`, [`DELETE_BATCH`] to a `DeleteObjects` request, a few
/// requests at once.
pub(crate) async fn delete_objects(
    bucket: &impl Bucket,
    keys: &[String],
) -> Result<(), WriterError> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    stream::iter(keys.chunks(DELETE_BATCH))
        .map(|chunk| async move {
            bucket
                .delete(chunk)
                .await
                .map_err(s3_error("DeleteObjects", &chunk[0]))
        })
        .buffer_unordered(DELETES_AT_ONCE)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

/// `DeleteObjects` requests in flight at once.
const DELETES_AT_ONCE: usize = 4;

/// The object keys a manifest references: its directory pages, their
/// shards, its delta and its level's parts. Fails when any directory page
/// cannot be read: an incomplete set must never pass for the whole one,
/// or garbage collection would delete what a reader needs.
async fn referenced(
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

/// What [`read_export`] read: a full export's items went to its caller
/// one by one; an incremental export's changes (one per changed name,
/// however often it changed) are returned.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportRead {
    Full { items: u64 },
    Incremental(BTreeMap<String, Option<MediaRecord>>),
}

/// Reads an export in DynamoDB's layout whole, into memory: for small
/// exports and tests. [`publish_export`] streams instead.
pub async fn export_items(
    bucket: &impl ObjectStore,
    summary_key: &str,
) -> Result<ExportContents, WriterError> {
    let mut items = Vec::new();
    let read = read_export(bucket, summary_key, |item| {
        items.push(item);
        Ok(())
    })
    .await?;
    Ok(match read {
        ExportRead::Full { .. } => ExportContents::Full(items),
        ExportRead::Incremental(changes) => ExportContents::Incremental(changes),
    })
}

/// Builds and publishes the serving snapshot from an export in DynamoDB's
/// layout (`{"fromExport": ...}`), in bounded memory: a full export's items
/// stream from each data file, line by line, into the same external sort
/// as reconciliation (`chunk_bytes` in memory, the rest spilled to disk),
/// and from it into the streaming build. An incremental export's changes
/// are applied to the published snapshot. Returns what was published and
/// how many bytes the sort spilled.
pub async fn publish_export(
    bucket: &impl Bucket,
    target: &SnapshotTarget,
    summary_key: &str,
    chunk_bytes: usize,
) -> Result<(Published, u64), WriterError> {
    let previous = read_pointer(bucket, &target.prefix).await?;
    let mut sorter = SpillSorter::new(None, chunk_bytes).map_err(sort_error)?;
    let read = read_export(bucket, summary_key, |item| {
        let name = item.get(attr::NAME).and_then(|v| v.as_s()).unwrap_or("");
        sorter
            .push(name.to_string(), export_line(&item).into_bytes())
            .map_err(sort_error)
    })
    .await?;
    match read {
        ExportRead::Full { .. } => {
            let spilled = sorter.spilled_bytes;
            let sorted = sorter.into_sorted().map_err(sort_error)?;
            let published = publish_sorted(sorted, previous, bucket, target).await?;
            Ok((published, spilled))
        }
        ExportRead::Incremental(changes) => apply_changes(&changes, bucket, target)
            .await?
            .map(|p| (p, 0))
            .ok_or(WriterError::NoSnapshotToUpdate),
    }
}

/// Reads an export in DynamoDB's layout, given the key of its
/// `manifest-summary.json`: the export writer's own, or a native
/// `ExportTableToPointInTime` export (DYNAMODB_JSON), full or incremental.
/// A full export's items go to `on_item` as each data file is read, line
/// by line (a data file is held gzip'd, never decompressed whole). Every
/// data file's item count is checked against the manifest.
pub async fn read_export(
    bucket: &impl ObjectStore,
    summary_key: &str,
    mut on_item: impl FnMut(Item) -> Result<(), WriterError>,
) -> Result<ExportRead, WriterError> {
    let bad = |key: &str, detail: String| WriterError::S3 {
        operation: "read export",
        key: key.to_string(),
        detail,
    };
    let read = |key: String| async move {
        get(bucket, &key)
            .await?
            .map(|(body, _)| body)
            .ok_or_else(|| bad(&key, "no such object".into()))
    };
    // A key named by a manifest, wherever the writer meant it to be.
    let named = |key: String| async move {
        for candidate in key_candidates(summary_key, &key) {
            match bucket.get(&candidate, None).await {
                Ok(Fetched::Object { body, .. }) => return Ok((candidate, body)),
                Ok(_) => continue,
                Err(detail) => return Err(bad(&candidate, detail)),
            }
        }
        Err(bad(
            &key,
            "no such object, from the bucket's root or the export's folder".into(),
        ))
    };
    let summary = ManifestSummary::parse(&String::from_utf8_lossy(
        &read(summary_key.to_string()).await?,
    ))
    .map_err(|e| bad(summary_key, e.to_string()))?;
    let incremental = summary.export_type.as_deref() == Some("INCREMENTAL_EXPORT");
    let (files_key, files) = named(summary.manifest_files_s3_key.clone()).await?;
    let files = parse_manifest_files(&String::from_utf8_lossy(&files))
        .map_err(|e| bad(&files_key, e.to_string()))?;
    let mut items = 0u64;
    let mut latest: BTreeMap<String, (u64, Option<MediaRecord>)> = BTreeMap::new();
    let mut skipped = 0u64;
    for f in files {
        let (key, gz) = named(f.data_file_s3_key.clone()).await?;
        let key = &key;
        // A file of no items may be empty rather than an empty gzip stream.
        let text: Box<dyn std::io::BufRead> = match gz.is_empty() {
            true => Box::new(std::io::empty()),
            false => Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(
                &gz[..],
            ))),
        };
        let mut lines = 0u64;
        for line in std::io::BufRead::lines(text) {
            let line = line.map_err(|e| bad(key, format!("not gzip'd UTF-8: {e}")))?;
            let line = line.as_str();
            if line.trim().is_empty() {
                continue;
            }
            lines += 1;
            // One corrupt line is skipped, logged and counted; the rest of
            // the export is still served.
            if !incremental {
                match parse_export_line(line) {
                    Ok(item) => {
                        items += 1;
                        on_item(item)?;
                    }
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
        ExportRead::Incremental(latest.into_iter().map(|(k, (_, r))| (k, r)).collect())
    } else {
        ExportRead::Full { items }
    })
}

/// PUTs in flight at once when writing snapshot objects: at S3's tens of
/// milliseconds a PUT, one at a time a first build at 10M items (~45,000
/// shards) would wait on PUTs for longer than the function may run.
pub const PUTS_AT_ONCE: usize = 32;

const IMMUTABLE: PutMeta<'static> = PutMeta {
    content_type: "application/octet-stream",
    cache_control: Some("public, max-age=31536000, immutable"),
};

/// One unconditional PUT of a snapshot object (immutable, content-addressed).
async fn put_object(bucket: &impl Bucket, key: String, bytes: Vec<u8>) -> Result<u64, WriterError> {
    let len = bytes.len() as u64;
    put(bucket, &key, bytes, IMMUTABLE).await.map(|_| len)
}

/// Writes snapshot objects (by hash) as they arrive, [`PUTS_AT_ONCE`] in
/// flight, across whatever batches they were cut in; returns how many
/// and how many bytes. Ends when the sender is dropped, or at the first
/// failed PUT.
async fn write_stream(
    bucket: &impl Bucket,
    prefix: &str,
    objects: impl futures::Stream<Item = (String, Vec<u8>)>,
) -> Result<(usize, u64), WriterError> {
    use futures::stream::{StreamExt, TryStreamExt};
    objects
        .map(|(hash, bytes)| put_object(bucket, object_key(prefix, &hash), bytes))
        .buffer_unordered(PUTS_AT_ONCE)
        .try_fold(
            (0usize, 0u64),
            |(n, b), len| async move { Ok((n + 1, b + len)) },
        )
        .await
}

/// Writes `objects` (by hash), [`PUTS_AT_ONCE`] at a time.
async fn write_objects(
    bucket: &impl Bucket,
    prefix: &str,
    objects: Vec<(String, Vec<u8>)>,
) -> Result<(usize, u64), WriterError> {
    write_stream(bucket, prefix, futures::stream::iter(objects)).await
}

/// Publishes `manifest`: the single PUT of the pointer that switches
/// readers to the new version, only if the pointer is still the one the
/// writer started from (`If-Match` its ETag; `If-None-Match: *` when there
/// was none). `Ok(None)`: another writer published first.
async fn write_pointer(
    bucket: &impl Bucket,
    prefix: &str,
    manifest: &Manifest,
    read_etag: Option<&str>,
) -> Result<Option<u64>, WriterError> {
    let body = serde_json::to_vec(manifest).expect("serialise");
    let len = body.len() as u64;
    let pointer = pointer_key(prefix);
    let condition = match read_etag {
        Some(etag) => Condition::IfMatch(etag),
        None => Condition::IfAbsent,
    };
    let meta = PutMeta {
        content_type: "application/json",
        cache_control: Some("no-cache"),
    };
    match bucket
        .put(&pointer, body, meta, condition)
        .await
        .map_err(s3_error("PutObject", &pointer))?
    {
        Put::Written { .. } => Ok(Some(len)),
        Put::PreconditionFailed => {
            warn!(
                version = manifest.version,
                "another writer published first; this version was not published"
            );
            crate::metrics::emit(&[("SnapshotPublishConflicts", 1.0, "Count")]);
            Ok(None)
        }
    }
}

/// The published pointer: its manifest and ETag, `None` when none is
/// published. A pointer that is there but cannot be parsed is an error.
pub async fn read_pointer(
    bucket: &impl ObjectStore,
    prefix: &str,
) -> Result<Option<(Manifest, Option<String>)>, WriterError> {
    let pointer = pointer_key(prefix);
    let Some((bytes, etag)) = get(bucket, &pointer).await? else {
        return Ok(None);
    };
    let manifest = Manifest::parse(&pointer, &bytes).map_err(|e| WriterError::S3 {
        operation: "read the published pointer",
        key: pointer.clone(),
        detail: e.to_string(),
    })?;
    Ok(Some((manifest, etag)))
}

/// `<prefix>/serving/unreferenced.json`: the snapshot objects no version
/// in use references, and since when (ms since the epoch).
fn gc_ledger_key(prefix: &str) -> String {
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
    /// The version now published: this writer's, or, when another writer
    /// published first ([`Published::conflicts`]), the one it found.
    pub manifest: Manifest,
    pub objects_written: usize,
    pub bytes_written: u64,
    pub objects_deleted: usize,
    /// Against the snapshot published before, when there was one.
    pub drift: Option<Drift>,
    /// Table items that are not media records (logged, not served).
    pub skipped: u64,
    /// Times another writer published between this writer's read of the
    /// pointer and its conditional write of it.
    pub conflicts: u32,
}

/// Directory entries of the names run read ahead of the drift check.
const DRIFT_READ_AHEAD: usize = 32;

/// The published snapshot's items in name order, read page by page
/// through the engine (bounded memory), with the names run's shards
/// fetched [`DRIFT_READ_AHEAD`] at once ahead of the pages that need them.
struct PublishedItems<'a, B> {
    engine: ReadEngine,
    bucket: &'a B,
    manifest: &'a Manifest,
    /// The names run's shards, in order, and how far they are fetched.
    names: Vec<ShardRef>,
    fetched_to: usize,
    buffer: std::collections::VecDeque<(String, String)>,
    after: Option<String>,
    done: bool,
}

fn read_error(e: impl std::fmt::Display) -> WriterError {
    WriterError::S3 {
        operation: "read the published snapshot",
        key: pointer_key(""),
        detail: e.to_string(),
    }
}

impl<'a, B: ObjectStore> PublishedItems<'a, B> {
    async fn new(bucket: &'a B, prefix: &str, manifest: &'a Manifest) -> Result<Self, WriterError> {
        let engine = ReadEngine::new(prefix, f64::INFINITY, 64 << 20);
        let names_run = Run::Names.id();
        let names = {
            let loader = VersionLoader {
                engine: &engine,
                store: bucket,
                manifest,
            };
            all_entries(&loader, manifest)
                .await
                .map_err(read_error)?
                .into_iter()
                .filter(|e| e.run == names_run)
                .collect()
        };
        Ok(PublishedItems {
            engine,
            bucket,
            manifest,
            names,
            fetched_to: 0,
            buffer: Default::default(),
            after: None,
            done: false,
        })
    }

    /// Fetches the next window of the names run's shards into the engine's
    /// cache, all at once, when the page about to be read nears its end.
    async fn read_ahead(&mut self) -> Result<(), WriterError> {
        let at = match &self.after {
            Some(a) => self
                .names
                .partition_point(|s| s.first.as_str() <= a.as_str()),
            None => 0,
        }
        .saturating_sub(1);
        if at + DRIFT_READ_AHEAD / 2 < self.fetched_to || self.fetched_to >= self.names.len() {
            return Ok(());
        }
        let from = self.fetched_to.max(at);
        let to = (from + DRIFT_READ_AHEAD).min(self.names.len());
        let loader = VersionLoader {
            engine: &self.engine,
            store: self.bucket,
            manifest: self.manifest,
        };
        let loaded =
            futures::future::join_all(self.names[from..to].iter().map(|r| loader.shard(r))).await;
        for shard in loaded {
            shard.map_err(read_error)?;
        }
        self.fetched_to = to;
        Ok(())
    }

    /// The next item's name and JSON, without taking it.
    async fn peek(&mut self) -> Result<Option<&(String, String)>, WriterError> {
        while self.buffer.is_empty() && !self.done {
            self.read_ahead().await?;
            let request = PageRequest {
                limit: MAX_LIMIT,
                explicit_limit: true,
                after: self.after.take(),
            };
            let page = self
                .engine
                .list(self.bucket, self.manifest, &ListQuery::default(), &request)
                .await
                .map_err(read_error)?;
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
async fn compare<B: ObjectStore>(
    published: &mut PublishedItems<'_, B>,
    item: Option<(&str, &str)>,
    drift: &mut Drift,
) -> Result<(), WriterError> {
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
    bucket: &impl Bucket,
    target: &SnapshotTarget,
) -> Result<Published, WriterError> {
    let mut lines: Vec<(String, Vec<u8>)> = items
        .iter()
        .map(|i| {
            let name = i.get(attr::NAME).and_then(|v| v.as_s()).unwrap_or("");
            (name.to_string(), export_line(i).into_bytes())
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let previous = read_pointer(bucket, &target.prefix).await?;
    publish_sorted(lines.into_iter().map(Ok), previous, bucket, target).await
}

/// What the build half of [`publish_sorted`] found.
struct Built {
    manifest: Manifest,
    drift: Drift,
    skipped: u64,
}

/// Builds the serving snapshot from the table's items in name order (each
/// as its name and export-layout line), streaming: shards are handed to
/// the writer as they are cut and kept [`PUTS_AT_ONCE`] in flight across
/// records, so memory holds open shards and the PUTs in flight, not the
/// table. On the way it compares the table with the published snapshot
/// (read ahead) and counts the drift. Publishes unless the new version is
/// the published one, then collects garbage.
///
/// `previous` is the pointer as it was read (manifest and ETag) *before*
/// the items were read from the table: the version is published only if
/// the pointer is still that one, so a stream batch that published a
/// newer state of an item meanwhile is never overwritten.
///
/// Killed at any point (the function's timeout), it leaves the published
/// snapshot as it was: the pointer is the last write. The objects it wrote
/// are unreferenced and age out through the ledger, or are referenced by
/// the next run's identical build, which finds them already written.
pub async fn publish_sorted(
    sorted: impl Iterator<Item = std::io::Result<(String, Vec<u8>)>>,
    previous: Option<(Manifest, Option<String>)>,
    bucket: &impl Bucket,
    target: &SnapshotTarget,
) -> Result<Published, WriterError> {
    use futures::SinkExt;
    let existing = list_objects(bucket, &objects_prefix(&target.prefix)).await?;
    let (tx, rx) = futures::channel::mpsc::channel::<(String, Vec<u8>)>(PUTS_AT_ONCE);
    let writer = write_stream(bucket, &target.prefix, rx);
    let build = async {
        let mut tx = tx;
        let mut published = match &previous {
            Some((m, _)) => Some(PublishedItems::new(bucket, &target.prefix, m).await?),
            None => None,
        };
        let (mut drift, mut skipped) = (Drift::default(), 0u64);
        let mut builder = Builder::default();
        let mut last: Option<String> = None;
        // New objects only: content-addressed, one already there is these bytes.
        let fresh = |(hash, _): &(String, Vec<u8>)| {
            !existing.contains_key(&object_key(&target.prefix, hash))
        };
        let closed = |_| WriterError::S3 {
            operation: "PutObject",
            key: String::new(),
            detail: "the writer stopped".into(),
        };
        for entry in sorted {
            let (name, line) = entry.map_err(|e| WriterError::S3 {
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
            builder.push(&record).map_err(|e| WriterError::S3 {
                operation: "build the serving snapshot",
                key: name.clone(),
                detail: e.to_string(),
            })?;
            if let Some(p) = published.as_mut().filter(|_| record.is_visible()) {
                let json = media_query_domain::api::item_body(&record.to_media_item());
                compare(p, Some((&record.name, &json)), &mut drift).await?;
            }
            last = Some(record.name);
            for object in builder.take_objects().into_iter().filter(fresh) {
                tx.send(object).await.map_err(closed)?;
            }
        }
        if let Some(p) = published.as_mut() {
            compare(p, None, &mut drift).await?;
        }
        let (manifest, objects) = builder.finish(&iso8601_millis(now_ms()));
        for object in objects.into_iter().filter(fresh) {
            tx.send(object).await.map_err(closed)?;
        }
        Ok::<_, WriterError>(Built {
            manifest,
            drift,
            skipped,
        })
    };
    let (built, (objects_written, mut bytes_written)) = futures::try_join!(build, writer)?;
    let Built {
        manifest,
        drift,
        skipped,
    } = built;
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

    // Publish: the single conditional PUT that switches readers to the new
    // version. A writer that published since this run read the pointer
    // wins: it read the table later (a stream batch reads each changed
    // item's current state), so its version is kept, and the drift this
    // run found is left to the next run.
    let (previous, previous_etag) = previous.unzip();
    let mut conflicts = 0;
    let mut in_use = vec![manifest.clone()];
    in_use.extend(previous.iter().cloned());
    let mut current = manifest;
    if previous.as_ref().map(|m| &m.version) != Some(&current.version) {
        match write_pointer(
            bucket,
            &target.prefix,
            &current,
            previous_etag.flatten().as_deref(),
        )
        .await?
        {
            Some(len) => bytes_written += len,
            None => {
                conflicts += 1;
                if let Some((winner, _)) = read_pointer(bucket, &target.prefix).await? {
                    in_use.push(winner.clone());
                    current = winner;
                }
            }
        }
    }

    // Garbage: what no version in use references. If any of them cannot
    // be read, nothing is deleted this time.
    let mut keep = HashSet::new();
    let mut readable = true;
    for m in &in_use {
        match referenced(bucket, &target.prefix, m).await {
            Ok(keys) => keep.extend(keys),
            Err(e) => {
                error!(version = m.version, error = %e, "a version in use could not be read; garbage collection skipped");
                readable = false;
                break;
            }
        }
    }
    let objects_deleted = if readable {
        collect_garbage(bucket, target, &existing, &keep, now_ms()).await?
    } else {
        crate::metrics::emit(&[("SnapshotGcSkipped", 1.0, "Count")]);
        0
    };
    info!(
        version = current.version,
        items = current.item_count,
        shards = current.shard_count,
        objects_written,
        bytes_written,
        objects_deleted,
        skipped,
        conflicts,
        "serving snapshot published"
    );
    crate::metrics::emit(&[
        ("SnapshotPublishes", 1.0, "Count"),
        ("SnapshotBytes", current.shard_bytes as f64, "Bytes"),
    ]);
    Ok(Published {
        manifest: current,
        objects_written,
        bytes_written,
        objects_deleted,
        drift,
        skipped,
        conflicts,
    })
}

/// The export writer's [`ObjectSink`]: new objects go to the bucket as
/// the update cuts them.
struct BucketSink<'a, B> {
    bucket: &'a B,
    prefix: &'a str,
}

impl<B: Bucket> ObjectSink for BucketSink<'_, B> {
    async fn put(&self, objects: Vec<(String, Vec<u8>)>) -> Result<(), String> {
        write_objects(self.bucket, self.prefix, objects)
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
) -> Result<BTreeMap<String, Option<MediaRecord>>, WriterError> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    stream::iter(names)
        .map(|name| async move {
            match store.get(&name).await {
                Ok(record) => Ok((name, record)),
                Err(StoreError::Corrupt(why)) => {
                    warn!(name, why, "not a media record; not served");
                    Ok((name, None))
                }
                Err(e) => Err(WriterError::Store(e)),
            }
        })
        .buffer_unordered(16)
        .try_collect()
        .await
}

/// Attempts of a stream batch to publish, each on the pointer as it then
/// is, before it fails (and Lambda retries it).
pub const PUBLISH_ATTEMPTS: u32 = 5;

/// Applies one batch of the table's changes (name to its current state) to
/// the current serving snapshot: merged into the snapshot's delta; past
/// its bound, the delta merged into the level; past the level's bound,
/// both compacted into the shards around the changes (see
/// `domain::serving::update`). The new objects are written first, then
/// the pointer, conditionally: if another writer published in between, the
/// batch is applied again to what it published (up to
/// [`PUBLISH_ATTEMPTS`] times), so no change is lost. A batch that changes
/// nothing (a replay) writes nothing. `None` when no snapshot is published
/// yet (the caller then builds one in full).
///
/// Objects that the new version no longer references are left for the
/// next full publish to collect, so a reader holding an older pointer
/// still finds them.
pub async fn apply_changes(
    changes: &BTreeMap<String, Option<MediaRecord>>,
    bucket: &impl Bucket,
    target: &SnapshotTarget,
) -> Result<Option<Published>, WriterError> {
    let pointer = pointer_key(&target.prefix);
    let update_error = |detail: String| WriterError::S3 {
        operation: "update the serving snapshot",
        key: pointer.clone(),
        detail,
    };
    let mut conflicts = 0;
    loop {
        let Some((current, etag)) = read_pointer(bucket, &target.prefix).await? else {
            return Ok(None);
        };
        // A private engine: its cache lives for this attempt only.
        let engine = ReadEngine::new(&target.prefix, f64::INFINITY, 64 << 20);
        let loader = VersionLoader {
            engine: &engine,
            store: bucket,
            manifest: &current,
        };
        let sink = BucketSink {
            bucket,
            prefix: &target.prefix,
        };
        let updated = apply(
            &loader,
            &current,
            changes,
            Policy::default(),
            &iso8601_millis(now_ms()),
            &sink,
        )
        .await
        .map_err(|e| update_error(e.to_string()))?;
        let published = |manifest, bytes_written| Published {
            manifest,
            objects_written: updated.objects_written,
            bytes_written,
            objects_deleted: 0,
            drift: None,
            skipped: 0,
            conflicts,
        };
        if updated.manifest.version == current.version {
            // Nothing changed (a replayed batch): a new pointer with the
            // same version would only make every reader download it again.
            info!(
                version = current.version,
                changes = changes.len(),
                "serving snapshot unchanged"
            );
            return Ok(Some(published(current, updated.bytes_written)));
        }
        let Some(pointer_bytes) =
            write_pointer(bucket, &target.prefix, &updated.manifest, etag.as_deref()).await?
        else {
            conflicts += 1;
            if conflicts >= PUBLISH_ATTEMPTS {
                return Err(update_error(format!(
                    "another writer published first, {conflicts} times in a row"
                )));
            }
            continue;
        };
        let bytes_written = updated.bytes_written + pointer_bytes;
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
            conflicts,
            "serving snapshot updated"
        );
        return Ok(Some(published(updated.manifest.clone(), bytes_written)));
    }
}

#[cfg(test)]
mod tests;
