//! A local server that speaks Amazon Rekognition's label APIs, so the
//! unchanged Lambda code (pointed at it with `AWS_ENDPOINT_URL_REKOGNITION`)
//! can label images *and videos* with no cloud account. moto, the local
//! AWS, answers only `DetectLabels`, with canned labels, and fails the video
//! APIs.
//!
//! * `DetectLabels` ([`detect_labels`]): `Image.Bytes` or `Image.S3Object`
//!   (read from S3 through the SDK's standard endpoint settings),
//!   `MaxLabels`, `MinConfidence`, `Features` (`GENERAL_LABELS`,
//!   `IMAGE_PROPERTIES`: quality and dominant colours,
//!   [`image_properties`]), `Settings` (label filters, [`filters`];
//!   `MaxDominantColors`). Labels have Rekognition's `Aliases` and
//!   `Categories` ([`categories`]).
//! * `StartLabelDetection`: idempotent per `ClientRequestToken`, keeps the
//!   `JobTag`, applies `MinConfidence` and `Settings.GeneralLabels`, runs
//!   the job in the background and publishes Rekognition's job-complete
//!   message to the `NotificationChannel` topic over SNS.
//! * `GetLabelDetection` ([`label_detection`]): `SortBy`, `AggregateBy`
//!   (`TIMESTAMPS` or `SEGMENTS`), `MaxResults`/`NextToken` paging (the
//!   server can cap page sizes, `max_page_size`, so clients' paging is
//!   exercised), `VideoMetadata` from ffprobe.
//!
//! Objects are checked like Rekognition does: a missing object is
//! `InvalidS3ObjectException`, a file that is not a decodable JPEG/PNG is
//! `InvalidImageFormatException`, an image over the limits is
//! `ImageTooLargeException`, a parameter out of its range or an unknown
//! enum value is `InvalidParameterException`, and a video ffmpeg cannot
//! decode makes the job end `FAILED`.
//!
//! Labels come from a [`Labeler`]: the real offline model ([`model`]: an
//! ImageNet classifier, WordNet's hierarchy in [`taxonomy`], a face
//! detector in [`face`] for people, and an object detector in [`objects`]
//! for people, vehicles, animals and more, with boxes), or canned labels
//! for tests that need fixed answers.

pub mod categories;
pub mod colors;
pub mod detect_labels;
pub mod face;
pub mod filters;
pub mod image_properties;
mod jobs;
pub mod label_detection;
pub mod model;
pub mod objects;
pub mod protocol;
pub mod taxonomy;
pub mod video;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use filters::LabelFilter;
use jobs::{Job, JobStatus, Jobs};
use media_query_domain::labels::DetectedLabel;
use model::{ImageError, LabelModel};
use protocol::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use taxonomy::ScoredLabel;
use video::VideoMetadata;

/// Rekognition's limits on images.
pub const MAX_S3_IMAGE_BYTES: usize = 15 * 1024 * 1024;
pub const MAX_INLINE_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Canned videos are reported as this many one-second frames.
const CANNED_FRAMES: u64 = 10;

/// Where labels come from.
#[derive(Debug, Clone)]
pub enum Labeler {
    /// The offline model: real labels for every image and video frame.
    Model(LabelModel),
    /// The same labels for every image and every sampled video frame.
    Canned(Vec<DetectedLabel>),
}

impl Labeler {
    /// moto's answer, so a stack on either reads the same.
    pub fn default_canned() -> Labeler {
        Labeler::Canned(vec![
            DetectedLabel::new("Mobile Phone", 99.4),
            DetectedLabel::new("Electronics", 96.1),
        ])
    }

    /// The model prepared by `scripts/setup.sh` in `dir`.
    pub fn load_model(dir: &std::path::Path) -> anyhow::Result<Labeler> {
        Ok(Labeler::Model(LabelModel::load(dir)?))
    }
}

/// A label with its aliases and category ([`categories`]).
fn label(name: String, confidence: f32, parents: Vec<String>, instances: Vec<Instance>) -> Label {
    let category = categories::category(&name, &parents);
    Label {
        aliases: categories::aliases(&name)
            .iter()
            .map(|a| Named::new(*a))
            .collect(),
        categories: vec![Named::new(category)],
        parents: parents.into_iter().map(Named::new).collect(),
        name,
        confidence,
        instances,
    }
}

fn canned(labels: &[DetectedLabel], min_confidence: f32) -> Vec<Label> {
    labels
        .iter()
        .filter(|l| l.confidence >= min_confidence)
        .map(|l| label(l.name.clone(), l.confidence, Vec::new(), Vec::new()))
        .collect()
}

fn scored(labels: Vec<ScoredLabel>) -> Vec<Label> {
    labels
        .into_iter()
        .map(|l| {
            let instances = l
                .instances
                .iter()
                .map(|i| Instance {
                    bounding_box: BoundingBox {
                        width: i.width,
                        height: i.height,
                        left: i.left,
                        top: i.top,
                    },
                    confidence: i.confidence,
                    dominant_colors: None,
                })
                .collect();
            label(l.name, l.confidence, l.parents, instances)
        })
        .collect()
}

