//! What each fuzz target checks, given one input.
//!
//! Every check parses the input with the code the system runs, and then
//! asserts invariants rather than only "no panic": what parses re-encodes
//! and parses to the same value, a cursor that decodes is the one the API
//! would issue, a decoded shard or delta re-encodes to the same content,
//! and every refusal of a client's input is a Chalice-style 400.
//!
//! This file is compiled twice: as the `media-query-fuzz` library the fuzz
//! targets (nightly, libFuzzer) call, and as a module of
//! `domain/tests/fuzz_corpus.rs` (stable, the normal test run), which feeds
//! it the committed corpus and the regressions in `domain/vectors/fuzz.json`.
//! So it depends only on what the domain crate's tests can use:
//! `media_query_domain` and `serde_json`.

use media_query_domain::api::{self, name_from_path, ApiError};
use media_query_domain::dynamo::{self, AttributeValue, Item};
use media_query_domain::export::{self, LatestPointer, ManifestSummary};
use media_query_domain::page::{decode_cursor, encode_cursor, next_link, MAX_LIMIT};
use media_query_domain::query::{ListQuery, ListRequest};
use media_query_domain::s3_event::{
    decode_key, encode_key, parse_s3_event, parse_s3_event_value, ChangeKind, S3Change,
    S3EventError,
};
use media_query_domain::serving::delta::{self, Delta};
use media_query_domain::serving::level;
use media_query_domain::serving::manifest::{
    locate, locate_page, Directory, DirectoryPage, Manifest, PageRef, ShardRef, Start,
};
use media_query_domain::serving::shard::{Shard, ShardWriter};
use media_query_domain::serving::{self, FormatError, Run};
use media_query_domain::stream::parse_batch;
use media_query_domain::video_job::{self, JobMessageError, JobNotification};
use media_query_domain::{MediaItem, MediaRecord, MediaType, OrderKey};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A fuzz target's check.
pub type Check = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/<name>.rs` and corpus
/// directory `corpus/<name>/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("query_string", query_string),
    ("request_path", request_path),
    ("cursor", cursor),
    ("s3_event", s3_event),
    ("sns_event", sns_event),
    ("stream_batch", stream_batch),
    ("export_line", export_line),
    ("export_manifest", export_manifest),
    ("serving_manifest", serving_manifest),
    ("shard", shard),
    ("delta", delta),
];

/// Targets whose checks need the Lambda crate (`--features lambda`): they
/// have a corpus, which the domain crate's tests cannot replay.
pub const LAMBDA_TARGETS: &[&str] = &["s3_envelope"];

/// The check of a target, by name.
pub fn target(name: &str) -> Option<Check> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Inputs that reach the API as text (paths, query strings, JSON events)
/// are UTF-8 by then; other bytes are not worth a run.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A refusal of a client's input: 400 with Chalice's body, exactly
/// `{"Code": "BadRequestError", "Message": "BadRequestError: ..."}`.
fn assert_bad_request(e: &ApiError, input: &str) {
    assert_eq!(e.status, 400, "{input:?}: {e:?}");
    assert_eq!(e.code, "BadRequestError", "{input:?}: {e:?}");
    assert!(
        e.message.starts_with("BadRequestError: ") && e.message.len() > 17,
        "{input:?}: {e:?}"
    );
    let body: Value = serde_json::from_str(&e.body()).expect("an error body is JSON");
    assert_eq!(
        body,
        json!({"Code": e.code, "Message": e.message}),
        "{input:?}: the body is exactly Code and Message"
    );
}

// ---------------------------------------------------------------------------
// Query strings, paths and cursors: what clients send to the read API.

