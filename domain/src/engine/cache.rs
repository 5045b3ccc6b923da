//! A bounded cache of decoded objects, least recently used first out.
//!
//! Objects are immutable and named by their content hash, so a cached one
//! is never stale: the only question is memory. The budget counts what a
//! decoded object holds ([`crate::serving::shard::Shard::memory_bytes`]),
//! and inserting past it evicts the least recently used objects. With a
//! few dozen entries at most, eviction is a linear scan.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug)]
struct Slot<T> {
    value: Arc<T>,
    bytes: usize,
    used: u64,
}

/// A byte-bounded LRU map from object hash to decoded object.
#[derive(Debug)]
pub struct LruCache<T> {
    budget: usize,
    bytes: usize,
    clock: u64,
    slots: HashMap<String, Slot<T>>,
    evictions: u64,
}

impl<T> LruCache<T> {
    pub fn new(budget_bytes: usize) -> LruCache<T> {
        LruCache {
            budget: budget_bytes,
            bytes: 0,
            clock: 0,
            slots: HashMap::new(),
            evictions: 0,
        }
    }

    pub fn get(&mut self, key: &str) -> Option<Arc<T>> {
        self.clock += 1;
        let clock = self.clock;
        self.slots.get_mut(key).map(|s| {
            s.used = clock;
            s.value.clone()
        })
    }

    /// Inserts, then evicts least recently used entries until within budget
    /// (the new entry itself stays, even if alone it exceeds the budget:
    /// the request that needs it holds it anyway).
    pub fn insert(&mut self, key: String, value: Arc<T>, bytes: usize) {
        self.clock += 1;
        if let Some(old) = self.slots.insert(
            key.clone(),
            Slot {
                value,
                bytes,
                used: self.clock,
            },
        ) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
        while self.bytes > self.budget && self.slots.len() > 1 {
            let oldest = self
                .slots
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
                .expect("more than one slot");
            let s = self.slots.remove(&oldest).expect("present");
            self.bytes -= s.bytes;
            self.evictions += 1;
        }
    }

    /// Drops an entry, if present (not counted as an eviction).
    pub fn remove(&mut self, key: &str) {
        if let Some(s) = self.slots.remove(key) {
            self.bytes -= s.bytes;
        }
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn budget(&self) -> usize {
        self.budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_budget_and_evicts_the_least_recently_used() {
        let mut c = LruCache::new(100);
        c.insert("a".into(), Arc::new(1), 40);
        c.insert("b".into(), Arc::new(2), 40);
        assert!(c.get("a").is_some());
        c.insert("c".into(), Arc::new(3), 40);
        assert!(c.get("b").is_none(), "b was least recently used");
        assert!(c.get("a").is_some() && c.get("c").is_some());
        assert!(c.bytes() <= 100);
        c.insert("huge".into(), Arc::new(4), 500);
        assert_eq!((c.len(), c.bytes()), (1, 500));
        c.remove("huge");
        c.remove("absent");
        assert_eq!((c.len(), c.bytes(), c.evictions()), (0, 0, 3));
    }
}
