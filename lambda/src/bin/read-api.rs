//! Lambda: the read API behind API Gateway (HTTP API) or a function URL.

use lambda_http::{service_fn, Body, Error, Request, Response};
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::ColdStart;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cold = ColdStart::load().await?;
    let bucket = SnapshotBucket::new(
        aws_sdk_s3::Client::new(&cold.sdk),
        cold.config.export_bucket.clone(),
    );
    let api = &ReadApi::new(
        &cold.store,
        bucket,
        &cold.config.export_prefix,
        cold.config.snapshot_ttl_seconds,
    );
    lambda_http::run(service_fn(move |req: Request| async move {
        let if_none_match = req
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok());
        // The path as sent, still URL-encoded: names may contain `/` and `%2F`.
        let r = api
            .respond(
                req.method().as_str(),
                req.uri().path(),
                req.uri().query(),
                if_none_match,
            )
            .await;
        let mut builder = Response::builder().status(r.status);
        for (name, value) in r.headers {
            builder = builder.header(name, value);
        }
        Ok::<_, Error>(builder.body(Body::from(r.body))?)
    }))
    .await
}
