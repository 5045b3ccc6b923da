//! The `GET /` query: workshop filters, in memory and as a DynamoDB Scan filter.
//!
//! The workshop's filters are `startswith` (name prefix), `media-type`
//! (`image` or `video`) and `label` (one exact label). Both sides must agree
//! on them: the edge runs [`ListQuery::matches`] over a snapshot, AWS runs
//! [`ListQuery::scan_filter`] inside DynamoDB. The mapping is one to one:
//!
//! | filter       | in memory                        | FilterExpression              |
//! |--------------|----------------------------------|-------------------------------|
//! | (always)     | `status` is ready                | `attribute_not_exists(#status)` |
//! | `startswith` | `name.starts_with(p)` (bytes)    | `begins_with(#name, :startswith)` |
//! | `media-type` | `type == t`                      | `#type = :media_type`         |
//! | `label`      | some label `== l` (exact, cased) | `contains(#labels, :label)`   |
//!
//! `contains` on a list attribute tests element equality, which is why the
//! label filter is exact and case-sensitive, as in the workshop. `name` and
//! `type` are DynamoDB reserved words, so every attribute goes through a
//! `#placeholder`.
//!
//! Bad input is a 400, never a silently empty list: an unknown parameter,
//! an unknown `media-type`, a repeated or an empty parameter, a bad
//! `limit` or `cursor` (see [`crate::page`]).

use crate::api::ApiError;
use crate::dynamo::AttributeValue;
use crate::media::MediaType;
use crate::page::PageRequest;
use crate::record::{attr, MediaItem, MediaRecord};
use crate::s3_event::encode_key;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The query parameters `GET /` understands.
pub const PARAMS: [&str; 5] = ["startswith", "media-type", "label", "limit", "cursor"];

/// A validated `GET /` request: the filters and the page asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub query: ListQuery,
    pub page: PageRequest,
}

/// A validated `GET /` query. `Default` lists everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startswith: Option<String>,
    #[serde(
        rename = "media-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub media_type: Option<MediaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A DynamoDB Scan filter: expression plus its placeholders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanFilter {
    #[serde(rename = "FilterExpression")]
    pub expression: String,
    #[serde(rename = "ExpressionAttributeNames")]
    pub names: BTreeMap<String, String>,
    /// Empty when the query has no filter value.
    #[serde(rename = "ExpressionAttributeValues", default)]
    pub values: BTreeMap<String, AttributeValue>,
}

impl ListRequest {
    /// Builds a request from decoded `(name, value)` pairs.
    pub fn from_pairs<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ListRequest, ApiError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = ListQuery::default();
        let mut page = PageRequest::default();
        let mut cursor = None;
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            if !PARAMS.contains(&k) {
                return Err(ApiError::bad_request(format!(
                    "Unknown query parameter '{k}'; supported parameters are: {}",
                    PARAMS.join(", ")
                )));
            }
            if seen.iter().any(|s| s == k) {
                return Err(ApiError::bad_request(format!(
                    "Query parameter '{k}' must be given at most once"
                )));
            }
            seen.push(k.to_string());
            if v.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Query parameter '{k}' must not be empty"
                )));
            }
            match k {
                "startswith" => q.startswith = Some(v.to_string()),
                "label" => q.label = Some(v.to_string()),
                "limit" => {
                    page.limit = PageRequest::parse_limit(v)?;
                    page.explicit_limit = true;
                }
                "cursor" => cursor = Some(v.to_string()),
                _ => {
                    q.media_type = Some(MediaType::parse(v).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "Invalid media-type '{v}'; expected 'image' or 'video'"
                        ))
                    })?)
                }
            }
        }
        if let Some(c) = cursor {
            page.after = Some(crate::page::decode_cursor(&q.canonical(), &c)?);
        }
        Ok(ListRequest { query: q, page })
    }

    /// Builds a request from a raw query string (`a=1&b=2`, form-encoded,
    /// without the `?`). Percent escapes must decode to UTF-8.
    pub fn from_query_string(raw: &str) -> Result<ListRequest, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                crate::s3_event::decode_key(s).or_else(|e| match e {
                    crate::s3_event::KeyDecodeError::Empty => Ok(String::new()),
                    _ => Err(ApiError::bad_request(format!(
                        "Query string is not valid URL encoding: '{part}'"
                    ))),
                })
            };
            pairs.push((decode(k)?, decode(v)?));
        }
        ListRequest::from_pairs(pairs)
    }
}

impl ListQuery {
    /// The filters of a query string, ignoring `limit` and `cursor`.
    pub fn from_query_string(raw: &str) -> Result<ListQuery, ApiError> {
        ListRequest::from_query_string(raw).map(|r| r.query)
    }

    /// The query in one canonical spelling (fixed parameter order, S3-style
    /// encoding), for cursors, `Link` headers and `ETag`s.
    pub fn canonical(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.startswith {
            parts.push(format!("startswith={}", encode_key(p)));
        }
        if let Some(t) = self.media_type {
            parts.push(format!("media-type={}", t.as_str()));
        }
        if let Some(l) = &self.label {
            parts.push(format!("label={}", encode_key(l)));
        }
        parts.join("&")
    }

    /// Whether a record belongs in the answer to this query.
    pub fn matches(&self, record: &MediaRecord) -> bool {
        record.is_visible()
            && self
                .startswith
                .as_deref()
                .is_none_or(|p| record.name.starts_with(p))
            && self.media_type.is_none_or(|t| record.media_type == t)
            && self
                .label
                .as_deref()
                .is_none_or(|l| record.labels.iter().any(|x| x == l))
    }

    /// The same predicate as a DynamoDB Scan `FilterExpression`.
    pub fn scan_filter(&self) -> ScanFilter {
        let mut names = BTreeMap::new();
        let mut values = BTreeMap::new();
        names.insert("#status".to_string(), attr::STATUS.to_string());
        let mut clauses = vec!["attribute_not_exists(#status)".to_string()];
        if let Some(p) = &self.startswith {
            names.insert("#name".into(), attr::NAME.into());
            values.insert(":startswith".into(), AttributeValue::S(p.clone()));
            clauses.push("begins_with(#name, :startswith)".into());
        }
        if let Some(t) = self.media_type {
            names.insert("#type".into(), attr::TYPE.into());
            values.insert(":media_type".into(), AttributeValue::S(t.as_str().into()));
            clauses.push("#type = :media_type".into());
        }
        if let Some(l) = &self.label {
            names.insert("#labels".into(), attr::LABELS.into());
            values.insert(":label".into(), AttributeValue::S(l.clone()));
            clauses.push("contains(#labels, :label)".into());
        }
        ScanFilter {
            expression: clauses.join(" AND "),
            names,
            values,
        }
    }

    /// Filters records and returns the public items, sorted by name so that
    /// every source (snapshot, Scan pages) gives the same order.
    pub fn select<'a>(&self, records: impl IntoIterator<Item = &'a MediaRecord>) -> Vec<MediaItem> {
        let mut items: Vec<MediaItem> = records
            .into_iter()
            .filter(|r| self.matches(r))
            .map(MediaRecord::to_media_item)
            .collect();
        sort_items(&mut items);
        items
    }
}

/// The canonical order of a list answer: by name, bytewise.
pub fn sort_items(items: &mut [MediaItem]) {
    items.sort_by(|a, b| a.name.cmp(&b.name));
}
