//! The read engine: list and get queries over the serving snapshot, the
//! same code in the Worker (wasm32) and in the Lambda read API (native).
//!
//! # Why it costs what the answer costs
//!
//! A request reads the manifest (cached, re-checked once per TTL with a
//! conditional GET), at most one directory page, and at most
//! [`SHARDS_PER_PAGE`] shards of one run (see [`crate::serving`]). Shards
//! are cut at [`crate::serving::build::SHARD_TARGET_BYTES`], so two of them
//! hold a full page of typical items, and nothing on this path depends on
//! the table's size.
//!
//! A page that spent its shard budget before it was full ends early, with
//! a cursor to go on: that bounds the one over-read (`label` combined with
//! `media-type`, which reads the label's run and skips the other type) to
//! two shards per request. Pages are decided by the snapshot's structure,
//! never by what happens to be cached, so the edge and the Lambda cut the
//! same pages.
//!
//! Decoded shards and directory pages live in a byte-bounded
//! [`cache::LruCache`] per isolate or process, so memory stays bounded
//! whatever the table size. Objects are fetched through [`ObjectStore`]:
//! SigV4 S3 GETs in the Worker, the SDK in Lambda, files in benchmarks.

pub mod cache;

use crate::page::PageRequest;
use crate::query::ListQuery;
use crate::serving::manifest::{
    locate, locate_page, Directory, DirectoryPage, Manifest, ShardRef, Start,
};
use crate::serving::shard::Shard;
use crate::serving::{object_key, open_object, pointer_key, FormatError, Run};
use cache::LruCache;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shards one list request may decode.
pub const SHARDS_PER_PAGE: usize = 2;
/// Default budget of the decoded-object cache.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The answer to a (conditional) GET of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Object { body: Vec<u8>, etag: Option<String> },
    NotModified,
    Missing,
}

/// Reads objects of the snapshot bucket: S3 in production, files in
/// benchmarks. Errors are text: they are logged, never shown to clients.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String>;
}

/// Why the snapshot could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("no serving snapshot is published at {0}")]
    Missing(String),
    #[error("fetching {key} failed: {detail}")]
    Fetch { key: String, detail: String },
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// One page of a list answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// Each item's JSON, in name order.
    pub items: Vec<String>,
    /// Set when more may follow: the name to resume after.
    pub next_after: Option<String>,
}

impl ListPage {
    /// The workshop's JSON array, without re-serialising the items.
    pub fn body(&self) -> String {
        let len = self.items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
        let mut body = String::with_capacity(len);
        body.push('[');
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(item);
        }
        body.push(']');
        body
    }
}

/// Counters, for logs and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Shard and directory-page GETs.
    pub object_fetches: AtomicU64,
    /// Pointer GETs (conditional after the first).
    pub pointer_fetches: AtomicU64,
    pub cache_hits: AtomicU64,
}

#[derive(Debug)]
enum Decoded {
    Shard(Arc<Shard>),
    Page(Arc<DirectoryPage>),
}

#[derive(Debug, Default)]
struct Current {
    manifest: Option<Arc<Manifest>>,
    etag: Option<String>,
    checked_at_ms: f64,
}

