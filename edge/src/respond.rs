//! The read API at the edge: routing, sources and HTTP caching, with no
//! Worker types, so it runs natively in unit tests.
//!
//! Sources, in order:
//! * `GET /`: the snapshot; if it cannot be fetched or decoded, a paginated
//!   DynamoDB Scan with the domain's FilterExpression.
//! * `GET /{name}`: the snapshot; a name it lacks (or holds only as a
//!   tombstone or pending record) is checked with `GetItem`, so an item
//!   newer than the snapshot is found.
//! * Both failing is a 503 `ServiceUnavailableError`, never an empty list.
//!
//! Bodies come from `domain::api`, byte for byte what the Lambda answers.
//! `X-Media-Source` says which source answered. Every 200 carries an
//! `ETag` (a hash of the body) and `If-None-Match` gets a 304.

use crate::snapshot::{Snapshot, SnapshotError};
use media_query_domain::api::{self, ApiError, JSON_CONTENT_TYPE};
use media_query_domain::{ListQuery, MediaRecord};
use sha2::{Digest, Sha256};
use std::rc::Rc;

/// Where the data of an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Snapshot,
    DynamoDb,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Snapshot => "snapshot",
            Source::DynamoDb => "dynamodb",
        }
    }
}

/// The data sources behind the API.
#[allow(async_fn_in_trait)]
pub trait Backend {
    async fn snapshot(&self) -> Result<Rc<Snapshot>, SnapshotError>;
    async fn get_item(&self, name: &str) -> Result<Option<MediaRecord>, String>;
    async fn scan(&self, query: &ListQuery) -> Result<Vec<MediaRecord>, String>;
    /// Where failures are reported (the Worker's console).
    fn log_error(&self, message: &str);
}

/// An incoming request, reduced to what the API reads.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The path as sent, still URL-encoded.
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

const ALLOWED: &str = "GET, HEAD, OPTIONS";

fn base(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type", JSON_CONTENT_TYPE.to_string()),
            ("access-control-allow-origin", "*".to_string()),
            (
                "access-control-expose-headers",
                "ETag, X-Media-Source".to_string(),
            ),
        ],
        body,
    }
}

fn error(e: &ApiError) -> Reply {
    let mut r = base(e.status, e.body());
    r.headers.push(("cache-control", "no-store".to_string()));
    if e.status == 405 {
        r.headers.push(("allow", ALLOWED.to_string()));
    }
    r
}

fn ok(body: String, source: Source, max_age: u64) -> Reply {
    let mut r = base(200, body);
    let digest = Sha256::digest(r.body.as_bytes());
    let etag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    r.headers.push(("etag", format!("\"{etag}\"")));
    r.headers
        .push(("x-media-source", source.as_str().to_string()));
    let age = if source == Source::Snapshot {
        max_age
    } else {
        0
    };
    r.headers
        .push(("cache-control", format!("public, max-age={age}")));
    r
}

/// Answers one request.
pub async fn handle<B: Backend>(backend: &B, req: ApiRequest<'_>, max_age: u64) -> Reply {
    let mut reply = match req.method {
        "GET" | "HEAD" => match route(backend, &req, max_age).await {
            Ok(r) => r,
            Err(e) => error(&e),
        },
        "OPTIONS" => {
            let mut r = base(204, String::new());
            r.headers
                .push(("access-control-allow-methods", ALLOWED.to_string()));
            r.headers
                .push(("access-control-allow-headers", "If-None-Match".to_string()));
            r.headers
                .push(("access-control-max-age", "86400".to_string()));
            r
        }
        other => error(&ApiError::method_not_allowed(other)),
    };
    if reply.status == 200 {
        let etag = reply.header("etag").map(str::to_string);
        if let (Some(etag), Some(inm)) = (etag, req.if_none_match) {
            if inm.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
                reply.status = 304;
                reply.body.clear();
            }
        }
    }
    if req.method == "HEAD" {
        reply.body.clear();
    }
    reply
}

async fn route<B: Backend>(
    backend: &B,
    req: &ApiRequest<'_>,
    max_age: u64,
) -> Result<Reply, ApiError> {
    if req.raw_path.is_empty() || req.raw_path == "/" {
        let query = ListQuery::from_query_string(req.raw_query.unwrap_or(""))?;
        return list(backend, &query, max_age).await;
    }
    let name = api::name_from_path(req.raw_path)?;
    item(backend, &name, max_age).await
}

async fn list<B: Backend>(backend: &B, query: &ListQuery, max_age: u64) -> Result<Reply, ApiError> {
    let snapshot_error = match backend.snapshot().await {
        Ok(s) => {
            return Ok(ok(
                api::list_body(&query.select(s.records())),
                Source::Snapshot,
                max_age,
            ))
        }
        Err(e) => e,
    };
    backend.log_error(&format!(
        "snapshot unavailable, scanning DynamoDB: {snapshot_error}"
    ));
    match backend.scan(query).await {
        Ok(records) => Ok(ok(
            api::list_body(&query.select(&records)),
            Source::DynamoDb,
            max_age,
        )),
        Err(scan_error) => {
            backend.log_error(&format!("DynamoDB Scan failed: {scan_error}"));
            Err(ApiError::service_unavailable(
                "Neither the snapshot nor DynamoDB could answer; try again later",
            ))
        }
    }
}

async fn item<B: Backend>(backend: &B, name: &str, max_age: u64) -> Result<Reply, ApiError> {
    let snapshot = backend.snapshot().await;
    if let Ok(s) = &snapshot {
        if let Some(r) = s.get(name).filter(|r| r.is_visible()) {
            return Ok(ok(
                api::item_body(&r.to_media_item()),
                Source::Snapshot,
                max_age,
            ));
        }
    }
    match backend.get_item(name).await {
        Ok(Some(r)) if r.is_visible() => Ok(ok(
            api::item_body(&r.to_media_item()),
            Source::DynamoDb,
            max_age,
        )),
        Ok(_) => Err(ApiError::not_found(name)),
        Err(e) => {
            backend.log_error(&format!("DynamoDB GetItem failed: {e}"));
            match snapshot {
                // The snapshot answered (without the item): a 404 is still the truth it knows.
                Ok(_) => Err(ApiError::not_found(name)),
                Err(_) => Err(ApiError::service_unavailable(
                    "Neither the snapshot nor DynamoDB could answer; try again later",
                )),
            }
        }
    }
}
