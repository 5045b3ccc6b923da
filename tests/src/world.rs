//! The setup the serving snapshot's tests share: moto with the media
//! table ([`TABLE`]) and the export bucket ([`BUCKET`]), and the export
//! writer publishing the serving snapshot under [`PREFIX`], by a rebuild
//! from the table or by its stream path, with no grace period for
//! unreferenced objects unless a test asks for one.
//!
//! The tests of the Worker under `wrangler dev` (`edge_worker`,
//! `edge_faults`, `edge_cache_api`, `paging_versions`) and of the export
//! writer (`lambda_export`, `export_writer_from_export`) build on it; each
//! test adds its own items, and reads with the Worker ([`World::edge_vars`])
//! or the Lambda read API ([`World::read_api`]).

use crate::aws;
use crate::moto::start_moto;
use media_query_domain::dynamo::Item;
use media_query_domain::serving::pointer_key;
use media_query_domain::{MediaRecord, OrderKey, RecordStatus};
use media_query_lambda::convert::item_to_sdk;
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::handlers::export::write_snapshot;
use media_query_lambda::handlers::serving::{apply_changes, current_states, Published};
use media_query_lambda::handlers::writer::SnapshotTarget;
use media_query_lambda::s3_bucket::S3Bucket;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::store::{DynamoStore, MediaStore, Write};
use media_query_stack::launch::MotoServer;
use std::sync::atomic::{AtomicU64, Ordering};

pub const TABLE: &str = "media";
pub const BUCKET: &str = "exports";
pub const PREFIX: &str = "edge";

/// moto with the media table and the export bucket, and the export
/// writer's two ways of publishing the serving snapshot under [`PREFIX`].
pub struct World {
    /// `None` once [`World::stop_moto`] has stopped it.
    pub moto: Option<MotoServer>,
    pub sdk: aws_config::SdkConfig,
    pub store: DynamoStore,
    pub target: SnapshotTarget,
    /// The next [`World::write`]'s event order (each write is newer than
    /// the last).
    order: AtomicU64,
}

impl World {
    /// The empty table and bucket; nothing published. Objects no current
    /// or previous version references go at once: a reader still on an
    /// older version meets gone shards.
    pub async fn empty() -> World {
        World::with_gc_grace(0).await
    }

    /// The empty table and bucket, with unreferenced objects kept
    /// `gc_grace_seconds`; nothing published.
    pub async fn with_gc_grace(gc_grace_seconds: u64) -> World {
        let moto = start_moto();
        let sdk = aws::sdk_config(&moto).await;
        aws::create_media_table(&sdk, TABLE).await;
        aws::create_bucket(&sdk, BUCKET).await;
        World {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
            target: SnapshotTarget {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                table_arn: "arn:aws:dynamodb:us-east-1::table/media".into(),
                gc_grace_seconds,
            },
            sdk,
            moto: Some(moto),
            order: AtomicU64::new(1),
        }
    }

    /// The table holding `items` as they are ([`World::put_raw`]), and a
    /// snapshot of it published.
    pub async fn with_items(items: &[Item]) -> World {
        let world = World::empty().await;
        for item in items {
            world.put_raw(item).await;
        }
        world.rebuild().await;
        world
    }

    /// The table holding `records`, written in order ([`World::write`]),
    /// and a snapshot of it published.
    pub async fn with_records(records: &[MediaRecord]) -> World {
        let world = World::empty().await;
        for r in records {
            world.write(r.clone()).await;
        }
        world.rebuild().await;
        world
    }

    /// moto's endpoint.
    pub fn endpoint(&self) -> String {
        self.moto.as_ref().expect("moto runs").endpoint()
    }

    /// Stops moto: from now on neither the table nor the bucket answers.
    pub fn stop_moto(&mut self) {
        drop(self.moto.take());
    }

    /// Puts `item` in the table as it is (no event order).
    pub async fn put_raw(&self, item: &Item) {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .put_item()
            .table_name(TABLE)
            .set_item(Some(item_to_sdk(item)))
            .send()
            .await
            .unwrap();
    }

    /// Writes `record` to the table as the ingest Lambdas do, newer than
    /// anything written before.
    pub async fn write(&self, mut record: MediaRecord) {
        let n = self.order.fetch_add(1, Ordering::Relaxed);
        record.event_order = Some(OrderKey::from_sequencer(&format!("{n:X}")).unwrap());
        let written = self.store.put_if_newer(&record).await.unwrap();
        assert_eq!(written, Write::Applied, "{}", record.name);
    }

    /// Deletes `record` from the table (a tombstone, as `ObjectRemoved`
    /// leaves).
    pub async fn delete(&self, record: &MediaRecord) {
        let mut gone = MediaRecord::ready(record.name.clone(), record.media_type, vec![]);
        gone.status = RecordStatus::Deleted;
        self.write(gone).await;
    }

    /// The export bucket, as the export writer uses it.
    pub fn bucket(&self) -> S3Bucket {
        self.target.s3_bucket(&aws::s3_client(&self.sdk))
    }

    /// The export writer's rebuild from the table; the version it
    /// published.
    pub async fn rebuild(&self) -> String {
        let (_, published) = write_snapshot(&self.store, &self.bucket(), &self.target)
            .await
            .unwrap();
        published.manifest.version
    }

    /// The export writer's stream path: the batch naming `changed`,
    /// applied to the published snapshot (into its delta).
    pub async fn stream_batch(&self, changed: Vec<String>) -> Published {
        let latest = current_states(&self.store, changed).await.unwrap();
        apply_changes(&latest, &self.bucket(), &self.target)
            .await
            .unwrap()
            .expect("a snapshot is published")
    }

    /// Puts `body` at `key` in the export bucket.
    pub async fn put_object(&self, key: &str, body: Vec<u8>) {
        aws::put_object(&self.sdk, BUCKET, key, body).await
    }

    /// Deletes the pointer: no snapshot can be read until the next
    /// publish.
    pub async fn delete_pointer(&self) {
        aws::s3_client(&self.sdk)
            .delete_object()
            .bucket(BUCKET)
            .key(pointer_key(PREFIX))
            .send()
            .await
            .unwrap();
    }

    /// The Worker's `[vars]`, reaching AWS at `endpoint` (moto, or a
    /// fault proxy in front of it), re-reading the pointer every
    /// `ttl_seconds`.
    pub fn edge_vars(&self, endpoint: String, ttl_seconds: u64) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("MEDIA_TABLE_NAME", TABLE.into()),
            ("SNAPSHOT_BUCKET", BUCKET.into()),
            ("SNAPSHOT_PREFIX", PREFIX.into()),
            ("SNAPSHOT_TTL_SECONDS", ttl_seconds.to_string()),
        ]
    }

    /// The Lambda read API over the same snapshot and table, re-reading
    /// the pointer every `ttl_seconds` (0: on every request).
    pub fn read_api(&self, ttl_seconds: u64) -> ReadApi<'_, DynamoStore> {
        let snapshot = SnapshotBucket::new(aws::s3_client(&self.sdk), Some(BUCKET.into()));
        ReadApi::new(&self.store, snapshot, PREFIX, ttl_seconds)
    }
}