/// `GET /?<input>`: [`ListRequest::from_query_string`].
///
/// A request that parses has one canonical spelling that parses to the same
/// query; re-spelt with its `limit` and `cursor` it parses to the same
/// request; the `Link` to its next page parses to the same query and limit,
/// resuming after the page's last name. Anything refused is a 400.
pub fn query_string(data: &[u8]) {
    let Some(raw) = text(data) else { return };
    let parsed = ListRequest::from_query_string(raw);
    assert_eq!(
        ListQuery::from_query_string(raw),
        parsed.clone().map(|r| r.query),
        "{raw:?}: ListQuery and ListRequest disagree"
    );
    let req = match parsed {
        Ok(req) => req,
        Err(e) => return assert_bad_request(&e, raw),
    };
    assert!((1..=MAX_LIMIT).contains(&req.page.limit), "{raw:?}");
    if !req.page.explicit_limit {
        assert_eq!(req.page.limit, MAX_LIMIT, "{raw:?}");
    }
    for value in [&req.query.startswith, &req.query.label]
        .into_iter()
        .flatten()
    {
        assert!(!value.is_empty(), "{raw:?}: an empty filter was accepted");
    }

    let canonical = req.query.canonical();
    let again = ListRequest::from_query_string(&canonical)
        .unwrap_or_else(|e| panic!("{raw:?}: canonical {canonical:?} is refused: {e:?}"));
    assert_eq!(again.query, req.query, "{raw:?}: canonical {canonical:?}");
    assert_eq!(again.query.canonical(), canonical, "{raw:?}");

    let mut full = canonical.clone();
    let mut add = |k: &str, v: &str| {
        if !full.is_empty() {
            full.push('&');
        }
        full.push_str(&format!("{k}={v}"));
    };
    if req.page.explicit_limit {
        add("limit", &req.page.limit.to_string());
    }
    if let Some(after) = &req.page.after {
        add("cursor", &encode_cursor(&canonical, after));
    }
    assert_eq!(
        ListRequest::from_query_string(&full),
        Ok(req.clone()),
        "{raw:?}: re-spelt as {full:?}"
    );

    // The next page of this request, after a name taken from the input.
    let last = req.page.after.as_deref().unwrap_or(raw);
    let link = next_link(&canonical, &req.page, last);
    let next = link
        .strip_prefix("</?")
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("{raw:?}: not a Link header: {link:?}"));
    let next = ListRequest::from_query_string(next)
        .unwrap_or_else(|e| panic!("{raw:?}: the Link {link:?} is refused: {e:?}"));
    assert_eq!(next.query, req.query, "{raw:?}: {link:?}");
    assert_eq!(
        (next.page.limit, next.page.explicit_limit),
        (req.page.limit, req.page.explicit_limit),
        "{raw:?}: {link:?}"
    );
    assert_eq!(next.page.after.as_deref(), Some(last), "{raw:?}: {link:?}");

    // The Scan filter defines every placeholder it uses, and only those.
    let filter = req.query.scan_filter();
    for placeholder in filter.names.keys().chain(filter.values.keys()) {
        assert!(
            filter.expression.contains(placeholder.as_str()),
            "{raw:?}: {filter:?}"
        );
    }
    assert_eq!(
        filter.values.len(),
        [
            req.query.startswith.is_some(),
            req.query.media_type.is_some(),
            req.query.label.is_some()
        ]
        .iter()
        .filter(|set| **set)
        .count(),
        "{raw:?}: {filter:?}"
    );
}

/// `GET /<input>`: [`name_from_path`].
///
/// A name is never empty, decodes only `%XX` escapes (without any `%` it is
/// the path itself, `+` included), and the path built from it addresses the
/// same name; the 404 body carries it verbatim. Anything refused is a 400.
pub fn request_path(data: &[u8]) {
    let Some(path) = text(data) else { return };
    let name = match name_from_path(path) {
        Ok(name) => name,
        Err(e) => return assert_bad_request(&e, path),
    };
    let raw = path.strip_prefix('/').unwrap_or(path);
    assert!(!name.is_empty(), "{path:?}");
    assert!(name.len() <= raw.len(), "{path:?} -> {name:?}");
    if !raw.contains('%') {
        assert_eq!(name, raw, "{path:?}: nothing to decode");
    }
    let again = format!("/{}", encode_key(&name).replace('+', "%20"));
    assert_eq!(
        name_from_path(&again).as_ref(),
        Ok(&name),
        "{path:?}: re-encoded as {again:?}"
    );
    let body: Value = serde_json::from_str(&ApiError::not_found(&name).body()).expect("JSON");
    assert_eq!(
        body["Message"],
        format!("NotFoundError: Media file ({name}) not found"),
        "{path:?}"
    );
}

