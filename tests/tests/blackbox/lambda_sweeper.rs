//! The pending sweeper against rekognition-local (Rekognition's protocol)
//! and moto, for the job states other than a lost SUCCEEDED notice (that
//! one is in `lambda_video`): a job that ended FAILED, a job Rekognition
//! no longer knows, and a job still running past the bound.
//!
//! How rekognition-local holds a job in each state:
//! * FAILED: a "video" it cannot decode (here, text named `.mov`);
//! * unknown (`ResourceNotFoundException` from `GetLabelDetection`): it
//!   keeps its jobs in memory, so a restarted server no longer knows a job
//!   started before, as Rekognition forgets a job's results after 7 days;
//! * IN_PROGRESS: with the label model, a job first downloads the video
//!   from S3; a fault proxy between the server and moto holds that
//!   download, so the job stays running for as long as the test needs.

use aws_sdk_rekognition::error::ProvideErrorMetadata;
use media_query_detector::{Labeler, RunningServer, ServerConfig};
use media_query_domain::labels::DetectedLabel;
use media_query_domain::RecordStatus;
use media_query_lambda::config::Config;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::handlers::sweeper::{sweep_pending, Sweep};
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::invoke::Invoker;
use media_query_stack::launch::MotoServer;
use media_query_tests::aws::{self, media, TopicProbe};
use media_query_tests::fault_proxy::{Fault, FaultProxy, Match, Rule};
use media_query_tests::lambda_watch::start_lambda_watch_logging_to;
use media_query_tests::moto::start_moto;
use media_query_tests::photos;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TABLE: &str = "media";
const BUCKET: &str = "media";
const VIDEO_ROLE: &str = "arn:aws:iam::123456789012:role/rekognition";

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn created_event(key: &str) -> Value {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET}, "object": {"key": key, "size": 20}}}]})
}

/// rekognition-local with canned labels, reading S3 and publishing to SNS
/// through `sdk`.
fn canned_detector(sdk: &aws_config::SdkConfig) -> RunningServer {
    RunningServer::start(
        ServerConfig {
            labeler: Labeler::Canned(vec![DetectedLabel::new("Dog", 90.0)]),
            max_page_size: None,
        },
        sdk,
    )
    .expect("start rekognition-local")
}

/// moto (table, bucket, the job topic with a probe) and rekognition-local,
/// with the handlers called in this process, as in `lambda_video`.
struct World {
    _moto: MotoServer,
    sdk: aws_config::SdkConfig,
    detector: Option<RunningServer>,
    probe: TopicProbe,
    config: Config,
    store: DynamoStore,
}

async fn world() -> World {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, TABLE).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let probe = TopicProbe::new(&sdk, "video-jobs").await;
    let mut config = Config::for_table(TABLE);
    config.video_topic_arn = Some(probe.topic_arn.clone());
    config.video_role_arn = Some(VIDEO_ROLE.into());
    config.media_bucket = Some(BUCKET.into());
    World {
        detector: Some(canned_detector(&sdk)),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE),
        config,
        probe,
        sdk,
        _moto: moto,
    }
}

impl World {
    /// Rekognition as `AWS_ENDPOINT_URL_REKOGNITION` points the functions
    /// at the running rekognition-local.
    fn labeler(&self) -> Rekognition {
        let detector = self.detector.as_ref().expect("rekognition-local runs");
        Rekognition::new(aws::rekognition_client(&self.sdk, detector))
    }

    /// Uploads `key` and hands object-created its event: the video is
    /// pending on a job; returns the job's id.
    async fn upload_video(&self, key: &str, body: &[u8]) -> String {
        aws::put_object(&self.sdk, BUCKET, key, body.to_vec()).await;
        let out = handle_s3_event(
            Role::Created,
            &self.config,
            &self.store,
            &self.labeler(),
            &created_event(key),
        )
        .await
        .unwrap_or_else(|e| panic!("object-created {key}: {e}"));
        assert_eq!(out.jobs_started, 1, "{key}: {out:?}");
        let r = self.store.get(key).await.unwrap().unwrap();
        assert_eq!(r.status, RecordStatus::Pending, "{key}");
        r.job_id
            .expect("the job id is stored with the pending record")
    }

    /// Stops rekognition-local and starts a new one, which knows no job.
    async fn restart_detector(&mut self) {
        if let Some(old) = self.detector.take() {
            // Its drop joins its thread: not on the runtime's.
            tokio::task::spawn_blocking(move || drop(old))
                .await
                .unwrap();
        }
        self.detector = Some(canned_detector(&self.sdk));
    }

