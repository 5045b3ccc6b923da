//! The stored media record, what the API shows of it, and the ordering rule.
//!
//! A record is keyed by `name` (the decoded S3 key). Besides the workshop's
//! `name`, `type` and `labels`, we store:
//!
//! * `confidences`: label name to confidence (0–100), an extension.
//! * `event_order`: the [`OrderKey`] of the S3 event that last wrote it.
//! * `status`: absent for a ready item. Otherwise `pending` (a video job is
//!   running), `failed` (Rekognition rejected the object or the job failed;
//!   see `error`) or `deleted` (a tombstone that keeps a late, reordered
//!   `ObjectCreated` from bringing the item back).
//!
//! Only ready records are visible through the API. Workshop-era items, which
//! have no `status`, are ready.

use crate::dynamo::{AttributeValue, CodecError, Item};
use crate::media::MediaType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How long a tombstone is kept before DynamoDB's TTL deletes it: longer
/// than any redelivery of the events it must outrank. S3 retries its
/// notifications for minutes to hours, Lambda retries asynchronous events
/// for up to 6 hours, and a dead-letter queue keeps a failed event for up
/// to 14 days, from where it may be redriven. 30 days covers all three
/// with room; a create event older than that can only come from a manual
/// replay of an archive.
pub const TOMBSTONE_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// Attribute names in the media table.
pub mod attr {
    pub const NAME: &str = "name";
    pub const TYPE: &str = "type";
    pub const LABELS: &str = "labels";
    pub const CONFIDENCES: &str = "confidences";
    pub const STATUS: &str = "status";
    pub const EVENT_ORDER: &str = "event_order";
    pub const ERROR: &str = "error";
    pub const JOB_ID: &str = "job_id";
    /// Epoch seconds after which DynamoDB's TTL deletes a tombstone.
    pub const EXPIRES_AT: &str = "expires_at";
    /// Epoch seconds at which a video became `pending`; only pending
    /// records carry it, so the [`PENDING_INDEX`] holds only them.
    pub const PENDING_SINCE: &str = "pending_since";
}

/// The table's sparse global secondary index on [`attr::PENDING_SINCE`]:
/// the pending sweeper reads the pending videos from it, at a cost that
/// follows their number, not the table's size.
pub const PENDING_INDEX: &str = "pending";

/// What the API serves: the workshop's `{name, type, labels}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaItem {
    pub name: String,
    #[serde(rename = "type")]
    pub media_type: MediaType,
    pub labels: Vec<String>,
}

/// Lifecycle of a record; only [`RecordStatus::Ready`] is visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// Labelled and visible. Stored as the *absence* of `status`.
    Ready,
    /// A video label job was started and has not completed.
    Pending,
    /// Rekognition could not label the object; `error` says why.
    Failed,
    /// The object was removed; kept as a tombstone for ordering.
    Deleted,
}

impl RecordStatus {
    /// The stored spelling, or `None` for `Ready` (no attribute).
    pub const fn stored(self) -> Option<&'static str> {
        match self {
            RecordStatus::Ready => None,
            RecordStatus::Pending => Some("pending"),
            RecordStatus::Failed => Some("failed"),
            RecordStatus::Deleted => Some("deleted"),
        }
    }

    fn parse(s: &str) -> Option<RecordStatus> {
        match s {
            "pending" => Some(RecordStatus::Pending),
            "failed" => Some(RecordStatus::Failed),
            "deleted" => Some(RecordStatus::Deleted),
            _ => None,
        }
    }
}

/// Position of an S3 event in the history of one object key.
///
/// S3's `sequencer` is a hex number; AWS says to compare two of them by
/// left-padding the shorter with zeros and comparing lexicographically. We
/// store it padded to a fixed width so DynamoDB can compare it in a
/// `ConditionExpression` with a plain `<`.
///
/// Some S3 emulators (moto) send no `sequencer`; then the event time, at the
/// precision given, is the fallback. The two spaces never mix in one
/// deployment, and a sequencer key always sorts after a time key (prefix `1`
/// vs `0`). Two events on one key with the same fallback time are a tie: the
/// first one applied wins.
///
/// The key only uses characters allowed in a Rekognition `JobTag`
/// (`[a-zA-Z0-9_.\-:]`), so a video job carries the order of the upload
/// that started it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderKey(String);

/// Width (in hex digits) a sequencer is padded to.
const SEQUENCER_WIDTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderKeyError {
    #[error("sequencer `{0}` is not a hex string of 1 to 32 digits")]
    BadSequencer(String),
    #[error("event time `{0}` is not an ISO-8601 UTC time like 1970-01-01T00:00:00.000Z")]
    BadEventTime(String),
    #[error("order key `{0}` is malformed")]
    BadKey(String),
}

