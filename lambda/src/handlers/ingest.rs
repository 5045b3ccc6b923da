//! `object-created` and `object-removed`: S3 events to media records.
//!
//! Every write carries the event's [`OrderKey`] and is conditional, so a
//! replayed event changes nothing and a late `ObjectCreated` cannot bring
//! back an object a newer `ObjectRemoved` deleted (the removal leaves a
//! tombstone). Events may arrive straight from S3, or wrapped in SQS
//! messages or SNS notifications (fan-out setups, the local stack).

use super::Outcome;
use crate::config::{Config, MAX_IMAGE_BYTES, MAX_VIDEO_BYTES};
use crate::rekognition::{DetectError, Labeler, VideoJob};
use crate::store::{MediaStore, StoreError, Write};
use media_query_domain::labels::aggregate_image;
use media_query_domain::s3_event::{parse_s3_event_value, ChangeKind, S3Change, S3EventError};
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
    #[error("{count} malformed record(s), other records were processed: {details}")]
    MalformedRecords { count: usize, details: String },
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
}

/// Unwraps SQS and SNS envelopes down to the S3 notifications inside.
pub fn s3_notifications(event: &Value) -> Result<Vec<Value>, IngestError> {
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
    match first_source {
        Some("aws:sqs") => records
            .unwrap()
            .iter()
            .map(|r| inner(r.get("body").and_then(Value::as_str), "SQS message"))
            .collect(),
        Some("aws:sns") => records
            .unwrap()
            .iter()
            .map(|r| {
                inner(
                    r.pointer("/Sns/Message").and_then(Value::as_str),
                    "SNS record",
                )
            })
            .collect(),
        _ => Ok(vec![event.clone()]),
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
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn handle_s3_event<S: MediaStore, L: Labeler>(
    role: Role,
    config: &Config,
    store: &S,
    labeler: &L,
    event: &Value,
) -> Result<Outcome, IngestError> {
    let mut outcome = Outcome::default();
    let mut malformed = Vec::new();
    for notification in s3_notifications(event)? {
        let parsed = parse_s3_event_value(&notification)
            .map_err(|e| IngestError::Malformed(e.to_string()))?;
        if parsed.is_test_event {
            info!("s3:TestEvent ignored");
            outcome.skipped += 1;
        }
        for record in parsed.records {
            match record {
                Ok(change) => {
                    handle_change(role, config, store, labeler, &change, &mut outcome).await?
                }
                Err(e) => {
                    error!(error = %e, "malformed S3 event record");
                    malformed.push(e);
                }
            }
        }
    }
    info!(?outcome, "S3 event handled");
    if !malformed.is_empty() {
        return Err(IngestError::MalformedRecords {
            count: malformed.len(),
            details: malformed
                .iter()
                .map(S3EventError::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    Ok(outcome)
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
    let topic = config
        .video_topic_arn
        .as_deref()
        .ok_or(IngestError::NotConfigured("VIDEO_TOPIC_ARN"))?;
    let role = config
        .video_role_arn
        .as_deref()
        .ok_or(IngestError::NotConfigured("VIDEO_ROLE_ARN"))?;
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
    let token = client_request_token(&change.bucket, &record.name, &order);
    let job = VideoJob {
        bucket: &change.bucket,
        key: &record.name,
        client_request_token: &token,
        job_tag: order.as_str(),
        topic_arn: topic,
        role_arn: role,
    };
    match labeler.start_video(job).await {
        Ok(job_id) => {
            info!(key = record.name, job_id, "video label job started");
            outcome.jobs_started += 1;
            outcome.applied += 1;
            Ok(())
        }
        Err(DetectError::Rejected { code, message }) => {
            // Same upload: replace our own pending record with the failure.
            record.status = RecordStatus::Failed;
            record.error = Some(format!("{code}: {message}"));
            warn!(
                key = record.name,
                error = record.error,
                "video rejected; recorded as failed"
            );
            let w = store.put_if_current(&record, &order).await?;
            outcome.count(w);
            outcome.unprocessable += 1;
            Ok(())
        }
        Err(source) => Err(IngestError::Rekognition {
            key: record.name.clone(),
            source,
        }),
    }
}
