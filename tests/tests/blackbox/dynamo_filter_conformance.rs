//! The domain's Scan FilterExpression, run by a real DynamoDB API (moto),
//! must select exactly what `ListQuery::matches` selects in memory.
//!
//! This is the guarantee that the Worker (in memory, over a snapshot) and
//! the Lambda (server side, by Scan) answer `GET /` identically.

use media_query_domain::dynamo::Item;
use media_query_domain::{ListQuery, MediaRecord};
use media_query_tests::moto::{start_moto, JsonCall};
use serde_json::{json, Value};

const TABLE: &str = "media";

fn vectors() -> (Vec<Item>, Vec<String>) {
    let v: Value =
        serde_json::from_str(include_str!("../../../domain/vectors/filters.json")).unwrap();
    let items = serde_json::from_value(v["items"].clone()).unwrap();
    let queries = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["query"].as_str().unwrap().to_string())
        .collect();
    (items, queries)
}

#[tokio::test]
async fn scan_filter_selects_what_matches_selects() {
    let moto = start_moto();
    let (status, body) = moto
        .json_call(
            "DynamoDB_20120810.CreateTable",
            &json!({
                "TableName": TABLE,
                "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST"
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (items, queries) = vectors();
    let records: Vec<MediaRecord> = items
        .iter()
        .map(|i| MediaRecord::from_item(i).unwrap())
        .collect();
    for item in &items {
        let (status, body) = moto
            .json_call(
                "DynamoDB_20120810.PutItem",
                &json!({"TableName": TABLE, "Item": item}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    let mut checked = 0;
    for q in &queries {
        let query = ListQuery::from_query_string(q).unwrap();
        let filter = serde_json::to_value(query.scan_filter()).unwrap();
        let mut request = json!({"TableName": TABLE});
        for (k, v) in filter.as_object().unwrap() {
            // DynamoDB rejects an empty ExpressionAttributeValues map.
            if !(v.is_object() && v.as_object().unwrap().is_empty()) {
                request[k] = v.clone();
            }
        }
        let (status, body) = moto.json_call("DynamoDB_20120810.Scan", &request).await;
        assert_eq!(status, 200, "{q}: {body}");
        let mut from_dynamo: Vec<String> = body["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"]["S"].as_str().unwrap().to_string())
            .collect();
        from_dynamo.sort();
        let in_memory: Vec<String> = query.select(&records).into_iter().map(|i| i.name).collect();
        assert_eq!(from_dynamo, in_memory, "query `{q}`");
        checked += 1;
    }
    assert_eq!(checked, queries.len());
    assert!(checked >= 10, "too few queries checked: {checked}");
}
