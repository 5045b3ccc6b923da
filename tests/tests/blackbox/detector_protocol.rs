//! rekognition-local over real HTTP, called by the real `aws-sdk-rekognition`
//! client, reading S3 and publishing to SNS in moto.

use aws_sdk_rekognition::error::ProvideErrorMetadata;
use aws_sdk_rekognition::types::{Image, NotificationChannel, S3Object, Video};
use media_query_detector::{Labeler, RunningServer, ServerConfig};
use media_query_domain::labels::DetectedLabel;
use media_query_tests::aws::{self, media, TopicProbe};
use media_query_tests::moto::MotoServer;

async fn setup(
    max_page_size: Option<u32>,
) -> (
    MotoServer,
    aws_config::SdkConfig,
    RunningServer,
    aws_sdk_rekognition::Client,
) {
    let moto = MotoServer::start();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_bucket(&sdk, "media").await;
    let s3 = aws::s3_client(&sdk);
    for (key, body) in [
        ("dog.jpg", media::JPEG),
        ("clip.mp4", media::MP4),
        ("notes.jpg", b"just text".as_slice()),
        ("clip.mov", b"not a video".as_slice()),
    ] {
        s3.put_object()
            .bucket("media")
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let labels = vec![
        DetectedLabel::new("Dog", 91.0),
        DetectedLabel::new("Animal", 88.0),
        DetectedLabel::new("Faint", 20.0),
    ];
    let server = RunningServer::start(
        ServerConfig {
            labeler: Labeler::Canned(labels),
            max_page_size,
        },
        &sdk,
    )
    .unwrap();
    let rek = aws::rekognition_client(&sdk, &server);
    (moto, sdk, server, rek)
}

fn s3(name: &str) -> S3Object {
    S3Object::builder().bucket("media").name(name).build()
}

#[tokio::test]
async fn detect_labels_from_s3_and_bytes_with_limits_and_errors() {
    let (_moto, _sdk, _server, rek) = setup(None).await;
    let out = rek
        .detect_labels()
        .image(Image::builder().s3_object(s3("dog.jpg")).build())
        .min_confidence(50.0)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = out.labels().iter().map(|l| l.name().unwrap()).collect();
    assert_eq!(names, ["Dog", "Animal"]);
    let out = rek
        .detect_labels()
        .image(
            Image::builder()
                .bytes(aws_sdk_rekognition::primitives::Blob::new(media::JPEG))
                .build(),
        )
        .max_labels(1)
        .min_confidence(0.0)
        .send()
        .await
        .unwrap();
    assert_eq!(out.labels().len(), 1);

    let err = rek
        .detect_labels()
        .image(Image::builder().s3_object(s3("notes.jpg")).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidImageFormatException"));
    let err = rek
        .detect_labels()
        .image(Image::builder().s3_object(s3("missing.jpg")).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidS3ObjectException"));
    let err = rek
        .detect_labels()
        .image(Image::builder().s3_object(s3("dog.jpg")).build())
        .min_confidence(150.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
}

#[tokio::test]
async fn garbage_and_unknown_operations_get_rekognition_errors() {
    let (_moto, _sdk, server, rek) = setup(None).await;
    for (target, body) in [
        ("RekognitionService.DetectLabels", "not json"),
        ("RekognitionService.DetectFaces", "{}"),
        ("", "{}"),
    ] {
        let r = ureq::post(&server.endpoint())
            .set("X-Amz-Target", target)
            .set("Content-Type", "application/x-amz-json-1.1")
            .send_string(body);
        match r {
            Err(ureq::Error::Status(400, resp)) => {
                let v: serde_json::Value = resp.into_json().unwrap();
                assert!(v["__type"].as_str().unwrap().ends_with("Exception"), "{v}");
            }
            other => panic!("{target}: {other:?}"),
        }
    }
    let err = rek
        .get_label_detection()
        .job_id("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn video_jobs_are_idempotent_paged_and_announced_on_sns() {
    let (_moto, sdk, _server, rek) = setup(Some(3)).await;
    let probe = TopicProbe::new(&sdk, "video").await;
    let channel = NotificationChannel::builder()
        .sns_topic_arn(&probe.topic_arn)
        .role_arn("arn:aws:iam::123456789012:role/r")
        .build()
        .unwrap();
    let start = |key: &'static str, token: &'static str| {
        rek.start_label_detection()
            .video(Video::builder().s3_object(s3(key)).build())
            .client_request_token(token)
            .job_tag("02026-11-24T10:00:00.000000Z")
            .notification_channel(channel.clone())
            .send()
    };
    let job = start("clip.mp4", "token-1").await.unwrap().job_id.unwrap();
    assert_eq!(
        start("clip.mp4", "token-1").await.unwrap().job_id.unwrap(),
        job,
        "same token, same job"
    );

    let notice = probe.next_message().await;
    assert_eq!(notice["JobId"], job.as_str());
    assert_eq!(notice["Status"], "SUCCEEDED");
    assert_eq!(notice["API"], "StartLabelDetection");
    assert_eq!(notice["JobTag"], "02026-11-24T10:00:00.000000Z");
    assert_eq!(notice["Video"]["S3ObjectName"], "clip.mp4");

    let (mut pages, mut entries, mut token) = (0, 0, None);
    loop {
        let out = rek
            .get_label_detection()
            .job_id(&job)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.labels().len() <= 3);
        entries += out.labels().len();
        match out.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(
        entries, 20,
        "10 frames x 2 labels above the default minimum"
    );
    assert_eq!(pages, 7);

    let bad = start("clip.mov", "token-2").await.unwrap().job_id.unwrap();
    let notice = probe.next_message().await;
    assert_eq!(
        (notice["JobId"].as_str(), notice["Status"].as_str()),
        (Some(bad.as_str()), Some("FAILED"))
    );
    let err = start("missing.mp4", "token-3").await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidS3ObjectException"));
}
