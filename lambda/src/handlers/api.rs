//! `read-api`: the workshop's `GET /` and `GET /{name}` behind API Gateway.
//!
//! Independent of the HTTP library: [`respond`] maps a method, a raw
//! (still URL-encoded) path and query to a status, headers and a body, all
//! from `domain`, so the Worker and this function answer byte for byte
//! alike. `GET /` follows every Scan page (the workshop's single Scan
//! silently dropped everything past 1 MB).

use crate::store::MediaStore;
use media_query_domain::api::{self, ApiError, JSON_CONTENT_TYPE};
use media_query_domain::ListQuery;
use tracing::error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

const ALLOWED: &str = "GET, HEAD, OPTIONS";

fn response(status: u16, body: String) -> ApiResponse {
    ApiResponse {
        status,
        headers: vec![
            ("content-type", JSON_CONTENT_TYPE.to_string()),
            ("access-control-allow-origin", "*".to_string()),
        ],
        body,
    }
}

fn error_response(e: &ApiError) -> ApiResponse {
    let mut r = response(e.status, e.body());
    if e.status == 405 {
        r.headers.push(("allow", ALLOWED.to_string()));
    }
    r
}

pub async fn respond<S: MediaStore>(
    store: &S,
    method: &str,
    raw_path: &str,
    raw_query: Option<&str>,
) -> ApiResponse {
    let mut r = match method {
        "GET" | "HEAD" => match answer(store, raw_path, raw_query).await {
            Ok(body) => response(200, body),
            Err(e) => error_response(&e),
        },
        "OPTIONS" => {
            let mut r = response(204, String::new());
            r.headers
                .push(("access-control-allow-methods", ALLOWED.to_string()));
            r.headers
                .push(("access-control-allow-headers", "*".to_string()));
            r.headers
                .push(("access-control-max-age", "600".to_string()));
            r
        }
        other => error_response(&ApiError::method_not_allowed(other)),
    };
    if method == "HEAD" {
        r.body.clear();
    }
    r
}

async fn answer<S: MediaStore>(
    store: &S,
    raw_path: &str,
    raw_query: Option<&str>,
) -> Result<String, ApiError> {
    let internal = |e: crate::store::StoreError| {
        error!(error = %e, "store failed");
        ApiError::internal("An internal server error occurred.")
    };
    if raw_path.is_empty() || raw_path == "/" {
        let query = ListQuery::from_query_string(raw_query.unwrap_or(""))?;
        let records = store.list(&query).await.map_err(internal)?;
        return Ok(api::list_body(&query.select(&records)));
    }
    let name = api::name_from_path(raw_path)?;
    match store.get(&name).await.map_err(internal)? {
        Some(record) if record.is_visible() => Ok(api::item_body(&record.to_media_item())),
        _ => Err(ApiError::not_found(&name)),
    }
}
