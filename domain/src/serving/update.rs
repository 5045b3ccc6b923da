//! Applying a batch of changes to a serving snapshot, at the cost of the
//! batch.
//!
//! A change is a name and its new state: a visible record, or gone (deleted
//! or hidden). The old state of each changed name is read from the delta
//! or from one shard of the name run, so the update knows which runs it
//! leaves (its old type and labels) and which it joins. The result is a
//! per-run list of edits, merged into the manifest's **delta**
//! ([`super::delta`]): one small object, written with a new root manifest.
//!
//! When the delta outgrows its bound, the batch merges it into the
//! **level** ([`super::level`]) instead, rewriting only the level's parts
//! its keys fall in. While the level is past its own bound, each batch
//! **compacts** a slice of it into the shards: a few parts, taken in turn
//! round the key space, as many raw bytes as the batch added (at least one
//! part), so the level's outflow keeps up with its inflow and no batch pays
//! for a whole level. Each run the slice touches is re-cut from the start
//! of the first shard an edit falls in, with the builder's content-defined
//! rule ([`super::build::Cuts`]), until a cut falls where an old shard
//! ended and no edit is pending there: from that point on the old shards
//! are exactly what a rebuild would cut, so they are kept as they are. A
//! snapshot compacted whole (no level, no delta) is byte for byte the one
//! a full rebuild of the new table would give (the property tests check
//! it), and new objects go to an [`ObjectSink`] as they are cut, so memory
//! stays bounded however many shards a compaction rewrites.

use super::build::{directory, Cuts, Object};
use super::delta::{self, Delta, DeltaRef, Edit, Edits};
use super::level::{self, LevelRef};
use super::manifest::{Directory, Manifest, ShardRef};
use super::shard::{Shard, ShardWriter};
use super::version::{all_entries, base_item, changed_item, READ_AHEAD};
use super::{content_hash, gzip, Run, FORMAT};
use crate::media::MediaType;
use crate::ports::{ObjectSink, ReadError, ShardLoader};
use crate::record::{MediaItem, MediaRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
    /// Directory page size (see [`super::manifest::DIRECTORY_PAGE_BYTES`]).
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
            page_bytes: super::manifest::DIRECTORY_PAGE_BYTES,
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

/// New objects on their way to a sink, counted, in bounded batches.
struct Outbox<'a, K> {
    sink: &'a K,
    pending: Vec<Object>,
    written: usize,
    bytes: u64,
}

impl<K: ObjectSink> Outbox<'_, K> {
    /// Objects held before they are handed to the sink (~3 MB of shards).
    const BATCH: usize = 64;

    async fn push(&mut self, object: Object) -> Result<(), UpdateError> {
        self.written += 1;
        self.bytes += object.1.len() as u64;
        self.pending.push(object);
        if self.pending.len() >= Self::BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), UpdateError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.sink.put(batch).await.map_err(UpdateError::Write)
    }
}

/// An object reference a [`ReadAhead`] knows by its content hash.
trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for ShardRef {
    fn key(&self) -> &str {
        &self.hash
    }
}

impl Keyed for LevelRef {
    fn key(&self) -> &str {
        &self.part.hash
    }
}

/// The objects a step will read, in the order it will read them, fetched
/// [`READ_AHEAD`] at a time and all at once. In the export writer each is
/// an S3 GET: one after the other, a compaction that reads thousands of
/// shards would spend minutes waiting on them. Holds at most one window
/// of decoded objects; an object it was not told about is read alone.
struct ReadAhead<R, T> {
    /// Objects handed out (each read of an object counts).
    reads: usize,
    order: Vec<R>,
    position: BTreeMap<String, usize>,
    window: BTreeMap<String, Arc<T>>,
}

impl<R: Keyed + Clone, T> ReadAhead<R, T> {
    fn new(order: Vec<R>) -> ReadAhead<R, T> {
        let mut position = BTreeMap::new();
        for (i, r) in order.iter().enumerate() {
            position.entry(r.key().to_string()).or_insert(i);
        }
        ReadAhead {
            reads: 0,
            order,
            position,
            window: BTreeMap::new(),
        }
    }

