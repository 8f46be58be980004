//! Dynamic webhooks: registration, JQL filters, deliveries with retries and duplicates, refresh and expiry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{spawn, synthetic_config};

#[derive(Default)]
struct Inbox {
    /// (identifier, retry, event, issue key)
    received: Vec<(String, String, String, String)>,
    /// Each delivery's `Authorization` header (empty without one).
    authorization: Vec<String>,
    fail_first: usize,
    calls: usize,
}

async fn receiver(inbox: Arc<Mutex<Inbox>>) -> String {
    async fn hook(
        State(inbox): State<Arc<Mutex<Inbox>>>,
        headers: HeaderMap,
        body: axum::Json<Value>,
    ) -> AxumStatus {
        let mut inbox = inbox.lock().unwrap();
        inbox.calls += 1;
        if inbox.calls <= inbox.fail_first {
            return AxumStatus::INTERNAL_SERVER_ERROR;
        }
        let h = |n: &str| {
            headers
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        inbox.authorization.push(h("authorization"));
        inbox.received.push((
            h("x-atlassian-webhook-identifier"),
            h("x-atlassian-webhook-retry"),
            body["webhookEvent"].as_str().unwrap_or("").to_owned(),
            body["issue"]["key"].as_str().unwrap_or("").to_owned(),
        ));
        AxumStatus::OK
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(inbox);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

async fn wait_for(inbox: &Arc<Mutex<Inbox>>, n: usize) {
    for _ in 0..100 {
        if inbox.lock().unwrap().received.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deliveries_retry_duplicate_filter_and_expire() {
    let mut config = synthetic_config();
    config.controls.webhooks.backoff_ms = 20;
    config.controls.webhooks.duplicate_probability = 1.0;
    let t = spawn(config).await;
    let inbox = Arc::new(Mutex::new(Inbox {
        fail_first: 2,
        ..Inbox::default()
    }));
    let url = receiver(Arc::clone(&inbox)).await;
    let dev = t.token_for_app("dev", "app-one").await;
    let reg = t
        .post(&dev, "/rest/api/3/webhook", &json!({"url": url, "webhooks": [
            {"events": ["jira:issue_updated", "jira:issue_created", "jira:issue_deleted"], "jqlFilter": "project in (CORE, OPS)"},
            {"events": ["jira:issue_updated"], "jqlFilter": "nosuchfield = 1"}
        ]}))
        .await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    let results = reg.body["webhookRegistrationResult"].as_array().unwrap();
    let id = results[0]["createdWebhookId"].as_u64().unwrap();
    assert!(results[1]["errors"].is_array());
    let other_url = t.post(&dev, "/rest/api/3/webhook", &json!({"url": "http://127.0.0.1:1/x", "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = CORE"}]})).await;
    assert_eq!(other_url.status, StatusCode::BAD_REQUEST);

    // A matching change: two failures, then delivered; and delivered a second time (duplicate).
    let r = t
        .admin(
            reqwest::Method::PUT,
            "/_sim/issues/CORE-3",
            &json!({"summary": "hooked"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // A change dev may not see (OPS) and one outside the filter (WEB) are not delivered.
    t.admin(
        reqwest::Method::PUT,
        "/_sim/issues/OPS-1",
        &json!({"summary": "secret"}),
    )
    .await;
    t.admin(
        reqwest::Method::PUT,
        "/_sim/issues/WEB-1",
        &json!({"summary": "elsewhere"}),
    )
    .await;
    wait_for(&inbox, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let inbox = inbox.lock().unwrap();
        assert_eq!(inbox.received.len(), 2, "{:?}", inbox.received);
        assert!(
            inbox
                .received
                .iter()
                .all(|r| r.2 == "jira:issue_updated" && r.3 == "CORE-3")
        );
        assert_eq!(
            inbox.received[0].0, inbox.received[1].0,
            "a duplicate has the same identifier"
        );
        assert_eq!(inbox.received[0].1, "2", "delivered on the third attempt");
    }
    let stats = t.sim.handle().stats();
    assert!(stats["webhooks"]["failures"].as_u64().unwrap() >= 2);

    // Deleting an issue dev can see is delivered (twice: duplicates are on), as it was before the deletion.
    let doomed = t.sim.handle().with_site(|s| {
        let dev = s.person_by_name("dev").unwrap();
        (0..s.issues.len() as u32)
            .find(|&i| {
                s.issue(i).key.starts_with("CORE-")
                    && s.issue(i).children.is_empty()
                    && s.can_browse(dev, i)
            })
            .map(|i| s.issue(i).key.to_string())
            .unwrap()
    });
    let r = t
        .admin(
            reqwest::Method::DELETE,
            &format!("/_sim/issues/{doomed}"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    wait_for(&inbox, 4).await;
    {
        let inbox = inbox.lock().unwrap();
        assert_eq!(inbox.received.len(), 4, "{:?}", inbox.received);
        assert!(
            inbox.received[2..]
                .iter()
                .all(|r| r.2 == "jira:issue_deleted" && r.3 == doomed)
        );
    }
    assert_eq!(
        t.get(&dev, &format!("/rest/api/3/issue/{doomed}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let list = t.get(&dev, "/rest/api/3/webhook").await;
    assert_eq!(list.body["values"][0]["id"].as_u64(), Some(id));
    let expiry = list.body["values"][0]["expirationDate"].as_i64().unwrap();
    t.sim
        .handle()
        .advance_clock(Duration::from_secs(10 * 24 * 3600));
    let dev = t.token_for_app("dev", "app-one").await;
    let refreshed = t
        .put(
            &dev,
            "/rest/api/3/webhook/refresh",
            &json!({"webhookIds": [id]}),
        )
        .await;
    assert!(refreshed.body["expirationDate"].as_i64().unwrap() > expiry);
    t.sim
        .handle()
        .advance_clock(Duration::from_secs(31 * 24 * 3600));
    let dev = t.token_for_app("dev", "app-one").await;
    t.admin(
        reqwest::Method::PUT,
        "/_sim/issues/CORE-3",
        &json!({"summary": "expired"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        inbox.lock().unwrap().received.len(),
        4,
        "expired webhooks stop delivering"
    );
    let del = t
        .delete(
            &dev,
            "/rest/api/3/webhook",
            Some(&json!({"webhookIds": [id]})),
        )
        .await;
    assert_eq!(del.status, StatusCode::ACCEPTED);
    let list = t.get(&dev, "/rest/api/3/webhook").await;
    assert_eq!(list.body["total"], 0);
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn link_events_reach_only_people_who_may_see_both_ends() {
    let mut config = synthetic_config();
    config.controls.webhooks.duplicate_probability = 0.0;
    let t = spawn(config).await;
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let url = receiver(Arc::clone(&inbox)).await;
    let dev = t.token_for_app("dev", "app-links").await;
    let reg = t
        .post(
            &dev,
            "/rest/api/3/webhook",
            &json!({"url": url, "webhooks": [
                {"events": ["jira:issue_updated"], "jqlFilter": "project = CORE"}
            ]}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    let visible = t
        .post(
            &dev,
            "/rest/api/3/search/jql",
            &json!({"jql": "project = CORE ORDER BY key", "fields": ["key"], "maxResults": 2}),
        )
        .await;
    let keys: Vec<String> = visible.body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect();
    // A link to an issue dev may not browse (project OPS): the update of the CORE end names OPS-1, so dev
    // gets nothing.
    let hidden = t
        .admin(
            reqwest::Method::POST,
            "/_sim/links",
            &json!({"type": "Blocks", "inward": keys[0], "outward": "OPS-1"}),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::CREATED, "{}", hidden.body);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        inbox.lock().unwrap().received.is_empty(),
        "{:?}",
        inbox.lock().unwrap().received
    );
    // A link between two issues dev may see is delivered, for each end.
    let shown = t
        .admin(
            reqwest::Method::POST,
            "/_sim/links",
            &json!({"type": "Blocks", "inward": keys[0], "outward": keys[1]}),
        )
        .await;
    assert_eq!(shown.status, StatusCode::CREATED, "{}", shown.body);
    wait_for(&inbox, 1).await;
    assert!(!inbox.lock().unwrap().received.is_empty());
}

/// The claims of `jwt` when it is signed with HS256 and `secret`.
fn verified_claims(jwt: &str, secret: &str) -> Option<Value> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let (signed, signature) = jwt.rsplit_once('.')?;
    let (header, claims) = signed.split_once('.')?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header["alg"] != "HS256" {
        return None;
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(signed.as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
        .ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()
}

#[tokio::test]
async fn deliveries_to_an_app_are_signed_with_its_client_secret() {
    let t = spawn(synthetic_config()).await;
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let url = receiver(Arc::clone(&inbox)).await;
    // Signed in through the 3LO flow: the app's client secret is `x`.
    let tokens = t.sign_in("dev", "read:jira-work manage:jira-webhook").await;
    let dev = tokens["access_token"].as_str().unwrap();
    let reg = t
        .post(
            dev,
            "/rest/api/3/webhook",
            &json!({"url": url, "webhooks": [
                {"events": ["jira:issue_updated"], "jqlFilter": "project = CORE"}
            ]}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::OK, "{}", reg.body);
    t.admin(
        reqwest::Method::PUT,
        "/_sim/issues/CORE-3",
        &json!({"summary": "signed"}),
    )
    .await;
    wait_for(&inbox, 1).await;
    let authorization = inbox.lock().unwrap().authorization.clone();
    assert_eq!(authorization.len(), 1, "{authorization:?}");
    let jwt = authorization[0]
        .strip_prefix("Bearer ")
        .expect("a bearer token");
    let claims = verified_claims(jwt, "x").expect("signed with the client secret");
    assert!(verified_claims(jwt, "not-the-secret").is_none());
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 600, "{claims}");
    t.sim.shutdown().await.unwrap();
}
