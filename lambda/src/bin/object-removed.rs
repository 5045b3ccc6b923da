//! Lambda: S3 `ObjectRemoved:*` -> the item is removed (a tombstone remains).
//!
//! The SDK calls it makes, for its IAM policy: `handlers::ingest::OBJECT_REMOVED_IAM`
//! (`media_query_lambda::iam`, checked against template.yaml).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::ColdStart;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cold = ColdStart::load().await?;
    let labeler = cold.rekognition();
    let (cold, labeler) = (&cold, &labeler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = handle_s3_event(
            Role::Removed,
            &cold.config,
            &cold.store,
            labeler,
            &event.payload,
        )
        .await?;
        outcome.emit_metrics();
        Ok::<_, Error>(serde_json::to_value(outcome)?)
    }))
    .await
}
