//! The Worker under `wrangler dev` (workerd) on 127.0.0.1, from the bundle
//! `scripts/build-worker.sh` built (scripts/build.d/edge.sh runs it before
//! the tests), with its settings passed as `[vars]` of a throwaway config.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct WranglerDev {
    child: Child,
    pub port: u16,
    dir: PathBuf,
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
        let log = std::fs::File::create(dir.join("wrangler.log")).unwrap();
        let mut cmd = Command::new(wrangler);
        cmd.arg("dev")
            .arg("--config")
            .arg(dir.join("wrangler.toml"))
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &crate::free_port().to_string()])
            .arg("--persist-to")
            .arg(dir.join("state"))
            .env("WRANGLER_SEND_METRICS", "false")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("start wrangler dev");
        let dev = WranglerDev { child, port, dir };
        dev.wait_ready();
        dev
    }

    fn wait_ready(&self) {
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
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = std::fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default();
        panic!(
            "wrangler dev did not answer on port {} within 90 s:\n{log}",
            self.port
        );
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
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
