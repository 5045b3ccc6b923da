//! From Rekognition answers to a stored label list.
//!
//! * Images: `DetectLabels` order is kept (the workshop stored it as is);
//!   labels under the minimum confidence are dropped, and a repeated name
//!   keeps its first position.
//! * Videos: `GetLabelDetection` reports a label per sampled timestamp, over
//!   many pages. A name is kept once, **at its first appearance** in the
//!   order the pages and entries arrive (Rekognition sorts by timestamp),
//!   with the **highest confidence** it reached anywhere in the video. The
//!   minimum confidence applies to that highest value, so a label seen
//!   clearly once is kept even if it was faint elsewhere.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One label as Rekognition reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedLabel {
    pub name: String,
    /// 0–100.
    pub confidence: f32,
}

impl DetectedLabel {
    pub fn new(name: impl Into<String>, confidence: f32) -> Self {
        DetectedLabel {
            name: name.into(),
            confidence,
        }
    }
}

/// Collects labels over one image or all pages of a video job.
#[derive(Debug, Clone, Default)]
pub struct LabelAggregator {
    min_confidence: f32,
    order: Vec<String>,
    best: HashMap<String, f32>,
}

impl LabelAggregator {
    /// `min_confidence` is 0–100; labels below it are dropped at the end.
    pub fn new(min_confidence: f32) -> Self {
        LabelAggregator {
            min_confidence,
            ..Default::default()
        }
    }

    /// Adds one label; blank names and non-finite confidences are ignored.
    pub fn add(&mut self, label: &DetectedLabel) {
        let name = label.name.trim();
        if name.is_empty() || !label.confidence.is_finite() {
            return;
        }
        match self.best.get_mut(name) {
            Some(best) => *best = best.max(label.confidence),
            None => {
                self.order.push(name.to_string());
                self.best.insert(name.to_string(), label.confidence);
            }
        }
    }

    pub fn extend<'a>(&mut self, labels: impl IntoIterator<Item = &'a DetectedLabel>) {
        for l in labels {
            self.add(l);
        }
    }

    /// The unique labels, in first-appearance order, with their best
    /// confidence, at or above the minimum.
    pub fn finish(self) -> Vec<DetectedLabel> {
        let LabelAggregator {
            min_confidence,
            order,
            best,
        } = self;
        order
            .into_iter()
            .filter_map(|name| {
                let c = best[&name];
                (c >= min_confidence).then_some(DetectedLabel::new(name, c))
            })
            .collect()
    }
}

/// Aggregates one image's `DetectLabels` answer.
pub fn aggregate_image(labels: &[DetectedLabel], min_confidence: f32) -> Vec<DetectedLabel> {
    let mut agg = LabelAggregator::new(min_confidence);
    agg.extend(labels);
    agg.finish()
}
