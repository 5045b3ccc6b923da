//! `DetectLabels`: the request's options, checked as Rekognition checks
//! them, and the answer.
//!
//! * `Features`: `GENERAL_LABELS` (labels) and/or `IMAGE_PROPERTIES`
//!   (quality and colours, [`crate::image_properties`]); none means
//!   `GENERAL_LABELS`; any other value is `InvalidParameterException`.
//! * `MinConfidence` (0-100, default 55) and `MaxLabels` (at least 0; the
//!   default and the most is 1000) apply to labels.
//! * `Settings.GeneralLabels`: label filters ([`crate::filters`]), applied
//!   before `MaxLabels`, so it counts the labels that are kept.
//! * `Settings.ImageProperties.MaxDominantColors`: 0-20, default 10; with
//!   `IMAGE_PROPERTIES`, each label instance's box gets its dominant colours
//!   too, as Rekognition's answers have them.
//!
//! Canned labels need no decoded image; `IMAGE_PROPERTIES` decodes it
//! anyway (so a file that is not a decodable JPEG or PNG is refused, as
//! Rekognition refuses it).

use crate::filters::LabelFilter;
use crate::image_properties::{Measured, DEFAULT_MAX_DOMINANT_COLORS, MAX_DOMINANT_COLORS};
use crate::labeler::{canned, scored, Labeler};
use crate::model;
use crate::protocol::{ApiError, BoundingBox, DetectLabelsRequest, ImageProperties, Label};
use crate::s3_object::{is_image, read_object};
use crate::state::AppState;
use crate::{MAX_INLINE_IMAGE_BYTES, MAX_S3_IMAGE_BYTES};
use base64::Engine;
use serde_json::{json, Value};

/// `MinConfidence` when the request has none.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 55.0;
/// `MaxLabels`' default and largest effective value.
pub const MAX_LABELS: usize = 1000;

/// A `DetectLabels` request's options, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub general_labels: bool,
    pub image_properties: bool,
    pub min_confidence: f32,
    pub max_labels: usize,
    pub filter: LabelFilter,
    pub max_dominant_colors: usize,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterException", message)
}

impl Options {
    pub fn new(req: &DetectLabelsRequest) -> Result<Options, ApiError> {
        let features = req.features.as_deref().unwrap_or(&[]);
        if features.len() > 2 {
            return Err(invalid("Features has at most 2 members"));
        }
        let (mut general_labels, mut image_properties) = (features.is_empty(), false);
        for f in features {
            match f.as_str() {
                "GENERAL_LABELS" => general_labels = true,
                "IMAGE_PROPERTIES" => image_properties = true,
                other => {
                    return Err(invalid(format!(
                        "Features: {other:?} is not one of GENERAL_LABELS, IMAGE_PROPERTIES"
                    )))
                }
            }
        }
        let min_confidence = req.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
        if !(0.0..=100.0).contains(&min_confidence) {
            return Err(invalid("MinConfidence must be between 0 and 100"));
        }
        let max_labels = match req.max_labels {
            None => MAX_LABELS,
            Some(n) if n < 0 => return Err(invalid("MaxLabels must be at least 0")),
            Some(n) => (n as u64).min(MAX_LABELS as u64) as usize,
        };
        let settings = req.settings.as_ref();
        let filter = LabelFilter::new(settings.and_then(|s| s.general_labels.as_ref()))?;
        let max_dominant_colors = match settings
            .and_then(|s| s.image_properties.as_ref())
            .and_then(|p| p.max_dominant_colors)
        {
            None => DEFAULT_MAX_DOMINANT_COLORS,
            Some(n) if (0..=MAX_DOMINANT_COLORS as i64).contains(&n) => n as usize,
            Some(_) => {
                return Err(invalid(format!(
                    "Settings.ImageProperties.MaxDominantColors must be between 0 and {MAX_DOMINANT_COLORS}"
                )))
            }
        };
        Ok(Options {
            general_labels,
            image_properties,
            min_confidence,
            max_labels,
            filter,
            max_dominant_colors,
        })
    }
}

pub(crate) async fn detect_labels(
    state: &AppState,
    req: DetectLabelsRequest,
) -> Result<Value, ApiError> {
    // Parameters are checked before the image is fetched.
    let options = Options::new(&req)?;
    let bytes = image_bytes(state, &req).await?;
    if !is_image(&bytes) {
        return Err(ApiError::new(
            "InvalidImageFormatException",
            "Request has unsupported image format",
        ));
    }
    let labeler = state.config.labeler.clone();
    let analysis = if matches!(labeler, Labeler::Canned(_)) && !options.image_properties {
        analyse(&labeler, &bytes, &options)?
    } else {
        // Decoding and the model are CPU work: one at a time per core.
        let _permit = state.inference.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(move || analyse(&labeler, &bytes, &options))
            .await
            .map_err(|e| ApiError::internal(format!("labelling task: {e}")))??
    };
    Ok(analysis.to_json())
}

