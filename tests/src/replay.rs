//! Replay at scale: random event histories for many object keys, delivered
//! shuffled, replayed and batched to `object-created`, `object-removed` and
//! `video-job-complete`, and the oracle that says what the table must hold
//! afterwards: **0 lost, 0 resurrected**.
//!
//! Two tests share it: `lambda/tests/handlers/replay.rs` (10,000 events against
//! `MemoryStore`, and proptest cases) and `tests/tests/blackbox/replay.rs`
//! (about 300 events against DynamoDB in moto, where the conditional writes
//! are DynamoDB's). The lambda crate cannot depend on this crate (this one
//! depends on it), so its test includes this file with `#[path]`; that is
//! why this module uses only what both depend on: the lambda and domain
//! crates and `serde_json` (and its own small random generator).
//!
//! # What is generated
//!
//! Per key (images and videos, with awkward names: spaces, `+`, `%`, `/`,
//! non-ASCII), a history of uploads and removals with strictly increasing
//! S3 sequencers (of varying length, crossing a digit boundary, so only a
//! padded comparison orders them). Each video upload has a Rekognition job
//! notice tagged with that upload's order: `SUCCEEDED`, sometimes `FAILED`
//! or `ERROR`, and sometimes never delivered. The raw S3 key of an event is
//! encoded one of several valid ways (`+` or `%20` for a space, `/` or
//! `%2F`, upper- or lower-case escapes); all decode to the same name.
//!
//! # How it is delivered
//!
//! Every S3 event is delivered at least once (S3's guarantee), some two or
//! three times, in a shuffled order. Some deliveries carry several events:
//! multi-record S3 events, SQS batches (with or without SNS envelopes) and
//! SNS events; each goes to its function (`ObjectCreated` events to
//! `object-created`, `ObjectRemoved` ones to `object-removed`, as S3's
//! notification configuration routes them).
//!
//! A job notice is delivered only **after the first delivery of its upload
//! event**, anywhere after it: Rekognition can only report a job that was
//! started, and `object-created` starts it while handling that event. So a
//! notice may arrive after newer uploads or a removal of the same key (the
//! case where an old job must not bring an item back), or between replays
//! of its own upload. A notice arriving *before* its upload is dropped as
//! stale by design (the record does not carry its order yet), and the video
//! would stay pending until the sweeper; that case is not generated, since
//! "pending" would be its expected state and it would check nothing more.
//!
//! # The oracle
//!
//! The final record of a key follows from the last event of its history
//! alone (the highest sequencer), whatever the delivery order:
//! * a removal: a tombstone (`deleted`, not visible) with its order;
//! * an image upload: visible, with the labeler's labels;
//! * a video upload: visible with the labels if its notice said
//!   `SUCCEEDED`, `failed` if `FAILED` or `ERROR`, `pending` if the notice
//!   was never delivered.
//!
//! A key is **lost** if it should be visible and is not (or has the wrong
//! labels), **resurrected** if it is visible and should not be, and
//! **wrong** for any other difference (status, type or order).

use media_query_domain::labels::{aggregate_image, DetectedLabel};
use media_query_domain::s3_event::encode_key;
use media_query_domain::{ListQuery, MediaRecord, MediaType, OrderKey, RecordStatus};
use media_query_lambda::config::Config;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::handlers::video::handle_job_event;
use media_query_lambda::handlers::Outcome;
use media_query_lambda::rekognition::{FixedLabeler, Labeler};
use media_query_lambda::store::MediaStore;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};

/// The uploads' bucket in every generated event.
pub const BUCKET: &str = "media";

/// The shape of a generated run.
#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    pub keys: usize,
    /// Events to deliver, replays included: S3 records plus job notices.
    /// Every key gets at least one event, so there may be more.
    pub events: usize,
    /// Percent of events (S3 records and notices) delivered two or three times.
    pub replay_percent: u32,
    /// Percent of job notices never delivered.
    pub lost_notice_percent: u32,
    /// Percent of video jobs that end `FAILED` (a tenth of those `ERROR`).
    pub failed_job_percent: u32,
    /// Percent of deliveries that try to carry several events.
    pub batch_percent: u32,
}

