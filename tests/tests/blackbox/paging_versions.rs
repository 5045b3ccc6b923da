//! Paging by `Link` while the table changes, as the README promises: the
//! keyset cursor "stays correct while the table changes, across snapshot
//! versions, and on either API".
//!
//! Walks follow `Link` page by page, on the Worker under `wrangler dev`, on
//! the Lambda read API, and alternating between the two (each page asked
//! of the other API with the cursor the previous one issued), for an
//! unfiltered list and a label filter with small limits. Between pages the
//! table changes (items added before, after and right at a walk's cursor,
//! items deleted, the cursor's own item deleted, items relabelled into and
//! out of the filtered run) and the export writer publishes a new version,
//! alternately by its stream path (the delta) and by a rebuild (new shards,
//! old ones collected). A second test makes the snapshot unreadable mid-walk
//! (the pointer deleted) so that pages come from the DynamoDB Scan
//! fallback, then publishes again: cursors cross from the snapshot to the
//! Scan and back.
//!
//! What every walk must show: names strictly increasing across all its
//! pages (nothing twice, nothing out of order), every item that was there,
//! unchanged and matching, for the whole walk seen, and every item served
//! one of the states its name really had, matching the query. Items
//! changed mid-walk may or may not appear.

use media_query_domain::api::item_body;
use media_query_domain::{MediaRecord, MediaType};
use media_query_lambda::handlers::api::ReadApi;
use media_query_lambda::store::DynamoStore;
use media_query_stack::launch::WranglerDev;
use media_query_tests::world::World;
use media_query_tests::wrangler::{start_wrangler_dev, WorkerRequests};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Past the Worker's `SNAPSHOT_TTL_SECONDS` of 1: its next request re-checks
/// the pointer.
const PAST_TTL: Duration = Duration::from_millis(1500);

/// Stems of the names: `nXX-a.jpg` stay for the whole test, `nXX-b.jpg`
/// are there at the start and may be deleted or relabelled, `nXX-c.jpg`
/// and `<name>~` (right after a cursor) are added on the way.
const STEMS: usize = 16;

fn initial_records() -> Vec<MediaRecord> {
    (0..STEMS)
        .flat_map(|i| {
            let a = if i % 2 == 0 {
                vec!["Dog".to_string(), "Animal".to_string()]
            } else {
                vec!["Cat".to_string()]
            };
            let b = if i % 4 != 3 {
                vec!["Dog".to_string()]
            } else {
                vec!["Cat".to_string()]
            };
            [
                MediaRecord::ready(format!("n{i:02}-a.jpg"), MediaType::Image, a),
                MediaRecord::ready(format!("n{i:02}-b.jpg"), MediaType::Image, b),
            ]
        })
        .collect()
}

/// An item as the API serves it.
fn body(r: &MediaRecord) -> Value {
    serde_json::from_str(&item_body(&r.to_media_item())).unwrap()
}

/// The test's own account of the table: what is visible now, every state
/// each name was ever visible in, and the step at which each name first
/// changed.
#[derive(Default)]
struct Model {
    visible: BTreeMap<String, MediaRecord>,
    states: BTreeMap<String, Vec<Value>>,
    changed_at: BTreeMap<String, usize>,
}

impl Model {
    fn seed(records: &[MediaRecord]) -> Model {
        let mut m = Model::default();
        for r in records {
            m.states.entry(r.name.clone()).or_default().push(body(r));
            m.visible.insert(r.name.clone(), r.clone());
        }
        m
    }

    async fn put(&mut self, world: &World, step: usize, r: MediaRecord, changed: &mut Vec<String>) {
        world.write(r.clone()).await;
        self.states
            .entry(r.name.clone())
            .or_default()
            .push(body(&r));
        self.changed_at.entry(r.name.clone()).or_insert(step);
        changed.push(r.name.clone());
        self.visible.insert(r.name.clone(), r);
    }