/// `?cursor=`: [`decode_cursor`] and [`encode_cursor`]. The input is a query
/// string, a newline, then the rest (used both as a cursor and as a name).
///
/// Any cursor that decodes is exactly the one [`encode_cursor`] issues for
/// its name (so there is one spelling, and nothing else decodes); a cursor
/// round-trips, through a query string too; a cursor with one character
/// changed, or cut short, is refused with a 400.
pub fn cursor(data: &[u8]) {
    let Some(input) = text(data) else { return };
    let (query, rest) = input.split_once('\n').unwrap_or(("", input));
    let parsed = ListQuery::from_query_string(query).ok();
    let canonical = parsed
        .as_ref()
        .map(ListQuery::canonical)
        .unwrap_or_else(|| query.to_string());

    assert_cursor_decodes_canonically(&canonical, rest);

    let c = encode_cursor(&canonical, rest);
    assert!(
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{input:?}: cursor {c:?} is not base64url"
    );
    assert_eq!(
        decode_cursor(&canonical, &c).as_deref(),
        Ok(rest),
        "{input:?}"
    );
    // Another query: refused, or (on a collision of the 4-byte query tag)
    // still the one spelling.
    assert_cursor_decodes_canonically(&format!("{canonical}&x"), &c);
    if parsed.is_some() {
        let qs = if canonical.is_empty() {
            format!("cursor={c}")
        } else {
            format!("{canonical}&cursor={c}")
        };
        let req = ListRequest::from_query_string(&qs)
            .unwrap_or_else(|e| panic!("{input:?}: {qs:?} is refused: {e:?}"));
        assert_eq!(req.page.after.as_deref(), Some(rest), "{input:?}: {qs:?}");
    }

    // Tampering: a few positions, spread by the input's length.
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = c.as_bytes();
    let positions: BTreeSet<usize> = [0, 1, 5, bytes.len() / 2, bytes.len() - 1, input.len()]
        .into_iter()
        .map(|p| p % bytes.len())
        .collect();
    for p in positions {
        let at = B64.iter().position(|b| *b == bytes[p]).expect("base64url");
        let mut tampered = bytes.to_vec();
        tampered[p] = B64[(at + 1 + input.len() % 63) % 64];
        let tampered = String::from_utf8(tampered).expect("ASCII");
        match decode_cursor(&canonical, &tampered) {
            Ok(name) => panic!("{input:?}: {tampered:?} (edited at {p}) decodes to {name:?}"),
            Err(e) => assert_bad_request(&e, &tampered),
        }
    }
    for cut in [0, 1, 12, c.len() / 2, c.len() - 1] {
        if cut < c.len() {
            assert!(
                decode_cursor(&canonical, &c[..cut]).is_err(),
                "{input:?}: cut at {cut}"
            );
        }
    }
}

