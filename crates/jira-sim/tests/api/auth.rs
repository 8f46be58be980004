//! OAuth 2.0 (3LO): the sign-in page, codes, refresh-token rotation and reuse detection, expiry, cloud ids.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_synthetic;

#[tokio::test]
async fn three_legged_flow_rotation_and_reuse_detection() {
    let t = spawn_synthetic().await;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirect
        .get(t.url("/authorize?audience=api.atlassian.com&client_id=arbor&scope=read%3Ajira-work%20read%3Ajira-user%20offline_access&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcb&state=xyz&response_type=code&prompt=consent"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Devon Developer") && html.contains("name=\"state\" value=\"xyz\""));

    let chosen = no_redirect
        .post(t.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_id=arbor&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcb&scope=read%3Ajira-work+read%3Ajira-user+offline_access&state=xyz&account=dev")
        .send()
        .await
        .unwrap();
    assert!(chosen.status().is_redirection());
    let location = url::Url::parse(chosen.headers()["location"].to_str().unwrap()).unwrap();
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "xyz");
    let code = params["code"].clone();

    let token = |body: Value| {
        let c = t.client.clone();
        let url = t.url("/oauth/token");
        async move {
            let r = c.post(url).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = token(
        json!({"grant_type": "authorization_code", "client_id": "arbor", "client_secret": "s",
        "code": code, "redirect_uri": "http://localhost:1/cb"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["expires_in"], 3600);
    // A code is single-use.
    let (status, _) = token(
        json!({"grant_type": "authorization_code", "client_id": "arbor", "client_secret": "s",
        "code": params["code"], "redirect_uri": "http://localhost:1/cb"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let access = first["access_token"].as_str().unwrap();
    let me = t.get(access, "/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["nickname"], "dev");
    let resources = t.get(access, "/oauth/token/accessible-resources").await;
    let cloud = resources.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(cloud, t.sim.cloud_id());
    assert_eq!(resources.body[0]["url"], t.sim.base_url());
    let myself = t
        .get(access, &format!("/ex/jira/{cloud}/rest/api/3/myself"))
        .await;
    assert_eq!(myself.status, StatusCode::OK);
    assert_eq!(myself.body["displayName"], "Devon Developer");
    let wrong = t
        .get(
            access,
            "/ex/jira/00000000-0000-4000-8000-000000000000/rest/api/3/myself",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);

    // Rotation: each refresh gives a new refresh token.
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = token(json!({"grant_type": "refresh_token", "client_id": "arbor", "client_secret": "s", "refresh_token": r1})).await;
    assert_eq!(status, StatusCode::OK);
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        t.get(&access2, "/rest/api/3/myself").await.status,
        StatusCode::OK
    );
    // Reusing the rotated token revokes the family: r2 and its access token die too.
    let (status, _) = token(json!({"grant_type": "refresh_token", "client_id": "arbor", "client_secret": "s", "refresh_token": r1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = token(json!({"grant_type": "refresh_token", "client_id": "arbor", "client_secret": "s", "refresh_token": r2})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.get(&access2, "/rest/api/3/myself").await.status,
        StatusCode::UNAUTHORIZED
    );
    t.sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn tokens_expire_and_admin_api_needs_the_admin_token() {
    let t = spawn_synthetic().await;
    let token = t.token("admin").await;
    assert_eq!(
        t.get(&token, "/rest/api/3/myself").await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.get("nonsense", "/rest/api/3/myself").await.status,
        StatusCode::UNAUTHORIZED
    );
    t.sim.handle().advance_clock(Duration::from_secs(3601));
    assert_eq!(
        t.get(&token, "/rest/api/3/myself").await.status,
        StatusCode::UNAUTHORIZED
    );

    let r = t
        .send(t.client.get(t.url("/_sim/stats")).bearer_auth(&token))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t
        .send(
            t.client
                .get(t.url("/_sim/stats"))
                .basic_auth("admin", Some(t.sim.admin_token())),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .admin(
            reqwest::Method::POST,
            "/_sim/token",
            &json!({"name": "nobody-here"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    t.sim.shutdown().await.unwrap();
}

/// The whole 3LO dance for `who`, returning the token response.
async fn sign_in(t: &crate::helpers::TestSim, who: &str) -> Value {
    t.sign_in(who, "read:jira-work offline_access").await
}

#[tokio::test]
async fn refresh_tokens_lapse_after_90_days_and_scopes_are_enforced() {
    let t = spawn_synthetic().await;
    let tokens = sign_in(&t, "admin").await;
    let access = tokens["access_token"].as_str().unwrap();
    // Granted read:jira-work only: reading issues works, people and webhooks do not.
    assert_eq!(
        t.get(access, "/rest/api/3/issue/CORE-1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.get(access, "/rest/api/3/myself").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.get(access, "/rest/api/3/webhook").await.status,
        StatusCode::FORBIDDEN
    );
    let refresh = |token: String| {
        let c = t.client.clone();
        let url = t.url("/oauth/token");
        async move {
            c.post(url)
                .json(&json!({"grant_type": "refresh_token", "client_id": "app", "client_secret": "x", "refresh_token": token}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    t.sim
        .handle()
        .advance_clock(Duration::from_secs(91 * 24 * 3600));
    let status = refresh(tokens["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    t.sim.shutdown().await.unwrap();
}
