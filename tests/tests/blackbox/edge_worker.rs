//! The Worker under `wrangler dev` (workerd) against moto: the serving
//! snapshot written by the real export writer, the signed fallbacks, HTTP
//! caching, pagination, and conformance with the Lambda read API over the
//! same data, byte for byte, headers included.

use media_query_domain::dynamo::Item;
use media_query_domain::serving::pointer_key;
use media_query_lambda::convert::item_to_sdk;
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::handlers::export::write_snapshot;
use media_query_lambda::handlers::writer::SnapshotTarget;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::store::DynamoStore;
use media_query_stack::launch::MotoServer;
use media_query_tests::aws;
use media_query_tests::moto::start_moto;
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use serde_json::Value;
use std::time::Duration;

const TABLE: &str = "media";
pub(super) const BUCKET: &str = "exports";
pub(super) const PREFIX: &str = "edge";

pub(super) struct World {
    pub(super) moto: Option<MotoServer>,
    sdk: aws_config::SdkConfig,
    store: DynamoStore,
    target: SnapshotTarget,
}

impl World {
    pub(super) async fn new() -> World {
        let moto = start_moto();
        let sdk = aws::sdk_config(&moto).await;
        aws::create_media_table(&sdk, TABLE).await;
        aws::create_bucket(&sdk, BUCKET).await;
        let world = World {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
            target: SnapshotTarget {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                table_arn: "arn:aws:dynamodb:us-east-1::table/media".into(),
                gc_grace_seconds: 0,
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

    pub(super) async fn put_raw(&self, item: &Item) {
        aws_sdk_dynamodb::Client::new(&self.sdk)
            .put_item()
            .table_name(TABLE)
            .set_item(Some(item_to_sdk(item)))
            .send()
            .await
            .unwrap();
    }

    pub(super) async fn export(&self) {
        write_snapshot(
            &self.store,
            &self.target.s3_bucket(&aws::s3_client(&self.sdk)),
            &self.target,
        )
        .await
        .unwrap();
    }

    pub(super) fn vars(&self, secret: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.moto.as_ref().unwrap().endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", secret.into()),
            ("MEDIA_TABLE_NAME", TABLE.into()),
            ("SNAPSHOT_BUCKET", BUCKET.into()),
            ("SNAPSHOT_PREFIX", PREFIX.into()),
            ("SNAPSHOT_TTL_SECONDS", "1".into()),
        ]
    }

    async fn put_object(&self, key: &str, body: Vec<u8>) {
        aws::put_object(&self.sdk, BUCKET, key, body).await
    }

    /// The Lambda read API over the same snapshot and table, with the
    /// Worker's TTL.
    fn lambda_api(&self) -> ReadApi<'_, DynamoStore> {
        let bucket = SnapshotBucket::new(aws::s3_client(&self.sdk), Some(BUCKET.into()));
        ReadApi::new(&self.store, bucket, PREFIX, 1)
    }
}

/// The headers the API itself sets (the servers around it add others,
/// such as `date` or `content-length`).
const API_HEADERS: [&str; 11] = [
    "content-type",
    "access-control-allow-origin",
    "access-control-expose-headers",
    "x-content-type-options",
    "etag",
    "x-media-source",
    "cache-control",
    "link",
    "allow",
    "access-control-allow-methods",
    "access-control-max-age",
];

fn api_headers(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, Option<String>)> {
    API_HEADERS.iter().map(|h| (*h, get(h))).collect()
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
    let edge = start_wrangler_dev(&world.vars("testing"));
    let lambda = world.lambda_api();
    let mut compared = 0;
    let mut requests = conformance_requests();
    // Pages: small limits over every filter, then the whole walk by Link.
    for q in [
        "limit=1",
        "limit=2&label=Dog",
        "media-type=image&limit=3",
        "startswith=s&limit=1",
        "label=Animal&media-type=image&limit=1",
        "limit=1000",
        "limit=0",
        "limit=2&cursor=bogus",
    ] {
        requests.push(("/".to_string(), Some(q.to_string())));
    }
    while let Some((path, query)) = requests.pop() {
        let url = path_and_query(&path, &query);
        let e = edge.get(&url);
        let l = lambda.respond("GET", &path, query.as_deref(), None).await;
        assert_eq!(
            (e.status, e.body.as_str()),
            (l.status, l.body.as_str()),
            "GET {url}"
        );
        assert_eq!(
            api_headers(|h| e.header(h).map(str::to_string)),
            api_headers(|h| l.header(h).map(str::to_string)),
            "GET {url}: headers"
        );
        // Follow the next page, on both sides alike.
        if let Some(link) = l.header("link") {
            let next = link
                .strip_prefix("</?")
                .and_then(|r| r.split_once(">; rel=\"next\""))
                .unwrap()
                .0;
            requests.push(("/".to_string(), Some(next.to_string())));
        }
        compared += 1;
    }
    assert!(compared > 40, "only {compared} requests compared");

    // Other methods, and conditional requests, alike too.
    let etag = edge.get("/?label=Dog").header("etag").unwrap().to_string();
    for (method, path, inm) in [
        ("HEAD", "/", None),
        ("OPTIONS", "/", None),
        ("DELETE", "/sample.jpg", None),
        ("QUERY", "/sample.jpg", None),
        ("GET", "/?label=Dog", Some(etag.as_str())),
        ("GET", "/?label=Cat", Some(etag.as_str())),
    ] {
        let headers: Vec<(&str, &str)> = inm.iter().map(|t| ("If-None-Match", *t)).collect();
        let e = edge.request(method, path, &headers);
        let (p, q) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        let l = lambda.respond(method, p, q, inm).await;
        assert_eq!(
            (e.status, e.body.as_str()),
            (l.status, l.body.as_str()),
            "{method} {path}"
        );
        assert_eq!(
            api_headers(|h| e.header(h).map(str::to_string)),
            api_headers(|h| l.header(h).map(str::to_string)),
            "{method} {path}: headers"
        );
    }
    assert_eq!(
        edge.request("GET", "/?label=Dog", &[("If-None-Match", &etag)])
            .status,
        304
    );

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
    let edge = start_wrangler_dev(&world.vars("testing"));
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
    // QUERY and PROPFIND are methods the worker crate does not know (it
    // once read them as GET).
    for method in ["POST", "PUT", "DELETE", "PATCH", "QUERY", "PROPFIND"] {
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
    let edge = start_wrangler_dev(&world.vars("testing"));
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

    // A corrupt snapshot: the list comes from a DynamoDB Scan instead.
    let pointer = pointer_key(PREFIX);
    let good = aws::s3_client(&world.sdk)
        .get_object()
        .bucket(BUCKET)
        .key(&pointer)
        .send()
        .await
        .unwrap();
    let good = good.body.collect().await.unwrap().into_bytes().to_vec();
    let mut manifest: Value = serde_json::from_slice(&good).unwrap();
    // Point the name run at an object whose bytes do not match its hash.
    let tampered_hash = "0".repeat(64);
    for e in manifest["directory"]["inline"]["entries"]
        .as_array_mut()
        .unwrap()
    {
        e["hash"] = tampered_hash.clone().into();
    }
    manifest["version"] = "tampered".into();
    world
        .put_object(
            &format!("{PREFIX}/serving/objects/{tampered_hash}"),
            b"this is not gzip".to_vec(),
        )
        .await;
    world
        .put_object(&pointer, serde_json::to_vec(&manifest).unwrap())
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl");
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(a.json()[0]["name"], "new arrival.jpg");
    // A pointer that is not a manifest at all: the same.
    world.put_object(&pointer, b"{not json".to_vec()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl");
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );

    // No snapshot at all: the same.
    aws::s3_client(&world.sdk)
        .delete_object()
        .bucket(BUCKET)
        .key(pointer_key(PREFIX))
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
