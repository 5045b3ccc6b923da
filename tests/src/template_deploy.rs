//! What the deploy scripts (`scripts/deploy.sh`, `scripts/teardown.sh`,
//! through `scripts/deploy_wiring.py`) assume of `template.yaml`, checked
//! against the template as [`crate::template`] reads it, loops expanded.
//! Tests only.
//!
//! * The recorded `describe-stacks` answer the wiring's tests run on
//!   (`scripts/fixtures/describe-stacks.json`) has exactly the template's
//!   outputs, with their descriptions, and its parameters; the wiring's
//!   own tests (`scripts/test_deploy_wiring.py`) hold the outputs the
//!   scripts read to that answer.
//! * The outputs the wiring reads name the resources it takes them for.
//! * What `teardown.sh` handles by logical id
//!   (`scripts/teardown-resources.json`) is the template's buckets, edge
//!   user and functions, and each function has its log group.
//! * The edge Worker's key (`EdgeReaderUser`) reads the table and the
//!   serving snapshot, nothing else.
//! * The template's transform expands its loops before SAM's.

use crate::repo_root;
use crate::template::{intrinsic, logical_target, plain_str, sub_text, Template};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};

/// A file of the repository, as text.
fn read(path: &str) -> String {
    let path = repo_root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The stack of the recorded `describe-stacks` answer.
fn recorded_stack() -> Json {
    let describe: Json = serde_json::from_str(&read("scripts/fixtures/describe-stacks.json"))
        .expect("scripts/fixtures/describe-stacks.json is JSON");
    let stacks = describe["Stacks"].as_array().expect("Stacks");
    assert_eq!(stacks.len(), 1, "the recorded answer has one stack");
    stacks[0].clone()
}

/// `scripts/teardown-resources.json`: kind (`buckets`...) to logical ids.
fn teardown_resources() -> BTreeMap<String, Vec<String>> {
    serde_json::from_str(&read("scripts/teardown-resources.json"))
        .expect("scripts/teardown-resources.json is {kind: [logical ids]}")
}

/// The capitalised words a shell script passes to `command` literally
/// (`resource MediaBucket`): the logical ids it names itself.
fn literal_arguments(script: &str, command: &str) -> Vec<String> {
    let needle = format!("{command} ");
    script
        .match_indices(&needle)
        .filter(|(i, _)| {
            script[..*i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        })
        .filter_map(|(i, _)| {
            let word: String = script[i + needle.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            word.starts_with(|c: char| c.is_ascii_uppercase())
                .then_some(word)
        })
        .collect()
}

/// Whether `v` is `!Ref logical`.
fn is_ref_to(v: &Yaml, logical: &str) -> bool {
    intrinsic(v).is_some_and(|(name, _)| name == "Ref")
        && logical_target(v).as_deref() == Some(logical)
}

#[test]
fn the_recorded_answer_has_exactly_the_templates_outputs() {
    let t = Template::load();
    let stack = recorded_stack();
    let recorded: Vec<(&str, Option<&str>)> = stack["Outputs"]
        .as_array()
        .expect("Outputs")
        .iter()
        .map(|o| {
            (
                o["OutputKey"].as_str().expect("OutputKey"),
                o["Description"].as_str(),
            )
        })
        .collect();
    let keys: BTreeSet<&str> = recorded.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys.len(),
        recorded.len(),
        "an output key twice in scripts/fixtures/describe-stacks.json"
    );
    let template: BTreeMap<&str, Option<&str>> = t
        .outputs()
        .into_iter()
        .map(|(k, o)| (k, plain_str(&o["Description"])))
        .collect();
    assert_eq!(
        keys,
        template.keys().copied().collect::<BTreeSet<&str>>(),
        "the outputs of scripts/fixtures/describe-stacks.json against template.yaml's: \
         record the answer again (or edit it to match) when Outputs change"
    );
    for (key, description) in recorded {
        assert_eq!(
            description, template[key],
            "{key}: its Description in scripts/fixtures/describe-stacks.json against \
             template.yaml's"
        );
    }
}

#[test]
fn the_recorded_answer_has_the_templates_parameters() {
    let t = Template::load();
    let stack = recorded_stack();
    let recorded: BTreeSet<&str> = stack["Parameters"]
        .as_array()
        .expect("Parameters")
        .iter()
        .map(|p| p["ParameterKey"].as_str().expect("ParameterKey"))
        .collect();
    let template: BTreeSet<&str> = t.parameters().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        recorded, template,
        "the parameters of scripts/fixtures/describe-stacks.json against template.yaml's"
    );
}

#[test]
fn the_outputs_name_the_resources_the_wiring_assumes() {
    let t = Template::load();
    let outputs: BTreeMap<&str, &Yaml> = t.outputs().into_iter().collect();
    // Names, not ARNs: the Worker's MEDIA_TABLE_NAME, SNAPSHOT_BUCKET and
    // SNAPSHOT_PREFIX, the bucket deploy.sh checks, the user it makes the
    // Worker's key for.
    for (output, logical) in [
        ("MediaTableName", "MediaTable"),
        ("ExportBucket", "ExportBucket"),
        ("ExportPrefix", "ExportPrefix"),
        ("MediaBucketName", "MediaBucket"),
        ("EdgeReaderUserName", "EdgeReaderUser"),
    ] {
        let value = outputs.get(output).map(|o| &o["Value"]);
        assert!(
            value.is_some_and(|v| is_ref_to(v, logical)),
            "Outputs.{output}.Value: scripts/deploy_wiring.py takes it for !Ref {logical}, \
             got {value:?}"
        );
    }
    assert_eq!(t.resource_type("EdgeReaderUser"), Some("AWS::IAM::User"));
}

#[test]
fn teardown_handles_the_templates_buckets_user_and_functions() {
    let t = Template::load();
    let listed = teardown_resources();
    let kinds: BTreeSet<&str> = listed.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["buckets", "edge-user", "export-writer", "functions"]),
        "the kinds of scripts/teardown-resources.json (teardown.sh asks for each)"
    );
    let of_type = |kind: &str| -> BTreeSet<String> {
        t.resources_of_type(kind)
            .into_iter()
            .map(|(logical, _)| logical.to_string())
            .collect()
    };
    let listed_as = |kind: &str| -> BTreeSet<String> { listed[kind].iter().cloned().collect() };

    // CloudFormation cannot delete a bucket that holds objects: teardown
    // empties every bucket the stack deletes (none is retained today).
    let deleted_buckets: BTreeSet<String> = t
        .resources_of_type("AWS::S3::Bucket")
        .into_iter()
        .filter(|(_, r)| matches!(plain_str(&r["DeletionPolicy"]), None | Some("Delete")))
        .map(|(logical, _)| logical.to_string())
        .collect();
    assert_eq!(
        listed_as("buckets"),
        deleted_buckets,
        "scripts/teardown-resources.json's buckets against the buckets template.yaml deletes \
         with the stack"
    );
    assert_eq!(
        listed_as("edge-user"),
        of_type("AWS::IAM::User"),
        "scripts/teardown-resources.json's edge-user against template.yaml's IAM users"
    );
    let functions = of_type("AWS::Serverless::Function");
    assert_eq!(
        listed_as("functions"),
        functions,
        "scripts/teardown-resources.json's functions against template.yaml's"
    );
    let writer = &listed["export-writer"];
    assert!(
        writer.len() == 1 && functions.contains(&writer[0]),
        "scripts/teardown-resources.json's export-writer: one function of template.yaml, \
         got {writer:?}"
    );

    // Each function's log group is the one the template creates (teardown
    // deletes it after the stack, should a late invocation re-create it).
    let groups: BTreeSet<String> = t
        .resources_of_type("AWS::Logs::LogGroup")
        .into_iter()
        .filter_map(|(_, g)| sub_text(&g["Properties"]["LogGroupName"]))
        .collect();
    for f in &functions {
        let group = format!("/aws/lambda/${{{f}}}");
        assert!(
            groups.contains(&group),
            "{f}: no log group {group} in template.yaml"
        );
    }

    // The logical ids teardown.sh names itself exist too.
    let named = literal_arguments(&read("scripts/teardown.sh"), "resource");
    assert!(
        named.contains(&"MediaBucket".to_string()),
        "teardown.sh names no resource itself? {named:?}"
    );
    for logical in named {
        assert!(
            t.resource(&logical).is_some(),
            "scripts/teardown.sh reads resource {logical}, which template.yaml does not have"
        );
    }
}

