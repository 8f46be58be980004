//! Sign in with Atlassian (OAuth 2.0 3LO): the authorize URL with its `state`, the code exchange, the site's
//! cloud id (accessible resources), the person's account id (`/me`), and refreshes with rotation.
//!
//! Invariants:
//! - Only the scopes arbor uses are asked for ([`SCOPES`]); arbor never asks for a password or an API token.
//! - `state` is 32 random bytes, checked in constant time; a mismatch ends the sign-in.
//! - Refresh tokens rotate on every refresh. Refreshes of one person are serialised (one async mutex per
//!   person), and a refresh token that was already rotated is never sent again: a concurrent caller that
//!   presents it gets the rotation's result instead, so arbor cannot trip Jira's reuse detection by itself.
//! - An invalidated refresh token means [`AuthError::SignInAgain`]; there is no broader credential to fall
//!   back to.
//! - Tokens are [`SecretString`]s: `Debug` prints them redacted, they never reach a log or a URL; storage
//!   (arbor-store) receives them to encrypt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use crate::client::{AccessToken, ClientConfig, http_client};

/// The scopes arbor asks for: reading issues and metadata, reading people and groups, refresh tokens, and
/// dynamic webhooks for early cache invalidation.
pub const SCOPES: &str = "read:jira-work read:jira-user offline_access manage:jira-webhook";

/// Where sign-in happens; defaults are Atlassian's, tests point them at the simulator.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// arbor's callback, registered with the app.
    pub redirect_uri: Url,
    pub authorize_url: Url,
    pub token_url: Url,
    pub resources_url: Url,
    pub me_url: Url,
}

impl OAuthConfig {
    /// Atlassian's endpoints (`auth.atlassian.com`, `api.atlassian.com`).
    pub fn atlassian(
        client_id: &str,
        client_secret: SecretString,
        redirect_uri: Url,
    ) -> Result<Self, AuthError> {
        Self::at(
            client_id,
            client_secret,
            redirect_uri,
            "https://auth.atlassian.com",
            "https://api.atlassian.com",
        )
    }

    /// The endpoints under `auth_base` (authorize, token) and `api_base` (accessible resources, `/me`).
    pub fn at(
        client_id: &str,
        client_secret: SecretString,
        redirect_uri: Url,
        auth_base: &str,
        api_base: &str,
    ) -> Result<Self, AuthError> {
        let url = |base: &str, path: &str| {
            Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
                .map_err(|_| AuthError::Config("a sign-in base URL is not a URL"))
        };
        Ok(Self {
            client_id: client_id.to_owned(),
            client_secret,
            redirect_uri,
            authorize_url: url(auth_base, "/authorize")?,
            token_url: url(auth_base, "/oauth/token")?,
            resources_url: url(api_base, "/oauth/token/accessible-resources")?,
            me_url: url(api_base, "/me")?,
        })
    }
}

/// Why sign-in or a refresh failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the sign-in is no longer valid: sign in again")]
    SignInAgain,
    #[error("the sign-in answer does not belong to this sign-in (state mismatch)")]
    StateMismatch,
    #[error("the sign-in service refused the request: {0}")]
    Refused(String),
    #[error("the sign-in service is unavailable: {0}")]
    Unavailable(String),
    #[error("the sign-in service answered in an unexpected way: {0}")]
    Protocol(&'static str),
    #[error("sign-in configuration error: {0}")]
    Config(&'static str),
}

/// The `state` of one sign-in: kept by the caller (e.g. in a short-lived cookie) until the callback.
#[derive(Clone)]
pub struct SignInState(SecretString);

impl std::fmt::Debug for SignInState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInState(***)")
    }
}

