//! The project's rules for `template.yaml` that cfn-lint and `sam validate
//! --lint` do not check (both accept a misspelt runtime in `Globals` or an
//! unknown S3 event name), read through [`crate::template`] with the
//! template's `Fn::ForEach` loops expanded (the per-function log groups and
//! alarms come from loops). Tests only.
//!
//! * every function runs `provided.al2023` on `arm64`
//!   ([`runtime_problems`]) and is a cargo-lambda build of a binary of its
//!   crate ([`build_problems`]);
//! * S3 events are event names S3 knows ([`s3_event_problems`]);
//! * every trigger Lambda cannot report a failure to has an on-failure
//!   destination ([`destination_problems`]);
//! * the outputs the deploy and on call read are there
//!   ([`output_problems`]);
//! * observability: every function has a log group with a retention
//!   ([`log_group_problems`]), and `Errors` and `Throttles` alarms, and an
//!   `IteratorAge` one when a stream triggers it ([`function_alarm_problems`]);
//!   every on-failure queue has a depth alarm ([`queue_alarm_problems`]);
//!   every alarm notifies someone ([`alarm_action_problems`]).
//!
//! Each rule is a function of the template returning its problems, one
//! line each, naming the function or resource and what to add; each test
//! below holds `template.yaml` to one rule, and shows, on a changed copy of
//! the template, that the rule fails.

use crate::template::{logical_target, plain_str, sub_text, Template};
use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// The runtime of a Rust function built by cargo-lambda (a `bootstrap`
/// executable on Amazon Linux 2023).
const RUNTIME: &str = "provided.al2023";
/// What `scripts/deploy.sh` builds for (`cargo lambda build --arm64`).
const ARCHITECTURE: &str = "arm64";
/// `sam build`'s builder for Rust functions.
const BUILD_METHOD: &str = "rust-cargolambda";

/// The S3 event names a function may be notified of (S3's
/// `s3:ObjectCreated:*` and `s3:ObjectRemoved:*` families).
const S3_EVENTS: [&str; 8] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
];

/// The outputs the deploy (`scripts/deploy.sh`, through
/// `scripts/deploy_wiring.py`) and on call (`scripts/redrive.sh`, the
/// alarm topic's subscriptions: docs/deploy.md) read, and the video jobs'
/// topic and role.
const REQUIRED_OUTPUTS: [&str; 10] = [
    "MediaBucketName",
    "MediaTableName",
    "VideoTopicArn",
    "VideoRoleArn",
    "ApiUrl",
    "ExportBucket",
    "ExportPrefix",
    "EdgeReaderUserName",
    "FailedEventsQueueUrl",
    "AlarmTopicArn",
];

/// Event sources Lambda polls (stream records): a failed batch goes to the
/// event's own `DestinationConfig.OnFailure`, and its lag is `IteratorAge`.
const STREAM_EVENTS: [&str; 2] = ["DynamoDB", "Kinesis"];

/// A value as YAML, for a message (`none` when absent).
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        Value::Sequence(items) => {
            let items: Vec<String> = items.iter().map(shown).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Tagged(t) => format!("{} {}", t.tag, shown(&t.value)),
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().replace('\n', " "))
            .unwrap_or_else(|_| format!("{other:?}")),
    }
}

/// Whether a `DestinationConfig` has an `OnFailure` destination.
fn has_on_failure(destination_config: &Value) -> bool {
    !destination_config["OnFailure"]["Destination"].is_null()
}

/// Every function's `Runtime` and `Architectures`, its own or from
/// `Globals.Function`.
pub fn runtime_problems(t: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for name in t.functions() {
        let runtime = t.function_property(name, "Runtime");
        if plain_str(runtime) != Some(RUNTIME) {
            problems.push(format!(
                "{name}: Runtime {}, expected {RUNTIME}: set `Runtime: {RUNTIME}` in \
                 Globals.Function (or on the function)",
                shown(runtime)
            ));
        }
        let architectures = t.function_property(name, "Architectures");
        let arm64_only = matches!(architectures, Value::Sequence(a)
            if a.len() == 1 && plain_str(&a[0]) == Some(ARCHITECTURE));
        if !arm64_only {
            problems.push(format!(
                "{name}: Architectures {}, expected [{ARCHITECTURE}]: set \
                 `Architectures: [{ARCHITECTURE}]` in Globals.Function (or on the function)",
                shown(architectures)
            ));
        }
    }
    problems
}