    async fn delete(&mut self, world: &World, step: usize, name: &str, changed: &mut Vec<String>) {
        if let Some(r) = self.visible.remove(name) {
            world.delete(&r).await;
            self.changed_at.entry(name.to_string()).or_insert(step);
            changed.push(name.to_string());
        }
    }

    /// The names a walk whose last page came at step `finished` must have
    /// seen: there from the start, unchanged until after that page, and
    /// matching its query.
    fn must_see(
        &self,
        initial: &[MediaRecord],
        finished: usize,
        matches: impl Fn(&Value) -> bool,
    ) -> BTreeSet<String> {
        initial
            .iter()
            .filter(|r| self.changed_at.get(&r.name).is_none_or(|s| *s >= finished))
            .filter(|r| matches(&body(r)))
            .map(|r| r.name.clone())
            .collect()
    }
}

/// One round of changes to the table at `step` (after that step's pages):
/// a churn item deleted, another relabelled into or out of the Dog run, a
/// new item somewhere in the runs, and at `cursor` (the last name a walk
/// saw) a new item right after it, and the cursor's own item deleted when
/// it is a churn item. Returns the names that changed (the stream batch).
async fn churn(
    world: &World,
    model: &mut Model,
    step: usize,
    cursor: Option<String>,
) -> Vec<String> {
    let mut changed = Vec::new();
    let gone = format!("n{:02}-b.jpg", (5 * step + 1) % STEMS);
    model.delete(world, step, &gone, &mut changed).await;
    let relabel = format!("n{:02}-b.jpg", (5 * step + 3) % STEMS);
    if let Some(mut r) = model.visible.get(&relabel).cloned() {
        r.labels = if r.labels.iter().any(|l| l == "Dog") {
            vec!["Cat".into()]
        } else {
            vec!["Dog".into(), "Cat".into()]
        };
        model.put(world, step, r, &mut changed).await;
    }
    let added = format!("n{:02}-c.jpg", (7 * step + 2) % STEMS);
    if !model.visible.contains_key(&added) {
        let labels = if step % 2 == 0 { "Dog" } else { "Cat" };
        let r = MediaRecord::ready(added, MediaType::Image, vec![labels.into()]);
        model.put(world, step, r, &mut changed).await;
    }
    if let Some(c) = cursor {
        let next_to_it = MediaRecord::ready(format!("{c}~"), MediaType::Image, vec!["Dog".into()]);
        model.put(world, step, next_to_it, &mut changed).await;
        if c.ends_with("-b.jpg") {
            model.delete(world, step, &c, &mut changed).await;
        }
    }
    changed
}

/// Which API a walk asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Edge,
    Lambda,
    /// The edge for the first page, the Lambda for the second, and so on:
    /// every cursor is followed on the API that did not issue it.
    Alternating,
}

/// An answer to `GET /?<query>`, from either API.
struct Got {
    status: u16,
    source: Option<String>,
    version: Option<String>,
    link: Option<String>,
    retry_after: Option<String>,
    body: String,
}

/// The snapshot version of a snapshot answer: its `ETag` is
/// `"<version>-<hash of the request>"`.
fn snapshot_version(source: Option<&str>, etag: Option<&str>) -> Option<String> {
    if source != Some("snapshot") {
        return None;
    }
    let etag = etag?.trim_start_matches("W/").trim_matches('"');
    etag.split_once('-').map(|(v, _)| v.to_string())
}

async fn fetch(
    edge: &WranglerDev,
    lambda: &ReadApi<'_, DynamoStore>,
    on_edge: bool,
    query: &str,
) -> Got {
    if on_edge {
        let a = edge.get(&format!("/?{query}")).await;
        let h = |n: &str| a.header(n).map(str::to_string);
        Got {
            status: a.status,
            source: h("x-media-source"),
            version: snapshot_version(a.header("x-media-source"), a.header("etag")),
            link: h("link"),
            retry_after: h("retry-after"),
            body: a.body.clone(),
        }
    } else {
        let r = lambda.respond("GET", "/", Some(query), None).await;
        let h = |n: &str| r.header(n).map(str::to_string);
        Got {
            status: r.status,
            source: h("x-media-source"),
            version: snapshot_version(r.header("x-media-source"), r.header("etag")),
            link: h("link"),
            retry_after: h("retry-after"),
            body: r.body.clone(),
        }
    }
}