#[test]
fn the_edge_readers_key_reads_only_the_table_and_the_serving_snapshot() {
    let t = Template::load();
    let user = t
        .resource("EdgeReaderUser")
        .expect("template.yaml has no EdgeReaderUser");
    let properties: Vec<&str> = user["Properties"]
        .as_mapping()
        .expect("EdgeReaderUser.Properties")
        .keys()
        .filter_map(plain_str)
        .collect();
    assert_eq!(
        properties,
        ["Policies"],
        "EdgeReaderUser: no groups, managed policies or login profile"
    );
    let stack = t.stack("mq-deploy");
    let mut got: Vec<(String, Vec<String>, Vec<String>)> = stack
        .statements("EdgeReaderUser")
        .into_iter()
        .map(|s| {
            assert!(
                s.conditions.is_empty(),
                "EdgeReaderUser: a Condition in {s:?}"
            );
            let mut actions = s.actions;
            actions.sort();
            (s.effect, actions, s.resources)
        })
        .collect();
    got.sort();
    let table = stack.attribute("MediaTable", "Arn");
    let serving = format!(
        "{}/{}/serving/*",
        stack.attribute("ExportBucket", "Arn"),
        stack.reference("ExportPrefix")
    );
    let mut want = vec![
        (
            "Allow".to_string(),
            vec!["dynamodb:GetItem".to_string(), "dynamodb:Scan".to_string()],
            vec![table],
        ),
        (
            "Allow".to_string(),
            vec!["s3:GetObject".to_string()],
            vec![serving],
        ),
    ];
    want.sort();
    assert_eq!(
        got, want,
        "EdgeReaderUser's statements: the Worker's long-lived key reads the table and the \
         serving snapshot, nothing else (docs/deploy.md)"
    );
}

#[test]
fn the_language_extensions_expand_the_loops_before_sams_transform() {
    let source = Template::source();
    let loops = source["Resources"]
        .as_mapping()
        .expect("Resources")
        .keys()
        .filter_map(plain_str)
        .filter(|k| k.starts_with("Fn::ForEach::"))
        .count();
    assert!(
        loops > 0,
        "template.yaml has no Fn::ForEach loop any more: drop AWS::LanguageExtensions from its \
         Transform, and language_extensions from samconfig.toml (and its test in \
         scripts/test_deploy_wiring.py)"
    );
    let transform: Vec<&str> = match &source["Transform"] {
        Yaml::Sequence(s) => s.iter().filter_map(plain_str).collect(),
        other => plain_str(other).into_iter().collect(),
    };
    assert_eq!(
        transform,
        ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
        "template.yaml's Transform: the language extensions expand its Fn::ForEach loops, \
         before SAM's transform reads the template"
    );
}