/// The engine of one isolate or process.
#[derive(Debug)]
pub struct ReadEngine {
    prefix: String,
    ttl_ms: f64,
    current: Mutex<Current>,
    cache: Mutex<LruCache<Decoded>>,
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
            current: Mutex::new(Current::default()),
            cache: Mutex::new(LruCache::new(cache_bytes)),
            stats: Stats::default(),
        }
    }

    /// Bytes held by decoded objects, and the budget.
    pub fn cache_usage(&self) -> (usize, usize) {
        let c = lock(&self.cache);
        (c.bytes(), c.budget())
    }

    /// The current manifest, re-checked first if the TTL has passed. A
    /// failed check drops the cached manifest, so callers fall back.
    pub async fn manifest<S: ObjectStore>(
        &self,
        store: &S,
        now_ms: f64,
    ) -> Result<Arc<Manifest>, ReadError> {
        let (current, etag) = {
            let c = lock(&self.current);
            if let Some(m) = &c.manifest {
                if now_ms - c.checked_at_ms < self.ttl_ms {
                    return Ok(m.clone());
                }
            }
            (c.manifest.clone(), c.etag.clone())
        };
        let key = pointer_key(&self.prefix);
        self.stats.pointer_fetches.fetch_add(1, Ordering::Relaxed);
        let conditional = current.as_ref().and(etag.as_deref());
        let answer = store.get(&key, conditional).await;
        let mut c = lock(&self.current);
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
                *c = Current {
                    manifest: Some(m.clone()),
                    etag,
                    checked_at_ms: now_ms,
                };
                Ok(m)
            }
            Err(e) => {
                *c = Current::default();
                Err(e)
            }
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
        let hit = lock(&self.cache).get(hash).map(|d| match &*d {
            Decoded::Shard(s) => Decoded::Shard(s.clone()),
            Decoded::Page(p) => Decoded::Page(p.clone()),
        });
        if hit.is_some() {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    async fn shard<S: ObjectStore>(
        &self,
        store: &S,
        m: &Manifest,
        r: &ShardRef,
    ) -> Result<Arc<Shard>, ReadError> {
        if let Some(Decoded::Shard(s)) = self.cached(&r.hash) {
            return Ok(s);
        }
        let max_raw = m.shard_target_bytes as usize * 2 + (1 << 20);
        let raw = self.fetch(store, &r.hash, max_raw).await?;
        let shard = Arc::new(Shard::decode(&object_key(&self.prefix, &r.hash), raw)?);
        let bytes = shard.memory_bytes();
        lock(&self.cache).insert(
            r.hash.clone(),
            Arc::new(Decoded::Shard(shard.clone())),
            bytes,
        );
        Ok(shard)
    }

    async fn page<S: ObjectStore>(
        &self,
        store: &S,
        hash: &str,
    ) -> Result<Arc<DirectoryPage>, ReadError> {
        if let Some(Decoded::Page(p)) = self.cached(hash) {
            return Ok(p);
        }
        let raw = self.fetch(store, hash, 1 << 20).await?;
        let key = object_key(&self.prefix, hash);
        let page: DirectoryPage =
            serde_json::from_slice(&raw).map_err(|e| FormatError::corrupt(&key, e))?;
        if page.entries.is_empty() {
            return Err(FormatError::corrupt(&key, "empty directory page").into());
        }
        let page = Arc::new(page);
        let bytes = raw.len() * 2;
        lock(&self.cache).insert(
            hash.to_string(),
            Arc::new(Decoded::Page(page.clone())),
            bytes,
        );
        Ok(page)
    }

    /// Up to `n` shards of `run` from `start`, in order.
    async fn shards_from<S: ObjectStore>(
        &self,
        store: &S,
        m: &Manifest,
        run: &Run,
        start: Start<'_>,
        n: usize,
    ) -> Result<Vec<ShardRef>, ReadError> {
        let page = match &m.directory {
            Directory::Inline(page) => {
                return Ok(locate(&page.entries, run, start).take(n).cloned().collect())
            }
            Directory::Paged(pages) => match locate_page(pages, run, start) {
                Some(p) => self.page(store, &p.hash).await?,
                None => return Ok(Vec::new()),
            },
        };
        let mut refs: Vec<ShardRef> = locate(&page.entries, run, start).take(n).cloned().collect();
        if refs.len() < n {
            // The run may go on in the next page, whose first entries are here.
            let more = locate(&page.following, run, start).take(n - refs.len());
            refs.extend(more.cloned());
        }
        Ok(refs)
    }

    /// The item named `name` as its JSON, if the snapshot has it.
    pub async fn get<S: ObjectStore>(
        &self,
        store: &S,
        m: &Manifest,
        name: &str,
    ) -> Result<Option<String>, ReadError> {
        let refs = self
            .shards_from(store, m, &Run::Names, Start::AtOrAfter(name), 1)
            .await?;
        let Some(r) = refs.first().filter(|r| r.first.as_str() <= name) else {
            return Ok(None);
        };
        let shard = self.shard(store, m, r).await?;
        Ok(shard.find(name).map(|i| shard.json(i).to_string()))
    }

    /// One page of `GET /`.
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
        let type_filter = query.label.as_ref().and(query.media_type);
        let prefix = query.startswith.as_deref().unwrap_or("");
        let start = match page.after.as_deref() {
            Some(a) if a >= prefix => Start::After(a),
            _ => Start::AtOrAfter(prefix),
        };
        // One more reference than we read, to know whether the run goes on.
        let refs = self
            .shards_from(store, m, &run, start, SHARDS_PER_PAGE + 1)
            .await?;
        let mut out = ListPage::default();
        let mut last_examined: Option<String> = None;
        for (k, r) in refs.iter().enumerate().take(SHARDS_PER_PAGE) {
            let shard = self.shard(store, m, r).await?;
            let from = match start {
                Start::After(a) => shard.upper_bound(a),
                Start::AtOrAfter(p) => shard.lower_bound(p),
            };
            for i in from..shard.len() {
                let name = shard.name(i);
                if !name.starts_with(prefix) {
                    // Sorted: past the prefix's range, nothing more matches.
                    return Ok(out);
                }
                if out.items.len() == page.limit {
                    out.next_after = last_examined;
                    return Ok(out);
                }
                last_examined = Some(name.to_string());
                if type_filter.is_none_or(|t| shard.media_type(i) == t) {
                    out.items.push(shard.json(i).to_string());
                }
            }
            // This shard is done; is there more in the run?
            match refs.get(k + 1) {
                None => return Ok(out),
                Some(next) if !next.first.starts_with(prefix) && next.first.as_str() > prefix => {
                    return Ok(out)
                }
                Some(_) => {}
            }
        }
        out.next_after = last_examined;
        Ok(out)
    }
}

/// The engine's cached reads of one snapshot version, for an update
/// ([`crate::serving::update`]).
pub struct VersionLoader<'a, S> {
    pub engine: &'a ReadEngine,
    pub store: &'a S,
    pub manifest: &'a Manifest,
}

impl<S: ObjectStore> crate::serving::update::ShardLoader for VersionLoader<'_, S> {
    async fn shard(&self, r: &ShardRef) -> Result<Arc<Shard>, ReadError> {
        self.engine.shard(self.store, self.manifest, r).await
    }

    async fn page(&self, hash: &str) -> Result<Arc<DirectoryPage>, ReadError> {
        self.engine.page(self.store, hash).await
    }
}
