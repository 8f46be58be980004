//! Changes made in Jira: a site admin's sign-in registers webhooks; a signed delivery makes a change show in
//! the next window at once; unsigned or forged deliveries change nothing. Where deliveries cannot arrive,
//! polling as the site admin does the same, an interval later. A delivery to one node of a deployment shows on
//! every node.

use std::time::{Duration, Instant};

use arbor_server::testing::{self, Browser};
use jira_sim::server::RunningSim;
use reqwest::{Client, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::{App, Calls, sim, spawn_on, spawn_sites};

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
    let changed = Client::new()
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

fn jwt(secret: &str, claims: &Value) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `Bearer` a token as Jira signs one with `secret`: issued now, valid for three minutes, named `jti`.
fn bearer(secret: &str, jti: &str) -> String {
    let now = unix_now();
    format!(
        "Bearer {}",
        jwt(secret, &json!({"iat": now, "exp": now + 180, "jti": jti}))
    )
}

/// The client secret the first site's deliveries are signed with (each simulated site has its own).
fn secret_of(app: &App) -> String {
    app.server.as_ref().unwrap().state.config.sites[0]
        .oauth
        .client_secret
        .expose_secret()
        .to_owned()
}

/// `issue`'s summary changed.
fn summary_changed(issue: u64) -> Value {
    json!({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"id": issue.to_string()},
        "changelog": {"items": [{"field": "summary", "fieldId": "summary"}]}})
}

/// Posts `event` to `url` as a delivery named `identifier` with `authorization`; the status and the body.
async fn deliver(
    client: &Client,
    url: &str,
    identifier: &str,
    authorization: &str,
    event: &Value,
) -> (StatusCode, Value) {
    let answer = client
        .post(url)
        .header("authorization", authorization)
        .header("x-atlassian-webhook-identifier", identifier)
        .json(event)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    if status.is_success() {
        return (status, Value::Null);
    }
    assert_eq!(
        answer.headers()["content-type"],
        "application/problem+json",
        "{status}"
    );
    (status, answer.json().await.unwrap())
}

fn problem_type(body: &Value) -> &str {
    body["type"]
        .as_str()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("")
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
    let http = Client::new();
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
    let now = unix_now();
    let secret = secret_of(&app);
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
        Some(bearer("not-the-secret", "forged")),
        Some(format!(
            "Bearer {}",
            jwt(&secret, &json!({"iat": now - 3700, "exp": now - 3600}))
        )),
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
            Some(bearer(&secret, "elsewhere"))
        )
        .await,
        StatusCode::NOT_FOUND
    );
    // Signed with the site's client secret: applied.
    assert_eq!(
        deliver(path, Some(bearer(&secret, "signed"))).await,
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
    let tenant = app.tenant_of(&sim_base).await;
    let (status, body) = deliver(
        &app.client(),
        &format!("{}/jira/webhook/{tenant}", app.base),
        "delivery-1",
        &bearer(&secret_of(&app), "one"),
        &summary_changed(issue),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
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

#[tokio::test]
async fn a_token_valid_for_longer_than_the_limit_is_refused() {
    let app = spawn_sites(1, |config| {
        config.webhooks.token_lifetime = Duration::from_secs(300);
    })
    .await;
    let url = format!(
        "{}/jira/webhook/{}",
        app.base,
        app.tenant_of(app.sims[0].base_url()).await
    );
    let (secret, client, now) = (secret_of(&app), app.client(), unix_now());
    let event = summary_changed(1);
    let signed = |claims: Value| format!("Bearer {}", jwt(&secret, &claims));
    // The penetration test's token: signed with the right secret, valid until 2100.
    let until_2100 = signed(json!({"iat": now, "exp": 4_102_444_800_u64, "jti": "2100"}));
    let (status, body) = deliver(&client, &url, "d-1", &until_2100, &event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(problem_type(&body), "webhook-unsigned", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("longer"),
        "{body}"
    );
    let longer = signed(json!({"iat": now, "exp": now + 301, "jti": "longer"}));
    let (status, body) = deliver(&client, &url, "d-2", &longer, &event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Without a time of issue its lifetime is unknown.
    let no_iat = signed(json!({"exp": now + 60, "jti": "no-iat"}));
    let (status, body) = deliver(&client, &url, "d-3", &no_iat, &event).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let longest = signed(json!({"iat": now, "exp": now + 300, "jti": "longest"}));
    let (status, body) = deliver(&client, &url, "d-4", &longest, &event).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_token_is_accepted_once_by_every_node_whatever_the_delivery_identifier() {
    let sim = sim(7, |_| {}).await;
    let sim_base = sim.base_url().to_owned();
    let (_, issue) = admin_and_an_issue(&sim);
    let app = spawn_on(vec![sim], |_| {}).await;
    let (node_b, base_b, cert_b) = app.second_node().await;
    let tenant = app.tenant_of(&sim_base).await;
    let on_a = (app.client(), format!("{}/jira/webhook/{tenant}", app.base));
    let on_b = (
        testing::client(
            &cert_b,
            std::sync::Arc::new(reqwest::cookie::Jar::default()),
        )
        .unwrap(),
        format!("{base_b}/jira/webhook/{tenant}"),
    );
    let secret = secret_of(&app);
    let event = summary_changed(issue);
    let send = |node: &(Client, String), identifier: &'static str, authorization: String| {
        let (client, url) = node.clone();
        let event = event.clone();
        async move { deliver(&client, &url, identifier, &authorization, &event).await }
    };

    let token = bearer(&secret, "one");
    let (status, body) = send(&on_a, "delivery-1", token.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // Replayed under new delivery identifiers, to the same node and to another one of the deployment.
    for (node, identifier) in [(&on_a, "delivery-2"), (&on_b, "delivery-3")] {
        let (status, body) = send(node, identifier, token.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{identifier}: {body}");
        assert_eq!(problem_type(&body), "webhook-replayed", "{body}");
    }
    // A token without a `jti` is named by itself.
    let now = unix_now();
    let plain = format!(
        "Bearer {}",
        jwt(&secret, &json!({"iat": now, "exp": now + 180}))
    );
    let (status, body) = send(&on_b, "delivery-4", plain.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = send(&on_a, "delivery-5", plain).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Jira's next delivery, with a token of its own, is taken by either node.
    let (status, body) = send(&on_b, "delivery-6", bearer(&secret, "two")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    node_b.shutdown().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_larger_than_the_limit_is_refused_before_it_is_read() {
    let app = spawn_sites(1, |config| config.webhooks.body_bytes = 4096).await;
    let url = format!(
        "{}/jira/webhook/{}",
        app.base,
        app.tenant_of(app.sims[0].base_url()).await
    );
    let (client, token) = (app.client(), bearer(&secret_of(&app), "large"));
    let mut large = summary_changed(1);
    large["padding"] = json!("x".repeat(8000));
    let (status, body) = deliver(&client, &url, "d-1", &token, &large).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(problem_type(&body), "webhook-too-large", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");
    // Refused before its token was taken: the same token still brings a delivery of an allowed size.
    let (status, body) = deliver(&client, &url, "d-2", &token, &summary_changed(1)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    app.stop().await;
}
