//! A token bucket, for the reads a request may make DynamoDB do when the
//! snapshot cannot answer: requests for random names, or a snapshot that
//! is down, must not turn into unbounded lookups or a Scan storm.

/// A token bucket: `rate` a second, bursts of twice that.
#[derive(Debug)]
pub(super) struct TokenBucket {
    tokens: f64,
    refilled_at_ms: f64,
}

impl TokenBucket {
    pub(super) fn new() -> TokenBucket {
        TokenBucket {
            tokens: f64::NAN,
            refilled_at_ms: 0.0,
        }
    }

    pub(super) fn take(&mut self, rate: f64, now_ms: f64) -> bool {
        if rate.is_infinite() {
            return true;
        }
        let burst = rate * 2.0;
        if self.tokens.is_nan() {
            self.tokens = burst;
        } else {
            let refill = (now_ms - self.refilled_at_ms).max(0.0) / 1000.0 * rate;
            self.tokens = (self.tokens + refill).min(burst);
        }
        self.refilled_at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
