//! The media-query Cloudflare Worker. See the edge issue; this crate starts
//! as a placeholder that builds for `wasm32-unknown-unknown`.

pub use media_query_domain as domain;
