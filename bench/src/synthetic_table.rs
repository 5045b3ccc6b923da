//! The synthetic table behind the export writer's [`MediaStore`] port, for
//! the reconciliation benchmark: a parallel Scan returns it in pages, in
//! hash order (a permutation of the names), each page after a DynamoDB-like
//! latency, generated as it is read so that the benchmark's memory is the
//! export writer's, not the table's.
//!
//! `changed` items (spread evenly over the table) carry one more label:
//! the table after a stream of changes. The benchmark only scans; the
//! other operations are not part of a reconciliation and refuse.

use crate::synthetic;
use futures::stream::{self, BoxStream, StreamExt};
use media_query_domain::dynamo::Item;
use media_query_domain::{ListQuery, MediaRecord, OrderKey};
use media_query_lambda::store::{MediaStore, PendingVideo, StoreError, Write};
use std::time::Duration;

/// Items a Scan page holds (DynamoDB's 1 MB of items of this size).
pub const PAGE_ITEMS: u64 = 4_000;

pub struct SyntheticTable {
    pub items: u64,
    /// Items 0, n/changed, 2n/changed... carry the label `Changed`.
    pub changed: u64,
    pub page_latency: Duration,
}

impl SyntheticTable {
    /// Item `i` as the table holds it now.
    pub fn record(&self, i: u64) -> MediaRecord {
        let mut r = synthetic::record(i, self.items);
        if self.is_changed(i) {
            r.labels.push("Changed".into());
        }
        r.event_order = Some(OrderKey::from_sequencer("1").expect("a sequencer"));
        r
    }

    pub fn is_changed(&self, i: u64) -> bool {
        self.changed > 0 && i % (self.items / self.changed).max(1) == 0
    }

    /// The `k`-th item a Scan returns: a permutation of the names.
    fn scan_order(&self, k: u64) -> u64 {
        (k.wrapping_mul(2_654_435_761) + 12_345) % self.items
    }
}

fn refused<T>() -> Result<T, StoreError> {
    Err(StoreError::Corrupt(
        "the synthetic table only answers Scans".into(),
    ))
}

impl MediaStore for SyntheticTable {
    async fn put_if_newer(&self, _: &MediaRecord) -> Result<Write, StoreError> {
        refused()
    }
    async fn put_if_current(&self, _: &MediaRecord, _: &OrderKey) -> Result<Write, StoreError> {
        refused()
    }
    async fn get(&self, name: &str) -> Result<Option<MediaRecord>, StoreError> {
        let _ = name;
        refused()
    }
    async fn list(&self, _: &ListQuery) -> Result<Vec<MediaRecord>, StoreError> {
        refused()
    }
    async fn list_page(
        &self,
        _: &ListQuery,
        _: Option<Item>,
    ) -> Result<(Vec<MediaRecord>, Option<Item>), StoreError> {
        refused()
    }
    fn scan_pages(&self, segments: u32) -> BoxStream<'_, Result<Vec<Item>, StoreError>> {
        let segments = u64::from(segments.max(1));
        let pages = self.items.div_ceil(PAGE_ITEMS);
        let per_segment = pages.div_ceil(segments);
        let streams = (0..segments).map(move |s| {
            stream::iter(s * per_segment..((s + 1) * per_segment).min(pages)).then(
                move |page| async move {
                    tokio::time::sleep(self.page_latency).await;
                    let from = page * PAGE_ITEMS;
                    let to = (from + PAGE_ITEMS).min(self.items);
                    Ok((from..to)
                        .map(|k| self.record(self.scan_order(k)).to_item())
                        .collect())
                },
            )
        });
        stream::select_all(streams.map(StreamExt::boxed)).boxed()
    }
    async fn record_job(&self, _: &str, _: &OrderKey, _: &str) -> Result<Write, StoreError> {
        refused()
    }
    async fn pending_before(&self, _: u64) -> Result<Vec<PendingVideo>, StoreError> {
        refused()
    }
}
