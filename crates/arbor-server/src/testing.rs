//! A client that uses arbor the way a browser does: trusts the server's certificate, keeps cookies, signs in
//! through the sign-in page of a jira-sim site, and sends the CSRF token with changes. Used by the server's
//! tests, the demo's test and the server benchmark; never by the server itself.

use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use url::Url;

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Browser {
    pub http: Client,
    pub jar: Arc<Jar>,
    /// `https://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    pub csrf: String,
    pub account: String,
}

/// An HTTP client for `base` that trusts `certificate_pem` and keeps cookies in `jar`; redirects are not
/// followed, HTTP/1.1 only (one connection per concurrent request, as browsers mostly do for APIs).
pub fn client(certificate_pem: &str, jar: Arc<Jar>) -> Result<Client, SignInError> {
    Ok(Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certificate_pem.as_bytes())?)
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .build()?)
}

fn location(response: &reqwest::Response) -> Result<Url, SignInError> {
    let text = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            SignInError::Unexpected(format!("{} without a Location", response.status()))
        })?;
    Url::parse(text).map_err(|e| SignInError::Unexpected(format!("Location {text}: {e}")))
}

/// Signs `person` in to arbor at `base` through the sign-in page of the simulator at `sim_base`, for the
/// `site`-th configured site.
pub async fn sign_in(
    base: &str,
    certificate_pem: &str,
    sim_base: &str,
    site: usize,
    person: &str,
) -> Result<Browser, SignInError> {
    let base = base.trim_end_matches('/').to_owned();
    let jar = Arc::new(Jar::default());
    let http = client(certificate_pem, Arc::clone(&jar))?;
    let login = http
        .get(format!("{base}/auth/login?site={site}"))
        .send()
        .await?;
    if login.status() != StatusCode::SEE_OTHER {
        return Err(SignInError::Unexpected(format!(
            "login answered {}",
            login.status()
        )));
    }
    let authorize = location(&login)?;
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("account".into(), person.into()));
    let chosen = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .post(format!("{}/authorize", sim_base.trim_end_matches('/')))
        .form(&form)
        .send()
        .await?;
    let callback = location(&chosen)?;
    let done = http
        .get(format!(
            "{base}{}?{}",
            callback.path(),
            callback.query().unwrap_or_default()
        ))
        .send()
        .await?;
    if done.status() != StatusCode::OK {
        let status = done.status();
        return Err(SignInError::Unexpected(format!(
            "callback answered {status}: {}",
            done.text().await?
        )));
    }
    let session: Value = http
        .get(format!("{base}/api/v1/session"))
        .send()
        .await?
        .json()
        .await?;
    let field = |name: &str| {
        session[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SignInError::Unexpected(format!("the session has no {name}")))
    };
    Ok(Browser {
        csrf: field("csrf_token")?,
        account: field("account_id")?,
        http,
        jar,
        base,
    })
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `Cookie` header the browser sends.
    pub fn cookies(&self) -> String {
        Url::parse(&self.base)
            .ok()
            .and_then(|url| self.jar.cookies(&url))
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }

    /// A request with the CSRF token; the status and the JSON body (`null` when there is none).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("x-csrf-token", &self.csrf);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}
