//! IAM as deployed: the policy statements `template.yaml` gives each
//! function (and the Worker's `EdgeReaderUser`), resolved to a test's
//! resources ([`crate::template`]), each given to its own IAM user in
//! moto, with moto's authentication and authorization turned on
//! ([`enforce`]).
//!
//! What moto 5.2.5 enforces then (moto/core/authorization.py,
//! moto/iam/access_control.py, moto/core/responses.py):
//! * the SigV4 signature of every request, against the secret of an access
//!   key of an IAM user in moto (an unknown key is refused);
//! * the action, for every service: a call no statement allows is
//!   `AccessDenied` (403);
//! * the resource only where the service names it: S3 (the bucket's ARN,
//!   or `bucket/key`), SQS (the queue's ARN), IAM role operations. Every
//!   other service (DynamoDB, Rekognition, SNS...) is authorized against
//!   the resource `*`, which a statement naming an ARN never matches: for
//!   those services the statements moto gets say `Resource: "*"`
//!   ([`moto_policy`]);
//! * no conditions: only `StringEquals` is evaluated, and only on
//!   `sts:ExternalId`, so in a user's policy every condition passes.
//!
//! What moto leaves out, [`ResourceCheck`] checks in the test process, on
//! the clients [`Principal`] builds, before a request is sent: the
//! resource of every DynamoDB call (the table, or
//! `table/<name>/index/<index>`), the `s3:prefix` condition of S3
//! `ListBucket`, and for Rekognition what AWS checks for the caller
//! besides the action: `s3:GetObject` on the object it reads and
//! `iam:PassRole` on the role it is handed; against rekognition-local,
//! which checks nothing, the Rekognition action too. Not checked at run
//! time: `sqs:SendMessage` (Lambda's on-failure destination, not a call
//! the handlers make) and the Worker's DynamoDB resources (it calls moto
//! itself).
//!
//! A function's own user ([`Principal::from_template`]) also carries the
//! calls the function declares (`media_query_lambda::iam`), and
//! [`ResourceCheck`] refuses any request its clients send that none of
//! those declarations covers: a call added to the code without its
//! declaration fails these tests even where the template grants it.
//! `tests/src/declared_iam.rs` compares the declarations with the
//! template's statements.

use crate::template::{wildcard, Stack, Statement, ACCOUNT, REGION};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use media_query_stack::launch::MotoServer;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A statement as IAM's JSON policy language writes it.
fn statement_json(st: &Statement) -> serde_json::Value {
    let mut json = json!({
        "Effect": st.effect,
        "Action": st.actions,
        "Resource": st.resources,
    });
    if !st.conditions.is_empty() {
        json["Condition"] = json!(st.conditions);
    }
    json
}

/// The policy document moto gets for `statements`: for the services moto
/// authorizes against `*` (all but S3, SQS and IAM), the statement's
/// resources are `*`, or moto would allow nothing; [`ResourceCheck`]
/// checks those resources instead.
///
/// One S3 exception: moto 5.2.5 authorizes a whole `DeleteObjects` request
/// as `s3:DeleteObject` on the *bucket's* ARN before it checks each key
/// (`_bucket_response_post` in `moto/s3/responses.py`), where AWS
/// authorizes each key alone. So a statement granting `s3:DeleteObject` on
/// keys also grants it, for moto only, on their bucket; each key is still
/// checked against the key ARNs.
pub fn moto_policy(statements: &[Statement]) -> serde_json::Value {
    const RESOURCES_CHECKED_BY_MOTO: [&str; 3] = ["s3", "sqs", "iam"];
    let mut out = Vec::new();
    for st in statements {
        let (checked, star): (Vec<String>, Vec<String>) =
            st.actions.iter().cloned().partition(|a| {
                let service = a.split(':').next().unwrap_or("").to_lowercase();
                RESOURCES_CHECKED_BY_MOTO.contains(&service.as_str())
            });
        if checked.iter().any(|a| a == "s3:DeleteObject") {
            let buckets: std::collections::BTreeSet<String> = st
                .resources
                .iter()
                .filter_map(|r| r.split_once('/').map(|(b, _)| b.to_string()))
                .collect();
            out.push(statement_json(&Statement {
                actions: vec!["s3:DeleteObject".into()],
                resources: buckets.into_iter().collect(),
                ..st.clone()
            }));
        }
        if !checked.is_empty() {
            out.push(statement_json(&Statement {
                actions: checked,
                ..st.clone()
            }));
        }
        if !star.is_empty() {
            out.push(statement_json(&Statement {
                actions: star,
                resources: vec!["*".into()],
                ..st.clone()
            }));
        }
    }
    json!({"Version": "2012-10-17", "Statement": out})
}

