//! IAM as deployed: every function runs with credentials limited to exactly
//! the statements `template.yaml` gives it, and the Worker with the
//! `EdgeReaderUser`'s, against moto with authorization on (see
//! `media_query_tests::iam` for what moto enforces and what is checked
//! in-process instead). A statement a function needs and lacks fails
//! here, and so does a request a function sends that none of its declared
//! calls covers (`media_query_lambda::iam`); a statement it has and does
//! not need fails `media_query_tests::declared_iam`.

use media_query_detector::{Labeler, RunningServer, ServerConfig};
use media_query_domain::labels::DetectedLabel;
use media_query_domain::{MediaRecord, MediaType, OrderKey, RecordStatus};
use media_query_lambda::config::Config;
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::handlers::export::write_snapshot;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::handlers::serving::{apply_changes, current_states};
use media_query_lambda::handlers::sweeper::sweep_pending;
use media_query_lambda::handlers::video::handle_job_event;
use media_query_lambda::handlers::writer::SnapshotTarget;
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::snapshot_bucket::SnapshotBucket;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::launch::MotoServer;
use media_query_tests::aws::{self, media, TopicProbe};
use media_query_tests::iam::{self, error_chain, Principal};
use media_query_tests::moto::start_moto;
use media_query_tests::template::{self, without_action, Stack, Statement, Template};
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const STACK: &str = "mq-iam";

/// The functions this file runs; a function added to the template must
/// be added here, with a scenario.
const FUNCTIONS: [&str; 6] = [
    "ExportWriterFunction",
    "ObjectCreatedFunction",
    "ObjectRemovedFunction",
    "PendingSweeperFunction",
    "ReadApiFunction",
    "VideoJobCompleteFunction",
];

/// moto with an IAM user per function and for the Worker, holding the
/// template's statements.
async fn users(moto: &MotoServer, stack: &Stack) -> BTreeMap<String, Principal> {
    let mut functions = stack.functions();
    functions.sort();
    assert_eq!(
        functions, FUNCTIONS,
        "template.yaml's functions; give a new one its scenario in this file"
    );
    let mut users = BTreeMap::new();
    for f in functions.into_iter().chain(["EdgeReaderUser".to_string()]) {
        let principal = Principal::from_template(moto, stack, &f).await;
        users.insert(f, principal);
    }
    users
}

/// The stack's resources in moto, created by an all-allowed admin, with
/// authorization on.
struct Deployment {
    moto: MotoServer,
    stack: Stack,
    admin: aws_config::SdkConfig,
    store: DynamoStore,
    table: String,
    media_bucket: String,
    snapshot_bucket: String,
}

impl Deployment {
    /// Call after creating every user: IAM cannot be changed once
    /// authorization is on (the tests' IAM calls are unsigned).
    async fn new(moto: MotoServer, stack: Stack) -> Deployment {
        let admin = Principal::admin(&moto).await;
        iam::enforce(&moto).await;
        let admin = admin.sdk().await;
        let table = stack.reference("MediaTable");
        let media_bucket = stack.reference("MediaBucket");
        let snapshot_bucket = stack.reference("ExportBucket");
        aws::create_media_table(&admin, &table).await;
        aws::create_bucket(&admin, &media_bucket).await;
        aws::create_bucket(&admin, &snapshot_bucket).await;
        Deployment {
            store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&admin), &table),
            moto,
            stack,
            admin,
            table,
            media_bucket,
            snapshot_bucket,
        }
    }

    async fn upload(&self, key: &str, body: &[u8]) {
        aws::put_object(&self.admin, &self.media_bucket, key, body.to_vec()).await;
    }

    /// A record as a handler would have stored it.
    async fn put(&self, name: &str, labels: &[&str], status: RecordStatus) {
        let media_type = MediaType::from_key(name).unwrap();
        let mut r = MediaRecord::ready(
            name,
            media_type,
            labels.iter().map(|l| l.to_string()).collect(),
        );
        r.status = status;
        r.event_order = Some(OrderKey::from_sequencer("01").unwrap());
        self.store.put_if_newer(&r).await.unwrap();
    }

    async fn function(&self, logical: &str, principal: &Principal) -> Function {
        let config = self.stack.config(logical);
        assert_eq!(config.table, self.table);
        let sdk = principal.sdk().await;
        Function {
            store: DynamoStore::new(principal.dynamodb(&sdk), &config.table),
            s3: principal.s3(&sdk),
            principal: principal.clone(),
            config,
            sdk,
        }
    }

    /// An S3 notification for the media bucket.
    fn s3_event(&self, name: &str, key: &str, time: &str) -> Value {
        json!({"Records": [{"eventSource": "aws:s3", "eventTime": time, "eventName": name,
            "s3": {"bucket": {"name": self.media_bucket}, "object": {"key": key, "size": 20}}}]})
    }
}

