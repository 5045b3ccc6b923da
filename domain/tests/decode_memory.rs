//! The memory a reader needs to open and decode a full-size delta.
//!
//! In a Worker the wasm memory grows to the highest point it ever reached
//! and never shrinks, so what counts is the *peak* while decoding, not
//! what the decoded delta keeps. The peak must be the inflated bytes once
//! (sized from gzip's trailer, not grown by doubling) plus the small
//! per-entry index: no section copied out of the buffer.
//!
//! One test in its own binary, with a counting global allocator, so that
//! nothing else allocates while it measures.

use media_query_domain::media::MediaType;
use media_query_domain::serving::delta::{self, Delta, Edits, DELTA_MAX_BYTES};
use media_query_domain::serving::{content_hash, open_object};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// About `DELTA_MAX_BYTES` of changes over a few runs, with JSON that
/// compresses about as real items do.
fn full_size_edits() -> Edits {
    let mut edits = Edits::new();
    let mut raw = 0usize;
    let mut i = 0u64;
    while raw < DELTA_MAX_BYTES {
        let name = format!("a{:03}/photo-{i:08}.jpg", i % 997);
        let labels: Vec<String> = (0..6)
            .map(|k| format!("\"Label{}\"", (i * 7919 + k * 104_729) % 4_093))
            .collect();
        let json = format!(
            "{{\"name\":\"{name}\",\"type\":\"image\",\"labels\":[{}],\"etag\":\"{:016x}\"}}",
            labels.join(","),
            i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        raw += name.len() * 2 + json.len() + 20;
        let run = ["name", "label:Dog", "label:Cat", "type:image"][(i % 4) as usize];
        edits
            .entry(run.to_string())
            .or_default()
            .insert(name, Some((MediaType::Image, json)));
        i += 1;
    }
    edits
}

#[test]
fn a_full_size_delta_is_decoded_without_copies() {
    let raw = delta::encode(&full_size_edits());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let hash = content_hash(&gz);
    let raw_len = raw.len();
    drop(raw);

    let before = NOW.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let inflated = open_object("k", &hash, &gz, raw_len).unwrap();
    let decoded = Delta::decode("k", inflated).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - before;
    let kept = NOW.load(Ordering::SeqCst) - before;

    let entries: usize = ["name", "label:Dog", "label:Cat", "type:image"]
        .iter()
        .map(|r| decoded.run(r).unwrap().len())
        .sum();
    // The inflated bytes once, plus a generous 64 bytes an entry of index.
    let bound = raw_len + 1 + entries * 64;
    assert!(
        peak <= bound,
        "decoding a {raw_len}-byte delta ({} gzip'd, {entries} entries) peaked at {peak} bytes \
         over what was held before, past {bound}: the raw bytes were held more than once",
        gz.len()
    );
    assert!(kept <= peak && decoded.memory_bytes() >= raw_len);
}
