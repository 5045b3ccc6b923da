//! An in-memory [`Bucket`] for unit tests of the export writer's logic:
//! it counts requests by kind and how many were in flight at once, keeps a
//! settable clock for `LastModified`, and injects the faults the tests
//! need (failed reads of chosen keys, deletes that fail, a competing
//! writer that publishes just before a conditional PUT). Every operation
//! yields to the executor a few times, as a network call would, so that
//! concurrency shows.

use media_query_domain::ports::{Bucket, Condition, Listed, Put, PutMeta};
use media_query_domain::ports::{Fetched, ObjectStore};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
    pub last_modified_ms: u64,
}

/// Requests by kind, and the most in flight at once.
#[derive(Debug, Default)]
pub struct Counts {
    pub gets: AtomicUsize,
    pub puts: AtomicUsize,
    pub lists: AtomicUsize,
    pub deletes: AtomicUsize,
    pub deleted_keys: AtomicUsize,
    pub gets_in_flight: AtomicUsize,
    pub puts_in_flight: AtomicUsize,
    pub max_gets_in_flight: AtomicUsize,
    pub max_puts_in_flight: AtomicUsize,
}

#[derive(Debug, Default)]
pub struct MemoryBucket {
    pub objects: Mutex<BTreeMap<String, Object>>,
    pub clock_ms: AtomicU64,
    pub counts: Counts,
    /// GETs of these keys fail.
    pub failing_gets: Mutex<HashSet<String>>,
    /// Delete requests fail while this is set.
    pub failing_deletes: std::sync::atomic::AtomicBool,
    /// Written to its key just before the next conditional PUT of that key
    /// is judged: another writer that got there first.
    pub competitor: Mutex<Option<(String, Vec<u8>)>>,
    etags: AtomicU64,
}

struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(now: &'a AtomicUsize, max: &AtomicUsize) -> InFlight<'a> {
        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(n, Ordering::SeqCst);
        InFlight(now)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn network() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

impl MemoryBucket {
    pub fn set_clock(&self, ms: u64) {
        self.clock_ms.store(ms, Ordering::SeqCst);
    }

    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn body(&self, key: &str) -> Option<Vec<u8>> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .map(|o| o.body.clone())
    }

    fn store(&self, key: &str, body: Vec<u8>) -> String {
        let etag = format!("\"{}\"", self.etags.fetch_add(1, Ordering::SeqCst));
        let object = Object {
            body,
            etag: etag.clone(),
            last_modified_ms: self.clock_ms.load(Ordering::SeqCst),
        };
        self.objects.lock().unwrap().insert(key.to_string(), object);
        etag
    }

    /// A copy of every object, for a second writer's view of the bucket.
    pub fn copy(&self) -> MemoryBucket {
        let copy = MemoryBucket::default();
        *copy.objects.lock().unwrap() = self.objects.lock().unwrap().clone();
        copy.set_clock(self.clock_ms.load(Ordering::SeqCst));
        copy.etags.store(
            self.etags.load(Ordering::SeqCst) + 1_000_000,
            Ordering::SeqCst,
        );
        copy
    }
}

impl ObjectStore for MemoryBucket {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String> {
        let c = &self.counts;
        c.gets.fetch_add(1, Ordering::SeqCst);
        let _flight = InFlight::enter(&c.gets_in_flight, &c.max_gets_in_flight);
        network().await;
        if self.failing_gets.lock().unwrap().contains(key) {
            return Err(format!("injected: GET {key} failed"));
        }
        Ok(match self.objects.lock().unwrap().get(key) {
            None => Fetched::Missing,
            Some(o) if if_none_match == Some(o.etag.as_str()) => Fetched::NotModified,
            Some(o) => Fetched::Object {
                body: o.body.clone(),
                etag: Some(o.etag.clone()),
            },
        })
    }
}

impl Bucket for MemoryBucket {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _meta: PutMeta<'_>,
        condition: Condition<'_>,
    ) -> Result<Put, String> {
        let c = &self.counts;
        c.puts.fetch_add(1, Ordering::SeqCst);
        let _flight = InFlight::enter(&c.puts_in_flight, &c.max_puts_in_flight);
        network().await;
        if condition != Condition::Always {
            let mut competitor = self.competitor.lock().unwrap();
            if competitor.as_ref().is_some_and(|(k, _)| k == key) {
                let (k, b) = competitor.take().expect("checked");
                self.store(&k, b);
            }
        }
        let current = self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|o| o.etag.clone());
        if !condition.holds(current.as_deref()) {
            return Ok(Put::PreconditionFailed);
        }
        let etag = self.store(key, body);
        Ok(Put::Written { etag: Some(etag) })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, String> {
        self.counts.lists.fetch_add(1, Ordering::SeqCst);
        network().await;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, o)| Listed {
                key: k.clone(),
                last_modified_ms: o.last_modified_ms,
            })
            .collect())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), String> {
        assert!(keys.len() <= 1000, "DeleteObjects takes at most 1,000 keys");
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        network().await;
        if self.failing_deletes.load(Ordering::SeqCst) {
            return Err("injected: DeleteObjects failed".into());
        }
        let mut objects = self.objects.lock().unwrap();
        for k in keys {
            objects.remove(k);
        }
        self.counts
            .deleted_keys
            .fetch_add(keys.len(), Ordering::SeqCst);
        Ok(())
    }
}
