//! `moto_server`, the local AWS: S3, SNS, SQS, IAM, DynamoDB and its
//! stream, and Rekognition's canned `DetectLabels`.

use super::port::{free_port, wait_for_port};
use super::process::{Output, ProcessGroup};
use anyhow::{Context, Result};
use std::process::Command;
use std::time::Duration;

/// How long moto has to listen. It usually takes a second or two, but
/// longer on a machine that is busy running tests in parallel.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A running `moto_server` on 127.0.0.1. Dropping it kills the server.
#[derive(Debug)]
pub struct MotoServer {
    process: ProcessGroup,
    port: u16,
}

impl MotoServer {
    /// Starts `moto_server` on a free port and waits until it listens.
    pub fn start(output: Output) -> Result<MotoServer> {
        let port = free_port()?;
        let mut cmd = Command::new("moto_server");
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut process = ProcessGroup::spawn("moto_server", cmd, &output).context(
            "moto_server comes from `pip install 'moto[server]'` (scripts/setup.sh runs it)",
        )?;
        wait_for_port(&mut process, port, READY_WITHIN)?;
        Ok(MotoServer { process, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server gently (see [`ProcessGroup::stop`]).
    pub fn stop(mut self) {
        self.process.stop();
    }
}
