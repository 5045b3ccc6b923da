//! Unit tests of the update's steps.

use super::read_ahead::ReadAhead;
use super::recut::shards_to_read;
use super::*;
use crate::serving::delta::Edit;
use crate::serving::manifest::ShardRef;
use crate::serving::version::READ_AHEAD;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Pending once, so that loads started together are in flight together.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn the_shards_to_read_are_each_named_once_in_order() {
    let old: Vec<ShardRef> = ["a", "f", "m"]
        .iter()
        .map(|first| ShardRef {
            run: "name".into(),
            first: first.to_string(),
            last: first.to_string(),
            items: 1,
            bytes: 1,
            hash: format!("h{first}"),
        })
        .collect();
    let edits: BTreeMap<String, Edit> = ["b", "c", "d", "g", "h", "z"]
        .iter()
        .map(|n| (n.to_string(), None))
        .collect();
    let hashes: Vec<String> = shards_to_read(&old, &edits)
        .into_iter()
        .map(|r| r.hash)
        .collect();
    assert_eq!(hashes, ["ha", "hf", "hm"]);
}

#[test]
fn read_ahead_loads_a_window_at_once_and_each_object_once() {
    let refs: Vec<ShardRef> = (0..100)
        .map(|i| ShardRef {
            run: "name".into(),
            first: format!("{i:03}"),
            last: format!("{i:03}"),
            items: 1,
            bytes: 1,
            hash: format!("h{i}"),
        })
        .collect();
    let wanted: Vec<ShardRef> = refs.iter().step_by(2).cloned().collect();
    // The same shard twice in a row (byte-identical in two runs).
    let mut order = wanted.clone();
    order.insert(1, wanted[0].clone());
    let (in_flight, most, loads) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let load = |r: ShardRef| {
        let (in_flight, most, loads) = (&in_flight, &most, &loads);
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            YieldOnce(false).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(r.hash))
        }
    };
    let mut ahead: ReadAhead<ShardRef, String> = ReadAhead::new(order);
    futures::executor::block_on(async {
        for r in &wanted {
            assert_eq!(*ahead.get(r, load).await.unwrap(), r.hash);
        }
        // One it was not told about is read alone.
        assert_eq!(*ahead.get(&refs[1], load).await.unwrap(), "h1");
    });
    assert_eq!(loads.load(Ordering::SeqCst), wanted.len() + 1);
    assert_eq!(most.load(Ordering::SeqCst), READ_AHEAD);
    assert_eq!(ahead.reads, wanted.len() + 1);
}
