//! Harness for black-box tests: real servers on 127.0.0.1, each on a free
//! port, stopped when the handle drops.
//!
//! Tests need the servers' executables on `PATH` (`moto_server` from
//! `pip install 'moto[server]'`); `scripts/test.sh` installs them. A missing
//! executable fails the test loudly instead of skipping it.
//!
//! Also here, needing no server: [`template`], the one reader of
//! `template.yaml` in the workspace's Rust, and the checks built on it:
//! each function's declared IAM needs against its statements
//! ([`declared_iam`]), and the settings the local stack and the read API
//! copy from the template (`template_agreement`, tests only).

pub mod aws;
pub mod declared_iam;
pub mod fault_proxy;
pub mod iam;
pub mod lambda_watch;
pub mod moto;
pub mod native_export;
pub mod photos;
pub mod replay;
pub mod template;
#[cfg(test)]
mod template_agreement;
pub mod wrangler;

use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1: the stack's, which
/// launches the same servers.
pub fn free_port() -> u16 {
    media_query_stack::process::free_port().expect("bind an ephemeral port on 127.0.0.1")
}

/// Polls until something accepts TCP connections on `port`, or panics (the
/// tests' servers are plain children; the stack's own wait also watches
/// that its service stays alive).
pub fn wait_for_port(port: u16, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listened on 127.0.0.1:{port} within {within:?}");
}
