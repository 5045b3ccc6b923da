//! Lambda: writes the edge snapshot. Triggered by the table's stream (any
//! batch means "something changed"), on a schedule, or invoked on demand
//! with any payload.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_lambda::handlers::export::{write_snapshot, ExportError, ExportTarget};
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
