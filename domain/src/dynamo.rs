//! DynamoDB JSON: the `{"S": "..."}` attribute-value format.
//!
//! This is the wire format of DynamoDB's HTTP API (which the Worker calls
//! directly) and of the `{"Item": {...}}` lines in DynamoDB's S3 exports
//! (which the Worker reads). serde's externally tagged enums are exactly this
//! shape, so the codec is the derive plus a few typed accessors.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One DynamoDB attribute value, in DynamoDB JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    /// Numbers travel as strings to keep their exact decimal form.
    N(String),
    /// Binary, kept as its base64 text.
    B(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    L(Vec<AttributeValue>),
    M(BTreeMap<String, AttributeValue>),
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    #[serde(rename = "BS")]
    Bs(Vec<String>),
}

/// A DynamoDB item: attribute name to value.
pub type Item = BTreeMap<String, AttributeValue>;

impl AttributeValue {
    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_l(&self) -> Option<&[AttributeValue]> {
        match self {
            AttributeValue::L(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_m(&self) -> Option<&BTreeMap<String, AttributeValue>> {
        match self {
            AttributeValue::M(m) => Some(m),
            _ => None,
        }
    }

    /// The DynamoDB JSON type tag (`"S"`, `"L"`, ...), for error messages.
    pub fn type_tag(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null(_) => "NULL",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }
}

/// One line of a DynamoDB export data file: `{"Item": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportLine {
    #[serde(rename = "Item")]
    pub item: Item,
}

/// Why a DynamoDB item is not a valid media record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("attribute `{0}` is missing")]
    Missing(&'static str),
    #[error("attribute `{attr}` has type {found}, expected {expected}")]
    WrongType {
        attr: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("attribute `{attr}` has an invalid value: {detail}")]
    Invalid { attr: &'static str, detail: String },
    #[error("invalid DynamoDB JSON: {0}")]
    Json(String),
}

/// Parses one export line (`{"Item": {...}}`) into an item.
pub fn parse_export_line(line: &str) -> Result<Item, CodecError> {
    serde_json::from_str::<ExportLine>(line)
        .map(|l| l.item)
        .map_err(|e| CodecError::Json(e.to_string()))
}

/// Serialises an item as one export line, without the trailing newline.
pub fn export_line(item: &Item) -> String {
    serde_json::to_string(&ExportLine { item: item.clone() }).expect("items always serialise")
}

/// One line of a native `INCREMENTAL_EXPORT` data file: an item's change.
#[derive(Debug, Clone, PartialEq)]
pub struct IncrementalChange {
    /// When the change was written, for ordering changes of one item.
    pub write_micros: u64,
    pub keys: Item,
    /// The item after the change; `None` when it was deleted.
    pub new_image: Option<Item>,
}

#[derive(Deserialize)]
struct IncrementalLine {
    #[serde(rename = "Metadata")]
    metadata: Metadata,
    #[serde(rename = "Keys")]
    keys: Item,
    #[serde(rename = "NewImage", default)]
    new_image: Option<Item>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(rename = "WriteTimestampMicros")]
    write_micros: Micros,
}

/// `WriteTimestampMicros` as DynamoDB writes it (`{"N": "..."}`) or as a
/// plain number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Micros {
    Typed {
        #[serde(rename = "N")]
        n: String,
    },
    Plain(u64),
}

/// Parses one line of an incremental export (`Metadata`, `Keys`,
/// `NewImage`, `OldImage`).
pub fn parse_incremental_line(line: &str) -> Result<IncrementalChange, CodecError> {
    let l: IncrementalLine =
        serde_json::from_str(line).map_err(|e| CodecError::Json(e.to_string()))?;
    let write_micros = match l.metadata.write_micros {
        Micros::Plain(n) => n,
        Micros::Typed { n } => n.parse().map_err(|_| CodecError::Invalid {
            attr: "WriteTimestampMicros",
            detail: format!("`{n}` is not a whole number"),
        })?,
    };
    Ok(IncrementalChange {
        write_micros,
        keys: l.keys,
        new_image: l.new_image,
    })
}

#[cfg(test)]
mod incremental_tests {
    use super::*;

    #[test]
    fn incremental_lines_carry_keys_images_and_write_times() {
        let line = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1680109764000000"}},"Keys":{"name":{"S":"a.jpg"}},"NewImage":{"name":{"S":"a.jpg"},"type":{"S":"image"}},"OldImage":{"name":{"S":"a.jpg"}}}"#;
        let c = parse_incremental_line(line).unwrap();
        assert_eq!(c.write_micros, 1_680_109_764_000_000);
        assert_eq!(c.keys["name"], AttributeValue::S("a.jpg".into()));
        assert!(c.new_image.is_some());
        let deleted = r#"{"Metadata":{"WriteTimestampMicros":5},"Keys":{"name":{"S":"a.jpg"}},"OldImage":{"name":{"S":"a.jpg"}}}"#;
        assert_eq!(parse_incremental_line(deleted).unwrap().new_image, None);
        assert!(parse_incremental_line(r#"{"Item":{}}"#).is_err());
        assert!(parse_incremental_line(
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"x"}},"Keys":{}}"#
        )
        .is_err());
    }
}
