//! The Worker under `wrangler dev` (workerd) on 127.0.0.1, from the bundle
//! `scripts/build-worker.sh` built (scripts/build.d/edge.sh runs it before
//! the tests), with its settings passed as `[vars]` of a throwaway config.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How often a start is tried when a port it was given, or picked itself,
/// turns out to be taken.
const START_ATTEMPTS: usize = 3;
/// What workerd logs when a port it was to listen on is taken.
const PORT_TAKEN: &str = "Address already in use";

pub struct WranglerDev {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    /// Where the running process's output starts in `dir/wrangler.log`
    /// (earlier starts' output comes before it).
    log_from: usize,
}

/// An HTTP answer from the Worker.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl WranglerDev {
    pub fn start(vars: &[(&str, String)]) -> WranglerDev {
        let root = root();
        let shim = root.join("edge/build/worker/shim.mjs");
        assert!(
            shim.exists(),
            "no Worker bundle at {}: run scripts/build-worker.sh",
            shim.display()
        );
        let wrangler = root.join("node_modules/.bin/wrangler");
        assert!(
            wrangler.exists(),
            "no wrangler: run `npm ci` (scripts/setup.sh does)"
        );
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!(
            "media-query-wrangler-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = format!(
            "name = \"media-query-test\"\nmain = \"{}\"\ncompatibility_date = \"2026-04-01\"\n\n[vars]\n",
            shim.display()
        );
        for (k, v) in vars {
            config.push_str(&format!("{k} = {}\n", serde_json::Value::String(v.clone())));
        }
        std::fs::write(dir.join("wrangler.toml"), config).unwrap();
        let (child, log_from) = spawn(&wrangler, &dir, port);
        let mut dev = WranglerDev {
            child,
            port,
            dir,
            log_from,
        };
        let mut attempt = 1;
        while let Err(log) = dev.wait_ready() {
            assert!(
                attempt < START_ATTEMPTS && log.contains(PORT_TAKEN),
                "wrangler dev did not answer on port {}:\n{log}",
                dev.port
            );
            // A port picked free was taken by a parallel test before
            // wrangler or workerd bound it: start again on new ones.
            dev.stop();
            dev.port = crate::free_port();
            (dev.child, dev.log_from) = spawn(&wrangler, &dev.dir, dev.port);
            attempt += 1;
        }
        dev
    }

    /// Stops `wrangler dev` and starts it again on the same port with the
    /// same local state (`--persist-to`): a new isolate, whose in-memory
    /// caches start empty, over what the Cache API holds (persisted in the
    /// state directory). The port stays because the Worker's Cache API keys
    /// start with the request's origin.
    pub fn restart(&mut self) {
        self.stop();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "port {} still taken after wrangler dev stopped",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let wrangler = root().join("node_modules/.bin/wrangler");
        let mut attempt = 1;
        loop {
            (self.child, self.log_from) = spawn(&wrangler, &self.dir, self.port);
            match self.wait_ready() {
                Ok(()) => return,
                // One of the ports wrangler picks itself was taken.
                Err(log) if attempt < START_ATTEMPTS && log.contains(PORT_TAKEN) => {
                    self.stop();
                    attempt += 1;
                }
                Err(log) => panic!(
                    "wrangler dev did not start again on port {}:\n{log}",
                    self.port
                ),
            }
        }
    }

    /// Stops wrangler and workerd (its process group).
    fn stop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) on our own child's process group (wrangler, workerd).
        unsafe {
            libc::kill(-pgid, libc::SIGTERM);
        }
        std::thread::sleep(Duration::from_millis(300));
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// Waits until the Worker answers; the log if it does not within 90 s,
    /// or if wrangler stopped or could not bind a port.
    fn wait_ready(&mut self) -> Result<(), String> {
        let log = |dir: &Path, from: usize| {
            let all = std::fs::read(dir.join("wrangler.log")).unwrap_or_default();
            String::from_utf8_lossy(all.get(from..).unwrap_or_default()).into_owned()
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if ureq::get(&self.url("/"))
                .timeout(Duration::from_secs(5))
                .call()
                .is_ok()
                || matches!(
                    ureq::get(&self.url("/")).call(),
                    Err(ureq::Error::Status(..))
                )
            {
                return Ok(());
            }
            let stopped = matches!(self.child.try_wait(), Ok(Some(_)));
            let text = log(&self.dir, self.log_from);
            if stopped || text.contains(PORT_TAKEN) {
                return Err(text);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "(no answer within 90 s)\n{}",
            log(&self.dir, self.log_from)
        ))
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    pub fn request(&self, method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req =
            ureq::request(method, &self.url(path_and_query)).timeout(Duration::from_secs(60));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path_and_query}: {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .map(|n| {
                let v = resp.header(&n).unwrap_or("").to_string();
                (n, v)
            })
            .collect();
        Answer {
            status,
            headers,
            body: resp.into_string().unwrap_or_default(),
        }
    }

    pub fn get(&self, path_and_query: &str) -> Answer {
        self.request("GET", path_and_query, &[])
    }
}

impl Drop for WranglerDev {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `wrangler dev` with the config and state in `dir`, on `port`;
/// its output goes to `dir/wrangler.log` (appended, across restarts), from
/// the offset returned with the child.
fn spawn(wrangler: &Path, dir: &Path, port: u16) -> (Child, usize) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("wrangler.log"))
        .unwrap();
    let from = log.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut cmd = Command::new(wrangler);
    cmd.arg("dev")
        .arg("--config")
        .arg(dir.join("wrangler.toml"))
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--inspector-port", &crate::free_port().to_string()])
        .arg("--persist-to")
        .arg(dir.join("state"))
        .env("WRANGLER_SEND_METRICS", "false")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    (cmd.spawn().expect("start wrangler dev"), from)
}
