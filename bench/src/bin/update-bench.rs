//! Applying batches of changes to a generated serving snapshot
//! (`update-bench SIZES`, default 1000000,10000000): for batches of 1, 100
//! and 1,000 changes, spread uniformly over the names or all on one hot
//! label, the time to compute the update (reading the directory and the
//! touched shards from local disk, re-cutting, gzip), and what it would
//! write. Nothing is written: the snapshot on disk stays as generated.

use futures::executor::block_on;
use media_query_bench::{generate, synthetic, DirStore, PREFIX};
use media_query_domain::engine::{ReadEngine, VersionLoader};
use media_query_domain::serving::manifest::{Manifest, DIRECTORY_PAGE_BYTES};
use media_query_domain::serving::pointer_key;
use media_query_domain::serving::update::apply;
use media_query_domain::MediaRecord;
use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "1000000,10000000".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let root =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-snapshots");
    println!("| items | batch | spread | time | shards read | objects written | bytes written |");
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        let g = generate(&root.join(n.to_string()), n).expect("generate");
        let store = DirStore::new(&g.root);
        let m: Manifest =
            serde_json::from_slice(&std::fs::read(g.root.join(pointer_key(PREFIX))).unwrap())
                .unwrap();
        for batch in [1u64, 100, 1000] {
            for hot in [false, true] {
                let mut changes: BTreeMap<String, Option<MediaRecord>> = BTreeMap::new();
                for k in 0..batch {
                    // Spread over the table, deterministically.
                    let i = (k * 2_654_435_761 + 12_345) % n;
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
                        r.labels[LAST] = format!("Relabelled {}", k % 50);
                    }
                    changes.insert(r.name.clone(), Some(r));
                }
                let engine = ReadEngine::new(PREFIX, f64::INFINITY, 256 << 20);
                let loader = VersionLoader {
                    engine: &engine,
                    store: &store,
                    manifest: &m,
                };
                let started = Instant::now();
                let u = block_on(apply(&loader, &m, &changes, DIRECTORY_PAGE_BYTES, "t")).unwrap();
                let took = started.elapsed();
                let bytes: usize = u.objects.iter().map(|(_, b)| b.len()).sum::<usize>()
                    + serde_json::to_vec(&u.manifest).unwrap().len();
                println!(
                    "| {n} | {batch} | {} | {:.2} s | {} | {} | {:.1} MB |",
                    if hot { "one hot label" } else { "uniform" },
                    took.as_secs_f64(),
                    u.shards_read,
                    u.objects.len() + 1,
                    bytes as f64 / 1e6
                );
            }
        }
    }
}

const LAST: usize = synthetic::LABELS_PER_ITEM - 1;
