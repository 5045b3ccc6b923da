//! The real function binaries behind the Lambda runtime API, served by
//! `cargo lambda watch` (its Invoke API and function URLs), in a process
//! group of their own so the functions it spawns stop with it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct LambdaWatch {
    child: Child,
    pub port: u16,
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` for the `lambda/` package with `env`
    /// passed to the functions.
    pub fn start(env: &[(&str, String)]) -> LambdaWatch {
        LambdaWatch::spawn(env, Stdio::null(), Stdio::inherit())
    }

    /// As [`LambdaWatch::start`], with everything `cargo lambda watch` and
    /// the functions print appended to `log`: their logs, and their metric
    /// lines (CloudWatch's Embedded Metric Format goes to stdout).
    pub fn start_logging_to(env: &[(&str, String)], log: &Path) -> LambdaWatch {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log's file handle");
        LambdaWatch::spawn(env, Stdio::from(out), Stdio::from(err))
    }

    fn spawn(env: &[(&str, String)], stdout: Stdio, stderr: Stdio) -> LambdaWatch {
        let port = crate::free_port();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut cmd = Command::new("cargo");
        cmd.args(["lambda", "watch", "--ignore-changes", "--quiet"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .current_dir(root.join("lambda"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for (k, v) in env {
            cmd.args(["--env-var", &format!("{k}={v}")]);
        }
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .expect("start `cargo lambda watch` (pip install cargo-lambda; scripts/setup.sh does)");
        crate::wait_for_port(port, Duration::from_secs(120));
        LambdaWatch { child, port }
    }

    /// The Invoke API's base URL (`AWS_ENDPOINT_URL_LAMBDA`), for the one
    /// Invoke client, the stack's `Invoker`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET` through the function URL of `function`.
    pub fn get(&self, function: &str, path_and_query: &str) -> (u16, String) {
        let url = format!(
            "http://127.0.0.1:{}/lambda-url/{function}{path_and_query}",
            self.port
        );
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(600))
            .build();
        match agent.get(&url).call() {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
            Err(e) => panic!("GET {url}: {e}"),
        }
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) on our own child's process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
