//! The table snapshot: fetched, decoded once per isolate, refreshed cheaply.
//!
//! The export writer publishes DynamoDB-export-layout files and then the
//! pointer `<prefix>/latest.json` (see `domain::export`). Loading follows
//! the pointer to the summary, the files manifest and the gzip'd data
//! files, and decodes every `{"Item": ...}` line with the domain codec.
//!
//! Refreshing after the TTL is one conditional GET of the pointer: an
//! unchanged pointer answers 304 and nothing else is downloaded; a pointer
//! to the same export is not reloaded either.
//!
//! The fetching is behind [`ObjectSource`], so the logic runs natively in
//! unit tests and, in the Worker, over SigV4-signed S3 GETs.

use flate2::read::GzDecoder;
use media_query_domain::dynamo::parse_export_line;
use media_query_domain::export::{
    latest_pointer_key, parse_manifest_files, LatestPointer, ManifestSummary,
};
use media_query_domain::MediaRecord;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;
use thiserror::Error;

/// A decoded snapshot: every record of the table by name.
#[derive(Debug, Default)]
pub struct Snapshot {
    records: HashMap<String, MediaRecord>,
    /// The export this snapshot came from.
    pub manifest_summary_key: String,
    /// The pointer's ETag, for conditional refreshes and response ETags.
    pub pointer_etag: Option<String>,
}

impl Snapshot {
    pub fn get(&self, name: &str) -> Option<&MediaRecord> {
        self.records.get(name)
    }

    pub fn records(&self) -> impl Iterator<Item = &MediaRecord> {
        self.records.values()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SnapshotError {
    #[error("no snapshot published at {0}")]
    Missing(String),
    #[error("fetching {key} failed: {detail}")]
    Fetch { key: String, detail: String },
    #[error("snapshot file {key} is corrupt: {detail}")]
    Corrupt { key: String, detail: String },
}

/// The answer to a (conditional) GET.
pub enum Fetched {
    Object { body: Vec<u8>, etag: Option<String> },
    NotModified,
    Missing,
}

/// Reads objects of the export bucket.
#[allow(async_fn_in_trait)]
pub trait ObjectSource {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, SnapshotError>;
}

async fn get_body<S: ObjectSource>(src: &S, key: &str) -> Result<Vec<u8>, SnapshotError> {
    match src.get(key, None).await? {
        Fetched::Object { body, .. } => Ok(body),
        Fetched::Missing => Err(SnapshotError::Missing(key.to_string())),
        Fetched::NotModified => Err(SnapshotError::Fetch {
            key: key.to_string(),
            detail: "unexpected 304".into(),
        }),
    }
}

fn corrupt(key: &str, detail: impl ToString) -> SnapshotError {
    SnapshotError::Corrupt {
        key: key.to_string(),
        detail: detail.to_string(),
    }
}

fn utf8<'a>(key: &str, bytes: &'a [u8]) -> Result<&'a str, SnapshotError> {
    std::str::from_utf8(bytes).map_err(|e| corrupt(key, e))
}

/// Decodes one gzip'd data file of `{"Item": ...}` lines.
pub fn decode_data_file(key: &str, gz: &[u8]) -> Result<Vec<MediaRecord>, SnapshotError> {
    let mut text = String::new();
    GzDecoder::new(gz)
        .read_to_string(&mut text)
        .map_err(|e| corrupt(key, format!("not gzip'd UTF-8: {e}")))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let item = parse_export_line(l).map_err(|e| corrupt(key, e))?;
            MediaRecord::from_item(&item).map_err(|e| corrupt(key, e))
        })
        .collect()
}

