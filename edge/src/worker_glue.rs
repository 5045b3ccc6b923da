//! The Worker entry point: configuration from the environment, the fetches
//! behind [`Backend`] and [`ObjectSource`], and the per-isolate snapshot.

use crate::aws::{AwsAccess, SignedRequest};
use crate::respond::{handle, ApiRequest, Backend, Reply};
use crate::snapshot::{Fetched, ObjectSource, Snapshot, SnapshotCache, SnapshotError};
use media_query_domain::dynamo::{AttributeValue, Item};
use media_query_domain::{ListQuery, MediaRecord};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use worker::{
    console_error, event, wasm_bindgen::JsValue, Context, Date, Env, Fetch, Headers, Method,
    Request, RequestInit, Response, Result,
};

thread_local! {
    /// Decoded once per isolate, shared by its requests.
    static SNAPSHOT: Rc<RefCell<SnapshotCache>> = Rc::new(RefCell::new(SnapshotCache::default()));
}

/// Settings from `wrangler.toml` `[vars]` and secrets.
struct Config {
    aws: AwsAccess,
    table: String,
    export_bucket: String,
    export_prefix: String,
    ttl_seconds: u64,
}

fn setting(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.is_empty())
}

impl Config {
    fn from_env(env: &Env) -> std::result::Result<Config, String> {
        let need =
            |name: &str| setting(env, name).ok_or_else(|| format!("{name} is not configured"));
        Ok(Config {
            aws: AwsAccess {
                region: need("AWS_REGION")?,
                access_key_id: need("AWS_ACCESS_KEY_ID")?,
                secret_access_key: need("AWS_SECRET_ACCESS_KEY")?,
                session_token: setting(env, "AWS_SESSION_TOKEN"),
                endpoint_url: setting(env, "AWS_ENDPOINT_URL"),
            },
            table: need("MEDIA_TABLE_NAME")?,
            export_bucket: need("EXPORT_BUCKET")?,
            export_prefix: setting(env, "EXPORT_PREFIX").unwrap_or_default(),
            ttl_seconds: setting(env, "EXPORT_TTL_SECONDS")
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("EXPORT_TTL_SECONDS `{v}` is not a number"))
                })
                .transpose()?
                .unwrap_or(60),
        })
    }
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

struct HttpAnswer {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

async fn send(req: SignedRequest) -> std::result::Result<HttpAnswer, String> {
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
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let etag = resp.headers().get("etag").ok().flatten();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok(HttpAnswer {
        status: resp.status_code(),
        etag,
        body,
    })
}

struct Sources<'a> {
    config: &'a Config,
}

impl ObjectSource for Sources<'_> {
    async fn get(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> std::result::Result<Fetched, SnapshotError> {
        let fail = |detail: String| SnapshotError::Fetch {
            key: key.to_string(),
            detail,
        };
        let req = self
            .config
            .aws
            .s3_get(&self.config.export_bucket, key, if_none_match, now_ms())
            .map_err(|e| fail(e.to_string()))?;
        let r = send(req).await.map_err(fail)?;
        match r.status {
            200 => Ok(Fetched::Object {
                body: r.body,
                etag: r.etag,
            }),
            304 => Ok(Fetched::NotModified),
            404 => Ok(Fetched::Missing),
            s => Err(fail(format!(
                "S3 answered {s}: {}",
                String::from_utf8_lossy(&r.body)
            ))),
        }
    }
}

impl Sources<'_> {
    async fn dynamodb(&self, operation: &str, body: Value) -> std::result::Result<Value, String> {
        let req = self
            .config
            .aws
            .dynamodb(operation, &body, now_ms())
            .map_err(|e| e.to_string())?;
        let r = send(req).await?;
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

impl Backend for Sources<'_> {
    async fn snapshot(&self) -> std::result::Result<Rc<Snapshot>, SnapshotError> {
        let cache = SNAPSHOT.with(Rc::clone);
        SnapshotCache::current(
            &cache,
            self,
            &self.config.export_prefix,
            now_ms() as f64,
            self.config.ttl_seconds as f64 * 1000.0,
        )
        .await
    }

    async fn get_item(&self, name: &str) -> std::result::Result<Option<MediaRecord>, String> {
        let out = self
            .dynamodb(
                "GetItem",
                json!({"TableName": self.config.table, "Key": {"name": AttributeValue::S(name.to_string())}, "ConsistentRead": true}),
            )
            .await?;
        out.get("Item").map(record).transpose()
    }

    async fn scan(&self, query: &ListQuery) -> std::result::Result<Vec<MediaRecord>, String> {
        let filter = query.scan_filter();
        let mut records = Vec::new();
        let mut start: Option<Value> = None;
        loop {
            let mut body = json!({
                "TableName": self.config.table,
                "FilterExpression": filter.expression,
                "ExpressionAttributeNames": filter.names,
            });
            if !filter.values.is_empty() {
                body["ExpressionAttributeValues"] = json!(filter.values);
            }
            if let Some(s) = start.take() {
                body["ExclusiveStartKey"] = s;
            }
            let out = self.dynamodb("Scan", body).await?;
            for item in out["Items"].as_array().into_iter().flatten() {
                records.push(record(item)?);
            }
            match out.get("LastEvaluatedKey") {
                Some(k) if k.as_object().is_some_and(|o| !o.is_empty()) => start = Some(k.clone()),
                _ => return Ok(records),
            }
        }
    }

    fn log_error(&self, message: &str) {
        console_error!("{message}");
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
            let err = media_query_domain::ApiError::internal("The edge is misconfigured.");
            return to_response(Reply {
                status: err.status,
                headers: vec![("content-type", "application/json".into())],
                body: err.body(),
            });
        }
    };
    let url = req.url()?;
    let method = req.method().to_string();
    let if_none_match = req.headers().get("if-none-match")?;
    let api_request = ApiRequest {
        method: &method,
        raw_path: url.path(),
        raw_query: url.query(),
        if_none_match: if_none_match.as_deref(),
    };
    let reply = handle(
        &Sources { config: &config },
        api_request,
        config.ttl_seconds,
    )
    .await;
    to_response(reply)
}
