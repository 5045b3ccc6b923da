//! DynamoDB's native exports (`ExportTableToPointInTime`, full or
//! incremental, `DYNAMODB_JSON`), written into a moto bucket as DynamoDB
//! writes them: under `<dir>` (`<prefix>/AWSDynamoDB/<export-id>/`), a
//! `manifest-summary.json`, a `manifest-files.json` (one line per data
//! file, with its item count and base64 MD5) and gzip'd data files of JSON
//! lines, every key named from the bucket's root.
//!
//! [`put_full`] and [`put_incremental`] write a whole export; the pieces
//! ([`gzip`], [`summary`], [`manifest_files_line`]) are here too for the
//! tests that write one as some other tool would.

use crate::aws;
use media_query_domain::dynamo::{export_line, Item};
use std::io::Write;

/// `md5Checksum`: base64 of the MD5 of a data file, as DynamoDB writes it.
pub fn base64_md5(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// A data file: `lines`, one a line, gzip'd.
pub fn gzip<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for l in lines {
        writeln!(gz, "{}", l.as_ref()).expect("gzip to memory");
    }
    gz.finish().expect("gzip to memory")
}

/// One line of `manifest-files.json`: the data file `data` at `key`
/// (as the manifest names it), holding `item_count` items. DynamoDB
/// writes an `etag`; other tools may not.
pub fn manifest_files_line(
    key: &str,
    data: &[u8],
    item_count: usize,
    etag: Option<&str>,
) -> String {
    let etag = etag
        .map(|e| format!("\"etag\":\"{e}\","))
        .unwrap_or_default();
    format!(
        "{{\"itemCount\":{item_count},\"md5Checksum\":\"{}\",{etag}\"dataFileS3Key\":\"{key}\"}}\n",
        base64_md5(data)
    )
}

/// `manifest-summary.json` of an export under `dir` in `bucket`, its
/// `manifest-files.json` named from the bucket's root.
/// `export_type`: `FULL_EXPORT` or `INCREMENTAL_EXPORT`.
pub fn summary(bucket: &str, dir: &str, export_type: &str, item_count: usize) -> serde_json::Value {
    let prefix = dir.split("/AWSDynamoDB/").next().unwrap_or("");
    let id = dir
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("01700000000000-abcdef12");
    let mut s = serde_json::json!({
        "version": "2020-06-30",
        "exportArn": format!("arn:aws:dynamodb:us-east-1:123456789012:table/media/export/{id}"),
        "startTime": "2026-11-25T10:00:00.000Z",
        "endTime": "2026-11-25T10:05:00.000Z",
        "tableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/media",
        "tableId": "abc",
        "exportTime": "2026-11-25T10:00:00.000Z",
        "s3Bucket": bucket,
        "s3Prefix": prefix,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": null,
        "manifestFilesS3Key": format!("{dir}manifest-files.json"),
        "billedSizeBytes": 1234,
        "itemCount": item_count,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": export_type,
    });
    if export_type == "INCREMENTAL_EXPORT" {
        s["exportFromTime"] = "2026-11-25T09:00:00.000Z".into();
        s["exportToTime"] = "2026-11-25T10:00:00.000Z".into();
        s["exportViewType"] = "NEW_AND_OLD_IMAGES".into();
    }
    s
}

/// Writes the data files (`lines`, `per_file` a file), their manifest and
/// the summary; returns the summary's key.
async fn put_export(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    dir: &str,
    export_type: &str,
    lines: &[String],
    per_file: usize,
) -> String {
    assert!(
        dir.ends_with('/'),
        "an export's folder ends with a slash: {dir}"
    );
    let mut manifest_files = String::new();
    for (f, chunk) in lines.chunks(per_file.max(1)).enumerate() {
        let gz = gzip(chunk);
        let key = format!("{dir}data/{f:05}.json.gz");
        let etag = format!("etag-{f}");
        manifest_files.push_str(&manifest_files_line(
            &key,
            &gz,
            chunk.len(),
            Some(etag.as_str()),
        ));
        aws::put_object(sdk, bucket, &key, gz).await;
    }
    aws::put_object(
        sdk,
        bucket,
        &format!("{dir}manifest-files.json"),
        manifest_files.into_bytes(),
    )
    .await;
    let summary_key = format!("{dir}manifest-summary.json");
    let text = summary(bucket, dir, export_type, lines.len()).to_string();
    aws::put_object(sdk, bucket, &summary_key, text.into_bytes()).await;
    summary_key
}

/// A full export of `items` (`{"Item": ...}` lines, `per_file` a data
/// file); returns the key of its `manifest-summary.json`.
pub async fn put_full(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    dir: &str,
    items: &[Item],
    per_file: usize,
) -> String {
    let lines: Vec<String> = items.iter().map(export_line).collect();
    put_export(sdk, bucket, dir, "FULL_EXPORT", &lines, per_file).await
}

/// One line of an incremental export: the item's key, its image after the
/// write (`None`: deleted) and when it was written.
pub fn incremental_line(name: &str, new_image: Option<&Item>, write_micros: u64) -> String {
    let mut line = serde_json::json!({
        "Metadata": {"WriteTimestampMicros": {"N": write_micros.to_string()}},
        "Keys": {"name": {"S": name}},
    });
    if let Some(image) = new_image {
        line["NewImage"] = serde_json::to_value(image).expect("items always serialise");
    }
    line.to_string()
}

/// An incremental export of `lines` ([`incremental_line`]) in one data
/// file; returns the key of its `manifest-summary.json`.
pub async fn put_incremental(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    dir: &str,
    lines: &[String],
) -> String {
    put_export(sdk, bucket, dir, "INCREMENTAL_EXPORT", lines, lines.len()).await
}
