//! A fault-injecting HTTP proxy between a component and moto: the
//! component's `AWS_ENDPOINT_URL` points here, and every request is
//! forwarded to moto unless a [`Rule`] set from the test says otherwise
//! (delay it, reset the connection, answer a 500, a DynamoDB throttle, an
//! S3 `SlowDown`, or never answer). It counts what it saw, so a test can
//! check that retries happened.
//!
//! HTTP/1.1 over plain TCP, parsed here (request bodies with
//! `Content-Length` or chunked), so that a reset is a real TCP reset
//! (`SO_LINGER` 0) and a hang keeps the connection open; requests are
//! forwarded with `reqwest`, the `Host` header unchanged, so SigV4
//! signatures stay valid. The proxy has its own runtime, on its own
//! threads, so that it serves whatever the test's thread is doing: the
//! tests' own HTTP calls are async, but many tests run on a current-thread
//! runtime, and the launchers (`media_query_stack::launch`) block the
//! test's thread while they wait for a server to listen.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with a request that a rule matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward it after this long.
    Delay(Duration),
    /// Reset the connection (TCP RST) without answering.
    Reset,
    /// `500 InternalError` (S3's XML error body).
    ServerError,
    /// DynamoDB's throttle: `400` with `ProvisionedThroughputExceededException`.
    Throttle,
    /// S3's throttle: `503 SlowDown`.
    SlowDown,
    /// Never answer; hold the connection until the client gives up.
    Hang,
}

/// Which requests a rule applies to; empty fields match anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Match {
    pub method: Option<String>,
    /// The request target (path and query) starts with this.
    pub path_prefix: Option<String>,
    /// The `X-Amz-Target` header ends with this (`GetItem`, `DynamoDB_20120810.Scan`).
    pub target: Option<String>,
}

impl Match {
    pub fn any() -> Match {
        Match::default()
    }

    /// S3 GETs of keys under `/{bucket}/{prefix}` (path-style).
    pub fn s3_get(bucket_and_prefix: &str) -> Match {
        Match {
            method: Some("GET".into()),
            path_prefix: Some(format!("/{}", bucket_and_prefix.trim_start_matches('/'))),
            target: None,
        }
    }

    /// A DynamoDB operation, by its name (`GetItem`, `Scan`).
    pub fn dynamodb(operation: &str) -> Match {
        Match {
            method: Some("POST".into()),
            path_prefix: None,
            target: Some(format!("DynamoDB_20120810.{operation}")),
        }
    }

    /// A DynamoDB Streams operation, by its name (`GetRecords`,
    /// `GetShardIterator`, `DescribeStream`).
    pub fn dynamodb_streams(operation: &str) -> Match {
        Match {
            method: Some("POST".into()),
            path_prefix: None,
            target: Some(format!("DynamoDBStreams_20120810.{operation}")),
        }
    }

    /// Invocations of `function` through the Lambda Invoke API (as
    /// `cargo lambda watch` serves it).
    pub fn lambda_invoke(function: &str) -> Match {
        Match {
            method: Some("POST".into()),
            path_prefix: Some(format!("/2015-03-31/functions/{function}/invocations")),
            target: None,
        }
    }

    fn matches(&self, r: &Seen) -> bool {
        self.method.as_ref().is_none_or(|m| m == &r.method)
            && self
                .path_prefix
                .as_ref()
                .is_none_or(|p| r.path.starts_with(p.as_str()))
            && self
                .target
                .as_ref()
                .is_none_or(|t| r.target.as_deref().is_some_and(|x| x.ends_with(t.as_str())))
    }
}

/// A fault for the requests it matches: the next `times` of them, or all
/// until [`FaultProxy::pass_through`].
#[derive(Debug, Clone)]
pub struct Rule {
    pub fault: Fault,
    pub matching: Match,
    pub times: Option<u32>,
}

impl Rule {
    pub fn always(fault: Fault, matching: Match) -> Rule {
        Rule {
            fault,
            matching,
            times: None,
        }
    }

    pub fn times(n: u32, fault: Fault, matching: Match) -> Rule {
        Rule {
            fault,
            matching,
            times: Some(n),
        }
    }
}

/// A request the proxy received, and the fault it met (if any).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub target: Option<String>,
    pub fault: Option<Fault>,
    /// When the proxy had read the whole request.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

impl State {
    /// Records the request and picks its fault (the first live rule).
    fn decide(&mut self, mut seen: Seen) -> Option<Fault> {
        let rule = self
            .rules
            .iter_mut()
            .find(|r| r.times != Some(0) && r.matching.matches(&seen));
        let fault = rule.map(|r| {
            if let Some(n) = &mut r.times {
                *n -= 1;
            }
            r.fault.clone()
        });
        seen.fault = fault.clone();
        self.seen.push(seen);
        fault
    }
}

