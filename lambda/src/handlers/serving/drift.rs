//! Reconciliation's drift check: how the published snapshot differed from
//! the table.
//!
//! While a rebuild reads the table in name order, the published
//! snapshot's items are read alongside in the same order (page by page
//! through the read engine, its shards fetched ahead), and the two are
//! compared item by item: missing, extra and changed items are counted in
//! bounded memory, whatever the table's size.

use crate::handlers::writer::WriterError;
use media_query_domain::engine::{ReadEngine, VersionLoader};
use media_query_domain::page::{PageRequest, MAX_LIMIT};
use media_query_domain::ports::{ObjectStore, ShardLoader};
use media_query_domain::record::MediaItem;
use media_query_domain::serving::manifest::{Manifest, ShardRef};
use media_query_domain::serving::version::all_entries;
use media_query_domain::serving::{pointer_key, Run};
use media_query_domain::ListQuery;

/// How the published snapshot differed from the table, counted while a
/// rebuild reads the table (reconciliation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drift {
    /// Visible in the table, absent from the snapshot.
    pub missing: u64,
    /// Served by the snapshot, not visible in the table.
    pub extra: u64,
    /// In both, served differently.
    pub changed: u64,
}

impl Drift {
    pub fn total(&self) -> u64 {
        self.missing + self.extra + self.changed
    }
}

/// Directory entries of the names run read ahead of the drift check.
const DRIFT_READ_AHEAD: usize = 32;

/// The published snapshot's items in name order, read page by page
/// through the engine (bounded memory), with the names run's shards
/// fetched [`DRIFT_READ_AHEAD`] at once ahead of the pages that need them.
pub(super) struct PublishedItems<'a, B> {
    engine: ReadEngine,
    bucket: &'a B,
    manifest: &'a Manifest,
    /// The names run's shards, in order, and how far they are fetched.
    names: Vec<ShardRef>,
    fetched_to: usize,
    buffer: std::collections::VecDeque<(String, String)>,
    after: Option<String>,
    done: bool,
}

fn read_error(e: impl std::fmt::Display) -> WriterError {
    WriterError::S3 {
        operation: "read the published snapshot",
        key: pointer_key(""),
        detail: e.to_string(),
    }
}

impl<'a, B: ObjectStore> PublishedItems<'a, B> {
    pub(super) async fn new(
        bucket: &'a B,
        prefix: &str,
        manifest: &'a Manifest,
    ) -> Result<Self, WriterError> {
        let engine = ReadEngine::new(prefix, f64::INFINITY, 64 << 20);
        let names_run = Run::Names.id();
        let names = {
            let loader = VersionLoader {
                engine: &engine,
                store: bucket,
                manifest,
            };
            all_entries(&loader, manifest)
                .await
                .map_err(read_error)?
                .into_iter()
                .filter(|e| e.run == names_run)
                .collect()
        };
        Ok(PublishedItems {
            engine,
            bucket,
            manifest,
            names,
            fetched_to: 0,
            buffer: Default::default(),
            after: None,
            done: false,
        })
    }

    /// Fetches the next window of the names run's shards into the engine's
    /// cache, all at once, when the page about to be read nears its end.
    async fn read_ahead(&mut self) -> Result<(), WriterError> {
        let at = match &self.after {
            Some(a) => self
                .names
                .partition_point(|s| s.first.as_str() <= a.as_str()),
            None => 0,
        }
        .saturating_sub(1);
        if at + DRIFT_READ_AHEAD / 2 < self.fetched_to || self.fetched_to >= self.names.len() {
            return Ok(());
        }
        let from = self.fetched_to.max(at);
        let to = (from + DRIFT_READ_AHEAD).min(self.names.len());
        let loader = VersionLoader {
            engine: &self.engine,
            store: self.bucket,
            manifest: self.manifest,
        };
        let loaded =
            futures::future::join_all(self.names[from..to].iter().map(|r| loader.shard(r))).await;
        for shard in loaded {
            shard.map_err(read_error)?;
        }
        self.fetched_to = to;
        Ok(())
    }

    /// The next item's name and JSON, without taking it.
    async fn peek(&mut self) -> Result<Option<&(String, String)>, WriterError> {
        while self.buffer.is_empty() && !self.done {
            self.read_ahead().await?;
            let request = PageRequest {
                limit: MAX_LIMIT,
                explicit_limit: true,
                after: self.after.take(),
            };
            let page = self
                .engine
                .list(self.bucket, self.manifest, &ListQuery::default(), &request)
                .await
                .map_err(read_error)?;
            for json in page.items {
                let name = serde_json::from_str::<MediaItem>(&json)
                    .map(|i| i.name)
                    .unwrap_or_default();
                self.buffer.push_back((name, json));
            }
            self.done = page.next_after.is_none();
            self.after = page.next_after;
        }
        Ok(self.buffer.front())
    }
}

/// Counts `drift` for one visible table item (`None`: the table is done),
/// consuming the published items up to it.
pub(super) async fn compare<B: ObjectStore>(
    published: &mut PublishedItems<'_, B>,
    item: Option<(&str, &str)>,
    drift: &mut Drift,
) -> Result<(), WriterError> {
    while let Some((name, json)) = published.peek().await? {
        match item {
            Some((n, _)) if name.as_str() > n => break,
            Some((n, j)) if name == n => {
                drift.changed += u64::from(json != j);
                published.buffer.pop_front();
                return Ok(());
            }
            _ => {
                drift.extra += 1;
                published.buffer.pop_front();
            }
        }
    }
    drift.missing += u64::from(item.is_some());
    Ok(())
}
