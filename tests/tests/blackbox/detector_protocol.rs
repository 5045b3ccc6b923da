//! rekognition-local over real HTTP, called by the real `aws-sdk-rekognition`
//! client, reading S3 and publishing to SNS in moto.

use aws_sdk_rekognition::error::ProvideErrorMetadata;
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{
    DetectLabelsFeatureName, DetectLabelsImagePropertiesSettings, DetectLabelsSettings,
    GeneralLabelsSettings, Image, LabelDetectionAggregateBy, LabelDetectionFeatureName,
    LabelDetectionSettings, LabelDetectionSortBy, NotificationChannel, S3Object, Video,
    VideoJobStatus,
};
use media_query_detector::{Labeler, RunningServer, ServerConfig};
use media_query_domain::labels::DetectedLabel;
use media_query_stack::launch::MotoServer;
use media_query_tests::aws::{self, media, TopicProbe};
use media_query_tests::moto::start_moto;

async fn setup(
    max_page_size: Option<u32>,
) -> (
    MotoServer,
    aws_config::SdkConfig,
    RunningServer,
    aws_sdk_rekognition::Client,
) {
    let moto = start_moto();
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
        let resp = media_query_tests::http_client()
            .post(server.endpoint())
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 400, "{target}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v["__type"].as_str().unwrap().ends_with("Exception"), "{v}");
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

/// A real PNG: navy, with a white rectangle over the middle half of each
/// side (what the server takes as the foreground when nothing is boxed).
fn navy_with_white_centre() -> Vec<u8> {
    let mut img = image::RgbImage::from_pixel(120, 90, image::Rgb([0, 0, 128]));
    for y in 22..68 {
        for x in 30..90 {
            img.put_pixel(x, y, image::Rgb([255, 255, 255]));
        }
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

#[tokio::test]
async fn detect_labels_filters_and_image_properties() {
    let (_moto, _sdk, _server, rek) = setup(None).await;
    let png = navy_with_white_centre();
    let image = || Image::builder().bytes(Blob::new(png.clone())).build();
    let out = rek
        .detect_labels()
        .image(image())
        .features(DetectLabelsFeatureName::GeneralLabels)
        .features(DetectLabelsFeatureName::ImageProperties)
        .settings(
            DetectLabelsSettings::builder()
                .general_labels(
                    GeneralLabelsSettings::builder()
                        .label_category_inclusion_filters("Animals and Pets")
                        .label_exclusion_filters("Animal")
                        .build(),
                )
                .image_properties(
                    DetectLabelsImagePropertiesSettings::builder()
                        .max_dominant_colors(3)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let names: Vec<_> = out.labels().iter().map(|l| l.name().unwrap()).collect();
    assert_eq!(names, ["Dog"]);
    let dog = &out.labels()[0];
    assert_eq!(dog.categories()[0].name(), Some("Animals and Pets"));
    assert!(dog.aliases().is_empty());
    let props = out.image_properties().unwrap();
    let quality = props.quality().unwrap();
    assert!(quality.brightness().unwrap() > 0.0);
    assert!(quality.contrast().unwrap() > 0.0);
    assert!(quality.sharpness().is_some());
    let colors: Vec<_> = props
        .dominant_colors()
        .iter()
        .map(|c| c.css_color().unwrap())
        .collect();
    assert_eq!(colors, ["navy", "white"]);
    let navy = &props.dominant_colors()[0];
    assert_eq!(navy.hex_code(), Some("#000080"));
    assert_eq!(navy.simplified_color(), Some("blue"));
    assert_eq!(
        (navy.red(), navy.green(), navy.blue()),
        (Some(0), Some(0), Some(128))
    );
    let first = |colors: &[aws_sdk_rekognition::types::DominantColor]| {
        colors[0].css_color().unwrap().to_string()
    };
    assert_eq!(
        first(props.foreground().unwrap().dominant_colors()),
        "white"
    );
    assert_eq!(first(props.background().unwrap().dominant_colors()), "navy");

    // Without IMAGE_PROPERTIES, none; with it, the image must decode.
    let out = rek.detect_labels().image(image()).send().await.unwrap();
    assert!(out.image_properties().is_none());
    assert_eq!(
        out.labels()[0].categories()[0].name(),
        Some("Animals and Pets")
    );
    let err = rek
        .detect_labels()
        .image(Image::builder().bytes(Blob::new(media::JPEG)).build())
        .features(DetectLabelsFeatureName::ImageProperties)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidImageFormatException"));

    let err = rek
        .detect_labels()
        .image(image())
        .features(DetectLabelsFeatureName::from("FACES"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    let err = rek
        .detect_labels()
        .image(image())
        .settings(
            DetectLabelsSettings::builder()
                .image_properties(
                    DetectLabelsImagePropertiesSettings::builder()
                        .max_dominant_colors(21)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
}

#[tokio::test]
async fn video_labels_are_filtered_sorted_and_aggregated_into_segments() {
    let (_moto, _sdk, _server, rek) = setup(None).await;
    let job = rek
        .start_label_detection()
        .video(Video::builder().s3_object(s3("clip.mp4")).build())
        .features(LabelDetectionFeatureName::GeneralLabels)
        .settings(
            LabelDetectionSettings::builder()
                .general_labels(
                    GeneralLabelsSettings::builder()
                        .label_exclusion_filters("Animal")
                        .build(),
                )
                .build(),
        )
        .job_tag("segments")
        .send()
        .await
        .unwrap()
        .job_id
        .unwrap();
    let mut polls = 0;
    let out = loop {
        polls += 1;
        assert!(polls < 600, "the job did not finish in 30 s");
        let out = rek
            .get_label_detection()
            .job_id(&job)
            .aggregate_by(LabelDetectionAggregateBy::Segments)
            .send()
            .await
            .unwrap();
        if out.job_status() != Some(&VideoJobStatus::InProgress) {
            break out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(out.job_status(), Some(&VideoJobStatus::Succeeded));
    assert_eq!(out.job_id(), Some(job.as_str()));
    assert_eq!(out.job_tag(), Some("segments"));
    let meta = out.get_request_metadata().unwrap();
    assert_eq!(
        meta.aggregate_by(),
        Some(&LabelDetectionAggregateBy::Segments)
    );
    assert_eq!(meta.sort_by(), Some(&LabelDetectionSortBy::Timestamp));
    // "Dog" in all ten canned frames ("Animal" filtered out, "Faint" under
    // the default minimum): one segment over the whole video, no boxes.
    let segments: Vec<_> = out
        .labels()
        .iter()
        .map(|d| {
            (
                d.label().unwrap().name().unwrap(),
                d.timestamp(),
                d.start_timestamp_millis(),
                d.end_timestamp_millis(),
                d.duration_millis(),
            )
        })
        .collect();
    assert_eq!(segments, [("Dog", 0, Some(0), Some(10_000), Some(10_000))]);
    let video = out.video_metadata().unwrap();
    assert_eq!(video.duration_millis(), Some(10_000));
    assert_eq!(video.format(), Some("MP4"));
    assert_eq!(video.codec(), Some("h264"));

    let by_name = rek
        .get_label_detection()
        .job_id(&job)
        .sort_by(LabelDetectionSortBy::Name)
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.labels().len(), 10);
    assert!(by_name
        .labels()
        .iter()
        .all(|d| d.label().unwrap().name() == Some("Dog")));
    assert!(by_name
        .labels()
        .iter()
        .all(|d| d.start_timestamp_millis().is_none()));

    let err = rek
        .get_label_detection()
        .job_id(&job)
        .sort_by(LabelDetectionSortBy::from("SIZE"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    let err = rek
        .start_label_detection()
        .video(Video::builder().s3_object(s3("clip.mp4")).build())
        .features(LabelDetectionFeatureName::from("IMAGE_PROPERTIES"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    let err = rek
        .start_label_detection()
        .video(Video::builder().s3_object(s3("clip.mp4")).build())
        .min_confidence(101.0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
}
