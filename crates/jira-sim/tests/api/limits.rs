//! Points, 429s and recovery, statistics, injected faults and latency.

use std::time::{Duration, Instant};

use jira_sim::server::{FaultKind, FaultRule};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn, spawn_synthetic, synthetic_config};

#[tokio::test]
async fn quota_429_with_headers_then_recovery() {
    let mut config = synthetic_config();
    config.controls.quota.hourly_points = 30;
    config.controls.quota.window_seconds = 2;
    let t = spawn(config).await;
    let token = t.token("admin").await;
    // 1 point for the request + 1 per issue: 10 issues cost 11.
    let search = json!({"jql": "project = CORE", "maxResults": 10});
    let first = t.post(&token, "/rest/api/3/search/jql", &search).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers["x-ratelimit-limit"], "30");
    assert_eq!(first.headers["x-ratelimit-remaining"], "19");
    let mut refused = None;
    for _ in 0..5 {
        let r = t.post(&token, "/rest/api/3/search/jql", &search).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("a 429 once the points are spent");
    assert_eq!(
        refused.headers["ratelimit-reason"],
        "jira-quota-global-based"
    );
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait));
    assert!(refused.headers.contains_key("x-ratelimit-reset"));
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let again = t.post(&token, "/rest/api/3/search/jql", &search).await;
    assert_eq!(again.status, StatusCode::OK);

    let stats = t.sim.handle().stats();
    let endpoint = &stats["endpoints"]["POST /rest/api/3/search/jql"];
    assert!(endpoint["rateLimited"].as_u64().unwrap() >= 1);
    assert!(endpoint["points"].as_u64().unwrap() >= 33);
    let account = t.sim.handle().with_site(|s| {
        s.person(s.person_by_name("admin").unwrap())
            .account_id
            .clone()
    });
    assert!(stats["people"][&account]["requests"].as_u64().unwrap() >= 3);
    assert!(stats["apps"]["test-app"]["points"].as_u64().unwrap() >= 33);
    t.sim.handle().reset_stats();
    assert_eq!(t.sim.handle().stats()["total"]["requests"], 0);
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn burst_and_per_issue_write_limits() {
    let mut config = synthetic_config();
    config.controls.quota.burst_per_second = 3;
    config.controls.quota.issue_writes_per_2s = 2;
    let t = spawn(config).await;
    let token = t.token("admin").await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(t.get(&token, "/rest/api/3/myself").await);
    }
    let limited: Vec<_> = statuses
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(!limited.is_empty());
    assert_eq!(limited[0].headers["ratelimit-reason"], "jira-burst-based");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut write_statuses = Vec::new();
    let mut last = None;
    for n in 0..3 {
        let r = t
            .put(
                &token,
                "/rest/api/3/issue/CORE-1",
                &json!({"fields": {"summary": format!("edit {n}")}}),
            )
            .await;
        write_statuses.push(r.status);
        last = Some(r);
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    assert_eq!(
        write_statuses[..2],
        [StatusCode::NO_CONTENT, StatusCode::NO_CONTENT]
    );
    assert_eq!(write_statuses[2], StatusCode::TOO_MANY_REQUESTS);
    let refused = last.unwrap();
    assert_eq!(
        refused.headers["ratelimit-reason"],
        "jira-per-issue-on-write"
    );
    assert_eq!(refused.headers["retry-after"], "2");
    assert!(refused.headers.contains_key("x-ratelimit-limit"));
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn faults_and_latency() {
    let t = spawn_synthetic().await;
    let token = t.token("dev").await;
    let mut controls = t.sim.handle().controls();
    controls.faults = vec![
        FaultRule {
            endpoint: "GET /rest/api/3/myself".into(),
            kind: FaultKind::Status { status: 503 },
            probability: 1.0,
        },
        FaultRule {
            endpoint: "GET /rest/api/3/field".into(),
            kind: FaultKind::Drop,
            probability: 1.0,
        },
        FaultRule {
            endpoint: "GET /rest/api/3/status".into(),
            kind: FaultKind::Timeout { ms: 2000 },
            probability: 1.0,
        },
    ];
    controls.latency_ms = 150;
    t.sim.handle().set_controls(controls);
    let started = Instant::now();
    let r = t.get(&token, "/rest/api/3/myself").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body["errorMessages"].is_array());
    assert!(started.elapsed() >= Duration::from_millis(150));
    let dropped = t
        .client
        .get(t.url("/rest/api/3/field"))
        .bearer_auth(&token)
        .send()
        .await;
    let failed = match dropped {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "a dropped connection gives no complete response");
    let timed_out = t
        .client
        .get(t.url("/rest/api/3/status"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    // Other endpoints are untouched; the admin API sets controls too.
    let r = t
        .admin(reqwest::Method::PUT, "/_sim/controls", &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        t.get(&token, "/rest/api/3/myself").await.status,
        StatusCode::OK
    );
    t.sim.shutdown().await.unwrap();
}
