//! `pending-sweeper`: no video stays `pending` forever.
//!
//! A video is `pending` from its upload until Rekognition's job-complete
//! notice arrives. If the notice is lost (an SNS delivery that failed for
//! good, a dead-lettered `video-job-complete` invocation), if reading the
//! results failed, or if the job never started (Rekognition failed after
//! the pending write), the video would stay hidden forever. On a schedule,
//! this looks at every video pending longer than the configured bound and
//! asks Rekognition where its job stands:
//!
//! * succeeded or failed: the result is written exactly as the notice
//!   would have written it ([`super::video`]'s rules, so an upload that was
//!   replaced or deleted meanwhile is not brought back);
//! * unknown to Rekognition (its results are kept 7 days): `failed`;
//! * no job recorded: the job is started, with the upload's own client
//!   request token (a no-op at Rekognition if it had started after all);
//! * still running: left alone, and counted as stuck.
//!
//! The pending videos come from a sparse index that holds only them, so a
//! sweep costs what there is to sweep, never a Scan of the table.

use super::ingest::{start_label_job, JobStart, JobStartError};
use super::video::{handle_job, VideoError};
use super::Outcome;
use crate::config::Config;
use crate::rekognition::{JobState, Labeler};
use crate::store::{MediaStore, PendingVideo, StoreError, Write};
use media_query_domain::video_job::{JobNotification, JobStatus, JobVideo};
use media_query_domain::RecordStatus;
use serde::Serialize;
use thiserror::Error;
use tracing::{error, info, warn};

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Sweep {
    /// Videos pending longer than the bound.
    pub overdue: usize,
    /// Jobs that had succeeded: their labels are stored now.
    pub labelled: usize,
    /// Jobs that had failed or that Rekognition no longer knows: the
    /// videos are recorded as failed.
    pub failed: usize,
    /// Jobs that had never started, started now.
    pub restarted: usize,
    /// Videos replaced or deleted meanwhile: nothing written.
    pub stale: usize,
    /// Jobs still running past the bound, and videos that could not be
    /// looked at (see `errors`): still pending.
    pub stuck: usize,
    /// Why some videos could not be looked at.
    pub errors: Vec<String>,
}

impl Sweep {
    /// CloudWatch metrics of the sweep (Embedded Metric Format):
    /// `MediaStuckPending` (alarmed on in template.yaml), and what it
    /// finished: `PendingLabelled`, `PendingFailed`, `PendingRestarted`.
    pub fn emit_metrics(&self) {
        crate::metrics::emit(&[
            ("MediaStuckPending", self.stuck as f64, "Count"),
            ("PendingLabelled", self.labelled as f64, "Count"),
            ("PendingFailed", self.failed as f64, "Count"),
            ("PendingRestarted", self.restarted as f64, "Count"),
        ]);
    }
}

#[derive(Debug, Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Every video was looked at; these could not be.
    #[error("{} pending video(s) could not be swept: {}", .0.errors.len(), .0.errors.join("; "))]
    Incomplete(Box<Sweep>),
}

/// The SDK calls `pending-sweeper` makes through [`sweep_pending`], for its
/// IAM policy ([`crate::iam`]): the overdue videos from the pending index,
/// each job's state, a finished job's labels and record (as
/// `video-job-complete` writes it), a failure, a job started again and its
/// id. A call added to this path goes here too.
pub const IAM: &[crate::iam::Call] = &[
    crate::store::DynamoStore::PENDING_BEFORE,
    crate::rekognition::Rekognition::JOB_STATE,
    crate::rekognition::Rekognition::JOB_LABELS,
    crate::store::DynamoStore::PUT,
    crate::rekognition::Rekognition::START_VIDEO,
    crate::store::DynamoStore::RECORD_JOB,
];

