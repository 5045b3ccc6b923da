//! Harness for black-box tests: real servers on 127.0.0.1, each on a free
//! port, stopped when the handle drops.
//!
//! Tests need the servers' executables on `PATH` (`moto_server` from
//! `pip install 'moto[server]'`); `scripts/test.sh` installs them. A missing
//! executable fails the test loudly instead of skipping it.

pub mod aws;
pub mod fault_proxy;
pub mod iam;
pub mod lambda_watch;
pub mod moto;
pub mod native_export;
pub mod photos;
pub mod replay;
pub mod wrangler;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// Polls until something accepts TCP connections on `port`, or panics.
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
