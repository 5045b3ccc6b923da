//! The real function binaries behind the Lambda runtime API, served by
//! `cargo lambda watch`: its Invoke API and the functions' URLs. It starts
//! each function binary as a child of its own, which is why it runs in a
//! process group ([`super::process`]).

use super::port::{free_port, wait_for_port};
use super::process::{Output, ProcessGroup};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// How long `cargo lambda watch` has to listen. This is generous because a
/// busy machine can make it slow. A `cargo lambda watch` that exits fails
/// the wait at once.
const READY_WITHIN: Duration = Duration::from_secs(300);

/// What `cargo lambda watch` serves, and how.
#[derive(Debug, Clone)]
pub struct LambdaWatchOptions {
    /// The repository root, which holds the `lambda/` package.
    pub root: PathBuf,
    /// The functions' environment (`--env-var`).
    pub env: Vec<(String, String)>,
    /// How many invocations run at once (`--concurrency`). `None` leaves
    /// cargo lambda's default.
    pub concurrency: Option<usize>,
    /// The cargo profile the functions are built with (`--profile`).
    /// `None` means the dev profile.
    pub profile: Option<String>,
    /// Where the output of `cargo lambda watch` and the functions goes,
    /// their logs and metric lines included (CloudWatch's Embedded Metric
    /// Format goes to stdout).
    pub output: Output,
}

impl LambdaWatchOptions {
    /// The functions in `root/lambda`, with no environment, cargo lambda's
    /// defaults and no output.
    pub fn new(root: impl Into<PathBuf>) -> LambdaWatchOptions {
        LambdaWatchOptions {
            root: root.into(),
            env: Vec::new(),
            concurrency: None,
            profile: None,
            output: Output::Discard,
        }
    }
}

/// A running `cargo lambda watch` on 127.0.0.1. Dropping it kills it and
/// its functions.
#[derive(Debug)]
pub struct LambdaWatch {
    process: ProcessGroup,
    port: u16,
}

impl LambdaWatch {
    /// Starts `cargo lambda watch` on a free port and waits until it
    /// listens.
    pub fn start(options: &LambdaWatchOptions) -> Result<LambdaWatch> {
        let port = free_port()?;
        let mut cmd = Command::new("cargo");
        cmd.args(["lambda", "watch", "--ignore-changes", "--quiet"])
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .current_dir(options.root.join("lambda"));
        if let Some(concurrency) = options.concurrency {
            cmd.args(["--concurrency", &concurrency.to_string()]);
        }
        if let Some(profile) = &options.profile {
            cmd.args(["--profile", profile.as_str()]);
        }
        for (key, value) in &options.env {
            cmd.arg("--env-var").arg(format!("{key}={value}"));
        }
        let mut process = ProcessGroup::spawn("cargo lambda watch", cmd, &options.output).context(
            "cargo-lambda comes from scripts/setup.d/lambda.sh (scripts/setup.sh runs it)",
        )?;
        wait_for_port(&mut process, port, READY_WITHIN)?;
        Ok(LambdaWatch { process, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The Invoke API's base URL (`AWS_ENDPOINT_URL_LAMBDA`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The function URL of `function`, without a trailing slash: a path
    /// and query (`/...`) follow it.
    pub fn function_url(&self, function: &str) -> String {
        format!("{}/lambda-url/{function}", self.endpoint())
    }

    /// Stops `cargo lambda watch` and its functions gently (see
    /// [`ProcessGroup::stop`]).
    pub fn stop(mut self) {
        self.process.stop();
    }
}
