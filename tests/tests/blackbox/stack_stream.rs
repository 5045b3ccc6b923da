//! The local stack's stand-in for Lambda's DynamoDB stream event source
//! mapping (`media_query_stack::table_stream`): the table's stream read from
//! moto over the real Streams API, batches handed to the real export
//! writer through the Invoke API of `cargo lambda watch`, failures
//! recorded on an SQS dead-letter queue in moto, and redriven with
//! `scripts/redrive.sh`.
//!
//! The reader is started here, as `Stack::start` starts it, so that its
//! clients can go through fault proxies: one in front of the Invoke API
//! records every invocation and when it arrived; one in front of moto makes
//! the Streams API fail.

use media_query_domain::{MediaRecord, MediaType, OrderKey};
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::invoke::{DeadLetters, Invoker};
use media_query_stack::launch::{LambdaWatch, MotoServer};
use media_query_stack::table_stream::{poll_table_stream, StreamMapping};
use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use media_query_tests::lambda_watch::start_lambda_watch;
use media_query_tests::moto::start_moto;
use media_query_tests::{aws, repo_root};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TABLE: &str = "media";
const SNAPSHOT_BUCKET: &str = "exports";
const PREFIX: &str = "edge";
const WAIT: Duration = Duration::from_secs(120);
const EXPORT_WRITER_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:export-writer";

/// moto with the media table (and its stream) and the dead-letter queue.
struct World {
    moto: MotoServer,
    sdk: aws_config::SdkConfig,
    store: DynamoStore,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

async fn world() -> World {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, TABLE).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name("media-query-failed")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    World {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
        moto,
        sdk,
        sqs,
        queue_url,
    }
}

impl World {
    /// The export writer (and the other functions) under `cargo lambda
    /// watch`, writing the snapshot under `edge` in `exports`.
    fn functions(&self) -> LambdaWatch {
        start_lambda_watch(&[
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("MEDIA_TABLE_NAME", TABLE.to_string()),
            ("SNAPSHOT_BUCKET", SNAPSHOT_BUCKET.to_string()),
            ("SNAPSHOT_PREFIX", PREFIX.to_string()),
        ])
    }

    /// A labelled image, as object-created stores it.
    async fn put(&self, name: &str, label: &str, order: u32) {
        let mut r = MediaRecord::ready(name, MediaType::Image, vec![label.to_string()]);
        r.event_order = Some(OrderKey::from_sequencer(&format!("{order:X}")).unwrap());
        self.store.put_if_newer(&r).await.unwrap();
    }

    fn dead_letters(&self) -> DeadLetters {
        DeadLetters {
            sqs: self.sqs.clone(),
            queue_url: self.queue_url.clone(),
            region: "us-east-1".into(),
        }
    }

    /// Starts reading the table's stream, as `Stack::start` does, with the
    /// Streams API at `streams_endpoint` and the functions at `invoke_url`.
    fn read_stream(
        &self,
        streams_endpoint: &str,
        invoke_url: String,
        mapping: StreamMapping,
    ) -> tokio::task::JoinHandle<()> {
        let streams = aws_sdk_dynamodbstreams::Client::new(
            &self.sdk.to_builder().endpoint_url(streams_endpoint).build(),
        );
        tokio::spawn(poll_table_stream(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            streams,
            TABLE.to_string(),
            mapping,
            Invoker::at(invoke_url),
        ))
    }

    /// The messages on the dead-letter queue (left visible), as JSON.
    async fn dead_letter_records(&self) -> Vec<Value> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        got.messages()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
            .collect()
    }

    /// The names the read API lists from the published serving snapshot,
    /// checked to come from the snapshot, not the table.
    async fn served(&self) -> Vec<String> {
        let api = ReadApi::new(
            &self.store,
            SnapshotBucket::new(aws::s3_client(&self.sdk), Some(SNAPSHOT_BUCKET.into())),
            PREFIX,
            0,
        );
        let reply = api.respond("GET", "/", Some("limit=100"), None).await;
        assert_eq!(
            (reply.status, reply.header("x-media-source")),
            (200, Some("snapshot")),
            "{}",
            reply.body
        );
        serde_json::from_str::<Value>(&reply.body)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Polls `check` every 100 ms until it holds, or fails saying `what`.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < WAIT, "{what}: not after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sequence(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a sequence number: {v}"))
}

