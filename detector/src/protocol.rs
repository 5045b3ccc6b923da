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

#[derive(Debug, Clone, Deserialize)]
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
    /// `GENERAL_LABELS` and/or `IMAGE_PROPERTIES` (strings, so that an
    /// unknown value gets a message naming it).
    #[serde(default)]
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub settings: Option<DetectLabelsSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectLabelsSettings {
    #[serde(default)]
    pub general_labels: Option<GeneralLabelsSettings>,
    #[serde(default)]
    pub image_properties: Option<ImagePropertiesSettings>,
}

/// Label filters, for `DetectLabels` and `StartLabelDetection` alike.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeneralLabelsSettings {
    #[serde(default)]
    pub label_inclusion_filters: Option<Vec<String>>,
    #[serde(default)]
    pub label_exclusion_filters: Option<Vec<String>>,
    #[serde(default)]
    pub label_category_inclusion_filters: Option<Vec<String>>,
    #[serde(default)]
    pub label_category_exclusion_filters: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePropertiesSettings {
    #[serde(default)]
    pub max_dominant_colors: Option<i64>,
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
    /// Only `GENERAL_LABELS` exists for videos.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub settings: Option<LabelDetectionSettings>,
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
    /// `NAME` or `TIMESTAMP` (the default).
    #[serde(default)]
    pub sort_by: Option<String>,
    /// `TIMESTAMPS` (the default) or `SEGMENTS`.
    #[serde(default)]
    pub aggregate_by: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelDetectionSettings {
    #[serde(default)]
    pub general_labels: Option<GeneralLabelsSettings>,
}

/// A label as Rekognition reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Label {
    pub name: String,
    pub confidence: f32,
    pub instances: Vec<Instance>,
    pub parents: Vec<Named>,
    /// Other names of the label ([`crate::categories`]).
    pub aliases: Vec<Named>,
    /// The label's category in Rekognition's taxonomy
    /// ([`crate::categories`]).
    pub categories: Vec<Named>,
}

/// `Parent`, `LabelAlias` and `LabelCategory`: each just a name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Named {
    pub name: String,
}

impl Named {
    pub fn new(name: impl Into<String>) -> Named {
        Named { name: name.into() }
    }
}

/// A label's parent.
pub type Parent = Named;

/// Where a label is in the image, as fractions of its width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundingBox {
    pub width: f32,
    pub height: f32,
    pub left: f32,
    pub top: f32,
}

/// One occurrence of a label.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    pub bounding_box: BoundingBox,
    pub confidence: f32,
    /// The box's colours, with `IMAGE_PROPERTIES` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_colors: Option<Vec<DominantColor>>,
}

/// A colour of an image or a region of it, named by the nearest CSS colour
/// ([`crate::colors`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DominantColor {
    #[serde(rename = "Red")]
    pub red: u8,
    #[serde(rename = "Green")]
    pub green: u8,
    #[serde(rename = "Blue")]
    pub blue: u8,
    #[serde(rename = "HexCode")]
    pub hex_code: String,
    #[serde(rename = "CSSColor")]
    pub css_color: &'static str,
    #[serde(rename = "SimplifiedColor")]
    pub simplified_color: &'static str,
    #[serde(rename = "PixelPercent")]
    pub pixel_percent: f32,
}

/// `DetectLabelsImageQuality`, 0-100 each; Rekognition gives the
/// foreground's and background's without `Contrast`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageQuality {
    pub brightness: f32,
    pub sharpness: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contrast: Option<f32>,
}

/// `DetectLabelsImageForeground` and `DetectLabelsImageBackground`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegionProperties {
    pub quality: ImageQuality,
    pub dominant_colors: Vec<DominantColor>,
}

/// `DetectLabelsImageProperties`: what `IMAGE_PROPERTIES` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageProperties {
    pub quality: ImageQuality,
    pub dominant_colors: Vec<DominantColor>,
    pub foreground: RegionProperties,
    pub background: RegionProperties,
}
