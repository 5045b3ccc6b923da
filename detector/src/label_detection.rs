//! `GetLabelDetection`: a job's labels, sorted (`SortBy`), aggregated
//! (`AggregateBy`) and paged (`MaxResults`, `NextToken`), with the job's
//! `VideoMetadata`, `Video`, `JobTag` and `GetRequestMetadata`.
//!
//! * `TIMESTAMPS` (the default): one element per label per sampled frame,
//!   with its instances.
//! * `SEGMENTS`: one element per run of consecutive sampled frames that
//!   have the label: `StartTimestampMillis` is the first frame's time,
//!   `EndTimestampMillis` the end of the last frame (its time plus the
//!   sampling interval, within the video), `DurationMillis` the difference,
//!   `Timestamp` equals the start (as the API reference says), the label's
//!   confidence is the run's highest, and there are no instances.
//! * `TIMESTAMP` (the default) sorts by time (labels of one frame, most
//!   confident first); `NAME` groups each label's elements, by name, each
//!   group most confident first (then by time).
//!
//! `MaxResults` is at least 1; over 1000 it means 1000. The server's
//! `max_page_size` caps pages further. `NextToken` is the index of the next
//! element.

use crate::jobs::JobStatus;
use crate::protocol::{ApiError, GetLabelDetectionRequest, Label};
use crate::state::AppState;
use crate::video::FRAME_INTERVAL_MS;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The largest page.
pub const MAX_RESULTS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateBy {
    Timestamps,
    Segments,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterException", message)
}