impl Params {
    pub fn new(seed: u64, keys: usize, events: usize) -> Params {
        Params {
            seed,
            keys,
            events,
            replay_percent: 30,
            lost_notice_percent: 10,
            failed_job_percent: 15,
            batch_percent: 25,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Upload,
    Remove,
}

/// How a video job ended, as its notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEnd {
    Succeeded,
    Failed,
    Error,
}

impl JobEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            JobEnd::Succeeded => "SUCCEEDED",
            JobEnd::Failed => "FAILED",
            JobEnd::Error => "ERROR",
        }
    }
}

/// The job notice of a video upload.
#[derive(Debug, Clone)]
pub struct Notice {
    pub end: JobEnd,
    /// How many times it is delivered; 0 when it is lost.
    pub copies: usize,
    /// The SNS `Message`: Rekognition's JSON, as a string.
    message: String,
}

/// One S3 event of a key's history.
#[derive(Debug, Clone)]
pub struct Op {
    pub kind: OpKind,
    pub sequencer: String,
    pub order: OrderKey,
    /// How many times the S3 event is delivered (at least once).
    pub copies: usize,
    /// Video uploads only.
    pub notice: Option<Notice>,
    /// The S3 event record, identical in every copy.
    record: Value,
}

/// Everything that happens to one object key, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    /// The decoded key: the record's `name`.
    pub name: String,
    pub media_type: MediaType,
    pub ops: Vec<Op>,
}

/// What the table must hold for a key once every event was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Visible,
    Failed,
    Pending,
    Deleted,
}

impl History {
    /// The oracle: the expected state, from the last event only, and the
    /// order the record must carry.
    pub fn expected(&self) -> (Expected, &OrderKey) {
        let last = self.ops.last().expect("every key has an event");
        let state = match (last.kind, &last.notice) {
            (OpKind::Remove, _) => Expected::Deleted,
            (OpKind::Upload, _) if self.media_type == MediaType::Image => Expected::Visible,
            (OpKind::Upload, Some(n)) if n.copies > 0 => match n.end {
                JobEnd::Succeeded => Expected::Visible,
                JobEnd::Failed | JobEnd::Error => Expected::Failed,
            },
            (OpKind::Upload, _) => Expected::Pending,
        };
        (state, &last.order)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    ObjectCreated,
    ObjectRemoved,
    VideoJobComplete,
}

/// An event of a history: the S3 event of `ops[op]` of `histories[key]`,
/// or its job notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRef {
    pub key: usize,
    pub op: usize,
    pub notice: bool,
}

/// One invocation of a function.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub function: Function,
    pub event: Value,
    pub carries: Vec<EventRef>,
}

/// The histories and the deliveries that replay them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub histories: Vec<History>,
    pub deliveries: Vec<Delivery>,
}

impl Plan {
    /// Events delivered, replays included.
    pub fn events(&self) -> usize {
        self.deliveries.iter().map(|d| d.carries.len()).sum()
    }

    /// A key's history and the deliveries of its events, in order: the
    /// whole sequence that produced its record (keys do not interact).
    pub fn trace(&self, key: usize) -> String {
        let h = &self.histories[key];
        let mut out = format!("history of `{}` ({}):\n", h.name, h.media_type);
        for (i, op) in h.ops.iter().enumerate() {
            let _ = write!(
                out,
                "  op{i} {:?} sequencer {} (order {}) x{}",
                op.kind, op.sequencer, op.order, op.copies
            );
            if let Some(n) = &op.notice {
                let _ = write!(out, ", notice {} x{}", n.end.as_str(), n.copies);
            }
            out.push('\n');
        }
        out.push_str("deliveries of its events, in order:\n");
        for (i, d) in self.deliveries.iter().enumerate() {
            for e in d.carries.iter().filter(|e| e.key == key) {
                let what = if e.notice { "notice of" } else { "S3 event of" };
                let batch = d.carries.len();
                let _ = writeln!(
                    out,
                    "  #{i} {:?} (batch of {batch}): {what} op{}",
                    d.function, e.op
                );
            }
        }
        out
    }
}

/// The configuration the handlers run with: video jobs configured.
pub fn config() -> Config {
    let mut c = Config::for_table("media");
    c.video_topic_arn = Some("arn:aws:sns:us-east-1:123456789012:video-jobs".into());
    c.video_role_arn = Some("arn:aws:iam::123456789012:role/rekognition".into());
    c
}

/// The labeler: the same labels for every image and every video job (a
/// repeated name and one under the minimum confidence, to be aggregated).
pub fn labeler() -> FixedLabeler {
    FixedLabeler::new(vec![
        DetectedLabel::new("Dog", 90.0),
        DetectedLabel::new("Person", 70.0),
        DetectedLabel::new("Dog", 95.0),
        DetectedLabel::new("Faint", 10.0),
    ])
}

