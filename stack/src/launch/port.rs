//! Ports on 127.0.0.1: a free one for a server to listen on, and waiting
//! until the server listens (or answers HTTP), or until it has let go of
//! the port.

use super::process::ProcessGroup;
use anyhow::{bail, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How often a wait below tries again.
const POLL: Duration = Duration::from_millis(50);

/// A port that was free a moment ago on 127.0.0.1. Another process may
/// take it before the server binds it ([`super::wrangler`] then starts
/// again on new ports).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `port` accepts connections, as long as `process` stays
/// alive.
pub fn wait_for_port(process: &mut ProcessGroup, port: u16, within: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        process.check_alive()?;
        if start.elapsed() > within {
            bail!(
                "{} did not listen on 127.0.0.1:{port} within {within:?}{}",
                process.name(),
                process.log_hint()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until nothing accepts connections on `port` any more: a server
/// that was stopped has released it.
pub fn wait_until_free(port: u16, within: Duration) -> Result<()> {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        if start.elapsed() > within {
            bail!("127.0.0.1:{port} still accepts connections after {within:?}");
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Whether an HTTP server on `port` answers `GET /` within `timeout`. Any
/// status counts: the server is up, whatever it thinks of the request.
pub fn answers_http(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let request = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let sent = stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.set_write_timeout(Some(timeout)).is_ok()
        && stream.write_all(request.as_bytes()).is_ok();
    // "HTTP/1.1 200": the status line, up to the code.
    let mut status = [0u8; 12];
    sent && stream.read_exact(&mut status).is_ok() && status.starts_with(b"HTTP/1.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::process::Output;
    use std::process::Command;

    /// A server that exits (a port taken, a missing model...) fails the
    /// wait when it exits, not when the wait times out.
    #[test]
    fn a_process_that_exits_fails_the_wait_at_once() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let mut process = ProcessGroup::spawn("sh", cmd, &Output::Discard).unwrap();
        let port = free_port().unwrap();
        let start = Instant::now();
        let err = wait_for_port(&mut process, port, Duration::from_secs(120)).unwrap_err();
        assert!(err.to_string().contains("exited early"), "{err:#}");
        assert!(start.elapsed() < Duration::from_secs(60), "{err:#}");
    }

    #[test]
    fn any_http_status_is_an_answer_and_silence_is_not() {
        let answering = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = answering.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = answering.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        });
        assert!(answers_http(port, Duration::from_secs(5)));
        server.join().unwrap();

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let server = std::thread::spawn(move || drop(silent.accept().unwrap()));
        assert!(!answers_http(port, Duration::from_secs(5)));
        server.join().unwrap();

        let nobody = free_port().unwrap();
        assert!(!answers_http(nobody, Duration::from_secs(5)));
    }
}
