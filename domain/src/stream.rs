//! DynamoDB Streams batches, as Lambda delivers them, reduced to the
//! changes the serving snapshot needs: each item's latest state.
//!
//! A record carries `eventName` (`INSERT`, `MODIFY`, `REMOVE`) and, with
//! the `NEW_AND_OLD_IMAGES` (or `NEW_IMAGE`) view, the item as written in
//! `dynamodb.NewImage`. Streams deliver each item's records in order, and
//! Lambda's event source processes a shard's batches in order, so within a
//! batch the last record of a name is its current state; applying the same
//! batch again gives the same result. Ordering across S3 events is already
//! settled by the table's conditional writes: a stale or replayed S3 event
//! never reaches the stream.

use crate::dynamo::Item;
use crate::record::{attr, MediaRecord};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct Batch {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "eventName")]
    event_name: String,
    dynamodb: Change,
}

#[derive(Debug, Deserialize)]
struct Change {
    #[serde(rename = "Keys")]
    keys: Item,
    #[serde(rename = "NewImage", default)]
    new_image: Option<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("not a DynamoDB Streams batch: {0}")]
    NotABatch(String),
    #[error("record {index} ({event}) has no `name` key")]
    NoKey { index: usize, event: String },
    #[error("record {index} ({event}) has no NewImage: the stream must use the NEW_IMAGE or NEW_AND_OLD_IMAGES view")]
    NoImage { index: usize, event: String },
    #[error("unknown eventName `{0}`")]
    UnknownEvent(String),
}

/// The batch's changes: each name's latest state (`None` when removed).
/// Items that are not media records (foreign or corrupt) are returned in
/// `skipped`, with the reason, and count as removed: the snapshot serves
/// only what the API can show.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    pub latest: BTreeMap<String, Option<MediaRecord>>,
    pub skipped: Vec<(String, String)>,
    pub records: usize,
}

/// Parses a Lambda DynamoDB Streams event.
pub fn parse_batch(event: &serde_json::Value) -> Result<Changes, StreamError> {
    let batch: Batch =
        serde_json::from_value(event.clone()).map_err(|e| StreamError::NotABatch(e.to_string()))?;
    let mut changes = Changes {
        records: batch.records.len(),
        ..Changes::default()
    };
    for (index, r) in batch.records.into_iter().enumerate() {
        let name = r
            .dynamodb
            .keys
            .get(attr::NAME)
            .and_then(|v| v.as_s())
            .ok_or_else(|| StreamError::NoKey {
                index,
                event: r.event_name.clone(),
            })?
            .to_string();
        let state = match r.event_name.as_str() {
            "REMOVE" => None,
            "INSERT" | "MODIFY" => {
                let image = r.dynamodb.new_image.ok_or_else(|| StreamError::NoImage {
                    index,
                    event: r.event_name.clone(),
                })?;
                match MediaRecord::from_item(&image) {
                    Ok(record) => Some(record),
                    Err(e) => {
                        changes.skipped.push((name.clone(), e.to_string()));
                        None
                    }
                }
            }
            other => return Err(StreamError::UnknownEvent(other.to_string())),
        };
        changes.latest.insert(name, state);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_last_record_of_a_name_wins_and_bad_items_are_skipped() {
        let event = json!({"Records": [
            {"eventName": "INSERT", "dynamodb": {"Keys": {"name": {"S": "a.jpg"}},
                "NewImage": {"name": {"S": "a.jpg"}, "type": {"S": "image"}, "labels": {"L": [{"S": "Dog"}]}}}},
            {"eventName": "MODIFY", "dynamodb": {"Keys": {"name": {"S": "a.jpg"}},
                "NewImage": {"name": {"S": "a.jpg"}, "type": {"S": "image"}, "labels": {"L": [{"S": "Cat"}]}}}},
            {"eventName": "REMOVE", "dynamodb": {"Keys": {"name": {"S": "b.jpg"}}}},
            {"eventName": "INSERT", "dynamodb": {"Keys": {"name": {"S": "c"}},
                "NewImage": {"name": {"S": "c"}, "colour": {"S": "red"}}}}
        ]});
        let c = parse_batch(&event).unwrap();
        assert_eq!(c.records, 4);
        assert_eq!(
            c.latest["a.jpg"].as_ref().unwrap().labels,
            vec!["Cat".to_string()]
        );
        assert_eq!(c.latest["b.jpg"], None);
        assert_eq!((c.latest["c"].clone(), c.skipped.len()), (None, 1));
        let keys_only = json!({"Records": [{"eventName": "INSERT", "dynamodb": {"Keys": {"name": {"S": "a"}}}}]});
        assert!(matches!(
            parse_batch(&keys_only),
            Err(StreamError::NoImage { .. })
        ));
        assert!(parse_batch(&json!({"hello": 1})).is_err());
    }
}
