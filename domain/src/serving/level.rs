//! The level: changes folded out of the delta, kept range-partitioned
//! between the delta and the shards, so that compacting into the shards
//! is paid once for tens of thousands of changes instead of three thousand.
//!
//! # Why
//!
//! A change touches about eight runs (its name, its type, its labels, old
//! and new), and each run's shard around it is ~55 KB gzip'd. Folding the
//! delta's ~3,000 changes ([`super::delta::DELTA_MAX_BYTES`]) straight into
//! the shards therefore rewrites ~24,000 shards at ten million items: more
//! than half the snapshot, for every 3,000 changes. Making the delta bigger
//! does not help, because every reader fetches the whole delta.
//!
//! This is LevelDB's answer, one level deep. When the delta is full, it is
//! merged into the **level**: sorted, immutable **parts** of about
//! [`LEVEL_PART_BYTES`], each in the delta's layout and covering one range
//! of the `(run, name)` key space. A merge rewrites only the parts the
//! delta's keys fall in (a part that outgrows twice its size is split);
//! the others are kept. A reader fetches only the parts over the range it
//! reads, like shards. Once the level passes [`LEVEL_MAX_BYTES`], every
//! batch also compacts a slice of it into the shards and drops those parts
//! ([`parts_to_compact`]): by then it holds ~110,000 changes, so each
//! rewritten shard carries many of them, and each batch pays only for the
//! share of the level its own changes displace (the figures are in
//! BENCHMARKS.md). The hourly reconciliation, which rebuilds from the
//! table, folds the whole level.
//!
//! A part dropped this way leaves a gap: its keys now fall in the range of
//! the part before it, which does not hold them, so a reader finds no
//! change there and reads the shards, which have them.
//!
//! Precedence: the delta is newer than the level, and the level is newer
//! than the shards. A name's entry in a newer layer always wins.

use super::delta::{self, DeltaRef, Edits};
use super::{content_hash, gzip};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The raw size a part is cut at (its gzip'd size is about a quarter).
pub const LEVEL_PART_BYTES: usize = 256 * 1024;
/// The level's raw size past which batches compact slices of it into the
/// shards: about 110,000 changes of nine entries each, and at most ~550
/// part references in the root manifest (~100 KB).
pub const LEVEL_MAX_BYTES: usize = 128 * 1024 * 1024;
/// Parts one list request may read (with [`crate::engine::SHARDS_PER_PAGE`]
/// shards).
pub const PARTS_PER_PAGE: usize = 2;

/// The manifest's reference to one part: its first key and the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelRef {
    /// The run of the part's first entry.
    pub run: String,
    /// The name of the part's first entry.
    pub first: String,
    #[serde(flatten)]
    pub part: DeltaRef,
}

fn cmp_key(p: &LevelRef, run: &str, name: &str) -> Ordering {
    p.run
        .as_str()
        .cmp(run)
        .then_with(|| p.first.as_str().cmp(name))
}

/// The part whose range holds `(run, name)`: the last whose first key is
/// at or before it. `None` when the key comes before every part.
pub fn part_for(level: &[LevelRef], run: &str, name: &str) -> Option<usize> {
    level
        .partition_point(|p| cmp_key(p, run, name).is_le())
        .checked_sub(1)
}

/// The parts a read of `run` from `start` consults (at most `n`, in order),
/// and, when the run goes on in a part beyond them, that part's first name:
/// a page must stop before it, since it cannot know that part's changes.
pub fn parts_for_read<'a>(
    level: &'a [LevelRef],
    run: &str,
    start: &str,
    n: usize,
) -> (Vec<&'a LevelRef>, Option<&'a str>) {
    let i0 = part_for(level, run, start).unwrap_or(0);
    let mut parts = Vec::new();
    for (j, p) in level.iter().enumerate().skip(i0) {
        // The first part may start in an earlier run and reach into this
        // one; any later part is this run's only if it starts in it.
        let relevant = if j == i0 {
            p.run.as_str() <= run
        } else {
            p.run == run
        };
        if !relevant {
            break;
        }
        if parts.len() == n {
            return (parts, Some(p.first.as_str()));
        }
        parts.push(p);
    }
    (parts, None)
}

/// A `(run, name)` key of the level: where the next partial compaction
/// starts (see [`parts_to_compact`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelKey {
    pub run: String,
    pub name: String,
}

