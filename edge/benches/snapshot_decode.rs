//! Snapshot decode cost: gunzip + parse + domain decode of one data file
//! with 10k and 100k items (natively; the Worker runs the same code in wasm).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{BenchmarkId, Criterion};
    use flate2::write::GzEncoder;
    use media_query_domain::dynamo::export_line;
    use media_query_domain::{MediaRecord, MediaType};
    use media_query_edge::snapshot::decode_data_file;
    use std::io::Write;

    fn data_file(items: usize) -> Vec<u8> {
        let labels = [
            "Animal",
            "Canine",
            "Dog",
            "German Shepherd",
            "Mammal",
            "Pet",
            "Collie",
        ];
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..items {
            let r = MediaRecord::ready(
                format!("photos/{i:06}.jpg"),
                MediaType::Image,
                labels.iter().map(|s| s.to_string()).collect(),
            );
            writeln!(gz, "{}", export_line(&r.to_item())).unwrap();
        }
        gz.finish().unwrap()
    }

    pub fn bench(c: &mut Criterion) {
        let mut group = c.benchmark_group("snapshot decode");
        group.sample_size(10);
        for n in [10_000, 100_000] {
            let gz = data_file(n);
            println!("{n} items: {} bytes gzipped", gz.len());
            group.bench_with_input(BenchmarkId::from_parameter(n), &gz, |b, gz| {
                b.iter(|| assert_eq!(decode_data_file("bench", gz).unwrap().len(), n))
            });
        }
        group.finish();
    }

    criterion::criterion_group!(benches, bench);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

/// The benchmark is native only; wasm32 builds (clippy) get an empty main.
#[cfg(target_arch = "wasm32")]
fn main() {}
