//! The read engine: list and get queries over the serving snapshot, the
//! same code in the Worker (wasm32) and in the Lambda read API (native).
//!
//! # Why it costs what the answer costs
//!
//! A request reads the manifest (cached, re-checked once per TTL with a
//! conditional GET), the delta, at most one directory page, at most
//! [`SHARDS_PER_PAGE`] shards of one run (see [`crate::serving`]) and at
//! most [`PARTS_PER_PAGE`] parts of the level over them. Shards are cut at
//! [`crate::serving::build::SHARD_TARGET_BYTES`], so two of them hold a
//! full page of typical items, and nothing on this path depends on the
//! table's size.
//!
//! A page that spent its shard or part budget before it was full ends
//! early, with a cursor to go on: that bounds the one over-read (`label`
//! combined with `media-type`, which reads the label's run and skips the
//! other type) to two shards per request, and a run whose recent changes
//! span many parts is read two parts at a time. Pages are decided by the snapshot's structure,
//! never by what happens to be cached, so the edge and the Lambda cut the
//! same pages.
//!
//! Decoded shards and directory pages live in a byte-bounded
//! [`cache::LruCache`] per isolate or process, so memory stays bounded
//! whatever the table size. Objects are fetched through [`ObjectStore`]:
//! SigV4 S3 GETs in the Worker, the SDK in Lambda, files in benchmarks.

pub mod cache;
mod page;
mod single_flight;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use crate::page::PageRequest;
use crate::ports::{Fetched, ObjectStore, ReadError, ShardLoader};
use crate::query::ListQuery;
use crate::serving::delta::{Delta, DeltaRef};
use crate::serving::level::{self, PARTS_PER_PAGE};
use crate::serving::manifest::{DirectoryPage, Manifest, ShardRef, Start};
use crate::serving::shard::Shard;
use crate::serving::version::{base_item, changed_item, shards_from};
use crate::serving::{object_key, open_object, pointer_key, FormatError, Run};
use cache::LruCache;
pub use page::ListPage;
use page::{Flow, Overlay, PageBuilder};
use single_flight::{SingleFlight, Turn};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shards one list request may decode.
pub const SHARDS_PER_PAGE: usize = 2;
/// Default budget of the decoded-object cache.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// How long a waiter on timers waits before it checks back, and how many
/// times before it fetches the object itself.
const PAUSE_MS: f64 = 5.0;
const PAUSES: usize = 2_000;

/// Counters, for logs and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Shard and directory-page GETs.
    pub object_fetches: AtomicU64,
    /// Pointer GETs (conditional after the first).
    pub pointer_fetches: AtomicU64,
    pub cache_hits: AtomicU64,
}

#[derive(Debug, Clone)]
enum Decoded {
    Shard(Arc<Shard>),
    Page(Arc<DirectoryPage>),
    Delta(Arc<Delta>),
}

#[derive(Debug, Default)]
struct Current {
    manifest: Option<Arc<Manifest>>,
    etag: Option<String>,
    /// The last check of the pointer, successful or not: the next is due
    /// a TTL later, so an outage costs one attempt per TTL, not one per
    /// request.
    checked_at_ms: f64,
    /// The last successful check: how old the answers of a stale manifest are.
    validated_at_ms: f64,
    /// Whether the last check failed (the manifest is being served stale).
    stale: bool,
    /// A check is under way (since then): other requests keep the
    /// manifest they have. A check dropped midway (its request cancelled)
    /// stops counting after [`REFRESH_TIMEOUT_MS`].
    refreshing_since_ms: Option<f64>,
}

/// How long a pointer check may hold the others off.
const REFRESH_TIMEOUT_MS: f64 = 10_000.0;

/// How long a manifest whose refresh failed is still served, by default.
pub const DEFAULT_MAX_STALE_MS: f64 = 3_600_000.0;