    /// The object `r` names: from the window, or loaded with the next ones.
    async fn get<F, Fut>(&mut self, r: &R, load: F) -> Result<Arc<T>, ReadError>
    where
        F: Fn(R) -> Fut,
        Fut: std::future::Future<Output = Result<Arc<T>, ReadError>>,
    {
        self.reads += 1;
        if let Some(t) = self.window.remove(r.key()) {
            return Ok(t);
        }
        let Some(&from) = self.position.get(r.key()) else {
            return load(r.clone()).await;
        };
        self.window.clear();
        // Each object once (two runs may hold byte-identical shards).
        let mut keys = std::collections::BTreeSet::new();
        let batch: Vec<&R> = self.order[from..]
            .iter()
            .filter(|r| keys.insert(r.key()))
            .take(READ_AHEAD)
            .collect();
        let loaded = futures_util::future::join_all(batch.iter().map(|&r| load(r.clone()))).await;
        for (r, t) in batch.into_iter().zip(loaded) {
            self.window.insert(r.key().to_string(), t?);
        }
        Ok(self.window.remove(r.key()).expect("just loaded"))
    }
}

/// The shards a re-cut of `old` after `edits` will read, in order: those
/// the edits fall in, and the next one each, where the cuts usually fall
/// back in step.
fn shards_to_read(old: &[ShardRef], edits: &BTreeMap<String, Edit>) -> Vec<ShardRef> {
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

fn items_of(shard: &Shard) -> Vec<RunItem> {
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
fn shard_for(run_shards: &[ShardRef], name: &str) -> usize {
    run_shards
        .partition_point(|s| s.first.as_str() <= name)
        .saturating_sub(1)
}

/// Re-cuts one run after `edits` (name to its new item, or `None` to remove).
async fn rechunk_run<L: ShardLoader, K: ObjectSink>(
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
async fn current_runs<L: ShardLoader>(
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
        .map_err(|e| super::FormatError::corrupt(name, format!("item JSON: {e}")))?;
    Ok((runs_of(item.media_type, &item.labels), read))
}

/// Records one change in `edits`: `name` leaves the runs it is in
/// (`old`) and joins those of its new record, if visible.
fn merge_change(
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

/// Old-state lookups in flight at once (S3 GETs in the export writer).
const LOOKUPS_AT_ONCE: usize = 32;

/// Applies `changes` (name to its new record; `None` or a hidden record
/// removes it) to the snapshot `m`: merged into its delta; past
/// `policy.delta_max_bytes`, the delta merged into the level; while the
/// level is past `policy.level_max_bytes`, a slice of it compacted into the
/// shards (all of it, with the delta, when that bound is 0). New objects go
/// to `sink`; the caller publishes the returned manifest after them.
/// `created_at` is an ISO-8601 time.
pub async fn apply<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    m: &Manifest,
    changes: &BTreeMap<String, Option<MediaRecord>>,
    policy: Policy,
    created_at: &str,
    sink: &K,
) -> Result<Updated, UpdateError> {
    let delta = match &m.delta {
        Some(r) => Some(loader.delta(r).await?),
        None => None,
    };
    let mut edits: Edits = delta.as_deref().map(Delta::edits).unwrap_or_default();
    let mut shards_read = 0;
    let mut item_count = m.item_count as i64;
    let changed: Vec<(&String, &Option<MediaRecord>)> = changes.iter().collect();
    for chunk in changed.chunks(LOOKUPS_AT_ONCE) {
        let lookups = chunk
            .iter()
            .map(|(name, _)| current_runs(loader, m, delta.as_deref(), name));
        let olds = futures_util::future::join_all(lookups).await;
        for ((name, new), old) in chunk.iter().zip(olds) {
            let (old, read) = old?;
            shards_read += usize::from(read);
            merge_change(&mut edits, &mut item_count, name, new.as_ref(), old);
        }
    }
    let item_count = item_count.max(0) as u64;
    let mut outbox = Outbox {
        sink,
        pending: Vec::new(),
        written: 0,
        bytes: 0,
    };
    let raw = delta::encode(&edits);
    // What this batch added to the delta: the share of the level it pays
    // to compact, so that the level's outflow keeps up with its inflow.
    let added = (raw.len() as u64).saturating_sub(m.delta.as_ref().map_or(0, |d| d.raw_bytes));
    let level_merged = raw.len() > policy.delta_max_bytes;
    if level_merged && policy.level_max_bytes == 0 {
        // No level: the delta goes straight into the shards.
        let mut updated = compact_all(loader, m, edits, policy, created_at, &mut outbox).await?;
        updated.shards_read += shards_read;
        return Ok(updated);
    }
    // Past its bound, the level sheds a slice into the shards (before the
    // delta is merged into what is left: the delta is newer).
    let mut level = m.level.clone();
    let mut compact_from = m.compact_from.clone();
    let mut folded = None;
    let mut parts_compacted = 0;
    let incoming = if level_merged { raw.len() as u64 } else { 0 };
    if level::raw_bytes(&level) + incoming > policy.level_max_bytes as u64 && !level.is_empty() {
        let budget = added.max(policy.level_part_bytes as u64);
        let (picked, next) = level::parts_to_compact(&level, compact_from.as_ref(), budget);
        let parts: Vec<LevelRef> = picked.iter().map(|&i| level[i].clone()).collect();
        let slice = read_parts(loader, &parts).await?;
        folded = Some(fold_into_shards(loader, m, &slice, policy, &mut outbox).await?);
        parts_compacted = parts.len();
        let picked: BTreeSet<usize> = picked.into_iter().collect();
        level = level
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !picked.contains(i))
            .map(|(_, p)| p)
            .collect();
        compact_from = next;
    }
    let mut new_delta = None;
    if level_merged {
        level = merge_into_level(loader, &level, &edits, policy, &mut outbox).await?;
    } else if !edits.is_empty() {
        let (r, gz) = delta_object(&edits, &raw);
        if m.delta.as_ref() != Some(&r) {
            outbox.push((r.hash.clone(), gz)).await?;
        }
        new_delta = Some(r);
    }
    if level.is_empty() {
        compact_from = None;
    }
    outbox.flush().await?;
    let (directory, shard_count, shard_bytes, compaction_reads) = match folded {
        Some(f) => (f.directory, f.shard_count, f.shard_bytes, f.shards_read),
        None => (m.directory.clone(), m.shard_count, m.shard_bytes, 0),
    };
    Ok(Updated {
        manifest: Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&directory, new_delta.as_ref(), &level),
            created_at: created_at.to_string(),
            item_count,
            shard_count,
            shard_bytes,
            shard_target_bytes: m.shard_target_bytes,
            directory,
            delta: new_delta,
            level,
            compact_from,
        },
        level_merged,
        compacted: parts_compacted > 0,
        parts_compacted,
        objects_written: outbox.written,
        bytes_written: outbox.bytes,
        shards_read: shards_read + compaction_reads,
    })
}

