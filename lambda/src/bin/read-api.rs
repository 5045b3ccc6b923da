//! Lambda: the read API behind API Gateway (HTTP API) or a function URL.

use lambda_http::{service_fn, Body, Error, Request, Response};
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::ColdStart;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cold = ColdStart::load().await?;
    // Without a snapshot bucket the table is the only source.
    let api = &match &cold.config.export_bucket {
        Some(b) => ReadApi::new(
            &cold.store,
            SnapshotBucket::new(aws_sdk_s3::Client::new(&cold.sdk), Some(b.clone())),
            &cold.config.export_prefix,
            cold.config.snapshot_ttl_seconds,
        ),
        None => ReadApi::table_only(&cold.store),
    };
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
