//! Real photos (scikit-image's, fetched into the model directory by
//! `scripts/setup.sh`) and videos made from them with ffmpeg, for tests
//! that need the label model to see something real.

use media_query_detector::model;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

/// The prepared model directory; a missing one fails loudly.
pub fn model_dir() -> PathBuf {
    let dir = model::default_model_dir();
    assert!(
        dir.join(model::ONNX_FILE).is_file(),
        "no label model in {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}

pub fn path(name: &str) -> PathBuf {
    model_dir().join("photos").join(name)
}

/// A photo's file bytes, as shipped (PNG or JPEG).
pub fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("photo {name}: {e}"))
}

/// A photo re-encoded as JPEG, as a phone would upload it.
pub fn jpeg(name: &str) -> Vec<u8> {
    let img = image::load_from_memory(&bytes(name)).unwrap();
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img.to_rgb8())
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

/// An MP4 (MPEG-4 Part 2) showing each photo for `seconds_each`, in order.
pub fn video(photos: &[&str], seconds_each: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin", "-y"]);
    let mut filter = String::new();
    for (i, p) in photos.iter().enumerate() {
        cmd.args([
            "-loop",
            "1",
            "-framerate",
            "5",
            "-t",
            &seconds_each.to_string(),
            "-i",
        ])
        .arg(path(p));
        filter += &format!("[{i}]scale=448:300,setsar=1[v{i}];");
    }
    for i in 0..photos.len() {
        filter += &format!("[v{i}]");
    }
    filter += &format!("concat=n={}:v=1[out]", photos.len());
    let status = cmd
        .args(["-filter_complex", &filter, "-map", "[out]"])
        .args(["-c:v", "mpeg4", "-q:v", "3", "-pix_fmt", "yuv420p"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs (scripts/setup.sh installs it)");
    assert!(status.success(), "ffmpeg made no video");
    std::fs::read(out).unwrap()
}