/// Every function is built by cargo-lambda from a binary of its crate:
/// `Metadata.BuildMethod: rust-cargolambda`, and
/// `Metadata.BuildProperties.Binary` a `src/bin/<binary>.rs` (or
/// `src/bin/<binary>/main.rs`) of the crate its `CodeUri` names, relative
/// to `root` (the repository).
pub fn build_problems(t: &Template, root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for name in t.functions() {
        let metadata = &t.resource(name).expect("a function")["Metadata"];
        if plain_str(&metadata["BuildMethod"]) != Some(BUILD_METHOD) {
            problems.push(format!(
                "{name}: Metadata.BuildMethod is {}: set it to {BUILD_METHOD}",
                shown(&metadata["BuildMethod"])
            ));
        }
        let code_uri = plain_str(t.function_property(name, "CodeUri")).unwrap_or("");
        let krate = root.join(code_uri);
        let binary = plain_str(&metadata["BuildProperties"]["Binary"]);
        let found = binary.is_some_and(|b| {
            !b.is_empty()
                && (krate.join("src/bin").join(format!("{b}.rs")).is_file()
                    || krate.join("src/bin").join(b).join("main.rs").is_file())
        });
        if !found {
            problems.push(format!(
                "{name}: Metadata.BuildProperties.Binary {} is not a binary of the crate \
                 {code_uri:?} (CodeUri): name one of its src/bin/<binary>.rs",
                shown(&metadata["BuildProperties"]["Binary"])
            ));
        }
    }
    problems
}

/// Every `S3` event's `Events` are event names S3 knows ([`S3_EVENTS`]):
/// S3 refuses an unknown one only when the stack deploys.
pub fn s3_event_problems(t: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for name in t.functions() {
        for (event, e) in t.events(name) {
            if plain_str(&e["Type"]) != Some("S3") {
                continue;
            }
            let events = &e["Properties"]["Events"];
            let listed: Vec<&Value> = match events {
                Value::Sequence(s) => s.iter().collect(),
                other => vec![other],
            };
            for s3_event in listed {
                if !plain_str(s3_event).is_some_and(|n| S3_EVENTS.contains(&n)) {
                    problems.push(format!(
                        "{name}.{event}: unknown S3 event {}: use one of {}",
                        shown(s3_event),
                        S3_EVENTS.join(", ")
                    ));
                }
            }
        }
    }
    problems
}

