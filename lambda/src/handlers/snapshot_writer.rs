//! The `export-writer` function's three jobs, one handler each, and the
//! dispatch between them by the event's shape:
//!
//! * a batch of the table's stream ([`stream_batch`]): the current state of
//!   each changed item (a consistent read each) applied to the serving
//!   snapshot incrementally (the first batch, with no snapshot yet, falls
//!   through to a full rebuild);
//! * `{"fromExport": "<key of a manifest-summary.json>"}` ([`from_export`]):
//!   the serving snapshot built from that export (a native
//!   `ExportTableToPointInTime` export, say), or an incremental export's
//!   changes applied to the published snapshot;
//! * anything else, the hourly schedule among them ([`reconcile`]): the
//!   table read whole, written in DynamoDB's export layout and rebuilt as
//!   the serving snapshot, published if the kept one drifted.

use super::export::{write_snapshot, SORT_CHUNK_BYTES};
use super::serving::{apply_changes, current_states, publish_export};
use super::writer::{SnapshotTarget, WriterError};
use crate::store::MediaStore;
use media_query_domain::ports::Bucket;
use media_query_domain::stream::{parse_batch, StreamError};
use serde_json::{json, Value};

/// Why a job failed: Lambda retries the invocation, then sends it to the
/// on-failure destination.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Writer(#[from] WriterError),
    #[error(transparent)]
    Batch(#[from] StreamError),
}

/// The SDK calls `export-writer` makes through [`handle`], for its IAM
/// policy ([`crate::iam`]): the table read whole (Scan) or item by item
/// for a stream batch (GetItem), and the export bucket under the prefix.
/// A call added to any of the three jobs goes here too.
pub const IAM: &[crate::iam::Call] = &[
    crate::store::DynamoStore::SCAN,
    crate::store::DynamoStore::GET,
    crate::s3_bucket::S3Bucket::GET,
    crate::s3_bucket::S3Bucket::PUT,
    crate::s3_bucket::S3Bucket::LIST,
    crate::s3_bucket::S3Bucket::DELETE,
];

/// Runs the job the event asks for and returns the function's answer.
/// Each job's future is boxed: together, their state machines are past the
/// compiler's type-depth limit (and a few hundred bytes on the heap once
/// per invocation cost nothing).
pub async fn handle<S: MediaStore, B: Bucket>(
    payload: &Value,
    store: &S,
    bucket: &B,
    target: &SnapshotTarget,
) -> Result<Value, JobError> {
    if let Some(summary_key) = payload.get("fromExport").and_then(Value::as_str) {
        return Ok(Box::pin(from_export(summary_key, bucket, target)).await?);
    }
    if payload.get("Records").is_some() {
        if let Some(answer) = Box::pin(stream_batch(payload, store, bucket, target)).await? {
            return Ok(answer);
        }
    }
    Ok(Box::pin(reconcile(store, bucket, target)).await?)
}

/// A stream batch applied incrementally; `None` when there is no snapshot
/// to apply it to yet (the caller rebuilds instead). Malformed records fail
/// the invocation.
pub async fn stream_batch<S: MediaStore, B: Bucket>(
    payload: &Value,
    store: &S,
    bucket: &B,
    target: &SnapshotTarget,
) -> Result<Option<Value>, JobError> {
    let changes = parse_batch(payload)?;
    let latest = current_states(store, changes.latest.into_keys()).await?;
    Ok(apply_changes(&latest, bucket, target).await?.map(|p| {
        json!({
            "streamRecords": changes.records,
            "version": p.manifest.version,
            "itemCount": p.manifest.item_count,
            "objectsWritten": p.objects_written,
            "bytesWritten": p.bytes_written,
        })
    }))
}

/// The serving snapshot built from (or updated by) an export.
pub async fn from_export<B: Bucket>(
    summary_key: &str,
    bucket: &B,
    target: &SnapshotTarget,
) -> Result<Value, WriterError> {
    let (published, _) = publish_export(bucket, target, summary_key, SORT_CHUNK_BYTES).await?;
    Ok(json!({
        "fromExport": summary_key,
        "version": published.manifest.version,
        "itemCount": published.manifest.item_count,
    }))
}

/// Reconciliation: a full rebuild from the table.
pub async fn reconcile<S: MediaStore, B: Bucket>(
    store: &S,
    bucket: &B,
    target: &SnapshotTarget,
) -> Result<Value, WriterError> {
    let (pointer, published) = write_snapshot(store, bucket, target).await?;
    tracing::info!(items = pointer.item_count, "full export done");
    let drift = published.drift.unwrap_or_default();
    Ok(json!({
        "manifestSummaryKey": pointer.manifest_summary_key,
        "itemCount": pointer.item_count,
        "version": published.manifest.version,
        "drift": {"missing": drift.missing, "extra": drift.extra, "changed": drift.changed},
        "skipped": published.skipped,
    }))
}
