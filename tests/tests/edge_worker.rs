//! The Worker under `wrangler dev` (workerd) against moto: the snapshot
//! written by the real export writer, the signed fallbacks, HTTP caching,
//! and conformance with the Lambda read API over the same data.

use media_query_domain::dynamo::Item;
use media_query_domain::export::latest_pointer_key;
use media_query_lambda::convert::item_to_sdk;
use media_query_lambda::handlers::api::respond;
use media_query_lambda::handlers::export::{write_snapshot, ExportTarget};
use media_query_lambda::store::DynamoStore;
use media_query_tests::aws;
use media_query_tests::moto::MotoServer;
use media_query_tests::wrangler::WranglerDev;
use serde_json::Value;
use std::time::Duration;

const TABLE: &str = "media";
const BUCKET: &str = "exports";
const PREFIX: &str = "edge";

struct World {
    moto: Option<MotoServer>,
    sdk: aws_config::SdkConfig,
    store: DynamoStore,
    target: ExportTarget,
}

impl World {
    async fn new() -> World {
        let moto = MotoServer::start();
        let sdk = aws::sdk_config(&moto).await;
        aws::create_media_table(&sdk, TABLE).await;
        aws::create_bucket(&sdk, BUCKET).await;
        let world = World {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
            target: ExportTarget {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                table_arn: "arn:aws:dynamodb:us-east-1::table/media".into(),
            },
            sdk,
            moto: Some(moto),
        };
        for item in vector_items() {
            world.put_raw(&item).await;
        }
        world.export().await;
        world
    }

    async fn put_raw(&self, item: &Item) {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .put_item()
            .table_name(TABLE)
            .set_item(Some(item_to_sdk(item)))
            .send()
            .await
            .unwrap();
    }

    async fn export(&self) {
        write_snapshot(&self.store, &aws::s3_client(&self.sdk), &self.target)
            .await
            .unwrap();
    }

    fn vars(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.moto.as_ref().unwrap().endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", secret.into()),
            ("MEDIA_TABLE_NAME", TABLE.into()),
            ("EXPORT_BUCKET", BUCKET.into()),
            ("EXPORT_PREFIX", PREFIX.into()),
            ("EXPORT_TTL_SECONDS", "1".into()),
        ]
    }

    async fn put_object(&self, key: &str, body: Vec<u8>) {
        aws::put_object(&self.sdk, BUCKET, key, body).await
    }
}

fn vectors(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../domain/vectors")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vector_items() -> Vec<Item> {
    serde_json::from_value(vectors("filters.json")["items"].clone()).unwrap()
}

/// Every request the conformance check sends: the vector queries and paths.
fn conformance_requests() -> Vec<(String, Option<String>)> {
    let mut reqs = Vec::new();
    for file in ["filters.json", "queries.json"] {
        for c in vectors(file)["cases"].as_array().unwrap() {
            let q = c["query"].as_str().unwrap();
            reqs.push(("/".to_string(), (!q.is_empty()).then(|| q.to_string())));
        }
    }
    for p in vectors("api.json")["paths"].as_array().unwrap() {
        reqs.push((p["path"].as_str().unwrap().to_string(), None));
    }
    for name in [
        "/sample.jpg",
        "/caf%C3%A9/dog.png",
        "/caf%C3%A9%2Fdog.png",
        "/deleted.jpg",
        "/pending.mp4",
        "/broken.jpg",
        "/Sample.PNG",
    ] {
        reqs.push((name.to_string(), None));
    }
    reqs
}