/// An IAM user in moto with an access key and an inline policy.
#[derive(Clone)]
pub struct Principal {
    pub user: String,
    pub statements: Arc<Vec<Statement>>,
    pub access_key_id: String,
    pub secret_access_key: String,
    endpoint: String,
    /// A function's own user: what its calls declare.
    declared: Option<Arc<Declared>>,
}

/// An IAM Query API call to moto, unsigned (before [`enforce`]); the body.
/// An error status fails the test.
async fn iam_call(moto: &MotoServer, params: &[(&str, &str)]) -> String {
    let mut form = vec![("Version", "2010-05-08")];
    form.extend_from_slice(params);
    let resp = crate::http_client()
        .post(moto.endpoint())
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("IAM {params:?}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.text().await;
    if status >= 400 {
        panic!("IAM {params:?}: {status} {}", body.unwrap_or_default());
    }
    body.expect("IAM answer")
}

fn xml_text(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len());
    let end = xml.find(&format!("</{tag}>"));
    match (start, end) {
        (Some(s), Some(e)) => xml[s..e].to_string(),
        _ => panic!("no <{tag}> in {xml}"),
    }
}

impl Principal {
    /// Creates IAM user `user` with `statements` as its only policy, and
    /// an access key. Must come before [`enforce`].
    pub async fn create(moto: &MotoServer, user: &str, statements: Vec<Statement>) -> Principal {
        iam_call(moto, &[("Action", "CreateUser"), ("UserName", user)]).await;
        iam_call(
            moto,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", user),
                ("PolicyName", "template"),
                ("PolicyDocument", &moto_policy(&statements).to_string()),
            ],
        )
        .await;
        let key = iam_call(moto, &[("Action", "CreateAccessKey"), ("UserName", user)]).await;
        Principal {
            user: user.to_string(),
            statements: Arc::new(statements),
            access_key_id: xml_text(&key, "AccessKeyId"),
            secret_access_key: xml_text(&key, "SecretAccessKey"),
            endpoint: moto.endpoint(),
            declared: None,
        }
    }

    /// The statements `template.yaml` gives `logical` (a function or an
    /// IAM user), as a user of that name. A function's user also refuses
    /// requests its declared calls do not cover ([`ResourceCheck`]).
    pub async fn from_template(moto: &MotoServer, stack: &Stack, logical: &str) -> Principal {
        let mut principal = Principal::create(moto, logical, stack.statements(logical)).await;
        if stack.is_function(logical) {
            principal.declared = Some(Arc::new(Declared::of(stack, logical)));
        }
        principal
    }

    /// Replaces the user's policy with `statements`. IAM calls here are
    /// unsigned, so authorization is off for the call, and on again after.
    pub async fn replace_policy(&mut self, moto: &MotoServer, statements: Vec<Statement>) {
        set_auth(moto, "inf").await;
        iam_call(
            moto,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", &self.user),
                ("PolicyName", "template"),
                ("PolicyDocument", &moto_policy(&statements).to_string()),
            ],
        )
        .await;
        set_auth(moto, "0").await;
        self.statements = Arc::new(statements);
    }

    /// Everything allowed: for setting a test up and looking at results.
    pub async fn admin(moto: &MotoServer) -> Principal {
        let all = Statement {
            effect: "Allow".into(),
            actions: vec!["*".into()],
            resources: vec!["*".into()],
            conditions: BTreeMap::new(),
        };
        Principal::create(moto, "test-admin", vec![all]).await
    }

    /// SDK configuration with this user's key, and nothing else.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                &self.access_key_id,
                &self.secret_access_key,
                None,
                None,
                "iam-test-user",
            ))
            .load()
            .await
    }

    fn check(&self, service: Service) -> ResourceCheck {
        ResourceCheck {
            user: self.user.clone(),
            statements: self.statements.clone(),
            declared: self.declared.clone(),
            service,
        }
    }

    /// DynamoDB, with the resources of each call checked.
    pub fn dynamodb(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.check(Service::DynamoDb))
                .build(),
        )
    }

    /// moto's Rekognition (it checks the action), with the S3 object
    /// Rekognition reads for the caller and the role passed to it checked.
    pub fn rekognition(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_rekognition::Client {
        aws_sdk_rekognition::Client::from_conf(
            aws_sdk_rekognition::config::Builder::from(sdk)
                .interceptor(self.check(Service::Rekognition {
                    served_by_moto: true,
                }))
                .build(),
        )
    }

    /// Rekognition at `endpoint` (rekognition-local, which checks no
    /// IAM), every authorization checked here.
    pub fn rekognition_at(
        &self,
        sdk: &aws_config::SdkConfig,
        endpoint: &str,
    ) -> aws_sdk_rekognition::Client {
        aws_sdk_rekognition::Client::from_conf(
            aws_sdk_rekognition::config::Builder::from(sdk)
                .endpoint_url(endpoint)
                .interceptor(self.check(Service::Rekognition {
                    served_by_moto: false,
                }))
                .build(),
        )
    }

    /// Path-style S3, with `ListBucket`'s conditions checked.
    pub fn s3(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(true)
                .interceptor(self.check(Service::S3))
                .build(),
        )
    }
}

