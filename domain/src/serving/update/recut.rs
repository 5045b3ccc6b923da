//! Re-cutting one run after its edits with the builder's content-defined
//! rule, keeping the old shards from where the cuts fall back in step.

use super::outbox::Outbox;
use super::read_ahead::ReadAhead;
use super::types::{runs_of, RunItem, UpdateError};
use crate::ports::{ObjectSink, ReadError, ShardLoader};
use crate::record::{MediaItem, MediaRecord};
use crate::serving::build::Cuts;
use crate::serving::delta::{Delta, Edit, Edits};
use crate::serving::manifest::{Manifest, ShardRef};
use crate::serving::shard::{Shard, ShardWriter};
use crate::serving::version::{base_item, changed_item};
use crate::serving::{content_hash, gzip, Run};
use std::collections::{BTreeMap, BTreeSet};

/// The shards a re-cut of `old` after `edits` will read, in order: those
/// the edits fall in, and the next one each, where the cuts usually fall
/// back in step.
pub(super) fn shards_to_read(old: &[ShardRef], edits: &BTreeMap<String, Edit>) -> Vec<ShardRef> {
    let mut wanted: Vec<usize> = edits
        .keys()
        .flat_map(|name| {
            let i = shard_for(old, name);
            [i, i + 1]
        })
        .filter(|&i| i < old.len())
        .collect();
    // Edits in one shard give its index (and the next) once each.
    wanted.sort_unstable();
    wanted.dedup();
    wanted.into_iter().map(|i| old[i].clone()).collect()
}

pub(super) fn items_of(shard: &Shard) -> Vec<RunItem> {
    (0..shard.len())
        .map(|i| RunItem {
            name: shard.name(i).to_string(),
            media_type: shard.media_type(i),
            json: shard.json(i).to_string(),
        })
        .collect()
}

/// The index of the shard of `run_shards` a name falls in: the last whose
/// first name is at or before it, else the first.
pub(super) fn shard_for(run_shards: &[ShardRef], name: &str) -> usize {
    run_shards
        .partition_point(|s| s.first.as_str() <= name)
        .saturating_sub(1)
}

/// Re-cuts one run after `edits` (name to its new item, or `None` to remove).
pub(super) async fn rechunk_run<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    run_id: &str,
    old: &[ShardRef],
    edits: &BTreeMap<String, Edit>,
    cuts: Cuts,
    ahead: &mut ReadAhead<ShardRef, Shard>,
    out_objects: &mut Outbox<'_, K>,
) -> Result<Vec<ShardRef>, UpdateError> {
    let edits: Vec<(&String, &Edit)> = edits.iter().collect();
    let mut out: Vec<ShardRef> = Vec::new();
    let (mut ei, mut si) = (0usize, 0usize);
    let close = |w: ShardWriter, out: &mut Vec<ShardRef>| {
        let items = w.items();
        let (raw, first, last) = w.finish();
        let gz = gzip(&raw);
        let hash = content_hash(&gz);
        out.push(ShardRef {
            run: run_id.to_string(),
            first,
            last,
            items,
            bytes: gz.len() as u64,
            hash: hash.clone(),
        });
        (hash, gz)
    };
    while ei < edits.len() {
        // Keep the shards before the next edit; start cutting afresh at the
        // start of the shard it falls in (an old cut: nothing before it
        // changed).
        let j = si.max(shard_for(old, edits[ei].0)).min(old.len());
        out.extend(old[si..j].iter().cloned());
        si = j;
        let mut w = ShardWriter::default();
        let mut buffer: std::collections::VecDeque<RunItem> = Default::default();
        loop {
            if buffer.is_empty() && si < old.len() {
                let shard = ahead
                    .get(&old[si], |r| async move { loader.shard(&r).await })
                    .await?;
                buffer.extend(items_of(&shard));
                si += 1;
            }
            // The next item of the merged stream.
            let take_edit = match (buffer.front(), edits.get(ei)) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(b), Some((name, _))) => name.as_str() <= b.name.as_str(),
            };
            let item = if take_edit {
                let (name, edit) = edits[ei];
                ei += 1;
                if buffer.front().is_some_and(|b| &b.name == name) {
                    buffer.pop_front();
                }
                match edit {
                    Some((media_type, json)) => RunItem {
                        name: name.clone(),
                        media_type: *media_type,
                        json: json.clone(),
                    },
                    None => continue,
                }
            } else {
                match buffer.pop_front() {
                    Some(item) => item,
                    None => {
                        // The run and the edits are both exhausted.
                        if !w.is_empty() {
                            out_objects.push(close(w, &mut out)).await?;
                        }
                        return Ok(out);
                    }
                }
            };
            w.push(&item.name, item.media_type, &item.json);
            if cuts.cut_after(run_id, &item.name, w.raw_len()) {
                let object = close(std::mem::take(&mut w), &mut out);
                out_objects.push(object).await?;
                if buffer.is_empty() {
                    // A cut where an old shard ended: back in step with the old cuts.
                    break;
                }
            }
        }
    }
    out.extend(old[si.min(old.len())..].iter().cloned());
    Ok(out)
}

/// The runs `name` is in now, from the delta or the level if they have
/// the name, else from the shards; and whether a shard was read for it.
pub(super) async fn current_runs<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
    delta: Option<&Delta>,
    name: &str,
) -> Result<(BTreeSet<Run>, bool), ReadError> {
    let (json, read) = match changed_item(loader, m, delta, name).await? {
        Some(edit) => (edit.map(|(_, json)| json), false),
        None => (base_item(loader, m, name).await?, true),
    };
    let Some(json) = json else {
        return Ok((BTreeSet::new(), read));
    };
    let item: MediaItem = serde_json::from_str(&json)
        .map_err(|e| crate::serving::FormatError::corrupt(name, format!("item JSON: {e}")))?;
    Ok((runs_of(item.media_type, &item.labels), read))
}

/// Records one change in `edits`: `name` leaves the runs it is in
/// (`old`) and joins those of its new record, if visible.
pub(super) fn merge_change(
    edits: &mut Edits,
    item_count: &mut i64,
    name: &str,
    new: Option<&MediaRecord>,
    old: BTreeSet<Run>,
) {
    let new = new.filter(|r| r.is_visible());
    *item_count += i64::from(new.is_some()) - i64::from(!old.is_empty());
    for run in old {
        edits
            .entry(run.id())
            .or_default()
            .insert(name.to_string(), None);
    }
    if let Some(r) = new {
        let json = crate::api::item_body(&r.to_media_item());
        for run in runs_of(r.media_type, &r.labels) {
            edits
                .entry(run.id())
                .or_default()
                .insert(name.to_string(), Some((r.media_type, json.clone())));
        }
    }
}
