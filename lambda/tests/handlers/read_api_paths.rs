//! The read API's `GET /{name}` behind each front door that can invoke it,
//! with the events those front doors really send: each event goes through
//! `lambda_http`'s own conversion (what `lambda_http::run` does with the
//! payload) and then through `ReadApi::respond_to` and `http_response`, the
//! functions the `read-api` binary runs.
//!
//! The front doors differ in what they put in the event, so the name has to
//! be decoded from the path exactly once whichever sent it:
//!
//! * API Gateway HTTP API (payload 2.0), what `template.yaml` deploys:
//!   `rawPath`, `requestContext.http.path` and `pathParameters` arrive
//!   already URL-decoded (`/dog%20photo.jpg` arrives as `/dog photo.jpg`);
//!   `rawQueryString` stays encoded.
//! * Lambda function URLs: `rawPath` is the path as sent, still encoded;
//!   `requestContext.http.path` is decoded; no `pathParameters`.
//! * `cargo lambda watch` (the local stack's `API_URL`): a function URL
//!   event whose `rawPath` and `requestContext.http.path` are both the path
//!   as sent.
//! * API Gateway REST API (payload 1.0): `path` and `pathParameters` as
//!   sent, still encoded; the stage is in `requestContext.path` only.
//!
//! The fixtures in `tests/fixtures/` are these shapes; each case below sets
//! the path fields to what the front door delivers for one request. The
//! HTTP API's values follow live captures (hotsock/voker,
//! `vokerhttp/testdata/ingress-paths.json`). It decodes `%25` a second
//! time: `/literal%2525value` arrives as `/literal%value` and
//! `/literal%253Fvalue` as `/literal?value`, while `/percent%25done` gets
//! API Gateway's own `400` and `/question%3Fvalue` arrives cut at the `?`,
//! as `/question` (neither case can be helped by the function). The probe
//! used a `$default` route, so `pathParameters` is not in the captures: the
//! cases give `{name+}` the `rawPath` without its `/`, decoded, as AWS
//! documents ("API Gateway decodes URL-encoded request parameters before
//! passing them to your backend integration", Create routes for HTTP APIs).
//!
//! That `template.yaml` deploys the item route as `/{name+}`, which
//! `request_path` relies on, is checked by the tests crate, where the
//! template is read (`tests/src/template_agreement.rs`).

use lambda_http::request::LambdaRequest;
use lambda_http::Request;
use media_query_domain::{MediaRecord, MediaType, OrderKey};
use media_query_lambda::handlers::api::{http_response, ReadApi};
use media_query_lambda::store::{MediaStore, MemoryStore};
use serde_json::{json, Value};

/// Stored names, as `object-created` stores them (decoded S3 keys), with
/// decoys that a path decoded twice, or not at all, would find instead.
const NAMES: &[&str] = &[
    "dog photo.jpg",
    "holiday/2024/beach.jpeg",
    "café.png",
    "a+b.png",
    "100%.jpg",
    "50%25off.png",
    "hash#tag.jpg",
    "what?.jpg",
    "a\\b.jpg",
    // Decoys.
    "a b.png",
    "50%off.png",
    "hash",
    "what",
    "a/b.jpg",
    "dog%20photo.jpg",
    "prod/dog photo.jpg",
];

async fn store() -> MemoryStore {
    let store = MemoryStore::new();
    for name in NAMES {
        let mut record = MediaRecord::ready(*name, MediaType::Image, vec!["Dog".into()]);
        record.event_order = Some(OrderKey::from_sequencer("0055B4A6CE4EA8A3C1").unwrap());
        store.put_if_newer(&record).await.unwrap();
    }
    store
}

/// The fixture `file` with `patch` applied, as `lambda_http::run` hands it
/// to the service: deserialized as `LambdaRequest`, converted by `From`.
fn request(file: &str, patch: impl FnOnce(&mut Value)) -> Request {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    patch(&mut event);
    let event: LambdaRequest = serde_json::from_value(event).expect("lambda_http takes the event");
    Request::from(event)
}

/// Status and body of the Lambda response to `req`.
async fn get(store: &MemoryStore, req: Request) -> (u16, Value) {
    let reply = ReadApi::table_only(store).respond_to(&req).await;
    let response = http_response(reply).unwrap();
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        other => panic!("a text body, not {other:?}"),
    };
    (status, serde_json::from_str(&body).unwrap())
}

