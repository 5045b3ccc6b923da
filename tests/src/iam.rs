//! IAM as deployed: the policy statements `template.yaml` gives each
//! function (and the Worker's `EdgeReaderUser`), resolved to a test's
//! resources, each given to its own IAM user in moto, with moto's
//! authentication and authorization turned on ([`enforce`]).
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
//! itself); `scripts/check_template.py` checks actions statically.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use media_query_lambda::config::Config;
use media_query_stack::launch::MotoServer;
use serde_json::json;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// moto's default account, which owns everything the tests create.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// One `Allow` or `Deny` statement, its intrinsics resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Operator (`StringLike`...) to condition key to values.
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Statement {
    fn to_json(&self) -> serde_json::Value {
        let mut st = json!({
            "Effect": self.effect,
            "Action": self.actions,
            "Resource": self.resources,
        });
        if !self.conditions.is_empty() {
            st["Condition"] = json!(self.conditions);
        }
        st
    }

    fn matches(&self, request: &Request) -> bool {
        self.actions
            .iter()
            .any(|a| wildcard(&a.to_lowercase(), &request.action.to_lowercase()))
            && self
                .resources
                .iter()
                .any(|r| wildcard(r, &request.resource))
            && self.conditions.iter().all(|(op, keys)| {
                keys.iter().all(|(key, values)| {
                    let actual = request
                        .context
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v.as_str());
                    // Without `...IfExists`, a missing key fails the condition.
                    actual.is_some_and(|a| match op.as_str() {
                        "StringEquals" => values.iter().any(|v| v == a),
                        "StringLike" => values.iter().any(|v| wildcard(v, a)),
                        other => panic!(
                            "condition operator {other} is not evaluated by tests/src/iam.rs; add it"
                        ),
                    })
                })
            })
    }
}

