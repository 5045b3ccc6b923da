//! Real SDK clients pointed at a [`MotoServer`], and the resources a test
//! needs, created through the real APIs.

use media_query_stack::launch::MotoServer;

/// SDK configuration for moto: its endpoint, a region, dummy credentials.
pub async fn sdk_config(moto: &MotoServer) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// Path-style S3 (moto on 127.0.0.1 has no virtual-host buckets).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// Creates the media table as the local stack does (see template.yaml).
pub async fn create_media_table(sdk: &aws_config::SdkConfig, table: &str) {
    media_query_stack::resources::create_media_table(&aws_sdk_dynamodb::Client::new(sdk), table)
        .await
        .expect("create the media table in moto");
}

pub async fn create_bucket(sdk: &aws_config::SdkConfig, bucket: &str) {
    s3_client(sdk)
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create a bucket in moto");
}

/// Puts an object into a moto bucket.
pub async fn put_object(sdk: &aws_config::SdkConfig, bucket: &str, key: &str, body: Vec<u8>) {
    s3_client(sdk)
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {e:?}"));
}

/// A Rekognition client for a `rekognition-local` server, as
/// `AWS_ENDPOINT_URL_REKOGNITION` would configure it.
pub fn rekognition_client(
    sdk: &aws_config::SdkConfig,
    server: &media_query_detector::RunningServer,
) -> aws_sdk_rekognition::Client {
    aws_sdk_rekognition::Client::from_conf(
        aws_sdk_rekognition::config::Builder::from(sdk)
            .endpoint_url(server.endpoint())
            .build(),
    )
}

/// An SNS topic with an SQS queue subscribed, to observe what is published.
pub struct TopicProbe {
    pub topic_arn: String,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl TopicProbe {
    pub async fn new(sdk: &aws_config::SdkConfig, name: &str) -> TopicProbe {
        let sns = aws_sdk_sns::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let topic_arn = sns
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{name}-probe"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap();
        let queue_arn =
            attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        TopicProbe {
            topic_arn,
            queue_url,
            sqs,
        }
    }

    /// The next published message (the SNS envelope's `Message`), waiting up to 30 s.
    pub async fn next_message(&self) -> serde_json::Value {
        for _ in 0..30 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            if let Some(m) = out.messages().first() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
                let envelope: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
                return serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
            }
        }
        panic!("nothing was published within 30 s");
    }
}

/// Smallest files that pass a format check: a JPEG/PNG header and an MP4 `ftyp` box.
pub mod media {
    pub const JPEG: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
    ];
    pub const MP4: &[u8] = &[
        0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'i', b's', b'o', b'm', 0, 0, 2, 0, b'i', b's',
        b'o', b'm',
    ];
}