impl SortBy {
    pub fn parse(value: Option<&str>) -> Result<SortBy, ApiError> {
        match value {
            None | Some("TIMESTAMP") => Ok(SortBy::Timestamp),
            Some("NAME") => Ok(SortBy::Name),
            Some(other) => Err(invalid(format!(
                "SortBy: {other:?} is not one of NAME, TIMESTAMP"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Name => "NAME",
            SortBy::Timestamp => "TIMESTAMP",
        }
    }
}

impl AggregateBy {
    pub fn parse(value: Option<&str>) -> Result<AggregateBy, ApiError> {
        match value {
            None | Some("TIMESTAMPS") => Ok(AggregateBy::Timestamps),
            Some("SEGMENTS") => Ok(AggregateBy::Segments),
            Some(other) => Err(invalid(format!(
                "AggregateBy: {other:?} is not one of TIMESTAMPS, SEGMENTS"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AggregateBy::Timestamps => "TIMESTAMPS",
            AggregateBy::Segments => "SEGMENTS",
        }
    }
}

/// One element of `Labels`.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub timestamp: u64,
    /// `(start, end)` in milliseconds, when aggregated by segments.
    pub segment: Option<(u64, u64)>,
    pub label: Label,
}

impl Detection {
    /// The `LabelDetection` structure.
    pub fn to_json(&self) -> Value {
        match self.segment {
            None => json!({"Timestamp": self.timestamp, "Label": self.label}),
            Some((start, end)) => {
                let mut label = json!(self.label);
                if let Some(fields) = label.as_object_mut() {
                    fields.remove("Instances");
                }
                json!({
                    "Timestamp": start,
                    "StartTimestampMillis": start,
                    "EndTimestampMillis": end,
                    "DurationMillis": end - start,
                    "Label": label,
                })
            }
        }
    }
}

/// A job's `(timestamp, label)` list as `GetLabelDetection` lists it.
pub fn arrange(
    labels: &[(u64, Label)],
    sort: SortBy,
    aggregate: AggregateBy,
    duration_ms: u64,
) -> Vec<Detection> {
    let mut out: Vec<Detection> = match aggregate {
        AggregateBy::Timestamps => labels
            .iter()
            .map(|(ts, label)| Detection {
                timestamp: *ts,
                segment: None,
                label: label.clone(),
            })
            .collect(),
        AggregateBy::Segments => segments(labels, FRAME_INTERVAL_MS, duration_ms),
    };
    match sort {
        // Stable: a frame's labels keep their order, most confident first.
        SortBy::Timestamp => out.sort_by_key(|d| d.timestamp),
        SortBy::Name => out.sort_by(|a, b| {
            a.label
                .name
                .cmp(&b.label.name)
                .then(b.label.confidence.total_cmp(&a.label.confidence))
                .then(a.timestamp.cmp(&b.timestamp))
        }),
    }
    out
}

/// Each label's runs of frames no more than `interval` apart, as segments
/// (see the module's docs), by label name, then time.
pub fn segments(labels: &[(u64, Label)], interval: u64, duration_ms: u64) -> Vec<Detection> {
    let mut by_name: BTreeMap<&str, Vec<(u64, &Label)>> = BTreeMap::new();
    for (ts, label) in labels {
        by_name
            .entry(label.name.as_str())
            .or_default()
            .push((*ts, label));
    }
    let mut out = Vec::new();
    for (_, mut seen) in by_name {
        seen.sort_by_key(|(ts, _)| *ts);
        // (start, last frame, the most confident detection so far)
        let mut run: Option<(u64, u64, Label)> = None;
        for (ts, label) in seen {
            let continues = run
                .as_ref()
                .is_some_and(|(_, last, _)| ts <= last + interval);
            if continues {
                let (_, last, best) = run.as_mut().expect("a run");
                *last = ts;
                if label.confidence > best.confidence {
                    *best = label.clone();
                }
            } else if let Some(done) = run.replace((ts, ts, label.clone())) {
                out.push(segment(done, interval, duration_ms));
            }
        }
        if let Some(done) = run {
            out.push(segment(done, interval, duration_ms));
        }
    }
    out
}

fn segment(
    (start, last, mut label): (u64, u64, Label),
    interval: u64,
    duration_ms: u64,
) -> Detection {
    label.instances.clear();
    let mut end = last + interval;
    if duration_ms > last {
        end = end.min(duration_ms);
    }
    Detection {
        timestamp: start,
        segment: Some((start, end)),
        label,
    }
}

pub(crate) fn get_label_detection(
    state: &AppState,
    req: GetLabelDetectionRequest,
) -> Result<Value, ApiError> {
    let sort = SortBy::parse(req.sort_by.as_deref())?;
    let aggregate = AggregateBy::parse(req.aggregate_by.as_deref())?;
    let asked = req.max_results.unwrap_or(MAX_RESULTS as i64);
    if asked < 1 {
        return Err(invalid("MaxResults must be at least 1"));
    }
    let job = state.jobs.get(&req.job_id).ok_or_else(|| {
        ApiError::new(
            "ResourceNotFoundException",
            format!("job {} does not exist", req.job_id),
        )
    })?;
    let page = (asked.min(MAX_RESULTS as i64) as usize).min(
        state
            .config
            .max_page_size
            .map_or(usize::MAX, |m| m.max(1) as usize),
    );
    let all = arrange(&job.labels, sort, aggregate, job.metadata.duration_ms);
    let start: usize =
        match &req.next_token {
            None => 0,
            Some(t) => t.parse().ok().filter(|s| *s <= all.len()).ok_or_else(|| {
                ApiError::new("InvalidPaginationTokenException", "invalid NextToken")
            })?,
        };
    let end = (start + page).min(all.len());
    let labels: Vec<Value> = all[start..end].iter().map(Detection::to_json).collect();
    let mut video = json!({"S3Object": {"Bucket": job.bucket, "Name": job.key}});
    if let Some(v) = &job.version {
        video["S3Object"]["Version"] = json!(v);
    }
    let mut out = json!({
        "JobId": req.job_id,
        "JobStatus": job.status.as_str(),
        "Labels": labels,
        "LabelModelVersion": "3.0",
        "Video": video,
        "GetRequestMetadata": {"SortBy": sort.as_str(), "AggregateBy": aggregate.as_str()},
    });
    if job.status == JobStatus::Succeeded {
        out["VideoMetadata"] = job.metadata.to_json();
    }
    if let Some(m) = &job.status_message {
        out["StatusMessage"] = json!(m);
    }
    if let Some(tag) = &job.job_tag {
        out["JobTag"] = json!(tag);
    }
    if end < all.len() {
        out["NextToken"] = json!(end.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{BoundingBox, Instance, Named};

    fn label(name: &str, confidence: f32) -> Label {
        Label {
            name: name.into(),
            confidence,
            instances: vec![Instance {
                bounding_box: BoundingBox {
                    width: 0.5,
                    height: 0.5,
                    left: 0.1,
                    top: 0.1,
                },
                confidence,
                dominant_colors: None,
            }],
            parents: vec![Named::new("Animal")],
            aliases: Vec::new(),
            categories: vec![Named::new("Animals and Pets")],
        }
    }

    /// Dog in frames 0-2 and 5, Cat in 1 and 2, one frame a second.
    fn job() -> Vec<(u64, Label)> {
        vec![
            (0, label("Dog", 80.0)),
            (1000, label("Dog", 90.0)),
            (1000, label("Cat", 70.0)),
            (2000, label("Dog", 85.0)),
            (2000, label("Cat", 75.0)),
            (5000, label("Dog", 60.0)),
        ]
    }

    fn names_and_times(d: &[Detection]) -> Vec<(&str, u64)> {
        d.iter()
            .map(|d| (d.label.name.as_str(), d.timestamp))
            .collect()
    }

    #[test]
    fn timestamps_by_time_or_by_name_then_confidence() {
        let by_time = arrange(&job(), SortBy::Timestamp, AggregateBy::Timestamps, 6000);
        assert_eq!(by_time.len(), 6);
        assert!(by_time.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        assert_eq!(
            names_and_times(&by_time)[1..3],
            [("Dog", 1000), ("Cat", 1000)]
        );
        let by_name = arrange(&job(), SortBy::Name, AggregateBy::Timestamps, 6000);
        assert_eq!(
            names_and_times(&by_name),
            [
                ("Cat", 2000),
                ("Cat", 1000),
                ("Dog", 1000),
                ("Dog", 2000),
                ("Dog", 0),
                ("Dog", 5000)
            ]
        );
        let v = by_time[0].to_json();
        assert_eq!(v["Timestamp"], 0);
        assert_eq!(v["Label"]["Instances"][0]["BoundingBox"]["Width"], 0.5);
        assert!(v.get("StartTimestampMillis").is_none());
    }

    #[test]
    fn segments_are_runs_of_frames_with_their_best_confidence() {
        let segs = arrange(&job(), SortBy::Timestamp, AggregateBy::Segments, 5500);
        type Seen<'a> = (&'a str, Option<(u64, u64)>, f32);
        let got: Vec<Seen> = segs
            .iter()
            .map(|d| (d.label.name.as_str(), d.segment, d.label.confidence))
            .collect();
        assert_eq!(
            got,
            [
                ("Dog", Some((0, 3000)), 90.0),
                ("Cat", Some((1000, 3000)), 75.0),
                // The last frame's segment ends with the video.
                ("Dog", Some((5000, 5500)), 60.0),
            ]
        );
        let v = segs[1].to_json();
        assert_eq!(v["Timestamp"], 1000);
        assert_eq!(v["StartTimestampMillis"], 1000);
        assert_eq!(v["EndTimestampMillis"], 3000);
        assert_eq!(v["DurationMillis"], 2000);
        assert!(v["Label"].get("Instances").is_none());
        assert_eq!(v["Label"]["Parents"][0]["Name"], "Animal");
        let by_name = arrange(&job(), SortBy::Name, AggregateBy::Segments, 5500);
        assert_eq!(
            names_and_times(&by_name),
            [("Cat", 1000), ("Dog", 0), ("Dog", 5000)]
        );
        // Without a known duration, a segment ends a frame after its last.
        let unknown = segments(&job(), FRAME_INTERVAL_MS, 0);
        assert_eq!(unknown.last().unwrap().segment, Some((5000, 6000)));
    }

    #[test]
    fn sort_and_aggregate_values_are_checked() {
        assert_eq!(SortBy::parse(None).unwrap(), SortBy::Timestamp);
        assert_eq!(SortBy::parse(Some("NAME")).unwrap(), SortBy::Name);
        assert_eq!(AggregateBy::parse(None).unwrap(), AggregateBy::Timestamps);
        assert_eq!(
            AggregateBy::parse(Some("SEGMENTS")).unwrap(),
            AggregateBy::Segments
        );
        for bad in [
            SortBy::parse(Some("name")).err(),
            AggregateBy::parse(Some("FRAMES")).err(),
        ] {
            assert_eq!(bad.unwrap().code, "InvalidParameterException");
        }
    }
}
