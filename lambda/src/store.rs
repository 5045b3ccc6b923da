//! Where media records live: a trait, its DynamoDB adapter, and an
//! in-memory adapter for tests and benchmarks of the handler logic.
//!
//! Writes are conditional, and that is what makes retried, duplicated and
//! reordered events harmless (see `domain::record::OrderKey`):
//! * [`MediaStore::put_if_newer`] applies a write from an S3 event only if
//!   the stored record is older (or has no order: a workshop-era item);
//! * [`MediaStore::put_if_current`] applies a video job's result only if the
//!   record still belongs to the upload that started the job.
//!
//! A write that loses its condition is [`Write::Stale`], not an error.

use crate::convert::{item_from_sdk, item_to_sdk, to_sdk};
use crate::iam::{Call, Needs, Resource};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue as Sdk;
use futures::stream::{BoxStream, StreamExt};
use media_query_domain::dynamo::{AttributeValue, Item};
use media_query_domain::query::ScanFilter;
use media_query_domain::record::{attr, PENDING_INDEX};
use media_query_domain::{ListQuery, MediaRecord, OrderKey, RecordStatus};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use thiserror::Error;

/// Whether a conditional write took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Applied,
    /// A newer (or different) version is stored; nothing was written.
    Stale,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("record {0} has no event order; it cannot be written conditionally")]
    NoOrder(String),
    #[error("stored item is not a media record: {0}")]
    Corrupt(String),
    /// `detail` is the whole chain (the SDK's own `Display` of a service
    /// error says only "service error", not which one).
    #[error("DynamoDB {operation} failed: {detail}")]
    Dynamo {
        operation: &'static str,
        detail: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub trait MediaStore: Send + Sync {
    /// Writes `record` unless a record with a newer or equal order exists.
    fn put_if_newer(
        &self,
        record: &MediaRecord,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;
    /// Writes `record` only if the stored record's order is `order`.
    fn put_if_current(
        &self,
        record: &MediaRecord,
        order: &OrderKey,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;
    /// The record named `name`, visible or not.
    fn get(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<MediaRecord>, StoreError>> + Send;
    /// Every visible record matching `query`, all pages.
    fn list(
        &self,
        query: &ListQuery,
    ) -> impl Future<Output = Result<Vec<MediaRecord>, StoreError>> + Send;
    /// One page of the Scan [`MediaStore::list`] makes, from `start` (the
    /// last page's `LastEvaluatedKey`), and where the next one starts.
    fn list_page(
        &self,
        query: &ListQuery,
        start: Option<Item>,
    ) -> impl Future<Output = Result<(Vec<MediaRecord>, Option<Item>), StoreError>> + Send;
    /// Every stored item, as is (for the export), page by page: a Scan in
    /// `segments` parallel segments, so memory holds pages, not the table.
    fn scan_pages(&self, segments: u32) -> BoxStream<'_, Result<Vec<Item>, StoreError>>;
    /// Notes the Rekognition job of a pending video, if the record is still
    /// that upload's and still pending (a fast job may already have ended).
    fn record_job(
        &self,
        name: &str,
        order: &OrderKey,
        job_id: &str,
    ) -> impl Future<Output = Result<Write, StoreError>> + Send;
    /// The videos pending since before `before_secs` (epoch seconds), read
    /// from the sparse [`PENDING_INDEX`]: their number, not the table's,
    /// sets the cost.
    fn pending_before(
        &self,
        before_secs: u64,
    ) -> impl Future<Output = Result<Vec<PendingVideo>, StoreError>> + Send;
}

/// A record in `pending`, and since when (epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingVideo {
    pub record: MediaRecord,
    pub since: u64,
}

impl PendingVideo {
    fn from_item(item: &Item) -> Result<PendingVideo, StoreError> {
        let record =
            MediaRecord::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let since = match item.get(attr::PENDING_SINCE) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| StoreError::Corrupt(format!("{}: no numeric pending_since", record.name)))?;
        Ok(PendingVideo { record, since })
    }
}

/// How `status` spells pending.
const PENDING: &str = match RecordStatus::Pending.stored() {
    Some(s) => s,
    None => "pending",
};

fn order_of(record: &MediaRecord) -> Result<&OrderKey, StoreError> {
    record
        .event_order
        .as_ref()
        .ok_or_else(|| StoreError::NoOrder(record.name.clone()))
}

// ---- DynamoDB ---------------------------------------------------------------

/// The media table in DynamoDB.
#[derive(Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    async fn conditional_put(
        &self,
        record: &MediaRecord,
        condition: &str,
        order: &OrderKey,
    ) -> Result<Write, StoreError> {
        // IAM: declared as `DynamoStore::PUT`.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_to_sdk(&record.to_stored_item(now_secs()))))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(
                [("#name", attr::NAME), ("#order", attr::EVENT_ORDER)]
                    .into_iter()
                    // DynamoDB rejects placeholders the expression does not use.
                    .filter(|(placeholder, _)| condition.contains(placeholder))
                    .map(|(p, a)| (p.to_string(), a.to_string()))
                    .collect(),
            ))
            .expression_attribute_values(":order", Sdk::S(order.as_str().to_string()))
            .send()
            .await;
        conditional_write("PutItem", result)
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A conditional write's outcome: a failed condition means a newer state
/// is stored ([`Write::Stale`]), not an error.
fn conditional_write<T, E>(
    operation: &'static str,
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E>>,
) -> Result<Write, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Write::Applied),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(Write::Stale),
        Err(e) => Err(dynamo(operation, e)),
    }
}

