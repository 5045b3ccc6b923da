//! rekognition-local with the real offline model, called by the real
//! `aws-sdk-rekognition` client over HTTP, reading S3 and publishing to SNS
//! in moto: real photos get the labels a person expects, objects get boxes
//! where they are, videos are labelled frame by frame, bad files get
//! Rekognition's errors, and the unchanged object-created handler stores
//! real labels.

use aws_sdk_rekognition::error::ProvideErrorMetadata;
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{
    Image, Label, LabelDetectionSortBy, NotificationChannel, S3Object, Video,
};
use media_query_detector::{Labeler, RunningServer, ServerConfig};
use media_query_lambda::config::Config;
use media_query_lambda::handlers::ingest::{handle_s3_event, Role};
use media_query_lambda::rekognition::Rekognition;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::launch::MotoServer;
use media_query_tests::aws::{self, media, TopicProbe};
use media_query_tests::moto::start_moto;
use media_query_tests::photos;
use serde_json::json;

const BUCKET: &str = "media";

struct Env {
    _moto: MotoServer,
    sdk: aws_config::SdkConfig,
    _server: RunningServer,
    rek: aws_sdk_rekognition::Client,
}

async fn env() -> Env {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_bucket(&sdk, BUCKET).await;
    let server = RunningServer::start(
        ServerConfig {
            labeler: Labeler::load_model(&photos::model_dir()).expect("the model loads"),
            max_page_size: None,
        },
        &sdk,
    )
    .unwrap();
    let rek = aws::rekognition_client(&sdk, &server);
    Env {
        _moto: moto,
        sdk,
        _server: server,
        rek,
    }
}

async fn upload(e: &Env, key: &str, body: Vec<u8>) {
    aws::put_object(&e.sdk, BUCKET, key, body).await
}

fn channel(probe: &TopicProbe) -> NotificationChannel {
    NotificationChannel::builder()
        .sns_topic_arn(&probe.topic_arn)
        .role_arn("arn:aws:iam::123456789012:role/rekognition")
        .build()
        .unwrap()
}

fn s3(key: &str) -> S3Object {
    S3Object::builder().bucket(BUCKET).name(key).build()
}

fn names(labels: &[Label]) -> Vec<&str> {
    labels.iter().filter_map(|l| l.name()).collect()
}

async fn detect(e: &Env, bytes: Vec<u8>, min_confidence: f32) -> Vec<Label> {
    e.rek
        .detect_labels()
        .image(Image::builder().bytes(Blob::new(bytes)).build())
        .min_confidence(min_confidence)
        .send()
        .await
        .unwrap()
        .labels
        .unwrap_or_default()
}

