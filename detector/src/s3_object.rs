//! Reading the objects Rekognition is pointed at (`S3Object`), failing
//! as Rekognition does for one it cannot read, and telling images from
//! videos by their first bytes.

use crate::protocol::{ApiError, S3Object};
use crate::state::AppState;

/// Reads an S3 object, or the first `limit` bytes of it.
pub(crate) async fn read_object(
    state: &AppState,
    o: &S3Object,
    range: Option<&str>,
) -> Result<(Vec<u8>, i64), ApiError> {
    let out = get_object(state, o, range).await?;
    let total = out
        .content_range()
        .and_then(|r| r.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .or(out.content_length())
        .unwrap_or(0);
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| ApiError::internal(format!("reading S3 object: {e}")))?
        .into_bytes()
        .to_vec();
    Ok((bytes, total))
}

pub(crate) fn is_image(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
        || b.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A])
}

pub(crate) fn is_video(b: &[u8]) -> bool {
    b.starts_with(b"FLV")
        || (b.len() >= 8 && matches!(&b[4..8], b"ftyp" | b"moov" | b"mdat" | b"wide" | b"free"))
}

/// `GetObject`, failing as Rekognition does for an object it cannot read.
async fn get_object(
    state: &AppState,
    o: &S3Object,
    range: Option<&str>,
) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, ApiError> {
    let mut req = state.s3.get_object().bucket(&o.bucket).key(&o.name);
    if let Some(v) = &o.version {
        req = req.version_id(v);
    }
    if let Some(r) = range {
        req = req.range(r);
    }
    req.send().await.map_err(|e| {
        ApiError::new(
            "InvalidS3ObjectException",
            format!(
                "Unable to get object metadata from S3 (s3://{}/{}): {}",
                o.bucket,
                o.name,
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ),
        )
    })
}

/// Streams an S3 object to a temporary file (videos can be large).
pub(crate) async fn download(
    state: &AppState,
    o: &S3Object,
) -> Result<tempfile::NamedTempFile, String> {
    let out = get_object(state, o, None).await.map_err(|e| e.message)?;
    let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut writer = tokio::fs::File::from_std(file.reopen().map_err(|e| e.to_string())?);
    let mut body = out.body.into_async_read();
    tokio::io::copy(&mut body, &mut writer)
        .await
        .map_err(|e| format!("reading s3://{}/{}: {e}", o.bucket, o.name))?;
    Ok(file)
}
