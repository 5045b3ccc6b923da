//! Where labels come from: the offline model, or canned labels for tests
//! and stacks that need fixed answers; and how either becomes
//! Rekognition's `Label` (with its aliases and category).

use crate::categories;
use crate::model::{ImageError, LabelModel};
use crate::protocol::{ApiError, BoundingBox, Instance, Label, Named};
use crate::taxonomy::ScoredLabel;
use media_query_domain::labels::DetectedLabel;

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

pub(crate) fn canned(labels: &[DetectedLabel], min_confidence: f32) -> Vec<Label> {
    labels
        .iter()
        .filter(|l| l.confidence >= min_confidence)
        .map(|l| label(l.name.clone(), l.confidence, Vec::new(), Vec::new()))
        .collect()
}

pub(crate) fn scored(labels: Vec<ScoredLabel>) -> Vec<Label> {
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
