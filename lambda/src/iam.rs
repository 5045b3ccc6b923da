//! IAM least privilege, declared in Rust next to the calls that need it.
//!
//! A function's role must grant exactly what its code calls: a missing
//! action is `AccessDenied` in AWS, an extra one is privilege nothing uses.
//! What the code calls is declared here, in three layers:
//!
//! * each adapter that calls an AWS SDK declares, beside the methods that
//!   make the calls, one [`Call`] per call: the IAM actions it needs from
//!   the caller's role, each on a [`Resource`], dependent actions included
//!   (Rekognition reads the S3 object it labels with the caller's
//!   permissions, and is handed a role: `s3:GetObject`, `iam:PassRole`).
//!   They are associated consts of [`crate::store::DynamoStore`],
//!   [`crate::rekognition::Rekognition`],
//!   [`crate::snapshot_bucket::SnapshotBucket`] and
//!   [`crate::s3_bucket::S3Bucket`];
//! * each handler module lists the calls its function makes (`IAM`, or
//!   `OBJECT_CREATED_IAM` / `OBJECT_REMOVED_IAM` in `handlers::ingest`);
//! * [`FUNCTIONS`] names, per binary (`lambda/src/bin/<binary>.rs`,
//!   `Metadata.BuildProperties.Binary` in `template.yaml`), its handler's
//!   list.
//!
//! Adding an SDK call: declare its [`Call`] next to it, and add that call
//! to the `IAM` list of every handler that reaches it. Two tests hold the
//! declarations to account:
//!
//! * `tests/src/declared_iam.rs` compares them with the function's
//!   `Policies` statements in `template.yaml`, both ways: every declared
//!   action is granted on its resource, and every granted action is
//!   declared or needed by the function's configuration (logs, tracing,
//!   stream reads, an on-failure destination);
//! * the moto IAM black-box tests (`tests/tests/blackbox/iam.rs`) run the
//!   handlers with each function's own credentials, and refuse any request
//!   its clients send that the function's declarations do not cover
//!   (`tests/src/iam.rs`), so a call added without its declaration fails
//!   there too.
//!
//! Declared in code rather than read from it: the project's earlier
//! check derived these sets by parsing this crate's source with regular
//! expressions, and broke silently when code was reformatted.

use crate::config::Config;
use crate::handlers;

/// What an action acts on, named by the setting the function finds it by
/// (its environment, [`Config`]), so that it can be resolved to the ARN a
/// policy statement names ([`Resource::arn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The media table (`MEDIA_TABLE_NAME`).
    MediaTable,
    /// An index of the media table, by name.
    MediaTableIndex(&'static str),
    /// Any object of the uploads' bucket (`MEDIA_BUCKET_NAME`).
    MediaObjects,
    /// The objects of `SNAPSHOT_BUCKET` whose keys start with
    /// `<SNAPSHOT_PREFIX>/<under>` (`under` empty: the whole prefix).
    SnapshotObjects { under: &'static str },
    /// `SNAPSHOT_BUCKET` itself (listings are authorised on the bucket).
    SnapshotBucket,
    /// The role Rekognition is handed to publish job notices
    /// (`VIDEO_ROLE_ARN`).
    VideoRole,
    /// Every resource: the action names none (Rekognition's actions).
    Any,
}

/// Where a function runs: what an ARN is made of besides its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub id: &'a str,
}

impl Resource {
    /// The ARN (or ARN pattern, for objects: `arn:...:bucket/prefix*`)
    /// this resource has for a function with settings `config`; `Err`
    /// names the environment variable the function lacks for it.
    pub fn arn(&self, config: &Config, account: &Account<'_>) -> Result<String, &'static str> {
        let Account {
            partition,
            region,
            id,
        } = account;
        let table = || {
            format!(
                "arn:{partition}:dynamodb:{region}:{id}:table/{}",
                config.table
            )
        };
        let snapshot_bucket = || {
            config
                .snapshot_bucket
                .as_deref()
                .ok_or("SNAPSHOT_BUCKET")
                .map(|b| format!("arn:{partition}:s3:::{b}"))
        };
        Ok(match self {
            Resource::MediaTable => table(),
            Resource::MediaTableIndex(index) => format!("{}/index/{index}", table()),
            Resource::MediaObjects => {
                let bucket = config.media_bucket.as_deref().ok_or("MEDIA_BUCKET_NAME")?;
                format!("arn:{partition}:s3:::{bucket}/*")
            }
            Resource::SnapshotObjects { under } => {
                let keys = media_query_domain::export::join_key(&config.snapshot_prefix, under);
                format!("{}/{keys}*", snapshot_bucket()?)
            }
            Resource::SnapshotBucket => snapshot_bucket()?,
            Resource::VideoRole => config.video_role_arn.clone().ok_or("VIDEO_ROLE_ARN")?,
            Resource::Any => "*".to_string(),
        })
    }
}

/// IAM actions one call needs, all on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// `service:Action`, as IAM spells them; never a wildcard.
    pub actions: &'static [&'static str],
    pub resource: Resource,
    /// Why the call needs them, when the action's name does not say
    /// (empty otherwise).
    pub why: &'static str,
}

/// One SDK call an adapter makes, and everything it needs from the
/// caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// Where the call is made: `Adapter::method`.
    pub name: &'static str,
    pub needs: &'static [Needs],
}

