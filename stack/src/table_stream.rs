//! The table's DynamoDB stream as Lambda's event source mapping reads it,
//! over the real Streams API (`DescribeStream`, `GetShardIterator`,
//! `GetRecords`), which moto implements.
//!
//! Per shard, records are gathered into a batch until it holds
//! [`StreamMapping::batch_size`] records or the first record has waited
//! [`StreamMapping::batching_window`]; the batch is handed to the function
//! as the event Lambda builds (`{"Records": [...]}`, each record as
//! `GetRecords` returned it, plus `eventSourceARN`). A failed invocation is
//! retried with the same batch, with backoff, up to
//! [`StreamMapping::max_retries`] times; then, as the template's
//! `OnFailure` destination does, a record describing the batch (its shard
//! and sequence-number range, not its records) goes to the dead-letter
//! queue and the shard moves on. Shards are read one batch at a time, in
//! order, so a name's changes are applied in the order the table made them.
//! Each shard's place (the last sequence number handed on) is kept, so a
//! failed read resumes there instead of replaying the stream.
//!
//! The settings are the template's (`ExportWriterFunction`'s `TableChanged`
//! event); a test checks that they agree (`tests/src/template_agreement.rs`).

use crate::invoke::{DeadLetters, Invoker};
use anyhow::{Context, Result};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How an event source mapping batches and retries.
#[derive(Debug, Clone)]
pub struct StreamMapping {
    pub function: &'static str,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub max_retries: u32,
    /// The on-failure destination.
    pub on_failure: DeadLetters,
}

/// The template's `BatchSize`, `MaximumBatchingWindowInSeconds` and
/// `MaximumRetryAttempts` for the export writer's stream.
pub const BATCH_SIZE: usize = 1000;
pub const BATCHING_WINDOW_SECONDS: u64 = 2;
pub const MAX_RETRIES: u32 = 5;

/// Where reading a shard resumes, as an event source mapping keeps its
/// place: after the last record handed on, or nowhere once a closed shard
/// has been read to its end.
#[derive(Debug, Clone, PartialEq)]
enum Checkpoint {
    After(String),
    Done,
}

