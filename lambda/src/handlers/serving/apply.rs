//! Incremental publishing: one batch of the table's changes applied to
//! the published snapshot.
//!
//! The stream says *which* items changed; the table says what they are now
//! ([`current_states`]), so a batch that is replayed, or arrives after a
//! later one, still leaves the snapshot equal to the table. The update
//! writes its new objects first, then the pointer, conditionally: a batch
//! that loses the pointer to another writer is applied again to what that
//! writer published, so no change is lost.

use super::objects::write_objects;
use super::pointer::{read_pointer, write_pointer};
use super::publish::Published;
use crate::handlers::writer::{now_ms, SnapshotTarget, WriterError};
use crate::store::{MediaStore, StoreError};
use media_query_domain::engine::{ReadEngine, VersionLoader};
use media_query_domain::ports::{Bucket, ObjectSink};
use media_query_domain::serving::pointer_key;
use media_query_domain::serving::update::{apply, Policy};
use media_query_domain::time::iso8601_millis;
use media_query_domain::MediaRecord;
use std::collections::BTreeMap;
use tracing::{info, warn};

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