/// The query of the page a `Link: </?...>; rel="next"` announces.
fn next_query(link: &str) -> String {
    link.strip_prefix("</?")
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("not a next link: {link}"))
        .to_string()
}

/// One page a walk received.
#[derive(Debug)]
struct PageSeen {
    step: usize,
    api: &'static str,
    query: String,
    source: String,
    version: Option<String>,
    names: Vec<String>,
}

/// A client following `Link` from `GET /?<query>` to the last page.
struct Walk {
    api: Api,
    query: &'static str,
    /// The next page's query; `None` once the last page came.
    next: Option<String>,
    pages: Vec<PageSeen>,
    items: Vec<Value>,
    finished_at: Option<usize>,
    /// 503s (a Scan fallback over its rate) waited out and asked again.
    retries: usize,
}

impl Walk {
    fn new(api: Api, query: &'static str) -> Walk {
        Walk {
            api,
            query,
            next: Some(query.to_string()),
            pages: Vec::new(),
            items: Vec::new(),
            finished_at: None,
            retries: 0,
        }
    }

    fn done(&self) -> bool {
        self.next.is_none()
    }

    fn label(&self) -> String {
        format!("{:?} walk of ?{}", self.api, self.query)
    }

    fn last_name(&self) -> Option<String> {
        self.items
            .last()
            .and_then(|i| i["name"].as_str())
            .map(str::to_string)
    }

    fn matches(&self, item: &Value) -> bool {
        !self.query.contains("label=Dog")
            || item["labels"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| l.as_str() == Some("Dog")))
    }

    fn versions(&self) -> BTreeSet<&str> {
        self.pages
            .iter()
            .filter_map(|p| p.version.as_deref())
            .collect()
    }

    /// Asks for the next page, unless the walk is done.
    async fn step(&mut self, step: usize, edge: &WranglerDev, lambda: &ReadApi<'_, DynamoStore>) {
        let Some(query) = self.next.clone() else {
            return;
        };
        let on_edge = match self.api {
            Api::Edge => true,
            Api::Lambda => false,
            Api::Alternating => self.pages.len() % 2 == 0,
        };
        let api = if on_edge { "edge" } else { "lambda" };
        let mut waits = 0;
        let got = loop {
            let got = fetch(edge, lambda, on_edge, &query).await;
            // Scan fallbacks are rate-limited (a 503 with Retry-After): a
            // client waits and asks again.
            if got.status == 503 && got.retry_after.is_some() && waits < 10 {
                waits += 1;
                tokio::time::sleep(Duration::from_millis(1200)).await;
                continue;
            }
            break got;
        };
        self.retries += waits;
        let at = format!(
            "{}, page {} (step {step}, {api}: GET /?{query})",
            self.label(),
            self.pages.len() + 1
        );
        assert_eq!(got.status, 200, "{at}: {}", got.body);
        let items = match serde_json::from_str::<Value>(&got.body) {
            Ok(Value::Array(items)) => items,
            _ => panic!("{at}: not a JSON array: {}", got.body),
        };
        let names = items
            .iter()
            .map(|i| {
                i["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: an item without a name: {i}"))
                    .to_string()
            })
            .collect();
        self.next = got.link.as_deref().map(next_query);
        if self.next.is_none() {
            self.finished_at = Some(step);
        }
        self.pages.push(PageSeen {
            step,
            api,
            query,
            source: got.source.unwrap_or_default(),
            version: got.version,
            names,
        });
        self.items.extend(items);
    }
}

