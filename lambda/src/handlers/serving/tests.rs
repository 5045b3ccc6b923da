//! The export writer's publishing, reconciliation and garbage collection
//! over an in-memory bucket ([`crate::memory_bucket`]): how many requests
//! each step makes and how many are in flight at once, what survives a
//! run killed half-way, and what another writer publishing at the same
//! time does.

use super::gc::gc_ledger_key;
use super::objects::IMMUTABLE;
use super::*;
use crate::handlers::writer::SnapshotTarget;
use crate::memory_bucket::MemoryBucket;
use media_query_domain::dynamo::Item;
use media_query_domain::engine::ReadEngine;
use media_query_domain::media::MediaType;
use media_query_domain::page::{PageRequest, MAX_LIMIT};
use media_query_domain::ports::{Bucket, Condition};
use media_query_domain::record::MediaItem;
use media_query_domain::serving::manifest::Directory;
use media_query_domain::serving::{object_key, pointer_key};
use media_query_domain::{ListQuery, MediaRecord};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;

const PREFIX: &str = "snap";

fn target(grace_seconds: u64) -> SnapshotTarget {
    SnapshotTarget {
        bucket: "bucket".into(),
        prefix: PREFIX.into(),
        table_arn: "arn:aws:dynamodb:us-east-1:0:table/media".into(),
        gc_grace_seconds: grace_seconds,
    }
}

/// Items with long names (~800 bytes), so that a few thousand make dozens
/// of shards and a directory past its inline size (paged).
fn items(tag: &str, n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let name = format!("{tag}/{i:06}/{}.jpg", "x".repeat(800));
            let label = if i % 2 == 0 { "Dog" } else { "Cat" };
            MediaRecord::ready(name, MediaType::Image, vec![label.to_string()]).to_item()
        })
        .collect()
}

/// Every item of the published snapshot, through the read engine.
async fn served(bucket: &MemoryBucket) -> Vec<String> {
    let (manifest, _) = read_pointer(bucket, PREFIX).await.unwrap().unwrap();
    let engine = ReadEngine::new(PREFIX, f64::INFINITY, 1 << 20);
    let mut names = Vec::new();
    let mut after = None;
    loop {
        let request = PageRequest {
            limit: MAX_LIMIT,
            explicit_limit: true,
            after,
        };
        let page = engine
            .list(bucket, &manifest, &ListQuery::default(), &request)
            .await
            .unwrap();
        for json in &page.items {
            names.push(serde_json::from_str::<MediaItem>(json).unwrap().name);
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => return names,
        }
    }
}

