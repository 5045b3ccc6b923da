//! The rules of media-query, with no I/O and no async runtime.
//!
//! Everything that decides *what* the system does lives here, so that the
//! AWS Lambdas (native) and the Cloudflare Worker (wasm32) share one
//! implementation and cannot drift apart:
//!
//! * [`media`]: which object keys are images or videos.
//! * [`record`]: the stored media record, its visibility and the event
//!   ordering rule that keeps retried or reordered events harmless.
//! * [`dynamo`]: the DynamoDB JSON codec (`{"S": ...}`), used by the HTTP API
//!   and by DynamoDB's S3 export files.
//! * [`export`]: DynamoDB's export layout (`ExportTableToPointInTime`), which
//!   the export writer also produces and the index builder reads.
//! * [`serving`]: the serving snapshot, the table sharded for queries.
//! * [`engine`]: the read engine over it, used by the edge and the Lambda.
//! * [`page`]: `limit`, the keyset `cursor` and the `Link` header.
//! * [`http`]: the one HTTP responder of the read API, for both sides.
//! * [`s3_event`] and [`video_job`]: parsing of the events that drive ingest;
//!   [`stream`]: the table's DynamoDB Streams batches.
//! * [`labels`]: turning Rekognition answers into a label list.
//! * [`query`]: the `GET /` filters, both as an in-memory predicate and as a
//!   DynamoDB Scan `FilterExpression` with identical semantics.
//! * [`api`]: response bodies and Chalice-style errors.
//! * [`worker_settings`]: the names of the Worker's settings, which its
//!   `Config::from_env` reads and the deploy wiring sets;
//!   [`renamed`]: settings that were renamed.
//!
//! The test vectors in `domain/vectors/` are run by the native tests and by
//! the same tests compiled to wasm32, which is what keeps the edge and AWS
//! answering alike.

pub mod api;
pub mod dynamo;
pub mod engine;
pub mod export;
pub mod hex;
pub mod http;
pub mod labels;
pub mod media;
pub mod page;
pub mod ports;
pub mod query;
pub mod record;
pub mod renamed;
pub mod retry;
pub mod s3_event;
pub mod serving;
pub mod stream;
pub mod time;
pub mod video_job;
pub mod worker_settings;

pub use api::ApiError;
pub use media::MediaType;
pub use query::ListQuery;
pub use record::{MediaItem, MediaRecord, OrderKey, RecordStatus};