/// The engine of one isolate or process.
#[derive(Debug)]
pub struct ReadEngine {
    prefix: String,
    ttl_ms: f64,
    max_stale_ms: f64,
    current: Mutex<Current>,
    cache: Mutex<LruCache<Decoded>>,
    flights: SingleFlight<Decoded>,
    pub stats: Stats,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ReadEngine {
    /// An engine reading `<prefix>/serving/`, re-checking the pointer after
    /// `ttl_ms`, keeping at most `cache_bytes` of decoded objects.
    pub fn new(prefix: &str, ttl_ms: f64, cache_bytes: usize) -> ReadEngine {
        ReadEngine {
            prefix: prefix.to_string(),
            ttl_ms,
            max_stale_ms: DEFAULT_MAX_STALE_MS,
            current: Mutex::new(Current::default()),
            cache: Mutex::new(LruCache::new(cache_bytes)),
            flights: SingleFlight::default(),
            stats: Stats::default(),
        }
    }

    /// Bytes held by decoded objects, and the budget.
    pub fn cache_usage(&self) -> (usize, usize) {
        let c = lock(&self.cache);
        (c.bytes(), c.budget())
    }

    /// Serves a manifest whose refresh failed for at most `ms` after its
    /// last successful check (then the responder falls back).
    pub fn with_max_stale_ms(mut self, ms: f64) -> ReadEngine {
        self.max_stale_ms = ms;
        self
    }

    /// When the manifest is served stale (its last refresh failed): how
    /// long ago it was last confirmed current, in seconds (`Age`).
    pub fn stale_age_seconds(&self, now_ms: f64) -> Option<u64> {
        let c = lock(&self.current);
        (c.stale && c.manifest.is_some())
            .then(|| ((now_ms - c.validated_at_ms).max(0.0) / 1000.0) as u64)
    }

    /// The current manifest, re-checked first if the TTL has passed (by one
    /// request at a time: the others keep the manifest they have). When a
    /// check fails, the last good manifest is kept and served, stale, for
    /// up to the maximum staleness; past that, or with none, the error is
    /// returned and callers fall back.
    pub async fn manifest<S: ObjectStore>(
        &self,
        store: &S,
        now_ms: f64,
    ) -> Result<Arc<Manifest>, ReadError> {
        let (current, etag) = {
            let mut c = lock(&self.current);
            if let Some(m) = &c.manifest {
                let in_flight = c
                    .refreshing_since_ms
                    .is_some_and(|t| now_ms - t < REFRESH_TIMEOUT_MS);
                if now_ms - c.checked_at_ms < self.ttl_ms || in_flight {
                    return Ok(m.clone());
                }
            }
            c.refreshing_since_ms = Some(now_ms);
            (c.manifest.clone(), c.etag.clone())
        };
        let key = pointer_key(&self.prefix);
        self.stats.pointer_fetches.fetch_add(1, Ordering::Relaxed);
        let conditional = current.as_ref().and(etag.as_deref());
        let answer = store.get(&key, conditional).await;
        let mut c = lock(&self.current);
        c.refreshing_since_ms = None;
        let result = match answer {
            Ok(Fetched::NotModified) => match current {
                Some(m) => Ok((m, etag)),
                None => Err(ReadError::Fetch {
                    key,
                    detail: "304 without a cached manifest".into(),
                }),
            },
            Ok(Fetched::Missing) => Err(ReadError::Missing(key)),
            Err(detail) => Err(ReadError::Fetch { key, detail }),
            Ok(Fetched::Object { body, etag }) => Manifest::parse(&key, &body)
                .map(|m| match current {
                    Some(cur) if cur.version == m.version => (cur, etag),
                    _ => (Arc::new(m), etag),
                })
                .map_err(ReadError::from),
        };
        match result {
            Ok((m, etag)) => {
                if let Some(old) = c.manifest.as_ref().filter(|old| old.version != m.version) {
                    self.forget_replaced(old, &m);
                }
                *c = Current {
                    manifest: Some(m.clone()),
                    etag,
                    checked_at_ms: now_ms,
                    validated_at_ms: now_ms,
                    stale: false,
                    refreshing_since_ms: None,
                };
                Ok(m)
            }
            Err(e) => {
                let keep = !matches!(e, ReadError::Missing(_))
                    && now_ms - c.validated_at_ms <= self.max_stale_ms;
                match c.manifest.clone().filter(|_| keep) {
                    Some(m) => {
                        c.checked_at_ms = now_ms;
                        c.stale = true;
                        Ok(m)
                    }
                    None => {
                        *c = Current::default();
                        Err(e)
                    }
                }
            }
        }
    }

    /// Drops from the cache the delta and level parts of a version that
    /// `new` replaced and does not share. The shards stay (most of them
    /// are the new version's too), but a delta is up to 4 MiB decoded and
    /// is replaced by every batch: when versions change every second,
    /// keeping the old one until the LRU reaches it would hold two deltas
    /// while the next is decoded, and wasm memory, once grown, is never
    /// given back. Requests still reading the old version hold their own
    /// reference until they finish.
    fn forget_replaced(&self, old: &Manifest, new: &Manifest) {
        let kept: Vec<&str> = new
            .delta
            .iter()
            .chain(new.level.iter().map(|l| &l.part))
            .map(|r| r.hash.as_str())
            .collect();
        let mut cache = lock(&self.cache);
        for r in old.delta.iter().chain(old.level.iter().map(|l| &l.part)) {
            if !kept.contains(&r.hash.as_str()) {
                cache.remove(&r.hash);
            }
        }
    }

    /// Re-checks the pointer now, whatever the TTL: an object the manifest
    /// names has gone, so the pointer has probably moved on (and the old
    /// version's garbage was collected). Whether a different version is
    /// now current, so that the read is worth trying again.
    pub async fn recheck<S: ObjectStore>(&self, store: &S, now_ms: f64) -> bool {
        let before = {
            let mut c = lock(&self.current);
            c.checked_at_ms = f64::NEG_INFINITY;
            c.manifest.as_ref().map(|m| m.version.clone())
        };
        match self.manifest(store, now_ms).await {
            Ok(m) => before.as_deref() != Some(m.version.as_str()),
            Err(_) => false,
        }
    }

    async fn fetch<S: ObjectStore>(
        &self,
        store: &S,
        hash: &str,
        max_raw: usize,
    ) -> Result<Vec<u8>, ReadError> {
        let key = object_key(&self.prefix, hash);
        self.stats.object_fetches.fetch_add(1, Ordering::Relaxed);
        match store.get(&key, None).await {
            Ok(Fetched::Object { body, .. }) => Ok(open_object(&key, hash, &body, max_raw)?),
            Ok(Fetched::Missing) => Err(ReadError::Missing(key)),
            Ok(Fetched::NotModified) => Err(ReadError::Fetch {
                key,
                detail: "unexpected 304".into(),
            }),
            Err(detail) => Err(ReadError::Fetch { key, detail }),
        }
    }

    fn cached(&self, hash: &str) -> Option<Decoded> {
        let hit = lock(&self.cache).get(hash).map(|d| (*d).clone());
        if hit.is_some() {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// The object `hash` decoded: from the cache, from the fetch another
    /// request has in flight, or fetched and decoded by `load` (which
    /// returns it and the memory it holds), then cached.
    async fn object<S, F, Fut>(&self, store: &S, hash: &str, load: F) -> Result<Decoded, ReadError>
    where
        S: ObjectStore,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Decoded, usize), ReadError>>,
    {
        let on_timers = store.waits_on_timers();
        let mut pauses = 0;
        let leader = loop {
            if let Some(d) = self.cached(hash) {
                return Ok(d);
            }
            match self.flights.join(hash, on_timers) {
                Turn::Lead(leader) => break Some(leader),
                Turn::Wait(rx) => match rx.await {
                    Ok(result) => return result,
                    // The request fetching it went away: fetch it here.
                    Err(_) => break None,
                },
                // Checked again after a pause: from the cache once the
                // leader is done, else led here if it failed or went away.
                Turn::Busy if pauses < PAUSES => {
                    pauses += 1;
                    store.pause(PAUSE_MS).await;
                }
                Turn::Busy => break None,
            }
        };
        let result = load().await.map(|(decoded, bytes)| {
            lock(&self.cache).insert(hash.to_string(), Arc::new(decoded.clone()), bytes);
            decoded
        });
        if let Some(leader) = leader {
            leader.finish(&result);
        }
        result
    }

    /// Objects being fetched now (for tests and benchmarks).
    pub fn fetches_in_flight(&self) -> usize {
        self.flights.in_flight()
    }

    async fn shard<S: ObjectStore>(
        &self,
        store: &S,
        m: &Manifest,
        r: &ShardRef,
    ) -> Result<Arc<Shard>, ReadError> {
        let max_raw = m.shard_target_bytes as usize * 2 + (1 << 20);
        let load = || async {
            let raw = self.fetch(store, &r.hash, max_raw).await?;
            let shard = Shard::decode(&object_key(&self.prefix, &r.hash), raw)?;
            let bytes = shard.memory_bytes();
            Ok((Decoded::Shard(Arc::new(shard)), bytes))
        };
        match self.object(store, &r.hash, load).await? {
            Decoded::Shard(s) => Ok(s),
            _ => Err(self.not_a(&r.hash, "shard")),
        }
    }

    async fn page<S: ObjectStore>(
        &self,
        store: &S,
        hash: &str,
    ) -> Result<Arc<DirectoryPage>, ReadError> {
        let load = || async {
            let raw = self.fetch(store, hash, 1 << 20).await?;
            let key = object_key(&self.prefix, hash);
            let page: DirectoryPage =
                serde_json::from_slice(&raw).map_err(|e| FormatError::corrupt(&key, e))?;
            if page.entries.is_empty() {
                return Err(FormatError::corrupt(&key, "empty directory page").into());
            }
            Ok((Decoded::Page(Arc::new(page)), raw.len() * 2))
        };
        match self.object(store, hash, load).await? {
            Decoded::Page(p) => Ok(p),
            _ => Err(self.not_a(hash, "directory page")),
        }
    }

    async fn delta<S: ObjectStore>(
        &self,
        store: &S,
        r: &DeltaRef,
    ) -> Result<Arc<Delta>, ReadError> {
        let load = || async {
            let raw = self.fetch(store, &r.hash, r.raw_bytes as usize).await?;
            let delta = Delta::decode(&object_key(&self.prefix, &r.hash), raw)?;
            let bytes = delta.memory_bytes();
            Ok((Decoded::Delta(Arc::new(delta)), bytes))
        };
        match self.object(store, &r.hash, load).await? {
            Decoded::Delta(d) => Ok(d),
            _ => Err(self.not_a(&r.hash, "delta or level part")),
        }
    }

    /// An object named as one kind that decodes as another: the manifest
    /// and the objects disagree.
    fn not_a(&self, hash: &str, kind: &str) -> ReadError {
        FormatError::corrupt(
            &object_key(&self.prefix, hash),
            format!("named as a {kind}, but it is another kind of object"),
        )
        .into()
    }

    fn loader<'a, S>(&'a self, store: &'a S, m: &'a Manifest) -> VersionLoader<'a, S> {
        VersionLoader {
            engine: self,
            store,
            manifest: m,
        }
    }

