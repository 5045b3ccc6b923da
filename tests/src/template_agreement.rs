//! Settings Rust code keeps its own copies of, against `template.yaml`:
//! the local stack runs the functions as Lambda would (the table stream's
//! mapping, retries of asynchronous events, reserved concurrency), and the
//! read API relies on the route API Gateway is given. Tests only; they read
//! the template through [`crate::template`].

use crate::template::{Stack, Template};
use media_query_stack::invoke::{ASYNC_RETRIES, RESERVED_CONCURRENCY};
use media_query_stack::table_stream::{BATCHING_WINDOW_SECONDS, BATCH_SIZE, MAX_RETRIES};
use std::collections::BTreeMap;

fn stack() -> Stack {
    Template::load().stack("mq-agreement")
}

#[test]
fn the_local_stack_reserves_what_the_template_reserves() {
    let stack = stack();
    let template: BTreeMap<String, u64> = stack
        .functions()
        .iter()
        .map(|logical| stack.function(logical))
        .filter_map(|f| Some((f.binary, f.reserved_concurrency?)))
        .collect();
    let local: BTreeMap<String, u64> = RESERVED_CONCURRENCY
        .iter()
        .map(|&(f, n)| (f.to_string(), n as u64))
        .collect();
    assert!(template.contains_key("export-writer"), "{template:?}");
    assert_eq!(
        local, template,
        "RESERVED_CONCURRENCY (stack/src/invoke.rs) against the functions' \
         ReservedConcurrentExecutions in template.yaml"
    );
}

#[test]
fn the_local_stack_reads_the_table_stream_as_the_template_maps_it() {
    let stack = stack();
    let mut mappings = 0;
    for logical in stack.functions() {
        let function = stack.function(&logical);
        for event in function.events.iter().filter(|e| e.kind == "DynamoDB") {
            mappings += 1;
            for (setting, local, constant) in [
                ("BatchSize", BATCH_SIZE as u64, "BATCH_SIZE"),
                (
                    "MaximumBatchingWindowInSeconds",
                    BATCHING_WINDOW_SECONDS,
                    "BATCHING_WINDOW_SECONDS",
                ),
                (
                    "MaximumRetryAttempts",
                    u64::from(MAX_RETRIES),
                    "MAX_RETRIES",
                ),
            ] {
                assert_eq!(
                    event.number(setting),
                    Some(local),
                    "{logical}.{}: {setting} in template.yaml, against the local stack's \
                     {constant} (stack/src/table_stream.rs): make them equal",
                    event.name
                );
            }
        }
    }
    assert!(mappings > 0, "template.yaml maps no DynamoDB stream");
}

#[test]
fn the_local_stack_retries_asynchronous_events_as_the_template_does() {
    let stack = stack();
    let mut asynchronous = 0;
    for logical in stack.functions() {
        let function = stack.function(&logical);
        if !function
            .events
            .iter()
            .any(|e| e.kind == "S3" || e.kind == "SNS")
        {
            continue;
        }
        asynchronous += 1;
        assert_eq!(
            function.async_retries,
            Some(u64::from(ASYNC_RETRIES)),
            "{logical}: EventInvokeConfig.MaximumRetryAttempts in template.yaml, against the \
             local stack's ASYNC_RETRIES (stack/src/invoke.rs): make them equal"
        );
    }
    assert!(asynchronous > 0, "template.yaml has no S3 or SNS event");
}

/// `media_query_lambda::handlers::api::request_path` takes the HTTP API's
/// decoded name from the parameter of the deployed route, so that route
/// must stay `/{name+}`, with payload format 2.0.
#[test]
fn the_deployed_item_route_is_name_plus() {
    let function = stack().function("ReadApiFunction");
    let routes: Vec<_> = function
        .events
        .iter()
        .filter(|e| e.kind == "HttpApi")
        .collect();
    assert!(
        routes
            .iter()
            .any(|e| e.settings.get("Path").map(String::as_str) == Some("/{name+}")),
        "{routes:#?}"
    );
    for route in &routes {
        // SAM's default payload format for an HttpApi event is 2.0.
        assert!(
            matches!(
                route
                    .settings
                    .get("PayloadFormatVersion")
                    .map(String::as_str),
                None | Some("2.0")
            ),
            "{route:#?}"
        );
    }
}
