//! `read-api`: the workshop's `GET /` and `GET /{name}` behind API Gateway.
//!
//! A thin adapter over `domain::http::Responder`, the same responder (and
//! read engine) the edge Worker runs, so both answer byte for byte alike,
//! headers included. Reads come from the serving snapshot in S3, with a
//! bounded cache of decoded shards kept across invocations; the table is
//! read only as the fallback (a `GetItem` for a name the snapshot lacks, a
//! Scan when the snapshot cannot be read).

use crate::snapshot_bucket::SnapshotBucket;
use crate::store::MediaStore;
use crate::store::StoreError;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use media_query_domain::dynamo::Item;
use media_query_domain::engine::ReadEngine;
use media_query_domain::http::{ApiRequest, Reply, Responder, Settings};
use media_query_domain::ports::Table;
use media_query_domain::{ListQuery, MediaRecord};
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::warn;

/// Decoded shards one function instance may keep.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The media table as the responder's fallback.
struct StoreTable<'a, S>(&'a S);

impl<S: MediaStore> Table for StoreTable<'_, S> {
    async fn get_item(&self, name: &str) -> Result<Option<MediaRecord>, String> {
        match self.0.get(name).await {
            // A bad row is not served, and is not an outage either.
            Err(StoreError::Corrupt(why)) => {
                warn!(name, why, "not a media record; not served");
                Ok(None)
            }
            other => other.map_err(|e| e.to_string()),
        }
    }

    async fn scan_page(
        &self,
        query: &ListQuery,
        start: Option<Item>,
    ) -> Result<(Vec<MediaRecord>, Option<Item>), String> {
        self.0
            .list_page(query, start)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The SDK calls `read-api` makes through [`ReadApi`], for its IAM policy
/// ([`crate::iam`]): the serving snapshot, and the table as the fallback
/// (a name the snapshot lacks, a listing when it cannot be read). A call
/// added to this path goes here too.
pub const IAM: &[crate::iam::Call] = &[
    SnapshotBucket::GET,
    crate::store::DynamoStore::GET,
    crate::store::DynamoStore::SCAN,
];

/// The read API of one function instance.
pub struct ReadApi<'s, S> {
    responder: Responder,
    bucket: Option<SnapshotBucket>,
    store: &'s S,
}

impl<'s, S: MediaStore> ReadApi<'s, S> {
    /// Serving from the snapshot under `prefix` in `bucket`, re-checked
    /// every `ttl_seconds` (also the answers' `max-age`).
    pub fn new(store: &'s S, bucket: SnapshotBucket, prefix: &str, ttl_seconds: u64) -> Self {
        ReadApi {
            responder: Responder::new(
                ReadEngine::new(prefix, ttl_seconds as f64 * 1000.0, CACHE_BYTES),
                Settings {
                    max_age_seconds: ttl_seconds,
                    ..Settings::default()
                },
            ),
            bucket: Some(bucket),
            store,
        }
    }

    /// Serving from the table alone (no snapshot configured): the Scan is
    /// then the way to answer, not a fallback, so it is not rate-limited.
    pub fn table_only(store: &'s S) -> Self {
        let settings = Settings {
            scan_fallbacks_per_second: f64::INFINITY,
            scan_fallback_max_pages: usize::MAX,
            ..Settings::default()
        };
        ReadApi {
            responder: Responder::new(ReadEngine::new("", 0.0, 0), settings),
            bucket: None,
            store,
        }
    }

    pub fn responder(&self) -> &Responder {
        &self.responder
    }

    /// The answer to one request as `lambda_http` hands it over, from
    /// API Gateway (REST or HTTP API) or a function URL.
    pub async fn respond_to(&self, req: &Request) -> Reply {
        let if_none_match = req
            .headers()
            .get("if-none-match")
            .and_then(|v| v.to_str().ok());
        self.respond(
            req.method().as_str(),
            &request_path(req),
            req.uri().query(),
            if_none_match,
        )
        .await
    }