/// The labels a visible record must carry.
pub fn expected_labels(config: &Config) -> Vec<String> {
    aggregate_image(&labeler().labels, config.min_confidence)
        .into_iter()
        .map(|l| l.name)
        .collect()
}

// ---- Generation --------------------------------------------------------------

/// SplitMix64: enough randomness for a test, and the same run for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn percent(&mut self, p: u32) -> bool {
        self.below(100) < p as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// 1, or 2 or 3 for a replayed event.
    fn copies(&mut self, replay_percent: u32) -> usize {
        match self.percent(replay_percent) {
            true => 2 + self.below(2),
            false => 1,
        }
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Stems of the key names; the key's index is appended, so names differ.
const STEMS: &[&str] = &[
    "photo",
    "holiday pics/beach day",
    "a+b/c plus",
    "café/crème brûlée",
    "日本/写真",
    "emoji 🎉",
    "100% real",
    "dir/sub dir/(copy) [1]",
    "q?a=1&b=2#frag",
    "~tilde/ünïcödé",
];
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "JPG", "jpeg", "png"];
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "MP4", "mov"];

fn key_name(rng: &mut Rng, index: usize) -> (String, MediaType) {
    let (media_type, extensions) = match rng.percent(40) {
        true => (MediaType::Video, VIDEO_EXTENSIONS),
        false => (MediaType::Image, IMAGE_EXTENSIONS),
    };
    let name = format!("{} {index}.{}", rng.pick(STEMS), rng.pick(extensions));
    assert_eq!(MediaType::from_key(&name), Some(media_type), "{name}");
    (name, media_type)
}

/// The key as an S3 event may carry it: S3's own encoding (a space as `+`),
/// or an equally valid one (`%2F` for `/`, `%20` for a space, lower-case
/// escapes).
fn raw_key(rng: &mut Rng, name: &str) -> String {
    let s3 = encode_key(name);
    match rng.below(5) {
        0 => s3.replace('/', "%2F"),
        1 => s3.replace('+', "%20"),
        2 => {
            let mut hex_left = 0;
            s3.chars()
                .map(|c| match c {
                    '%' => {
                        hex_left = 2;
                        c
                    }
                    _ if hex_left > 0 => {
                        hex_left -= 1;
                        c.to_ascii_lowercase()
                    }
                    _ => c,
                })
                .collect()
        }
        _ => s3,
    }
}

/// An event time unrelated to the order: the sequencer must decide.
fn event_time(rng: &mut Rng) -> String {
    let (h, m, s, ms) = (rng.below(24), rng.below(60), rng.below(60), rng.below(1000));
    format!("2026-11-24T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

fn s3_record(rng: &mut Rng, kind: OpKind, name: &str, sequencer: &str) -> Value {
    let mut object = json!({"key": raw_key(rng, name), "sequencer": sequencer});
    let event_name = match kind {
        OpKind::Upload => {
            object["size"] = json!(1 + rng.below(5_000_000));
            object["eTag"] = json!(format!("{:032x}", rng.next()));
            rng.pick(&[
                "ObjectCreated:Put",
                "ObjectCreated:CompleteMultipartUpload",
                "ObjectCreated:Copy",
            ])
        }
        OpKind::Remove => rng.pick(&["ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"]),
    };
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": event_time(rng), "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0",
            "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": object}})
}

fn notice(
    rng: &mut Rng,
    p: &Params,
    h: &History,
    key: usize,
    op: usize,
    order: &OrderKey,
) -> Notice {
    let end = match rng.percent(p.failed_job_percent) {
        true if rng.percent(10) => JobEnd::Error,
        true => JobEnd::Failed,
        false => JobEnd::Succeeded,
    };
    let copies = match rng.percent(p.lost_notice_percent) {
        true => 0,
        false => rng.copies(p.replay_percent),
    };
    let message = json!({"JobId": format!("job-{key}-{op}"), "Status": end.as_str(),
        "API": "StartLabelDetection", "JobTag": order.as_str(),
        "Timestamp": 1_795_000_000_000u64 + rng.below(1 << 30) as u64,
        "Video": {"S3ObjectName": h.name, "S3Bucket": BUCKET}});
    Notice {
        end,
        copies,
        message: message.to_string(),
    }
}

