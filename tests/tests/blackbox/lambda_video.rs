//! The video path end to end on loopback: object-created starts a job at
//! rekognition-local (Rekognition's protocol), the job-complete notice
//! arrives over SNS (moto), and video-job-complete reads every
//! GetLabelDetection page into the stored item.

use media_query_detector::{Labeler, RunningServer, ServerConfig};
use media_query_domain::labels::DetectedLabel;
use media_query_domain::RecordStatus;
use media_query_lambda::config::Config;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::handlers::sweeper::sweep_pending;
use media_query_lambda::handlers::video::handle_job_event;
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::launch::MotoServer;
use media_query_tests::aws::{self, media, TopicProbe};
use media_query_tests::moto::start_moto;
use serde_json::{json, Value};

struct World {
    _moto: MotoServer,
    _detector: RunningServer,
    sdk: aws_config::SdkConfig,
    probe: TopicProbe,
    config: Config,
    store: DynamoStore,
    labeler: Rekognition,
}

async fn world() -> World {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, "media").await;
    aws::create_bucket(&sdk, "media").await;
    // Several labels per frame and two entries per page: many pages.
    let labels = ["Dog", "Animal", "Husky", "Snow"]
        .map(|n| DetectedLabel::new(n, 80.0))
        .to_vec();
    let detector = RunningServer::start(
        ServerConfig {
            labeler: Labeler::Canned(labels),
            max_page_size: Some(2),
        },
        &sdk,
    )
    .unwrap();
    let probe = TopicProbe::new(&sdk, "video-jobs").await;
    let mut config = Config::for_table("media");
    config.video_topic_arn = Some(probe.topic_arn.clone());
    config.video_role_arn = Some("arn:aws:iam::123456789012:role/rekognition".into());
    // What AWS_ENDPOINT_URL_REKOGNITION does for the deployed binary.
    let rekognition = aws_sdk_rekognition::Client::from_conf(
        aws_sdk_rekognition::config::Builder::from(&sdk)
            .endpoint_url(detector.endpoint())
            .build(),
    );
    World {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "media"),
        labeler: Rekognition::new(rekognition),
        config,
        probe,
        sdk,
        _moto: moto,
        _detector: detector,
    }
}

impl World {
    async fn upload(&self, key: &str, body: &[u8]) {
        aws::s3_client(&self.sdk)
            .put_object()
            .bucket("media")
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }

    async fn s3_event(&self, role: Role, name: &str, key: &str, time: &str) {
        let ev = json!({"Records": [{"eventTime": time, "eventName": name,
            "s3": {"bucket": {"name": "media"}, "object": {"key": key, "size": 20}}}]});
        handle_s3_event(role, &self.config, &self.store, &self.labeler, &ev)
            .await
            .unwrap();
    }

