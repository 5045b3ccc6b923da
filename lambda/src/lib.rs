//! The AWS side of media-query: one small binary per Lambda function, each
//! a thin entry point over the handlers here, which are testable without
//! the Lambda runtime.
//!
//! Read top-down:
//! * [`config`]: settings from environment variables (the workshop's names).
//! * [`store`]: the [`store::MediaStore`] trait, with a DynamoDB adapter and
//!   an in-memory one; every write is conditional on the event order.
//! * [`snapshot_bucket`]: the serving snapshot's bucket, read with the S3
//!   SDK, behind the domain's read engine.
//! * [`rekognition`]: the [`rekognition::Labeler`] trait and its Rekognition
//!   adapter (DetectLabels, StartLabelDetection, GetLabelDetection).
//! * [`handlers`]: what each function does with its event.
//! * [`iam`]: the IAM actions each SDK call needs, declared next to the
//!   call, and per function the calls its handler makes.
//! * [`convert`]: domain DynamoDB JSON to and from the SDK's types.
//! * [`spill`]: a bounded external sort, for rebuilding from a Scan.
//! * [`metrics`]: CloudWatch metrics as Embedded Metric Format log lines.
//!
//! AWS endpoints come only from the SDK's standard configuration
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_REKOGNITION`...), so the same
//! binaries run against AWS, moto, or the offline detector.

pub mod config;
pub mod convert;
pub mod handlers;
pub mod iam;
#[cfg(test)]
pub(crate) mod memory_bucket;
pub mod metrics;
pub mod rekognition;
pub mod s3_bucket;
pub mod snapshot_bucket;
pub mod spill;
pub mod store;

pub use media_query_domain as domain;

/// Structured logs: JSON on Lambda, human-readable elsewhere. `RUST_LOG`
/// sets the level (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().without_time().init();
    } else {
        builder.init();
    }
}

/// What every function sets up once per cold start: logging, settings,
/// the SDK configuration from the environment (region, credentials,
/// endpoints) and the media table.
pub struct ColdStart {
    pub config: config::Config,
    pub sdk: aws_config::SdkConfig,
    pub store: store::DynamoStore,
}

impl ColdStart {
    pub async fn load() -> Result<ColdStart, config::ConfigError> {
        init_tracing();
        let config = config::Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let store = store::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table);
        Ok(ColdStart { config, sdk, store })
    }

    /// Rekognition, through the SDK's endpoint settings.
    pub fn rekognition(&self) -> rekognition::Rekognition {
        rekognition::Rekognition::new(aws_sdk_rekognition::Client::new(&self.sdk))
    }
}
