//! arbor-server end to end: the real server on 127.0.0.1 over HTTPS (self-signed), a fresh SQLite store per
//! test, and jira-sim in-process as the Jira site and its sign-in service.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions: a panic is a failed test

mod assist;
mod authz;
mod connections;
mod directory;
mod generator_privacy;
mod hidden_rows;
mod history;
mod limits;
mod openapi;
mod outage;
mod scale_out;
mod security;
mod signin;
mod structures;
mod undo;
mod views;
mod webhooks;

use std::sync::Arc;

use arbor_server::testing::{self, Browser};
use arbor_server::tls::Tls;
use arbor_server::{AppState, Running, ServerConfig, SiteConfig};
use arbor_store::Store;
use arbor_store::crypto::MasterKey;
use jira_sim::server::{self, Controls, DataSource, RunningSim, SimConfig};
use reqwest::cookie::Jar;
use reqwest::{Client, StatusCode};
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
    master: MasterKey,
}

pub fn quiet() -> Controls {
    let mut controls = Controls::default();
    controls.quota.hourly_points = 0;
    controls.quota.burst_per_second = 0;
    controls.webhooks.duplicate_probability = 0.0;
    controls
}

pub async fn sim(seed: u64, tweak: fn(&mut SimConfig)) -> RunningSim {
    let mut config = SimConfig::new(DataSource::Synthetic { issues: 400, seed });
    config.controls = quiet();
    tweak(&mut config);
    server::start(config).await.unwrap()
}

pub fn site(sim: &RunningSim) -> SiteConfig {
    // The callback is replaced by the server with its own.
    let callback = Url::parse("https://127.0.0.1/auth/callback").unwrap();
    SiteConfig::simulated(sim.base_url(), callback, "arbor-test").unwrap()
}

/// arbor serving `sites` simulators (one tenant each).
pub async fn spawn_sites(sites: usize, tweak: impl FnOnce(&mut ServerConfig)) -> App {
    spawn_with(sites, |_| {}, tweak).await
}

/// arbor serving `sites` simulators configured by `sim_tweak`.
pub async fn spawn_with(
    sites: usize,
    sim_tweak: fn(&mut SimConfig),
    tweak: impl FnOnce(&mut ServerConfig),
) -> App {
    let mut sims = Vec::new();
    for n in 0..sites {
        sims.push(sim(7 + n as u64, sim_tweak).await);
    }
    spawn_on(sims, tweak).await
}

/// arbor serving these simulators (one tenant each).
pub async fn spawn_on(sims: Vec<RunningSim>, tweak: impl FnOnce(&mut ServerConfig)) -> App {
    let data_dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let store = arbor_store::open(
        &arbor_store::Location::Sqlite("arbor.db".into()),
        data_dir.path(),
        master.clone(),
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
        master,
    }
}

pub async fn spawn() -> App {
    spawn_sites(1, |_| {}).await
}

impl App {
    pub fn client(&self) -> Client {
        testing::client(&self.cert_pem, Arc::new(Jar::default())).unwrap()
    }

    /// The tenant storage keeps for the simulated site at `sim_base`.
    pub async fn tenant_of(&self, sim_base: &str) -> arbor_store::model::TenantId {
        self.store
            .tenant_by_site(sim_base.trim_end_matches('/'))
            .await
            .unwrap()
            .unwrap()
            .id
    }

    /// Signs `person` in through the simulator's 3LO page, as a browser would.
    pub async fn sign_in(&self, person: &str) -> Browser {
        self.sign_in_to(0, person).await
    }

    pub async fn sign_in_to(&self, site: usize, person: &str) -> Browser {
        testing::sign_in(
            &self.base,
            &self.cert_pem,
            self.sims[site].base_url(),
            site,
            person,
        )
        .await
        .unwrap()
    }