    /// The item named `name` as its JSON, if the snapshot has it.
    pub async fn get<S: ObjectStore>(
        &self,
        store: &S,
        m: &Manifest,
        name: &str,
    ) -> Result<Option<String>, ReadError> {
        let loader = self.loader(store, m);
        let delta = match &m.delta {
            Some(r) => Some(self.delta(store, r).await?),
            None => None,
        };
        match changed_item(&loader, m, delta.as_deref(), name).await? {
            Some(edit) => Ok(edit.map(|(_, json)| json)),
            None => base_item(&loader, m, name).await,
        }
    }

    /// One page of `GET /`: the chosen run's shards from the start, with
    /// the changes to that run (the delta's, over the level's) merged over
    /// them.
    pub async fn list<S: ObjectStore>(
        &self,
        store: &S,
        m: &Manifest,
        query: &ListQuery,
        page: &PageRequest,
    ) -> Result<ListPage, ReadError> {
        let run = match (&query.label, query.media_type) {
            (Some(l), _) => Run::Label(l.clone()),
            (None, Some(t)) => Run::Type(t),
            (None, None) => Run::Names,
        };
        let prefix = query.startswith.as_deref().unwrap_or("");
        let start = match page.after.as_deref() {
            Some(a) if a >= prefix => Start::After(a),
            _ => Start::AtOrAfter(prefix),
        };
        let bound = |s: &Shard| match start {
            Start::After(a) => s.upper_bound(a),
            Start::AtOrAfter(p) => s.lower_bound(p),
        };
        let delta = match &m.delta {
            Some(r) => Some(self.delta(store, r).await?),
            None => None,
        };
        let run_id = run.id();
        let (part_refs, cap) =
            level::parts_for_read(&m.level, &run_id, start.name(), PARTS_PER_PAGE);
        let parts =
            futures_util::future::join_all(part_refs.iter().map(|p| self.delta(store, &p.part)))
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?;
        let overlay = Overlay::new(
            delta.as_deref().and_then(|d| d.run(&run_id)),
            parts.iter().filter_map(|p| p.run(&run_id)),
            bound,
        );
        let mut di = 0;
        let mut page_out = PageBuilder {
            out: ListPage::default(),
            last_examined: None,
            prefix,
            limit: page.limit,
            type_filter: query.label.as_ref().and(query.media_type),
        };
        // One more reference than we read, to know whether the run goes on.
        let refs = shards_from(&self.loader(store, m), m, &run, start, SHARDS_PER_PAGE + 1).await?;
        let no_shard = [None];
        let shards: Vec<Option<&ShardRef>> = if refs.is_empty() {
            no_shard.to_vec()
        } else {
            refs.iter().take(SHARDS_PER_PAGE).map(Some).collect()
        };
        for (k, r) in shards.into_iter().enumerate() {
            let shard = match r {
                Some(r) => Some(self.shard(store, m, r).await?),
                None => None,
            };
            let mut i = shard.as_deref().map_or(0, bound);
            let base_len = shard.as_deref().map_or(0, Shard::len);
            // The delta's entries before the next shard's range belong here.
            let frontier = refs.get(k + 1).map(|n| n.first.as_str());
            loop {
                let base = shard.as_deref().filter(|_| i < base_len);
                // The overlay's next name; past its last entry, the first
                // name of the level part this page does not read.
                let overlay_next = match di < overlay.len() {
                    true => Some(overlay.name(di)),
                    false => cap,
                };
                // Changes at or past the next shard's range wait for it.
                let overlay_next =
                    overlay_next.filter(|n| base.is_some() || frontier.is_none_or(|f| *n < f));
                let next = match (base, overlay_next) {
                    (None, None) => break,
                    (Some(b), Some(o)) => b.name(i).min(o),
                    (Some(b), None) => b.name(i),
                    (None, Some(o)) => o,
                };
                if cap.is_some_and(|c| next >= c) {
                    // The run's changes from here on are in a part this
                    // page does not read: the next page goes on from here.
                    page_out.out.next_after = page_out.last_examined;
                    return Ok(page_out.out);
                }
                let from_overlay = overlay_next.is_some() && di < overlay.len();
                let flow = match (base, from_overlay) {
                    (Some(b), true) if overlay.name(di) <= b.name(i) => {
                        if overlay.name(di) == b.name(i) {
                            i += 1;
                        }
                        di += 1;
                        let (d, j) = overlay.entries[di - 1];
                        page_out.offer_change(d, j)
                    }
                    (Some(b), _) => {
                        i += 1;
                        page_out.offer(b.name(i - 1), b.media_type(i - 1), b.json(i - 1))
                    }
                    (None, _) => {
                        di += 1;
                        let (d, j) = overlay.entries[di - 1];
                        page_out.offer_change(d, j)
                    }
                };
                if flow == Flow::Stop {
                    return Ok(page_out.out);
                }
            }
            // This shard is done; is there more in the run?
            match refs.get(k + 1) {
                None => return Ok(page_out.out),
                Some(next) if !next.first.starts_with(prefix) && next.first.as_str() > prefix => {
                    return Ok(page_out.out)
                }
                Some(_) => {}
            }
        }
        page_out.out.next_after = page_out.last_examined;
        Ok(page_out.out)
    }
}

/// The engine's cached reads of one snapshot version, for an update
/// ([`crate::serving::update`]).
pub struct VersionLoader<'a, S> {
    pub engine: &'a ReadEngine,
    pub store: &'a S,
    pub manifest: &'a Manifest,
}

impl<S: ObjectStore> ShardLoader for VersionLoader<'_, S> {
    async fn shard(&self, r: &ShardRef) -> Result<Arc<Shard>, ReadError> {
        self.engine.shard(self.store, self.manifest, r).await
    }

    async fn page(&self, hash: &str) -> Result<Arc<DirectoryPage>, ReadError> {
        self.engine.page(self.store, hash).await
    }

    async fn delta(&self, r: &DeltaRef) -> Result<Arc<Delta>, ReadError> {
        self.engine.delta(self.store, r).await
    }
}
