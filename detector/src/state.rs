//! What every request handler shares: the configuration, the AWS clients,
//! the video jobs, and the limit on model runs at a time.

use crate::jobs::Jobs;
use crate::labeler::Labeler;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub labeler: Labeler,
    /// Cap on `GetLabelDetection` page sizes, whatever `MaxResults` asks.
    pub max_page_size: Option<u32>,
}

pub(crate) struct AppState {
    pub(crate) config: ServerConfig,
    /// One model run per core at a time; further requests wait their turn
    /// instead of piling decoded images into memory.
    pub(crate) inference: tokio::sync::Semaphore,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) sns: aws_sdk_sns::Client,
    pub(crate) jobs: Jobs,
}

impl AppState {
    pub(crate) fn new(config: ServerConfig, sdk: &aws_config::SdkConfig) -> AppState {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(true)
                .build(),
        );
        AppState {
            config,
            s3,
            sns: aws_sdk_sns::Client::new(sdk),
            jobs: Jobs::default(),
            inference: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            ),
        }
    }
}
