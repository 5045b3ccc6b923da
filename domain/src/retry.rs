//! Bounded retries with full jitter, for calls to AWS over plain HTTP (the
//! Worker's S3 GETs and DynamoDB calls; the Lambdas' SDKs retry on their
//! own).
//!
//! The rules, without I/O: which answers are worth another attempt
//! ([`transient_aws_answer`]), how long to wait before it
//! ([`RetryPolicy::backoff_ms`]), how long an attempt may take before it
//! is abandoned, and the loop that ties them together under a deadline
//! ([`RetryPolicy::run`]). The caller brings the clock, the randomness,
//! the sleep ([`RetryEnv`]) and the attempt itself, which enforces the
//! timeout it is given.

use std::future::Future;

/// How one logical call is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// How long one attempt may take before it is abandoned.
    pub attempt_timeout_ms: f64,
    /// The wait before the first retry is drawn from `[0, base)`; it
    /// doubles with each retry...
    pub base_backoff_ms: f64,
    /// ...up to this.
    pub max_backoff_ms: f64,
    /// No attempt starts with less than this left before the deadline.
    pub min_attempt_ms: f64,
}

/// Why an attempt failed, and whether another one may do better.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub retryable: bool,
    pub detail: String,
}

impl Failure {
    /// A network error, a timeout, a throttle, a 5xx: worth another attempt.
    pub fn transient(detail: impl Into<String>) -> Failure {
        Failure {
            retryable: true,
            detail: detail.into(),
        }
    }

    /// The same request would fail the same way.
    pub fn permanent(detail: impl Into<String>) -> Failure {
        Failure {
            retryable: false,
            detail: detail.into(),
        }
    }
}

/// What the retry loop needs from its runtime.
#[allow(async_fn_in_trait)]
pub trait RetryEnv {
    /// Milliseconds on the clock the deadlines are on.
    fn now_ms(&self) -> f64;
    /// Uniform in `[0, 1)`.
    fn random(&self) -> f64;
    async fn sleep(&self, ms: f64);
}

impl RetryPolicy {
    /// The wait before retry `retry` (1 for the first), given `random`
    /// uniform in `[0, 1)`: "full jitter", uniform in
    /// `[0, min(max, base * 2^(retry-1)))`. Drawing the whole wait at
    /// random spreads the retries of many isolates that failed together
    /// (a throttle, a blip) instead of sending them back in a wave.
    pub fn backoff_ms(&self, retry: u32, random: f64) -> f64 {
        let exp = 2f64.powi(retry.saturating_sub(1).min(30) as i32);
        let ceiling = (self.base_backoff_ms * exp).min(self.max_backoff_ms);
        ceiling * random.clamp(0.0, 1.0)
    }

    /// How long an attempt starting at `now_ms` may take: the attempt
    /// timeout, cut to what is left before the deadline; `None` when too
    /// little is left to start one.
    pub fn attempt_timeout_ms(&self, now_ms: f64, deadline_ms: f64) -> Option<f64> {
        let left = deadline_ms - now_ms;
        (left >= self.min_attempt_ms).then(|| self.attempt_timeout_ms.min(left))
    }

