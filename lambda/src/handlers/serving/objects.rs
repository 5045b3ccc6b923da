//! The snapshot bucket's objects: reads, listings, batched deletes, and
//! the PUTs of snapshot objects.
//!
//! Snapshot objects are named by their content hash, so an object that
//! already exists is never written again, and each is cached as
//! immutable. At S3's tens of milliseconds a request, one at a time would
//! not do: PUTs are kept [`PUTS_AT_ONCE`] in flight across whatever
//! batches the build cuts them in, deletes go [`DELETE_BATCH`] to a
//! request, a few requests at once. A failed read is an error, never "no
//! object": taken for "no snapshot yet", it would turn a stream batch into
//! a full rebuild.

use crate::handlers::writer::{put, WriterError};
use media_query_domain::ports::{Bucket, Fetched, ObjectStore, PutMeta, DELETE_BATCH};
use media_query_domain::serving::object_key;
use std::collections::HashMap;

/// A failed S3 call, as the [`WriterError`] that names its operation and key.
pub(super) fn s3_error(operation: &'static str, key: &str) -> impl FnOnce(String) -> WriterError {
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
pub(super) async fn list_objects(
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

/// PUTs in flight at once when writing snapshot objects: at S3's tens of
/// milliseconds a PUT, one at a time a first build at 10M items (~45,000
/// shards) would wait on PUTs for longer than the function may run.
pub const PUTS_AT_ONCE: usize = 32;

pub(super) const IMMUTABLE: PutMeta<'static> = PutMeta {
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
pub(super) async fn write_stream(
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
pub(super) async fn write_objects(
    bucket: &impl Bucket,
    prefix: &str,
    objects: Vec<(String, Vec<u8>)>,
) -> Result<(usize, u64), WriterError> {
    write_stream(bucket, prefix, futures::stream::iter(objects)).await
}
