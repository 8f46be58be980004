//! Starting simulators and talking to them.

use std::path::PathBuf;
use std::sync::OnceLock;

use jira_sim::model::Site;
use jira_sim::server::{self, DataSource, RunningSim, SimConfig};
use jira_sim::site::SiteFile;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub(crate) struct TestSim {
    pub(crate) sim: RunningSim,
    pub(crate) client: reqwest::Client,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

/// A small synthetic site (2,000 issues) with the default people.
pub(crate) fn synthetic_config() -> SimConfig {
    SimConfig::new(DataSource::Synthetic {
        issues: 2000,
        seed: 7,
    })
}

pub(crate) async fn spawn(config: SimConfig) -> TestSim {
    let sim = server::start(config).await.expect("start simulator");
    TestSim {
        sim,
        client: reqwest::Client::new(),
    }
}

pub(crate) async fn spawn_synthetic() -> TestSim {
    spawn(synthetic_config()).await
}

pub(crate) fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tidev-jira");
    if dir.join("issues.jsonl.gz").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} not found; the real-data tests did not run",
            dir.display()
        );
        None
    }
}

/// The real site with the default site file, loaded once per test binary.
pub(crate) fn real_site() -> Option<&'static Site> {
    static SITE: OnceLock<Option<Site>> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = data_dir()?;
        let mut site = jira_sim::import::load_tidev(&dir).expect("import");
        SiteFile::default_site()
            .expect("default")
            .apply(&mut site)
            .expect("apply");
        Some(site)
    })
    .as_ref()
}

pub(crate) async fn spawn_real() -> Option<TestSim> {
    let site = real_site()?.clone();
    Some(spawn(SimConfig::new(DataSource::Site(Box::new(site)))).await)
}

impl TestSim {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// A token for a person of the site, through the admin API.
    pub(crate) async fn token(&self, who: &str) -> String {
        self.token_for_app(who, "test-app").await
    }

    pub(crate) async fn token_for_app(&self, who: &str, app: &str) -> String {
        let r = self
            .client
            .post(self.url("/_sim/token"))
            .bearer_auth(self.sim.admin_token())
            .json(&serde_json::json!({ "name": who, "clientId": app }))
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.expect("token json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    /// The whole 3LO dance for `who` with `scope` (space-separated), as app `app` with client secret `x`;
    /// returns the token response.
    pub(crate) async fn sign_in(&self, who: &str, scope: &str) -> Value {
        let no_redirect = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let scope = scope.replace(':', "%3A").replace(' ', "+");
        let chosen = no_redirect
            .post(self.url("/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("client_id=app&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcb&scope={scope}&state=s&account={who}"))
            .send()
            .await
            .unwrap();
        let location = url::Url::parse(chosen.headers()["location"].to_str().unwrap()).unwrap();
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        self.client
            .post(self.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=authorization_code&client_id=app&client_secret=x&code={code}&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcb"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let r = request.send().await.expect("request");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub(crate) async fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub(crate) async fn put(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .put(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub(crate) async fn delete(&self, token: &str, path: &str, body: Option<&Value>) -> Reply {
        let mut r = self.client.delete(self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(b);
        }
        self.send(r).await
    }

    pub(crate) async fn admin(&self, method: reqwest::Method, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .request(method, self.url(path))
                .bearer_auth(self.sim.admin_token())
                .json(body),
        )
        .await
    }

    /// Every id a search returns, following `nextPageToken`.
    pub(crate) async fn all_ids(&self, token: &str, jql: &str, page: u32) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = serde_json::json!({ "jql": jql, "maxResults": page, "fields": ["id"] });
            if let Some(t) = &next {
                body["nextPageToken"] = Value::String(t.clone());
            }
            let r = self.post(token, "/rest/api/3/search/jql", &body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            for issue in r.body["issues"].as_array().expect("issues") {
                ids.push(issue["id"].as_str().expect("id").to_owned());
            }
            match r.body["nextPageToken"].as_str() {
                Some(t) => next = Some(t.to_owned()),
                None => {
                    assert_eq!(r.body["isLast"], Value::Bool(true));
                    break;
                }
            }
        }
        ids
    }
}