    /// Runs `attempt` (given its timeout in ms) until it succeeds, fails
    /// for good, or the attempts or the time until `deadline_ms` run
    /// out, waiting [`Self::backoff_ms`] between attempts. The error says
    /// what each attempt met.
    pub async fn run<T, F, Fut>(
        &self,
        env: &impl RetryEnv,
        deadline_ms: f64,
        mut attempt: F,
    ) -> Result<T, String>
    where
        F: FnMut(f64) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut failures: Vec<String> = Vec::new();
        let mut gave_up = "";
        for n in 1..=self.max_attempts.max(1) {
            let mut now = env.now_ms();
            if n > 1 {
                let wait = self.backoff_ms(n - 1, env.random());
                if self.attempt_timeout_ms(now + wait, deadline_ms).is_none() {
                    gave_up = "no time left to retry";
                    break;
                }
                env.sleep(wait).await;
                now = env.now_ms();
            }
            let Some(timeout_ms) = self.attempt_timeout_ms(now, deadline_ms) else {
                gave_up = "no time left for an attempt";
                break;
            };
            match attempt(timeout_ms).await {
                Ok(value) => return Ok(value),
                Err(f) => {
                    failures.push(f.detail);
                    if !f.retryable {
                        break;
                    }
                }
            }
        }
        Err(match (failures.as_slice(), gave_up) {
            ([], why) => why.to_string(),
            ([only], "") => only.clone(),
            (all, why) => {
                let mut text = all
                    .iter()
                    .enumerate()
                    .map(|(i, f)| format!("attempt {}: {f}", i + 1))
                    .collect::<Vec<_>>()
                    .join("; ");
                if !why.is_empty() {
                    text = format!("{text}; {why}");
                }
                text
            }
        })
    }
}

/// A request's allowance of subrequests (each attempt of a call to AWS,
/// each Cache API read or write): a platform that refuses the call past a
/// fixed number per request (Cloudflare Workers: 50 on the Free plan)
/// would otherwise fail the whole request with an exception. Spent, a
/// call fails like an outage, and the responder's fallbacks and 503 take
/// over.
#[derive(Debug)]
pub struct Allowance {
    limit: u32,
    used: std::sync::atomic::AtomicU32,
}

impl Allowance {
    pub fn new(limit: u32) -> Allowance {
        Allowance {
            limit,
            used: Default::default(),
        }
    }

    /// Takes one subrequest, or says why not.
    pub fn take(&self) -> Result<(), String> {
        use std::sync::atomic::Ordering;
        let used = self.used.fetch_add(1, Ordering::Relaxed);
        if used < self.limit {
            return Ok(());
        }
        self.used.fetch_sub(1, Ordering::Relaxed);
        Err(format!(
            "this request has made its {} subrequests",
            self.limit
        ))
    }

    pub fn used(&self) -> u32 {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// AWS error codes that mean "too fast, try again later", as the AWS
/// SDKs list them (`aws-runtime`'s `THROTTLING_ERRORS`): DynamoDB's
/// `ProvisionedThroughputExceededException`, `ThrottlingException` and
/// `RequestLimitExceeded` (on a 400), S3's `SlowDown` (on a 503)...
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// AWS error codes of transient failures (`aws-runtime`'s
/// `TRANSIENT_ERRORS`): S3's `RequestTimeout` is a 400.
pub const TRANSIENT_CODES: &[&str] = &["RequestTimeout", "RequestTimeoutException"];

/// The error code of an AWS error body: the JSON protocols' `__type`
/// (DynamoDB: `com.amazonaws.dynamodb.v20120810#ThrottlingException`),
/// or the XML protocols' `<Code>` (S3).
pub fn aws_error_code(body: &[u8]) -> Option<String> {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        let t = json.get("__type")?.as_str()?;
        return Some(t.rsplit('#').next().unwrap_or(t).to_string());
    }
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].trim().to_string())
}