/// Turns moto's authentication and authorization on, from the next
/// request: `POST /moto-api/reset-auth` with the number of requests still
/// let through unchecked (0).
pub async fn enforce(moto: &MotoServer) {
    set_auth(moto, "0").await;
}

/// `POST /moto-api/reset-auth`: from the next request, the first `count`
/// requests go unchecked (`inf`: authorization off).
async fn set_auth(moto: &MotoServer, count: &str) {
    let url = format!("{}/moto-api/reset-auth", moto.endpoint());
    let answer: serde_json::Value = crate::http_client()
        .post(url)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(count.to_string())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("POST /moto-api/reset-auth")
        .json()
        .await
        .expect("reset-auth answers JSON");
    assert_eq!(answer["status"], "ok", "{answer}");
}

#[derive(Debug, Clone, Copy)]
enum Service {
    DynamoDb,
    S3,
    /// `served_by_moto`: moto checks the Rekognition action itself;
    /// rekognition-local checks nothing.
    Rekognition {
        served_by_moto: bool,
    },
}

/// One authorization a request needs.
#[derive(Debug)]
struct Request {
    action: String,
    resource: String,
    context: Vec<(String, String)>,
    /// moto refuses the action if no statement allows it; only the
    /// resource and conditions of an allowed action are checked here.
    moto_checks_action: bool,
}

/// What [`ResourceCheck`] reads of an HTTP request.
struct HttpParts<'a> {
    method: &'a str,
    uri: &'a str,
    target: Option<&'a str>,
    body: Option<&'a [u8]>,
}

/// A path-style S3 request, `http://host/bucket[/key][?query]`, decoded.
struct S3Target {
    bucket: String,
    /// Empty for a request to the bucket itself (the SDK writes its path
    /// as `/bucket/`).
    key: String,
    params: Vec<(String, String)>,
}

impl S3Target {
    fn parse(uri: &str) -> S3Target {
        let after_scheme = uri.split_once("://").map_or(uri, |(_, r)| r);
        let path_and_query = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let path = path.trim_start_matches('/');
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let params = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        S3Target {
            bucket: percent_decode(bucket),
            key: percent_decode(key),
            params,
        }
    }

