//! The objects of one snapshot version, decoded (read side), and where
//! new objects go (write side), as the read engine and the update use
//! them.

use crate::serving::build::Object;
use crate::serving::delta::{Delta, DeltaRef};
use crate::serving::manifest::{DirectoryPage, ShardRef};
use crate::serving::shard::Shard;
use crate::serving::FormatError;
use std::sync::Arc;

/// Why the snapshot could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("no serving snapshot is published at {0}")]
    Missing(String),
    #[error("fetching {key} failed: {detail}")]
    Fetch { key: String, detail: String },
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// Reads the decoded objects of one snapshot version.
#[allow(async_fn_in_trait)]
pub trait ShardLoader {
    async fn shard(&self, r: &ShardRef) -> Result<Arc<Shard>, ReadError>;
    async fn page(&self, hash: &str) -> Result<Arc<DirectoryPage>, ReadError>;
    async fn delta(&self, r: &DeltaRef) -> Result<Arc<Delta>, ReadError>;
}

/// Where new objects go (S3 in the export writer, files in benchmarks),
/// before the manifest that references them is published.
#[allow(async_fn_in_trait)]
pub trait ObjectSink {
    async fn put(&self, objects: Vec<Object>) -> Result<(), String>;
}