/// Loads the export a pointer names.
pub async fn load_export<S: ObjectSource>(
    src: &S,
    pointer: &LatestPointer,
) -> Result<Snapshot, SnapshotError> {
    let summary_key = &pointer.manifest_summary_key;
    let summary = ManifestSummary::parse(utf8(summary_key, &get_body(src, summary_key).await?)?)
        .map_err(|e| corrupt(summary_key, e))?;
    let files_key = &summary.manifest_files_s3_key;
    let files = parse_manifest_files(utf8(files_key, &get_body(src, files_key).await?)?)
        .map_err(|e| corrupt(files_key, e))?;
    let mut records = HashMap::with_capacity(summary.item_count as usize);
    for f in &files {
        let decoded = decode_data_file(
            &f.data_file_s3_key,
            &get_body(src, &f.data_file_s3_key).await?,
        )?;
        if decoded.len() as u64 != f.item_count {
            return Err(corrupt(
                &f.data_file_s3_key,
                format!("{} items, manifest says {}", decoded.len(), f.item_count),
            ));
        }
        records.extend(decoded.into_iter().map(|r| (r.name.clone(), r)));
    }
    if records.len() as u64 != summary.item_count {
        return Err(corrupt(
            summary_key,
            format!(
                "{} items, summary says {}",
                records.len(),
                summary.item_count
            ),
        ));
    }
    Ok(Snapshot {
        records,
        manifest_summary_key: summary_key.clone(),
        pointer_etag: None,
    })
}

/// What an isolate keeps between requests.
#[derive(Default)]
pub struct SnapshotCache {
    current: Option<Rc<Snapshot>>,
    checked_at_ms: f64,
}

impl SnapshotCache {
    /// The snapshot, refreshed first if `ttl_ms` has passed since the last
    /// check. A failed refresh drops the cached snapshot: the caller falls
    /// back to DynamoDB rather than serve data it cannot vouch for.
    pub async fn current<S: ObjectSource>(
        cache: &std::cell::RefCell<SnapshotCache>,
        src: &S,
        prefix: &str,
        now_ms: f64,
        ttl_ms: f64,
    ) -> Result<Rc<Snapshot>, SnapshotError> {
        let (current, due) = {
            let c = cache.borrow();
            (
                c.current.clone(),
                c.current.is_none() || now_ms - c.checked_at_ms >= ttl_ms,
            )
        };
        if let (Some(s), false) = (&current, due) {
            return Ok(s.clone());
        }
        let result = refresh(src, prefix, current.as_deref()).await;
        let mut c = cache.borrow_mut();
        match result {
            Ok(Refreshed::Unchanged) => {
                c.checked_at_ms = now_ms;
                Ok(current.expect("unchanged implies a current snapshot"))
            }
            Ok(Refreshed::New(s)) => {
                let s = Rc::new(s);
                c.current = Some(s.clone());
                c.checked_at_ms = now_ms;
                Ok(s)
            }
            Err(e) => {
                c.current = None;
                Err(e)
            }
        }
    }
}

enum Refreshed {
    Unchanged,
    New(Snapshot),
}

async fn refresh<S: ObjectSource>(
    src: &S,
    prefix: &str,
    current: Option<&Snapshot>,
) -> Result<Refreshed, SnapshotError> {
    let key = latest_pointer_key(prefix);
    let etag = current.and_then(|s| s.pointer_etag.as_deref());
    match src.get(&key, etag).await? {
        Fetched::NotModified if current.is_some() => Ok(Refreshed::Unchanged),
        Fetched::NotModified => Err(SnapshotError::Fetch {
            key,
            detail: "304 without a cached snapshot".into(),
        }),
        Fetched::Missing => Err(SnapshotError::Missing(key)),
        Fetched::Object { body, etag } => {
            let pointer: LatestPointer =
                serde_json::from_slice(&body).map_err(|e| corrupt(&key, e))?;
            if let Some(cur) =
                current.filter(|c| c.manifest_summary_key == pointer.manifest_summary_key)
            {
                // Same export, new pointer object: keep the decoded data.
                return Ok(Refreshed::New(Snapshot {
                    records: cur.records.clone(),
                    manifest_summary_key: pointer.manifest_summary_key,
                    pointer_etag: etag,
                }));
            }
            let mut snapshot = load_export(src, &pointer).await?;
            snapshot.pointer_etag = etag;
            Ok(Refreshed::New(snapshot))
        }
    }
}
