//! Replay at scale against the in-memory store: uploads, removals and video
//! job notices for hundreds of keys, shuffled, replayed and batched, end in
//! exactly the table the last event of each key implies — 0 lost, 0
//! resurrected. The generator, the delivery rules (a job notice comes after
//! its upload's first delivery; see there why) and the oracle are in
//! `tests/src/replay.rs`, shared with the black-box test that replays
//! against DynamoDB in moto.

use crate::replay_history as replay;
use media_query_lambda::store::MemoryStore;
use proptest::prelude::*;
use replay::Params;

#[tokio::test]
async fn ten_thousand_shuffled_replayed_events_lose_and_resurrect_nothing() {
    let report = replay::replay(
        &Params::new(0x5EED_2026_0006, 300, 10_000),
        &MemoryStore::new(),
    )
    .await;
    report.assert_converged(10_000);
    // Replays and late events were really dropped.
    assert!(report.totals.stale > 1_000, "{report}");
}

proptest! {
    // A failure prints its parameters, seed included, which regenerate the
    // same plan; proptest's regression file cannot be placed for a test in
    // tests/ anyway.
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_history_in_any_order_converges_to_its_last_event(
        seed in any::<u64>(),
        keys in 1usize..40,
        events in 1usize..400,
        replay_percent in 0u32..=80,
        lost_notice_percent in 0u32..=50,
        failed_job_percent in 0u32..=60,
        batch_percent in 0u32..=80,
    ) {
        let params = Params {
            seed,
            keys,
            events,
            replay_percent,
            lost_notice_percent,
            failed_job_percent,
            batch_percent,
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let report = runtime.block_on(replay::replay(&params, &MemoryStore::new()));
        prop_assert!(report.is_clean(), "{:?}\n{}", params, report);
    }
}
