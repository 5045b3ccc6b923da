//! Lambda, on a schedule: videos pending too long are finished, failed or
//! restarted from their Rekognition job's state.
//!
//! The SDK calls it makes, for its IAM policy: `handlers::sweeper::IAM`
//! (`media_query_lambda::iam`, checked against template.yaml).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use media_query_lambda::handlers::sweeper::{sweep_pending, SweepError};
use media_query_lambda::ColdStart;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let cold = ColdStart::load().await?;
    let labeler = cold.rekognition();
    let (cold, labeler) = (&cold, &labeler);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        match sweep_pending(&cold.config, &cold.store, labeler, now).await {
            Ok(sweep) => {
                sweep.emit_metrics();
                Ok(serde_json::to_value(sweep)?)
            }
            Err(SweepError::Incomplete(sweep)) => {
                sweep.emit_metrics();
                Err(Error::from(SweepError::Incomplete(sweep)))
            }
            Err(e) => Err(Error::from(e)),
        }
    }))
    .await
}