impl SignInState {
    /// 32 random bytes, base64url.
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| AuthError::Config("no randomness available"))?;
        Ok(Self(SecretString::from(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        )))
    }

    /// Rebuilds a state kept by the caller.
    pub fn from_kept(text: String) -> Self {
        Self(SecretString::from(text))
    }

    /// Checks the `state` that came back, in constant time.
    pub fn check(&self, returned: &str) -> Result<(), AuthError> {
        let ours = self.0.expose_secret().as_bytes();
        let theirs = returned.as_bytes();
        let differ = ours.len() != theirs.len()
            || ours
                .iter()
                .zip(theirs)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0;
        if differ {
            Err(AuthError::StateMismatch)
        } else {
            Ok(())
        }
    }
}

impl ExposeSecret<str> for SignInState {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A refresh token. `Debug` prints `***`.
#[derive(Clone)]
pub struct RefreshToken(SecretString);

impl RefreshToken {
    pub fn new(token: String) -> Self {
        Self(SecretString::from(token))
    }
}

impl ExposeSecret<str> for RefreshToken {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// The tokens of one sign-in or refresh.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access: AccessToken,
    /// Present with `offline_access`; replaces the previous one (rotation).
    pub refresh: Option<RefreshToken>,
    pub expires_in: Duration,
    pub scopes: Vec<String>,
}

/// A Jira site the person granted access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub cloud_id: String,
    pub url: String,
    pub name: String,
    pub scopes: Vec<String>,
}

/// The signed-in person as `/me` describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub account_id: String,
    pub name: String,
}

/// The last rotation of one person: the refresh token it consumed and what it returned.
struct Rotation {
    consumed: RefreshToken,
    result: TokenSet,
}