    /// A sweep at a time when every pending video is overdue.
    async fn sweep_later(&self) -> Sweep {
        let later = now_secs() + self.config.pending_timeout_seconds + 1;
        sweep_pending(&self.config, &self.store, &self.labeler(), later)
            .await
            .unwrap_or_else(|e| panic!("the sweep fails: {e}"))
    }
}

/// Pins the sweeper's FAILED branch: a video whose job ended FAILED and
/// whose job-complete notice was lost is recorded `failed`, with an error
/// naming the job and its status, exactly as the notice would have had it
/// recorded; the sweep counts it as failed (nothing labelled, nothing
/// stuck), and the next sweep no longer sees it pending.
#[tokio::test]
async fn a_video_whose_job_failed_and_whose_notice_was_lost_is_failed_by_the_sweeper() {
    let w = world().await;
    let job_id = w.upload_video("broken.mov", b"this is not a movie").await;
    // The job ends FAILED; its notice is published, and lost.
    let notice = w.probe.next_message().await;
    assert_eq!(
        (notice["JobId"].as_str(), notice["Status"].as_str()),
        (Some(job_id.as_str()), Some("FAILED")),
        "{notice}"
    );
    assert_eq!(
        w.store.get("broken.mov").await.unwrap().unwrap().status,
        RecordStatus::Pending,
        "without its notice, the video stays pending"
    );

    let sweep = w.sweep_later().await;
    assert_eq!(
        sweep,
        Sweep {
            overdue: 1,
            failed: 1,
            ..Sweep::default()
        }
    );
    let r = w.store.get("broken.mov").await.unwrap().unwrap();
    assert_eq!(r.status, RecordStatus::Failed);
    let error = r.error.expect("a failed record says why");
    assert!(
        error.contains(&job_id) && error.contains("FAILED"),
        "the error names the job and how it ended: {error}"
    );
    assert_eq!(w.sweep_later().await.overdue, 0, "no longer pending");
}

/// Pins the sweeper's unknown-job branch: a video pending on a job that
/// Rekognition answers `ResourceNotFoundException` for (here a job of a
/// rekognition-local that has restarted since) is recorded `failed`, its
/// job id cleared, with an error that names the job and asks for a
/// re-upload; the sweep counts it as failed and the next one no longer
/// sees it.
#[tokio::test]
async fn a_video_whose_job_rekognition_no_longer_knows_is_failed_by_the_sweeper() {
    let mut w = world().await;
    let job_id = w.upload_video("clip.mp4", media::MP4).await;
    // The job finishes; its notice is lost.
    let notice = w.probe.next_message().await;
    assert_eq!(notice["JobId"], json!(job_id), "{notice}");

    w.restart_detector().await;
    let unknown = aws::rekognition_client(&w.sdk, w.detector.as_ref().unwrap())
        .get_label_detection()
        .job_id(&job_id)
        .send()
        .await
        .expect_err("a restarted rekognition-local knows no job");
    assert_eq!(
        unknown.code(),
        Some("ResourceNotFoundException"),
        "{unknown:?}"
    );

    let sweep = w.sweep_later().await;
    assert_eq!(
        sweep,
        Sweep {
            overdue: 1,
            failed: 1,
            ..Sweep::default()
        }
    );
    let r = w.store.get("clip.mp4").await.unwrap().unwrap();
    assert_eq!(r.status, RecordStatus::Failed);
    assert_eq!(r.job_id, None, "no job is left to ask about");
    let error = r.error.expect("a failed record says why");
    assert!(
        error.contains(&job_id) && error.contains("no longer knows"),
        "{error}"
    );
    assert_eq!(w.sweep_later().await.overdue, 0, "no longer pending");
}

