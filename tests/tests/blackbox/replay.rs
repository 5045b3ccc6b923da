//! Replay at scale against DynamoDB (moto): about 300 uploads, removals
//! and video job notices over 30 keys, shuffled, replayed and batched,
//! through `DynamoStore`, so the conditional writes that keep the table
//! right are DynamoDB's `ConditionExpression`s, not the in-memory store's.
//! Generator, delivery rules and oracle: `media_query_tests::replay`
//! (`lambda/tests/handlers/replay.rs` runs 10,000 events against `MemoryStore`).
//! Labels come from `FixedLabeler`: what is tested here is the store.

use media_query_lambda::store::DynamoStore;
use media_query_tests::aws;
use media_query_tests::moto::start_moto;
use media_query_tests::replay::{self, Params};

#[tokio::test]
async fn shuffled_replayed_events_lose_and_resurrect_nothing_in_dynamodb() {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, "media").await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "media");
    let report = replay::replay(&Params::new(0x5EED_2026_0300, 30, 300), &store).await;
    report.assert_converged(300);
}
