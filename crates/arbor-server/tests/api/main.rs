//! arbor-server end to end: the real server on 127.0.0.1 over HTTPS (self-signed), a fresh SQLite store per
//! test, and jira-sim in-process as the Jira site and its sign-in service.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions: a panic is a failed test

mod authz;
mod openapi;
mod security;
mod signin;
mod structures;

use std::sync::Arc;

use arbor_jira::auth::OAuthConfig;
use arbor_jira::client::ApiBase;
use arbor_server::tls::Tls;
use arbor_server::{AppState, Running, ServerConfig, SiteConfig};
use arbor_store::Store;
use arbor_store::crypto::MasterKey;
use jira_sim::server::{self, Controls, DataSource, RunningSim, SimConfig};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

/// A running arbor with its simulator(s) and data directory.
#[allow(missing_debug_implementations)]
pub struct App {
    pub server: Option<Running>,
    pub sims: Vec<RunningSim>,
    pub store: Arc<dyn Store>,
    pub base: String,
    pub cert_pem: String,
    pub data_dir: tempfile::TempDir,
}

pub fn quiet() -> Controls {
    let mut controls = Controls::default();
    controls.quota.hourly_points = 0;
    controls.quota.burst_per_second = 0;
    controls.webhooks.duplicate_probability = 0.0;
    controls
}

pub async fn sim(seed: u64) -> RunningSim {
    let mut config = SimConfig::new(DataSource::Synthetic { issues: 400, seed });
    config.controls = quiet();
    server::start(config).await.unwrap()
}

pub fn site(sim: &RunningSim) -> SiteConfig {
    let base = Url::parse(sim.base_url()).unwrap();
    SiteConfig {
        site_url: base.clone(),
        api: ApiBase::Site(base.clone()),
        oauth: OAuthConfig::at(
            "arbor-test",
            SecretString::from("test-secret"),
            Url::parse("https://127.0.0.1/auth/callback").unwrap(),
            sim.base_url(),
            sim.base_url(),
        )
        .unwrap(),
        story_points_field: "customfield_10016".into(),
        rank_field: "customfield_10019".into(),
    }
}

/// arbor serving `sites` simulators (one tenant each).
pub async fn spawn_sites(sites: usize, tweak: impl FnOnce(&mut ServerConfig)) -> App {
    let mut sims = Vec::new();
    for n in 0..sites {
        sims.push(sim(7 + n as u64).await);
    }
    let data_dir = tempfile::tempdir().unwrap();
    let store = arbor_store::open(
        &arbor_store::Location::Sqlite("arbor.db".into()),
        data_dir.path(),
        MasterKey::generate().unwrap(),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("https://127.0.0.1:{}", addr.port());
    let mut config = ServerConfig::new(Url::parse(&base).unwrap(), sims.iter().map(site).collect());
    tweak(&mut config);
    let state = AppState::new(config, Arc::clone(&store)).await.unwrap();
    let tls = Tls::self_signed(&["127.0.0.1".to_owned()], None).unwrap();
    let cert_pem = tls.self_signed_pem().unwrap().to_owned();
    let server = arbor_server::start(state, listener, &tls).await.unwrap();
    App {
        server: Some(server),
        sims,
        store,
        base,
        cert_pem,
        data_dir,
    }
}

pub async fn spawn() -> App {
    spawn_sites(1, |_| {}).await
}

/// A browser: cookies kept, redirects not followed (the tests follow the sign-in by hand).
#[allow(missing_debug_implementations)]
pub struct Browser {
    pub http: Client,
    pub jar: Arc<Jar>,
    pub base: String,
    pub csrf: String,
    pub account: String,
}

impl App {
    pub fn client(&self) -> Client {
        self.client_with(Arc::new(Jar::default()))
    }

    pub fn client_with(&self, jar: Arc<Jar>) -> Client {
        Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap())
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Signs `person` in through the simulator's 3LO page, as a browser would.
    pub async fn sign_in(&self, person: &str) -> Browser {
        self.sign_in_to(0, person).await
    }

    pub async fn sign_in_to(&self, site: usize, person: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let http = self.client_with(Arc::clone(&jar));
        let login = http
            .get(format!("{}/auth/login?site={site}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::SEE_OTHER, "login redirects");
        let authorize = Url::parse(login.headers()["location"].to_str().unwrap()).unwrap();
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("account".into(), person.into()));
        let sim_http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let chosen = sim_http
            .post(format!("{}/authorize", self.sims[site].base_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(chosen.status().is_redirection(), "{}", chosen.status());
        let callback = Url::parse(chosen.headers()["location"].to_str().unwrap()).unwrap();
        let ours = format!(
            "{}{}?{}",
            self.base,
            callback.path(),
            callback.query().unwrap()
        );
        let done = http.get(ours).send().await.unwrap();
        assert_eq!(
            done.status(),
            StatusCode::OK,
            "{}",
            done.text().await.unwrap()
        );
        let session: Value = http
            .get(format!("{}/api/v1/session", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Browser {
            http,
            jar,
            base: self.base.clone(),
            csrf: session["csrf_token"].as_str().unwrap().to_owned(),
            account: session["account_id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
        for sim in self.sims.drain(..) {
            sim.shutdown().await.unwrap();
        }
    }
}

impl Browser {
    /// The `Cookie` header the browser would send.
    pub fn cookies(&self) -> String {
        let url = Url::parse(&self.base).unwrap();
        self.jar.cookies(&url).unwrap().to_str().unwrap().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Creates a structure and returns its id.
    pub async fn create(&self, name: &str) -> u64 {
        let (status, body) = self
            .post("/api/v1/structures", json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().unwrap()
    }

    pub async fn version(&self, id: u64) -> u64 {
        let (status, body) = self.get(&format!("/api/v1/structures/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["version"].as_u64().unwrap()
    }

    /// Adds a generator at the top and returns the structure's version after it.
    pub async fn add_generator(&self, id: u64, config: Value) -> Value {
        let based_on = self.version(id).await;
        let (status, body) = self
            .post(
                &format!("/api/v1/structures/{id}/generators"),
                json!({ "config": config, "at": {"under": {"parent": null, "at": "last"}}, "based_on": based_on }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Every row, fully expanded.
    pub async fn rows(&self, id: u64, columns: Option<Value>) -> Value {
        let mut body = json!({ "expand": {"depth": 100}, "limit": 2000 });
        if let Some(columns) = columns {
            body["columns"] = columns;
        }
        let (status, window) = self
            .post(&format!("/api/v1/structures/{id}/rows"), body)
            .await;
        assert_eq!(status, StatusCode::OK, "{window}");
        window
    }
}
