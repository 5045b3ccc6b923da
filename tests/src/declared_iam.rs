//! IAM least privilege, checked without AWS: the calls each function
//! declares (`media_query_lambda::iam`, next to the SDK calls) against the
//! `Policies` statements `template.yaml` gives the function, both ways:
//!
//! * every action a call declares is granted on the resource it declares,
//!   resolved from the function's environment in the template (a missing
//!   one is `AccessDenied` in AWS);
//! * every action the statements grant is declared by one of the
//!   function's calls, or needed by its configuration ([`platform_needs`]):
//!   an extra one is privilege nothing uses; a declared action granted on
//!   more than its declared resources is granted too widely;
//! * no wildcard actions;
//! * what the configuration needs and SAM does not add (an on-failure
//!   destination without a `Type`) is granted on that destination.
//!
//! Conditions are not compared (the export writer's `s3:prefix` on
//! `ListBucket` is evaluated at run time, by `crate::iam`), and only
//! `Allow` statements count (the template has no `Deny`). The moto IAM
//! black-box tests (`tests/tests/blackbox/iam.rs`) run the handlers with
//! these statements, and refuse any request a function's declarations do
//! not cover.

use crate::template::{self, wildcard, Stack, Statement, ACCOUNT, REGION};
use media_query_lambda::config::Config;
use media_query_lambda::iam::{self, Account};
use std::collections::BTreeSet;

/// CloudWatch Logs, which SAM grants every function
/// (`AWSLambdaBasicExecutionRole`).
pub const BASIC_ACTIONS: [&str; 3] = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

/// X-Ray, which SAM grants a function with `Tracing: Active`.
pub const TRACING_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// What Lambda's event source mapping does with the function's role to
/// read its stream or queue (SAM grants these).
fn stream_read_actions(event_kind: &str) -> &'static [&'static str] {
    match event_kind {
        "DynamoDB" => &[
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ],
        "Kinesis" => &[
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
            "kinesis:ListStreams",
            "kinesis:SubscribeToShard",
        ],
        "SQS" => &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ChangeMessageVisibility",
        ],
        _ => &[],
    }
}

/// The action Lambda needs to deliver to a destination of this `Type`.
fn destination_action(kind: &str) -> Option<&'static str> {
    match kind {
        "SQS" => Some("sqs:SendMessage"),
        "SNS" => Some("sns:Publish"),
        "Lambda" => Some("lambda:InvokeFunction"),
        "EventBridge" => Some("events:PutEvents"),
        _ => None,
    }
}

/// The destination `Type` of a template resource of this type.
fn destination_kind(resource_type: &str) -> Option<&'static str> {
    match resource_type {
        "AWS::SQS::Queue" => Some("SQS"),
        "AWS::SNS::Topic" => Some("SNS"),
        "AWS::Serverless::Function" | "AWS::Lambda::Function" => Some("Lambda"),
        "AWS::Events::EventBus" => Some("EventBridge"),
        _ => None,
    }
}

/// An action the function's configuration needs on a resource, which its
/// statements must grant because SAM does not.
#[derive(Debug, Clone, PartialEq)]
pub struct Required {
    pub action: &'static str,
    pub resource: String,
    /// What needs it: `event TableChanged OnFailure destination`...
    pub why: String,
}

/// What Lambda does with a function's role because of its configuration,
/// not its code.
#[derive(Debug, Clone, Default)]
pub struct Platform {
    /// To be granted by the function's statements.
    pub required: Vec<Required>,
    /// What the statements may grant without a declared call (lower case).
    pub allowed: BTreeSet<String>,
}

impl Platform {
    fn allow(&mut self, action: &str) {
        self.allowed.insert(action.to_lowercase());
    }

    /// An `OnSuccess` or `OnFailure` destination: SAM adds the policy to
    /// deliver there only when the destination has a `Type`.
    fn destination(&mut self, d: &template::Destination, why: String) {
        let kind = d
            .kind
            .as_deref()
            .or_else(|| d.target_type.as_deref().and_then(destination_kind));
        let Some(action) = kind.and_then(destination_action) else {
            return;
        };
        self.allow(action);
        if d.kind.is_none() {
            self.required.push(Required {
                action,
                resource: d.arn.clone(),
                why,
            });
        }
    }
}

