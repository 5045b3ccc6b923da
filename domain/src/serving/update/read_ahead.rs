//! Reading the objects a step needs ahead of it, a window at a time
//! ([`READ_AHEAD`]): in the export writer each is an S3 GET.

use crate::ports::ReadError;
use crate::serving::level::LevelRef;
use crate::serving::manifest::ShardRef;
use crate::serving::version::READ_AHEAD;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An object reference a [`ReadAhead`] knows by its content hash.
pub(super) trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for ShardRef {
    fn key(&self) -> &str {
        &self.hash
    }
}

impl Keyed for LevelRef {
    fn key(&self) -> &str {
        &self.part.hash
    }
}

/// The objects a step will read, in the order it will read them, fetched
/// [`READ_AHEAD`] at a time and all at once. In the export writer each is
/// an S3 GET: one after the other, a compaction that reads thousands of
/// shards would spend minutes waiting on them. Holds at most one window
/// of decoded objects; an object it was not told about is read alone.
pub(super) struct ReadAhead<R, T> {
    /// Objects handed out (each read of an object counts).
    pub(super) reads: usize,
    pub(super) order: Vec<R>,
    pub(super) position: BTreeMap<String, usize>,
    pub(super) window: BTreeMap<String, Arc<T>>,
}

impl<R: Keyed + Clone, T> ReadAhead<R, T> {
    pub(super) fn new(order: Vec<R>) -> ReadAhead<R, T> {
        let mut position = BTreeMap::new();
        for (i, r) in order.iter().enumerate() {
            position.entry(r.key().to_string()).or_insert(i);
        }
        ReadAhead {
            reads: 0,
            order,
            position,
            window: BTreeMap::new(),
        }
    }

    /// The object `r` names: from the window, or loaded with the next ones.
    pub(super) async fn get<F, Fut>(&mut self, r: &R, load: F) -> Result<Arc<T>, ReadError>
    where
        F: Fn(R) -> Fut,
        Fut: std::future::Future<Output = Result<Arc<T>, ReadError>>,
    {
        self.reads += 1;
        if let Some(t) = self.window.remove(r.key()) {
            return Ok(t);
        }
        let Some(&from) = self.position.get(r.key()) else {
            return load(r.clone()).await;
        };
        self.window.clear();
        // Each object once (two runs may hold byte-identical shards).
        let mut keys = std::collections::BTreeSet::new();
        let batch: Vec<&R> = self.order[from..]
            .iter()
            .filter(|r| keys.insert(r.key()))
            .take(READ_AHEAD)
            .collect();
        let loaded = futures_util::future::join_all(batch.iter().map(|&r| load(r.clone()))).await;
        for (r, t) in batch.into_iter().zip(loaded) {
            self.window.insert(r.key().to_string(), t?);
        }
        Ok(self.window.remove(r.key()).expect("just loaded"))
    }
}
