//! The Worker under `wrangler dev` (workerd) on 127.0.0.1. It runs the
//! bundle that `scripts/build-worker.sh` built, with its settings passed as
//! the `[vars]` of a generated config.
//!
//! Each instance has a working directory of its own, removed when the
//! instance is dropped. It holds the config, workerd's local state
//! (`--persist-to`: what the Cache API holds, kept across
//! [`WranglerDev::restart`]) and, unless the options name another file,
//! the output log.

use super::port::{answers_http, free_port, wait_until_free};
use super::process::{Output, ProcessGroup};
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How many times a start is tried when a port it was given, or picked
/// itself, turns out to be taken.
const START_ATTEMPTS: usize = 3;
/// What workerd logs when a port it was to listen on is taken.
const PORT_TAKEN: &str = "Address already in use";
/// How long the Worker has to answer after wrangler starts.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopped wrangler's port may stay taken.
const PORT_FREED_WITHIN: Duration = Duration::from_secs(15);
/// The generated config's name in the working directory.
const CONFIG: &str = "wrangler.toml";

/// What `wrangler dev` serves, and where its files go.
#[derive(Debug, Clone)]
pub struct WranglerOptions {
    /// The repository root. It holds `node_modules/.bin/wrangler` and the
    /// bundle `edge/build/worker/shim.mjs`.
    pub root: PathBuf,
    /// The Worker's name in the generated config.
    pub name: String,
    /// The Worker's settings, its `[vars]`.
    pub vars: Vec<(String, String)>,
    /// Where the working directory is made, as
    /// `media-query-wrangler-<pid>-<n>`.
    pub parent_dir: PathBuf,
    /// The file that the output of wrangler and workerd is appended to.
    /// `None` means `wrangler.log` in the working directory, removed with it.
    pub log: Option<PathBuf>,
}

/// A running `wrangler dev` on 127.0.0.1. Dropping it kills wrangler and
/// workerd, then removes the working directory.
#[derive(Debug)]
pub struct WranglerDev {
    process: ProcessGroup,
    port: u16,
    wrangler: PathBuf,
    output: Output,
    /// Last: fields drop in order, and the directory goes once nothing
    /// runs in it.
    dir: WorkDir,
}

/// On which port a start is tried again when a port turns out to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// On a new one. The Worker's own port may be the one taken.
    NewPort,
    /// On the same one. The Worker's Cache API keys start with the
    /// request's origin, port included.
    SamePort,
}

/// Why the Worker did not answer, with the output of this start.
struct NotReady {
    port_taken: bool,
    output: String,
}

impl WranglerDev {
    /// Starts `wrangler dev` on a free port and waits until the Worker
    /// answers HTTP. If a port turns out to be taken (another process can
    /// take a free port before wrangler or workerd binds it), it starts
    /// again on new ports.
    pub fn start(options: &WranglerOptions) -> Result<WranglerDev> {
        let shim = options.root.join("edge/build/worker/shim.mjs");
        ensure!(
            shim.exists(),
            "no Worker bundle at {}: run scripts/build-worker.sh",
            shim.display()
        );
        let wrangler = options.root.join("node_modules/.bin/wrangler");
        ensure!(
            wrangler.exists(),
            "no wrangler at {}: run `npm ci` (scripts/setup.sh does)",
            wrangler.display()
        );
        let dir = WorkDir::create(&options.parent_dir)?;
        let config_path = dir.path().join(CONFIG);
        std::fs::write(&config_path, config(&options.name, &shim, &options.vars))
            .with_context(|| format!("write {}", config_path.display()))?;
        let output = Output::AppendTo(
            options
                .log
                .clone()
                .unwrap_or_else(|| dir.path().join("wrangler.log")),
        );
        let port = free_port()?;
        let process = spawn(&wrangler, dir.path(), port, &output)?;
        let mut dev = WranglerDev {
            process,
            port,
            wrangler,
            output,
            dir,
        };
        dev.wait_ready_or_retry(Retry::NewPort)?;
        Ok(dev)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `path_and_query` (`/...`) at the Worker.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    /// Stops `wrangler dev` and starts it again on the same port with the
    /// same local state (`--persist-to`). The result is a new isolate, whose
    /// in-memory caches start empty, over what the Cache API holds (kept in
    /// the state directory). The port stays the same because the Worker's
    /// Cache API keys start with the request's origin.
    pub fn restart(&mut self) -> Result<()> {
        self.process.stop();
        wait_until_free(self.port, PORT_FREED_WITHIN)
            .context("wrangler dev stopped, but its port is still taken")?;
        self.process = spawn(&self.wrangler, self.dir.path(), self.port, &self.output)?;
        self.wait_ready_or_retry(Retry::SamePort)
    }

    /// Stops wrangler and workerd gently (see [`ProcessGroup::stop`]) and
    /// removes the working directory.
    pub fn stop(mut self) {
        self.process.stop();
    }

    /// Waits until the Worker answers. If a port turns out to be taken,
    /// it starts wrangler again, on the port that `retry` says, up to
    /// [`START_ATTEMPTS`] starts in all.
    fn wait_ready_or_retry(&mut self, retry: Retry) -> Result<()> {
        let mut attempt = 1;
        loop {
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(not_ready) if not_ready.port_taken && attempt < START_ATTEMPTS => {
                    self.process.stop();
                    if retry == Retry::NewPort {
                        self.port = free_port()?;
                    }
                    self.process = spawn(&self.wrangler, self.dir.path(), self.port, &self.output)?;
                    attempt += 1;
                }
                Err(not_ready) => bail!(
                    "wrangler dev did not answer on 127.0.0.1:{}:\n{}",
                    self.port,
                    not_ready.output
                ),
            }
        }
    }

