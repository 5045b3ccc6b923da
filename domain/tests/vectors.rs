//! Runs the shared JSON vectors in `domain/vectors/`.
//!
//! The same file is compiled natively (`cargo test`) and to wasm32 (run by
//! `wasm-bindgen-test-runner` under Node), so any drift between the Lambda
//! and the Worker targets fails a vector. The files are embedded with
//! `include_str!` because wasm has no file system; every file in
//! `domain/vectors/` must be listed in [`VECTOR_FILES`] (checked natively,
//! by reading the directory) and read by a runner (checked on both
//! targets).

use media_query_domain::api::{self, ApiError};
use media_query_domain::dynamo::{self, Item};
use media_query_domain::labels::{DetectedLabel, LabelAggregator};
use media_query_domain::s3_event::{self, decode_key, S3Change, S3EventError};
use media_query_domain::video_job::{self, JobNotification};
use media_query_domain::{ListQuery, MediaItem, MediaRecord, MediaType};
use serde_json::{json, Value};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TARGET: &str = if cfg!(target_arch = "wasm32") {
    "wasm32"
} else {
    "native"
};

macro_rules! report {
    ($($t:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($t)*);
    }};
}

fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("vector file is valid JSON")
}

/// Every file in `domain/vectors/`, by name, with its text.
macro_rules! vector_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../vectors/", $name)))),*]
    };
}

/// The vector files, embedded. A file added to `domain/vectors/` but not
/// here fails `every_vector_file_is_listed` (natively); one listed here
/// that no runner reads fails `all_vector_files` (on both targets).
const VECTOR_FILES: &[(&str, &str)] = vector_files![
    "api.json",
    "codec.json",
    "export.json",
    "filters.json",
    "fuzz.json",
    "keys.json",
    "labels.json",
    "queries.json",
    "s3_events.json",
    "video_jobs.json",
];

/// The names of the vector files the runners have read.
static READ: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// The vector file `name` (listed in [`VECTOR_FILES`]), parsed; noted as read.
fn vector(name: &'static str) -> Value {
    let (_, text) = VECTOR_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is not in VECTOR_FILES"));
    READ.lock().unwrap().push(name);
    load(text)
}

/// An expected error: the error's text is `want` exactly, or `want` and
/// then the position serde_json adds to its messages (" at line 1 column
/// 2"), which the vectors leave out.
fn assert_error(got: &dyn std::fmt::Display, want: &Value, what: &str) {
    let want = want
        .as_str()
        .unwrap_or_else(|| panic!("{what}: `error` is the text of the expected error"));
    let got = got.to_string();
    let rest = got.strip_prefix(want);
    assert!(
        rest.is_some_and(|r| r.is_empty() || r.starts_with(" at line ")),
        "{what}: got the error {got:?}, expected {want:?}"
    );
}

fn cases<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is an array"))
}

fn error_json(e: &ApiError) -> Value {
    json!({"status": e.status, "body": serde_json::from_str::<Value>(&e.body()).unwrap()})
}

fn run_keys() -> usize {
    let v = vector("keys.json");
    let cases = cases(&v, "cases");
    for c in cases {
        let raw = c["raw"].as_str().unwrap();
        let decoded = decode_key(raw);
        match c["decoded"].as_str() {
            None => match decoded {
                Err(e) => assert_error(&e, &c["error"], raw),
                Ok(got) => panic!("{raw}: expected the error {}, got {got:?}", c["error"]),
            },
            Some(want) => {
                let got = decoded.unwrap_or_else(|e| panic!("{raw}: {e}"));
                assert_eq!(got, want, "{raw}");
                let media: Option<MediaType> =
                    serde_json::from_value(c["media_type"].clone()).unwrap();
                assert_eq!(MediaType::from_key(&got), media, "{raw}");
                assert_eq!(decode_key(&s3_event::encode_key(&got)).unwrap(), got);
            }
        }
    }
    cases.len()
}