/// Asserts that each `(event, name)` answers `200` with the item `name`.
async fn assert_names(store: &MemoryStore, cases: Vec<(String, Request, &str)>) {
    let mut wrong = Vec::new();
    for (what, req, name) in cases {
        let (status, body) = get(store, req).await;
        if status != 200 || body["name"] != name {
            wrong.push(format!("{what}: want 200 {name:?}, got {status} {body}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// HTTP API, payload 2.0, route `GET /{name+}` on the `$default` stage:
/// (path sent, `rawPath` = `requestContext.http.path` delivered, name).
const HTTP_API: &[(&str, &str, &str)] = &[
    // Captured: `/capture/space%20value` arrives as `/capture/space value`.
    ("/dog%20photo.jpg", "/dog photo.jpg", "dog photo.jpg"),
    // Captured: `%2F` arrives as `/`.
    (
        "/holiday%2F2024%2Fbeach.jpeg",
        "/holiday/2024/beach.jpeg",
        "holiday/2024/beach.jpeg",
    ),
    (
        "/holiday/2024/beach.jpeg",
        "/holiday/2024/beach.jpeg",
        "holiday/2024/beach.jpeg",
    ),
    // Captured: `%CE%BB` arrives as `λ`.
    ("/caf%C3%A9.png", "/café.png", "café.png"),
    // Not captured: `+` is no escape in a path, `%2B` one for `+`.
    ("/a+b.png", "/a+b.png", "a+b.png"),
    ("/a%2Bb.png", "/a+b.png", "a+b.png"),
    // Captured: `%2525` arrives as `%`; the second line assumes the same
    // two decodes.
    ("/100%2525.jpg", "/100%.jpg", "100%.jpg"),
    ("/50%252525off.png", "/50%25off.png", "50%25off.png"),
    // Captured: `%23` arrives as `#`, `%253F` as `?` (a single `%3F` cuts
    // the path).
    ("/hash%23tag.jpg", "/hash#tag.jpg", "hash#tag.jpg"),
    ("/what%253F.jpg", "/what?.jpg", "what?.jpg"),
    // Not captured: `%5C` arrives as `\`, which `lambda_http`'s URL parser
    // turns into `/`.
    ("/a%5Cb.jpg", "/a\\b.jpg", "a\\b.jpg"),
];

/// Paths as sent, for the front doors that pass them on encoded.
const ENCODED: &[(&str, &str, &str)] = &[
    // (path sent, the same decoded, name)
    ("/dog%20photo.jpg", "/dog photo.jpg", "dog photo.jpg"),
    (
        "/holiday%2F2024%2Fbeach.jpeg",
        "/holiday/2024/beach.jpeg",
        "holiday/2024/beach.jpeg",
    ),
    (
        "/holiday/2024/beach.jpeg",
        "/holiday/2024/beach.jpeg",
        "holiday/2024/beach.jpeg",
    ),
    ("/caf%C3%A9.png", "/café.png", "café.png"),
    ("/a+b.png", "/a+b.png", "a+b.png"),
    ("/a%2Bb.png", "/a+b.png", "a+b.png"),
    ("/100%25.jpg", "/100%.jpg", "100%.jpg"),
    ("/50%2525off.png", "/50%25off.png", "50%25off.png"),
    ("/hash%23tag.jpg", "/hash#tag.jpg", "hash#tag.jpg"),
    ("/what%3F.jpg", "/what?.jpg", "what?.jpg"),
    ("/a%5Cb.jpg", "/a\\b.jpg", "a\\b.jpg"),
];

#[tokio::test]
async fn http_api_paths_arrive_decoded_and_are_not_decoded_again() {
    let store = store().await;
    let cases = HTTP_API
        .iter()
        .map(|&(sent, delivered, name)| {
            let req = request("apigw-v2-http-api.json", |e| {
                e["rawPath"] = json!(delivered);
                e["requestContext"]["http"]["path"] = json!(delivered);
                e["pathParameters"]["name"] = json!(&delivered[1..]);
            });
            (format!("HTTP API {sent} (rawPath {delivered})"), req, name)
        })
        .collect();
    assert_names(&store, cases).await;
}

#[tokio::test]
async fn http_api_query_strings_arrive_encoded_and_are_decoded_once() {
    let store = store().await;
    let (status, body) = get(&store, request("apigw-v2-http-api-list.json", |_| {})).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dog photo.jpg"]);
}

#[tokio::test]
async fn function_url_paths_arrive_encoded_and_are_decoded_once() {
    let store = store().await;
    let cases = ENCODED
        .iter()
        .map(|&(sent, decoded, name)| {
            let req = request("function-url.json", |e| {
                e["rawPath"] = json!(sent);
                e["requestContext"]["http"]["path"] = json!(decoded);
            });
            (format!("function URL {sent}"), req, name)
        })
        .collect();
    assert_names(&store, cases).await;
}

#[tokio::test]
async fn cargo_lambda_watch_paths_arrive_encoded_and_are_decoded_once() {
    let store = store().await;
    let cases = ENCODED
        .iter()
        .map(|&(sent, _, name)| {
            let req = request("cargo-lambda-watch.json", |e| {
                e["rawPath"] = json!(sent);
                e["requestContext"]["http"]["path"] = json!(sent);
            });
            (format!("cargo lambda watch {sent}"), req, name)
        })
        .collect();
    assert_names(&store, cases).await;
}

#[tokio::test]
async fn rest_api_paths_arrive_encoded_and_are_decoded_once() {
    let store = store().await;
    let cases = ENCODED
        .iter()
        .map(|&(sent, _, name)| {
            let req = request("apigw-v1-rest.json", |e| {
                e["path"] = json!(sent);
                e["pathParameters"]["name"] = json!(&sent[1..]);
                e["requestContext"]["path"] = json!(format!("/prod{sent}"));
            });
            (format!("REST API {sent} (stage prod)"), req, name)
        })
        .collect();
    assert_names(&store, cases).await;
}
