//! A server's process, in a process group of its own, and where its
//! output goes.
//!
//! `npx wrangler` and `cargo lambda watch` start grandchildren (node,
//! workerd, the function binaries). Killing only the direct child would
//! leave them running and holding ports. So every server gets its own
//! process group, and a signal to the whole group stops it:
//! [`ProcessGroup::stop`] stops it gently, and dropping the handle kills it
//! at once (for example after a test panics, or when the stack fails
//! halfway through starting).

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the leader has to exit after SIGTERM before the group gets
/// SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Where a server's output goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Output {
    /// Nowhere.
    #[default]
    Discard,
    /// stderr to this process's stderr and stdout nowhere, so that a test's
    /// own output shows why a server failed.
    InheritStderr,
    /// stdout and stderr, appended to this file.
    AppendTo(PathBuf),
}

/// A running server's process group. Dropping it kills the group.
#[derive(Debug)]
pub struct ProcessGroup {
    /// What errors call it.
    name: String,
    child: Child,
    pgid: libc::pid_t,
    /// The log file, and the offset where this process's output starts in
    /// it (earlier runs' output comes before).
    log: Option<(PathBuf, u64)>,
    stopped: bool,
}

impl ProcessGroup {
    /// Spawns `cmd` as the leader of a new process group, with stdin
    /// closed and its output sent to `output`. `name` names it in errors.
    pub fn spawn(name: &str, mut cmd: Command, output: &Output) -> Result<ProcessGroup> {
        let mut log = None;
        let (stdout, stderr) = match output {
            Output::Discard => (Stdio::null(), Stdio::null()),
            Output::InheritStderr => (Stdio::null(), Stdio::inherit()),
            Output::AppendTo(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("open the log {}", path.display()))?;
                let from = file.metadata().map(|m| m.len()).unwrap_or(0);
                log = Some((path.clone(), from));
                let err = file.try_clone().context("clone the log's file handle")?;
                (Stdio::from(file), Stdio::from(err))
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        let child = cmd.spawn().with_context(|| format!("start {name}"))?;
        let pgid = child.id() as libc::pid_t;
        Ok(ProcessGroup {
            name: name.to_string(),
            child,
            pgid,
            log,
            stopped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fails if the leader has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        let status = self
            .child
            .try_wait()
            .with_context(|| format!("wait for {}", self.name))?;
        if let Some(status) = status {
            bail!(
                "{} exited early with {status}{}",
                self.name,
                self.log_hint()
            );
        }
        Ok(())
    }

    /// What this process has written to its log file so far. Empty if its
    /// output does not go to a file.
    pub fn output(&self) -> String {
        let Some((path, from)) = &self.log else {
            return String::new();
        };
        let mut bytes = Vec::new();
        // Read from the offset on: a shared log may hold many runs.
        let read = File::open(path).and_then(|mut file| {
            file.seek(SeekFrom::Start(*from))?;
            file.read_to_end(&mut bytes)
        });
        if read.is_err() {
            return String::new();
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Where to look for the output, for the end of an error message:
    /// " (output in <log>)", or nothing if there is no log file.
    pub(super) fn log_hint(&self) -> String {
        match &self.log {
            Some((path, _)) => format!(" (output in {})", path.display()),
            None => String::new(),
        }
    }

    /// Stops the group. It sends SIGTERM, gives the leader up to
    /// `STOP_GRACE` (5 s) to exit, then sends SIGKILL to what is left of the
    /// group, because grandchildren may outlive the leader. Calling it
    /// again does nothing.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        signal_group(self.pgid, libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < STOP_GRACE {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Ok(Some(_)) | Err(_) => break,
            }
        }
        self.kill();
    }

    /// SIGKILL to the group, then reaps the leader.
    fn kill(&mut self) {
        signal_group(self.pgid, libc::SIGKILL);
        let _ = self.child.wait();
        self.stopped = true;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if !self.stopped {
            self.kill();
        }
    }
}

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is touched.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared log holds earlier runs' output; a process's own output
    /// starts where the log ended when it was spawned.
    #[test]
    fn output_is_only_what_this_process_wrote() {
        let log = std::env::temp_dir().join(format!(
            "media-query-process-output-{}.log",
            std::process::id()
        ));
        std::fs::write(&log, "an earlier run\n").unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo this run"]);
        let mut process = ProcessGroup::spawn("sh", cmd, &Output::AppendTo(log.clone())).unwrap();
        process.child.wait().unwrap();
        let output = process.output();
        std::fs::remove_file(&log).unwrap();
        assert_eq!(output, "this run\n");
    }
}
