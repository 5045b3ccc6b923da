//! The read engine at 10k to 10M items (`BENCH_ITEMS`, default
//! `10000,100000`; `scripts/bench-read.sh` runs every size up to 10M).
//!
//! For each size it generates the serving snapshot on local disk once
//! (under `target/bench-snapshots/`), prints what a request fetches cold
//! and warm, and times with criterion, through the production responder:
//!
//! * `trivial`: a request answered before any data is read (a 400), the
//!   baseline to subtract;
//! * `warm/*`: the request's shards already cached (0 fetches);
//! * `cold/*`: a fresh cache, the manifest already current: the directory
//!   page and shards are read from disk, verified, inflated and decoded;
//! * `first-after-publish`: a fresh engine, pointer included.

use criterion::{criterion_group, BatchSize, Criterion};
use futures::executor::block_on;
use media_query_bench::{generate, synthetic, DirStore, PREFIX};
use media_query_domain::engine::{ReadEngine, DEFAULT_CACHE_BYTES};
use media_query_domain::http::{ApiRequest, Reply, Responder, Settings};
use media_query_domain::ports::Table;
use media_query_domain::{ListQuery, MediaRecord};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// The table is never asked: a snapshot miss would show as a failure.
struct NoTable;
impl Table for NoTable {
    async fn get_item(&self, _: &str) -> Result<Option<MediaRecord>, String> {
        Err("the benchmark has no table".into())
    }
    async fn scan_page(
        &self,
        _: &ListQuery,
        _: Option<media_query_domain::dynamo::Item>,
    ) -> Result<(Vec<MediaRecord>, Option<media_query_domain::dynamo::Item>), String> {
        Err("the benchmark has no table".into())
    }
}

fn sizes() -> Vec<u64> {
    media_query_bench::parse_sizes(
        &std::env::var("BENCH_ITEMS").unwrap_or_else(|_| "10000,100000".into()),
    )
}

fn responder() -> Responder {
    Responder::new(
        ReadEngine::new(PREFIX, 1e12, DEFAULT_CACHE_BYTES),
        Settings::default(),
    )
}

fn ask(r: &Responder, store: &DirStore, path: &str, query: &str) -> Reply {
    let reply = block_on(r.handle(
        store,
        &NoTable,
        ApiRequest {
            method: "GET",
            raw_path: path,
            raw_query: Some(query),
            if_none_match: None,
        },
        0.0,
    ));
    assert!(
        reply.log.is_empty() && (reply.status == 200 || reply.status == 400),
        "{path}?{query}: {} {:?}",
        reply.status,
        reply.log
    );
    reply
}

/// The requests measured: (label, path, query).
fn requests(n: u64) -> Vec<(&'static str, String, String)> {
    let mid = synthetic::name(n / 2, n);
    let deep = media_query_domain::page::encode_cursor("", &synthetic::name(n * 3 / 4, n));
    vec![
        ("get", format!("/{mid}"), String::new()),
        ("page-all", "/".into(), "limit=1000".into()),
        ("page-deep", "/".into(), format!("limit=1000&cursor={deep}")),
        ("page-label", "/".into(), "label=Dog&limit=1000".into()),
        (
            "page-type",
            "/".into(),
            "media-type=video&limit=1000".into(),
        ),
        (
            "page-prefix",
            "/".into(),
            "startswith=a042/&limit=1000".into(),
        ),
        (
            "page-label+type",
            "/".into(),
            "label=Dog&media-type=video&limit=1000".into(),
        ),
        (
            "page-rare-label",
            "/".into(),
            "label=Toy 299&limit=1000".into(),
        ),
    ]
}

fn report(n: u64, store: &DirStore) {
    println!("\n{n} items: objects fetched per request (cold = empty cache, manifest current)");
    for (label, path, query) in requests(n) {
        let r = responder();
        block_on(r.engine.manifest(store, 0.0)).expect("a manifest");
        let before = r.engine.stats.object_fetches.load(Ordering::Relaxed);
        let bytes_before = store.bytes_read.load(Ordering::Relaxed);
        let reply = ask(&r, store, &path, &query);
        let cold = r.engine.stats.object_fetches.load(Ordering::Relaxed) - before;
        let bytes = store.bytes_read.load(Ordering::Relaxed) - bytes_before;
        let before = r.engine.stats.object_fetches.load(Ordering::Relaxed);
        ask(&r, store, &path, &query);
        let warm = r.engine.stats.object_fetches.load(Ordering::Relaxed) - before;
        let items = reply.body.matches("{\"name\"").count();
        println!(
            "  {label:16} cold {cold} fetches ({:.0} KB), warm {warm}; {items} items, {} KB body, next page: {}",
            bytes as f64 / 1e3,
            reply.body.len() / 1000,
            reply.header("link").is_some()
        );
    }
}

fn bench(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-snapshots");
    for n in sizes() {
        let g = generate(&root.join(n.to_string()), n).expect("generate");
        println!(
            "\n{n} items: {} shards, {:.1} MB gzip'd in {} objects (built in {:.1} s)",
            g.shards,
            g.shard_bytes as f64 / 1e6,
            g.objects,
            g.seconds
        );
        let store = DirStore::new(&g.root);
        report(n, &store);
        let mut group = c.benchmark_group(format!("read/{n}"));
        let warm = responder();
        group.bench_function("trivial", |b| b.iter(|| ask(&warm, &store, "/", "limit=0")));
        for (label, path, query) in requests(n) {
            ask(&warm, &store, &path, &query);
            group.bench_function(format!("warm/{label}"), |b| {
                b.iter(|| ask(&warm, &store, &path, &query))
            });
            group.bench_function(format!("cold/{label}"), |b| {
                b.iter_batched(
                    || {
                        let r = responder();
                        block_on(r.engine.manifest(&store, 0.0)).unwrap();
                        r
                    },
                    |r| ask(&r, &store, &path, &query),
                    BatchSize::PerIteration,
                )
            });
        }
        let (path, query) = ("/".to_string(), "label=Dog&limit=1000".to_string());
        group.bench_function("first-after-publish/page-label", |b| {
            b.iter_batched(
                responder,
                |r| ask(&r, &store, &path, &query),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
