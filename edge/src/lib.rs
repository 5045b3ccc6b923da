//! The media-query Cloudflare Worker: the workshop's read API at the edge.
//!
//! * [`snapshot`]: the table snapshot (DynamoDB export layout), decoded once
//!   per isolate and refreshed with a conditional GET after a TTL.
//! * [`respond`]: routing, sources (snapshot first, DynamoDB fallback) and
//!   HTTP caching, with no Worker types so it is unit-tested natively.
//! * [`aws`]: SigV4-signed S3 and DynamoDB requests (`aws-sigv4`).
//! * `worker_glue` (wasm32 only): the `fetch` entry point, configuration
//!   from `wrangler.toml`, and the fetches themselves.
//!
//! Answers come from `media-query-domain`, so the edge and the Lambda read
//! API give the same status codes and bodies.

pub mod aws;
pub mod respond;
pub mod snapshot;

#[cfg(target_arch = "wasm32")]
mod worker_glue;
