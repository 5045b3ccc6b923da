//! Lambda: keeps the serving snapshot current. The three jobs and how an
//! event picks one are in `handlers::snapshot_writer`:
//!
//! * A batch of the table's stream: the current state of each changed item
//!   (a consistent read each) is applied to the serving snapshot
//!   incrementally, merged into its delta or compacted into the shards
//!   around the changes (the first batch, with no snapshot yet, builds it
//!   in full).
//! * The hourly schedule, or any other payload: reconciliation, a full
//!   rebuild from a parallel Scan of the table, streamed and sorted within
//!   bounded memory, in DynamoDB's export layout and as the serving
//!   snapshot, which is published if the incrementally kept one differs
//!   (the drift is logged and counted).
//! * `{"fromExport": "<key of a manifest-summary.json>"}`: the serving
//!   snapshot built from that export (for example a native
//!   `ExportTableToPointInTime` export in the export bucket); an
//!   incremental export's changes are applied to the published snapshot.
//!
//! The SDK calls it makes, for its IAM policy: `handlers::snapshot_writer::IAM`
//! (`media_query_lambda::iam`, checked against template.yaml).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_lambda::handlers::snapshot_writer::handle;
use media_query_lambda::handlers::writer::{SnapshotTarget, WriterError};
use media_query_lambda::ColdStart;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ColdStart { config, sdk, store } = ColdStart::load().await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let target = SnapshotTarget {
        bucket: config
            .snapshot_bucket
            .clone()
            .ok_or(WriterError::NoBucket)?,
        prefix: config.snapshot_prefix.clone(),
        table_arn: format!("arn:aws:dynamodb:{region}::table/{}", config.table),
        gc_grace_seconds: config.snapshot_gc_grace_seconds,
    };
    let bucket = target.s3_bucket(&aws_sdk_s3::Client::new(&sdk));
    let (store, bucket, target) = (&store, &bucket, &target);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handle(&event.payload, store, bucket, target).await?)
    }))
    .await
}
