//! `video-job-complete`: Rekognition's SNS notice to a labelled video.
//!
//! The job's `JobTag` is the [`OrderKey`] of the upload that started it.
//! Results are written only while the record still carries that order (the
//! `pending` record of the same upload), so a video deleted or replaced
//! while its job ran is not brought back by the old job.
//!
//! A failed job is not lost: the record becomes `status: failed` with the
//! reason in `error` (hidden from the API, visible to operators in the
//! table), and the failure is logged at error level.

use super::Outcome;
use crate::config::Config;
use crate::rekognition::{DetectError, Labeler};
use crate::store::{MediaStore, StoreError};
use media_query_domain::labels::LabelAggregator;
use media_query_domain::video_job::{parse_sns_event, JobNotification, JobStatus};
use media_query_domain::{MediaRecord, MediaType, OrderKey, RecordStatus};
use serde_json::Value;
use thiserror::Error;
use tracing::{error, info, warn};

#[derive(Debug, Error)]
pub enum VideoError {
    #[error("malformed job notification: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the labels of job {job_id} failed: {source}")]
    Rekognition {
        job_id: String,
        #[source]
        source: DetectError,
    },
}

/// The SDK calls `video-job-complete` makes through [`handle_job_event`],
/// for its IAM policy ([`crate::iam`]): every page of the job's labels,
/// and the record. A call added to this path goes here too.
pub const IAM: &[crate::iam::Call] = &[
    crate::rekognition::Rekognition::JOB_LABELS,
    crate::store::DynamoStore::PUT,
];

pub async fn handle_job_event<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    event: &Value,
) -> Result<Outcome, VideoError> {
    let notices =
        parse_sns_event(&event.to_string()).map_err(|e| VideoError::Malformed(e.to_string()))?;
    let mut outcome = Outcome::default();
    let mut malformed = Vec::new();
    for notice in notices {
        match notice {
            Ok(job) => handle_job(config, store, labeler, &job, &mut outcome).await?,
            Err(e) => {
                error!(error = %e, "malformed job notification");
                malformed.push(e.to_string());
            }
        }
    }
    info!(?outcome, "video job notifications handled");
    if !malformed.is_empty() {
        return Err(VideoError::Malformed(malformed.join("; ")));
    }
    Ok(outcome)
}

