//! `export-writer` given `{"fromExport": "<key of a manifest-summary.json>"}`:
//! the real binary, invoked through the Invoke API of `cargo lambda watch`
//! as `aws lambda invoke` would invoke it, against native DynamoDB exports
//! (`ExportTableToPointInTime`) in moto's S3. A full export becomes the
//! serving snapshot; an incremental one is applied to the published
//! snapshot, and refused while there is none.

use media_query_domain::serving::manifest::Manifest;
use media_query_domain::serving::pointer_key;
use media_query_domain::{MediaRecord, MediaType, RecordStatus};
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::store::DynamoStore;
use media_query_stack::invoke::Invoker;
use media_query_tests::aws;
use media_query_tests::lambda_watch::start_lambda_watch;
use media_query_tests::native_export;
use media_query_tests::world::{World, BUCKET, PREFIX, TABLE};
use serde_json::{json, Value};

const FULL_DIR: &str = "native/AWSDynamoDB/01700000000000-abcdef12/";
const INCREMENTAL_DIR: &str = "native/AWSDynamoDB/01700000999999-abcdef13/";

/// The names a list answer holds, in its order.
fn names(body: &str) -> Vec<String> {
    serde_json::from_str::<Value>(body)
        .unwrap_or_else(|e| panic!("not a JSON list ({e}): {body}"))
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

/// The names `GET /?<query>` lists, from a read API over the published
/// snapshot (the table is empty: only the snapshot can answer), checked
/// to come from the snapshot.
async fn list(store: &DynamoStore, s3: &aws_sdk_s3::Client, query: &str) -> Vec<String> {
    let api = ReadApi::new(
        store,
        SnapshotBucket::new(s3.clone(), Some(BUCKET.into())),
        PREFIX,
        0,
    );
    let reply = api.respond("GET", "/", Some(query), None).await;
    assert_eq!(
        (reply.status, reply.header("x-media-source")),
        (200, Some("snapshot")),
        "GET /?{query}: {}",
        reply.body
    );
    names(&reply.body)
}

/// The published serving manifest, if any.
async fn published(s3: &aws_sdk_s3::Client) -> Option<Manifest> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(pointer_key(PREFIX))
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(serde_json::from_slice(&bytes).expect("the pointer is a manifest"))
}

