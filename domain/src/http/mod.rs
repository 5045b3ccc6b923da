//! The HTTP responder of the read API: one function for the edge Worker
//! and the Lambda read API, so that both give the same bytes, headers
//! included.
//!
//! It maps a method, a raw path and query, and `If-None-Match` to a
//! [`Reply`]: routes, Chalice-style errors, CORS, `ETag`/304, HEAD,
//! OPTIONS, 405, caching headers and pagination (`Link`). Data comes from
//! the serving snapshot through the [`ReadEngine`]; the DynamoDB table
//! ([`Table`]) is the fallback:
//!
//! * `GET /`: the snapshot; if it cannot be read, a DynamoDB Scan with the
//!   domain's FilterExpression, paginated the same way. A Scan returns the
//!   table in hash order, so a page sorted by name needs the whole table:
//!   the fallback reads Scan pages one at a time, keeping only the page's
//!   best `limit` items (memory: one Scan page and one answer page), and
//!   gives up with a 503 past [`Settings::scan_fallback_max_pages`] (the
//!   subrequests: that many Scan calls). A large table is served from the
//!   stale snapshot or not at all, never by reading all of it in a request.
//! * An object of the snapshot that has gone (the pointer moved on and the
//!   old version's garbage was collected) makes the engine re-check the
//!   pointer before anything falls back.
//! * `GET /{name}`: the snapshot; a name it lacks is checked with
//!   `GetItem`, so an upload newer than the snapshot is found. Names found
//!   missing there are remembered for the snapshot TTL ([`Misses`]), and
//!   such lookups are rate-limited, so requests for random names cannot
//!   turn into unbounded DynamoDB reads: past the limit the snapshot's
//!   answer (404) stands.
//! * Both failing is a 503 `ServiceUnavailableError`, never an empty list.
//!
//! The `ETag` of a snapshot answer is derived from the snapshot version
//! (itself a hash of the content) and the canonical request, so a
//! conditional request is answered 304 before any shard is read. Answers
//! from DynamoDB hash their (small) body instead.
//!
//! # Modules
//!
//! * `responder`: [`Responder`], its routing, and the order of the
//!   snapshot, the table and the fallbacks above.
//! * `request`: what crosses the boundary: [`ApiRequest`], [`Reply`],
//!   [`AnswerSource`].
//! * `settings`: [`Settings`], the bounds on what a request may cost.
//! * `headers`: the headers of each kind of answer (CORS, errors, caching,
//!   304), and the edge's answer when it is misconfigured
//!   ([`misconfigured`]).
//! * `etag`: `ETag`s and `If-None-Match`.
//! * `misses`: the negative cache of names the table lacks ([`Misses`]).
//! * `rate_limit`: the token bucket of lookups and Scan fallbacks.
//! * `scan_fallback`: the bounded Scan fallback of `GET /`.
//!
//! [`ReadEngine`]: crate::engine::ReadEngine
//! [`Table`]: crate::ports::Table

mod etag;
mod headers;
mod misses;
mod rate_limit;
mod request;
mod responder;
mod scan_fallback;
mod settings;

pub use headers::misconfigured;
pub use misses::Misses;
pub use request::{AnswerSource, ApiRequest, Reply};
pub use responder::Responder;
pub use settings::{Settings, DEFAULT_SCAN_FALLBACK_MAX_PAGES};

#[cfg(test)]
mod tests;