/// Generates the histories of `p.keys` keys and their shuffled deliveries.
pub fn generate(p: &Params) -> Plan {
    assert!(p.keys > 0, "at least one key");
    let mut rng = Rng(p.seed);
    let mut histories: Vec<History> = (0..p.keys)
        .map(|i| {
            let (name, media_type) = key_name(&mut rng, i);
            History {
                name,
                media_type,
                ops: Vec::new(),
            }
        })
        .collect();
    // About half the sequencers are below 2^64 (16 hex digits), half above.
    let mut sequencer: u128 = (1u128 << 64) - (p.events as u128) * (1 << 17);
    let (mut total, mut n) = (0, 0);
    while total < p.events || n < p.keys {
        let key = if n < p.keys { n } else { rng.below(p.keys) };
        n += 1;
        sequencer += 1 + rng.below(1 << 20) as u128;
        // Leading zeros vary: S3 sequencers are compared left-padded.
        let seq = format!("{sequencer:0width$X}", width = 16 + rng.below(4));
        let order = OrderKey::from_sequencer(&seq).expect("a valid sequencer");
        let kind = match rng.percent(60) {
            true => OpKind::Upload,
            false => OpKind::Remove,
        };
        let h = &histories[key];
        let op = h.ops.len();
        let notice = (kind == OpKind::Upload && h.media_type == MediaType::Video)
            .then(|| notice(&mut rng, p, h, key, op, &order));
        let op = Op {
            kind,
            record: s3_record(&mut rng, kind, &h.name, &seq),
            sequencer: seq,
            order,
            copies: rng.copies(p.replay_percent),
            notice,
        };
        total += op.copies + op.notice.as_ref().map_or(0, |n| n.copies);
        histories[key].ops.push(op);
    }
    let units = delivery_order(&mut rng, &histories);
    let deliveries = batches(&mut rng, p, &histories, &units);
    Plan {
        histories,
        deliveries,
    }
}

/// Every copy of every event, shuffled, with each notice copy placed at a
/// random point after the first copy of its upload's S3 event.
fn delivery_order(rng: &mut Rng, histories: &[History]) -> Vec<EventRef> {
    let mut s3 = Vec::new();
    let mut notices = Vec::new();
    for (key, h) in histories.iter().enumerate() {
        for (op, o) in h.ops.iter().enumerate() {
            let event = |notice| EventRef { key, op, notice };
            s3.extend(std::iter::repeat_n(event(false), o.copies));
            let notice_copies = o.notice.as_ref().map_or(0, |n| n.copies);
            notices.extend(std::iter::repeat_n(event(true), notice_copies));
        }
    }
    rng.shuffle(&mut s3);
    let mut first = HashMap::new();
    for (i, e) in s3.iter().enumerate().rev() {
        first.insert((e.key, e.op), i as u64);
    }
    let end = s3.len() as u64;
    let mut slots: Vec<(u64, EventRef)> = s3
        .into_iter()
        .enumerate()
        .map(|(i, e)| ((i as u64) << 32, e))
        .collect();
    for e in notices {
        let after = first[&(e.key, e.op)];
        let span = (end - after) << 32;
        slots.push(((after << 32) + 1 + rng.next() % span, e));
    }
    slots.sort_by_key(|(slot, _)| *slot);
    slots.into_iter().map(|(_, e)| e).collect()
}

fn function_of(histories: &[History], e: EventRef) -> Function {
    match (e.notice, histories[e.key].ops[e.op].kind) {
        (true, _) => Function::VideoJobComplete,
        (false, OpKind::Upload) => Function::ObjectCreated,
        (false, OpKind::Remove) => Function::ObjectRemoved,
    }
}

/// Groups the ordered events into invocations. A batch of S3 events takes
/// the next events for the same function, skipping the other function's
/// (which then come after it) but never passing a job notice, so a notice
/// still comes after its upload; notices batch only with adjacent notices.
fn batches(rng: &mut Rng, p: &Params, histories: &[History], units: &[EventRef]) -> Vec<Delivery> {
    let mut taken = vec![false; units.len()];
    let mut deliveries = Vec::new();
    for i in 0..units.len() {
        if taken[i] {
            continue;
        }
        taken[i] = true;
        let function = function_of(histories, units[i]);
        let mut group = vec![units[i]];
        if rng.percent(p.batch_percent) {
            let most = 2 + rng.below(9);
            for j in i + 1..units.len() {
                if group.len() >= most || units[j].notice != units[i].notice {
                    break;
                }
                if !taken[j] && function_of(histories, units[j]) == function {
                    taken[j] = true;
                    group.push(units[j]);
                }
            }
        }
        let event = envelope(rng, histories, function, &group, deliveries.len());
        deliveries.push(Delivery {
            function,
            event,
            carries: group,
        });
    }
    deliveries
}

