//! The negative cache of `GET /{name}`: names the snapshot lacks and
//! DynamoDB said were missing are remembered for the snapshot TTL, and
//! such lookups are rate-limited, so requests for random names cannot
//! turn into unbounded DynamoDB reads.

use super::rate_limit::TokenBucket;
use super::settings::Settings;
use std::collections::HashMap;

/// Negative cache and rate limit for `GetItem` lookups of names the
/// snapshot lacks.
#[derive(Debug)]
pub struct Misses {
    until_ms: HashMap<String, f64>,
    lookups: TokenBucket,
}

impl Misses {
    pub(super) fn new() -> Misses {
        Misses {
            until_ms: HashMap::new(),
            lookups: TokenBucket::new(),
        }
    }

    pub(super) fn known_missing(&mut self, name: &str, now_ms: f64) -> bool {
        match self.until_ms.get(name) {
            Some(until) if *until > now_ms => true,
            Some(_) => {
                self.until_ms.remove(name);
                false
            }
            None => false,
        }
    }

    pub(super) fn take_token(&mut self, s: &Settings, now_ms: f64) -> bool {
        self.lookups.take(s.miss_lookups_per_second, now_ms)
    }

    pub(super) fn remember(&mut self, s: &Settings, name: &str, until_ms: f64, now_ms: f64) {
        if self.until_ms.len() >= s.miss_capacity {
            self.until_ms.retain(|_, u| *u > now_ms);
            if self.until_ms.len() >= s.miss_capacity {
                // Still full of live entries: forget an arbitrary half.
                let drop: Vec<String> = self
                    .until_ms
                    .keys()
                    .take(s.miss_capacity / 2 + 1)
                    .cloned()
                    .collect();
                for k in drop {
                    self.until_ms.remove(&k);
                }
            }
        }
        self.until_ms.insert(name.to_string(), until_ms);
    }

    pub fn len(&self) -> usize {
        self.until_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until_ms.is_empty()
    }
}
