//! Rekognition's JSON 1.1 protocol: the shapes we read and write, and its
//! error format (`{"__type": "...Exception", "message": ...}`, HTTP 400).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A Rekognition error, as the SDKs expect it on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: "InternalServerError",
            message: message.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.code, "message": self.message}).to_string();
        (
            self.status,
            [
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amzn-errortype", self.code),
            ],
            body,
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Object {
    pub bucket: String,
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Image {
    #[serde(default)]
    pub bytes: Option<String>,
    #[serde(default)]
    pub s3_object: Option<S3Object>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectLabelsRequest {
    pub image: Image,
    #[serde(default)]
    pub max_labels: Option<i64>,
    #[serde(default)]
    pub min_confidence: Option<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Video {
    pub s3_object: S3Object,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationChannel {
    #[serde(rename = "SNSTopicArn")]
    pub sns_topic_arn: String,
    pub role_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartLabelDetectionRequest {
    pub video: Video,
    #[serde(default)]
    pub client_request_token: Option<String>,
    #[serde(default)]
    pub min_confidence: Option<f32>,
    #[serde(default)]
    pub notification_channel: Option<NotificationChannel>,
    #[serde(default)]
    pub job_tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetLabelDetectionRequest {
    pub job_id: String,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A label as Rekognition reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Label {
    pub name: String,
    pub confidence: f32,
    pub instances: Vec<serde_json::Value>,
    pub parents: Vec<Parent>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parent {
    pub name: String,
}
