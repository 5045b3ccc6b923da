//! Child processes of the stack, each in its own process group.
//!
//! `npx wrangler` and `cargo lambda watch` start grandchildren (node,
//! workerd, the function binaries). Killing the direct child would leave
//! them running and holding ports, so every service gets its own process
//! group and is stopped with a signal to the whole group.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A running service; its process group is killed on drop.
pub struct Service {
    pub name: &'static str,
    child: Child,
    pgid: i32,
}

impl Service {
    /// Spawns `cmd` in a new process group, output appended to `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Result<Service> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open log {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("start {name} (see {})", log.display()))?;
        let pgid = child.id().context("child has a pid")? as i32;
        Ok(Service { name, child, pgid })
    }

    /// Fails if the service already exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited early with {status}", self.name);
        }
        Ok(())
    }

    /// SIGTERM to the group, then SIGKILL after a grace period.
    pub async fn stop(mut self) {
        signal_group(self.pgid, libc::SIGTERM);
        let grace = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        if grace.is_err() {
            signal_group(self.pgid, libc::SIGKILL);
            let _ = self.child.wait().await;
        }
        // Grandchildren may outlive the leader; make sure the group is gone.
        signal_group(self.pgid, libc::SIGKILL);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        signal_group(self.pgid, libc::SIGKILL);
    }
}

fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until `port` accepts connections, while `service` stays alive.
pub async fn wait_for_port(service: &mut Service, port: u16, within: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        service.check_alive()?;
        if start.elapsed() > within {
            bail!(
                "{} did not listen on 127.0.0.1:{port} within {within:?}",
                service.name
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
