//! Applying batches of changes to a generated serving snapshot
//! (`update-bench SIZES`, default 1000000,10000000), with the production
//! update code (`domain::serving::update::apply`) over local files.
//!
//! 1. **One batch** of 1, 100 and 1,000 changes, spread uniformly over the
//!    names or all on one hot label, on the snapshot as generated (empty
//!    delta): merged into the delta (the normal path), merged into the
//!    level (what a batch costs when the delta is full), and compacted into
//!    the shards (what it would cost without the level).
//! 2. **A sustained stream**: batches of 1,000 uniform changes, one after
//!    the other, each reading what the previous ones wrote, until the level
//!    is full and then for [`STEADY_BATCHES`] more, each of which also
//!    compacts a slice of the level into the shards: the cost of every
//!    batch, and the average and worst of each phase.
//!
//! Objects are "written" to memory over the generated files; the snapshot
//! on disk stays as generated. `BENCH_GET_LATENCY_MS` adds that much
//! latency to every object read (S3's first-byte latency is about 10-20
//! ms), so what an update waits on its reads shows.

use futures::executor::block_on;
use media_query_bench::{generate, synthetic, DirStore, PREFIX};
use media_query_domain::engine::{ReadEngine, VersionLoader};
use media_query_domain::ports::ObjectSink;
use media_query_domain::ports::{Fetched, ObjectStore};
use media_query_domain::serving::build::Object;
use media_query_domain::serving::manifest::Manifest;
use media_query_domain::serving::update::{apply, Policy, Updated};
use media_query_domain::serving::{object_key, pointer_key};
use media_query_domain::MediaRecord;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The generated files, with what updates wrote on top (in memory).
struct Overlay {
    files: DirStore,
    written: Mutex<HashMap<String, Vec<u8>>>,
    latency: Duration,
}

/// A timer for the single-threaded executor: a thread sleeps, then wakes
/// the task, so reads in flight together wait together.
struct Delay {
    state: std::sync::Arc<Mutex<(bool, Option<std::task::Waker>)>>,
    after: Option<Duration>,
}

impl std::future::Future for Delay {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut state = self.state.lock().unwrap();
        if state.0 {
            return std::task::Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        drop(state);
        if let Some(after) = self.after.take() {
            let shared = self.state.clone();
            std::thread::spawn(move || {
                std::thread::sleep(after);
                let mut state = shared.lock().unwrap();
                state.0 = true;
                if let Some(w) = state.1.take() {
                    w.wake();
                }
            });
        }
        std::task::Poll::Pending
    }
}

impl ObjectStore for Overlay {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String> {
        if !self.latency.is_zero() {
            Delay {
                state: Default::default(),
                after: Some(self.latency),
            }
            .await;
        }
        let mine = self.written.lock().unwrap().get(key).cloned();
        match mine {
            Some(body) => Ok(Fetched::Object { body, etag: None }),
            None => self.files.get(key, if_none_match).await,
        }
    }
}

impl ObjectSink for Overlay {
    async fn put(&self, objects: Vec<Object>) -> Result<(), String> {
        let mut w = self.written.lock().unwrap();
        for (hash, bytes) in objects {
            w.insert(object_key(PREFIX, &hash), bytes);
        }
        Ok(())
    }
}

/// `batch` changes, deterministic; `round` varies them between batches.
fn changes(n: u64, batch: u64, hot: bool, round: u64) -> BTreeMap<String, Option<MediaRecord>> {
    let mut changes = BTreeMap::new();
    for k in 0..batch {
        // Spread over the table, deterministically.
        let i = ((round * batch + k) * 2_654_435_761 + 12_345) % n;
        let mut r = synthetic::record(i, n);
        if hot {
            // Toggle the hot label.
            match r.labels.iter().position(|l| l == "Dog") {
                Some(p) => {
                    r.labels.remove(p);
                }
                None => r.labels.push("Dog".into()),
            }
        } else {
            r.labels[LAST] = format!("Relabelled {}", (k + round) % 50);
        }
        changes.insert(r.name.clone(), Some(r));
    }
    changes
}

/// Applies one batch to `m`; returns the update, its time, and the bytes
/// written including the new root manifest.
fn run(
    store: &Overlay,
    m: &Manifest,
    changes: &BTreeMap<String, Option<MediaRecord>>,
    policy: Policy,
) -> (Updated, Duration, u64) {
    let engine = ReadEngine::new(PREFIX, f64::INFINITY, 64 << 20);
    let loader = VersionLoader {
        engine: &engine,
        store,
        manifest: m,
    };
    let started = Instant::now();
    let u = block_on(apply(&loader, m, changes, policy, "t", store)).unwrap();
    let root = serde_json::to_vec(&u.manifest).unwrap().len() as u64;
    let took = started.elapsed();
    let bytes = u.bytes_written + root;
    (u, took, bytes)
}

