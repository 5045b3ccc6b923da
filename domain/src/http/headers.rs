//! The headers of each kind of answer: what every answer carries (content
//! type, CORS, `nosniff`), errors (`no-store`, `Allow` on a 405,
//! `Retry-After` on a 503), a 200 with its `ETag` and caching headers,
//! the 304 that repeats them, and the edge's 500 when it is misconfigured.

use super::request::{AnswerSource, Reply};
use crate::api::{ApiError, JSON_CONTENT_TYPE};

/// The methods the API answers (`Allow`, and CORS preflights).
pub(super) const ALLOWED: &str = "GET, HEAD, OPTIONS";

/// What every answer carries: the content type, CORS and `nosniff`.
pub(super) fn base(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type", JSON_CONTENT_TYPE.to_string()),
            ("access-control-allow-origin", "*".to_string()),
            (
                "access-control-expose-headers",
                "ETag, Link, X-Media-Source".to_string(),
            ),
            ("x-content-type-options", "nosniff".to_string()),
        ],
        body,
        log: Vec::new(),
        snapshot_version: None,
    }
}

/// An error: its Chalice-style body, never cached.
pub(super) fn error(e: &ApiError) -> Reply {
    let mut r = base(e.status, e.body());
    r.headers.push(("cache-control", "no-store".to_string()));
    if e.status == 405 {
        r.headers.push(("allow", ALLOWED.to_string()));
    }
    if e.status == 503 {
        r.headers
            .push(("retry-after", RETRY_AFTER_SECONDS.to_string()));
    }
    r
}

/// The edge Worker's answer to every request while its settings
/// (wrangler.toml, secrets) are missing or invalid: a 500 with only
/// `Content-Type`, no CORS or caching headers.
pub fn misconfigured() -> Reply {
    let e = ApiError::internal("The edge is misconfigured.");
    Reply {
        status: e.status,
        headers: vec![("content-type", JSON_CONTENT_TYPE.to_string())],
        body: e.body(),
        log: Vec::new(),
        snapshot_version: None,
    }
}

/// `Retry-After` of a 503: the snapshot is re-checked, and the Scan
/// fallback refilled, within about this long.
const RETRY_AFTER_SECONDS: u64 = 5;

/// A 200, with its `ETag` and caching headers.
pub(super) fn ok(body: String, source: AnswerSource, etag: String, max_age: u64) -> Reply {
    let mut r = base(200, body);
    r.headers.push(("etag", etag));
    r.headers
        .push(("x-media-source", source.as_str().to_string()));
    let age = if source == AnswerSource::Snapshot {
        max_age
    } else {
        0
    };
    r.headers
        .push(("cache-control", format!("public, max-age={age}")));
    r
}

/// A 304: the `ETag` and `Cache-Control` the 200 would have carried (RFC
/// 9110 15.4.5), so caches refresh what they hold; no body.
pub(super) fn not_modified(etag: String, source: AnswerSource, max_age: u64) -> Reply {
    let mut r = ok(String::new(), source, etag, max_age);
    r.status = 304;
    r.headers.retain(|(k, _)| *k != "x-media-source");
    r
}
