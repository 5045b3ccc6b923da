//! The export writer against moto S3 + DynamoDB: the snapshot is in
//! DynamoDB's export layout, complete, published by the pointer, and old
//! exports are cleaned up.

use flate2::read::GzDecoder;
use md5_check::base64_md5;
use media_query_domain::dynamo::parse_export_line;
use media_query_domain::export::{
    latest_pointer_key, parse_manifest_files, LatestPointer, ManifestSummary,
};
use media_query_domain::{MediaRecord, MediaType, OrderKey, RecordStatus};
use media_query_lambda::handlers::export::{write_snapshot, ExportTarget};
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_tests::aws;
use media_query_tests::moto::MotoServer;
use std::io::Read;

mod md5_check {
    /// DynamoDB writes `md5Checksum` as base64 of the MD5 of the data file.
    pub fn base64_md5(data: &[u8]) -> String {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
    }
}

const TABLE: &str = "media";
const BUCKET: &str = "exports";

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

#[tokio::test]
async fn snapshot_is_a_complete_dynamodb_export_published_last() {
    let moto = MotoServer::start();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, TABLE).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    let mut written = Vec::new();
    for i in 0..25 {
        let mut r = MediaRecord::ready(
            format!("photo {i}/é.jpg"),
            MediaType::Image,
            vec!["Dog".into(), format!("L{i}")],
        );
        r.event_order = Some(OrderKey::from_sequencer(&format!("{i:X}")).unwrap());
        if i == 3 {
            r.status = RecordStatus::Deleted;
        }
        store.put_if_newer(&r).await.unwrap();
        written.push(r);
    }
    let s3 = aws::s3_client(&sdk);
    let target = ExportTarget {
        bucket: BUCKET.into(),
        prefix: "edge".into(),
        table_arn: "arn:aws:dynamodb:us-east-1::table/media".into(),
    };
    let pointer = write_snapshot(&store, &s3, &target).await.unwrap();

    // Read it back as any reader of a native export would.
    let read: LatestPointer =
        serde_json::from_slice(&get(&s3, &latest_pointer_key("edge")).await).unwrap();
    assert_eq!(read, pointer);
    assert!(read.manifest_summary_key.starts_with("edge/AWSDynamoDB/"));
    let summary = ManifestSummary::parse(
        std::str::from_utf8(&get(&s3, &read.manifest_summary_key).await).unwrap(),
    )
    .unwrap();
    assert_eq!(summary.item_count, 25);
    assert_eq!(summary.s3_bucket, BUCKET);
    let files = parse_manifest_files(
        std::str::from_utf8(&get(&s3, &summary.manifest_files_s3_key).await).unwrap(),
    )
    .unwrap();
    let mut back = Vec::new();
    for f in &files {
        let gz = get(&s3, &f.data_file_s3_key).await;
        assert_eq!(f.md5_checksum, base64_md5(&gz));
        let mut text = String::new();
        GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len() as u64, f.item_count);
        for l in lines {
            back.push(MediaRecord::from_item(&parse_export_line(l).unwrap()).unwrap());
        }
    }
    back.sort_by(|a, b| a.name.cmp(&b.name));
    written.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        back, written,
        "every record, tombstones included, exactly as stored"
    );

    // Two more exports: the previous one is kept for readers mid-switch, older ones go.
    let second = write_snapshot(&store, &s3, &target).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let third = write_snapshot(&store, &s3, &target).await.unwrap();
    let dir = |p: &LatestPointer| {
        p.manifest_summary_key
            .trim_end_matches("manifest-summary.json")
            .to_string()
    };
    let all = keys(&s3).await;
    assert!(
        !all.iter().any(|k| k.starts_with(&dir(&pointer))),
        "oldest export deleted: {all:?}"
    );
    assert!(all.iter().any(|k| k.starts_with(&dir(&second))));
    assert!(all.iter().any(|k| k.starts_with(&dir(&third))));
}
