//! The snapshot built from an export in DynamoDB's layout: the export
//! writer's own, or a native `ExportTableToPointInTime` export, full or
//! incremental.
//!
//! A full export is read in bounded memory: each data file is held
//! gzip'd and read line by line into the external sort, then published
//! like any full build. An incremental export's changes (each name's
//! latest state) are applied to the published snapshot. Every data file's
//! item count is checked against the export's manifest: a file cut short
//! would lose items.

use super::apply::apply_changes;
use super::objects::get;
use super::pointer::read_pointer;
use super::publish::{publish_sorted, Published};
use crate::handlers::writer::{sort_error, SnapshotTarget, WriterError};
use crate::spill::SpillSorter;
use media_query_domain::dynamo::{export_line, parse_export_line, parse_incremental_line, Item};
use media_query_domain::export::{key_candidates, parse_manifest_files, ManifestSummary};
use media_query_domain::ports::{Bucket, Fetched, ObjectStore};
use media_query_domain::record::attr;
use media_query_domain::MediaRecord;
use std::collections::BTreeMap;
use tracing::warn;

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
