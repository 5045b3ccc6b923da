//! Which object keys are media, and of which kind.
//!
//! The workshop matched `.jpg`/`.png` and `.mp4`/`.flv`/`.mov` with a
//! case-sensitive `endswith`; we match the extension case-insensitively and
//! add `.jpeg`. Anything else is not an error: callers skip it with a log line.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Extensions (lower case, no dot) stored as `type: "image"`.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];
/// Extensions (lower case, no dot) stored as `type: "video"`.
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "flv", "mov"];

/// The `type` attribute of a media item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Video,
}

impl MediaType {
    /// Classifies an (already URL-decoded) object key by its extension.
    ///
    /// Only the last path segment counts, so `photos.jpg/readme` is not an
    /// image, and a bare `.jpg` (no stem) is not one either.
    pub fn from_key(key: &str) -> Option<MediaType> {
        let file = key.rsplit('/').next().unwrap_or(key);
        let (stem, ext) = file.rsplit_once('.')?;
        if stem.is_empty() {
            return None;
        }
        let ext = ext.to_ascii_lowercase();
        if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            Some(MediaType::Image)
        } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
            Some(MediaType::Video)
        } else {
            None
        }
    }

    /// The stored and served spelling: `image` or `video`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
        }
    }

    /// Parses the exact stored spelling; anything else is `None`.
    pub fn parse(s: &str) -> Option<MediaType> {
        match s {
            "image" => Some(MediaType::Image),
            "video" => Some(MediaType::Video),
            _ => None,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
