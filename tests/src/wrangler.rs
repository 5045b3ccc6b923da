//! The Worker under `wrangler dev` in a test: the stack's launcher
//! ([`WranglerDev`]) with the tests' defaults, and requests to the Worker.
//!
//! `scripts/build.d/edge.sh` builds the Worker's bundle before the tests
//! run.

use media_query_stack::launch::{WranglerDev, WranglerOptions};
use std::future::Future;
use std::time::Duration;

/// Starts the Worker with `vars` as its settings, in a working directory
/// under the system's temporary directory. A Worker that does not start
/// fails the test, with wrangler's output.
pub fn start_wrangler_dev(vars: &[(&str, String)]) -> WranglerDev {
    let options = WranglerOptions {
        root: crate::repo_root(),
        name: "media-query-test".to_string(),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        parent_dir: std::env::temp_dir(),
        log: None,
    };
    WranglerDev::start(&options).expect("wrangler dev starts")
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

/// Requests to the Worker.
pub trait WorkerRequests {
    /// `method` of `path_and_query` (`/...`) with `headers`. Any status is
    /// an answer.
    fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> impl Future<Output = Answer> + Send;

    fn get(&self, path_and_query: &str) -> impl Future<Output = Answer> + Send {
        self.request("GET", path_and_query, &[])
    }
}

impl WorkerRequests for WranglerDev {
    async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let verb = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path_and_query}: {e}"));
        let mut req = crate::http_client()
            .request(verb, self.url(path_and_query))
            .timeout(Duration::from_secs(60));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path_and_query}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        Answer {
            status,
            headers,
            body: resp.text().await.unwrap_or_default(),
        }
    }
}
