//! The pointer `serving/current.json`: which version readers get.
//!
//! Publication is atomic: every shard and directory page is written
//! first, then the pointer in one PUT. That PUT is conditional on the
//! pointer the writer started from (`If-Match` its ETag, `If-None-Match:
//! *` when there was none), so of two writers that read the same pointer
//! only one publishes, and the other learns it lost.

use super::objects::{get, s3_error};
use crate::handlers::writer::WriterError;
use media_query_domain::ports::{Bucket, Condition, ObjectStore, Put, PutMeta};
use media_query_domain::serving::manifest::Manifest;
use media_query_domain::serving::pointer_key;
use tracing::warn;

/// Publishes `manifest`: the single PUT of the pointer that switches
/// readers to the new version, only if the pointer is still the one the
/// writer started from (`If-Match` its ETag; `If-None-Match: *` when there
/// was none). `Ok(None)`: another writer published first.
pub(super) async fn write_pointer(
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
