//! openapi.yaml, held to the code it documents.
//!
//! `openapi-spec-validator` (scripts/check.d/openapi.sh) only says the
//! document is well-formed OpenAPI 3.1; it cannot know what the responder
//! does. This test loads the document and holds it to this crate's own
//! items, not to their spelling in the source:
//!
//! * `GET /`'s query parameters are `query::PARAMS`, and no other
//!   operation reads any;
//! * the error codes and their statuses are `api::ErrorCode`'s, in the
//!   `Error` schema and in the error responses, both ways;
//! * a tour of the `Responder`, over an in-memory snapshot and table, gets
//!   every kind of answer it gives (snapshot and DynamoDB answers, a stale
//!   snapshot's `Age`, `HEAD`, `304`, preflights, `400`, `404`, `405`,
//!   `503`) and the edge's `http::misconfigured` `500`. Each answer must
//!   be documented for its operation and status, send only the headers
//!   listed there, with values their schemas allow, and all the required
//!   ones, and have a body only when the response has content, valid
//!   against its schema. Every header the document lists must be sent by
//!   some answer, every `ErrorCode` answered, and the paths' operations
//!   are the methods of `Allow`;
//! * the `ETag` pattern is exactly the shape of the `ETag`s the tour got;
//! * `limit`'s bounds and `ItemList`'s size are `page::MAX_LIMIT` and what
//!   `PageRequest::parse_limit` accepts; the `MediaType` enum is
//!   `MediaType`'s spellings; every body is `api::JSON_CONTENT_TYPE`;
//! * every example is valid against its schema; the query parameters'
//!   examples together are a request `ListRequest` accepts (so the cursor
//!   example is a real cursor of the others' query), and the `Link`
//!   example is what `page::next_link` sends for its own query;
//! * the API bodies of the shared vectors (`domain/vectors/`) are valid
//!   against the schemas.
//!
//! The schemas use a small part of JSON Schema 2020-12, which
//! [`Spec::validate`] implements here rather than a validator crate; a
//! keyword it does not know is reported as a problem, never skipped.
//! Each check returns its problems, one line each; the `*_is_reported`
//! tests at the end change the document and show the checks failing.
#![cfg(not(target_arch = "wasm32"))]

use media_query_domain::api::{ErrorCode, JSON_CONTENT_TYPE};
use media_query_domain::dynamo::Item;
use media_query_domain::engine::ReadEngine;
use media_query_domain::http::{misconfigured, ApiRequest, Reply, Responder, Settings};
use media_query_domain::page::{next_link, PageRequest, MAX_LIMIT};
use media_query_domain::ports::{Fetched, ObjectStore, Table};
use media_query_domain::query::{ListRequest, PARAMS};
use media_query_domain::s3_event::encode_key;
use media_query_domain::serving::build::Builder;
use media_query_domain::serving::{object_key, pointer_key};
use media_query_domain::{ListQuery, MediaRecord, MediaType};
use regex::Regex;
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------
// The checks, on the real document.
// ---------------------------------------------------------------------

#[test]
fn the_query_parameters_are_query_params() {
    assert_agrees(check_parameters(&Spec::load(), &PARAMS));
}

#[test]
fn the_error_codes_are_error_codes() {
    assert_agrees(check_error_codes(&Spec::load(), &error_codes()));
}

#[test]
fn every_answer_of_the_responder_is_documented() {
    assert_agrees(check_answers(&Spec::load(), &tour()));
}

#[test]
fn the_etag_pattern_is_the_shape_of_the_responders_etags() {
    assert_agrees(check_etags(&Spec::load(), &tour()));
}

#[test]
fn limits_media_types_and_content_types_are_the_codes() {
    assert_agrees(check_constants(&Spec::load()));
}

#[test]
fn every_example_is_valid_and_the_cursor_examples_are_real() {
    assert_agrees(check_examples(&Spec::load()));
}

#[test]
fn the_shared_vectors_bodies_fit_the_schemas() {
    assert_agrees(check_vectors(&Spec::load()));
}

fn assert_agrees(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "openapi.yaml and the code disagree:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------
// The document.
// ---------------------------------------------------------------------

/// The methods an OpenAPI path item may hold operations for.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// openapi.yaml, parsed, with the look-ups the checks share.
struct Spec {
    doc: Value,
}

/// An operation: its path, its method (lower case), the operation object
/// and its parameters (the path item's and its own, `$ref`s followed).
struct Operation<'a> {
    path: &'a str,
    method: &'a str,
    op: &'a Value,
    params: Vec<&'a Value>,
}

impl Spec {
    fn load() -> Spec {
        let path = root().join("openapi.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Spec { doc }
    }

    /// The document with `change` made to it, for the tests that show a
    /// check failing.
    fn changed(change: impl FnOnce(&mut Value)) -> Spec {
        let mut spec = Spec::load();
        change(&mut spec.doc);
        spec
    }

    /// The node at a JSON pointer (`/components/schemas/Item`).
    fn at(&self, pointer: &str) -> Option<&Value> {
        self.doc.pointer(pointer)
    }

    /// `node`, its `$ref`s followed (they are all local, `#/...`;
    /// openapi-spec-validator checks that they resolve).
    fn deref<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        while let Some(r) = node.get("$ref").and_then(Value::as_str) {
            node = r
                .strip_prefix('#')
                .and_then(|p| self.doc.pointer(p))
                .unwrap_or_else(|| panic!("openapi.yaml: $ref {r} does not resolve"));
        }
        node
    }