    fn has(&self, param: &str) -> bool {
        self.params.iter().any(|(k, _)| k == param)
    }
}

/// The IAM actions an S3 request is authorised as, each with its
/// resource: what a function's declarations must cover.
fn s3_authorizations(http: &HttpParts<'_>) -> Result<Vec<(String, String)>, String> {
    let s3 = S3Target::parse(http.uri);
    let bucket = format!("arn:aws:s3:::{}", s3.bucket);
    let on_bucket = |action: &str| vec![(action.to_string(), bucket.clone())];
    let on_object = |action: &str| vec![(action.to_string(), format!("{bucket}/{}", s3.key))];
    Ok(match (http.method, s3.key.is_empty()) {
        // ListObjectsV2, and HeadBucket.
        ("GET", true) if s3.has("list-type") => on_bucket("s3:ListBucket"),
        ("HEAD", true) => on_bucket("s3:ListBucket"),
        // DeleteObjects: authorised per key, as DeleteObject.
        ("POST", true) if s3.has("delete") => {
            let keys = http
                .body
                .map(|b| xml_values(&String::from_utf8_lossy(b), "Key"))
                .unwrap_or_default();
            if keys.is_empty() {
                return Err(format!(
                    "S3 DeleteObjects {}: no <Key> in its body to check",
                    http.uri
                ));
            }
            keys.into_iter()
                .map(|k| ("s3:DeleteObject".to_string(), format!("{bucket}/{k}")))
                .collect()
        }
        // GetObject, HeadObject.
        ("GET" | "HEAD", false) => on_object("s3:GetObject"),
        // PutObject, UploadPart; CreateMultipartUpload,
        // CompleteMultipartUpload.
        ("PUT" | "POST", false) => on_object("s3:PutObject"),
        ("DELETE", false) if s3.has("uploadId") => on_object("s3:AbortMultipartUpload"),
        ("DELETE", false) => on_object("s3:DeleteObject"),
        (method, _) => {
            return Err(format!(
                "S3 {method} {}: tests/src/iam.rs does not know which IAM action this \
                 request needs; teach s3_authorizations",
                http.uri
            ))
        }
    })
}

/// The text of every `<tag>` element in `xml`, entities decoded.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(open.as_str()) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(close.as_str()) else {
            break;
        };
        out.push(
            after[..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[end + close.len()..];
    }
    out
}

/// What a function's calls declare (`media_query_lambda::iam`), resolved
/// with its settings in the template: every request its clients may send.
#[derive(Debug)]
struct Declared {
    function: String,
    binary: String,
    /// Each declared action, with its resource (an ARN or ARN pattern).
    grants: Vec<(String, String)>,
}

impl Declared {
    fn of(stack: &Stack, logical: &str) -> Declared {
        let function = stack.function(logical);
        let declared = media_query_lambda::iam::function(&function.binary).unwrap_or_else(|| {
            panic!(
                "{logical}: binary {} has no entry in FUNCTIONS (lambda/src/iam.rs)",
                function.binary
            )
        });
        let config = stack.config(logical);
        let account = media_query_lambda::iam::Account {
            partition: "aws",
            region: REGION,
            id: ACCOUNT,
        };
        let mut grants = Vec::new();
        for (call, needs) in declared.needs() {
            let resource = needs.resource.arn(&config, &account).unwrap_or_else(|missing| {
                panic!(
                    "{logical}: {} needs {:?}, and its environment in template.yaml has no {missing}",
                    call.name, needs.resource
                )
            });
            for action in needs.actions {
                grants.push((action.to_string(), resource.clone()));
            }
        }
        Declared {
            function: logical.to_string(),
            binary: function.binary,
            grants,
        }
    }

    /// Whether a declared call covers `action` on `resource`.
    fn covers(&self, action: &str, resource: &str) -> bool {
        self.grants
            .iter()
            .any(|(a, r)| a.eq_ignore_ascii_case(action) && wildcard(r, resource))
    }
}

