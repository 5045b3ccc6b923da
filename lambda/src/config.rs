//! Settings, read from environment variables with the workshop's names.

use thiserror::Error;

/// Rekognition reads images from S3 only up to 15 MB.
pub const MAX_IMAGE_BYTES: u64 = 15 * 1024 * 1024;
/// Rekognition Video reads stored videos only up to 10 GB.
pub const MAX_VIDEO_BYTES: u64 = 10 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `MEDIA_TABLE_NAME`, required.
    pub table: String,
    /// `VIDEO_TOPIC_ARN`: where Rekognition reports finished video jobs.
    pub video_topic_arn: Option<String>,
    /// `VIDEO_ROLE_ARN`: the role Rekognition assumes to publish there.
    pub video_role_arn: Option<String>,
    /// `MIN_CONFIDENCE` (0–100, default 50): weaker labels are not stored.
    pub min_confidence: f32,
    /// `MAX_LABELS` (default 20): DetectLabels' `MaxLabels`.
    pub max_labels: i32,
    /// `SNAPSHOT_BUCKET`: where the edge snapshot is written.
    pub snapshot_bucket: Option<String>,
    /// `SNAPSHOT_PREFIX` (default `edge-snapshot`).
    pub snapshot_prefix: String,
    /// `SNAPSHOT_TTL_SECONDS` (default 60), as at the edge: how long the read
    /// API serves a snapshot version before re-checking the pointer, and
    /// the `max-age` of its answers.
    pub snapshot_ttl_seconds: u64,
    /// `MEDIA_BUCKET_NAME`: the uploads' bucket. The pending sweeper needs
    /// it to start a job that was never started.
    pub media_bucket: Option<String>,
    /// `PENDING_TIMEOUT_SECONDS` (default 3600): a video pending longer is
    /// looked at by the sweeper.
    pub pending_timeout_seconds: u64,
    /// `SNAPSHOT_GC_GRACE_SECONDS` (default 7200): how long a snapshot
    /// object no longer referenced is kept before it is deleted.
    pub snapshot_gc_grace_seconds: u64,
}

/// Longer than a reader may keep serving a manifest it fetched: the edge's
/// `MAX_STALE_SECONDS` (an hour) plus its TTL, with an hour to spare.
pub const DEFAULT_SNAPSHOT_GC_GRACE_SECONDS: u64 = 7200;

/// How long a video may stay `pending` before the sweeper looks at it:
/// Rekognition labels a video in minutes, so an hour means the notice was
/// lost or the job never started.
pub const DEFAULT_PENDING_TIMEOUT_SECONDS: u64 = 3600;

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {detail}")]
    Invalid { name: &'static str, detail: String },
    #[error("environment variable {0}")]
    Renamed(String),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        if let Some(e) = media_query_domain::renamed::renamed_setting(&get) {
            return Err(ConfigError::Renamed(e));
        }
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let min_confidence = match nonempty("MIN_CONFIDENCE") {
            None => 50.0,
            Some(v) => v
                .parse::<f32>()
                .ok()
                .filter(|c| (0.0..=100.0).contains(c))
                .ok_or(ConfigError::Invalid {
                    name: "MIN_CONFIDENCE",
                    detail: format!("`{v}` is not a number from 0 to 100"),
                })?,
        };
        let max_labels = match nonempty("MAX_LABELS") {
            None => 20,
            Some(v) => v
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(ConfigError::Invalid {
                    name: "MAX_LABELS",
                    detail: format!("`{v}` is not a positive integer"),
                })?,
        };
        let seconds = |name: &'static str, default: u64| match nonempty(name) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| ConfigError::Invalid {
                name,
                detail: format!("`{v}` is not a whole number of seconds"),
            }),
        };
        let snapshot_ttl_seconds = seconds("SNAPSHOT_TTL_SECONDS", 60)?;
        let pending_timeout_seconds =
            seconds("PENDING_TIMEOUT_SECONDS", DEFAULT_PENDING_TIMEOUT_SECONDS)?;
        let snapshot_gc_grace_seconds = seconds(
            "SNAPSHOT_GC_GRACE_SECONDS",
            DEFAULT_SNAPSHOT_GC_GRACE_SECONDS,
        )?;
        Ok(Config {
            snapshot_ttl_seconds,
            table: nonempty("MEDIA_TABLE_NAME").ok_or(ConfigError::Missing("MEDIA_TABLE_NAME"))?,
            video_topic_arn: nonempty("VIDEO_TOPIC_ARN"),
            video_role_arn: nonempty("VIDEO_ROLE_ARN"),
            min_confidence,
            max_labels,
            snapshot_bucket: nonempty("SNAPSHOT_BUCKET"),
            snapshot_prefix: nonempty("SNAPSHOT_PREFIX").unwrap_or_else(|| "edge-snapshot".into()),
            media_bucket: nonempty("MEDIA_BUCKET_NAME"),
            pending_timeout_seconds,
            snapshot_gc_grace_seconds,
        })
    }

    /// A configuration for tests and benches.
    pub fn for_table(table: &str) -> Config {
        Config::from_lookup(|k| (k == "MEDIA_TABLE_NAME").then(|| table.to_string()))
            .expect("a table name is enough")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_and_errors() {
        let c = Config::from_lookup(lookup(&[("MEDIA_TABLE_NAME", "t")])).unwrap();
        assert_eq!(
            (c.min_confidence, c.max_labels, c.snapshot_prefix.as_str()),
            (50.0, 20, "edge-snapshot")
        );
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Missing("MEDIA_TABLE_NAME"))
        );
        let bad = Config::from_lookup(lookup(&[
            ("MEDIA_TABLE_NAME", "t"),
            ("MIN_CONFIDENCE", "120"),
        ]));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "MIN_CONFIDENCE",
                ..
            })
        ));
        let bad = Config::from_lookup(lookup(&[("MEDIA_TABLE_NAME", "t"), ("MAX_LABELS", "0")]));
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                name: "MAX_LABELS",
                ..
            })
        ));
    }

    #[test]
    fn a_renamed_setting_still_set_is_refused() {
        let old = Config::from_lookup(lookup(&[("MEDIA_TABLE_NAME", "t"), ("EXPORT_BUCKET", "b")]));
        assert!(
            matches!(&old, Err(ConfigError::Renamed(e)) if e.contains("SNAPSHOT_BUCKET")),
            "{old:?}"
        );
        let new = Config::from_lookup(lookup(&[
            ("MEDIA_TABLE_NAME", "t"),
            ("SNAPSHOT_BUCKET", "b"),
        ]));
        assert_eq!(new.unwrap().snapshot_bucket.as_deref(), Some("b"));
    }
}
