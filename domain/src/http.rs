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
//!   domain's FilterExpression, paginated the same way. A Scan returns the
//!   table in hash order, so a page sorted by name needs the whole table:
//!   the fallback reads Scan pages one at a time, keeping only the page's
//!   best `limit` items (memory: one Scan page and one answer page), and
//!   gives up with a 503 past [`Settings::scan_fallback_max_pages`] (the
//!   subrequests: that many Scan calls). A large table is served from the
//!   stale snapshot or not at all, never by reading all of it in a request.
//! * An object of the snapshot that has gone (the pointer moved on and the
//!   old version's garbage was collected) makes the engine re-check the
//!   pointer before anything falls back.
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
use crate::engine::{ListPage, ReadEngine};
use crate::page::{next_link, PageRequest};
use crate::ports::{ObjectStore, ReadError, Table};
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
    /// Scan pages (up to 1 MB of the table each) one fallback may read;
    /// a table that needs more is too large to be listed from DynamoDB
    /// in one request, and the answer is a 503 with `Retry-After`.
    pub scan_fallback_max_pages: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_age_seconds: 60,
            miss_lookups_per_second: 50.0,
            miss_capacity: 10_000,
            scan_fallbacks_per_second: 1.0,
            scan_fallback_max_pages: DEFAULT_SCAN_FALLBACK_MAX_PAGES,
        }
    }
}

/// Scan pages a fallback may read by default: 8 MB of the table, about
/// 40,000 items of the workshop's size. With the Worker's three attempts a
/// call, 24 subrequests at most (see `edge/src/subrequests.rs`).
pub const DEFAULT_SCAN_FALLBACK_MAX_PAGES: usize = 8;

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

/// Whether `If-None-Match` names `etag` (weakly compared, RFC 9110 13.1.2).
fn matches_etag(if_none_match: Option<&str>, etag: &str) -> bool {
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
fn matches_any(if_none_match: Option<&str>) -> bool {
    if_none_match.is_some_and(|inm| inm.split(',').any(|t| t.trim() == "*"))
}

/// A 304: the `ETag` and `Cache-Control` the 200 would have carried (RFC
/// 9110 15.4.5), so caches refresh what they hold; no body.
fn not_modified(etag: String, source: AnswerSource, max_age: u64) -> Reply {
    let mut r = ok(String::new(), source, etag, max_age);
    r.status = 304;
    r.headers.retain(|(k, _)| *k != "x-media-source");
    r
}

/// The page a Scan fallback answers, gathered from Scan pages in any
/// order: the first `limit` matching items after the cursor, by name, and
/// whether more follow. Holds at most `limit + 1` records, whatever the
/// table's size.
struct ScanPage<'a> {
    query: &'a ListQuery,
    page: &'a PageRequest,
    best: std::collections::BTreeMap<String, MediaRecord>,
}

