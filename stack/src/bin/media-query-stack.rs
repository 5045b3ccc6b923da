//! `media-query-stack`: runs the local stack in the foreground until Ctrl-C.
//!
//! Usage: media-query-stack [--labels model|canned|moto] [--no-edge]
//!        [--profile NAME]
//!
//! `--labels model` (the default): real labels from rekognition-local's
//! offline model; `canned`: rekognition-local's fixed labels; `moto`:
//! moto's fixed `DetectLabels` and no videos. `--profile` builds the
//! functions with that cargo profile (`quick-release`: optimised, as for
//! `scripts/bench-ingest.sh`), not the dev profile.

use anyhow::{bail, Result};
use media_query_stack::{Labels, Stack, StackOptions};

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut opts = StackOptions::new(std::env::current_dir()?);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--labels" => {
                opts.labels = match args.next().as_deref() {
                    Some("model") => Labels::Model,
                    Some("canned") => Labels::Canned,
                    Some("moto") => Labels::Moto,
                    other => bail!("--labels takes model, canned or moto, not {other:?}"),
                }
            }
            "--no-edge" => opts.edge = false,
            "--profile" => match args.next() {
                Some(p) => opts.profile = Some(p),
                None => bail!("--profile takes a cargo profile name"),
            },
            "-h" | "--help" => {
                println!(
                    "usage: media-query-stack [--labels model|canned|moto] [--no-edge] [--profile NAME]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }

    let stack = Stack::start(&opts).await?;
    let env = &stack.env;
    println!();
    println!("media-query is running locally:");
    if let Some(edge) = &env.edge_url {
        println!("  edge API (Worker):   {edge}");
    }
    println!("  Lambda read API:     {}", env.api_url);
    println!("  local AWS (moto):    {}", env.aws_endpoint_url);
    println!("  DynamoDB (moto):     {}", env.dynamodb_endpoint_url);
    println!("  media bucket:        s3://{}", env.media_bucket);
    println!("  settings:            .local/stack.env   (source it, then use aws/curl)");
    println!("  logs:                {}", env.logs.display());
    println!("Press Ctrl-C to stop.");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("stopping...");
    stack.stop().await;
    Ok(())
}
