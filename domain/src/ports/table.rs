//! The media table as the read API's fallback sees it.

use crate::dynamo::Item;
use crate::query::ListQuery;
use crate::record::MediaRecord;

/// The media table, read directly: the fallback behind the snapshot.
/// Errors are text for the logs.
#[allow(async_fn_in_trait)]
pub trait Table {
    /// The record named `name`, visible or not (strongly consistent).
    async fn get_item(&self, name: &str) -> Result<Option<MediaRecord>, String>;
    /// One page of a Scan with `query`'s FilterExpression, from `start`
    /// (the previous page's `LastEvaluatedKey`): the visible records
    /// matching `query`, and where the next page starts (`None`: done).
    async fn scan_page(
        &self,
        query: &ListQuery,
        start: Option<Item>,
    ) -> Result<(Vec<MediaRecord>, Option<Item>), String>;
}
