//! Launching the servers that the local stack and the black-box tests run:
//! `moto_server` ([`moto`]), `cargo lambda watch` ([`lambda_watch`]) and
//! `wrangler dev` ([`wrangler`]), each a child process listening on a free
//! port of 127.0.0.1.
//!
//! There is one launcher per server, and both users call it:
//! [`crate::Stack::start`], and the tests in `tests/`, through the small
//! helpers in `tests/src/` that add the tests' defaults (a temporary
//! directory, output to the test's stderr, a panic instead of an error)
//! and their HTTP calls. Before, the stack and the tests had a copy of each
//! launcher, and the copies drifted apart: only the tests' `wrangler dev`
//! tried again when a port turned out to be taken, and only the stack's
//! readiness waits noticed that a server had exited. Each launcher now does
//! everything that either copy did.
//!
//! A launcher blocks until its server is ready. A test calls it directly,
//! and the stack calls it from `tokio::task::spawn_blocking`. It returns a
//! handle that stops the server's whole process group when it is dropped
//! ([`process`]). [`port`] picks the ports and waits for them.

pub mod lambda_watch;
pub mod moto;
pub mod port;
pub mod process;
pub mod wrangler;

pub use lambda_watch::{LambdaWatch, LambdaWatchOptions};
pub use moto::MotoServer;
pub use port::free_port;
pub use process::{Output, ProcessGroup};
pub use wrangler::{WranglerDev, WranglerOptions};
