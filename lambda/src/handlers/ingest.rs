//! `object-created` and `object-removed`: S3 events to media records.
//!
//! Every write carries the event's [`OrderKey`] and is conditional, so a
//! replayed event changes nothing and a late `ObjectCreated` cannot bring
//! back an object a newer `ObjectRemoved` deleted (the removal leaves a
//! tombstone). Events may arrive straight from S3, or wrapped in SQS
//! messages or SNS notifications (fan-out setups, the local stack).

use super::{BatchItemFailure, Outcome};
use crate::config::{Config, MAX_IMAGE_BYTES, MAX_VIDEO_BYTES};
use crate::rekognition::{DetectError, Labeler, VideoJob};
use crate::store::{MediaStore, StoreError, Write};
use media_query_domain::labels::aggregate_image;
use media_query_domain::s3_event::{parse_s3_event_value, ChangeKind, S3Change};
use media_query_domain::{MediaRecord, MediaType, OrderKey, RecordStatus};
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tracing::{error, info, warn};

/// Which changes a function acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Created,
    Removed,
}

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("{count} of the event's records failed, the others were processed: {details}")]
    RecordsFailed { count: usize, details: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("labelling {key} failed: {source}")]
    Rekognition {
        key: String,
        #[source]
        source: DetectError,
    },
    #[error("cannot start a video job: {0} is not set")]
    NotConfigured(&'static str),
    #[error("every message of the SQS batch failed: {0}")]
    BatchFailed(String),
}

/// One S3 notification to handle, and the SQS message it came in, if any.
pub struct Notification {
    pub message_id: Option<String>,
    pub body: Result<Value, IngestError>,
}