/// An event that fails after Lambda's retries is lost unless it has an
/// on-failure destination:
/// * a stream event (`DynamoDB`, `Kinesis`): the event's own
///   `DestinationConfig.OnFailure`;
/// * an asynchronous invocation (`S3`, `SNS`, `EventBridgeRule`...): the
///   function's `EventInvokeConfig.DestinationConfig.OnFailure`.
///
/// Not needed: `HttpApi` and `Api` (the caller gets the error), `Schedule`
/// (the next run does the work again: the project's schedules are sweeps
/// and reconciliations), `SQS` (a queue's failures stay in it, then go to
/// its own redrive policy).
pub fn destination_problems(t: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for name in t.functions() {
        let invoke_config = t.function_property(name, "EventInvokeConfig");
        for (event, e) in t.events(name) {
            let kind = plain_str(&e["Type"]).unwrap_or("");
            match kind {
                "HttpApi" | "Api" | "Schedule" | "ScheduleV2" | "SQS" => {}
                k if STREAM_EVENTS.contains(&k) => {
                    if !has_on_failure(&e["Properties"]["DestinationConfig"]) {
                        problems.push(format!(
                            "{name}.{event}: a {kind} event without an on-failure destination \
                             (a batch that keeps failing is dropped): add \
                             Properties.DestinationConfig.OnFailure.Destination to the event \
                             (e.g. !GetAtt FailedEventsQueue.Arn)"
                        ));
                    }
                }
                _ => {
                    if !has_on_failure(&invoke_config["DestinationConfig"]) {
                        problems.push(format!(
                            "{name}.{event}: Lambda invokes the function asynchronously for its \
                             {kind} event, and the function has no on-failure destination (an \
                             event that fails its retries is lost): add \
                             EventInvokeConfig.DestinationConfig.OnFailure (Type: SQS, \
                             Destination: !GetAtt FailedEventsQueue.Arn)"
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The outputs the deploy and on call read ([`REQUIRED_OUTPUTS`]).
pub fn output_problems(t: &Template) -> Vec<String> {
    let have: BTreeSet<&str> = t.outputs().into_iter().map(|(k, _)| k).collect();
    REQUIRED_OUTPUTS
        .iter()
        .filter(|o| !have.contains(*o))
        .map(|o| {
            format!(
                "Outputs: no {o}, which the deploy or on call reads (scripts/deploy.sh, \
                 scripts/redrive.sh, docs/deploy.md): add it"
            )
        })
        .collect()
}

/// What a function's name is written as in the template, as [`sub_text`]
/// gives it: `${Logical}` (`!Ref Logical`, `!Sub "${Logical}"`), and its
/// `FunctionName` if it sets one.
fn names_of(t: &Template, function: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::from([format!("${{{function}}}")]);
    let explicit = &t.resource(function).expect("a function")["Properties"]["FunctionName"];
    names.extend(sub_text(explicit));
    names
}

/// Every function has an `AWS::Logs::LogGroup` named
/// `/aws/lambda/<its name>` (else Lambda creates one on first use, kept
/// forever), with a `RetentionInDays`.
pub fn log_group_problems(t: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    let groups = t.resources_of_type("AWS::Logs::LogGroup");
    for name in t.functions() {
        let wanted: BTreeSet<String> = names_of(t, name)
            .into_iter()
            .map(|n| format!("/aws/lambda/{n}"))
            .collect();
        let own: Vec<(&str, &Value)> = groups
            .iter()
            .copied()
            .filter(|(_, g)| {
                sub_text(&g["Properties"]["LogGroupName"]).is_some_and(|n| wanted.contains(&n))
            })
            .collect();
        if own.is_empty() {
            let base = name.strip_suffix("Function").unwrap_or(name);
            problems.push(format!(
                "{name}: no AWS::Logs::LogGroup named /aws/lambda/<its name>: add {base} to the \
                 list of Fn::ForEach::FunctionLogGroupsAndErrors (or a log group with \
                 LogGroupName: !Sub \"/aws/lambda/${{{name}}}\" and a RetentionInDays)"
            ));
        }
        for (group, g) in own {
            if g["Properties"]["RetentionInDays"].is_null() {
                problems.push(format!(
                    "{group}: the log group of {name} has no RetentionInDays (its logs would \
                     be kept forever): add RetentionInDays: !Ref LogRetentionDays"
                ));
            }
        }
    }
    problems
}

/// The `AWS/Lambda` alarms on `metric` whose `FunctionName` dimension is
/// one of `names` ([`names_of`]).
fn lambda_alarms<'t>(
    t: &'t Template,
    metric: &str,
    names: &BTreeSet<String>,
) -> Vec<(&'t str, &'t Value)> {
    t.resources_of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            let p = &a["Properties"];
            plain_str(&p["Namespace"]) == Some("AWS/Lambda")
                && plain_str(&p["MetricName"]) == Some(metric)
                && p["Dimensions"].as_sequence().is_some_and(|dimensions| {
                    dimensions.iter().any(|d| {
                        plain_str(&d["Name"]) == Some("FunctionName")
                            && sub_text(&d["Value"]).is_some_and(|v| names.contains(&v))
                    })
                })
        })
        .collect()
}

/// Every function has `AWS/Lambda` `Errors` and `Throttles` alarms, and a
/// function a stream triggers an `IteratorAge` alarm (it falling behind).
pub fn function_alarm_problems(t: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for name in t.functions() {
        let names = names_of(t, name);
        let mut metrics = vec!["Errors", "Throttles"];
        let stream = t
            .events(name)
            .iter()
            .any(|(_, e)| plain_str(&e["Type"]).is_some_and(|k| STREAM_EVENTS.contains(&k)));
        if stream {
            metrics.push("IteratorAge");
        }
        for metric in metrics {
            if lambda_alarms(t, metric, &names).is_empty() {
                let base = name.strip_suffix("Function").unwrap_or(name);
                let hint = match metric {
                    "Errors" => {
                        format!("add {base} to the list of Fn::ForEach::FunctionLogGroupsAndErrors")
                    }
                    "Throttles" => {
                        format!("add {base} to the list of Fn::ForEach::FunctionThrottles")
                    }
                    _ => format!("add one, as {base}{metric}Alarm"),
                };
                problems.push(format!(
                    "{name}: no AWS::CloudWatch::Alarm on AWS/Lambda {metric} with Dimensions \
                     [Name: FunctionName, Value: !Ref {name}]: {hint}"
                ));
            }
        }
    }
    problems
}

/// The `AWS::SQS::Queue`s that are on-failure destinations (of a function's
/// asynchronous invocations, or of a stream event).
fn on_failure_queues(t: &Template) -> BTreeSet<String> {
    let mut queues = BTreeSet::new();
    for name in t.functions() {
        let mut configs =
            vec![&t.function_property(name, "EventInvokeConfig")["DestinationConfig"]];
        configs.extend(
            t.events(name)
                .into_iter()
                .map(|(_, e)| &e["Properties"]["DestinationConfig"]),
        );
        for config in configs {
            let Some(target) = logical_target(&config["OnFailure"]["Destination"]) else {
                continue;
            };
            if t.resource_type(&target) == Some("AWS::SQS::Queue") {
                queues.insert(target);
            }
        }
    }
    queues
}

/// Every on-failure queue has an `AWS/SQS`
/// `ApproximateNumberOfMessagesVisible` alarm (failed events wait there
/// unseen otherwise).
pub fn queue_alarm_problems(t: &Template) -> Vec<String> {
    let alarms = t.resources_of_type("AWS::CloudWatch::Alarm");
    on_failure_queues(t)
        .into_iter()
        .filter(|queue| {
            !alarms.iter().any(|(_, a)| {
                let p = &a["Properties"];
                plain_str(&p["Namespace"]) == Some("AWS/SQS")
                    && plain_str(&p["MetricName"]) == Some("ApproximateNumberOfMessagesVisible")
                    && p["Dimensions"].as_sequence().is_some_and(|dimensions| {
                        dimensions.iter().any(|d| {
                            plain_str(&d["Name"]) == Some("QueueName")
                                && logical_target(&d["Value"]).as_deref() == Some(queue.as_str())
                        })
                    })
            })
        })
        .map(|queue| {
            format!(
                "{queue}: an on-failure queue without an alarm on its depth: add an \
                 AWS::CloudWatch::Alarm on AWS/SQS ApproximateNumberOfMessagesVisible with \
                 Dimensions [Name: QueueName, Value: !GetAtt {queue}.QueueName]"
            )
        })
        .collect()
}

/// Every alarm has `AlarmActions` (else it notifies no one).
pub fn alarm_action_problems(t: &Template) -> Vec<String> {
    t.resources_of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, a)| {
            a["Properties"]["AlarmActions"]
                .as_sequence()
                .is_none_or(|actions| actions.is_empty())
        })
        .map(|(alarm, _)| {
            format!(
                "{alarm}: an alarm without AlarmActions notifies no one: add \
                 AlarmActions: [!Ref AlarmTopic] (and OKActions: [!Ref AlarmTopic])"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo_root;

    /// `template.yaml`, which must have functions for the rules to check.
    fn template() -> Template {
        let t = Template::load();
        assert!(
            !t.functions().is_empty(),
            "template.yaml has no AWS::Serverless::Function"
        );
        t
    }

    /// Asserts a rule found nothing in `template.yaml`.
    fn assert_holds(rule: &str, problems: Vec<String>) {
        assert!(
            problems.is_empty(),
            "template.yaml breaks the rule that {rule}:\n  {}",
            problems.join("\n  ")
        );
    }

    /// Asserts that some problem names every one of `words`.
    fn assert_problem(problems: &[String], words: &[&str]) {
        assert!(
            problems.iter().any(|p| words.iter().all(|w| p.contains(w))),
            "expected a problem naming {words:?}, got {problems:#?}"
        );
    }

    /// The value at `path` (mapping keys) of `t`, to change.
    fn at<'t>(t: &'t mut Template, path: &[&str]) -> &'t mut Value {
        let mut v = t.value_mut();
        for key in path {
            v = v
                .get_mut(*key)
                .unwrap_or_else(|| panic!("template.yaml has no {}", path.join(".")));
        }
        v
    }

    /// `t` without the entry at `path`.
    fn remove(t: &mut Template, path: &[&str]) {
        let (last, parent) = path.split_last().expect("a path");
        let removed = at(t, parent)
            .as_mapping_mut()
            .and_then(|m| m.shift_remove(*last));
        assert!(removed.is_some(), "template.yaml has no {}", path.join("."));
    }

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("YAML")
    }

    #[test]
    fn every_function_runs_provided_al2023_on_arm64() {
        assert_holds(
            "every function runs provided.al2023 on arm64",
            runtime_problems(&template()),
        );
    }

    #[test]
    fn another_runtime_or_architecture_is_reported() {
        let mut t = template();
        *at(&mut t, &["Globals", "Function", "Runtime"]) = yaml("provided.al2");
        at(&mut t, &["Resources", "ReadApiFunction", "Properties"])["Architectures"] =
            yaml("[x86_64]");
        let problems = runtime_problems(&t);
        for f in t.functions() {
            assert_problem(
                &problems,
                &[f, "Runtime provided.al2", "expected provided.al2023"],
            );
        }
        assert_problem(&problems, &["ReadApiFunction", "Architectures", "x86_64"]);
        assert!(
            !problems
                .iter()
                .any(|p| p.starts_with("ObjectCreatedFunction: Architectures")),
            "{problems:#?}"
        );
        // A runtime that is an intrinsic is not the runtime.
        *at(&mut t, &["Globals", "Function", "Runtime"]) = yaml("!Ref Runtime");
        assert_problem(
            &runtime_problems(&t),
            &["ObjectCreatedFunction", "Runtime !Ref"],
        );
    }

    #[test]
    fn every_function_is_a_cargo_lambda_build_of_one_of_its_crates_binaries() {
        assert_holds(
            "every function is a cargo-lambda build of a binary of its crate",
            build_problems(&template(), &repo_root()),
        );
    }

    #[test]
    fn a_function_of_no_binary_or_another_builder_is_reported() {
        let mut t = template();
        *at(
            &mut t,
            &[
                "Resources",
                "ReadApiFunction",
                "Metadata",
                "BuildProperties",
                "Binary",
            ],
        ) = yaml("read-apis");
        remove(
            &mut t,
            &[
                "Resources",
                "ObjectRemovedFunction",
                "Metadata",
                "BuildMethod",
            ],
        );
        let problems = build_problems(&t, &repo_root());
        assert_problem(&problems, &["ReadApiFunction", "read-apis", "not a binary"]);
        assert_problem(
            &problems,
            &["ObjectRemovedFunction", "BuildMethod", BUILD_METHOD],
        );
        assert_eq!(problems.len(), 2, "{problems:#?}");
        // Another crate has no such binaries.
        *at(
            &mut t,
            &["Resources", "ExportWriterFunction", "Properties", "CodeUri"],
        ) = yaml("domain");
        assert_problem(
            &build_problems(&t, &repo_root()),
            &["ExportWriterFunction", "domain"],
        );
    }

    #[test]
    fn s3_events_are_event_names_s3_knows() {
        let t = template();
        let s3_events = t
            .functions()
            .iter()
            .flat_map(|f| t.events(f))
            .filter(|(_, e)| plain_str(&e["Type"]) == Some("S3"))
            .count();
        assert!(s3_events > 0, "template.yaml has no S3 event");
        assert_holds("S3 events are event names S3 knows", s3_event_problems(&t));
    }

    #[test]
    fn an_unknown_s3_event_is_reported() {
        let mut t = template();
        let path = [
            "Resources",
            "ObjectCreatedFunction",
            "Properties",
            "Events",
            "Created",
            "Properties",
            "Events",
        ];
        *at(&mut t, &path) = yaml("s3:ObjectCreated:Puts");
        assert_problem(
            &s3_event_problems(&t),
            &["ObjectCreatedFunction.Created", "s3:ObjectCreated:Puts"],
        );
        // In a list too.
        *at(&mut t, &path) = yaml(r#"["s3:ObjectCreated:Put", "s3:ObjectRestore:Completed"]"#);
        let problems = s3_event_problems(&t);
        assert_problem(
            &problems,
            &[
                "ObjectCreatedFunction.Created",
                "s3:ObjectRestore:Completed",
            ],
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
    }

    #[test]
    fn failed_events_have_an_on_failure_destination() {
        assert_holds(
            "every asynchronous or stream trigger has an on-failure destination",
            destination_problems(&template()),
        );
    }

    #[test]
    fn a_trigger_without_an_on_failure_destination_is_reported() {
        let mut t = template();
        remove(
            &mut t,
            &[
                "Resources",
                "ObjectRemovedFunction",
                "Properties",
                "EventInvokeConfig",
                "DestinationConfig",
            ],
        );
        remove(
            &mut t,
            &[
                "Resources",
                "ExportWriterFunction",
                "Properties",
                "Events",
                "TableChanged",
                "Properties",
                "DestinationConfig",
            ],
        );
        remove(
            &mut t,
            &[
                "Resources",
                "VideoJobCompleteFunction",
                "Properties",
                "EventInvokeConfig",
            ],
        );
        let problems = destination_problems(&t);
        assert_problem(
            &problems,
            &[
                "ObjectRemovedFunction.Removed",
                "S3 event",
                "EventInvokeConfig",
            ],
        );
        assert_problem(
            &problems,
            &["VideoJobCompleteFunction.JobComplete", "SNS event"],
        );
        assert_problem(
            &problems,
            &[
                "ExportWriterFunction.TableChanged",
                "DynamoDB event",
                "DestinationConfig",
            ],
        );
        // The schedules and the read API's routes need none.
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }

    #[test]
    fn the_outputs_the_deploy_and_on_call_read_are_there() {
        assert_holds(
            "the outputs the deploy and on call read are there",
            output_problems(&template()),
        );
    }

    #[test]
    fn a_missing_output_is_reported() {
        let mut t = template();
        remove(&mut t, &["Outputs", "ApiUrl"]);
        remove(&mut t, &["Outputs", "FailedEventsQueueUrl"]);
        let problems = output_problems(&t);
        assert_problem(&problems, &["Outputs: no ApiUrl"]);
        assert_problem(&problems, &["Outputs: no FailedEventsQueueUrl"]);
        assert_eq!(problems.len(), 2, "{problems:#?}");
    }

    #[test]
    fn every_function_has_a_log_group_with_a_retention() {
        assert_holds(
            "every function has a log group with a retention",
            log_group_problems(&template()),
        );
    }

    #[test]
    fn a_function_without_its_log_group_or_retention_is_reported() {
        let mut t = template();
        remove(&mut t, &["Resources", "ReadApiLogGroup"]);
        remove(
            &mut t,
            &[
                "Resources",
                "ObjectRemovedLogGroup",
                "Properties",
                "RetentionInDays",
            ],
        );
        let problems = log_group_problems(&t);
        assert_problem(
            &problems,
            &["ReadApiFunction: no AWS::Logs::LogGroup", "ReadApi"],
        );
        assert_problem(
            &problems,
            &[
                "ObjectRemovedLogGroup",
                "ObjectRemovedFunction",
                "RetentionInDays",
            ],
        );
        assert_eq!(problems.len(), 2, "{problems:#?}");
    }

    /// A function left out of the loops' lists gets no log group and no
    /// alarms: the rules read the loops expanded.
    #[test]
    fn a_function_left_out_of_the_loops_is_reported() {
        let mut source = Template::source();
        let list = &mut source["Resources"]["Fn::ForEach::FunctionLogGroupsAndErrors"][1];
        list.as_sequence_mut()
            .expect("the loop's list")
            .retain(|name| plain_str(name) != Some("PendingSweeper"));
        let t = Template::from_value(source).expect("expands");
        assert!(t.resource("PendingSweeperLogGroup").is_none());
        assert_problem(
            &log_group_problems(&t),
            &["PendingSweeperFunction", "PendingSweeper"],
        );
        let problems = function_alarm_problems(&t);
        assert_problem(
            &problems,
            &[
                "PendingSweeperFunction",
                "Errors",
                "FunctionLogGroupsAndErrors",
            ],
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
    }

    #[test]
    fn every_function_has_errors_and_throttles_alarms_and_a_stream_one_iterator_age() {
        let t = template();
        assert_holds(
            "every function has Errors and Throttles alarms (and IteratorAge if a stream \
             triggers it)",
            function_alarm_problems(&t),
        );
        // The rule looks for IteratorAge alarms at all.
        assert!(t.functions().iter().any(|f| {
            t.events(f)
                .iter()
                .any(|(_, e)| plain_str(&e["Type"]) == Some("DynamoDB"))
        }));
    }

    #[test]
    fn a_function_without_an_alarm_is_reported() {
        let mut t = template();
        remove(&mut t, &["Resources", "ExportWriterIteratorAgeAlarm"]);
        remove(&mut t, &["Resources", "VideoJobCompleteThrottlesAlarm"]);
        // An alarm on another function's errors is not this one's.
        *at(
            &mut t,
            &[
                "Resources",
                "ObjectCreatedErrorsAlarm",
                "Properties",
                "Dimensions",
            ],
        ) = yaml("[{Name: FunctionName, Value: !Ref ObjectRemovedFunction}]");
        let problems = function_alarm_problems(&t);
        assert_problem(&problems, &["ExportWriterFunction", "IteratorAge"]);
        assert_problem(
            &problems,
            &["VideoJobCompleteFunction", "Throttles", "FunctionThrottles"],
        );
        assert_problem(&problems, &["ObjectCreatedFunction", "Errors"]);
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }

    #[test]
    fn every_on_failure_queue_has_a_depth_alarm() {
        let t = template();
        assert!(
            on_failure_queues(&t).contains("FailedEventsQueue"),
            "{:?}",
            on_failure_queues(&t)
        );
        assert_holds(
            "every on-failure queue has a depth alarm",
            queue_alarm_problems(&t),
        );
    }

    #[test]
    fn an_on_failure_queue_without_a_depth_alarm_is_reported() {
        let mut t = template();
        remove(&mut t, &["Resources", "FailedEventsAlarm"]);
        let problems = queue_alarm_problems(&t);
        assert_problem(
            &problems,
            &["FailedEventsQueue", "ApproximateNumberOfMessagesVisible"],
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
    }

    #[test]
    fn every_alarm_notifies_someone() {
        let t = template();
        assert!(!t.resources_of_type("AWS::CloudWatch::Alarm").is_empty());
        assert_holds("every alarm notifies someone", alarm_action_problems(&t));
    }

    #[test]
    fn an_alarm_that_notifies_no_one_is_reported() {
        let mut t = template();
        remove(
            &mut t,
            &[
                "Resources",
                "SnapshotDriftAlarm",
                "Properties",
                "AlarmActions",
            ],
        );
        *at(
            &mut t,
            &[
                "Resources",
                "ReadApiThrottlesAlarm",
                "Properties",
                "AlarmActions",
            ],
        ) = yaml("[]");
        let problems = alarm_action_problems(&t);
        assert_problem(&problems, &["SnapshotDriftAlarm", "AlarmActions"]);
        assert_problem(&problems, &["ReadApiThrottlesAlarm", "AlarmActions"]);
        assert_eq!(problems.len(), 2, "{problems:#?}");
    }
}
