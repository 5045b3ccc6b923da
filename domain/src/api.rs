//! Response bodies of the read API, shared by the Lambda and the Worker.
//!
//! Errors use Chalice's shape, `{"Code": ..., "Message": "<Code>: <text>"}`,
//! with the workshop's exact 404 for a missing item.

use crate::record::MediaItem;
use crate::s3_event::{decode_key, KeyDecodeError};
use serde::{Deserialize, Serialize};

/// `Content-Type` of every API response.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// An API error: an HTTP status and a Chalice-style body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{status} {message}")]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Message")]
    pub message: String,
}

/// The `Code` of an error body, with its HTTP status: the one place both
/// are spelt. [`ApiError`]'s constructors take nothing else, so these are
/// every code the API can answer; `domain/tests/openapi.rs` holds
/// openapi.yaml's `Error` schema and error responses to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    BadRequest,
    NotFound,
    MethodNotAllowed,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    /// The `Code` of the body, which also starts its `Message`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BadRequestError",
            ErrorCode::NotFound => "NotFoundError",
            ErrorCode::MethodNotAllowed => "MethodNotAllowedError",
            ErrorCode::ServiceUnavailable => "ServiceUnavailableError",
            ErrorCode::Internal => "InternalServerError",
        }
    }

    /// The HTTP status an error with this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

impl ApiError {
    fn new(code: ErrorCode, text: impl AsRef<str>) -> ApiError {
        ApiError {
            status: code.status(),
            code: code.as_str().to_string(),
            message: format!("{}: {}", code.as_str(), text.as_ref()),
        }
    }

    /// 400, for a bad query or path.
    pub fn bad_request(text: impl AsRef<str>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, text)
    }

    /// 404, the workshop's exact body for a missing media file.
    pub fn not_found(name: &str) -> ApiError {
        ApiError::new(
            ErrorCode::NotFound,
            format!("Media file ({name}) not found"),
        )
    }

    /// 404 for a path that is no route at all.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(ErrorCode::NotFound, format!("No route for {path}"))
    }

    /// 405 for a method the API does not serve.
    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("Unsupported method: {method}"),
        )
    }

    /// 503 when no data source could answer.
    pub fn service_unavailable(text: impl AsRef<str>) -> ApiError {
        ApiError::new(ErrorCode::ServiceUnavailable, text)
    }

    /// 500; the text should not leak internals.
    pub fn internal(text: impl AsRef<str>) -> ApiError {
        ApiError::new(ErrorCode::Internal, text)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("errors always serialise")
    }
}

/// The JSON body of `GET /{name}`.
pub fn item_body(item: &MediaItem) -> String {
    serde_json::to_string(item).expect("items always serialise")
}

/// The JSON body of `GET /`.
pub fn list_body(items: &[MediaItem]) -> String {
    serde_json::to_string(items).expect("items always serialise")
}

/// What a URL path leaves unencoded: the unreserved characters and `/`.
/// Everything else is `%XX`-encoded, a space too (`+` in a path is a plus).
const PATH_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// `text` encoded for a URL path, segments kept apart by its `/`: an S3
/// key in a request URL, or a name in the path that
/// [`name_from_path`] turns back into it.
pub fn encode_path(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, PATH_ESCAPED).to_string()
}

/// The media name addressed by a request path such as `/my%20photo.jpg`.
///
/// Everything after the leading `/` is the name, `/` included, so keys in
/// "folders" work. Percent escapes are decoded as UTF-8; `+` stays a plus,
/// as in any URL path. An empty name is not a `GET /{name}` request.
pub fn name_from_path(path: &str) -> Result<String, ApiError> {
    let raw = path.strip_prefix('/').unwrap_or(path);
    let bad = || ApiError::bad_request(format!("Path '{path}' is not valid URL encoding"));
    // `decode_key` treats `+` as a space; paths keep it literal.
    let protected = raw.replace('+', "%2B");
    match decode_key(&protected) {
        Ok(name) => Ok(name),
        Err(KeyDecodeError::Empty) => Err(ApiError::bad_request("Empty media name")),
        Err(_) => Err(bad()),
    }
}
