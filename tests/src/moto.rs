//! `moto_server`, the local AWS endpoint, as a child process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `moto_server` on 127.0.0.1; killed on drop.
pub struct MotoServer {
    child: Child,
    pub port: u16,
}

impl MotoServer {
    /// Starts `moto_server` on a free port and waits until it answers.
    pub fn start() -> MotoServer {
        let port = crate::free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start `moto_server` (pip install 'moto[server]'; scripts/test.sh does)");
        let server = MotoServer { child, port };
        crate::wait_for_port(port, Duration::from_secs(30));
        server
    }

    /// The endpoint, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Calls a JSON-protocol AWS API (DynamoDB, Rekognition...) unsigned,
    /// as moto accepts by default. Returns the status and the JSON body.
    pub fn json_call(&self, target: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let service = target
            .split('_')
            .next()
            .unwrap_or("dynamodb")
            .to_lowercase();
        let resp = ureq::post(&self.endpoint())
            .set("Content-Type", "application/x-amz-json-1.0")
            .set("X-Amz-Target", target)
            .set(
                "Authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
                ),
            )
            .send_string(&body.to_string());
        let (status, text) = match resp {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{target}: {e}"),
        };
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
