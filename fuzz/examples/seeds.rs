//! Writes the committed seed corpus, `fuzz/corpus/<target>/`, from the
//! shared vectors (`domain/vectors/*.json`), the event shapes AWS and moto
//! send, and a serving snapshot built from the filter vectors' table.
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! ```
//!
//! It replaces the files it names (`<source>-<n>`) and leaves others, so a
//! minimised crash input added by hand stays. Keep the corpus small: the
//! fuzzer grows its own working corpus under `fuzz/work/` (not committed).

use media_query_domain::page::encode_cursor;
use media_query_domain::serving::build::Builder;
use media_query_domain::serving::delta::{self, DeltaRef, Edits};
use media_query_domain::serving::level;
use media_query_domain::serving::manifest::{Directory, DirectoryPage, Manifest};
use media_query_domain::serving::{self, content_hash};
use media_query_domain::{ListQuery, MediaRecord, MediaType};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn vectors(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/vectors")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read vectors")).expect("JSON")
}

fn cases<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

struct Corpus {
    root: PathBuf,
    written: BTreeMap<String, usize>,
}

impl Corpus {
    fn add(&mut self, target: &str, source: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let n = self
            .written
            .entry(format!("{target}/{source}"))
            .or_default();
        *n += 1;
        let path = dir.join(format!("{source}-{:02}", *n));
        std::fs::write(&path, bytes.as_ref()).expect("write seed");
    }
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(raw).expect("gzip");
    gz.finish().expect("gzip")
}

fn records() -> Vec<MediaRecord> {
    let v = vectors("filters");
    let mut records: Vec<MediaRecord> = cases(&v, "items")
        .iter()
        .map(|i| MediaRecord::from_item(&serde_json::from_value(i.clone()).unwrap()).unwrap())
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    records
}

fn main() {
    let mut c = Corpus {
        root: Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        written: BTreeMap::new(),
    };

    // Query strings: the query vectors, the filter vectors, and pages.
    let queries = vectors("queries");
    for q in cases(&queries, "cases") {
        c.add("query_string", "queries", q["query"].as_str().unwrap());
    }
    let filters = vectors("filters");
    for q in cases(&filters, "cases").iter().take(6) {
        c.add("query_string", "filters", q["query"].as_str().unwrap());
    }
    for (query, name) in [
        ("label=Dog", "sample.jpg"),
        ("startswith=caf%C3%A9&media-type=image", "café/dog.png"),
        ("", "a b+c%.jpg"),
    ] {
        let canonical = ListQuery::from_query_string(query).unwrap().canonical();
        let cursor = encode_cursor(&canonical, name);
        let sep = if query.is_empty() { "" } else { "&" };
        c.add(
            "query_string",
            "pages",
            format!("{query}{sep}limit=2&cursor={cursor}"),
        );
        c.add("cursor", "issued", format!("{query}\n{cursor}"));
        c.add("cursor", "name", format!("{query}\n{name}"));
    }
    c.add("query_string", "pages", "limit=1000");
    c.add("query_string", "pages", "limit=2&cursor=AQ");
    c.add(
        "cursor",
        "foreign",
        "label=Cat\nAcP7yGQsYW1wbGUuanBnAAAAAAAAAAA",
    );
    c.add("cursor", "foreign", "\n!!");

    // Paths: the path vectors and a few more shapes.
    let api = vectors("api");
    for p in cases(&api, "paths") {
        c.add("request_path", "api", p["path"].as_str().unwrap());
    }
    for p in [
        "/holiday/2024/beach%20photo.jpeg",
        "/a+b.png",
        "/%E6%97%A5%E6%9C%AC.jpg",
        "/emoji%F0%9F%90%B6.png",
        "//leading-slash.mp4",
    ] {
        c.add("request_path", "shapes", p);
    }

    // S3 notifications: the event vectors, compact as Lambda receives them.
    let s3 = vectors("s3_events");
    for e in cases(&s3, "cases") {
        c.add("s3_event", "s3_events", e["event"].to_string());
    }
    c.add(
        "s3_event",
        "shapes",
        json!({"Records": [{"eventVersion": "2.0", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "1970-01-01T00:00:00.000Z", "eventName": "ObjectRemoved:Delete",
            "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "EXAMPLE123456789"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
                "bucket": {"name": "media", "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": "arn:aws:s3:::media"},
                "object": {"key": "test%2Fkey.mp4", "sequencer": "0A1B2C3D4E5F678901", "versionId": "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"}}}]})
        .to_string(),
    );

    // The same events in the envelopes the ingest Lambda unwraps: SQS
    // messages, SNS notifications, SNS notifications in SQS messages.
    for (i, e) in cases(&s3, "cases").iter().enumerate().take(6) {
        let body = e["event"].to_string();
        let sns = json!({"Type": "Notification", "MessageId": "5f1c", "TopicArn": "arn:aws:sns:us-east-1:123456789012:media",
            "Subject": "Amazon S3 Notification", "Message": body, "Timestamp": "2026-11-24T18:45:47.123Z",
            "SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"});
        let sqs = |body: String| {
            json!({"Records": [{"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEB",
                "body": body, "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
                "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:media", "awsRegion": "us-east-1"}]})
        };
        let envelope = match i % 3 {
            0 => sqs(body.clone()),
            1 => json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:media:local", "Sns": sns}]}),
            _ => sqs(sns.to_string()),
        };
        c.add("s3_envelope", "wrapped", envelope.to_string());
        if i < 2 {
            c.add("s3_envelope", "plain", body);
        }
    }

    // Rekognition's notifications: the SNS events and their messages.
    let jobs = vectors("video_jobs");
    for e in cases(&jobs, "cases") {
        c.add("sns_event", "video_jobs", e["event"].to_string());
        for r in cases(&e["event"], "Records") {
            if let Some(m) = r.pointer("/Sns/Message").and_then(Value::as_str) {
                c.add("sns_event", "messages", m);
            }
        }
    }

    // DynamoDB JSON: export lines, items as lines, incremental lines, and
    // stream batches of the same items.
    let codec = vectors("codec");
    for l in cases(&codec, "export_lines") {
        c.add("export_line", "codec", l["line"].as_str().unwrap());
    }
    let items: Vec<&Value> = ["valid", "lenient", "invalid"]
        .iter()
        .flat_map(|k| cases(&codec, k))
        .map(|c| &c["item"])
        .collect();
    for (i, item) in items.iter().enumerate() {
        if i % 2 == 0 {
            c.add("export_line", "items", json!({ "Item": item }).to_string());
        }
    }
    for (i, item) in items.iter().take(4).enumerate() {
        let keys = json!({"name": item["name"]});
        let mut line = json!({"Metadata": {"WriteTimestampMicros": {"N": format!("168010976400000{i}")}}, "Keys": keys, "OldImage": keys});
        if i != 2 {
            line["NewImage"] = (*item).clone();
        }
        c.add("export_line", "incremental", line.to_string());
    }
    let record = |event: &str, item: &Value| {
        let mut dynamodb = json!({"Keys": {"name": item["name"]}, "SequenceNumber": "111", "StreamViewType": "NEW_AND_OLD_IMAGES"});
        if event != "REMOVE" {
            dynamodb["NewImage"] = item.clone();
        }
        json!({"eventID": "1", "eventName": event, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": dynamodb,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/media/stream/2026-01-01T00:00:00.000"})
    };
    for (i, chunk) in items.chunks(3).enumerate() {
        let events = ["INSERT", "MODIFY", "REMOVE"];
        let records: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(j, item)| record(events[(i + j) % 3], item))
            .collect();
        c.add(
            "stream_batch",
            "codec",
            json!({ "Records": records }).to_string(),
        );
    }
    c.add(
        "stream_batch",
        "shapes",
        json!({"Records": [record("INSERT", items[0]), record("REMOVE", items[0])]}).to_string(),
    );

    // The export's manifests, pointer and prefixes.
    let export = vectors("export");
    for s in cases(&export, "summaries") {
        c.add("export_manifest", "summaries", s["text"].as_str().unwrap());
    }
    for s in cases(&export, "manifest_files") {
        c.add("export_manifest", "files", s["text"].as_str().unwrap());
    }
    c.add(
        "export_manifest",
        "pointer",
        r#"{"manifestSummaryKey":"edge/AWSDynamoDB/01700000000000-abcdef12/manifest-summary.json","exportTime":"2026-11-24T18:00:00.000Z","itemCount":3}"#,
    );
    for k in cases(&export, "keys") {
        c.add("export_manifest", "prefixes", k["prefix"].as_str().unwrap());
    }
    for key in [
        "exports/native/AWSDynamoDB/0171-abc/data/x.json.gz",
        "data/x.json.gz",
        "/AWSDynamoDB/0171-abc/data/x.json.gz",
    ] {
        c.add(
            "export_manifest",
            "data_keys",
            format!("exports/native/AWSDynamoDB/0171-abc/manifest-summary.json\n{key}"),
        );
    }

    // The serving snapshot of the filter vectors' table: inline and paged
    // manifests, directory pages, shards (raw and stored) and deltas.
    let records = records();
    for (target, page_bytes) in [(256 * 1024, 64 * 1024), (1, 64 * 1024), (300, 600)] {
        let mut b = Builder::with_page_bytes(target, page_bytes);
        for r in &records {
            b.push(r).unwrap();
        }
        let (manifest, objects) = b.finish("2026-01-01T00:00:00.000Z");
        c.add(
            "serving_manifest",
            "built",
            serde_json::to_vec(&manifest).unwrap(),
        );
        let (mut shards, mut pages) = (0, 0);
        for (hash, gz) in &objects {
            let raw = serving::open_object("k", hash, gz, 1 << 20).unwrap();
            if !raw.starts_with(b"MQS1") {
                if pages < 2 {
                    c.add("serving_manifest", "page", &raw);
                }
                pages += 1;
            } else if shards < 4 && raw.len() <= 2048 {
                c.add("shard", "built", &raw);
                c.add("shard", "stored", gz);
                shards += 1;
            }
        }
        if let Directory::Inline(page) = &manifest.directory {
            let small = DirectoryPage {
                entries: page.entries.iter().take(4).cloned().collect(),
                following: page.entries.iter().skip(4).take(2).cloned().collect(),
            };
            c.add(
                "serving_manifest",
                "page",
                serde_json::to_vec(&small).unwrap(),
            );
        }
    }

    let mut edits = Edits::new();
    for r in records.iter().take(4) {
        let json = serde_json::to_string(&r.to_media_item()).unwrap();
        edits
            .entry("name".into())
            .or_default()
            .insert(r.name.clone(), Some((r.media_type, json.clone())));
        for l in r.labels.iter().take(2) {
            edits
                .entry(format!("label:{l}"))
                .or_default()
                .insert(r.name.clone(), Some((r.media_type, json.clone())));
        }
    }
    edits
        .entry("type:video".into())
        .or_default()
        .insert("gone.mp4".into(), None);
    edits
        .entry("name".into())
        .or_default()
        .insert("gone.mp4".into(), None);
    let raw = delta::encode(&edits);
    c.add("delta", "built", &raw);
    c.add("delta", "stored", gzip(&raw));
    let mut one = Edits::new();
    one.entry("label:Dog".into())
        .or_default()
        .insert("a".into(), Some((MediaType::Image, "{}".into())));
    c.add("delta", "built", delta::encode(&one));
    c.add("delta", "built", b"MQD1");

    // A manifest with a delta, and a format-1 one.
    let mut b = Builder::new(256 * 1024);
    for r in &records {
        b.push(r).unwrap();
    }
    let (mut m, _) = b.finish("2026-01-01T00:00:00.000Z");
    let gz = gzip(&raw);
    m.delta = Some(DeltaRef {
        entries: 9,
        raw_bytes: raw.len() as u64,
        bytes: gz.len() as u64,
        hash: content_hash(&gz),
    });
    m.version = Manifest::version_of(&m.directory, m.delta.as_ref(), &m.level);
    c.add("serving_manifest", "delta", serde_json::to_vec(&m).unwrap());
    m.level = vec![level::LevelRef {
        run: "label:Dog".into(),
        first: "a".into(),
        part: m.delta.clone().unwrap(),
    }];
    m.version = Manifest::version_of(&m.directory, m.delta.as_ref(), &m.level);
    c.add("serving_manifest", "level", serde_json::to_vec(&m).unwrap());
    m.level.clear();
    m.format = "media-query-serving/1".into();
    m.delta = None;
    c.add(
        "serving_manifest",
        "format1",
        serde_json::to_vec(&m).unwrap(),
    );

    for (k, n) in &c.written {
        println!("{k}: {n}");
    }
}
