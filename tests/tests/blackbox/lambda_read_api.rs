//! The read API handler against DynamoDB in moto: routes, filters, exact
//! error bodies, awkward names, and Scan pagination past 1 MB.

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use media_query_domain::{MediaRecord, MediaType, OrderKey, RecordStatus};
use media_query_lambda::convert::item_to_sdk;
use media_query_lambda::handlers::api::respond;
use media_query_lambda::store::{DynamoStore, MediaStore};
use media_query_stack::launch::MotoServer;
use media_query_tests::aws;
use media_query_tests::moto::start_moto;
use serde_json::{json, Value};

const TABLE: &str = "media";

async fn store_with(records: &[MediaRecord]) -> (MotoServer, DynamoStore, aws_config::SdkConfig) {
    let moto = start_moto();
    let sdk = aws::sdk_config(&moto).await;
    aws::create_media_table(&sdk, TABLE).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), TABLE);
    for r in records {
        store.put_if_newer(r).await.unwrap();
    }
    (moto, store, sdk)
}

fn rec(name: &str, t: MediaType, labels: &[&str]) -> MediaRecord {
    let mut r = MediaRecord::ready(name, t, labels.iter().map(|s| s.to_string()).collect());
    r.event_order = Some(OrderKey::from_sequencer("1").unwrap());
    r
}

fn workshop() -> Vec<MediaRecord> {
    let mut gone = rec("gone.jpg", MediaType::Image, &["Dog"]);
    gone.status = RecordStatus::Deleted;
    vec![
        rec(
            "sample.jpg",
            MediaType::Image,
            &[
                "Animal",
                "Canine",
                "Dog",
                "German Shepherd",
                "Mammal",
                "Pet",
                "Collie",
            ],
        ),
        rec(
            "othersample.jpg",
            MediaType::Image,
            &["Human", "People", "Person", "Phone Booth", "Bus"],
        ),
        rec(
            "sample.mp4",
            MediaType::Video,
            &["Clothing", "Dog", "Husky"],
        ),
        rec("holiday 2024/café.png", MediaType::Image, &["Beach"]),
        gone,
    ]
}

async fn get(store: &DynamoStore, path: &str, query: Option<&str>) -> (u16, Value) {
    let r = respond(store, "GET", path, query).await;
    assert!(r
        .headers
        .contains(&("content-type", "application/json".to_string())));
    (r.status, serde_json::from_str(&r.body).unwrap())
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn list_and_filters_match_the_workshop() {
    let (_moto, store, _) = store_with(&workshop()).await;
    let (s, all) = get(&store, "/", None).await;
    assert_eq!(s, 200);
    assert_eq!(
        names(&all),
        [
            "holiday 2024/café.png",
            "othersample.jpg",
            "sample.jpg",
            "sample.mp4"
        ]
    );
    assert_eq!(
        all[2],
        json!({"name": "sample.jpg", "type": "image", "labels": ["Animal", "Canine", "Dog", "German Shepherd", "Mammal", "Pet", "Collie"]})
    );
    assert_eq!(
        names(&get(&store, "/", Some("label=Dog")).await.1),
        ["sample.jpg", "sample.mp4"]
    );
    assert_eq!(
        names(&get(&store, "/", Some("label=Phone+Booth")).await.1),
        ["othersample.jpg"]
    );
    assert_eq!(
        names(
            &get(&store, "/", Some("label=Person&media-type=video"))
                .await
                .1
        ),
        Vec::<&str>::new()
    );
    assert_eq!(
        names(&get(&store, "/", Some("startswith=sample")).await.1),
        ["sample.jpg", "sample.mp4"]
    );
    assert_eq!(
        names(&get(&store, "/", Some("media-type=video")).await.1),
        ["sample.mp4"]
    );
    assert_eq!(
        names(
            &get(&store, "/", Some("startswith=holiday%202024%2F"))
                .await
                .1
        ),
        ["holiday 2024/café.png"]
    );
}

#[tokio::test]
async fn single_items_and_error_bodies() {
    let (_moto, store, _) = store_with(&workshop()).await;
    assert_eq!(get(&store, "/sample.jpg", None).await.1["type"], "image");
    for path in [
        "/holiday%202024/caf%C3%A9.png",
        "/holiday%202024%2Fcaf%C3%A9.png",
    ] {
        let (s, v) = get(&store, path, None).await;
        assert_eq!(
            (s, v["name"].as_str()),
            (200, Some("holiday 2024/café.png")),
            "{path}"
        );
    }
    let (s, v) = get(&store, "/noexists.jpg", None).await;
    assert_eq!(s, 404);
    assert_eq!(
        v,
        json!({"Code": "NotFoundError", "Message": "NotFoundError: Media file (noexists.jpg) not found"})
    );
    let (s, v) = get(&store, "/gone.jpg", None).await;
    assert_eq!(
        (s, v["Code"].as_str()),
        (404, Some("NotFoundError")),
        "tombstones are not served"
    );
    let (s, v) = get(&store, "/", Some("media-type=audio")).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["Message"],
        "BadRequestError: Invalid media-type 'audio'; expected 'image' or 'video'"
    );
    let (s, _) = get(&store, "/", Some("label=Dog&label=Cat")).await;
    assert_eq!(s, 400);

    let r = respond(&store, "DELETE", "/sample.jpg", None).await;
    assert_eq!(r.status, 405);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| *k == "allow" && v.contains("GET")));
    let head = respond(&store, "HEAD", "/sample.jpg", None).await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(respond(&store, "OPTIONS", "/", None).await.status, 204);
}

#[tokio::test]
async fn list_follows_scan_pages_past_one_megabyte() {
    let (_moto, store, sdk) = store_with(&[]).await;
    // 1,200 items of about 1.2 KB each: about 1.4 MB, more than one Scan page.
    let long_labels: Vec<String> = (0..40)
        .map(|i| format!("Label number {i:02} with some padding"))
        .collect();
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let total = 1200;
    for chunk in (0..total).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|i| {
                let mut r = MediaRecord::ready(
                    format!("img{i:05}.jpg"),
                    MediaType::Image,
                    long_labels.clone(),
                );
                if i % 2 == 0 {
                    r.labels.push("Even".into());
                }
                let put = PutRequest::builder()
                    .set_item(Some(item_to_sdk(&r.to_item())))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        client
            .batch_write_item()
            .request_items(TABLE, writes)
            .send()
            .await
            .unwrap();
    }
    let first_page = client.scan().table_name(TABLE).send().await.unwrap();
    assert!(
        first_page.last_evaluated_key.is_some(),
        "the table must span several Scan pages"
    );
    assert!(first_page.count() < total);

    // Past 1,000 items an answer without `limit` is its first page and a
    // Link; following it gives the rest, all from every Scan page.
    let first = respond(&store, "GET", "/", None).await;
    assert_eq!(first.status, 200);
    let first_items: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(first_items.as_array().unwrap().len(), 1000);
    let link = first.header("link").expect("a Link to the next page");
    let next = link
        .strip_prefix("</?")
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap();
    let second = respond(&store, "GET", "/", Some(next)).await;
    let second_items: Value = serde_json::from_str(&second.body).unwrap();
    assert_eq!(
        second_items.as_array().unwrap().len(),
        total as usize - 1000
    );
    assert_eq!(second.header("link"), None);
    assert_eq!(names(&second_items)[0], "img01000.jpg");
    let (_, even) = get(&store, "/", Some("label=Even")).await;
    assert_eq!(even.as_array().unwrap().len(), total as usize / 2);
}
