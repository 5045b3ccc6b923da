//! Unit tests of the read engine: caching, single flight, versions.

use super::*;
use crate::media::MediaType;
use crate::record::MediaRecord;
use crate::serving::build::Builder;
use std::collections::HashMap;

/// A bucket whose every GET waits a few polls, as a network read does,
/// and counts the GETs of each key.
#[derive(Default)]
struct SlowBucket {
    objects: Mutex<HashMap<String, Vec<u8>>>,
    gets: Mutex<HashMap<String, usize>>,
    /// As the Worker's bucket: waiters check back on their own timer.
    on_timers: bool,
}

/// One turn of the executor.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

impl SlowBucket {
    fn publish(&self, labels: &[&str]) {
        let mut b = Builder::new(2048);
        for i in 0..300 {
            let labels = labels.iter().map(|l| l.to_string()).collect();
            b.push(&MediaRecord::ready(
                format!("n{i:03}.jpg"),
                MediaType::Image,
                labels,
            ))
            .unwrap();
        }
        let (m, objects) = b.finish("2026-12-04T00:00:00.000Z");
        let mut map = lock(&self.objects);
        map.extend(objects.into_iter().map(|(h, o)| (object_key("p", &h), o)));
        map.insert(pointer_key("p"), serde_json::to_vec(&m).unwrap());
    }
}

impl ObjectStore for SlowBucket {
    async fn get(&self, key: &str, _: Option<&str>) -> Result<Fetched, String> {
        *lock(&self.gets).entry(key.to_string()).or_default() += 1;
        for _ in 0..3 {
            yield_once().await;
        }
        Ok(match lock(&self.objects).get(key) {
            Some(body) => Fetched::Object {
                body: body.clone(),
                etag: None,
            },
            None => Fetched::Missing,
        })
    }

    fn waits_on_timers(&self) -> bool {
        self.on_timers
    }

    async fn pause(&self, _ms: f64) {
        yield_once().await
    }
}

#[test]
fn concurrent_requests_for_a_new_version_fetch_each_object_once() {
    for on_timers in [false, true] {
        concurrent_requests_fetch_each_object_once(SlowBucket {
            on_timers,
            ..SlowBucket::default()
        });
    }
}

fn concurrent_requests_fetch_each_object_once(bucket: SlowBucket) {
    bucket.publish(&["Dog"]);
    let engine = ReadEngine::new("p", 1_000.0, 64 << 20);
    let query = ListQuery::default();
    let page = PageRequest {
        limit: 50,
        explicit_limit: true,
        after: None,
    };
    let (bucket, engine, query, page) = (&bucket, &engine, &query, &page);
    let read = |now: f64| async move {
        let m = engine.manifest(bucket, now).await.unwrap();
        engine.list(bucket, &m, query, page).await.unwrap()
    };
    futures::executor::block_on(read(0.0));
    // A new version: every shard is new.
    bucket.publish(&["Cat"]);
    lock(&bucket.gets).clear();
    let first = futures::executor::block_on(engine.manifest(bucket, 2_000.0)).unwrap();
    assert!(!first.version.is_empty());
    let pages = futures::executor::block_on(futures_util::future::join_all(
        (0..12).map(|_| read(2_000.0)),
    ));
    assert!(pages
        .iter()
        .all(|p| p == &pages[0] && p.items[0].contains("Cat")));
    let gets = lock(&bucket.gets);
    let objects: Vec<(&String, &usize)> = gets
        .iter()
        .filter(|(k, _)| k.contains("/objects/"))
        .collect();
    assert!(!objects.is_empty());
    for (key, n) in objects {
        assert_eq!(
            *n, 1,
            "{key} was fetched {n} times by 12 concurrent requests"
        );
    }
    assert_eq!(engine.fetches_in_flight(), 0);
}

impl crate::ports::ObjectSink for SlowBucket {
    async fn put(&self, objects: Vec<crate::serving::build::Object>) -> Result<(), String> {
        let mut map = lock(&self.objects);
        map.extend(objects.into_iter().map(|(h, o)| (object_key("p", &h), o)));
        Ok(())
    }
}

impl SlowBucket {
    /// Applies `changes` to the published version as a stream batch
    /// does (into a new delta) and publishes the result.
    fn update(&self, engine: &ReadEngine, now: f64, labels: &[&str]) -> Manifest {
        use crate::serving::update::{apply, Policy};
        let m = futures::executor::block_on(engine.manifest(self, now)).unwrap();
        let changes = (0..40)
            .map(|i| {
                let labels = labels.iter().map(|l| l.to_string()).collect();
                let r = MediaRecord::ready(format!("n{i:03}.jpg"), MediaType::Image, labels);
                (r.name.clone(), Some(r))
            })
            .collect();
        let loader = engine.loader(self, &m);
        let u =
            futures::executor::block_on(apply(&loader, &m, &changes, Policy::default(), "t", self))
                .unwrap();
        lock(&self.objects).insert(pointer_key("p"), serde_json::to_vec(&u.manifest).unwrap());
        u.manifest
    }
}

#[test]
fn a_replaced_version_s_delta_leaves_the_cache() {
    let bucket = SlowBucket::default();
    bucket.publish(&["Dog"]);
    let engine = ReadEngine::new("p", 0.0, 64 << 20);
    let query = ListQuery::default();
    let page = PageRequest {
        limit: 50,
        explicit_limit: true,
        after: None,
    };
    let read = |now: f64| {
        futures::executor::block_on(async {
            let m = engine.manifest(&bucket, now).await.unwrap();
            engine.list(&bucket, &m, &query, &page).await.unwrap()
        })
    };
    read(1.0);
    let first = bucket.update(&engine, 1.5, &["Cat"]);
    assert!(read(2.0).items[0].contains("Cat"));
    let first_delta = first.delta.as_ref().expect("a delta").hash.clone();
    assert!(lock(&engine.cache).get(&first_delta).is_some());
    let second = bucket.update(&engine, 2.5, &["Owl"]);
    assert!(read(3.0).items[0].contains("Owl"));
    let second_delta = &second.delta.as_ref().expect("a delta").hash;
    assert_ne!(&first_delta, second_delta);
    let mut cache = lock(&engine.cache);
    assert!(
        cache.get(&first_delta).is_none(),
        "the replaced version's delta is still cached"
    );
    assert!(cache.get(second_delta).is_some());
}

#[test]
fn a_waiter_whose_leader_went_away_fetches_the_object_itself() {
    let bucket = SlowBucket::default();
    bucket.publish(&["Dog"]);
    let engine = ReadEngine::new("p", 1_000.0, 64 << 20);
    let m = futures::executor::block_on(engine.manifest(&bucket, 0.0)).unwrap();
    let query = ListQuery::default();
    let page = PageRequest {
        limit: 50,
        explicit_limit: true,
        after: None,
    };
    // The leader is polled once (its fetch starts), then dropped.
    {
        let mut leader = std::pin::pin!(engine.list(&bucket, &m, &query, &page));
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(std::future::Future::poll(leader.as_mut(), &mut cx).is_pending());
        assert_eq!(engine.fetches_in_flight(), 1);
    }
    assert_eq!(engine.fetches_in_flight(), 0);
    let again = futures::executor::block_on(engine.list(&bucket, &m, &query, &page)).unwrap();
    assert_eq!(again.items.len(), 50);
}
