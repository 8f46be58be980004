//! Jira failing, slow or answering oddly while an extender needs children: a window is complete, or says it is
//! not (stale or partial), or is an error; never a silently shorter forest.

use std::time::Duration;

use arbor_jira::client::ApiBase;
use jira_sim::server::{FaultKind, FaultRule};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::{App, Browser, Calls, quiet, spawn_sites};

const EPICS: &str = "issuetype = Epic ORDER BY key";

/// Quick Jira timeouts and retries, and no reuse of computed forests, so that every window loads again.
fn fast(config: &mut arbor_server::ServerConfig) {
    config.forest_reuse = Duration::from_millis(1);
    config.client.request_timeout = Duration::from_millis(500);
    config.client.retry.base_delay = Duration::from_millis(10);
    config.client.retry.max_delay = Duration::from_millis(50);
}

/// A structure of the epics alone, and one of the same epics with their children and grandchildren.
async fn structures(me: &Browser) -> (u64, u64) {
    let epics = me.create("Epics").await;
    me.add_generator(epics, json!({"kind": "insert_jql", "jql": EPICS}))
        .await;
    let tree = me.create("Epics and children").await;
    me.add_generator(tree, json!({"kind": "insert_jql", "jql": EPICS}))
        .await;
    me.add_generator(
        tree,
        json!({"kind": "extend_children", "levels": {"from": 1, "to": 2}}),
    )
    .await;
    (epics, tree)
}

fn fail(app: &App, faults: Vec<FaultRule>) {
    let mut controls = quiet();
    controls.faults = faults;
    app.sims[0].handle().set_controls(controls);
}

fn always(endpoint: &str, kind: FaultKind) -> FaultRule {
    FaultRule {
        endpoint: endpoint.into(),
        kind,
        probability: 1.0,
    }
}

async fn window(me: &Browser, id: u64) -> (StatusCode, Value) {
    me.post(
        &format!("/api/v1/structures/{id}/rows"),
        json!({ "expand": {"depth": 100}, "limit": 2000 }),
    )
    .await
}

/// A window is an error, complete (`complete` rows), or says why it is not: stale data or a stopped generator.
fn assert_complete_or_marked(status: StatusCode, window: &Value, complete: u64) {
    if status != StatusCode::OK {
        return;
    }
    let rows = window["visible_rows"].as_u64().unwrap();
    let marked = window["freshness"]["stale"] == true || !window["stopped_at"].is_null();
    assert!(
        rows == complete || marked,
        "{rows} of {complete} rows and nothing says so: freshness {}, stopped_at {}, hidden {}",
        window["freshness"],
        window["stopped_at"],
        window["hidden"]
    );
}