/// The delta object of `edits` (`raw`, their encoding): its reference and
/// gzip'd bytes.
fn delta_object(edits: &Edits, raw: &[u8]) -> (DeltaRef, Vec<u8>) {
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
async fn read_parts<L: ShardLoader>(loader: &L, parts: &[LevelRef]) -> Result<Edits, ReadError> {
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
async fn merge_into_level<L: ShardLoader, K: ObjectSink>(
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
async fn write_parts<K: ObjectSink>(
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

/// Folds the whole level of `m` and `edits` (the delta and the batch) into
/// its shards, giving a manifest without a delta or a level.
async fn compact_all<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    m: &Manifest,
    edits: Edits,
    policy: Policy,
    created_at: &str,
    outbox: &mut Outbox<'_, K>,
) -> Result<Updated, UpdateError> {
    let mut all = read_parts(loader, &m.level).await?;
    level::overlay(&mut all, &edits);
    let f = fold_into_shards(loader, m, &all, policy, outbox).await?;
    outbox.flush().await?;
    Ok(Updated {
        manifest: Manifest {
            format: FORMAT.to_string(),
            version: Manifest::version_of(&f.directory, None, &[]),
            created_at: created_at.to_string(),
            item_count: f.item_count,
            shard_count: f.shard_count,
            shard_bytes: f.shard_bytes,
            shard_target_bytes: m.shard_target_bytes,
            directory: f.directory,
            delta: None,
            level: Vec::new(),
            compact_from: None,
        },
        level_merged: false,
        compacted: true,
        parts_compacted: m.level.len(),
        objects_written: outbox.written,
        bytes_written: outbox.bytes,
        shards_read: f.shards_read,
    })
}

/// The shards after a fold.
struct Folded {
    directory: Directory,
    shard_count: u64,
    shard_bytes: u64,
    /// Items of the name run's shards.
    item_count: u64,
    shards_read: usize,
}

/// Folds `edits` into the shards of `m`: each run they touch is re-cut
/// around them ([`rechunk_run`]), and the directory pages that changed are
/// written.
async fn fold_into_shards<L: ShardLoader, K: ObjectSink>(
    loader: &L,
    m: &Manifest,
    edits: &Edits,
    policy: Policy,
    outbox: &mut Outbox<'_, K>,
) -> Result<Folded, UpdateError> {
    let cuts = Cuts::for_target(m.shard_target_bytes as usize);
    let mut by_run: BTreeMap<String, Vec<ShardRef>> = BTreeMap::new();
    for e in all_entries(loader, m).await? {
        by_run.entry(e.run.clone()).or_default().push(e);
    }
    // Every shard the runs' re-cuts will read, in the order they read them.
    let order = edits
        .iter()
        .flat_map(|(run, run_edits)| {
            let old = by_run.get(run).map_or(&[][..], Vec::as_slice);
            shards_to_read(old, run_edits)
        })
        .collect();
    let mut ahead = ReadAhead::new(order);
    for (run, run_edits) in edits {
        let old = by_run.remove(run).unwrap_or_default();
        let new = rechunk_run(loader, run, &old, run_edits, cuts, &mut ahead, outbox).await?;
        by_run.insert(run.clone(), new);
    }
    // Runs left empty disappear; the rest, in directory order.
    let mut entries: Vec<ShardRef> = by_run.into_values().flatten().collect();
    entries.sort_by(|a, b| a.run.cmp(&b.run).then_with(|| a.first.cmp(&b.first)));
    let item_count = entries
        .iter()
        .filter(|e| e.run == Run::Names.id())
        .map(|e| e.items)
        .sum();
    let shard_count = entries.len() as u64;
    let shard_bytes = entries.iter().map(|e| e.bytes).sum();
    let (directory, pages) = directory(entries, policy.page_bytes);
    // Pages the old version has are not new objects.
    let old_pages: BTreeSet<&str> = match &m.directory {
        Directory::Paged(refs) => refs.iter().map(|p| p.hash.as_str()).collect(),
        Directory::Inline(_) => BTreeSet::new(),
    };
    for page in pages
        .into_iter()
        .filter(|(h, _)| !old_pages.contains(h.as_str()))
    {
        outbox.push(page).await?;
    }
    Ok(Folded {
        directory,
        shard_count,
        shard_bytes,
        item_count,
        shards_read: ahead.reads,
    })
}

// futures' executor is a native dev-dependency; these are pure logic, so native is enough.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Pending once, so that loads started together are in flight together.
    struct YieldOnce(bool);

    impl std::future::Future for YieldOnce {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                return std::task::Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    #[test]
    fn the_shards_to_read_are_each_named_once_in_order() {
        let old: Vec<ShardRef> = ["a", "f", "m"]
            .iter()
            .map(|first| ShardRef {
                run: "name".into(),
                first: first.to_string(),
                last: first.to_string(),
                items: 1,
                bytes: 1,
                hash: format!("h{first}"),
            })
            .collect();
        let edits: BTreeMap<String, Edit> = ["b", "c", "d", "g", "h", "z"]
            .iter()
            .map(|n| (n.to_string(), None))
            .collect();
        let hashes: Vec<String> = shards_to_read(&old, &edits)
            .into_iter()
            .map(|r| r.hash)
            .collect();
        assert_eq!(hashes, ["ha", "hf", "hm"]);
    }

    #[test]
    fn read_ahead_loads_a_window_at_once_and_each_object_once() {
        let refs: Vec<ShardRef> = (0..100)
            .map(|i| ShardRef {
                run: "name".into(),
                first: format!("{i:03}"),
                last: format!("{i:03}"),
                items: 1,
                bytes: 1,
                hash: format!("h{i}"),
            })
            .collect();
        let wanted: Vec<ShardRef> = refs.iter().step_by(2).cloned().collect();
        // The same shard twice in a row (byte-identical in two runs).
        let mut order = wanted.clone();
        order.insert(1, wanted[0].clone());
        let (in_flight, most, loads) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        let load = |r: ShardRef| {
            let (in_flight, most, loads) = (&in_flight, &most, &loads);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                YieldOnce(false).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(Arc::new(r.hash))
            }
        };
        let mut ahead: ReadAhead<ShardRef, String> = ReadAhead::new(order);
        futures::executor::block_on(async {
            for r in &wanted {
                assert_eq!(*ahead.get(r, load).await.unwrap(), r.hash);
            }
            // One it was not told about is read alone.
            assert_eq!(*ahead.get(&refs[1], load).await.unwrap(), "h1");
        });
        assert_eq!(loads.load(Ordering::SeqCst), wanted.len() + 1);
        assert_eq!(most.load(Ordering::SeqCst), READ_AHEAD);
        assert_eq!(ahead.reads, wanted.len() + 1);
    }
}
