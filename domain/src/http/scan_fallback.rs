//! The Scan fallback of `GET /`, when the snapshot cannot answer a list.
//!
//! A Scan returns the table in hash order, so a page sorted by name needs
//! the whole table: the fallback reads Scan pages one at a time, keeping
//! only the page's best `limit` items ([`ScanPage`]; memory: one Scan page
//! and one answer page), and gives up past
//! [`Settings::scan_fallback_max_pages`](super::Settings::scan_fallback_max_pages)
//! (the subrequests: that many Scan calls). A large table is served from
//! the stale snapshot or not at all, never by reading all of it in a
//! request.

use crate::api;
use crate::engine::ListPage;
use crate::page::PageRequest;
use crate::ports::Table;
use crate::query::ListQuery;
use crate::record::MediaRecord;

/// The page a Scan fallback answers, gathered from Scan pages in any
/// order: the first `limit` matching items after the cursor, by name, and
/// whether more follow. Holds at most `limit + 1` records, whatever the
/// table's size.
struct ScanPage<'a> {
    query: &'a ListQuery,
    page: &'a PageRequest,
    best: std::collections::BTreeMap<String, MediaRecord>,
}

impl<'a> ScanPage<'a> {
    fn new(query: &'a ListQuery, page: &'a PageRequest) -> ScanPage<'a> {
        ScanPage {
            query,
            page,
            best: Default::default(),
        }
    }

    fn offer(&mut self, records: Vec<MediaRecord>) {
        for r in records {
            let after = self.page.after.as_deref();
            if !self.query.matches(&r) || after.is_some_and(|a| r.name.as_str() <= a) {
                continue;
            }
            self.best.insert(r.name.clone(), r);
            if self.best.len() > self.page.limit + 1 {
                self.best.pop_last();
            }
        }
    }

    fn finish(mut self) -> ListPage {
        let more = self.best.len() > self.page.limit;
        if more {
            self.best.pop_last();
        }
        let items: Vec<MediaRecord> = self.best.into_values().collect();
        ListPage {
            next_after: more.then(|| items.last().map(|r| r.name.clone())).flatten(),
            items: items
                .iter()
                .map(|r| api::item_body(&r.to_media_item()))
                .collect(),
        }
    }
}

/// Reads the table's Scan pages one at a time into a [`ScanPage`]; at most
/// `max_pages` of them. `Err`: why the table could not be listed (too
/// large, or a Scan failed), for the logs.
pub(super) async fn scan_pages<T: Table>(
    table: &T,
    query: &ListQuery,
    page: &PageRequest,
    max_pages: usize,
) -> Result<ListPage, String> {
    let mut gathered = ScanPage::new(query, page);
    let mut start = None;
    let mut pages = 0;
    loop {
        if pages == max_pages {
            return Err(format!(
                "the table needs more than {pages} Scan pages: too large to list from DynamoDB"
            ));
        }
        pages += 1;
        match table.scan_page(query, start.take()).await {
            Ok((records, next)) => {
                gathered.offer(records);
                match next {
                    Some(key) => start = Some(key),
                    None => break,
                }
            }
            Err(scan_error) => {
                return Err(format!("DynamoDB Scan failed: {scan_error}"));
            }
        }
    }
    Ok(gathered.finish())
}
