//! The Worker entry point: configuration from the environment, the fetches
//! behind the domain's `ObjectStore` and `Table`, and the per-isolate
//! responder (read engine, bounded shard cache, negative cache).

use crate::aws::{AwsAccess, SignedRequest};
use crate::subrequests::{DYNAMODB_CALL_BUDGET_MS, RETRY, S3_BUDGET_MS, SUBREQUESTS_PER_REQUEST};
use futures_util::future::{select, Either};
use media_query_domain::dynamo::{AttributeValue, Item};
use media_query_domain::engine::ReadEngine;
use media_query_domain::http::{misconfigured, ApiRequest, Reply, Responder, Settings};
use media_query_domain::ports::Table;
use media_query_domain::ports::{Fetched, ObjectStore};
use media_query_domain::retry::{transient_aws_answer, Allowance, Failure, RetryEnv};
use media_query_domain::serving::objects_prefix;
use media_query_domain::worker_settings as names;
use media_query_domain::{ListQuery, MediaRecord};
use serde_json::{json, Value};
use std::cell::OnceCell;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;
use worker::{
    console_error, console_log, console_warn, event, wasm_bindgen::JsValue, AbortController, Cache,
    Context, Date, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result,
};

/// Decoded objects this isolate may keep (of its 128 MB). The rest of
/// the 32 MB the Worker aims at goes to what requests hold at once: with
/// 16 concurrent requests and a full-size delta replaced every second,
/// the wasm memory peaked at 27.4 MiB with 10 MiB here, and at 33.8-37.1
/// MiB with 16 MiB, for the same objects fetched (scripts/bench-edge.sh at
/// 10M items; a random read of 10M items rarely finds a shard cached
/// anyway, and a page's own shards and the delta still fit).
const CACHE_BYTES: usize = 10 * 1024 * 1024;

thread_local! {
    /// One responder per isolate, shared by its requests.
    static RESPONDER: OnceCell<Rc<Responder>> = const { OnceCell::new() };
}

/// Settings from `wrangler.toml` `[vars]` and secrets, each read by its
/// name in [`media_query_domain::worker_settings`] (which the deploy
/// wiring's `scripts/worker-settings.json` is held to), never by a string
/// of its own.
struct Config {
    aws: AwsAccess,
    table: String,
    snapshot_bucket: String,
    snapshot_prefix: String,
    ttl_seconds: u64,
    /// How long the last good snapshot is served when its refresh fails.
    max_stale_seconds: u64,
}

fn setting(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.is_empty())
}

impl Config {
    fn from_env(env: &Env) -> std::result::Result<Config, String> {
        if let Some(e) = media_query_domain::renamed::renamed_setting(|k| setting(env, k)) {
            return Err(e);
        }
        let need =
            |name: &str| setting(env, name).ok_or_else(|| format!("{name} is not configured"));
        let seconds = |name: &str, default: u64| {
            setting(env, name)
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{name} `{v}` is not a number"))
                })
                .transpose()
                .map(|v| v.unwrap_or(default))
        };
        Ok(Config {
            aws: AwsAccess {
                region: need(names::AWS_REGION)?,
                access_key_id: need(names::AWS_ACCESS_KEY_ID)?,
                secret_access_key: need(names::AWS_SECRET_ACCESS_KEY)?,
                session_token: setting(env, names::AWS_SESSION_TOKEN),
                endpoint_url: setting(env, names::AWS_ENDPOINT_URL),
                dynamodb_endpoint_url: setting(env, names::AWS_ENDPOINT_URL_DYNAMODB),
            },
            table: need(names::MEDIA_TABLE_NAME)?,
            snapshot_bucket: need(names::SNAPSHOT_BUCKET)?,
            snapshot_prefix: setting(env, names::SNAPSHOT_PREFIX).unwrap_or_default(),
            ttl_seconds: seconds(names::SNAPSHOT_TTL_SECONDS, 60)?,
            max_stale_seconds: seconds(names::MAX_STALE_SECONDS, 3600)?,
        })
    }

    fn responder(&self) -> Rc<Responder> {
        RESPONDER.with(|r| {
            r.get_or_init(|| {
                Rc::new(Responder::new(
                    ReadEngine::new(
                        &self.snapshot_prefix,
                        self.ttl_seconds as f64 * 1000.0,
                        CACHE_BYTES,
                    )
                    .with_max_stale_ms(self.max_stale_seconds as f64 * 1000.0),
                    Settings {
                        max_age_seconds: self.ttl_seconds,
                        ..Settings::default()
                    },
                ))
            })
            .clone()
        })
    }
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

