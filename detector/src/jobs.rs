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
    tokens: HashMap<String, String>,
}

impl Jobs {
    /// Registers a job, or returns the existing one for a repeated token.
    /// The bool says whether the job is new.
    pub fn start(&self, token: Option<&str>, job: Job) -> (String, bool) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(id) = token.and_then(|t| inner.tokens.get(t)) {
            return (id.clone(), false);
        }
        inner.next += 1;
        let id = format!("{:016x}{:016x}", inner.next, std::process::id());
        if let Some(t) = token {
            inner.tokens.insert(t.to_string(), id.clone());
        }
        inner.jobs.insert(id.clone(), job);
        (id, true)
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
