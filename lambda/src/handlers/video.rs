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

async fn handle_job<S: MediaStore, L: Labeler>(
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
            record.error = Some(format!(
                "Rekognition video job {} ended {:?}",
                job.job_id, job.status
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
