//! The Worker's second cache: snapshot objects (shards, the delta,
//! directory pages) are immutable, named by their hash, and every one the
//! Worker fetches from S3 is also put in the data centre's Cache API
//! (`SnapshotBucket::remember` in `edge/src/worker_glue.rs`), where any
//! isolate finds it (`SnapshotBucket::cached`) before it asks S3.
//!
//! Under `wrangler dev` the Cache API lives in the local state directory
//! (`--persist-to`), so restarting `wrangler dev` on the same port (the
//! cache keys start with the request's origin) with the same directory
//! gives a new isolate, whose in-memory shard cache is empty, over the same
//! Cache API: what a new isolate in the same data centre would see.

use media_query_domain::serving::pointer_key;
use media_query_domain::{MediaRecord, MediaType};
use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use media_query_tests::world::{World, BUCKET, PREFIX};
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use std::collections::BTreeSet;

/// S3 GETs of the snapshot's objects (shards, the delta, directory pages).
fn objects() -> Match {
    Match::s3_get(&format!("{BUCKET}/{PREFIX}/serving/objects/"))
}

/// S3 GETs of the pointer (the root manifest), which is never in the Cache API.
fn pointer() -> Match {
    Match::s3_get(&format!("{BUCKET}/{}", pointer_key(PREFIX)))
}

/// Thirty items: images and videos, Dog and Cat, and one Owl (its own
/// run, which nothing below reads before the end).
fn records() -> Vec<MediaRecord> {
    (0..30)
        .map(|i| {
            let (name, media_type) = if i % 5 == 0 {
                (format!("c{i:02}.mp4"), MediaType::Video)
            } else {
                (format!("c{i:02}.jpg"), MediaType::Image)
            };
            let mut labels = vec![if i % 2 == 0 { "Dog" } else { "Cat" }.to_string()];
            if i == 7 {
                labels.push("Owl".into());
            }
            MediaRecord::ready(name, media_type, labels)
        })
        .collect()
}

/// Shards read from S3 by one isolate are served to a new isolate (the
/// Worker restarted: its in-memory cache empty) from the Cache API, with
/// S3's object GETs failing: every answer is the same 200 from the
/// snapshot, and S3 is asked for no object at all, only for the pointer.
/// A run no request had read before cannot be served from the snapshot
/// then (the fault is real), and comes from DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_cache_api_serves_a_new_isolate_the_shards_while_s3_is_down() {
    let world = World::with_records(&records()).await;
    // A stream batch on top: the manifest names a delta, an object too.
    let relabelled = MediaRecord::ready(
        "c03.jpg",
        MediaType::Image,
        vec!["Cat".into(), "Dog".into()],
    );
    world.write(relabelled).await;
    let published = world.stream_batch(vec!["c03.jpg".to_string()]).await;
    assert!(published.manifest.delta.is_some(), "{published:?}");

    let proxy = FaultProxy::start(&world.endpoint());
    // A TTL far longer than the test: only a new isolate reads the
    // pointer again.
    let mut edge = start_wrangler_dev(&world.edge_vars(proxy.endpoint(), 600));

    // Warm: the names run, the Dog run (two pages), the video run, items
    // from the shards and from the delta.
    let mut paths = vec![
        "/".to_string(),
        "/?label=Dog".to_string(),
        "/?media-type=video".to_string(),
        "/c12.jpg".to_string(),
        "/c03.jpg".to_string(),
        "/?label=Dog&limit=2".to_string(),
    ];
    let link = edge
        .get("/?label=Dog&limit=2")
        .await
        .header("link")
        .expect("a Link to the second page")
        .to_string();
    let second = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("not a next link: {link}"))
        .to_string();
    paths.push(second);
    let mut warm = Vec::new();
    for path in &paths {
        let a = edge.get(path).await;
        assert_eq!(
            (a.status, a.header("x-media-source")),
            (200, Some("snapshot")),
            "warm GET {path}: {}",
            a.body
        );
        warm.push(a.body);
    }
    assert!(
        warm[1].contains("c03.jpg"),
        "the delta is read: {}",
        warm[1]
    );
    let fetched: BTreeSet<String> = proxy
        .log()
        .iter()
        .filter(|s| s.method == "GET" && s.path.contains("/serving/objects/"))
        .map(|s| s.path.clone())
        .collect();
    assert!(
        fetched.len() >= 4,
        "the names, Dog and video runs' shards and the delta came from S3: {fetched:#?}"
    );

    // S3 refuses every object from now on, and the Worker starts again:
    // a new isolate, nothing in memory.
    proxy.inject(Rule::always(Fault::ServerError, objects()));
    let (objects_before, pointer_before) = (proxy.seen(&objects()), proxy.seen(&pointer()));
    let log_before = proxy.log().len();
    edge.restart().expect("wrangler dev starts again");
    for (path, body) in paths.iter().zip(&warm) {
        let a = edge.get(path).await;
        assert_eq!(
            (a.status, a.header("x-media-source"), a.header("age")),
            (200, Some("snapshot"), None),
            "GET {path} in the new isolate: {}\n{:#?}",
            a.body,
            &proxy.log()[log_before..]
        );
        assert_eq!(&a.body, body, "GET {path} in the new isolate");
    }
    assert_eq!(
        proxy.seen(&objects()),
        objects_before,
        "the new isolate asked S3 for objects the Cache API holds: {:#?}",
        &proxy.log()[log_before..]
    );
    assert!(
        proxy.seen(&pointer()) > pointer_before,
        "the new isolate read the pointer (else it was not a new isolate): {:#?}",
        &proxy.log()[log_before..]
    );

    // A run never read before: not in the Cache API, its shard refused by
    // S3, so the list comes from DynamoDB.
    let owl = edge.get("/?label=Owl").await;
    assert_eq!(
        (owl.status, owl.header("x-media-source")),
        (200, Some("dynamodb")),
        "{}",
        owl.body
    );
    assert!(owl.body.contains("c07.jpg"), "{}", owl.body);
    assert!(
        proxy.faulted(&objects()) > 0,
        "the Owl shard was asked of S3: {:#?}",
        &proxy.log()[log_before..]
    );
}
