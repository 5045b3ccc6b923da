//! Video label jobs: started, run in the background, then reported to the
//! job's SNS topic in Rekognition's job-complete format.

use crate::filters::LabelFilter;
use crate::protocol::{Label, NotificationChannel};
use crate::video::VideoMetadata;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
    pub job_tag: Option<String>,
    pub channel: Option<NotificationChannel>,
    pub min_confidence: f32,
    /// `Settings.GeneralLabels` of the request.
    pub filter: LabelFilter,
    pub status: JobStatus,
    pub status_message: Option<String>,
    /// `(timestamp ms, label)`, sorted by timestamp.
    pub labels: Vec<(u64, Label)>,
    pub metadata: VideoMetadata,
}

/// All jobs of this server, and which client token started which job.
#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    jobs: HashMap<String, Job>,
    /// Client token -> (job id, the parameters of the request that started it).
    tokens: HashMap<String, (String, String)>,
}

/// A client token reused with other parameters than the request that first
/// used it: Rekognition's `IdempotentParameterMismatchException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReused;

impl Job {
    /// What identifies the request that started this job: a token may be
    /// used again only with the same.
    fn parameters(&self) -> String {
        format!(
            "{:?}",
            (
                &self.bucket,
                &self.key,
                &self.version,
                &self.job_tag,
                &self.channel,
                self.min_confidence.to_bits(),
                &self.filter,
            )
        )
    }
}

impl Jobs {
    /// Registers a job, or returns the existing one for a repeated token
    /// with the same parameters. The bool says whether the job is new.
    pub fn start(&self, token: Option<&str>, job: Job) -> Result<(String, bool), TokenReused> {
        let mut inner = self.inner.lock().unwrap();
        let parameters = job.parameters();
        if let Some((id, first)) = token.and_then(|t| inner.tokens.get(t)) {
            return if *first == parameters {
                Ok((id.clone(), false))
            } else {
                Err(TokenReused)
            };
        }
        inner.next += 1;
        let id = format!("{:016x}{:016x}", inner.next, std::process::id());
        if let Some(t) = token {
            inner.tokens.insert(t.to_string(), (id.clone(), parameters));
        }
        inner.jobs.insert(id.clone(), job);
        Ok((id, true))
    }

    pub fn get(&self, id: &str) -> Option<Job> {
        self.inner.lock().unwrap().jobs.get(id).cloned()
    }

    pub fn finish(
        &self,
        id: &str,
        status: JobStatus,
        message: Option<String>,
        labels: Vec<(u64, Label)>,
        metadata: VideoMetadata,
    ) {
        if let Some(job) = self.inner.lock().unwrap().jobs.get_mut(id) {
            job.status = status;
            job.status_message = message;
            job.labels = labels;
            job.metadata = metadata;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(key: &str) -> Job {
        Job {
            bucket: "b".into(),
            key: key.into(),
            version: None,
            job_tag: Some("t".into()),
            channel: None,
            min_confidence: 50.0,
            filter: LabelFilter::default(),
            status: JobStatus::InProgress,
            status_message: None,
            labels: Vec::new(),
            metadata: VideoMetadata::default(),
        }
    }

    #[test]
    fn a_token_starts_one_job_and_is_refused_with_other_parameters() {
        let jobs = Jobs::default();
        let (id, new) = jobs.start(Some("tok"), job("a.mp4")).unwrap();
        assert!(new);
        assert_eq!(
            jobs.start(Some("tok"), job("a.mp4")),
            Ok((id.clone(), false))
        );
        assert_eq!(jobs.start(Some("tok"), job("b.mp4")), Err(TokenReused));
        let mut other_tag = job("a.mp4");
        other_tag.job_tag = None;
        assert_eq!(jobs.start(Some("tok"), other_tag), Err(TokenReused));
        let (no_token, new) = jobs.start(None, job("a.mp4")).unwrap();
        assert!(new && no_token != id);
    }
}