/// Pins the failure path of the stream mapping and the stream-batch branch
/// of `scripts/redrive.sh`. While the export writer fails (its bucket does
/// not exist), a batch of two stream records is invoked 1 + `max_retries`
/// times, each retry after a longer wait than the one before (at least
/// 400 ms, 800 ms, 1.6 s); then exactly one record goes to the
/// dead-letter queue, as the template's `OnFailure` destination writes it
/// (`RetryAttemptsExhausted`, the invoke count, the function's ARN and
/// error, and `DDBStreamBatchInfo` with the stream, the shard, the batch
/// size and its sequence-number range, not the records); and the shard
/// moves on (no further invocation). Once the bucket exists, redrive.sh
/// runs the export writer's reconciliation once for the batch, deletes
/// the message, and exits 0; the snapshot then serves both records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_keeps_failing_is_retried_with_backoff_then_dead_lettered_and_redriven() {
    let w = world().await;
    // The export bucket is missing: every run of the export writer fails.
    let watch = w.functions();
    let warm = Invoker::at(watch.endpoint())
        .call("export-writer", &json!({}))
        .await
        .expect("the Invoke API answers");
    assert!(
        warm.failed,
        "without its bucket the export writer fails: {}",
        warm.body
    );
    let invokes = FaultProxy::start(&watch.endpoint());
    let export_writer = Match::lambda_invoke("export-writer");

    w.put("a.jpg", "Dog", 1).await;
    w.put("b.jpg", "Cat", 2).await;
    let stream_arn = aws_sdk_dynamodb::Client::new(&w.sdk)
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let reader = w.read_stream(
        &w.moto.endpoint(),
        invokes.endpoint(),
        StreamMapping {
            function: "export-writer",
            batch_size: 100,
            batching_window: Duration::from_secs(1),
            max_retries: 3,
            on_failure: w.dead_letters(),
        },
    );

    let start = Instant::now();
    let record = loop {
        if let Some(r) = w.dead_letter_records().await.into_iter().next() {
            break r;
        }
        assert!(
            start.elapsed() < WAIT,
            "no dead letter after {WAIT:?}; invocations: {:?}",
            invokes.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let context = &record["requestContext"];
    assert_eq!(context["condition"], "RetryAttemptsExhausted", "{record}");
    assert_eq!(context["approximateInvokeCount"], 4, "{record}");
    assert_eq!(context["functionArn"], EXPORT_WRITER_ARN, "{record}");
    let error = record["responseContext"]["functionError"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.starts_with("export-writer failed"),
        "the function's error is recorded: {record}"
    );
    let info = &record["DDBStreamBatchInfo"];
    assert_eq!(info["batchSize"], 2, "one batch of both records: {record}");
    assert_eq!(info["streamArn"], json!(stream_arn), "{record}");
    assert!(
        info["shardId"].as_str().is_some_and(|s| !s.is_empty()),
        "{record}"
    );
    assert_eq!(
        sequence(&info["endSequenceNumber"]) - sequence(&info["startSequenceNumber"]),
        1,
        "the batch's first and last records: {record}"
    );
    assert!(
        record.get("requestPayload").is_none(),
        "the records themselves are not in it: {record}"
    );

    // The same batch, 1 + 3 times, with a growing wait before each retry.
    let arrivals = invokes.arrivals(&export_writer);
    assert_eq!(arrivals.len(), 4, "{:?}", invokes.log());
    for (i, pair) in arrivals.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let backoff = Duration::from_millis(400 << i);
        assert!(
            gap >= backoff,
            "retry {} came {gap:?} after the attempt before it, not after {backoff:?}",
            i + 1
        );
    }
    // The shard moved on: the batch is not tried again, nor recorded twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(invokes.arrivals(&export_writer).len(), 4);
    assert_eq!(w.dead_letter_records().await.len(), 1);

    // The cause is fixed; the dead-letter queue is redriven.
    aws::create_bucket(&w.sdk, SNAPSHOT_BUCKET).await;
    let out = tokio::process::Command::new("bash")
        .arg(repo_root().join("scripts/redrive.sh"))
        .env("FAILED_EVENTS_QUEUE_URL", w.queue_url.as_str())
        .env("AWS_ENDPOINT_URL", w.moto.endpoint())
        .env("AWS_ENDPOINT_URL_LAMBDA", invokes.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .await
        .expect("run scripts/redrive.sh");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success()
            && stdout.contains(&format!("stream batch for {EXPORT_WRITER_ARN}: 2 records"))
            && stdout.contains(&format!(
                "reconciling {EXPORT_WRITER_ARN} (a full rebuild covers 1 failed batch(es))"
            ))
            && stdout.contains("redrive: 1 message(s), 1 redriven, 0 kept"),
        "the batch is redriven by one reconciliation: {}\n{stdout}{stderr}",
        out.status
    );
    assert_eq!(
        invokes.arrivals(&export_writer).len(),
        5,
        "one more run of the export writer: the reconciliation"
    );
    assert!(
        w.dead_letter_records().await.is_empty(),
        "the message is deleted"
    );
    assert_eq!(w.served().await, ["a.jpg", "b.jpg"]);
    reader.abort();
}

