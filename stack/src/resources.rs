//! The AWS resources of the stack, created in moto through the real APIs.
//!
//! Lambda event sources do not exist locally, so [`create`] makes what they
//! would read from: the bucket, the table with its stream, the Rekognition
//! job topic, one SNS topic per S3 event kind, and the dead-letter queue
//! of Lambda's on-failure destinations. Once the stack's notification
//! endpoint listens, [`subscribe`] gives each topic an HTTP subscription to
//! its function ([`crate::notifications`]) and has the bucket notify the
//! topics of `ObjectCreated` and `ObjectRemoved`.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_s3::types::{Event, NotificationConfiguration, TopicConfiguration};
use media_query_domain::record::{attr, PENDING_INDEX};

/// Names of everything the stack creates.
#[derive(Debug, Clone)]
pub struct Names {
    pub bucket: String,
    pub table: String,
    pub snapshot_bucket: String,
    pub snapshot_prefix: String,
    pub video_topic: String,
    pub video_role_arn: String,
    /// The topics the bucket notifies of `ObjectCreated` and `ObjectRemoved`.
    pub created_topic: String,
    pub removed_topic: String,
    pub dead_letter_queue: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            bucket: "media-query-media".into(),
            table: "media-query-media".into(),
            snapshot_bucket: "media-query-export".into(),
            snapshot_prefix: "edge-snapshot".into(),
            video_topic: "media-query-video".into(),
            video_role_arn: "arn:aws:iam::123456789012:role/media-query-video".into(),
            created_topic: "media-query-object-created".into(),
            removed_topic: "media-query-object-removed".into(),
            dead_letter_queue: "media-query-failed".into(),
        }
    }
}

/// What was created: the ARNs and URLs the rest of the stack needs.
#[derive(Debug, Clone)]
pub struct Created {
    pub video_topic_arn: String,
    pub created_topic_arn: String,
    pub removed_topic_arn: String,
    pub dead_letter_queue_url: String,
}

/// The media table as template.yaml declares it: key `name`, on demand,
/// the stream the export writer reads, and the sparse `pending` index the
/// pending sweeper reads.
pub async fn create_media_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<()> {
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
    };
    let hash_key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
    };
    ddb.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(attr::NAME, ScalarAttributeType::S)?)
        .attribute_definitions(attribute(attr::PENDING_SINCE, ScalarAttributeType::N)?)
        .key_schema(hash_key(attr::NAME)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(PENDING_INDEX)
                .key_schema(hash_key(attr::PENDING_SINCE)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?,
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()?,
        )
        .send()
        .await
        .context("create the media table")?;
    Ok(())
}

fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// Creates everything but the subscriptions; the table through
/// `dynamodb_sdk`, the rest through `sdk`.
pub async fn create(sdk: &SdkConfig, dynamodb_sdk: &SdkConfig, n: &Names) -> Result<Created> {
    let s3 = s3_client(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sns = aws_sdk_sns::Client::new(sdk);
    let ddb = aws_sdk_dynamodb::Client::new(dynamodb_sdk);

    create_media_table(&ddb, &n.table).await?;
    for bucket in [&n.bucket, &n.snapshot_bucket] {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .with_context(|| format!("create bucket {bucket}"))?;
    }
    let dead_letter_queue_url = sqs
        .create_queue()
        .queue_name(&n.dead_letter_queue)
        .send()
        .await
        .with_context(|| format!("create queue {}", n.dead_letter_queue))?
        .queue_url
        .context("queue URL")?;
    let topic = |name: String| {
        let sns = sns.clone();
        async move {
            sns.create_topic()
                .name(&name)
                .send()
                .await
                .with_context(|| format!("create topic {name}"))?
                .topic_arn
                .context("topic ARN")
        }
    };
    Ok(Created {
        video_topic_arn: topic(n.video_topic.clone()).await?,
        created_topic_arn: topic(n.created_topic.clone()).await?,
        removed_topic_arn: topic(n.removed_topic.clone()).await?,
        dead_letter_queue_url,
    })
}

/// Gives each topic (by ARN) an HTTP subscription to its URL, then has the
/// bucket notify the topics (S3 sends its `s3:TestEvent` through them then).
pub async fn subscribe(
    sdk: &SdkConfig,
    n: &Names,
    created: &Created,
    subscriptions: &[(String, String)],
) -> Result<()> {
    let sns = aws_sdk_sns::Client::new(sdk);
    for (topic, endpoint) in subscriptions {
        sns.subscribe()
            .topic_arn(topic)
            .protocol("http")
            .endpoint(endpoint)
            .send()
            .await
            .with_context(|| format!("subscribe {endpoint} to {topic}"))?;
    }
    let to_topic = |arn: &str, event: Event| {
        TopicConfiguration::builder()
            .topic_arn(arn)
            .events(event)
            .build()
    };
    s3_client(sdk)
        .put_bucket_notification_configuration()
        .bucket(&n.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .topic_configurations(to_topic(
                    &created.created_topic_arn,
                    Event::S3ObjectCreated,
                )?)
                .topic_configurations(to_topic(
                    &created.removed_topic_arn,
                    Event::S3ObjectRemoved,
                )?)
                .build(),
        )
        .send()
        .await
        .context("route bucket notifications to SNS")?;
    Ok(())
}