/// Every page of every walk, for failure messages.
fn dump(walks: &[Walk]) -> String {
    let mut out = String::new();
    for w in walks {
        out.push_str(&format!("{} ({} retries):\n", w.label(), w.retries));
        for p in &w.pages {
            out.push_str(&format!(
                "  step {} {} {} {}: {:?}\n",
                p.step,
                p.api,
                p.source,
                p.version.as_deref().unwrap_or("-"),
                p.names
            ));
        }
    }
    out
}

/// What a finished walk must show (see the module's documentation).
fn check(w: &Walk, model: &Model, initial: &[MediaRecord]) -> Vec<String> {
    let who = w.label();
    let mut failures = Vec::new();
    let names: Vec<&str> = w.items.iter().filter_map(|i| i["name"].as_str()).collect();
    for pair in names.windows(2) {
        if pair[0] >= pair[1] {
            failures.push(format!(
                "{who}: {:?} came after {:?}: seen twice or out of order",
                pair[1], pair[0]
            ));
        }
    }
    let seen: BTreeSet<&str> = names.iter().copied().collect();
    let finished = w.finished_at.expect("a finished walk");
    for name in model.must_see(initial, finished, |i| w.matches(i)) {
        if !seen.contains(name.as_str()) {
            failures.push(format!(
                "{who}: {name:?}, there and unchanged for the whole walk, was skipped"
            ));
        }
    }
    for item in &w.items {
        let name = item["name"].as_str().unwrap_or("");
        if !model.states.get(name).is_some_and(|s| s.contains(item)) {
            failures.push(format!("{who}: {item} is no state {name:?} ever had"));
        }
        if !w.matches(item) {
            failures.push(format!("{who}: {item} does not match ?{}", w.query));
        }
    }
    failures
}

/// The walk whose position gets this step's changes at its cursor: each
/// walk in turn, while it goes on.
fn cursor_of(walks: &[Walk], step: usize) -> Option<String> {
    let w = &walks[step % walks.len()];
    w.last_name().filter(|_| !w.done())
}

