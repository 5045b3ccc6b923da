//! S3 event notifications, parsed leniently but never silently.
//!
//! Real S3, SNS/SQS fan-out and emulators disagree on the optional fields:
//! moto sends no `sequencer`, `userIdentity` or `requestParameters`, and a
//! bucket's first notification is an `s3:TestEvent` without `Records`. So we
//! read only what we use, and a record that lacks it is a typed error for
//! that record alone.
//!
//! Keys arrive URL-encoded the way S3 encodes them: `+` is a space and
//! `%XX` is a byte of the UTF-8 key.

use crate::record::{OrderKey, OrderKeyError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened to the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// `ObjectCreated:*` (Put, Post, Copy, CompleteMultipartUpload).
    Created,
    /// `ObjectRemoved:*` (Delete, DeleteMarkerCreated).
    Removed,
    /// Any other event name, such as `ObjectRestore:Completed`.
    Other(String),
}

/// One object change from an S3 event record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Change {
    pub kind: ChangeKind,
    /// The event name without any `s3:` prefix, e.g. `ObjectCreated:Put`.
    pub event_name: String,
    pub event_time: String,
    pub bucket: String,
    /// The decoded object key.
    pub key: String,
    pub size: Option<u64>,
    pub sequencer: Option<String>,
    pub version_id: Option<String>,
}

impl S3Change {
    /// The ordering key of this change; see [`OrderKey`].
    pub fn order_key(&self) -> Result<OrderKey, OrderKeyError> {
        OrderKey::for_event(self.sequencer.as_deref(), &self.event_time)
    }
}

/// A parsed S3 notification.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Notification {
    /// `true` for the `s3:TestEvent` S3 sends when notifications are set up.
    pub is_test_event: bool,
    /// One entry per record, in order; a bad record does not hide the others.
    pub records: Vec<Result<S3Change, S3EventError>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum S3EventError {
    #[error("event is not valid JSON: {0}")]
    NotJson(String),
    #[error("event is neither an S3 notification nor an s3:TestEvent")]
    NotS3Event,
    #[error("record {index}: field `{field}` is missing or has the wrong type")]
    MissingField { index: usize, field: String },
    #[error("record {index}: object key `{key}` is not valid S3 URL encoding: {reason}")]
    BadKey {
        index: usize,
        key: String,
        reason: String,
    },
}

/// Parses an S3 event notification from JSON text.
pub fn parse_s3_event(json: &str) -> Result<S3Notification, S3EventError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| S3EventError::NotJson(e.to_string()))?;
    parse_s3_event_value(&value)
}

/// Parses an S3 event notification that is already a JSON value.
pub fn parse_s3_event_value(value: &Value) -> Result<S3Notification, S3EventError> {
    let obj = value.as_object().ok_or(S3EventError::NotS3Event)?;
    if obj.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(S3Notification {
            is_test_event: true,
            records: Vec::new(),
        });
    }
    let records = obj
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(S3EventError::NotS3Event)?;
    Ok(S3Notification {
        is_test_event: false,
        records: records
            .iter()
            .enumerate()
            .map(|(i, r)| parse_record(i, r))
            .collect(),
    })
}

fn parse_record(index: usize, r: &Value) -> Result<S3Change, S3EventError> {
    let missing = |field: &str| S3EventError::MissingField {
        index,
        field: field.to_string(),
    };
    let text = |path: &str| -> Option<String> {
        path.split('.')
            .try_fold(r, |v, part| v.get(part))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let raw_name = text("eventName").ok_or_else(|| missing("eventName"))?;
    let event_name = raw_name
        .strip_prefix("s3:")
        .unwrap_or(&raw_name)
        .to_string();
    let kind = if event_name.starts_with("ObjectCreated:") {
        ChangeKind::Created
    } else if event_name.starts_with("ObjectRemoved:") {
        ChangeKind::Removed
    } else {
        ChangeKind::Other(event_name.clone())
    };
    let raw_key = text("s3.object.key").ok_or_else(|| missing("s3.object.key"))?;
    let key = decode_key(&raw_key).map_err(|reason| S3EventError::BadKey {
        index,
        key: raw_key.clone(),
        reason: reason.to_string(),
    })?;
    let size = match r.pointer("/s3/object/size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| missing("s3.object.size"))?),
    };
    Ok(S3Change {
        kind,
        event_name,
        event_time: text("eventTime").ok_or_else(|| missing("eventTime"))?,
        bucket: text("s3.bucket.name").ok_or_else(|| missing("s3.bucket.name"))?,
        key,
        size,
        sequencer: text("s3.object.sequencer"),
        version_id: text("s3.object.versionId"),
    })
}

/// Why a key is not valid S3 URL encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyDecodeError {
    #[error("`%` is not followed by two hex digits")]
    BadEscape,
    #[error("the decoded bytes are not UTF-8")]
    NotUtf8,
    #[error("the key is empty")]
    Empty,
}

/// Decodes an S3 event key: `+` is a space, `%XX` a byte, the result UTF-8.
///
/// Stricter than form decoding: a stray `%` is an error, not a literal, so a
/// key that was mangled on the way is reported instead of stored wrongly.
pub fn decode_key(raw: &str) -> Result<String, KeyDecodeError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(KeyDecodeError::BadEscape)?;
                let hex = std::str::from_utf8(hex).map_err(|_| KeyDecodeError::BadEscape)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(KeyDecodeError::BadEscape);
                }
                out.push(u8::from_str_radix(hex, 16).map_err(|_| KeyDecodeError::BadEscape)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    if out.is_empty() {
        return Err(KeyDecodeError::Empty);
    }
    String::from_utf8(out).map_err(|_| KeyDecodeError::NotUtf8)
}

/// Encodes a key the way S3 does in event notifications (the inverse of
/// [`decode_key`]): unreserved characters and `/` stay, a space becomes
/// `+`, everything else `%XX`.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
