//! `template.yaml` as the project's checks read it: their one reader of
//! the template (cfn-lint and `sam validate`, AWS's own tools, also lint
//! it, in `scripts/check.d/template.sh`). Its `Fn::ForEach` loops (the
//! `AWS::LanguageExtensions` transform) are expanded as
//! CloudFormation expands them ([`expand_for_each`]), so every reader sees
//! the resources the stack will have. Intrinsics (`!Ref`, `!GetAtt`,
//! `!Sub`, `!Join`) are resolved as CloudFormation would resolve them for
//! a stack of a given name in moto's account and region ([`Stack`]), or
//! read as written ([`logical_target`], [`sub_text`]).
//!
//! Its users:
//! * the moto IAM black-box tests (`tests/src/iam.rs`,
//!   `tests/tests/blackbox/iam.rs`): each function's policy statements and
//!   settings ([`Stack::statements`], [`Stack::config`]);
//! * the comparison of each function's declared IAM needs with its
//!   statements (`tests/src/declared_iam.rs`);
//! * the settings Rust code keeps copies of: the local stack's stream
//!   mapping, retries and reserved concurrency, the read API's route
//!   (`tests/src/template_agreement.rs`);
//! * the project's rules that cfn-lint does not check: runtime,
//!   architecture, build, S3 event names, on-failure destinations, outputs,
//!   log groups and alarms (`tests/src/template_rules.rs`);
//! * what the deploy scripts assume of the template: the recorded
//!   `describe-stacks` answer's outputs and parameters, the resources
//!   teardown handles, the edge key's policy, the language extensions
//!   (`tests/src/template_deploy.rs`).

use media_query_lambda::config::Config;
use serde_norway::value::TaggedValue;
use serde_norway::{Mapping, Value};
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

/// `template.yaml`, as YAML (CloudFormation's short tags are tagged
/// values), its `Fn::ForEach` loops expanded.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

impl Template {
    /// The repository's `template.yaml`, its loops expanded; panics if it
    /// cannot be read or expanded.
    pub fn load() -> Template {
        Template::from_value(Template::source()).unwrap_or_else(|e| panic!("template.yaml: {e}"))
    }

    /// The repository's `template.yaml` as written: its loops not
    /// expanded (for a test to change, then [`Template::from_value`]).
    pub fn source() -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_norway::from_str(&text).expect("template.yaml is YAML")
    }

    /// A template as written, with the `Fn::ForEach` loops of its
    /// `Resources`, `Outputs` and `Conditions` expanded; an error names a
    /// loop that cannot be expanded.
    pub fn from_value(mut root: Value) -> Result<Template, String> {
        for section in ["Resources", "Outputs", "Conditions"] {
            let expanded = match root.get(section).and_then(Value::as_mapping) {
                Some(entries) => expand_for_each(entries).map_err(|e| format!("{section}: {e}"))?,
                None => continue,
            };
            root[section] = Value::Mapping(expanded);
        }
        Ok(Template { root })
    }

    /// The whole template, its loops expanded.
    pub fn value(&self) -> &Value {
        &self.root
    }

    /// The whole template, to change (tests of the checks do, to show a
    /// check fails). Loops are not expanded again.
    pub fn value_mut(&mut self) -> &mut Value {
        &mut self.root
    }

    /// Every resource, by logical id, in the template's order.
    pub fn resources(&self) -> Vec<(&str, &Value)> {
        entries(&self.root["Resources"])
    }

    /// The resource `logical`, if the template has it.
    pub fn resource(&self, logical: &str) -> Option<&Value> {
        self.root["Resources"].get(logical).filter(|r| !r.is_null())
    }

    /// The `Type` of resource `logical`, if the template has it.
    pub fn resource_type(&self, logical: &str) -> Option<&str> {
        self.resource(logical).and_then(|r| plain_str(&r["Type"]))
    }

    /// The resources of `Type` `kind` (`AWS::CloudWatch::Alarm`...).
    pub fn resources_of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| plain_str(&r["Type"]) == Some(kind))
            .collect()
    }

    /// The logical ids of the template's functions
    /// (`AWS::Serverless::Function`).
    pub fn functions(&self) -> Vec<&str> {
        self.resources_of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(logical, _)| logical)
            .collect()
    }

    /// `Globals.Function`: what every function has unless it says otherwise.
    pub fn function_globals(&self) -> &Value {
        &self.root["Globals"]["Function"]
    }

    /// Property `key` of function `logical`: its own, else the one in
    /// `Globals.Function`; `Null` if neither has it.
    pub fn function_property(&self, logical: &str, key: &str) -> &Value {
        let own = self
            .resource(logical)
            .map(|r| &r["Properties"][key])
            .filter(|v| !v.is_null());
        own.unwrap_or_else(|| &self.function_globals()[key])
    }

    /// The `Events` of function `logical`, by name.
    pub fn events(&self, logical: &str) -> Vec<(&str, &Value)> {
        match self.resource(logical) {
            Some(r) => entries(&r["Properties"]["Events"]),
            None => Vec::new(),
        }
    }

    /// The `Outputs`, by name.
    pub fn outputs(&self) -> Vec<(&str, &Value)> {
        entries(&self.root["Outputs"])
    }

    /// The `Parameters`, by name.
    pub fn parameters(&self) -> Vec<(&str, &Value)> {
        entries(&self.root["Parameters"])
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

/// A mapping's entries whose keys are strings, in order; none if `v` is
/// not a mapping.
fn entries(v: &Value) -> Vec<(&str, &Value)> {
    v.as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((plain_str(k)?, v)))
        .collect()
}

