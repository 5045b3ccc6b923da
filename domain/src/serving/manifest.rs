//! The manifest: which shards make up one version of the serving snapshot.
//!
//! It lists shards, never items, so its size follows the number of shards.
//! Small tables get an **inline** directory: every [`ShardRef`] in the root.
//! Past [`DIRECTORY_PAGE_BYTES`] of entries the directory is **paged**: the
//! root lists [`PageRef`]s, and each page (an immutable object, like a
//! shard) lists up to that many bytes of `ShardRef`s. At 10M items, with
//! about 50,000 shards, the root holds about 120 page references (~20 KB).
//! A one-level root stays under 1 MiB up to about five million shards,
//! over a terabyte of item JSON; the format would add a level past that.
//!
//! Entries are sorted by `(run, first)`, and within a run the shards'
//! name ranges are disjoint, so finding where a query starts is a binary
//! search. Each page also carries copies of the [`FOLLOWING`]
//! entries after it, so that a list request, which reads two shards and
//! looks at a third's name range, never needs a second directory page.

use super::delta::DeltaRef;
use super::level::{LevelKey, LevelRef};
use super::{FormatError, Run};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// Target size of a directory page (and the inline-directory bound).
pub const DIRECTORY_PAGE_BYTES: usize = 64 * 1024;
/// Entries after a page (in directory order) copied at its end.
pub const FOLLOWING: usize = 3;

/// One shard: its run, its name range, its size and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRef {
    pub run: String,
    pub first: String,
    pub last: String,
    pub items: u64,
    /// Gzip'd size in bytes.
    pub bytes: u64,
    pub hash: String,
}

/// One directory page, an immutable object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DirectoryPage {
    pub entries: Vec<ShardRef>,
    /// Copies of the first entries of the next page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub following: Vec<ShardRef>,
}

/// The root's reference to a directory page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRef {
    /// `(run, first)` of the page's first entry.
    pub run: String,
    pub first: String,
    pub shards: u64,
    pub bytes: u64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Directory {
    Inline(DirectoryPage),
    Paged(Vec<PageRef>),
}

/// The root manifest, stored as the pointer object `serving/current.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    /// Derived from the content (the directory), so the same data always
    /// has the same version, whoever wrote it and when.
    pub version: String,
    /// When this version was written (ISO 8601).
    pub created_at: String,
    /// Visible items.
    pub item_count: u64,
    pub shard_count: u64,
    /// Gzip'd bytes of all shards.
    pub shard_bytes: u64,
    /// The byte target shards were cut at (raw, before gzip).
    pub shard_target_bytes: u64,
    pub directory: Directory,
    /// Recent changes over the shards (see [`super::delta`]), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<DeltaRef>,
    /// Older changes, range-partitioned between the delta and the shards
    /// (see [`super::level`]), sorted by `(run, first)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub level: Vec<LevelRef>,
    /// Where the next partial compaction of the level starts (the writer's
    /// own bookkeeping: readers ignore it, and it is not in the version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_from: Option<LevelKey>,
}

impl Manifest {
    /// Parses and checks the format.
    pub fn parse(key: &str, bytes: &[u8]) -> Result<Manifest, FormatError> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| FormatError::corrupt(key, e))?;
        if !super::READABLE_FORMATS.contains(&m.format.as_str()) {
            return Err(FormatError::UnknownFormat(m.format));
        }
        Ok(m)
    }

    /// The version as a hash of the directory's canonical JSON and the
    /// content hashes of the delta and the level's parts.
    pub fn version_of(
        directory: &Directory,
        delta: Option<&DeltaRef>,
        level: &[LevelRef],
    ) -> String {
        let mut json = serde_json::to_vec(directory).expect("serialise");
        if let Some(d) = delta {
            json.extend_from_slice(d.hash.as_bytes());
        }
        for p in level {
            json.push(b'/');
            json.extend_from_slice(p.part.hash.as_bytes());
        }
        super::content_hash(&json)[..20].to_string()
    }
}

/// Compares an entry's `(run, name)` with a search key.
fn cmp_key(run: &str, name: &str, key_run: &str, key_name: &str) -> Ordering {
    run.cmp(key_run).then_with(|| name.cmp(key_name))
}

/// Where a read starts inside a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    /// Names `>= name` (a prefix seek, or the whole run with `""`).
    AtOrAfter(&'a str),
    /// Names `> name` (a cursor's last name).
    After(&'a str),
}

impl Start<'_> {
    pub fn name(&self) -> &str {
        match self {
            Start::AtOrAfter(n) | Start::After(n) => n,
        }
    }

    /// Whether `name` is at or past this start.
    pub fn admits(&self, name: &str) -> bool {
        match self {
            Start::AtOrAfter(n) => name >= *n,
            Start::After(n) => name > *n,
        }
    }
}

/// In entries sorted by `(run, first)`: the shards of `run` that can hold
/// names at or past `start`, in order.
pub fn locate<'a>(
    entries: &'a [ShardRef],
    run: &Run,
    start: Start<'_>,
) -> impl Iterator<Item = &'a ShardRef> + 'a {
    let run = run.id();
    // The first shard of the run whose last name is admitted by `start`.
    let i = entries.partition_point(|e| match cmp_key(&e.run, &e.last, &run, start.name()) {
        Ordering::Less => true,
        Ordering::Equal => matches!(start, Start::After(_)),
        Ordering::Greater => false,
    });
    entries[i..].iter().take_while(move |e| e.run == run)
}

/// In a paged directory: the page where a read of `run` from `start` begins.
pub fn locate_page<'a>(pages: &'a [PageRef], run: &Run, start: Start<'_>) -> Option<&'a PageRef> {
    let run = run.id();
    let i = pages.partition_point(|p| cmp_key(&p.run, &p.first, &run, start.name()).is_le());
    pages.get(i.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(run: &str, first: &str, last: &str) -> ShardRef {
        ShardRef {
            run: run.into(),
            first: first.into(),
            last: last.into(),
            items: 1,
            bytes: 1,
            hash: format!("{run}/{first}"),
        }
    }

    #[test]
    fn locate_finds_the_first_shard_that_can_hold_the_start() {
        let entries = vec![
            e("label:Cat", "a", "c"),
            e("label:Dog", "a", "f"),
            e("label:Dog", "g", "m"),
            e("name", "a", "z"),
        ];
        let dog = Run::Label("Dog".into());
        let hashes = |s: Start| {
            locate(&entries, &dog, s)
                .map(|e| e.hash.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(hashes(Start::AtOrAfter("")), ["label:Dog/a", "label:Dog/g"]);
        assert_eq!(
            hashes(Start::AtOrAfter("f")),
            ["label:Dog/a", "label:Dog/g"]
        );
        assert_eq!(hashes(Start::After("f")), ["label:Dog/g"]);
        assert_eq!(hashes(Start::AtOrAfter("ff")), ["label:Dog/g"]);
        assert!(hashes(Start::After("m")).is_empty());
        assert!(
            locate(&entries, &Run::Label("Ant".into()), Start::AtOrAfter(""))
                .next()
                .is_none()
        );
    }
}