/// One Lambda function: its binary and the calls its handler makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// `lambda/src/bin/<binary>.rs`; template.yaml's
    /// `Metadata.BuildProperties.Binary`.
    pub binary: &'static str,
    /// The handler the binary runs, where its calls are listed.
    pub handler: &'static str,
    pub calls: &'static [Call],
}

impl Function {
    /// Every [`Needs`] of every call, with the call it is for.
    pub fn needs(&self) -> impl Iterator<Item = (&'static Call, &'static Needs)> {
        let calls: &'static [Call] = self.calls;
        calls
            .iter()
            .flat_map(|call| call.needs.iter().map(move |needs| (call, needs)))
    }
}

/// Every function, by binary. A new binary needs its entry here.
pub const FUNCTIONS: &[Function] = &[
    Function {
        binary: "object-created",
        handler: "handlers::ingest::handle_s3_event (Role::Created)",
        calls: handlers::ingest::OBJECT_CREATED_IAM,
    },
    Function {
        binary: "object-removed",
        handler: "handlers::ingest::handle_s3_event (Role::Removed)",
        calls: handlers::ingest::OBJECT_REMOVED_IAM,
    },
    Function {
        binary: "video-job-complete",
        handler: "handlers::video::handle_job_event",
        calls: handlers::video::IAM,
    },
    Function {
        binary: "pending-sweeper",
        handler: "handlers::sweeper::sweep_pending",
        calls: handlers::sweeper::IAM,
    },
    Function {
        binary: "read-api",
        handler: "handlers::api::ReadApi",
        calls: handlers::api::IAM,
    },
    Function {
        binary: "export-writer",
        handler: "handlers::snapshot_writer::handle",
        calls: handlers::snapshot_writer::IAM,
    },
];

/// The declarations of the function built from `binary`.
pub fn function(binary: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.binary == binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_actions_are_single_iam_actions() {
        for f in FUNCTIONS {
            assert!(!f.calls.is_empty(), "{}: no calls declared", f.binary);
            for (call, needs) in f.needs() {
                assert!(
                    !needs.actions.is_empty(),
                    "{}: {} needs nothing",
                    f.binary,
                    call.name
                );
                for action in needs.actions {
                    let well_formed = action.split_once(':').is_some_and(|(service, name)| {
                        !service.is_empty()
                            && service
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                            && name.starts_with(|c: char| c.is_ascii_uppercase())
                            && name.chars().all(|c| c.is_ascii_alphanumeric())
                    });
                    assert!(
                        well_formed,
                        "{}: {} declares {action:?}: declare `service:Action`, one action, \
                         no wildcard",
                        f.binary, call.name
                    );
                }
            }
        }
    }

    /// Every binary of this crate has its declarations, once.
    #[test]
    fn every_binary_is_declared_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
        let mut binaries: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
            .collect();
        binaries.sort();
        let mut declared: Vec<String> = FUNCTIONS.iter().map(|f| f.binary.to_string()).collect();
        declared.sort();
        assert_eq!(
            declared, binaries,
            "lambda/src/iam.rs FUNCTIONS, against lambda/src/bin/*.rs: give each binary one entry"
        );
    }

    #[test]
    fn resources_resolve_from_the_functions_settings() {
        let config = Config::from_lookup(|k| {
            let value = match k {
                "MEDIA_TABLE_NAME" => Some("media"),
                "MEDIA_BUCKET_NAME" => Some("uploads"),
                "SNAPSHOT_BUCKET" => Some("exports"),
                "SNAPSHOT_PREFIX" => Some("edge"),
                "VIDEO_ROLE_ARN" => Some("arn:aws:iam::1:role/video"),
                _ => None,
            };
            value.map(str::to_string)
        })
        .unwrap();
        let account = Account {
            partition: "aws",
            region: "eu-west-1",
            id: "1",
        };
        let arn = |r: Resource| r.arn(&config, &account);
        assert_eq!(
            arn(Resource::MediaTable).unwrap(),
            "arn:aws:dynamodb:eu-west-1:1:table/media"
        );
        assert_eq!(
            arn(Resource::MediaTableIndex("pending")).unwrap(),
            "arn:aws:dynamodb:eu-west-1:1:table/media/index/pending"
        );
        assert_eq!(
            arn(Resource::MediaObjects).unwrap(),
            "arn:aws:s3:::uploads/*"
        );
        assert_eq!(
            arn(Resource::SnapshotObjects { under: "serving/" }).unwrap(),
            "arn:aws:s3:::exports/edge/serving/*"
        );
        assert_eq!(
            arn(Resource::SnapshotObjects { under: "" }).unwrap(),
            "arn:aws:s3:::exports/edge/*"
        );
        assert_eq!(
            arn(Resource::SnapshotBucket).unwrap(),
            "arn:aws:s3:::exports"
        );
        assert_eq!(
            arn(Resource::VideoRole).unwrap(),
            "arn:aws:iam::1:role/video"
        );
        assert_eq!(arn(Resource::Any).unwrap(), "*");
        let bare = Config::for_table("media");
        assert_eq!(
            Resource::VideoRole.arn(&bare, &account),
            Err("VIDEO_ROLE_ARN")
        );
        assert_eq!(
            Resource::SnapshotBucket.arn(&bare, &account),
            Err("SNAPSHOT_BUCKET")
        );
    }
}