/// The image of the request: `Image.Bytes` or `Image.S3Object`.
async fn image_bytes(state: &AppState, req: &DetectLabelsRequest) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new("ImageTooLargeException", "Image size is too large");
    match (&req.image.bytes, &req.image.s3_object) {
        (Some(b64), None) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| {
                    ApiError::new("InvalidImageFormatException", "Image.Bytes is not base64")
                })?;
            if bytes.len() > MAX_INLINE_IMAGE_BYTES {
                return Err(too_large());
            }
            Ok(bytes)
        }
        (None, Some(o)) => {
            let (bytes, total) = read_object(state, o, None).await?;
            if total as usize > MAX_S3_IMAGE_BYTES || bytes.len() > MAX_S3_IMAGE_BYTES {
                return Err(too_large());
            }
            Ok(bytes)
        }
        _ => Err(invalid(
            "give exactly one of Image.Bytes and Image.S3Object",
        )),
    }
}

/// What `DetectLabels` answers.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub labels: Vec<Label>,
    pub properties: Option<ImageProperties>,
}

impl Analysis {
    pub fn to_json(&self) -> Value {
        let mut out = json!({"Labels": self.labels, "LabelModelVersion": "3.0"});
        if let Some(p) = &self.properties {
            out["ImageProperties"] = json!(p);
        }
        out
    }
}

