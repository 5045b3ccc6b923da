//! The `Schedule` event sources of template.yaml: EventBridge invoking a
//! function on a fixed rate.

use crate::invoke::Invoker;
use serde_json::json;
use std::time::Duration;

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
            "time": media_query_domain::time::iso8601_millis(crate::invoke::now_ms()),
            "detail": {},
        });
        match invoker.invoke(function, &event).await {
            Ok(result) => tracing::info!(function, %result, "scheduled run done"),
            Err(e) => tracing::error!(function, error = %format!("{e:#}"), "scheduled run failed"),
        }
    }
}
