//! `rekognition-local`: the Rekognition-compatible label server.
//!
//! Usage: rekognition-local [--listen 127.0.0.1:4600]
//!                          [--labeler model|canned] [--model-dir DIR]
//!                          [--labels "Mobile Phone:99.4,Electronics:96.1"]
//!                          [--max-page-size N]
//!
//! `--labeler model` (the default) labels with the offline model in
//! `--model-dir` (default `$MEDIA_QUERY_MODEL_DIR` or the repository's
//! `models/`, filled by `scripts/setup.sh`); `--labeler canned` answers
//! every image with `--labels` (default moto's "Mobile Phone").
//! S3 and SNS are reached through the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).

use anyhow::{bail, Context, Result};
use media_query_detector::{model, Labeler, ServerConfig};
use media_query_domain::labels::DetectedLabel;

fn parse_labels(spec: &str) -> Result<Vec<DetectedLabel>> {
    spec.split(',')
        .map(|pair| {
            let (name, conf) = pair
                .rsplit_once(':')
                .context("labels are NAME:CONFIDENCE pairs")?;
            Ok(DetectedLabel::new(name.trim(), conf.trim().parse::<f32>()?))
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut listen = "127.0.0.1:4600".to_string();
    let mut use_model = true;
    let mut model_dir = model::default_model_dir();
    let mut canned = Labeler::default_canned();
    let mut max_page_size = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--labeler" => match value()?.as_str() {
                "model" => use_model = true,
                "canned" => use_model = false,
                other => bail!("--labeler takes model or canned, not {other:?}"),
            },
            "--model-dir" => model_dir = value()?.into(),
            "--labels" => canned = Labeler::Canned(parse_labels(&value()?)?),
            "--max-page-size" => max_page_size = Some(value()?.parse()?),
            "-h" | "--help" => {
                println!("usage: rekognition-local [--listen ADDR] [--labeler model|canned] [--model-dir DIR] [--labels NAME:CONF,...] [--max-page-size N]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let labeler = if use_model {
        let started = std::time::Instant::now();
        let labeler = Labeler::load_model(&model_dir)?;
        tracing::info!(dir = %model_dir.display(), ms = started.elapsed().as_millis() as u64, "label model loaded");
        labeler
    } else {
        canned
    };
    let config = ServerConfig {
        labeler,
        max_page_size,
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    tracing::info!(%listen, "rekognition-local serving");
    tokio::select! {
        r = media_query_detector::serve(listener, config, &sdk) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
