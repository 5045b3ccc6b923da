//! New objects on their way to the [`ObjectSink`], counted, and handed
//! over in bounded batches, so that memory stays bounded however many
//! objects a step cuts.

use super::types::UpdateError;
use crate::ports::ObjectSink;
use crate::serving::build::Object;

/// New objects on their way to a sink, counted, in bounded batches.
pub(super) struct Outbox<'a, K> {
    pub(super) sink: &'a K,
    pub(super) pending: Vec<Object>,
    pub(super) written: usize,
    pub(super) bytes: u64,
}

impl<K: ObjectSink> Outbox<'_, K> {
    /// Objects held before they are handed to the sink (~3 MB of shards).
    pub(super) const BATCH: usize = 64;

    pub(super) async fn push(&mut self, object: Object) -> Result<(), UpdateError> {
        self.written += 1;
        self.bytes += object.1.len() as u64;
        self.pending.push(object);
        if self.pending.len() >= Self::BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> Result<(), UpdateError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.sink.put(batch).await.map_err(UpdateError::Write)
    }
}