fn assert_cursor_decodes_canonically(canonical: &str, cursor: &str) {
    match decode_cursor(canonical, cursor) {
        Ok(name) => assert_eq!(
            encode_cursor(canonical, &name),
            cursor,
            "{canonical:?}: {cursor:?} decodes to {name:?}, which is issued differently"
        ),
        Err(e) => {
            assert_bad_request(&e, cursor);
            assert!(
                e.message.starts_with("BadRequestError: Invalid cursor: "),
                "{e:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Events: S3 notifications, Rekognition's SNS notifications, stream batches.

/// An S3 notification: [`parse_s3_event`].
///
/// The text and the already-parsed JSON value give the same answer; each
/// change has a non-empty key whose S3 encoding decodes back, a kind that
/// follows its event name, and an order key that re-reads as itself (it
/// travels as a Rekognition `JobTag`); the changes, written back as an S3
/// notification, parse to the same changes. Errors keep their index and
/// survive their JSON form (the vectors spell them so).
pub fn s3_event(data: &[u8]) {
    let Some(json) = text(data) else { return };
    let parsed = parse_s3_event(json);
    if let Ok(value) = serde_json::from_str::<Value>(json) {
        assert_eq!(parse_s3_event_value(&value), parsed, "{json:?}");
    }
    let n = match parsed {
        Ok(n) => n,
        Err(e) => return assert_s3_error_round_trips(&e),
    };
    if n.is_test_event {
        assert!(n.records.is_empty(), "{json:?}");
        return;
    }
    let mut changes = Vec::new();
    for (index, record) in n.records.iter().enumerate() {
        match record {
            Ok(change) => {
                assert_change(change);
                changes.push(change.clone());
            }
            Err(e) => {
                assert_s3_error_round_trips(e);
                match e {
                    S3EventError::MissingField { index: i, .. }
                    | S3EventError::BadKey { index: i, .. } => assert_eq!(*i, index, "{e:?}"),
                    other => panic!("{json:?}: record {index}: {other:?}"),
                }
            }
        }
    }
    let written: Vec<Value> = changes.iter().map(s3_record_json).collect();
    let again = parse_s3_event(&json!({ "Records": written }).to_string())
        .unwrap_or_else(|e| panic!("{json:?}: written back, refused: {e:?}"));
    let again: Vec<S3Change> = again
        .records
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{json:?}: written back, {e:?}")))
        .collect();
    assert_eq!(again, changes, "{json:?}");
}

fn assert_change(c: &S3Change) {
    assert!(!c.key.is_empty(), "{c:?}");
    assert_eq!(
        decode_key(&encode_key(&c.key)).as_ref(),
        Ok(&c.key),
        "{c:?}"
    );
    let kind = if c.event_name.starts_with("ObjectCreated:") {
        ChangeKind::Created
    } else if c.event_name.starts_with("ObjectRemoved:") {
        ChangeKind::Removed
    } else {
        ChangeKind::Other(c.event_name.clone())
    };
    assert_eq!(c.kind, kind, "{c:?}");
    let _ = MediaType::from_key(&c.key);
    match c.order_key() {
        Ok(k) => {
            assert_eq!(OrderKey::parse(k.as_str()).as_ref(), Ok(&k), "{c:?}");
            assert!(
                k.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b)),
                "{c:?}: order key {k} is not a valid JobTag"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let v = serde_json::to_value(c).expect("serialise");
    assert_eq!(serde_json::from_value::<S3Change>(v).ok().as_ref(), Some(c));
}

/// A change as S3 writes it in a notification record. The event name gets
/// the `s3:` prefix some deliveries carry, which the parser strips once.
fn s3_record_json(c: &S3Change) -> Value {
    json!({
        "eventName": format!("s3:{}", c.event_name),
        "eventTime": c.event_time,
        "s3": {
            "bucket": {"name": c.bucket},
            "object": {
                "key": encode_key(&c.key),
                "size": c.size,
                "sequencer": c.sequencer,
                "versionId": c.version_id,
            },
        },
    })
}

fn assert_s3_error_round_trips(e: &S3EventError) {
    assert!(!e.to_string().is_empty());
    let v = serde_json::to_value(e).expect("serialise");
    assert_eq!(
        serde_json::from_value::<S3EventError>(v).ok().as_ref(),
        Some(e)
    );
}

/// Rekognition's job notification in an SNS event: [`video_job`].
///
/// A notification re-serialises to a message that parses to the same
/// notification, also inside a new SNS envelope; a bad record is an error
/// at its own index and does not hide the others.
pub fn sns_event(data: &[u8]) {
    let Some(json) = text(data) else { return };
    if let Ok(job) = video_job::parse_job_message(json) {
        assert_job(&job);
    }
    let jobs = match video_job::parse_sns_event(json) {
        Ok(jobs) => jobs,
        Err(e) => {
            assert!(
                matches!(
                    e,
                    JobMessageError::NotJson(_) | JobMessageError::NotSnsEvent
                ),
                "{json:?}: {e:?}"
            );
            return assert_job_error_round_trips(&e);
        }
    };
    for (index, job) in jobs.iter().enumerate() {
        match job {
            Ok(job) => assert_job(job),
            Err(e) => {
                assert!(
                    matches!(e, JobMessageError::BadMessage { index: i, .. } if *i == index),
                    "{json:?}: record {index}: {e:?}"
                );
                assert_job_error_round_trips(e);
            }
        }
    }
}

fn assert_job(job: &JobNotification) {
    let message = serde_json::to_string(job).expect("serialise");
    assert_eq!(
        video_job::parse_job_message(&message).as_ref(),
        Ok(job),
        "{message}"
    );
    let event = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]});
    let again = video_job::parse_sns_event(&event.to_string()).expect("an SNS event");
    assert_eq!(again, vec![Ok(job.clone())], "{event}");
}

fn assert_job_error_round_trips(e: &JobMessageError) {
    assert!(!e.to_string().is_empty());
    let v = serde_json::to_value(e).expect("serialise");
    assert_eq!(
        serde_json::from_value::<JobMessageError>(v).ok().as_ref(),
        Some(e)
    );
}

/// A DynamoDB Streams batch: [`parse_batch`].
///
/// It counts every record, and its changes are exactly the batch's names,
/// each in the state of its last record: `None` when removed or not a media
/// record (then listed as skipped), else the record of its new image, which
/// survives the DynamoDB codec.
pub fn stream_batch(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let changes = match parse_batch(&event) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    for record in changes.latest.values().flatten() {
        assert_record(record);
    }
    for (name, why) in &changes.skipped {
        assert!(changes.latest.contains_key(name), "{name}: {why}");
    }
    // The usual form (serde also reads structs from arrays).
    let Some(records) = event.get("Records").and_then(Value::as_array) else {
        return;
    };
    assert_eq!(changes.records, records.len());
    let mut want: BTreeMap<String, Option<MediaRecord>> = BTreeMap::new();
    for r in records {
        let (Some(name), Some(event_name)) = (
            r.pointer("/dynamodb/Keys/name/S").and_then(Value::as_str),
            r.get("eventName").and_then(Value::as_str),
        ) else {
            return;
        };
        let state = match event_name {
            "REMOVE" => None,
            _ => match r.pointer("/dynamodb/NewImage") {
                Some(image) => serde_json::from_value::<Item>(image.clone())
                    .ok()
                    .and_then(|item| MediaRecord::from_item(&item).ok()),
                None => return,
            },
        };
        want.insert(name.to_string(), state);
    }
    assert_eq!(changes.latest, want, "{event}");
}

// ---------------------------------------------------------------------------
// DynamoDB JSON and the export layout.

/// One line of an export data file: [`dynamo::parse_export_line`] and
/// [`dynamo::parse_incremental_line`].
///
/// An item re-exports to a line that parses to the same item, and a media
/// record in it survives the codec; an incremental change, written back
/// with either spelling of its write time, parses to the same change.
pub fn export_line(data: &[u8]) {
    let Some(line) = text(data) else { return };
    if let Ok(item) = dynamo::parse_export_line(line) {
        let again = dynamo::export_line(&item);
        assert_eq!(
            dynamo::parse_export_line(&again).as_ref(),
            Ok(&item),
            "{line:?}"
        );
        assert_item(&item);
    }
    if let Ok(change) = dynamo::parse_incremental_line(line) {
        for micros in [
            json!({"N": change.write_micros.to_string()}),
            json!(change.write_micros),
        ] {
            let mut again = json!({
                "Metadata": {"WriteTimestampMicros": micros},
                "Keys": change.keys,
            });
            if let Some(image) = &change.new_image {
                again["NewImage"] = serde_json::to_value(image).expect("serialise");
            }
            assert_eq!(
                dynamo::parse_incremental_line(&again.to_string()).as_ref(),
                Ok(&change),
                "{line:?}"
            );
        }
        if let Some(image) = &change.new_image {
            assert_item(image);
        }
    }
}

/// A DynamoDB item: its JSON text round-trips, and if it is a media record,
/// the record survives [`MediaRecord::to_item`] and [`MediaRecord::from_item`].
fn assert_item(item: &Item) {
    let text = serde_json::to_string(item).expect("serialise");
    assert_eq!(
        serde_json::from_str::<Item>(&text).ok().as_ref(),
        Some(item)
    );
    if let Ok(record) = MediaRecord::from_item(item) {
        assert_record(&record);
    }
}

fn assert_record(record: &MediaRecord) {
    let item = record.to_item();
    let back = MediaRecord::from_item(&item)
        .unwrap_or_else(|e| panic!("{record:?}: its own item is refused: {e}"));
    assert_eq!(&back, record, "{item:?}");
    assert_eq!(back.to_item(), item);
    for value in item.values() {
        assert_dynamo_numbers(value);
    }
    let body = api::item_body(&record.to_media_item());
    assert_eq!(
        serde_json::from_str::<MediaItem>(&body).ok(),
        Some(record.to_media_item()),
        "{body}"
    );
}

/// The numbers an item carries are numbers DynamoDB accepts (it refuses
/// `NaN`, `inf` and the like with a ValidationException).
fn assert_dynamo_numbers(value: &AttributeValue) {
    match value {
        AttributeValue::N(n) => assert!(
            n.parse::<f64>().is_ok_and(f64::is_finite)
                && n.bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)),
            "{n:?} is not a DynamoDB number"
        ),
        AttributeValue::L(l) => l.iter().for_each(assert_dynamo_numbers),
        AttributeValue::M(m) => m.values().for_each(assert_dynamo_numbers),
        _ => {}
    }
}