/// Pins the sweeper's still-running branch, through the real binaries
/// under `cargo lambda watch`: object-created starts a job at
/// rekognition-local, which stays IN_PROGRESS; once the video is pending
/// longer than `PENDING_TIMEOUT_SECONDS`, `pending-sweeper` leaves it
/// alone (still pending, on the same job), succeeds, answers a sweep with
/// one overdue and one stuck video and nothing else, and writes the
/// `MediaStuckPending` metric (CloudWatch EMF, which template.yaml alarms
/// on) with the value 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_whose_job_still_runs_stays_pending_and_counts_in_media_stuck_pending() {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, TABLE).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let probe = TopicProbe::new(&sdk, "video-jobs").await;
    aws::put_object(&sdk, BUCKET, "running.mp4", media::MP4.to_vec()).await;

    // rekognition-local, with the model, reads S3 through a proxy. Its
    // StartLabelDetection reads the video's first bytes (let through);
    // the job then downloads the video, and that download is held.
    let proxy = FaultProxy::start(&moto.endpoint());
    let video = Match::s3_get(&format!("{BUCKET}/running.mp4"));
    proxy.inject(Rule::times(1, Fault::Delay(Duration::ZERO), video.clone()));
    proxy.inject(Rule::always(Fault::Hang, video.clone()));
    let detector = RunningServer::start(
        ServerConfig {
            labeler: Labeler::load_model(&photos::model_dir()).expect("the model loads"),
            max_page_size: None,
        },
        &sdk.to_builder().endpoint_url(proxy.endpoint()).build(),
    )
    .expect("start rekognition-local");

    let log = tempfile::NamedTempFile::new().unwrap();
    let watch = start_lambda_watch_logging_to(
        &[
            ("AWS_ENDPOINT_URL", moto.endpoint()),
            ("AWS_ENDPOINT_URL_REKOGNITION", detector.endpoint()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("MEDIA_TABLE_NAME", TABLE.to_string()),
            ("MEDIA_BUCKET_NAME", BUCKET.to_string()),
            ("VIDEO_TOPIC_ARN", probe.topic_arn.clone()),
            ("VIDEO_ROLE_ARN", VIDEO_ROLE.to_string()),
            ("PENDING_TIMEOUT_SECONDS", "1".to_string()),
        ],
        log.path(),
    );
    let invoker = Invoker::at(watch.endpoint());
    let scheduled = json!({"version": "0", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": "2026-11-24T11:00:00Z", "detail": {}});
    // A first sweep, with nothing pending (which also builds the binary,
    // so that the second runs while the job is still held).
    let idle = invoker
        .invoke("pending-sweeper", &scheduled)
        .await
        .expect("a sweep with nothing pending succeeds");
    assert_eq!(idle["overdue"], 0, "{idle}");

    let created = invoker
        .invoke("object-created", &created_event("running.mp4"))
        .await
        .expect("object-created starts the job");
    assert_eq!(created["jobs_started"], 1, "{created}");
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    let pending = store.get("running.mp4").await.unwrap().unwrap();
    assert_eq!(pending.status, RecordStatus::Pending);
    let job_id = pending.job_id.clone().expect("the job id is stored");
    // The job is running: its download (the second GET of the video,
    // after StartLabelDetection's) is being held.
    let start = Instant::now();
    while proxy.seen(&video) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job never downloaded the video: {:?}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Pending for longer than PENDING_TIMEOUT_SECONDS (whole seconds).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let sweep = invoker
        .invoke("pending-sweeper", &scheduled)
        .await
        .expect("a sweep that finds a running job succeeds");
    assert_eq!(
        sweep,
        json!({"overdue": 1, "labelled": 0, "failed": 0, "restarted": 0,
               "stale": 0, "stuck": 1, "errors": []})
    );
    let after = store.get("running.mp4").await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.job_id.as_deref(), after.event_order),
        (
            RecordStatus::Pending,
            Some(job_id.as_str()),
            pending.event_order
        ),
        "a running job is left alone"
    );

    // The sweeps' metric lines, as Lambda's log delivery would read them:
    // one per run, the idle one first.
    let start = Instant::now();
    let metric = loop {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| l.find('{').map(|i| &l[i..]))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("MediaStuckPending").is_some())
            .collect();
        if lines.len() >= 2 {
            assert_eq!(lines.len(), 2, "one metric line per sweep: {lines:?}");
            assert_eq!(
                lines[0]["MediaStuckPending"], 0.0,
                "the idle sweep: {lines:?}"
            );
            break lines[1].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not two MediaStuckPending metric lines in the functions' output:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(metric["MediaStuckPending"], 1.0, "{metric}");
    assert_eq!(metric["Function"], "pending-sweeper", "{metric}");
    let declaration = &metric["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(declaration["Namespace"], "MediaQuery", "{metric}");
    assert!(
        declaration["Metrics"]
            .as_array()
            .is_some_and(|m| m.iter().any(|d| d["Name"] == "MediaStuckPending")),
        "the metric is declared: {metric}"
    );
}