/// Reads the stream of `table` forever, from its oldest record. After a
/// failed read it resumes at each shard's checkpoint, so an outage of the
/// Streams API does not hand the whole stream to the function again.
pub async fn poll_table_stream(
    ddb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    mapping: StreamMapping,
    invoker: Invoker,
) {
    let mut checkpoints = HashMap::new();
    loop {
        let read = read_stream(&ddb, &streams, &table, &mapping, &invoker, &mut checkpoints).await;
        if let Err(e) = read {
            tracing::warn!(error = %format!("{e:#}"), "reading the table's stream failed; resuming at the checkpoints");
        }
        // Every shard read to its end (or an error): look for new shards.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn read_stream(
    ddb: &aws_sdk_dynamodb::Client,
    streams: &aws_sdk_dynamodbstreams::Client,
    table: &str,
    mapping: &StreamMapping,
    invoker: &Invoker,
    checkpoints: &mut HashMap<String, Checkpoint>,
) -> Result<()> {
    let described = ddb.describe_table().table_name(table).send().await?;
    let arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .context("the table has no stream (StreamSpecification)")?
        .to_string();
    let stream = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await?
        .stream_description
        .context("DescribeStream without a description")?;
    // moto keeps one shard per stream; in AWS, shards split and a parent is
    // read before its children. Reading them in the listed order, one at a
    // time, keeps that order.
    for shard in stream.shards() {
        let shard_id = shard.shard_id().context("a shard without an id")?;
        let (start, after) = match checkpoints.get(shard_id) {
            Some(Checkpoint::Done) => continue,
            Some(Checkpoint::After(seq)) => (ShardIteratorType::AfterSequenceNumber, Some(seq)),
            None => (ShardIteratorType::TrimHorizon, None),
        };
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard_id)
            .shard_iterator_type(start)
            .set_sequence_number(after.cloned())
            .send()
            .await?
            .shard_iterator;
        let mut batch: Vec<Value> = Vec::new();
        let mut first_at: Option<Instant> = None;
        while let Some(it) = iterator.take() {
            let room = (mapping.batch_size - batch.len()).clamp(1, 1000) as i32;
            let out = streams
                .get_records()
                .shard_iterator(it)
                .limit(room)
                .send()
                .await?;
            let got = out.records().len();
            for r in out.records() {
                batch.push(lambda_record(r, &arn));
            }
            if !batch.is_empty() && first_at.is_none() {
                first_at = Some(Instant::now());
            }
            let full = batch.len() >= mapping.batch_size;
            let waited = first_at.is_some_and(|t| t.elapsed() >= mapping.batching_window);
            if full || (waited && !batch.is_empty()) {
                let last = sequence_number(batch.last());
                deliver(mapping, invoker, &arn, shard_id, std::mem::take(&mut batch)).await;
                if !last.is_empty() {
                    checkpoints.insert(shard_id.to_string(), Checkpoint::After(last));
                }
                first_at = None;
            }
            iterator = out.next_shard_iterator;
            if got == 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if !batch.is_empty() {
            deliver(mapping, invoker, &arn, shard_id, batch).await;
        }
        checkpoints.insert(shard_id.to_string(), Checkpoint::Done);
    }
    Ok(())
}

/// A Lambda stream record's sequence number ("" if it has none).
fn sequence_number(record: Option<&Value>) -> String {
    record
        .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Invokes the function with one batch, retrying it; past the retries,
/// records the failure on the dead-letter queue and moves on.
async fn deliver(
    mapping: &StreamMapping,
    invoker: &Invoker,
    arn: &str,
    shard_id: &str,
    records: Vec<Value>,
) {
    let event = json!({ "Records": records });
    let mut attempt = 0;
    loop {
        match invoker.invoke(mapping.function, &event).await {
            Ok(_) => {
                tracing::info!(
                    function = mapping.function,
                    records = records.len(),
                    "stream batch processed"
                );
                return;
            }
            Err(e) if attempt < mapping.max_retries => {
                attempt += 1;
                let backoff = Duration::from_millis(200 << attempt.min(5));
                tracing::warn!(
                    function = mapping.function,
                    attempt,
                    error = %format!("{e:#}"),
                    "stream batch failed; retrying the same batch"
                );
                tokio::time::sleep(backoff).await;
            }
            Err(e) => {
                let failure = json!({
                    "requestContext": {
                        "condition": "RetryAttemptsExhausted",
                        "approximateInvokeCount": attempt + 1,
                        "functionArn": crate::invoke::function_arn(&mapping.on_failure.region, mapping.function),
                    },
                    "responseContext": { "functionError": format!("{e:#}") },
                    "DDBStreamBatchInfo": {
                        "shardId": shard_id,
                        "streamArn": arn,
                        "startSequenceNumber": sequence_number(records.first()),
                        "endSequenceNumber": sequence_number(records.last()),
                        "batchSize": records.len(),
                    }
                });
                tracing::error!(
                    function = mapping.function,
                    "stream batch failed for good; recorded on the dead-letter queue"
                );
                mapping.on_failure.record(&failure).await;
                return;
            }
        }
    }
}

/// A `GetRecords` record as Lambda's event has it.
fn lambda_record(r: &Record, arn: &str) -> Value {
    let mut dynamodb = Map::new();
    if let Some(s) = &r.dynamodb {
        if let Some(t) = s.approximate_creation_date_time() {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(t.secs()));
        }
        let image = |m: &std::collections::HashMap<String, AttributeValue>| {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect())
        };
        if let Some(k) = s.keys() {
            dynamodb.insert("Keys".into(), image(k));
        }
        if let Some(n) = s.new_image() {
            dynamodb.insert("NewImage".into(), image(n));
        }
        if let Some(o) = s.old_image() {
            dynamodb.insert("OldImage".into(), image(o));
        }
        if let Some(seq) = s.sequence_number() {
            dynamodb.insert("SequenceNumber".into(), json!(seq));
        }
        if let Some(size) = s.size_bytes() {
            dynamodb.insert("SizeBytes".into(), json!(size));
        }
        if let Some(v) = s.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(v.as_str()));
        }
    }
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|e| e.as_str()),
        "eventVersion": r.event_version(),
        "eventSource": r.event_source(),
        "awsRegion": r.aws_region(),
        "dynamodb": dynamodb,
        "eventSourceARN": arn,
    })
}