    /// Another node of the same deployment: its own server, caches, Jira limiters and connections to the
    /// same database file (opened again, as another process would), the same Jira sites with the same
    /// settings (client secrets too). Returns it with its base URL and certificate.
    pub async fn second_node(&self) -> (Running, String, String) {
        let store = arbor_store::open(
            &arbor_store::Location::Sqlite("arbor.db".into()),
            self.data_dir.path(),
            self.master.clone(),
        )
        .await
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!(
            "https://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        );
        let sites = self.server.as_ref().unwrap().state.config.sites.clone();
        let config = ServerConfig::new(Url::parse(&base).unwrap(), sites);
        let state = AppState::new(config, store).await.unwrap();
        let tls = Tls::self_signed(&["127.0.0.1".to_owned()], None).unwrap();
        let cert_pem = tls.self_signed_pem().unwrap().to_owned();
        let server = arbor_server::start(state, listener, &tls).await.unwrap();
        (server, base, cert_pem)
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

/// The issues of a window's rows, in order: (key, id).
pub fn issues(window: &Value) -> Vec<(String, u64)> {
    window["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| Some((r["issue_key"].as_str()?.to_owned(), r["issue_id"].as_u64()?)))
        .collect()
}

/// Two epics both people see, and two only `admin` sees, as (key, id): what Jira hides from `dev`.
pub async fn seen_and_hidden_epics(
    admin: &Browser,
    dev: &Browser,
) -> (Vec<(String, u64)>, Vec<(String, u64)>) {
    let probe = admin.create("Probe").await;
    admin
        .add_generator(
            probe,
            json!({"kind": "insert_jql", "jql": "issuetype = Epic ORDER BY key"}),
        )
        .await;
    admin.share_with_everyone(probe, "view").await;
    let by_admin = issues(&admin.rows(probe, None).await);
    let by_dev = issues(&dev.rows(probe, None).await);
    let seen: Vec<(String, u64)> = by_dev.iter().take(2).cloned().collect();
    let hidden: Vec<(String, u64)> = by_admin
        .into_iter()
        .filter(|i| !by_dev.contains(i))
        .take(2)
        .collect();
    assert_eq!(
        (seen.len(), hidden.len()),
        (2, 2),
        "the site has both kinds"
    );
    (seen, hidden)
}

/// The tests' shorthand on top of the browser-like client.
#[allow(async_fn_in_trait)]
pub trait Calls {
    async fn get(&self, path: &str) -> (StatusCode, Value);
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value);
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value);
    async fn create(&self, name: &str) -> u64;
    async fn version(&self, id: u64) -> u64;
    async fn add_generator(&self, id: u64, config: Value) -> Value;
    async fn rows(&self, id: u64, columns: Option<Value>) -> Value;
    async fn edit(&self, id: u64, edit: Value) -> (StatusCode, Value);
    async fn share_with_everyone(&self, id: u64, level: &str);
}

impl Calls for Browser {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send(method, path, body.as_ref()).await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Creates a structure and returns its id.
    async fn create(&self, name: &str) -> u64 {
        let (status, body) = self
            .post("/api/v1/structures", json!({ "name": name }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_u64().unwrap()
    }

    async fn version(&self, id: u64) -> u64 {
        let (status, body) = self.get(&format!("/api/v1/structures/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["version"].as_u64().unwrap()
    }

    /// Adds a generator at the top and returns the structure's version after it.
    async fn add_generator(&self, id: u64, config: Value) -> Value {
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

    /// An edit based on the structure's current version.
    async fn edit(&self, id: u64, edit: Value) -> (StatusCode, Value) {
        let based_on = self.version(id).await;
        self.post(
            &format!("/api/v1/structures/{id}/edits"),
            json!({"based_on": based_on, "edit": edit}),
        )
        .await
    }

    /// Grants everyone `level` (`view`, `edit`, ...) on the structure.
    async fn share_with_everyone(&self, id: u64, level: &str) {
        let version = self.version(id).await;
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/structures/{id}/permissions"),
                Some(json!({"rules": [{"grantee": {"kind": "everyone"}, "level": level}], "based_on": version})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Every row, fully expanded.
    async fn rows(&self, id: u64, columns: Option<Value>) -> Value {
        let mut body = json!({ "expand": {"depth": 100}, "limit": 2000 });
        if let Some(columns) = columns {
            body["columns"] = columns;
        }
        loop {
            let (status, window) = self
                .post(&format!("/api/v1/structures/{id}/rows"), body.clone())
                .await;
            assert_eq!(status, StatusCode::OK, "{window}");
            // A first answer while issues are still being read: the next one is whole.
            if window["loading"] != true {
                return window;
            }
        }
    }
}
