//! A full publish: the serving snapshot built from the table's items and
//! published.
//!
//! The build streams: the items come in name order (from the external
//! sort, or sorted in memory for a few), shards go to the bucket as they
//! are cut, and only new objects are written (content-addressed: a rebuild
//! of an unchanged table writes only the pointer). On the way the drift
//! from the published snapshot is counted. Then the pointer, in one
//! conditional PUT, and the garbage of the versions no longer in use.

use super::drift::{compare, Drift, PublishedItems};
use super::gc::{collect_garbage, referenced};
use super::objects::{list_objects, write_stream, PUTS_AT_ONCE};
use super::pointer::{read_pointer, write_pointer};
use crate::handlers::writer::{now_ms, SnapshotTarget, WriterError};
use media_query_domain::dynamo::{export_line, parse_export_line, Item};
use media_query_domain::ports::Bucket;
use media_query_domain::record::attr;
use media_query_domain::serving::build::Builder;
use media_query_domain::serving::manifest::Manifest;
use media_query_domain::serving::{object_key, objects_prefix};
use media_query_domain::time::iso8601_millis;
use media_query_domain::MediaRecord;
use std::collections::HashSet;
use tracing::{error, info, warn};

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
