//! Sign-in through the simulator's 3LO, sessions, logout, and tenants kept apart.

use reqwest::StatusCode;
use serde_json::json;

use crate::{App, Calls, spawn, spawn_sites, spawn_with};

/// The status of listing structures from a fresh client presenting only `cookie`.
async fn structures_with_cookie(app: &App, cookie: &str) -> StatusCode {
    app.client()
        .get(format!("{}/api/v1/structures", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signing_in_opens_a_strict_session_and_logout_kills_it() {
    let app = spawn().await;
    let http = app.client();
    let login = http
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    let state_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        state_cookie.contains("SameSite=Lax")
            && state_cookie.contains("Secure")
            && state_cookie.contains("HttpOnly"),
        "{state_cookie}"
    );

    let me = app.sign_in("admin").await;
    let (status, session) = me.get("/api/v1/session").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!session["csrf_token"].as_str().unwrap().is_empty());
    let name = app.sims[0].handle().with_site(|site| {
        let admin = site.person_by_name("admin").unwrap();
        site.person(admin).display_name.to_string()
    });
    assert_eq!(session["display_name"], name.as_str());

    let (status, _) = me.call(reqwest::Method::POST, "/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = me.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(problem["type"], "/problems/sign-in-required");
    app.stop().await;
}

#[tokio::test]
async fn signing_in_again_ends_the_session_the_browser_had() {
    let app = spawn().await;
    let me = app.sign_in("admin").await;
    let old = me.cookies();
    let (status, _) = me.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::OK);
    let login = me.http.get(me.url("/auth/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    // The browser forgets it too.
    assert!(
        login
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("__Host-arbor=;")),
        "{:?}",
        login.headers()
    );
    // The old session's token no longer opens anything, wherever it is presented.
    assert_eq!(
        structures_with_cookie(&app, &old).await,
        StatusCode::UNAUTHORIZED
    );
    // Starting a sign-in without a session is as before.
    let fresh = app
        .client()
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_http_only_and_strict() {
    let app = spawn().await;
    let http = app.client();
    let login = http
        .get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    let authorize = url::Url::parse(login.headers()["location"].to_str().unwrap()).unwrap();
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("account".into(), "dev".into()));
    let chosen = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/authorize", app.sims[0].base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    let callback = url::Url::parse(chosen.headers()["location"].to_str().unwrap()).unwrap();
    let done = http
        .get(format!(
            "{}/auth/callback?{}",
            app.base,
            callback.query().unwrap()
        ))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-arbor="))
        .unwrap();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(!session.contains("Domain"), "{session}");
    app.stop().await;
}

#[tokio::test]
async fn a_callback_with_a_foreign_state_is_refused_and_audited() {
    let app = spawn().await;
    let http = app.client();
    http.get(format!("{}/auth/login", app.base))
        .send()
        .await
        .unwrap();
    let response = http
        .get(format!("{}/auth/callback?code=x&state=forged", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let tenant = app.store.tenants().await.unwrap()[0].id;
    let audit = app.store.audit_entries(tenant, 0, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.entry.action == "signin"
        && e.entry.outcome == arbor_store::audit::Outcome::Failed
        && e.entry.objects == ["state-mismatch"]));
    app.stop().await;
}

#[tokio::test]
async fn a_session_of_one_tenant_is_useless_on_another() {
    let app = spawn_sites(2, |_| {}).await;
    let on_a = app.sign_in_to(0, "admin").await;
    let on_b = app.sign_in_to(1, "admin").await;
    let id = on_a.create("only on site A").await;
    // The same person on site B does not see site A's structure, by id or in the list.
    let (status, _) = on_b.get(&format!("/api/v1/structures/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = on_b.get("/api/v1/structures").await;
    assert_eq!(list, json!([]));
    // Site A's session cookie relabelled with site B's tenant finds no session there.
    let cookie = on_a.cookies();
    let token = cookie
        .split("; ")
        .find_map(|c| c.strip_prefix("__Host-arbor="))
        .and_then(|v| v.split_once('.'))
        .unwrap()
        .1
        .to_owned();
    let tenants = app.store.tenants().await.unwrap();
    let b = tenants[1].id;
    let jar_value = format!("__Host-arbor={b}.{token}");
    assert_eq!(
        structures_with_cookie(&app, &jar_value).await,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test]
async fn expiring_access_tokens_are_refreshed_with_rotation_and_concurrent_requests_share_one_refresh()
 {
    // Tokens that live 30 s are always inside the refresh margin: every use refreshes.
    let app = spawn_with(
        1,
        |sim| sim.token_lifetime = std::time::Duration::from_secs(30),
        |_| {},
    )
    .await;
    let me = app.sign_in("admin").await;
    for _ in 0..3 {
        let (status, body) = me.get("/api/v1/structures").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let requests = (0..6).map(|_| me.get("/api/v1/structures"));
    for (status, body) in futures_util::future::join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The family was never revoked: the person is still signed in to Jira.
    let (status, _) = me.get("/api/v1/structures").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
