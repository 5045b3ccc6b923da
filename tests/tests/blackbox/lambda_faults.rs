//! object-created against moto through a fault proxy: throttling and
//! transient faults are retried with backoff by the SDK, and an outage
//! that outlasts every retry loses nothing: the event fails loudly, with
//! its reason, which is what sends it to the dead-letter queue (see the
//! walkthrough for the queue itself and its redrive).

use media_query_domain::ListQuery;
use media_query_lambda::config::Config;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_tests::aws;
use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use media_query_tests::moto::start_moto;
use serde_json::{json, Value};

const TABLE: &str = "media";
const BUCKET: &str = "media-bucket";

fn upload_event(key: &str, second: u32) -> Value {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": format!("2026-11-24T10:00:{second:02}.000Z"), "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET}, "object": {"key": key, "size": 100}}}]})
}

fn detect_labels() -> Match {
    Match {
        method: Some("POST".into()),
        path_prefix: None,
        target: Some("RekognitionService.DetectLabels".into()),
    }
}

#[tokio::test]
async fn throttling_is_retried_and_an_outage_loses_nothing() {
    let moto = start_moto();
    let direct = aws::sdk_config(&moto).await;
    aws::create_media_table(&direct, TABLE).await;
    aws::create_bucket(&direct, BUCKET).await;
    // The function's clients, through the proxy.
    let proxy = FaultProxy::start(&moto.endpoint());
    let sdk = direct.to_builder().endpoint_url(proxy.endpoint()).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    let labeler = Rekognition::new(aws_sdk_rekognition::Client::new(&sdk));
    let config = Config::for_table(TABLE);
    let created = |key: &str, second| {
        let event = upload_event(key, second);
        let (config, store, labeler) = (&config, &store, &labeler);
        async move { handle_s3_event(Role::Created, config, store, labeler, &event).await }
    };

    // Two throttles of the write, then a reset and a 500 of DetectLabels:
    // each retried by the SDK (standard mode, 3 attempts, backoff).
    let cases = [
        ("throttled.jpg", Fault::Throttle, Match::dynamodb("PutItem")),
        ("reset.jpg", Fault::Reset, detect_labels()),
        ("error.jpg", Fault::ServerError, detect_labels()),
    ];
    for (i, (key, fault, matching)) in cases.into_iter().enumerate() {
        proxy.inject(Rule::times(2, fault.clone(), matching.clone()));
        let before = proxy.seen(&matching);
        let out = created(key, i as u32)
            .await
            .unwrap_or_else(|e| panic!("{key}: {fault:?} twice is retried: {e}"));
        assert_eq!(out.applied, 1, "{key}");
        assert_eq!(
            proxy.seen(&matching) - before,
            3,
            "{key}: two faulted attempts, then the one that worked"
        );
        assert!(store.get(key).await.unwrap().unwrap().is_visible());
    }

    // DynamoDB down for longer than the SDK retries: the event fails, with
    // a reason, and nothing is half-written. Lambda retries it; once
    // DynamoDB is back, the retry stores it.
    proxy.inject(Rule::always(Fault::Throttle, Match::dynamodb("PutItem")));
    let before = proxy.seen(&Match::dynamodb("PutItem"));
    let err = created("outage.jpg", 10).await.unwrap_err().to_string();
    assert!(
        err.contains("PutItem") && err.contains("ProvisionedThroughputExceeded"),
        "the reason is in the error: {err}"
    );
    assert_eq!(proxy.seen(&Match::dynamodb("PutItem")) - before, 3);
    proxy.pass_through();
    assert!(store.get("outage.jpg").await.unwrap().is_none());
    assert_eq!(created("outage.jpg", 10).await.unwrap().applied, 1);

    let all = store.list(&ListQuery::default()).await.unwrap();
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
}