/// Walks over an unfiltered list and a label filter, on the edge, on the
/// Lambda and alternating between them, while every step changes the table
/// around (and right at) the cursors and publishes a new snapshot version,
/// by the stream path and by rebuilds in turn: each walk sees every item
/// that stayed exactly once, in name order, whatever the versions it
/// crossed; and where the edge and the Lambda answered the same page from
/// the same version, they answered the same items.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_stays_correct_across_snapshot_versions_on_both_apis() {
    /// Steps whose pages are followed by a change and a new version.
    const CHANGING_STEPS: usize = 7;
    let initial = initial_records();
    let world = World::with_records(&initial).await;
    let mut model = Model::seed(&initial);
    let edge = start_wrangler_dev(&world.edge_vars(world.endpoint(), 1));
    // The Lambda read API, re-reading the pointer on every request.
    let lambda = world.read_api(0);
    let queries = ["limit=4", "label=Dog&limit=3"];
    let mut walks = Vec::new();
    for query in queries {
        for api in [Api::Edge, Api::Lambda, Api::Alternating] {
            walks.push(Walk::new(api, query));
        }
    }
    let mut published = BTreeSet::new();
    let mut step = 0;
    while walks.iter().any(|w| !w.done()) {
        assert!(step < 100, "the walks did not end:\n{}", dump(&walks));
        for w in walks.iter_mut() {
            w.step(step, &edge, &lambda).await;
        }
        if step < CHANGING_STEPS {
            let cursor = cursor_of(&walks, step);
            let changed = churn(&world, &mut model, step, cursor).await;
            let version = if step % 2 == 0 {
                world.stream_batch(changed).await.manifest.version
            } else {
                world.rebuild().await
            };
            published.insert(version);
            tokio::time::sleep(PAST_TTL).await;
        }
        step += 1;
    }
    assert_eq!(
        published.len(),
        CHANGING_STEPS,
        "every step published a new version"
    );

    let mut failures = Vec::new();
    for w in &walks {
        failures.extend(check(w, &model, &initial));
        if w.versions().len() < 3 {
            failures.push(format!(
                "{}: only {} snapshot versions seen: the walk did not cross versions",
                w.label(),
                w.versions().len()
            ));
        }
        for p in &w.pages {
            if p.source != "snapshot" {
                failures.push(format!(
                    "{}: the page of step {} came from {:?}, not the snapshot",
                    w.label(),
                    p.step,
                    p.source
                ));
            }
        }
    }
    // Either API: the same request on the same version is the same page.
    for query in queries {
        let of = |api: Api| {
            walks
                .iter()
                .find(|w| w.api == api && w.query == query)
                .unwrap()
        };
        for (e, l) in of(Api::Edge).pages.iter().zip(&of(Api::Lambda).pages) {
            if e.query == l.query
                && e.version.is_some()
                && e.version == l.version
                && e.names != l.names
            {
                failures.push(format!(
                    "?{query} at step {}: the edge answered {:?}, the Lambda {:?}, from the same version",
                    e.step, e.names, l.names
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}\n{}", dump(&walks));
}

/// Walks whose pages come from the snapshot, then from the DynamoDB Scan
/// fallback (the pointer deleted: no snapshot can be read), then from the
/// snapshot again (a rebuild published): the cursor a snapshot page issued
/// goes on correctly on a Scan page, and a Scan page's cursor on a snapshot
/// page, on either API (one walk alternates between them), while the table
/// changes at every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_continues_across_the_scan_fallback_and_back() {
    let initial = initial_records();
    let world = World::with_records(&initial).await;
    let mut model = Model::seed(&initial);
    let edge = start_wrangler_dev(&world.edge_vars(world.endpoint(), 1));
    // The Lambda read API, re-reading the pointer on every request.
    let lambda = world.read_api(0);
    let mut walks = vec![
        Walk::new(Api::Edge, "limit=3"),
        Walk::new(Api::Lambda, "limit=3"),
        Walk::new(Api::Alternating, "limit=3"),
        Walk::new(Api::Edge, "label=Dog&limit=2"),
        Walk::new(Api::Lambda, "label=Dog&limit=2"),
    ];
    // The pages of these steps come from the Scan fallback.
    let fallback_steps = 2..=3;
    let mut step = 0;
    while walks.iter().any(|w| !w.done()) {
        assert!(step < 100, "the walks did not end:\n{}", dump(&walks));
        for w in walks.iter_mut() {
            w.step(step, &edge, &lambda).await;
        }
        let cursor = cursor_of(&walks, step);
        match step {
            0 | 4 => {
                let changed = churn(&world, &mut model, step, cursor).await;
                world.stream_batch(changed).await;
                tokio::time::sleep(PAST_TTL).await;
            }
            1 => {
                // The table changes, and the snapshot becomes unreadable.
                churn(&world, &mut model, step, cursor).await;
                world.delete_pointer().await;
                tokio::time::sleep(PAST_TTL).await;
            }
            2 => {
                // The table changes under the Scan (nothing is published);
                // the pause lets the Scan fallbacks' rate limit refill.
                churn(&world, &mut model, step, cursor).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            3 => {
                // A rebuild publishes a snapshot again.
                churn(&world, &mut model, step, cursor).await;
                world.rebuild().await;
                tokio::time::sleep(PAST_TTL).await;
            }
            _ => {}
        }
        step += 1;
    }

    let mut failures = Vec::new();
    for w in &walks {
        failures.extend(check(w, &model, &initial));
        if w.pages.len() <= *fallback_steps.end() + 1 {
            failures.push(format!(
                "{}: only {} pages: the walk did not come back to the snapshot",
                w.label(),
                w.pages.len()
            ));
        }
        for p in &w.pages {
            let want = if fallback_steps.contains(&p.step) {
                "dynamodb"
            } else {
                "snapshot"
            };
            if p.source != want {
                failures.push(format!(
                    "{}: the page of step {} came from {:?}, not {want}",
                    w.label(),
                    p.step,
                    p.source
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}\n{}", dump(&walks));
}
