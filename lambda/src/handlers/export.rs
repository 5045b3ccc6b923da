//! Reconciliation, the export writer's hourly run: the table read whole,
//! written in DynamoDB's own export layout (see `domain::export`) for tools
//! that read `ExportTableToPointInTime` output, and rebuilt as the serving
//! snapshot (`super::serving`), which is what the edge and the read API
//! read. No reader of this project reads the export-layout files.
//!
//! Publication of the export-layout files is atomic: all data files and
//! both manifests are written first, then `<prefix>/latest.json` is
//! replaced in one PUT. The export before the current one is kept, so a
//! reader that fetched the old pointer just before the switch still finds
//! its files; older ones are deleted.

use super::writer::{put, sort_error, SnapshotTarget, WriterError};
use crate::spill::SpillSorter;
use crate::store::MediaStore;
use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use md5::{Digest, Md5};
use media_query_domain::dynamo::export_line;
use media_query_domain::export::{
    export_dir, join_key, latest_pointer_key, LatestPointer, ManifestFile, ManifestSummary,
    MANIFEST_VERSION, OUTPUT_FORMAT,
};
use media_query_domain::ports::{Bucket, PutMeta};
use media_query_domain::record::attr;
use media_query_domain::time::iso8601_millis;
use std::io::Write as _;
use tracing::info;

/// Items per data file.
pub const ITEMS_PER_FILE: usize = 10_000;

/// Milliseconds since the epoch and an ISO-8601 rendering of it.
fn now() -> (u128, String) {
    let ms = super::writer::now_ms();
    (u128::from(ms), iso8601_millis(ms))
}

/// The export-layout files: no `Cache-Control`.
fn layout_file(content_type: &str) -> PutMeta<'_> {
    PutMeta {
        content_type,
        cache_control: None,
    }
}

/// Segments of the rebuild's parallel Scan.
pub const SCAN_SEGMENTS: u32 = 4;
/// Items the rebuild sorts in memory before spilling a run to disk.
pub const SORT_CHUNK_BYTES: usize = 128 << 20;

/// One export-layout data file being filled.
struct DataFile {
    gz: GzEncoder<Vec<u8>>,
    items: u64,
}

impl DataFile {
    fn new() -> DataFile {
        DataFile {
            gz: GzEncoder::new(Vec::new(), Compression::default()),
            items: 0,
        }
    }
}

