//! A synthetic media table of any size, deterministic and in name order.
//!
//! Names are `a000/00000000.jpg`: 100 "albums" (so `startswith=a042/`
//! selects 1%), numbered within each. Each item has 6 labels, as the issue
//! measured: `Dog` on 10% of items, the rest drawn from 300 labels with a
//! skewed (Zipf-like) popularity, as real label vocabularies are. 10% of
//! items are videos.

use media_query_domain::{MediaRecord, MediaType};

/// Labels per item.
pub const LABELS_PER_ITEM: usize = 6;
const VOCABULARY: usize = 300;
const ALBUMS: u64 = 100;

/// SplitMix64: a tiny, well-known generator; enough for synthetic data.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn label_name(i: usize) -> String {
    const WORDS: [&str; 12] = [
        "Animal",
        "Plant",
        "Vehicle",
        "Food",
        "Building",
        "Person",
        "Sky",
        "Water",
        "Furniture",
        "Clothing",
        "Tool",
        "Toy",
    ];
    format!("{} {}", WORDS[i % WORDS.len()], i / WORDS.len())
}

/// The name of item `i` of a table of `n` items (sorted by `i`).
pub fn name(i: u64, n: u64) -> String {
    let per_album = n.div_ceil(ALBUMS).max(1);
    let (album, index) = (i / per_album, i % per_album);
    let ext = if mix(i ^ 0xF00D) % 10 == 0 {
        "mp4"
    } else {
        "jpg"
    };
    format!("a{album:03}/{index:08}.{ext}")
}

/// Item `i` of a table of `n` items.
pub fn record(i: u64, n: u64) -> MediaRecord {
    let name = name(i, n);
    let media_type = if name.ends_with(".mp4") {
        MediaType::Video
    } else {
        MediaType::Image
    };
    let mut labels = Vec::with_capacity(LABELS_PER_ITEM);
    if mix(i) % 10 == 0 {
        labels.push("Dog".to_string());
    }
    let mut k = 0u64;
    while labels.len() < LABELS_PER_ITEM {
        k += 1;
        // Skewed: the square of a uniform draw favours small indices.
        let u = (mix(i.wrapping_mul(31).wrapping_add(k)) % 1_000_000) as f64 / 1_000_000.0;
        let l = label_name(((u * u) * VOCABULARY as f64) as usize);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    MediaRecord::ready(name, media_type, labels)
}

/// Every item of a table of `n` items, in name order.
pub fn records(n: u64) -> impl Iterator<Item = MediaRecord> {
    (0..n).map(move |i| record(i, n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_sorted_and_unique() {
        for n in [1, 7, 1000] {
            let names: Vec<String> = (0..n).map(|i| super::name(i, n)).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{n}");
        }
    }
}