    /// Waits until the Worker answers, for up to [`READY_WITHIN`]. It stops
    /// waiting early if wrangler exits or a port is taken.
    fn wait_ready(&mut self) -> Result<(), NotReady> {
        let start = Instant::now();
        while start.elapsed() < READY_WITHIN {
            if answers_http(self.port, PROBE_TIMEOUT) {
                return Ok(());
            }
            let exited = self.process.check_alive().is_err();
            let output = self.process.output();
            let port_taken = output.contains(PORT_TAKEN);
            if exited || port_taken {
                return Err(NotReady { port_taken, output });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(NotReady {
            port_taken: false,
            output: format!(
                "(no answer within {READY_WITHIN:?})\n{}",
                self.process.output()
            ),
        })
    }
}

/// Starts `wrangler dev` on `port`, with the config and state in `dir`.
fn spawn(wrangler: &Path, dir: &Path, port: u16, output: &Output) -> Result<ProcessGroup> {
    let mut cmd = Command::new(wrangler);
    cmd.arg("dev")
        .arg("--config")
        .arg(dir.join(CONFIG))
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &free_port()?.to_string()])
        .arg("--persist-to")
        .arg(dir.join("state"))
        .env("WRANGLER_SEND_METRICS", "false")
        .current_dir(dir);
    ProcessGroup::spawn("wrangler dev", cmd, output)
}

/// The generated wrangler config: the bundle, and `vars` as `[vars]`.
fn config(name: &str, shim: &Path, vars: &[(String, String)]) -> String {
    let mut config = format!(
        "# Written by stack/src/launch/wrangler.rs.\nname = {}\nmain = {}\ncompatibility_date = \"2026-04-01\"\n\n[vars]\n",
        toml_string(name),
        toml_string(&shim.display().to_string()),
    );
    for (key, value) in vars {
        config.push_str(&format!("{key} = {}\n", toml_string(value)));
    }
    config
}

/// `s` as a TOML basic string. JSON's string escapes are a subset of
/// TOML's.
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The working directory of one `wrangler dev`, removed when dropped.
#[derive(Debug)]
struct WorkDir(PathBuf);

impl WorkDir {
    /// A new, empty directory under `parent`, unique within this process
    /// by a counter and across processes by the pid.
    fn create(parent: &Path) -> Result<WorkDir> {
        static CREATED: AtomicU32 = AtomicU32::new(0);
        let n = CREATED.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("media-query-wrangler-{}-{n}", std::process::id()));
        // An earlier process with the same pid may have left its state here.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(WorkDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quotes, backslashes and line breaks in a setting stay in its value.
    #[test]
    fn the_config_quotes_names_paths_and_vars_as_toml_strings() {
        let vars = [(
            "KEY".to_string(),
            "a \"quoted\" \\ value\nwith a line".to_string(),
        )];
        let config = config("worker", Path::new("/b/shim.mjs"), &vars);
        assert!(
            config.contains("name = \"worker\"\nmain = \"/b/shim.mjs\"\n"),
            "{config}"
        );
        assert_eq!(
            config.lines().last(),
            Some(r#"KEY = "a \"quoted\" \\ value\nwith a line""#),
            "{config}"
        );
    }
}
