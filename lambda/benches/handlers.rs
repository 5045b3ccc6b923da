//! Per-event handler cost, without the network: the handlers run against
//! the in-memory store and a fixed labeler.

use criterion::{criterion_group, criterion_main, Criterion};
use media_query_domain::labels::DetectedLabel;
use media_query_lambda::config::Config;
use media_query_lambda::handlers::api::respond;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::rekognition::FixedLabeler;
use media_query_lambda::store::MemoryStore;
use serde_json::json;

fn event(key: &str, name: &str, seq: u64) -> serde_json::Value {
    json!({"Records": [{"eventTime": "2026-11-24T18:45:47.123Z", "eventName": name,
        "s3": {"bucket": {"name": "media"}, "object": {"key": key, "size": 1024, "sequencer": format!("{seq:X}")}}}]})
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let config = Config::for_table("media");
    let labels: Vec<_> = [
        "Animal",
        "Canine",
        "Dog",
        "German Shepherd",
        "Mammal",
        "Pet",
        "Collie",
    ]
    .iter()
    .map(|n| DetectedLabel::new(*n, 85.0))
    .collect();
    let labeler = FixedLabeler::new(labels);
    let store = MemoryStore::new();
    let mut seq = 1u64;
    c.bench_function("object-created image event", |b| {
        b.iter(|| {
            seq += 1;
            let e = event(
                &format!("photos/img{}.jpg", seq % 1000),
                "ObjectCreated:Put",
                seq,
            );
            rt.block_on(handle_s3_event(
                Role::Created,
                &config,
                &store,
                &labeler,
                &e,
            ))
            .unwrap()
        })
    });
    c.bench_function("object-removed event", |b| {
        b.iter(|| {
            seq += 1;
            let e = event(
                &format!("photos/img{}.jpg", seq % 1000),
                "ObjectRemoved:Delete",
                seq,
            );
            rt.block_on(handle_s3_event(
                Role::Removed,
                &config,
                &store,
                &labeler,
                &e,
            ))
            .unwrap()
        })
    });
    c.bench_function("read-api GET /?label=Dog over 1000 items", |b| {
        b.iter(|| rt.block_on(respond(&store, "GET", "/", Some("label=Dog"))))
    });
}

criterion_group!(handlers, benches);
criterion_main!(handlers);
