//! Locally, this is what S3's and SNS's asynchronous invocations do in
//! AWS: read the queues, invoke the function with the event, delete the
//! message once the function succeeded. A failed event is retried
//! [`ASYNC_RETRIES`] times (template.yaml's `MaximumRetryAttempts`), after
//! [`RETRY_DELAYS`]; then, as Lambda's on-failure destination does, an
//! invocation record (the event, the function and its error) goes to the
//! dead-letter queue, from where `scripts/redrive.sh` redrives it.
//!
//! AWS runs asynchronous invocations side by side, so each queue has
//! [`POLLERS_PER_QUEUE`] pollers, each invoking the function for the (up
//! to ten) messages it received at once; `cargo lambda watch` runs that
//! many instances of a function ([`MAX_IN_FLIGHT`]). The table's stream,
//! which keeps the serving snapshot current, is read by
//! [`crate::table_stream`].

use anyhow::{bail, Context, Result};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde_json::{json, Value};
use std::time::Duration;

/// Pollers per queue.
pub const POLLERS_PER_QUEUE: usize = 2;
/// Retries of a failed asynchronous invocation (template.yaml's
/// `EventInvokeConfig.MaximumRetryAttempts`).
pub const ASYNC_RETRIES: i32 = 2;
/// Before each retry. Lambda waits about a minute, then two; locally,
/// seconds, so a failure reaches the dead-letter queue while you watch.
pub const RETRY_DELAYS: [i32; 2] = [1, 2];
/// The account the local ARNs name (moto's default).
const ACCOUNT: &str = "123456789012";

/// The ARN an invocation record names a local function by.
pub fn function_arn(region: &str, function: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT}:function:{function}")
}

/// What an invocation answered.
pub struct Invocation {
    /// Whether the function failed (an error result, or no answer).
    pub failed: bool,
    /// Its result, or its error (`errorType`, `errorMessage`).
    pub body: Value,
}
/// Invocations of one function at once: every message of every poller.
pub const MAX_IN_FLIGHT: usize = POLLERS_PER_QUEUE * 10;

/// Invokes functions through the Lambda Invoke API of `cargo lambda watch`.
#[derive(Clone)]
pub struct Invoker {
    http: reqwest::Client,
    base: String,
}

impl Invoker {
    pub fn new(invoke_port: u16) -> Invoker {
        Invoker {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{invoke_port}"),
        }
    }

    /// Invokes `function` synchronously; an error if the function failed.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Value> {
        let answer = self.call(function, payload).await?;
        if answer.failed {
            bail!("{function} failed: {}", answer.body);
        }
        Ok(answer.body)
    }

    /// Invokes `function` synchronously; its answer, failed or not.
    pub async fn call(&self, function: &str, payload: &Value) -> Result<Invocation> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let resp = self
            .http
            .post(&url)
            .json(payload)
            .timeout(Duration::from_secs(900))
            .send()
            .await
            .with_context(|| format!("invoke {function}"))?;
        let status = resp.status();
        let failed = resp.headers().contains_key("x-amz-function-error");
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        Ok(Invocation {
            failed: !status.is_success() || failed || body.get("errorType").is_some(),
            body,
        })
    }
}

/// Which function a queue feeds, and how its messages become events.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// The SQS body is an S3 event notification, passed as is.
    S3Event(&'static str),
    /// The SQS body is an SNS envelope; the function gets an SNS event.
    SnsEnvelope(&'static str),
}

impl Source {
    fn function(self) -> &'static str {
        match self {
            Source::S3Event(f) | Source::SnsEnvelope(f) => f,
        }
    }

    fn event(self, body: &str) -> Result<Value> {
        let body: Value = serde_json::from_str(body).context("message body is JSON")?;
        Ok(match self {
            Source::S3Event(_) => body,
            Source::SnsEnvelope(_) => sns_event(&body),
        })
    }
}

/// Wraps an SNS-to-SQS envelope into the event Lambda gets from SNS.
pub fn sns_event(envelope: &Value) -> Value {
    let s = |k: &str| {
        envelope
            .get(k)
            .cloned()
            .unwrap_or(Value::String(String::new()))
    };
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{}:local", s("TopicArn").as_str().unwrap_or("")),
        "Sns": {
            "Type": s("Type"),
            "MessageId": s("MessageId"),
            "TopicArn": s("TopicArn"),
            "Subject": envelope.get("Subject").cloned().unwrap_or(Value::Null),
            "Message": s("Message"),
            "Timestamp": s("Timestamp"),
            "SignatureVersion": s("SignatureVersion"),
            "Signature": s("Signature"),
            "SigningCertUrl": s("SigningCertURL"),
            "UnsubscribeUrl": s("UnsubscribeURL"),
            "MessageAttributes": envelope.get("MessageAttributes").cloned().unwrap_or(json!({})),
        }
    }]})
}

