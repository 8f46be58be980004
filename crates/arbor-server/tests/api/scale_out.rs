//! Several nodes on one store share Jira's limit state: one node meeting the exhausted hourly quota pauses
//! every node's calls to the site. (Webhook deliveries reaching every node: `webhooks.rs`.)

use std::time::{Duration, Instant};

use arbor_server::state::jira_tenant;
use arbor_server::testing;
use reqwest::StatusCode;

use crate::{Calls, quiet, spawn};

#[tokio::test]
async fn a_quota_pause_met_by_one_node_pauses_every_node() {
    let app = spawn().await;
    let (node_b, base_b, cert_b) = app.second_node().await;
    let sim_base = app.sims[0].base_url().to_owned();
    let on_a = app.sign_in("admin").await;
    let on_b = testing::sign_in(&base_b, &cert_b, &sim_base, 0, "admin")
        .await
        .unwrap();
    let tenant = app.tenant_of(&sim_base).await;
    let limiter_b = node_b.state.jira.limiter_of(&jira_tenant(tenant)).unwrap();
    assert_eq!(limiter_b.paused_until(), None);

    // The site's hourly quota runs out while node A calls Jira.
    let mut controls = quiet();
    controls.quota.hourly_points = 1;
    // Windows are aligned to the epoch, as Jira's hourly one is: an hour's window ends within seconds once
    // an hour, so the test takes one that ends in 2033 and its reset is never near, whenever it runs.
    controls.quota.window_seconds = 1_000_000_000;
    app.sims[0].handle().set_controls(controls);
    let mut refused = None;
    for _ in 0..10 {
        let (status, body) = on_a.get("/api/v1/jira/people?query=a").await;
        if status != StatusCode::OK {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the quota never ran out");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["type"]
            .as_str()
            .map(|t| t.ends_with("jira-rate-limited")),
        Some(true),
        "{body}"
    );

    // Within a second or two node B knows it, from storage, and pauses too.
    let started = Instant::now();
    while limiter_b.paused_until().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "node B did not learn of the quota pause"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recorded = app.store.quota_pause(tenant).await.unwrap().unwrap();
    let until_b = limiter_b.paused_until().unwrap();
    let until_b_ms = until_b
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert_eq!(
        i64::try_from(until_b_ms).unwrap(),
        recorded.as_unix_millis()
    );
    assert!(until_b > std::time::SystemTime::now() + Duration::from_secs(60));

    // Node B's calls are refused at once without reaching Jira.
    let seen = app.sims[0].handle().stats()["total"]["requests"].as_u64();
    let (status, body) = on_b.get("/api/v1/jira/people?query=a").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        app.sims[0].handle().stats()["total"]["requests"].as_u64(),
        seen,
        "node B did not call Jira"
    );
    node_b.shutdown().await.unwrap();
    app.stop().await;
}
