//! The AWS resources of the stack, created in moto through the real APIs.
//!
//! Lambda event sources do not exist locally, so notifications go where a
//! poller can read them: S3 `ObjectCreated`/`ObjectRemoved` to one SQS queue
//! each (moto's S3 notifications to SQS), and the Rekognition job topic to a
//! third queue through an SNS subscription. Messages that fail three times
//! move to a dead-letter queue, like Lambda's on-failure destination.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use media_query_domain::record::{attr, PENDING_INDEX};

/// Names of everything the stack creates.
#[derive(Debug, Clone)]
pub struct Names {
    pub bucket: String,
    pub table: String,
    pub export_bucket: String,
    pub export_prefix: String,
    pub video_topic: String,
    pub video_role_arn: String,
    pub created_queue: String,
    pub removed_queue: String,
    pub video_queue: String,
    pub dead_letter_queue: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            bucket: "media-query-media".into(),
            table: "media-query-media".into(),
            export_bucket: "media-query-export".into(),
            export_prefix: "edge-snapshot".into(),
            video_topic: "media-query-video".into(),
            video_role_arn: "arn:aws:iam::123456789012:role/media-query-video".into(),
            created_queue: "media-query-object-created".into(),
            removed_queue: "media-query-object-removed".into(),
            video_queue: "media-query-video-jobs".into(),
            dead_letter_queue: "media-query-failed".into(),
        }
    }
}

/// What was created: the ARNs and URLs the rest of the stack needs.
#[derive(Debug, Clone)]
pub struct Created {
    pub video_topic_arn: String,
    pub created_queue_url: String,
    pub removed_queue_url: String,
    pub video_queue_url: String,
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

pub async fn create(sdk: &SdkConfig, n: &Names) -> Result<Created> {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sns = aws_sdk_sns::Client::new(sdk);
    let ddb = aws_sdk_dynamodb::Client::new(sdk);

    create_media_table(&ddb, &n.table).await?;
    for bucket in [&n.bucket, &n.export_bucket] {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .with_context(|| format!("create bucket {bucket}"))?;
    }

    let dlq_url = queue(&sqs, &n.dead_letter_queue, None).await?;
    let dlq_arn = queue_arn(&sqs, &dlq_url).await?;
    // The pollers record a failed event on the dead-letter queue after its
    // retries (crate::poller); this redrive policy is only the backstop
    // should a poller be unable to, and moves the raw message.
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 10}).to_string();
    let created_url = queue(&sqs, &n.created_queue, Some(&redrive)).await?;
    let removed_url = queue(&sqs, &n.removed_queue, Some(&redrive)).await?;
    let video_url = queue(&sqs, &n.video_queue, Some(&redrive)).await?;

    let topic_arn = sns
        .create_topic()
        .name(&n.video_topic)
        .send()
        .await
        .context("create the video topic")?
        .topic_arn
        .context("topic ARN")?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn(&sqs, &video_url).await?)
        .send()
        .await
        .context("subscribe the video queue to the topic")?;

    let to_queue = |url_arn: String, event: Event| {
        QueueConfiguration::builder()
            .queue_arn(url_arn)
            .events(event)
            .build()
    };
    s3.put_bucket_notification_configuration()
        .bucket(&n.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(to_queue(
                    queue_arn(&sqs, &created_url).await?,
                    Event::S3ObjectCreated,
                )?)
                .queue_configurations(to_queue(
                    queue_arn(&sqs, &removed_url).await?,
                    Event::S3ObjectRemoved,
                )?)
                .build(),
        )
        .send()
        .await
        .context("route bucket notifications to SQS")?;

    Ok(Created {
        video_topic_arn: topic_arn,
        created_queue_url: created_url,
        removed_queue_url: removed_url,
        video_queue_url: video_url,
        dead_letter_queue_url: dlq_url,
    })
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str, redrive: Option<&str>) -> Result<String> {
    let mut req = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "30");
    if let Some(r) = redrive {
        req = req.attributes(QueueAttributeName::RedrivePolicy, r);
    }
    req.send()
        .await
        .with_context(|| format!("create queue {name}"))?
        .queue_url
        .context("queue URL")
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("queue ARN")
}