/// Whether an AWS answer is worth another attempt: a 5xx (but `501 Not
/// Implemented`), a `429`, or a throttling or transient error code
/// whatever the status (DynamoDB throttles with a `400`). Other answers,
/// such as `403` or `404`, would come again the same.
pub fn transient_aws_answer(status: u16, body: &[u8]) -> bool {
    match status {
        429 => true,
        500..=599 => status != 501,
        400..=499 => aws_error_code(body).is_some_and(|code| {
            THROTTLING_CODES.contains(&code.as_str()) || TRANSIENT_CODES.contains(&code.as_str())
        }),
        _ => false,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        attempt_timeout_ms: 2_000.0,
        base_backoff_ms: 50.0,
        max_backoff_ms: 1_000.0,
        min_attempt_ms: 200.0,
    };

    /// A clock that only moves when slept on or when an attempt takes
    /// time, and a fixed "random" number.
    struct FakeEnv {
        now: Cell<f64>,
        random: f64,
        slept: RefCell<Vec<f64>>,
    }

    impl FakeEnv {
        fn new(random: f64) -> FakeEnv {
            FakeEnv {
                now: Cell::new(0.0),
                random,
                slept: RefCell::new(Vec::new()),
            }
        }
    }

    impl RetryEnv for FakeEnv {
        fn now_ms(&self) -> f64 {
            self.now.get()
        }
        fn random(&self) -> f64 {
            self.random
        }
        async fn sleep(&self, ms: f64) {
            self.slept.borrow_mut().push(ms);
            self.now.set(self.now.get() + ms);
        }
    }

    /// Runs the policy over scripted attempts: each takes `took` ms
    /// (capped at its timeout, as a timed-out attempt is) and returns
    /// its result. Returns the outcome, the timeouts given, and the waits.
    fn script(
        policy: &RetryPolicy,
        deadline_ms: f64,
        random: f64,
        attempts: Vec<(f64, Result<u32, Failure>)>,
    ) -> (Result<u32, String>, Vec<f64>, Vec<f64>) {
        let env = FakeEnv::new(random);
        let timeouts = RefCell::new(Vec::new());
        let script = RefCell::new(attempts.into_iter());
        let out = futures::executor::block_on(policy.run(&env, deadline_ms, |timeout| {
            timeouts.borrow_mut().push(timeout);
            let (took, result) = script.borrow_mut().next().expect("an attempt too many");
            env.now.set(env.now.get() + took.min(timeout));
            async move { result }
        }));
        (out, timeouts.into_inner(), env.slept.into_inner())
    }

    #[test]
    fn full_jitter_doubles_its_ceiling_up_to_the_maximum() {
        assert_eq!(POLICY.backoff_ms(1, 0.0), 0.0);
        assert_eq!(POLICY.backoff_ms(1, 0.5), 25.0);
        assert_eq!(POLICY.backoff_ms(2, 0.5), 50.0);
        assert_eq!(POLICY.backoff_ms(3, 0.75), 150.0);
        assert_eq!(POLICY.backoff_ms(10, 0.5), 500.0, "capped at 1 s");
        assert_eq!(POLICY.backoff_ms(u32::MAX, 0.5), 500.0);
        assert_eq!(POLICY.backoff_ms(1, 7.0), 50.0, "random is clamped");
    }

    #[test]
    fn attempts_are_cut_to_the_deadline_and_not_started_without_time() {
        assert_eq!(POLICY.attempt_timeout_ms(0.0, 10_000.0), Some(2_000.0));
        assert_eq!(POLICY.attempt_timeout_ms(9_000.0, 10_000.0), Some(1_000.0));
        assert_eq!(POLICY.attempt_timeout_ms(9_800.0, 10_000.0), Some(200.0));
        assert_eq!(POLICY.attempt_timeout_ms(9_801.0, 10_000.0), None);
        assert_eq!(POLICY.attempt_timeout_ms(11_000.0, 10_000.0), None);
    }

    #[test]
    fn a_transient_failure_is_retried_after_a_jittered_wait() {
        let (out, timeouts, waits) = script(
            &POLICY,
            4_000.0,
            0.5,
            vec![
                (30.0, Err(Failure::transient("S3 answered 500"))),
                (30.0, Ok(7)),
            ],
        );
        assert_eq!(out, Ok(7));
        assert_eq!(timeouts, vec![2_000.0, 2_000.0]);
        assert_eq!(waits, vec![25.0]);
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let (out, timeouts, waits) = script(
            &POLICY,
            4_000.0,
            0.5,
            vec![(30.0, Err(Failure::permanent("signing failed")))],
        );
        assert_eq!(out, Err("signing failed".to_string()));
        assert_eq!((timeouts.len(), waits.len()), (1, 0));
    }

    #[test]
    fn attempts_run_out_and_every_failure_is_reported() {
        let (out, timeouts, waits) = script(
            &POLICY,
            60_000.0,
            1.0,
            vec![
                (10.0, Err(Failure::transient("reset"))),
                (10.0, Err(Failure::transient("throttled"))),
                (10.0, Err(Failure::transient("503 SlowDown"))),
            ],
        );
        assert_eq!(
            out,
            Err("attempt 1: reset; attempt 2: throttled; attempt 3: 503 SlowDown".to_string())
        );
        assert_eq!(timeouts.len(), 3);
        assert_eq!(waits, vec![50.0, 100.0]);
    }

    #[test]
    fn a_hanging_dependency_costs_at_most_the_deadline() {
        // Every attempt times out: 2 s, then what is left of 4 s.
        let hang = || (f64::INFINITY, Err(Failure::transient("timed out")));
        let (out, timeouts, waits) = script(&POLICY, 4_000.0, 0.5, vec![hang(), hang()]);
        assert_eq!(timeouts, vec![2_000.0, 2_000.0 - 25.0]);
        assert_eq!(waits, vec![25.0]);
        assert_eq!(
            out,
            Err("attempt 1: timed out; attempt 2: timed out; no time left to retry".to_string())
        );
        // With the budget spent already, no attempt at all.
        let (out, timeouts, _) = script(&POLICY, 100.0, 0.5, vec![]);
        assert_eq!(out, Err("no time left for an attempt".to_string()));
        assert!(timeouts.is_empty());
    }

    #[test]
    fn aws_error_codes_from_json_and_xml_bodies() {
        let throttle = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
        assert_eq!(
            aws_error_code(throttle).as_deref(),
            Some("ProvisionedThroughputExceededException")
        );
        assert_eq!(
            aws_error_code(br#"{"__type":"ThrottlingException"}"#).as_deref(),
            Some("ThrottlingException")
        );
        let slow = b"<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        assert_eq!(aws_error_code(slow).as_deref(), Some("SlowDown"));
        assert_eq!(aws_error_code(b"{}"), None);
        assert_eq!(aws_error_code(b"not an error"), None);
    }

    #[test]
    fn which_answers_are_retried() {
        let dynamo = |t: &str| {
            format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{t}","message":"m"}}"#)
        };
        for t in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
        ] {
            assert!(transient_aws_answer(400, dynamo(t).as_bytes()), "{t}");
        }
        for t in [
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
        ] {
            assert!(!transient_aws_answer(400, dynamo(t).as_bytes()), "{t}");
        }
        let s3 = |code: &str| format!("<Error><Code>{code}</Code></Error>");
        assert!(transient_aws_answer(503, s3("SlowDown").as_bytes()));
        assert!(transient_aws_answer(500, s3("InternalError").as_bytes()));
        assert!(transient_aws_answer(400, s3("RequestTimeout").as_bytes()));
        assert!(transient_aws_answer(502, b""));
        assert!(transient_aws_answer(504, b"gateway"));
        assert!(transient_aws_answer(429, b""));
        assert!(!transient_aws_answer(501, s3("NotImplemented").as_bytes()));
        assert!(!transient_aws_answer(403, s3("AccessDenied").as_bytes()));
        assert!(!transient_aws_answer(
            403,
            s3("SignatureDoesNotMatch").as_bytes()
        ));
        assert!(!transient_aws_answer(404, s3("NoSuchKey").as_bytes()));
        for ok in [200, 204, 304] {
            assert!(!transient_aws_answer(ok, b""));
        }
    }

    #[test]
    fn an_allowance_refuses_past_its_limit() {
        let a = Allowance::new(3);
        assert!((0..3).all(|_| a.take().is_ok()));
        assert!(a.take().unwrap_err().contains("its 3 subrequests"));
        assert_eq!(a.used(), 3);
    }
}
