//! The table snapshot the edge serves from, in DynamoDB's own export layout.
//!
//! DynamoDB's `ExportTableToPointInTime` writes, under
//! `<prefix>/AWSDynamoDB/<export-id>/`:
//!
//! * `manifest-summary.json`: one JSON object ([`ManifestSummary`]);
//! * `manifest-files.json`: one JSON object per line ([`ManifestFile`]);
//! * `data/<file>.json.gz`: gzip'd lines of `{"Item": {...}}`
//!   ([`crate::dynamo::ExportLine`]).
//!
//! Our export writer produces the same files, so a reader of native exports
//! reads ours and the Worker can read a native export too.
//!
//! Native exports have no "latest" name, and a reader must never see a half
//! written one. So a snapshot is published by writing all of its files
//! first and then replacing one small pointer object, [`LatestPointer`] at
//! `<prefix>/latest.json`, in a single S3 PUT. Readers start from the
//! pointer; its ETag makes the "has it changed?" check a conditional GET.

use serde::{Deserialize, Serialize};

/// `outputFormat` of a DynamoDB JSON export.
pub const OUTPUT_FORMAT: &str = "DYNAMODB_JSON";
/// `version` of the manifest format DynamoDB writes.
pub const MANIFEST_VERSION: &str = "2020-06-30";

/// `manifest-summary.json`. Field names are DynamoDB's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestSummary {
    pub version: String,
    pub export_arn: String,
    pub start_time: String,
    pub end_time: String,
    pub table_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_id: Option<String>,
    pub export_time: String,
    pub s3_bucket: String,
    /// May be absent (or null) when the export sits at the bucket root.
    #[serde(default)]
    pub s3_prefix: Option<String>,
    #[serde(default)]
    pub s3_sse_algorithm: Option<String>,
    #[serde(default)]
    pub s3_sse_kms_key_id: Option<String>,
    pub manifest_files_s3_key: String,
    #[serde(default)]
    pub billed_size_bytes: u64,
    pub item_count: u64,
    pub output_format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_type: Option<String>,
}

/// One line of `manifest-files.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    pub item_count: u64,
    /// Base64 MD5 of the data file, as DynamoDB writes it.
    pub md5_checksum: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub data_file_s3_key: String,
}

/// `<prefix>/latest.json`: which export is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestPointer {
    /// S3 key of the current export's `manifest-summary.json`.
    pub manifest_summary_key: String,
    pub export_time: String,
    pub item_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("export format `{0}` is not DYNAMODB_JSON")]
    Format(String),
}

impl ManifestSummary {
    pub fn parse(text: &str) -> Result<ManifestSummary, ManifestError> {
        let s: ManifestSummary =
            serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?;
        if s.output_format != OUTPUT_FORMAT {
            return Err(ManifestError::Format(s.output_format));
        }
        Ok(s)
    }
}

/// Parses `manifest-files.json` (JSON lines; blank lines ignored).
pub fn parse_manifest_files(text: &str) -> Result<Vec<ManifestFile>, ManifestError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| ManifestError::Json(e.to_string())))
        .collect()
}

/// Where a key named in an export's manifests may be, most likely first.
/// DynamoDB writes keys from the bucket's root
/// (`<prefix>/AWSDynamoDB/<id>/data/<file>.json.gz`); other tools write
/// them relative to the export's folder (`data/<file>.json.gz`, the folder
/// of `manifest-summary.json`) or to the export's prefix
/// (`AWSDynamoDB/<id>/data/...`, the folder above `AWSDynamoDB/`).
pub fn key_candidates(summary_key: &str, key: &str) -> Vec<String> {
    let key = key.trim_start_matches('/');
    let folder = summary_key.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut out = vec![key.to_string()];
    let mut add = |k: String| {
        if !out.contains(&k) {
            out.push(k);
        }
    };
    add(join_key(folder, key));
    if let Some((root, _)) = folder.rsplit_once("AWSDynamoDB/") {
        add(join_key(root, key));
    }
    out
}

/// Joins a prefix and a relative key with exactly one `/`.
pub fn join_key(prefix: &str, rest: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// `<prefix>/latest.json`.
pub fn latest_pointer_key(prefix: &str) -> String {
    join_key(prefix, "latest.json")
}

/// `<prefix>/AWSDynamoDB/<export-id>/`, DynamoDB's export directory.
pub fn export_dir(prefix: &str, export_id: &str) -> String {
    join_key(prefix, &format!("AWSDynamoDB/{export_id}/"))
}

#[cfg(test)]
mod tests {
    use super::key_candidates;

    #[test]
    fn manifest_keys_from_the_root_the_folder_or_the_prefix() {
        let summary = "exports/native/AWSDynamoDB/0171-abc/manifest-summary.json";
        let root = "exports/native/AWSDynamoDB/0171-abc/data/x.json.gz";
        assert_eq!(key_candidates(summary, root)[0], root);
        assert!(key_candidates(summary, "data/x.json.gz").contains(&root.to_string()));
        assert!(key_candidates(summary, "/data/x.json.gz").contains(&root.to_string()));
        assert!(
            key_candidates(summary, "AWSDynamoDB/0171-abc/data/x.json.gz")
                .contains(&root.to_string())
        );
        // An export at the bucket's root.
        let top = key_candidates("AWSDynamoDB/1/manifest-summary.json", "data/y.json.gz");
        assert_eq!(top, ["data/y.json.gz", "AWSDynamoDB/1/data/y.json.gz"]);
    }
}
