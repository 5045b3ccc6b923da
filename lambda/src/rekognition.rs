//! Labels from Amazon Rekognition (or anything that speaks its API).
//!
//! Rekognition's answers fall in three groups, and the handlers treat each
//! differently:
//! * labels: stored;
//! * a rejection of the object itself ([`DetectError::Rejected`], e.g.
//!   `InvalidImageFormatException`): retrying cannot help, so the object is
//!   recorded as failed and the event succeeds;
//! * anything else ([`DetectError::Other`]): the SDK has already retried
//!   throttling and transient errors, so the invocation fails loudly and
//!   Lambda's retries and on-failure destination take over.

use crate::iam::{Call, Needs, Resource};
use aws_sdk_rekognition::error::ProvideErrorMetadata;
use aws_sdk_rekognition::types::{
    Image, LabelDetectionSortBy, NotificationChannel, S3Object, Video,
};
use media_query_domain::labels::DetectedLabel;
use std::future::Future;
use thiserror::Error;

/// DetectLabels error codes that mean "this image cannot be labelled"
/// (`InvalidParameterException` is what an image too small gets).
pub const IMAGE_REJECTION_CODES: &[&str] = &[
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidS3ObjectException",
    "InvalidParameterException",
];

/// StartLabelDetection error codes that mean "this video cannot be
/// labelled". Not `InvalidParameterException`: there it means a bad
/// notification topic or role, a misconfiguration that must fail loudly
/// and be retried once fixed, not mark the upload failed for good. A video
/// Rekognition cannot decode fails later, in its job.
pub const VIDEO_REJECTION_CODES: &[&str] = &["InvalidS3ObjectException", "VideoTooLargeException"];

/// Where a video label job stands, from `GetLabelDetection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    InProgress,
    Succeeded,
    /// Failed, with Rekognition's status message.
    Failed(String),
    /// Rekognition does not know the job (its results are kept 7 days).
    Unknown,
}

#[derive(Debug, Error)]
pub enum DetectError {
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    #[error("Rekognition call failed: {0}")]
    Other(String),
}

/// A video label job to start.
#[derive(Debug, Clone)]
pub struct VideoJob<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub client_request_token: &'a str,
    pub job_tag: &'a str,
    pub topic_arn: &'a str,
    pub role_arn: &'a str,
}

pub trait Labeler: Send + Sync {
    fn detect_image(
        &self,
        bucket: &str,
        key: &str,
        max_labels: i32,
        min_confidence: f32,
    ) -> impl Future<Output = Result<Vec<DetectedLabel>, DetectError>> + Send;
    /// Starts a job; returns its id. Idempotent per client request token.
    fn start_video(
        &self,
        job: VideoJob<'_>,
    ) -> impl Future<Output = Result<String, DetectError>> + Send;
    /// Where a job stands.
    fn video_job_state(
        &self,
        job_id: &str,
    ) -> impl Future<Output = Result<JobState, DetectError>> + Send;
    /// Every label of a finished job, over all pages, in answer order.
    fn video_labels(
        &self,
        job_id: &str,
    ) -> impl Future<Output = Result<Vec<DetectedLabel>, DetectError>> + Send;
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(rejections: &[&str], e: E) -> DetectError {
    match e.code() {
        Some(code) if rejections.contains(&code) => DetectError::Rejected {
            code: code.to_string(),
            message: e.message().unwrap_or("").to_string(),
        },
        _ => DetectError::Other(format!(
            "{}: {}",
            e.code().unwrap_or("unknown error"),
            e.message()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{e:?}"))
        )),
    }
}

/// The real thing, through `aws-sdk-rekognition`.
#[derive(Clone)]
pub struct Rekognition {
    client: aws_sdk_rekognition::Client,
}

impl Rekognition {
    pub fn new(client: aws_sdk_rekognition::Client) -> Rekognition {
        Rekognition { client }
    }
}

/// Rekognition reads an `S3Object` with the caller's permissions.
const READS_THE_OBJECT: Needs = Needs {
    actions: &["s3:GetObject"],
    resource: Resource::MediaObjects,
    why: "Rekognition reads the S3Object it is given with the caller's permissions",
};

/// What each Rekognition call needs from the function's role
/// ([`crate::iam`]); each handler's `IAM` lists the ones it makes. A new
/// call gets its `Call` here. Rekognition's actions name no resource.
impl Rekognition {
    /// [`Labeler::detect_image`]: DetectLabels on an object in S3.
    pub const DETECT_IMAGE: Call = Call {
        name: "Rekognition::detect_image",
        needs: &[
            Needs {
                actions: &["rekognition:DetectLabels"],
                resource: Resource::Any,
                why: "",
            },
            READS_THE_OBJECT,
        ],
    };
    /// [`Labeler::start_video`]: StartLabelDetection on an object in S3,
    /// with the role Rekognition publishes the job's notice as.
    pub const START_VIDEO: Call = Call {
        name: "Rekognition::start_video",
        needs: &[
            Needs {
                actions: &["rekognition:StartLabelDetection"],
                resource: Resource::Any,
                why: "",
            },
            READS_THE_OBJECT,
            Needs {
                actions: &["iam:PassRole"],
                resource: Resource::VideoRole,
                why: "NotificationChannel.RoleArn is passed to Rekognition",
            },
        ],
    };
    /// [`Labeler::video_job_state`]: one GetLabelDetection.
    pub const JOB_STATE: Call = Call {
        name: "Rekognition::video_job_state",
        needs: &[Needs {
            actions: &["rekognition:GetLabelDetection"],
            resource: Resource::Any,
            why: "",
        }],
    };
    /// [`Labeler::video_labels`]: GetLabelDetection, every page.
    pub const JOB_LABELS: Call = Call {
        name: "Rekognition::video_labels",
        needs: &[Needs {
            actions: &["rekognition:GetLabelDetection"],
            resource: Resource::Any,
            why: "",
        }],
    };
}

impl Labeler for Rekognition {
    async fn detect_image(
        &self,
        bucket: &str,
        key: &str,
        max_labels: i32,
        min_confidence: f32,
    ) -> Result<Vec<DetectedLabel>, DetectError> {
        // IAM: declared as `Rekognition::DETECT_IMAGE`.
        let out = self
            .client
            .detect_labels()
            .image(
                Image::builder()
                    .s3_object(S3Object::builder().bucket(bucket).name(key).build())
                    .build(),
            )
            .max_labels(max_labels)
            .min_confidence(min_confidence)
            .send()
            .await
            .map_err(|e| classify(IMAGE_REJECTION_CODES, e))?;
        Ok(out
            .labels()
            .iter()
            .filter_map(|l| Some(DetectedLabel::new(l.name()?, l.confidence().unwrap_or(0.0))))
            .collect())
    }