/// The part of IAM moto does not evaluate, evaluated before a request
/// leaves the client, for the caller: the resources of DynamoDB calls,
/// the `s3:prefix` condition of `ListBucket`, and for Rekognition the S3
/// object it reads with the caller's permissions (`s3:GetObject`), the
/// role it is passed (`iam:PassRole`), and, against rekognition-local,
/// the action itself. A request that needs what no statement allows
/// fails with `AccessDenied` before it is sent; an action no statement
/// allows at all is left to moto where moto checks actions.
///
/// On a function's own clients, every request must also be covered by
/// the function's declared calls (`media_query_lambda::iam`): one that is
/// not fails as undeclared before it is sent, granted or not.
#[derive(Debug)]
pub struct ResourceCheck {
    user: String,
    statements: Arc<Vec<Statement>>,
    declared: Option<Arc<Declared>>,
    service: Service,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ResourceCheck {
    /// The authorizations the request needs that moto does not check
    /// fully.
    fn requests(&self, http: &HttpParts<'_>) -> Vec<Request> {
        let json_body = || -> serde_json::Value {
            http.body
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default()
        };
        let operation = http
            .target
            .and_then(|t| t.split_once('.'))
            .map(|(_, op)| op.to_string());
        match self.service {
            Service::DynamoDb => {
                let Some(operation) = operation else {
                    return Vec::new();
                };
                let body = json_body();
                let table = body["TableName"].as_str().unwrap_or_else(|| {
                    panic!(
                        "DynamoDB {operation} without TableName: teach ResourceCheck its resources"
                    )
                });
                let mut resource = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}");
                if let Some(index) = body["IndexName"].as_str() {
                    resource.push_str(&format!("/index/{index}"));
                }
                vec![Request {
                    action: format!("dynamodb:{operation}"),
                    resource,
                    context: Vec::new(),
                    moto_checks_action: true,
                }]
            }
            Service::S3 => {
                // Listing is a GET of the bucket itself with `list-type=2`.
                let s3 = S3Target::parse(http.uri);
                let listing = http.method == "GET"
                    && !s3.bucket.is_empty()
                    && s3.key.is_empty()
                    && s3.has("list-type");
                if !listing {
                    return Vec::new();
                }
                let resource = format!("arn:aws:s3:::{}", s3.bucket);
                let context = s3
                    .params
                    .into_iter()
                    .filter(|(k, _)| k == "prefix" || k == "delimiter" || k == "max-keys")
                    .map(|(k, v)| (format!("s3:{k}"), v))
                    .collect();
                vec![Request {
                    action: "s3:ListBucket".into(),
                    resource,
                    context,
                    moto_checks_action: true,
                }]
            }
            Service::Rekognition { served_by_moto } => {
                let Some(operation) = operation else {
                    return Vec::new();
                };
                let body = json_body();
                let mut out = vec![Request {
                    action: format!("rekognition:{operation}"),
                    resource: "*".into(),
                    context: Vec::new(),
                    moto_checks_action: served_by_moto,
                }];
                for media in ["Image", "Video"] {
                    let object = &body[media]["S3Object"];
                    if let (Some(bucket), Some(key)) =
                        (object["Bucket"].as_str(), object["Name"].as_str())
                    {
                        out.push(Request {
                            action: "s3:GetObject".into(),
                            resource: format!("arn:aws:s3:::{bucket}/{key}"),
                            context: Vec::new(),
                            moto_checks_action: false,
                        });
                    }
                }
                if let Some(role) = body["NotificationChannel"]["RoleArn"].as_str() {
                    out.push(Request {
                        action: "iam:PassRole".into(),
                        resource: role.to_string(),
                        context: Vec::new(),
                        moto_checks_action: false,
                    });
                }
                out
            }
        }
    }

    /// Every authorization the request needs, as (action, resource).
    fn authorizations(&self, http: &HttpParts<'_>) -> Result<Vec<(String, String)>, String> {
        match self.service {
            Service::DynamoDb | Service::Rekognition { .. } => Ok(self
                .requests(http)
                .into_iter()
                .map(|r| (r.action, r.resource))
                .collect()),
            Service::S3 => s3_authorizations(http),
        }
    }

