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
//!
//! Layout, top-down: [`server`] routes a request by its `X-Amz-Target` to
//! one handler per operation ([`detect_labels`], `start_label_detection`,
//! [`label_detection`]); they share a `state::AppState`, read objects
//! through `s3_object`, and turn the model's labels into Rekognition's
//! through `labeler`; a started job runs in `video_job`.

pub mod categories;
pub mod colors;
pub mod detect_labels;
pub mod face;
pub mod filters;
pub mod gender;
pub mod image_properties;
mod jobs;
pub mod label_detection;
mod labeler;
pub mod model;
pub mod objects;
pub mod protocol;
mod s3_object;
pub mod server;
mod start_label_detection;
mod state;
pub mod taxonomy;
pub mod video;
mod video_job;

pub use labeler::Labeler;
pub use server::{serve, RunningServer};
pub use state::ServerConfig;

/// Rekognition's limits on images.
pub const MAX_S3_IMAGE_BYTES: usize = 15 * 1024 * 1024;
pub const MAX_INLINE_IMAGE_BYTES: usize = 5 * 1024 * 1024;
