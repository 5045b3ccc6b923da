//! The export writer's maintenance paths at scale, against S3-like latency:
//! `reconcile-bench PHASE ITEMS` with `BENCH_S3_LATENCY_MS` (default 20 ms
//! on every GET, PUT, LIST page and DELETE) and `BENCH_SCAN_LATENCY_MS`
//! (default 20 ms a Scan page).
//!
//! The export writer's own code runs (`write_snapshot`, `apply_changes`),
//! over the synthetic table ([`SyntheticTable`], generated as it is
//! scanned) and a bucket of files with the latency injected
//! ([`LatencyBucket`]), under `target/bench-reconcile/<ITEMS>/`. Phases,
//! each its own process so that `/usr/bin/time` gives its peak memory
//! (`scripts/bench-reconcile.sh` runs them in turn):
//!
//! * `first`: the first full build into an empty bucket;
//! * `steady`: reconciliation of an unchanged table (the hourly run);
//! * `gc`: 10 stream batches of 1,000 changes spread over the table, then
//!   two reconciliations with no grace period (the first publishes, the
//!   second collects what the versions before it used).

use media_query_bench::latency_bucket::LatencyBucket;
use media_query_bench::synthetic_table::SyntheticTable;
use media_query_domain::serving::objects_prefix;
use media_query_lambda::handlers::export::write_snapshot;
use media_query_lambda::handlers::serving::{apply_changes, Published};
use media_query_lambda::handlers::writer::SnapshotTarget;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PREFIX: &str = "bench";
const CHANGES: u64 = 10_000;
const BATCH: u64 = 1_000;

fn millis(var: &str) -> Duration {
    Duration::from_millis(
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    )
}

fn report(phase: &str, items: u64, started: Instant, bucket: &LatencyBucket, p: &Published) {
    let (bytes, objects) = bucket.size(&objects_prefix(PREFIX));
    println!(
        "| {items} | {phase} | {:.1} s | {} | written {} objects, deleted {} | drift {} | bucket: {objects} objects, {:.0} MB; live snapshot {:.0} MB |",
        started.elapsed().as_secs_f64(),
        bucket.requests.summary(),
        p.objects_written,
        p.objects_deleted,
        p.drift.map_or(0, |d| d.total()),
        bytes as f64 / 1e6,
        p.manifest.shard_bytes as f64 / 1e6,
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let phase = args.next().unwrap_or_else(|| "first".into());
    let items: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/bench-reconcile/{items}"));
    // The export writer spills its sort to the temporary directory.
    std::env::set_var("TMPDIR", root.with_extension("spill"));
    std::fs::create_dir_all(root.with_extension("spill")).unwrap();
    let bucket = LatencyBucket::new(&root, millis("BENCH_S3_LATENCY_MS"));
    let mut table = SyntheticTable {
        items,
        changed: 0,
        page_latency: millis("BENCH_SCAN_LATENCY_MS"),
    };
    let mut target = SnapshotTarget {
        bucket: "bench".into(),
        prefix: PREFIX.into(),
        table_arn: "arn:aws:dynamodb:us-east-1::table/media".into(),
        gc_grace_seconds: 7200,
    };
    let started = Instant::now();
    match phase.as_str() {
        "first" => {
            let _ = std::fs::remove_dir_all(&root);
            let (_, p) = write_snapshot(&table, &bucket, &target).await.unwrap();
            report("first build", items, started, &bucket, &p);
        }
        "steady" => {
            let (_, p) = write_snapshot(&table, &bucket, &target).await.unwrap();
            report("steady state", items, started, &bucket, &p);
        }
        "gc" => {
            table.changed = CHANGES;
            let changed: Vec<u64> = (0..items).filter(|&i| table.is_changed(i)).collect();
            for batch in changed.chunks(BATCH as usize) {
                let changes: BTreeMap<String, _> = batch
                    .iter()
                    .map(|&i| {
                        let r = table.record(i);
                        (r.name.clone(), Some(r))
                    })
                    .collect();
                apply_changes(&changes, &bucket, &target).await.unwrap();
            }
            println!(
                "| {items} | {} stream batches | {:.1} s | {} |",
                changed.len().div_ceil(BATCH as usize),
                started.elapsed().as_secs_f64(),
                bucket.requests.summary()
            );
            target.gc_grace_seconds = 0;
            for run in ["reconcile", "reconcile again"] {
                let started = Instant::now();
                let (_, p) = write_snapshot(&table, &bucket, &target).await.unwrap();
                report(run, items, started, &bucket, &p);
            }
        }
        other => panic!("unknown phase {other}: first, steady or gc"),
    }
}
