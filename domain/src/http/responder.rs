//! The responder: routes a request, answers it from the snapshot, and
//! falls back to the table when the snapshot cannot answer (see the
//! module's documentation for the order of things).

use super::etag::{body_etag, matches_any, matches_etag, snapshot_etag};
use super::headers::{base, error, not_modified, ok, ALLOWED};
use super::misses::Misses;
use super::rate_limit::TokenBucket;
use super::request::{AnswerSource, ApiRequest, Reply};
use super::scan_fallback::scan_pages;
use super::settings::Settings;
use crate::api::{self, ApiError};
use crate::engine::{ListPage, ReadEngine};
use crate::page::next_link;
use crate::ports::{ObjectStore, ReadError, Table};
use crate::query::ListRequest;
use crate::serving::manifest::Manifest;
use std::sync::Mutex;

const UNAVAILABLE: &str = "Neither the snapshot nor DynamoDB could answer; try again later";

/// The read API of one isolate or process: the engine, its caches, the
/// settings.
#[derive(Debug)]
pub struct Responder {
    pub engine: ReadEngine,
    pub settings: Settings,
    misses: Mutex<Misses>,
    scans: Mutex<TokenBucket>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Responder {
    /// What a snapshot answer says of its snapshot: `Last-Modified`, when
    /// the version was published (with `Date`, the snapshot's age; the
    /// same bytes from the edge and the Lambda), and, from a manifest whose
    /// refresh failed, how long it has been served stale (`Age`).
    fn describe_snapshot(&self, r: &mut Reply, m: &Manifest, now_ms: f64) {
        r.snapshot_version = Some(m.version.clone());
        if let Some(ms) = crate::time::parse_iso8601_millis(&m.created_at) {
            r.headers
                .push(("last-modified", crate::time::http_date(ms)));
        }
        self.mark_stale(r, now_ms);
    }

    /// A snapshot answer from a manifest whose refresh failed says how old
    /// it is (`Age`), and the failure is logged.
    fn mark_stale(&self, r: &mut Reply, now_ms: f64) {
        if let Some(age) = self.engine.stale_age_seconds(now_ms) {
            r.headers.push(("age", age.to_string()));
            r.log.push(format!(
                "the snapshot could not be re-checked; serving the last good version, {age} s old"
            ));
        }
    }

    pub fn new(engine: ReadEngine, settings: Settings) -> Responder {
        Responder {
            engine,
            settings,
            misses: Mutex::new(Misses::new()),
            scans: Mutex::new(TokenBucket::new()),
        }
    }

    /// Answers one request.
    pub async fn handle<S: ObjectStore, T: Table>(
        &self,
        store: &S,
        table: &T,
        req: ApiRequest<'_>,
        now_ms: f64,
    ) -> Reply {
        let mut reply = match req.method {
            "GET" | "HEAD" => match self.route(store, table, &req, now_ms).await {
                Ok(r) => r,
                Err((e, log)) => {
                    let mut r = error(&e);
                    r.log = log;
                    r
                }
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
        if req.method == "HEAD" {
            reply.body.clear();
        }
        reply
    }

    async fn route<S: ObjectStore, T: Table>(
        &self,
        store: &S,
        table: &T,
        req: &ApiRequest<'_>,
        now_ms: f64,
    ) -> Result<Reply, (ApiError, Vec<String>)> {
        if req.raw_path.is_empty() || req.raw_path == "/" {
            let list = ListRequest::from_query_string(req.raw_query.unwrap_or(""))
                .map_err(|e| (e, vec![]))?;
            return self
                .list(store, table, &list, req.if_none_match, now_ms)
                .await;
        }
        let name = api::name_from_path(req.raw_path).map_err(|e| (e, vec![]))?;
        self.item(store, table, &name, req.if_none_match, now_ms)
            .await
    }

    async fn list<S: ObjectStore, T: Table>(
        &self,
        store: &S,
        table: &T,
        list: &ListRequest,
        if_none_match: Option<&str>,
        now_ms: f64,
    ) -> Result<Reply, (ApiError, Vec<String>)> {
        let canonical = list.query.canonical();
        let max_age = self.settings.max_age_seconds;
        let link = |page: &ListPage, r: &mut Reply| {
            if let Some(after) = &page.next_after {
                r.headers
                    .push(("link", next_link(&canonical, &list.page, after)));
            }
        };
        let mut snapshot_error = None;
        // At most twice: again after re-checking the pointer, when an
        // object the manifest names has gone.
        for _attempt in 0..2 {
            let m = match self.engine.manifest(store, now_ms).await {
                Ok(m) => m,
                Err(e) => {
                    snapshot_error = Some(e);
                    break;
                }
            };
            // Everything the answer depends on: the Link repeats `limit`
            // only when the client gave it.
            let request = format!(
                "list?{canonical}&limit={}&explicit={}&after={}",
                list.page.limit,
                list.page.explicit_limit,
                list.page.after.as_deref().unwrap_or("")
            );
            let etag = snapshot_etag(&m.version, &request);
            if matches_etag(if_none_match, &etag) || matches_any(if_none_match) {
                return Ok(not_modified(etag, AnswerSource::Snapshot, max_age));
            }
            match self.engine.list(store, &m, &list.query, &list.page).await {
                Ok(page) => {
                    let mut r = ok(page.body(), AnswerSource::Snapshot, etag, max_age);
                    link(&page, &mut r);
                    self.describe_snapshot(&mut r, &m, now_ms);
                    return Ok(r);
                }
                Err(e) => {
                    let moved_on = self.gone(&e) && self.engine.recheck(store, now_ms).await;
                    snapshot_error = Some(e);
                    if !moved_on {
                        break;
                    }
                }
            }
        }
        let snapshot_error = snapshot_error.expect("the loop ends with an answer or an error");
        let mut log = vec![format!(
            "snapshot unavailable, scanning DynamoDB: {snapshot_error}"
        )];
        let rate = self.settings.scan_fallbacks_per_second;
        if !lock(&self.scans).take(rate, now_ms) {
            log.push("Scan fallbacks over their rate".into());
            return Err((ApiError::service_unavailable(UNAVAILABLE), log));
        }
        let max_pages = self.settings.scan_fallback_max_pages;
        let page = match scan_pages(table, &list.query, &list.page, max_pages).await {
            Ok(page) => page,
            Err(why) => {
                log.push(why);
                return Err((ApiError::service_unavailable(UNAVAILABLE), log));
            }
        };
        let body = page.body();
        let etag = body_etag(&body);
        if matches_etag(if_none_match, &etag) || matches_any(if_none_match) {
            return Ok(not_modified(etag, AnswerSource::DynamoDb, max_age));
        }
        let mut r = ok(body, AnswerSource::DynamoDb, etag, max_age);
        link(&page, &mut r);
        r.log = log;
        Ok(r)
    }

    /// Whether a read failed because an object the manifest names is not
    /// there (not the pointer itself).
    /// (Only the pointer's read, in [`ReadEngine::manifest`], can miss
    /// the pointer; a list or a lookup reads objects.)
    fn gone(&self, e: &ReadError) -> bool {
        matches!(e, ReadError::Missing(_))
    }

    async fn item<S: ObjectStore, T: Table>(
        &self,
        store: &S,
        table: &T,
        name: &str,
        if_none_match: Option<&str>,
        now_ms: f64,
    ) -> Result<Reply, (ApiError, Vec<String>)> {
        let max_age = self.settings.max_age_seconds;
        let mut log = Vec::new();
        let mut snapshot_answered = false;
        // At most twice: again after re-checking the pointer, when an
        // object the manifest names has gone.
        for _attempt in 0..2 {
            let m = match self.engine.manifest(store, now_ms).await {
                Ok(m) => m,
                Err(e) => {
                    log.push(format!("snapshot unavailable for GET /{{name}}: {e}"));
                    break;
                }
            };
            let etag = snapshot_etag(&m.version, &format!("item/{name}"));
            // The version is a hash of the content: a matching ETag means
            // this version still has the item.
            if matches_etag(if_none_match, &etag) {
                return Ok(not_modified(etag, AnswerSource::Snapshot, max_age));
            }
            match self.engine.get(store, &m, name).await {
                Ok(Some(_)) if matches_any(if_none_match) => {
                    return Ok(not_modified(etag, AnswerSource::Snapshot, max_age));
                }
                Ok(Some(json)) => {
                    let mut r = ok(json, AnswerSource::Snapshot, etag, max_age);
                    self.describe_snapshot(&mut r, &m, now_ms);
                    return Ok(r);
                }
                Ok(None) => {
                    snapshot_answered = true;
                    break;
                }
                Err(e) => {
                    let moved_on = self.gone(&e) && self.engine.recheck(store, now_ms).await;
                    log.push(format!("snapshot unavailable for GET /{{name}}: {e}"));
                    if !moved_on {
                        break;
                    }
                }
            }
        }
        if snapshot_answered {
            // Not in the snapshot: maybe newer than it. Ask DynamoDB, unless
            // it said "missing" lately or lookups are over their rate.
            let mut misses = self.misses.lock().unwrap_or_else(|p| p.into_inner());
            if misses.known_missing(name, now_ms) {
                return Err((ApiError::not_found(name), log));
            }
            if !misses.take_token(&self.settings, now_ms) {
                log.push("GetItem lookups over their rate; the snapshot's 404 stands".into());
                return Err((ApiError::not_found(name), log));
            }
        }
        match table.get_item(name).await {
            Ok(Some(r)) if r.is_visible() => {
                let body = api::item_body(&r.to_media_item());
                let etag = body_etag(&body);
                if matches_etag(if_none_match, &etag) || matches_any(if_none_match) {
                    return Ok(not_modified(etag, AnswerSource::DynamoDb, max_age));
                }
                let mut reply = ok(body, AnswerSource::DynamoDb, etag, max_age);
                reply.log = log;
                Ok(reply)
            }
            Ok(_) => {
                if snapshot_answered {
                    let until = now_ms + self.settings.max_age_seconds as f64 * 1000.0;
                    self.misses
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remember(&self.settings, name, until, now_ms);
                }
                Err((ApiError::not_found(name), log))
            }
            Err(e) => {
                // Not a definitive 404: the item may be newer than the
                // snapshot, and DynamoDB could not say.
                log.push(format!("DynamoDB GetItem failed: {e}"));
                Err((ApiError::service_unavailable(UNAVAILABLE), log))
            }
        }
    }
}
