//! `moto_server` in a test: the stack's launcher ([`MotoServer`]) with the
//! tests' defaults, and unsigned calls to moto's JSON-protocol APIs.

use media_query_stack::launch::{MotoServer, Output};
use std::future::Future;

/// Starts `moto_server` on a free port and discards its output. A server
/// that does not start fails the test.
pub fn start_moto() -> MotoServer {
    MotoServer::start(Output::Discard).expect("moto_server starts")
}

/// Unsigned calls to a JSON-protocol AWS API (DynamoDB, Rekognition...).
/// moto accepts them by default.
pub trait JsonCall {
    /// Calls `target` (`DynamoDB_20120810.Scan`...) with `body`. Returns the
    /// status and the JSON body; any status is an answer.
    fn json_call(
        &self,
        target: &str,
        body: &serde_json::Value,
    ) -> impl Future<Output = (u16, serde_json::Value)> + Send;
}

impl JsonCall for MotoServer {
    async fn json_call(&self, target: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let service = target
            .split('_')
            .next()
            .unwrap_or("dynamodb")
            .to_lowercase();
        let resp = crate::http_client()
            .post(self.endpoint())
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("X-Amz-Target", target)
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
                ),
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }
}