    fn allows(&self, request: &Request) -> bool {
        let matching = |effect: &str| {
            self.statements.iter().any(|s| {
                s.effect == effect
                    && s.matches(&request.action, &request.resource, &request.context)
            })
        };
        if matching("Allow") && !matching("Deny") {
            return true;
        }
        // An action no statement allows at all: moto refuses it.
        let action = request.action.to_lowercase();
        request.moto_checks_action
            && !self.statements.iter().any(|s| {
                s.effect == "Allow"
                    && s.actions
                        .iter()
                        .any(|a| wildcard(&a.to_lowercase(), &action))
            })
    }
}

impl Intercept for ResourceCheck {
    fn name(&self) -> &'static str {
        "iam::ResourceCheck"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let http = context.request();
        let parts = HttpParts {
            method: http.method(),
            uri: http.uri(),
            target: http.headers().get("x-amz-target"),
            body: http.body().bytes(),
        };
        if let Some(declared) = &self.declared {
            for (action, resource) in self.authorizations(&parts)? {
                if !declared.covers(&action, &resource) {
                    return Err(format!(
                        "Undeclared call (tests/src/iam.rs, against media_query_lambda::iam): \
                         {} ({}) sent {action} on {resource}, which none of its declared calls \
                         covers: declare it next to the SDK call (the adapter's `Call` consts) \
                         and list that call in the handler's IAM list",
                        declared.function, declared.binary
                    )
                    .into());
                }
            }
        }
        for request in self.requests(&parts) {
            if !self.allows(&request) {
                return Err(format!(
                    "AccessDenied (tests/src/iam.rs, what moto does not check): {} may not {} on {} {:?}",
                    self.user, request.action, request.resource, request.context
                )
                .into());
            }
        }
        Ok(())
    }
}

/// An error and its sources, on one line: where `AccessDenied` shows.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e}");
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out.push_str(&format!(" [{e:?}]"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_requests_are_authorised_as_iam_names_them() {
        let authorizations = |method: &str, uri: &str, body: Option<&[u8]>| {
            s3_authorizations(&HttpParts {
                method,
                uri,
                target: None,
                body,
            })
        };
        let one = |action: &str, resource: &str| -> Result<Vec<(String, String)>, String> {
            Ok(vec![(action.to_string(), resource.to_string())])
        };
        let host = "http://127.0.0.1:5000";
        assert_eq!(
            authorizations(
                "GET",
                &format!("{host}/b/edge/serving/current.json?x-id=GetObject"),
                None
            ),
            one("s3:GetObject", "arn:aws:s3:::b/edge/serving/current.json")
        );
        assert_eq!(
            authorizations("PUT", &format!("{host}/b/edge/a%20b?x-id=PutObject"), None),
            one("s3:PutObject", "arn:aws:s3:::b/edge/a b")
        );
        assert_eq!(
            authorizations(
                "GET",
                &format!("{host}/b/?list-type=2&prefix=edge%2F"),
                None
            ),
            one("s3:ListBucket", "arn:aws:s3:::b")
        );
        let body = b"<Delete><Object><Key>edge/x</Key></Object><Object><Key>edge/a&amp;b</Key></Object><Quiet>true</Quiet></Delete>";
        assert_eq!(
            authorizations("POST", &format!("{host}/b/?delete"), Some(body.as_slice())),
            Ok(vec![
                (
                    "s3:DeleteObject".to_string(),
                    "arn:aws:s3:::b/edge/x".to_string()
                ),
                (
                    "s3:DeleteObject".to_string(),
                    "arn:aws:s3:::b/edge/a&b".to_string()
                ),
            ])
        );
        assert!(authorizations("POST", &format!("{host}/b/?delete"), None).is_err());
        assert!(authorizations("PATCH", &format!("{host}/b/k"), None).is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("edge%2Fserving%2F"), "edge/serving/");
        assert_eq!(percent_decode("a+b%zz%"), "a+b%zz%");
    }
}
