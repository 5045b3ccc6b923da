//! The `s3_envelope` target: S3 notifications inside SQS messages and SNS
//! notifications (fan-out setups, the local stack), as the ingest Lambda
//! unwraps them (`media_query_lambda::handlers::ingest::s3_notifications`).
//!
//! It needs the `lambda` feature (the Lambda crate, so the AWS SDKs). CI
//! replays its corpus and regressions through the Lambda crate's
//! `tests/fuzz_corpus.rs`, which compiles this file as a module.

use crate::checks;
use media_query_domain::s3_event::parse_s3_event_value;
use media_query_lambda::handlers::ingest::{s3_notifications, IngestError};
use serde_json::{json, Value};

/// An event as the ingest Lambda receives it.
///
/// An SQS or SNS batch unwraps to one notification per record (an SQS one
/// keeps its message id), anything else to itself; a message that cannot
/// be unwrapped is a `Malformed` error in its place, and every unwrapped
/// one meets the `s3_event` target's invariants. The input, put in an SQS
/// message, an SNS notification and an SNS notification in an SQS
/// message, unwraps to what parses like the input.
pub fn s3_envelope(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let notifications = s3_notifications(&event);
    let records = event.get("Records").and_then(Value::as_array);
    let source = records
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
        .and_then(Value::as_str);
    match (source, records) {
        (Some(s @ ("aws:sqs" | "aws:sns")), Some(records)) => {
            assert_eq!(notifications.len(), records.len(), "{event}");
            for n in &notifications {
                assert_eq!(n.message_id.is_some(), s == "aws:sqs", "{event}");
            }
        }
        _ => {
            assert_eq!(notifications.len(), 1, "{event}");
            let body = notifications[0].body.as_ref().expect("passed through");
            assert_eq!(body, &event);
        }
    }
    for n in &notifications {
        match &n.body {
            Ok(body) => checks::s3_event(body.to_string().as_bytes()),
            Err(e) => assert!(matches!(e, IngestError::Malformed(_)), "{e:?}"),
        }
    }

    // An SNS notification inside SQS is recognised by its `Type`, so an
    // input that has that `Type` itself is one, not a notification.
    if event.get("Type").and_then(Value::as_str) == Some("Notification") {
        return;
    }
    let body = event.to_string();
    let sns = json!({
        "Type": "Notification",
        "MessageId": "m",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:media",
        "Message": body,
    });
    let want = parse_s3_event_value(&event);
    for envelope in [
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": body}]}),
        json!({"Records": [{"EventSource": "aws:sns", "Sns": sns}]}),
        json!({"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": sns.to_string()}]}),
    ] {
        let inner = s3_notifications(&envelope);
        assert_eq!(inner.len(), 1, "{envelope}");
        let body = inner[0]
            .body
            .as_ref()
            .unwrap_or_else(|e| panic!("{envelope}: {e}"));
        assert_eq!(parse_s3_event_value(body), want, "{envelope}");
    }
}