pub(crate) async fn handle_job<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    job: &JobNotification,
    outcome: &mut Outcome,
) -> Result<(), VideoError> {
    let name = job.video.s3_object_name.as_str();
    if job.api != "StartLabelDetection" || MediaType::from_key(name) != Some(MediaType::Video) {
        info!(
            job_id = job.job_id,
            api = job.api,
            name,
            "not a video label job; skipped"
        );
        outcome.skipped += 1;
        return Ok(());
    }
    let Some(order) = job.job_tag.as_deref().and_then(|t| OrderKey::parse(t).ok()) else {
        warn!(job_id = job.job_id, tag = ?job.job_tag, "job was not started by media-query; skipped");
        outcome.skipped += 1;
        return Ok(());
    };
    let mut record = MediaRecord::ready(name, MediaType::Video, Vec::new());
    record.event_order = Some(order.clone());
    match &job.status {
        JobStatus::Succeeded => {
            let detected = labeler.video_labels(&job.job_id).await.map_err(|source| {
                VideoError::Rekognition {
                    job_id: job.job_id.clone(),
                    source,
                }
            })?;
            let mut agg = LabelAggregator::new(config.min_confidence);
            agg.extend(&detected);
            let labels = agg.finish();
            record.labels = labels.iter().map(|l| l.name.clone()).collect();
            record.confidences = labels.into_iter().map(|l| (l.name, l.confidence)).collect();
            let w = store.put_if_current(&record, &order).await?;
            info!(name, job_id = job.job_id, frames = detected.len(), labels = record.labels.len(), write = ?w, "video labelled");
            outcome.count(w);
        }
        JobStatus::Failed | JobStatus::Error => {
            record.status = RecordStatus::Failed;
            let status = serde_json::to_value(&job.status).unwrap_or_default();
            let status = status.as_str().unwrap_or("FAILED");
            record.error = Some(format!(
                "Rekognition video job {} ended {status}",
                job.job_id
            ));
            error!(name, job_id = job.job_id, status = ?job.status, "video label job failed; recorded as failed");
            let w = store.put_if_current(&record, &order).await?;
            outcome.count(w);
            outcome.unprocessable += 1;
        }
        JobStatus::Other(status) => {
            warn!(
                name,
                job_id = job.job_id,
                status,
                "unexpected job status; skipped"
            );
            outcome.skipped += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::ingest::{client_request_token, handle_s3_event, Role};
    use crate::rekognition::{FixedLabeler, JobState, VideoJob};
    use crate::store::MemoryStore;
    use media_query_domain::labels::DetectedLabel;
    use serde_json::json;

    fn config() -> Config {
        let mut c = Config::for_table("media");
        c.video_topic_arn = Some("arn:topic".into());
        c.video_role_arn = Some("arn:role".into());
        c
    }

    fn s3(name: &str, time: &str) -> Value {
        json!({"Records": [{"eventTime": time, "eventName": name,
            "s3": {"bucket": {"name": "b"}, "object": {"key": "clip.mp4", "size": 10}}}]})
    }

    fn done(status: &str, tag: &str) -> Value {
        let msg = json!({"JobId": "j", "Status": status, "API": "StartLabelDetection", "JobTag": tag,
            "Video": {"S3ObjectName": "clip.mp4", "S3Bucket": "b"}});
        json!({"Records": [{"Sns": {"Message": msg.to_string()}}]})
    }

    fn labeler() -> FixedLabeler {
        FixedLabeler::new(vec![
            DetectedLabel::new("Dog", 90.0),
            DetectedLabel::new("Dog", 95.0),
            DetectedLabel::new("Faint", 10.0),
            DetectedLabel::new("Person", 70.0),
        ])
    }

    const T1: &str = "2026-11-24T10:00:00.000Z";
    const TAG1: &str = "02026-11-24T10:00:00.000000Z";

    /// [`FixedLabeler`], remembering the client request token of every
    /// video job start (Rekognition's `ClientRequestToken`).
    struct TokenLabeler {
        inner: FixedLabeler,
        tokens: std::sync::Mutex<Vec<String>>,
    }

    impl TokenLabeler {
        fn tokens(&self) -> Vec<String> {
            self.tokens.lock().unwrap().clone()
        }
    }

    impl Labeler for TokenLabeler {
        async fn detect_image(
            &self,
            bucket: &str,
            key: &str,
            max_labels: i32,
            min_confidence: f32,
        ) -> Result<Vec<DetectedLabel>, DetectError> {
            self.inner
                .detect_image(bucket, key, max_labels, min_confidence)
                .await
        }

        async fn start_video(&self, job: VideoJob<'_>) -> Result<String, DetectError> {
            self.tokens
                .lock()
                .unwrap()
                .push(job.client_request_token.to_string());
            self.inner.start_video(job).await
        }

        async fn video_job_state(&self, job_id: &str) -> Result<JobState, DetectError> {
            self.inner.video_job_state(job_id).await
        }

        async fn video_labels(&self, job_id: &str) -> Result<Vec<DetectedLabel>, DetectError> {
            self.inner.video_labels(job_id).await
        }
    }

    #[tokio::test]
    async fn upload_then_job_success_stores_unique_labels() {
        let (store, config) = (MemoryStore::new(), config());
        let labeler = TokenLabeler {
            inner: labeler(),
            tokens: Default::default(),
        };
        let started = handle_s3_event(
            Role::Created,
            &config,
            &store,
            &labeler,
            &s3("ObjectCreated:Put", T1),
        )
        .await
        .unwrap();
        assert_eq!(started.jobs_started, 1);
        // The job is started with the upload's own token (bucket, key and
        // event order), and its id is noted on the pending record.
        let token = client_request_token("b", "clip.mp4", &OrderKey::parse(TAG1).unwrap());
        let job_id = format!("job-{token}");
        let pending = store.get("clip.mp4").await.unwrap().unwrap();
        assert_eq!(
            (pending.status, pending.job_id.as_deref()),
            (RecordStatus::Pending, Some(job_id.as_str()))
        );
        assert_eq!(labeler.tokens(), std::slice::from_ref(&token));
        // A retried upload event restarts nothing new at Rekognition (same token) and stays pending.
        let again = handle_s3_event(
            Role::Created,
            &config,
            &store,
            &labeler,
            &s3("ObjectCreated:Put", T1),
        )
        .await
        .unwrap();
        assert_eq!(again.jobs_started, 1);
        assert_eq!(
            labeler.tokens(),
            [token.clone(), token.clone()],
            "the retry asked Rekognition with the first attempt's token"
        );
        let still = store.get("clip.mp4").await.unwrap().unwrap();
        assert_eq!(
            (
                still.status,
                still.job_id.as_deref(),
                still.event_order.as_ref().map(OrderKey::as_str)
            ),
            (RecordStatus::Pending, Some(job_id.as_str()), Some(TAG1)),
            "the retry left the same upload pending on the same job"
        );

        let out = handle_job_event(&config, &store, &labeler, &done("SUCCEEDED", TAG1))
            .await
            .unwrap();
        assert_eq!(out.applied, 1);
        let r = store.get("clip.mp4").await.unwrap().unwrap();
        assert!(r.is_visible());
        assert_eq!(r.labels, ["Dog", "Person"]);
        assert_eq!(r.confidences["Dog"], 95.0);
    }

    #[tokio::test]
    async fn a_job_finishing_after_deletion_does_not_resurrect_the_video() {
        let (store, labeler, config) = (MemoryStore::new(), labeler(), config());
        handle_s3_event(
            Role::Created,
            &config,
            &store,
            &labeler,
            &s3("ObjectCreated:Put", T1),
        )
        .await
        .unwrap();
        handle_s3_event(
            Role::Removed,
            &config,
            &store,
            &labeler,
            &s3("ObjectRemoved:Delete", "2026-11-24T10:00:01.000Z"),
        )
        .await
        .unwrap();
        let out = handle_job_event(&config, &store, &labeler, &done("SUCCEEDED", TAG1))
            .await
            .unwrap();
        assert_eq!((out.applied, out.stale), (0, 1));
        assert_eq!(
            store.get("clip.mp4").await.unwrap().unwrap().status,
            RecordStatus::Deleted
        );
    }

    #[tokio::test]
    async fn a_failed_job_is_recorded_not_lost() {
        let (store, labeler, config) = (MemoryStore::new(), labeler(), config());
        handle_s3_event(
            Role::Created,
            &config,
            &store,
            &labeler,
            &s3("ObjectCreated:Put", T1),
        )
        .await
        .unwrap();
        let out = handle_job_event(&config, &store, &labeler, &done("FAILED", TAG1))
            .await
            .unwrap();
        assert_eq!(out.unprocessable, 1);
        let r = store.get("clip.mp4").await.unwrap().unwrap();
        assert_eq!(r.status, RecordStatus::Failed);
        let error = r.error.unwrap();
        assert!(error.contains("FAILED"), "{error}");
    }

    #[tokio::test]
    async fn foreign_and_malformed_notices() {
        let (store, labeler, config) = (MemoryStore::new(), labeler(), config());
        let foreign = handle_job_event(&config, &store, &labeler, &done("SUCCEEDED", "not-ours"))
            .await
            .unwrap();
        assert_eq!(foreign.skipped, 1);
        let bad = json!({"Records": [{"Sns": {"Message": "nope"}}]});
        assert!(matches!(
            handle_job_event(&config, &store, &labeler, &bad).await,
            Err(VideoError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn rejected_images_are_recorded_failed() {
        let (store, mut labeler, config) = (MemoryStore::new(), labeler(), config());
        labeler.reject_with = Some("InvalidImageFormatException".into());
        let ev = json!({"Records": [{"eventTime": T1, "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "x.png", "size": 10}}}]});
        let out = handle_s3_event(Role::Created, &config, &store, &labeler, &ev)
            .await
            .unwrap();
        assert_eq!(out.unprocessable, 1);
        let r = store.get("x.png").await.unwrap().unwrap();
        assert_eq!(r.status, RecordStatus::Failed);
        assert!(r.error.unwrap().starts_with("InvalidImageFormatException"));
    }
}
