//! SigV4-signed requests to S3 and DynamoDB, built without any I/O.
//!
//! Signing uses the `aws-sigv4` crate, which builds for wasm32. The one
//! wasm32 trap is the clock: `SystemTime::now()` panics there, so the
//! caller passes the time (the Worker reads JavaScript's `Date.now()`).

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::{Duration, UNIX_EPOCH};

/// Where and as whom the Worker talks to AWS.
#[derive(Debug, Clone)]
pub struct AwsAccess {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `AWS_ENDPOINT_URL`: one endpoint for S3 (path-style) and DynamoDB.
    pub endpoint_url: Option<String>,
    /// `AWS_ENDPOINT_URL_DYNAMODB`: DynamoDB's own endpoint, which the SDKs
    /// prefer to `AWS_ENDPOINT_URL` for DynamoDB.
    pub dynamodb_endpoint_url: Option<String>,
}

/// A request ready to send: method, URL, headers (signature included), body.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

impl AwsAccess {
    fn base(&self) -> Option<&str> {
        self.endpoint_url
            .as_deref()
            .map(|e| e.trim_end_matches('/'))
    }

    fn dynamodb_base(&self) -> Option<&str> {
        self.dynamodb_endpoint_url
            .as_deref()
            .map(|e| e.trim_end_matches('/'))
            .or_else(|| self.base())
    }

    /// `GET` of one S3 object, optionally conditional on an ETag.
    pub fn s3_get(
        &self,
        bucket: &str,
        key: &str,
        if_none_match: Option<&str>,
        now_ms: u64,
    ) -> Result<SignedRequest, SignError> {
        let url = match self.base() {
            Some(base) => format!(
                "{base}/{bucket}/{}",
                media_query_domain::api::encode_path(key)
            ),
            None => format!(
                "https://{bucket}.s3.{}.amazonaws.com/{}",
                self.region,
                media_query_domain::api::encode_path(key)
            ),
        };
        let mut headers = Vec::new();
        if let Some(etag) = if_none_match {
            headers.push(("if-none-match".to_string(), etag.to_string()));
        }
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        self.sign("GET", url, headers, String::new(), "s3", settings, now_ms)
    }

    /// A DynamoDB JSON API call such as `GetItem` or `Scan`.
    pub fn dynamodb(
        &self,
        operation: &str,
        body: &serde_json::Value,
        now_ms: u64,
    ) -> Result<SignedRequest, SignError> {
        let url = match self.dynamodb_base() {
            Some(base) => format!("{base}/"),
            None => format!("https://dynamodb.{}.amazonaws.com/", self.region),
        };
        let headers = vec![
            (
                "content-type".to_string(),
                "application/x-amz-json-1.0".to_string(),
            ),
            (
                "x-amz-target".to_string(),
                format!("DynamoDB_20120810.{operation}"),
            ),
        ];
        self.sign(
            "POST",
            url,
            headers,
            body.to_string(),
            "dynamodb",
            SigningSettings::default(),
            now_ms,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn sign(
        &self,
        method: &'static str,
        url: String,
        mut headers: Vec<(String, String)>,
        body: String,
        service: &str,
        settings: SigningSettings,
        now_ms: u64,
    ) -> Result<SignedRequest, SignError> {
        let authority = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| SignError(format!("bad URL {url}")))?;
        headers.push(("host".to_string(), authority.to_string()));
        let identity: Identity = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "media-query-edge",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(UNIX_EPOCH + Duration::from_millis(now_ms))
            .settings(settings)
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method,
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_string(), value.to_string()));
        }
        // The fetch API sets Host itself and refuses it as a header.
        headers.retain(|(k, _)| k != "host");
        Ok(SignedRequest {
            method,
            url,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(endpoint: Option<&str>) -> AwsAccess {
        AwsAccess {
            region: "us-east-1".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            endpoint_url: endpoint.map(String::from),
            dynamodb_endpoint_url: None,
        }
    }

    fn header<'a>(r: &'a SignedRequest, name: &str) -> &'a str {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    #[test]
    fn s3_requests_are_path_style_locally_and_virtual_hosted_on_aws() {
        let t = 1_700_000_000_000;
        let local = access(Some("http://127.0.0.1:5000/"))
            .s3_get("b", "edge/AWSDynamoDB/x/data/a b.json.gz", Some("\"e\""), t)
            .unwrap();
        assert_eq!(
            local.url,
            "http://127.0.0.1:5000/b/edge/AWSDynamoDB/x/data/a%20b.json.gz"
        );
        assert_eq!(header(&local, "if-none-match"), "\"e\"");
        assert_eq!(
            header(&local, "x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(header(&local, "authorization").starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/s3/aws4_request"
        ));
        let aws = access(None).s3_get("b", "k", None, t).unwrap();
        assert_eq!(aws.url, "https://b.s3.us-east-1.amazonaws.com/k");
    }

    #[test]
    fn signatures_depend_on_secret_time_and_body() {
        let body = serde_json::json!({"TableName": "media"});
        let a = access(None)
            .dynamodb("Scan", &body, 1_700_000_000_000)
            .unwrap();
        assert_eq!(a.url, "https://dynamodb.us-east-1.amazonaws.com/");
        assert_eq!(header(&a, "x-amz-target"), "DynamoDB_20120810.Scan");
        assert_eq!(header(&a, "x-amz-date"), "20231114T221320Z");
        let again = access(None)
            .dynamodb("Scan", &body, 1_700_000_000_000)
            .unwrap();
        assert_eq!(a, again, "signing is deterministic");
        let later = access(None)
            .dynamodb("Scan", &body, 1_700_000_001_000)
            .unwrap();
        assert_ne!(header(&a, "authorization"), header(&later, "authorization"));
        let mut other = access(None);
        other.secret_access_key = "different".into();
        assert_ne!(
            header(&a, "authorization"),
            header(
                &other.dynamodb("Scan", &body, 1_700_000_000_000).unwrap(),
                "authorization"
            )
        );
        assert!(a.headers.iter().all(|(k, _)| k != "host"));
    }

    #[test]
    fn dynamodb_takes_its_own_endpoint_before_the_shared_one() {
        let body = serde_json::json!({"TableName": "media"});
        let t = 1_700_000_000_000;
        let mut a = access(Some("http://127.0.0.1:5000"));
        assert_eq!(
            a.dynamodb("GetItem", &body, t).unwrap().url,
            "http://127.0.0.1:5000/"
        );
        a.dynamodb_endpoint_url = Some("http://127.0.0.1:5001/".into());
        assert_eq!(
            a.dynamodb("GetItem", &body, t).unwrap().url,
            "http://127.0.0.1:5001/"
        );
        let s3 = a.s3_get("b", "k", None, t).unwrap();
        assert_eq!(
            s3.url, "http://127.0.0.1:5000/b/k",
            "S3 keeps the shared one"
        );
    }
}
