//! What the serving snapshot writer's jobs share (the stream batch and the
//! export built from in [`super::serving`], the reconciliation in
//! [`super::export`]): where the snapshot goes, how its writing fails,
//! plain PUTs, and the clock. It imports neither job, so neither imports
//! the other.

use crate::store::StoreError;
use media_query_domain::ports::{Bucket, Condition, Put, PutMeta};
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;
/// Why a job of the snapshot writer failed; the published snapshot is
/// unchanged either way.
#[derive(Debug, Error)]
pub enum WriterError {
    #[error("SNAPSHOT_BUCKET is not set")]
    NoBucket,
    #[error("an incremental export applies to a published snapshot, and there is none yet")]
    NoSnapshotToUpdate,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("S3 {operation} {key} failed: {detail}")]
    S3 {
        operation: &'static str,
        key: String,
        detail: String,
    },
}

/// Where the serving snapshot (and the reconciliation's export-layout
/// files) go.
#[derive(Debug, Clone)]
pub struct SnapshotTarget {
    pub bucket: String,
    pub prefix: String,
    pub table_arn: String,
    /// How long a snapshot object stays after no version in use references
    /// it (`SNAPSHOT_GC_GRACE_SECONDS`), so that a reader still holding an
    /// older manifest finds what it names.
    pub gc_grace_seconds: u64,
}

/// A failure of the external sort (the Lambda's ephemeral storage).
pub(crate) fn sort_error(e: std::io::Error) -> WriterError {
    WriterError::S3 {
        operation: "sort the table's items",
        key: String::new(),
        detail: e.to_string(),
    }
}

impl SnapshotTarget {
    /// The snapshot's bucket through the SDK, as the writer uses it.
    pub fn s3_bucket(&self, s3: &aws_sdk_s3::Client) -> crate::s3_bucket::S3Bucket {
        crate::s3_bucket::S3Bucket::new(s3.clone(), self.bucket.clone())
    }
}

/// One plain (unconditional) PUT; returns the object's ETag.
pub(crate) async fn put(
    bucket: &impl Bucket,
    key: &str,
    body: Vec<u8>,
    meta: PutMeta<'_>,
) -> Result<Option<String>, WriterError> {
    let failed = |detail: String| WriterError::S3 {
        operation: "PutObject",
        key: key.to_string(),
        detail,
    };
    match bucket
        .put(key, body, meta, Condition::Always)
        .await
        .map_err(failed)?
    {
        Put::Written { etag } => Ok(etag.map(|t| t.trim_matches('"').to_string())),
        Put::PreconditionFailed => Err(failed("a precondition failed on a plain PUT".into())),
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