/// A function as deployed: settings from its environment in the
/// template, every client with its own key only.
struct Function {
    config: Config,
    principal: Principal,
    sdk: aws_config::SdkConfig,
    store: DynamoStore,
    s3: aws_sdk_s3::Client,
}

impl Function {
    /// moto's Rekognition (DetectLabels; moto has no video APIs).
    fn moto_rekognition(&self) -> Rekognition {
        Rekognition::new(self.principal.rekognition(&self.sdk))
    }

    /// rekognition-local, as `AWS_ENDPOINT_URL_REKOGNITION` would set it;
    /// it checks no IAM, so the calls are checked in-process.
    fn local_rekognition(&self, detector: &RunningServer) -> Rekognition {
        Rekognition::new(
            self.principal
                .rekognition_at(&self.sdk, &detector.endpoint()),
        )
    }

    /// Where the export writer publishes, as its binary builds it.
    fn export_target(&self) -> SnapshotTarget {
        SnapshotTarget {
            bucket: self
                .config
                .snapshot_bucket
                .clone()
                .expect("SNAPSHOT_BUCKET"),
            prefix: self.config.snapshot_prefix.clone(),
            table_arn: format!(
                "arn:aws:dynamodb:{}::table/{}",
                template::REGION,
                self.config.table
            ),
            gc_grace_seconds: self.config.snapshot_gc_grace_seconds,
        }
    }

    /// The read API as its binary builds it.
    fn read_api(&self) -> ReadApi<'_, DynamoStore> {
        ReadApi::new(
            &self.store,
            SnapshotBucket::new(self.s3.clone(), self.config.snapshot_bucket.clone()),
            &self.config.snapshot_prefix,
            self.config.snapshot_ttl_seconds,
        )
    }
}

fn detector(admin: &aws_config::SdkConfig) -> RunningServer {
    let labels = ["Dog", "Animal"]
        .map(|n| DetectedLabel::new(n, 80.0))
        .to_vec();
    // Rekognition's own identity: it reads the video and publishes the
    // job's notice (the VideoRole) with the admin's key.
    RunningServer::start(
        ServerConfig {
            labeler: Labeler::Canned(labels),
            max_page_size: Some(2),
        },
        admin,
    )
    .unwrap()
}

