//! Metrics in CloudWatch's Embedded Metric Format: one JSON line on
//! stdout, which Lambda's log delivery turns into metrics without a
//! `PutMetricData` call (so no extra permission and no extra latency).
//! Outside Lambda the line is just a log line.

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric of media-query.
pub const NAMESPACE: &str = "MediaQuery";

/// Emits `metrics` (name, value, CloudWatch unit) with the function's name
/// as their one dimension.
pub fn emit(metrics: &[(&str, f64, &str)]) {
    println!("{}", line(metrics, now_ms()));
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn line(metrics: &[(&str, f64, &str)], timestamp_ms: u64) -> Value {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("Function".into(), json!(function));
    for (name, value, _) in metrics {
        root.insert(name.to_string(), json!(value));
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_and_carries_each_metric() {
        let l = line(&[("LabelsStored", 3.0, "Count")], 1700000000000);
        let decl = &l["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decl["Namespace"], NAMESPACE);
        assert_eq!(decl["Metrics"][0]["Name"], "LabelsStored");
        assert_eq!(decl["Dimensions"][0][0], "Function");
        assert_eq!(l["LabelsStored"], 3.0);
        assert!(l["Function"].is_string());
    }
}
