//! What crosses the responder's boundary: the request as an adapter (the
//! edge Worker, the Lambda read API) reduces it, and the [`Reply`] it
//! turns back into its own response, with where the data came from.

/// Where the data of an answer came from (`X-Media-Source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerSource {
    Snapshot,
    DynamoDb,
}

impl AnswerSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Snapshot => "snapshot",
            AnswerSource::DynamoDb => "dynamodb",
        }
    }
}

/// An incoming request, reduced to what the API reads.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The path as sent, still URL-encoded.
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
}

/// The answer: status, headers (lower-case names) and body, plus what the
/// adapter should log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Failures met on the way (a fallback was used); for the logs only.
    pub log: Vec<String>,
    /// The snapshot version that answered, for the logs.
    pub snapshot_version: Option<String>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}
