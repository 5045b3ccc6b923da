//! `template.yaml` as the Rust checks read it: the one reader of the
//! template in this workspace's Rust. Intrinsics (`!Ref`, `!GetAtt`,
//! `!Sub`, `!Join`) are resolved as CloudFormation would resolve them for
//! a stack of a given name in moto's account and region ([`Stack`]).
//!
//! Its users:
//! * the moto IAM black-box tests (`tests/src/iam.rs`,
//!   `tests/tests/blackbox/iam.rs`): each function's policy statements and
//!   settings ([`Stack::statements`], [`Stack::config`]);
//! * the comparison of each function's declared IAM needs with its
//!   statements (`tests/src/declared_iam.rs`);
//! * the settings Rust code keeps copies of: the local stack's stream
//!   mapping, retries and reserved concurrency, the read API's route
//!   (`tests/src/template_agreement.rs`).
//!
//! `scripts/check_template.py` reads the template for the rules cfn-lint
//! does not check (runtime, alarms, outputs...), in Python. Resources the
//! template makes in `Fn::ForEach` loops (the per-function log groups and
//! alarms) are not expanded here: nothing in Rust reads them, and a
//! function defined in a loop would not be found.

use media_query_lambda::config::Config;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::Path;

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
    /// Whether the statement names `action` (IAM's wildcards, any case).
    pub fn names_action(&self, action: &str) -> bool {
        let action = action.to_lowercase();
        self.actions
            .iter()
            .any(|a| wildcard(&a.to_lowercase(), &action))
    }

    /// Whether the statement applies to `action` on `resource`, its
    /// conditions met by `context` (condition key, value).
    pub fn matches(&self, action: &str, resource: &str, context: &[(String, String)]) -> bool {
        self.names_action(action)
            && self.resources.iter().any(|r| wildcard(r, resource))
            && self.conditions.iter().all(|(op, keys)| {
                keys.iter().all(|(key, values)| {
                    let actual = context
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v.as_str());
                    // Without `...IfExists`, a missing key fails the condition.
                    actual.is_some_and(|a| match op.as_str() {
                        "StringEquals" => values.iter().any(|v| v == a),
                        "StringLike" => values.iter().any(|v| wildcard(v, a)),
                        other => panic!(
                            "condition operator {other} is not evaluated by tests/src/template.rs; add it"
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
pub fn wildcard(pattern: &str, text: &str) -> bool {
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

    /// Whether `logical` is one of the template's functions.
    pub fn is_function(&self, logical: &str) -> bool {
        self.root["Resources"][logical]["Type"].as_str() == Some("AWS::Serverless::Function")
    }

    /// What the template says of function `logical`: its binary, tracing,
    /// concurrency, events and asynchronous invocation settings.
    pub fn function(&self, logical: &str) -> Function {
        assert!(self.is_function(logical), "{logical} is not a function");
        let resource = self.resource(logical);
        let props = &resource["Properties"];
        let globals = &self.root["Globals"]["Function"];
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{logical}: no Metadata.BuildProperties.Binary"))
            .to_string();
        let tracing = [&props["Tracing"], &globals["Tracing"]]
            .into_iter()
            .find_map(|v| v.as_str())
            .map(str::to_string);
        let mut events = Vec::new();
        for (name, event) in props["Events"].as_mapping().into_iter().flatten() {
            let properties = &event["Properties"];
            let settings = properties
                .as_mapping()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v)?)))
                .collect();
            events.push(Event {
                name: name.as_str().unwrap_or_default().to_string(),
                kind: event["Type"].as_str().unwrap_or_default().to_string(),
                settings,
                destinations: self.destinations(&properties["DestinationConfig"]),
            });
        }
        let invoke = &props["EventInvokeConfig"];
        Function {
            logical: logical.to_string(),
            binary,
            tracing,
            reserved_concurrency: props["ReservedConcurrentExecutions"].as_u64(),
            events,
            async_retries: invoke["MaximumRetryAttempts"].as_u64(),
            invoke_destinations: self.destinations(&invoke["DestinationConfig"]),
        }
    }

    /// A `DestinationConfig`'s `OnSuccess` and `OnFailure`, resolved.
    fn destinations(&self, config: &Value) -> Vec<Destination> {
        ["OnSuccess", "OnFailure"]
            .into_iter()
            .filter_map(|when| {
                let d = &config[when];
                let target = &d["Destination"];
                if target.is_null() {
                    return None;
                }
                Some(Destination {
                    when: when.to_string(),
                    kind: d["Type"].as_str().map(str::to_string),
                    target_type: logical_target(target).map(|t| self.kind(&t).to_string()),
                    arn: self.resolve(target),
                })
            })
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
            other => panic!("Ref {name} (a {other}) is not resolved by tests/src/template.rs"),
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
                "!GetAtt {logical}.{attribute} (a {kind}) is not resolved by tests/src/template.rs"
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
            _ => panic!("!{name} {arg:?} is not resolved by tests/src/template.rs"),
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

/// One `AWS::Serverless::Function` of the template, resolved.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical: String,
    /// `Metadata.BuildProperties.Binary`: `lambda/src/bin/<binary>.rs`.
    pub binary: String,
    /// `Tracing`, its own or from `Globals`.
    pub tracing: Option<String>,
    pub reserved_concurrency: Option<u64>,
    pub events: Vec<Event>,
    /// `EventInvokeConfig.MaximumRetryAttempts`.
    pub async_retries: Option<u64>,
    /// `EventInvokeConfig.DestinationConfig`.
    pub invoke_destinations: Vec<Destination>,
}

/// One of a function's `Events`.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    /// `Type`: `S3`, `SNS`, `DynamoDB`, `HttpApi`, `Schedule`...
    pub kind: String,
    /// The `Properties` whose values are plain scalars (`BatchSize`,
    /// `Path`...), as text; intrinsics are left out.
    pub settings: BTreeMap<String, String>,
    /// `Properties.DestinationConfig` (event source mappings).
    pub destinations: Vec<Destination>,
}

impl Event {
    /// A numeric setting; panics if it is there and not a number.
    pub fn number(&self, setting: &str) -> Option<u64> {
        self.settings.get(setting).map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{}: {setting} {v:?} is not a number", self.name))
        })
    }
}

/// An `OnSuccess` or `OnFailure` destination.
#[derive(Debug, Clone)]
pub struct Destination {
    /// `OnSuccess` or `OnFailure`.
    pub when: String,
    /// Its `Type` (`SQS`, `SNS`, `Lambda`, `EventBridge`), if given: SAM
    /// adds the policy to send there only when it is.
    pub kind: Option<String>,
    /// The resource type (`AWS::SQS::Queue`...) of the template resource
    /// the destination names, if it names one.
    pub target_type: Option<String>,
    /// Its ARN, resolved.
    pub arn: String,
}

/// A plain scalar as text; `None` for anything else.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The logical id an intrinsic names (`!Ref X`, `!GetAtt X.Attr`, in
/// short or long form), if it names one.
fn logical_target(v: &Value) -> Option<String> {
    let (name, arg) = match v {
        Value::Tagged(t) => (
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        ),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            (k.strip_prefix("Fn::").unwrap_or(k).to_string(), arg)
        }
        _ => return None,
    };
    match (name.as_str(), arg) {
        ("Ref", Value::String(s)) => Some(s.clone()),
        ("GetAtt", Value::String(s)) => Some(s.split('.').next()?.to_string()),
        ("GetAtt", Value::Sequence(s)) => s.first()?.as_str().map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
}
