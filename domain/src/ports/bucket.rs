//! The snapshot bucket as its writer sees it: the port between the export
//! writer's logic (publishing, reconciliation, garbage collection) and the
//! object store.
//!
//! Implemented over the S3 SDK in the Lambda (`S3Bucket`), over
//! files with injected latency in the benchmarks, and in memory in unit
//! tests. Reads go through [`ObjectStore`], the read engine's port, so the
//! writer reads the snapshot exactly as readers do.
//!
//! Why these operations and no others: the writer publishes with a
//! conditional PUT of the pointer (so two writers cannot silently overwrite
//! each other), lists the objects to find garbage, and deletes in batches
//! of up to [`DELETE_BATCH`] keys (S3's `DeleteObjects`), so that garbage
//! collection at millions of objects is a few hundred requests, not a
//! million.

use super::ObjectStore;

/// Keys one `DeleteObjects` request may name (S3's limit).
pub const DELETE_BATCH: usize = 1000;

/// When a PUT may take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition<'a> {
    /// Always (a plain PUT).
    Always,
    /// Only if the object's current ETag is this one (`If-Match`).
    IfMatch(&'a str),
    /// Only if there is no such object yet (`If-None-Match: *`).
    IfAbsent,
}

impl Condition<'_> {
    /// Whether a PUT may replace an object whose ETag is `current`
    /// (`None`: there is none).
    pub fn holds(&self, current: Option<&str>) -> bool {
        match self {
            Condition::Always => true,
            Condition::IfMatch(etag) => current == Some(*etag),
            Condition::IfAbsent => current.is_none(),
        }
    }
}

/// How a PUT went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Written; the new object's ETag, when the store gives one.
    Written { etag: Option<String> },
    /// Its [`Condition`] did not hold: another writer got there first
    /// (`412 Precondition Failed`, or `409` for a conflicting concurrent
    /// conditional write).
    PreconditionFailed,
}

/// What a PUT says of its object besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutMeta<'a> {
    pub content_type: &'a str,
    pub cache_control: Option<&'a str>,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    /// When it was last written, in ms since the epoch.
    pub last_modified_ms: u64,
}

/// The writer's bucket. Errors are text for the logs and the invocation's
/// error; the SDK has already retried throttling and transient failures.
#[allow(async_fn_in_trait)]
pub trait Bucket: ObjectStore {
    /// Writes one object if `condition` holds.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        meta: PutMeta<'_>,
        condition: Condition<'_>,
    ) -> Result<Put, String>;

    /// Every object under `prefix`, all pages.
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, String>;

    /// Deletes up to [`DELETE_BATCH`] keys in one request. Keys that do not
    /// exist are not an error.
    async fn delete(&self, keys: &[String]) -> Result<(), String>;
}
