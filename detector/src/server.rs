//! The HTTP server: one `POST /` route that dispatches on `X-Amz-Target`,
//! as Rekognition's JSON 1.1 protocol does, and a [`RunningServer`] that
//! runs it on a thread of its own for tests and the local stack.

use crate::protocol::ApiError;
use crate::state::{AppState, ServerConfig};
use crate::{detect_labels, label_detection, start_label_detection};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// The router, for embedding; [`RunningServer`] runs it on a thread.
fn app(config: ServerConfig, sdk: &aws_config::SdkConfig) -> Router {
    let state = Arc::new(AppState::new(config, sdk));
    Router::new().route("/", post(dispatch)).with_state(state)
}

/// Serves on `listener` until the future is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    sdk: &aws_config::SdkConfig,
) -> std::io::Result<()> {
    axum::serve(listener, app(config, sdk)).await
}

/// A server on its own thread and runtime, stopped on drop.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Binds 127.0.0.1 on a free port and serves there.
    pub fn start(
        config: ServerConfig,
        sdk: &aws_config::SdkConfig,
    ) -> std::io::Result<RunningServer> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sdk = sdk.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let server =
                    axum::serve(listener, app(config, &sdk)).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "rekognition-local stopped");
                }
            });
        });
        Ok(RunningServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn dispatch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let answer = match target.strip_prefix("RekognitionService.") {
        Some("DetectLabels") => match parse(&body) {
            Ok(r) => detect_labels::detect_labels(&state, r).await,
            Err(e) => Err(e),
        },
        Some("StartLabelDetection") => match parse(&body) {
            Ok(r) => start_label_detection::start_label_detection(&state, r).await,
            Err(e) => Err(e),
        },
        Some("GetLabelDetection") => {
            parse(&body).and_then(|r| label_detection::get_label_detection(&state, r))
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("operation {target:?} is not supported"),
        )),
    };
    match answer {
        Ok(v) => (
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response(),
        Err(e) => {
            tracing::info!(
                target,
                code = e.code,
                message = e.message,
                "request refused"
            );
            e.into_response()
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            "InvalidParameterException",
            format!("request does not match the API: {e}"),
        )
    })
}
