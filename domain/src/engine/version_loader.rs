//! The engine's cached reads of one snapshot version, as the
//! [`ShardLoader`] an update reads the old state through.

use super::*;

/// The engine's cached reads of one snapshot version, for an update
/// ([`crate::serving::update`]).
pub struct VersionLoader<'a, S> {
    pub engine: &'a ReadEngine,
    pub store: &'a S,
    pub manifest: &'a Manifest,
}

impl<S: ObjectStore> ShardLoader for VersionLoader<'_, S> {
    async fn shard(&self, r: &ShardRef) -> Result<Arc<Shard>, ReadError> {
        self.engine.shard(self.store, self.manifest, r).await
    }

    async fn page(&self, hash: &str) -> Result<Arc<DirectoryPage>, ReadError> {
        self.engine.page(self.store, hash).await
    }

    async fn delta(&self, r: &DeltaRef) -> Result<Arc<Delta>, ReadError> {
        self.engine.delta(self.store, r).await
    }
}