/// The export's manifests and pointer: [`ManifestSummary::parse`],
/// [`export::parse_manifest_files`], [`LatestPointer`], and the keys built
/// from a prefix (the input's first line) and the places a key named in a
/// manifest may be ([`export::key_candidates`], the first two lines).
pub fn export_manifest(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(s) = ManifestSummary::parse(text) {
        assert_eq!(s.output_format, export::OUTPUT_FORMAT);
        let again = serde_json::to_string(&s).expect("serialise");
        assert_eq!(ManifestSummary::parse(&again).as_ref(), Ok(&s), "{again}");
    }
    if let Ok(files) = export::parse_manifest_files(text) {
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(files.len(), lines, "{text:?}");
        let again: Vec<String> = files
            .iter()
            .map(|f| serde_json::to_string(f).expect("serialise"))
            .collect();
        assert_eq!(
            export::parse_manifest_files(&again.join("\n")).as_ref(),
            Ok(&files)
        );
    }
    if let Ok(p) = serde_json::from_str::<LatestPointer>(text) {
        let again = serde_json::to_string(&p).expect("serialise");
        assert_eq!(serde_json::from_str::<LatestPointer>(&again).ok(), Some(p));
    }
    // The first line as a prefix or the key of manifest-summary.json, the
    // second as a key the manifests name.
    let mut lines = text.lines();
    let prefix = lines.next().unwrap_or("");
    let key = lines.next().unwrap_or("");
    let candidates = export::key_candidates(prefix, key);
    let relative = key.trim_start_matches('/');
    assert_eq!(
        candidates[0], relative,
        "{text:?}: the key as written first"
    );
    assert!(candidates.len() <= 3, "{text:?}: {candidates:?}");
    for (i, c) in candidates.iter().enumerate() {
        assert!(c.ends_with(relative), "{text:?}: {candidates:?}");
        assert!(!candidates[..i].contains(c), "{text:?}: {candidates:?}");
    }
    let base = prefix.trim_end_matches('/');
    let latest = export::latest_pointer_key(prefix);
    let dir = export::export_dir(prefix, "01700000000000-abcdef12");
    if base.is_empty() {
        assert_eq!(latest, "latest.json");
        assert_eq!(dir, "AWSDynamoDB/01700000000000-abcdef12/");
    } else {
        assert_eq!(latest, format!("{base}/latest.json"));
        assert_eq!(dir, format!("{base}/AWSDynamoDB/01700000000000-abcdef12/"));
    }
}

