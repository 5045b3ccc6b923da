//! Locally, this is what S3's and SNS's asynchronous invocations do in
//! AWS: read the queues, invoke the function with the event, delete the
//! message only when the function succeeded. A failed message becomes
//! visible again after the queue's visibility timeout and, after three
//! receives, moves to the dead-letter queue.
//!
//! AWS runs asynchronous invocations side by side, so each queue has
//! [`POLLERS_PER_QUEUE`] pollers, each invoking the function for the (up
//! to ten) messages it received at once; `cargo lambda watch` runs that
//! many instances of a function ([`MAX_IN_FLIGHT`]). The table's stream,
//! which keeps the serving snapshot current, is read by
//! [`crate::table_stream`].

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;

/// Pollers per queue.
pub const POLLERS_PER_QUEUE: usize = 2;
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
        if !status.is_success() || failed || body.get("errorType").is_some() {
            bail!("{function} failed ({status}): {body}");
        }
        Ok(body)
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

/// Polls one queue forever, invoking the function for the messages of a
/// receive concurrently.
pub async fn poll_queue(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    source: Source,
    invoker: Invoker,
) {
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match received {
            Ok(r) => r.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(queue = %queue_url, error = %e, "receive failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut running = tokio::task::JoinSet::new();
        for m in messages {
            let (sqs, queue_url, invoker) = (sqs.clone(), queue_url.clone(), invoker.clone());
            running.spawn(async move {
                let body = m.body.as_deref().unwrap_or("");
                let outcome = match source.event(body) {
                    Ok(event) => invoker.invoke(source.function(), &event).await,
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(_) => {
                        tracing::info!(function = source.function(), "event processed");
                        if let Some(handle) = m.receipt_handle {
                            let _ = sqs
                                .delete_message()
                                .queue_url(&queue_url)
                                .receipt_handle(handle)
                                .send()
                                .await;
                        }
                    }
                    Err(e) => tracing::error!(
                        function = source.function(),
                        error = %format!("{e:#}"),
                        "event failed; it will be retried, then dead-lettered"
                    ),
                }
            });
        }
        while running.join_next().await.is_some() {}
    }
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
            "time": media_query_domain::time::iso8601_millis(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis() as u64,
            ),
            "detail": {},
        });
        match invoker.invoke(function, &event).await {
            Ok(result) => tracing::info!(function, %result, "scheduled run done"),
            Err(e) => tracing::error!(function, error = %format!("{e:#}"), "scheduled run failed"),
        }
    }
}
