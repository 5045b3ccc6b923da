//! Property tests (native only): codec round trips, key decoding, the
//! ordering rule, and `matches` agreeing with the FilterExpression semantics.
#![cfg(not(target_arch = "wasm32"))]

use media_query_domain::dynamo::{AttributeValue, Item};
use media_query_domain::s3_event::{decode_key, encode_key, parse_s3_event};
use media_query_domain::{ListQuery, MediaRecord, MediaType, OrderKey, RecordStatus};
use proptest::prelude::*;

fn media_type() -> impl Strategy<Value = MediaType> {
    prop_oneof![Just(MediaType::Image), Just(MediaType::Video)]
}

fn status() -> impl Strategy<Value = RecordStatus> {
    prop_oneof![
        3 => Just(RecordStatus::Ready),
        1 => Just(RecordStatus::Pending),
        1 => Just(RecordStatus::Failed),
        1 => Just(RecordStatus::Deleted),
    ]
}

/// Small alphabets so that filters actually hit.
fn name() -> impl Strategy<Value = String> {
    "[abé/ .]{1,6}(\\.jpg|\\.mp4)?"
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Dog".to_string()),
        Just("dog".to_string()),
        Just("Cat".to_string()),
        Just("Phone Booth".to_string()),
        "[A-Za-zé ]{1,5}",
    ]
}

fn record() -> impl Strategy<Value = MediaRecord> {
    (
        name(),
        media_type(),
        prop::collection::vec(label(), 0..5),
        prop::collection::btree_map(label(), 0.0f32..100.0, 0..3),
        status(),
        prop::option::of(any::<u64>()),
        prop::option::of("[ -~]{0,10}"),
        prop::option::of("[a-z0-9-]{1,10}"),
    )
        .prop_map(
            |(name, media_type, labels, confidences, status, seq, error, job_id)| MediaRecord {
                name,
                media_type,
                labels,
                confidences,
                status,
                event_order: seq.map(|s| OrderKey::from_sequencer(&format!("{s:x}")).unwrap()),
                error,
                job_id,
            },
        )
}

fn query() -> impl Strategy<Value = ListQuery> {
    (
        prop::option::of("[abé/ .]{1,3}"),
        prop::option::of(media_type()),
        prop::option::of(label()),
    )
        .prop_map(|(startswith, media_type, label)| ListQuery {
            startswith,
            media_type,
            label,
        })
}

/// A tiny evaluator of the expressions `scan_filter` emits, with
/// DynamoDB's semantics for each function.
fn eval_filter(q: &ListQuery, item: &Item) -> bool {
    let f = q.scan_filter();
    let attr = |placeholder: &str| item.get(&f.names[placeholder]);
    let value = |placeholder: &str| match &f.values[placeholder] {
        AttributeValue::S(s) => s.clone(),
        other => panic!("unexpected value {other:?}"),
    };
    f.expression.split(" AND ").all(|clause| {
        if let Some(arg) = clause.strip_prefix("attribute_not_exists(").and_then(|c| c.strip_suffix(')')) {
            attr(arg).is_none()
        } else if let Some(args) = clause.strip_prefix("begins_with(").and_then(|c| c.strip_suffix(')')) {
            let (a, v) = args.split_once(", ").unwrap();
            matches!(attr(a), Some(AttributeValue::S(s)) if s.as_bytes().starts_with(value(v).as_bytes()))
        } else if let Some(args) = clause.strip_prefix("contains(").and_then(|c| c.strip_suffix(')')) {
            let (a, v) = args.split_once(", ").unwrap();
            let v = value(v);
            match attr(a) {
                Some(AttributeValue::L(list)) => list.iter().any(|x| x == &AttributeValue::S(v.clone())),
                Some(AttributeValue::S(s)) => s.contains(&v),
                _ => false,
            }
        } else if let Some((a, v)) = clause.split_once(" = ") {
            matches!(attr(a), Some(AttributeValue::S(s)) if *s == value(v))
        } else {
            panic!("evaluator does not know clause `{clause}`")
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codec_round_trips(r in record()) {
        let item = r.to_item();
        let text = serde_json::to_string(&item).unwrap();
        let back: Item = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(MediaRecord::from_item(&back).unwrap(), r);
    }

    #[test]
    fn key_encoding_round_trips(key in "\\PC{1,40}") {
        prop_assert_eq!(decode_key(&encode_key(&key)).unwrap(), key);
    }

    #[test]
    fn key_decoding_never_panics(raw in "[%+a-zA-Z0-9\\x00-\\x7f]{0,20}") {
        let _ = decode_key(&raw);
    }

    #[test]
    fn event_parsing_never_panics(raw in "\\PC{0,200}") {
        let _ = parse_s3_event(&raw);
        let _ = media_query_domain::video_job::parse_sns_event(&raw);
    }

    #[test]
    fn matches_agrees_with_filter_expression(q in query(), records in prop::collection::vec(record(), 1..8)) {
        for r in &records {
            prop_assert_eq!(q.matches(r), eval_filter(&q, &r.to_item()), "record {:?}", r);
        }
    }

    #[test]
    fn sequencer_order_is_numeric(a in any::<u128>(), b in any::<u128>(), pad_a in 0usize..4, pad_b in 0usize..4) {
        let ka = OrderKey::from_sequencer(&format!("{}{a:X}", "0".repeat(pad_a))).unwrap();
        let kb = OrderKey::from_sequencer(&format!("{}{b:x}", "0".repeat(pad_b))).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        prop_assert_eq!(OrderKey::parse(ka.as_str()).unwrap(), ka);
    }

    #[test]
    fn event_time_order_is_chronological(a in 0u64..4_102_444_800_000, b in 0u64..4_102_444_800_000) {
        let fmt = media_query_domain::time::iso8601_millis;
        let ka = OrderKey::from_event_time(&fmt(a)).unwrap();
        let kb = OrderKey::from_event_time(&fmt(b)).unwrap();
        prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        prop_assert_eq!(OrderKey::parse(ka.as_str()).unwrap(), ka);
    }
}

#[test]
fn sequencer_keys_sort_after_time_keys() {
    let t = OrderKey::from_event_time("2099-12-31T23:59:59.999Z").unwrap();
    let s = OrderKey::from_sequencer("0").unwrap();
    assert!(s > t);
}