/// A plain YAML string; `None` for anything else, an intrinsic included
/// (`Value::as_str` would see through `!Ref X` to `X`).
pub fn plain_str(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// An intrinsic function, short (`!Sub x`) or long (`Fn::Sub: x`) form:
/// its name without `!` or `Fn::` (`Ref`, `GetAtt`, `Sub`, `Join`...) and
/// its argument.
pub fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = plain_str(k)?;
            match k {
                "Ref" => Some((k.to_string(), arg)),
                _ => Some((k.strip_prefix("Fn::")?.to_string(), arg)),
            }
        }
        _ => None,
    }
}

/// A value as `!Sub` text, with `${Name}` placeholders left in: a plain
/// string as it is, `!Ref X` as `${X}`, `!Sub` with its variables put in,
/// `!Join ["", parts]` joined; `None` for anything else. So
/// `!Ref ReadApiFunction` and `!Sub "${ReadApiFunction}"` are both
/// `${ReadApiFunction}`.
pub fn sub_text(v: &Value) -> Option<String> {
    if let Some(s) = plain_str(v) {
        return Some(s.to_string());
    }
    let (name, arg) = intrinsic(v)?;
    match (name.as_str(), arg) {
        ("Ref", Value::String(x)) => Some(format!("${{{x}}}")),
        ("Sub", Value::String(text)) => Some(text.clone()),
        ("Sub", Value::Sequence(s)) if s.len() == 2 => {
            let mut text = plain_str(&s[0])?.to_string();
            for (var, value) in s[1].as_mapping()? {
                let inner = sub_text(value)?;
                text = text.replace(&format!("${{{}}}", plain_str(var)?), &inner);
            }
            Some(text)
        }
        ("Join", Value::Sequence(s)) if s.len() == 2 && plain_str(&s[0]) == Some("") => s[1]
            .as_sequence()?
            .iter()
            .map(sub_text)
            .collect::<Option<Vec<String>>>()
            .map(|parts| parts.concat()),
        _ => None,
    }
}

/// The prefix of a loop's key: `Fn::ForEach::LoopName`.
const FOR_EACH: &str = "Fn::ForEach::";

