//! Harness for black-box tests: real servers on 127.0.0.1, each on a free
//! port, stopped when the handle drops.
//!
//! The servers are started by the local stack's launchers
//! (`media_query_stack::launch`). The modules [`moto`], [`lambda_watch`]
//! and [`wrangler`] add what only the tests need: their defaults (a panic
//! instead of an error, a temporary directory) and HTTP calls to the
//! servers, async (`reqwest`, awaited on the test's runtime, which they
//! never block), through [`http_client`].
//!
//! [`world`] is the setup the snapshot's tests share (moto with the table
//! and the export bucket, and the export writer's ways of publishing), and
//! [`native_export`] writes DynamoDB's native exports into it.
//!
//! Tests need the servers' executables on `PATH` (`moto_server` from
//! `pip install 'moto[server]'`); `scripts/test.sh` installs them. A missing
//! executable fails the test loudly instead of skipping it.
//!
//! Also here, needing no server: [`template`], the one reader of
//! `template.yaml` (its `Fn::ForEach` loops expanded), and the checks built
//! on it: each function's declared IAM needs against its statements
//! ([`declared_iam`]), the settings the local stack and the read API copy
//! from the template (`template_agreement`, tests only), and the project's
//! rules that cfn-lint does not check: runtime, architecture, build, S3
//! event names, on-failure destinations, outputs, log groups and alarms
//! (`template_rules`, tests only), and what the deploy scripts assume of
//! the template (`template_deploy`, tests only). Also tests only:
//! `deploy_settings`, the deploy wiring's data on the Worker's settings
//! (`scripts/worker-settings.json`) against the settings the Worker reads
//! (`media_query_domain::worker_settings`).

pub mod aws;
pub mod declared_iam;
#[cfg(test)]
mod deploy_settings;
pub mod fault_proxy;
pub mod iam;
pub mod lambda_watch;
pub mod moto;
pub mod native_export;
pub mod photos;
pub mod replay;
pub mod template;
#[cfg(test)]
mod template_agreement;
#[cfg(test)]
mod template_deploy;
#[cfg(test)]
mod template_rules;
pub mod world;
pub mod wrangler;

use std::path::{Path, PathBuf};

/// The repository root: it holds `lambda/`, `node_modules/` and the
/// Worker's bundle in `edge/build/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// An HTTP client for the local servers, all on 127.0.0.1: no proxy from
/// the environment (`HTTP_PROXY`...) in between. Its errors are the
/// transport's only: a 4xx or 5xx is an answer like any other, for the
/// caller to look at (or to make an error with `error_for_status`).
///
/// One client per call: a client's pooled connections belong to the
/// runtime that opened them, and every `#[tokio::test]` has its own.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}
