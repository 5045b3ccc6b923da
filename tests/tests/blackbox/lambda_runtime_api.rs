//! The real function binaries, driven through the Lambda runtime API by
//! `cargo lambda watch`, against moto: what `cargo lambda invoke` does.

use media_query_stack::invoke::Invoker;
use media_query_tests::lambda_watch::{start_lambda_watch, FunctionUrls};
use media_query_tests::moto::{start_moto, JsonCall};
use serde_json::json;

#[tokio::test]
async fn functions_run_under_the_lambda_runtime_api() {
    let moto = start_moto();
    let (status, body) = moto
        .json_call(
            "DynamoDB_20120810.CreateTable",
            &json!({"TableName": "media", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("MEDIA_TABLE_NAME", "media".to_string()),
    ];
    let watch = start_lambda_watch(&env);
    let invoker = Invoker::at(watch.endpoint());

    let event = json!({"Records": [{"eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "media"}, "object": {"key": "holiday/caf%C3%A9+1.jpg", "size": 100}}}]});
    let created = invoker.call("object-created", &event).await.unwrap();
    assert!(!created.failed, "{}", created.body);
    assert_eq!(created.body["applied"], 1, "{}", created.body);

    let (status, body) = watch.get("read-api", "/holiday/caf%C3%A9%201.jpg").await;
    assert_eq!(status, 200, "{body}");
    let item: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(item["name"], "holiday/café 1.jpg");
    assert_eq!(item["type"], "image");

    let (status, body) = watch.get("read-api", "/?media-type=image").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, body) = watch.get("read-api", "/noexists.jpg").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"Code":"NotFoundError","Message":"NotFoundError: Media file (noexists.jpg) not found"}"#
    );

    // A malformed event fails the invocation: Lambda would retry it, then dead-letter it.
    let removed = invoker
        .call("object-removed", &json!({"not": "an event"}))
        .await
        .unwrap();
    assert!(removed.failed, "{}", removed.body);
    assert!(
        removed.body.to_string().contains("malformed event"),
        "{}",
        removed.body
    );
}
