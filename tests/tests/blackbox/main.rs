//! The black-box tests, one module per part of the system, against real
//! local servers (moto_server, rekognition-local, `cargo lambda watch`,
//! `wrangler dev`).
//!
//! They are one test binary rather than one per file: each binary would
//! compile its own copies of the AWS SDKs' and tokio's generic code and
//! link them again, which cost the test command minutes.

mod detector_model;
mod detector_protocol;
mod dynamo_filter_conformance;
mod edge_cache_api;
mod edge_faults;
mod edge_signing;
mod edge_worker;
mod export_writer_from_export;
mod iam;
mod lambda_export;
mod lambda_faults;
mod lambda_ingest;
mod lambda_read_api;
mod lambda_runtime_api;
mod lambda_sweeper;
mod lambda_video;
mod paging_versions;
mod replay;
mod stack_stream;
mod walkthrough;
