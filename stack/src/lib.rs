//! The whole of media-query on one machine, with no cloud account.
//!
//! [`Stack::start`] brings up, each on a free port of 127.0.0.1:
//!
//! 1. `moto_server`, the local AWS (S3, SNS, SQS, and Rekognition's canned
//!    `DetectLabels`), and a second `moto_server` for DynamoDB and its
//!    stream, reached through `AWS_ENDPOINT_URL_DYNAMODB` and
//!    `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`. moto answers each process's
//!    requests under one interpreter lock, and ingest calls DynamoDB as
//!    often as S3: two processes use both cores (BENCHMARKS.md, "Local
//!    ingest");
//! 2. `rekognition-local`, the Rekognition-protocol server (unless
//!    [`Labels::Moto`]), reached by the functions through
//!    `AWS_ENDPOINT_URL_REKOGNITION`: real labels from the offline model
//!    by default, and videos, which moto lacks;
//! 3. the Lambda functions, the real binaries, under `cargo lambda watch`
//!    (the Lambda runtime API), configured only through the SDK's standard
//!    environment variables;
//! 4. the Worker under `wrangler dev`, reading the snapshot from moto;
//!
//! then creates the bucket, table, topics and dead-letter queue
//! ([`resources`]) and stands in for Lambda's event sources: S3's and SNS's
//! notifications reach an HTTP endpoint of the stack ([`notifications`])
//! that invokes the functions asynchronously ([`invoke`]); the table's
//! stream is read to invoke the export writer ([`table_stream`]); and the
//! scheduled functions run on their template.yaml schedules
//! ([`schedule`]). A file uploaded with any S3 client is labelled and
//! shows up at the edge; deleting it removes it.
//!
//! The servers are started by [`launch`], which the black-box tests use to
//! start the same servers on their own.

pub mod invoke;
pub mod launch;
pub mod notifications;
pub mod resources;
pub mod schedule;
pub mod table_stream;

use anyhow::{Context, Result};
use launch::{LambdaWatch, LambdaWatchOptions, MotoServer, Output, WranglerDev, WranglerOptions};
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinSet;

/// Where labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// `rekognition-local` with the offline model: real labels for images
    /// and videos (needs the model from `scripts/setup.sh`).
    Model,
    /// `rekognition-local` with canned labels ("Mobile Phone"), images and
    /// videos.
    Canned,
    /// moto's own canned `DetectLabels` ("Mobile Phone"); no video support.
    Moto,
}

#[derive(Debug, Clone)]
pub struct StackOptions {
    pub labels: Labels,
    /// Start the Worker under `wrangler dev`.
    pub edge: bool,
    /// The cargo profile the functions are built with (`cargo lambda
    /// watch --profile`); `None`: the dev profile.
    pub profile: Option<String>,
    /// Repository root (holds `lambda/`, `wrangler.toml`).
    pub root: PathBuf,
    /// State and logs, normally `<root>/.local`.
    pub state_dir: PathBuf,
}

impl StackOptions {
    pub fn new(root: impl Into<PathBuf>) -> StackOptions {
        let root = root.into();
        StackOptions {
            labels: Labels::Model,
            edge: true,
            profile: None,
            state_dir: root.join(".local"),
            root,
        }
    }
}

/// Settings a user or a test needs to talk to the stack.
#[derive(Debug, Clone)]
pub struct StackEnv {
    pub aws_endpoint_url: String,
    /// DynamoDB and DynamoDB Streams (`AWS_ENDPOINT_URL_DYNAMODB`).
    pub dynamodb_endpoint_url: String,
    pub region: String,
    pub media_bucket: String,
    pub media_table: String,
    pub snapshot_bucket: String,
    pub snapshot_prefix: String,
    pub edge_url: Option<String>,
    pub api_url: String,
    pub rekognition_url: Option<String>,
    /// The functions' Lambda Invoke API (`cargo lambda watch`).
    pub lambda_url: String,
    /// The dead-letter queue: failed events' invocation records.
    pub failed_events_queue_url: String,
    pub logs: PathBuf,
}