#[tokio::test]
async fn real_photos_get_the_labels_a_person_expects() {
    let e = env().await;
    // (photo, MinConfidence, labels expected, labels that would be wrong)
    let cases: [(&str, f32, &[&str], &[&str]); 6] = [
        (
            "chelsea.png",
            50.0,
            &["Cat", "Domestic Cat", "Pet", "Mammal", "Animal"],
            &["Dog", "Vehicle", "Person"],
        ),
        (
            "coffee.png",
            50.0,
            &["Espresso", "Coffee", "Beverage", "Food"],
            &["Animal", "Cat", "Person"],
        ),
        (
            "motorcycle_left.png",
            50.0,
            &["Moped", "Motorcycle", "Vehicle", "Transportation"],
            &["Animal", "Food", "Person", "Face"],
        ),
        (
            "camera.png",
            50.0,
            &["Tripod", "Person", "Human", "Face", "Man", "Male", "Adult"],
            &["Animal", "Food", "Vehicle", "Woman", "Portrait"],
        ),
        (
            "rocket.jpg",
            30.0,
            &["Missile", "Weapon", "Vehicle"],
            &["Animal", "Food"],
        ),
        (
            "astronaut.png",
            50.0,
            &[
                "Person", "Human", "Face", "Woman", "Female", "Adult", "Portrait",
            ],
            &["Cat", "Dog", "Food", "People", "Man"],
        ),
    ];
    for (photo, min, expected, wrong) in cases {
        let labels = detect(&e, photos::bytes(photo), min).await;
        let got = names(&labels);
        for want in expected {
            assert!(got.contains(want), "{photo}: {want} missing from {got:?}");
        }
        for not in wrong {
            assert!(!got.contains(not), "{photo}: {not} in {got:?}");
        }
        for l in &labels {
            let c = l.confidence().unwrap();
            assert!((min..=100.0).contains(&c), "{photo}: {l:?}");
        }
        let confidences: Vec<f32> = labels.iter().map(|l| l.confidence().unwrap()).collect();
        assert!(
            confidences.windows(2).all(|w| w[0] >= w[1]),
            "{photo}: most confident first: {confidences:?}"
        );
    }
    // Parents, as Rekognition reports them.
    let labels = detect(&e, photos::bytes("chelsea.png"), 50.0).await;
    let cat = labels.iter().find(|l| l.name() == Some("Cat")).unwrap();
    let parents: Vec<&str> = cat.parents().iter().filter_map(|p| p.name()).collect();
    assert!(parents.contains(&"Animal") && parents.contains(&"Mammal"));
    assert!(!parents.contains(&"Cat"));
    // A face has a box, as fractions of the image, in the right place:
    // the astronaut's face is in the upper middle of the photo.
    let people = detect(&e, photos::bytes("astronaut.png"), 50.0).await;
    let face = people.iter().find(|l| l.name() == Some("Face")).unwrap();
    assert_eq!(face.instances().len(), 1, "{face:?}");
    let b = face.instances()[0].bounding_box().unwrap();
    let (left, top, width, height) = (
        b.left().unwrap(),
        b.top().unwrap(),
        b.width().unwrap(),
        b.height().unwrap(),
    );
    assert!(
        (0.2..0.5).contains(&left) && (0.0..0.3).contains(&top),
        "{b:?}"
    );
    assert!(
        (0.1..0.3).contains(&width) && (0.1..0.3).contains(&height),
        "{b:?}"
    );
    let person = people.iter().find(|l| l.name() == Some("Person")).unwrap();
    assert!(person.confidence().unwrap() > 97.0);

    // Only ancestors: the most general label has none.
    let animal = labels.iter().find(|l| l.name() == Some("Animal")).unwrap();
    assert!(animal.parents().is_empty(), "{animal:?}");
}

fn label<'a>(labels: &'a [Label], name: &str) -> &'a Label {
    labels
        .iter()
        .find(|l| l.name() == Some(name))
        .unwrap_or_else(|| panic!("{name} missing from {:?}", names(labels)))
}

/// An instance's (left, top, width, height) and confidence.
fn instance(i: &aws_sdk_rekognition::types::Instance) -> ((f32, f32, f32, f32), f32) {
    let b = i.bounding_box().unwrap();
    (
        (
            b.left().unwrap(),
            b.top().unwrap(),
            b.width().unwrap(),
            b.height().unwrap(),
        ),
        i.confidence().unwrap(),
    )
}