// ---------------------------------------------------------------------------
// The serving snapshot: root manifest and directory pages, shards, deltas.

/// Inflated objects are refused past this size in these checks: small, so
/// that the gzip bomb guard of [`serving::open_object`] is reached.
const MAX_RAW: usize = 64 * 1024;

/// `serving/current.json` ([`Manifest::parse`]) and a directory page.
///
/// Both re-serialise to JSON that parses to the same value; the version is
/// 20 hex digits; every run id that parses is its own spelling; and over
/// the entries, put in directory order, [`locate`] and [`locate_page`]
/// agree with a linear search.
pub fn serving_manifest(data: &[u8]) {
    match Manifest::parse("current.json", data) {
        Ok(m) => {
            assert!(serving::READABLE_FORMATS.contains(&m.format.as_str()));
            let again = serde_json::to_vec(&m).expect("serialise");
            assert_eq!(Manifest::parse("current.json", &again).as_ref(), Ok(&m));
            let version = Manifest::version_of(&m.directory, m.delta.as_ref(), &m.level);
            assert!(
                version.len() == 20 && version.bytes().all(|b| b.is_ascii_hexdigit()),
                "{version}"
            );
            match &m.directory {
                Directory::Inline(page) => assert_directory_page(page),
                Directory::Paged(pages) => assert_paged(pages),
            }
            assert_level(&m.level);
        }
        Err(FormatError::UnknownFormat(f)) => {
            assert!(!serving::READABLE_FORMATS.contains(&f.as_str()))
        }
        Err(e) => assert!(matches!(e, FormatError::Corrupt { .. }), "{e:?}"),
    }
    if let Ok(page) = serde_json::from_slice::<DirectoryPage>(data) {
        let again = serde_json::to_vec(&page).expect("serialise");
        assert_eq!(
            serde_json::from_slice::<DirectoryPage>(&again)
                .ok()
                .as_ref(),
            Some(&page)
        );
        assert_directory_page(&page);
    }
}

