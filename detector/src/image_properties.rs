//! `DetectLabels`' `IMAGE_PROPERTIES`: the image's quality (brightness,
//! sharpness, contrast) and dominant colours, for the whole image, its
//! foreground and its background, and the dominant colours of each label
//! instance's box.
//!
//! Everything is measured on the image scaled down to at most
//! [`WORK_SIDE`] pixels a side (so a 24-megapixel photo costs what a small
//! one does, and sharpness is judged at one scale whatever the resolution).
//!
//! **Quality**, each 0-100, from luma (Y = 0.299 R + 0.587 G + 0.114 B):
//! * `Brightness`: mean luma, 0 (black) to 100 (white).
//! * `Contrast`: luma's standard deviation over its largest possible value
//!   (127.5, half black and half white).
//! * `Sharpness`: the variance of the Laplacian of luma (the usual
//!   focus measure: edges make it large, blur small), mapped to 0-100 by
//!   `100 (1 - e^(-v / SHARPNESS_SCALE))`: a flat or very blurred image is
//!   near 0, a crisp photo (variance 1000 and up) over 90.
//!
//! **Dominant colours**: every pixel is snapped to the nearest CSS named
//! colour ([`crate::colors`]; through a 15-bit colour histogram, so each
//! distinct colour is named once), and the most frequent named colours are
//! reported with the share of pixels each has (`PixelPercent`), most
//! frequent first, up to `MaxDominantColors`.
//!
//! **Foreground and background.** No segmentation model is at hand, so the
//! foreground is where the object and face detectors boxed something (the
//! union of the label instances' boxes), and if there are no boxes, or they
//! cover almost nothing (under 1 %) or almost everything (over 95 %), the
//! centre of the image (its middle half on each axis: the subject of most
//! photos). The background is the rest. As in Rekognition's answers, their
//! `Quality` has `Brightness` and `Sharpness` only.

use crate::colors;
use crate::protocol::{
    BoundingBox, DominantColor, ImageProperties, ImageQuality, RegionProperties,
};
use image::{DynamicImage, RgbImage};

/// Longest side, in pixels, the image is measured at.
pub const WORK_SIDE: u32 = 640;
/// The Laplacian variance at which sharpness is 63 (1 - 1/e).
pub const SHARPNESS_SCALE: f64 = 400.0;
/// `MaxDominantColors`' default and largest value.
pub const DEFAULT_MAX_DOMINANT_COLORS: usize = 10;
pub const MAX_DOMINANT_COLORS: usize = 20;
/// The centre box used as foreground when the detectors boxed nothing.
pub const CENTRE: BoundingBox = BoundingBox {
    left: 0.25,
    top: 0.25,
    width: 0.5,
    height: 0.5,
};

/// An image prepared for measuring: scaled down, and its luma.
pub struct Measured {
    rgb: RgbImage,
    luma: Vec<f32>,
}

/// Brightness, contrast and sharpness, 0-100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub brightness: f32,
    pub contrast: f32,
    pub sharpness: f32,
}

impl Measured {
    pub fn new(image: &DynamicImage) -> Measured {
        let rgb = if image.width().max(image.height()) > WORK_SIDE {
            image.thumbnail(WORK_SIDE, WORK_SIDE).to_rgb8()
        } else {
            image.to_rgb8()
        };
        Measured::from_rgb(rgb)
    }

    pub fn from_rgb(rgb: RgbImage) -> Measured {
        let luma = rgb
            .pixels()
            .map(|p| {
                let [r, g, b] = p.0;
                0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32
            })
            .collect();
        Measured { rgb, luma }
    }

    /// The whole image's properties; `boxes` are the label instances'
    /// boxes (the foreground).
    pub fn properties(&self, boxes: &[BoundingBox], max_colors: usize) -> ImageProperties {
        let whole = self.quality(None);
        let foreground = self.foreground(boxes);
        let background: Vec<bool> = foreground.iter().map(|f| !f).collect();
        let region = |mask: &[bool]| {
            let q = self.quality(Some(mask));
            RegionProperties {
                quality: ImageQuality {
                    brightness: q.brightness,
                    sharpness: q.sharpness,
                    contrast: None,
                },
                dominant_colors: self.dominant_colors(Some(mask), max_colors),
            }
        };
        ImageProperties {
            quality: ImageQuality {
                brightness: whole.brightness,
                sharpness: whole.sharpness,
                contrast: Some(whole.contrast),
            },
            dominant_colors: self.dominant_colors(None, max_colors),
            foreground: region(foreground.as_slice()),
            background: region(background.as_slice()),
        }
    }

    /// The dominant colours inside one box.
    pub fn dominant_colors_in(&self, b: &BoundingBox, max_colors: usize) -> Vec<DominantColor> {
        let mask = self.mask(std::slice::from_ref(b));
        self.dominant_colors(Some(mask.as_slice()), max_colors)
    }