/// The parts a partial compaction folds into the shards: from the first
/// part at or after `from`, wrapping around at the end, until their raw
/// bytes reach `budget` (at least one part). Returns their indices, in
/// order, and where the next compaction starts.
///
/// Going round the key space like this (LevelDB's compaction pointer)
/// folds each range in turn, so the parts compacted are those that have
/// gathered changes the longest, and no range is starved.
pub fn parts_to_compact(
    level: &[LevelRef],
    from: Option<&LevelKey>,
    budget: u64,
) -> (Vec<usize>, Option<LevelKey>) {
    if level.is_empty() {
        return (Vec::new(), None);
    }
    let start = from.map_or(0, |k| {
        level.partition_point(|p| cmp_key(p, &k.run, &k.name).is_lt())
    });
    let mut picked = Vec::new();
    let mut bytes = 0;
    for i in (start..level.len()).chain(0..start) {
        if !picked.is_empty() && bytes >= budget {
            break;
        }
        picked.push(i);
        bytes += level[i].part.raw_bytes;
    }
    let last = *picked.last().expect("one part");
    let next = level.get(last + 1).map(|p| LevelKey {
        run: p.run.clone(),
        name: p.first.clone(),
    });
    picked.sort_unstable();
    (picked, next)
}

/// The level's total raw size.
pub fn raw_bytes(level: &[LevelRef]) -> u64 {
    level.iter().map(|p| p.part.raw_bytes).sum()
}

/// The raw bytes one entry adds to a part (as [`delta::encode`] lays it
/// out, ignoring the per-run section headers).
fn entry_bytes(name: &str, edit: &delta::Edit) -> usize {
    super::shard::ENTRY_OVERHEAD + name.len() + edit.as_ref().map_or(0, |(_, json)| json.len())
}

/// Cuts sorted `edits` (one part's range after a merge) into parts of
/// about `part_bytes`: one part unless it has outgrown twice that, else
/// equal pieces. Returns each part's reference and gzip'd object.
pub fn cut_parts(edits: &Edits, part_bytes: usize) -> Vec<(LevelRef, Vec<u8>)> {
    let part_bytes = part_bytes.max(1);
    let total: usize = edits
        .values()
        .flat_map(|names| names.iter())
        .map(|(n, e)| entry_bytes(n, e))
        .sum();
    let pieces = if total < 2 * part_bytes {
        1
    } else {
        total.div_ceil(part_bytes)
    };
    let budget = total.div_ceil(pieces).max(1);
    let mut out = Vec::new();
    let mut open = Edits::new();
    let mut open_bytes = 0;
    for (run, names) in edits {
        for (name, edit) in names {
            open.entry(run.clone())
                .or_default()
                .insert(name.clone(), edit.clone());
            open_bytes += entry_bytes(name, edit);
            if open_bytes >= budget && out.len() + 1 < pieces {
                out.push(close(std::mem::take(&mut open)));
                open_bytes = 0;
            }
        }
    }
    if open.values().any(|n| !n.is_empty()) {
        out.push(close(open));
    }
    out
}

fn close(edits: Edits) -> (LevelRef, Vec<u8>) {
    let (run, first) = edits
        .iter()
        .find_map(|(run, names)| Some((run.clone(), names.keys().next()?.clone())))
        .unwrap_or_default();
    let raw = delta::encode(&edits);
    let gz = gzip(&raw);
    let r = LevelRef {
        run,
        first,
        part: DeltaRef {
            entries: edits.values().map(|n| n.len() as u64).sum(),
            raw_bytes: raw.len() as u64,
            bytes: gz.len() as u64,
            hash: content_hash(&gz),
        },
    };
    (r, gz)
}

/// Which part each of `edits` falls in (the first part takes keys before
/// every part): part index to the edits for it, in order.
pub fn group_by_part(
    level: &[LevelRef],
    edits: &Edits,
) -> std::collections::BTreeMap<usize, Edits> {
    let mut groups: std::collections::BTreeMap<usize, Edits> = Default::default();
    for (run, names) in edits {
        for (name, edit) in names {
            let i = part_for(level, run, name).unwrap_or(0);
            groups
                .entry(i)
                .or_default()
                .entry(run.clone())
                .or_default()
                .insert(name.clone(), edit.clone());
        }
    }
    groups
}

