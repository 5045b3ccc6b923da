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
use media_query_domain::engine::ReadEngine;
use media_query_domain::http::{ApiRequest, Reply, Responder, Settings, Table};
use media_query_domain::{ListQuery, MediaRecord};
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

    async fn scan(&self, query: &ListQuery) -> Result<Vec<MediaRecord>, String> {
        self.0.list(query).await.map_err(|e| e.to_string())
    }
}

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

/// The object store when no snapshot is configured.
struct NoSnapshot;

impl media_query_domain::engine::ObjectStore for NoSnapshot {
    async fn get(
        &self,
        _key: &str,
        _if_none_match: Option<&str>,
    ) -> Result<media_query_domain::engine::Fetched, String> {
        Err("no snapshot is configured (EXPORT_BUCKET is not set)".into())
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
