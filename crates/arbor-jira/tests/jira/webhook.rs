//! Early invalidation: webhook deliveries from the simulator (with retries and duplicates) and polling.

use std::collections::BTreeSet;
use std::time::Duration;

use arbor_core::data::{FieldId, FieldValue, IssueData, Needs};
use arbor_core::ids::IssueId;
use arbor_jira::cache::{CacheConfig, Caches};
use arbor_jira::client::{TenantId, Tenants};
use arbor_jira::loader::{Loader, LoaderConfig};
use arbor_jira::poll::Poller;
use arbor_jira::webhook::{Delivery, Invalidation, WebhookReceiver};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jira_sim::server::RunningSim;
use serde_json::json;

use crate::{client, config, person, quiet_controls, sim};

/// An in-process receiver that applies deliveries for tenant `site-a` and records their outcomes.
async fn receiver(
    receiver: WebhookReceiver,
) -> (url::Url, tokio::sync::mpsc::UnboundedReceiver<Delivery>) {
    let (sender, outcomes) = tokio::sync::mpsc::unbounded_channel();
    async fn hook(
        State((receiver, sender)): State<(
            WebhookReceiver,
            tokio::sync::mpsc::UnboundedSender<Delivery>,
        )>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let id = headers
            .get("x-atlassian-webhook-identifier")
            .and_then(|v| v.to_str().ok());
        match receiver.receive(&TenantId::new("site-a"), id, &body).await {
            Ok(outcome) => {
                let _ = sender.send(outcome);
                StatusCode::OK
            }
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state((receiver, sender));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        url::Url::parse(&format!("http://{addr}/hook")).unwrap(),
        outcomes,
    )
}

async fn edit_summary(sim: &RunningSim, issue: IssueId, summary: &str) {
    let response = reqwest::Client::new()
        .put(format!("{}/_sim/issues/{}", sim.base_url(), issue.get()))
        .bearer_auth(sim.admin_token())
        .json(&json!({ "summary": summary }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn a_webhook_delivery_makes_the_next_load_fetch_only_the_changed_issue() {
    let sim = sim().await;
    let mut controls = quiet_controls();
    controls.webhooks.duplicate_probability = 1.0;
    sim.handle().set_controls(controls);
    let tenants = Tenants::new();
    let caches = Caches::new(CacheConfig::default());
    let loader = Loader::new(
        client(&sim, &tenants, &config()),
        caches.clone(),
        LoaderConfig::default(),
    );
    let admin = person(&sim, "admin");
    let (url, mut outcomes) = receiver(WebhookReceiver::new(caches.clone())).await;
    loader
        .client()
        .register_webhooks(
            &admin.token,
            &url,
            &[(
                vec![
                    "jira:issue_updated",
                    "jira:issue_created",
                    "jira:issue_deleted",
                ],
                "project = CORE",
            )],
        )
        .await
        .unwrap();

    let query = "project = CORE AND issuetype = Story";
    let mut needs = Needs::default();
    needs.jql.insert(query.into());
    let mut data = IssueData::new();
    loader.load(&admin, &needs, &mut data).await.unwrap();
    let ids: BTreeSet<IssueId> = data.jql(query).unwrap().iter().copied().take(120).collect();
    let fetch = Needs {
        issues: ids.clone(),
        fields: [FieldId::new("summary")].into_iter().collect(),
        ..Needs::default()
    };
    loader.load(&admin, &fetch, &mut data).await.unwrap();

    let changed = *ids.iter().next().unwrap();
    edit_summary(&sim, changed, "Renamed by the webhook test").await;
    // The delivery arrives twice (duplicate probability 1): applied once.
    let first = tokio::time::timeout(Duration::from_secs(20), outcomes.recv())
        .await
        .unwrap()
        .unwrap();
    let Delivery::Applied { invalidation } = first else {
        panic!("not applied: {first:?}");
    };
    assert_eq!(invalidation.issues, vec![changed]);
    assert!(!invalidation.all_results);
    assert!(invalidation.fields.contains(&"summary".to_owned()));
    let second = tokio::time::timeout(Duration::from_secs(20), outcomes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second, Delivery::Duplicate);

    let mut again = IssueData::new();
    let r1 = loader.load(&admin, &needs, &mut again).await.unwrap();
    let r2 = loader.load(&admin, &fetch, &mut again).await.unwrap();
    assert_eq!(
        r1.requests + r2.requests,
        1,
        "only the changed issue is fetched"
    );
    assert_eq!(
        again
            .issue(changed)
            .unwrap()
            .field(&FieldId::new("summary")),
        Some(Some(&FieldValue::text("Renamed by the webhook test")))
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn creations_drop_cached_results_and_unknown_events_are_ignored() {
    let caches = Caches::new(CacheConfig::default());
    let receiver = WebhookReceiver::new(caches.clone());
    let tenant = TenantId::new("t");
    let person: std::sync::Arc<str> = "p".into();
    let key = arbor_jira::cache::ResultKey::Jql("project = A".into());
    let one = IssueId::new(1).unwrap();
    caches
        .put_result(&tenant, &person, key.clone(), vec![one], caches.now())
        .await;
    let ignored = receiver
        .receive(&tenant, Some("x-1"), br#"{"webhookEvent":"board_created"}"#)
        .await
        .unwrap();
    assert_eq!(ignored, Delivery::Ignored);
    assert!(caches.result(&tenant, &person, &key).await.is_some());
    let created =
        json!({"webhookEvent": "jira:issue_created", "timestamp": 5, "issue": {"id": "2"}});
    let body = serde_json::to_vec(&created).unwrap();
    // No identifier: the event's own fields stand in for it.
    let applied = receiver.receive(&tenant, None, &body).await.unwrap();
    assert_eq!(
        applied,
        Delivery::Applied {
            invalidation: Invalidation {
                issues: vec![IssueId::new(2).unwrap()],
                fields: Vec::new(),
                all_results: true,
            }
        }
    );
    assert_eq!(
        receiver.receive(&tenant, None, &body).await.unwrap(),
        Delivery::Duplicate
    );
    // A delivery forgotten (its sharing failed and Jira is asked to retry) is applied again.
    receiver.forget(&tenant, None, &body).await;
    assert!(matches!(
        receiver.receive(&tenant, None, &body).await.unwrap(),
        Delivery::Applied { .. }
    ));
    assert!(caches.result(&tenant, &person, &key).await.is_none());
    assert!(receiver.receive(&tenant, None, b"not json").await.is_err());
}

#[tokio::test]
async fn polling_invalidates_recently_updated_issues() {
    let sim = sim().await;
    let tenants = Tenants::new();
    let caches = Caches::new(CacheConfig::default());
    let jira = client(&sim, &tenants, &config());
    let loader = Loader::new(jira.clone(), caches.clone(), LoaderConfig::default());
    let admin = person(&sim, "admin");
    let ids: BTreeSet<IssueId> = jira
        .search_ids(&admin.token, "project = CORE", 5000)
        .await
        .unwrap()
        .into_iter()
        .take(10)
        .collect();
    let fetch = Needs {
        issues: ids.clone(),
        fields: [FieldId::new("summary")].into_iter().collect(),
        ..Needs::default()
    };
    loader
        .load(&admin, &fetch, &mut IssueData::new())
        .await
        .unwrap();
    let changed = *ids.iter().next().unwrap();
    edit_summary(&sim, changed, "Changed for polling").await;
    let poller = Poller::new(jira, caches.clone(), Duration::from_secs(300));
    assert_eq!(poller.query(), "updated >= \"-6m\"");
    let invalidated = poller.poll_once(&admin).await.unwrap();
    assert!(invalidated >= 1);
    assert!(
        caches
            .issue(&TenantId::new("site-a"), changed)
            .await
            .is_none()
    );
    let mut again = IssueData::new();
    let report = loader.load(&admin, &fetch, &mut again).await.unwrap();
    assert_eq!(report.requests, 1);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn webhooks_are_registered_then_refreshed_then_replaced_for_a_new_address() {
    use arbor_jira::webhook::{EVENTS, Registration, keep_registered};
    let sim = sim().await;
    let tenants = Tenants::new();
    let client = client(&sim, &tenants, &config());
    let admin = person(&sim, "admin");
    let projects: BTreeSet<String> = client
        .projects(&admin.token)
        .await
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!projects.is_empty());
    let listed = || async {
        let hooks = client.webhooks(&admin.token).await.unwrap();
        hooks["values"].as_array().unwrap().clone()
    };
    let first = url::Url::parse("https://arbor.example/jira/webhook/1").unwrap();

    let done = keep_registered(&client, &admin.token, &first)
        .await
        .unwrap();
    let wanted = projects.len().div_ceil(50);
    assert_eq!(
        done,
        Registration {
            registered: wanted,
            refreshed: 0,
            removed: 0
        }
    );
    let hooks = listed().await;
    assert_eq!(hooks.len(), wanted);
    // Every project the admin may browse is named by exactly one filter, with every event arbor acts on.
    let mut named = BTreeSet::new();
    for hook in &hooks {
        let filter = hook["jqlFilter"].as_str().unwrap();
        let ids = filter
            .strip_prefix("project in (")
            .and_then(|f| f.strip_suffix(')'))
            .unwrap();
        for id in ids.split(", ") {
            assert!(named.insert(id.to_owned()), "{id} named twice");
        }
        assert_eq!(hook["events"], json!(EVENTS));
    }
    assert_eq!(named, projects);

    // Again: nothing new, every webhook given 30 more days.
    let before: Vec<_> = hooks.iter().map(|h| h["id"].clone()).collect();
    let done = keep_registered(&client, &admin.token, &first)
        .await
        .unwrap();
    assert_eq!(
        done,
        Registration {
            registered: 0,
            refreshed: wanted,
            removed: 0
        }
    );
    let after: Vec<_> = listed().await.iter().map(|h| h["id"].clone()).collect();
    assert_eq!(before, after);

    // arbor's address changed: the old webhooks go, new ones come.
    let moved = url::Url::parse("https://planning.example/jira/webhook/1").unwrap();
    let done = keep_registered(&client, &admin.token, &moved)
        .await
        .unwrap();
    assert_eq!(
        done,
        Registration {
            registered: wanted,
            refreshed: 0,
            removed: wanted
        }
    );
    let hooks = listed().await;
    assert_eq!(hooks.len(), wanted);
    assert!(hooks.iter().all(|h| h["url"] == moved.as_str()));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_invalidation_received_by_one_node_applies_to_another_nodes_caches() {
    // Two nodes: the delivery reaches the first; what it invalidated travels (as JSON, like storage keeps it)
    // to the second, whose caches it drops just as the first's.
    let here = Caches::new(CacheConfig::default());
    let there = Caches::new(CacheConfig::default());
    let receiver = WebhookReceiver::new(here.clone());
    let tenant = TenantId::new("t");
    let person: std::sync::Arc<str> = "p".into();
    let by_status = arbor_jira::cache::ResultKey::Jql("status = Done".into());
    let by_project = arbor_jira::cache::ResultKey::Jql("project = A".into());
    let one = IssueId::new(1).unwrap();
    for caches in [&here, &there] {
        for key in [&by_status, &by_project] {
            caches
                .put_result(&tenant, &person, key.clone(), vec![one], caches.now())
                .await;
        }
    }
    let updated = json!({"webhookEvent": "jira:issue_updated", "timestamp": 9, "issue": {"id": "1"},
        "changelog": {"items": [{"field": "status", "fieldId": "status"}]}});
    let applied = receiver
        .receive(&tenant, Some("x-9"), &serde_json::to_vec(&updated).unwrap())
        .await
        .unwrap();
    let Delivery::Applied { invalidation } = applied else {
        panic!("not applied: {applied:?}");
    };
    assert_eq!(invalidation.fields, vec!["status".to_owned()]);
    let kept: Invalidation =
        serde_json::from_str(&serde_json::to_string(&invalidation).unwrap()).unwrap();
    assert_eq!(kept, invalidation);
    assert!(there.result(&tenant, &person, &by_status).await.is_some());
    kept.apply(&there, &tenant).await;
    // Applying is idempotent: a node may apply its own invalidation again.
    kept.apply(&here, &tenant).await;
    for caches in [&here, &there] {
        assert!(caches.result(&tenant, &person, &by_status).await.is_none());
        assert!(caches.result(&tenant, &person, &by_project).await.is_some());
    }
}

#[test]
fn invalidations_that_name_too_many_fields_drop_every_result() {
    let many = Invalidation {
        issues: vec![IssueId::new(3).unwrap(), IssueId::new(3).unwrap()],
        fields: (0..=Invalidation::MAX_FIELDS)
            .map(|n| format!("customfield_{n}"))
            .collect(),
        all_results: false,
    }
    .bounded();
    assert!(many.all_results);
    assert!(many.fields.is_empty());
    assert_eq!(many.issues, vec![IssueId::new(3).unwrap()]);
}

#[tokio::test]
async fn a_moved_issue_drops_the_ids_cached_by_its_key() {
    let caches = Caches::new(CacheConfig::default());
    let tenant = TenantId::new("t");
    let person: std::sync::Arc<str> = "p".into();
    let key = arbor_jira::cache::ResultKey::Key("A-1".into());
    let one = IssueId::new(1).unwrap();
    caches
        .put_result(&tenant, &person, key.clone(), vec![one], caches.now())
        .await;
    let changed = |fields: &[&str]| Invalidation {
        issues: vec![one],
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        all_results: false,
    };
    changed(&["status"]).apply(&caches, &tenant).await;
    assert!(
        caches.result(&tenant, &person, &key).await.is_some(),
        "a key stays with its issue"
    );
    changed(&["key", "project"]).apply(&caches, &tenant).await;
    assert!(caches.result(&tenant, &person, &key).await.is_none());
}
