//! `StartLabelDetection`: checks the request as Rekognition does, registers
//! the job (idempotent per `ClientRequestToken`) and runs it in the
//! background ([`crate::video_job`]).

use crate::filters::LabelFilter;
use crate::jobs::{self, Job, JobStatus};
use crate::protocol::{self, ApiError, StartLabelDetectionRequest};
use crate::s3_object::read_object;
use crate::state::AppState;
use crate::video::VideoMetadata;
use crate::video_job::run_job;
use serde_json::{json, Value};
use std::sync::Arc;

pub(crate) async fn start_label_detection(
    state: &Arc<AppState>,
    req: StartLabelDetectionRequest,
) -> Result<Value, ApiError> {
    if let Some(t) = &req.client_request_token {
        if t.is_empty()
            || t.len() > 64
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ApiError::new(
                "InvalidParameterException",
                "ClientRequestToken must match ^[a-zA-Z0-9-_]+$ (1-64)",
            ));
        }
    }
    if let Some(t) = &req.job_tag {
        if t.is_empty()
            || t.len() > 1024
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-:+=/".contains(&b))
        {
            return Err(ApiError::new(
                "InvalidParameterException",
                "JobTag must match [a-zA-Z0-9_.\\-:+=\\/]+ (1-1024)",
            ));
        }
    }
    let min_confidence = req.min_confidence.unwrap_or(50.0);
    if !(0.0..=100.0).contains(&min_confidence) {
        return Err(ApiError::new(
            "InvalidParameterException",
            "MinConfidence must be between 0 and 100",
        ));
    }
    let features = req.features.as_deref().unwrap_or(&[]);
    if features.len() > 1 || features.iter().any(|f| f != "GENERAL_LABELS") {
        return Err(ApiError::new(
            "InvalidParameterException",
            format!("Features {features:?}: the only feature for videos is GENERAL_LABELS"),
        ));
    }
    let filter = LabelFilter::new(
        req.settings
            .as_ref()
            .and_then(|s| s.general_labels.as_ref()),
    )?;
    if let Some(channel) = &req.notification_channel {
        check_channel(channel)?;
    }
    // Rekognition checks the object exists when the job starts.
    let (head, _) = read_object(state, &req.video.s3_object, Some("bytes=0-15")).await?;
    let job = Job {
        bucket: req.video.s3_object.bucket.clone(),
        key: req.video.s3_object.name.clone(),
        version: req.video.s3_object.version.clone(),
        job_tag: req.job_tag.clone(),
        channel: req.notification_channel.clone(),
        min_confidence,
        filter,
        status: JobStatus::InProgress,
        status_message: None,
        labels: Vec::new(),
        metadata: VideoMetadata::default(),
    };
    let (job_id, new) = state
        .jobs
        .start(req.client_request_token.as_deref(), job)
        .map_err(|jobs::TokenReused| {
            ApiError::new(
                "IdempotentParameterMismatchException",
                "ClientRequestToken was used before with other parameters",
            )
        })?;
    if new {
        let state = state.clone();
        let id = job_id.clone();
        tokio::spawn(async move { run_job(state, id, head).await });
    }
    Ok(json!({"JobId": job_id}))
}

/// Rekognition refuses a job whose notification channel is not an SNS
/// topic ARN and an IAM role ARN, with `InvalidParameterException`: what a
/// misconfigured deployment gets.
fn check_channel(channel: &protocol::NotificationChannel) -> Result<(), ApiError> {
    let arn_of = |arn: &str, service: &str, resource: &str| {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == service
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts[5].starts_with(resource)
            && parts[5].len() > resource.len()
    };
    if !arn_of(&channel.sns_topic_arn, "sns", "") {
        return Err(ApiError::new(
            "InvalidParameterException",
            format!(
                "NotificationChannel.SNSTopicArn {:?} is not an SNS topic ARN",
                channel.sns_topic_arn
            ),
        ));
    }
    if !arn_of(&channel.role_arn, "iam", "role/") {
        return Err(ApiError::new(
            "InvalidParameterException",
            format!(
                "NotificationChannel.RoleArn {:?} is not an IAM role ARN",
                channel.role_arn
            ),
        ));
    }
    Ok(())
}
