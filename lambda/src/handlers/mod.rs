//! What each function does with its event. Each handler takes its
//! collaborators ([`crate::store::MediaStore`], [`crate::rekognition::Labeler`])
//! as parameters, so it runs the same under Lambda, in tests and in benches.

pub mod api;
pub mod export;
pub mod ingest;
pub mod serving;
pub mod snapshot_writer;
pub mod sweeper;
pub mod video;
pub mod writer;

use serde::Serialize;

/// What an event handler did, record by record; returned as the Lambda
/// result and logged.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Writes that took effect.
    pub applied: usize,
    /// Writes dropped because a newer event already won.
    pub stale: usize,
    /// Records not for this function (other event types, non-media keys).
    pub skipped: usize,
    /// Objects Rekognition rejected, recorded as `failed`.
    pub unprocessable: usize,
    /// Video jobs started.
    pub jobs_started: usize,
    /// SQS messages that failed, to be received again: the partial batch
    /// response (`ReportBatchItemFailures`). Only for events from SQS.
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Vec::is_empty")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One failed message of an SQS batch, as Lambda's partial batch response
/// names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl Outcome {
    /// CloudWatch metrics of this invocation (Embedded Metric Format, with
    /// the function's name as dimension): `RecordsWritten` (labels stored by
    /// `object-created` and `video-job-complete`, tombstones by
    /// `object-removed`), `StaleEventsIgnored`, `MediaFailed`,
    /// `VideoJobsStarted`.
    pub fn emit_metrics(&self) {
        crate::metrics::emit(&[
            ("RecordsWritten", self.applied as f64, "Count"),
            ("StaleEventsIgnored", self.stale as f64, "Count"),
            ("MediaFailed", self.unprocessable as f64, "Count"),
            ("VideoJobsStarted", self.jobs_started as f64, "Count"),
        ]);
    }

    pub(crate) fn count(&mut self, w: crate::store::Write) {
        match w {
            crate::store::Write::Applied => self.applied += 1,
            crate::store::Write::Stale => self.stale += 1,
        }
    }
}
