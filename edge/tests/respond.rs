//! The edge's routing, fallbacks and caching, natively, over in-memory
//! sources (the same code runs in the Worker over signed fetches).
#![cfg(not(target_arch = "wasm32"))]

use flate2::write::GzEncoder;
use futures::executor::block_on;
use media_query_domain::dynamo::export_line;
use media_query_domain::export::{LatestPointer, ManifestFile, ManifestSummary};
use media_query_domain::{ListQuery, MediaRecord, MediaType, RecordStatus};
use media_query_edge::respond::{handle, ApiRequest, Backend, Reply};
use media_query_edge::snapshot::{Fetched, ObjectSource, Snapshot, SnapshotCache, SnapshotError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

#[derive(Default)]
struct Bucket {
    objects: RefCell<HashMap<String, (Vec<u8>, String)>>,
    gets: Cell<usize>,
}

impl Bucket {
    fn put(&self, key: &str, body: Vec<u8>) {
        let etag = format!(
            "\"{}\"",
            body.len() * 31 + key.len() + self.objects.borrow().len()
        );
        self.objects
            .borrow_mut()
            .insert(key.to_string(), (body, etag));
    }

    /// Publishes `records` as export `id` in DynamoDB's export layout.
    fn publish(&self, id: &str, records: &[MediaRecord]) {
        let dir = format!("edge/AWSDynamoDB/{id}/");
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for r in records {
            writeln!(gz, "{}", export_line(&r.to_item())).unwrap();
        }
        let data_key = format!("{dir}data/0.json.gz");
        self.put(&data_key, gz.finish().unwrap());
        let file = ManifestFile {
            item_count: records.len() as u64,
            md5_checksum: "x".into(),
            etag: None,
            data_file_s3_key: data_key,
        };
        self.put(
            &format!("{dir}manifest-files.json"),
            serde_json::to_vec(&file).unwrap(),
        );
        let summary = ManifestSummary {
            version: "2020-06-30".into(),
            export_arn: "a".into(),
            start_time: "t".into(),
            end_time: "t".into(),
            table_arn: "t".into(),
            table_id: None,
            export_time: "t".into(),
            s3_bucket: "b".into(),
            s3_prefix: Some("edge".into()),
            s3_sse_algorithm: None,
            s3_sse_kms_key_id: None,
            manifest_files_s3_key: format!("{dir}manifest-files.json"),
            billed_size_bytes: 0,
            item_count: records.len() as u64,
            output_format: "DYNAMODB_JSON".into(),
            export_type: None,
        };
        self.put(
            &format!("{dir}manifest-summary.json"),
            serde_json::to_vec(&summary).unwrap(),
        );
        let pointer = LatestPointer {
            manifest_summary_key: format!("{dir}manifest-summary.json"),
            export_time: "t".into(),
            item_count: records.len() as u64,
        };
        self.put("edge/latest.json", serde_json::to_vec(&pointer).unwrap());
    }
}

impl ObjectSource for Bucket {
    async fn get(&self, key: &str, inm: Option<&str>) -> Result<Fetched, SnapshotError> {
        self.gets.set(self.gets.get() + 1);
        Ok(match self.objects.borrow().get(key) {
            None => Fetched::Missing,
            Some((_, etag)) if Some(etag.as_str()) == inm => Fetched::NotModified,
            Some((body, etag)) => Fetched::Object {
                body: body.clone(),
                etag: Some(etag.clone()),
            },
        })
    }
}

/// The snapshot from `bucket`, DynamoDB from `table` (or down).
struct Edge {
    bucket: Bucket,
    cache: RefCell<SnapshotCache>,
    now: Cell<f64>,
    table: RefCell<Option<Vec<MediaRecord>>>,
}

impl Backend for Edge {
    async fn snapshot(&self) -> Result<Rc<Snapshot>, SnapshotError> {
        SnapshotCache::current(&self.cache, &self.bucket, "edge", self.now.get(), 60_000.0).await
    }
    async fn get_item(&self, name: &str) -> Result<Option<MediaRecord>, String> {
        let t = self.table.borrow();
        Ok(t.as_ref()
            .ok_or("DynamoDB down")?
            .iter()
            .find(|r| r.name == name)
            .cloned())
    }
    async fn scan(&self, q: &ListQuery) -> Result<Vec<MediaRecord>, String> {
        let t = self.table.borrow();
        Ok(t.as_ref()
            .ok_or("DynamoDB down")?
            .iter()
            .filter(|r| q.matches(r))
            .cloned()
            .collect())
    }
    fn log_error(&self, _: &str) {}
}

fn rec(name: &str, labels: &[&str]) -> MediaRecord {
    MediaRecord::ready(
        name,
        MediaType::from_key(name).unwrap(),
        labels.iter().map(|s| s.to_string()).collect(),
    )
}

fn edge(snapshot: &[MediaRecord], table: Option<Vec<MediaRecord>>) -> Edge {
    let e = Edge {
        bucket: Bucket::default(),
        cache: RefCell::default(),
        now: Cell::new(0.0),
        table: RefCell::new(table),
    };
    e.bucket.publish("e1", snapshot);
    e
}

fn get(e: &Edge, method: &str, path: &str, query: Option<&str>, inm: Option<&str>) -> Reply {
    block_on(handle(
        e,
        ApiRequest {
            method,
            raw_path: path,
            raw_query: query,
            if_none_match: inm,
        },
        60,
    ))
}

#[test]
fn list_and_item_come_from_the_snapshot() {
    let e = edge(
        &[rec("sample.jpg", &["Dog"]), rec("b c/é.mp4", &["Cat"])],
        None,
    );
    let r = get(&e, "GET", "/", Some("label=Dog"), None);
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            200,
            r#"[{"name":"sample.jpg","type":"image","labels":["Dog"]}]"#
        )
    );
    assert_eq!(r.header("x-media-source"), Some("snapshot"));
    let r = get(&e, "GET", "/b%20c/%C3%A9.mp4", None, None);
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("snapshot"))
    );
}

