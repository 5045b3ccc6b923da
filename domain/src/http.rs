//! The HTTP responder of the read API: one function for the edge Worker
//! and the Lambda read API, so that both give the same bytes, headers
//! included.
//!
//! It maps a method, a raw path and query, and `If-None-Match` to a
//! [`Reply`]: routes, Chalice-style errors, CORS, `ETag`/304, HEAD,
//! OPTIONS, 405, caching headers and pagination (`Link`). Data comes from
//! the serving snapshot through the [`ReadEngine`]; the DynamoDB table
//! ([`Table`]) is the fallback:
//!
//! * `GET /`: the snapshot; if it cannot be read, a DynamoDB Scan with the
//!   domain's FilterExpression, paginated the same way.
//! * `GET /{name}`: the snapshot; a name it lacks is checked with
//!   `GetItem`, so an upload newer than the snapshot is found. Names found
//!   missing there are remembered for the snapshot TTL ([`Misses`]), and
//!   such lookups are rate-limited, so requests for random names cannot
//!   turn into unbounded DynamoDB reads: past the limit the snapshot's
//!   answer (404) stands.
//! * Both failing is a 503 `ServiceUnavailableError`, never an empty list.
//!
//! The `ETag` of a snapshot answer is derived from the snapshot version
//! (itself a hash of the content) and the canonical request, so a
//! conditional request is answered 304 before any shard is read. Answers
//! from DynamoDB hash their (small) body instead.

use crate::api::{self, ApiError, JSON_CONTENT_TYPE};
use crate::engine::{ListPage, ObjectStore, ReadEngine};
use crate::page::{next_link, PageRequest};
use crate::query::{ListQuery, ListRequest};
use crate::record::MediaRecord;
use crate::serving::content_hash;
use crate::serving::manifest::Manifest;
use std::collections::HashMap;
use std::sync::Mutex;

/// Where the data of an answer came from (`X-Media-Source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    Snapshot,
    DynamoDb,
}

impl AnswerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Snapshot => "snapshot",
            AnswerSource::DynamoDb => "dynamodb",
        }
    }
}

/// The media table, read directly: the fallback behind the snapshot.
/// Errors are text for the logs.
#[allow(async_fn_in_trait)]
pub trait Table {
    /// The record named `name`, visible or not (strongly consistent).
    async fn get_item(&self, name: &str) -> Result<Option<MediaRecord>, String>;
    /// Every visible record matching `query`, all Scan pages.
    async fn scan(&self, query: &ListQuery) -> Result<Vec<MediaRecord>, String>;
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

/// The answer: status, headers (lower-case names) and body, plus what the
/// adapter should log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Failures met on the way (a fallback was used); for the logs only.
    pub log: Vec<String>,
    /// The snapshot version that answered, for the logs.
    pub snapshot_version: Option<String>,
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
const UNAVAILABLE: &str = "Neither the snapshot nor DynamoDB could answer; try again later";

/// How the responder behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Cache-Control: max-age` of snapshot answers, in seconds (also the
    /// pointer re-check interval).
    pub max_age_seconds: u64,
    /// DynamoDB lookups of names the snapshot lacks, per second, with a
    /// burst of twice that.
    pub miss_lookups_per_second: f64,
    /// Names remembered as missing.
    pub miss_capacity: usize,
    /// Scans of the whole table when the snapshot cannot answer a list,
    /// per second, with a burst of twice that; past it, a 503 with
    /// `Retry-After` (no Scan storm when the snapshot is down).
    pub scan_fallbacks_per_second: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_age_seconds: 60,
            miss_lookups_per_second: 50.0,
            miss_capacity: 10_000,
            scan_fallbacks_per_second: 1.0,
        }
    }
}

/// A token bucket: `rate` a second, bursts of twice that.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    refilled_at_ms: f64,
}

impl TokenBucket {
    fn new() -> TokenBucket {
        TokenBucket {
            tokens: f64::NAN,
            refilled_at_ms: 0.0,
        }
    }

