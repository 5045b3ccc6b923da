//! The export writer against moto S3 + DynamoDB: the snapshot is in
//! DynamoDB's export layout, complete, published by the pointer, and old
//! exports are cleaned up.

use flate2::read::GzDecoder;
use media_query_domain::dynamo::parse_export_line;
use media_query_domain::export::{
    latest_pointer_key, parse_manifest_files, LatestPointer, ManifestSummary,
};
use media_query_domain::{MediaRecord, MediaType, OrderKey, RecordStatus};
use media_query_lambda::handlers::export::write_snapshot;
use media_query_lambda::handlers::writer::SnapshotTarget;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::launch::MotoServer;
use media_query_tests::aws;
use media_query_tests::moto::start_moto;
use media_query_tests::native_export::{self, base64_md5};
use media_query_tests::world::{World, BUCKET};
use std::io::Read;

/// moto with the media table and the export bucket ([`World`]), and the
/// serving snapshot's place under `edge` with this grace period.
async fn export_world(
    gc_grace_seconds: u64,
) -> (
    MotoServer,
    aws_config::SdkConfig,
    DynamoStore,
    SnapshotTarget,
) {
    let World {
        moto,
        sdk,
        store,
        target,
        ..
    } = World::with_gc_grace(gc_grace_seconds).await;
    (moto.expect("moto runs"), sdk, store, target)
}

/// The read API over the snapshot under `edge`, re-reading the pointer on
/// every request.
fn read_api<'a>(
    store: &'a DynamoStore,
    s3: &aws_sdk_s3::Client,
) -> media_query_lambda::handlers::api::ReadApi<'a, DynamoStore> {
    let snapshot =
        media_query_lambda::snapshot_bucket::SnapshotBucket::new(s3.clone(), Some(BUCKET.into()));
    media_query_lambda::handlers::api::ReadApi::new(store, snapshot, "edge", 0)
}