    pub async fn respond(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: Option<&str>,
        if_none_match: Option<&str>,
    ) -> Reply {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as f64;
        let request = ApiRequest {
            method,
            raw_path,
            raw_query,
            if_none_match,
        };
        let table = StoreTable(self.store);
        let reply = match &self.bucket {
            Some(bucket) => self.responder.handle(bucket, &table, request, now_ms).await,
            None => {
                self.responder
                    .handle(&NoSnapshot, &table, request, now_ms)
                    .await
            }
        };
        for line in &reply.log {
            warn!(method, path = raw_path, "{line}");
        }
        reply
    }
}

/// The request's path, URL-encoded once, as the responder decodes it (with
/// `api::name_from_path`, exactly once).
///
/// What the event holds depends on what invoked the function:
/// * API Gateway's HTTP API (payload 2.0, `template.yaml`) hands the path
///   over already decoded, in `rawPath` and in the `{name+}` route's
///   `pathParameters`. `lambda_http` re-encodes `rawPath` for the URI, but
///   only the characters a URL cannot hold (space, non-ASCII): a decoded
///   `%`, `#` or `?` stays, so decoding the URI's path would answer
///   `100%.jpg` with a 400, find `50%off.png` for `50%25off.png`, and cut
///   `hash#tag.jpg` and `what?.jpg` short. So the name is taken from
///   `pathParameters` and encoded here.
/// * A function URL, or `cargo lambda watch`, passes `rawPath` on as sent,
///   still encoded; the URI's path is that path.
/// * The REST API passes `path` on as sent too, but `lambda_http` puts the
///   stage in front of it in the URI, so it is read from the event as is.
pub fn request_path(req: &Request) -> Cow<'_, str> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(_)) => {
            match req.path_parameters_ref().and_then(|p| p.first("name")) {
                Some(name) if !name.is_empty() => Cow::Owned(path_of_name(name)),
                _ => Cow::Borrowed(req.uri().path()),
            }
        }
        Some(RequestContext::ApiGatewayV1(_)) => Cow::Borrowed(req.raw_http_path()),
        _ => Cow::Borrowed(req.uri().path()),
    }
}

/// The path `/{name}` for a decoded `name`, so that `api::name_from_path`
/// gives `name` back.
fn path_of_name(name: &str) -> String {
    format!("/{}", media_query_domain::api::encode_path(name))
}

/// The Lambda response of a reply.
pub fn http_response(reply: Reply) -> Result<Response<Body>, lambda_http::http::Error> {
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(reply.body))
}

/// The object store when no snapshot is configured.
struct NoSnapshot;

impl media_query_domain::ports::ObjectStore for NoSnapshot {
    async fn get(
        &self,
        _key: &str,
        _if_none_match: Option<&str>,
    ) -> Result<media_query_domain::ports::Fetched, String> {
        Err("no snapshot is configured (SNAPSHOT_BUCKET is not set)".into())
    }
}

/// One answer from the table alone, as a function without a snapshot
/// gives it.
pub async fn respond<S: MediaStore>(
    store: &S,
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
) -> Reply {
    ReadApi::table_only(store)
        .respond(method, raw_path, raw_query, None)
        .await
}

#[cfg(test)]
mod tests {
    use super::path_of_name;
    use media_query_domain::api::name_from_path;

    #[test]
    fn names_come_back_from_their_paths() {
        for name in [
            "sample.jpg",
            "dog photo.jpg",
            "holiday/2024/beach.jpeg",
            "café.png",
            "a+b.png",
            "100%.jpg",
            "50%25off.png",
            "hash#tag?.jpg",
            "日本🐶.jpg",
        ] {
            assert_eq!(name_from_path(&path_of_name(name)).unwrap(), name);
        }
        assert_eq!(path_of_name("dog photo+1.jpg"), "/dog%20photo%2B1.jpg");
    }
}