/// Over a manifest's level parts, put in order, [`level::part_for`]
/// agrees with a linear search for every part's first key and just past it.
fn assert_level(parts: &[level::LevelRef]) {
    let mut parts = parts.to_vec();
    parts.sort_by(|a, b| (&a.run, &a.first).cmp(&(&b.run, &b.first)));
    parts.dedup_by(|a, b| (&a.run, &a.first) == (&b.run, &b.first));
    for p in &parts {
        for name in [p.first.clone(), format!("{}\u{0}", p.first)] {
            let linear = parts.iter().rposition(|q| {
                (q.run.as_str(), q.first.as_str()) <= (p.run.as_str(), name.as_str())
            });
            assert_eq!(level::part_for(&parts, &p.run, &name), linear);
        }
    }
}

fn assert_run_id(id: &str) -> Option<Run> {
    let run = Run::parse(id)?;
    assert_eq!(run.id(), id);
    Some(run)
}

fn assert_directory_page(page: &DirectoryPage) {
    for e in page.entries.iter().chain(&page.following) {
        assert_run_id(&e.run);
    }
    // Directory order: by (run, first), ranges disjoint within a run.
    let mut entries: Vec<ShardRef> = page
        .entries
        .iter()
        .filter(|e| e.first <= e.last)
        .cloned()
        .collect();
    entries.sort_by(|a, b| (&a.run, &a.first).cmp(&(&b.run, &b.first)));
    let mut sorted: Vec<ShardRef> = Vec::with_capacity(entries.len());
    for e in entries {
        if sorted
            .last()
            .is_none_or(|p| p.run != e.run || p.last < e.first)
        {
            sorted.push(e);
        }
    }
    let runs: BTreeSet<&str> = sorted.iter().map(|e| e.run.as_str()).collect();
    let mut names: BTreeSet<&str> = sorted
        .iter()
        .flat_map(|e| [e.first.as_str(), e.last.as_str()])
        .collect();
    names.insert("");
    for run in runs.iter().filter_map(|r| Run::parse(r)) {
        let id = run.id();
        for name in &names {
            for start in [Start::AtOrAfter(name), Start::After(name)] {
                let got: Vec<&ShardRef> = locate(&sorted, &run, start).collect();
                let want: Vec<&ShardRef> = sorted
                    .iter()
                    .filter(|e| e.run == id && start.admits(&e.last))
                    .collect();
                assert_eq!(got, want, "{run} from {start:?} in {sorted:?}");
            }
        }
    }
}

fn assert_paged(pages: &[PageRef]) {
    for p in pages {
        assert_run_id(&p.run);
    }
    let mut sorted = pages.to_vec();
    sorted.sort_by(|a, b| (&a.run, &a.first).cmp(&(&b.run, &b.first)));
    let mut keys: BTreeSet<(&str, &str)> = sorted
        .iter()
        .map(|p| (p.run.as_str(), p.first.as_str()))
        .collect();
    keys.insert(("name", ""));
    for (run, name) in keys {
        let Some(run) = Run::parse(run) else { continue };
        let id = run.id();
        for start in [Start::AtOrAfter(name), Start::After(name)] {
            let got = locate_page(&sorted, &run, start);
            let key = (id.as_str(), start.name());
            let want = sorted
                .iter()
                .rev()
                .find(|p| (p.run.as_str(), p.first.as_str()) <= key)
                .or(sorted.first());
            assert_eq!(got, want, "{run} from {start:?} in {sorted:?}");
        }
    }
}