fn dynamo<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    e: E,
) -> StoreError {
    StoreError::Dynamo {
        operation,
        detail: aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
        source: Box::new(e),
    }
}

fn decode(item: &HashMap<String, Sdk>) -> Result<MediaRecord, StoreError> {
    let item =
        item_from_sdk(item).ok_or_else(|| StoreError::Corrupt("unknown attribute type".into()))?;
    MediaRecord::from_item(&item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What each DynamoDB call of the store needs from the function's role
/// ([`crate::iam`]); each handler's `IAM` lists the ones it makes. A new
/// call gets its `Call` here.
impl DynamoStore {
    /// [`MediaStore::put_if_newer`], [`MediaStore::put_if_current`]: a
    /// conditional PutItem (`conditional_put`).
    pub const PUT: Call = Call {
        name: "DynamoStore::put_if_newer/put_if_current",
        needs: &[Needs {
            actions: &["dynamodb:PutItem"],
            resource: Resource::MediaTable,
            why: "",
        }],
    };
    /// [`MediaStore::get`]: a consistent GetItem.
    pub const GET: Call = Call {
        name: "DynamoStore::get",
        needs: &[Needs {
            actions: &["dynamodb:GetItem"],
            resource: Resource::MediaTable,
            why: "",
        }],
    };
    /// [`MediaStore::list`], [`MediaStore::list_page`],
    /// [`MediaStore::scan_pages`]: Scans of the table.
    pub const SCAN: Call = Call {
        name: "DynamoStore::list/list_page/scan_pages",
        needs: &[Needs {
            actions: &["dynamodb:Scan"],
            resource: Resource::MediaTable,
            why: "",
        }],
    };
    /// [`MediaStore::record_job`]: a conditional UpdateItem.
    pub const RECORD_JOB: Call = Call {
        name: "DynamoStore::record_job",
        needs: &[Needs {
            actions: &["dynamodb:UpdateItem"],
            resource: Resource::MediaTable,
            why: "",
        }],
    };
    /// [`MediaStore::pending_before`]: a Scan of the sparse pending index.
    pub const PENDING_BEFORE: Call = Call {
        name: "DynamoStore::pending_before",
        needs: &[Needs {
            actions: &["dynamodb:Scan"],
            resource: Resource::MediaTableIndex(PENDING_INDEX),
            why: "a Scan of an index is authorised on the index's ARN",
        }],
    };
}

impl MediaStore for DynamoStore {
    async fn put_if_newer(&self, record: &MediaRecord) -> Result<Write, StoreError> {
        let order = order_of(record)?;
        self.conditional_put(
            record,
            "attribute_not_exists(#name) OR attribute_not_exists(#order) OR #order < :order",
            order,
        )
        .await
    }

    async fn put_if_current(
        &self,
        record: &MediaRecord,
        order: &OrderKey,
    ) -> Result<Write, StoreError> {
        self.conditional_put(record, "#order = :order", order).await
    }

    async fn get(&self, name: &str) -> Result<Option<MediaRecord>, StoreError> {
        // IAM: declared as `DynamoStore::GET`.
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::NAME, Sdk::S(name.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo("GetItem", e))?;
        out.item.as_ref().map(decode).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<MediaRecord>, StoreError> {
        let items = self.scan_all(Some(&query.scan_filter())).await?;
        items.iter().map(decode).collect()
    }

    async fn list_page(
        &self,
        query: &ListQuery,
        start: Option<Item>,
    ) -> Result<(Vec<MediaRecord>, Option<Item>), StoreError> {
        // IAM: declared as `DynamoStore::SCAN`.
        let scan = self.client.scan().table_name(&self.table);
        let out = with_filter(scan, &query.scan_filter())
            .set_exclusive_start_key(start.as_ref().map(item_to_sdk))
            .send()
            .await
            .map_err(|e| dynamo("Scan", e))?;
        let records = out.items().iter().map(decode).collect::<Result<_, _>>()?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .filter(|k| !k.is_empty())
            .and_then(item_from_sdk);
        Ok((records, next))
    }

    fn scan_pages(&self, segments: u32) -> BoxStream<'_, Result<Vec<Item>, StoreError>> {
        let segments = segments.max(1);
        let streams = (0..segments).map(|segment| {
            // IAM: declared as `DynamoStore::SCAN`.
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true);
            if segments > 1 {
                scan = scan.segment(segment as i32).total_segments(segments as i32);
            }
            let pages = scan.into_paginator().send();
            futures::stream::unfold(pages, |mut pages| async move {
                let page = pages.next().await?;
                let page = page.map_err(|e| dynamo("Scan", e)).map(|out| {
                    out.items()
                        .iter()
                        .filter_map(|i| {
                            let item = item_from_sdk(i);
                            if item.is_none() {
                                tracing::warn!("skipping an item with an unknown attribute type");
                            }
                            item
                        })
                        .collect()
                });
                Some((page, pages))
            })
            .boxed()
        });
        futures::stream::select_all(streams).boxed()
    }

    async fn record_job(
        &self,
        name: &str,
        order: &OrderKey,
        job_id: &str,
    ) -> Result<Write, StoreError> {
        // IAM: declared as `DynamoStore::RECORD_JOB`.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::NAME, Sdk::S(name.to_string()))
            .update_expression("SET #job = :job")
            .condition_expression("#order = :order AND #status = :pending")
            .expression_attribute_names("#job", attr::JOB_ID)
            .expression_attribute_names("#order", attr::EVENT_ORDER)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_values(":job", Sdk::S(job_id.to_string()))
            .expression_attribute_values(":order", Sdk::S(order.as_str().to_string()))
            .expression_attribute_values(":pending", Sdk::S(PENDING.to_string()))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }

    async fn pending_before(&self, before_secs: u64) -> Result<Vec<PendingVideo>, StoreError> {
        // IAM: declared as `DynamoStore::PENDING_BEFORE`.
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .filter_expression("#since < :before")
            .expression_attribute_names("#since", attr::PENDING_SINCE)
            .expression_attribute_values(":before", Sdk::N(before_secs.to_string()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| dynamo("Scan", e))?;
        items
            .iter()
            .map(|i| {
                let item = item_from_sdk(i)
                    .ok_or_else(|| StoreError::Corrupt("unknown attribute type".into()))?;
                PendingVideo::from_item(&item)
            })
            .collect()
    }
}

impl DynamoStore {
    /// Every item the Scan returns, following `LastEvaluatedKey` through all
    /// pages (the workshop's single Scan lost everything past 1 MB).
    async fn scan_all(
        &self,
        filter: Option<&ScanFilter>,
    ) -> Result<Vec<HashMap<String, Sdk>>, StoreError> {
        // IAM: declared as `DynamoStore::SCAN`.
        let scan = self.client.scan().table_name(&self.table);
        let scan = match filter {
            Some(f) => with_filter(scan, f),
            // The export wants the table as of now.
            None => scan.consistent_read(true),
        };
        scan.into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| dynamo("Scan", e))
    }
}

/// `scan` with `f`'s FilterExpression.
fn with_filter(
    scan: aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder,
    f: &ScanFilter,
) -> aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder {
    let values: HashMap<String, Sdk> = f
        .values
        .iter()
        .map(|(k, v)| (k.clone(), to_sdk(v)))
        .collect();
    scan.filter_expression(&f.expression)
        .set_expression_attribute_names(Some(f.names.clone().into_iter().collect()))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
}

// ---- In memory -----------------------------------------------------------------

/// A table in memory with the same conditional semantics, for unit tests
/// and benchmarks of handler logic.
#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<BTreeMap<String, Item>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn stored_order(item: &Item) -> Option<String> {
        match item.get(attr::EVENT_ORDER) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

impl MediaStore for MemoryStore {
    async fn put_if_newer(&self, record: &MediaRecord) -> Result<Write, StoreError> {
        let order = order_of(record)?.as_str().to_string();
        let mut items = self.items.lock().unwrap();
        let newer_exists = items
            .get(&record.name)
            .and_then(Self::stored_order)
            .is_some_and(|stored| stored >= order);
        if newer_exists {
            return Ok(Write::Stale);
        }
        items.insert(record.name.clone(), record.to_stored_item(now_secs()));
        Ok(Write::Applied)
    }

    async fn put_if_current(
        &self,
        record: &MediaRecord,
        order: &OrderKey,
    ) -> Result<Write, StoreError> {
        let mut items = self.items.lock().unwrap();
        let current = items.get(&record.name).and_then(Self::stored_order);
        if current.as_deref() != Some(order.as_str()) {
            return Ok(Write::Stale);
        }
        items.insert(record.name.clone(), record.to_stored_item(now_secs()));
        Ok(Write::Applied)
    }

    async fn get(&self, name: &str) -> Result<Option<MediaRecord>, StoreError> {
        let items = self.items.lock().unwrap();
        items
            .get(name)
            .map(|i| MediaRecord::from_item(i).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<MediaRecord>, StoreError> {
        let items = self.items.lock().unwrap();
        let mut out = Vec::new();
        for item in items.values() {
            let r = MediaRecord::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if query.matches(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn list_page(
        &self,
        query: &ListQuery,
        _start: Option<Item>,
    ) -> Result<(Vec<MediaRecord>, Option<Item>), StoreError> {
        Ok((self.list(query).await?, None))
    }

    fn scan_pages(&self, _segments: u32) -> BoxStream<'_, Result<Vec<Item>, StoreError>> {
        let items: Vec<Item> = self.items.lock().unwrap().values().cloned().collect();
        futures::stream::once(async move { Ok(items) }).boxed()
    }

    async fn record_job(
        &self,
        name: &str,
        order: &OrderKey,
        job_id: &str,
    ) -> Result<Write, StoreError> {
        let mut items = self.items.lock().unwrap();
        let Some(item) = items.get_mut(name) else {
            return Ok(Write::Stale);
        };
        let pending = item.get(attr::STATUS) == Some(&AttributeValue::S(PENDING.into()));
        if !pending || Self::stored_order(item).as_deref() != Some(order.as_str()) {
            return Ok(Write::Stale);
        }
        item.insert(attr::JOB_ID.into(), AttributeValue::S(job_id.into()));
        Ok(Write::Applied)
    }

    async fn pending_before(&self, before_secs: u64) -> Result<Vec<PendingVideo>, StoreError> {
        let items = self.items.lock().unwrap();
        items
            .values()
            .filter(|i| match i.get(attr::PENDING_SINCE) {
                Some(AttributeValue::N(n)) => n.parse::<u64>().is_ok_and(|n| n < before_secs),
                _ => false,
            })
            .map(PendingVideo::from_item)
            .collect()
    }
}
