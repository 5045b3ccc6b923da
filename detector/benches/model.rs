//! The model step of `DetectLabels`: decoding and preparing a photo, the
//! EfficientNet-Lite0 forward pass, the taxonomy scoring, the face detector
//! (with the gender classifier), the object detector, and all of it end
//! to end, on one core.
//! Needs the model prepared by `scripts/setup.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use media_query_detector::gender::GenderClassifier;
use media_query_detector::model::{self, LabelModel};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let dir = model::default_model_dir();
    let model = LabelModel::load(&dir).expect("the model (run scripts/setup.sh)");
    let photo = std::fs::read(dir.join("photos/chelsea.png")).expect("photos/chelsea.png");
    let frame = model::prepare(&model::decode(&photo).unwrap());
    let probabilities = model.classify(&frame).unwrap();

    let mut g = c.benchmark_group("model");
    g.sample_size(30);
    g.bench_function("decode_and_prepare_451x300_png", |b| {
        b.iter(|| model::prepare(&model::decode(black_box(&photo)).unwrap()))
    });
    g.bench_function("classify_224x224", |b| {
        b.iter(|| model.classify(black_box(&frame)).unwrap())
    });
    g.bench_function("score_taxonomy", |b| {
        b.iter(|| model.taxonomy().score(black_box(&probabilities), 55.0))
    });
    let astronaut = model::decode(&std::fs::read(dir.join("photos/astronaut.png")).unwrap())
        .unwrap()
        .to_rgb8();
    g.bench_function("faces_512x512_one_face", |b| {
        b.iter(|| model.face_labels(black_box(&astronaut)).unwrap())
    });
    let cat = model::decode(&photo).unwrap().to_rgb8();
    // The astronaut's eyes, about where O-Net puts them.
    let gender = GenderClassifier::load(&dir).expect("gender-v1.onnx");
    g.bench_function("gender_one_face", |b| {
        b.iter(|| {
            gender
                .classify(black_box(&astronaut), (231.0, 109.0), (275.0, 108.0))
                .unwrap()
        })
    });
    g.bench_function("faces_451x300_no_face", |b| {
        b.iter(|| model.face_labels(black_box(&cat)).unwrap())
    });
    g.bench_function("objects_512x512_one_person", |b| {
        b.iter(|| model.object_labels(black_box(&astronaut), 55.0).unwrap())
    });
    g.bench_function("objects_451x300_one_cat", |b| {
        b.iter(|| model.object_labels(black_box(&cat), 55.0).unwrap())
    });
    g.bench_function("label_image_end_to_end", |b| {
        b.iter(|| model.label_image(black_box(&photo), 55.0).unwrap())
    });
    let portrait = std::fs::read(dir.join("photos/astronaut.png")).unwrap();
    g.bench_function("label_image_end_to_end_512x512_one_face", |b| {
        b.iter(|| model.label_image(black_box(&portrait), 55.0).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
