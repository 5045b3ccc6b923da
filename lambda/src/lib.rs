//! AWS Lambda functions of media-query. See the AWS-side issue; this crate
//! starts as a placeholder so the workspace builds end to end.

pub use media_query_domain as domain;