fn sns_record(message: String) -> Value {
    json!({"EventSource": "aws:sns", "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
            "Message": message}})
}

/// The Lambda event for a group: notices in SNS records; S3 records in one
/// S3 event, or one per SQS message (straight or in an SNS envelope), or
/// one per SNS record.
fn envelope(
    rng: &mut Rng,
    histories: &[History],
    function: Function,
    group: &[EventRef],
    delivery: usize,
) -> Value {
    let op = |e: &EventRef| &histories[e.key].ops[e.op];
    if function == Function::VideoJobComplete {
        let records: Vec<Value> = group
            .iter()
            .map(|e| sns_record(op(e).notice.as_ref().expect("a video").message.clone()))
            .collect();
        return json!({ "Records": records });
    }
    let s3_event = |e: &EventRef| json!({"Records": [op(e).record]}).to_string();
    let style = rng.below(4);
    let records: Vec<Value> = match style {
        0 => return json!({"Records": group.iter().map(|e| op(e).record.clone()).collect::<Vec<_>>()}),
        1 | 2 => group
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let body = match style {
                    1 => s3_event(e),
                    _ => json!({"Type": "Notification", "Message": s3_event(e)}).to_string(),
                };
                json!({"eventSource": "aws:sqs", "messageId": format!("m-{delivery}-{i}"), "body": body})
            })
            .collect(),
        _ => group.iter().map(|e| sns_record(s3_event(e))).collect(),
    };
    json!({ "Records": records })
}

// ---- Delivery and the check -----------------------------------------------------

/// The handlers' outcomes, summed over all deliveries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub deliveries: usize,
    pub applied: usize,
    pub stale: usize,
    pub skipped: usize,
    pub unprocessable: usize,
    pub jobs_started: usize,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        self.deliveries += 1;
        self.applied += o.applied;
        self.stale += o.stale;
        self.skipped += o.skipped;
        self.unprocessable += o.unprocessable;
        self.jobs_started += o.jobs_started;
    }
}

/// Delivers every event of the plan, one invocation after the other. Any
/// handler error fails the test: nothing in a plan is malformed.
pub async fn deliver<S: MediaStore, L: Labeler>(
    plan: &Plan,
    config: &Config,
    store: &S,
    labeler: &L,
) -> Totals {
    let mut totals = Totals::default();
    for (i, d) in plan.deliveries.iter().enumerate() {
        let e = &d.event;
        let outcome = match d.function {
            Function::ObjectCreated => handle_s3_event(Role::Created, config, store, labeler, e)
                .await
                .map_err(|e| e.to_string()),
            Function::ObjectRemoved => handle_s3_event(Role::Removed, config, store, labeler, e)
                .await
                .map_err(|e| e.to_string()),
            Function::VideoJobComplete => handle_job_event(config, store, labeler, e)
                .await
                .map_err(|e| e.to_string()),
        }
        .unwrap_or_else(|err| panic!("delivery #{i} to {:?} failed: {err}\n{e}", d.function));
        assert!(
            outcome.batch_item_failures.is_empty(),
            "delivery #{i}: {outcome:?}"
        );
        totals.add(&outcome);
    }
    totals
}

/// How one key ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Should be visible (with the labels) and is not.
    Lost(String),
    /// Visible, and should not be.
    Resurrected(String),
    /// Any other difference: status, type or order.
    Wrong(String),
}

/// Compares a key's stored record with the oracle.
pub fn judge(h: &History, actual: Option<&MediaRecord>, labels: &[String]) -> Verdict {
    let (expected, order) = h.expected();
    let Some(r) = actual else {
        return match expected {
            Expected::Visible => Verdict::Lost("no record".into()),
            _ => Verdict::Wrong(format!("no record, expected {expected:?}")),
        };
    };
    let found = format!(
        "found {:?} at {:?} with labels {:?}",
        r.status, r.event_order, r.labels
    );
    if expected == Expected::Visible && (!r.is_visible() || r.labels != labels) {
        return Verdict::Lost(found);
    }
    if expected != Expected::Visible && r.is_visible() {
        return Verdict::Resurrected(format!("expected {expected:?}, {found}"));
    }
    let status = match expected {
        Expected::Visible => RecordStatus::Ready,
        Expected::Failed => RecordStatus::Failed,
        Expected::Pending => RecordStatus::Pending,
        Expected::Deleted => RecordStatus::Deleted,
    };
    if r.status != status || r.event_order.as_ref() != Some(order) || r.media_type != h.media_type {
        return Verdict::Wrong(format!(
            "expected {expected:?} at {order} ({}), {found} ({})",
            h.media_type, r.media_type
        ));
    }
    Verdict::Ok
}