#[test]
fn etags_give_304_and_head_has_no_body() {
    let e = edge(&[rec("a.jpg", &["Dog"])], None);
    let first = get(&e, "GET", "/a.jpg", None, None);
    let etag = first.header("etag").unwrap().to_string();
    let again = get(&e, "GET", "/a.jpg", None, Some(&etag));
    assert_eq!((again.status, again.body.as_str()), (304, ""));
    let head = get(&e, "HEAD", "/a.jpg", None, None);
    assert_eq!(
        (head.status, head.body.as_str(), head.header("etag")),
        (200, "", Some(etag.as_str()))
    );
}

#[test]
fn refresh_is_conditional_and_picks_up_new_exports() {
    let e = edge(&[rec("a.jpg", &["Dog"])], None);
    get(&e, "GET", "/", None, None);
    let after_load = e.bucket.gets.get();
    assert_eq!(
        after_load, 4,
        "pointer, summary, files manifest, one data file"
    );
    get(&e, "GET", "/", None, None);
    assert_eq!(
        e.bucket.gets.get(),
        after_load,
        "within the TTL nothing is fetched"
    );
    e.now.set(61_000.0);
    get(&e, "GET", "/", None, None);
    assert_eq!(
        e.bucket.gets.get(),
        after_load + 1,
        "after the TTL, one conditional GET answered 304"
    );
    e.bucket
        .publish("e2", &[rec("a.jpg", &["Dog"]), rec("new.png", &["Cat"])]);
    e.now.set(122_000.0);
    let r = get(&e, "GET", "/", None, None);
    assert!(r.body.contains("new.png"));
}

#[test]
fn names_missing_from_the_snapshot_are_checked_in_dynamodb() {
    let newer = rec("newer.jpg", &["Dog"]);
    let mut gone = rec("gone.jpg", &["Dog"]);
    gone.status = RecordStatus::Deleted;
    let e = edge(&[gone.clone()], Some(vec![newer, gone]));
    let r = get(&e, "GET", "/newer.jpg", None, None);
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    let r = get(&e, "GET", "/gone.jpg", None, None);
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            404,
            r#"{"Code":"NotFoundError","Message":"NotFoundError: Media file (gone.jpg) not found"}"#
        )
    );
}

#[test]
fn a_missing_or_corrupt_snapshot_falls_back_to_scan_and_both_down_is_503() {
    let e = edge(
        &[rec("a.jpg", &["Dog"])],
        Some(vec![rec("from-dynamo.jpg", &["Dog"])]),
    );
    e.bucket
        .put("edge/AWSDynamoDB/e1/data/0.json.gz", b"not gzip".to_vec());
    let r = get(&e, "GET", "/", Some("label=Dog"), None);
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert!(r.body.contains("from-dynamo.jpg"));
    e.bucket.objects.borrow_mut().clear();
    assert_eq!(
        get(&e, "GET", "/", None, None).header("x-media-source"),
        Some("dynamodb")
    );
    *e.table.borrow_mut() = None;
    let r = get(&e, "GET", "/", None, None);
    assert_eq!(r.status, 503);
    assert!(
        r.body.starts_with(r#"{"Code":"ServiceUnavailableError""#),
        "{}",
        r.body
    );
    assert_eq!(get(&e, "GET", "/a.jpg", None, None).status, 503);
}

#[test]
fn bad_requests_methods_and_cors() {
    let e = edge(&[], None);
    assert_eq!(
        get(&e, "GET", "/", Some("media-type=audio"), None).status,
        400
    );
    let r = get(&e, "DELETE", "/a.jpg", None, None);
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, HEAD, OPTIONS"))
    );
    let r = get(&e, "OPTIONS", "/", None, None);
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (204, Some("*"))
    );
}