/// Pins the `fromExport` branch of the export writer's binary: (1) an
/// incremental export given before any snapshot is published fails the
/// invocation with `NoSnapshotToUpdate`'s message and publishes nothing;
/// (2) a full native export (three data files, items out of order, one
/// tombstone) is published as the serving snapshot, the answer naming the
/// export, the published version and the visible item count, and the read
/// API serving exactly its visible items; (3) an incremental export is
/// then applied to that snapshot (a relabelled item, where the later of
/// two writes wins, a deleted one, a new one), publishing a new version;
/// (4) replaying it publishes nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writer_publishes_a_native_full_export_and_applies_an_incremental_one() {
    let World {
        moto, sdk, store, ..
    } = World::empty().await;
    let moto = moto.expect("moto runs");
    let s3 = aws::s3_client(&sdk);

    // A full export: n00..n29, every third a Dog, n09 a tombstone; the
    // data files list them in reverse.
    let records: Vec<MediaRecord> = (0..30)
        .rev()
        .map(|i| {
            let label = if i % 3 == 0 { "Dog" } else { "Cat" };
            let mut r = MediaRecord::ready(
                format!("n{i:02}.jpg"),
                MediaType::Image,
                vec![label.to_string()],
            );
            if i == 9 {
                r.status = RecordStatus::Deleted;
            }
            r
        })
        .collect();
    let items: Vec<_> = records.iter().map(MediaRecord::to_item).collect();
    let full_key = native_export::put_full(&sdk, BUCKET, FULL_DIR, &items, 10).await;

    // An incremental export: n01 written twice (Bat, then Owl; the lines
    // in the other order), n02 deleted, n99 new.
    let owl = MediaRecord::ready("n01.jpg", MediaType::Image, vec!["Owl".into()]).to_item();
    let bat = MediaRecord::ready("n01.jpg", MediaType::Image, vec!["Bat".into()]).to_item();
    let new = MediaRecord::ready("n99.jpg", MediaType::Image, vec!["Dog".into()]).to_item();
    let lines = [
        native_export::incremental_line("n01.jpg", Some(&owl), 1_700_000_002_000_000),
        native_export::incremental_line("n01.jpg", Some(&bat), 1_700_000_001_000_000),
        native_export::incremental_line("n02.jpg", None, 1_700_000_003_000_000),
        native_export::incremental_line("n99.jpg", Some(&new), 1_700_000_004_000_000),
    ];
    let incremental_key =
        native_export::put_incremental(&sdk, BUCKET, INCREMENTAL_DIR, &lines).await;

    let watch = start_lambda_watch(&[
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("MEDIA_TABLE_NAME", TABLE.to_string()),
        ("SNAPSHOT_BUCKET", BUCKET.to_string()),
        ("SNAPSHOT_PREFIX", PREFIX.to_string()),
    ]);
    let invoker = Invoker::at(watch.endpoint());

    // 1. Incremental, with nothing published yet: refused, nothing written.
    let early = invoker
        .call("export-writer", &json!({"fromExport": incremental_key}))
        .await
        .expect("the Invoke API answers");
    assert!(
        early.failed,
        "an incremental export with no snapshot must fail: {}",
        early.body
    );
    assert!(
        early.body.to_string().contains("there is none yet"),
        "the error says why: {}",
        early.body
    );
    assert!(published(&s3).await.is_none(), "nothing was published");

    // 2. The full export becomes the serving snapshot.
    let full = invoker
        .invoke("export-writer", &json!({"fromExport": full_key}))
        .await
        .expect("a full export is published");
    assert_eq!(full["fromExport"], json!(full_key), "{full}");
    assert_eq!(full["itemCount"], 29, "the tombstone is not served: {full}");
    let first = published(&s3).await.expect("a snapshot is published");
    assert_eq!(full["version"], json!(first.version), "{full}");
    assert_eq!(first.item_count, 29);
    let all: Vec<String> = (0..30)
        .filter(|i| *i != 9)
        .map(|i| format!("n{i:02}.jpg"))
        .collect();
    assert_eq!(list(&store, &s3, "limit=100").await, all);
    let dogs: Vec<String> = (0..30)
        .filter(|i| i % 3 == 0 && *i != 9)
        .map(|i| format!("n{i:02}.jpg"))
        .collect();
    assert_eq!(list(&store, &s3, "label=Dog&limit=100").await, dogs);

    // 3. The incremental export is applied to it.
    let applied = invoker
        .invoke("export-writer", &json!({"fromExport": incremental_key}))
        .await
        .expect("an incremental export is applied");
    assert_eq!(applied["fromExport"], json!(incremental_key), "{applied}");
    assert_eq!(
        applied["itemCount"], 29,
        "n02 deleted, n99 added: {applied}"
    );
    let second = published(&s3).await.unwrap();
    assert_eq!(applied["version"], json!(second.version), "{applied}");
    assert_ne!(second.version, first.version, "a new version is published");
    assert_eq!(list(&store, &s3, "label=Owl").await, ["n01.jpg"]);
    assert!(
        list(&store, &s3, "label=Bat").await.is_empty(),
        "the later write of n01 wins"
    );
    let mut now: Vec<String> = all
        .into_iter()
        .filter(|n| n != "n02.jpg")
        .chain(["n99.jpg".to_string()])
        .collect();
    now.sort();
    assert_eq!(list(&store, &s3, "limit=100").await, now);

    // 4. Applying it again changes nothing.
    let again = invoker
        .invoke("export-writer", &json!({"fromExport": incremental_key}))
        .await
        .expect("a replayed incremental export is applied");
    assert_eq!(again["version"], json!(second.version), "{again}");
}