/// Sweeps the videos pending since before `now_secs` minus the configured
/// bound. Fails, after looking at every one, if some could not be.
pub async fn sweep_pending<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    now_secs: u64,
) -> Result<Sweep, SweepError> {
    let before = now_secs.saturating_sub(config.pending_timeout_seconds);
    let overdue = store.pending_before(before).await?;
    let mut sweep = Sweep {
        overdue: overdue.len(),
        ..Sweep::default()
    };
    for video in &overdue {
        if let Err(e) = sweep_one(config, store, labeler, video, &mut sweep).await {
            error!(name = video.record.name, error = %e, "pending video could not be swept");
            sweep.stuck += 1;
            sweep.errors.push(format!("{}: {e}", video.record.name));
        }
    }
    info!(?sweep, "pending videos swept");
    if sweep.errors.is_empty() {
        Ok(sweep)
    } else {
        Err(SweepError::Incomplete(Box::new(sweep)))
    }
}

async fn sweep_one<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    video: &PendingVideo,
    sweep: &mut Sweep,
) -> Result<(), VideoError> {
    let record = &video.record;
    let name = record.name.as_str();
    let Some(order) = record.event_order.clone() else {
        return Err(VideoError::Malformed(format!(
            "{name} is pending without an event order"
        )));
    };
    let Some(job_id) = record.job_id.as_deref() else {
        return restart(config, store, labeler, video, sweep).await;
    };
    let state =
        labeler
            .video_job_state(job_id)
            .await
            .map_err(|source| VideoError::Rekognition {
                job_id: job_id.to_string(),
                source,
            })?;
    let status = match state {
        JobState::InProgress => {
            warn!(
                name,
                job_id,
                since = video.since,
                "video job still running past the bound"
            );
            sweep.stuck += 1;
            return Ok(());
        }
        JobState::Succeeded => JobStatus::Succeeded,
        JobState::Failed(message) => {
            warn!(name, job_id, message, "video job had failed");
            JobStatus::Failed
        }
        JobState::Unknown => {
            let mut failed = record.clone();
            failed.status = RecordStatus::Failed;
            failed.job_id = None;
            failed.error = Some(format!(
                "Rekognition no longer knows video job {job_id}; re-upload the video"
            ));
            let w = store.put_if_current(&failed, &order).await?;
            count(sweep, w, RecordStatus::Failed);
            return Ok(());
        }
    };
    // What the lost notice would have said.
    let notice = JobNotification {
        job_id: job_id.to_string(),
        status,
        api: "StartLabelDetection".into(),
        job_tag: Some(order.as_str().to_string()),
        timestamp: None,
        video: JobVideo {
            s3_bucket: config.media_bucket.clone().unwrap_or_default(),
            s3_object_name: name.to_string(),
        },
    };
    let mut outcome = Outcome::default();
    handle_job(config, store, labeler, &notice, &mut outcome).await?;
    if outcome.stale > 0 {
        sweep.stale += 1;
    } else if outcome.unprocessable > 0 {
        sweep.failed += 1;
    } else {
        sweep.labelled += outcome.applied;
    }
    Ok(())
}

/// A pending video without a job: the job is started as `object-created`
/// would have started it.
async fn restart<S: MediaStore, L: Labeler>(
    config: &Config,
    store: &S,
    labeler: &L,
    video: &PendingVideo,
    sweep: &mut Sweep,
) -> Result<(), VideoError> {
    let record = &video.record;
    let bucket = config
        .media_bucket
        .as_deref()
        .ok_or_else(|| VideoError::Malformed("MEDIA_BUCKET_NAME is not set".into()))?;
    match start_label_job(config, store, labeler, bucket, record).await {
        Ok(JobStart::Started { job_id, noted }) => {
            info!(name = record.name, job_id, write = ?noted, "video job started by the sweeper");
            match noted {
                Write::Applied => sweep.restarted += 1,
                Write::Stale => sweep.stale += 1,
            }
            Ok(())
        }
        Ok(JobStart::Rejected { write, .. }) => {
            count(sweep, write, RecordStatus::Failed);
            Ok(())
        }
        Err(JobStartError::NotConfigured(what)) => {
            Err(VideoError::Malformed(format!("{what} is not set")))
        }
        Err(JobStartError::Store(e)) => Err(VideoError::Store(e)),
        Err(JobStartError::Rekognition(source)) => Err(VideoError::Rekognition {
            job_id: format!("(not started) {}", record.name),
            source,
        }),
    }
}

