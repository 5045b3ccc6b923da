//! The media-query Cloudflare Worker: the workshop's read API at the edge.
//!
//! A thin adapter. Everything that decides an answer lives in
//! `media-query-domain`: the serving snapshot's read engine
//! (`domain::engine`) and the one HTTP responder (`domain::http`), which
//! the Lambda read API runs too, so both give the same bytes. Here are only
//! the Worker's own concerns:
//!
//! * [`aws`]: SigV4-signed S3 and DynamoDB requests (`aws-sigv4`), built
//!   without I/O so they are unit-tested natively.
//! * [`subrequests`]: the timeouts and retries of the Worker's calls to
//!   AWS (the rules are `media_query_domain::retry`).
//! * `worker_glue` (wasm32 only): the `fetch` entry point, configuration
//!   from `wrangler.toml`, the fetches behind the domain's `ObjectStore`
//!   and `Table`, the Cache API for immutable snapshot objects, and the
//!   per-isolate responder.

pub mod aws;
pub mod subrequests;

#[cfg(target_arch = "wasm32")]
mod worker_glue;