    /// Delivers the next job notice as Lambda's SNS event.
    async fn deliver_job_notice(&self) -> media_query_lambda::handlers::Outcome {
        let notice = self.probe.next_message().await;
        let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": notice.to_string()}}]});
        handle_job_event(&self.config, &self.store, &self.labeler, &event)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_uploaded_video_gets_the_labels_of_every_page() {
    let w = world().await;
    w.upload("holiday/sample clip.mp4", media::MP4).await;
    w.s3_event(
        Role::Created,
        "ObjectCreated:Put",
        "holiday/sample+clip.mp4",
        "2026-11-24T10:00:00.000Z",
    )
    .await;
    assert_eq!(
        w.store
            .get("holiday/sample clip.mp4")
            .await
            .unwrap()
            .unwrap()
            .status,
        RecordStatus::Pending
    );

    let outcome = w.deliver_job_notice().await;
    assert_eq!(outcome.applied, 1);
    let r = w
        .store
        .get("holiday/sample clip.mp4")
        .await
        .unwrap()
        .unwrap();
    assert!(r.is_visible());
    // 10 frames x 4 labels on pages of 2: the last label is only on page 20.
    assert_eq!(r.labels, ["Dog", "Animal", "Husky", "Snow"]);
    let item: Value = serde_json::to_value(r.to_media_item()).unwrap();
    assert_eq!(item["type"], "video");
}

#[tokio::test]
async fn a_video_deleted_while_its_job_runs_stays_deleted() {
    let w = world().await;
    w.upload("clip.mp4", media::MP4).await;
    w.s3_event(
        Role::Created,
        "ObjectCreated:Put",
        "clip.mp4",
        "2026-11-24T10:00:00.000Z",
    )
    .await;
    w.s3_event(
        Role::Removed,
        "ObjectRemoved:Delete",
        "clip.mp4",
        "2026-11-24T10:00:00.500Z",
    )
    .await;
    let outcome = w.deliver_job_notice().await;
    assert_eq!((outcome.applied, outcome.stale), (0, 1));
    assert_eq!(
        w.store.get("clip.mp4").await.unwrap().unwrap().status,
        RecordStatus::Deleted
    );
}

#[tokio::test]
async fn a_failed_job_is_recorded_as_failed() {
    let w = world().await;
    w.upload("broken.mov", b"this is not a movie").await;
    w.s3_event(
        Role::Created,
        "ObjectCreated:Put",
        "broken.mov",
        "2026-11-24T10:00:00.000Z",
    )
    .await;
    let outcome = w.deliver_job_notice().await;
    assert_eq!(outcome.unprocessable, 1);
    let r = w.store.get("broken.mov").await.unwrap().unwrap();
    assert_eq!(r.status, RecordStatus::Failed);
    assert!(r.error.unwrap().contains("FAILED"));
}

#[tokio::test]
async fn a_misconfigured_video_job_fails_loudly_and_succeeds_once_fixed() {
    let mut w = world().await;
    w.upload("clip.mp4", media::MP4).await;
    let ev = json!({"Records": [{"eventTime": "2026-11-24T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "media"}, "object": {"key": "clip.mp4", "size": 20}}}]});
    // A role name where an ARN belongs: Rekognition answers
    // InvalidParameterException. That is the deployment's fault, not the
    // video's: the invocation fails (Lambda retries, then dead-letters),
    // and the upload stays pending instead of failed for good.
    let fixed_role = w.config.video_role_arn.replace("media-query-video".into());
    let err = handle_s3_event(Role::Created, &w.config, &w.store, &w.labeler, &ev)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("InvalidParameterException"),
        "{err}"
    );
    let stored = w.store.get("clip.mp4").await.unwrap().unwrap();
    assert_eq!(stored.status, RecordStatus::Pending);
    assert_eq!(stored.job_id, None);

    // Fixed, the retried (or redriven) event starts the job.
    w.config.video_role_arn = fixed_role;
    let out = handle_s3_event(Role::Created, &w.config, &w.store, &w.labeler, &ev)
        .await
        .unwrap();
    assert_eq!(out.jobs_started, 1);
    assert_eq!(w.deliver_job_notice().await.applied, 1);
    assert!(w.store.get("clip.mp4").await.unwrap().unwrap().is_visible());
}

#[tokio::test]
async fn a_video_whose_notice_was_lost_is_finished_by_the_sweeper() {
    let mut w = world().await;
    w.config.media_bucket = Some("media".into());
    w.upload("lost.mp4", media::MP4).await;
    w.s3_event(
        Role::Created,
        "ObjectCreated:Put",
        "lost.mp4",
        "2026-11-24T10:00:00.000Z",
    )
    .await;
    let pending = w.store.get("lost.mp4").await.unwrap().unwrap();
    assert_eq!(pending.status, RecordStatus::Pending);
    let job_id = pending
        .job_id
        .expect("the job id is stored with the pending record");
    // The job finishes, and its notice is lost.
    let notice = w.probe.next_message().await;
    assert_eq!(notice["JobId"], json!(job_id));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let early = sweep_pending(&w.config, &w.store, &w.labeler, now)
        .await
        .unwrap();
    assert_eq!(early.overdue, 0, "not pending for long yet");
    let later = now + w.config.pending_timeout_seconds + 1;
    let sweep = sweep_pending(&w.config, &w.store, &w.labeler, later)
        .await
        .unwrap();
    assert_eq!((sweep.overdue, sweep.labelled, sweep.stuck), (1, 1, 0));
    let r = w.store.get("lost.mp4").await.unwrap().unwrap();
    assert!(r.is_visible());
    assert_eq!(r.labels, ["Dog", "Animal", "Husky", "Snow"]);
    // Nothing is left pending, so the next sweep reads nothing.
    let again = sweep_pending(&w.config, &w.store, &w.labeler, later)
        .await
        .unwrap();
    assert_eq!(again.overdue, 0);
}
