//! Lambda: the read API behind API Gateway (HTTP API) or a function URL.

use lambda_http::{service_fn, Body, Error, Request, Response};
use media_query_lambda::handlers::api::respond;
use media_query_lambda::ColdStart;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cold = ColdStart::load().await?;
    let store = &cold.store;
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
