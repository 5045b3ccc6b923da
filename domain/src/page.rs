//! Pagination of `GET /`: `limit`, an opaque keyset `cursor`, and the
//! `Link: <...>; rel="next"` header (RFC 8288, as GitHub's API does).
//!
//! The body stays the workshop's JSON array, so workshop clients keep
//! working: without `limit`, an answer of up to [`MAX_LIMIT`] items comes
//! whole, and a longer one comes as its first page plus a `Link` header.
//!
//! The cursor is keyset-based: it carries the last name the previous page
//! *examined*, and the next page starts strictly after it. Pages therefore
//! stay correct while the table changes (nothing is skipped or repeated
//! because of an insert or delete elsewhere), and a cursor is valid across
//! snapshot versions and on either side (the edge or the Lambda).
//!
//! The cursor is opaque (base64url) and checked: it is bound to the query
//! it was issued for, and carries a checksum, so a truncated, edited or
//! foreign cursor is a 400 and never a silently wrong page. The checksum is
//! not a secret: a client that forges a cursor can only choose where a
//! page starts, which it can do with `startswith` anyway.

use crate::api::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The largest page, and the page size when `limit` is not given.
pub const MAX_LIMIT: usize = 1000;

const CURSOR_VERSION: u8 = 1;
const CURSOR_DOMAIN: &[u8] = b"media-query cursor/1";

/// What page of a list is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// Whether the client gave `limit` (it is then repeated in `Link`).
    pub explicit_limit: bool,
    /// Resume strictly after this name.
    pub after: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: MAX_LIMIT,
            explicit_limit: false,
            after: None,
        }
    }
}

impl PageRequest {
    /// Parses `limit` (an integer from 1 to [`MAX_LIMIT`]).
    pub fn parse_limit(v: &str) -> Result<usize, ApiError> {
        v.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n) && !v.starts_with('+') && !v.starts_with('0'))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid limit '{v}'; expected an integer from 1 to {MAX_LIMIT}"
                ))
            })
    }
}

fn query_tag(canonical_query: &str) -> [u8; 4] {
    let d = Sha256::digest(canonical_query.as_bytes());
    [d[0], d[1], d[2], d[3]]
}

fn checksum(body: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(CURSOR_DOMAIN);
    h.update(body);
    let d = h.finalize();
    d[..8].try_into().expect("8 bytes")
}

/// The opaque cursor that resumes `canonical_query` after `last_name`.
pub fn encode_cursor(canonical_query: &str, last_name: &str) -> String {
    let mut body = vec![CURSOR_VERSION];
    body.extend_from_slice(&query_tag(canonical_query));
    body.extend_from_slice(last_name.as_bytes());
    let sum = checksum(&body);
    body.extend_from_slice(&sum);
    URL_SAFE_NO_PAD.encode(body)
}

/// The name a cursor resumes after, if it is a valid cursor of this query.
pub fn decode_cursor(canonical_query: &str, cursor: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("Invalid cursor: {why}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad("not a cursor this API issued"))?;
    if bytes.len() < 1 + 4 + 8 || bytes[0] != CURSOR_VERSION {
        return Err(bad("not a cursor this API issued"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if checksum(body) != sum {
        return Err(bad("it was altered or truncated"));
    }
    if body[1..5] != query_tag(canonical_query) {
        return Err(bad(
            "it belongs to a different query; keep the other parameters as they were",
        ));
    }
    String::from_utf8(body[5..].to_vec()).map_err(|_| bad("not a cursor this API issued"))
}

/// The `Link` header announcing the next page.
pub fn next_link(canonical_query: &str, page: &PageRequest, last_name: &str) -> String {
    let mut q = String::from(canonical_query);
    let mut add = |k: &str, v: &str| {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(k);
        q.push('=');
        q.push_str(v);
    };
    if page.explicit_limit {
        add("limit", &page.limit.to_string());
    }
    add("cursor", &encode_cursor(canonical_query, last_name));
    format!("</?{q}>; rel=\"next\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_checked() {
        let c = encode_cursor("label=Dog", "café/dog.png");
        assert_eq!(decode_cursor("label=Dog", &c).unwrap(), "café/dog.png");
        assert!(decode_cursor("label=Cat", &c).is_err());
        assert!(decode_cursor("label=Dog", &c[..c.len() - 1]).is_err());
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap();
        bytes[6] ^= 1;
        assert!(decode_cursor("label=Dog", &URL_SAFE_NO_PAD.encode(bytes)).is_err());
        assert!(decode_cursor("", "!!").is_err());
        assert!(decode_cursor("", "").is_err());
    }

    #[test]
    fn limits() {
        for ok in ["1", "50", "1000"] {
            assert!(PageRequest::parse_limit(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "1001", "-1", "+5", "05", "1e3", "x", " 5"] {
            assert!(PageRequest::parse_limit(bad).is_err(), "{bad}");
        }
    }
}
