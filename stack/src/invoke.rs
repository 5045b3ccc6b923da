//! Invoking the functions through the Lambda Invoke API that `cargo lambda
//! watch` serves: synchronously ([`Invoker`]), as the stream mapping, the
//! schedules and `scripts/redrive.sh` do, and asynchronously
//! ([`AsyncFunction`]), as S3 and SNS invoke a function in AWS.
//!
//! An asynchronous invocation is queued and answered at once; the queue is
//! drained by up to [`MAX_IN_FLIGHT`] invocations of the function at a
//! time (`cargo lambda watch` runs that many instances). A failed event is
//! retried [`ASYNC_RETRIES`] times (template.yaml's `MaximumRetryAttempts`)
//! after [`RETRY_DELAYS`]; then, as Lambda's on-failure destination does,
//! an invocation record (the event, the function and its error) goes to
//! the dead-letter queue, from where `scripts/redrive.sh` redrives it.
//!
//! Lambda keeps its queue of asynchronous events durably; this one is in
//! the stack's memory, [`QUEUED_EVENTS`] deep. When it is full, queuing
//! waits, which holds up the S3 request that sent the notification: a
//! burst slows the uploads down instead of dropping events. Events still
//! queued when the stack stops are lost with the rest of its state.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

/// Invocations of one function at once, as `cargo lambda watch
/// --concurrency` allows.
pub const MAX_IN_FLIGHT: usize = 20;
/// Asynchronous events waiting for an instance, per function.
pub const QUEUED_EVENTS: usize = 10_000;
/// Retries of a failed asynchronous invocation (template.yaml's
/// `EventInvokeConfig.MaximumRetryAttempts`; a test compares the two,
/// `tests/src/template_agreement.rs`).
pub const ASYNC_RETRIES: u32 = 2;
/// Before each retry. Lambda waits about a minute, then two; locally,
/// seconds, so a failure reaches the dead-letter queue while you watch.
pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];
/// Functions that run at most this many invocations at a time, whatever
/// invokes them: template.yaml's `ReservedConcurrentExecutions`, which
/// Lambda enforces across every source (the stream mapping, schedules,
/// direct invokes). The export writer must: two writers of the serving
/// snapshot at once make one of them lose its publish and retry. A test
/// compares this table with the template (`tests/src/template_agreement.rs`).
pub const RESERVED_CONCURRENCY: [(&str, usize); 2] = [("export-writer", 1), ("pending-sweeper", 1)];
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
/// Invokes functions through the Lambda Invoke API of `cargo lambda watch`,
/// each within its [`RESERVED_CONCURRENCY`] (clones share it).
#[derive(Clone)]
pub struct Invoker {
    http: reqwest::Client,
    base: String,
    reserved: Arc<HashMap<&'static str, Arc<Semaphore>>>,
}

impl Invoker {
    pub fn new(invoke_port: u16) -> Invoker {
        Invoker::at(format!("http://127.0.0.1:{invoke_port}"))
    }