/// One line per request, for Workers Logs.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestLog<'a> {
    method: &'a str,
    route: &'static str,
    path: &'a str,
    status: u16,
    source: Option<&'a str>,
    snapshot_version: Option<&'a str>,
    latency_ms: u64,
    /// Failures met on the way (a fallback answered, or nothing did).
    errors: &'a [String],
}

/// Logs the request as a JS object (built with `serde-wasm-bindgen`), not
/// a string, so that Workers Logs indexes its fields.
fn log_request(method: &str, path: &str, reply: &Reply, latency_ms: u64) {
    let line = RequestLog {
        method,
        route: if path.is_empty() || path == "/" {
            "list"
        } else {
            "item"
        },
        path,
        status: reply.status,
        source: reply.header("x-media-source"),
        snapshot_version: reply.snapshot_version.as_deref(),
        latency_ms,
        errors: &reply.log,
    };
    match serde_wasm_bindgen::to_value(&line) {
        Ok(object) if reply.log.is_empty() => worker::web_sys::console::log_1(&object),
        Ok(object) => worker::web_sys::console::error_1(&object),
        Err(e) => console_error!("request log: {e}"),
    }
}

struct HttpAnswer {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

/// One attempt: the request, aborted if it has not answered (body
/// included) within `timeout_ms`.
async fn send_once(
    req: &SignedRequest,
    timeout_ms: f64,
) -> std::result::Result<HttpAnswer, String> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async move {
        let headers = Headers::new();
        for (k, v) in &req.headers {
            headers.set(k, v).map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(if req.method == "POST" {
            Method::Post
        } else {
            Method::Get
        })
        .with_headers(headers);
        if !req.body.is_empty() {
            init.with_body(Some(JsValue::from_str(&req.body)));
        }
        let request = Request::new_with_init(&req.url, &init).map_err(|e| e.to_string())?;
        let mut resp = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| e.to_string())?;
        let etag = resp.headers().get("etag").ok().flatten();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok(HttpAnswer {
            status: resp.status_code(),
            etag,
            body,
        })
    };
    let timer = Delay::from(Duration::from_millis(timeout_ms as u64));
    match select(pin!(exchange), pin!(timer)).await {
        Either::Left((answer, _)) => answer,
        Either::Right(_) => {
            // Dropping the future would leave the fetch running.
            controller.abort();
            Err(format!("no answer within {timeout_ms} ms"))
        }
    }
}

/// The Worker's clock, randomness and timers, for the retry loop.
struct WorkerTime;

impl RetryEnv for WorkerTime {
    fn now_ms(&self) -> f64 {
        Date::now().as_millis() as f64
    }

    fn random(&self) -> f64 {
        worker::js_sys::Math::random()
    }

    async fn sleep(&self, ms: f64) {
        Delay::from(Duration::from_millis(ms as u64)).await
    }
}

