//! The delta: recent changes kept beside the shards, so that a batch of
//! changes costs what the batch is, not what the shards around it are.
//!
//! # Why
//!
//! Shards are about 256 KiB, so rewriting the shards a change falls in
//! ([`super::update::compact`]) writes a few hundred KB per changed item:
//! a thousand changes spread over a table of ten million items rewrite
//! several thousand shards. This is the classic log-structured answer
//! (LevelDB's memtable and level 0): a batch is merged into one small,
//! sorted, immutable **delta** object that the manifest names beside the
//! shards, and readers merge it over the shards they read. When the delta
//! outgrows [`DELTA_MAX_BYTES`], the next batch **compacts** it into the
//! shards instead, which is the only costly step, and it is paid once for
//! many batches.
//!
//! # Layout
//!
//! The raw (un-gzip'd) object is a magic string and one section per run,
//! in run-id order, each a shard in the [`super::shard`] layout holding
//! the run's changed names:
//!
//! ```text
//! "MQD1" { run_len: u32 LE, run id: UTF-8, shard_len: u32 LE, shard } ...
//! ```
//!
//! An entry with JSON is the item as the run now holds it (added or
//! changed); an entry with empty JSON is a **tombstone**: the name left
//! the run. A name's entry in a run always wins over the shards' copy.

use super::shard::{span, Shard, ShardWriter};
use super::FormatError;
use crate::media::MediaType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

const MAGIC: &[u8; 4] = b"MQD1";

/// The raw size past which the next batch compacts the delta into the
/// shards. 4 MiB is about 3,000 changed items with a few labels each,
/// about 1 MB gzip'd: what every reader fetches once per version.
pub const DELTA_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The manifest's reference to its delta object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeltaRef {
    /// Entries over all runs (tombstones included).
    pub entries: u64,
    /// Raw (inflated) size.
    pub raw_bytes: u64,
    /// Gzip'd size.
    pub bytes: u64,
    pub hash: String,
}

/// One run's new state of a name: the item (type and JSON), or `None`
/// when the name left the run.
pub type Edit = Option<(MediaType, String)>;

/// Changes per run id, then per name.
pub type Edits = BTreeMap<String, BTreeMap<String, Edit>>;

/// The raw bytes of a delta holding `edits` (runs without edits are left out).
pub fn encode(edits: &Edits) -> Vec<u8> {
    let mut raw = MAGIC.to_vec();
    for (run, names) in edits.iter().filter(|(_, n)| !n.is_empty()) {
        let mut w = ShardWriter::default();
        for (name, edit) in names {
            match edit {
                Some((t, json)) => w.push(name, *t, json),
                None => w.push(name, MediaType::Image, ""),
            }
        }
        let (shard, _, _) = w.finish();
        raw.extend_from_slice(&(run.len() as u32).to_le_bytes());
        raw.extend_from_slice(run.as_bytes());
        raw.extend_from_slice(&(shard.len() as u32).to_le_bytes());
        raw.extend_from_slice(&shard);
    }
    raw
}

/// A decoded delta: one shard of changes per run.
#[derive(Debug, Default)]
pub struct Delta {
    runs: Vec<(String, Shard)>,
    /// The inflated object, which every run's section points into.
    raw: Arc<Vec<u8>>,
}

impl Delta {
    /// Decodes raw (inflated) bytes, checking the layout and the order.
    /// The sections stay in `raw`, shared by the decoded runs: the delta
    /// holds its raw bytes once, with no copy made while decoding.
    pub fn decode(key: &str, raw: Vec<u8>) -> Result<Delta, FormatError> {
        let bad = |d: &str| FormatError::corrupt(key, d);
        if raw.get(..4) != Some(MAGIC) {
            return Err(bad("not a delta (bad magic)"));
        }
        let u32_at = |at: usize| -> Option<usize> {
            raw.get(at..at.checked_add(4)?)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
        };
        let mut sections: Vec<(String, Range<usize>)> = Vec::new();
        let mut at = 4;
        while at < raw.len() {
            let run_len = u32_at(at).ok_or_else(|| bad("truncated run length"))?;
            let run_span = span(at + 4, run_len).ok_or_else(|| bad("truncated run id"))?;
            let run = raw
                .get(run_span.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| bad("truncated or non-UTF-8 run id"))?;
            at = run_span.end;
            let len = u32_at(at).ok_or_else(|| bad("truncated section length"))?;
            let section = span(at + 4, len)
                .filter(|s| s.end <= raw.len())
                .ok_or_else(|| bad("truncated section"))?;
            at = section.end;
            if sections.last().is_some_and(|(r, _)| r.as_str() >= run) {
                return Err(bad("runs are not in strictly increasing order"));
            }
            sections.push((run.to_string(), section));
        }
        let raw = Arc::new(raw);
        let runs = sections
            .into_iter()
            .map(|(run, section)| Ok((run, Shard::decode_section(key, raw.clone(), section)?)))
            .collect::<Result<Vec<_>, FormatError>>()?;
        Ok(Delta { runs, raw })
    }

    /// The changes to one run, sorted by name.
    pub fn run(&self, run: &str) -> Option<&Shard> {
        self.runs
            .binary_search_by(|(r, _)| r.as_str().cmp(run))
            .ok()
            .map(|i| &self.runs[i].1)
    }

    /// Every change, as editable maps.
    pub fn edits(&self) -> Edits {
        self.runs
            .iter()
            .map(|(run, shard)| {
                let names = (0..shard.len())
                    .map(|i| (shard.name(i).to_string(), edit_at(shard, i)))
                    .collect();
                (run.clone(), names)
            })
            .collect()
    }

    /// Memory held, for the cache's budget.
    pub fn memory_bytes(&self) -> usize {
        self.raw.capacity()
            + self
                .runs
                .iter()
                .map(|(r, s)| r.capacity() + s.index_bytes())
                .sum::<usize>()
            + 64
    }
}

/// Whether entry `i` of a delta section is a tombstone.
pub fn is_tombstone(shard: &Shard, i: usize) -> bool {
    shard.json(i).is_empty()
}

/// Entry `i` of a delta section as an [`Edit`].
pub fn edit_at(shard: &Shard, i: usize) -> Edit {
    (!is_tombstone(shard, i)).then(|| (shard.media_type(i), shard.json(i).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_items_and_tombstones() {
        let mut edits = Edits::new();
        edits.entry("label:Dog".into()).or_default().extend([
            (
                "a".to_string(),
                Some((MediaType::Image, "{\"name\":\"a\"}".into())),
            ),
            ("b".to_string(), None),
        ]);
        edits
            .entry("name".into())
            .or_default()
            .insert("b".into(), None);
        edits.entry("type:video".into()).or_default();
        let raw = encode(&edits);
        let d = Delta::decode("k", raw.clone()).unwrap();
        edits.remove("type:video");
        assert_eq!(d.edits(), edits);
        let dog = d.run("label:Dog").unwrap();
        assert!(!is_tombstone(dog, 0) && is_tombstone(dog, 1));
        assert!(d.run("label:Cat").is_none());
    }

    #[test]
    fn corrupt_deltas_are_refused() {
        let mut edits = Edits::new();
        edits
            .entry("name".into())
            .or_default()
            .insert("a".into(), None);
        let raw = encode(&edits);
        for cut in 0..raw.len() {
            if cut != 4 {
                assert!(
                    Delta::decode("k", raw[..cut].to_vec()).is_err(),
                    "cut {cut}"
                );
            }
        }
        let mut twice = raw.clone();
        twice.extend_from_slice(&raw[4..]);
        assert!(Delta::decode("k", twice).is_err());
    }
}
