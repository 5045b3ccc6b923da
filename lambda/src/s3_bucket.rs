//! The export bucket as the export writer uses it, through the S3 SDK:
//! the [`Bucket`] port (conditional PUTs, listings, batched deletes), and
//! reads through [`SnapshotBucket`]. Kept apart from the readers' adapter
//! so that the read API's code never reaches a write.

use crate::iam::{Call, Needs, Resource};
use crate::snapshot_bucket::{describe, SnapshotBucket};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use media_query_domain::ports::{Bucket, Condition, Listed, Put, PutMeta};
use media_query_domain::ports::{Fetched, ObjectStore};

/// The export bucket named `bucket`.
#[derive(Clone)]
pub struct S3Bucket {
    client: aws_sdk_s3::Client,
    bucket: String,
    reads: SnapshotBucket,
}

impl S3Bucket {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> S3Bucket {
        let reads = SnapshotBucket::new(client.clone(), Some(bucket.clone()));
        S3Bucket {
            client,
            bucket,
            reads,
        }
    }
}

/// What each S3 call of the export writer needs from its role
/// ([`crate::iam`]): everything under `<SNAPSHOT_PREFIX>/` (the serving
/// snapshot, the export layout, native exports it is asked to read), and
/// listings of the bucket. A new call gets its `Call` here.
impl S3Bucket {
    /// [`ObjectStore::get`], through [`SnapshotBucket`]: GetObject.
    pub const GET: Call = Call {
        name: "S3Bucket::get",
        needs: &[Needs {
            actions: &["s3:GetObject"],
            resource: Resource::SnapshotObjects { under: "" },
            why: "",
        }],
    };
    /// [`Bucket::put`]: PutObject, conditional or not.
    pub const PUT: Call = Call {
        name: "S3Bucket::put",
        needs: &[Needs {
            actions: &["s3:PutObject"],
            resource: Resource::SnapshotObjects { under: "" },
            why: "",
        }],
    };
    /// [`Bucket::list`]: ListObjectsV2.
    pub const LIST: Call = Call {
        name: "S3Bucket::list",
        needs: &[Needs {
            actions: &["s3:ListBucket"],
            resource: Resource::SnapshotBucket,
            why: "ListObjectsV2 is authorised as s3:ListBucket on the bucket \
                  (the template narrows it with an s3:prefix condition, which \
                  the moto IAM tests check)",
        }],
    };
    /// [`Bucket::delete`]: DeleteObjects.
    pub const DELETE: Call = Call {
        name: "S3Bucket::delete",
        needs: &[Needs {
            actions: &["s3:DeleteObject"],
            resource: Resource::SnapshotObjects { under: "" },
            why: "DeleteObjects is authorised per key as s3:DeleteObject",
        }],
    };
}

impl ObjectStore for S3Bucket {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, String> {
        // IAM: declared as `S3Bucket::GET`.
        self.reads.get(key, if_none_match).await
    }
}

impl Bucket for S3Bucket {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        meta: PutMeta<'_>,
        condition: Condition<'_>,
    ) -> Result<Put, String> {
        let bucket = &self.bucket;
        let (if_match, if_none_match) = match condition {
            Condition::Always => (None, None),
            Condition::IfMatch(etag) => (Some(etag.to_string()), None),
            Condition::IfAbsent => (None, Some("*".to_string())),
        };
        // IAM: declared as `S3Bucket::PUT`.
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(meta.content_type)
            .set_cache_control(meta.cache_control.map(str::to_string))
            .set_if_match(if_match)
            .set_if_none_match(if_none_match)
            .body(ByteStream::from(body))
            .send()
            .await;
        match out {
            Ok(o) => Ok(Put::Written { etag: o.e_tag }),
            // 412: the condition failed; 409: a concurrent conditional
            // write to the same key won (S3 documents both); 404 to an
            // `If-Match`: the object it named is gone.
            Err(e)
                if matches!(
                    (e.raw_response().map(|r| r.status().as_u16()), condition),
                    (Some(412 | 409), _) | (Some(404), Condition::IfMatch(_))
                ) =>
            {
                Ok(Put::PreconditionFailed)
            }
            Err(e) => Err(format!("PutObject s3://{bucket}/{key}: {}", describe(&e))),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, String> {
        let bucket = &self.bucket;
        let mut listed = Vec::new();
        // IAM: declared as `S3Bucket::LIST`.
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| format!("ListObjectsV2 s3://{bucket}/{prefix}: {}", describe(&e)))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let last_modified_ms = o
                    .last_modified()
                    .and_then(|t| t.to_millis().ok())
                    .map_or(0, |ms| ms.max(0) as u64);
                listed.push(Listed {
                    key: key.to_string(),
                    last_modified_ms,
                });
            }
        }
        Ok(listed)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), String> {
        if keys.is_empty() {
            return Ok(());
        }
        let bucket = &self.bucket;
        let objects = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| e.to_string())?;
        // IAM: declared as `S3Bucket::DELETE`.
        let out = self
            .client
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| format!("DeleteObjects s3://{bucket}: {}", describe(&e)))?;
        // Quiet mode lists only the keys that failed.
        match out.errors().first() {
            None => Ok(()),
            Some(err) => Err(format!(
                "DeleteObjects s3://{bucket}: {} of {} keys failed, {} first: {} {}",
                out.errors().len(),
                keys.len(),
                err.key().unwrap_or("?"),
                err.code().unwrap_or("?"),
                err.message().unwrap_or("")
            )),
        }
    }
}
