//! The Worker under `wrangler dev` with a fault proxy between it and moto:
//! an S3 outage is answered from the last good snapshot, a transient fault
//! (one 500, one reset, one throttle) is retried and answered normally,
//! and a hanging S3 is cut off by the subrequest timeout.

use super::edge_worker::vector_world;
use media_query_domain::dynamo::Item;
use media_query_stack::launch::WranglerDev;
use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use media_query_tests::world::{World, BUCKET, PREFIX};
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The snapshot's shards and directory pages.
fn objects() -> Match {
    Match::s3_get(&format!("{BUCKET}/{PREFIX}/serving/objects/"))
}

/// Everything the Worker reads from the export bucket.
fn s3() -> Match {
    Match::s3_get(&format!("{BUCKET}/"))
}

/// The Worker's SNAPSHOT_TTL_SECONDS ([`World::edge_vars`]).
const TTL_SECONDS: u64 = 1;

/// [`TTL_SECONDS`], and then some: the next request re-checks the pointer.
const PAST_TTL: Duration = Duration::from_millis(1500);

/// The vector table and its snapshot in moto, and the Worker reading them
/// through a fault proxy (passing everything through, for now).
async fn edge_behind_proxy() -> (World, FaultProxy, WranglerDev) {
    let world = vector_world().await;
    let proxy = FaultProxy::start(&world.endpoint());
    let edge = start_wrangler_dev(&world.edge_vars(proxy.endpoint(), TTL_SECONDS));
    (world, proxy, edge)
}