/// `statements` without `action`; a statement left with no action goes.
pub fn without_action(statements: &[Statement], action: &str) -> Vec<Statement> {
    statements
        .iter()
        .cloned()
        .filter_map(|mut s| {
            s.actions.retain(|a| !a.eq_ignore_ascii_case(action));
            (!s.actions.is_empty()).then_some(s)
        })
        .collect()
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matched[j]: pattern[..i] matches text[..j].
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for c in p {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match c {
                '*' => matched[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matched[j - 1],
                c => j > 0 && matched[j - 1] && t[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[t.len()]
}

/// `template.yaml`, as YAML (CloudFormation's short tags are tagged values).
pub struct Template {
    root: Value,
}

impl Template {
    pub fn load() -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Template {
            root: serde_norway::from_str(&text).expect("template.yaml is YAML"),
        }
    }

    /// Each function's `ReservedConcurrentExecutions`, by its binary's name.
    pub fn reserved_concurrency(&self) -> BTreeMap<String, u64> {
        let resources = self.root["Resources"].as_mapping().expect("Resources");
        resources
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
            .filter_map(|r| {
                let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str()?;
                let reserved = r["Properties"]["ReservedConcurrentExecutions"].as_u64()?;
                Some((binary.to_string(), reserved))
            })
            .collect()
    }

    /// The template as stack `name` (lower case: bucket names derive from
    /// it) would deploy it into moto's account and region.
    pub fn stack(self, name: &str) -> Stack {
        assert_eq!(name, name.to_lowercase(), "stack names must be lower case");
        Stack {
            name: name.to_string(),
            root: self.root,
        }
    }
}

/// The template deployed as one stack: physical names and ARNs for its
/// logical ids, as CloudFormation would give them (an explicit name
/// property, else `<stack>-<LogicalId>`, lower case for buckets).
pub struct Stack {
    pub name: String,
    root: Value,
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(s) => s.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

impl Stack {
    fn resource(&self, logical: &str) -> &Value {
        let r = &self.root["Resources"][logical];
        assert!(!r.is_null(), "template.yaml has no resource {logical}");
        r
    }

    fn kind(&self, logical: &str) -> &str {
        self.resource(logical)["Type"].as_str().unwrap_or("")
    }

    /// The logical ids of the template's functions.
    pub fn functions(&self) -> Vec<String> {
        let resources = self.root["Resources"].as_mapping().expect("Resources");
        resources
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
            .filter_map(|(k, _)| k.as_str().map(str::to_string))
            .collect()
    }

    fn physical_name(&self, logical: &str) -> String {
        let props = &self.resource(logical)["Properties"];
        for key in [
            "BucketName",
            "TableName",
            "QueueName",
            "TopicName",
            "RoleName",
            "UserName",
            "FunctionName",
        ] {
            if !props[key].is_null() {
                return self.resolve(&props[key]);
            }
        }
        let generated = format!("{}-{logical}", self.name);
        match self.kind(logical) {
            "AWS::S3::Bucket" => generated.to_lowercase(),
            _ => generated,
        }
    }

    /// `!Ref name`: a parameter's default, a pseudo parameter, or what a
    /// resource's `Ref` returns.
    pub fn reference(&self, name: &str) -> String {
        match name {
            "AWS::StackName" => return self.name.clone(),
            "AWS::AccountId" => return ACCOUNT.into(),
            "AWS::Region" => return REGION.into(),
            "AWS::Partition" => return "aws".into(),
            "AWS::URLSuffix" => return "amazonaws.com".into(),
            _ => {}
        }
        let param = &self.root["Parameters"][name];
        if !param.is_null() {
            let default = &param["Default"];
            assert!(!default.is_null(), "parameter {name} has no default");
            return self.resolve(default);
        }
        let physical = self.physical_name(name);
        match self.kind(name) {
            "AWS::S3::Bucket"
            | "AWS::DynamoDB::Table"
            | "AWS::IAM::Role"
            | "AWS::IAM::User"
            | "AWS::Serverless::Function"
            | "AWS::Lambda::Function" => physical,
            "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{physical}"),
            "AWS::SQS::Queue" => format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"),
            other => panic!("Ref {name} (a {other}) is not resolved by tests/src/iam.rs"),
        }
    }

    /// `!GetAtt logical.attribute`.
    pub fn attribute(&self, logical: &str, attribute: &str) -> String {
        let name = self.physical_name(logical);
        match (self.kind(logical), attribute) {
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{name}"),
            ("AWS::DynamoDB::Table", "Arn") => {
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
            }
            ("AWS::DynamoDB::Table", "StreamArn") => format!(
                "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}/stream/1970-01-01T00:00:00.000"
            ),
            ("AWS::SQS::Queue", "Arn") => format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"),
            ("AWS::SQS::Queue", "QueueName") => name,
            ("AWS::SNS::Topic", "TopicArn") => self.reference(logical),
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            ("AWS::IAM::User", "Arn") => format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            (kind, _) => panic!(
                "!GetAtt {logical}.{attribute} (a {kind}) is not resolved by tests/src/iam.rs"
            ),
        }
    }

    /// A scalar or an intrinsic (`!Ref`, `!GetAtt`, `!Sub`, `!Join`, in
    /// short or long form) as the deployed stack would see it.
    pub fn resolve(&self, v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Tagged(t) => {
                let tag = t.tag.to_string();
                self.intrinsic(tag.trim_start_matches('!'), &t.value)
            }
            Value::Mapping(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().unwrap();
                match k.as_str() {
                    Some("Ref") => self.intrinsic("Ref", arg),
                    Some(k) if k.starts_with("Fn::") => self.intrinsic(&k[4..], arg),
                    _ => panic!("cannot resolve {v:?}"),
                }
            }
            other => panic!("cannot resolve {other:?}"),
        }
    }

    fn intrinsic(&self, name: &str, arg: &Value) -> String {
        match (name, arg) {
            ("Ref", Value::String(s)) => self.reference(s),
            ("GetAtt", Value::String(s)) => {
                let (logical, attribute) = s.split_once('.').expect("!GetAtt X.Attr");
                self.attribute(logical, attribute)
            }
            ("GetAtt", Value::Sequence(s)) if s.len() == 2 => {
                self.attribute(&self.resolve(&s[0]), &self.resolve(&s[1]))
            }
            ("Sub", Value::String(s)) => self.sub(s, &serde_norway::Mapping::new()),
            ("Sub", Value::Sequence(s)) if s.len() == 2 => {
                let vars = s[1].as_mapping().expect("!Sub [text, variables]");
                self.sub(&self.resolve(&s[0]), vars)
            }
            ("Join", Value::Sequence(s)) if s.len() == 2 => {
                let parts: Vec<String> = list(&s[1]).into_iter().map(|p| self.resolve(p)).collect();
                parts.join(&self.resolve(&s[0]))
            }
            _ => panic!("!{name} {arg:?} is not resolved by tests/src/iam.rs"),
        }
    }

    fn sub(&self, text: &str, vars: &serde_norway::Mapping) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').expect("a closed ${...}");
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.resolve(v));
            } else if let Some((logical, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                out.push_str(&self.attribute(logical, attribute));
            } else {
                out.push_str(&self.reference(name));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The policy statements of a function (`Policies: - Statement:`) or
    /// of an IAM user or role (`Policies: - PolicyDocument:`), resolved.
    pub fn statements(&self, logical: &str) -> Vec<Statement> {
        let policies = &self.resource(logical)["Properties"]["Policies"];
        let mut out = Vec::new();
        for policy in list(policies) {
            let statements = if !policy["Statement"].is_null() {
                &policy["Statement"]
            } else if !policy["PolicyDocument"].is_null() {
                &policy["PolicyDocument"]["Statement"]
            } else {
                panic!(
                    "{logical}: policy {policy:?} is not a list of statements \
                     (a SAM policy template or managed policy is not resolved here)"
                )
            };
            for st in list(statements) {
                for unsupported in ["NotAction", "NotResource", "Principal"] {
                    assert!(st[unsupported].is_null(), "{logical}: {unsupported}");
                }
                let strings = |v: &Value| -> Vec<String> {
                    list(v).into_iter().map(|x| self.resolve(x)).collect()
                };
                let mut conditions = BTreeMap::new();
                if let Some(ops) = st["Condition"].as_mapping() {
                    for (op, keys) in ops {
                        let keys = keys.as_mapping().expect("Condition: {op: {key: values}}");
                        let keys = keys
                            .iter()
                            .map(|(k, v)| (self.resolve(k), strings(v)))
                            .collect();
                        conditions.insert(self.resolve(op), keys);
                    }
                }
                out.push(Statement {
                    effect: self.resolve(&st["Effect"]),
                    actions: strings(&st["Action"]),
                    resources: strings(&st["Resource"]),
                    conditions,
                });
            }
        }
        assert!(!out.is_empty(), "{logical} has no policy statements");
        out
    }

    /// A function's environment: `Globals` overridden by its own.
    pub fn environment(&self, function: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for vars in [
            &self.root["Globals"]["Function"]["Environment"]["Variables"],
            &self.resource(function)["Properties"]["Environment"]["Variables"],
        ] {
            for (k, v) in vars.as_mapping().into_iter().flatten() {
                env.insert(self.resolve(k), self.resolve(v));
            }
        }
        env
    }

    /// A function's settings, read from its environment as the binary
    /// reads them (`Config::from_env`).
    pub fn config(&self, function: &str) -> Config {
        let env = self.environment(function);
        Config::from_lookup(|k| env.get(k).cloned())
            .unwrap_or_else(|e| panic!("{function}'s environment: {e}"))
    }
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
            out.push(
                Statement {
                    actions: vec!["s3:DeleteObject".into()],
                    resources: buckets.into_iter().collect(),
                    ..st.clone()
                }
                .to_json(),
            );
        }
        if !checked.is_empty() {
            out.push(
                Statement {
                    actions: checked,
                    ..st.clone()
                }
                .to_json(),
            );
        }
        if !star.is_empty() {
            out.push(
                Statement {
                    actions: star,
                    resources: vec!["*".into()],
                    ..st.clone()
                }
                .to_json(),
            );
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
}

/// An IAM Query API call to moto, unsigned (before [`enforce`]); the body.
fn iam_call(moto: &MotoServer, params: &[(&str, &str)]) -> String {
    let mut form = vec![("Version", "2010-05-08")];
    form.extend_from_slice(params);
    let resp = ureq::post(&moto.endpoint())
        .set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send_form(&form);
    match resp {
        Ok(r) => r.into_string().expect("IAM answer"),
        Err(ureq::Error::Status(code, r)) => panic!(
            "IAM {params:?}: {code} {}",
            r.into_string().unwrap_or_default()
        ),
        Err(e) => panic!("IAM {params:?}: {e}"),
    }
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
    pub fn create(moto: &MotoServer, user: &str, statements: Vec<Statement>) -> Principal {
        iam_call(moto, &[("Action", "CreateUser"), ("UserName", user)]);
        iam_call(
            moto,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", user),
                ("PolicyName", "template"),
                ("PolicyDocument", &moto_policy(&statements).to_string()),
            ],
        );
        let key = iam_call(moto, &[("Action", "CreateAccessKey"), ("UserName", user)]);
        Principal {
            user: user.to_string(),
            statements: Arc::new(statements),
            access_key_id: xml_text(&key, "AccessKeyId"),
            secret_access_key: xml_text(&key, "SecretAccessKey"),
            endpoint: moto.endpoint(),
        }
    }

    /// The statements `template.yaml` gives `logical` (a function or an
    /// IAM user), as a user of that name.
    pub fn from_template(moto: &MotoServer, stack: &Stack, logical: &str) -> Principal {
        Principal::create(moto, logical, stack.statements(logical))
    }

    /// Replaces the user's policy with `statements`. IAM calls here are
    /// unsigned, so authorization is off for the call, and on again after.
    pub fn replace_policy(&mut self, moto: &MotoServer, statements: Vec<Statement>) {
        set_auth(moto, "inf");
        iam_call(
            moto,
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", &self.user),
                ("PolicyName", "template"),
                ("PolicyDocument", &moto_policy(&statements).to_string()),
            ],
        );
        set_auth(moto, "0");
        self.statements = Arc::new(statements);
    }

    /// Everything allowed: for setting a test up and looking at results.
    pub fn admin(moto: &MotoServer) -> Principal {
        let all = Statement {
            effect: "Allow".into(),
            actions: vec!["*".into()],
            resources: vec!["*".into()],
            conditions: BTreeMap::new(),
        };
        Principal::create(moto, "test-admin", vec![all])
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
pub fn enforce(moto: &MotoServer) {
    set_auth(moto, "0");
}

/// `POST /moto-api/reset-auth`: from the next request, the first `count`
/// requests go unchecked (`inf`: authorization off).
fn set_auth(moto: &MotoServer, count: &str) {
    let url = format!("{}/moto-api/reset-auth", moto.endpoint());
    let answer: serde_json::Value = ureq::post(&url)
        .send_string(count)
        .expect("POST /moto-api/reset-auth")
        .into_json()
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

/// The part of IAM moto does not evaluate, evaluated before a request
/// leaves the client, for the caller: the resources of DynamoDB calls,
/// the `s3:prefix` condition of `ListBucket`, and for Rekognition the S3
/// object it reads with the caller's permissions (`s3:GetObject`), the
/// role it is passed (`iam:PassRole`), and, against rekognition-local,
/// the action itself. A request that needs what no statement allows
/// fails with `AccessDenied` before it is sent; an action no statement
/// allows at all is left to moto where moto checks actions.
#[derive(Debug)]
pub struct ResourceCheck {
    user: String,
    statements: Arc<Vec<Statement>>,
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
                // Path style: http://host/bucket[/key][?query]. Listing is
                // a GET of the bucket itself with `list-type=2`.
                let uri = http.uri;
                let after_scheme = uri.split_once("://").map_or(uri, |(_, r)| r);
                let path_and_query = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
                let (path, query) = path_and_query
                    .split_once('?')
                    .unwrap_or((path_and_query, ""));
                // The SDK writes the bucket's own path as `/bucket/`.
                let bucket = path.trim_matches('/');
                let params: Vec<(String, String)> = query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (percent_decode(k), percent_decode(v))
                    })
                    .collect();
                let listing = http.method == "GET"
                    && !bucket.is_empty()
                    && !bucket.contains('/')
                    && params.iter().any(|(k, _)| k == "list-type");
                if !listing {
                    return Vec::new();
                }
                let context = params
                    .into_iter()
                    .filter(|(k, _)| k == "prefix" || k == "delimiter" || k == "max-keys")
                    .map(|(k, v)| (format!("s3:{k}"), v))
                    .collect();
                vec![Request {
                    action: "s3:ListBucket".into(),
                    resource: format!("arn:aws:s3:::{}", percent_decode(bucket)),
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

    fn allows(&self, request: &Request) -> bool {
        let matching = |effect: &str| {
            self.statements
                .iter()
                .any(|s| s.effect == effect && s.matches(request))
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
    #[test]
    fn the_local_stack_reserves_what_the_template_reserves() {
        let template: BTreeMap<String, u64> = Template::load().reserved_concurrency();
        let stack: BTreeMap<String, u64> = media_query_stack::invoke::RESERVED_CONCURRENCY
            .iter()
            .map(|&(f, n)| (f.to_string(), n as u64))
            .collect();
        assert!(template.contains_key("export-writer"), "{template:?}");
        assert_eq!(stack, template);
    }

    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/p/x/y"));
        assert!(!wildcard("arn:aws:s3:::b/p/*", "arn:aws:s3:::b/q/x"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("table/t", "table/t/index/pending"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("edge%2Fserving%2F"), "edge/serving/");
        assert_eq!(percent_decode("a+b%zz%"), "a+b%zz%");
    }
}
