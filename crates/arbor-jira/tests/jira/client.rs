//! The client: paging, people, 429 storms, the quota pause, faults and the concurrency limit.

use std::time::{Duration, Instant, SystemTime};

use arbor_core::ids::IssueId;
use arbor_jira::client::{ClientConfig, JiraError, Tenants};
use jira_sim::server::FaultKind;
use jira_sim::server::FaultRule;

use crate::{client, config, person, quiet_controls, sim, sim_requests};

#[tokio::test]
async fn search_pages_follow_tokens_without_repeats() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let jira = client(&sim, &tenants, &config());
    let admin = person(&sim, "admin");
    let all = jira
        .search_ids(&admin.token, "project = CORE", 5000)
        .await
        .unwrap();
    assert!(all.len() > 150, "{}", all.len());
    let before = tenants.metrics.tenant(jira.tenant()).snapshot();
    let paged = jira
        .search_ids(&admin.token, "project = CORE", 100)
        .await
        .unwrap();
    assert_eq!(paged, all, "same ids, same order, no repeats");
    let after = tenants.metrics.tenant(jira.tenant()).snapshot();
    assert_eq!(
        after.requests - before.requests,
        all.len().div_ceil(100) as u64
    );
    assert!(after.points - before.points >= all.len() as u64);
    let count = jira
        .approximate_count(&admin.token, "project = CORE")
        .await
        .unwrap();
    assert_eq!(count, all.len() as u64);
    let unbounded = jira.search_ids(&admin.token, "order by key", 50).await;
    assert!(
        matches!(unbounded, Err(JiraError::BadRequest { .. })),
        "{unbounded:?}"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_people_see_different_issues() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let jira = client(&sim, &tenants, &config());
    let (admin, dev) = (person(&sim, "admin"), person(&sim, "dev"));
    let ops = jira
        .search_ids(&admin.token, "project = OPS", 5000)
        .await
        .unwrap();
    assert!(!ops.is_empty());
    let hidden = jira
        .search_ids(&dev.token, "project = OPS", 5000)
        .await
        .unwrap();
    assert!(hidden.is_empty(), "dev cannot browse OPS");
    let batch: Vec<IssueId> = ops.iter().copied().take(100).collect();
    let fetched = jira
        .bulk_fetch(
            &dev.token,
            &batch,
            &[arbor_core::data::FieldId::new("summary")],
        )
        .await
        .unwrap();
    assert!(fetched.issues.is_empty());
    assert_eq!(fetched.absent, batch);
    let me = jira.myself(&dev.token).await.unwrap();
    assert_eq!(me["accountId"].as_str(), Some(&*dev.account_id));
    for call in [
        jira.fields(&dev.token).await,
        jira.issue_types(&dev.token).await,
        jira.link_types(&dev.token).await,
        jira.statuses(&dev.token).await,
        jira.groups(&dev.token, &dev.account_id).await,
        jira.project_roles(&dev.token, "CORE").await,
        jira.my_permissions(&dev.token, &["BROWSE_PROJECTS"]).await,
        jira.permissions_check(&dev.token, "BROWSE_PROJECTS", &batch)
            .await,
    ] {
        call.unwrap();
    }
    let projects = jira.projects(&dev.token).await.unwrap();
    assert!(projects.iter().all(|p| p["key"] != "OPS"));
    let invalid = arbor_jira::client::AccessToken::new("not-a-token".into());
    assert_eq!(jira.myself(&invalid).await, Err(JiraError::Unauthorized));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_storm_of_429s_is_ridden_out_with_backoff() {
    let sim = sim().await;
    let mut controls = quiet_controls();
    controls.quota.burst_per_second = 3;
    sim.handle().set_controls(controls);
    let tenants = Tenants::new();
    let jira = client(&sim, &tenants, &config());
    let admin = person(&sim, "admin");
    let calls = (0..8).map(|_| jira.myself(&admin.token));
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let counters = tenants.metrics.tenant(jira.tenant()).snapshot();
    assert!(counters.rate_limited >= 1, "{counters:?}");
    assert_eq!(counters.requests, 8 + counters.rate_limited);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_exhausted_quota_pauses_the_tenant_until_the_reset() {
    let sim = sim().await;
    let mut controls = quiet_controls();
    controls.quota.hourly_points = 5;
    // Windows are aligned to the epoch, as Jira's hourly one is: an hour's window ends within seconds once
    // an hour, so the test takes one that ends in 2033 and its reset is never near, whenever it runs.
    controls.quota.window_seconds = 1_000_000_000;
    sim.handle().set_controls(controls);
    let tenants = Tenants::new();
    let jira = client(&sim, &tenants, &config());
    let admin = person(&sim, "admin");
    let mut refused = None;
    for _ in 0..10 {
        if let Err(error) = jira.myself(&admin.token).await {
            refused = Some(error);
            break;
        }
    }
    let Some(JiraError::RateLimited { retry_after }) = refused else {
        panic!("{refused:?}")
    };
    assert!(retry_after > Duration::from_secs(2));
    // Paused: further calls fail at once without reaching Jira.
    let seen = sim_requests(&sim);
    let started = Instant::now();
    let paused = jira.myself(&admin.token).await;
    assert!(
        matches!(paused, Err(JiraError::RateLimited { .. })),
        "{paused:?}"
    );
    assert!(paused.unwrap_err().is_outage());
    assert_eq!(sim_requests(&sim), seen, "no call during the pause");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Another client of the same tenant shares the pause.
    let other = client(&sim, &tenants, &config());
    assert!(other.myself(&admin.token).await.is_err());
    assert_eq!(sim_requests(&sim), seen);

    // Another node learns the pause's end by the wall clock and pauses too, without calling Jira.
    let until = tenants
        .limiter_of(jira.tenant())
        .unwrap()
        .paused_until()
        .unwrap();
    let left = until.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(2) && left <= retry_after + Duration::from_secs(1),
        "{left:?}"
    );
    let node_b = Tenants::new();
    let on_b = client(&sim, &node_b, &config());
    let limiter_b = node_b.limiter_of(on_b.tenant()).unwrap();
    assert_eq!(limiter_b.paused_until(), None);
    // A time already past changes nothing.
    limiter_b.pause_until_wall(SystemTime::now() - Duration::from_secs(5));
    assert_eq!(limiter_b.paused_until(), None);
    limiter_b.pause_until_wall(until);
    assert_eq!(limiter_b.paused_until(), Some(until));
    let refused = on_b.myself(&admin.token).await;
    assert!(
        matches!(refused, Err(JiraError::RateLimited { .. })),
        "{refused:?}"
    );
    assert_eq!(
        sim_requests(&sim),
        seen,
        "no call from the other node either"
    );
    // A shorter pause does not shorten it.
    limiter_b.pause_until_wall(SystemTime::now() + Duration::from_secs(1));
    assert_eq!(limiter_b.paused_until(), Some(until));
    sim.shutdown().await.unwrap();
}

fn fault(endpoint: &str, kind: FaultKind, probability: f64) -> FaultRule {
    FaultRule {
        endpoint: endpoint.into(),
        kind,
        probability,
    }
}

#[tokio::test]
async fn reads_are_retried_on_5xx_drops_and_timeouts_writes_are_not() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let mut short = config();
    short.request_timeout = Duration::from_millis(500);
    let jira = client(&sim, &tenants, &short);
    let admin = person(&sim, "admin");
    let set = |rule: FaultRule| {
        let mut controls = quiet_controls();
        controls.faults = vec![rule];
        sim.handle().set_controls(controls);
    };
    for kind in [
        FaultKind::Status { status: 503 },
        FaultKind::Drop,
        FaultKind::Timeout { ms: 3000 },
    ] {
        set(fault("GET /rest/api/3/myself", kind.clone(), 1.0));
        let before = tenants.metrics.tenant(jira.tenant()).snapshot().requests;
        let outcome = jira.myself(&admin.token).await;
        assert!(
            matches!(outcome, Err(JiraError::Unavailable { .. })),
            "{kind:?}: {outcome:?}"
        );
        let after = tenants.metrics.tenant(jira.tenant()).snapshot().requests;
        assert_eq!(
            after - before,
            5,
            "{kind:?}: the first attempt and 4 retries"
        );
    }
    // A write is tried once.
    set(fault(
        "POST /rest/api/3/webhook",
        FaultKind::Status { status: 503 },
        1.0,
    ));
    let before = tenants.metrics.tenant(jira.tenant()).snapshot().requests;
    let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
    let write = jira
        .register_webhooks(
            &admin.token,
            &url,
            &[(vec!["jira:issue_updated"], "project = CORE")],
        )
        .await;
    assert!(
        matches!(write, Err(JiraError::Unavailable { .. })),
        "{write:?}"
    );
    assert_eq!(
        tenants.metrics.tenant(jira.tenant()).snapshot().requests - before,
        1
    );
    // Intermittent faults are ridden out.
    set(fault(
        "POST /rest/api/3/search*",
        FaultKind::Status { status: 502 },
        0.3,
    ));
    for _ in 0..5 {
        jira.search_ids(&admin.token, "project = CORE", 100)
            .await
            .unwrap();
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_calls_of_a_tenant_are_limited() {
    let sim = sim().await;
    let mut controls = quiet_controls();
    controls.latency_ms = 150;
    sim.handle().set_controls(controls);
    let tenants = Tenants::new();
    let limited = ClientConfig {
        concurrency: 2,
        ..config()
    };
    let jira = client(&sim, &tenants, &limited);
    let admin = person(&sim, "admin");
    let started = Instant::now();
    let calls = (0..6).map(|_| jira.myself(&admin.token));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    // Six calls, two at a time, 150 ms each: at least three rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(440),
        "{:?}",
        started.elapsed()
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn people_groups_and_roles_by_name_as_the_person() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let jira = client(&sim, &tenants, &config());
    let (admin, dev) = (person(&sim, "admin"), person(&sim, "dev"));
    let found = jira.search_users(&dev.token, " devon ", 10).await.unwrap();
    assert_eq!(
        found,
        [arbor_jira::client::JiraUser {
            account_id: dev.account_id.to_string(),
            display_name: "Devon Developer".into(),
            active: true,
        }]
    );
    let many = jira.search_users(&dev.token, "a", 3).await.unwrap();
    assert_eq!(many.len(), 3, "{many:?}");
    // Groups whatever the case of the query.
    let groups = jira.find_groups(&dev.token, "JIRA", 10).await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["jira-administrators", "jira-software-users"]);
    // Bad searches never reach Jira.
    let before = sim_requests(&sim);
    for bad in ["", "   ", &"x".repeat(101)] {
        assert!(matches!(
            jira.search_users(&dev.token, bad, 10).await,
            Err(JiraError::BadRequest { .. })
        ));
        assert!(matches!(
            jira.find_groups(&dev.token, bad, 10).await,
            Err(JiraError::BadRequest { .. })
        ));
    }
    assert_eq!(sim_requests(&sim), before);
    assert_eq!(
        jira.search_users(&dev.token, &"é".repeat(100), 10)
            .await
            .unwrap(),
        []
    );

    // By id, in calls of 50: 120 ids (two real) take three calls.
    let mut ids: Vec<String> = (0..118).map(|n| format!("no-such-account-{n}")).collect();
    ids.insert(7, admin.account_id.to_string());
    ids.insert(90, dev.account_id.to_string());
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let before = sim_requests(&sim);
    let users = jira.users_by_id(&dev.token, &ids).await.unwrap();
    assert_eq!(sim_requests(&sim) - before, 3);
    let names: Vec<&str> = users.iter().map(|u| u.display_name.as_str()).collect();
    assert_eq!(names, ["Ada Admin", "Devon Developer"]);
    let group_ids: Vec<&str> = groups.iter().map(|g| g.group_id.as_str()).collect();
    let by_id = jira
        .groups_by_id(&dev.token, &[group_ids[1], "nope"])
        .await
        .unwrap();
    assert_eq!(by_id, [groups[1].clone()]);

    // Role details: for whoever administers the project only.
    let project: u64 = sim
        .handle()
        .with_site(|s| s.projects[0].id.parse().unwrap());
    let roles = jira
        .project_role_details(&admin.token, project)
        .await
        .unwrap();
    let expected: Vec<(u64, String)> = sim
        .handle()
        .with_site(|s| s.roles.iter().map(|r| (r.id, r.name.clone())).collect());
    assert_eq!(
        roles
            .iter()
            .map(|r| (r.id, r.name.clone()))
            .collect::<Vec<_>>(),
        expected
    );
    assert!(roles.iter().all(|r| !r.description.is_empty()));
    assert_eq!(
        jira.project_role_details(&dev.token, project).await,
        Err(JiraError::NotFound)
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn jira_checks_queries_as_the_person() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let jira = client(&sim, &tenants, &config());
    let (admin, dev) = (person(&sim, "admin"), person(&sim, "dev"));
    let queries = ["project = CORE ORDER BY rank", "project = OPS", "foo = 1"];
    let before = sim_requests(&sim);
    let verdicts = jira.parse_jql(&dev.token, &queries).await.unwrap();
    assert_eq!(sim_requests(&sim) - before, 1, "one call for every query");
    assert_eq!(verdicts.len(), 3);
    assert!(verdicts[0].is_clean(), "{:?}", verdicts[0]);
    // dev may not browse OPS: for them it does not exist.
    assert_eq!(
        verdicts[1].warnings,
        ["The value 'OPS' does not exist for the field 'project'."]
    );
    assert!(verdicts[1].errors.is_empty());
    assert_eq!(
        verdicts[2].errors,
        ["Field 'foo' does not exist or you do not have permission to view it."]
    );
    let for_admin = jira
        .parse_jql(&admin.token, &["project = OPS"])
        .await
        .unwrap();
    assert!(for_admin[0].is_clean(), "{:?}", for_admin[0]);
    // Checked before Jira is asked.
    for bad in [&[][..], &[""][..]] {
        let refused = jira.parse_jql(&dev.token, bad).await;
        assert!(
            matches!(refused, Err(JiraError::BadRequest { .. })),
            "{refused:?}"
        );
    }
    sim.shutdown().await.unwrap();
}