fn run_s3_events() -> usize {
    let v = vector("s3_events.json");
    let cases = cases(&v, "cases");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let parsed = s3_event::parse_s3_event(&c["event"].to_string());
        if let Some(err) = c.get("error") {
            let want: S3EventError = serde_json::from_value(err.clone()).unwrap();
            assert_eq!(parsed, Err(want), "{name}");
            continue;
        }
        let parsed = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            parsed.is_test_event,
            c["test_event"].as_bool().unwrap_or(false),
            "{name}"
        );
        let want = c["records"].as_array().unwrap();
        assert_eq!(parsed.records.len(), want.len(), "{name}");
        for (got, want) in parsed.records.iter().zip(want) {
            match (got, want.get("change")) {
                (Ok(change), Some(w)) => {
                    let w: S3Change = serde_json::from_value(w.clone()).unwrap();
                    assert_eq!(change, &w, "{name}");
                    let key = change.order_key().ok().map(|k| k.to_string());
                    assert_eq!(key.as_deref(), want["order_key"].as_str(), "{name}");
                }
                (Err(e), None) => {
                    let w: S3EventError = serde_json::from_value(want["error"].clone()).unwrap();
                    assert_eq!(e, &w, "{name}");
                }
                (got, _) => panic!("{name}: got {got:?}, want {want}"),
            }
        }
    }
    cases.len()
}

fn run_queries() -> usize {
    let v = vector("queries.json");
    let cases = cases(&v, "cases");
    for c in cases {
        let q = c["query"].as_str().unwrap();
        match (ListQuery::from_query_string(q), c.get("error")) {
            (Ok(parsed), None) => {
                let want: ListQuery = serde_json::from_value(c["expect"].clone()).unwrap();
                assert_eq!(parsed, want, "{q}");
                if let Some(f) = c.get("filter") {
                    assert_eq!(
                        serde_json::to_value(parsed.scan_filter()).unwrap(),
                        *f,
                        "{q}"
                    );
                }
            }
            (Err(e), Some(want)) => assert_eq!(error_json(&e), *want, "{q}"),
            (got, _) => panic!("{q}: got {got:?}"),
        }
    }
    cases.len()
}

fn run_filters() -> usize {
    let v = vector("filters.json");
    let records: Vec<MediaRecord> = cases(&v, "items")
        .iter()
        .map(|i| {
            let item: Item = serde_json::from_value(i.clone()).unwrap();
            MediaRecord::from_item(&item).unwrap()
        })
        .collect();
    let cases = cases(&v, "cases");
    for c in cases {
        let q = c["query"].as_str().unwrap();
        let query = ListQuery::from_query_string(q).unwrap();
        let names: Vec<String> = query.select(&records).into_iter().map(|i| i.name).collect();
        let want: Vec<String> = serde_json::from_value(c["names"].clone()).unwrap();
        assert_eq!(names, want, "{q}");
    }
    cases.len()
}

/// Runs a future whose I/O is all in memory (always ready), on either
/// target, without an executor.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("an in-memory read was not ready"),
    }
}

/// A bucket in memory for the serving snapshot vectors.
struct MemoryBucket(std::collections::HashMap<String, Vec<u8>>);

impl media_query_domain::ports::ObjectStore for MemoryBucket {
    async fn get(
        &self,
        key: &str,
        _: Option<&str>,
    ) -> Result<media_query_domain::ports::Fetched, String> {
        use media_query_domain::ports::Fetched;
        Ok(match self.0.get(key) {
            Some(b) => Fetched::Object {
                body: b.clone(),
                etag: None,
            },
            None => Fetched::Missing,
        })
    }
}

/// The table behind the snapshot: it agrees with the snapshot (a name
/// the snapshot lacks is not visible there either), and it cannot Scan,
/// so every list must come from the snapshot.
struct NoTable;

impl media_query_domain::ports::Table for NoTable {
    async fn get_item(&self, _: &str) -> Result<Option<MediaRecord>, String> {
        Ok(None)
    }
    async fn scan_page(
        &self,
        _: &ListQuery,
        _: Option<media_query_domain::dynamo::Item>,
    ) -> Result<(Vec<MediaRecord>, Option<media_query_domain::dynamo::Item>), String> {
        Err("the vectors have no table".into())
    }
}