/// Labels and properties of an encoded image.
pub fn analyse(labeler: &Labeler, bytes: &[u8], o: &Options) -> Result<Analysis, ApiError> {
    let decoded = match labeler {
        Labeler::Canned(_) if !o.image_properties => None,
        _ => Some(model::decode(bytes)?),
    };
    let labels = match labeler {
        _ if !o.general_labels => Vec::new(),
        Labeler::Canned(l) => canned(l, o.min_confidence),
        Labeler::Model(m) => {
            let image = decoded.as_ref().expect("decoded for the model");
            scored(m.label_decoded(image, o.min_confidence)?)
        }
    };
    // Whatever the filters keep, the detectors' boxes are the foreground.
    let boxes: Vec<BoundingBox> = labels
        .iter()
        .flat_map(|l| l.instances.iter().map(|i| i.bounding_box))
        .collect();
    let mut labels: Vec<Label> = labels.into_iter().filter(|l| o.filter.keeps(l)).collect();
    labels.truncate(o.max_labels);
    let properties = match decoded {
        Some(image) if o.image_properties => {
            let measured = Measured::new(&image);
            for instance in labels.iter_mut().flat_map(|l| l.instances.iter_mut()) {
                instance.dominant_colors = Some(
                    measured.dominant_colors_in(&instance.bounding_box, o.max_dominant_colors),
                );
            }
            Some(measured.properties(&boxes, o.max_dominant_colors))
        }
        _ => None,
    };
    Ok(Analysis { labels, properties })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        DetectLabelsSettings, GeneralLabelsSettings, Image, ImagePropertiesSettings,
    };
    use media_query_domain::labels::DetectedLabel;

    fn request(json: Value) -> DetectLabelsRequest {
        serde_json::from_value(json).unwrap()
    }

    fn options(json: Value) -> Result<Options, ApiError> {
        let mut json = json;
        json["Image"] = json!({"Bytes": ""});
        Options::new(&request(json))
    }

    fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn labeler() -> Labeler {
        Labeler::Canned(vec![
            DetectedLabel::new("Mobile Phone", 99.4),
            DetectedLabel::new("Electronics", 96.1),
            DetectedLabel::new("Person", 90.0),
            DetectedLabel::new("Dog", 60.0),
            DetectedLabel::new("Faint", 20.0),
        ])
    }

    #[test]
    fn defaults_are_rekognitions() {
        let o = options(json!({})).unwrap();
        assert!(o.general_labels && !o.image_properties);
        assert_eq!(o.min_confidence, 55.0);
        assert_eq!(o.max_labels, 1000);
        assert_eq!(o.max_dominant_colors, 10);
        assert_eq!(o.filter, LabelFilter::default());
        let o = options(json!({"Features": ["IMAGE_PROPERTIES"], "MaxLabels": 5000})).unwrap();
        assert!(!o.general_labels && o.image_properties);
        assert_eq!(o.max_labels, 1000);
        let o = options(json!({"Features": [], "MaxLabels": 0})).unwrap();
        assert!(o.general_labels);
        assert_eq!(o.max_labels, 0);
    }

    #[test]
    fn bad_parameters_are_invalid_parameter_exceptions() {
        for bad in [
            json!({"Features": ["GENERAL_LABELS", "FACES"]}),
            json!({"Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES", "GENERAL_LABELS"]}),
            json!({"MinConfidence": 101}),
            json!({"MinConfidence": -0.5}),
            json!({"MaxLabels": -1}),
            json!({"Settings": {"ImageProperties": {"MaxDominantColors": 21}}}),
            json!({"Settings": {"ImageProperties": {"MaxDominantColors": -1}}}),
            json!({"Settings": {"GeneralLabels": {"LabelInclusionFilters": ["Dog!"]}}}),
        ] {
            let err = options(bad.clone()).unwrap_err();
            assert_eq!(err.code, "InvalidParameterException", "{bad}");
        }
    }

    #[test]
    fn canned_labels_are_filtered_then_counted_with_aliases_and_categories() {
        let o = Options {
            filter: LabelFilter::new(Some(&GeneralLabelsSettings {
                label_category_inclusion_filters: Some(vec![
                    "Technology and Computing".into(),
                    "Person Description".into(),
                ]),
                label_exclusion_filters: Some(vec!["Cell Phone".into()]),
                ..Default::default()
            }))
            .unwrap(),
            ..options(json!({})).unwrap()
        };
        // Not an image the model could read: canned labels need none.
        let a = analyse(&labeler(), b"\x89PNG\r\n\x1a\n", &o).unwrap();
        let names: Vec<&str> = a.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Electronics", "Person"]);
        assert!(a.properties.is_none());
        let v = a.to_json();
        assert_eq!(v["LabelModelVersion"], "3.0");
        assert_eq!(v["Labels"][1]["Aliases"], json!([{"Name": "Human"}]));
        assert_eq!(
            v["Labels"][1]["Categories"],
            json!([{"Name": "Person Description"}])
        );
        assert_eq!(v["Labels"][1]["Instances"], json!([]));
        assert!(v.get("ImageProperties").is_none());

        let o = Options {
            max_labels: 2,
            ..options(json!({})).unwrap()
        };
        let a = analyse(&labeler(), b"", &o).unwrap();
        let names: Vec<&str> = a.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Mobile Phone", "Electronics"]);
    }

    #[test]
    fn image_properties_decode_the_image_even_with_canned_labels() {
        let o = options(json!({
            "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"],
            "Settings": {"ImageProperties": {"MaxDominantColors": 3}},
        }))
        .unwrap();
        let a = analyse(&labeler(), &png(120, 90, [255, 255, 255]), &o).unwrap();
        assert_eq!(a.labels.len(), 4);
        let p = a.properties.clone().unwrap();
        assert!((p.quality.brightness - 100.0).abs() < 0.01);
        assert_eq!(p.dominant_colors.len(), 1);
        assert_eq!(p.dominant_colors[0].css_color, "white");
        let v = a.to_json();
        assert_eq!(
            v["ImageProperties"]["DominantColors"][0]["HexCode"],
            "#ffffff"
        );
        assert_eq!(
            v["ImageProperties"]["DominantColors"][0]["CSSColor"],
            "white"
        );
        assert_eq!(
            v["ImageProperties"]["DominantColors"][0]["SimplifiedColor"],
            "white"
        );
        assert!(v["ImageProperties"]["Quality"]["Contrast"].is_number());
        assert!(v["ImageProperties"]["Foreground"]["Quality"]
            .get("Contrast")
            .is_none());
        assert!(v["ImageProperties"]["Background"]["DominantColors"].is_array());

        let err = analyse(&labeler(), b"\xFF\xD8\xFF not really", &o).unwrap_err();
        assert_eq!(err.code, "InvalidImageFormatException");
        let err = analyse(&labeler(), &png(40, 40, [0, 0, 0]), &o).unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");

        let only = options(json!({"Features": ["IMAGE_PROPERTIES"]})).unwrap();
        let a = analyse(&labeler(), &png(100, 100, [0, 0, 128]), &only).unwrap();
        assert!(a.labels.is_empty());
        assert_eq!(a.properties.unwrap().dominant_colors[0].css_color, "navy");
    }

    #[test]
    fn settings_parse_from_the_wire_names() {
        let req = request(json!({
            "Image": {"S3Object": {"Bucket": "b", "Name": "k.jpg"}},
            "Features": ["GENERAL_LABELS"],
            "Settings": {
                "GeneralLabels": {
                    "LabelInclusionFilters": ["Dog"],
                    "LabelExclusionFilters": ["Cat"],
                    "LabelCategoryInclusionFilters": ["Animals and Pets"],
                    "LabelCategoryExclusionFilters": ["Popular Landmarks"]
                },
                "ImageProperties": {"MaxDominantColors": 4}
            }
        }));
        let Some(DetectLabelsSettings {
            general_labels: Some(g),
            image_properties:
                Some(ImagePropertiesSettings {
                    max_dominant_colors: Some(4),
                }),
        }) = &req.settings
        else {
            panic!("{:?}", req.settings)
        };
        assert_eq!(g.label_exclusion_filters, Some(vec!["Cat".to_string()]));
        assert_eq!(
            g.label_category_exclusion_filters,
            Some(vec!["Popular Landmarks".to_string()])
        );
        assert!(matches!(
            req.image,
            Image {
                s3_object: Some(_),
                bytes: None
            }
        ));
    }
}
