//! The full rebuild (reconciliation) at scale: `rebuild-bench SIZES`
//! (default 1000000,10000000). The synthetic table arrives in hash order,
//! as a Scan returns it, as export-layout lines; it goes through the
//! export writer's bounded external sort ([`media_query_lambda::spill`],
//! 128 MiB chunks spilled under `target/`) and the streaming snapshot
//! builder, whose shards are gzip'd and counted as they are cut (not
//! kept). Prints the time of each phase; run it under `/usr/bin/time -v`
//! (scripts/bench-rebuild.sh does) for the peak memory.

use media_query_bench::synthetic;
use media_query_domain::dynamo::{export_line, parse_export_line};
use media_query_domain::serving::build::Builder;
use media_query_domain::MediaRecord;
use media_query_lambda::handlers::export::SORT_CHUNK_BYTES;
use media_query_lambda::spill::SpillSorter;
use std::time::Instant;

fn main() {
    let sizes = media_query_bench::parse_sizes(
        &std::env::args()
            .nth(1)
            .unwrap_or_else(|| "1000000,10000000".into()),
    );
    let spill_dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-spill");
    println!("| items | scan + sort (spill) | merge + build | total | spilled | shards | shard bytes (gzip) |");
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        let started = Instant::now();
        let mut sorter = SpillSorter::new(Some(spill_dir.clone()), SORT_CHUNK_BYTES).unwrap();
        for k in 0..n {
            // A permutation of 0..n: the order a Scan would return.
            let i = (k * 2_654_435_761 + 12_345) % n;
            let r = synthetic::record(i, n);
            sorter
                .push(r.name.clone(), export_line(&r.to_item()).into_bytes())
                .unwrap();
        }
        let spilled = sorter.spilled_bytes;
        let sorted_at = started.elapsed();
        let mut builder = Builder::default();
        let (mut shards, mut bytes) = (0u64, 0u64);
        for entry in sorter.into_sorted().unwrap() {
            let (_, line) = entry.unwrap();
            let item = parse_export_line(std::str::from_utf8(&line).unwrap()).unwrap();
            let record = MediaRecord::from_item(&item).unwrap();
            builder.push(&record).unwrap();
            for (_, gz) in builder.take_objects() {
                shards += 1;
                bytes += gz.len() as u64;
            }
        }
        let (manifest, rest) = builder.finish("t");
        shards += rest.len() as u64;
        bytes += rest.iter().map(|(_, gz)| gz.len() as u64).sum::<u64>();
        let total = started.elapsed();
        assert_eq!(manifest.item_count, n);
        println!(
            "| {n} | {:.1} s | {:.1} s | {:.1} s | {:.0} MB | {shards} | {:.0} MB |",
            sorted_at.as_secs_f64(),
            (total - sorted_at).as_secs_f64(),
            total.as_secs_f64(),
            spilled as f64 / 1e6,
            bytes as f64 / 1e6
        );
    }
}
