//! Video frames for the label model, sampled by `ffmpeg` (Debian's
//! package), one a second, as 224×224 RGB centre squares, the same
//! preparation as still images get.
//!
//! ffmpeg decodes and scales; it writes raw frames to a pipe, so no frame
//! touches the disk. Frame `i` is at `i * 1000` ms, which is what
//! `GetLabelDetection` reports as `Timestamp`.

use crate::model::INPUT_SIZE;
use image::RgbImage;
use serde_json::{json, Value};
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

/// A decoded video: its frames and what ffprobe says of it.
#[derive(Debug)]
pub struct Sampled {
    pub frames: Vec<RgbImage>,
    pub metadata: VideoMetadata,
}

/// What `GetLabelDetection` reports as `VideoMetadata`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoMetadata {
    /// ffprobe's codec name, e.g. "h264".
    pub codec: String,
    /// "MP4", "MOV" or "AVI", as Rekognition names the containers it
    /// takes; another container by ffprobe's first name for it, upper case.
    pub format: String,
    pub duration_ms: u64,
    /// Frames per second of the video (not of the sampling).
    pub frame_rate: Option<f32>,
    pub frame_width: Option<u64>,
    pub frame_height: Option<u64>,
    /// "FULL" or "LIMITED".
    pub color_range: Option<&'static str>,
}

impl VideoMetadata {
    /// The `VideoMetadata` structure; unknown fields are left out.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "Codec": self.codec,
            "DurationMillis": self.duration_ms,
            "Format": self.format,
        });
        if let Some(r) = self.frame_rate {
            v["FrameRate"] = json!(r);
        }
        if let Some(w) = self.frame_width {
            v["FrameWidth"] = json!(w);
        }
        if let Some(h) = self.frame_height {
            v["FrameHeight"] = json!(h);
        }
        if let Some(c) = self.color_range {
            v["ColorRange"] = json!(c);
        }
        v
    }
}

/// The ffprobe fields [`parse_probe`] reads.
const PROBED: &str = "format=duration,format_name:format_tags=major_brand:stream=codec_name,width,height,avg_frame_rate,r_frame_rate,color_range,pix_fmt";

/// The metadata in ffprobe's `-of default=noprint_wrappers=1` output of
/// [`PROBED`] for the first video stream; `None` if there is no video
/// stream (no codec).
pub fn parse_probe(info: &str) -> Option<VideoMetadata> {
    let field = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "N/A" && *v != "unknown")
    };
    let codec = field("codec_name")?.to_string();
    let rate = |k: &str| {
        let (num, den) = field(k)?.split_once('/')?;
        let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
        (num > 0.0 && den > 0.0).then_some((num / den) as f32)
    };
    let seconds: f64 = field("duration")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0);
    Some(VideoMetadata {
        codec,
        format: container(field("format_name").unwrap_or(""), field("TAG:major_brand")),
        duration_ms: (seconds * 1000.0).round().max(0.0) as u64,
        frame_rate: rate("avg_frame_rate").or_else(|| rate("r_frame_rate")),
        frame_width: field("width").and_then(|w| w.parse().ok()),
        frame_height: field("height").and_then(|h| h.parse().ok()),
        color_range: color_range(field("color_range"), field("pix_fmt")),
    })
}

/// Rekognition's container name for ffprobe's `format_name` (which is
/// "mov,mp4,m4a,3gp,3g2,mj2" for both MP4 and QuickTime: the major brand
/// "qt" tells a QuickTime file).
fn container(format_name: &str, major_brand: Option<&str>) -> String {
    let names: Vec<&str> = format_name.split(',').collect();
    if names.contains(&"mp4") || names.contains(&"mov") {
        let name = if major_brand == Some("qt") {
            "MOV"
        } else {
            "MP4"
        };
        name.to_string()
    } else if names.contains(&"avi") {
        "AVI".to_string()
    } else {
        names[0].to_uppercase()
    }
}

/// `FULL` or `LIMITED` from ffprobe's `color_range` ("pc" or "tv"), or,
/// when the stream does not say, from its pixel format (JPEG-range YUV and
/// RGB are full range, other YUV limited, as decoders assume).
fn color_range(range: Option<&str>, pix_fmt: Option<&str>) -> Option<&'static str> {
    match (range, pix_fmt) {
        (Some("pc" | "jpeg"), _) => Some("FULL"),
        (Some("tv" | "mpeg"), _) => Some("LIMITED"),
        (_, Some(p))
            if ["yuvj", "rgb", "bgr", "gbr"]
                .iter()
                .any(|f| p.starts_with(f)) =>
        {
            Some("FULL")
        }
        (_, Some(p)) if p.starts_with("yuv") || p.starts_with("nv") => Some("LIMITED"),
        _ => None,
    }
}

/// Samples a video file. Fails if ffmpeg cannot decode it or finds no
/// video stream.
pub fn sample(path: &Path) -> Result<Sampled, VideoError> {
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", PROBED])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .map_err(VideoError::NoFfmpeg)?;
    let metadata = parse_probe(&String::from_utf8_lossy(&probe.stdout))
        .filter(|_| probe.status.success())
        .ok_or_else(|| VideoError::Unsupported(first_line(&probe.stderr, "no video stream")))?;
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
    Ok(Sampled { frames, metadata })
}

/// Frame `i`'s timestamp in milliseconds.
pub fn timestamp_ms(frame: usize) -> u64 {
    frame as u64 * 1000 / FRAMES_PER_SECOND as u64
}

/// The time between two sampled frames, in milliseconds.
pub const FRAME_INTERVAL_MS: u64 = 1000 / FRAMES_PER_SECOND as u64;

fn first_line(stderr: &[u8], fallback: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(fallback)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffprobe_output_becomes_rekognitions_metadata() {
        // ffprobe 7's output for an MP4 and a QuickTime file.
        let mp4 = "codec_name=h264\nwidth=160\nheight=120\npix_fmt=yuv420p\ncolor_range=unknown\nr_frame_rate=25/1\navg_frame_rate=30000/1001\nformat_name=mov,mp4,m4a,3gp,3g2,mj2\nduration=2.000000\nTAG:major_brand=isom\n";
        let m = parse_probe(mp4).unwrap();
        assert_eq!(
            m,
            VideoMetadata {
                codec: "h264".into(),
                format: "MP4".into(),
                duration_ms: 2000,
                frame_rate: Some((30000.0f64 / 1001.0) as f32),
                frame_width: Some(160),
                frame_height: Some(120),
                color_range: Some("LIMITED"),
            }
        );
        let json = m.to_json();
        assert_eq!(json["FrameWidth"], 160);
        assert_eq!(json["ColorRange"], "LIMITED");
        let mov = mp4
            .replace("isom", "qt  ")
            .replace("color_range=unknown", "color_range=pc")
            .replace("avg_frame_rate=30000/1001", "avg_frame_rate=0/0");
        let m = parse_probe(&mov).unwrap();
        assert_eq!(m.format, "MOV");
        assert_eq!(m.color_range, Some("FULL"));
        assert_eq!(m.frame_rate, Some(25.0));
        let avi = "codec_name=mpeg4\nformat_name=avi\nduration=N/A\n";
        let m = parse_probe(avi).unwrap();
        assert_eq!((m.format.as_str(), m.duration_ms), ("AVI", 0));
        assert_eq!(
            (m.frame_width, m.frame_rate, m.color_range),
            (None, None, None)
        );
        assert!(m.to_json().get("FrameRate").is_none());
        assert!(parse_probe("format_name=mp3\nduration=3.0\n").is_none());
    }
}
