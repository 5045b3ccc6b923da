//! `rekognition-local`: the Rekognition-compatible label server.
//!
//! Usage: rekognition-local [--listen 127.0.0.1:4600] [--labeler canned]
//!                          [--labels "Mobile Phone:99.4,Electronics:96.1"]
//!                          [--max-page-size N]
//! S3 and SNS are reached through the SDK's standard settings
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials).

use anyhow::{bail, Context, Result};
use media_query_detector::{Labeler, ServerConfig};
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
    let mut config = ServerConfig {
        labeler: Labeler::default_canned(),
        max_page_size: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--labeler" => match value()?.as_str() {
                "canned" => {}
                other => bail!("--labeler {other}: this build has only `canned` (the offline model is not built yet)"),
            },
            "--labels" => config.labeler = Labeler::Canned(parse_labels(&value()?)?),
            "--max-page-size" => config.max_page_size = Some(value()?.parse()?),
            "-h" | "--help" => {
                println!("usage: rekognition-local [--listen ADDR] [--labeler canned] [--labels NAME:CONF,...] [--max-page-size N]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
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