/// One queue and what its messages go to.
#[derive(Clone)]
pub struct QueueFeed {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub source: Source,
    pub invoker: Invoker,
    /// The on-failure destination.
    pub dead_letter_queue_url: String,
    pub region: String,
}

/// Polls one queue forever, invoking the function for the messages of a
/// receive concurrently.
pub async fn poll_queue(feed: QueueFeed) {
    loop {
        let received = feed
            .sqs
            .receive_message()
            .queue_url(&feed.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
        let messages = match received {
            Ok(r) => r.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(queue = %feed.queue_url, error = %e, "receive failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut running = tokio::task::JoinSet::new();
        for m in messages {
            let feed = feed.clone();
            running.spawn(async move { deliver(&feed, m).await });
        }
        let mut done = Vec::new();
        while let Some(handled) = running.join_next().await {
            done.extend(handled.ok().flatten());
        }
        delete(&feed, done).await;
    }
}

/// One message: invoked; on failure left for a retry after a delay, or,
/// retries spent, recorded on the dead-letter queue. Returns its receipt
/// handle when it is done with (processed, or recorded), to be deleted.
async fn deliver(feed: &QueueFeed, m: Message) -> Option<String> {
    let function = feed.source.function();
    let body = m.body.as_deref().unwrap_or("");
    let (event, answer) = match feed.source.event(body) {
        Ok(event) => {
            let answer = feed.invoker.call(function, &event).await;
            (event, answer)
        }
        Err(e) => (Value::String(body.to_string()), Err(e)),
    };
    let error = match answer {
        Ok(a) if !a.failed => {
            tracing::info!(function, "event processed");
            return m.receipt_handle;
        }
        Ok(a) => a.body,
        Err(e) => json!({"errorType": "InvokeError", "errorMessage": format!("{e:#}")}),
    };
    let attempts: i32 = m
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    if attempts <= ASYNC_RETRIES {
        let delay = RETRY_DELAYS[(attempts - 1).clamp(0, 1) as usize];
        tracing::warn!(function, attempts, %error, "event failed; retrying in {delay} s");
        if let Some(handle) = &m.receipt_handle {
            let _ = feed
                .sqs
                .change_message_visibility()
                .queue_url(&feed.queue_url)
                .receipt_handle(handle)
                .visibility_timeout(delay)
                .send()
                .await;
        }
        return None;
    }
    // Lambda's invocation record for an on-failure destination.
    let record = json!({
        "version": "1.0",
        "timestamp": media_query_domain::time::iso8601_millis(now_ms()),
        "requestContext": {
            "requestId": m.message_id.clone().unwrap_or_default(),
            "functionArn": function_arn(&feed.region, function),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": error,
    });
    tracing::error!(
        function,
        attempts,
        "event failed for good; recorded on the dead-letter queue"
    );
    let sent = feed
        .sqs
        .send_message()
        .queue_url(&feed.dead_letter_queue_url)
        .message_body(record.to_string())
        .send()
        .await;
    match sent {
        Ok(_) => m.receipt_handle,
        Err(e) => {
            tracing::error!(error = %e, "could not record the failed event; it stays queued");
            None
        }
    }
}

/// Deletes the messages of one receive that are done with, in one
/// `DeleteMessageBatch` (up to ten, as one receive returns), as Lambda's
/// pollers do. One that fails to be deleted comes back after its
/// visibility timeout: a replay, which changes nothing.
async fn delete(feed: &QueueFeed, handles: Vec<String>) {
    use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
    for chunk in handles.chunks(10) {
        let entries = chunk.iter().enumerate().filter_map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
                .ok()
        });
        let deleted = feed
            .sqs
            .delete_message_batch()
            .queue_url(&feed.queue_url)
            .set_entries(Some(entries.collect()))
            .send()
            .await;
        match deleted {
            Ok(out) if !out.failed.is_empty() => {
                tracing::warn!(
                    failed = out.failed.len(),
                    "some processed messages were not deleted; they will be replayed"
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "deleting processed messages failed; they will be replayed")
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Invokes `function` every `period` with an EventBridge scheduled event,
/// as a `Schedule` event source in template.yaml does (the first time
/// after one period). A failed run is logged; the next one comes anyway.
pub async fn on_schedule(invoker: Invoker, function: &'static str, period: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticks.tick().await;
        let event = json!({
            "version": "0",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": media_query_domain::time::iso8601_millis(now_ms()),
            "detail": {},
        });
        match invoker.invoke(function, &event).await {
            Ok(result) => tracing::info!(function, %result, "scheduled run done"),
            Err(e) => tracing::error!(function, error = %format!("{e:#}"), "scheduled run failed"),
        }
    }
}