/// A call to AWS, signed afresh for each attempt, with the timeouts and
/// bounded retries of [`RETRY`] until `deadline_ms`: network errors,
/// timeouts, 5xx and throttles are retried; other answers (200, 304,
/// 403, 404...) are returned as they came.
async fn send(
    sign: impl Fn() -> std::result::Result<SignedRequest, String>,
    deadline_ms: f64,
    allowance: &Allowance,
) -> std::result::Result<HttpAnswer, String> {
    RETRY
        .run(&WorkerTime, deadline_ms, |timeout_ms| {
            let req = sign().and_then(|r| allowance.take().map(|()| r));
            async move {
                let req = req.map_err(Failure::permanent)?;
                let answer = send_once(&req, timeout_ms)
                    .await
                    .map_err(Failure::transient)?;
                if transient_aws_answer(answer.status, &answer.body) {
                    return Err(Failure::transient(format!(
                        "answered {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    )));
                }
                Ok(answer)
            }
        })
        .await
}

/// The export bucket, read with SigV4-signed GETs. Snapshot objects are
/// immutable (named by their hash), so they also go through the Cache API
/// of the data centre, under `cache_origin`.
struct SnapshotBucket<'a> {
    config: &'a Config,
    cache_origin: String,
    /// When this request stops waiting for S3 ([`S3_BUDGET_MS`]).
    deadline_ms: f64,
    /// The request's subrequests, shared with the table.
    allowance: &'a Allowance,
}

impl SnapshotBucket<'_> {
    fn cache_url(&self, key: &str) -> Option<String> {
        key.starts_with(&objects_prefix(&self.config.snapshot_prefix))
            .then(|| {
                format!(
                    "{}/.media-query-objects/{}/{key}",
                    self.cache_origin, self.config.snapshot_bucket
                )
            })
    }

    async fn cached(&self, url: &str) -> Option<Vec<u8>> {
        self.allowance.take().ok()?;
        let mut hit = Cache::default().get(url, true).await.ok().flatten()?;
        hit.bytes().await.ok()
    }

    async fn remember(&self, url: &str, body: &[u8]) {
        if self.allowance.take().is_err() {
            return;
        }
        // Copied straight into a JS array: a Vec copy first would add the
        // object's size to wasm memory, which never shrinks once grown.
        let array = worker::js_sys::Uint8Array::from(body);
        let Ok(resp) = worker::web_sys::Response::new_with_opt_js_u8_array(Some(&array)) else {
            return;
        };
        let mut resp = Response::from(resp);
        let _ = resp
            .headers_mut()
            .set("cache-control", "public, max-age=31536000, immutable");
        if let Err(e) = Cache::default().put(url, resp).await {
            console_error!("Cache API put failed: {e}");
        }
    }
}

impl ObjectStore for SnapshotBucket<'_> {
    /// workerd cancels a request that waits on another request's I/O with
    /// none of its own pending: a request waiting for an object another
    /// request is fetching checks back on its own timer.
    fn waits_on_timers(&self) -> bool {
        true
    }

    async fn pause(&self, ms: f64) {
        Delay::from(Duration::from_millis(ms as u64)).await
    }

    async fn get(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> std::result::Result<Fetched, String> {
        let cache_url = self.cache_url(key);
        if let Some(url) = &cache_url {
            if let Some(body) = self.cached(url).await {
                return Ok(Fetched::Object { body, etag: None });
            }
        }
        let signed = || {
            self.config
                .aws
                .s3_get(&self.config.snapshot_bucket, key, if_none_match, now_ms())
                .map_err(|e| e.to_string())
        };
        let r = send(signed, self.deadline_ms, self.allowance)
            .await
            .map_err(|e| format!("S3: {e}"))?;
        match r.status {
            200 => {
                if let Some(url) = &cache_url {
                    self.remember(url, &r.body).await;
                }
                Ok(Fetched::Object {
                    body: r.body,
                    etag: r.etag,
                })
            }
            304 => Ok(Fetched::NotModified),
            404 => Ok(Fetched::Missing),
            s => Err(format!(
                "S3 answered {s}: {}",
                String::from_utf8_lossy(&r.body)
            )),
        }
    }
}

/// The media table, through DynamoDB's JSON API.
struct MediaTable<'a> {
    config: &'a Config,
    allowance: &'a Allowance,
}

impl MediaTable<'_> {
    async fn call(&self, operation: &str, body: Value) -> std::result::Result<Value, String> {
        let signed = || {
            self.config
                .aws
                .dynamodb(operation, &body, now_ms())
                .map_err(|e| e.to_string())
        };
        let deadline_ms = now_ms() as f64 + DYNAMODB_CALL_BUDGET_MS;
        let r = send(signed, deadline_ms, self.allowance)
            .await
            .map_err(|e| format!("DynamoDB {operation}: {e}"))?;
        let text = String::from_utf8_lossy(&r.body).to_string();
        if r.status != 200 {
            return Err(format!(
                "DynamoDB {operation} answered {}: {text}",
                r.status
            ));
        }
        serde_json::from_str(&text).map_err(|e| format!("DynamoDB {operation}: {e}"))
    }
}

