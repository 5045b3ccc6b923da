//! The HTTP endpoint SNS delivers to: how S3's notifications and the
//! Rekognition job topic reach the functions locally.
//!
//! In AWS, S3 and SNS invoke the functions asynchronously themselves
//! (template.yaml's `S3` and `SNS` events). moto cannot invoke a function
//! that runs outside it, but its SNS delivers to HTTP subscribers, and its
//! S3 notifies SNS topics. So the bucket notifies one topic per event kind
//! ([`crate::resources`]), each topic has an HTTP subscription to
//! `POST /events/{function}` here, and this endpoint hands the event to
//! the function's asynchronous invocation queue ([`crate::invoke`]).
//!
//! This replaced SQS queues read by pollers: moto's `ReceiveMessage` costs
//! in proportion to the queue's backlog, which made a burst of uploads
//! quadratic (BENCHMARKS.md, "Local ingest"). An HTTP push costs moto one
//! POST per event, whatever is queued.
//!
//! A delivery is answered once the event is queued, so moto's S3 request
//! waits while the queue is full: back-pressure, not loss.

use crate::invoke::{sns_event, AsyncEvent, AsyncFunction};
use anyhow::{Context, Result};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinSet;

/// What a topic's messages are, and so what the function is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// An S3 event notification: given as is, as S3 invokes a function.
    S3Event,
    /// Anything else: given as the SNS event Lambda builds.
    Sns,
}

#[derive(Clone)]
struct Subscriber {
    function: AsyncFunction,
    message: Message,
}

/// The functions that take deliveries, by name.
#[derive(Clone, Default)]
pub struct Subscribers(HashMap<&'static str, Subscriber>);

impl Subscribers {
    pub fn add(&mut self, function: AsyncFunction, message: Message) {
        self.0
            .insert(function.function(), Subscriber { function, message });
    }
}

/// The endpoint, listening.
pub struct Endpoint {
    addr: SocketAddr,
}

impl Endpoint {
    /// Serves `subscribers` on a free port of 127.0.0.1, on `tasks`.
    pub async fn start(subscribers: Subscribers, tasks: &mut JoinSet<()>) -> Result<Endpoint> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the notification endpoint")?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/events/{function}", post(delivery))
            .with_state(Arc::new(subscribers));
        tasks.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the notification endpoint stopped");
            }
        });
        Ok(Endpoint { addr })
    }

    /// The URL an HTTP subscription for `function` delivers to.
    pub fn url(&self, function: &str) -> String {
        format!("http://{}/events/{function}", self.addr)
    }
}

/// One SNS delivery (`Notification`, or a `SubscriptionConfirmation`).
async fn delivery(
    State(subscribers): State<Arc<Subscribers>>,
    Path(function): Path<String>,
    body: String,
) -> (StatusCode, String) {
    let Some(subscriber) = subscribers.0.get(function.as_str()) else {
        return (StatusCode::NOT_FOUND, format!("no function {function}"));
    };
    let envelope: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(function, error = %e, "an SNS delivery that is not JSON; ignored");
            return (StatusCode::BAD_REQUEST, format!("not JSON: {e}"));
        }
    };
    let field = |k: &str| envelope.get(k).and_then(Value::as_str).unwrap_or("");
    match field("Type") {
        "Notification" => {}
        "SubscriptionConfirmation" => return confirm(field("SubscribeURL")).await,
        other => {
            tracing::warn!(
                function,
                kind = other,
                "an SNS delivery of an unknown type; ignored"
            );
            return (StatusCode::BAD_REQUEST, format!("unknown Type {other:?}"));
        }
    }
    let payload = match subscriber.message {
        // A message that is not JSON is given as a string: the function
        // fails on it, and it ends on the dead-letter queue with its error.
        Message::S3Event => serde_json::from_str(field("Message"))
            .unwrap_or_else(|_| Value::String(field("Message").to_string())),
        Message::Sns => sns_event(&envelope),
    };
    let event = AsyncEvent {
        request_id: field("MessageId").to_string(),
        payload,
    };
    match subscriber.function.accept(event).await {
        Ok(()) => (StatusCode::OK, String::new()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Confirms a subscription by visiting its `SubscribeURL`, as SNS asks
/// of an HTTP subscriber (moto confirms its own; AWS sends this).
async fn confirm(url: &str) -> (StatusCode, String) {
    match reqwest::get(url).await.and_then(|r| r.error_for_status()) {
        Ok(_) => (StatusCode::OK, String::new()),
        Err(e) => {
            tracing::warn!(url, error = %e, "could not confirm an SNS subscription");
            (StatusCode::BAD_GATEWAY, e.to_string())
        }
    }
}