/// The result of a replay.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub keys: usize,
    pub events: usize,
    pub totals: Totals,
    /// Keys per expected state: visible, failed, pending, deleted.
    pub expected: [usize; 4],
    pub lost: usize,
    pub resurrected: usize,
    pub wrong: usize,
    /// Records `list` returned: must be the expected visible ones.
    pub listed: usize,
    pub failures: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.failures.is_empty()
    }

    /// Prints the report, then asserts: no key lost, resurrected or wrong;
    /// `list` returned exactly the visible keys; at least `events` events
    /// were delivered; and the run ended in every one of the four states.
    #[track_caller]
    pub fn assert_converged(&self, events: usize) {
        eprintln!("{self}");
        assert!(self.is_clean(), "{self}");
        assert_eq!(
            self.listed, self.expected[0],
            "list returns the visible keys"
        );
        assert!(self.events >= events, "{self}");
        assert!(self.expected.iter().all(|n| *n > 0), "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [visible, failed, pending, deleted] = self.expected;
        let t = &self.totals;
        writeln!(
            f,
            "{} keys, {} events in {} deliveries ({} writes applied, {} stale, {} video jobs started)",
            self.keys, self.events, t.deliveries, t.applied, t.stale, t.jobs_started
        )?;
        writeln!(
            f,
            "expected {visible} visible, {failed} failed, {pending} pending, {deleted} deleted; {} listed",
            self.listed
        )?;
        writeln!(
            f,
            "{} lost, {} resurrected, {} wrong",
            self.lost, self.resurrected, self.wrong
        )?;
        for failure in &self.failures {
            writeln!(f, "\n{failure}")?;
        }
        Ok(())
    }
}

/// Reads every key back (`get`) and the visible ones (`list`), and judges.
pub async fn check<S: MediaStore>(plan: &Plan, store: &S, config: &Config) -> Report {
    let labels = expected_labels(config);
    let mut report = Report {
        keys: plan.histories.len(),
        events: plan.events(),
        ..Report::default()
    };
    let mut visible = BTreeSet::new();
    for (key, h) in plan.histories.iter().enumerate() {
        let (expected, _) = h.expected();
        report.expected[expected as usize] += 1;
        if expected == Expected::Visible {
            visible.insert(h.name.as_str());
        }
        let actual = store.get(&h.name).await.expect("get a record");
        let (count, what, detail) = match judge(h, actual.as_ref(), &labels) {
            Verdict::Ok => continue,
            Verdict::Lost(d) => (&mut report.lost, "LOST", d),
            Verdict::Resurrected(d) => (&mut report.resurrected, "RESURRECTED", d),
            Verdict::Wrong(d) => (&mut report.wrong, "WRONG", d),
        };
        *count += 1;
        report.failures.push(format!(
            "{what} `{}`: {detail}\n{}",
            h.name,
            plan.trace(key)
        ));
    }
    let listed = store
        .list(&ListQuery::default())
        .await
        .expect("list the records");
    report.listed = listed.len();
    let names: BTreeSet<&str> = listed.iter().map(|r| r.name.as_str()).collect();
    if names != visible || listed.len() != visible.len() {
        report.failures.push(format!(
            "list returned {} records; not expected: {:?}; missing: {:?}",
            listed.len(),
            names.difference(&visible).collect::<Vec<_>>(),
            visible.difference(&names).collect::<Vec<_>>()
        ));
    }
    report
}

/// Generates, delivers and checks one plan with [`config`] and [`labeler`].
pub async fn replay<S: MediaStore>(params: &Params, store: &S) -> Report {
    let plan = generate(params);
    let config = config();
    let totals = deliver(&plan, &config, store, &labeler()).await;
    Report {
        totals,
        ..check(&plan, store, &config).await
    }
}
