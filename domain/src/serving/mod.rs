//! The serving snapshot: the table laid out for queries, in immutable,
//! content-addressed shards that a reader fetches on demand.
//!
//! # Why
//!
//! The DynamoDB export layout (see [`crate::export`]) is made for bulk
//! copies: to answer one query from it, a reader must decode the whole
//! table. The serving snapshot is made for reads, so that a request costs
//! what its answer costs, whatever the size of the table. It borrows from
//! LevelDB's sorted tables (immutable sorted runs, a sparse index) and from
//! Pagefind (a static index split into fragments loaded on demand), and
//! avoids Pagefind's known weak spots:
//!
//! * shards are cut by **bytes**, not by item count, so a shard of long
//!   names and many labels is no bigger than one of short names;
//! * the manifest grows with the number of **shards**, never of items, and
//!   becomes two-level (a root and directory pages) past a size bound;
//! * readers keep decoded shards in a **bounded** cache and evict;
//! * items are **packed** into shards: the object count follows the data
//!   size, not the item count.
//!
//! # Layout
//!
//! Under `<prefix>/serving/`:
//!
//! * `current.json`, the pointer, *is* the root [`Manifest`]. It is the
//!   only object ever replaced, in one PUT, which is what publishes a new
//!   version atomically. Its size is bounded (see [`manifest`]).
//! * `objects/<sha256>`: every shard, directory page, delta and level
//!   part, gzip'd and named by the SHA-256 of its bytes, so an object is never rewritten and a
//!   reader may cache it forever (and verifies it on arrival).
//!
//! # Runs
//!
//! Every visible item appears in several sorted **runs** ([`Run`]):
//! the run of all names, the run of its media type, and one run per label.
//! Each run is cut into shards sorted by name, and each shard stores every
//! item's JSON ready to send (the bytes of `GET /{name}`). So:
//!
//! * `GET /{name}` reads one shard of the name run;
//! * `?label=X` reads only X's run, `?media-type=T` only T's run;
//! * `?startswith=P` seeks to `P` inside the chosen run and stops after it;
//! * `label` *and* `media-type` together read the label's run and skip
//!   items of the other type: the one over-read, bounded per page by
//!   [`crate::engine::SHARDS_PER_PAGE`] shards.
//!
//! Storage is about `(2 + labels per item)` times the table's JSON, gzip'd.

pub mod build;
pub mod delta;
pub mod level;
pub mod manifest;
pub mod shard;
pub mod update;
pub mod version;

use crate::media::MediaType;
use std::fmt;

/// The format name written in every manifest; readers refuse others.
/// `/2` added the delta ([`delta`]) and `/3` the level ([`level`]): an
/// older reader would ignore them and serve stale answers, so it must
/// refuse such a manifest (and fall back) instead. Older manifests, which
/// have neither, are still read.
pub const FORMAT: &str = "media-query-serving/3";
/// Older formats this reader still understands.
pub const READABLE_FORMATS: [&str; 3] = [FORMAT, "media-query-serving/2", "media-query-serving/1"];

/// A sorted run of items: which index a shard belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Run {
    /// Every visible item.
    Names,
    /// Items of one media type.
    Type(MediaType),
    /// Items that carry one label (exact, case-sensitive).
    Label(String),
}

impl Run {
    /// The run's stored spelling: `name`, `type:image`, `label:Dog`.
    pub fn id(&self) -> String {
        match self {
            Run::Names => "name".to_string(),
            Run::Type(t) => format!("type:{}", t.as_str()),
            Run::Label(l) => format!("label:{l}"),
        }
    }

    pub fn parse(id: &str) -> Option<Run> {
        if id == "name" {
            return Some(Run::Names);
        }
        if let Some(t) = id.strip_prefix("type:") {
            return MediaType::parse(t).map(Run::Type);
        }
        id.strip_prefix("label:").map(|l| Run::Label(l.to_string()))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// `<prefix>/serving/current.json`: the pointer, which is the root manifest.
pub fn pointer_key(prefix: &str) -> String {
    crate::export::join_key(prefix, "serving/current.json")
}

/// `<prefix>/serving/objects/`: where shards and directory pages live.
pub fn objects_prefix(prefix: &str) -> String {
    crate::export::join_key(prefix, "serving/objects/")
}

/// The key of an object named by its hash.
pub fn object_key(prefix: &str, hash: &str) -> String {
    format!("{}{hash}", objects_prefix(prefix))
}

/// The content address of an object's bytes: SHA-256, lower-case hex.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::hex::encode(&Sha256::digest(bytes))
}

/// Why a serving snapshot object could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("object {key} does not match its content hash")]
    HashMismatch { key: String },
    #[error("object {key} is corrupt: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("manifest format `{0}` is not {FORMAT}")]
    UnknownFormat(String),
}

impl FormatError {
    pub(crate) fn corrupt(key: &str, detail: impl fmt::Display) -> FormatError {
        FormatError::Corrupt {
            key: key.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Gzip'd bytes of `raw`.
pub(crate) fn gzip(raw: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut gz = GzEncoder::new(
        Vec::with_capacity(raw.len() / 4),
        flate2::Compression::fast(),
    );
    gz.write_all(raw).expect("write to memory");
    gz.finish().expect("gzip to memory")
}

/// Verifies an object against its content hash and un-gzips it, refusing
/// to inflate past `max_raw` bytes (a gzip bomb in the bucket must not
/// take the reader's memory).
pub fn open_object(
    key: &str,
    hash: &str,
    gz: &[u8],
    max_raw: usize,
) -> Result<Vec<u8>, FormatError> {
    use std::io::Read;
    if content_hash(gz) != hash {
        return Err(FormatError::HashMismatch {
            key: key.to_string(),
        });
    }
    // Sized once from gzip's trailer (the inflated size, mod 2^32), capped
    // at what may be inflated: a growing buffer would double, copying as
    // it goes, and in wasm the memory grown for that peak is never given
    // back. One more byte lets the read see the end without growing.
    let stated = gz
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(gz[at..].try_into().expect("4 bytes")) as usize)
        .unwrap_or(0);
    let mut raw = Vec::with_capacity(stated.min(max_raw).saturating_add(1));
    flate2::read::GzDecoder::new(gz)
        .take(max_raw as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| FormatError::corrupt(key, format!("not gzip: {e}")))?;
    if raw.len() > max_raw {
        return Err(FormatError::corrupt(
            key,
            format!("inflates past {max_raw} bytes"),
        ));
    }
    Ok(raw)
}