fn sns_event(notice: &Value) -> Value {
    json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": notice.to_string()}}]})
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Refused by moto: a 403 `AccessDenied` answer.
fn assert_denied_by_moto(what: &str, e: &(dyn std::error::Error + 'static)) {
    let chain = error_chain(e);
    assert!(
        chain.contains("AccessDenied")
            && (chain.contains("StatusCode(403)") || chain.contains("(HTTP 403)")),
        "{what}: {chain}"
    );
    assert!(!chain.contains("iam::ResourceCheck"), "{what}: {chain}");
}

/// Refused by the in-process check of what moto does not check.
fn assert_denied_in_process(what: &str, e: &(dyn std::error::Error + 'static)) {
    let chain = error_chain(e);
    assert!(
        chain.contains("AccessDenied") && chain.contains("iam::ResourceCheck"),
        "{what}: {chain}"
    );
}

#[tokio::test]
async fn ingest_video_and_sweeper_functions_run_with_their_template_policies() {
    let moto = start_moto();
    let stack = Template::load().stack(STACK);
    let users = users(&moto, &stack).await;
    let d = Deployment::new(moto, stack).await;
    let detector = detector(&d.admin);
    let topic_arn = d.stack.reference("VideoTopic");
    let probe = TopicProbe::new(&d.admin, topic_arn.rsplit(':').next().unwrap()).await;
    assert_eq!(probe.topic_arn, topic_arn);

    let created = d
        .function("ObjectCreatedFunction", &users["ObjectCreatedFunction"])
        .await;
    let removed = d
        .function("ObjectRemovedFunction", &users["ObjectRemovedFunction"])
        .await;
    let complete = d
        .function(
            "VideoJobCompleteFunction",
            &users["VideoJobCompleteFunction"],
        )
        .await;
    let sweeper = d
        .function("PendingSweeperFunction", &users["PendingSweeperFunction"])
        .await;
    assert_eq!(
        created.config.video_topic_arn.as_deref(),
        Some(topic_arn.as_str())
    );

    // object-created, an image: GetItem, moto's DetectLabels, PutItem.
    d.upload("photo.jpg", media::JPEG).await;
    let ev = d.s3_event("ObjectCreated:Put", "photo.jpg", "2026-11-24T10:00:00.000Z");
    let out = handle_s3_event(
        Role::Created,
        &created.config,
        &created.store,
        &created.moto_rekognition(),
        &ev,
    )
    .await
    .unwrap();
    assert_eq!(out.applied, 1);
    let photo = d.store.get("photo.jpg").await.unwrap().unwrap();
    assert!(photo.is_visible() && !photo.labels.is_empty(), "{photo:?}");

    // object-created, a video: PutItem, StartLabelDetection, UpdateItem.
    d.upload("clip.mp4", media::MP4).await;
    let ev = d.s3_event("ObjectCreated:Put", "clip.mp4", "2026-11-24T10:00:00.000Z");
    let labeler = created.local_rekognition(&detector);
    let out = handle_s3_event(
        Role::Created,
        &created.config,
        &created.store,
        &labeler,
        &ev,
    )
    .await
    .unwrap();
    assert_eq!(out.jobs_started, 1);

    // video-job-complete: GetLabelDetection, PutItem.
    let notice = probe.next_message().await;
    let out = handle_job_event(
        &complete.config,
        &complete.store,
        &complete.local_rekognition(&detector),
        &sns_event(&notice),
    )
    .await
    .unwrap();
    assert_eq!(out.applied, 1);
    let clip = d.store.get("clip.mp4").await.unwrap().unwrap();
    assert_eq!(clip.labels, ["Dog", "Animal"]);

    // object-removed: PutItem (the tombstone).
    let ev = d.s3_event(
        "ObjectRemoved:Delete",
        "photo.jpg",
        "2026-11-24T10:00:01.000Z",
    );
    let out = handle_s3_event(
        Role::Removed,
        &removed.config,
        &removed.store,
        &removed.moto_rekognition(),
        &ev,
    )
    .await
    .unwrap();
    assert_eq!(out.applied, 1);
    assert_eq!(
        d.store.get("photo.jpg").await.unwrap().unwrap().status,
        RecordStatus::Deleted
    );

    // pending-sweeper: a video whose notice was lost (Scan of the pending
    // index, GetLabelDetection, PutItem) and one whose job never started
    // (StartLabelDetection, UpdateItem).
    d.upload("lost.mp4", media::MP4).await;
    let ev = d.s3_event("ObjectCreated:Put", "lost.mp4", "2026-11-24T10:00:00.000Z");
    handle_s3_event(
        Role::Created,
        &created.config,
        &created.store,
        &labeler,
        &ev,
    )
    .await
    .unwrap();
    probe.next_message().await; // lost
    d.upload("never.mp4", media::MP4).await;
    d.put("never.mp4", &[], RecordStatus::Pending).await;
    let later = now_secs() + sweeper.config.pending_timeout_seconds + 1;
    let sweep = sweep_pending(
        &sweeper.config,
        &sweeper.store,
        &sweeper.local_rekognition(&detector),
        later,
    )
    .await
    .unwrap();
    assert_eq!(
        (sweep.overdue, sweep.labelled, sweep.restarted, sweep.stuck),
        (2, 1, 1, 0),
        "{sweep:?}"
    );
    assert!(d.store.get("lost.mp4").await.unwrap().unwrap().is_visible());
    // The restarted job's notice finishes it.
    let notice = probe.next_message().await;
    let out = handle_job_event(
        &complete.config,
        &complete.store,
        &complete.local_rekognition(&detector),
        &sns_event(&notice),
    )
    .await
    .unwrap();
    assert_eq!(out.applied, 1);
    assert!(d
        .store
        .get("never.mp4")
        .await
        .unwrap()
        .unwrap()
        .is_visible());
}

/// A DynamoDB stream batch of `records`' new images, as Lambda delivers it.
fn stream_batch(records: &[&MediaRecord]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({"eventID": i.to_string(), "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": {"Keys": {"name": {"S": r.name}},
            "NewImage": serde_json::to_value(r.to_item()).unwrap(),
            "SequenceNumber": (100 + i).to_string(), "StreamViewType": "NEW_AND_OLD_IMAGES"}})
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn export_writer_and_read_api_run_with_their_template_policies() {
    let moto = start_moto();
    let stack = Template::load().stack(STACK);
    let users = users(&moto, &stack).await;
    let d = Deployment::new(moto, stack).await;
    let writer = d
        .function("ExportWriterFunction", &users["ExportWriterFunction"])
        .await;
    let reader = d
        .function("ReadApiFunction", &users["ReadApiFunction"])
        .await;
    assert_eq!(
        writer.config.snapshot_bucket.as_deref(),
        Some(d.snapshot_bucket.as_str())
    );
    for i in 0..5 {
        d.put(&format!("p{i}.jpg"), &["Dog"], RecordStatus::Ready)
            .await;
    }

    // read-api before any snapshot: a Scan of the table.
    let api = reader.read_api();
    let r = api.respond("GET", "/", None, None).await;
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("dynamodb")),
        "{r:?}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&r.body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // export-writer: a full rebuild (Scan, PutObject, GetObject, ListBucket).
    let target = writer.export_target();
    write_snapshot(&writer.store, &target.s3_bucket(&writer.s3), &target)
        .await
        .unwrap();
    // A stream batch (GetItem of each changed name, the snapshot's objects).
    let mut cat = MediaRecord::ready("p1.jpg", MediaType::Image, vec!["Cat".into()]);
    cat.event_order = Some(OrderKey::from_sequencer("02").unwrap());
    d.store.put_if_newer(&cat).await.unwrap();
    let changes = media_query_domain::stream::parse_batch(&stream_batch(&[&cat])).unwrap();
    let latest = current_states(&writer.store, changes.latest.into_keys())
        .await
        .unwrap();
    let updated = apply_changes(&latest, &target.s3_bucket(&writer.s3), &target)
        .await
        .unwrap();
    assert!(updated.is_some(), "a published snapshot to update");
    // Two more rebuilds: reconciliation, and the oldest export deleted
    // (DeleteObject).
    write_snapshot(&writer.store, &target.s3_bucket(&writer.s3), &target)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    write_snapshot(&writer.store, &target.s3_bucket(&writer.s3), &target)
        .await
        .unwrap();
    let exports = aws::s3_client(&d.admin)
        .list_objects_v2()
        .bucket(&d.snapshot_bucket)
        .prefix(format!("{}/AWSDynamoDB/", target.prefix))
        .send()
        .await
        .unwrap();
    let dirs: std::collections::BTreeSet<&str> = exports
        .contents()
        .iter()
        .filter_map(|o| o.key()?.split('/').nth(2))
        .collect();
    assert_eq!(dirs.len(), 2, "the oldest export deleted: {dirs:?}");

    // read-api, a fresh instance: from the snapshot (GetObject)...
    let api = reader.read_api();
    let r = api.respond("GET", "/", Some("label=Cat"), None).await;
    assert_eq!(
        (r.status, r.header("x-media-source"), r.body.as_str()),
        (
            200,
            Some("snapshot"),
            r#"[{"name":"p1.jpg","type":"image","labels":["Cat"]}]"#
        )
    );
    // ... and a name the snapshot lacks from the table (GetItem).
    d.put("fresh.jpg", &["Owl"], RecordStatus::Ready).await;
    let r = api.respond("GET", "/fresh.jpg", None, None).await;
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("dynamodb")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_statement_missing_from_a_policy_is_access_denied() {
    let moto = start_moto();
    let stack = Template::load().stack(STACK);
    let users = users(&moto, &stack).await;
    let narrowed = |logical: &str, f: &dyn Fn(&mut Statement)| {
        let mut statements = stack.statements(logical);
        statements.iter_mut().for_each(f);
        statements
    };
    // An action removed: moto refuses it (DynamoDB, Rekognition, S3).
    let no_put = Principal::create(
        &moto,
        "object-created-without-PutItem",
        without_action(
            &stack.statements("ObjectCreatedFunction"),
            "dynamodb:PutItem",
        ),
    )
    .await;
    let no_detect = Principal::create(
        &moto,
        "object-created-without-DetectLabels",
        without_action(
            &stack.statements("ObjectCreatedFunction"),
            "rekognition:DetectLabels",
        ),
    )
    .await;
    // What Rekognition needs of its caller besides the action, and
    // rekognition-local's actions: checked in-process.
    let no_s3_read = Principal::create(
        &moto,
        "object-created-without-GetObject",
        without_action(&stack.statements("ObjectCreatedFunction"), "s3:GetObject"),
    )
    .await;
    let no_pass_role = Principal::create(
        &moto,
        "object-created-without-PassRole",
        without_action(&stack.statements("ObjectCreatedFunction"), "iam:PassRole"),
    )
    .await;
    let no_start = Principal::create(
        &moto,
        "object-created-without-StartLabelDetection",
        without_action(
            &stack.statements("ObjectCreatedFunction"),
            "rekognition:StartLabelDetection",
        ),
    )
    .await;
    let no_snapshot = Principal::create(
        &moto,
        "read-api-without-GetObject",
        without_action(&stack.statements("ReadApiFunction"), "s3:GetObject"),
    )
    .await;
    // A resource narrowed: moto refuses S3 keys outside the statement's.
    let other_prefix = Principal::create(
        &moto,
        "export-writer-other-prefix",
        narrowed("ExportWriterFunction", &|s| {
            for r in &mut s.resources {
                *r = r.replace("/edge-snapshot/", "/elsewhere/");
            }
        }),
    )
    .await;
    // What moto does not check, the in-process check does: a DynamoDB
    // resource (the index, not the table) and a ListBucket condition.
    let table_not_index = Principal::create(
        &moto,
        "sweeper-scan-on-table",
        narrowed("PendingSweeperFunction", &|s| {
            for r in &mut s.resources {
                *r = r.trim_end_matches("/index/pending").to_string();
            }
        }),
    )
    .await;
    let listing_elsewhere = Principal::create(
        &moto,
        "export-writer-list-elsewhere",
        narrowed("ExportWriterFunction", &|s| {
            for values in s.conditions.values_mut().flat_map(|keys| keys.values_mut()) {
                *values = vec!["elsewhere/*".into()];
            }
        }),
    )
    .await;
    let d = Deployment::new(moto, stack).await;

    // object-created without dynamodb:PutItem: the image is labelled, and
    // storing it is refused; with the template's statements it works.
    d.upload("photo.jpg", media::JPEG).await;
    let ev = d.s3_event("ObjectCreated:Put", "photo.jpg", "2026-11-24T10:00:00.000Z");
    let crippled = d.function("ObjectCreatedFunction", &no_put).await;
    let e = handle_s3_event(
        Role::Created,
        &crippled.config,
        &crippled.store,
        &crippled.moto_rekognition(),
        &ev,
    )
    .await
    .unwrap_err();
    assert_denied_by_moto("PutItem not granted", &e);
    assert!(d.store.get("photo.jpg").await.unwrap().is_none());
    let crippled = d.function("ObjectCreatedFunction", &no_detect).await;
    let e = handle_s3_event(
        Role::Created,
        &crippled.config,
        &crippled.store,
        &crippled.moto_rekognition(),
        &ev,
    )
    .await
    .unwrap_err();
    assert_denied_by_moto("DetectLabels not granted", &e);
    let created = d
        .function("ObjectCreatedFunction", &users["ObjectCreatedFunction"])
        .await;
    let out = handle_s3_event(
        Role::Created,
        &created.config,
        &created.store,
        &created.moto_rekognition(),
        &ev,
    )
    .await
    .unwrap();
    assert_eq!(out.applied, 1);

    // Rekognition reads the image from S3 with the caller's permissions.
    let ev = d.s3_event("ObjectCreated:Put", "other.jpg", "2026-11-24T10:00:00.000Z");
    let blind = d.function("ObjectCreatedFunction", &no_s3_read).await;
    let e = handle_s3_event(
        Role::Created,
        &blind.config,
        &blind.store,
        &blind.moto_rekognition(),
        &ev,
    )
    .await
    .unwrap_err();
    assert_denied_in_process("s3:GetObject for DetectLabels not granted", &e);
    assert!(
        error_chain(&e).contains("s3:GetObject"),
        "{}",
        error_chain(&e)
    );

    // A video job: StartLabelDetection at rekognition-local, and the video
    // role passed to it.
    let detector = detector(&d.admin);
    d.upload("clip.mp4", media::MP4).await;
    let ev = d.s3_event("ObjectCreated:Put", "clip.mp4", "2026-11-24T10:00:00.000Z");
    for (principal, missing) in [
        (&no_start, "rekognition:StartLabelDetection"),
        (&no_pass_role, "iam:PassRole"),
    ] {
        let f = d.function("ObjectCreatedFunction", principal).await;
        let e = handle_s3_event(
            Role::Created,
            &f.config,
            &f.store,
            &f.local_rekognition(&detector),
            &ev,
        )
        .await
        .unwrap_err();
        assert_denied_in_process(missing, &e);
        assert!(error_chain(&e).contains(missing), "{}", error_chain(&e));
    }
    let out = handle_s3_event(
        Role::Created,
        &created.config,
        &created.store,
        &created.local_rekognition(&detector),
        &ev,
    )
    .await
    .unwrap();
    assert_eq!(out.jobs_started, 1);

    // export-writer allowed another prefix than the one it writes.
    let writer = d
        .function("ExportWriterFunction", &users["ExportWriterFunction"])
        .await;
    let target = writer.export_target();
    let elsewhere = d.function("ExportWriterFunction", &other_prefix).await;
    let e = write_snapshot(&elsewhere.store, &target.s3_bucket(&elsewhere.s3), &target)
        .await
        .unwrap_err();
    // Its first call there, the read of the pointer, is refused.
    assert_denied_by_moto("the export writer outside its granted prefix", &e);
    // ... or listing only another prefix.
    let listing = d.function("ExportWriterFunction", &listing_elsewhere).await;
    let e = write_snapshot(&listing.store, &target.s3_bucket(&listing.s3), &target)
        .await
        .unwrap_err();
    assert_denied_in_process("ListBucket outside the granted s3:prefix", &e);
    assert!(
        error_chain(&e).contains("s3:ListBucket"),
        "{}",
        error_chain(&e)
    );
    write_snapshot(&writer.store, &target.s3_bucket(&writer.s3), &target)
        .await
        .unwrap();

    // read-api without s3:GetObject: the snapshot cannot be read, and the
    // table answers instead.
    let reader = d
        .function("ReadApiFunction", &users["ReadApiFunction"])
        .await;
    let r = reader
        .read_api()
        .respond("GET", "/photo.jpg", None, None)
        .await;
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("snapshot"))
    );
    let blind = d.function("ReadApiFunction", &no_snapshot).await;
    let r = blind
        .read_api()
        .respond("GET", "/photo.jpg", None, None)
        .await;
    assert_eq!(
        (r.status, r.header("x-media-source")),
        (200, Some("dynamodb"))
    );
    assert!(
        r.log
            .iter()
            .any(|l| l.contains("AccessDenied") || l.contains("Access Denied")),
        "{:?}",
        r.log
    );

    // pending-sweeper allowed to Scan the table, not its pending index.
    let now = now_secs();
    let sweeper = d
        .function("PendingSweeperFunction", &users["PendingSweeperFunction"])
        .await;
    let labeler = sweeper.moto_rekognition();
    let sweep = sweep_pending(&sweeper.config, &sweeper.store, &labeler, now)
        .await
        .unwrap();
    assert_eq!(sweep.overdue, 0);
    let wrong = d.function("PendingSweeperFunction", &table_not_index).await;
    let e = sweep_pending(&wrong.config, &wrong.store, &labeler, now)
        .await
        .unwrap_err();
    assert_denied_in_process("Scan of the index not granted", &e);
    assert!(
        error_chain(&e).contains("/index/pending"),
        "{}",
        error_chain(&e)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reads_with_the_edge_reader_users_key() {
    let moto = start_moto();
    let stack = Template::load().stack(STACK);
    let users = users(&moto, &stack).await;
    let mut edge_key = users["EdgeReaderUser"].clone();
    let d = Deployment::new(moto, stack).await;
    for (i, label) in ["Dog", "Cat", "Dog"].iter().enumerate() {
        d.put(&format!("p{i}.jpg"), &[label], RecordStatus::Ready)
            .await;
    }
    // Published by the export writer, with its own key.
    let writer = d
        .function("ExportWriterFunction", &users["ExportWriterFunction"])
        .await;
    let target = writer.export_target();
    write_snapshot(&writer.store, &target.s3_bucket(&writer.s3), &target)
        .await
        .unwrap();

    let edge = start_wrangler_dev(&[
        ("AWS_REGION", template::REGION.into()),
        ("AWS_ENDPOINT_URL", d.moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", edge_key.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", edge_key.secret_access_key.clone()),
        ("MEDIA_TABLE_NAME", d.table.clone()),
        ("SNAPSHOT_BUCKET", target.bucket.clone()),
        ("SNAPSHOT_PREFIX", target.prefix.clone()),
        ("SNAPSHOT_TTL_SECONDS", "1".into()),
    ]);
    // From the snapshot (GetObject under <prefix>/serving/).
    let a = edge.get("/?label=Dog").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("snapshot")),
        "{}",
        a.body
    );
    assert_eq!(a.json().as_array().unwrap().len(), 2);
    // A name the snapshot lacks: GetItem.
    d.put("fresh.jpg", &["Owl"], RecordStatus::Ready).await;
    let a = edge.get("/fresh.jpg").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb")),
        "{}",
        a.body
    );
    // No snapshot at all: a Scan.
    aws::s3_client(&d.admin)
        .delete_object()
        .bucket(&target.bucket)
        .key(media_query_domain::serving::pointer_key(&target.prefix))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = edge.get("/?label=Owl").await;
    assert_eq!(
        (a.status, a.header("x-media-source")),
        (200, Some("dynamodb")),
        "{}",
        a.body
    );
    assert_eq!(a.json()[0]["name"], "fresh.jpg");

    // The same key without dynamodb:GetItem: the name cannot be read.
    let statements = without_action(&d.stack.statements("EdgeReaderUser"), "dynamodb:GetItem");
    edge_key.replace_policy(&d.moto, statements).await;
    let a = edge.get("/fresh.jpg").await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(
        edge.get("/?label=Owl").await.status,
        200,
        "Scan is still granted"
    );
}