/// Collects the objects an update writes.
#[derive(Default)]
struct MemorySink(std::sync::Mutex<Vec<(String, Vec<u8>)>>);

impl media_query_domain::ports::ObjectSink for MemorySink {
    async fn put(&self, objects: Vec<(String, Vec<u8>)>) -> Result<(), String> {
        self.0.lock().unwrap().extend(objects);
        Ok(())
    }
}

/// A serving snapshot of `records` (sorted) in shards cut at `target` bytes.
fn snapshot_of(records: &[MediaRecord], target: usize) -> MemoryBucket {
    use media_query_domain::serving::build::Builder;
    use media_query_domain::serving::{object_key, pointer_key};
    let mut b = Builder::new(target);
    for r in records {
        b.push(r).unwrap();
    }
    let (manifest, objects) = b.finish("2026-01-01T00:00:00.000Z");
    let mut bucket: std::collections::HashMap<String, Vec<u8>> = objects
        .into_iter()
        .map(|(h, bytes)| (object_key("v", &h), bytes))
        .collect();
    bucket.insert(pointer_key("v"), serde_json::to_vec(&manifest).unwrap());
    MemoryBucket(bucket)
}

/// `bucket` after the incremental update that writes `records`, merged
/// into the level (in parts of one entry) or kept in the delta.
fn changed(mut bucket: MemoryBucket, records: &[MediaRecord], into_level: bool) -> MemoryBucket {
    use media_query_domain::engine::{ReadEngine, VersionLoader};
    use media_query_domain::serving::manifest::Manifest;
    use media_query_domain::serving::update::{apply, Policy};
    use media_query_domain::serving::{object_key, pointer_key};
    let m: Manifest = serde_json::from_slice(&bucket.0[&pointer_key("v")]).unwrap();
    let policy = match into_level {
        true => Policy {
            delta_max_bytes: 0,
            level_part_bytes: 1,
            ..Policy::default()
        },
        false => Policy::default(),
    };
    let changes = records
        .iter()
        .map(|r| (r.name.clone(), Some(r.clone())))
        .collect();
    let engine = ReadEngine::new("v", 1e12, 1 << 20);
    let loader = VersionLoader {
        engine: &engine,
        store: &bucket,
        manifest: &m,
    };
    let sink = MemorySink::default();
    let u = ready(apply(
        &loader,
        &m,
        &changes,
        policy,
        "2026-01-01T00:00:00.000Z",
        &sink,
    ))
    .unwrap();
    assert_eq!(u.level_merged, into_level);
    for (h, bytes) in sink.0.into_inner().unwrap() {
        bucket.0.insert(object_key("v", &h), bytes);
    }
    bucket
        .0
        .insert(pointer_key("v"), serde_json::to_vec(&u.manifest).unwrap());
    bucket
}

