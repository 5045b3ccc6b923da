//! Property tests (native only): codec round trips, key decoding, the
//! ordering rule, and `matches` agreeing with the FilterExpression semantics.
#![cfg(not(target_arch = "wasm32"))]

use media_query_domain::dynamo::{AttributeValue, Item};
use media_query_domain::s3_event::{decode_key, encode_key, parse_s3_event};
use media_query_domain::{ListQuery, MediaRecord, MediaType, OrderKey, RecordStatus};
use proptest::prelude::*;

fn media_type() -> impl Strategy<Value = MediaType> {
    prop_oneof![Just(MediaType::Image), Just(MediaType::Video)]
}

fn status() -> impl Strategy<Value = RecordStatus> {
    prop_oneof![
        3 => Just(RecordStatus::Ready),
        1 => Just(RecordStatus::Pending),
        1 => Just(RecordStatus::Failed),
        1 => Just(RecordStatus::Deleted),
    ]
}

/// Small alphabets so that filters actually hit.
fn name() -> impl Strategy<Value = String> {
    "[abé/ .]{1,6}(\\.jpg|\\.mp4)?"
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Dog".to_string()),
        Just("dog".to_string()),
        Just("Cat".to_string()),
        Just("Phone Booth".to_string()),
        "[A-Za-zé ]{1,5}",
    ]
}

fn record() -> impl Strategy<Value = MediaRecord> {
    (
        name(),
        media_type(),
        prop::collection::vec(label(), 0..5),
        prop::collection::btree_map(label(), 0.0f32..100.0, 0..3),
        status(),
        prop::option::of(any::<u64>()),
        prop::option::of("[ -~]{0,10}"),
        prop::option::of("[a-z0-9-]{1,10}"),
    )
        .prop_map(
            |(name, media_type, labels, confidences, status, seq, error, job_id)| MediaRecord {
                name,
                media_type,
                labels,
                confidences,
                status,
                event_order: seq.map(|s| OrderKey::from_sequencer(&format!("{s:x}")).unwrap()),
                error,
                job_id,
            },
        )
}

fn query() -> impl Strategy<Value = ListQuery> {
    (
        prop::option::of("[abé/ .]{1,3}"),
        prop::option::of(media_type()),
        prop::option::of(label()),
    )
        .prop_map(|(startswith, media_type, label)| ListQuery {
            startswith,
            media_type,
            label,
        })
}

