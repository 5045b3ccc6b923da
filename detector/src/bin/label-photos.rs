//! `label-photos`: the offline model's labels for image files, as
//! rekognition-local would answer `DetectLabels`, with the time each took.
//! A label with boxes (`Instances`) shows how many, as `Person 97.3 [2]`.
//! A video file (`.mp4`, `.mov`, `.flv`) is sampled as a video job is: one
//! line per sampled second, then the sampling and labelling times.
//!
//! Usage: label-photos [--min-confidence 55] [--model-dir DIR] FILE...
//!        label-photos --list-labels   (every label, with how many classes carry it)

use anyhow::{Context, Result};
use media_query_detector::model::{self, LabelModel};
use media_query_detector::taxonomy::ScoredLabel;
use media_query_detector::video;
use std::time::Instant;

fn main() -> Result<()> {
    let mut min_confidence = 55.0f32;
    let mut dir = model::default_model_dir();
    let mut files = Vec::new();
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--min-confidence" => {
                min_confidence = args
                    .next()
                    .context("--min-confidence needs a value")?
                    .parse()?
            }
            "--model-dir" => dir = args.next().context("--model-dir needs a value")?.into(),
            "--list-labels" => list = true,
            "-h" | "--help" => {
                println!("usage: label-photos [--min-confidence N] [--model-dir DIR] FILE...");
                return Ok(());
            }
            _ => files.push(arg),
        }
    }
    anyhow::ensure!(
        list || !files.is_empty(),
        "give at least one image file (try --help)"
    );
    let started = Instant::now();
    let model = LabelModel::load(&dir)?;
    eprintln!("model loaded in {} ms", started.elapsed().as_millis());
    if list {
        let t = model.taxonomy();
        let mut carried = vec![0usize; t.labels.len()];
        for ids in &t.class_labels {
            for &id in ids {
                carried[id] += 1;
            }
        }
        for (label, n) in t.labels.iter().zip(carried) {
            println!("{n}\t{}", label.name);
        }
    }
    for file in files {
        let started = Instant::now();
        let lower = file.to_lowercase();
        if [".mp4", ".mov", ".flv"].iter().any(|e| lower.ends_with(e)) {
            let sampled = match video::sample(std::path::Path::new(&file)) {
                Ok(s) => s,
                Err(e) => {
                    println!("{file}\terror: {e}");
                    continue;
                }
            };
            let sampling = started.elapsed();
            for (i, frame) in sampled.frames.iter().enumerate() {
                let labels = model.label_frame(frame, min_confidence)?;
                println!("{file}@{}ms\t{}", video::timestamp_ms(i), shown(&labels));
            }
            println!(
                "{file}\t{} ms of video, {} frames: sampled in {} ms, labelled in {} ms",
                sampled.metadata.duration_ms,
                sampled.frames.len(),
                sampling.as_millis(),
                (started.elapsed() - sampling).as_millis()
            );
            continue;
        }
        let bytes = std::fs::read(&file).with_context(|| format!("read {file}"))?;
        match model.label_image(&bytes, min_confidence) {
            Ok(labels) => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                println!("{file}\t{ms:.1} ms\t{}", shown(&labels));
            }
            Err(e) => println!("{file}\terror: {e}"),
        }
    }
    Ok(())
}

/// `Name 97.3` for each label, `Name 97.3 [2]` for one with two boxes.
fn shown(labels: &[ScoredLabel]) -> String {
    labels
        .iter()
        .map(|l| match l.instances.len() {
            0 => format!("{} {:.1}", l.name, l.confidence),
            n => format!("{} {:.1} [{n}]", l.name, l.confidence),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