/// Sign-in and refreshes for one OAuth app.
pub struct Auth {
    config: OAuthConfig,
    http: reqwest::Client,
    /// One lock per person, holding the person's last rotation.
    people: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Rotation>>>>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("client_id", &self.config.client_id)
            .field("token_url", &self.config.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(config: OAuthConfig, client: &ClientConfig) -> Result<Self, AuthError> {
        Ok(Self {
            http: http_client(client).map_err(|_| AuthError::Config("no HTTP client"))?,
            config,
            people: Mutex::new(HashMap::new()),
        })
    }

    /// The URL to send the person to, and the state to keep until the callback.
    pub fn authorize_url(&self) -> Result<(Url, SignInState), AuthError> {
        let state = SignInState::generate()?;
        let mut url = self.config.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("audience", "api.atlassian.com")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("scope", SCOPES)
            .append_pair("redirect_uri", self.config.redirect_uri.as_str())
            .append_pair("state", state.expose_secret())
            .append_pair("response_type", "code")
            .append_pair("prompt", "consent");
        Ok((url, state))
    }

    /// The callback: checks `state`, then exchanges the code for tokens.
    pub async fn finish_sign_in(
        &self,
        kept: &SignInState,
        returned_state: &str,
        code: &str,
    ) -> Result<TokenSet, AuthError> {
        kept.check(returned_state)?;
        self.token_request(json!({
            "grant_type": "authorization_code",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.expose_secret(),
            "code": code,
            "redirect_uri": self.config.redirect_uri.as_str(),
        }))
        .await
    }

    /// The sites the token gives access to (their cloud ids).
    pub async fn accessible_resources(
        &self,
        token: &AccessToken,
    ) -> Result<Vec<Resource>, AuthError> {
        let answer = self.get(&self.config.resources_url, token).await?;
        let list = answer
            .as_array()
            .ok_or(AuthError::Protocol("accessible-resources is not a list"))?;
        Ok(list
            .iter()
            .filter_map(|r| {
                Some(Resource {
                    cloud_id: r["id"].as_str()?.to_owned(),
                    url: r["url"].as_str().unwrap_or_default().to_owned(),
                    name: r["name"].as_str().unwrap_or_default().to_owned(),
                    scopes: strings(&r["scopes"]),
                })
            })
            .collect())
    }

    /// The person the token belongs to.
    pub async fn me(&self, token: &AccessToken) -> Result<Me, AuthError> {
        let answer = self.get(&self.config.me_url, token).await?;
        Ok(Me {
            account_id: answer["account_id"]
                .as_str()
                .or_else(|| answer["accountId"].as_str())
                .ok_or(AuthError::Protocol("/me without an account id"))?
                .to_owned(),
            name: answer["name"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Refreshes `person`'s tokens with `refresh`, serialised per person. When `refresh` was already rotated
    /// by a concurrent caller, that rotation's tokens are returned and nothing is sent.
    pub async fn refresh(
        &self,
        person: &str,
        refresh: &RefreshToken,
    ) -> Result<TokenSet, AuthError> {
        let lock = {
            let mut people = self.people.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(people.entry(person.to_owned()).or_default())
        };
        let mut last = lock.lock().await;
        if let Some(rotation) = last.as_ref()
            && rotation.consumed.expose_secret() == refresh.expose_secret()
        {
            return Ok(rotation.result.clone());
        }
        let result = self
            .token_request(json!({
                "grant_type": "refresh_token",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret.expose_secret(),
                "refresh_token": refresh.expose_secret(),
            }))
            .await?;
        *last = Some(Rotation {
            consumed: refresh.clone(),
            result: result.clone(),
        });
        Ok(result)
    }

    /// Forgets a person's rotation state (at sign-out).
    pub fn forget(&self, person: &str) {
        self.people
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(person);
    }

    async fn token_request(&self, body: Value) -> Result<TokenSet, AuthError> {
        let response = self
            .http
            .post(self.config.token_url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|_| AuthError::Unavailable("cannot reach the token endpoint".into()))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|_| AuthError::Protocol("the token answer is not JSON"))?;
        if !status.is_success() {
            let code = answer["error"].as_str().unwrap_or_default();
            return Err(match (status.as_u16(), code) {
                (_, "invalid_grant") | (401 | 403, _) => AuthError::SignInAgain,
                (500..=599, _) => AuthError::Unavailable(format!("HTTP {}", status.as_u16())),
                _ => AuthError::Refused(code.chars().take(64).collect()),
            });
        }
        let access = answer["access_token"]
            .as_str()
            .ok_or(AuthError::Protocol("no access_token"))?;
        Ok(TokenSet {
            access: AccessToken::new(access.to_owned()),
            refresh: answer["refresh_token"]
                .as_str()
                .map(|r| RefreshToken::new(r.to_owned())),
            expires_in: Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(3600)),
            scopes: answer["scope"]
                .as_str()
                .unwrap_or_default()
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    async fn get(&self, url: &Url, token: &AccessToken) -> Result<Value, AuthError> {
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, token.bearer())
            .send()
            .await
            .map_err(|_| AuthError::Unavailable("cannot reach the sign-in service".into()))?;
        match response.status().as_u16() {
            200..=299 => response
                .json()
                .await
                .map_err(|_| AuthError::Protocol("the answer is not JSON")),
            401 | 403 => Err(AuthError::SignInAgain),
            s @ 500..=599 => Err(AuthError::Unavailable(format!("HTTP {s}"))),
            s => Err(AuthError::Refused(format!("HTTP {s}"))),
        }
    }
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_random_and_checked_exactly() {
        let a = SignInState::generate().unwrap();
        let b = SignInState::generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), 43);
        assert!(a.check(a.expose_secret()).is_ok());
        assert_eq!(a.check(b.expose_secret()), Err(AuthError::StateMismatch));
        assert_eq!(a.check(""), Err(AuthError::StateMismatch));
        assert_eq!(format!("{a:?}"), "SignInState(***)");
    }

    #[test]
    fn tokens_are_redacted_in_debug() {
        let set = TokenSet {
            access: AccessToken::new("secret-access".into()),
            refresh: Some(RefreshToken::new("secret-refresh".into())),
            expires_in: Duration::from_secs(1),
            scopes: vec![],
        };
        let text = format!("{set:?}");
        assert!(!text.contains("secret"), "{text}");
    }
}