/// An item in the table only, newer than the snapshot: `GET /{name}`
/// reads it with a GetItem.
async fn put_unexported(world: &World, name: &str) {
    let item: Item = serde_json::from_value(serde_json::json!({
        "name": {"S": name}, "type": {"S": "image"}, "labels": {"L": [{"S": "Owl"}]}
    }))
    .unwrap();
    world.put_raw(&item).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_faults_an_s3_outage_is_answered_from_the_last_good_snapshot() {
    let (_world, proxy, edge) = edge_behind_proxy().await;
    let good = edge.get("/?label=Dog").await;
    assert_eq!(
        (
            good.status,
            good.header("x-media-source"),
            good.header("age")
        ),
        (200, Some("snapshot"), None),
        "{}",
        good.body
    );
    for fault in [Fault::ServerError, Fault::SlowDown, Fault::Reset] {
        proxy.inject(Rule::always(fault.clone(), s3()));
        let before = proxy.faulted(&s3());
        tokio::time::sleep(PAST_TTL).await;
        for path in ["/?label=Dog", "/"] {
            let a = edge.get(path).await;
            assert_eq!(
                (a.status, a.header("x-media-source")),
                (200, Some("snapshot")),
                "{fault:?}: GET {path}: {}",
                a.body
            );
            let age: u64 = a
                .header("age")
                .unwrap_or_else(|| panic!("{fault:?}: GET {path}: a stale answer has an Age"))
                .parse()
                .unwrap();
            assert!(age >= 1, "{fault:?}: Age {age}");
            if path == "/?label=Dog" {
                assert_eq!(a.body, good.body, "{fault:?}");
            }
        }
        // The refresh was attempted, a bounded number of times.
        let attempts = proxy.faulted(&s3()) - before;
        assert!(
            (1..=3).contains(&attempts),
            "{fault:?}: {attempts} attempts: {:?}",
            proxy.log()
        );
        proxy.pass_through();
    }
    // S3 back: fresh answers again, once the pointer is re-checked.
    tokio::time::sleep(PAST_TTL).await;
    let a = edge.get("/?label=Dog").await;
    assert_eq!(
        (a.status, a.header("x-media-source"), a.header("age")),
        (200, Some("snapshot"), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_faults_a_transient_fault_is_retried_and_answered_normally() {
    let (world, proxy, edge) = edge_behind_proxy().await;
    // Every case is tried, and the test lists those that failed.
    let mut failed = Vec::new();
    // One fault on the first GET of a shard no request has read yet (each
    // query reads its own run's shard): without the retry, the list comes
    // from a DynamoDB Scan.
    for (fault, query) in [
        (Fault::ServerError, "label=Dog"),
        (Fault::SlowDown, "label=Person"),
        (Fault::Reset, "label=Husky"),
    ] {
        let (before, faulted_before) = (proxy.seen(&objects()), proxy.faulted(&objects()));
        proxy.inject(Rule::times(1, fault.clone(), objects()));
        let a = edge.get(&format!("/?{query}")).await;
        let faulted = proxy.faulted(&objects()) - faulted_before;
        proxy.pass_through();
        assert_eq!(
            faulted,
            1,
            "{fault:?}: the fault was met: {:?}",
            proxy.log()
        );
        let got = (a.status, a.header("x-media-source"), a.header("age"));
        let attempts = proxy.seen(&objects()) - before;
        if got != (200, Some("snapshot"), None) || attempts < 2 {
            failed.push(format!(
                "{fault:?} on a shard: {got:?} after {attempts} GETs"
            ));
        }
    }
    // One fault on a GetItem of a name the snapshot lacks: without the
    // retry, a 503.
    let get_item = Match::dynamodb("GetItem");
    for (fault, name) in [
        (Fault::Throttle, "throttled.jpg"),
        (Fault::Reset, "reset.jpg"),
        (Fault::ServerError, "server-error.jpg"),
    ] {
        put_unexported(&world, name).await;
        let before = proxy.seen(&get_item);
        proxy.inject(Rule::times(1, fault.clone(), get_item.clone()));
        let a = edge.get(&format!("/{name}")).await;
        proxy.pass_through();
        let got = (a.status, a.header("x-media-source"));
        let attempts = proxy.seen(&get_item) - before;
        if got != (200, Some("dynamodb")) || attempts != 2 || a.json()["name"] != name {
            failed.push(format!(
                "{fault:?} on GetItem: {got:?} after {attempts} calls"
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}\n{:#?}", proxy.log());
}

/// A GET that gives up after `limit`: the status and the headers a test
/// looks at, and how long the answer took (to its headers).
async fn timed_get(
    edge: &WranglerDev,
    path: &str,
    limit: Duration,
) -> (u16, String, String, Duration) {
    let started = Instant::now();
    let resp = media_query_tests::http_client()
        .get(edge.url(path))
        .timeout(limit)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("GET {path}: no answer within {limit:?} ({e}): a hanging S3 hangs the Worker")
        });
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    (
        resp.status().as_u16(),
        header("x-media-source"),
        header("age"),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_faults_a_hanging_s3_is_cut_off_by_the_timeout() {
    let (_world, proxy, edge) = edge_behind_proxy().await;
    assert_eq!(edge.get("/?label=Dog").await.status, 200);
    proxy.inject(Rule::always(Fault::Hang, s3()));
    tokio::time::sleep(PAST_TTL).await;
    // The pointer re-check hangs: the last good snapshot answers, stale.
    let bound = Duration::from_secs(8);
    let (status, source, age, took) =
        timed_get(&edge, "/?label=Dog", Duration::from_secs(20)).await;
    assert_eq!((status, source.as_str()), (200, "snapshot"));
    assert!(!age.is_empty(), "a stale answer has an Age");
    assert!(took < bound, "took {took:?}");
    // A shard never read before hangs too: DynamoDB answers instead.
    let (status, source, _, took) =
        timed_get(&edge, "/?label=Person", Duration::from_secs(20)).await;
    assert_eq!((status, source.as_str()), (200, "dynamodb"));
    assert!(took < bound, "took {took:?}");
    assert!(proxy.faulted(&s3()) >= 2, "{:?}", proxy.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_faults_a_collected_shard_makes_the_edge_read_the_pointer_again() {
    let world = vector_world().await;
    // A TTL far longer than the test: only a re-check forced by the
    // missing object can move the isolate to the new version.
    let vars = world.edge_vars(world.endpoint(), 600);
    // A version 1 of this run's own, so that no earlier run left its
    // objects in the Cache API of `wrangler dev`.
    let nonce = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    put_unexported(&world, &format!("{nonce}.jpg")).await;
    world.rebuild().await;
    let edge = start_wrangler_dev(&vars);
    // The isolate holds version 1's manifest, and none of the Owl run's
    // shards (a conditional request reads only the manifest).
    let warm = edge
        .request("GET", "/?label=Owl", &[("if-none-match", "*")])
        .await;
    assert_eq!(warm.status, 304, "{}", warm.body);
    // Two rebuilds later (no grace period), version 1's shards are gone.
    put_unexported(&world, "zz-new-1.jpg").await;
    world.rebuild().await;
    put_unexported(&world, "zz-new-2.jpg").await;
    world.rebuild().await;
    let a = edge.get("/?label=Owl").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("snapshot")),
        "{}",
        a.body
    );
    assert!(a.body.contains("zz-new-2.jpg"), "{}", a.body);
}

/// Many requests of one isolate need the objects of a new version at once:
/// each object is fetched once, and every request is answered (workerd
/// cancels a request that waits on another request's fetch with nothing of
/// its own pending, so the waiters check back on their own timers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_faults_concurrent_requests_for_a_new_version_fetch_each_object_once() {
    let (world, proxy, edge) = edge_behind_proxy().await;
    assert_eq!(edge.get("/?label=Dog").await.status, 200);
    put_unexported(&world, "zz-concurrent.jpg").await;
    world.rebuild().await;
    tokio::time::sleep(PAST_TTL).await;
    let before = proxy.log().len();
    // Ten requests in flight at once, each its own task.
    let edge = Arc::new(edge);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let edge = Arc::clone(&edge);
            let path = match i % 3 {
                0 => "/?label=Owl",
                1 => "/",
                _ => "/zz-concurrent.jpg",
            };
            tokio::spawn(async move { edge.get(path).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    // Requests that came while the pointer was being re-checked answer
    // from the version they had (and the new item from DynamoDB).
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let mut gets = std::collections::BTreeMap::<String, usize>::new();
    for seen in &proxy.log()[before..] {
        if seen.method == "GET" && seen.path.contains("/serving/objects/") {
            *gets.entry(seen.path.clone()).or_default() += 1;
        }
    }
    assert!(!gets.is_empty(), "the new version's objects were read");
    assert!(gets.values().all(|&n| n == 1), "{gets:#?}");
}
