//! Changes made in Jira: a site admin's sign-in registers webhooks; a signed delivery makes a change show in
//! the next window at once; unsigned or forged deliveries change nothing. Where deliveries cannot arrive,
//! polling as the site admin does the same, an interval later. A delivery to one node of a deployment shows on
//! every node.

use std::time::{Duration, Instant};

use arbor_server::testing::{self, Browser};
use jira_sim::server::RunningSim;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Calls, sim, spawn_on};

/// Retries `check` for up to ten seconds (well under the 15 s a computed forest is reused for, and the
/// minutes issue data is cached for: only a delivery can make a change show this soon).
async fn within_seconds<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A new structure named `name` holding `issue`, made by `who`.
async fn structure_of(who: &Browser, name: &str, issue: u64) -> u64 {
    let id = who.create(name).await;
    let version = who.version(id).await;
    let (status, body) = who
        .post(
            &format!("/api/v1/structures/{id}/edits"),
            json!({"based_on": version, "edit": {"op": "add", "at": {"under": {"parent": null, "at": "first"}},
                   "rows": [{"depth": 0, "item": {"issue": issue}}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

/// Renames `issue` to "Changed in Jira" through the simulator's admin API, as someone editing it in Jira.
async fn change_in_jira(sim_base: &str, sim_admin: &str, issue: u64) {
    let changed = reqwest::Client::new()
        .put(format!("{sim_base}/_sim/issues/{issue}"))
        .bearer_auth(sim_admin)
        .json(&json!({ "summary": "Changed in Jira" }))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success());
}

/// The site admin's account id and the id of the first issue they may see.
fn admin_and_an_issue(sim: &RunningSim) -> (String, u64) {
    sim.handle().with_site(|site| {
        let admin = site.person_by_name("admin").unwrap();
        let issue = (0..site.issues.len())
            .find(|&i| site.can_browse(admin, u32::try_from(i).unwrap()))
            .unwrap();
        (
            site.person(admin).account_id.to_string(),
            site.issues[issue].id,
        )
    })
}

fn jwt(secret: &str, exp: u64) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(json!({ "exp": exp }).to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test]
async fn a_site_admin_registers_webhooks_and_a_change_in_jira_shows_at_once() {
    let sim = sim(7, |config| {
        // The server's certificate is self-signed.
        config.controls.webhooks.trust_any_certificate = true;
        config.controls.webhooks.backoff_ms = 50;
    })
    .await;
    let (admin_id, issue) = admin_and_an_issue(&sim);
    let sim_base = sim.base_url().to_owned();
    let sim_admin = sim.admin_token().to_owned();
    let app = spawn_on(vec![sim], |config| {
        config.sites[0].admins = vec![admin_id.clone()];
    })
    .await;
    let me = app.sign_in("admin").await;
    let handle = app.sims[0].handle();

    // Registered in the background, as admin, for the app arbor signs in with.
    let token = handle.mint_token("admin", "arbor-test").unwrap();
    let http = reqwest::Client::new();
    let registered = || async {
        let listed: Value = http
            .get(format!("{sim_base}/rest/api/3/webhook"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed["values"].as_array().is_some_and(|v| !v.is_empty())
    };
    within_seconds("the admin's sign-in registers webhooks", registered).await;
    // Done with the admin's credentials, so audited as theirs.
    let audited = || async {
        let tenant = app.store.tenants().await.unwrap()[0].id;
        app.store
            .audit_entries(tenant, 0, 10_000)
            .await
            .unwrap()
            .iter()
            .any(|e| {
                e.entry.action == "jira.webhooks"
                    && e.entry.outcome == arbor_store::audit::Outcome::Ok
                    && e.entry.actor.as_ref().map(arbor_core::ids::ActorId::as_str)
                        == Some(admin_id.as_str())
            })
    };
    within_seconds("the registration is audited as the admin's", audited).await;

    let id = structure_of(&me, "Live", issue).await;
    let title = |window: Value| window["rows"][0]["title"].as_str().unwrap_or("").to_owned();
    assert_ne!(title(me.rows(id, None).await), "Changed in Jira");

    change_in_jira(&sim_base, &sim_admin, issue).await;
    within_seconds("the change shows in the next window", || async {
        title(me.rows(id, None).await) == "Changed in Jira"
    })
    .await;
    let stats = handle.stats();
    assert_eq!(stats["webhooks"]["failures"], 0, "{stats}");

    // Deliveries without Jira's signature are refused and change nothing.
    let tenant = app.tenant_of(&sim_base).await;
    let client = app.client();
    let event = json!({"webhookEvent": "jira:issue_deleted", "timestamp": 1, "issue": {"id": issue.to_string()}});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let deliver = |path: String, authorization: Option<String>| {
        let mut request = client.post(format!("{}{path}", app.base)).json(&event);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        async move { request.send().await.unwrap().status() }
    };
    let path = format!("/jira/webhook/{tenant}");
    for forged in [
        None,
        Some(format!("Bearer {}", jwt("not-the-secret", now + 60))),
        Some(format!("Bearer {}", jwt("simulated", now - 3600))),
        Some("Bearer nonsense".to_owned()),
    ] {
        assert_eq!(
            deliver(path.clone(), forged.clone()).await,
            StatusCode::UNAUTHORIZED,
            "{forged:?}"
        );
    }
    assert_eq!(
        deliver(
            "/jira/webhook/999".into(),
            Some(format!("Bearer {}", jwt("simulated", now + 60)))
        )
        .await,
        StatusCode::NOT_FOUND
    );
    // Signed with the site's client secret: applied.
    assert_eq!(
        deliver(path, Some(format!("Bearer {}", jwt("simulated", now + 60)))).await,
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}

#[tokio::test]
async fn polling_as_the_site_admin_shows_changes_webhooks_cannot_deliver() {
    // The simulator cannot deliver to the server (its certificate is self-signed and not trusted there).
    let sim = sim(7, |_| {}).await;
    let (admin_id, issue) = admin_and_an_issue(&sim);
    let sim_base = sim.base_url().to_owned();
    let sim_admin = sim.admin_token().to_owned();
    let app = spawn_on(vec![sim], |config| {
        config.sites[0].admins = vec![admin_id.clone()];
        config.sites[0].poll = Some(Duration::from_secs(1));
    })
    .await;
    let me = app.sign_in("admin").await;
    let id = structure_of(&me, "Polled", issue).await;
    let title = |window: Value| window["rows"][0]["title"].as_str().unwrap_or("").to_owned();
    assert_ne!(title(me.rows(id, None).await), "Changed in Jira");
    change_in_jira(&sim_base, &sim_admin, issue).await;
    within_seconds("a poll finds the change", || async {
        title(me.rows(id, None).await) == "Changed in Jira"
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_to_one_node_shows_on_every_node() {
    let sim = sim(7, |_| {}).await;
    let (sim_base, sim_admin) = (sim.base_url().to_owned(), sim.admin_token().to_owned());
    let (_, issue) = admin_and_an_issue(&sim);
    let app = spawn_on(vec![sim], |_| {}).await;
    let (node_b, base_b, cert_b) = app.second_node().await;
    let on_a = app.sign_in("admin").await;
    let on_b = testing::sign_in(&base_b, &cert_b, &sim_base, 0, "admin")
        .await
        .unwrap();

    let id = structure_of(&on_a, "Shared", issue).await;
    let title = |window: Value| window["rows"][0]["title"].as_str().unwrap_or("").to_owned();
    // Both nodes have read (and cached) the issue.
    let before = title(on_b.rows(id, None).await);
    assert!(!before.is_empty());
    assert_eq!(title(on_a.rows(id, None).await), before);

    change_in_jira(&sim_base, &sim_admin, issue).await;
    // Nothing told node B yet: it serves what it cached.
    assert_eq!(title(on_b.rows(id, None).await), before);

    // Jira delivers the change to node A only.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tenant = app.tenant_of(&sim_base).await;
    let event = json!({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"id": issue.to_string()},
        "changelog": {"items": [{"field": "summary", "fieldId": "summary"}]}});
    let delivered = app
        .client()
        .post(format!("{}/jira/webhook/{tenant}", app.base))
        .header(
            "authorization",
            format!("Bearer {}", jwt("simulated", now + 60)),
        )
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::NO_CONTENT);
    assert_eq!(title(on_a.rows(id, None).await), "Changed in Jira");
    // Node B follows the deployment's invalidations every second.
    let started = Instant::now();
    while title(on_b.rows(id, None).await) != "Changed in Jira" {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "node B still shows the old summary"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node_b.shutdown().await.unwrap();
    app.stop().await;
}
