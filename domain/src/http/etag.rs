//! `ETag`s and `If-None-Match`. A snapshot answer's `ETag` is derived
//! from the snapshot version (itself a hash of the content) and the
//! canonical request, so a conditional request is answered 304 before any
//! shard is read; answers from DynamoDB hash their (small) body instead.

use crate::serving::content_hash;

/// The `ETag` of an answer from DynamoDB: a hash of its body.
pub(super) fn body_etag(body: &str) -> String {
    format!("\"{}\"", &content_hash(body.as_bytes())[..24])
}

/// The `ETag` of a snapshot answer: the version and the canonical request.
pub(super) fn snapshot_etag(version: &str, request: &str) -> String {
    format!("\"{version}-{}\"", &content_hash(request.as_bytes())[..12])
}

/// Whether `If-None-Match` names `etag` (weakly compared, RFC 9110 13.1.2).
pub(super) fn matches_etag(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|inm| {
        inm.split(',').any(|t| {
            let t = t.trim();
            t == etag || t.strip_prefix("W/") == Some(etag)
        })
    })
}

/// Whether `If-None-Match` is `*`: it matches any current representation,
/// so only a resource that exists (RFC 9110 13.1.2: a name that does not
/// exist is still a 404).
pub(super) fn matches_any(if_none_match: Option<&str>) -> bool {
    if_none_match.is_some_and(|inm| inm.split(',').any(|t| t.trim() == "*"))
}
