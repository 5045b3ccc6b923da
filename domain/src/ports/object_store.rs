//! The snapshot bucket as readers see it: conditional GETs of objects.

/// The answer to a (conditional) GET of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Object { body: Vec<u8>, etag: Option<String> },
    NotModified,
    Missing,
}

/// Reads objects of the snapshot bucket: S3 in production, files in
/// benchmarks. Errors are text: they are logged, never shown to clients.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String>;

    /// Whether a request that waits for an object another request is
    /// fetching must wait on timers of its own ([`ObjectStore::pause`])
    /// rather than be woken by that request: true in the Worker, whose
    /// runtime cancels a request with nothing of its own pending (see
    /// `single_flight`).
    fn waits_on_timers(&self) -> bool {
        false
    }

    /// Waits about `ms` milliseconds on this request's own timer.
    async fn pause(&self, _ms: f64) {}
}
