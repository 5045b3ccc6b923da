//! The ports: every trait that stands between the rules and the outside
//! world, in one place, with who implements it. The rules (the read
//! engine, the responder, the snapshot's update and publishing) are
//! written against these; adapters live with the programs that run them.
//!
//! | port | what it is | implemented by |
//! |---|---|---|
//! | [`ObjectStore`] | the snapshot bucket, read: conditional GETs | `SnapshotBucket` (the Lambda's S3, `lambda/src/snapshot_bucket.rs`; the Worker's signed fetch, `edge/src/worker_glue.rs`), `S3Bucket`, files in the benchmarks, memory in tests |
//! | [`Bucket`] | the snapshot bucket, written: conditional PUTs, listing, batched deletes | `S3Bucket` (`lambda/src/s3_bucket.rs`), `LatencyBucket` (`bench/`), `MemoryBucket` (unit tests) |
//! | [`Table`] | the media table as the read API's fallback: `GetItem`, one Scan page | `MediaStore` in the Lambda (`lambda/src/store.rs`), the Worker's signed DynamoDB calls (`edge/`) |
//! | [`ShardLoader`] | one snapshot version's decoded objects | [`crate::engine::VersionLoader`] (through the read engine's cache) |
//! | [`ObjectSink`] | where an update's new objects go before the pointer moves | the export writer's `BucketSink` (`lambda/`), files in the benchmarks |

pub mod bucket;
mod object_store;
mod snapshot;
mod table;

pub use bucket::{Bucket, Condition, Listed, Put, PutMeta, DELETE_BATCH};
pub use object_store::{Fetched, ObjectStore};
pub use snapshot::{ObjectSink, ReadError, ShardLoader};
pub use table::Table;