    async fn start_video(&self, job: VideoJob<'_>) -> Result<String, DetectError> {
        // IAM: declared as `Rekognition::START_VIDEO`.
        let out = self
            .client
            .start_label_detection()
            .video(
                Video::builder()
                    .s3_object(S3Object::builder().bucket(job.bucket).name(job.key).build())
                    .build(),
            )
            .client_request_token(job.client_request_token)
            .job_tag(job.job_tag)
            .notification_channel(
                NotificationChannel::builder()
                    .sns_topic_arn(job.topic_arn)
                    .role_arn(job.role_arn)
                    .build()
                    .map_err(|e| DetectError::Other(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| classify(VIDEO_REJECTION_CODES, e))?;
        out.job_id
            .ok_or_else(|| DetectError::Other("StartLabelDetection returned no JobId".into()))
    }

    async fn video_job_state(&self, job_id: &str) -> Result<JobState, DetectError> {
        use aws_sdk_rekognition::types::VideoJobStatus;
        // IAM: declared as `Rekognition::JOB_STATE`.
        let out = match self
            .client
            .get_label_detection()
            .job_id(job_id)
            .max_results(1)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                return Ok(JobState::Unknown)
            }
            Err(e) => return Err(classify(&[], e)),
        };
        Ok(match out.job_status {
            Some(VideoJobStatus::Succeeded) => JobState::Succeeded,
            Some(VideoJobStatus::Failed) => {
                JobState::Failed(out.status_message.unwrap_or_else(|| "FAILED".into()))
            }
            _ => JobState::InProgress,
        })
    }

    async fn video_labels(&self, job_id: &str) -> Result<Vec<DetectedLabel>, DetectError> {
        let mut labels = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // IAM: declared as `Rekognition::JOB_LABELS`.
            let out = self
                .client
                .get_label_detection()
                .job_id(job_id)
                .sort_by(LabelDetectionSortBy::Timestamp)
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&[], e))?;
            labels.extend(out.labels().iter().filter_map(|d| {
                let l = d.label()?;
                Some(DetectedLabel::new(l.name()?, l.confidence().unwrap_or(0.0)))
            }));
            match out.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(labels),
            }
        }
    }
}

/// An in-memory labeler for unit tests and benchmarks of handler logic:
/// fixed labels, or a fixed rejection, and a count of calls.
#[derive(Default)]
pub struct FixedLabeler {
    pub labels: Vec<DetectedLabel>,
    pub reject_with: Option<String>,
    pub calls: std::sync::atomic::AtomicUsize,
}

impl FixedLabeler {
    pub fn new(labels: Vec<DetectedLabel>) -> FixedLabeler {
        FixedLabeler {
            labels,
            ..Default::default()
        }
    }

    fn answer(&self) -> Result<Vec<DetectedLabel>, DetectError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.reject_with {
            Some(code) => Err(DetectError::Rejected {
                code: code.clone(),
                message: "rejected".into(),
            }),
            None => Ok(self.labels.clone()),
        }
    }
}

impl Labeler for FixedLabeler {
    async fn detect_image(
        &self,
        _: &str,
        _: &str,
        _: i32,
        _: f32,
    ) -> Result<Vec<DetectedLabel>, DetectError> {
        self.answer()
    }

    async fn start_video(&self, job: VideoJob<'_>) -> Result<String, DetectError> {
        self.answer()
            .map(|_| format!("job-{}", job.client_request_token))
    }

    async fn video_job_state(&self, _: &str) -> Result<JobState, DetectError> {
        self.answer().map(|_| JobState::Succeeded)
    }

    async fn video_labels(&self, _: &str) -> Result<Vec<DetectedLabel>, DetectError> {
        self.answer()
    }
}