/// `section` (`Resources`, `Outputs`...) with every `Fn::ForEach` entry
/// replaced, where it stands, by the entries it makes, as CloudFormation's
/// `AWS::LanguageExtensions` transform does before it deploys them. An
/// error names a malformed loop, or a key made twice.
///
/// What `template.yaml` uses, and so what this handles:
///
/// ```yaml
/// Fn::ForEach::LoopName:
///   - Identifier
///   - [Value1, Value2, ...]          # a literal list of strings
///   - ${Identifier}Suffix:           # or &{Identifier}: the value's
///       ...                          #   alphanumerics only
///     Fn::ForEach::Inner: [...]      # nested loops
/// ```
///
/// In the bodies, `!Ref Identifier` becomes the value, and `${Identifier}`
/// is replaced in the text of `!Sub` (so `!Sub "${${Identifier}Function}"`
/// refers to the resource `<Value>Function`) and in keys. A collection
/// that is not a literal list (a `!Ref` to a `CommaDelimitedList`
/// parameter) is refused rather than guessed.
pub fn expand_for_each(section: &Mapping) -> Result<Mapping, String> {
    let mut out = Mapping::new();
    for (key, value) in section {
        let Some(name) = plain_str(key).filter(|k| k.starts_with(FOR_EACH)) else {
            add_once(&mut out, key.clone(), value.clone())?;
            continue;
        };
        let malformed =
            || format!("{name}: expected [Identifier, [values...], {{OutputKey: body}}]");
        let parts = match value {
            Value::Sequence(parts) if parts.len() == 3 => parts,
            _ => return Err(malformed()),
        };
        let (Value::String(identifier), Value::Mapping(body)) = (&parts[0], &parts[2]) else {
            return Err(malformed());
        };
        let items = match &parts[1] {
            Value::Sequence(items) => items.iter().map(plain_str).collect::<Option<Vec<&str>>>(),
            _ => None,
        };
        let items = items.ok_or_else(|| {
            format!(
                "{name}: only a literal list of strings is expanded here, got {:?}",
                parts[1]
            )
        })?;
        for item in items {
            let mut made = Mapping::new();
            for (output_key, output) in body {
                made.insert(
                    substitute_key(output_key, identifier, item),
                    substitute(output, identifier, item),
                );
            }
            for (k, v) in expand_for_each(&made)? {
                add_once(&mut out, k, v)?;
            }
        }
    }
    Ok(out)
}

fn add_once(out: &mut Mapping, key: Value, value: Value) -> Result<(), String> {
    if out.contains_key(&key) {
        return Err(format!(
            "{} is defined twice (a Fn::ForEach makes an existing id)",
            plain_str(&key).unwrap_or("a key")
        ));
    }
    out.insert(key, value);
    Ok(())
}

/// A key with the loop's `${identifier}` and `&{identifier}` replaced.
fn substitute_key(key: &Value, identifier: &str, item: &str) -> Value {
    match key {
        Value::String(k) => {
            let alphanumerics: String = item.chars().filter(char::is_ascii_alphanumeric).collect();
            Value::String(
                k.replace(&format!("${{{identifier}}}"), item)
                    .replace(&format!("&{{{identifier}}}"), &alphanumerics),
            )
        }
        other => other.clone(),
    }
}

/// `!Sub`'s argument with `${identifier}` replaced in its text; `None` if
/// it is neither a text nor `[text, variables]`.
fn substitute_sub(arg: &Value, identifier: &str, item: &str) -> Option<Value> {
    let placeholder = format!("${{{identifier}}}");
    match arg {
        Value::String(text) => Some(Value::String(text.replace(&placeholder, item))),
        Value::Sequence(s) => {
            let text = plain_str(s.first()?)?;
            let mut out = vec![Value::String(text.replace(&placeholder, item))];
            out.extend(s[1..].iter().map(|v| substitute(v, identifier, item)));
            Some(Value::Sequence(out))
        }
        _ => None,
    }
}