impl From<ImageError> for ApiError {
    fn from(e: ImageError) -> ApiError {
        let message = e.to_string();
        match e {
            ImageError::Format(_) => ApiError::new(
                "InvalidImageFormatException",
                format!("Request has unsupported image format: {message}"),
            ),
            ImageError::TooLarge(_) => ApiError::new("ImageTooLargeException", message),
            ImageError::TooSmall { .. } => ApiError::new("InvalidParameterException", message),
            ImageError::Model(_) => ApiError::internal(format!("labelling failed: {message}")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub labeler: Labeler,
    /// Cap on `GetLabelDetection` page sizes, whatever `MaxResults` asks.
    pub max_page_size: Option<u32>,
}

struct AppState {
    config: ServerConfig,
    /// One model run per core at a time; further requests wait their turn
    /// instead of piling decoded images into memory.
    inference: tokio::sync::Semaphore,
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    jobs: Jobs,
}

/// The router, for embedding; [`RunningServer`] runs it on a thread.
fn app(config: ServerConfig, sdk: &aws_config::SdkConfig) -> Router {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let state = Arc::new(AppState {
        config,
        s3,
        sns: aws_sdk_sns::Client::new(sdk),
        jobs: Jobs::default(),
        inference: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
    });
    Router::new().route("/", post(dispatch)).with_state(state)
}

/// Serves on `listener` until the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    sdk: &aws_config::SdkConfig,
) -> std::io::Result<()> {
    axum::serve(listener, app(config, sdk)).await
}

/// A server on its own thread and runtime, stopped on drop.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Binds 127.0.0.1 on a free port and serves there.
    pub fn start(
        config: ServerConfig,
        sdk: &aws_config::SdkConfig,
    ) -> std::io::Result<RunningServer> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sdk = sdk.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let server =
                    axum::serve(listener, app(config, &sdk)).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "rekognition-local stopped");
                }
            });
        });
        Ok(RunningServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn dispatch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let answer = match target.strip_prefix("RekognitionService.") {
        Some("DetectLabels") => match parse(&body) {
            Ok(r) => detect_labels::detect_labels(&state, r).await,
            Err(e) => Err(e),
        },
        Some("StartLabelDetection") => match parse(&body) {
            Ok(r) => start_label_detection(&state, r).await,
            Err(e) => Err(e),
        },
        Some("GetLabelDetection") => {
            parse(&body).and_then(|r| label_detection::get_label_detection(&state, r))
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("operation {target:?} is not supported"),
        )),
    };
    match answer {
        Ok(v) => (
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => {
            tracing::info!(
                target,
                code = e.code,
                message = e.message,
                "request refused"
            );
            e.into_response()
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            "InvalidParameterException",
            format!("request does not match the API: {e}"),
        )
    })
}

/// Reads an S3 object, or the first `limit` bytes of it.
async fn read_object(
    state: &AppState,
    o: &S3Object,
    range: Option<&str>,
) -> Result<(Vec<u8>, i64), ApiError> {
    let out = get_object(state, o, range).await?;
    let total = out
        .content_range()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .or(out.content_length())
        .unwrap_or(0);
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| ApiError::internal(format!("reading S3 object: {e}")))?
        .into_bytes()
        .to_vec();
    Ok((bytes, total))
}

fn is_image(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
        || b.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A])
}

fn is_video(b: &[u8]) -> bool {
    b.starts_with(b"FLV")
        || (b.len() >= 8 && matches!(&b[4..8], b"ftyp" | b"moov" | b"mdat" | b"wide" | b"free"))
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

async fn start_label_detection(
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
async fn run_job(state: Arc<AppState>, job_id: String, head: Vec<u8>) {
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

/// `GetObject`, failing as Rekognition does for an object it cannot read.
async fn get_object(
    state: &AppState,
    o: &S3Object,
    range: Option<&str>,
) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, ApiError> {
    let mut req = state.s3.get_object().bucket(&o.bucket).key(&o.name);
    if let Some(v) = &o.version {
        req = req.version_id(v);
    }
    if let Some(r) = range {
        req = req.range(r);
    }
    req.send().await.map_err(|e| {
        ApiError::new(
            "InvalidS3ObjectException",
            format!(
                "Unable to get object metadata from S3 (s3://{}/{}): {}",
                o.bucket,
                o.name,
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ),
        )
    })
}

/// Streams an S3 object to a temporary file (videos can be large).
async fn download(state: &AppState, o: &S3Object) -> Result<tempfile::NamedTempFile, String> {
    let out = get_object(state, o, None).await.map_err(|e| e.message)?;
    let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut writer = tokio::fs::File::from_std(file.reopen().map_err(|e| e.to_string())?);
    let mut body = out.body.into_async_read();
    tokio::io::copy(&mut body, &mut writer)
        .await
        .map_err(|e| format!("reading s3://{}/{}: {e}", o.bucket, o.name))?;
    Ok(file)
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