fn record(item: &Value) -> std::result::Result<MediaRecord, String> {
    let item: Item = serde_json::from_value(item.clone()).map_err(|e| e.to_string())?;
    MediaRecord::from_item(&item).map_err(|e| e.to_string())
}

impl Table for MediaTable<'_> {
    async fn get_item(&self, name: &str) -> std::result::Result<Option<MediaRecord>, String> {
        let out = self
            .call(
                "GetItem",
                json!({"TableName": self.config.table, "Key": {"name": AttributeValue::S(name.to_string())}, "ConsistentRead": true}),
            )
            .await?;
        // A bad row is not served, and is not an outage either.
        Ok(out.get("Item").and_then(|item| {
            record(item)
                .map_err(|why| console_warn!("{name}: not a media record, not served: {why}"))
                .ok()
        }))
    }

    async fn scan_page(
        &self,
        query: &ListQuery,
        start: Option<Item>,
    ) -> std::result::Result<(Vec<MediaRecord>, Option<Item>), String> {
        let filter = query.scan_filter();
        let mut body = json!({
            "TableName": self.config.table,
            "FilterExpression": filter.expression,
            "ExpressionAttributeNames": filter.names,
        });
        if !filter.values.is_empty() {
            body["ExpressionAttributeValues"] = json!(filter.values);
        }
        if let Some(s) = start {
            body["ExclusiveStartKey"] = json!(s);
        }
        let out = self.call("Scan", body).await?;
        // An answer without `Items` is not an empty table.
        let items = out["Items"]
            .as_array()
            .ok_or_else(|| format!("DynamoDB Scan answered without Items: {out}"))?;
        let records = items.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        let next = match out.get("LastEvaluatedKey") {
            Some(k) if k.as_object().is_some_and(|o| !o.is_empty()) => Some(
                serde_json::from_value(k.clone())
                    .map_err(|e| format!("DynamoDB Scan's LastEvaluatedKey: {e}"))?,
            ),
            _ => None,
        };
        Ok((records, next))
    }
}

fn to_response(reply: Reply) -> Result<Response> {
    let mut resp = if reply.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(reply.body.into_bytes())?
    };
    resp = resp.with_status(reply.status);
    for (k, v) in &reply.headers {
        resp.headers_mut().set(k, v)?;
    }
    Ok(resp)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = match Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            console_error!("configuration error: {e}");
            return to_response(misconfigured());
        }
    };
    let started = now_ms();
    let url = req.url()?;
    // The raw method: worker's `Method` maps every method it does not
    // know (QUERY, PROPFIND...) to GET, which would answer them as GETs
    // instead of the 405 the Lambda gives.
    let method = req.inner().method();
    let if_none_match = req.headers().get("if-none-match")?;
    let api_request = ApiRequest {
        method: &method,
        raw_path: url.path(),
        raw_query: url.query(),
        if_none_match: if_none_match.as_deref(),
    };
    let responder = config.responder();
    let allowance = Allowance::new(SUBREQUESTS_PER_REQUEST);
    let bucket = SnapshotBucket {
        config: &config,
        cache_origin: url.origin().ascii_serialization(),
        deadline_ms: started as f64 + S3_BUDGET_MS,
        allowance: &allowance,
    };
    let table = MediaTable {
        config: &config,
        allowance: &allowance,
    };
    let reply = responder
        .handle(&bucket, &table, api_request, started as f64)
        .await;
    log_request(&method, url.path(), &reply, now_ms() - started);
    if setting(&env, names::DEBUG_MEMORY).is_some() {
        // For the memory benchmark: the wasm heap and the shard cache.
        let heap = core::arch::wasm32::memory_size(0) * 65536;
        let (cache, budget) = responder.engine.cache_usage();
        console_log!("memory: wasm={heap} cache={cache} budget={budget}");
    }
    to_response(reply)
}
