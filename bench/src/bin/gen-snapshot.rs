//! Writes the serving snapshot of a synthetic table to a directory:
//! `gen-snapshot ITEMS DIR [LIVE_DELTAS]`. The edge benchmark serves it over
//! HTTP. With LIVE_DELTAS, it also writes that many alternative pointers,
//! each with a full-size delta of its own, which the benchmark swaps in
//! every second.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(items), Some(dir)) = (args.get(1).and_then(|a| a.parse().ok()), args.get(2)) else {
        eprintln!("usage: gen-snapshot ITEMS DIR");
        std::process::exit(2);
    };
    let g = media_query_bench::generate(std::path::Path::new(dir), items)?;
    println!(
        "{} items: {} shards, {:.1} MB gzip'd, {} objects, built in {:.1} s, under {}",
        g.items,
        g.shards,
        g.shard_bytes as f64 / 1e6,
        g.objects,
        g.seconds,
        g.root.display()
    );
    if let Some(count) = args.get(3).and_then(|a| a.parse().ok()) {
        let sizes = media_query_bench::generate_live_deltas(
            std::path::Path::new(dir),
            items,
            count,
            3_000,
        )?;
        let raw: Vec<String> = sizes
            .iter()
            .map(|b| format!("{:.1} MB", *b as f64 / 1e6))
            .collect();
        println!(
            "{count} live deltas of 3,000 changes each, raw: {}",
            raw.join(", ")
        );
    }
    Ok(())
}