fn count(sweep: &mut Sweep, w: Write, status: RecordStatus) {
    match (w, status) {
        (Write::Stale, _) => sweep.stale += 1,
        (Write::Applied, RecordStatus::Failed) => sweep.failed += 1,
        (Write::Applied, _) => sweep.labelled += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::ingest::{handle_s3_event, Role};
    use crate::rekognition::FixedLabeler;
    use crate::store::MemoryStore;
    use media_query_domain::labels::DetectedLabel;
    use media_query_domain::{MediaRecord, MediaType, OrderKey};
    use serde_json::json;

    fn config() -> Config {
        let mut c = Config::for_table("media");
        c.video_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:video".into());
        c.video_role_arn = Some("arn:aws:iam::123456789012:role/video".into());
        c.media_bucket = Some("b".into());
        c
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// A pending record as a crashed `object-created` leaves it: no job.
    async fn pending_without_job(store: &MemoryStore) -> OrderKey {
        let order = OrderKey::parse("02026-11-24T10:00:00.000000Z").unwrap();
        let mut r = MediaRecord::ready("clip.mp4", MediaType::Video, vec![]);
        r.status = RecordStatus::Pending;
        r.event_order = Some(order.clone());
        assert_eq!(store.put_if_newer(&r).await.unwrap(), Write::Applied);
        order
    }

    #[tokio::test]
    async fn a_job_whose_notice_was_lost_is_finished_and_one_never_started_is_started() {
        let (store, config) = (MemoryStore::new(), config());
        let labeler = FixedLabeler::new(vec![DetectedLabel::new("Dog", 90.0)]);
        let ev = json!({"Records": [{"eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "other.mp4", "size": 10}}}]});
        handle_s3_event(Role::Created, &config, &store, &labeler, &ev)
            .await
            .unwrap();
        let job = store.get("other.mp4").await.unwrap().unwrap().job_id;
        assert!(job.is_some(), "object-created records the job id");
        let order = pending_without_job(&store).await;

        // Not overdue yet: nothing to do.
        let early = sweep_pending(&config, &store, &labeler, now())
            .await
            .unwrap();
        assert_eq!(early, Sweep::default());

        let later = now() + config.pending_timeout_seconds + 1;
        let sweep = sweep_pending(&config, &store, &labeler, later)
            .await
            .unwrap();
        assert_eq!((sweep.overdue, sweep.labelled, sweep.restarted), (2, 1, 1));
        assert!(store.get("other.mp4").await.unwrap().unwrap().is_visible());
        let restarted = store.get("clip.mp4").await.unwrap().unwrap();
        assert_eq!(restarted.status, RecordStatus::Pending);
        assert_eq!(restarted.event_order, Some(order));
        assert!(restarted.job_id.is_some());
        // Next sweep: its job (FixedLabeler's jobs succeed at once) is finished.
        let sweep = sweep_pending(&config, &store, &labeler, later)
            .await
            .unwrap();
        assert_eq!((sweep.overdue, sweep.labelled), (1, 1));
        assert!(store.get("clip.mp4").await.unwrap().unwrap().is_visible());
        assert!(store.pending_before(u64::MAX).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_video_that_cannot_be_swept_stays_pending_and_fails_the_run() {
        let (store, mut config) = (MemoryStore::new(), config());
        config.media_bucket = None;
        let labeler = FixedLabeler::new(vec![]);
        pending_without_job(&store).await;
        let later = now() + config.pending_timeout_seconds + 1;
        match sweep_pending(&config, &store, &labeler, later).await {
            Err(SweepError::Incomplete(sweep)) => {
                assert_eq!(sweep.stuck, 1);
                assert!(sweep.errors[0].contains("MEDIA_BUCKET_NAME"), "{sweep:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.get("clip.mp4").await.unwrap().unwrap().status,
            RecordStatus::Pending
        );
    }
}