impl<'a> ScanPage<'a> {
    fn new(query: &'a ListQuery, page: &'a PageRequest) -> ScanPage<'a> {
        ScanPage {
            query,
            page,
            best: Default::default(),
        }
    }

    fn offer(&mut self, records: Vec<MediaRecord>) {
        for r in records {
            let after = self.page.after.as_deref();
            if !self.query.matches(&r) || after.is_some_and(|a| r.name.as_str() <= a) {
                continue;
            }
            self.best.insert(r.name.clone(), r);
            if self.best.len() > self.page.limit + 1 {
                self.best.pop_last();
            }
        }
    }

    fn finish(mut self) -> ListPage {
        let more = self.best.len() > self.page.limit;
        if more {
            self.best.pop_last();
        }
        let items: Vec<MediaRecord> = self.best.into_values().collect();
        ListPage {
            next_after: more.then(|| items.last().map(|r| r.name.clone())).flatten(),
            items: items
                .iter()
                .map(|r| api::item_body(&r.to_media_item()))
                .collect(),
        }
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
        let mut gathered = ScanPage::new(&list.query, &list.page);
        let mut start = None;
        let mut pages = 0;
        loop {
            if pages == self.settings.scan_fallback_max_pages {
                log.push(format!(
                    "the table needs more than {pages} Scan pages: too large to list from DynamoDB"
                ));
                return Err((ApiError::service_unavailable(UNAVAILABLE), log));
            }
            pages += 1;
            match table.scan_page(&list.query, start.take()).await {
                Ok((records, next)) => {
                    gathered.offer(records);
                    match next {
                        Some(key) => start = Some(key),
                        None => break,
                    }
                }
                Err(scan_error) => {
                    log.push(format!("DynamoDB Scan failed: {scan_error}"));
                    return Err((ApiError::service_unavailable(UNAVAILABLE), log));
                }
            }
        }
        let page = gathered.finish();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::Item;
    use crate::media::MediaType;
    use crate::ports::Fetched;
    use crate::record::MediaItem;
    use crate::serving::build::Builder;
    use crate::serving::{object_key, objects_prefix, pointer_key};
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
        async fn scan_page(
            &self,
            _: &ListQuery,
            _: Option<Item>,
        ) -> Result<(Vec<MediaRecord>, Option<Item>), String> {
            self.scans.set(self.scans.get() + 1);
            Ok((Vec::new(), None))
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
        async fn scan_page(
            &self,
            _: &ListQuery,
            _: Option<Item>,
        ) -> Result<(Vec<MediaRecord>, Option<Item>), String> {
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

    /// A table of `n` records read in Scan pages of `page` records, in an
    /// order that is not the names' (as a Scan's hash order is not).
    struct PagedTable {
        records: Vec<MediaRecord>,
        page: usize,
        pages_read: Cell<usize>,
    }

    impl PagedTable {
        fn new(n: usize, page: usize) -> PagedTable {
            let mut records: Vec<MediaRecord> = (0..n)
                .map(|i| {
                    let label = if i % 3 == 0 { "Dog" } else { "Cat" };
                    MediaRecord::ready(format!("s{i:07}.jpg"), MediaType::Image, vec![label.into()])
                })
                .collect();
            // A fixed shuffle: by the name's reversed digits.
            records.sort_by_key(|r| r.name.chars().rev().collect::<String>());
            PagedTable {
                records,
                page,
                pages_read: Cell::new(0),
            }
        }
    }

    impl Table for PagedTable {
        async fn get_item(&self, _: &str) -> Result<Option<MediaRecord>, String> {
            Ok(None)
        }
        async fn scan_page(
            &self,
            query: &ListQuery,
            start: Option<Item>,
        ) -> Result<(Vec<MediaRecord>, Option<Item>), String> {
            self.pages_read.set(self.pages_read.get() + 1);
            let from: usize = match start.as_ref().and_then(|k| k.get("at")) {
                Some(crate::dynamo::AttributeValue::N(n)) => n.parse().unwrap(),
                _ => 0,
            };
            let to = (from + self.page).min(self.records.len());
            let records = self.records[from..to]
                .iter()
                .filter(|r| query.matches(r))
                .cloned()
                .collect();
            let next = (to < self.records.len()).then(|| {
                Item::from([(
                    "at".to_string(),
                    crate::dynamo::AttributeValue::N(to.to_string()),
                )])
            });
            Ok((records, next))
        }
    }

    fn request(
        r: &Responder,
        b: &impl ObjectStore,
        t: &impl Table,
        path: &str,
        query: Option<&str>,
        inm: Option<&str>,
    ) -> Reply {
        ready(r.handle(
            b,
            t,
            ApiRequest {
                method: "GET",
                raw_path: path,
                raw_query: query,
                if_none_match: inm,
            },
            0.0,
        ))
    }

    #[test]
    fn the_scan_fallback_of_a_large_table_reads_a_bounded_number_of_pages() {
        // 200,000 items in pages of 1,000: far more than a request may read.
        let t = PagedTable::new(200_000, 1_000);
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        let reply = request(&r, &Bucket(HashMap::new()), &t, "/", Some("limit=1"), None);
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("retry-after"), Some("5"));
        assert_eq!(t.pages_read.get(), DEFAULT_SCAN_FALLBACK_MAX_PAGES);
    }

    #[test]
    fn the_scan_fallback_of_a_small_table_pages_like_the_snapshot() {
        let t = PagedTable::new(5_000, 1_000);
        let settings = Settings {
            scan_fallbacks_per_second: f64::INFINITY,
            ..Settings::default()
        };
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), settings);
        let empty = Bucket(HashMap::new());
        let mut seen = Vec::new();
        let mut query = "label=Dog&limit=300".to_string();
        loop {
            let reply = request(&r, &empty, &t, "/", Some(&query), None);
            assert_eq!(
                (reply.status, reply.header("x-media-source")),
                (200, Some("dynamodb"))
            );
            let items: Vec<MediaItem> = serde_json::from_str(&reply.body).unwrap();
            assert!(items.len() <= 300);
            seen.extend(items.into_iter().map(|i| i.name));
            match reply.header("link") {
                Some(link) => {
                    query = link
                        .split_once('?')
                        .unwrap()
                        .1
                        .split_once('>')
                        .unwrap()
                        .0
                        .to_string();
                }
                None => break,
            }
        }
        let mut expected: Vec<String> = t
            .records
            .iter()
            .filter(|r| r.labels == ["Dog"])
            .map(|r| r.name.clone())
            .collect();
        expected.sort();
        assert_eq!(seen, expected);
        // Each request read the table's 5 pages, no more.
        assert_eq!(t.pages_read.get(), 5 * seen.len().div_ceil(300));
    }

    #[test]
    fn if_none_match_star_matches_an_item_that_exists_not_one_that_does_not() {
        let (b, t) = (bucket(), CountingTable::default());
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        assert_eq!(get(&r, &b, &t, "/n07.jpg", Some("*"), 0.0).status, 304);
        let missing = get(&r, &b, &t, "/nope.jpg", Some("*"), 0.0);
        assert_eq!(missing.status, 404);
        assert!(missing.body.contains("NotFoundError"));
    }

    #[test]
    fn a_304_carries_the_cache_control_and_etag_of_the_200() {
        let (b, t) = (bucket(), CountingTable::default());
        let r = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        for path in ["/n07.jpg", "/"] {
            let first = get(&r, &b, &t, path, None, 0.0);
            let etag = first.header("etag").unwrap();
            let again = get(&r, &b, &t, path, Some(etag), 0.0);
            assert_eq!(again.status, 304);
            assert_eq!(again.header("etag"), Some(etag));
            assert_eq!(again.header("cache-control"), first.header("cache-control"));
            assert_eq!(again.header("cache-control"), Some("public, max-age=60"));
        }
    }

    #[test]
    fn a_gone_object_makes_the_engine_recheck_the_pointer_before_falling_back() {
        // Two isolates hold version 1's manifest (a conditional request
        // read nothing else); version 2 is published and version 1's
        // shards are collected before their TTL is up.
        let mut b = bucket();
        let t = CountingTable::default();
        let lists = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        let items = Responder::new(ReadEngine::new("p", 60_000.0, 1 << 20), Settings::default());
        for r in [&lists, &items] {
            assert_eq!(request(r, &b, &t, "/", None, Some("*")).status, 304);
        }
        let mut v2 = Builder::default();
        for i in 0..50 {
            let labels = vec!["Dog".into(), "Pet".into()];
            v2.push(&MediaRecord::ready(
                format!("n{i:02}.jpg"),
                MediaType::Image,
                labels,
            ))
            .unwrap();
        }
        let (m, objects) = v2.finish("2026-11-24T11:00:00.000Z");
        b.0.retain(|k, _| !k.starts_with(&objects_prefix("p")));
        b.0.extend(objects.into_iter().map(|(h, o)| (object_key("p", &h), o)));
        b.0.insert(pointer_key("p"), serde_json::to_vec(&m).unwrap());
        // Each now needs a shard of version 1: gone from the bucket.
        let reply = list(&lists, &b, &t, 1_000.0);
        assert_eq!(
            (reply.status, reply.header("x-media-source")),
            (200, Some("snapshot"))
        );
        assert!(reply.body.contains("Pet"), "{}", reply.body);
        let item = get(&items, &b, &t, "/n08.jpg", None, 1_000.0);
        assert_eq!(
            (item.status, item.header("x-media-source")),
            (200, Some("snapshot"))
        );
        assert!(item.body.contains("Pet"), "{}", item.body);
        assert_eq!(
            (t.scans.get(), t.gets.get()),
            (0, 0),
            "no fallback to the table"
        );
    }
}
