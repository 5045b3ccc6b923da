//! The lambda crate's integration tests, in one binary: each test binary
//! links the AWS SDKs, so one binary is one link instead of one per file.

mod read_api_paths;
mod replay;

// The lambda crate cannot depend on media-query-tests (that crate depends
// on this one), so the replay generator it shares with the black-box test
// against moto is compiled in here as well.
#[path = "../../../tests/src/replay.rs"]
mod replay_history;
