//! The Worker's SigV4 signatures, verified by moto with authentication on:
//! the right key reads the snapshot and DynamoDB; a wrong secret gets 403
//! from both, which the Worker reports as a 503.

use media_query_domain::{MediaRecord, MediaType, OrderKey};
use media_query_lambda::handlers::export::write_snapshot;
use media_query_lambda::handlers::writer::SnapshotTarget;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_tests::aws;
use media_query_tests::moto::{start_moto, JsonCall};
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use std::process::Command;

/// An IAM user with an allow-all policy and an access key, via boto3
/// (installed with moto), while moto still accepts unsigned calls.
fn create_iam_key(endpoint: &str) -> (String, String) {
    let script = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="edge")
doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
arn = iam.create_policy(PolicyName="all", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
iam.attach_user_policy(UserName="edge", PolicyArn=arn)
key = iam.create_access_key(UserName="edge")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
    let out = Command::new("python3")
        .args(["-c", script, endpoint])
        .output()
        .expect("run python3 with boto3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut parts = text.split_whitespace();
    (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_verifies_the_worker_signatures() {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, "media").await;
    aws::create_bucket(&sdk, "exports").await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "media");
    for name in ["signed.jpg", "only-in-dynamo.png"] {
        let mut r = MediaRecord::ready(name, MediaType::Image, vec!["Dog".into()]);
        r.event_order = Some(OrderKey::from_sequencer("1").unwrap());
        store.put_if_newer(&r).await.unwrap();
        if name == "signed.jpg" {
            let target = SnapshotTarget {
                bucket: "exports".into(),
                prefix: "edge".into(),
                table_arn: "t".into(),
                gc_grace_seconds: 0,
            };
            write_snapshot(&store, &target.s3_bucket(&aws::s3_client(&sdk)), &target)
                .await
                .unwrap();
        }
    }
    let (key_id, secret) = create_iam_key(&moto.endpoint());
    let resp = media_query_tests::http_client()
        .post(format!("{}/moto-api/reset-auth", moto.endpoint()))
        .header("Content-Type", "text/plain")
        .body("0")
        .send()
        .await
        .expect("turn moto's authentication on");
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = moto
        .json_call("DynamoDB_20120810.ListTables", &serde_json::json!({}))
        .await;
    assert_eq!(
        status, 403,
        "authentication is on: a bad signature is refused"
    );

    let vars = |secret: &str| {
        vec![
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
            ("MEDIA_TABLE_NAME", "media".to_string()),
            ("SNAPSHOT_BUCKET", "exports".to_string()),
            ("SNAPSHOT_PREFIX", "edge".to_string()),
            ("SNAPSHOT_TTL_SECONDS", "60".to_string()),
        ]
    };
    let good = start_wrangler_dev(&vars(&secret));
    let a = good.get("/").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("snapshot")),
        "{}",
        a.body
    );
    let a = good.get("/only-in-dynamo.png").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb")),
        "{}",
        a.body
    );
    drop(good);

    let bad = start_wrangler_dev(&vars("not-the-secret"));
    let a = bad.get("/").await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(bad.get("/signed.jpg").await.status, 503);
}