/// The filter vectors again, answered by the read engine over a serving
/// snapshot, page by page (limits 1, 2 and none): with shards of one item
/// and of the default size, and with the items spread over the shards,
/// the level and the delta, as incremental updates leave them. The pages
/// concatenate to the expected names.
fn run_serving() -> usize {
    use media_query_domain::engine::ReadEngine;
    use media_query_domain::http::{ApiRequest, Responder, Settings};
    let v = vector("filters.json");
    let mut records: Vec<MediaRecord> = cases(&v, "items")
        .iter()
        .map(|i| MediaRecord::from_item(&serde_json::from_value(i.clone()).unwrap()).unwrap())
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    let mut n = 0;
    let third = records.len() / 3;
    let layouts = [
        ("shards of 1 byte", snapshot_of(&records, 1)),
        ("shards of 256 KiB", snapshot_of(&records, 256 * 1024)),
        (
            "the level alone",
            changed(snapshot_of(&[], 1), &records, true),
        ),
        (
            "shards, level and delta",
            changed(
                changed(
                    snapshot_of(&records[..third], 1),
                    &records[third..2 * third],
                    true,
                ),
                &records[2 * third..],
                false,
            ),
        ),
    ];
    for (target, bucket) in layouts {
        let responder = Responder::new(ReadEngine::new("v", 1e12, 1 << 20), Settings::default());
        for c in cases(&v, "cases") {
            let q = c["query"].as_str().unwrap();
            let want: Vec<String> = serde_json::from_value(c["names"].clone()).unwrap();
            for limit in [Some(1), Some(2), None] {
                let mut raw = match (q, limit) {
                    ("", Some(l)) => format!("limit={l}"),
                    (q, Some(l)) => format!("{q}&limit={l}"),
                    (q, None) => q.to_string(),
                };
                let mut got: Vec<String> = Vec::new();
                for _ in 0..=want.len() + 1 {
                    let reply = ready(responder.handle(
                        &bucket,
                        &NoTable,
                        ApiRequest {
                            method: "GET",
                            raw_path: "/",
                            raw_query: Some(&raw),
                            if_none_match: None,
                        },
                        0.0,
                    ));
                    assert_eq!(reply.status, 200, "{raw}: {}", reply.body);
                    assert_eq!(reply.header("x-media-source"), Some("snapshot"), "{raw}");
                    let page: Vec<Value> = serde_json::from_str(&reply.body).unwrap();
                    assert!(page.len() <= limit.unwrap_or(1000), "{raw}");
                    got.extend(page.iter().map(|i| i["name"].as_str().unwrap().to_string()));
                    match reply.header("link") {
                        Some(link) => {
                            raw = link
                                .strip_prefix("</?")
                                .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                                .unwrap()
                                .to_string()
                        }
                        None => break,
                    }
                }
                assert_eq!(got, want, "{q} limit {limit:?}, {target}");
                n += 1;
            }
        }
        for r in &records {
            let path = format!("/{}", media_query_domain::s3_event::encode_key(&r.name));
            let reply = ready(responder.handle(
                &bucket,
                &NoTable,
                ApiRequest {
                    method: "GET",
                    raw_path: &path.replace('+', "%20"),
                    raw_query: None,
                    if_none_match: None,
                },
                0.0,
            ));
            let want = if r.is_visible() { 200 } else { 404 };
            assert_eq!(reply.status, want, "{path}: {}", reply.body);
            n += 1;
        }
    }
    n
}

fn run_codec() -> usize {
    let v = vector("codec.json");
    let mut n = 0;
    for c in cases(&v, "valid").iter().chain(cases(&v, "lenient")) {
        let item: Item = serde_json::from_value(c["item"].clone()).unwrap();
        let record = MediaRecord::from_item(&item).unwrap_or_else(|e| panic!("{e}: {}", c["item"]));
        let api: MediaItem = serde_json::from_value(c["api"].clone()).unwrap();
        assert_eq!(record.to_media_item(), api);
        if let Some(visible) = c["visible"].as_bool() {
            assert_eq!(record.is_visible(), visible, "{}", c["item"]);
            // Strict round trip: item -> record -> item, and JSON text both ways.
            assert_eq!(record.to_item(), item, "{}", c["item"]);
            let text = serde_json::to_string(&item).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), c["item"]);
        }
        n += 1;
    }
    for c in cases(&v, "invalid") {
        let item: Item = serde_json::from_value(c["item"].clone()).unwrap();
        let err = MediaRecord::from_item(&item).unwrap_err();
        assert_eq!(err.to_string(), c["error"].as_str().unwrap());
        n += 1;
    }
    for c in cases(&v, "export_lines") {
        let line = c["line"].as_str().unwrap();
        match (dynamo::parse_export_line(line), c.get("error")) {
            (Ok(item), None) => {
                let record = MediaRecord::from_item(&item).unwrap();
                assert_eq!(record.name, c["name"].as_str().unwrap());
                let again = dynamo::parse_export_line(&dynamo::export_line(&item)).unwrap();
                assert_eq!(again, item);
            }
            (Err(e), Some(want)) => assert_error(&e, want, line),
            (got, _) => panic!("{line}: {got:?}"),
        }
        n += 1;
    }
    n
}

