//! How the responder behaves: the caching time of snapshot answers, and
//! the bounds on what a request may make DynamoDB do when the snapshot
//! cannot answer (lookups of names it lacks, Scan fallbacks and their
//! size).

/// How the responder behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Cache-Control: max-age` of snapshot answers, in seconds (also the
    /// pointer re-check interval).
    pub max_age_seconds: u64,
    /// DynamoDB lookups of names the snapshot lacks, per second, with a
    /// burst of twice that.
    pub miss_lookups_per_second: f64,
    /// Names remembered as missing.
    pub miss_capacity: usize,
    /// Scans of the whole table when the snapshot cannot answer a list,
    /// per second, with a burst of twice that; past it, a 503 with
    /// `Retry-After` (no Scan storm when the snapshot is down).
    pub scan_fallbacks_per_second: f64,
    /// Scan pages (up to 1 MB of the table each) one fallback may read;
    /// a table that needs more is too large to be listed from DynamoDB
    /// in one request, and the answer is a 503 with `Retry-After`.
    pub scan_fallback_max_pages: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_age_seconds: 60,
            miss_lookups_per_second: 50.0,
            miss_capacity: 10_000,
            scan_fallbacks_per_second: 1.0,
            scan_fallback_max_pages: DEFAULT_SCAN_FALLBACK_MAX_PAGES,
        }
    }
}

/// Scan pages a fallback may read by default: 8 MB of the table, about
/// 40,000 items of the workshop's size. With the Worker's three attempts a
/// call, 24 subrequests at most (see `edge/src/subrequests.rs`).
pub const DEFAULT_SCAN_FALLBACK_MAX_PAGES: usize = 8;
