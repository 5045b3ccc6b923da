//! object-created / object-removed against moto (S3, DynamoDB, Rekognition's
//! DetectLabels), through the real SDK clients.
//!
//! moto answers DetectLabels with canned labels, so these tests check the
//! wiring and the stored records, comparing with what moto's Rekognition
//! itself answers, never with hard-coded labels.

use media_query_domain::{ListQuery, MediaType, RecordStatus};
use media_query_lambda::config::Config;
use media_query_lambda::handlers::api::respond;
use media_query_lambda::handlers::ingest::{handle_s3_event, IngestError, Role};
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::launch::MotoServer;
use media_query_tests::aws;
use media_query_tests::moto::start_moto;
use serde_json::{json, Value};

const TABLE: &str = "media";
const BUCKET: &str = "media-bucket";

struct Env {
    _moto: MotoServer,
    sdk: aws_config::SdkConfig,
    config: Config,
    store: DynamoStore,
    labeler: Rekognition,
}

async fn env() -> Env {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, TABLE).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let mut config = Config::for_table(TABLE);
    config.video_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:video".into());
    config.video_role_arn = Some("arn:aws:iam::123456789012:role/video".into());
    Env {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
        labeler: Rekognition::new(aws_sdk_rekognition::Client::new(&sdk)),
        config,
        sdk,
        _moto: moto,
    }
}

/// An S3 record as moto sends it (no sequencer) or as AWS does (with one).
fn record(name: &str, raw_key: &str, time: &str, sequencer: Option<&str>, size: u64) -> Value {
    let mut object = json!({"key": raw_key, "size": size, "eTag": "e"});
    if let Some(s) = sequencer {
        object["sequencer"] = json!(s);
    }
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time, "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": "arn:aws:s3:::media-bucket"}, "object": object}})
}

fn event(records: Vec<Value>) -> Value {
    json!({"Records": records})
}

async fn created(
    e: &Env,
    ev: &Value,
) -> Result<media_query_lambda::handlers::Outcome, IngestError> {
    handle_s3_event(Role::Created, &e.config, &e.store, &e.labeler, ev).await
}

async fn removed(
    e: &Env,
    ev: &Value,
) -> Result<media_query_lambda::handlers::Outcome, IngestError> {
    handle_s3_event(Role::Removed, &e.config, &e.store, &e.labeler, ev).await
}

async fn moto_labels(e: &Env, key: &str) -> Vec<String> {
    let out = aws_sdk_rekognition::Client::new(&e.sdk)
        .detect_labels()
        .image(
            aws_sdk_rekognition::types::Image::builder()
                .s3_object(
                    aws_sdk_rekognition::types::S3Object::builder()
                        .bucket(BUCKET)
                        .name(key)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.labels()
        .iter()
        .filter_map(|l| l.name().map(String::from))
        .collect()
}

#[tokio::test]
async fn an_uploaded_image_is_labelled_and_stored_under_its_decoded_key() {
    let e = env().await;
    let ev = event(vec![record(
        "ObjectCreated:Put",
        "my+photo%281%29.JPG",
        "2026-11-24T10:00:00.000Z",
        None,
        2048,
    )]);
    let outcome = created(&e, &ev).await.unwrap();
    assert_eq!(outcome.applied, 1);

    let stored = e
        .store
        .get("my photo(1).JPG")
        .await
        .unwrap()
        .expect("stored under the decoded key");
    assert_eq!(stored.media_type, MediaType::Image);
    assert!(stored.is_visible());
    let expected = moto_labels(&e, "my photo(1).JPG").await;
    assert!(!expected.is_empty());
    assert_eq!(
        stored.labels, expected,
        "labels are Rekognition's, in its order"
    );
    assert!(stored
        .labels
        .iter()
        .all(|l| stored.confidences.contains_key(l)));

    let r = respond(&e.store, "GET", "/my%20photo%281%29.JPG", None).await;
    assert_eq!(r.status, 200);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"name": "my photo(1).JPG", "type": "image", "labels": expected})
    );
}

#[tokio::test]
async fn a_replayed_event_neither_duplicates_nor_regresses() {
    let e = env().await;
    let ev = event(vec![record(
        "ObjectCreated:Put",
        "caf%C3%A9.png",
        "2026-11-24T10:00:00.000Z",
        Some("0A"),
        10,
    )]);
    assert_eq!(created(&e, &ev).await.unwrap().applied, 1);
    let second = created(&e, &ev).await.unwrap();
    assert_eq!((second.applied, second.stale), (0, 1));
    let all = e.store.list(&ListQuery::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "café.png");
}

