//! Lambda: the read API behind API Gateway (HTTP API) or a function URL.

use lambda_http::{service_fn, Body, Error, Request, Response};
use media_query_lambda::config::Config;
use media_query_lambda::handlers::api::respond;
use media_query_lambda::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    media_query_lambda::init_tracing();
    let config = Config::from_env()?;
    let sdk = media_query_lambda::sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
    let store = &store;
    lambda_http::run(service_fn(move |req: Request| async move {
        // The path as sent, still URL-encoded: names may contain `/` and `%2F`.
        let r = respond(
            store,
            req.method().as_str(),
            req.uri().path(),
            req.uri().query(),
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