#[tokio::test]
async fn failing_or_timing_out_child_searches_are_errors_not_shorter_forests() {
    let app = spawn_sites(1, fast).await;
    let me = app.sign_in("admin").await;
    let (epics, tree) = structures(&me).await;
    let alone = me.rows(epics, None).await["visible_rows"].as_u64().unwrap();
    assert!(alone > 0);

    // The epics' query and fields are cached fresh: only the children searches still need Jira.
    for kind in [
        FaultKind::Status { status: 503 },
        FaultKind::Timeout { ms: 2_000 },
        FaultKind::Drop,
    ] {
        fail(
            &app,
            vec![always("POST /rest/api/3/search/jql", kind.clone())],
        );
        let (status, window) = window(&me, tree).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{kind:?}: {window}");
    }

    // Jira answers again: the whole forest.
    app.sims[0].handle().set_controls(quiet());
    let (status, full) = window(&me, tree).await;
    assert_eq!(status, StatusCode::OK, "{full}");
    let complete = full["visible_rows"].as_u64().unwrap();
    assert!(complete > alone, "{complete} vs {alone}");
    assert_eq!(full["freshness"]["stale"], false);

    // Jira up but failing at random, with the caches expiring and refreshed: never a silently short forest.
    let caches = app.server.as_ref().unwrap().state.caches.clone();
    let mut outcomes = std::collections::BTreeMap::new();
    for round in 0..30u64 {
        fail(
            &app,
            vec![
                FaultRule {
                    probability: 0.5,
                    ..always("*", FaultKind::Status { status: 503 })
                },
                FaultRule {
                    probability: 0.1,
                    ..always("*", FaultKind::Timeout { ms: 1_000 })
                },
                FaultRule {
                    probability: 0.1,
                    ..always("*", FaultKind::Drop)
                },
            ],
        );
        if round % 3 == 0 {
            let (status, _) = me
                .post(&format!("/api/v1/structures/{tree}/refresh"), json!({}))
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        if round % 5 == 0 {
            caches.advance_clock(Duration::from_secs(61));
        }
        let path = format!("/api/v1/structures/{tree}/rows");
        let columns = json!([{"kind": "field", "field": "priority"}]);
        let (a, b) = tokio::join!(
            window(&me, tree),
            me.post(
                &path,
                json!({"expand": {"depth": 100}, "limit": 2000, "columns": columns})
            )
        );
        for (status, window) in [a, b] {
            assert_complete_or_marked(status, &window, complete);
            *outcomes
                .entry((status.as_u16(), window["freshness"]["stale"] == true))
                .or_insert(0) += 1;
        }
    }
    eprintln!("(status, stale) → windows: {outcomes:?}");
    app.stop().await;
}

#[tokio::test]
async fn with_jira_down_earlier_children_are_served_marked_stale() {
    let app = spawn_sites(1, fast).await;
    let me = app.sign_in("admin").await;
    let (_, tree) = structures(&me).await;
    let (status, full) = window(&me, tree).await;
    assert_eq!(status, StatusCode::OK, "{full}");
    let complete = full["visible_rows"].as_u64().unwrap();

    // Everything is past its TTL but within max_stale, and Jira's searches and bulk fetches fail.
    let caches = app.server.as_ref().unwrap().state.caches.clone();
    caches.advance_clock(Duration::from_secs(120));
    fail(
        &app,
        [
            "POST /rest/api/3/search/jql",
            "POST /rest/api/3/issue/bulkfetch",
        ]
        .map(|endpoint| always(endpoint, FaultKind::Status { status: 503 }))
        .to_vec(),
    );
    let (status, stale) = window(&me, tree).await;
    assert_eq!(status, StatusCode::OK, "{stale}");
    assert_eq!(stale["visible_rows"].as_u64(), Some(complete), "{stale}");
    assert_eq!(stale["freshness"]["stale"], true, "{}", stale["freshness"]);

    // Past max_stale: an error, not a shorter forest.
    caches.advance_clock(Duration::from_secs(2 * 3600));
    let (status, window) = window(&me, tree).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{window}");
    app.stop().await;
}

/// A Jira in front of the simulator at `target` that answers `parent in (...)` searches with a 200 and an empty
/// body (what a proxy or gateway in a bad moment can send), and forwards everything else.
fn empty_children_searches(target: String) -> Url {
    use axum::body::{Body, to_bytes};
    use axum::extract::{Request, State};
    use axum::response::{IntoResponse, Response};

    async fn forward(State(target): State<String>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let bytes = to_bytes(body, usize::MAX).await.unwrap();
        if parts.uri.path() == "/rest/api/3/search/jql"
            && String::from_utf8_lossy(&bytes).contains("parent in")
        {
            return StatusCode::OK.into_response();
        }
        let url = format!(
            "{target}{}",
            parts.uri.path_and_query().map_or("", |p| p.as_str())
        );
        let mut forwarded = reqwest::Client::new()
            .request(parts.method, url)
            .body(bytes.to_vec());
        for (name, value) in &parts.headers {
            if name != axum::http::header::HOST {
                forwarded = forwarded.header(name, value);
            }
        }
        let answer = forwarded.send().await.unwrap();
        let status = answer.status();
        let mut response = Response::new(Body::from(answer.bytes().await.unwrap()));
        *response.status_mut() = status;
        response
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let app = axum::Router::new().fallback(forward).with_state(target);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Url::parse(&format!("http://{addr}")).unwrap()
}

#[tokio::test]
async fn an_empty_answer_to_the_child_searches_is_not_a_forest_without_children() {
    let app = spawn_sites(1, |config| {
        fast(config);
        let target = config.sites[0]
            .site_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        config.sites[0].api = ApiBase::Site(empty_children_searches(target));
    })
    .await;
    let me = app.sign_in("admin").await;
    let (epics, tree) = structures(&me).await;
    let alone = me.rows(epics, None).await["visible_rows"].as_u64().unwrap();
    assert!(alone > 0);
    // No children list can be read: the window must not be the epics alone, unmarked, as if none had any.
    let (status, window) = window(&me, tree).await;
    let silent = status == StatusCode::OK
        && window["visible_rows"].as_u64() == Some(alone)
        && window["freshness"]["stale"] == false
        && window["stopped_at"].is_null();
    assert!(
        !silent,
        "{status}: the epics alone, and nothing says children are missing: {}",
        {
            let mut head = window.clone();
            head["rows"] = json!("…");
            head
        }
    );
    app.stop().await;
}