/// A copy of a loop's body for one value of its identifier.
fn substitute(node: &Value, identifier: &str, item: &str) -> Value {
    if let Some((name, arg)) = intrinsic(node) {
        if name == "Ref" && plain_str(arg) == Some(identifier) {
            return Value::String(item.to_string());
        }
        if name == "Sub" {
            if let Some(arg) = substitute_sub(arg, identifier, item) {
                return match node {
                    Value::Tagged(t) => Value::Tagged(Box::new(TaggedValue {
                        tag: t.tag.clone(),
                        value: arg,
                    })),
                    _ => {
                        let mut long = Mapping::new();
                        long.insert(Value::String("Fn::Sub".into()), arg);
                        Value::Mapping(long)
                    }
                };
            }
        }
    }
    match node {
        Value::Tagged(t) => Value::Tagged(Box::new(TaggedValue {
            tag: t.tag.clone(),
            value: substitute(&t.value, identifier, item),
        })),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| {
                    (
                        substitute_key(k, identifier, item),
                        substitute(v, identifier, item),
                    )
                })
                .collect(),
        ),
        Value::Sequence(s) => {
            Value::Sequence(s.iter().map(|v| substitute(v, identifier, item)).collect())
        }
        other => other.clone(),
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
pub fn logical_target(v: &Value) -> Option<String> {
    let (name, arg) = intrinsic(v)?;
    match (name.as_str(), arg) {
        ("Ref", Value::String(s)) => Some(s.clone()),
        ("GetAtt", Value::String(s)) => Some(s.split('.').next()?.to_string()),
        ("GetAtt", Value::Sequence(s)) => plain_str(s.first()?).map(str::to_string),
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

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("YAML")
    }

    fn expanded(text: &str) -> Result<Mapping, String> {
        expand_for_each(yaml(text).as_mapping().expect("a mapping"))
    }

    fn keys(m: &Mapping) -> Vec<&str> {
        m.keys().filter_map(plain_str).collect()
    }

    #[test]
    fn intrinsics_are_read_as_written() {
        let v = yaml(
            r#"
short_ref: !Ref ReadApiFunction
long_ref: {Ref: ReadApiFunction}
short_sub: !Sub "${ReadApiFunction}"
sub_variables: !Sub ["/aws/lambda/${F}", {F: !Ref ReadApiFunction}]
join: !Join ["", ["/aws/lambda/", !Ref ReadApiFunction]]
get_att: !GetAtt FailedEventsQueue.QueueName
get_att_list: {"Fn::GetAtt": [FailedEventsQueue, Arn]}
"#,
        );
        for key in ["short_ref", "long_ref", "short_sub"] {
            assert_eq!(
                sub_text(&v[key]).as_deref(),
                Some("${ReadApiFunction}"),
                "{key}"
            );
        }
        for key in ["sub_variables", "join"] {
            assert_eq!(
                sub_text(&v[key]).as_deref(),
                Some("/aws/lambda/${ReadApiFunction}"),
                "{key}"
            );
        }
        assert_eq!(sub_text(&v["get_att"]), None);
        for key in ["get_att", "get_att_list"] {
            assert_eq!(
                logical_target(&v[key]).as_deref(),
                Some("FailedEventsQueue"),
                "{key}"
            );
        }
        assert_eq!(
            logical_target(&v["long_ref"]).as_deref(),
            Some("ReadApiFunction")
        );
        // `as_str` sees through the tag; `plain_str` does not.
        assert_eq!(v["short_ref"].as_str(), Some("ReadApiFunction"));
        assert_eq!(plain_str(&v["short_ref"]), None);
    }

    #[test]
    fn the_loops_make_each_functions_log_group_and_alarms() {
        let t = Template::load();
        assert!(
            t.resources().iter().all(|(k, _)| !k.starts_with(FOR_EACH)),
            "a loop left unexpanded"
        );
        let functions = t.functions();
        assert_eq!(functions.len(), 6, "{functions:?}");
        for f in functions {
            let base = f
                .strip_suffix("Function")
                .unwrap_or_else(|| panic!("{f}: functions are named <Name>Function"));
            let group = t
                .resource(&format!("{base}LogGroup"))
                .unwrap_or_else(|| panic!("no {base}LogGroup"));
            assert_eq!(
                sub_text(&group["Properties"]["LogGroupName"]),
                Some(format!("/aws/lambda/${{{f}}}"))
            );
            for metric in ["Errors", "Throttles"] {
                let alarm = t
                    .resource(&format!("{base}{metric}Alarm"))
                    .unwrap_or_else(|| panic!("no {base}{metric}Alarm"));
                let props = &alarm["Properties"];
                assert_eq!(plain_str(&props["MetricName"]), Some(metric));
                let dimensions = props["Dimensions"].as_sequence().expect("Dimensions");
                assert_eq!(dimensions.len(), 1, "{base}{metric}Alarm");
                assert_eq!(plain_str(&dimensions[0]["Name"]), Some("FunctionName"));
                // `!Sub "${F}"` from a loop, `!Ref F` written out.
                assert_eq!(sub_text(&dimensions[0]["Value"]), Some(format!("${{{f}}}")));
            }
        }
    }

    #[test]
    fn a_loop_replaces_its_identifier_in_refs_subs_and_keys() {
        let got = expanded(
            r#"
Plain: {Type: T}
Fn::ForEach::Loop:
  - X
  - [a-1, B]
  - ${X}Thing:
      Properties:
        Name: !Ref X
        Other: !Ref Plain
        Text: !Sub "${X}/${${X}Fn}/${AWS::Region}"
        Long: {"Fn::Sub": ["${X}-${Y}", {Y: !Ref X}]}
    "&{X}Clean": {Type: U}
"#,
        )
        .expect("expands");
        assert_eq!(
            keys(&got),
            ["Plain", "a-1Thing", "a1Clean", "BThing", "BClean"]
        );
        assert_eq!(
            got["BThing"]["Properties"],
            yaml(
                r#"
Name: B
Other: !Ref Plain
Text: !Sub "B/${BFn}/${AWS::Region}"
Long: {"Fn::Sub": ["B-${Y}", {Y: B}]}
"#
            )
        );
        assert_eq!(got["a1Clean"], yaml("{Type: U}"));
    }

    #[test]
    fn nested_loops_expand_inside_out() {
        let got = expanded(
            r#"
Fn::ForEach::Outer:
  - A
  - [x, y]
  - Fn::ForEach::Inner:
      - B
      - ["1", "2"]
      - ${A}${B}:
          V: !Sub "${A}.${B}"
"#,
        )
        .expect("expands");
        assert_eq!(keys(&got), ["x1", "x2", "y1", "y2"]);
        assert_eq!(got["y2"], yaml(r#"V: !Sub "y.2""#));
    }

    #[test]
    fn a_loop_that_cannot_be_expanded_is_refused() {
        let twice = expanded(
            r#"
ALogGroup: {}
Fn::ForEach::L:
  - N
  - [A]
  - ${N}LogGroup: {}
"#,
        );
        assert!(
            twice
                .as_ref()
                .is_err_and(|e| e.contains("ALogGroup is defined twice")),
            "{twice:?}"
        );
        let parameter = expanded(
            r#"
Fn::ForEach::L:
  - N
  - !Ref Names
  - ${N}X: {}
"#,
        );
        assert!(
            parameter
                .as_ref()
                .is_err_and(|e| e.contains("literal list")),
            "{parameter:?}"
        );
        let short = expanded(
            r#"
Fn::ForEach::L:
  - N
  - [A]
"#,
        );
        assert!(
            short
                .as_ref()
                .is_err_and(|e| e.contains("Fn::ForEach::L: expected")),
            "{short:?}"
        );
        // Through Template::from_value, the section is named.
        let mut source = Template::source();
        source["Resources"]["Fn::ForEach::FunctionThrottles"][1] = yaml("!Ref FunctionNames");
        let refused = Template::from_value(source).map(|_| ());
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.starts_with("Resources: Fn::ForEach::FunctionThrottles")),
            "{refused:?}"
        );
    }
}
