//! What an update takes and gives: the items of a run, the policy, the
//! result and the error. Shared by the update's steps.

use crate::media::MediaType;
use crate::ports::ReadError;
use crate::serving::manifest::{self, Manifest};
use crate::serving::{delta, level, Run};
use std::collections::BTreeSet;

/// One item as a run holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunItem {
    pub name: String,
    pub media_type: MediaType,
    pub json: String,
}

/// The runs a visible record belongs to.
pub fn runs_of(media_type: MediaType, labels: &[String]) -> BTreeSet<Run> {
    let mut runs = BTreeSet::from([Run::Names, Run::Type(media_type)]);
    runs.extend(labels.iter().map(|l| Run::Label(l.clone())));
    runs
}

/// Why an update failed; the published snapshot is unchanged either way.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("writing snapshot objects failed: {0}")]
    Write(String),
}

/// How updates cut and when they compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Directory page size (see [`manifest::DIRECTORY_PAGE_BYTES`]).
    pub page_bytes: usize,
    /// The delta's raw size past which a batch merges it into the level.
    pub delta_max_bytes: usize,
    /// The level's raw size past which a batch compacts everything into
    /// the shards (0: the delta is compacted straight into the shards).
    pub level_max_bytes: usize,
    /// The raw size level parts are cut at.
    pub level_part_bytes: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            page_bytes: manifest::DIRECTORY_PAGE_BYTES,
            delta_max_bytes: delta::DELTA_MAX_BYTES,
            level_max_bytes: level::LEVEL_MAX_BYTES,
            level_part_bytes: level::LEVEL_PART_BYTES,
        }
    }
}

impl Policy {
    /// Every batch compacted into the shards at once (no delta, no level).
    pub fn compact_now(page_bytes: usize) -> Policy {
        Policy {
            page_bytes,
            delta_max_bytes: 0,
            level_max_bytes: 0,
            level_part_bytes: level::LEVEL_PART_BYTES,
        }
    }
}

/// What an update produced.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The new root manifest: publish it after the objects.
    pub manifest: Manifest,
    /// Whether the delta was merged into the level.
    pub level_merged: bool,
    /// Whether level parts (or, with no level, the delta) were compacted
    /// into the shards.
    pub compacted: bool,
    /// The level parts compacted into the shards.
    pub parts_compacted: usize,
    pub objects_written: usize,
    pub bytes_written: u64,
    /// Shards read to apply the changes.
    pub shards_read: usize,
}