/// A tiny evaluator of the expressions `scan_filter` emits, with
/// DynamoDB's semantics for each function.
fn eval_filter(q: &ListQuery, item: &Item) -> bool {
    let f = q.scan_filter();
    let attr = |placeholder: &str| item.get(&f.names[placeholder]);
    let value = |placeholder: &str| match &f.values[placeholder] {
        AttributeValue::S(s) => s.clone(),
        other => panic!("unexpected value {other:?}"),
    };
    f.expression.split(" AND ").all(|clause| {
        if let Some(arg) = clause.strip_prefix("attribute_not_exists(").and_then(|c| c.strip_suffix(')')) {
            attr(arg).is_none()
        } else if let Some(args) = clause.strip_prefix("begins_with(").and_then(|c| c.strip_suffix(')')) {
            let (a, v) = args.split_once(", ").unwrap();
            matches!(attr(a), Some(AttributeValue::S(s)) if s.as_bytes().starts_with(value(v).as_bytes()))
        } else if let Some(args) = clause.strip_prefix("contains(").and_then(|c| c.strip_suffix(')')) {
            let (a, v) = args.split_once(", ").unwrap();
            let v = value(v);
            match attr(a) {
                Some(AttributeValue::L(list)) => list.iter().any(|x| x == &AttributeValue::S(v.clone())),
                Some(AttributeValue::S(s)) => s.contains(&v),
                _ => false,
            }
        } else if let Some((a, v)) = clause.split_once(" = ") {
            matches!(attr(a), Some(AttributeValue::S(s)) if *s == value(v))
        } else {
            panic!("evaluator does not know clause `{clause}`")
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codec_round_trips(r in record()) {
        let item = r.to_item();
        let text = serde_json::to_string(&item).unwrap();
        let back: Item = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(MediaRecord::from_item(&back).unwrap(), r);
    }

    #[test]
    fn key_encoding_round_trips(key in "\\PC{1,40}") {
        prop_assert_eq!(decode_key(&encode_key(&key)).unwrap(), key);
    }

    #[test]
    fn key_decoding_never_panics(raw in "[%+a-zA-Z0-9\\x00-\\x7f]{0,20}") {
        let _ = decode_key(&raw);
    }

    #[test]
    fn event_parsing_never_panics(raw in "\\PC{0,200}") {
        let _ = parse_s3_event(&raw);
        let _ = media_query_domain::video_job::parse_sns_event(&raw);
    }

    #[test]
    fn matches_agrees_with_filter_expression(q in query(), records in prop::collection::vec(record(), 1..8)) {
        for r in &records {
            prop_assert_eq!(q.matches(r), eval_filter(&q, &r.to_item()), "record {:?}", r);
        }
    }

    #[test]
    fn sequencer_order_is_numeric(a in any::<u128>(), b in any::<u128>(), pad_a in 0usize..4, pad_b in 0usize..4) {
        let ka = OrderKey::from_sequencer(&format!("{}{a:X}", "0".repeat(pad_a))).unwrap();
        let kb = OrderKey::from_sequencer(&format!("{}{b:x}", "0".repeat(pad_b))).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        prop_assert_eq!(OrderKey::parse(ka.as_str()).unwrap(), ka);
    }

    #[test]
    fn event_time_order_is_chronological(a in 0u64..4_102_444_800_000, b in 0u64..4_102_444_800_000) {
        let fmt = media_query_domain::time::iso8601_millis;
        let ka = OrderKey::from_event_time(&fmt(a)).unwrap();
        let kb = OrderKey::from_event_time(&fmt(b)).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        prop_assert_eq!(OrderKey::parse(ka.as_str()).unwrap(), ka);
    }
}

#[test]
fn sequencer_keys_sort_after_time_keys() {
    let t = OrderKey::from_event_time("2099-12-31T23:59:59.999Z").unwrap();
    let s = OrderKey::from_sequencer("0").unwrap();
    assert!(s > t);
}

// ---- The serving snapshot and the read engine --------------------------------

mod serving {
    use super::*;
    use media_query_domain::engine::ReadEngine;
    use media_query_domain::http::{ApiRequest, Responder, Settings};
    use media_query_domain::ports::Table;
    use media_query_domain::ports::{Fetched, ObjectStore};
    use media_query_domain::serving::build::Builder;
    use media_query_domain::serving::{object_key, pointer_key};
    use std::collections::{BTreeMap, HashMap};

    /// Objects in memory (a unit-test fake of the bucket).
    #[derive(Default)]
    pub struct Bucket(pub HashMap<String, Vec<u8>>);

    impl ObjectStore for Bucket {
        async fn get(&self, key: &str, _inm: Option<&str>) -> Result<Fetched, String> {
            Ok(match self.0.get(key) {
                Some(b) => Fetched::Object {
                    body: b.clone(),
                    etag: None,
                },
                None => Fetched::Missing,
            })
        }
    }

    /// A table that must not be asked: the snapshot answers everything.
    struct NoTable;
    impl Table for NoTable {
        async fn get_item(&self, _: &str) -> Result<Option<MediaRecord>, String> {
            Err("unreachable".into())
        }
        async fn scan_page(
            &self,
            _: &ListQuery,
            _: Option<media_query_domain::dynamo::Item>,
        ) -> Result<(Vec<MediaRecord>, Option<media_query_domain::dynamo::Item>), String> {
            Err("unreachable".into())
        }
    }

    /// Builds a snapshot of `records` (deduplicated by name, last wins).
    pub fn publish(records: &[MediaRecord], target: usize, page_bytes: usize) -> Bucket {
        let by_name: BTreeMap<&str, &MediaRecord> =
            records.iter().map(|r| (r.name.as_str(), r)).collect();
        let mut b = Builder::with_page_bytes(target, page_bytes);
        for r in by_name.values() {
            b.push(r).unwrap();
        }
        let (manifest, objects) = b.finish("2026-01-01T00:00:00.000Z");
        let mut bucket = Bucket::default();
        for (hash, bytes) in objects {
            bucket.0.insert(object_key("p", &hash), bytes);
        }
        bucket
            .0
            .insert(pointer_key("p"), serde_json::to_vec(&manifest).unwrap());
        bucket
    }

    fn unique(records: &[MediaRecord]) -> Vec<MediaRecord> {
        let by_name: BTreeMap<&str, &MediaRecord> =
            records.iter().map(|r| (r.name.as_str(), r)).collect();
        by_name.into_values().cloned().collect()
    }

    fn get(
        responder: &Responder,
        bucket: &Bucket,
        path: &str,
        query: &str,
    ) -> (u16, String, Option<String>) {
        let r = futures::executor::block_on(responder.handle(
            bucket,
            &NoTable,
            ApiRequest {
                method: "GET",
                raw_path: path,
                raw_query: Some(query),
                if_none_match: None,
            },
            0.0,
        ));
        assert!(r.log.is_empty(), "the snapshot must answer: {:?}", r.log);
        let link = r.header("link").map(str::to_string);
        (r.status, r.body, link)
    }

    /// The query string of a `Link: </?...>; rel="next"` header.
    fn next_query(link: &str) -> String {
        let inner = link.strip_prefix("</?").unwrap();
        inner[..inner.find(">; rel=\"next\"").unwrap()].to_string()
    }

    fn raw_query(q: &ListQuery, limit: usize) -> String {
        let c = q.canonical();
        if c.is_empty() {
            format!("limit={limit}")
        } else {
            format!("{c}&limit={limit}")
        }
    }

    /// Every query's concatenated pages are the naive filter-and-sort of
    /// `records` (the visible and hidden records of the table), byte for
    /// byte, and `GET /{name}` finds exactly the visible ones.
    pub fn check_reads(
        responder: &Responder,
        bucket: &Bucket,
        records: &[MediaRecord],
        queries: &[ListQuery],
        limit: usize,
    ) -> Result<(), TestCaseError> {
        for q in queries {
            let want = q.select(records);
            let mut got = 0;
            let mut raw = raw_query(q, limit);
            for round in 0.. {
                // A page may end early (its shard or level-part budget spent), but
                // each examines at least one name.
                prop_assert!(round <= 10 * records.len() + 100, "pagination does not end");
                let (status, body, link) = get(responder, bucket, "/", &raw);
                prop_assert_eq!(status, 200, "{}", body);
                let n = serde_json::from_str::<Vec<serde_json::Value>>(&body)
                    .unwrap()
                    .len();
                prop_assert!(n <= limit);
                prop_assert!(got + n <= want.len(), "more items than the naive answer");
                // Byte for byte what the naive answer's slice serialises to.
                prop_assert_eq!(
                    &body,
                    &media_query_domain::api::list_body(&want[got..got + n]),
                    "query {:?}",
                    q
                );
                got += n;
                match link {
                    Some(l) => raw = next_query(&l),
                    None => break,
                }
            }
            prop_assert_eq!(got, want.len(), "query {:?}", q);
        }
        // Every name, and names it lacks.
        for r in records {
            let path = format!(
                "/{}",
                media_query_domain::s3_event::encode_key(&r.name).replace('+', "%20")
            );
            let in_snapshot = futures::executor::block_on(async {
                let m = responder.engine.manifest(bucket, 0.0).await.unwrap();
                responder.engine.get(bucket, &m, &r.name).await.unwrap()
            });
            prop_assert_eq!(in_snapshot.is_some(), r.is_visible(), "{}", path);
            if r.is_visible() {
                let (status, body, _) = get(responder, bucket, &path, "");
                prop_assert_eq!(
                    (status, body),
                    (200, media_query_domain::api::item_body(&r.to_media_item()))
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The concatenated pages of the engine are the naive filter-and-sort.
        #[test]
        fn pages_concatenate_to_the_naive_answer(
            records in prop::collection::vec(record(), 0..120),
            queries in prop::collection::vec(query(), 1..6),
            limit in 1usize..12,
            target in 40usize..600,
            page_bytes in prop_oneof![Just(300usize), Just(1usize << 20)],
        ) {
            let records = unique(&records);
            let bucket = publish(&records, target, page_bytes);
            let responder = Responder::new(ReadEngine::new("p", 1e9, 4096), Settings::default());
            check_reads(&responder, &bucket, &records, &queries, limit)?;
            // The cache stayed within its bound (one oversized object may stay alone).
            let (used, budget) = responder.engine.cache_usage();
            prop_assert!(used <= budget.max(target * 2 + 4096), "cache {} over {}", used, budget);
        }
    }

    /// The decoded-shard cache never holds more than its budget, however
    /// many shards the table has and however the queries wander.
    #[test]
    fn the_shard_cache_stays_within_its_bound() {
        let labels = ["Dog", "Cat", "Bird", "Fish", "Car"];
        let records: Vec<MediaRecord> = (0..3000)
            .map(|i| {
                let l = vec![labels[i % 5].to_string(), labels[(i / 5) % 5].to_string()];
                MediaRecord::ready(format!("f{:02}/{i:05}.jpg", i % 37), MediaType::Image, l)
            })
            .collect();
        let bucket = publish(&records, 2048, 4096);
        let budget = 64 * 1024;
        let responder = Responder::new(ReadEngine::new("p", 1e9, budget), Settings::default());
        let mut seed = 7u64;
        let mut fetches_before = 0;
        for round in 0..600 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = (seed >> 33) as usize;
            let (path, query) = match round % 3 {
                0 => (
                    format!("/f{:02}/{:05}.jpg", n % 3000 % 37, n % 3000),
                    String::new(),
                ),
                1 => ("/".to_string(), format!("label={}&limit=50", labels[n % 5])),
                _ => (
                    "/".to_string(),
                    format!("startswith=f{:02}/&limit=20", n % 37),
                ),
            };
            let (status, _, _) = get(&responder, &bucket, &path, &query);
            assert!(status == 200 || status == 404, "{path}?{query}");
            let (used, limit) = responder.engine.cache_usage();
            assert!(
                used <= limit,
                "round {round}: {used} bytes cached, budget {limit}"
            );
            fetches_before = responder
                .engine
                .stats
                .object_fetches
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(fetches_before);
        }
        // The table is far bigger than the cache: objects were evicted and fetched again.
        assert!(fetches_before > 100, "{fetches_before} fetches");
    }

    #[test]
    fn pagination_edges() {
        let records: Vec<MediaRecord> = (0..30)
            .map(|i| {
                MediaRecord::ready(format!("n{i:02}.jpg"), MediaType::Image, vec!["Dog".into()])
            })
            .collect();
        let bucket = publish(&records, 4096, 1 << 20);
        let responder = Responder::new(ReadEngine::new("p", 1e9, 1 << 20), Settings::default());
        // limit=1 walks one item at a time.
        let (s, body, link) = get(&responder, &bucket, "/", "label=Dog&limit=1");
        assert_eq!((s, body.matches("\"name\"").count()), (200, 1));
        let link = link.expect("a next page");
        assert!(link.starts_with("</?label=Dog&limit=1&cursor="), "{link}");
        // An empty answer: no Link.
        let (s, body, link) = get(&responder, &bucket, "/", "label=Cat&limit=5");
        assert_eq!((s, body.as_str(), link), (200, "[]", None));
        // A cursor past the end: an empty last page.
        let past = media_query_domain::page::encode_cursor("", "zzz");
        let (s, body, link) = get(&responder, &bucket, "/", &format!("cursor={past}"));
        assert_eq!((s, body.as_str(), link), (200, "[]", None));
        // Exactly a full last page: no Link after it.
        let after = media_query_domain::page::encode_cursor("", "n19.jpg");
        let (_, body, link) = get(
            &responder,
            &bucket,
            "/",
            &format!("limit=10&cursor={after}"),
        );
        assert_eq!((body.matches("\"name\"").count(), link), (10, None));
        // Tampered, truncated and foreign cursors are 400s.
        let (_, _, link) = get(&responder, &bucket, "/", "limit=2");
        let good = next_query(&link.unwrap());
        let cursor = good.rsplit_once("cursor=").unwrap().1.to_string();
        let mut tampered = cursor.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        for bad in [
            format!("limit=2&cursor={}", String::from_utf8(tampered).unwrap()),
            format!("limit=2&cursor={}", &cursor[..cursor.len() - 2]),
            format!("label=Dog&limit=2&cursor={cursor}"),
            "cursor=%20".to_string(),
            "limit=0".to_string(),
            "limit=1001".to_string(),
            "limit=ten".to_string(),
        ] {
            let (s, body, _) = get(&responder, &bucket, "/", &bad);
            assert_eq!(s, 400, "{bad}: {body}");
            assert!(
                body.starts_with("{\"Code\":\"BadRequestError\",\"Message\":\"BadRequestError: "),
                "{body}"
            );
        }
        // Without limit, up to 1,000 items come whole.
        let (_, body, link) = get(&responder, &bucket, "/", "");
        assert_eq!((body.matches("\"name\"").count(), link), (30, None));

        // Tiny shards: a page stops after two shards, short, with a Link.
        let bucket = publish(&records, 200, 1 << 20);
        let responder = Responder::new(ReadEngine::new("p", 1e9, 1 << 20), Settings::default());
        let (_, body, link) = get(&responder, &bucket, "/", "limit=10");
        let n = body.matches("\"name\"").count();
        assert!(n < 10 && link.is_some(), "{n} items, {link:?}");
    }
}

// ---- Incremental updates -----------------------------------------------------

mod updates {
    use super::serving::{check_reads, publish, Bucket};
    use super::*;
    use media_query_domain::engine::{ReadEngine, VersionLoader};
    use media_query_domain::http::{Responder, Settings};
    use media_query_domain::ports::ObjectSink;
    use media_query_domain::serving::build::Object;
    use media_query_domain::serving::manifest::Manifest;
    use media_query_domain::serving::update::{apply, Policy, Updated};
    use media_query_domain::serving::{object_key, pointer_key};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    fn ready<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    pub fn manifest(bucket: &Bucket) -> Manifest {
        serde_json::from_slice(&bucket.0[&pointer_key("p")]).unwrap()
    }

    /// Collects what an update writes.
    #[derive(Default)]
    pub struct Sink(pub Mutex<Vec<Object>>);

    impl ObjectSink for Sink {
        async fn put(&self, objects: Vec<Object>) -> Result<(), String> {
            self.0.lock().unwrap().extend(objects);
            Ok(())
        }
    }

    /// Applies `changes` to the published snapshot in `bucket`; with
    /// `publish` false, the objects are written but not the pointer (a
    /// writer that stopped before publishing).
    pub fn update(
        bucket: &mut Bucket,
        changes: &BTreeMap<String, Option<MediaRecord>>,
        policy: Policy,
        publish: bool,
    ) -> Updated {
        let engine = ReadEngine::new("p", 1e12, 1 << 20);
        let m = manifest(bucket);
        let sink = Sink::default();
        let loader = VersionLoader {
            engine: &engine,
            store: &*bucket,
            manifest: &m,
        };
        let updated = ready(apply(
            &loader,
            &m,
            changes,
            policy,
            "2026-01-01T00:00:00.000Z",
            &sink,
        ))
        .unwrap();
        for (hash, bytes) in sink.0.into_inner().unwrap() {
            bucket.0.insert(object_key("p", &hash), bytes);
        }
        if publish {
            bucket.0.insert(
                pointer_key("p"),
                serde_json::to_vec(&updated.manifest).unwrap(),
            );
        }
        updated
    }

    fn change() -> impl Strategy<Value = (String, Option<MediaRecord>)> {
        (name(), prop::option::weighted(0.7, record())).prop_map(|(n, r)| {
            let r = r.map(|mut r| {
                r.name = n.clone();
                r
            });
            (n, r)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Batches of creates, deletes and relabels (and batches applied
        /// twice, as a retried invocation does), each merged into the delta
        /// or compacted, read through the engine exactly like the final
        /// table; and once compacted, the snapshot is byte for byte the one
        /// a rebuild of the final table gives, with every object it names.
        #[test]
        fn incremental_equals_rebuilt(
            records in prop::collection::vec(record(), 0..150),
            batches in prop::collection::vec((prop::collection::vec(change(), 1..25), any::<bool>()), 1..5),
            target in prop_oneof![Just(64usize), Just(300), Just(2000)],
            page_bytes in prop_oneof![Just(400usize), Just(1usize << 20)],
            delta_max_bytes in prop_oneof![Just(0usize), Just(600), Just(1usize << 20)],
            level_max_bytes in prop_oneof![Just(0usize), Just(4000), Just(1usize << 20)],
            level_part_bytes in prop_oneof![Just(90usize), Just(700)],
            queries in prop::collection::vec(query(), 1..4),
            limit in 1usize..8,
        ) {
            let mut table: BTreeMap<String, MediaRecord> =
                records.into_iter().map(|r| (r.name.clone(), r)).collect();
            let all: Vec<MediaRecord> = table.values().cloned().collect();
            let mut bucket = publish(&all, target, page_bytes);
            let policy = Policy { page_bytes, delta_max_bytes, level_max_bytes, level_part_bytes };
            for (batch, replayed) in batches {
                let changes: BTreeMap<String, Option<MediaRecord>> = batch.into_iter().collect();
                update(&mut bucket, &changes, policy, true);
                if replayed {
                    update(&mut bucket, &changes, policy, true);
                }
                for (name, new) in changes {
                    match new {
                        Some(r) => { table.insert(name, r); }
                        None => { table.remove(&name); }
                    }
                }
                let now: Vec<MediaRecord> = table.values().cloned().collect();
                let responder = Responder::new(ReadEngine::new("p", 1e9, 4096), Settings::default());
                check_reads(&responder, &bucket, &now, &queries, limit)?;
                prop_assert_eq!(manifest(&bucket).item_count, now.iter().filter(|r| r.is_visible()).count() as u64);
            }
            let compacted = update(&mut bucket, &BTreeMap::new(), Policy::compact_now(page_bytes), true);
            prop_assert!(compacted.compacted && compacted.manifest.delta.is_none());
            prop_assert!(compacted.manifest.level.is_empty());
            let now: Vec<MediaRecord> = table.values().cloned().collect();
            let rebuilt = publish(&now, target, page_bytes);
            prop_assert_eq!(&compacted.manifest, &manifest(&rebuilt));
            for key in rebuilt.0.keys() {
                prop_assert!(bucket.0.contains_key(key), "missing object {}", key);
            }
        }
    }

    /// A writer that stops after writing its objects and before the
    /// pointer leaves readers on the previous version; the next run, with
    /// the same changes, completes it.
    #[test]
    fn a_writer_that_stops_before_the_pointer_leaves_the_previous_version() {
        let records: Vec<MediaRecord> = (0..400)
            .map(|i| {
                MediaRecord::ready(
                    format!("k{i:03}"),
                    MediaType::Image,
                    vec![format!("L{}", i % 3)],
                )
            })
            .collect();
        // Compacted into the shards, merged into the level, kept in the delta.
        for (delta_max_bytes, level_max_bytes) in [(0, 0), (0, 1 << 20), (1 << 20, 1 << 20)] {
            let policy = Policy {
                page_bytes: 400,
                delta_max_bytes,
                level_max_bytes,
                level_part_bytes: 500,
            };
            let mut bucket = publish(&records, 300, 400);
            let before = manifest(&bucket);
            let mut moved = records[7].clone();
            moved.labels = vec!["New".into()];
            let changes = BTreeMap::from([
                (moved.name.clone(), Some(moved.clone())),
                ("k100".to_string(), None),
            ]);
            update(&mut bucket, &changes, policy, false);
            assert_eq!(manifest(&bucket), before, "the pointer must not move");
            let responder = Responder::new(ReadEngine::new("p", 1e9, 1 << 20), Settings::default());
            check_reads(&responder, &bucket, &records, &[ListQuery::default()], 50).unwrap();
            let done = update(&mut bucket, &changes, policy, true);
            assert_ne!(done.manifest.version, before.version);
            let mut now = records.clone();
            now[7] = moved.clone();
            now.remove(100);
            let responder = Responder::new(ReadEngine::new("p", 1e9, 1 << 20), Settings::default());
            let by_label = ListQuery {
                label: Some("New".into()),
                ..ListQuery::default()
            };
            check_reads(
                &responder,
                &bucket,
                &now,
                &[ListQuery::default(), by_label],
                50,
            )
            .unwrap();
        }
    }
}

/// One change to a table of thousands of items rewrites a handful of
/// objects, not the table.
#[test]
fn one_change_rewrites_a_handful_of_objects() {
    use media_query_domain::engine::{ReadEngine, VersionLoader};
    use media_query_domain::serving::manifest::Manifest;
    use media_query_domain::serving::pointer_key;
    use media_query_domain::serving::update::{apply, Policy};
    use std::collections::BTreeMap;
    let records: Vec<MediaRecord> = (0..5000)
        .map(|i| {
            let labels = vec![format!("L{}", i % 7), "Common".to_string()];
            MediaRecord::ready(format!("k{i:05}.jpg"), MediaType::Image, labels)
        })
        .collect();
    let bucket = serving::publish(&records, 4096, 4096);
    let m: Manifest = serde_json::from_slice(&bucket.0[&pointer_key("p")]).unwrap();
    assert!(m.shard_count > 100, "{} shards", m.shard_count);
    let mut relabelled = records[2500].clone();
    relabelled.labels = vec!["L1".into(), "New".into()];
    let changes = BTreeMap::from([(relabelled.name.clone(), Some(relabelled))]);
    let engine = ReadEngine::new("p", 1e12, 1 << 24);
    let loader = VersionLoader {
        engine: &engine,
        store: &bucket,
        manifest: &m,
    };
    let sink = updates::Sink::default();
    let policy = Policy::compact_now(4096);
    let u = futures::executor::block_on(apply(&loader, &m, &changes, policy, "t", &sink)).unwrap();
    let objects = sink.0.into_inner().unwrap();
    // Five runs change: the name and image runs and L1 (new JSON), Common
    // (left) and New (joined); a shard or two each, and the directory pages
    // around them (pages of 4 KB here, about 30 entries).
    let media_query_domain::serving::manifest::Directory::Paged(pages) = &u.manifest.directory
    else {
        panic!("a paged directory")
    };
    let new_pages = objects
        .iter()
        .filter(|(h, _)| pages.iter().any(|p| &p.hash == h))
        .count();
    let new_shards = objects.len() - new_pages;
    assert!(
        new_shards <= 10,
        "{new_shards} shards written of {}",
        m.shard_count
    );
    assert!(
        new_pages <= 16,
        "{new_pages} pages written of {}",
        pages.len()
    );
    assert!(u.shards_read <= 12, "{} shards read", u.shards_read);
}

/// Below the delta's bound, a batch writes one object, the delta, and
/// reads one shard per changed name, however many shards the table has.
#[test]
fn a_batch_below_the_bound_writes_only_the_delta() {
    use media_query_domain::engine::{ReadEngine, VersionLoader};
    use media_query_domain::serving::manifest::Manifest;
    use media_query_domain::serving::pointer_key;
    use media_query_domain::serving::update::{apply, Policy};
    use std::collections::BTreeMap;
    let records: Vec<MediaRecord> = (0..5000)
        .map(|i| MediaRecord::ready(format!("k{i:05}.jpg"), MediaType::Image, vec!["A".into()]))
        .collect();
    let bucket = serving::publish(&records, 4096, 4096);
    let m: Manifest = serde_json::from_slice(&bucket.0[&pointer_key("p")]).unwrap();
    let changes: BTreeMap<String, Option<MediaRecord>> = [10, 2000, 4000]
        .iter()
        .map(|&i| (records[i].name.clone(), None))
        .collect();
    let engine = ReadEngine::new("p", 1e12, 1 << 24);
    let loader = VersionLoader {
        engine: &engine,
        store: &bucket,
        manifest: &m,
    };
    let sink = updates::Sink::default();
    let u =
        futures::executor::block_on(apply(&loader, &m, &changes, Policy::default(), "t", &sink))
            .unwrap();
    assert!(!u.compacted);
    assert_eq!((u.objects_written, u.shards_read), (1, 3));
    assert_eq!(u.manifest.item_count, 4997);
    assert_eq!(u.manifest.delta.as_ref().unwrap().entries, 9);
}

/// `n` images labelled `A`, published in shards and pages of 4 KiB.
fn labelled_a(n: usize) -> (Vec<MediaRecord>, serving::Bucket) {
    let records: Vec<MediaRecord> = (0..n)
        .map(|i| MediaRecord::ready(format!("k{i:05}.jpg"), MediaType::Image, vec!["A".into()]))
        .collect();
    let bucket = serving::publish(&records, 4096, 4096);
    (records, bucket)
}

/// A full delta merged into the level rewrites only the parts its names
/// fall in, and the level is read like the delta.
#[test]
fn a_full_delta_rewrites_only_the_level_parts_it_touches() {
    use media_query_domain::http::{Responder, Settings};
    use media_query_domain::serving::update::Policy;
    use std::collections::BTreeMap;
    let (mut records, mut bucket) = labelled_a(3000);
    let policy = Policy {
        page_bytes: 4096,
        delta_max_bytes: 0,
        level_max_bytes: 1 << 30,
        level_part_bytes: 4096,
    };
    // Relabel every item: a level of many parts.
    let relabel = |r: &mut MediaRecord, label: &str| r.labels = vec![label.to_string()];
    records.iter_mut().for_each(|r| relabel(r, "B"));
    let all: BTreeMap<String, Option<MediaRecord>> = records
        .iter()
        .map(|r| (r.name.clone(), Some(r.clone())))
        .collect();
    let u = updates::update(&mut bucket, &all, policy, true);
    assert!(u.level_merged && u.manifest.delta.is_none());
    let parts = u.manifest.level.len();
    assert!(parts > 50, "{parts} parts");
    // Then one change: one part of each of its runs, at most.
    relabel(&mut records[1234], "C");
    let one = BTreeMap::from([(records[1234].name.clone(), Some(records[1234].clone()))]);
    let u = updates::update(&mut bucket, &one, policy, true);
    assert!(u.level_merged);
    assert!(
        u.objects_written <= 5,
        "{} objects written",
        u.objects_written
    );
    assert!(u.manifest.level.len() >= parts);
    let responder = Responder::new(
        media_query_domain::engine::ReadEngine::new("p", 1e9, 1 << 20),
        Settings::default(),
    );
    let queries = ["A", "B", "C"].map(|l| ListQuery {
        label: Some(l.into()),
        ..ListQuery::default()
    });
    serving::check_reads(&responder, &bucket, &records, &queries, 700).unwrap();
    serving::check_reads(&responder, &bucket, &records, &[ListQuery::default()], 1000).unwrap();
}

/// Past its bound, the level sheds a slice into the shards on every batch,
/// in proportion to what the batch added: it stays near its bound, no
/// batch rewrites the whole table, and reads stay right throughout.
#[test]
fn a_full_level_sheds_a_slice_per_batch() {
    use media_query_domain::http::{Responder, Settings};
    use media_query_domain::serving::level;
    use media_query_domain::serving::update::Policy;
    use std::collections::BTreeMap;
    let (mut records, mut bucket) = labelled_a(3000);
    let policy = Policy {
        page_bytes: 4096,
        delta_max_bytes: 20_000,
        level_max_bytes: 60_000,
        level_part_bytes: 4096,
    };
    let (mut partial, mut most_written) = (0, 0);
    for batch in 0..60 {
        let changes: BTreeMap<String, Option<MediaRecord>> = (0..20)
            .map(|j| {
                let i = (batch * 20 + j) * 37 % records.len();
                records[i].labels = vec![format!("B{}", batch % 3)];
                (records[i].name.clone(), Some(records[i].clone()))
            })
            .collect();
        let was = level::raw_bytes(&updates::manifest(&bucket).level);
        let u = updates::update(&mut bucket, &changes, policy, true);
        let now = level::raw_bytes(&u.manifest.level);
        if was > policy.level_max_bytes as u64 {
            assert!(
                u.parts_compacted >= 1,
                "batch {batch}: a full level compacted nothing"
            );
        }
        assert!(
            now <= (policy.level_max_bytes + policy.delta_max_bytes + 2 * policy.level_part_bytes)
                as u64,
            "batch {batch}: the level grew to {now} raw bytes"
        );
        if partial > 0 {
            // After the first slice (which also re-cuts the directory's pages).
            most_written = most_written.max(u.objects_written);
        }
        partial += usize::from(u.compacted && !u.manifest.level.is_empty());
        if batch % 10 == 9 {
            // A new reader each time: a reader keeps its pointer for a while.
            let responder = Responder::new(
                media_query_domain::engine::ReadEngine::new("p", 1e9, 1 << 20),
                Settings::default(),
            );
            let queries = ["A", "B0", "B1", "B2"].map(|l| ListQuery {
                label: Some(l.into()),
                ..ListQuery::default()
            });
            serving::check_reads(&responder, &bucket, &records, &queries, 700).unwrap();
            serving::check_reads(&responder, &bucket, &records, &[ListQuery::default()], 1000)
                .unwrap();
        }
    }
    let shards = updates::manifest(&bucket).shard_count as usize;
    assert!(partial >= 10, "{partial} batches compacted a slice");
    assert!(
        most_written * 3 < shards,
        "a batch wrote {most_written} objects of {shards} shards"
    );
}

/// The first items of an empty table live in the delta alone.
#[test]
fn an_empty_snapshot_serves_its_delta() {
    use media_query_domain::http::{Responder, Settings};
    use media_query_domain::serving::update::Policy;
    use std::collections::BTreeMap;
    let mut bucket = serving::publish(&[], 300, 1 << 20);
    let records = vec![
        MediaRecord::ready("a.jpg", MediaType::Image, vec!["Dog".into()]),
        MediaRecord::ready("b.mp4", MediaType::Video, vec!["Cat".into()]),
    ];
    let changes: BTreeMap<String, Option<MediaRecord>> = records
        .iter()
        .map(|r| (r.name.clone(), Some(r.clone())))
        .collect();
    let u = updates::update(&mut bucket, &changes, Policy::default(), true);
    assert!(u.manifest.delta.is_some());
    let responder = Responder::new(
        media_query_domain::engine::ReadEngine::new("p", 1e9, 1 << 20),
        Settings::default(),
    );
    let queries = [
        ListQuery::default(),
        ListQuery {
            label: Some("Dog".into()),
            ..ListQuery::default()
        },
    ];
    serving::check_reads(&responder, &bucket, &records, &queries, 10).unwrap();
}