/// One shard, raw ([`Shard::decode`]) and as the stored object (content
/// hash, gzip: [`serving::open_object`]).
///
/// A shard that decodes has names in strictly increasing order, each found
/// at its own index, and re-written with [`ShardWriter`] it is the same
/// bytes.
pub fn shard(data: &[u8]) {
    assert_shard(data);
    if let Some(raw) = assert_open_object(data) {
        assert_shard(&raw);
    }
}

fn assert_shard(raw: &[u8]) {
    let Ok(s) = Shard::decode("shard", raw.to_vec()) else {
        return;
    };
    assert!(!s.is_empty() && s.len() == (0..s.len()).count());
    let mut w = ShardWriter::default();
    for i in 0..s.len() {
        let name = s.name(i);
        if i > 0 {
            assert!(s.name(i - 1) < name, "names out of order at {i}");
        }
        assert_eq!(s.find(name), Some(i));
        assert_eq!((s.lower_bound(name), s.upper_bound(name)), (i, i + 1));
        w.push(name, s.media_type(i), s.json(i));
    }
    assert_eq!(s.find(&format!("{}\u{0}", s.name(s.len() - 1))), None);
    let (bytes, first, last) = w.finish();
    assert_eq!(
        (first.as_str(), last.as_str()),
        (s.name(0), s.name(s.len() - 1))
    );
    assert!(bytes == raw, "the shard re-encodes differently");
}

/// The stored object: refused under any other hash; inflated within the
/// bound, or refused as corrupt.
fn assert_open_object(gz: &[u8]) -> Option<Vec<u8>> {
    assert!(matches!(
        serving::open_object("obj", "", gz, MAX_RAW),
        Err(FormatError::HashMismatch { .. })
    ));
    match serving::open_object("obj", &serving::content_hash(gz), gz, MAX_RAW) {
        Ok(raw) => {
            assert!(raw.len() <= MAX_RAW);
            Some(raw)
        }
        Err(e) => {
            assert!(matches!(e, FormatError::Corrupt { .. }), "{e:?}");
            None
        }
    }
}

/// A delta, raw ([`Delta::decode`]) and as the stored object.
///
/// Every run it holds is found by [`Delta::run`], with its edits in order;
/// [`delta::encode`] of its edits decodes to the same edits and is a fixed
/// point; and it is the input's bytes, unless the input spelt a tombstone
/// with the video type byte (a tombstone has no type; the writer spells 0).
pub fn delta(data: &[u8]) {
    assert_delta(data);
    if let Some(raw) = assert_open_object(data) {
        assert_delta(&raw);
    }
}

fn assert_delta(raw: &[u8]) {
    let Ok(d) = Delta::decode("delta", raw.to_vec()) else {
        return;
    };
    let edits = d.edits();
    let mut video_tombstone = false;
    for (run, names) in &edits {
        assert!(!names.is_empty(), "{run}: an empty section");
        let s = d
            .run(run)
            .unwrap_or_else(|| panic!("run {run:?} is not found"));
        assert_eq!(s.len(), names.len(), "{run}");
        for (i, (name, edit)) in names.iter().enumerate() {
            assert_eq!(s.name(i), name);
            assert_eq!(delta::edit_at(s, i).as_ref(), edit.as_ref());
            assert_eq!(delta::is_tombstone(s, i), edit.is_none());
            video_tombstone |= edit.is_none() && s.media_type(i) == MediaType::Video;
        }
    }
    let again = delta::encode(&edits);
    let decoded = Delta::decode("delta", again.clone()).expect("an encoded delta decodes");
    assert_eq!(decoded.edits(), edits);
    assert!(delta::encode(&decoded.edits()) == again);
    if !video_tombstone {
        assert!(again == raw, "the delta re-encodes differently");
    }
}
