//! Lambda: writes the edge snapshot. Triggered by the table's stream (any
//! batch means "something changed"), on a schedule, or invoked on demand
//! with any payload. Invoked with `{"fromExport": "<key of a
//! manifest-summary.json>"}`, it builds the serving snapshot from that
//! export (for example a native `ExportTableToPointInTime` export in the
//! export bucket) instead of reading the table.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_lambda::handlers::export::{write_snapshot, ExportError, ExportTarget};
use media_query_lambda::handlers::serving::{export_items, publish_serving};
use media_query_lambda::ColdStart;
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ColdStart { config, sdk, store } = ColdStart::load().await?;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let target = ExportTarget {
        bucket: config.export_bucket.clone().ok_or(ExportError::NoBucket)?,
        prefix: config.export_prefix.clone(),
        table_arn: format!("arn:aws:dynamodb:{region}::table/{}", config.table),
    };
    let (store, s3, target) = (&store, &s3, &target);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if let Some(summary_key) = event.payload.get("fromExport").and_then(Value::as_str) {
            let items = export_items(s3, &target.bucket, summary_key).await?;
            let published = publish_serving(&items, s3, target).await?;
            return Ok::<_, Error>(json!({
                "fromExport": summary_key,
                "version": published.manifest.version,
                "itemCount": published.manifest.item_count,
            }));
        }
        // A stream batch is parsed to prove it is one; its records only
        // signal that the table changed.
        let changes = serde_json::from_value::<aws_lambda_events::event::dynamodb::Event>(event.payload)
            .map(|e| e.records.len())
            .ok();
        let pointer = write_snapshot(store, s3, target).await?;
        tracing::info!(stream_records = ?changes, items = pointer.item_count, "export done");
        Ok::<_, Error>(json!({"manifestSummaryKey": pointer.manifest_summary_key, "itemCount": pointer.item_count}))
    }))
    .await
}
