//! Lambda: S3 `ObjectRemoved:*` -> the item is removed (a tombstone remains).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_lambda::config::Config;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::store::DynamoStore;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    media_query_lambda::init_tracing();
    let config = Config::from_env()?;
    let sdk = media_query_lambda::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
    let labeler = Rekognition::new(aws_sdk_rekognition::Client::new(&sdk));
    let (config, store, labeler) = (&config, &store, &labeler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome =
            handle_s3_event(Role::Removed, config, store, labeler, &event.payload).await?;
        Ok::<_, Error>(serde_json::to_value(outcome)?)
    }))
    .await
}
