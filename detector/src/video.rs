//! Video frames for the label model, sampled by `ffmpeg` (Debian's
//! package), one a second, as 224×224 RGB centre squares, the same
//! preparation as still images get.
//!
//! ffmpeg decodes and scales; it writes raw frames to a pipe, so no frame
//! touches the disk. Frame `i` is at `i * 1000` ms, which is what
//! `GetLabelDetection` reports as `Timestamp`.

use crate::model::INPUT_SIZE;
use image::RgbImage;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Frames sampled per second of video.
pub const FRAMES_PER_SECOND: u32 = 1;
/// Longest video sampled (Rekognition allows 6 hours; a local stack needs
/// less, and this bounds a job's time).
pub const MAX_SECONDS: u32 = 600;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("ffmpeg could not be started (install Debian's ffmpeg): {0}")]
    NoFfmpeg(std::io::Error),
    #[error("unsupported codec/format: {0}")]
    Unsupported(String),
}

/// A decoded video: its frames and its length.
#[derive(Debug)]
pub struct Sampled {
    pub frames: Vec<RgbImage>,
    pub duration_ms: u64,
    /// The container format ffprobe reports, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    pub format: String,
    pub codec: String,
}

/// Samples a video file. Fails if ffmpeg cannot decode it or finds no
/// video stream.
pub fn sample(path: &Path) -> Result<Sampled, VideoError> {
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "format=duration,format_name:stream=codec_name",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .map_err(VideoError::NoFfmpeg)?;
    let info = String::from_utf8_lossy(&probe.stdout);
    let field = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::to_string)
    };
    let codec = field("codec_name");
    if !probe.status.success() || codec.is_none() {
        return Err(VideoError::Unsupported(first_line(
            &probe.stderr,
            "no video stream",
        )));
    }
    let side = INPUT_SIZE;
    let filter = format!(
        "fps={FRAMES_PER_SECOND},crop='min(iw,ih)':'min(iw,ih)',scale={side}:{side}:flags=bilinear"
    );
    let mut child = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-t",
            &MAX_SECONDS.to_string(),
            "-i",
        ])
        .arg(path)
        .args([
            "-an", "-vf", &filter, "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(VideoError::NoFfmpeg)?;
    let mut raw = Vec::new();
    let read = child.stdout.take().expect("piped").read_to_end(&mut raw);
    let out = child.wait_with_output().map_err(VideoError::NoFfmpeg)?;
    if read.is_err() || !out.status.success() {
        return Err(VideoError::Unsupported(first_line(
            &out.stderr,
            "ffmpeg failed",
        )));
    }
    let frame_len = (side * side * 3) as usize;
    let frames: Vec<RgbImage> = raw
        .chunks_exact(frame_len)
        .map(|c| RgbImage::from_raw(side, side, c.to_vec()).expect("exact chunk"))
        .collect();
    if frames.is_empty() {
        return Err(VideoError::Unsupported("the video has no frames".into()));
    }
    let seconds: f64 = field("duration")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0);
    Ok(Sampled {
        duration_ms: (seconds * 1000.0).round().max(0.0) as u64,
        format: field("format_name").unwrap_or_default(),
        codec: codec.unwrap_or_default(),
        frames,
    })
}

/// Frame `i`'s timestamp in milliseconds.
pub fn timestamp_ms(frame: usize) -> u64 {
    frame as u64 * 1000 / FRAMES_PER_SECOND as u64
}

fn first_line(stderr: &[u8], fallback: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(fallback)
        .trim()
        .to_string()
}