/// Lays `newer` over `older`: a name's entry in `newer` wins.
pub fn overlay(older: &mut Edits, newer: &Edits) {
    for (run, names) in newer {
        let into = older.entry(run.clone()).or_default();
        for (name, edit) in names {
            into.insert(name.clone(), edit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::MediaType;

    fn edits(keys: &[(&str, &str)], json_len: usize) -> Edits {
        let mut e = Edits::new();
        for (run, name) in keys {
            e.entry(run.to_string()).or_default().insert(
                name.to_string(),
                Some((MediaType::Image, "x".repeat(json_len))),
            );
        }
        e
    }

    fn part(run: &str, first: &str) -> LevelRef {
        LevelRef {
            run: run.into(),
            first: first.into(),
            part: DeltaRef {
                entries: 1,
                raw_bytes: 1,
                bytes: 1,
                hash: format!("{run}/{first}"),
            },
        }
    }

    #[test]
    fn a_small_range_stays_one_part_and_a_big_one_is_split_evenly() {
        let keys: Vec<(String, String)> = (0..100)
            .map(|i| ("label:A".to_string(), format!("n{i:03}")))
            .collect();
        let keys: Vec<(&str, &str)> = keys.iter().map(|(r, n)| (r.as_str(), n.as_str())).collect();
        let e = edits(&keys, 87);
        // 100 entries of 100 bytes.
        assert_eq!(cut_parts(&e, 6_000).len(), 1);
        let parts = cut_parts(&e, 2_500);
        assert_eq!(parts.len(), 4);
        assert!(parts.iter().all(|(r, _)| r.part.entries == 25));
        assert_eq!(parts[1].0.first, "n025");
        let decoded = delta::Delta::decode(
            "k",
            crate::serving::open_object("k", &parts[1].0.part.hash, &parts[1].1, 1 << 20).unwrap(),
        )
        .unwrap();
        assert_eq!(decoded.run("label:A").unwrap().len(), 25);
    }

    #[test]
    fn reads_find_the_parts_over_their_range_and_stop_before_the_rest() {
        let level = vec![
            part("label:A", "a"),
            part("label:B", "c"),
            part("label:B", "m"),
            part("label:B", "t"),
            part("name", "a"),
        ];
        let firsts = |run: &str, start: &str| {
            let (parts, cap) = parts_for_read(&level, run, start, 2);
            let parts: Vec<String> = parts.iter().map(|p| p.part.hash.clone()).collect();
            (parts, cap.map(str::to_string))
        };
        // B's names before "c" may sit in A's part (which reaches into B).
        assert_eq!(
            firsts("label:B", ""),
            (
                vec!["label:A/a".into(), "label:B/c".into()],
                Some("m".into())
            )
        );
        assert_eq!(
            firsts("label:B", "p"),
            (vec!["label:B/m".into(), "label:B/t".into()], None)
        );
        assert_eq!(firsts("label:C", "x"), (vec!["label:B/t".into()], None));
        assert_eq!(firsts("label:0", "x"), (vec![], None));
        assert_eq!(part_for(&level, "label:0", "x"), None);
        assert_eq!(part_for(&level, "label:B", "m"), Some(2));
        assert_eq!(part_for(&level, "zzz", ""), Some(4));
    }

    #[test]
    fn compaction_goes_round_the_level_from_its_pointer() {
        let level: Vec<LevelRef> = ["a", "c", "e", "g"]
            .iter()
            .map(|f| part("name", f))
            .collect();
        let key = |name: &str| LevelKey {
            run: "name".into(),
            name: name.into(),
        };
        // Each part is 1 raw byte.
        assert_eq!(
            parts_to_compact(&level, None, 2),
            (vec![0, 1], Some(key("e")))
        );
        assert_eq!(
            parts_to_compact(&level, Some(&key("e")), 2),
            (vec![2, 3], None)
        );
        // A pointer between parts starts at the next one; past the end, it wraps.
        assert_eq!(
            parts_to_compact(&level, Some(&key("d")), 1),
            (vec![2], Some(key("g")))
        );
        assert_eq!(
            parts_to_compact(&level, Some(&key("h")), 3),
            (vec![0, 1, 2], Some(key("g")))
        );
        assert_eq!(
            parts_to_compact(&level, Some(&key("g")), 3),
            (vec![0, 1, 3], Some(key("e")))
        );
        // At least one part, and never one twice.
        assert_eq!(parts_to_compact(&level, None, 0), (vec![0], Some(key("c"))));
        assert_eq!(parts_to_compact(&level, None, 99).0, vec![0, 1, 2, 3]);
        assert_eq!(parts_to_compact(&[], None, 9), (vec![], None));
    }

    #[test]
    fn edits_are_grouped_by_the_part_they_fall_in() {
        let level = vec![part("label:B", "c"), part("name", "m")];
        let e = edits(
            &[
                ("label:A", "z"),
                ("label:B", "d"),
                ("name", "a"),
                ("name", "q"),
            ],
            1,
        );
        let groups = group_by_part(&level, &e);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[&0].values().map(|n| n.len()).sum::<usize>(), 3);
        assert_eq!(groups[&1]["name"].keys().collect::<Vec<_>>(), ["q"]);
    }
}