    fn operations(&self) -> Vec<Operation<'_>> {
        let mut operations = Vec::new();
        for (path, item) in self.doc["paths"].as_object().into_iter().flatten() {
            let shared = item.get("parameters").and_then(Value::as_array);
            for (method, op) in item.as_object().into_iter().flatten() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let own = op.get("parameters").and_then(Value::as_array);
                let params = shared
                    .into_iter()
                    .flatten()
                    .chain(own.into_iter().flatten())
                    .map(|p| self.deref(p))
                    .collect();
                operations.push(Operation {
                    path: path.as_str(),
                    method: method.as_str(),
                    op,
                    params,
                });
            }
        }
        operations
    }

    /// The documented response of an operation for a status. A 405 belongs
    /// to no operation (every method the API lacks answers it): it is
    /// `components.responses.MethodNotAllowed`.
    fn response(&self, path: &str, method: &str, status: u16) -> Option<&Value> {
        let documented = self.doc["paths"]
            .get(path)
            .and_then(|item| item.get(method.to_ascii_lowercase().as_str()))
            .and_then(|op| op.get("responses"))
            .and_then(|responses| responses.get(status.to_string().as_str()));
        match documented {
            Some(r) => Some(self.deref(r)),
            None if status == 405 => self.at("/components/responses/MethodNotAllowed"),
            None => None,
        }
    }

    /// The `Code`s an error schema pins with `const`, through its `allOf`.
    fn codes_in(&self, schema: &Value) -> BTreeSet<String> {
        let schema = self.deref(schema);
        let mut found = BTreeSet::new();
        if let Some(code) = schema
            .pointer("/properties/Code/const")
            .and_then(Value::as_str)
        {
            found.insert(code.to_string());
        }
        for sub in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            found.extend(self.codes_in(sub));
        }
        found
    }

    /// (status, `Code`) of every documented error body.
    fn error_responses(&self) -> BTreeSet<(u16, String)> {
        let mut responses: Vec<(&str, &Value)> = Vec::new();
        for operation in self.operations() {
            let listed = operation.op.get("responses").and_then(Value::as_object);
            for (status, r) in listed.into_iter().flatten() {
                responses.push((status.as_str(), r));
            }
        }
        if let Some(r) = self.at("/components/responses/MethodNotAllowed") {
            responses.push(("405", r));
        }
        let mut pairs = BTreeSet::new();
        for (status, r) in responses {
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let content = self.deref(r).get("content").and_then(Value::as_object);
            for (_, media) in content.into_iter().flatten() {
                for code in self.codes_in(&media["schema"]) {
                    pairs.insert((status, code));
                }
            }
        }
        pairs
    }

    /// The names, in lower case, of every header a documented response
    /// lists.
    fn header_names(&self) -> BTreeSet<String> {
        let responses = self.doc["components"]["responses"].as_object();
        responses
            .into_iter()
            .flatten()
            .flat_map(|(_, r)| {
                self.deref(r)
                    .get("headers")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
            })
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect()
    }

    /// A header's value as the JSON its schema describes: a number when
    /// the schema says integer (`Age: 61`), else the text.
    fn header_value(&self, schema: &Value, text: &str) -> Value {
        let integer = self.deref(schema).get("type").and_then(Value::as_str) == Some("integer");
        match text.parse::<i64>() {
            Ok(n) if integer => Value::from(n),
            _ => Value::String(text.to_string()),
        }
    }

    /// Checks `value` against `schema` (JSON Schema 2020-12, `$ref`s
    /// resolved in the document): one line per violation, located by a
    /// JSON pointer into `value` (`#` is the whole value).
    fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "#", &mut errors);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let keywords = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                errors.push(format!("{at}: nothing is allowed here, not {value}"));
                return;
            }
            Value::Object(keywords) => keywords,
            other => {
                errors.push(format!("{at}: {other} is not a schema"));
                return;
            }
        };
        for (keyword, arg) in keywords {
            let keyword = keyword.as_str();
            match keyword {
                "$ref" => {
                    let target = arg
                        .as_str()
                        .and_then(|r| r.strip_prefix('#'))
                        .and_then(|p| self.doc.pointer(p));
                    match target {
                        Some(target) => self.check(target, value, at, errors),
                        None => errors.push(format!("{at}: $ref {arg} does not resolve")),
                    }
                }
                "type" => {
                    let types: Vec<&str> = match arg {
                        Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
                        other => other.as_str().into_iter().collect(),
                    };
                    if !types.iter().any(|t| has_type(value, t)) {
                        errors.push(format!("{at}: {value} is not of type {arg}"));
                    }
                }
                "enum" => {
                    if !arg.as_array().is_some_and(|options| options.contains(value)) {
                        errors.push(format!("{at}: {value} is not one of {arg}"));
                    }
                }
                "const" => {
                    if arg != value {
                        errors.push(format!("{at}: {value} is not {arg}"));
                    }
                }
                "minLength" | "maxLength" => {
                    if let (Some(text), Some(bound)) = (value.as_str(), arg.as_u64()) {
                        let length = text.chars().count() as u64;
                        let ok = if keyword == "minLength" {
                            length >= bound
                        } else {
                            length <= bound
                        };
                        if !ok {
                            errors.push(format!(
                                "{at}: {value} is {length} characters long, against {keyword} {bound}"
                            ));
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let (Some(items), Some(bound)) = (value.as_array(), arg.as_u64()) {
                        let count = items.len() as u64;
                        let ok = if keyword == "minItems" {
                            count >= bound
                        } else {
                            count <= bound
                        };
                        if !ok {
                            errors.push(format!(
                                "{at}: {count} items, against {keyword} {bound}"
                            ));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(n), Some(bound)) = (value.as_f64(), arg.as_f64()) {
                        let ok = if keyword == "minimum" {
                            n >= bound
                        } else {
                            n <= bound
                        };
                        if !ok {
                            errors.push(format!("{at}: {value}, against {keyword} {bound}"));
                        }
                    }
                }
                "pattern" => {
                    if let Some(text) = value.as_str() {
                        match arg.as_str().map(Regex::new) {
                            Some(Ok(re)) => {
                                if !re.is_match(text) {
                                    errors.push(format!("{at}: {value} does not match {arg}"));
                                }
                            }
                            _ => errors.push(format!(
                                "{at}: the pattern {arg} is not a regular expression this test reads"
                            )),
                        }
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        let names = arg.as_array().into_iter().flatten().filter_map(Value::as_str);
                        for name in names {
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: no property {name}"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(object), Some(properties)) = (value.as_object(), arg.as_object()) {
                        for (name, sub) in properties {
                            if let Some(v) = object.get(name) {
                                self.check(sub, v, &format!("{at}/{}", escape(name)), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = value.as_object() {
                        let declared = keywords.get("properties").and_then(Value::as_object);
                        for (name, v) in object {
                            if declared.is_some_and(|d| d.contains_key(name)) {
                                continue;
                            }
                            if arg.as_bool() == Some(false) {
                                errors.push(format!("{at}: no property {name} is allowed here"));
                            } else {
                                self.check(arg, v, &format!("{at}/{}", escape(name)), errors);
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = value.as_array() {
                        for (i, v) in items.iter().enumerate() {
                            self.check(arg, v, &format!("{at}/{i}"), errors);
                        }
                    }
                }
                "allOf" => {
                    for sub in arg.as_array().into_iter().flatten() {
                        self.check(sub, value, at, errors);
                    }
                }
                // Annotations: they constrain nothing.
                "description" | "title" | "example" | "examples" | "default" | "$comment"
                | "deprecated" | "readOnly" | "writeOnly" => {}
                other => errors.push(format!(
                    "{at}: the schema keyword {other} is unknown to this test's validator; teach it to Spec::check"
                )),
            }
        }
    }
}

/// Whether `value` is of the JSON Schema type `name`.
fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        "number" => value.is_number(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// A key as a JSON pointer spells it.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

// ---------------------------------------------------------------------
// The code's side: every error code and media type, and a tour of the
// responder that collects every kind of answer it gives.
// ---------------------------------------------------------------------

/// Every `ErrorCode`. The match has no wildcard, so a new code does not
/// compile until it is placed in this chain, and so in the checks.
fn error_codes() -> Vec<ErrorCode> {
    fn after(code: Option<ErrorCode>) -> Option<ErrorCode> {
        match code {
            None => Some(ErrorCode::BadRequest),
            Some(ErrorCode::BadRequest) => Some(ErrorCode::NotFound),
            Some(ErrorCode::NotFound) => Some(ErrorCode::MethodNotAllowed),
            Some(ErrorCode::MethodNotAllowed) => Some(ErrorCode::ServiceUnavailable),
            Some(ErrorCode::ServiceUnavailable) => Some(ErrorCode::Internal),
            Some(ErrorCode::Internal) => None,
        }
    }
    std::iter::successors(after(None), |c| after(Some(*c))).collect()
}

/// Every `MediaType`, chained the same way.
fn media_types() -> Vec<MediaType> {
    fn after(t: Option<MediaType>) -> Option<MediaType> {
        match t {
            None => Some(MediaType::Image),
            Some(MediaType::Image) => Some(MediaType::Video),
            Some(MediaType::Video) => None,
        }
    }
    std::iter::successors(after(None), |t| after(Some(*t))).collect()
}

/// The snapshot's prefix in the bucket, and how long a manifest is
/// trusted before the pointer is read again.
const PREFIX: &str = "p";
const TTL_MS: f64 = 60_000.0;

/// Polls an in-memory future to its end: nothing here ever waits.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("in-memory reads are always ready"),
    }
}

/// The snapshot bucket in memory; while `down`, every read fails.
#[derive(Default)]
struct MemoryBucket {
    objects: HashMap<String, Vec<u8>>,
    down: Cell<bool>,
}

impl ObjectStore for MemoryBucket {
    async fn get(&self, key: &str, _if_none_match: Option<&str>) -> Result<Fetched, String> {
        if self.down.get() {
            return Err("connection reset".to_string());
        }
        Ok(self
            .objects
            .get(key)
            .map_or(Fetched::Missing, |body| Fetched::Object {
                body: body.clone(),
                etag: None,
            }))
    }
}

/// The media table in memory; when `down`, every read fails.
struct MemoryTable {
    records: Vec<MediaRecord>,
    down: bool,
}

impl Table for MemoryTable {
    async fn get_item(&self, name: &str) -> Result<Option<MediaRecord>, String> {
        if self.down {
            return Err("ProvisionedThroughputExceededException".to_string());
        }
        Ok(self.records.iter().find(|r| r.name == name).cloned())
    }

    async fn scan_page(
        &self,
        query: &ListQuery,
        _start: Option<Item>,
    ) -> Result<(Vec<MediaRecord>, Option<Item>), String> {
        if self.down {
            return Err("ProvisionedThroughputExceededException".to_string());
        }
        let matching = self.records.iter().filter(|r| query.matches(r));
        Ok((matching.cloned().collect(), None))
    }
}

fn record(name: &str, media_type: MediaType, labels: &[&str]) -> MediaRecord {
    MediaRecord::ready(
        name,
        media_type,
        labels.iter().map(|l| l.to_string()).collect(),
    )
}

/// A bucket holding a published snapshot of `records` (in name order).
fn snapshot(records: &[MediaRecord]) -> MemoryBucket {
    let mut builder = Builder::default();
    for r in records {
        builder.push(r).expect("records come in name order");
    }
    let (manifest, objects) = builder.finish("2026-11-24T10:00:00.000Z");
    let mut map: HashMap<String, Vec<u8>> = objects
        .into_iter()
        .map(|(hash, bytes)| (object_key(PREFIX, &hash), bytes))
        .collect();
    let pointer = serde_json::to_vec(&manifest).expect("manifests serialise");
    map.insert(pointer_key(PREFIX), pointer);
    MemoryBucket {
        objects: map,
        down: Cell::new(false),
    }
}

/// A responder of its own (its caches, its rate limits), with the bucket
/// and the table it reads.
struct Api<'a, S, T> {
    responder: Responder,
    store: &'a S,
    table: &'a T,
}

impl<'a, S: ObjectStore, T: Table> Api<'a, S, T> {
    fn new(store: &'a S, table: &'a T) -> Self {
        let engine = ReadEngine::new(PREFIX, TTL_MS, 1 << 20).with_max_stale_ms(10.0 * TTL_MS);
        Api {
            responder: Responder::new(engine, Settings::default()),
            store,
            table,
        }
    }
}

/// One answer of the tour, with what was asked.
struct Answer {
    /// The request, for messages: `GET /?label=Dog&limit=1`.
    request: String,
    /// The operation that documents it: its path in openapi.yaml (`/` or
    /// `/{name}`) and its method.
    path: &'static str,
    method: &'static str,
    reply: Reply,
}

/// The answers collected so far.
#[derive(Default)]
struct Tour(Vec<Answer>);

impl Tour {
    /// Sends `method target` (a path and its query) to `api`, keeps the
    /// answer and returns it.
    fn ask<S: ObjectStore, T: Table>(
        &mut self,
        api: &Api<'_, S, T>,
        method: &'static str,
        target: &str,
        if_none_match: Option<&str>,
        now_ms: f64,
    ) -> Reply {
        let (raw_path, raw_query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let request = ApiRequest {
            method,
            raw_path,
            raw_query,
            if_none_match,
        };
        let reply = ready(api.responder.handle(api.store, api.table, request, now_ms));
        let path = if raw_path.is_empty() || raw_path == "/" {
            "/"
        } else {
            "/{name}"
        };
        self.0.push(Answer {
            request: format!("{method} {target}"),
            path,
            method,
            reply: reply.clone(),
        });
        reply
    }
}

/// Every kind of answer the API gives: the responder's, over an in-memory
/// snapshot and table, and the edge's when it is misconfigured.
fn tour() -> Vec<Answer> {
    let in_snapshot = [
        record("a.jpg", MediaType::Image, &["Dog"]),
        record("b.mov", MediaType::Video, &["Cat"]),
        record("sample.jpg", MediaType::Image, &["Animal", "Dog"]),
    ];
    let bucket = snapshot(&in_snapshot);
    let no_snapshot = MemoryBucket::default();
    let mut in_table = in_snapshot.to_vec();
    // Uploaded after the snapshot was built: only the table has it.
    in_table.push(record("newer.jpg", MediaType::Image, &["Cat"]));
    let table = MemoryTable {
        records: in_table,
        down: false,
    };
    let table_down = MemoryTable {
        records: Vec::new(),
        down: true,
    };
    let mut tour = Tour::default();

    // From the snapshot: a page that has a `Link`, an item, their HEADs
    // and their 304s.
    let api = Api::new(&bucket, &table);
    let page = tour.ask(&api, "GET", "/?label=Dog&limit=1", None, 0.0);
    tour.ask(&api, "HEAD", "/?label=Dog&limit=1", None, 0.0);
    tour.ask(&api, "GET", "/?label=Dog&limit=1", page.header("etag"), 0.0);
    let item = tour.ask(&api, "GET", "/a.jpg", None, 0.0);
    tour.ask(&api, "HEAD", "/a.jpg", None, 0.0);
    tour.ask(&api, "GET", "/a.jpg", item.header("etag"), 0.0);
    // Preflights, and a method the API lacks, on both paths.
    for target in ["/", "/a.jpg"] {
        tour.ask(&api, "OPTIONS", target, None, 0.0);
        tour.ask(&api, "DELETE", target, None, 0.0);
    }
    // Bad queries, a bad path and a name nobody has, with their HEADs.
    for target in ["/?colour=red", "/?limit=05", "/bad%zz", "/missing.jpg"] {
        tour.ask(&api, "GET", target, None, 0.0);
        tour.ask(&api, "HEAD", target, None, 0.0);
    }
    // A name newer than the snapshot: DynamoDB answers, and its 304.
    let newer = tour.ask(&api, "GET", "/newer.jpg", None, 0.0);
    tour.ask(&api, "GET", "/newer.jpg", newer.header("etag"), 0.0);
    // S3 down past the TTL: the last good snapshot answers, with its `Age`.
    bucket.down.set(true);
    tour.ask(&api, "GET", "/?label=Dog&limit=1", None, TTL_MS + 1_000.0);
    bucket.down.set(false);

    // No snapshot at all: the Scan fallback pages the list, and its 304.
    let fallback = Api::new(&no_snapshot, &table);
    let page = tour.ask(&fallback, "GET", "/?label=Dog&limit=1", None, 0.0);
    tour.ask(
        &fallback,
        "GET",
        "/?label=Dog&limit=1",
        page.header("etag"),
        0.0,
    );

    // Nothing can answer: 503s, for a list and for a name the snapshot
    // lacks.
    let neither = Api::new(&no_snapshot, &table_down);
    tour.ask(&neither, "GET", "/?label=Dog", None, 0.0);
    tour.ask(&neither, "HEAD", "/?label=Dog", None, 0.0);
    let lookup_fails = Api::new(&bucket, &table_down);
    tour.ask(&lookup_fails, "GET", "/newer.jpg", None, 0.0);
    tour.ask(&lookup_fails, "HEAD", "/newer.jpg", None, 0.0);

    // The edge Worker without its settings, whatever it is asked.
    tour.0.push(Answer {
        request: "GET / to a misconfigured edge".to_string(),
        path: "/",
        method: "GET",
        reply: misconfigured(),
    });
    tour.0
}

// ---------------------------------------------------------------------
// The checks. Each returns its problems, one line each.
// ---------------------------------------------------------------------

/// `GET /` and `HEAD /` read exactly `params`; no other operation reads a
/// query parameter.
fn check_parameters(spec: &Spec, params: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let expected: BTreeSet<&str> = params.iter().copied().collect();
    for op in spec.operations() {
        let query: BTreeSet<&str> = op
            .params
            .iter()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let method = op.method.to_ascii_uppercase();
        if op.path == "/" && (op.method == "get" || op.method == "head") {
            if query != expected {
                problems.push(format!(
                    "{method} /: query parameters {query:?}, query::PARAMS {expected:?}"
                ));
            }
        } else if !query.is_empty() {
            problems.push(format!(
                "{method} {}: query parameters {query:?}, but only GET / reads any",
                op.path
            ));
        }
    }
    problems
}

/// The error responses and the `Error` schema name exactly `codes`, each
/// with its status, and every code has a schema of its own.
fn check_error_codes(spec: &Spec, codes: &[ErrorCode]) -> Vec<String> {
    let mut problems = Vec::new();
    let answered: BTreeSet<(u16, String)> = codes
        .iter()
        .map(|c| (c.status(), c.as_str().to_string()))
        .collect();
    let documented = spec.error_responses();
    for (status, code) in answered.difference(&documented) {
        problems.push(format!(
            "the API answers {status} {code} (ErrorCode), openapi.yaml documents no such error response"
        ));
    }
    for (status, code) in documented.difference(&answered) {
        problems.push(format!(
            "openapi.yaml documents {status} {code}, which is no ErrorCode's status and code"
        ));
    }
    let names: BTreeSet<String> = codes.iter().map(|c| c.as_str().to_string()).collect();
    let listed: BTreeSet<String> = spec
        .at("/components/schemas/Error/properties/Code/enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    for code in names.difference(&listed) {
        problems.push(format!(
            "ErrorCode {code} is not in the Error schema's Code enum"
        ));
    }
    for code in listed.difference(&names) {
        problems.push(format!(
            "the Error schema's Code enum has {code}, which is no ErrorCode"
        ));
    }
    for code in &listed {
        if spec.at(&format!("/components/schemas/{code}")).is_none() {
            problems.push(format!(
                "no schema components.schemas.{code} for the error code {code}"
            ));
        }
    }
    problems
}

/// Each answer of the tour against its documented response; then what the
/// document lists that no answer showed, and `Allow` against the paths'
/// operations.
fn check_answers(spec: &Spec, answers: &[Answer]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut sent = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for a in answers {
        let status = a.reply.status;
        let who = format!("{} (answered {status})", a.request);
        let Some(documented) = spec.response(a.path, a.method, status) else {
            problems.push(format!(
                "{who}: openapi.yaml documents no {status} for {} {}",
                a.method, a.path
            ));
            continue;
        };
        problems.extend(check_headers(spec, &who, documented, &a.reply));
        problems.extend(check_body(spec, &who, documented, &a.reply));
        for (name, _) in &a.reply.headers {
            if *name != "content-type" {
                sent.insert(name.to_string());
            }
        }
        if let Ok(body) = serde_json::from_str::<Value>(&a.reply.body) {
            if let Some(code) = body.get("Code").and_then(Value::as_str) {
                codes.insert(code.to_string());
            }
        }
    }
    for name in spec.header_names().difference(&sent) {
        problems.push(format!(
            "openapi.yaml documents the header {name}, which no answer of the tour sends"
        ));
    }
    for code in error_codes() {
        if !codes.contains(code.as_str()) {
            problems.push(format!(
                "no answer of the tour is a {}; give the tour a request that gets one",
                code.as_str()
            ));
        }
    }
    let allowed: BTreeSet<String> = answers
        .iter()
        .filter_map(|a| a.reply.header("allow"))
        .flat_map(|methods| methods.split(','))
        .map(|m| m.trim().to_ascii_lowercase())
        .collect();
    if allowed.is_empty() {
        problems.push("no answer of the tour has an Allow header".to_string());
    }
    for (path, item) in spec.doc["paths"].as_object().into_iter().flatten() {
        let operations: BTreeSet<String> = item
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key.clone())
            .filter(|key| METHODS.contains(&key.as_str()))
            .collect();
        if operations != allowed {
            problems.push(format!(
                "{path}: operations {operations:?}, the responder serves {allowed:?} (Allow)"
            ));
        }
    }
    problems
}

/// An answer's headers against its documented response: each one listed
/// there, with a value its schema allows, and each required one sent.
fn check_headers(spec: &Spec, who: &str, documented: &Value, reply: &Reply) -> Vec<String> {
    let mut problems = Vec::new();
    let listed = documented.get("headers").and_then(Value::as_object);
    let content_type = reply.header("content-type");
    if content_type != Some(JSON_CONTENT_TYPE) {
        problems.push(format!(
            "{who}: Content-Type {content_type:?}, not {JSON_CONTENT_TYPE}"
        ));
    }
    for (name, value) in &reply.headers {
        // OpenAPI ignores a Content-Type header: the media type says it.
        if *name == "content-type" {
            continue;
        }
        let header = listed
            .into_iter()
            .flatten()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, header)| spec.deref(header));
        match header {
            None => problems.push(format!(
                "{who}: sends {name}, which its documented response does not list"
            )),
            Some(header) => {
                let schema = &header["schema"];
                for e in spec.validate(schema, &spec.header_value(schema, value)) {
                    problems.push(format!("{who}: {name}: {value:?}: {e}"));
                }
            }
        }
    }
    for (name, header) in listed.into_iter().flatten() {
        let required = spec.deref(header).get("required").and_then(Value::as_bool) == Some(true);
        if required && reply.header(&name.to_ascii_lowercase()).is_none() {
            problems.push(format!(
                "{who}: no {name}, which its documented response requires"
            ));
        }
    }
    problems
}

/// An answer's body against its documented response: none when the
/// response has no content, else JSON its schema allows.
fn check_body(spec: &Spec, who: &str, documented: &Value, reply: &Reply) -> Vec<String> {
    let content = documented.get("content").and_then(Value::as_object);
    let schema = content
        .and_then(|c| c.get(JSON_CONTENT_TYPE))
        .map(|media| &media["schema"]);
    let body = &reply.body;
    match (body.is_empty(), content, schema) {
        (true, None, _) => Vec::new(),
        (true, Some(_), _) => vec![format!(
            "{who}: no body, but its documented response has content"
        )],
        (false, None, _) => vec![format!(
            "{who}: a body, but its documented response has no content: {body}"
        )],
        (false, Some(_), None) => vec![format!(
            "{who}: its documented response has no {JSON_CONTENT_TYPE} content"
        )],
        (false, Some(_), Some(schema)) => match serde_json::from_str::<Value>(body) {
            Err(e) => vec![format!("{who}: the body is not JSON ({e}): {body}")],
            Ok(json) => spec
                .validate(schema, &json)
                .into_iter()
                .map(|e| format!("{who}: body {body}: {e}"))
                .collect(),
        },
    }
}

/// The `ETag` pattern is exactly the shape of the tour's `ETag`s: a
/// snapshot answer's `"<version>-<request hash>"` and a DynamoDB answer's
/// `"<body hash>"`, in lower-case hex of the lengths the code cuts.
fn check_etags(spec: &Spec, answers: &[Answer]) -> Vec<String> {
    let mut snapshot = BTreeSet::new();
    let mut hashed = BTreeSet::new();
    for tag in answers.iter().filter_map(|a| a.reply.header("etag")) {
        let hex = tag.trim_matches('"');
        if let Some((version, request)) = hex.split_once('-') {
            snapshot.insert((version.len(), request.len()));
        } else {
            hashed.insert(hex.len());
        }
    }
    let (Some(&(version, request)), Some(&body), 1, 1) = (
        snapshot.first(),
        hashed.first(),
        snapshot.len(),
        hashed.len(),
    ) else {
        return vec![format!(
            "the tour's ETags have no single shape: snapshot answers {snapshot:?}, DynamoDB answers {hashed:?}"
        )];
    };
    let want = format!(r#"^"([0-9a-f]{{{version}}}-[0-9a-f]{{{request}}}|[0-9a-f]{{{body}}})"$"#);
    let got = spec
        .at("/components/headers/ETag/schema/pattern")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if got == want {
        Vec::new()
    } else {
        vec![format!(
            "the ETag pattern is {got}; the responder's ETags match {want}"
        )]
    }
}

/// `limit`'s bounds and default, `ItemList`'s size, the `MediaType` enum
/// and the bodies' media type are the code's.
fn check_constants(spec: &Spec) -> Vec<String> {
    let mut problems = Vec::new();
    let max = Some(MAX_LIMIT as u64);
    for (what, pointer) in [
        (
            "limit's maximum",
            "/components/parameters/limit/schema/maximum",
        ),
        (
            "limit's default",
            "/components/parameters/limit/schema/default",
        ),
        (
            "ItemList's maxItems",
            "/components/schemas/ItemList/maxItems",
        ),
    ] {
        let value = spec.at(pointer).and_then(Value::as_u64);
        if value != max {
            problems.push(format!(
                "{what} is {value:?}, page::MAX_LIMIT is {MAX_LIMIT}"
            ));
        }
    }
    // The smallest `limit`: accepted, and one less refused.
    let accepted = |n: u64| PageRequest::parse_limit(&n.to_string()).is_ok();
    match spec
        .at("/components/parameters/limit/schema/minimum")
        .and_then(Value::as_u64)
    {
        Some(min) if min >= 1 && accepted(min) && !accepted(min - 1) => {}
        min => problems.push(format!(
            "limit's minimum is {min:?}, not the smallest limit PageRequest::parse_limit accepts"
        )),
    }
    let spellings: BTreeSet<&str> = media_types().into_iter().map(MediaType::as_str).collect();
    let listed: BTreeSet<&str> = spec
        .at("/components/schemas/MediaType/enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if listed != spellings {
        problems.push(format!(
            "the MediaType enum is {listed:?}, MediaType spells {spellings:?}"
        ));
    }
    for t in &listed {
        if MediaType::parse(t).map(MediaType::as_str) != Some(*t) {
            problems.push(format!("MediaType::parse does not read {t:?} back"));
        }
    }
    let responses = spec.doc["components"]["responses"].as_object();
    for (name, response) in responses.into_iter().flatten() {
        let content = response.get("content").and_then(Value::as_object);
        for (media_type, _) in content.into_iter().flatten() {
            if media_type != JSON_CONTENT_TYPE {
                problems.push(format!(
                    "the {name} response's body is {media_type}, the API's are {JSON_CONTENT_TYPE}"
                ));
            }
        }
    }
    problems
}

/// Every example against its schema; the query parameters' examples
/// together, and the `Link` example, through the real parser.
fn check_examples(spec: &Spec) -> Vec<String> {
    let mut problems = Vec::new();
    walk_examples(spec, &spec.doc, "#", &mut problems);

    // Schemathesis sends the parameters' examples together: they must make
    // a request the API accepts, so the cursor example must be a cursor of
    // the other examples' filters.
    let list = spec
        .operations()
        .into_iter()
        .find(|op| op.path == "/" && op.method == "get");
    let params = list.map(|op| op.params).unwrap_or_default();
    let mut query = Vec::new();
    for name in PARAMS {
        let example = params
            .iter()
            .find(|p| p["in"] == "query" && p["name"] == name)
            .and_then(|p| p.get("example"))
            .and_then(example_text);
        match example {
            Some(text) => query.push(format!("{name}={}", encode_key(&text))),
            None => problems.push(format!("GET /'s parameter {name} has no example")),
        }
    }
    let query = query.join("&");
    if let Err(e) = ListRequest::from_query_string(&query) {
        problems.push(format!(
            "the query parameters' examples together, ?{query}, are refused: {}",
            e.message
        ));
    }

    // The `Link` example must be what the API sends for its own query.
    let link = spec
        .at("/components/headers/Link/example")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let link_query = link
        .strip_prefix("</?")
        .and_then(|l| l.strip_suffix(">; rel=\"next\""));
    match link_query.map(ListRequest::from_query_string) {
        None => problems.push(format!(
            "the Link example {link:?} is not </?...>; rel=\"next\""
        )),
        Some(Err(e)) => problems.push(format!(
            "the Link example's query is refused: {}",
            e.message
        )),
        Some(Ok(request)) => match &request.page.after {
            None => problems.push(format!("the Link example {link:?} has no cursor")),
            Some(after) => {
                let sent = next_link(&request.query.canonical(), &request.page, after);
                if sent != link {
                    problems.push(format!(
                        "the Link example is {link:?}; for its query and cursor the API sends {sent:?}"
                    ));
                }
            }
        },
    }
    problems
}

/// An example as a query parameter's text.
fn example_text(example: &Value) -> Option<String> {
    match example {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Validates the `example` and `examples` of every node that has a
/// `schema` (parameters, headers, media types) against that schema.
fn walk_examples(spec: &Spec, node: &Value, at: &str, problems: &mut Vec<String>) {
    match node {
        Value::Object(object) => {
            if let Some(schema) = object.get("schema") {
                let mut examples: Vec<(String, &Value)> = Vec::new();
                if let Some(example) = object.get("example") {
                    examples.push(("example".to_string(), example));
                }
                let named = object.get("examples").and_then(Value::as_object);
                for (name, example) in named.into_iter().flatten() {
                    examples.push((format!("examples/{name}"), &spec.deref(example)["value"]));
                }
                for (name, example) in examples {
                    for e in spec.validate(schema, example) {
                        problems.push(format!("{at}/{name}: {e}"));
                    }
                }
            }
            for (key, child) in object {
                walk_examples(spec, child, &format!("{at}/{}", escape(key)), problems);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk_examples(spec, child, &format!("{at}/{i}"), problems);
            }
        }
        _ => {}
    }
}

/// The API bodies of the shared vectors against the schemas: items, lists,
/// and every error body by its `Code`.
fn check_vectors(spec: &Spec) -> Vec<String> {
    let api = vector("api.json");
    let queries = vector("queries.json");
    let mut cases: Vec<(&str, String, Value)> = Vec::new();
    for c in cases_of(&api, "items") {
        cases.push(("api.json items", "Item".to_string(), json_text(&c["body"])));
    }
    for c in cases_of(&api, "lists") {
        cases.push((
            "api.json lists",
            "ItemList".to_string(),
            json_text(&c["body"]),
        ));
    }
    let mut errors: Vec<(&str, Value)> = Vec::new();
    for c in cases_of(&api, "errors") {
        errors.push(("api.json errors", json_text(&c["body"])));
    }
    for c in cases_of(&api, "paths") {
        if let Some(error) = c.get("error") {
            errors.push(("api.json paths", error["body"].clone()));
        }
    }
    for c in cases_of(&queries, "cases") {
        if let Some(error) = c.get("error") {
            errors.push(("queries.json", error["body"].clone()));
        }
    }
    for (place, body) in errors {
        let code = body["Code"].as_str().unwrap_or_default().to_string();
        cases.push((place, code, body));
    }
    let mut problems = Vec::new();
    for (place, name, body) in &cases {
        match spec.at(&format!("/components/schemas/{name}")) {
            None => problems.push(format!("{place}: no schema for the error code {name:?}")),
            Some(schema) => {
                for e in spec.validate(schema, body) {
                    problems.push(format!("{place}: {body} is not a valid {name}: {e}"));
                }
            }
        }
    }
    problems
}

fn vector(name: &str) -> Value {
    let path = root().join("domain/vectors").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A vector file's cases under `key`; a file without them fails, so that
/// a renamed key cannot leave nothing checked.
fn cases_of<'a>(file: &'a Value, key: &str) -> &'a [Value] {
    match file[key].as_array() {
        Some(cases) if !cases.is_empty() => cases.as_slice(),
        _ => panic!("the vector file has no {key:?} cases"),
    }
}

/// A body the vectors keep as JSON text.
fn json_text(body: &Value) -> Value {
    let text = body.as_str().expect("a body kept as text");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

// ---------------------------------------------------------------------
// The checks fail: each test changes the document (or asks the validator
// about a bad value) and finds the problem reported.
// ---------------------------------------------------------------------

fn assert_reported(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}; got:\n{}",
        problems.join("\n")
    );
}

#[test]
fn what_a_schema_forbids_is_reported() {
    let spec = Spec::load();
    let item = json!({"$ref": "#/components/schemas/Item"});
    let good = json!({"name": "a.jpg", "type": "image", "labels": ["Dog"]});
    assert_eq!(spec.validate(&item, &good), Vec::<String>::new());
    let bad = [
        (
            json!({"name": "", "type": "image", "labels": []}),
            "#/name: \"\" is 0 characters long, against minLength 1",
        ),
        (
            json!({"name": "a.jpg", "type": "audio", "labels": []}),
            "#/type: \"audio\" is not one of",
        ),
        (
            json!({"name": "a.jpg", "type": "image", "labels": [1]}),
            "#/labels/0: 1 is not of type \"string\"",
        ),
        (
            json!({"name": "a.jpg", "type": "image"}),
            "#: no property labels",
        ),
        (
            json!({"name": "a.jpg", "type": "image", "labels": [], "size": 1}),
            "#: no property size is allowed here",
        ),
    ];
    for (value, needle) in &bad {
        assert_reported(&spec.validate(&item, value), needle);
    }
    let list = json!({"$ref": "#/components/schemas/ItemList"});
    let too_long = Value::Array(vec![good; MAX_LIMIT + 1]);
    assert_reported(&spec.validate(&list, &too_long), "against maxItems");
    let not_found = json!({"$ref": "#/components/schemas/NotFoundError"});
    let other_text = json!({"Code": "NotFoundError", "Message": "NotFoundError: gone"});
    assert_reported(&spec.validate(&not_found, &other_text), "does not match");
    let other_code =
        json!({"Code": "BadRequestError", "Message": "NotFoundError: Media file (x) not found"});
    assert_reported(
        &spec.validate(&not_found, &other_code),
        "\"BadRequestError\" is not \"NotFoundError\"",
    );
    let limit = json!({"type": "integer", "minimum": 1});
    assert_reported(&spec.validate(&limit, &json!(0)), "against minimum");
    assert_reported(&spec.validate(&limit, &json!(1.5)), "is not of type");
    let unknown = json!({"oneOf": [{"type": "string"}]});
    assert_reported(
        &spec.validate(&unknown, &json!("x")),
        "the schema keyword oneOf is unknown",
    );
}

#[test]
fn a_query_parameter_out_of_step_is_reported() {
    let missing = Spec::changed(|doc| {
        doc.pointer_mut("/paths/~1/get/parameters")
            .and_then(Value::as_array_mut)
            .expect("GET / has parameters")
            .retain(|p| p["$ref"] != "#/components/parameters/cursor");
    });
    assert_reported(
        &check_parameters(&missing, &PARAMS),
        "GET /: query parameters",
    );
    let extra = Spec::changed(|doc| {
        doc.pointer_mut("/paths/~1{name}/get/parameters")
            .and_then(Value::as_array_mut)
            .expect("GET /{name} has parameters")
            .push(json!({"name": "colour", "in": "query", "schema": {"type": "string"}}));
    });
    assert_reported(
        &check_parameters(&extra, &PARAMS),
        "GET /{name}: query parameters {\"colour\"}, but only GET / reads any",
    );
}

#[test]
fn an_error_code_out_of_step_is_reported() {
    let unlisted = Spec::changed(|doc| {
        doc.pointer_mut("/components/schemas/Error/properties/Code/enum")
            .and_then(Value::as_array_mut)
            .expect("the Error schema lists its codes")
            .retain(|c| c != "InternalServerError");
    });
    assert_reported(
        &check_error_codes(&unlisted, &error_codes()),
        "ErrorCode InternalServerError is not in the Error schema's Code enum",
    );
    let renamed = Spec::changed(|doc| {
        *doc.pointer_mut(
            "/components/schemas/MethodNotAllowedError/allOf/1/properties/Code/const",
        )
        .expect("MethodNotAllowedError pins its Code") = json!("MethodError");
    });
    let problems = check_error_codes(&renamed, &error_codes());
    assert_reported(&problems, "openapi.yaml documents 405 MethodError");
    assert_reported(&problems, "the API answers 405 MethodNotAllowedError");
}

#[test]
fn a_header_out_of_step_is_reported() {
    let answers = tour();
    let other_value = Spec::changed(|doc| {
        *doc.pointer_mut("/components/headers/Retry-After/schema/const")
            .expect("Retry-After is fixed") = json!(7);
    });
    assert_reported(
        &check_answers(&other_value, &answers),
        "(answered 503): retry-after: \"5\": #: 5 is not 7",
    );
    let unlisted = Spec::changed(|doc| {
        doc.pointer_mut("/components/responses/List/headers")
            .and_then(Value::as_object_mut)
            .expect("List has headers")
            .remove("X-Content-Type-Options");
    });
    assert_reported(
        &check_answers(&unlisted, &answers),
        "sends x-content-type-options, which its documented response does not list",
    );
    let never_sent = Spec::changed(|doc| {
        doc.pointer_mut("/components/responses/ErrorHead/headers")
            .and_then(Value::as_object_mut)
            .expect("ErrorHead has headers")
            .insert(
                "X-Request-Id".to_string(),
                json!({"schema": {"type": "string"}}),
            );
    });
    assert_reported(
        &check_answers(&never_sent, &answers),
        "documents the header x-request-id, which no answer of the tour sends",
    );
    let required = Spec::changed(|doc| {
        doc.pointer_mut("/components/responses/NotFound/headers")
            .and_then(Value::as_object_mut)
            .expect("NotFound has headers")
            .insert(
                "Retry-After".to_string(),
                json!({"$ref": "#/components/headers/Retry-After"}),
            );
    });
    assert_reported(
        &check_answers(&required, &answers),
        "no Retry-After, which its documented response requires",
    );
    let extra_method = Spec::changed(|doc| {
        doc.pointer_mut("/paths/~1")
            .and_then(Value::as_object_mut)
            .expect("the path /")
            .insert("delete".to_string(), json!({"responses": {}}));
    });
    assert_reported(&check_answers(&extra_method, &answers), "/: operations");
}

#[test]
fn a_body_out_of_step_is_reported() {
    let spec = Spec::changed(|doc| {
        *doc.pointer_mut("/components/schemas/NotFoundError/allOf/1/properties/Message/pattern")
            .expect("NotFoundError's Message has a pattern") =
            json!("^NotFoundError: No such file");
    });
    assert_reported(
        &check_answers(&spec, &tour()),
        "GET /missing.jpg (answered 404): body",
    );
    assert_reported(&check_vectors(&spec), "is not a valid NotFoundError");
}

#[test]
fn a_constant_out_of_step_is_reported() {
    let maximum = Spec::changed(|doc| {
        *doc.pointer_mut("/components/parameters/limit/schema/maximum")
            .expect("limit has a maximum") = json!(500);
    });
    assert_reported(
        &check_constants(&maximum),
        "limit's maximum is Some(500), page::MAX_LIMIT is 1000",
    );
    let minimum = Spec::changed(|doc| {
        *doc.pointer_mut("/components/parameters/limit/schema/minimum")
            .expect("limit has a minimum") = json!(0);
    });
    assert_reported(&check_constants(&minimum), "limit's minimum is Some(0)");
    let media_type = Spec::changed(|doc| {
        doc.pointer_mut("/components/schemas/MediaType/enum")
            .and_then(Value::as_array_mut)
            .expect("MediaType is an enum")
            .push(json!("audio"));
    });
    assert_reported(&check_constants(&media_type), "the MediaType enum is");
    let etag = Spec::changed(|doc| {
        *doc.pointer_mut("/components/headers/ETag/schema/pattern")
            .expect("ETag has a pattern") = json!("^\".*\"$");
    });
    assert_reported(&check_etags(&etag, &tour()), "the ETag pattern is ^\".*\"$");
}

#[test]
fn an_example_out_of_step_is_reported() {
    let altered_cursor = Spec::changed(|doc| {
        let cursor = doc
            .pointer_mut("/components/parameters/cursor/example")
            .expect("cursor has an example");
        let mut text = cursor.as_str().expect("a cursor is text").to_string();
        let other = if text.as_bytes()[10] == b'A' {
            "B"
        } else {
            "A"
        };
        text.replace_range(10..11, other);
        *cursor = Value::String(text);
    });
    assert_reported(
        &check_examples(&altered_cursor),
        "the query parameters' examples together",
    );
    let extra_property = Spec::changed(|doc| {
        doc.pointer_mut(
            "/components/responses/Item/content/application~1json/examples/image/value",
        )
        .and_then(Value::as_object_mut)
        .expect("an Item example")
        .insert("size".to_string(), json!(1));
    });
    assert_reported(
        &check_examples(&extra_property),
        "examples/image: #: no property size is allowed here",
    );
    let reordered_link = Spec::changed(|doc| {
        *doc.pointer_mut("/components/headers/Link/example")
            .expect("Link has an example") =
            json!("</?limit=1&label=Dog&cursor=AWG793BzYW1wbGUuanBnGXAGiDMog5g>; rel=\"next\"");
    });
    assert_reported(
        &check_examples(&reordered_link),
        "for its query and cursor the API sends",
    );
}
