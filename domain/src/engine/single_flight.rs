//! One fetch per object in flight per isolate.
//!
//! When a new snapshot version is published, every request an isolate is
//! serving needs the same new objects at once (the delta first: up to
//! 4 MiB raw, 10-14 MB while it is decoded). Without this, each request
//! would fetch and decode its own copy, and wasm memory, which never
//! shrinks, would keep the peak. The first request to ask for an object
//! leads: it fetches and decodes it; the others wait for its result.
//!
//! No task is spawned (the Worker cannot): the leader is the request that
//! asked first, and if it is dropped midway (its client went away) its
//! waiters are told so and fetch the object themselves.
//!
//! How a waiter waits depends on the runtime ([`super::ObjectStore::waits_on_timers`]).
//! Natively the leader wakes it (a oneshot). In a Worker, one request must
//! not be woken by another's I/O: workerd cancels a request that has
//! nothing of its own pending ("the Worker's code had hung"), and a task
//! woken from another request's context would do its I/O there. So there a
//! waiter checks back on its own timer ([`Turn::Busy`]), and finds the
//! object in the cache once the leader has finished.

use super::ReadError;
use futures_channel::oneshot;
use std::collections::HashMap;
use std::sync::Mutex;

type Waiters<T> = Vec<oneshot::Sender<Result<T, ReadError>>>;

/// The objects being fetched, and who waits for each.
#[derive(Debug)]
pub(super) struct SingleFlight<T> {
    waiting: Mutex<HashMap<String, Waiters<T>>>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

/// A request's part in fetching one object.
pub(super) enum Turn<'a, T: Clone> {
    /// Fetch it, then [`Leader::finish`].
    Lead(Leader<'a, T>),
    /// Another request is fetching it: its result.
    Wait(oneshot::Receiver<Result<T, ReadError>>),
    /// Another request is fetching it; check back later (for waiters that
    /// must not be woken by another request).
    Busy,
}

/// The request that fetches an object for everyone waiting for it.
pub(super) struct Leader<'a, T> {
    flight: &'a SingleFlight<T>,
    key: String,
    finished: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T: Clone> SingleFlight<T> {
    /// Leads the fetch of `key`, or waits for the one in flight: woken by
    /// its leader, or, with `on_timers`, by checking back.
    pub(super) fn join(&self, key: &str, on_timers: bool) -> Turn<'_, T> {
        let mut waiting = lock(&self.waiting);
        match waiting.get_mut(key) {
            Some(_) if on_timers => Turn::Busy,
            Some(waiters) => {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                Turn::Wait(rx)
            }
            None => {
                waiting.insert(key.to_string(), Vec::new());
                Turn::Lead(Leader {
                    flight: self,
                    key: key.to_string(),
                    finished: false,
                })
            }
        }
    }

    /// Objects being fetched now.
    pub(super) fn in_flight(&self) -> usize {
        lock(&self.waiting).len()
    }
}

impl<T: Clone> Leader<'_, T> {
    /// Hands the fetch's result to everyone waiting for it.
    pub(super) fn finish(mut self, result: &Result<T, ReadError>) {
        self.finished = true;
        let waiters = lock(&self.flight.waiting)
            .remove(&self.key)
            .unwrap_or_default();
        for tx in waiters {
            let _ = tx.send(result.clone());
        }
    }
}

impl<T> Drop for Leader<'_, T> {
    /// Dropped before it finished (its request was cancelled): the
    /// waiters' channels close, and each fetches the object itself.
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.flight.waiting).remove(&self.key);
        }
    }
}