fn path_and_query(path: &str, query: &Option<String>) -> String {
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_answers_exactly_like_the_lambda_and_the_vectors() {
    let world = World::new().await;
    let edge = WranglerDev::start(&world.vars("testing"));
    let mut compared = 0;
    for (path, query) in conformance_requests() {
        let url = path_and_query(&path, &query);
        let e = edge.get(&url);
        let l = respond(&world.store, "GET", &path, query.as_deref()).await;
        assert_eq!(
            (e.status, e.body.as_str()),
            (l.status, l.body.as_str()),
            "GET {url}"
        );
        assert_eq!(
            e.header("content-type"),
            Some("application/json"),
            "GET {url}"
        );
        compared += 1;
    }
    assert!(compared > 40, "only {compared} requests compared");

    // And against the vectors' expected names, served from the snapshot.
    for c in vectors("filters.json")["cases"].as_array().unwrap() {
        let q = c["query"].as_str().unwrap();
        let a = edge.get(&format!("/?{q}"));
        assert_eq!(a.header("x-media-source"), Some("snapshot"), "{q}");
        let names: Vec<Value> = a
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].clone())
            .collect();
        assert_eq!(Value::from(names), c["names"], "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_headers_methods_and_cors() {
    let world = World::new().await;
    let edge = WranglerDev::start(&world.vars("testing"));
    let a = edge.get("/sample.jpg");
    assert_eq!(a.status, 200);
    let etag = a.header("etag").expect("an ETag").to_string();
    assert!(a
        .header("cache-control")
        .unwrap()
        .starts_with("public, max-age="));
    let again = edge.request("GET", "/sample.jpg", &[("If-None-Match", &etag)]);
    assert_eq!((again.status, again.body.as_str()), (304, ""));
    let changed = edge.request("GET", "/?label=Dog", &[("If-None-Match", &etag)]);
    assert_eq!(changed.status, 200);
    let head = edge.request("HEAD", "/", &[]);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    let options = edge.request(
        "OPTIONS",
        "/",
        &[
            ("Origin", "https://example.com"),
            ("Access-Control-Request-Method", "GET"),
        ],
    );
    assert_eq!(options.status, 204);
    assert_eq!(options.header("access-control-allow-origin"), Some("*"));
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let a = edge.request(method, "/sample.jpg", &[]);
        assert_eq!(a.status, 405, "{method}");
        assert_eq!(a.json()["Code"], "MethodNotAllowedError");
        assert_eq!(a.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    assert_eq!(
        edge.get("/caf%C3%A9%2Fdog.png").json()["name"],
        "café/dog.png"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_stale_snapshot_and_fallbacks() {
    let mut world = World::new().await;
    let edge = WranglerDev::start(&world.vars("testing"));
    assert_eq!(edge.get("/").header("x-media-source"), Some("snapshot"));

    // Newer than the snapshot: GetItem finds it; the list does not, yet.
    let fresh: Item = serde_json::from_str(
        r#"{"name":{"S":"new arrival.jpg"},"type":{"S":"image"},"labels":{"L":[{"S":"Owl"}]}}"#,
    )
    .unwrap();
    world.put_raw(&fresh).await;
    let a = edge.get("/new%20arrival.jpg");
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(edge.get("/?label=Owl").body, "[]");

    // A new export is picked up after the TTL.
    world.export().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl");
    assert_eq!(
        (a.header("x-media-source"), a.json()[0]["name"].as_str()),
        (Some("snapshot"), Some("new arrival.jpg"))
    );

    // A corrupt export: the list comes from a DynamoDB Scan instead.
    let dir = "edge/AWSDynamoDB/corrupt/";
    world
        .put_object(
            &format!("{dir}data/0.json.gz"),
            b"this is not gzip".to_vec(),
        )
        .await;
    world.put_object(&format!("{dir}manifest-files.json"), br#"{"itemCount":1,"md5Checksum":"x","dataFileS3Key":"edge/AWSDynamoDB/corrupt/data/0.json.gz"}"#.to_vec()).await;
    let summary = format!(
        r#"{{"version":"2020-06-30","exportArn":"a","startTime":"t","endTime":"t","tableArn":"t","exportTime":"t","s3Bucket":"{BUCKET}","manifestFilesS3Key":"{dir}manifest-files.json","itemCount":1,"outputFormat":"DYNAMODB_JSON"}}"#
    );
    world
        .put_object(&format!("{dir}manifest-summary.json"), summary.into_bytes())
        .await;
    world.put_object(&latest_pointer_key(PREFIX), format!(r#"{{"manifestSummaryKey":"{dir}manifest-summary.json","exportTime":"t","itemCount":1}}"#).into_bytes()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl");
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(a.json()[0]["name"], "new arrival.jpg");

    // No snapshot at all: the same.
    aws::s3_client(&world.sdk)
        .delete_object()
        .bucket(BUCKET)
        .key(latest_pointer_key(PREFIX))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?media-type=video");
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(a.json()[0]["name"], "sample.mp4");

    // Both sources down: a clear 503, never an empty list.
    drop(world.moto.take());
    for path in ["/", "/sample.jpg"] {
        let a = edge.get(path);
        assert_eq!(a.status, 503, "{path}: {}", a.body);
        assert_eq!(a.json()["Code"], "ServiceUnavailableError");
    }
}