/// The export bucket through the SDK, as the export writer uses it.
fn bucket(s3: &aws_sdk_s3::Client) -> media_query_lambda::s3_bucket::S3Bucket {
    media_query_lambda::s3_bucket::S3Bucket::new(s3.clone(), BUCKET.to_string())
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

#[tokio::test]
async fn snapshot_is_a_complete_dynamodb_export_published_last() {
    let (_moto, sdk, store, target) = export_world(0).await;
    let mut written = Vec::new();
    for i in 0..25 {
        let mut r = MediaRecord::ready(
            format!("photo {i}/é.jpg"),
            MediaType::Image,
            vec!["Dog".into(), format!("L{i}")],
        );
        r.event_order = Some(OrderKey::from_sequencer(&format!("{i:X}")).unwrap());
        if i == 3 {
            r.status = RecordStatus::Deleted;
        }
        store.put_if_newer(&r).await.unwrap();
        written.push(r);
    }
    let s3 = aws::s3_client(&sdk);
    let (pointer, first) = write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    assert_eq!(
        (first.drift, first.skipped),
        (None, 0),
        "nothing was published before"
    );

    // Read it back as any reader of a native export would.
    let read: LatestPointer =
        serde_json::from_slice(&get(&s3, &latest_pointer_key("edge")).await).unwrap();
    assert_eq!(read, pointer);
    assert!(read.manifest_summary_key.starts_with("edge/AWSDynamoDB/"));
    let summary = ManifestSummary::parse(
        std::str::from_utf8(&get(&s3, &read.manifest_summary_key).await).unwrap(),
    )
    .unwrap();
    assert_eq!(summary.item_count, 25);
    assert_eq!(summary.s3_bucket, BUCKET);
    let files = parse_manifest_files(
        std::str::from_utf8(&get(&s3, &summary.manifest_files_s3_key).await).unwrap(),
    )
    .unwrap();
    let mut back = Vec::new();
    for f in &files {
        let gz = get(&s3, &f.data_file_s3_key).await;
        assert_eq!(f.md5_checksum, base64_md5(&gz));
        let mut text = String::new();
        GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len() as u64, f.item_count);
        for l in lines {
            back.push(MediaRecord::from_item(&parse_export_line(l).unwrap()).unwrap());
        }
    }
    back.sort_by(|a, b| a.name.cmp(&b.name));
    written.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        back, written,
        "every record, tombstones included, exactly as stored"
    );

    // Two more exports: the previous one is kept for readers mid-switch, older ones go.
    let (second, _) = write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (third, _) = write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    let dir = |p: &LatestPointer| {
        p.manifest_summary_key
            .trim_end_matches("manifest-summary.json")
            .to_string()
    };
    let all = keys(&s3).await;
    assert!(
        !all.iter().any(|k| k.starts_with(&dir(&pointer))),
        "oldest export deleted: {all:?}"
    );
    assert!(all.iter().any(|k| k.starts_with(&dir(&second))));
    assert!(all.iter().any(|k| k.starts_with(&dir(&third))));

    // Reconciliation: a served snapshot that drifted from the table (an
    // item the table lacks, an item it misses, one served differently) is
    // counted and replaced by the rebuild; then there is nothing to fix.
    use media_query_lambda::handlers::serving::{apply_changes, Drift};
    let mut relabelled = written[0].clone();
    relabelled.labels = vec!["Owl".into()];
    let drifted = std::collections::BTreeMap::from([
        (
            "ghost.jpg".to_string(),
            Some(MediaRecord::ready("ghost.jpg", MediaType::Image, vec![])),
        ),
        (written[1].name.clone(), None),
        (relabelled.name.clone(), Some(relabelled)),
    ]);
    apply_changes(&drifted, &bucket(&s3), &target)
        .await
        .unwrap()
        .unwrap();
    let (_, fixed) = write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    let want = Drift {
        missing: 1,
        extra: 1,
        changed: 1,
    };
    assert_eq!(fixed.drift, Some(want));
    assert!(fixed.manifest.delta.is_none());
    let (_, clean) = write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    assert_eq!(clean.drift, Some(Drift::default()));
    assert_eq!(clean.manifest.version, fixed.manifest.version);
}