fn count(c: &std::sync::atomic::AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_build_keeps_puts_in_flight_across_records() {
    let bucket = MemoryBucket::default();
    let published = publish_serving(&items("a", 6000), &bucket, &target(7200))
        .await
        .unwrap();
    assert!(
        published.objects_written > 2 * PUTS_AT_ONCE,
        "{published:?}"
    );
    // The builder releases a shard or none per record; the PUTs still
    // overlap, up to the bound and never past it.
    assert_eq!(count(&bucket.counts.max_puts_in_flight), PUTS_AT_ONCE);
}

#[tokio::test]
async fn the_drift_check_reads_the_published_snapshot_ahead() {
    let bucket = MemoryBucket::default();
    let t = target(7200);
    publish_serving(&items("a", 6000), &bucket, &t)
        .await
        .unwrap();
    bucket.counts.max_gets_in_flight.store(0, Ordering::SeqCst);
    let mut changed = items("a", 6000);
    changed.truncate(5990);
    let again = publish_serving(&changed, &bucket, &t).await.unwrap();
    assert_eq!(again.drift.unwrap().extra, 10);
    assert!(
        count(&bucket.counts.max_gets_in_flight) >= 16,
        "the published shards are read one at a time: {:?}",
        bucket.counts
    );
}

#[tokio::test]
async fn garbage_goes_in_batched_deletes_and_the_ledger_is_written_first() {
    let bucket = MemoryBucket::default();
    let t = target(0);
    let (a, b, c) = (items("a", 3000), items("b", 3000), items("c", 3000));
    publish_serving(&a, &bucket, &t).await.unwrap();
    let a_keys = bucket.keys();
    publish_serving(&b, &bucket, &t).await.unwrap();
    let b_objects: Vec<String> = bucket
        .keys()
        .into_iter()
        .filter(|k| k.contains("/objects/") && !a_keys.contains(k))
        .collect();
    // The third run: a's objects are referenced neither by c nor by b.
    // Its deletes fail, as when the function is killed while deleting.
    bucket.failing_deletes.store(true, Ordering::SeqCst);
    assert!(publish_serving(&c, &bucket, &t).await.is_err());
    let ledger: BTreeMap<String, u64> =
        serde_json::from_slice(&bucket.body(&gc_ledger_key(PREFIX)).unwrap()).unwrap();
    let a_objects: Vec<&String> = a_keys.iter().filter(|k| k.contains("/objects/")).collect();
    assert!(a_objects.len() > 10);
    for k in &a_objects {
        assert!(ledger.contains_key(*k), "the ledger lost {k}");
    }
    // The next run deletes them, and b's, which c now replaces in both
    // versions in use, in one request.
    bucket.failing_deletes.store(false, Ordering::SeqCst);
    let deletes_before = count(&bucket.counts.deletes);
    let again = publish_serving(&c, &bucket, &t).await.unwrap();
    assert_eq!(again.objects_deleted, a_objects.len() + b_objects.len());
    assert_eq!(count(&bucket.counts.deletes) - deletes_before, 1);
    let left = bucket.keys();
    assert!(a_objects.iter().all(|k| !left.contains(*k)));
    assert!(b_objects.iter().all(|k| !left.contains(k)));
    assert_eq!(served(&bucket).await.len(), 3000);
}

#[tokio::test]
async fn an_unreadable_version_in_use_deletes_nothing() {
    let bucket = MemoryBucket::default();
    let t = target(0);
    let (a, b) = (items("a", 3000), items("b", 3000));
    let first = publish_serving(&a, &bucket, &t).await.unwrap();
    publish_serving(&b, &bucket, &t).await.unwrap();
    // The new version is `a` again: every object it needs exists already,
    // unreferenced by `b`. One of its directory pages cannot be read.
    let Directory::Paged(pages) = &first.manifest.directory else {
        panic!("the test needs a paged directory");
    };
    let page = object_key(PREFIX, &pages[0].hash);
    bucket.failing_gets.lock().unwrap().insert(page);
    let published = publish_serving(&a, &bucket, &t).await.unwrap();
    assert_eq!(published.manifest.version, first.manifest.version);
    assert_eq!(published.objects_deleted, 0);
    bucket.failing_gets.lock().unwrap().clear();
    assert_eq!(served(&bucket).await.len(), 3000);
}

#[tokio::test]
async fn an_object_referenced_again_restarts_its_grace_period() {
    let bucket = MemoryBucket::default();
    let t = target(500);
    let key = object_key(PREFIX, "h1");
    bucket.set_clock(0);
    bucket
        .put(&key, b"x".to_vec(), IMMUTABLE, Condition::Always)
        .await
        .unwrap();
    let listed = |b: &MemoryBucket| {
        let objects = b.objects.lock().unwrap();
        objects
            .iter()
            .map(|(k, o)| (k.clone(), o.last_modified_ms))
            .collect::<HashMap<_, _>>()
    };
    let none = HashSet::new();
    // Two hourly runs find it unreferenced.
    let gc = |now| {
        let existing = listed(&bucket);
        let none = &none;
        let t = &t;
        let bucket = &bucket;
        async move {
            collect_garbage(bucket, t, &existing, none, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(gc(1_000).await, 0);
    assert_eq!(gc(300_000).await, 0);
    // A version published between runs references it again: the update
    // that re-cut those bytes wrote it again.
    bucket.set_clock(450_000);
    bucket
        .put(&key, b"x".to_vec(), IMMUTABLE, Condition::Always)
        .await
        .unwrap();
    // Unreferenced again at the next run, past the first grace period.
    assert_eq!(
        gc(600_000).await,
        0,
        "deleted seconds after it was last in use"
    );
    assert!(bucket.body(&key).is_some());
    assert_eq!(gc(600_000 + 500_000).await, 1);
}

fn changes(records: &[(&str, bool)]) -> BTreeMap<String, Option<MediaRecord>> {
    records
        .iter()
        .map(|(name, present)| {
            let record = present.then(|| {
                MediaRecord::ready(name.to_string(), MediaType::Image, vec!["Dog".into()])
            });
            (name.to_string(), record)
        })
        .collect()
}

/// Another writer applies a batch adding `name` on a copy of the bucket;
/// its objects are copied in, and its pointer is written just before the
/// next conditional PUT of the pointer is judged.
async fn competing_batch(bucket: &MemoryBucket, t: &SnapshotTarget, name: &str) {
    let other = bucket.copy();
    apply_changes(&changes(&[(name, true)]), &other, t)
        .await
        .unwrap()
        .unwrap();
    let pointer = pointer_key(PREFIX);
    let theirs = other.objects.lock().unwrap().clone();
    let mut ours = bucket.objects.lock().unwrap();
    for (key, object) in theirs {
        if key == pointer {
            *bucket.competitor.lock().unwrap() = Some((key, object.body));
        } else {
            ours.insert(key, object);
        }
    }
}

#[tokio::test]
async fn a_batch_that_loses_the_pointer_reapplies_on_the_winner() {
    let bucket = MemoryBucket::default();
    let t = target(7200);
    publish_serving(&items("a", 50), &bucket, &t).await.unwrap();
    // Another writer's batch lands just before our pointer.
    competing_batch(&bucket, &t, "theirs.jpg").await;
    let ours = apply_changes(&changes(&[("ours.jpg", true)]), &bucket, &t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ours.conflicts, 1);
    let names = served(&bucket).await;
    assert!(
        names.contains(&"theirs.jpg".to_string()),
        "the other writer's change was lost"
    );
    assert!(names.contains(&"ours.jpg".to_string()));
    assert_eq!(names.len(), 52);
}

#[tokio::test]
async fn a_rebuild_that_loses_the_pointer_keeps_the_winner() {
    let bucket = MemoryBucket::default();
    let t = target(7200);
    let table = items("a", 50);
    publish_serving(&table, &bucket, &t).await.unwrap();
    competing_batch(&bucket, &t, "newer.jpg").await;
    // A rebuild of the table as it was read before the batch, with one
    // item fewer (drift), published over a pointer that moved meanwhile.
    let rebuilt = publish_serving(&table[1..], &bucket, &t).await.unwrap();
    assert_eq!(rebuilt.conflicts, 1);
    let names = served(&bucket).await;
    assert!(
        names.contains(&"newer.jpg".to_string()),
        "the batch's change was lost"
    );
    assert_eq!(names.len(), 51);
}

#[tokio::test]
async fn a_replayed_batch_writes_nothing() {
    let bucket = MemoryBucket::default();
    let t = target(7200);
    publish_serving(&items("a", 50), &bucket, &t).await.unwrap();
    let batch = changes(&[("new.jpg", true)]);
    apply_changes(&batch, &bucket, &t).await.unwrap().unwrap();
    let puts = count(&bucket.counts.puts);
    let pointer = bucket.objects.lock().unwrap()[&pointer_key(PREFIX)].clone();
    let again = apply_changes(&batch, &bucket, &t).await.unwrap().unwrap();
    assert_eq!(again.objects_written, 0);
    assert_eq!(
        count(&bucket.counts.puts),
        puts,
        "a replay wrote to the bucket"
    );
    let after = bucket.objects.lock().unwrap()[&pointer_key(PREFIX)].clone();
    assert_eq!(after.etag, pointer.etag);
}

#[tokio::test]
async fn an_export_is_published_through_the_external_sort_not_held_in_memory() {
    use crate::handlers::export::write_snapshot;
    use crate::store::{MediaStore, MemoryStore};
    let bucket = MemoryBucket::default();
    let store = MemoryStore::new();
    for item in items("a", 3000) {
        let mut record = MediaRecord::from_item(&item).unwrap();
        record.event_order = Some(media_query_domain::OrderKey::from_sequencer("1").unwrap());
        store.put_if_newer(&record).await.unwrap();
    }
    // Reconciliation writes the table in DynamoDB's export layout.
    let (export, rebuilt) = write_snapshot(&store, &bucket, &target(7200))
        .await
        .unwrap();
    // Built from that export under another prefix, with 64 KiB of sort
    // memory for 2.5 MB of items: the sort spills, and the snapshot is
    // the same version.
    let elsewhere = SnapshotTarget {
        prefix: "elsewhere".into(),
        ..target(7200)
    };
    let (published, spilled) =
        publish_export(&bucket, &elsewhere, &export.manifest_summary_key, 64 << 10)
            .await
            .unwrap();
    assert!(spilled > 1 << 20, "{spilled} bytes spilled");
    assert_eq!(published.manifest.version, rebuilt.manifest.version);
    assert_eq!(published.manifest.item_count, 3000);
}
