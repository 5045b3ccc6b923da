//! `cargo lambda watch` in a test: the stack's launcher ([`LambdaWatch`])
//! with the tests' defaults, and GETs through the functions' URLs.

use media_query_stack::launch::{LambdaWatch, LambdaWatchOptions, Output};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// Starts `cargo lambda watch` for the `lambda/` package, with `env`
/// passed to the functions. Their stderr goes to the test's.
pub fn start_lambda_watch(env: &[(&str, String)]) -> LambdaWatch {
    start(env, Output::InheritStderr)
}

/// Like [`start_lambda_watch`], but everything that `cargo lambda watch`
/// and the functions print is appended to `log`: their logs, and their
/// metric lines (CloudWatch's Embedded Metric Format goes to stdout).
pub fn start_lambda_watch_logging_to(env: &[(&str, String)], log: &Path) -> LambdaWatch {
    start(env, Output::AppendTo(log.to_path_buf()))
}

fn start(env: &[(&str, String)], output: Output) -> LambdaWatch {
    let mut options = LambdaWatchOptions::new(crate::repo_root());
    options.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    options.output = output;
    LambdaWatch::start(&options).expect("cargo lambda watch starts")
}

/// GETs through the functions' URLs.
pub trait FunctionUrls {
    /// `GET` of `path_and_query` (`/...`) through the function URL of
    /// `function`. Returns the status and the body; any status is an
    /// answer.
    fn get(
        &self,
        function: &str,
        path_and_query: &str,
    ) -> impl Future<Output = (u16, String)> + Send;
}

impl FunctionUrls for LambdaWatch {
    async fn get(&self, function: &str, path_and_query: &str) -> (u16, String) {
        let url = format!("{}{path_and_query}", self.function_url(function));
        // Generous: `cargo lambda watch` may still be building the function.
        let resp = crate::http_client()
            .get(&url)
            .timeout(Duration::from_secs(600))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (status, body)
    }
}
