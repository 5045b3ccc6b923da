//! How the Worker's subrequests to AWS (the snapshot's S3 GETs, DynamoDB
//! GetItem and Scan) are timed out and retried: the numbers. The rules
//! (which failures are retried, full jitter, the loop under a deadline)
//! are `media_query_domain::retry`; the fetches, `worker_glue`.

use media_query_domain::retry::RetryPolicy;

/// Every subrequest: at most 3 attempts of at most 2 s each, with a wait
/// drawn from 0-50 ms before the second and 0-100 ms before the third.
///
/// * 3 attempts, the AWS SDKs' default: a blip (a reset connection, a
///   500, a throttle) is usually over by the next attempt, and the
///   requests stay few (see [`SUBREQUESTS_PER_REQUEST`] for the count).
/// * 2 s an attempt: a GET of the pointer or of a shard (tens of KB
///   gzip'd) or a GetItem takes tens to hundreds of milliseconds from
///   Cloudflare's locations, a new TLS connection included. An attempt
///   still waiting after 2 s is stuck (a dead connection, a hung server);
///   it is aborted and a fresh one does better. Without a timeout a hung
///   S3 held the request until the client gave up.
/// * Short waits: a client is waiting, and when the retries fail the
///   stale snapshot or DynamoDB still answers. The waits are drawn at
///   random ("full jitter") so that the isolates that met the same
///   throttle do not come back together.
pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    attempt_timeout_ms: 2_000.0,
    base_backoff_ms: 50.0,
    max_backoff_ms: 1_000.0,
    min_attempt_ms: 200.0,
};

/// How long one request may spend on S3, all its snapshot reads together
/// (healthy, well under a second: at most four small GETs). Past it the
/// snapshot is given up for this request and the stale snapshot or
/// DynamoDB answers, so a hung S3 costs a request about 4 s, not 2 s per
/// read. It is also under the read engine's 10 s hold on a pointer check
/// in flight, so a check always ends before the other requests stop
/// waiting for it.
pub const S3_BUDGET_MS: f64 = 4_000.0;

/// How long one DynamoDB call (a GetItem, a page of a Scan) may take,
/// retries included. Per call, not per request: a Scan fallback has as
/// many pages as the table needs.
pub const DYNAMODB_CALL_BUDGET_MS: f64 = 4_000.0;

/// Subrequests one request may make: Cloudflare's limit on the Workers
/// Free plan (the Paid plan allows 10,000). Each attempt of an S3 GET or a
/// DynamoDB call counts, and so does each Cache API read and write of an
/// object (counted here as the worst case).
///
/// What a request needs (`SNAPSHOT_OBJECTS` objects, each a Cache API
/// read, a GET and a Cache API write, and the pointer, a GET):
///
/// * healthy, nothing cached in the isolate: 1 + 6 × 3 = 19 for a list
///   (pointer, delta, two level parts, one directory page, two shards);
///   an item reads the pointer, the delta, a level part, a page and a
///   shard, then perhaps a `GetItem`: 1 + 4 × 3 + 1 = 14;
/// * every call retried to its 3 attempts: 3 + 6 × 5 = 33 for a list;
/// * an object gone (the pointer moved on), read again on the new
///   version: up to 66 for a list; the Scan fallback: up to 8 pages
///   ([`media_query_domain::http::DEFAULT_SCAN_FALLBACK_MAX_PAGES`]) of 3
///   attempts, 24 more.
///
/// So only a request that meets failures on top of failures can reach the
/// limit. It is enforced per request ([`media_query_domain::retry::Allowance`]):
/// past it a call fails like an outage and the request ends in the stale
/// snapshot's answer or a 503, instead of the platform's exception.
pub const SUBREQUESTS_PER_REQUEST: u32 = 50;

/// The objects a list request reads besides the pointer.
const SNAPSHOT_OBJECTS: u32 = 6;

// A list whose calls all took 3 attempts fits (so a healthy one does).
const _: () = assert!(
    RETRY.max_attempts + SNAPSHOT_OBJECTS * (RETRY.max_attempts + 2) <= SUBREQUESTS_PER_REQUEST
);
// Under the read engine's hold on a pointer check in flight (10 s).
const _: () = assert!(S3_BUDGET_MS < 10_000.0 && DYNAMODB_CALL_BUDGET_MS < 10_000.0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_attempt_leaves_room_for_a_retry_within_the_budgets() {
        for budget in [S3_BUDGET_MS, DYNAMODB_CALL_BUDGET_MS] {
            let after_one_timeout = budget - RETRY.attempt_timeout_ms - RETRY.backoff_ms(1, 1.0);
            assert!(after_one_timeout >= RETRY.min_attempt_ms, "{budget}");
        }
    }
}
