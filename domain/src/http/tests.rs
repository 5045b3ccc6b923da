//! The responder end to end, over an in-memory bucket and tables that
//! count, fail or page like DynamoDB: stale snapshots, rate limits, the
//! negative cache, conditional requests and the bounded Scan fallback.

use super::*;
use crate::dynamo::Item;
use crate::engine::ReadEngine;
use crate::media::MediaType;
use crate::ports::{Fetched, ObjectStore, Table};
use crate::query::ListQuery;
use crate::record::{MediaItem, MediaRecord};
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
