//! The workshop walkthrough (Parts 2-7 of the Chalice workshop), scripted
//! against the one-command local stack, checking both the edge Worker and
//! the Lambda read API after every step.
//!
//! Uploads and deletions go through the plain S3 API, exactly as a user
//! would with `aws s3 cp`; nothing calls a function directly. Labels come
//! from rekognition-local's offline model, so real photos get real labels.

use media_query_stack::{Labels, Stack, StackOptions};
use media_query_tests::{photos, repo_root};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);

struct Walk {
    stack: Stack,
    s3: aws_sdk_s3::Client,
    http: reqwest::Client,
}

impl Walk {
    /// Both public URLs: the Worker first, then the Lambda API.
    fn urls(&self) -> Vec<String> {
        let mut urls = Vec::new();
        urls.extend(self.stack.env.edge_url.clone());
        urls.push(self.stack.env.api_url.clone());
        urls
    }

    async fn get(&self, base: &str, path_and_query: &str) -> (u16, Value) {
        let url = format!("{}{}", base.trim_end_matches('/'), path_and_query);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("GET {url}: not JSON: {text}"));
        (status, body)
    }

    /// Polls every URL until `check` holds for the answer, or fails with the last answer.
    async fn eventually(&self, what: &str, path: &str, check: impl Fn(u16, &Value) -> bool) {
        for base in self.urls() {
            let start = Instant::now();
            loop {
                let (status, body) = self.get(&base, path).await;
                if check(status, &body) {
                    break;
                }
                assert!(
                    start.elapsed() < WAIT,
                    "{what}: {base}{path} still answers {status} {body} after {WAIT:?} (logs in {})",
                    self.stack.env.logs.display()
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }

    async fn upload(&self, key: &str, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.stack.env.media_bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload {key}: {e:?}"));
    }

    async fn delete(&self, key: &str) {
        self.s3
            .delete_object()
            .bucket(&self.stack.env.media_bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("delete {key}: {e:?}"));
    }
}

fn names(body: &Value) -> Vec<String> {
    body.as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn has_labels(item: &Value, wanted: &[&str]) -> bool {
    let labels = item["labels"].as_array().cloned().unwrap_or_default();
    wanted.iter().all(|w| labels.iter().any(|l| l == w))
}

fn not_found(name: &str) -> Value {
    json!({"Code": "NotFoundError", "Message": format!("NotFoundError: Media file ({name}) not found")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workshop_walkthrough_on_the_local_stack() {
    let mut opts = StackOptions::new(repo_root());
    opts.labels = Labels::Model;
    opts.state_dir =
        std::env::temp_dir().join(format!("media-query-walkthrough-{}", std::process::id()));
    let stack = Stack::start(&opts).await.expect("the local stack starts");
    assert!(
        stack.env.edge_url.is_some(),
        "the walkthrough needs the edge"
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(stack.env.region.clone()))
        .endpoint_url(&stack.env.aws_endpoint_url)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let walk = Walk {
        stack,
        s3,
        http: reqwest::Client::new(),
    };
    let sdk = &sdk;

    // Part 4: an uploaded image is labelled automatically: a cat photo.
    walk.upload("sample.jpg", photos::jpeg("chelsea.png")).await;
    walk.eventually("sample.jpg is labelled", "/sample.jpg", |s, b| {
        s == 200
            && b["type"] == "image"
            && b["name"] == "sample.jpg"
            && has_labels(b, &["Cat", "Animal"])
    })
    .await;

    // ...and a motorcycle.
    walk.upload("othersample.jpg", photos::jpeg("motorcycle_left.png"))
        .await;
    walk.eventually("both images listed", "/", |s, b| {
        s == 200 && names(b) == ["othersample.jpg", "sample.jpg"]
    })
    .await;

    // Part 6: the query API; real labels tell the two photos apart.
    walk.eventually("label filter", "/?label=Cat", |s, b| {
        s == 200 && names(b) == ["sample.jpg"]
    })
    .await;
    walk.eventually("label filter", "/?label=Motorcycle", |s, b| {
        s == 200 && names(b) == ["othersample.jpg"]
    })
    .await;
    walk.eventually("unknown label", "/?label=NoSuchLabel", |s, b| {
        s == 200 && names(b).is_empty()
    })
    .await;
    walk.eventually("startswith", "/?startswith=sample", |s, b| {
        s == 200 && names(b) == ["sample.jpg"]
    })
    .await;
    walk.eventually("media-type", "/?media-type=image", |s, b| {
        s == 200 && names(b).len() == 2
    })
    .await;
    walk.eventually("bad media-type", "/?media-type=audio", |s, b| {
        s == 400 && b["Code"] == "BadRequestError"
    })
    .await;
    walk.eventually("missing item", "/noexists.jpg", |s, b| {
        s == 404 && *b == not_found("noexists.jpg")
    })
    .await;

    // Part 5: deleting an object removes its item.
    walk.delete("othersample.jpg").await;
    walk.eventually("deleted image 404", "/othersample.jpg", |s, b| {
        s == 404 && *b == not_found("othersample.jpg")
    })
    .await;
    walk.eventually("deleted image unlisted", "/", |s, b| {
        s == 200 && names(b) == ["sample.jpg"]
    })
    .await;

    // Part 7: videos go through the Rekognition job and SNS.
    // Two seconds of the cat, then two of an espresso.
    walk.upload(
        "sample.mp4",
        photos::video(&["chelsea.png", "coffee.png"], 2),
    )
    .await;
    walk.eventually("video labelled", "/sample.mp4", |s, b| {
        s == 200 && b["type"] == "video" && has_labels(b, &["Cat", "Espresso"])
    })
    .await;
    walk.eventually("video filter", "/?media-type=video", |s, b| {
        s == 200 && names(b) == ["sample.mp4"]
    })
    .await;
    walk.delete("sample.mp4").await;
    walk.eventually("deleted video 404", "/sample.mp4", |s, b| {
        s == 404 && *b == not_found("sample.mp4")
    })
    .await;

    dead_letters_are_recorded_and_redriven(&walk, sdk).await;
    walk.stack.stop().await;
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An event that keeps failing ends on the dead-letter queue as Lambda's
/// invocation record, with its error; `scripts/redrive.sh` gives a
/// recorded event back to its function, keeping what fails again.
async fn dead_letters_are_recorded_and_redriven(walk: &Walk, sdk: &aws_config::SdkConfig) {
    let env = &walk.stack.env;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    // A message object-created cannot handle, on the topic S3 notifies.
    let sns = aws_sdk_sns::Client::new(sdk);
    let created_topic = sns
        .create_topic() // idempotent: the ARN of the stack's topic
        .name(media_query_stack::resources::Names::default().created_topic)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.publish()
        .topic_arn(&created_topic)
        .message(json!({"not": "an S3 event"}).to_string())
        .send()
        .await
        .unwrap();
    // Tried three times (1 + MaximumRetryAttempts), then recorded.
    let start = Instant::now();
    let record = loop {
        let got = sqs
            .receive_message()
            .queue_url(&env.failed_events_queue_url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            break serde_json::from_str::<Value>(m.body().unwrap()).unwrap();
        }
        assert!(start.elapsed() < WAIT, "no dead letter after {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
    assert!(record["requestContext"]["functionArn"]
        .as_str()
        .unwrap()
        .ends_with(":function:object-created"));
    assert_eq!(record["requestPayload"], json!({"not": "an S3 event"}));
    let reason = record["responsePayload"]["errorMessage"].as_str().unwrap();
    assert!(
        reason.contains("malformed"),
        "the reason is recorded: {reason}"
    );

    // An upload whose event was lost: S3's notifications are off while it
    // is uploaded; its record then lands on the queue as Lambda writes it.
    let bucket = &env.media_bucket;
    let notifications = walk
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let restore = aws_sdk_s3::types::NotificationConfiguration::builder()
        .set_topic_configurations(notifications.topic_configurations)
        .build();
    walk.s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(aws_sdk_s3::types::NotificationConfiguration::builder().build())
        .send()
        .await
        .unwrap();
    walk.upload("redriven.jpg", photos::jpeg("chelsea.png"))
        .await;
    walk.s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(restore)
        .send()
        .await
        .unwrap();
    walk.eventually("a lost upload is not listed", "/redriven.jpg", |s, _| {
        s == 404
    })
    .await;
    let mut lost = record.clone();
    lost["requestPayload"] = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": env.region,
        "eventTime": media_query_domain::time::iso8601_millis(now_ms()), "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": env.media_bucket},
               "object": {"key": "redriven.jpg", "size": 1}}}]});
    sqs.send_message()
        .queue_url(&env.failed_events_queue_url)
        .message_body(lost.to_string())
        .send()
        .await
        .unwrap();

    let out = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/redrive.sh"))
        .envs(
            env.to_env_file()
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .output()
        .expect("run scripts/redrive.sh");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("2 message(s), 1 redriven, 1 kept") && out.status.code() == Some(1),
        "one message fails again and is kept: {stdout}{stderr}"
    );
    walk.eventually("redriven.jpg labelled again", "/redriven.jpg", |s, b| {
        s == 200 && has_labels(b, &["Cat"])
    })
    .await;
}