impl OrderKey {
    /// From an S3 `sequencer` (hex, any case, any length up to 32).
    pub fn from_sequencer(seq: &str) -> Result<OrderKey, OrderKeyError> {
        let digits = seq.trim_start_matches('0');
        if seq.is_empty()
            || digits.len() > SEQUENCER_WIDTH
            || !seq.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(OrderKeyError::BadSequencer(seq.to_string()));
        }
        Ok(OrderKey(format!(
            "1{:0>width$}",
            digits.to_ascii_uppercase(),
            width = SEQUENCER_WIDTH
        )))
    }

    /// From an S3 `eventTime` such as `2026-11-24T18:45:47.123Z`.
    ///
    /// The fraction is normalised to microseconds so keys compare as text.
    pub fn from_event_time(time: &str) -> Result<OrderKey, OrderKeyError> {
        let bad = || OrderKeyError::BadEventTime(time.to_string());
        let body = time.strip_suffix('Z').ok_or_else(bad)?;
        let (base, frac) = body.split_once('.').unwrap_or((body, ""));
        let b = base.as_bytes();
        let shape_ok = b.len() == 19
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let mut micros: String = frac.chars().take(6).collect();
        while micros.len() < 6 {
            micros.push('0');
        }
        Ok(OrderKey(format!("0{base}.{micros}Z")))
    }

    /// The order of an S3 event: its sequencer, else its event time.
    pub fn for_event(sequencer: Option<&str>, event_time: &str) -> Result<OrderKey, OrderKeyError> {
        match sequencer {
            Some(seq) => OrderKey::from_sequencer(seq),
            None => OrderKey::from_event_time(event_time),
        }
    }

    /// Re-reads a stored key (for example a Rekognition `JobTag`).
    pub fn parse(stored: &str) -> Result<OrderKey, OrderKeyError> {
        let ok = match stored.split_at_checked(1) {
            Some(("1", hex)) => {
                hex.len() == SEQUENCER_WIDTH && hex.bytes().all(|b| b.is_ascii_hexdigit())
            }
            Some(("0", time)) => OrderKey::from_event_time(time).is_ok_and(|k| k.0[1..] == *time),
            _ => false,
        };
        if ok {
            Ok(OrderKey(stored.to_string()))
        } else {
            Err(OrderKeyError::BadKey(stored.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A row of the media table.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRecord {
    pub name: String,
    pub media_type: MediaType,
    pub labels: Vec<String>,
    /// Label name to confidence (0–100); may be empty.
    pub confidences: BTreeMap<String, f32>,
    pub status: RecordStatus,
    pub event_order: Option<OrderKey>,
    /// Why a `failed` record failed.
    pub error: Option<String>,
    /// The Rekognition job of a `pending` video.
    pub job_id: Option<String>,
}

impl MediaRecord {
    /// A ready record with labels and no confidences.
    pub fn ready(name: impl Into<String>, media_type: MediaType, labels: Vec<String>) -> Self {
        MediaRecord {
            name: name.into(),
            media_type,
            labels,
            confidences: BTreeMap::new(),
            status: RecordStatus::Ready,
            event_order: None,
            error: None,
            job_id: None,
        }
    }

    /// Whether the API may show this record.
    pub fn is_visible(&self) -> bool {
        self.status == RecordStatus::Ready
    }

    /// The public `{name, type, labels}` view.
    pub fn to_media_item(&self) -> MediaItem {
        MediaItem {
            name: self.name.clone(),
            media_type: self.media_type,
            labels: self.labels.clone(),
        }
    }

    /// The item as the table stores it at `now_secs`: a tombstone also
    /// carries [`attr::EXPIRES_AT`], [`TOMBSTONE_TTL_SECONDS`] ahead, for
    /// DynamoDB's TTL, and a pending video [`attr::PENDING_SINCE`], for the
    /// [`PENDING_INDEX`]. Any other write replaces the whole item, so the
    /// record leaves the index as soon as it stops being pending.
    pub fn to_stored_item(&self, now_secs: u64) -> Item {
        let mut item = self.to_item();
        match self.status {
            RecordStatus::Deleted => {
                item.insert(
                    attr::EXPIRES_AT.into(),
                    AttributeValue::N((now_secs + TOMBSTONE_TTL_SECONDS).to_string()),
                );
            }
            RecordStatus::Pending => {
                item.insert(
                    attr::PENDING_SINCE.into(),
                    AttributeValue::N(now_secs.to_string()),
                );
            }
            RecordStatus::Ready | RecordStatus::Failed => {}
        }
        item
    }

    /// Encodes the record as a DynamoDB item.
    pub fn to_item(&self) -> Item {
        let mut item = Item::new();
        item.insert(attr::NAME.into(), AttributeValue::S(self.name.clone()));
        item.insert(
            attr::TYPE.into(),
            AttributeValue::S(self.media_type.as_str().into()),
        );
        item.insert(
            attr::LABELS.into(),
            AttributeValue::L(self.labels.iter().cloned().map(AttributeValue::S).collect()),
        );
        if !self.confidences.is_empty() {
            let m = self
                .confidences
                .iter()
                .map(|(k, v)| (k.clone(), AttributeValue::N(v.to_string())))
                .collect();
            item.insert(attr::CONFIDENCES.into(), AttributeValue::M(m));
        }
        if let Some(status) = self.status.stored() {
            item.insert(attr::STATUS.into(), AttributeValue::S(status.into()));
        }
        let optional = [
            (
                attr::EVENT_ORDER,
                self.event_order.as_ref().map(|k| k.as_str()),
            ),
            (attr::ERROR, self.error.as_deref()),
            (attr::JOB_ID, self.job_id.as_deref()),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                item.insert(name.into(), AttributeValue::S(v.into()));
            }
        }
        item
    }

    /// Decodes a DynamoDB item. Unknown attributes are ignored.
    pub fn from_item(item: &Item) -> Result<MediaRecord, CodecError> {
        let name = req_s(item, attr::NAME)?.to_string();
        let type_s = req_s(item, attr::TYPE)?;
        let media_type = MediaType::parse(type_s).ok_or_else(|| CodecError::Invalid {
            attr: attr::TYPE,
            detail: format!("`{type_s}` is neither image nor video"),
        })?;
        let labels = match item.get(attr::LABELS) {
            None => return Err(CodecError::Missing(attr::LABELS)),
            // A string set, as some writers (and DynamoDB's own tools)
            // store labels: the same names, in the set's order.
            Some(AttributeValue::Ss(set)) => set.clone(),
            Some(v) => {
                let list = v.as_l().ok_or(CodecError::WrongType {
                    attr: attr::LABELS,
                    expected: "L",
                    found: v.type_tag(),
                })?;
                list.iter()
                    .map(|l| {
                        l.as_s().map(str::to_string).ok_or(CodecError::WrongType {
                            attr: attr::LABELS,
                            expected: "L of S",
                            found: l.type_tag(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let mut confidences = BTreeMap::new();
        if let Some(v) = item.get(attr::CONFIDENCES) {
            let m = v.as_m().ok_or(CodecError::WrongType {
                attr: attr::CONFIDENCES,
                expected: "M",
                found: v.type_tag(),
            })?;
            for (k, v) in m {
                // `f32` parsing also takes `NaN` and `inf`, and rounds a
                // number past `f32::MAX` (`1E+39`) to infinity: none of
                // them re-encodes as a number DynamoDB accepts, and a NaN
                // record is not even equal to itself.
                let n = match v {
                    AttributeValue::N(n) => n.parse::<f32>().ok().filter(|c| c.is_finite()),
                    _ => None,
                }
                .ok_or_else(|| CodecError::Invalid {
                    attr: attr::CONFIDENCES,
                    detail: format!("confidence of `{k}` is not a number"),
                })?;
                confidences.insert(k.clone(), n);
            }
        }
        let status = match opt_s(item, attr::STATUS)? {
            None => RecordStatus::Ready,
            Some(s) => RecordStatus::parse(s).ok_or_else(|| CodecError::Invalid {
                attr: attr::STATUS,
                detail: format!("unknown status `{s}`"),
            })?,
        };
        let event_order = opt_s(item, attr::EVENT_ORDER)?
            .map(|s| {
                OrderKey::parse(s).map_err(|e| CodecError::Invalid {
                    attr: attr::EVENT_ORDER,
                    detail: e.to_string(),
                })
            })
            .transpose()?;
        Ok(MediaRecord {
            name,
            media_type,
            labels,
            confidences,
            status,
            event_order,
            error: opt_s(item, attr::ERROR)?.map(str::to_string),
            job_id: opt_s(item, attr::JOB_ID)?.map(str::to_string),
        })
    }
}

fn opt_s<'a>(item: &'a Item, name: &'static str) -> Result<Option<&'a str>, CodecError> {
    match item.get(name) {
        None => Ok(None),
        Some(v) => v.as_s().map(Some).ok_or(CodecError::WrongType {
            attr: name,
            expected: "S",
            found: v.type_tag(),
        }),
    }
}

fn req_s<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, CodecError> {
    opt_s(item, name)?.ok_or(CodecError::Missing(name))
}