/// Unwraps SQS and SNS envelopes down to the S3 notifications inside. A
/// message that cannot be unwrapped is returned as an error in its place,
/// so that it fails alone.
pub fn s3_notifications(event: &Value) -> Vec<Notification> {
    let records = event.get("Records").and_then(Value::as_array);
    let first_source = records
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
        .and_then(Value::as_str);
    let inner = |text: Option<&str>, what: &str| -> Result<Value, IngestError> {
        let text = text.ok_or_else(|| IngestError::Malformed(format!("{what} without a body")))?;
        let v: Value = serde_json::from_str(text)
            .map_err(|e| IngestError::Malformed(format!("{what} body is not JSON: {e}")))?;
        // S3 -> SNS -> SQS: the SQS body is an SNS envelope.
        match v.get("Type").and_then(Value::as_str) {
            Some("Notification") => serde_json::from_str(v["Message"].as_str().unwrap_or(""))
                .map_err(|e| IngestError::Malformed(format!("SNS message is not JSON: {e}"))),
            _ => Ok(v),
        }
    };
    match (first_source, records) {
        (Some("aws:sqs"), Some(records)) => records
            .iter()
            .map(|r| Notification {
                message_id: Some(
                    r.get("messageId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ),
                body: inner(r.get("body").and_then(Value::as_str), "SQS message"),
            })
            .collect(),
        (Some("aws:sns"), Some(records)) => records
            .iter()
            .map(|r| Notification {
                message_id: None,
                body: inner(
                    r.pointer("/Sns/Message").and_then(Value::as_str),
                    "SNS record",
                ),
            })
            .collect(),
        _ => vec![Notification {
            message_id: None,
            body: Ok(event.clone()),
        }],
    }
}

/// The `ClientRequestToken` of a video job: the same object version and
/// event always give the same token, so a retried event starts no second
/// job. 64 hex characters, as Rekognition allows.
pub fn client_request_token(bucket: &str, key: &str, order: &OrderKey) -> String {
    let mut h = Sha256::new();
    for part in [bucket, key, order.as_str()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    media_query_domain::hex::encode(&h.finalize())
}

/// The SDK calls `object-created` makes through [`handle_s3_event`] with
/// [`Role::Created`], for its IAM policy ([`crate::iam`]): the stored
/// record first (a replayed event costs no Rekognition call), the record,
/// an image's labels, a video's job and its id. A call added to this path
/// goes here too.
pub const OBJECT_CREATED_IAM: &[crate::iam::Call] = &[
    crate::store::DynamoStore::GET,
    crate::store::DynamoStore::PUT,
    crate::store::DynamoStore::RECORD_JOB,
    crate::rekognition::Rekognition::DETECT_IMAGE,
    crate::rekognition::Rekognition::START_VIDEO,
];

/// The SDK calls `object-removed` makes through [`handle_s3_event`] with
/// [`Role::Removed`]: the tombstone, one conditional write.
pub const OBJECT_REMOVED_IAM: &[crate::iam::Call] = &[crate::store::DynamoStore::PUT];

/// Handles an S3 event (straight from S3, or in SNS or SQS envelopes).
///
/// Each record is handled on its own: a malformed record, a bad order key
/// or a failed write fails only itself. From S3 or SNS, the invocation then
/// fails after the other records were stored, so that Lambda retries it
/// (the stored ones are replays then, and change nothing) and finally
/// dead-letters it. From SQS, the failed messages are listed in
/// `batchItemFailures`, the partial batch response of an event source
/// mapping with `ReportBatchItemFailures`: only they return to the queue.
/// If every message failed, the invocation fails, as AWS's own batch
/// processors do, so that a source without partial responses retries all.
pub async fn handle_s3_event<S: MediaStore, L: Labeler>(
    role: Role,
    config: &Config,
    store: &S,
    labeler: &L,
    event: &Value,
) -> Result<Outcome, IngestError> {
    let mut outcome = Outcome::default();
    let mut failed = Vec::new();
    let mut records = 0;
    let notifications = s3_notifications(event);
    let total = notifications.len();
    for n in notifications {
        let errors = match n.body {
            Ok(body) => {
                let (o, r) = (&mut outcome, &mut records);
                handle_notification(role, config, store, labeler, &body, o, r).await
            }
            Err(e) => {
                records += 1;
                vec![e]
            }
        };
        if errors.is_empty() {
            continue;
        }
        for e in &errors {
            error!(error = %e, message_id = n.message_id, "S3 event record failed");
        }
        match n.message_id {
            Some(id) => outcome.batch_item_failures.push(BatchItemFailure {
                item_identifier: id,
            }),
            None => failed.extend(errors),
        }
    }
    info!(?outcome, "S3 event handled");
    if total > 0 && outcome.batch_item_failures.len() == total {
        return Err(IngestError::BatchFailed(format!(
            "{total} message(s); see the log for each"
        )));
    }
    match failed.len() {
        0 => Ok(outcome),
        // The event's only record: its own error.
        1 if records == 1 => Err(failed.remove(0)),
        count => Err(IngestError::RecordsFailed {
            count,
            details: failed
                .iter()
                .map(IngestError::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

/// The records of one S3 notification, counted in `records`; returns the
/// errors of those that failed.
async fn handle_notification<S: MediaStore, L: Labeler>(
    role: Role,
    config: &Config,
    store: &S,
    labeler: &L,
    notification: &Value,
    outcome: &mut Outcome,
    records: &mut usize,
) -> Vec<IngestError> {
    let parsed = match parse_s3_event_value(notification) {
        Ok(p) => p,
        Err(e) => {
            *records += 1;
            return vec![IngestError::Malformed(e.to_string())];
        }
    };
    if parsed.is_test_event {
        info!("s3:TestEvent ignored");
        outcome.skipped += 1;
    }
    let mut errors = Vec::new();
    for record in parsed.records {
        *records += 1;
        let result = match record {
            Ok(change) => handle_change(role, config, store, labeler, &change, outcome).await,
            Err(e) => Err(IngestError::Malformed(e.to_string())),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    errors
}

async fn handle_change<S: MediaStore, L: Labeler>(
    role: Role,
    config: &Config,
    store: &S,
    labeler: &L,
    change: &S3Change,
    outcome: &mut Outcome,
) -> Result<(), IngestError> {
    let key = change.key.as_str();
    let wanted = match (&change.kind, role) {
        (ChangeKind::Created, Role::Created) | (ChangeKind::Removed, Role::Removed) => true,
        (kind, _) => {
            info!(key, ?kind, ?role, "event not for this function; skipped");
            false
        }
    };
    let Some(media_type) = MediaType::from_key(key).filter(|_| wanted) else {
        if wanted {
            info!(key, "not an image or video; skipped");
        }
        outcome.skipped += 1;
        return Ok(());
    };
    let order = change
        .order_key()
        .map_err(|e| IngestError::Malformed(format!("{key}: {e}")))?;
    let mut record = MediaRecord::ready(key, media_type, Vec::new());
    record.event_order = Some(order.clone());

    if role == Role::Removed {
        record.status = RecordStatus::Deleted;
        let w = store.put_if_newer(&record).await?;
        info!(key, order = %order, write = ?w, "removed");
        outcome.count(w);
        return Ok(());
    }

    let limit = match media_type {
        MediaType::Image => MAX_IMAGE_BYTES,
        MediaType::Video => MAX_VIDEO_BYTES,
    };
    // A replayed or late event must not pay for labels again: the table
    // already holds this upload, or a newer one (the conditional write
    // below would drop it anyway). The one exception is this upload's own
    // `pending` video, whose job may not have started: the retry starts it
    // (the client request token makes that a no-op if it had).
    if let Some(current) = store.get(key).await? {
        let own_pending =
            current.status == RecordStatus::Pending && current.event_order.as_ref() == Some(&order);
        if !own_pending && current.event_order.as_ref().is_some_and(|o| *o >= order) {
            info!(key, order = %order, current = ?current.event_order, "stale or replayed event; Rekognition not called");
            outcome.stale += 1;
            return Ok(());
        }
    }

    if let Some(size) = change.size.filter(|s| *s > limit) {
        let code = match media_type {
            MediaType::Image => "ImageTooLargeException",
            MediaType::Video => "VideoTooLargeException",
        };
        let reason =
            format!("{code}: object is {size} bytes; Rekognition reads at most {limit} from S3");
        return record_unprocessable(store, record, reason, outcome).await;
    }

    match media_type {
        MediaType::Image => {
            let detected = labeler
                .detect_image(
                    &change.bucket,
                    key,
                    config.max_labels,
                    config.min_confidence,
                )
                .await;
            match detected {
                Ok(labels) => {
                    let labels = aggregate_image(&labels, config.min_confidence);
                    record.labels = labels.iter().map(|l| l.name.clone()).collect();
                    record.confidences =
                        labels.into_iter().map(|l| (l.name, l.confidence)).collect();
                    let w = store.put_if_newer(&record).await?;
                    info!(key, labels = record.labels.len(), write = ?w, "image labelled");
                    outcome.count(w);
                    Ok(())
                }
                Err(DetectError::Rejected { code, message }) => {
                    record_unprocessable(store, record, format!("{code}: {message}"), outcome).await
                }
                Err(source) => Err(IngestError::Rekognition {
                    key: key.into(),
                    source,
                }),
            }
        }
        MediaType::Video => start_video_job(config, store, labeler, change, record, outcome).await,
    }
}

/// Records the object as `failed` so it is neither retried forever nor lost.
async fn record_unprocessable<S: MediaStore>(
    store: &S,
    mut record: MediaRecord,
    reason: String,
    outcome: &mut Outcome,
) -> Result<(), IngestError> {
    warn!(
        key = record.name,
        reason, "object cannot be labelled; recorded as failed"
    );
    record.status = RecordStatus::Failed;
    record.error = Some(reason);
    let w = store.put_if_newer(&record).await?;
    outcome.count(w);
    if w == Write::Applied {
        outcome.unprocessable += 1;
    }
    Ok(())
}

/// Writes the `pending` record first, then starts the job, so the job's
/// completion always finds the record it belongs to. A retry of an event
/// whose pending record is already stored starts the job again, which the
/// client request token makes a no-op at Rekognition.
async fn start_video_job<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    change: &S3Change,
    mut record: MediaRecord,
    outcome: &mut Outcome,
) -> Result<(), IngestError> {
    let order = record.event_order.clone().expect("set by the caller");
    record.status = RecordStatus::Pending;
    let w = store.put_if_newer(&record).await?;
    if w == Write::Stale {
        let current = store.get(&record.name).await?;
        let same_upload_pending = current.as_ref().is_some_and(|r| {
            r.status == RecordStatus::Pending && r.event_order.as_ref() == Some(&order)
        });
        if !same_upload_pending {
            info!(key = record.name, "a newer event already won; no video job");
            outcome.stale += 1;
            return Ok(());
        }
    }
    match start_label_job(config, store, labeler, &change.bucket, &record).await {
        Ok(JobStart::Started { job_id, noted }) => {
            info!(key = record.name, job_id, noted = ?noted, "video label job started");
            outcome.jobs_started += 1;
            outcome.applied += 1;
            Ok(())
        }
        Ok(JobStart::Rejected { error, write }) => {
            warn!(
                key = record.name,
                error, "video rejected; recorded as failed"
            );
            outcome.count(write);
            outcome.unprocessable += 1;
            Ok(())
        }
        Err(JobStartError::NotConfigured(what)) => Err(IngestError::NotConfigured(what)),
        Err(JobStartError::Store(e)) => Err(IngestError::Store(e)),
        Err(JobStartError::Rekognition(source)) => Err(IngestError::Rekognition {
            key: record.name.clone(),
            source,
        }),
    }
}

/// What starting a pending video's label job came to.
#[derive(Debug)]
pub(crate) enum JobStart {
    /// Started (or already running under the same token); the job id is
    /// recorded on the pending record for the sweeper, unless a newer
    /// upload replaced it (`noted` is then [`Write::Stale`]).
    Started { job_id: String, noted: Write },
    /// Rekognition refused the video itself: it is recorded as failed, if
    /// the record still belongs to this upload.
    Rejected { error: String, write: Write },
}

#[derive(Debug)]
pub(crate) enum JobStartError {
    NotConfigured(&'static str),
    Store(StoreError),
    Rekognition(DetectError),
}

/// Starts the label job of the pending video `record` (stored with its
/// upload's order) in `bucket`, with the upload's own client request
/// token, so that a second start of the same upload (a retried event, the
/// sweeper) is the same job at Rekognition. `object-created` and the
/// pending sweeper both start jobs this way.
pub(crate) async fn start_label_job<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    bucket: &str,
    record: &MediaRecord,
) -> Result<JobStart, JobStartError> {
    let setting =
        |value: &Option<String>, name| value.clone().ok_or(JobStartError::NotConfigured(name));
    let topic = setting(&config.video_topic_arn, "VIDEO_TOPIC_ARN")?;
    let role = setting(&config.video_role_arn, "VIDEO_ROLE_ARN")?;
    let order = record
        .event_order
        .clone()
        .expect("a pending record carries its upload's order");
    let token = client_request_token(bucket, &record.name, &order);
    let job = VideoJob {
        bucket,
        key: &record.name,
        client_request_token: &token,
        job_tag: order.as_str(),
        topic_arn: &topic,
        role_arn: &role,
    };
    match labeler.start_video(job).await {
        Ok(job_id) => {
            let noted = store
                .record_job(&record.name, &order, &job_id)
                .await
                .map_err(JobStartError::Store)?;
            Ok(JobStart::Started { job_id, noted })
        }
        Err(DetectError::Rejected { code, message }) => {
            // Same upload: replace its pending record with the failure.
            let mut failed = record.clone();
            failed.status = RecordStatus::Failed;
            failed.error = Some(format!("{code}: {message}"));
            let write = store
                .put_if_current(&failed, &order)
                .await
                .map_err(JobStartError::Store)?;
            Ok(JobStart::Rejected {
                error: format!("{code}: {message}"),
                write,
            })
        }
        Err(source) => Err(JobStartError::Rekognition(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rekognition::FixedLabeler;
    use crate::store::MemoryStore;
    use media_query_domain::labels::DetectedLabel;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    fn image(key: &str, sequencer: &str) -> Value {
        json!({"Records": [{"eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 10, "sequencer": sequencer}}}]})
    }

    fn sqs(messages: &[(&str, String)]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .map(|(id, body)| json!({"eventSource": "aws:sqs", "messageId": id, "body": body}))
            .collect();
        json!({ "Records": records })
    }

    fn world() -> (Config, MemoryStore, FixedLabeler) {
        let labeler = FixedLabeler::new(vec![DetectedLabel::new("Dog", 90.0)]);
        (Config::for_table("media"), MemoryStore::new(), labeler)
    }

    #[tokio::test]
    async fn a_replayed_or_late_event_does_not_call_rekognition_again() {
        let (config, store, labeler) = world();
        let created = |ev: Value| {
            let (config, store, labeler) = (&config, &store, &labeler);
            async move { handle_s3_event(Role::Created, config, store, labeler, &ev).await }
        };
        assert_eq!(created(image("a.jpg", "0B")).await.unwrap().applied, 1);
        assert_eq!(labeler.calls.load(Ordering::Relaxed), 1);
        // The same event again, then an older one: both stale, no labels paid for.
        for sequencer in ["0B", "0A"] {
            let out = created(image("a.jpg", sequencer)).await.unwrap();
            assert_eq!((out.applied, out.stale), (0, 1));
        }
        assert_eq!(labeler.calls.load(Ordering::Relaxed), 1);
        // A newer upload is labelled.
        assert_eq!(created(image("a.jpg", "0C")).await.unwrap().applied, 1);
        assert_eq!(labeler.calls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn one_bad_sqs_message_fails_only_itself() {
        let (config, store, labeler) = world();
        let event = sqs(&[
            ("good", image("good.jpg", "0A").to_string()),
            ("not-s3", "hello".to_string()),
            ("bad-order", image("bad.jpg", "not-hex").to_string()),
        ]);
        let out = handle_s3_event(Role::Created, &config, &store, &labeler, &event)
            .await
            .unwrap();
        assert_eq!(out.applied, 1);
        assert!(store.get("good.jpg").await.unwrap().unwrap().is_visible());
        assert!(store.get("bad.jpg").await.unwrap().is_none());
        // Lambda's partial batch response: only the two failed messages return.
        assert_eq!(
            serde_json::to_value(&out).unwrap()["batchItemFailures"],
            json!([{"itemIdentifier": "not-s3"}, {"itemIdentifier": "bad-order"}])
        );
        // A batch where everything failed fails the invocation.
        let all_bad = sqs(&[("x", "{}".to_string())]);
        let err = handle_s3_event(Role::Created, &config, &store, &labeler, &all_bad)
            .await
            .unwrap_err();
        assert!(matches!(err, IngestError::BatchFailed(_)), "{err}");
        // Without failures the response has no batchItemFailures at all.
        let fine = sqs(&[("ok", image("fine.jpg", "0A").to_string())]);
        let out = handle_s3_event(Role::Created, &config, &store, &labeler, &fine)
            .await
            .unwrap();
        assert!(serde_json::to_value(&out)
            .unwrap()
            .get("batchItemFailures")
            .is_none());
    }

    #[tokio::test]
    async fn a_bad_order_key_fails_only_its_record() {
        let (config, store, labeler) = world();
        let mut event = image("first.jpg", "0A");
        let bad = image("second.jpg", "xyz")["Records"][0].clone();
        let third = image("third.jpg", "0A")["Records"][0].clone();
        event["Records"]
            .as_array_mut()
            .unwrap()
            .extend([bad, third]);
        let err = handle_s3_event(Role::Created, &config, &store, &labeler, &event)
            .await
            .unwrap_err();
        assert!(
            matches!(err, IngestError::RecordsFailed { count: 1, .. }),
            "{err}"
        );
        assert!(store.get("first.jpg").await.unwrap().is_some());
        assert!(store.get("third.jpg").await.unwrap().is_some());
    }
}
