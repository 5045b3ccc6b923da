//! The serving snapshot's bucket, read through the S3 SDK: the native
//! `ObjectStore` behind the domain's read engine. The export writer's
//! side (PUTs, listings, deletes) is [`crate::s3_bucket::S3Bucket`].

use crate::iam::{Call, Needs, Resource};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use media_query_domain::ports::{Fetched, ObjectStore};

/// Where the export writer publishes; `None` when `SNAPSHOT_BUCKET` is unset.
#[derive(Clone)]
pub struct SnapshotBucket {
    client: aws_sdk_s3::Client,
    bucket: Option<String>,
}

impl SnapshotBucket {
    pub fn new(client: aws_sdk_s3::Client, bucket: Option<String>) -> SnapshotBucket {
        SnapshotBucket { client, bucket }
    }
}

/// What the read needs from the function's role ([`crate::iam`]).
impl SnapshotBucket {
    /// [`ObjectStore::get`]: GetObject of the serving snapshot's objects,
    /// all under `<prefix>/serving/` (the pointer, manifests, shards).
    /// The export writer reads through [`crate::s3_bucket::S3Bucket`],
    /// which declares its own, wider, read.
    pub const GET: Call = Call {
        name: "SnapshotBucket::get",
        needs: &[Needs {
            actions: &["s3:GetObject"],
            resource: Resource::SnapshotObjects { under: "serving/" },
            why: "",
        }],
    };
}

impl ObjectStore for SnapshotBucket {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String> {
        let Some(bucket) = &self.bucket else {
            return Err("SNAPSHOT_BUCKET is not set: there is no snapshot to read".into());
        };
        // IAM: declared as `SnapshotBucket::GET` (and `S3Bucket::GET`).
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_if_none_match(if_none_match.map(str::to_string))
            .send()
            .await;
        match out {
            Ok(o) => {
                let etag = o.e_tag.clone();
                let body = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("reading s3://{bucket}/{key}: {e}"))?
                    .into_bytes()
                    .to_vec();
                Ok(Fetched::Object { body, etag })
            }
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetObjectError::NoSuchKey(_)) => {
                Ok(Fetched::Missing)
            }
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(304) => Ok(Fetched::NotModified),
                Some(404) => Ok(Fetched::Missing),
                _ => Err(format!("GetObject s3://{bucket}/{key}: {}", describe(&e))),
            },
        }
    }
}

/// An SDK error as one line: the service's code, message and HTTP status
/// when it answered, else the whole error.
pub(crate) fn describe<E>(e: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    match (e.code(), e.message(), status) {
        (Some(code), message, Some(status)) => {
            format!("{code}: {} (HTTP {status})", message.unwrap_or(""))
        }
        _ => format!("{e:?}"),
    }
}