fn run_api() -> usize {
    let v = vector("api.json");
    let mut n = 0;
    for c in cases(&v, "errors") {
        let arg = c["arg"].as_str().unwrap();
        let e = match c["kind"].as_str().unwrap() {
            "not_found" => ApiError::not_found(arg),
            "bad_request" => ApiError::bad_request(arg),
            "method_not_allowed" => ApiError::method_not_allowed(arg),
            "service_unavailable" => ApiError::service_unavailable(arg),
            "internal" => ApiError::internal(arg),
            k => panic!("unknown kind {k}"),
        };
        assert_eq!(e.status as u64, c["status"].as_u64().unwrap());
        assert_eq!(e.body(), c["body"].as_str().unwrap());
        n += 1;
    }
    for c in cases(&v, "items") {
        let item: MediaItem = serde_json::from_value(c["item"].clone()).unwrap();
        assert_eq!(api::item_body(&item), c["body"].as_str().unwrap());
        n += 1;
    }
    for c in cases(&v, "lists") {
        let items: Vec<MediaItem> = serde_json::from_value(c["items"].clone()).unwrap();
        assert_eq!(api::list_body(&items), c["body"].as_str().unwrap());
        n += 1;
    }
    for c in cases(&v, "paths") {
        let path = c["path"].as_str().unwrap();
        match (api::name_from_path(path), c.get("error")) {
            (Ok(name), None) => assert_eq!(name, c["name"].as_str().unwrap(), "{path}"),
            (Err(e), Some(want)) => assert_eq!(error_json(&e), *want, "{path}"),
            (got, _) => panic!("{path}: {got:?}"),
        }
        n += 1;
    }
    n
}

fn run_labels() -> usize {
    let v = vector("labels.json");
    let cases = cases(&v, "cases");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let mut agg = LabelAggregator::new(c["min_confidence"].as_f64().unwrap() as f32);
        for page in c["pages"].as_array().unwrap() {
            for l in page.as_array().unwrap() {
                let label =
                    DetectedLabel::new(l[0].as_str().unwrap(), l[1].as_f64().unwrap() as f32);
                agg.add(&label);
            }
        }
        let got = agg.finish();
        let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
        let want: Vec<&str> = c["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(names, want, "{name}");
        if let Some(conf) = c.get("confidences") {
            let want: Vec<f32> = conf
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let got: Vec<f32> = got.iter().map(|l| l.confidence).collect();
            assert_eq!(got, want, "{name}");
        }
    }
    cases.len()
}

fn run_video_jobs() -> usize {
    let v = vector("video_jobs.json");
    let cases = cases(&v, "cases");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let parsed = video_job::parse_sns_event(&c["event"].to_string());
        if let Some(err) = c["error"].as_str() {
            let got = parsed.expect_err(name);
            assert_eq!(serde_json::to_value(&got).unwrap()["error"], err, "{name}");
            continue;
        }
        let parsed = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = c["jobs"].as_array().unwrap();
        assert_eq!(parsed.len(), want.len(), "{name}");
        for (got, want) in parsed.iter().zip(want) {
            match (got, want.get("job")) {
                (Ok(job), Some(w)) => {
                    let w: JobNotification = serde_json::from_value(w.clone()).unwrap();
                    assert_eq!(job, &w, "{name}");
                }
                (Err(e), None) => {
                    assert_eq!(
                        serde_json::to_value(e).unwrap()["error"],
                        want["error"],
                        "{name}"
                    )
                }
                (got, _) => panic!("{name}: got {got:?}, want {want}"),
            }
        }
    }
    cases.len()
}

