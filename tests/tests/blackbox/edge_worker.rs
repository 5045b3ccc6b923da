//! The Worker under `wrangler dev` (workerd) against moto: the serving
//! snapshot written by the real export writer, the signed fallbacks, HTTP
//! caching, pagination, and conformance with the Lambda read API over the
//! same data, byte for byte, headers included.

use media_query_domain::dynamo::Item;
use media_query_domain::serving::pointer_key;
use media_query_tests::aws;
use media_query_tests::world::{World, BUCKET, PREFIX};
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use serde_json::Value;
use std::time::Duration;

/// The vector table (`domain/vectors/filters.json`) in moto, and its
/// snapshot published.
pub(super) async fn vector_world() -> World {
    World::with_items(&vector_items()).await
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
    let world = vector_world().await;
    let edge = start_wrangler_dev(&world.edge_vars(world.endpoint(), 1));
    // The Lambda read API with the Worker's TTL.
    let lambda = world.read_api(1);
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
        let e = edge.get(&url).await;
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
    let etag = edge
        .get("/?label=Dog")
        .await
        .header("etag")
        .unwrap()
        .to_string();
    for (method, path, inm) in [
        ("HEAD", "/", None),
        ("OPTIONS", "/", None),
        ("DELETE", "/sample.jpg", None),
        ("QUERY", "/sample.jpg", None),
        ("GET", "/?label=Dog", Some(etag.as_str())),
        ("GET", "/?label=Cat", Some(etag.as_str())),
    ] {
        let headers: Vec<(&str, &str)> = inm.iter().map(|t| ("If-None-Match", *t)).collect();
        let e = edge.request(method, path, &headers).await;
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
            .await
            .status,
        304
    );

    // And against the vectors' expected names, served from the snapshot.
    for c in vectors("filters.json")["cases"].as_array().unwrap() {
        let q = c["query"].as_str().unwrap();
        let a = edge.get(&format!("/?{q}")).await;
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
    let world = vector_world().await;
    let edge = start_wrangler_dev(&world.edge_vars(world.endpoint(), 1));
    let a = edge.get("/sample.jpg").await;
    assert_eq!(a.status, 200);
    let etag = a.header("etag").expect("an ETag").to_string();
    assert!(a
        .header("cache-control")
        .unwrap()
        .starts_with("public, max-age="));
    let again = edge
        .request("GET", "/sample.jpg", &[("If-None-Match", &etag)])
        .await;
    assert_eq!((again.status, again.body.as_str()), (304, ""));
    let changed = edge
        .request("GET", "/?label=Dog", &[("If-None-Match", &etag)])
        .await;
    assert_eq!(changed.status, 200);
    let head = edge.request("HEAD", "/", &[]).await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    let options = edge
        .request(
            "OPTIONS",
            "/",
            &[
                ("Origin", "https://example.com"),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;
    assert_eq!(options.status, 204);
    assert_eq!(options.header("access-control-allow-origin"), Some("*"));
    // QUERY and PROPFIND are methods the worker crate does not know (it
    // once read them as GET).
    for method in ["POST", "PUT", "DELETE", "PATCH", "QUERY", "PROPFIND"] {
        let a = edge.request(method, "/sample.jpg", &[]).await;
        assert_eq!(a.status, 405, "{method}");
        assert_eq!(a.json()["Code"], "MethodNotAllowedError");
        assert_eq!(a.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    assert_eq!(
        edge.get("/caf%C3%A9%2Fdog.png").await.json()["name"],
        "café/dog.png"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_stale_snapshot_and_fallbacks() {
    let mut world = vector_world().await;
    let edge = start_wrangler_dev(&world.edge_vars(world.endpoint(), 1));
    assert_eq!(
        edge.get("/").await.header("x-media-source"),
        Some("snapshot")
    );

    // Newer than the snapshot: GetItem finds it; the list does not, yet.
    let fresh: Item = serde_json::from_str(
        r#"{"name":{"S":"new arrival.jpg"},"type":{"S":"image"},"labels":{"L":[{"S":"Owl"}]}}"#,
    )
    .unwrap();
    world.put_raw(&fresh).await;
    let a = edge.get("/new%20arrival.jpg").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(edge.get("/?label=Owl").await.body, "[]");

    // A new export is picked up after the TTL.
    world.rebuild().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl").await;
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
    let a = edge.get("/?label=Owl").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(a.json()[0]["name"], "new arrival.jpg");
    // A pointer that is not a manifest at all: the same.
    world.put_object(&pointer, b"{not json".to_vec()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );

    // No snapshot at all: the same.
    world.delete_pointer().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?media-type=video").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert_eq!(a.json()[0]["name"], "sample.mp4");

    // Both sources down: a clear 503, never an empty list.
    world.stop_moto();
    for path in ["/", "/sample.jpg"] {
        let a = edge.get(path).await;
        assert_eq!(a.status, 503, "{path}: {}", a.body);
        assert_eq!(a.json()["Code"], "ServiceUnavailableError");
    }
}