/// The full rebuild and reconciliation (the hourly run): reads the table
/// with a parallel Scan, page by page, writes it in DynamoDB's export
/// layout as it goes, sorts it by name within a bounded memory (spilling
/// to the temporary directory, see [`crate::spill`]), and builds the
/// serving snapshot from the sorted stream, counting how far the published
/// snapshot had drifted from the table, and publishing the rebuilt one if
/// it differs. Returns the export's pointer and what the publish did.
pub async fn write_snapshot<S: MediaStore>(
    store: &S,
    bucket: &impl Bucket,
    target: &SnapshotTarget,
) -> Result<(LatestPointer, super::serving::Published), WriterError> {
    use futures::StreamExt;
    let (start_ms, start_time) = now();
    let export_id = format!(
        "{start_ms:013}-{:08x}",
        std::process::id() ^ (start_ms as u32)
    );
    let dir = export_dir(&target.prefix, &export_id);
    let mut sorter = SpillSorter::new(None, SORT_CHUNK_BYTES).map_err(sort_error)?;
    // The serving pointer as it is before the table is read: the rebuild
    // publishes only over this version (see `publish_sorted`).
    let published_before = super::serving::read_pointer(bucket, &target.prefix).await?;

    let mut files = Vec::new();
    let mut billed = 0u64;
    let mut item_count = 0u64;
    let mut file = DataFile::new();
    let mut pages = store.scan_pages(SCAN_SEGMENTS);
    loop {
        let page = pages.next().await.transpose()?;
        let last = page.is_none();
        for item in page.into_iter().flatten() {
            let line = export_line(&item);
            file.gz.write_all(line.as_bytes()).expect("write to memory");
            file.gz.write_all(b"\n").expect("write to memory");
            file.items += 1;
            item_count += 1;
            let name = item.get(attr::NAME).and_then(|v| v.as_s()).unwrap_or("");
            sorter
                .push(name.to_string(), line.into_bytes())
                .map_err(sort_error)?;
        }
        if file.items as usize >= ITEMS_PER_FILE || (last && file.items > 0) {
            let full = std::mem::replace(&mut file, DataFile::new());
            let data = full.gz.finish().expect("gzip to memory");
            billed += data.len() as u64;
            let md5 = Md5::digest(&data);
            let key = format!(
                "{dir}data/{:05}-{}.json.gz",
                files.len(),
                media_query_domain::hex::encode(&md5[..8])
            );
            let etag = put(bucket, &key, data, layout_file("application/gzip")).await?;
            files.push(ManifestFile {
                item_count: full.items,
                md5_checksum: base64::engine::general_purpose::STANDARD.encode(md5),
                etag,
                data_file_s3_key: key,
            });
        }
        if last {
            break;
        }
    }
    drop(pages);
    let files_key = format!("{dir}manifest-files.json");
    let files_text: String = files
        .iter()
        .map(|f| serde_json::to_string(f).expect("serialise") + "\n")
        .collect();
    put(
        bucket,
        &files_key,
        files_text.into_bytes(),
        layout_file("application/json"),
    )
    .await?;

    let (_, end_time) = now();
    let summary = ManifestSummary {
        version: MANIFEST_VERSION.into(),
        export_arn: format!("{}/export/{export_id}", target.table_arn),
        start_time: start_time.clone(),
        end_time,
        table_arn: target.table_arn.clone(),
        table_id: None,
        export_time: start_time.clone(),
        s3_bucket: target.bucket.clone(),
        s3_prefix: Some(target.prefix.clone()).filter(|p| !p.is_empty()),
        s3_sse_algorithm: Some("AES256".into()),
        s3_sse_kms_key_id: None,
        manifest_files_s3_key: files_key,
        billed_size_bytes: billed,
        item_count,
        output_format: OUTPUT_FORMAT.into(),
        export_type: Some("FULL_EXPORT".into()),
    };
    let summary_key = format!("{dir}manifest-summary.json");
    let summary_text = serde_json::to_vec(&summary).expect("serialise");
    put(
        bucket,
        &summary_key,
        summary_text,
        layout_file("application/json"),
    )
    .await?;

    // Publish: the single PUT that switches readers to the new snapshot.
    let pointer_key = latest_pointer_key(&target.prefix);
    let previous = read_latest(bucket, &pointer_key).await;
    let pointer = LatestPointer {
        manifest_summary_key: summary_key,
        export_time: start_time,
        item_count,
    };
    let body = serde_json::to_vec(&pointer).expect("serialise");
    put(bucket, &pointer_key, body, layout_file("application/json")).await?;
    info!(
        export_id,
        items = item_count,
        files = files.len(),
        spilled_bytes = sorter.spilled_bytes,
        "export published"
    );
    let sorted = sorter.into_sorted().map_err(sort_error)?;
    let published =
        super::serving::publish_sorted(sorted, published_before, bucket, target).await?;

    let mut keep = vec![dir];
    if let Some(prev) = previous {
        if let Some(d) = prev
            .manifest_summary_key
            .strip_suffix("manifest-summary.json")
        {
            keep.push(d.to_string());
        }
    }
    delete_old_exports(bucket, target, &keep).await?;
    Ok((pointer, published))
}

/// The export-layout pointer, if there is one that parses.
async fn read_latest(bucket: &impl Bucket, key: &str) -> Option<LatestPointer> {
    let (bytes, _) = super::serving::get(bucket, key).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Deletes the export-layout files of every export but those in `keep`.
async fn delete_old_exports(
    bucket: &impl Bucket,
    target: &SnapshotTarget,
    keep: &[String],
) -> Result<(), WriterError> {
    let root = join_key(&target.prefix, "AWSDynamoDB/");
    let listed = bucket.list(&root).await.map_err(|detail| WriterError::S3 {
        operation: "ListObjectsV2",
        key: root.clone(),
        detail,
    })?;
    let old: Vec<String> = listed
        .into_iter()
        .map(|o| o.key)
        .filter(|key| !keep.iter().any(|k| key.starts_with(k.as_str())))
        .collect();
    super::serving::delete_objects(bucket, &old).await
}