impl StackEnv {
    /// `KEY=value` lines, as written to `.local/stack.env`.
    pub fn to_env_file(&self) -> String {
        let mut lines = env_lines(aws_variables(
            &self.aws_endpoint_url,
            &self.dynamodb_endpoint_url,
        ));
        lines.extend([
            // The AWS CLI's and boto3's name for it.
            format!("AWS_DEFAULT_REGION={}", self.region),
            format!("MEDIA_BUCKET_NAME={}", self.media_bucket),
            format!("MEDIA_TABLE_NAME={}", self.media_table),
            format!("SNAPSHOT_BUCKET={}", self.snapshot_bucket),
            format!("SNAPSHOT_PREFIX={}", self.snapshot_prefix),
            format!("API_URL={}", self.api_url),
            format!("AWS_ENDPOINT_URL_LAMBDA={}", self.lambda_url),
            format!("FAILED_EVENTS_QUEUE_URL={}", self.failed_events_queue_url),
        ]);
        if let Some(edge) = &self.edge_url {
            lines.push(format!("EDGE_URL={edge}"));
        }
        if let Some(r) = &self.rekognition_url {
            lines.push(format!("AWS_ENDPOINT_URL_REKOGNITION={r}"));
        }
        lines.join("\n") + "\n"
    }
}

/// A running stack. [`Stack::stop`] (or drop) stops every process it started.
pub struct Stack {
    pub env: StackEnv,
    servers: Servers,
    tasks: JoinSet<()>,
    detector: Option<media_query_detector::RunningServer>,
}

const REGION: &str = "us-east-1";

/// What points an AWS SDK at the local stack: the SDKs' standard endpoint
/// variables (DynamoDB and its stream have a `moto_server` of their own),
/// the region, and moto's dummy credentials. The functions, the Worker and
/// `.local/stack.env` all get these.
fn aws_variables(aws: &str, dynamodb: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", aws.to_string()),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.to_string()),
        ("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", dynamodb.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
    ]
}

