//! Lambda: keeps the snapshots current.
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

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_domain::stream::parse_batch;
use media_query_lambda::handlers::export::{
    write_snapshot, ExportError, ExportTarget, SORT_CHUNK_BYTES,
};
use media_query_lambda::handlers::serving::{apply_changes, current_states, publish_export};
use media_query_lambda::ColdStart;
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ColdStart { config, sdk, store } = ColdStart::load().await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let target = ExportTarget {
        bucket: config.export_bucket.clone().ok_or(ExportError::NoBucket)?,
        prefix: config.export_prefix.clone(),
        table_arn: format!("arn:aws:dynamodb:{region}::table/{}", config.table),
        gc_grace_seconds: config.snapshot_gc_grace_seconds,
    };
    let bucket = target.s3_bucket(&aws_sdk_s3::Client::new(&sdk));
    let (store, s3, target) = (&store, &bucket, &target);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let payload = event.payload;
        if let Some(summary_key) = payload.get("fromExport").and_then(Value::as_str) {
            let (published, _) = publish_export(s3, target, summary_key, SORT_CHUNK_BYTES).await?;
            return Ok::<_, Error>(json!({
                "fromExport": summary_key,
                "version": published.manifest.version,
                "itemCount": published.manifest.item_count,
            }));
        }
        if payload.get("Records").is_some() {
            // A stream batch: malformed records fail the invocation, so
            // Lambda retries it and then sends it to the on-failure queue.
            let changes = parse_batch(&payload)?;
            let latest = current_states(store, changes.latest.into_keys()).await?;
            if let Some(p) = apply_changes(&latest, s3, target).await? {
                return Ok(json!({
                    "streamRecords": changes.records,
                    "version": p.manifest.version,
                    "itemCount": p.manifest.item_count,
                    "objectsWritten": p.objects_written,
                    "bytesWritten": p.bytes_written,
                }));
            }
        }
        let (pointer, published) = write_snapshot(store, s3, target).await?;
        tracing::info!(items = pointer.item_count, "full export done");
        let drift = published.drift.unwrap_or_default();
        Ok::<_, Error>(json!({
            "manifestSummaryKey": pointer.manifest_summary_key,
            "itemCount": pointer.item_count,
            "version": published.manifest.version,
            "drift": {"missing": drift.missing, "extra": drift.extra, "changed": drift.changed},
            "skipped": published.skipped,
        }))
    }))
    .await
}