/// The proxy, listening on 127.0.0.1; stopped when dropped.
pub struct FaultProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (such as moto's endpoint).
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("the fault proxy's runtime");
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.trim_end_matches('/').to_string();
        let shared = state.clone();
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            let client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            while let Ok((conn, _)) = listener.accept().await {
                let _ = conn.set_nodelay(true);
                tokio::spawn(serve(
                    conn,
                    shared.clone(),
                    client.clone(),
                    upstream.clone(),
                ));
            }
        });
        FaultProxy {
            port,
            state,
            runtime: Some(runtime),
        }
    }

    /// The endpoint, for the component's `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule; earlier rules take precedence.
    pub fn inject(&self, rule: Rule) {
        self.state().rules.push(rule);
    }

    /// Drops every rule: all requests are forwarded again.
    pub fn pass_through(&self) {
        self.state().rules.clear();
    }

    /// How many requests matching `m` the proxy has received.
    pub fn seen(&self, m: &Match) -> usize {
        self.state().seen.iter().filter(|s| m.matches(s)).count()
    }

    /// How many requests matching `m` met a fault.
    pub fn faulted(&self, m: &Match) -> usize {
        self.state()
            .seen
            .iter()
            .filter(|s| s.fault.is_some() && m.matches(s))
            .count()
    }

    /// When each request matching `m` arrived (had been read), in order.
    pub fn arrivals(&self, m: &Match) -> Vec<std::time::Instant> {
        self.state()
            .seen
            .iter()
            .filter(|s| m.matches(s))
            .map(|s| s.at)
            .collect()
    }

    /// Every request received so far, for failure messages.
    pub fn log(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Not a blocking drop: tests drop this inside their own runtime.
            rt.shutdown_background();
        }
    }
}

struct Incoming {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request; `None` at the end of the connection.
async fn read_request(r: &mut BufReader<TcpStream>) -> Option<Incoming> {
    let mut line = String::new();
    r.read_line(&mut line).await.ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).await.ok().filter(|n| *n > 0)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Incoming {
        method,
        target,
        headers,
        body: Vec::new(),
        close: false,
    };
    req.close = req
        .header("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"));
    if req
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = req.header("content-length") {
        let mut body = vec![0; n.parse().ok()?];
        r.read_exact(&mut body).await.ok()?;
        req.body = body;
    }
    Some(req)
}

async fn write_response(
    conn: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !head_only {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(body);
    }
    conn.write_all(&bytes).await?;
    conn.flush().await
}

/// Headers that belong to one connection, not to the request or answer.
fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "proxy-connection",
        "te",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Forwards to the upstream: status, headers and body of its answer.
async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: &Incoming,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut out = client
        .request(method, format!("{upstream}{}", req.target))
        .body(req.body.clone());
    for (k, v) in req.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out = out.header(k, v);
    }
    match out.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let mut headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .filter(|(k, _)| !hop_by_hop(k.as_str()))
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            if req.method == "HEAD" {
                if let Some(n) = resp.headers().get("content-length") {
                    headers.push(("content-length".into(), n.to_str().unwrap_or("0").into()));
                }
            }
            let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            (status, headers, body)
        }
        Err(e) => (
            502,
            vec![("content-type".into(), "text/plain".into())],
            format!("fault proxy: upstream failed: {e}").into_bytes(),
        ),
    }
}

fn s3_error(code: &str, message: &str) -> (Vec<(String, String)>, Vec<u8>) {
    (
        vec![("content-type".into(), "application/xml".into())],
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
        )
        .into_bytes(),
    )
}

async fn serve(
    conn: TcpStream,
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
    upstream: String,
) {
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader).await {
        let fault = state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .decide(Seen {
                method: req.method.clone(),
                path: req.target.clone(),
                target: req.header("x-amz-target").map(str::to_string),
                fault: None,
                at: std::time::Instant::now(),
            });
        let (status, headers, body) = match fault {
            Some(Fault::Reset) => {
                let _ = reader.get_ref().set_zero_linger();
                return; // dropped with SO_LINGER 0: an RST
            }
            Some(Fault::Hang) => {
                // Until the client closes the connection (or gives up on it).
                let mut sink = [0u8; 1024];
                while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Some(Fault::ServerError) => {
                let (h, b) = s3_error("InternalError", "We encountered an internal error. Please try again.");
                (500, h, b)
            }
            Some(Fault::SlowDown) => {
                let (h, b) = s3_error("SlowDown", "Please reduce your request rate.");
                (503, h, b)
            }
            Some(Fault::Throttle) => (
                400,
                vec![("content-type".into(), "application/x-amz-json-1.0".into())],
                serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                })
                .to_string()
                .into_bytes(),
            ),
            Some(Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                forward(&client, &upstream, &req).await
            }
            None => forward(&client, &upstream, &req).await,
        };
        let head_only = req.method == "HEAD";
        if write_response(reader.get_mut(), status, &headers, &body, head_only)
            .await
            .is_err()
            || req.close
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(method: &str, path: &str, target: Option<&str>) -> Seen {
        Seen {
            method: method.into(),
            path: path.into(),
            target: target.map(String::from),
            fault: None,
            at: std::time::Instant::now(),
        }
    }

    #[test]
    fn rules_match_by_method_path_and_target_and_run_out() {
        let mut s = State::default();
        s.rules
            .push(Rule::times(1, Fault::Throttle, Match::dynamodb("GetItem")));
        s.rules.push(Rule::always(
            Fault::Reset,
            Match::s3_get("exports/edge/serving/objects/"),
        ));
        let get_item = || seen("POST", "/", Some("DynamoDB_20120810.GetItem"));
        assert_eq!(s.decide(get_item()), Some(Fault::Throttle));
        assert_eq!(s.decide(get_item()), None, "the rule ran out");
        assert_eq!(
            s.decide(seen("POST", "/", Some("DynamoDB_20120810.Scan"))),
            None
        );
        let shard = || seen("GET", "/exports/edge/serving/objects/abc", None);
        assert_eq!(s.decide(shard()), Some(Fault::Reset));
        assert_eq!(s.decide(shard()), Some(Fault::Reset));
        assert_eq!(
            s.decide(seen("GET", "/exports/edge/serving/current.json", None)),
            None
        );
        assert_eq!(s.seen.len(), 6);
        assert_eq!(s.seen.iter().filter(|r| r.fault.is_some()).count(), 3);
    }
}