    fn take(&mut self, rate: f64, now_ms: f64) -> bool {
        if rate.is_infinite() {
            return true;
        }
        let burst = rate * 2.0;
        if self.tokens.is_nan() {
            self.tokens = burst;
        } else {
            let refill = (now_ms - self.refilled_at_ms).max(0.0) / 1000.0 * rate;
            self.tokens = (self.tokens + refill).min(burst);
        }
        self.refilled_at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Negative cache and rate limit for `GetItem` lookups of names the
/// snapshot lacks.
#[derive(Debug)]
pub struct Misses {
    until_ms: HashMap<String, f64>,
    lookups: TokenBucket,
}

impl Misses {
    fn new() -> Misses {
        Misses {
            until_ms: HashMap::new(),
            lookups: TokenBucket::new(),
        }
    }

    fn known_missing(&mut self, name: &str, now_ms: f64) -> bool {
        match self.until_ms.get(name) {
            Some(until) if *until > now_ms => true,
            Some(_) => {
                self.until_ms.remove(name);
                false
            }
            None => false,
        }
    }

    fn take_token(&mut self, s: &Settings, now_ms: f64) -> bool {
        self.lookups.take(s.miss_lookups_per_second, now_ms)
    }

    fn remember(&mut self, s: &Settings, name: &str, until_ms: f64, now_ms: f64) {
        if self.until_ms.len() >= s.miss_capacity {
            self.until_ms.retain(|_, u| *u > now_ms);
            if self.until_ms.len() >= s.miss_capacity {
                // Still full of live entries: forget an arbitrary half.
                let drop: Vec<String> = self
                    .until_ms
                    .keys()
                    .take(s.miss_capacity / 2 + 1)
                    .cloned()
                    .collect();
                for k in drop {
                    self.until_ms.remove(&k);
                }
            }
        }
        self.until_ms.insert(name.to_string(), until_ms);
    }

    pub fn len(&self) -> usize {
        self.until_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until_ms.is_empty()
    }
}

/// The read API of one isolate or process: the engine, its caches, the
/// settings.
#[derive(Debug)]
pub struct Responder {
    pub engine: ReadEngine,
    pub settings: Settings,
    misses: Mutex<Misses>,
    scans: Mutex<TokenBucket>,
}

fn base(status: u16, body: String) -> Reply {
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

fn error(e: &ApiError) -> Reply {
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

/// `Retry-After` of a 503: the snapshot is re-checked, and the Scan
/// fallback refilled, within about this long.
const RETRY_AFTER_SECONDS: u64 = 5;

/// A 200, with its `ETag` and caching headers.
fn ok(body: String, source: AnswerSource, etag: String, max_age: u64) -> Reply {
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

fn body_etag(body: &str) -> String {
    format!("\"{}\"", &content_hash(body.as_bytes())[..24])
}

/// The `ETag` of a snapshot answer: the version and the canonical request.
fn snapshot_etag(version: &str, request: &str) -> String {
    format!("\"{version}-{}\"", &content_hash(request.as_bytes())[..12])
}

fn matches_etag(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|inm| {
        inm.split(',').any(|t| {
            let t = t.trim();
            t == etag || t == "*" || t.strip_prefix("W/") == Some(etag)
        })
    })
}

fn not_modified(etag: String) -> Reply {
    let mut r = base(304, String::new());
    r.headers.push(("etag", etag));
    r
}

/// A page of records from the Scan fallback, cut as the snapshot would.
fn page_of(records: &[MediaRecord], query: &ListQuery, page: &PageRequest) -> ListPage {
    let items = query.select(records);
    let from = match &page.after {
        Some(a) => items.partition_point(|i| i.name.as_str() <= a.as_str()),
        None => 0,
    };
    let rest = &items[from..];
    let take = rest.len().min(page.limit);
    ListPage {
        items: rest[..take].iter().map(api::item_body).collect(),
        next_after: (rest.len() > take).then(|| rest[take - 1].name.clone()),
    }
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
        let snapshot_error = match self.engine.manifest(store, now_ms).await {
            Ok(m) => {
                // Everything the answer depends on: the Link repeats `limit`
                // only when the client gave it.
                let request = format!(
                    "list?{canonical}&limit={}&explicit={}&after={}",
                    list.page.limit,
                    list.page.explicit_limit,
                    list.page.after.as_deref().unwrap_or("")
                );
                let etag = snapshot_etag(&m.version, &request);
                if matches_etag(if_none_match, &etag) {
                    return Ok(not_modified(etag));
                }
                match self.engine.list(store, &m, &list.query, &list.page).await {
                    Ok(page) => {
                        let mut r = ok(page.body(), AnswerSource::Snapshot, etag, max_age);
                        link(&page, &mut r);
                        self.describe_snapshot(&mut r, &m, now_ms);
                        return Ok(r);
                    }
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        let mut log = vec![format!(
            "snapshot unavailable, scanning DynamoDB: {snapshot_error}"
        )];
        let rate = self.settings.scan_fallbacks_per_second;
        if !lock(&self.scans).take(rate, now_ms) {
            log.push("Scan fallbacks over their rate".into());
            return Err((ApiError::service_unavailable(UNAVAILABLE), log));
        }
        match table.scan(&list.query).await {
            Ok(records) => {
                let page = page_of(&records, &list.query, &list.page);
                let body = page.body();
                let etag = body_etag(&body);
                if matches_etag(if_none_match, &etag) {
                    return Ok(not_modified(etag));
                }
                let mut r = ok(body, AnswerSource::DynamoDb, etag, max_age);
                link(&page, &mut r);
                r.log = log;
                Ok(r)
            }
            Err(scan_error) => {
                log.push(format!("DynamoDB Scan failed: {scan_error}"));
                Err((ApiError::service_unavailable(UNAVAILABLE), log))
            }
        }
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
        match self.engine.manifest(store, now_ms).await {
            Ok(m) => {
                let etag = snapshot_etag(&m.version, &format!("item/{name}"));
                // The version is a hash of the content: a matching ETag means
                // this version still has the item.
                if matches_etag(if_none_match, &etag) {
                    return Ok(not_modified(etag));
                }
                match self.engine.get(store, &m, name).await {
                    Ok(Some(json)) => {
                        let mut r = ok(json, AnswerSource::Snapshot, etag, max_age);
                        self.describe_snapshot(&mut r, &m, now_ms);
                        return Ok(r);
                    }
                    Ok(None) => snapshot_answered = true,
                    Err(e) => log.push(format!("snapshot unavailable for GET /{{name}}: {e}")),
                }
            }
            Err(e) => log.push(format!("snapshot unavailable for GET /{{name}}: {e}")),
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
                if matches_etag(if_none_match, &etag) {
                    return Ok(not_modified(etag));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Fetched;
    use crate::media::MediaType;
    use crate::serving::build::Builder;
    use crate::serving::{object_key, pointer_key};
    use std::cell::Cell;
    use std::collections::HashMap;

    fn ready<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("in-memory reads are always ready"),
        }
    }

    struct Bucket(HashMap<String, Vec<u8>>);

    impl ObjectStore for Bucket {
        async fn get(&self, key: &str, _: Option<&str>) -> Result<Fetched, String> {
            Ok(self
                .0
                .get(key)
                .map_or(Fetched::Missing, |b| Fetched::Object {
                    body: b.clone(),
                    etag: None,
                }))
        }
    }

    /// Counts the table's reads; every name is missing there too.
    #[derive(Default)]
    struct CountingTable {
        gets: Cell<usize>,
        scans: Cell<usize>,
    }

    impl Table for CountingTable {
        async fn get_item(&self, _: &str) -> Result<Option<MediaRecord>, String> {
            self.gets.set(self.gets.get() + 1);
            Ok(None)
        }
        async fn scan(&self, _: &ListQuery) -> Result<Vec<MediaRecord>, String> {
            self.scans.set(self.scans.get() + 1);
            Ok(Vec::new())
        }
    }

    fn bucket() -> Bucket {
        let mut b = Builder::default();
        for i in 0..50 {
            b.push(&MediaRecord::ready(
                format!("n{i:02}.jpg"),
                MediaType::Image,
                vec!["Dog".into()],
            ))
            .unwrap();
        }
        let (m, objects) = b.finish("2026-11-24T10:00:00.000Z");
        let mut map: HashMap<String, Vec<u8>> = objects
            .into_iter()
            .map(|(h, b)| (object_key("p", &h), b))
            .collect();
        map.insert(pointer_key("p"), serde_json::to_vec(&m).unwrap());
        Bucket(map)
    }

    fn get(
        r: &Responder,
        b: &Bucket,
        t: &CountingTable,
        path: &str,
        inm: Option<&str>,
        now_ms: f64,
    ) -> Reply {
        ready(r.handle(
            b,
            t,
            ApiRequest {
                method: "GET",
                raw_path: path,
                raw_query: None,
                if_none_match: inm,
            },
            now_ms,
        ))
    }

    /// A bucket that can go down (every GET fails) and counts pointer GETs.
    struct Flaky {
        inner: Bucket,
        down: Cell<bool>,
        pointer_gets: Cell<usize>,
    }

    impl ObjectStore for Flaky {
        async fn get(&self, key: &str, inm: Option<&str>) -> Result<Fetched, String> {
            if key == pointer_key("p") {
                self.pointer_gets.set(self.pointer_gets.get() + 1);
            }
            if self.down.get() {
                return Err("connection reset".into());
            }
            self.inner.get(key, inm).await
        }
    }

    /// A table whose every read fails.
    struct DownTable;

    impl Table for DownTable {
        async fn get_item(&self, _: &str) -> Result<Option<MediaRecord>, String> {
            Err("ProvisionedThroughputExceededException".into())
        }
        async fn scan(&self, _: &ListQuery) -> Result<Vec<MediaRecord>, String> {
            Err("ProvisionedThroughputExceededException".into())
        }
    }

    fn list<T: Table>(r: &Responder, b: &impl ObjectStore, t: &T, now_ms: f64) -> Reply {
        ready(r.handle(
            b,
            t,
            ApiRequest {
                method: "GET",
                raw_path: "/",
                raw_query: Some("label=Dog&limit=2"),
                if_none_match: None,
            },
            now_ms,
        ))
    }

    #[test]
    fn a_failed_refresh_keeps_the_last_good_snapshot_with_its_age() {
        let b = Flaky {
            inner: bucket(),
            down: Cell::new(false),
            pointer_gets: Cell::new(0),
        };
        let t = CountingTable::default();
        let engine = ReadEngine::new("p", 60_000.0, 1 << 20).with_max_stale_ms(600_000.0);
        let r = Responder::new(engine, Settings::default());
        let fresh = list(&r, &b, &t, 0.0);
        assert_eq!((fresh.status, fresh.header("age")), (200, None));
        // When the version was published: with `Date`, the snapshot's age.
        let published = Some("Tue, 24 Nov 2026 10:00:00 GMT");
        assert_eq!(fresh.header("last-modified"), published);
        // S3 goes down: past the TTL, one check fails, and the last good
        // snapshot answers, saying how old it is.
        b.down.set(true);
        let stale = list(&r, &b, &t, 61_000.0);
        assert_eq!(stale.status, 200);
        assert_eq!(stale.header("x-media-source"), Some("snapshot"));
        assert_eq!(stale.header("age"), Some("61"));
        assert_eq!(stale.header("last-modified"), published);
        assert_eq!(stale.body, fresh.body);
        assert!(!stale.log.is_empty(), "the failure is logged");
        // Retried at most once per TTL, not once per request (shards come
        // from the cache).
        for i in 0..20 {
            assert_eq!(list(&r, &b, &t, 62_000.0 + f64::from(i)).status, 200);
        }
        assert_eq!(b.pointer_gets.get(), 2);
        assert_eq!(t.scans.get(), 0, "no Scan storm");
        // Back up: fresh again, no Age.
        b.down.set(false);
        let back = list(&r, &b, &t, 125_000.0);
        assert_eq!((back.status, back.header("age")), (200, None));
        // Down for longer than the maximum staleness: the fallback answers.
        b.down.set(true);
        list(&r, &b, &t, 200_000.0);
        let too_old = list(&r, &b, &t, 800_000.0);
        assert_eq!(too_old.header("x-media-source"), Some("dynamodb"));
        assert_eq!(
            too_old.header("last-modified"),
            None,
            "no snapshot, no date"
        );
    }

    #[test]
    fn scan_fallbacks_are_rate_limited_with_retry_after() {
        let b = Flaky {
            inner: bucket(),
            down: Cell::new(true),
            pointer_gets: Cell::new(0),
        };
        let t = CountingTable::default();
        let settings = Settings {
            scan_fallbacks_per_second: 1.0,
            ..Settings::default()
        };
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), settings);
        let statuses: Vec<u16> = (0..10).map(|_| list(&r, &b, &t, 0.0).status).collect();
        assert_eq!(t.scans.get(), 2, "a burst of two Scans, then none");
        assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 8);
        let refused = list(&r, &b, &t, 0.0);
        assert_eq!(refused.header("retry-after"), Some("5"));
        assert!(refused
            .body
            .starts_with("{\"Code\":\"ServiceUnavailableError\""));
        // A second later, one more Scan is allowed.
        assert_eq!(list(&r, &b, &t, 1_000.0).status, 200);
    }

    #[test]
    fn a_failed_lookup_of_a_name_the_snapshot_lacks_is_a_503_not_a_404() {
        let b = bucket();
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        let reply = ready(r.handle(
            &b,
            &DownTable,
            ApiRequest {
                method: "GET",
                raw_path: "/newer.jpg",
                raw_query: None,
                if_none_match: None,
            },
            0.0,
        ));
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.header("retry-after"), Some("5"));
    }

    #[test]
    fn one_refresh_at_a_time_the_others_keep_the_manifest() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        /// Parks every pointer GET until released.
        struct Slow {
            inner: Bucket,
            open: Cell<bool>,
            pointer_gets: Cell<usize>,
        }
        impl ObjectStore for Slow {
            async fn get(&self, key: &str, inm: Option<&str>) -> Result<Fetched, String> {
                if key == pointer_key("p") {
                    self.pointer_gets.set(self.pointer_gets.get() + 1);
                    std::future::poll_fn(|_| {
                        if self.open.get() {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    })
                    .await;
                }
                self.inner.get(key, inm).await
            }
        }
        let b = Slow {
            inner: bucket(),
            open: Cell::new(true),
            pointer_gets: Cell::new(0),
        };
        let engine = ReadEngine::new("p", 60_000.0, 1 << 20);
        ready(engine.manifest(&b, 0.0)).unwrap();
        // Past the TTL: the first request starts a check that hangs...
        b.open.set(false);
        let mut first = std::pin::pin!(engine.manifest(&b, 61_000.0));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        // ...and the others answer at once from the manifest they have.
        for i in 0..5 {
            assert!(ready(engine.manifest(&b, 61_001.0 + f64::from(i))).is_ok());
        }
        assert_eq!(b.pointer_gets.get(), 2, "one check in flight, not six");
        b.open.set(true);
        assert!(matches!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
    }

    #[test]
    fn missing_names_are_remembered_and_lookups_rate_limited() {
        let (b, t) = (bucket(), CountingTable::default());
        let settings = Settings {
            max_age_seconds: 60,
            miss_lookups_per_second: 10.0,
            miss_capacity: 100,
            ..Settings::default()
        };
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), settings);
        // The same missing name, again and again: one GetItem per TTL.
        for _ in 0..50 {
            assert_eq!(get(&r, &b, &t, "/nope.jpg", None, 1000.0).status, 404);
        }
        assert_eq!(t.gets.get(), 1);
        assert_eq!(get(&r, &b, &t, "/nope.jpg", None, 62_000.0).status, 404);
        assert_eq!(t.gets.get(), 2, "checked again after the TTL");
        // A flood of random names: lookups stop at the burst, then follow the rate.
        for i in 0..1000 {
            assert_eq!(
                get(&r, &b, &t, &format!("/random-{i}"), None, 70_000.0).status,
                404
            );
        }
        assert_eq!(t.gets.get(), 2 + 20, "a burst of twice the per-second rate");
        for i in 0..1000 {
            get(&r, &b, &t, &format!("/later-{i}"), None, 71_000.0);
        }
        assert_eq!(t.gets.get(), 2 + 20 + 10, "one second refills ten");
        // Names the snapshot has never reach the table.
        assert_eq!(get(&r, &b, &t, "/n07.jpg", None, 71_000.0).status, 200);
        assert_eq!(t.gets.get(), 32);
    }

    #[test]
    fn a_matching_etag_is_a_304_before_any_shard_is_read() {
        let (b, t) = (bucket(), CountingTable::default());
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        let first = get(&r, &b, &t, "/n07.jpg", None, 0.0);
        let etag = first.header("etag").unwrap().to_string();
        // A fresh isolate: nothing cached but the manifest.
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        let again = get(&r, &b, &t, "/n07.jpg", Some(&etag), 0.0);
        assert_eq!((again.status, again.body.as_str()), (304, ""));
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let fetched = r
            .engine
            .stats
            .object_fetches
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(fetched, 0, "no shard was read for the 304");
        assert_eq!((t.gets.get(), t.scans.get()), (0, 0));
    }
}