/// A native `ExportTableToPointInTime` export (several data files, items
/// in no order, DynamoDB's own field names) becomes a serving snapshot
/// that the read API answers from; publishing again rewrites only what
/// changed, and objects no version references are deleted.
#[tokio::test]
async fn the_serving_snapshot_builds_from_a_native_export_and_rewrites_only_changes() {
    use media_query_domain::serving::{objects_prefix, pointer_key};
    use media_query_lambda::handlers::api::ReadApi;
    use media_query_lambda::handlers::serving::{
        apply_changes, export_items, publish_serving, ExportContents,
    };
    use media_query_lambda::snapshot_bucket::SnapshotBucket;

    let (_moto, sdk, store, target) = export_world(0).await;
    let s3 = aws::s3_client(&sdk);
    let dir = "native/AWSDynamoDB/01700000000000-abcdef12/";
    let mut records: Vec<MediaRecord> = (0..60)
        .rev()
        .map(|i| {
            let labels = if i % 3 == 0 {
                vec!["Dog".to_string()]
            } else {
                vec!["Cat".to_string()]
            };
            MediaRecord::ready(format!("n{i:03}.jpg"), MediaType::Image, labels)
        })
        .collect();
    records[5].status = RecordStatus::Deleted;
    // Three data files of 25, 25 and 10 items.
    let exported: Vec<_> = records.iter().map(MediaRecord::to_item).collect();
    let summary_key = native_export::put_full(&sdk, BUCKET, dir, &exported, 25).await;

    let ExportContents::Full(items) = export_items(&bucket(&s3), &summary_key).await.unwrap()
    else {
        panic!("a full export")
    };
    assert_eq!(items.len(), 60);
    let first = publish_serving(&items, &bucket(&s3), &target)
        .await
        .unwrap();
    assert_eq!(first.manifest.item_count, 59, "the tombstone is not served");
    assert!(first.objects_written > 0);

    // The read API answers from it (the table is empty: no fallback can help).
    let api = ReadApi::new(
        &store,
        SnapshotBucket::new(s3.clone(), Some(BUCKET.into())),
        "edge",
        60,
    );
    let dogs = api
        .respond("GET", "/", Some("label=Dog&limit=100"), None)
        .await;
    assert_eq!(dogs.header("x-media-source"), Some("snapshot"));
    let names: Vec<String> = serde_json::from_str::<serde_json::Value>(&dogs.body)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = (0..60)
        .filter(|i| i % 3 == 0 && *i != 54)
        .map(|i| format!("n{i:03}.jpg"))
        .collect();
    assert_eq!(names, want);
    assert_eq!(
        api.respond("GET", "/n054.jpg", None, None).await.status,
        404,
        "n054 is a tombstone"
    );

    // The same items again: nothing but the pointer is written.
    let again = publish_serving(&items, &bucket(&s3), &target)
        .await
        .unwrap();
    assert_eq!(
        (again.objects_written, again.manifest.version.clone()),
        (0, first.manifest.version.clone())
    );

    // One relabelled item: only the shards that hold it change.
    let mut changed = items.clone();
    let one = changed
        .iter_mut()
        .find(|i| i["name"].as_s() == Some("n001.jpg"))
        .unwrap();
    let mut r = MediaRecord::from_item(one).unwrap();
    r.labels = vec!["Owl".into()];
    *one = r.to_item();
    let third = publish_serving(&changed, &bucket(&s3), &target)
        .await
        .unwrap();
    // The name run's shard, the image run's shard, Cat's shard and Owl's new one.
    assert_eq!(third.objects_written, 4, "{third:?}");
    // Back to the first content: the third version's objects stay, for
    // readers that fetched its pointer just before the switch...
    let fourth = publish_serving(&items, &bucket(&s3), &target)
        .await
        .unwrap();
    assert_eq!((fourth.objects_written, fourth.objects_deleted), (0, 0));
    // ...and go once no current or previous version references them.
    let fifth = publish_serving(&items, &bucket(&s3), &target)
        .await
        .unwrap();
    assert_eq!(fifth.objects_written, 0);
    assert!(
        fifth.objects_deleted >= 2,
        "Owl's shard and the relabelled Cat and name shards are no longer referenced: {fifth:?}"
    );
    let current: media_query_domain::serving::manifest::Manifest =
        serde_json::from_slice(&get(&s3, &pointer_key("edge")).await).unwrap();
    assert_eq!(current.version, first.manifest.version);
    assert!(keys(&s3)
        .await
        .iter()
        .any(|k| k.starts_with(&objects_prefix("edge"))));

    // A native incremental export: n001 relabelled (twice; the later write
    // wins, whatever the line order), n002 deleted (no NewImage).
    let inc = "native/AWSDynamoDB/01700000999999-abcdef13/";
    let owl = MediaRecord::ready("n001.jpg", MediaType::Image, vec!["Owl".into()]);
    let bat = MediaRecord::ready("n001.jpg", MediaType::Image, vec!["Bat".into()]);
    let image = |r: &MediaRecord| serde_json::to_string(&r.to_item()).unwrap();
    let lines = [
        format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"1700000002000000"}}}},"Keys":{{"name":{{"S":"n001.jpg"}}}},"NewImage":{},"OldImage":{}}}"#, image(&owl), image(&bat)),
        format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"1700000001000000"}}}},"Keys":{{"name":{{"S":"n001.jpg"}}}},"NewImage":{}}}"#, image(&bat)),
        r#"{"Metadata":{"WriteTimestampMicros":{"N":"1700000003000000"}},"Keys":{"name":{"S":"n002.jpg"}}}"#.to_string(),
    ];
    let inc_key = native_export::put_incremental(&sdk, BUCKET, inc, &lines).await;
    let ExportContents::Incremental(changes) = export_items(&bucket(&s3), &inc_key).await.unwrap()
    else {
        panic!("an incremental export")
    };
    assert_eq!(changes.len(), 2);
    apply_changes(&changes, &bucket(&s3), &target)
        .await
        .unwrap()
        .unwrap();
    let api = read_api(&store, &s3);
    let owls = api.respond("GET", "/", Some("label=Owl"), None).await;
    assert_eq!(
        owls.body,
        r#"[{"name":"n001.jpg","type":"image","labels":["Owl"]}]"#
    );
    assert_eq!(
        api.respond("GET", "/n002.jpg", None, None).await.status,
        404
    );
}

