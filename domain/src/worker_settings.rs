//! The settings the edge Worker reads: its `wrangler.toml` `[vars]` and
//! its secrets, declared once.
//!
//! Two readers hold to these names:
//!
//! * The Worker itself: `edge/src/worker_glue.rs` reads each setting
//!   through these constants (`Config::from_env`: `need(AWS_REGION)`,
//!   `setting(env, SNAPSHOT_PREFIX)`...; the request handler:
//!   [`DEBUG_MEMORY`]), never through a string of its own, so these lists
//!   are what it reads.
//! * The deploy wiring (`scripts/deploy_wiring.py`), which sets the
//!   Worker's vars from the stack's outputs and stores its secrets. Python
//!   cannot read this module, so the wiring's data lives in
//!   `scripts/worker-settings.json`, and a Rust test in the tests crate
//!   (`tests/src/deploy_settings.rs`) holds that file to these lists both
//!   ways: every required setting is wired, and nothing is wired that the
//!   Worker does not read.
//!
//! A setting is either [`REQUIRED`] (the Worker answers 500 "The edge is
//! misconfigured." without it) or [`OPTIONAL`] (it has a default). The
//! [`SECRETS`] are required settings stored as secrets (`wrangler secret`,
//! `.dev.vars` locally), never in a `[vars]` table; so is
//! [`OPTIONAL_SECRETS`]' session token, when there is one. The names of
//! [`crate::renamed`] are not here: the Worker reads them only to refuse
//! them.

/// The AWS region of the table and the snapshot bucket.
pub const AWS_REGION: &str = "AWS_REGION";
/// The edge reader's access key (a secret).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The edge reader's secret key (a secret).
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// A session token, with temporary credentials only (a secret).
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// One endpoint for S3 (path-style) and DynamoDB: a local AWS (moto).
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// DynamoDB's endpoint, when it is not [`AWS_ENDPOINT_URL`]'s.
pub const AWS_ENDPOINT_URL_DYNAMODB: &str = "AWS_ENDPOINT_URL_DYNAMODB";
/// The media table's name (the Scan fallback, `GET /{key}`).
pub const MEDIA_TABLE_NAME: &str = "MEDIA_TABLE_NAME";
/// The bucket of the serving snapshot.
pub const SNAPSHOT_BUCKET: &str = "SNAPSHOT_BUCKET";
/// The serving snapshot's prefix in [`SNAPSHOT_BUCKET`] (default: none).
pub const SNAPSHOT_PREFIX: &str = "SNAPSHOT_PREFIX";
/// How long a snapshot is used before its pointer is read again (default 60).
pub const SNAPSHOT_TTL_SECONDS: &str = "SNAPSHOT_TTL_SECONDS";
/// How long the last good snapshot is served when its refresh fails
/// (default 3600).
pub const MAX_STALE_SECONDS: &str = "MAX_STALE_SECONDS";
/// Any value: each request logs the wasm heap and the shard cache's use
/// (scripts/bench-edge.sh).
pub const DEBUG_MEMORY: &str = "DEBUG_MEMORY";

/// Without any of these the Worker does not serve.
pub const REQUIRED: &[&str] = &[
    AWS_REGION,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    MEDIA_TABLE_NAME,
    SNAPSHOT_BUCKET,
];

/// The required settings that are secrets: the edge reader's key.
pub const SECRETS: &[&str] = &[AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY];

/// Settings the Worker reads when they are set (an empty value counts as
/// unset).
pub const OPTIONAL: &[&str] = &[
    AWS_SESSION_TOKEN,
    AWS_ENDPOINT_URL,
    AWS_ENDPOINT_URL_DYNAMODB,
    SNAPSHOT_PREFIX,
    SNAPSHOT_TTL_SECONDS,
    MAX_STALE_SECONDS,
    DEBUG_MEMORY,
];

/// The optional settings that are secrets.
pub const OPTIONAL_SECRETS: &[&str] = &[AWS_SESSION_TOKEN];

/// Whether the Worker reads `name` ([`REQUIRED`] or [`OPTIONAL`]).
pub fn is_read(name: &str) -> bool {
    REQUIRED.contains(&name) || OPTIONAL.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::renamed::RENAMED_SETTINGS;
    use std::collections::BTreeSet;

    fn set(list: &[&'static str]) -> BTreeSet<&'static str> {
        let s: BTreeSet<_> = list.iter().copied().collect();
        assert_eq!(s.len(), list.len(), "a name twice in {list:?}");
        s
    }

    #[test]
    fn the_lists_have_no_duplicates_and_required_and_optional_are_disjoint() {
        let required = set(REQUIRED);
        let optional = set(OPTIONAL);
        assert!(
            required.is_disjoint(&optional),
            "both required and optional: {:?}",
            required.intersection(&optional).collect::<Vec<_>>()
        );
    }

    #[test]
    fn secrets_are_required_and_optional_secrets_optional() {
        assert!(set(SECRETS).is_subset(&set(REQUIRED)), "{SECRETS:?}");
        assert!(
            set(OPTIONAL_SECRETS).is_subset(&set(OPTIONAL)),
            "{OPTIONAL_SECRETS:?}"
        );
        assert!(is_read(AWS_REGION) && is_read(DEBUG_MEMORY));
        assert!(!is_read("EXPORT_BUCKET"));
    }

    #[test]
    fn names_are_environment_variable_names() {
        for name in REQUIRED.iter().chain(OPTIONAL) {
            assert!(
                name.starts_with(|c: char| c.is_ascii_uppercase())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn renamed_settings_are_read_under_their_new_names_only() {
        for (old, new) in RENAMED_SETTINGS {
            assert!(!is_read(old), "{old} was renamed {new}: drop it here");
            assert!(
                is_read(new),
                "{old} was renamed {new}, which the Worker does not read"
            );
        }
    }
}
