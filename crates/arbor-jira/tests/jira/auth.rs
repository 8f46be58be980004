//! Sign in with Atlassian against the simulator: the whole 3LO flow, rotation, serialised refreshes and
//! reuse detection.

use std::sync::Arc;

use arbor_jira::auth::{Auth, AuthError, OAuthConfig, SCOPES, SignInState, TokenSet};
use arbor_jira::client::{ApiBase, JiraClient, TenantId, Tenants};
use jira_sim::server::RunningSim;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{config, sim};

fn auth(sim: &RunningSim) -> Auth {
    let oauth = OAuthConfig::at(
        "arbor-app",
        SecretString::from("app-secret"),
        Url::parse("https://arbor.example.invalid/auth/callback").unwrap(),
        sim.base_url(),
        sim.base_url(),
    )
    .unwrap();
    Auth::new(oauth, &config()).unwrap()
}

/// The person `name` signs in: the authorize page, their choice, the redirect back, the code exchange.
async fn sign_in(sim: &RunningSim, auth: &Auth, name: &str) -> TokenSet {
    let (url, state) = auth.authorize_url().unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["scope"], SCOPES);
    assert_eq!(query["state"], state.expose_secret());
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(url.clone()).send().await.unwrap();
    assert!(page.status().is_success());
    let form = [
        ("account", name),
        ("client_id", query["client_id"].as_str()),
        ("redirect_uri", query["redirect_uri"].as_str()),
        ("scope", query["scope"].as_str()),
        ("state", query["state"].as_str()),
    ];
    let chosen = browser
        .post(format!("{}/authorize", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    let location = Url::parse(chosen.headers()["location"].to_str().unwrap()).unwrap();
    let back: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    // A forged state is refused before any call.
    let forged = SignInState::generate().unwrap();
    assert_eq!(
        auth.finish_sign_in(&forged, &back["state"], &back["code"])
            .await
            .unwrap_err(),
        AuthError::StateMismatch
    );
    auth.finish_sign_in(&state, &back["state"], &back["code"])
        .await
        .unwrap()
}

#[tokio::test]
async fn the_whole_sign_in_flow_runs_and_calls_go_through_the_gateway() {
    let sim = sim().await;
    let auth = auth(&sim);
    let tokens = sign_in(&sim, &auth, "dev").await;
    assert!(
        tokens.refresh.is_some(),
        "offline_access gives a refresh token"
    );
    assert!(!format!("{tokens:?}").contains(tokens.access.expose_secret()));
    let sites = auth.accessible_resources(&tokens.access).await.unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].cloud_id, sim.cloud_id());
    let me = auth.me(&tokens.access).await.unwrap();
    let tenants = Tenants::new();
    let jira = JiraClient::new(
        TenantId::new("site"),
        ApiBase::Cloud {
            gateway: Url::parse(sim.base_url()).unwrap(),
            cloud_id: sites[0].cloud_id.clone(),
        },
        &config(),
        &tenants,
    )
    .unwrap();
    let myself = jira.myself(&tokens.access).await.unwrap();
    assert_eq!(myself["accountId"].as_str(), Some(me.account_id.as_str()));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn refresh_tokens_rotate_refreshes_are_serialised_and_reuse_means_sign_in_again() {
    let sim = sim().await;
    let auth = Arc::new(auth(&sim));
    let first = sign_in(&sim, &auth, "admin").await;
    let refresh = first.refresh.clone().unwrap();

    // Five concurrent refreshes with the same token: one rotation, shared by all.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (auth, refresh) = (Arc::clone(&auth), refresh.clone());
            tokio::spawn(async move { auth.refresh("admin", &refresh).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    let second = &results[0];
    assert!(
        results
            .iter()
            .all(|r| r.access.expose_secret() == second.access.expose_secret())
    );
    let rotated = second.refresh.clone().unwrap();
    assert_ne!(rotated.expose_secret(), refresh.expose_secret(), "rotated");
    assert!(
        auth.me(&second.access).await.is_ok(),
        "the family is intact"
    );

    // The rotated token refreshes again.
    let third = auth.refresh("admin", &rotated).await.unwrap();
    let latest = third.refresh.clone().unwrap();

    // Someone presenting an old token (a stolen copy, or arbor without its memory): Jira revokes the family,
    // and arbor says "sign in again".
    let amnesiac = self::auth(&sim);
    assert_eq!(
        amnesiac.refresh("admin", &rotated).await.unwrap_err(),
        AuthError::SignInAgain
    );
    assert_eq!(
        auth.refresh("admin", &latest).await.unwrap_err(),
        AuthError::SignInAgain
    );
    assert_eq!(
        auth.me(&third.access).await.unwrap_err(),
        AuthError::SignInAgain
    );
    sim.shutdown().await.unwrap();
}