    /// The foreground mask: the boxes, or the centre.
    fn foreground(&self, boxes: &[BoundingBox]) -> Vec<bool> {
        let mask = self.mask(boxes);
        let covered = mask.iter().filter(|&&m| m).count() as f64 / mask.len().max(1) as f64;
        if (0.01..=0.95).contains(&covered) {
            mask
        } else {
            self.mask(&[CENTRE])
        }
    }

    /// The pixels inside any of `boxes` (fractions of the image).
    fn mask(&self, boxes: &[BoundingBox]) -> Vec<bool> {
        let (w, h) = self.rgb.dimensions();
        let mut mask = vec![false; (w * h) as usize];
        let span = |start: f32, len: f32, side: u32| {
            let from = (start.max(0.0) * side as f32).floor() as u32;
            let to = ((start + len).min(1.0) * side as f32).ceil() as u32;
            (from.min(side), to.min(side))
        };
        for b in boxes {
            let (x0, x1) = span(b.left, b.width, w);
            let (y0, y1) = span(b.top, b.height, h);
            for y in y0..y1 {
                let row = (y * w) as usize;
                mask[row + x0 as usize..row + x1.max(x0) as usize].fill(true);
            }
        }
        mask
    }

    /// Quality over the pixels of `mask` (all if `None`).
    pub fn quality(&self, mask: Option<&[bool]>) -> Quality {
        let inside = |i: usize| mask.is_none_or(|m| m[i]);
        let (mut n, mut sum, mut sum2) = (0f64, 0f64, 0f64);
        for (i, &y) in self.luma.iter().enumerate() {
            if inside(i) {
                n += 1.0;
                sum += y as f64;
                sum2 += (y as f64).powi(2);
            }
        }
        if n == 0.0 {
            return Quality {
                brightness: 0.0,
                contrast: 0.0,
                sharpness: 0.0,
            };
        }
        let mean = sum / n;
        let deviation = (sum2 / n - mean * mean).max(0.0).sqrt();
        // The Laplacian at every inner pixel of the mask.
        let (w, h) = (self.rgb.width() as usize, self.rgb.height() as usize);
        let (mut m, mut lsum, mut lsum2) = (0f64, 0f64, 0f64);
        for y in 1..h.saturating_sub(1) {
            for x in 1..w.saturating_sub(1) {
                let i = y * w + x;
                if !inside(i) {
                    continue;
                }
                let l = &self.luma;
                let lap = (4.0 * l[i] - l[i - 1] - l[i + 1] - l[i - w] - l[i + w]) as f64;
                m += 1.0;
                lsum += lap;
                lsum2 += lap * lap;
            }
        }
        let variance = if m == 0.0 {
            0.0
        } else {
            (lsum2 / m - (lsum / m).powi(2)).max(0.0)
        };
        Quality {
            brightness: (mean / 255.0 * 100.0) as f32,
            contrast: (deviation / 127.5 * 100.0).min(100.0) as f32,
            sharpness: (100.0 * (1.0 - (-variance / SHARPNESS_SCALE).exp())) as f32,
        }
    }