/// `KEY=value` lines, as env files have them.
fn env_lines(vars: Vec<(&'static str, String)>) -> Vec<String> {
    vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Variables with owned names, as the launchers take them.
fn owned(vars: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The pending sweeper's schedule, as in template.yaml (`rate(15 minutes)`).
pub const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);
/// The export writer's reconciliation, as in template.yaml (`rate(1 hour)`).
pub const RECONCILE_EVERY: Duration = Duration::from_secs(3600);
/// As template.yaml's `PENDING_TIMEOUT_SECONDS`.
pub const PENDING_TIMEOUT_SECONDS: u64 = 3600;

impl Stack {
    pub async fn start(opts: &StackOptions) -> Result<Stack> {
        let logs = opts.state_dir.join("logs");
        std::fs::create_dir_all(&logs).context("create .local/logs")?;
        let mut stack = Stack {
            env: StackEnv {
                aws_endpoint_url: String::new(),
                dynamodb_endpoint_url: String::new(),
                region: REGION.into(),
                media_bucket: String::new(),
                media_table: String::new(),
                snapshot_bucket: String::new(),
                snapshot_prefix: String::new(),
                edge_url: None,
                api_url: String::new(),
                rekognition_url: None,
                lambda_url: String::new(),
                failed_events_queue_url: String::new(),
                logs: logs.clone(),
            },
            servers: Servers::default(),
            tasks: JoinSet::new(),
            detector: None,
        };

        // 1. Local AWS, in two processes.
        let moto = run_blocking({
            let output = Output::AppendTo(logs.join("moto.log"));
            move || MotoServer::start(output)
        })
        .await
        .context("start moto_server")?;
        tracing::info!(server = "moto_server", port = moto.port(), "ready");
        let aws = moto.endpoint();
        stack.servers.aws = Some(moto);
        let moto = run_blocking({
            let output = Output::AppendTo(logs.join("moto-dynamodb.log"));
            move || MotoServer::start(output)
        })
        .await
        .context("start moto_server for DynamoDB")?;
        tracing::info!(
            server = "moto_server (DynamoDB)",
            port = moto.port(),
            "ready"
        );
        let dynamodb = moto.endpoint();
        stack.servers.dynamodb = Some(moto);
        stack.env.aws_endpoint_url = aws.clone();
        stack.env.dynamodb_endpoint_url = dynamodb.clone();
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&aws)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "media-query-stack",
            ))
            .load()
            .await;
        let dynamodb_sdk = sdk.to_builder().endpoint_url(&dynamodb).build();
        let names = resources::Names::default();
        let created = resources::create(&sdk, &dynamodb_sdk, &names).await?;
        stack.env.failed_events_queue_url = created.dead_letter_queue_url.clone();
        stack.env.media_bucket = names.bucket.clone();
        stack.env.media_table = names.table.clone();
        stack.env.snapshot_bucket = names.snapshot_bucket.clone();
        stack.env.snapshot_prefix = names.snapshot_prefix.clone();

        // 2. The detector, in this process, on its own port.
        if opts.labels != Labels::Moto {
            let labeler = match opts.labels {
                Labels::Model => {
                    let dir = media_query_detector::model::default_model_dir();
                    media_query_detector::Labeler::load_model(&dir)
                        .context("load the label model (--labels canned runs without it)")?
                }
                _ => media_query_detector::Labeler::default_canned(),
            };
            let config = media_query_detector::ServerConfig {
                labeler,
                max_page_size: None,
            };
            let detector = media_query_detector::RunningServer::start(config, &sdk)
                .context("start rekognition-local")?;
            stack.env.rekognition_url = Some(detector.endpoint());
            stack.detector = Some(detector);
        }

        // 3. The functions, through the Lambda runtime API.
        let mut env = aws_variables(&aws, &dynamodb);
        env.extend([
            ("MEDIA_TABLE_NAME", names.table.clone()),
            ("MEDIA_BUCKET_NAME", names.bucket.clone()),
            ("VIDEO_TOPIC_ARN", created.video_topic_arn.clone()),
            ("VIDEO_ROLE_ARN", names.video_role_arn.clone()),
            ("SNAPSHOT_BUCKET", names.snapshot_bucket.clone()),
            ("SNAPSHOT_PREFIX", names.snapshot_prefix.clone()),
            // The read API re-checks the snapshot as often as the edge does.
            ("SNAPSHOT_TTL_SECONDS", "1".to_string()),
            (
                "PENDING_TIMEOUT_SECONDS",
                PENDING_TIMEOUT_SECONDS.to_string(),
            ),
            ("RUST_LOG", "info".to_string()),
        ]);
        if let Some(r) = &stack.env.rekognition_url {
            env.push(("AWS_ENDPOINT_URL_REKOGNITION", r.clone()));
        }
        let mut functions = LambdaWatchOptions::new(opts.root.clone());
        functions.env = owned(env);
        functions.concurrency = Some(invoke::MAX_IN_FLIGHT);
        functions.profile = opts.profile.clone();
        functions.output = Output::AppendTo(logs.join("functions.log"));
        let watch = run_blocking(move || LambdaWatch::start(&functions))
            .await
            .context("start cargo lambda watch")?;
        tracing::info!(server = "cargo lambda watch", port = watch.port(), "ready");
        stack.env.api_url = format!("{}/", watch.function_url("read-api"));
        stack.env.lambda_url = watch.endpoint();
        let invoker = invoke::Invoker::new(watch.port());
        stack.servers.functions = Some(watch);
        // The first export makes an (empty) snapshot for the edge, and
        // proves the functions run before we report the stack ready.
        invoker
            .invoke("export-writer", &serde_json::json!({}))
            .await
            .context("first export (see .local/logs/functions.log)")?;

        // 4. The edge, from the bundle scripts/build-worker.sh built.
        if opts.edge {
            let mut vars = aws_variables(&aws, &dynamodb);
            vars.extend([
                ("MEDIA_TABLE_NAME", names.table.clone()),
                ("SNAPSHOT_BUCKET", names.snapshot_bucket.clone()),
                ("SNAPSHOT_PREFIX", names.snapshot_prefix.clone()),
                ("SNAPSHOT_TTL_SECONDS", "1".to_string()),
            ]);
            let worker = WranglerOptions {
                root: opts.root.clone(),
                name: "media-query-local".to_string(),
                vars: owned(vars),
                // A working directory per instance: two stacks at once
                // must not share workerd's state.
                parent_dir: opts.state_dir.clone(),
                log: Some(logs.join("edge.log")),
            };
            let edge = run_blocking(move || WranglerDev::start(&worker))
                .await
                .context("start wrangler dev")?;
            tracing::info!(server = "wrangler dev", port = edge.port(), "ready");
            stack.env.edge_url = Some(edge.url("/"));
            stack.servers.edge = Some(edge);
        }

        // 5. Event sources: the topics S3 and Rekognition notify, the
        // schedules, and the table's stream.
        let dead_letters = invoke::DeadLetters {
            sqs: aws_sdk_sqs::Client::new(&sdk),
            queue_url: created.dead_letter_queue_url.clone(),
            region: REGION.to_string(),
        };
        let mut subscribers = notifications::Subscribers::default();
        let mut subscriptions = Vec::new();
        for (function, message, topic) in [
            (
                "object-created",
                notifications::Message::S3Event,
                &created.created_topic_arn,
            ),
            (
                "object-removed",
                notifications::Message::S3Event,
                &created.removed_topic_arn,
            ),
            (
                "video-job-complete",
                notifications::Message::Sns,
                &created.video_topic_arn,
            ),
        ] {
            let f = invoke::AsyncFunction::start(
                function,
                invoker.clone(),
                dead_letters.clone(),
                &mut stack.tasks,
            );
            subscribers.add(f, message);
            subscriptions.push((topic.clone(), function));
        }
        let endpoint = notifications::Endpoint::start(subscribers, &mut stack.tasks).await?;
        let subscriptions: Vec<_> = subscriptions
            .into_iter()
            .map(|(topic, function)| (topic, endpoint.url(function)))
            .collect();
        resources::subscribe(&sdk, &names, &created, &subscriptions).await?;
        for (function, period) in [
            ("pending-sweeper", SWEEP_EVERY),
            ("export-writer", RECONCILE_EVERY),
        ] {
            stack
                .tasks
                .spawn(schedule::on_schedule(invoker.clone(), function, period));
        }
        let mapping = table_stream::StreamMapping {
            function: "export-writer",
            batch_size: table_stream::BATCH_SIZE,
            batching_window: Duration::from_secs(table_stream::BATCHING_WINDOW_SECONDS),
            max_retries: table_stream::MAX_RETRIES,
            on_failure: dead_letters,
        };
        stack.tasks.spawn(table_stream::poll_table_stream(
            aws_sdk_dynamodb::Client::new(&dynamodb_sdk),
            aws_sdk_dynamodbstreams::Client::new(&dynamodb_sdk),
            names.table.clone(),
            mapping,
            invoker,
        ));

        std::fs::write(opts.state_dir.join("stack.env"), stack.env.to_env_file())
            .context("write .local/stack.env")?;
        Ok(stack)
    }

    /// Stops every task and process, newest first.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
        let servers = std::mem::take(&mut self.servers);
        tokio::task::spawn_blocking(move || servers.stop())
            .await
            .ok();
        if let Some(d) = self.detector.take() {
            tokio::task::spawn_blocking(move || drop(d)).await.ok();
        }
    }
}

/// The stack's child processes, as they start. Dropping one kills it;
/// [`Servers::stop`] stops them gently.
#[derive(Default)]
struct Servers {
    aws: Option<MotoServer>,
    dynamodb: Option<MotoServer>,
    functions: Option<LambdaWatch>,
    edge: Option<WranglerDev>,
}

impl Servers {
    /// Stops every server, newest first: nothing is left calling a server
    /// that has stopped. Blocks while each one exits.
    fn stop(self) {
        if let Some(edge) = self.edge {
            edge.stop();
        }
        if let Some(functions) = self.functions {
            functions.stop();
        }
        if let Some(dynamodb) = self.dynamodb {
            dynamodb.stop();
        }
        if let Some(aws) = self.aws {
            aws.stop();
        }
    }
}

/// Runs a launcher, which blocks until its server is ready, on a thread
/// where blocking is allowed.
async fn run_blocking<T: Send + 'static>(
    start: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(start)
        .await
        .context("a launcher panicked")?
}
