//! Rekognition's video job-complete notification, as delivered over SNS.
//!
//! Rekognition publishes a JSON *string* as the SNS `Message`:
//! `{"JobId", "Status", "API", "JobTag", "Timestamp", "Video": {"S3ObjectName",
//! "S3Bucket"}}`. A Lambda subscribed to the topic receives it inside the
//! usual `{"Records": [{"Sns": {"Message": ...}}]}` envelope.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Final state of a Rekognition video job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Succeeded,
    Failed,
    Error,
    #[serde(untagged)]
    Other(String),
}

/// Where the video lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobVideo {
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: String,
    #[serde(rename = "S3ObjectName")]
    pub s3_object_name: String,
}

/// Rekognition's job-complete message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobNotification {
    #[serde(rename = "JobId")]
    pub job_id: String,
    #[serde(rename = "Status")]
    pub status: JobStatus,
    /// The API that started the job, e.g. `StartLabelDetection`.
    #[serde(rename = "API")]
    pub api: String,
    #[serde(rename = "JobTag", default, skip_serializing_if = "Option::is_none")]
    pub job_tag: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(rename = "Timestamp", default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    #[serde(rename = "Video")]
    pub video: JobVideo,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum JobMessageError {
    #[error("event is not valid JSON: {0}")]
    NotJson(String),
    #[error("event is not an SNS event (no Records[].Sns.Message)")]
    NotSnsEvent,
    #[error("SNS message {index} is not a Rekognition job notification: {detail}")]
    BadMessage { index: usize, detail: String },
}

/// Parses one SNS `Message` string.
pub fn parse_job_message(message: &str) -> Result<JobNotification, JobMessageError> {
    serde_json::from_str(message).map_err(|e| JobMessageError::BadMessage {
        index: 0,
        detail: e.to_string(),
    })
}

/// Parses an SNS Lambda event into its job notifications, one per record.
pub fn parse_sns_event(
    json: &str,
) -> Result<Vec<Result<JobNotification, JobMessageError>>, JobMessageError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| JobMessageError::NotJson(e.to_string()))?;
    let records = value
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(JobMessageError::NotSnsEvent)?;
    Ok(records
        .iter()
        .enumerate()
        .map(|(index, r)| {
            let msg = r
                .pointer("/Sns/Message")
                .and_then(Value::as_str)
                .ok_or_else(|| JobMessageError::BadMessage {
                    index,
                    detail: "no Sns.Message string".into(),
                })?;
            parse_job_message(msg).map_err(|e| match e {
                JobMessageError::BadMessage { detail, .. } => {
                    JobMessageError::BadMessage { index, detail }
                }
                other => other,
            })
        })
        .collect())
}