/// An attribute value in DynamoDB's JSON.
fn attribute(v: &AttributeValue) -> Value {
    use base64::Engine;
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()))
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::M(m) => {
            json!({ "M": m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect::<Map<_, _>>() })
        }
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        _ => json!({ "NULL": true }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::Router;
    use std::sync::{Arc, Mutex};

    /// What the stand-in Invoke API received: when, and the event.
    type Calls = Arc<Mutex<Vec<(Instant, Value)>>>;

    /// A stand-in for the Invoke API of `cargo lambda watch` on a port of
    /// 127.0.0.1 whose function fails its first `failures` invocations
    /// (Lambda's `X-Amz-Function-Error`), then succeeds.
    async fn invoke_api(calls: Calls, failures: usize) -> String {
        async fn invoke(
            State((calls, failures)): State<(Calls, usize)>,
            body: String,
        ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
            let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let n = {
                let mut c = calls.lock().unwrap();
                c.push((Instant::now(), event));
                c.len()
            };
            if n <= failures {
                (
                    StatusCode::OK,
                    [("x-amz-function-error", "Unhandled")],
                    json!({"errorType": "Boom", "errorMessage": format!("failure {n}")})
                        .to_string(),
                )
            } else {
                (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    "{}".to_string(),
                )
            }
        }
        let app = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state((calls, failures));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// A dead-letter queue nothing may be sent to: no endpoint answers it,
    /// so a record would be retried forever (the test times out instead).
    fn unused_dead_letters() -> DeadLetters {
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        DeadLetters {
            sqs,
            queue_url: "http://127.0.0.1:9/123456789012/unused".into(),
            region: "us-east-1".into(),
        }
    }

    /// Pins the retry half of [`deliver`]: a failed batch is invoked again
    /// with the very same event (the same records, in the same order), each
    /// retry after a longer wait than the one before (400 ms, then 800 ms),
    /// and once it succeeds nothing more happens: no further invocation and
    /// no dead letter (sending one would hang, and the timeout fail this).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_is_retried_unchanged_with_growing_backoff_until_it_succeeds() {
        let calls = Calls::default();
        let invoker = Invoker::at(invoke_api(calls.clone(), 2).await);
        let mapping = StreamMapping {
            function: "export-writer",
            batch_size: 10,
            batching_window: Duration::from_secs(1),
            max_retries: 5,
            on_failure: unused_dead_letters(),
        };
        let records = vec![
            json!({"eventID": "1", "eventName": "INSERT", "dynamodb": {"SequenceNumber": "100"}}),
            json!({"eventID": "2", "eventName": "MODIFY", "dynamodb": {"SequenceNumber": "101"}}),
        ];
        tokio::time::timeout(
            Duration::from_secs(30),
            deliver(
                &mapping,
                &invoker,
                "arn:aws:dynamodb:us-east-1:123456789012:table/media/stream/x",
                "shard-1",
                records.clone(),
            ),
        )
        .await
        .expect("the batch is delivered on its third attempt, with no dead letter");

        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 3, "two failures, then the success");
        let event = json!({ "Records": records });
        for (i, (_, got)) in calls.iter().enumerate() {
            assert_eq!(got, &event, "attempt {} got another event", i + 1);
        }
        for (i, pair) in calls.windows(2).enumerate() {
            let gap = pair[1].0 - pair[0].0;
            let backoff = Duration::from_millis(400 << i);
            assert!(
                gap >= backoff,
                "retry {} came {gap:?} after the attempt before it, not after {backoff:?}",
                i + 1
            );
        }
    }
}
