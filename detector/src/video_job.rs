//! A video label job, run in the background: sample the video's frames,
//! label each, keep the labels the job's filter keeps, and publish
//! Rekognition's job-complete notice to the job's SNS topic.

use crate::jobs::{Job, JobStatus};
use crate::labeler::{canned, scored, Labeler};
use crate::protocol::{Label, S3Object};
use crate::s3_object::{download, is_video};
use crate::state::AppState;
use crate::video::{self, VideoMetadata};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Canned videos are reported as this many one-second frames.
const CANNED_FRAMES: u64 = 10;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// A finished video's labels, `(timestamp ms, label)`, and metadata.
struct VideoLabels {
    labels: Vec<(u64, Label)>,
    metadata: VideoMetadata,
}

/// What canned videos are reported as: [`CANNED_FRAMES`] one-second frames
/// of H.264 in MP4.
fn canned_metadata() -> VideoMetadata {
    VideoMetadata {
        codec: "h264".into(),
        format: "MP4".into(),
        duration_ms: CANNED_FRAMES * 1000,
        frame_rate: Some(video::FRAMES_PER_SECOND as f32),
        ..Default::default()
    }
}

/// Labels the sampled frames, then reports to the job's topic.
pub(crate) async fn run_job(state: Arc<AppState>, job_id: String, head: Vec<u8>) {
    let job = state.jobs.get(&job_id).expect("registered");
    match label_video(&state, &job, &head).await {
        Ok(v) => state
            .jobs
            .finish(&job_id, JobStatus::Succeeded, None, v.labels, v.metadata),
        Err(message) => {
            tracing::warn!(job_id, message, "video job failed");
            state.jobs.finish(
                &job_id,
                JobStatus::Failed,
                Some(message),
                Vec::new(),
                VideoMetadata::default(),
            )
        }
    }
    let job = state.jobs.get(&job_id).expect("registered");
    let Some(channel) = job.channel else { return };
    let mut message = json!({
        "JobId": job_id,
        "Status": job.status.as_str(),
        "API": "StartLabelDetection",
        "Timestamp": now_ms() as u64,
        "Video": {"S3ObjectName": job.key, "S3Bucket": job.bucket},
    });
    if let Some(tag) = &job.job_tag {
        message["JobTag"] = json!(tag);
    }
    let published = state
        .sns
        .publish()
        .topic_arn(&channel.sns_topic_arn)
        .message(message.to_string())
        .send()
        .await;
    match published {
        Ok(_) => tracing::info!(
            job_id,
            status = job.status.as_str(),
            "job complete; notice published"
        ),
        Err(e) => {
            tracing::error!(job_id, error = %aws_sdk_sns::error::DisplayErrorContext(&e), "publishing the job notice failed")
        }
    }
}

async fn label_video(state: &AppState, job: &Job, head: &[u8]) -> Result<VideoLabels, String> {
    let min = job.min_confidence;
    match &state.config.labeler {
        Labeler::Canned(canned_labels) => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if !is_video(head) {
                return Err("Unsupported codec/format.".into());
            }
            let frame: Vec<Label> = canned(canned_labels, min)
                .into_iter()
                .filter(|l| job.filter.keeps(l))
                .collect();
            let labels = (0..CANNED_FRAMES)
                .flat_map(|i| {
                    frame
                        .iter()
                        .map(move |l| (video::timestamp_ms(i as usize), l.clone()))
                })
                .collect();
            Ok(VideoLabels {
                labels,
                metadata: canned_metadata(),
            })
        }
        Labeler::Model(model) => {
            let object = S3Object {
                bucket: job.bucket.clone(),
                name: job.key.clone(),
                version: job.version.clone(),
            };
            let file = download(state, &object).await?;
            let model = model.clone();
            let filter = job.filter.clone();
            let _permit = state.inference.acquire().await.expect("never closed");
            tokio::task::spawn_blocking(move || {
                let sampled = video::sample(file.path()).map_err(|e| match e {
                    video::VideoError::Unsupported(m) => format!("Unsupported codec/format. ({m})"),
                    other => other.to_string(),
                })?;
                let mut labels = Vec::new();
                for (i, frame) in sampled.frames.iter().enumerate() {
                    let found = model.label_frame(frame, min).map_err(|e| e.to_string())?;
                    let ts = video::timestamp_ms(i);
                    labels.extend(
                        scored(found)
                            .into_iter()
                            .filter(|l| filter.keeps(l))
                            .map(|l| (ts, l)),
                    );
                }
                Ok(VideoLabels {
                    labels,
                    metadata: sampled.metadata,
                })
            })
            .await
            .map_err(|e| format!("labelling task: {e}"))?
        }
    }
}