/// What `function`'s configuration needs of its role: logs, tracing,
/// reading its stream, delivering to its destinations.
pub fn platform_needs(function: &template::Function) -> Platform {
    let mut platform = Platform::default();
    for action in BASIC_ACTIONS {
        platform.allow(action);
    }
    if function.tracing.as_deref() == Some("Active") {
        for action in TRACING_ACTIONS {
            platform.allow(action);
        }
    }
    for d in &function.invoke_destinations {
        platform.destination(d, format!("EventInvokeConfig {} destination", d.when));
    }
    for event in &function.events {
        for action in stream_read_actions(&event.kind) {
            platform.allow(action);
        }
        for d in &event.destinations {
            platform.destination(d, format!("event {} {} destination", event.name, d.when));
        }
    }
    platform
}

/// One declared action on its resource, resolved, and the call needing it.
struct Needed {
    action: &'static str,
    /// An ARN, or an ARN pattern (`arn:aws:s3:::bucket/prefix/*`).
    resource: String,
    call: &'static iam::Call,
    why: &'static str,
}

/// Whether `statement` grants `action` on `resource` (an ARN, or an ARN
/// pattern the statement's own pattern must cover), conditions aside.
fn grants(statement: &Statement, action: &str, resource: &str) -> bool {
    statement.names_action(action) && statement.resources.iter().any(|r| wildcard(r, resource))
}

/// What is wrong between the calls `declared` for `function` and the
/// `statements` it is granted, one line each, saying what to change;
/// empty when they agree. `config` is the function's settings, from its
/// environment in the template.
pub fn compare(
    function: &template::Function,
    declared: &iam::Function,
    statements: &[Statement],
    config: &Config,
) -> Vec<String> {
    let name = format!("{} ({})", function.logical, function.binary);
    let account = Account {
        partition: "aws",
        region: REGION,
        id: ACCOUNT,
    };
    let platform = platform_needs(function);
    let allows: Vec<&Statement> = statements.iter().filter(|s| s.effect == "Allow").collect();
    let mut problems = Vec::new();

    // Each declared action, on its resource resolved.
    let mut needed: Vec<Needed> = Vec::new();
    for (call, needs) in declared.needs() {
        match needs.resource.arn(config, &account) {
            Ok(arn) => {
                for &action in needs.actions {
                    needed.push(Needed {
                        action,
                        resource: arn.clone(),
                        call,
                        why: needs.why,
                    });
                }
            }
            Err(missing) => problems.push(format!(
                "{name}: {} needs {} on {:?}, but the function's Environment in template.yaml \
                 has no {missing}: set it",
                call.name,
                needs.actions.join(", "),
                needs.resource
            )),
        }
    }

    // Declared, so granted.
    for Needed {
        action,
        resource: arn,
        call,
        why,
    } in &needed
    {
        if allows.iter().any(|s| grants(s, action, arn)) {
            continue;
        }
        let elsewhere: Vec<&str> = allows
            .iter()
            .filter(|s| s.names_action(action))
            .flat_map(|s| s.resources.iter().map(String::as_str))
            .collect();
        let granted = if elsewhere.is_empty() {
            "no statement grants it".to_string()
        } else {
            format!("it is granted only on {}", elsewhere.join(", "))
        };
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" ({why})")
        };
        problems.push(format!(
            "{name}: {} needs {action} on {arn}{why}, but {granted}: grant it in the function's \
             Policies in template.yaml (Action: {action}, a Resource covering {arn}), or take \
             the call out of {}",
            call.name, declared.handler
        ));
    }

    // Needed by the configuration, so granted.
    for required in &platform.required {
        if !allows
            .iter()
            .any(|s| grants(s, required.action, &required.resource))
        {
            problems.push(format!(
                "{name}: its {} needs {} on {}, which its Policies in template.yaml do not grant \
                 (SAM adds that policy only when the destination has a Type): add the \
                 statement, or give the destination its Type",
                required.why, required.action, required.resource
            ));
        }
    }

    // Granted, so declared or needed by the configuration.
    let declared_actions: BTreeSet<String> =
        needed.iter().map(|n| n.action.to_lowercase()).collect();
    let required_actions: BTreeSet<String> = platform
        .required
        .iter()
        .map(|r| r.action.to_lowercase())
        .collect();
    for statement in &allows {
        for action in &statement.actions {
            let lower = action.to_lowercase();
            if action.contains('*') || action.contains('?') {
                let mut wanted: Vec<&str> = needed.iter().map(|n| n.action).collect();
                wanted.sort_unstable();
                wanted.dedup();
                problems.push(format!(
                    "{name}: its Policies in template.yaml grant the wildcard action {action}: \
                     grant the actions its calls declare instead ({})",
                    wanted.join(", ")
                ));
            } else if declared_actions.contains(&lower) {
                let declared_on: Vec<&str> = needed
                    .iter()
                    .filter(|n| n.action.eq_ignore_ascii_case(action))
                    .map(|n| n.resource.as_str())
                    .collect();
                for resource in &statement.resources {
                    let needed_there = declared_on.iter().any(|d| wildcard(d, resource))
                        || platform.required.iter().any(|r| {
                            r.action.eq_ignore_ascii_case(action) && wildcard(&r.resource, resource)
                        });
                    if !needed_there {
                        problems.push(format!(
                            "{name}: its Policies in template.yaml grant {action} on {resource}, \
                             more than its calls need ({}): narrow the statement's Resource",
                            declared_on.join(", ")
                        ));
                    }
                }
            } else if !platform.allowed.contains(&lower) && !required_actions.contains(&lower) {
                problems.push(format!(
                    "{name}: its Policies in template.yaml grant {action}, which none of the \
                     calls of {} declares and its configuration does not need: remove it, or, if \
                     the code makes that call, declare it next to the SDK call (an adapter's \
                     `Call` consts; see lambda/src/iam.rs) and list the call in the handler's IAM",
                    declared.handler
                ));
            }
        }
    }
    problems
}

