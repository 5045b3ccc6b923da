//! Benchmark support for the read path at scale.
//!
//! moto is far too slow to hold millions of items, so large tables are
//! generated here, natively, as serving snapshots on local disk, and read
//! through [`DirStore`], an `ObjectStore` over files: the same trait the
//! Worker implements over S3 GETs and the Lambda over the SDK. Everything
//! above the trait (the read engine, the responder) is the production code.
//!
//! * [`synthetic`]: a deterministic table of any size, generated in name
//!   order without holding it in memory.
//! * [`DirStore`]: objects as files, with ETags for the pointer.
//! * [`generate`]: builds and writes a snapshot once per size (stamped).

pub mod latency_bucket;
pub mod synthetic;
pub mod synthetic_table;

use media_query_domain::ports::{Fetched, ObjectStore};
use media_query_domain::serving::build::Builder;
use media_query_domain::serving::{object_key, pointer_key};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Changes whenever the builder would cut a different snapshot, so that
/// stale generated snapshots are rebuilt.
const LAYOUT: &str = "content-defined-cuts/1";

/// Table sizes from a comma-separated list (`1000000,10000000`), as the
/// benchmarks take them from their argument or `BENCH_ITEMS`.
pub fn parse_sizes(list: &str) -> Vec<u64> {
    list.split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// The snapshot prefix the benchmarks use.
pub const PREFIX: &str = "bench";

/// Objects as files under a root directory, keyed by their S3 key.
pub struct DirStore {
    pub root: PathBuf,
    /// Bytes read, for reports.
    pub bytes_read: AtomicU64,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore {
            root: root.into(),
            bytes_read: AtomicU64::new(0),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

impl ObjectStore for DirStore {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String> {
        let path = self.path(key);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Fetched::Missing),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let etag = format!("\"{:x}-{:x}\"", meta.len(), modified);
        if if_none_match == Some(etag.as_str()) {
            return Ok(Fetched::NotModified);
        }
        let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.bytes_read
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(Fetched::Object {
            body,
            etag: Some(etag),
        })
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    pub root: PathBuf,
    pub items: u64,
    pub shards: u64,
    pub shard_bytes: u64,
    pub objects: u64,
    pub seconds: f64,
}

/// Writes the serving snapshot of the synthetic table of `items` items
/// under `dir`, unless a stamp says it is there already.
pub fn generate(dir: &Path, items: u64) -> std::io::Result<Generated> {
    let stamp = dir.join("stamp.json");
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if v["items"].as_u64() == Some(items) && v["layout"].as_str() == Some(LAYOUT) {
                return Ok(Generated {
                    root: dir.to_path_buf(),
                    items,
                    shards: v["shards"].as_u64().unwrap_or(0),
                    shard_bytes: v["shardBytes"].as_u64().unwrap_or(0),
                    objects: v["objects"].as_u64().unwrap_or(0),
                    seconds: v["seconds"].as_f64().unwrap_or(0.0),
                });
            }
        }
    }
    let started = std::time::Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    let objects_dir = dir.join(object_key(PREFIX, "x"));
    std::fs::create_dir_all(objects_dir.parent().expect("a parent"))?;
    let mut builder = Builder::default();
    let mut objects = 0u64;
    let mut write = |objs: Vec<(String, Vec<u8>)>| -> std::io::Result<()> {
        for (hash, bytes) in objs {
            std::fs::write(dir.join(object_key(PREFIX, &hash)), bytes)?;
            objects += 1;
        }
        Ok(())
    };
    for (i, record) in synthetic::records(items).enumerate() {
        builder.push(&record).expect("synthetic names are sorted");
        if i % 4096 == 0 {
            write(builder.take_objects())?;
        }
    }
    let (manifest, rest) = builder.finish("2026-11-25T00:00:00.000Z");
    write(rest)?;
    std::fs::write(
        dir.join(pointer_key(PREFIX)),
        serde_json::to_vec(&manifest).expect("serialise"),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let g = Generated {
        root: dir.to_path_buf(),
        items,
        shards: manifest.shard_count,
        shard_bytes: manifest.shard_bytes,
        objects,
        seconds,
    };
    std::fs::write(
        &stamp,
        serde_json::json!({"items": items, "layout": LAYOUT, "shards": g.shards, "shardBytes": g.shard_bytes, "objects": objects, "seconds": seconds}).to_string(),
    )?;
    Ok(g)
}

/// Writes `count` alternative pointers for the snapshot under `dir`,
/// `<prefix>/serving/current-<k>.json`, each the generated snapshot plus
/// its own delta of about its full size (changes to `changes` items spread
/// over the table, each given the label `Live <k>`): what the edge
/// benchmark swaps in as the pointer every second, as a busy stream would.
/// Returns the deltas' raw sizes.
pub fn generate_live_deltas(
    dir: &Path,
    items: u64,
    count: u64,
    changes: u64,
) -> std::io::Result<Vec<u64>> {
    use media_query_domain::engine::{ReadEngine, VersionLoader};
    use media_query_domain::ports::ObjectSink;
    use media_query_domain::serving::manifest::Manifest;
    use media_query_domain::serving::update::{apply, Policy};
    struct Files<'a>(&'a Path);
    impl ObjectSink for Files<'_> {
        async fn put(&self, objects: Vec<(String, Vec<u8>)>) -> Result<(), String> {
            for (hash, bytes) in objects {
                std::fs::write(self.0.join(object_key(PREFIX, &hash)), bytes)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }
    let pointer = dir.join(pointer_key(PREFIX));
    let base = Manifest::parse("pointer", &std::fs::read(&pointer)?)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let store = DirStore::new(dir);
    let engine = ReadEngine::new(PREFIX, f64::INFINITY, 64 << 20);
    let loader = VersionLoader {
        engine: &engine,
        store: &store,
        manifest: &base,
    };
    // Every change stays in the delta.
    let policy = Policy {
        delta_max_bytes: usize::MAX,
        ..Policy::default()
    };
    let mut sizes = Vec::new();
    for k in 0..count {
        let edits: std::collections::BTreeMap<String, Option<media_query_domain::MediaRecord>> = (0
            ..changes)
            .map(|j| {
                let i = (j * (items / changes).max(1) + k) % items;
                let mut r = synthetic::record(i, items);
                r.labels.push(format!("Live {k}"));
                (r.name.clone(), Some(r))
            })
            .collect();
        let updated = futures::executor::block_on(apply(
            &loader,
            &base,
            &edits,
            policy,
            "2026-12-04T00:00:00.000Z",
            &Files(dir),
        ))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        sizes.push(updated.manifest.delta.as_ref().map_or(0, |d| d.raw_bytes));
        let path = dir.join(format!("{PREFIX}/serving/current-{k}.json"));
        std::fs::write(
            path,
            serde_json::to_vec(&updated.manifest).expect("serialise"),
        )?;
    }
    Ok(sizes)
}