    /// The most frequent named colours of the pixels of `mask` (all if
    /// `None`), most frequent first.
    pub fn dominant_colors(&self, mask: Option<&[bool]>, max_colors: usize) -> Vec<DominantColor> {
        if max_colors == 0 {
            return Vec::new();
        }
        let mut bins = vec![0u32; 1 << 15];
        let mut total = 0u32;
        for (i, p) in self.rgb.pixels().enumerate() {
            if mask.is_none_or(|m| m[i]) {
                let [r, g, b] = p.0.map(|c| (c >> 3) as usize);
                bins[(r << 10) | (g << 5) | b] += 1;
                total += 1;
            }
        }
        if total == 0 {
            return Vec::new();
        }
        let mut counts = vec![0u32; colors::CSS_COLORS.len()];
        for (bin, &n) in bins.iter().enumerate() {
            if n > 0 {
                // The bin's centre.
                let channel = |shift: usize| ((((bin >> shift) & 31) as u8) << 3) | 4;
                counts[colors::nearest_css([channel(10), channel(5), channel(0)])] += n;
            }
        }
        let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
        order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .take(max_colors)
            .map(|i| {
                let (name, rgb) = colors::CSS_COLORS[i];
                DominantColor {
                    red: rgb[0],
                    green: rgb[1],
                    blue: rgb[2],
                    hex_code: colors::hex_code(rgb),
                    css_color: name,
                    simplified_color: colors::simplified(rgb),
                    pixel_percent: (counts[i] as f64 * 100.0 / total as f64) as f32,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn filled(w: u32, h: u32, rgb: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(w, h, Rgb(rgb))
    }

    #[test]
    fn a_flat_image_has_no_contrast_or_sharpness_and_one_colour() {
        let m = Measured::from_rgb(filled(100, 80, [255, 0, 0]));
        let q = m.quality(None);
        assert!((q.brightness - 29.9).abs() < 0.1, "{q:?}");
        assert!(q.contrast < 0.01 && q.sharpness < 0.01, "{q:?}");
        let colors = m.dominant_colors(None, 10);
        assert_eq!(colors.len(), 1);
        let red = &colors[0];
        assert_eq!((red.css_color, red.simplified_color), ("red", "red"));
        assert_eq!((red.red, red.green, red.blue), (255, 0, 0));
        assert_eq!(red.hex_code, "#ff0000");
        assert_eq!(red.pixel_percent, 100.0);
        assert!(m.dominant_colors(None, 0).is_empty());
    }

    #[test]
    fn brightness_contrast_and_sharpness_rise_with_what_they_measure() {
        assert_eq!(
            Measured::from_rgb(filled(90, 90, [0; 3]))
                .quality(None)
                .brightness,
            0.0
        );
        let white = Measured::from_rgb(filled(90, 90, [255; 3])).quality(None);
        assert!((white.brightness - 100.0).abs() < 0.01);
        // Half black, half white: full contrast; a fine checkerboard is
        // sharper than the same halves side by side (one edge).
        let mut halves = filled(100, 100, [0; 3]);
        let mut checks = filled(100, 100, [0; 3]);
        for y in 0..100 {
            for x in 0..100 {
                if x >= 50 {
                    halves.put_pixel(x, y, Rgb([255; 3]));
                }
                if (x / 2 + y / 2) % 2 == 0 {
                    checks.put_pixel(x, y, Rgb([255; 3]));
                }
            }
        }
        let halves = Measured::from_rgb(halves).quality(None);
        let checks = Measured::from_rgb(checks).quality(None);
        assert!((halves.contrast - 100.0).abs() < 0.01, "{halves:?}");
        assert!((halves.brightness - 50.0).abs() < 0.01, "{halves:?}");
        assert!(checks.sharpness > 99.0, "{checks:?}");
        assert!(halves.sharpness < checks.sharpness, "{halves:?}");
    }

    #[test]
    fn dominant_colours_are_ranked_by_share() {
        // 75 % navy, 25 % white (the right quarter).
        let mut img = filled(100, 100, [0, 0, 128]);
        for y in 0..100 {
            for x in 75..100 {
                img.put_pixel(x, y, Rgb([250, 250, 250]));
            }
        }
        let m = Measured::from_rgb(img);
        let colors = m.dominant_colors(None, 10);
        let got: Vec<(&str, &str, f32)> = colors
            .iter()
            .map(|c| (c.css_color, c.simplified_color, c.pixel_percent))
            .collect();
        assert_eq!(got, [("navy", "blue", 75.0), ("white", "white", 25.0)]);
        assert_eq!(m.dominant_colors(None, 1).len(), 1);
        // A box on the right quarter is all white.
        let right = BoundingBox {
            left: 0.75,
            top: 0.0,
            width: 0.25,
            height: 1.0,
        };
        let inside = m.dominant_colors_in(&right, 5);
        assert_eq!(inside.len(), 1);
        assert_eq!(inside[0].css_color, "white");
    }

    #[test]
    fn foreground_is_the_boxes_or_else_the_centre() {
        // A white square in the centre of a black image.
        let mut img = filled(100, 100, [0; 3]);
        for y in 25..75 {
            for x in 25..75 {
                img.put_pixel(x, y, Rgb([255; 3]));
            }
        }
        let m = Measured::from_rgb(img);
        let p = m.properties(&[], 10);
        assert_eq!(p.foreground.dominant_colors[0].css_color, "white");
        assert_eq!(p.foreground.dominant_colors[0].pixel_percent, 100.0);
        assert_eq!(p.background.dominant_colors[0].css_color, "black");
        assert_eq!(p.background.quality.contrast, None);
        assert!(p.quality.contrast.is_some());
        let whole: Vec<&str> = p.dominant_colors.iter().map(|c| c.css_color).collect();
        assert_eq!(whole, ["black", "white"]);
        // A box in the top-left corner is the foreground instead.
        let corner = BoundingBox {
            left: 0.0,
            top: 0.0,
            width: 0.2,
            height: 0.2,
        };
        let p = m.properties(&[corner], 10);
        assert_eq!(p.foreground.dominant_colors.len(), 1);
        assert_eq!(p.foreground.dominant_colors[0].css_color, "black");
        assert!(p.background.quality.brightness > p.foreground.quality.brightness);
        // Boxes over everything say nothing about a foreground: the centre.
        let all = BoundingBox {
            left: 0.0,
            top: 0.0,
            width: 1.0,
            height: 1.0,
        };
        assert_eq!(
            m.properties(&[all], 10).foreground,
            m.properties(&[], 10).foreground
        );
    }

    #[test]
    fn large_images_are_measured_scaled_down() {
        let m = Measured::new(&DynamicImage::ImageRgb8(filled(2000, 1000, [0, 128, 0])));
        assert_eq!(m.rgb.dimensions(), (WORK_SIDE, WORK_SIDE / 2));
        assert_eq!(m.dominant_colors(None, 3)[0].css_color, "green");
    }
}
