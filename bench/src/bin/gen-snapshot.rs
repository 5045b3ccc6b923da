//! Writes the serving snapshot of a synthetic table to a directory:
//! `gen-snapshot ITEMS DIR`. The edge benchmark serves it over HTTP.

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
    Ok(())
}