/// Two photos side by side, as one PNG.
fn side_by_side(left: &str, right: &str) -> Vec<u8> {
    let (l, r) = (
        image::load_from_memory(&photos::bytes(left))
            .unwrap()
            .to_rgb8(),
        image::load_from_memory(&photos::bytes(right))
            .unwrap()
            .to_rgb8(),
    );
    let mut both = image::RgbImage::new(l.width() + r.width(), l.height().max(r.height()));
    image::imageops::replace(&mut both, &l, 0, 0);
    image::imageops::replace(&mut both, &r, l.width().into(), 0);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(both)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn objects_get_boxes_as_rekognition_instances() {
    let e = env().await;
    // The astronaut, sitting, fills most of the photo: one person, one box
    // around the face's.
    let labels = detect(&e, photos::bytes("astronaut.png"), 50.0).await;
    let person = label(&labels, "Person");
    assert_eq!(person.instances().len(), 1, "{person:?}");
    let ((left, top, width, height), confidence) = instance(&person.instances()[0]);
    assert!(left < 0.1 && top < 0.1, "{person:?}");
    assert!(
        (0.55..0.8).contains(&width) && (0.85..=1.0).contains(&height),
        "{person:?}"
    );
    assert!((55.0..=100.0).contains(&confidence), "{person:?}");
    let ((face_left, face_top, face_width, _), _) =
        instance(&label(&labels, "Face").instances()[0]);
    assert!(face_left > left && face_left + face_width < left + width && face_top > top);

    // A motorcycle is a vehicle; only the motorcycle has a box, and the
    // garage shelf behind it is not a person.
    let labels = detect(&e, photos::bytes("motorcycle_right.png"), 50.0).await;
    let bike = label(&labels, "Motorcycle");
    let parents: Vec<&str> = bike.parents().iter().filter_map(|p| p.name()).collect();
    assert_eq!(parents, ["Transportation", "Vehicle"], "{bike:?}");
    assert_eq!(bike.instances().len(), 1, "{bike:?}");
    let ((left, top, width, height), confidence) = instance(&bike.instances()[0]);
    assert!(
        (0.0..0.2).contains(&left) && (0.05..0.25).contains(&top),
        "{bike:?}"
    );
    assert!(
        (0.65..0.85).contains(&width) && (0.65..0.9).contains(&height),
        "{bike:?}"
    );
    assert!(confidence >= 55.0, "{bike:?}");
    assert!(label(&labels, "Vehicle").instances().is_empty());
    assert!(!names(&labels).contains(&"Person"), "{:?}", names(&labels));

    // Two photos side by side: a person in each half, letterboxed into
    // the detector's square input and mapped back.
    let labels = detect(&e, side_by_side("astronaut.png", "camera.png"), 25.0).await;
    let person = label(&labels, "Person");
    let mut centres: Vec<f32> = person
        .instances()
        .iter()
        .map(|i| {
            let ((left, top, width, height), _) = instance(i);
            assert!(top < 0.2 && height > 0.8, "{person:?}");
            left + width / 2.0
        })
        .collect();
    centres.sort_by(f32::total_cmp);
    assert_eq!(centres.len(), 2, "{person:?}");
    assert!(centres[0] < 0.5 && centres[1] > 0.5, "{centres:?}");
    label(&labels, "People");
    // A gender is boxed on its own face: the cameraman's on the right;
    // the astronaut, smaller here, is not surely a woman (under 0.9), and
    // is never called a man.
    let man = label(&labels, "Man");
    assert!(man.confidence().unwrap() > 80.0, "{man:?}");
    let parents: Vec<&str> = man.parents().iter().filter_map(|p| p.name()).collect();
    assert_eq!(parents, ["Adult", "Male", "Person"], "{man:?}");
    assert_eq!(man.instances().len(), 1, "{man:?}");
    let ((left, _, width, height), _) = instance(&man.instances()[0]);
    assert!(left + width / 2.0 > 0.5, "{man:?}");
    assert!(height < 0.5, "a face's box, not the person's: {man:?}");
    if let Some(woman) = labels.iter().find(|l| l.name() == Some("Woman")) {
        let ((left, _, width, _), _) = instance(&woman.instances()[0]);
        assert!(left + width / 2.0 < 0.5, "{woman:?}");
    }
}

#[tokio::test]
async fn s3_objects_jpeg_and_png_give_the_same_answer_and_max_labels_keeps_the_best() {
    let e = env().await;
    upload(&e, "cat photo.jpg", photos::jpeg("chelsea.png")).await;
    let out = e
        .rek
        .detect_labels()
        .image(Image::builder().s3_object(s3("cat photo.jpg")).build())
        .max_labels(3)
        .min_confidence(50.0)
        .send()
        .await
        .unwrap();
    let from_s3 = names(out.labels());
    assert_eq!(from_s3.len(), 3);
    let all = detect(&e, photos::bytes("chelsea.png"), 50.0).await;
    assert_eq!(from_s3, names(&all)[..3], "the three most confident");
}

#[tokio::test]
async fn bad_images_get_rekognition_errors_and_the_server_survives() {
    let e = env().await;
    let mut corrupt = photos::jpeg("chelsea.png");
    corrupt.truncate(400);
    let tiny = {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(10, 10))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let bomb = {
        let mut jpeg = photos::jpeg("coffee.png");
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        jpeg
    };
    for (what, bytes, code) in [
        ("truncated JPEG", corrupt, "InvalidImageFormatException"),
        (
            "header only",
            media::JPEG.to_vec(),
            "InvalidImageFormatException",
        ),
        (
            "a GIF",
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            "InvalidImageFormatException",
        ),
        ("10x10 PNG", tiny, "InvalidParameterException"),
        ("60000x60000 JPEG", bomb, "ImageTooLargeException"),
    ] {
        let err = e
            .rek
            .detect_labels()
            .image(Image::builder().bytes(Blob::new(bytes)).build())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code), "{what}: {err:?}");
    }
    // Still serving.
    assert!(!detect(&e, photos::bytes("coffee.png"), 50.0)
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_is_labelled_frame_by_frame_with_timestamps() {
    let e = env().await;
    let probe = TopicProbe::new(&e.sdk, "video-jobs").await;
    // Two seconds of a cat, then two of an espresso.
    upload(
        &e,
        "clip.mp4",
        photos::video(&["chelsea.png", "coffee.png"], 2),
    )
    .await;
    let job_id = e
        .rek
        .start_label_detection()
        .video(Video::builder().s3_object(s3("clip.mp4")).build())
        .min_confidence(50.0)
        .notification_channel(channel(&probe))
        .job_tag("t-1")
        .send()
        .await
        .unwrap()
        .job_id
        .unwrap();
    let notice = probe.next_message().await;
    assert_eq!(notice["JobId"], json!(job_id));
    assert_eq!(notice["Status"], "SUCCEEDED", "{notice}");
    assert_eq!(notice["JobTag"], "t-1");

    // Every page, three labels at a time.
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut token = None;
    let mut duration = 0;
    loop {
        let page = e
            .rek
            .get_label_detection()
            .job_id(&job_id)
            .max_results(3)
            .sort_by(LabelDetectionSortBy::Timestamp)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert_eq!(page.job_status().unwrap().as_str(), "SUCCEEDED");
        duration = page
            .video_metadata()
            .and_then(|m| m.duration_millis())
            .unwrap_or(duration);
        for l in page.labels() {
            seen.push((
                l.timestamp(),
                l.label().unwrap().name().unwrap().to_string(),
            ));
        }
        token = page.next_token.clone();
        if token.is_none() {
            break;
        }
    }
    assert!((3900..=4100).contains(&duration), "duration {duration} ms");
    let at = |ts: i64| -> Vec<&str> {
        seen.iter()
            .filter(|(t, _)| *t == ts)
            .map(|(_, n)| n.as_str())
            .collect()
    };
    for ts in [0, 1000] {
        assert!(at(ts).contains(&"Cat"), "{ts} ms: {:?}", at(ts));
        assert!(!at(ts).contains(&"Espresso"), "{ts} ms: {:?}", at(ts));
    }
    for ts in [2000, 3000] {
        assert!(at(ts).contains(&"Espresso"), "{ts} ms: {:?}", at(ts));
        assert!(!at(ts).contains(&"Cat"), "{ts} ms: {:?}", at(ts));
    }
    assert!(seen.iter().all(|(t, _)| [0, 1000, 2000, 3000].contains(t)));
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "sorted by time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_ffmpeg_cannot_decode_fails_its_job() {
    let e = env().await;
    let probe = TopicProbe::new(&e.sdk, "video-jobs").await;
    // A valid MP4 box header and nothing else.
    upload(&e, "broken.mp4", media::MP4.to_vec()).await;
    let job_id = e
        .rek
        .start_label_detection()
        .video(Video::builder().s3_object(s3("broken.mp4")).build())
        .notification_channel(channel(&probe))
        .send()
        .await
        .unwrap()
        .job_id
        .unwrap();
    let notice = probe.next_message().await;
    assert_eq!(notice["Status"], "FAILED", "{notice}");
    let out = e
        .rek
        .get_label_detection()
        .job_id(&job_id)
        .send()
        .await
        .unwrap();
    assert_eq!(out.job_status().unwrap().as_str(), "FAILED");
    assert!(
        out.status_message()
            .unwrap()
            .starts_with("Unsupported codec/format."),
        "{out:?}"
    );
    assert!(out.labels().is_empty());
}

#[tokio::test]
async fn the_object_created_handler_stores_real_labels_through_the_server() {
    let e = env().await;
    aws::create_media_table(&e.sdk, "media-table").await;
    upload(&e, "my cat.jpg", photos::jpeg("chelsea.png")).await;
    let config = Config::for_table("media-table");
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&e.sdk), "media-table");
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-25T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0",
               "bucket": {"name": BUCKET, "arn": "arn:aws:s3:::media"},
               "object": {"key": "my+cat.jpg", "size": 1000, "eTag": "e", "sequencer": "0A"}}}]});
    let outcome = handle_s3_event(
        Role::Created,
        &config,
        &store,
        &Rekognition::new(e.rek.clone()),
        &event,
    )
    .await
    .unwrap();
    assert_eq!(outcome.applied, 1);
    let stored = store.get("my cat.jpg").await.unwrap().unwrap();
    assert!(stored.is_visible());
    for want in ["Cat", "Pet", "Animal"] {
        assert!(
            stored.labels.iter().any(|l| l == want),
            "{:?}",
            stored.labels
        );
    }
    assert!(!stored.labels.iter().any(|l| l == "Dog"));
    // The handler's own MinConfidence (50) was applied by the server.
    assert!(stored.confidences.values().all(|c| *c >= 50.0));
}