#[tokio::test]
async fn a_late_created_event_does_not_bring_back_a_deleted_object() {
    let e = env().await;
    let put = event(vec![record(
        "ObjectCreated:Put",
        "dog.jpg",
        "2026-11-24T10:00:00.000Z",
        None,
        10,
    )]);
    let del = event(vec![record(
        "ObjectRemoved:Delete",
        "dog.jpg",
        "2026-11-24T10:00:01.000Z",
        None,
        10,
    )]);
    // Delivered out of order: the removal first.
    assert_eq!(removed(&e, &del).await.unwrap().applied, 1);
    let late = created(&e, &put).await.unwrap();
    assert_eq!((late.applied, late.stale), (0, 1));
    let stored = e.store.get("dog.jpg").await.unwrap().unwrap();
    assert_eq!(stored.status, RecordStatus::Deleted);
    // The tombstone expires (DynamoDB TTL) long after any redelivery.
    let raw = aws_sdk_dynamodb::Client::new(&e.sdk)
        .get_item()
        .table_name(TABLE)
        .key(
            "name",
            aws_sdk_dynamodb::types::AttributeValue::S("dog.jpg".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: u64 = raw["expires_at"].as_n().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ttl = media_query_domain::record::TOMBSTONE_TTL_SECONDS;
    assert!(
        expires > now + ttl - 600 && expires <= now + ttl,
        "{expires}"
    );
    let r = respond(&e.store, "GET", "/dog.jpg", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        r#"{"Code":"NotFoundError","Message":"NotFoundError: Media file (dog.jpg) not found"}"#
    );
    assert_eq!(respond(&e.store, "GET", "/", None).await.body, "[]");

    // A newer upload does bring it back.
    let again = event(vec![record(
        "ObjectCreated:Put",
        "dog.jpg",
        "2026-11-24T10:00:02.000Z",
        None,
        10,
    )]);
    assert_eq!(created(&e, &again).await.unwrap().applied, 1);
    assert!(e.store.get("dog.jpg").await.unwrap().unwrap().is_visible());
}

#[tokio::test]
async fn sequencers_order_events_on_one_key() {
    let e = env().await;
    let put = event(vec![record(
        "ObjectCreated:Put",
        "a.png",
        "2026-11-24T10:00:05.000Z",
        Some("00FF"),
        10,
    )]);
    let del = event(vec![record(
        "ObjectRemoved:Delete",
        "a.png",
        "2026-11-24T10:00:00.000Z",
        Some("0100"),
        10,
    )]);
    removed(&e, &del).await.unwrap();
    // The put's event time is later, but its sequencer is smaller: it is older.
    assert_eq!(created(&e, &put).await.unwrap().stale, 1);
    assert_eq!(
        e.store.get("a.png").await.unwrap().unwrap().status,
        RecordStatus::Deleted
    );
}

#[tokio::test]
async fn other_files_and_test_events_are_skipped_without_error() {
    let e = env().await;
    let ev = event(vec![
        record(
            "ObjectCreated:Put",
            "notes.txt",
            "2026-11-24T10:00:00.000Z",
            None,
            10,
        ),
        record(
            "ObjectRemoved:Delete",
            "x.jpg",
            "2026-11-24T10:00:00.000Z",
            None,
            10,
        ),
    ]);
    let outcome = created(&e, &ev).await.unwrap();
    assert_eq!((outcome.applied, outcome.skipped), (0, 2));
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET});
    assert_eq!(created(&e, &test_event).await.unwrap().skipped, 1);
    assert!(e
        .store
        .list(&ListQuery::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn malformed_records_fail_the_invocation_after_the_good_ones_are_stored() {
    let e = env().await;
    let ev = event(vec![
        record(
            "ObjectCreated:Put",
            "good.jpg",
            "2026-11-24T10:00:00.000Z",
            None,
            10,
        ),
        record(
            "ObjectCreated:Put",
            "bad%zz.jpg",
            "2026-11-24T10:00:00.000Z",
            None,
            10,
        ),
    ]);
    let err = created(&e, &ev).await.unwrap_err();
    assert!(
        matches!(err, IngestError::RecordsFailed { count: 1, .. }),
        "{err}"
    );
    assert!(e.store.get("good.jpg").await.unwrap().is_some());
    assert!(matches!(
        created(&e, &json!({"hello": 1})).await,
        Err(IngestError::Malformed(_))
    ));
}

#[tokio::test]
async fn an_oversized_image_is_recorded_as_unprocessable_not_retried() {
    let e = env().await;
    let ev = event(vec![record(
        "ObjectCreated:Put",
        "huge.png",
        "2026-11-24T10:00:00.000Z",
        None,
        20 * 1024 * 1024,
    )]);
    let outcome = created(&e, &ev).await.unwrap();
    assert_eq!(outcome.unprocessable, 1);
    let stored = e.store.get("huge.png").await.unwrap().unwrap();
    assert_eq!(stored.status, RecordStatus::Failed);
    assert!(stored.error.unwrap().starts_with("ImageTooLargeException"));
    assert_eq!(
        respond(&e.store, "GET", "/huge.png", None).await.status,
        404
    );
}

#[tokio::test]
async fn a_video_whose_job_cannot_start_fails_the_invocation_loudly() {
    // moto 5.2.5 answers StartLabelDetection with HTTP 500: a transient-looking
    // failure must surface as an error (Lambda retries, then dead-letters).
    let e = env().await;
    let ev = event(vec![record(
        "ObjectCreated:Put",
        "clip.mp4",
        "2026-11-24T10:00:00.000Z",
        None,
        10,
    )]);
    let err = created(&e, &ev).await.unwrap_err();
    assert!(matches!(err, IngestError::Rekognition { .. }), "{err}");
    let stored = e.store.get("clip.mp4").await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        RecordStatus::Pending,
        "pending, hidden from the API"
    );
    assert_eq!(respond(&e.store, "GET", "/", None).await.body, "[]");
}

#[tokio::test]
async fn events_wrapped_in_sqs_messages_are_unwrapped() {
    let e = env().await;
    let inner = event(vec![record(
        "ObjectCreated:Put",
        "queued.jpg",
        "2026-11-24T10:00:00.000Z",
        None,
        10,
    )]);
    let sqs = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": inner.to_string()}]});
    assert_eq!(created(&e, &sqs).await.unwrap().applied, 1);
    assert!(e
        .store
        .get("queued.jpg")
        .await
        .unwrap()
        .unwrap()
        .is_visible());
}