/// Pins the checkpoints of the stream reader: when reading the stream
/// fails mid-read (the Streams API's `GetRecords` answers 500, past the
/// SDK's retries, again and again), the reader keeps going and, once the
/// Streams API is back, resumes after the last record it had handed on,
/// not from the stream's start (TRIM_HORIZON): the two records delivered
/// before the outage are not delivered again, the one written during it is
/// delivered once, and the snapshot holds all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_of_the_stream_resumes_after_its_checkpoint() {
    let w = world().await;
    aws::create_bucket(&w.sdk, SNAPSHOT_BUCKET).await;
    let watch = w.functions();
    // The first run builds the function and publishes an empty snapshot.
    Invoker::at(watch.endpoint())
        .invoke("export-writer", &json!({}))
        .await
        .expect("the export writer runs");
    let invokes = FaultProxy::start(&watch.endpoint());
    let export_writer = Match::lambda_invoke("export-writer");
    let streams = FaultProxy::start(&w.moto.endpoint());
    let get_records = Match::dynamodb_streams("GetRecords");
    let get_iterator = Match::dynamodb_streams("GetShardIterator");

    w.put("a.jpg", "Dog", 1).await;
    w.put("b.jpg", "Cat", 2).await;
    // One record a batch: one invocation per record handed on.
    let reader = w.read_stream(
        &streams.endpoint(),
        invokes.endpoint(),
        StreamMapping {
            function: "export-writer",
            batch_size: 1,
            batching_window: Duration::from_secs(1),
            max_retries: 2,
            on_failure: w.dead_letters(),
        },
    );
    until("a.jpg and b.jpg are handed on", || {
        invokes.arrivals(&export_writer).len() >= 2
    })
    .await;
    assert_eq!(
        streams.seen(&get_iterator),
        1,
        "one read so far: {:?}",
        streams.log()
    );

    // The Streams API fails; the read fails, and is started again (a new
    // shard iterator), and fails again.
    streams.inject(Rule::always(Fault::ServerError, get_records.clone()));
    until("the failed read is started again twice", || {
        streams.seen(&get_iterator) >= 3
    })
    .await;
    assert!(streams.faulted(&get_records) >= 2, "{:?}", streams.log());
    // A change made during the outage; then the Streams API is back.
    w.put("c.jpg", "Owl", 3).await;
    streams.pass_through();
    until("c.jpg is handed on", || {
        invokes.arrivals(&export_writer).len() >= 3
    })
    .await;
    // Nothing is handed on again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        invokes.arrivals(&export_writer).len(),
        3,
        "a.jpg and b.jpg were handed on again: the read restarted from the stream's start"
    );
    assert!(
        w.dead_letter_records().await.is_empty(),
        "every batch succeeded"
    );
    assert_eq!(w.served().await, ["a.jpg", "b.jpg", "c.jpg"]);
    reader.abort();
}
