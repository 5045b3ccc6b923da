//! The delta as an object, and the delta merged into the level's parts.

use super::outbox::Outbox;
use super::read_ahead::ReadAhead;
use super::types::{Policy, UpdateError};
use crate::ports::{ObjectSink, ReadError, ShardLoader};
use crate::serving::delta::{DeltaRef, Edits};
use crate::serving::level::{self, LevelRef};
use crate::serving::{content_hash, gzip};

/// The delta object of `edits` (`raw`, their encoding): its reference and
/// gzip'd bytes.
pub(super) fn delta_object(edits: &Edits, raw: &[u8]) -> (DeltaRef, Vec<u8>) {
    let gz = gzip(raw);
    let r = DeltaRef {
        entries: edits.values().map(|n| n.len() as u64).sum(),
        raw_bytes: raw.len() as u64,
        bytes: gz.len() as u64,
        hash: content_hash(&gz),
    };
    (r, gz)
}

/// The edits of some level parts, read together.
pub(super) async fn read_parts<L: ShardLoader>(
    loader: &L,
    parts: &[LevelRef],
) -> Result<Edits, ReadError> {
    let mut all = Edits::new();
    let mut ahead = ReadAhead::new(parts.to_vec());
    for p in parts {
        let part = ahead
            .get(p, |r| async move { loader.delta(&r.part).await })
            .await?;
        level::overlay(&mut all, &part.edits());
    }
    Ok(all)
}

/// Merges `edits` (the whole delta and the batch) into `level`: the parts
/// their keys fall in are re-cut with them, the others kept. Gives the new
/// level.
pub(super) async fn merge_into_level<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    level: &[LevelRef],
    edits: &Edits,
    policy: Policy,
    outbox: &mut Outbox<'_, K>,
) -> Result<Vec<LevelRef>, UpdateError> {
    let mut groups = level::group_by_part(level, edits);
    let mut new_level: Vec<LevelRef> = Vec::new();
    if level.is_empty() {
        let range = groups.remove(&0).unwrap_or_default();
        write_parts(&range, None, policy, outbox, &mut new_level).await?;
    }
    let touched = groups.keys().map(|&i| level[i].clone()).collect();
    let mut ahead = ReadAhead::new(touched);
    for (i, old) in level.iter().enumerate() {
        match groups.remove(&i) {
            None => new_level.push(old.clone()),
            Some(group) => {
                let part = ahead
                    .get(old, |r| async move { loader.delta(&r.part).await })
                    .await?;
                let mut range = part.edits();
                level::overlay(&mut range, &group);
                write_parts(&range, Some(old), policy, outbox, &mut new_level).await?;
            }
        }
    }
    Ok(new_level)
}

/// Cuts one range of the level (an old part's, merged) into new parts; a
/// part identical to the old one (a replayed batch) is not written again.
pub(super) async fn write_parts<K: ObjectSink>(
    range: &Edits,
    old: Option<&LevelRef>,
    policy: Policy,
    outbox: &mut Outbox<'_, K>,
    new_level: &mut Vec<LevelRef>,
) -> Result<(), UpdateError> {
    for (r, gz) in level::cut_parts(range, policy.level_part_bytes) {
        if old != Some(&r) {
            outbox.push((r.part.hash.clone(), gz)).await?;
        }
        new_level.push(r);
    }
    Ok(())
}
