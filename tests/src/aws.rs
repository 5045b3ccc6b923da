//! Real SDK clients pointed at a [`MotoServer`], and the resources a test
//! needs, created through the real APIs.

use crate::moto::MotoServer;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

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

/// Creates the media table (key `name`, on-demand).
pub async fn create_media_table(sdk: &aws_config::SdkConfig, table: &str) {
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("name")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("name")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
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