/// Every function of `stack` against its declarations: how many were
/// compared, and every problem found.
pub fn compare_all(stack: &Stack) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut binaries = BTreeSet::new();
    for logical in stack.functions() {
        let function = stack.function(&logical);
        binaries.insert(function.binary.clone());
        let Some(declared) = iam::function(&function.binary) else {
            problems.push(format!(
                "{logical}: its binary {} declares no calls: add it to FUNCTIONS in \
                 lambda/src/iam.rs, with its handler's calls",
                function.binary
            ));
            continue;
        };
        compared += 1;
        problems.extend(compare(
            &function,
            declared,
            &stack.statements(&logical),
            &stack.config(&logical),
        ));
    }
    for f in iam::FUNCTIONS {
        if !binaries.contains(f.binary) {
            problems.push(format!(
                "lambda/src/iam.rs declares the calls of binary {}, which no function of \
                 template.yaml builds: remove its entry from FUNCTIONS, or add the function",
                f.binary
            ));
        }
    }
    (compared, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{without_action, Template};
    use std::collections::BTreeMap;

    fn stack() -> Stack {
        Template::load().stack("mq-declared")
    }

    /// The comparison for function `logical` with its statements changed
    /// by `change`.
    fn compare_changed(
        stack: &Stack,
        logical: &str,
        change: impl FnOnce(&mut Vec<Statement>),
    ) -> Vec<String> {
        let function = stack.function(logical);
        let declared = iam::function(&function.binary).expect("declared calls");
        let mut statements = stack.statements(logical);
        change(&mut statements);
        compare(&function, declared, &statements, &stack.config(logical))
    }

    /// Asserts that some problem names every one of `words`.
    fn assert_problem(problems: &[String], words: &[&str]) {
        assert!(
            problems.iter().any(|p| words.iter().all(|w| p.contains(w))),
            "expected a problem naming {words:?}, got {problems:#?}"
        );
    }

    #[test]
    fn every_function_is_granted_exactly_what_its_calls_declare() {
        let (compared, problems) = compare_all(&stack());
        assert!(
            problems.is_empty(),
            "template.yaml against the calls each function declares \
             (media_query_lambda::iam):\n{}",
            problems.join("\n")
        );
        assert_eq!(compared, iam::FUNCTIONS.len());
    }

    #[test]
    fn a_template_that_differs_from_the_declarations_fails() {
        let stack = stack();
        assert_eq!(
            compare_changed(&stack, "ObjectCreatedFunction", |_| {}),
            Vec::<String>::new()
        );

        // A declared action missing: what StartLabelDetection passes on.
        let problems = compare_changed(&stack, "ObjectCreatedFunction", |s| {
            let narrowed = without_action(s, "iam:PassRole");
            *s = narrowed;
        });
        assert_problem(
            &problems,
            &[
                "ObjectCreatedFunction (object-created)",
                "Rekognition::start_video",
                "iam:PassRole",
                "no statement grants it",
            ],
        );

        // Granted on another resource: the table, not its pending index.
        let problems = compare_changed(&stack, "PendingSweeperFunction", |s| {
            for st in s.iter_mut() {
                for r in &mut st.resources {
                    *r = r.trim_end_matches("/index/pending").to_string();
                }
            }
        });
        assert_problem(
            &problems,
            &[
                "DynamoStore::pending_before",
                "dynamodb:Scan",
                "granted only on",
            ],
        );
        assert_problem(&problems, &["dynamodb:Scan", "more than its calls need"]);

        // An action no call declares.
        let table = stack.attribute("MediaTable", "Arn");
        let problems = compare_changed(&stack, "ObjectRemovedFunction", |s| {
            s.push(Statement {
                effect: "Allow".into(),
                actions: vec!["dynamodb:DeleteItem".into()],
                resources: vec![table.clone()],
                conditions: BTreeMap::new(),
            });
        });
        assert_problem(
            &problems,
            &[
                "ObjectRemovedFunction",
                "dynamodb:DeleteItem",
                "none of the calls",
            ],
        );

        // A wildcard action, even one covering what is declared.
        let problems = compare_changed(&stack, "VideoJobCompleteFunction", |s| {
            for st in s.iter_mut() {
                for a in &mut st.actions {
                    if a.as_str() == "dynamodb:PutItem" {
                        *a = "dynamodb:*".into();
                    }
                }
            }
        });
        assert_problem(
            &problems,
            &["VideoJobCompleteFunction", "wildcard action dynamodb:*"],
        );

        // A resource wider than the calls need: the whole export prefix
        // for the read API, which reads only the serving snapshot.
        let problems = compare_changed(&stack, "ReadApiFunction", |s| {
            for st in s.iter_mut() {
                for r in &mut st.resources {
                    *r = r.replace("/serving/*", "/*");
                }
            }
        });
        assert_problem(
            &problems,
            &[
                "ReadApiFunction",
                "s3:GetObject",
                "more than its calls need",
            ],
        );

        // An on-failure destination without a Type, and without its grant.
        let problems = compare_changed(&stack, "ExportWriterFunction", |s| {
            let narrowed = without_action(s, "sqs:SendMessage");
            *s = narrowed;
        });
        assert_problem(
            &problems,
            &[
                "ExportWriterFunction",
                "TableChanged OnFailure",
                "sqs:SendMessage",
            ],
        );

        // A call the code makes and the declarations leave out: what the
        // template grants for it is then undeclared.
        let function = stack.function("ObjectCreatedFunction");
        let declared = iam::function("object-created").expect("declared");
        assert_eq!(declared.calls[0].name, "DynamoStore::get");
        let without_get = iam::Function {
            calls: &declared.calls[1..],
            ..*declared
        };
        let problems = compare(
            &function,
            &without_get,
            &stack.statements("ObjectCreatedFunction"),
            &stack.config("ObjectCreatedFunction"),
        );
        assert_problem(
            &problems,
            &[
                "ObjectCreatedFunction",
                "dynamodb:GetItem",
                "none of the calls",
            ],
        );
    }

    #[test]
    fn configuration_needs_what_sam_does_not_grant() {
        let stack = stack();
        let writer = platform_needs(&stack.function("ExportWriterFunction"));
        assert_eq!(
            writer.required,
            vec![Required {
                action: "sqs:SendMessage",
                resource: stack.attribute("FailedEventsQueue", "Arn"),
                why: "event TableChanged OnFailure destination".into(),
            }]
        );
        for action in [
            "dynamodb:getrecords",
            "xray:puttracesegments",
            "logs:putlogevents",
        ] {
            assert!(writer.allowed.contains(action), "{action}: {writer:?}");
        }
        // `Type: SQS`: SAM adds the policy itself.
        let created = platform_needs(&stack.function("ObjectCreatedFunction"));
        assert!(created.required.is_empty(), "{created:?}");
        assert!(created.allowed.contains("sqs:sendmessage"), "{created:?}");
        assert!(
            !created.allowed.contains("dynamodb:getrecords"),
            "{created:?}"
        );
    }
}