/// A stream batch (Lambda's DynamoDB Streams event) is applied to the
/// serving snapshot incrementally: the read API then answers the new
/// state, and a rebuild from the table gives the same version.
#[tokio::test]
async fn a_stream_batch_updates_the_serving_snapshot_incrementally() {
    use media_query_domain::stream::parse_batch;
    use media_query_lambda::handlers::api::ReadApi;
    use media_query_lambda::handlers::serving::{apply_changes, current_states};
    use media_query_lambda::snapshot_bucket::SnapshotBucket;
    use serde_json::json;

    let (_moto, sdk, store, target) = export_world(0).await;
    let s3 = aws::s3_client(&sdk);
    // No snapshot yet: the batch asks for a full build.
    let nothing = apply_changes(&Default::default(), &bucket(&s3), &target)
        .await
        .unwrap();
    assert!(nothing.is_none());

    for i in 0..30 {
        let mut r =
            MediaRecord::ready(format!("p{i:02}.jpg"), MediaType::Image, vec!["Dog".into()]);
        r.event_order = Some(OrderKey::from_sequencer(&format!("{:X}", i + 1)).unwrap());
        store.put_if_newer(&r).await.unwrap();
    }
    write_snapshot(&store, &bucket(&s3), &target).await.unwrap();

    // The table changes; its stream delivers the new images.
    let mut cat = MediaRecord::ready("p05.jpg", MediaType::Image, vec!["Cat".into()]);
    cat.event_order = Some(OrderKey::from_sequencer("FF").unwrap());
    let mut gone = MediaRecord::ready("p07.jpg", MediaType::Image, vec![]);
    gone.status = RecordStatus::Deleted;
    gone.event_order = Some(OrderKey::from_sequencer("FF").unwrap());
    let mut video = MediaRecord::ready("new.mp4", MediaType::Video, vec!["Dog".into()]);
    video.event_order = Some(OrderKey::from_sequencer("FF").unwrap());
    for r in [&cat, &gone, &video] {
        store.put_if_newer(r).await.unwrap();
    }
    let image = |r: &MediaRecord| serde_json::to_value(r.to_item()).unwrap();
    let event = json!({"Records": [
        {"eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
         "dynamodb": {"Keys": {"name": {"S": "p05.jpg"}}, "NewImage": image(&cat), "SequenceNumber": "100", "StreamViewType": "NEW_AND_OLD_IMAGES"}},
        {"eventID": "2", "eventName": "MODIFY", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
         "dynamodb": {"Keys": {"name": {"S": "p07.jpg"}}, "NewImage": image(&gone), "SequenceNumber": "101", "StreamViewType": "NEW_AND_OLD_IMAGES"}},
        {"eventID": "3", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
         "dynamodb": {"Keys": {"name": {"S": "new.mp4"}}, "NewImage": image(&video), "SequenceNumber": "102", "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    ]});
    // As the export writer does: the batch names what changed, the table
    // says what it is now.
    let changes = parse_batch(&event).unwrap();
    let latest = current_states(&store, changes.latest.keys().cloned())
        .await
        .unwrap();
    let updated = apply_changes(&latest, &bucket(&s3), &target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.manifest.item_count, 30, "one deleted, one added");
    assert!(
        updated.manifest.delta.is_some(),
        "a small batch goes to the delta"
    );
    assert_eq!(updated.objects_written, 1, "the delta, and nothing else");
    // Replaying the same batch changes nothing.
    let again = apply_changes(&latest, &bucket(&s3), &target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.manifest.version, updated.manifest.version);

    let api = read_api(&store, &s3);
    let cats = api.respond("GET", "/", Some("label=Cat"), None).await;
    assert_eq!(
        (cats.header("x-media-source"), cats.body.as_str()),
        (
            Some("snapshot"),
            r#"[{"name":"p05.jpg","type":"image","labels":["Cat"]}]"#
        )
    );
    let videos = api
        .respond("GET", "/", Some("media-type=video"), None)
        .await;
    assert_eq!(
        videos.body,
        r#"[{"name":"new.mp4","type":"video","labels":["Dog"]}]"#
    );
    let dogs: serde_json::Value =
        serde_json::from_str(&api.respond("GET", "/", Some("label=Dog"), None).await.body).unwrap();
    assert_eq!(
        dogs.as_array().unwrap().len(),
        29,
        "p05 left Dog, p07 is gone, new.mp4 joined"
    );

    // p05 is deleted later; the old batch, replayed after that (a late
    // retry), must not bring it back.
    let mut p05_gone = MediaRecord::ready("p05.jpg", MediaType::Image, vec![]);
    p05_gone.status = RecordStatus::Deleted;
    p05_gone.event_order = Some(OrderKey::from_sequencer("FFF").unwrap());
    store.put_if_newer(&p05_gone).await.unwrap();
    let replayed = current_states(&store, changes.latest.keys().cloned())
        .await
        .unwrap();
    apply_changes(&replayed, &bucket(&s3), &target)
        .await
        .unwrap()
        .unwrap();
    let all = api.respond("GET", "/", None, None).await.body;
    assert!(
        !all.contains("p05.jpg"),
        "a late replay brought p05 back: {all}"
    );

    // A rebuild from the table answers exactly the same, without a delta.
    // The incrementally kept snapshot's answers are captured BEFORE the
    // rebuild: every read API here re-reads the pointer on every request
    // (TTL 0), so once `write_snapshot` has published, any of them serves
    // the rebuilt version, and comparing two of them afterwards would
    // compare the rebuild with itself.
    let pointer = media_query_domain::serving::pointer_key("edge");
    let kept: media_query_domain::serving::manifest::Manifest =
        serde_json::from_slice(&get(&s3, &pointer).await).unwrap();
    assert!(
        kept.delta.is_some(),
        "the snapshot before the rebuild is the incrementally kept one"
    );
    let lists = [
        "",
        "label=Dog",
        "label=Cat",
        "media-type=video",
        "limit=4",
        "label=Dog&limit=7",
    ];
    let paths = [
        "/p00.jpg",
        "/p05.jpg",
        "/p06.jpg",
        "/p07.jpg",
        "/new.mp4",
        "/nothing.jpg",
    ];
    let (before, before_versions) = answers(&api, &lists, &paths).await;
    assert_eq!(
        before_versions,
        std::collections::BTreeSet::from([kept.version.clone()]),
        "the captured answers come from the incrementally kept snapshot"
    );

    write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    let rebuilt: media_query_domain::serving::manifest::Manifest =
        serde_json::from_slice(&get(&s3, &pointer).await).unwrap();
    assert!(rebuilt.delta.is_none());
    let fresh = ReadApi::new(
        &store,
        SnapshotBucket::new(s3.clone(), Some(BUCKET.into())),
        "edge",
        0,
    );
    for (who, reader) in [("a fresh read API", &fresh), ("the same read API", &api)] {
        let (after, after_versions) = answers(reader, &lists, &paths).await;
        assert_eq!(
            after_versions,
            std::collections::BTreeSet::from([rebuilt.version.clone()]),
            "{who} answers from the rebuilt snapshot"
        );
        assert_eq!(
            after, before,
            "{who}: the rebuild answers differently from the kept snapshot"
        );
    }
}

/// One answer of the read API, as a client sees it (the headers that
/// name a version, `ETag` and `Last-Modified`, left out).
#[derive(Debug, PartialEq)]
struct Answer {
    request: String,
    status: u16,
    source: Option<String>,
    link: Option<String>,
    body: String,
}

/// The read API's answers to `GET /?<query>` for each of `lists`, every
/// page (following `Link`), and to `GET <path>` for each of `paths`; with
/// the snapshot versions that gave them. Every list comes from the
/// snapshot.
async fn answers(
    api: &media_query_lambda::handlers::api::ReadApi<'_, DynamoStore>,
    lists: &[&str],
    paths: &[&str],
) -> (Vec<Answer>, std::collections::BTreeSet<String>) {
    let mut out = Vec::new();
    let mut versions = std::collections::BTreeSet::new();
    for list in lists {
        let mut query = list.to_string();
        let mut pages = 0;
        loop {
            pages += 1;
            assert!(pages <= 100, "{list}: more than 100 pages");
            let raw = (!query.is_empty()).then_some(query.as_str());
            let reply = api.respond("GET", "/", raw, None).await;
            assert_eq!(
                (reply.status, reply.header("x-media-source")),
                (200, Some("snapshot")),
                "GET /?{query}: {}",
                reply.body
            );
            versions.extend(reply.snapshot_version.clone());
            let link = reply.header("link").map(str::to_string);
            out.push(Answer {
                request: format!("GET /?{query}"),
                status: reply.status,
                source: reply.header("x-media-source").map(str::to_string),
                link: link.clone(),
                body: reply.body,
            });
            match link {
                Some(link) => {
                    query = link
                        .strip_prefix("</?")
                        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                        .unwrap_or_else(|| panic!("not a next link: {link}"))
                        .to_string()
                }
                None => break,
            }
        }
    }
    for path in paths {
        let reply = api.respond("GET", path, None, None).await;
        versions.extend(reply.snapshot_version.clone());
        out.push(Answer {
            request: format!("GET {path}"),
            status: reply.status,
            source: reply.header("x-media-source").map(str::to_string),
            link: reply.header("link").map(str::to_string),
            body: reply.body,
        });
    }
    (out, versions)
}

#[tokio::test]
async fn a_pointer_that_cannot_be_read_fails_the_batch_instead_of_rebuilding() {
    use media_query_domain::serving::pointer_key;
    use media_query_lambda::handlers::serving::apply_changes;
    use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};

    let (moto, sdk, store, target) = export_world(0).await;
    write_snapshot(&store, &bucket(&aws::s3_client(&sdk)), &target)
        .await
        .unwrap();
    // The pointer exists, but reading it fails (a 500 past the SDK's
    // retries, or a 403 from a wrong policy): the batch must fail and be
    // retried, not be taken for "no snapshot yet" and rebuild everything.
    let proxy = FaultProxy::start(&moto.endpoint());
    let pointer = Match::s3_get(&format!("{BUCKET}/{}", pointer_key("edge")));
    proxy.inject(Rule::always(Fault::ServerError, pointer.clone()));
    let through_proxy = aws::s3_client(&sdk.to_builder().endpoint_url(proxy.endpoint()).build());
    let err = apply_changes(&Default::default(), &bucket(&through_proxy), &target)
        .await
        .map(|p| p.is_some())
        .unwrap_err();
    assert!(err.to_string().contains("GetObject"), "{err}");
    assert!(proxy.seen(&pointer) >= 1);
}

#[tokio::test]
async fn exports_as_other_tools_write_them_are_read_and_a_bad_line_is_skipped() {
    use media_query_lambda::handlers::serving::{export_items, ExportContents};

    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let s3 = aws::s3_client(&sdk);
    let dir = "native/AWSDynamoDB/01700000000000-abcdef12/";
    let lines = [
        // Labels as a string set, and attributes of someone else's.
        r#"{"Item":{"name":{"S":"set.jpg"},"type":{"S":"image"},"labels":{"SS":["Animal","Dog"]},"owner":{"S":"ann"}}}"#,
        r#"{"Item":{"name":{"S":"list.jpg"},"type":{"S":"image"},"labels":{"L":[{"S":"Cat"}]}}}"#,
        // Cut short by some tool: skipped, logged and counted.
        r#"{"Item":{"name":{"S":"broken.jpg"},"ty"#,
    ];
    // Keys relative to the export's folder, one data file of zero bytes.
    let files = [
        ("data/a.json.gz", native_export::gzip(&lines), 3),
        ("data/empty.json.gz", Vec::new(), 0),
    ];
    let mut manifest_files = String::new();
    for (key, body, count) in files {
        // No `etag`: DynamoDB writes one, other tools may not.
        manifest_files.push_str(&native_export::manifest_files_line(key, &body, count, None));
        aws::put_object(&sdk, BUCKET, &format!("{dir}{key}"), body).await;
    }
    aws::put_object(
        &sdk,
        BUCKET,
        &format!("{dir}manifest-files.json"),
        manifest_files.into_bytes(),
    )
    .await;
    let summary_key = format!("{dir}manifest-summary.json");
    let mut summary = native_export::summary(BUCKET, dir, "FULL_EXPORT", 3);
    summary["manifestFilesS3Key"] = "manifest-files.json".into();
    aws::put_object(&sdk, BUCKET, &summary_key, summary.to_string().into_bytes()).await;

    let ExportContents::Full(items) = export_items(&bucket(&s3), &summary_key).await.unwrap()
    else {
        panic!("a full export")
    };
    let records: Vec<MediaRecord> = items
        .iter()
        .map(|i| MediaRecord::from_item(i).unwrap())
        .collect();
    let served: Vec<(&str, Vec<String>)> = records
        .iter()
        .map(|r| (r.name.as_str(), r.labels.clone()))
        .collect();
    assert_eq!(
        served,
        [
            ("set.jpg", vec!["Animal".to_string(), "Dog".to_string()]),
            ("list.jpg", vec!["Cat".to_string()])
        ]
    );
}

#[tokio::test]
async fn unreferenced_objects_wait_out_the_grace_period() {
    use media_query_lambda::handlers::serving::publish_serving;

    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let s3 = aws::s3_client(&sdk);
    let mut target = SnapshotTarget {
        bucket: BUCKET.into(),
        prefix: "edge".into(),
        table_arn: "arn:aws:dynamodb:us-east-1::table/media".into(),
        gc_grace_seconds: 3600,
    };
    let version = |label: &str| -> Vec<media_query_domain::dynamo::Item> {
        (0..20)
            .map(|i| {
                MediaRecord::ready(format!("g{i:02}.jpg"), MediaType::Image, vec![label.into()])
                    .to_item()
            })
            .collect()
    };
    // Three versions: the first's objects end up referenced by neither the
    // current nor the previous version.
    for label in ["Dog", "Cat", "Owl"] {
        let p = publish_serving(&version(label), &bucket(&s3), &target)
            .await
            .unwrap();
        assert_eq!(p.objects_deleted, 0, "{label}: within the grace period");
    }
    let ledger: std::collections::BTreeMap<String, u64> =
        serde_json::from_slice(&get(&s3, "edge/serving/unreferenced.json").await).unwrap();
    assert!(!ledger.is_empty(), "the first version's objects are noted");
    // A reader that fetched the first manifest still finds its objects.
    for key in ledger.keys() {
        get(&s3, key).await;
    }
    // Past the grace period they go (and, with no grace, the second
    // version's, unreferenced from now on), and the ledger forgets them.
    target.gc_grace_seconds = 0;
    let p = publish_serving(&version("Owl"), &bucket(&s3), &target)
        .await
        .unwrap();
    assert!(p.objects_deleted > ledger.len(), "{p:?}");
    let left = keys(&s3).await;
    assert!(ledger.keys().all(|k| !left.contains(k)), "{left:?}");
    let after: std::collections::BTreeMap<String, u64> =
        serde_json::from_slice(&get(&s3, "edge/serving/unreferenced.json").await).unwrap();
    assert!(after.is_empty(), "{after:?}");
}

/// A rebuild and a stream batch at the same time: the batch publishes
/// while the rebuild, which read the table before the change, is still
/// building. The rebuild's conditional write of the pointer then fails, and
/// the batch's change stays in the published snapshot.
#[tokio::test]
async fn a_rebuild_never_publishes_over_a_stream_batch_that_ran_meanwhile() {
    use media_query_lambda::handlers::serving::{apply_changes, current_states};
    use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
    use std::time::Duration;

    let (moto, sdk, store, target) = export_world(7200).await;
    let s3 = aws::s3_client(&sdk);
    for i in 0..20 {
        let mut r =
            MediaRecord::ready(format!("p{i:02}.jpg"), MediaType::Image, vec!["Dog".into()]);
        r.event_order = Some(OrderKey::from_sequencer(&format!("{:X}", i + 1)).unwrap());
        store.put_if_newer(&r).await.unwrap();
    }
    write_snapshot(&store, &bucket(&s3), &target).await.unwrap();
    // An item the snapshot missed (a lost stream event): the rebuild has
    // a new version to publish.
    let mut missed = MediaRecord::ready("p99.jpg", MediaType::Image, vec!["Dog".into()]);
    missed.event_order = Some(OrderKey::from_sequencer("FE").unwrap());
    store.put_if_newer(&missed).await.unwrap();

    // The rebuild's S3 calls go through a proxy that holds its listing of
    // the snapshot's objects (after it has read the pointer and the
    // table) for three seconds.
    let proxy = FaultProxy::start(&moto.endpoint());
    let listing = Match {
        method: Some("GET".into()),
        path_prefix: Some(format!(
            "/{BUCKET}/?list-type=2&prefix=edge%2Fserving%2Fobjects"
        )),
        ..Match::any()
    };
    proxy.inject(Rule::times(
        1,
        Fault::Delay(Duration::from_secs(3)),
        listing.clone(),
    ));
    let slow = bucket(&aws::s3_client(
        &sdk.to_builder().endpoint_url(proxy.endpoint()).build(),
    ));
    let rebuild = write_snapshot(&store, &slow, &target);
    let batch = async {
        let waiting = std::time::Instant::now();
        while proxy.seen(&listing) == 0 {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "the rebuild never listed the snapshot's objects: {:?}",
                proxy.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut owl = MediaRecord::ready("p03.jpg", MediaType::Image, vec!["Owl".into()]);
        owl.event_order = Some(OrderKey::from_sequencer("FF").unwrap());
        store.put_if_newer(&owl).await.unwrap();
        let latest = current_states(&store, ["p03.jpg".to_string()])
            .await
            .unwrap();
        apply_changes(&latest, &bucket(&s3), &target)
            .await
            .unwrap()
            .unwrap()
    };
    let (rebuilt, batch) = tokio::join!(rebuild, batch);
    let (_, rebuilt) = rebuilt.unwrap();
    assert_eq!(batch.conflicts, 0);
    assert_eq!(rebuilt.drift.unwrap().missing, 1);
    assert_eq!(rebuilt.conflicts, 1, "the rebuild published over the batch");
    assert_eq!(rebuilt.manifest.version, batch.manifest.version);

    let api = read_api(&store, &s3);
    let owls = api.respond("GET", "/", Some("label=Owl"), None).await;
    assert_eq!(
        (owls.header("x-media-source"), owls.body.as_str()),
        (
            Some("snapshot"),
            r#"[{"name":"p03.jpg","type":"image","labels":["Owl"]}]"#
        )
    );
}