    /// Invoking the Invoke API at `base`.
    pub fn at(base: String) -> Invoker {
        let reserved = RESERVED_CONCURRENCY
            .iter()
            .map(|&(function, n)| (function, Arc::new(Semaphore::new(n))))
            .collect();
        Invoker {
            http: reqwest::Client::new(),
            base,
            reserved: Arc::new(reserved),
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

    /// Invokes `function` synchronously; its answer, failed or not. A
    /// function at its reserved concurrency is waited for, as Lambda's
    /// pollers and retries wait out its throttling.
    pub async fn call(&self, function: &str, payload: &Value) -> Result<Invocation> {
        let _slot = match self.reserved.get(function) {
            Some(slots) => Some(slots.clone().acquire_owned().await?),
            None => None,
        };
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

/// Wraps an SNS envelope (as SNS posts it to HTTP subscribers) into the
/// event Lambda gets from SNS.
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

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Where an event that failed for good is recorded: an SQS queue, as the
/// template's `OnFailure` destinations.
#[derive(Clone, Debug)]
pub struct DeadLetters {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    /// The region the records' ARNs name.
    pub region: String,
}

impl DeadLetters {
    /// Sends `record` to the queue. It must not be lost: while the queue
    /// is away, this keeps trying, backing off up to 10 s between tries.
    pub async fn record(&self, record: &Value) {
        let mut wait = Duration::from_millis(200);
        loop {
            let sent = self
                .sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(record.to_string())
                .send()
                .await;
            match sent {
                Ok(_) => return,
                Err(e) => {
                    tracing::error!(error = %e, "could not record the failed event; trying again in {wait:?}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

/// One asynchronous event: what the function gets, and the id its
/// invocation record carries (`requestContext.requestId`).
#[derive(Debug)]
pub struct AsyncEvent {
    pub request_id: String,
    pub payload: Value,
}

/// The queue of asynchronous invocations of one function.
#[derive(Clone)]
pub struct AsyncFunction {
    function: &'static str,
    queue: mpsc::Sender<AsyncEvent>,
}

impl AsyncFunction {
    /// Starts draining the function's queue on `tasks`.
    pub fn start(
        function: &'static str,
        invoker: Invoker,
        dead_letters: DeadLetters,
        tasks: &mut JoinSet<()>,
    ) -> AsyncFunction {
        let (queue, events) = mpsc::channel(QUEUED_EVENTS);
        tasks.spawn(drain(function, events, invoker, dead_letters));
        AsyncFunction { function, queue }
    }

    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Queues `event`, waiting while the queue is full. An error only if
    /// the stack is stopping.
    pub async fn accept(&self, event: AsyncEvent) -> Result<()> {
        self.queue
            .send(event)
            .await
            .map_err(|_| anyhow::anyhow!("{} no longer takes events", self.function))
    }
}

/// Takes events off the queue as instances come free; each event is then
/// seen through to success or to its dead letter by a task of its own.
async fn drain(
    function: &'static str,
    mut events: mpsc::Receiver<AsyncEvent>,
    invoker: Invoker,
    dead_letters: DeadLetters,
) {
    let instances = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut running = JoinSet::new();
    while let Some(event) = events.recv().await {
        // Wait for a free instance before taking the next event, so that
        // the backlog stays in the bounded queue.
        let Ok(first) = instances.clone().acquire_owned().await else {
            return;
        };
        let (invoker, dead_letters, instances) =
            (invoker.clone(), dead_letters.clone(), instances.clone());
        running.spawn(async move {
            deliver(function, event, first, &instances, &invoker, &dead_letters).await
        });
        // Reap the finished ones, so the set does not grow with the run.
        while running.try_join_next().is_some() {}
    }
}

/// Invokes `function` with the event until it succeeds or its retries are
/// spent; then records it on the dead-letter queue.
async fn deliver(
    function: &'static str,
    event: AsyncEvent,
    first: tokio::sync::OwnedSemaphorePermit,
    instances: &Arc<Semaphore>,
    invoker: &Invoker,
    dead_letters: &DeadLetters,
) {
    let mut first = Some(first);
    let mut attempts = 0;
    let error = loop {
        // An instance is held for the invocation only, not while waiting
        // to retry.
        let instance = match first.take() {
            Some(p) => p,
            None => match instances.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        attempts += 1;
        let answer = invoker.call(function, &event.payload).await;
        drop(instance);
        let error = match answer {
            Ok(a) if !a.failed => {
                tracing::info!(function, "event processed");
                return;
            }
            Ok(a) => a.body,
            Err(e) => json!({"errorType": "InvokeError", "errorMessage": format!("{e:#}")}),
        };
        if attempts > ASYNC_RETRIES {
            break error;
        }
        let delay = RETRY_DELAYS[(attempts as usize - 1).min(RETRY_DELAYS.len() - 1)];
        tracing::warn!(function, attempts, %error, "event failed; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
    };
    // Lambda's invocation record for an on-failure destination.
    let record = json!({
        "version": "1.0",
        "timestamp": media_query_domain::time::iso8601_millis(now_ms()),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": function_arn(&dead_letters.region, function),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event.payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": error,
    });
    tracing::error!(
        function,
        attempts,
        "event failed for good; recording it on the dead-letter queue"
    );
    dead_letters.record(&record).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, State};
    use axum::routing::post;
    use axum::Router;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Per function: invocations running now, and the most at once.
    type Running = Arc<Mutex<HashMap<String, (usize, usize)>>>;

    /// A stand-in for the Invoke API of `cargo lambda watch` on a port of
    /// 127.0.0.1: each invocation takes 100 ms.
    async fn invoke_api(running: Running) -> String {
        async fn invoke(
            State(running): State<Running>,
            Path(function): Path<String>,
        ) -> &'static str {
            {
                let mut r = running.lock().unwrap();
                let (now, max) = r.entry(function.clone()).or_default();
                *now += 1;
                *max = (*max).max(*now);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            running.lock().unwrap().get_mut(&function).unwrap().0 -= 1;
            "{}"
        }
        let app = Router::new()
            .route("/2015-03-31/functions/{function}/invocations", post(invoke))
            .with_state(running);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_function_runs_within_its_reserved_concurrency_whoever_invokes_it() {
        let running = Running::default();
        let invoker = Invoker::at(invoke_api(running.clone()).await);
        // The stream mapping, the schedule and redrive.sh each hold a clone.
        let mut calls = JoinSet::new();
        for i in 0..6 {
            for function in ["export-writer", "object-created"] {
                let invoker = invoker.clone();
                calls.spawn(async move { invoker.invoke(function, &json!({"i": i})).await });
            }
        }
        while let Some(answer) = calls.join_next().await {
            answer.unwrap().unwrap();
        }
        let r = running.lock().unwrap();
        assert_eq!(r["export-writer"].1, 1, "two export writers ran at once");
        assert!(r["object-created"].1 > 1, "{:?}", r["object-created"]);
    }
}
