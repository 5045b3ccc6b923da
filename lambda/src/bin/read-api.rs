//! Lambda: the read API behind API Gateway (HTTP API) or a function URL.
//!
//! The SDK calls it makes, for its IAM policy: `handlers::api::IAM`
//! (`media_query_lambda::iam`, checked against template.yaml).

use lambda_http::{service_fn, Error, Request};
use media_query_lambda::handlers::api::{http_response, ReadApi};
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::ColdStart;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cold = ColdStart::load().await?;
    // Without a snapshot bucket the table is the only source.
    let api = &match &cold.config.snapshot_bucket {
        Some(b) => ReadApi::new(
            &cold.store,
            SnapshotBucket::new(aws_sdk_s3::Client::new(&cold.sdk), Some(b.clone())),
            &cold.config.snapshot_prefix,
            cold.config.snapshot_ttl_seconds,
        ),
        None => ReadApi::table_only(&cold.store),
    };
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(http_response(api.respond_to(&req).await)?)
    }))
    .await
}
