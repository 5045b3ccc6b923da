//! The export bucket as files, behind the export writer's [`Bucket`] port,
//! with S3's latency injected on every request and the requests counted by
//! kind: what the reconciliation benchmark publishes to and collects from.
//!
//! Objects are files under a root directory, keyed by their S3 key. The
//! ETag is a hash of the bytes (as S3's is for a single-part PUT), so the
//! pointer's conditional PUT behaves as S3's does for one writer.

use media_query_domain::ports::{Bucket, Condition, Listed, Put, PutMeta};
use media_query_domain::ports::{Fetched, ObjectStore};
use media_query_domain::serving::content_hash;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Requests by kind.
#[derive(Debug, Default)]
pub struct Requests {
    pub gets: AtomicU64,
    pub puts: AtomicU64,
    pub lists: AtomicU64,
    pub deletes: AtomicU64,
    pub bytes_put: AtomicU64,
}

impl Requests {
    pub fn summary(&self) -> String {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} GET, {} PUT ({:.0} MB), {} LIST, {} DELETE",
            n(&self.gets),
            n(&self.puts),
            n(&self.bytes_put) as f64 / 1e6,
            n(&self.lists),
            n(&self.deletes)
        )
    }
}

pub struct LatencyBucket {
    pub root: PathBuf,
    /// Added to every request, as S3's first-byte latency.
    pub latency: Duration,
    pub requests: Requests,
}

impl LatencyBucket {
    pub fn new(root: impl Into<PathBuf>, latency: Duration) -> LatencyBucket {
        LatencyBucket {
            root: root.into(),
            latency,
            requests: Requests::default(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// Bytes stored under `prefix`, and how many objects.
    pub fn size(&self, prefix: &str) -> (u64, u64) {
        let mut total = (0, 0);
        walk(&self.root, &self.root.join(prefix), &mut |_, meta| {
            total.0 += meta.len();
            total.1 += 1;
        });
        total
    }
}

fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &content_hash(body)[..32])
}

/// Calls `f` with the key and metadata of every file under `dir`.
fn walk(root: &Path, dir: &Path, f: &mut impl FnMut(String, std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            walk(root, &path, f);
        } else if let Ok(key) = path.strip_prefix(root) {
            f(key.to_string_lossy().into_owned(), meta);
        }
    }
}

impl ObjectStore for LatencyBucket {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String> {
        self.requests.gets.fetch_add(1, Ordering::Relaxed);
        self.wait().await;
        let body = match std::fs::read(self.path(key)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Fetched::Missing),
            Err(e) => return Err(format!("{key}: {e}")),
        };
        let tag = etag(&body);
        if if_none_match == Some(tag.as_str()) {
            return Ok(Fetched::NotModified);
        }
        Ok(Fetched::Object {
            body,
            etag: Some(tag),
        })
    }
}

impl Bucket for LatencyBucket {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _meta: PutMeta<'_>,
        condition: Condition<'_>,
    ) -> Result<Put, String> {
        self.requests.puts.fetch_add(1, Ordering::Relaxed);
        self.requests
            .bytes_put
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        self.wait().await;
        let path = self.path(key);
        let current = std::fs::read(&path).ok().map(|b| etag(&b));
        if !condition.holds(current.as_deref()) {
            return Ok(Put::PreconditionFailed);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let tag = etag(&body);
        std::fs::write(&path, body).map_err(|e| format!("{key}: {e}"))?;
        Ok(Put::Written { etag: Some(tag) })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, String> {
        let mut listed = Vec::new();
        let dir = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        walk(&self.root, &self.root.join(dir), &mut |key, meta| {
            if key.starts_with(prefix) {
                let last_modified_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as u64);
                listed.push(Listed {
                    key,
                    last_modified_ms,
                });
            }
        });
        // S3 lists 1,000 keys a page.
        let pages = listed.len().div_ceil(1000).max(1) as u64;
        self.requests.lists.fetch_add(pages, Ordering::Relaxed);
        for _ in 0..pages {
            self.wait().await;
        }
        Ok(listed)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), String> {
        self.requests.deletes.fetch_add(1, Ordering::Relaxed);
        self.wait().await;
        for key in keys {
            match std::fs::remove_file(self.path(key)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{key}: {e}")),
            }
        }
        Ok(())
    }
}