fn run_export() -> usize {
    use media_query_domain::export::{self, ManifestSummary};
    let v = vector("export.json");
    let mut n = 0;
    for c in cases(&v, "summaries") {
        let text = c["text"].as_str().unwrap();
        match (ManifestSummary::parse(text), c.get("error")) {
            (Ok(s), None) => {
                assert_eq!(s.item_count, c["item_count"].as_u64().unwrap());
                assert_eq!(
                    s.manifest_files_s3_key,
                    c["manifest_files_key"].as_str().unwrap()
                );
            }
            (Err(e), Some(want)) => assert_error(&e, want, text),
            (got, _) => panic!("{text}: {got:?}"),
        }
        n += 1;
    }
    for c in cases(&v, "manifest_files") {
        let text = c["text"].as_str().unwrap();
        match (export::parse_manifest_files(text), c.get("error")) {
            (Ok(files), None) => {
                let keys: Vec<&str> = files.iter().map(|f| f.data_file_s3_key.as_str()).collect();
                let want: Vec<&str> = c["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap())
                    .collect();
                assert_eq!(keys, want);
                let items: u64 = files.iter().map(|f| f.item_count).sum();
                assert_eq!(items, c["items"].as_u64().unwrap());
            }
            (Err(e), Some(want)) => assert_error(&e, want, text),
            (got, _) => panic!("{text}: {got:?}"),
        }
        n += 1;
    }
    for c in cases(&v, "keys") {
        let prefix = c["prefix"].as_str().unwrap();
        assert_eq!(
            export::latest_pointer_key(prefix),
            c["latest"].as_str().unwrap()
        );
        assert_eq!(
            export::export_dir(prefix, c["export_id"].as_str().unwrap()),
            c["dir"].as_str().unwrap()
        );
        n += 1;
    }
    n
}

// The fuzz targets' checks, which `domain/tests/fuzz_corpus.rs` also
// compiles (natively, for the committed corpus): here they replay the
// crash regressions of `fuzz.json` on both targets.
#[path = "../../fuzz/src/checks.rs"]
mod checks;

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Names the case being run if it panics. Natively only: wasm32 aborts on
/// a panic (after printing its message), so no destructor runs there.
struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            report!("vectors[{TARGET}] failed at {}", self.0);
        }
    }
}

/// The inputs a fuzz target once failed on, through that target's checks.
/// The Lambda targets' (`checks::LAMBDA_TARGETS`) need the Lambda crate,
/// which has the AWS SDKs and does not build for wasm32: they are skipped
/// on both targets, as `fuzz_corpus.rs` skips them (only `scripts/fuzz.sh`,
/// which builds the Lambda crate, runs those targets).
fn run_fuzz() -> usize {
    let v = vector("fuzz.json");
    let mut n = 0;
    for (i, c) in cases(&v, "cases").iter().enumerate() {
        let target = c["target"].as_str().expect("`target`");
        if checks::LAMBDA_TARGETS.contains(&target) {
            continue;
        }
        let check = checks::target(target)
            .unwrap_or_else(|| panic!("fuzz.json case {i}: no fuzz target `{target}`"));
        let data = match (c["input"].as_str(), c["input_hex"].as_str()) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(hex)) => unhex(hex),
            _ => panic!("fuzz.json case {i}: give exactly one of `input` and `input_hex`"),
        };
        let _running = Running(format!("fuzz.json case {i} ({target})"));
        check(&data);
        n += 1;
    }
    n
}

/// Every vector file, with the number of cases each ran.
type VectorRunner = fn() -> usize;

const FILES: &[(&str, VectorRunner)] = &[
    ("keys", run_keys),
    ("s3_events", run_s3_events),
    ("queries", run_queries),
    ("filters", run_filters),
    ("serving", run_serving),
    ("codec", run_codec),
    ("api", run_api),
    ("labels", run_labels),
    ("video_jobs", run_video_jobs),
    ("export", run_export),
    ("fuzz", run_fuzz),
];

#[test]
fn all_vector_files() {
    let mut total = 0;
    for (name, run) in FILES {
        let n = run();
        assert!(n > 0, "vector file {name} ran no case");
        report!("vectors[{TARGET}] {name}: {n} cases");
        total += n;
    }
    report!(
        "vectors[{TARGET}] total: {total} cases in {} files",
        FILES.len()
    );
    let read = READ.lock().unwrap().clone();
    let unread: Vec<&str> = VECTOR_FILES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !read.contains(name))
        .collect();
    assert!(
        unread.is_empty(),
        "vector files no runner reads: {unread:?}"
    );
}

/// Every file in `domain/vectors/` is in [`VECTOR_FILES`], so none is
/// silently left out of either target. Natively only: wasm32 has no file
/// system (there, `all_vector_files` checks that every listed file is
/// read).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_vector_file_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = VECTOR_FILES.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk,
        listed,
        "the files in {} and VECTOR_FILES in domain/tests/vectors.rs differ",
        dir.display()
    );
}