fn main() {
    let sizes = media_query_bench::parse_sizes(
        &std::env::args()
            .nth(1)
            .unwrap_or_else(|| "1000000,10000000".into()),
    );
    let root =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-snapshots");
    let compact_now = Policy::compact_now(Policy::default().page_bytes);
    let level_now = Policy {
        delta_max_bytes: 0,
        ..Policy::default()
    };
    for n in sizes {
        let g = generate(&root.join(n.to_string()), n).expect("generate");
        let latency = std::env::var("BENCH_GET_LATENCY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::ZERO, Duration::from_millis);
        let fresh = || Overlay {
            files: DirStore::new(&g.root),
            written: Mutex::new(HashMap::new()),
            latency,
        };
        let m: Manifest =
            serde_json::from_slice(&std::fs::read(g.root.join(pointer_key(PREFIX))).unwrap())
                .unwrap();
        println!("\n### {n} items: one batch\n");
        println!(
            "| batch | spread | path | time | shards read | objects written | bytes written |"
        );
        println!("|---|---|---|---|---|---|---|");
        for batch in [1u64, 100, 1000] {
            for hot in [false, true] {
                let c = changes(n, batch, hot, 0);
                let paths = [
                    ("delta", Policy::default()),
                    ("level", level_now),
                    ("compact", compact_now),
                ];
                for (path, policy) in paths {
                    let (u, took, bytes) = run(&fresh(), &m, &c, policy);
                    println!(
                        "| {batch} | {} | {path} | {:.2} s | {} | {} | {:.2} MB |",
                        if hot { "one hot label" } else { "uniform" },
                        took.as_secs_f64(),
                        u.shards_read,
                        u.objects_written + 1,
                        bytes as f64 / 1e6
                    );
                }
            }
        }
        println!("\n### {n} items: batches of 1,000 uniform changes in a row\n");
        println!(
            "| batch | path | delta entries | level parts | parts compacted | time | objects written | bytes written |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let store = fresh();
        let mut m = m.clone();
        // Filling the level, then the steady state: a full level that sheds
        // a slice into the shards on every batch.
        let mut phases = [Phase::default(), Phase::default()];
        let mut round = 0u64;
        while phases[1].batches < STEADY_BATCHES && round < 600 {
            let (u, took, bytes) = run(
                &store,
                &m,
                &changes(n, 1000, false, round),
                Policy::default(),
            );
            round += 1;
            let steady = phases[1].batches > 0 || u.compacted;
            phases[usize::from(steady)].add(took, bytes);
            let path = match (u.compacted, u.level_merged) {
                (true, true) => "level + slice",
                (true, false) => "delta + slice",
                (false, true) => "level",
                (false, false) => "delta",
            };
            println!(
                "| {round} | {path} | {} | {} | {} | {:.2} s | {} | {:.2} MB |",
                u.manifest.delta.as_ref().map_or(0, |d| d.entries),
                u.manifest.level.len(),
                u.parts_compacted,
                took.as_secs_f64(),
                u.objects_written + 1,
                bytes as f64 / 1e6
            );
            m = u.manifest;
        }
        for (name, p) in ["Filling the level", "Steady state (a full level)"]
            .iter()
            .zip(&phases)
        {
            println!(
                "\n{name}: {} batches, {:.2} s and {:.1} MB written per batch of 1,000 on \
                 average; the slowest took {:.1} s, the largest wrote {:.1} MB.",
                p.batches,
                p.time.as_secs_f64() / p.batches.max(1) as f64,
                p.bytes as f64 / 1e6 / p.batches.max(1) as f64,
                p.slowest.as_secs_f64(),
                p.largest as f64 / 1e6
            );
        }
    }
}

/// Batches of the sustained stream measured once the level is full.
const STEADY_BATCHES: u64 = 45;

/// The batches of one phase of the sustained stream.
#[derive(Default)]
struct Phase {
    batches: u64,
    time: Duration,
    bytes: u64,
    slowest: Duration,
    largest: u64,
}

impl Phase {
    fn add(&mut self, took: Duration, bytes: u64) {
        self.batches += 1;
        self.time += took;
        self.bytes += bytes;
        self.slowest = self.slowest.max(took);
        self.largest = self.largest.max(bytes);
    }
}

const LAST: usize = synthetic::LABELS_PER_ITEM - 1;
