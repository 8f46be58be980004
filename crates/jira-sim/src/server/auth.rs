//! OAuth 2.0 (3LO) as auth.atlassian.com and api.atlassian.com run it, and the admin token.
//!
//! - `GET /authorize` shows a page on which a person of the site is chosen; choosing redirects to
//!   `redirect_uri?code=…&state=…`. Any client id is accepted (the simulator has no app registry); the token
//!   request must then name the same client id and redirect URI and some non-empty client secret.
//! - `POST /oauth/token` (JSON or form): `authorization_code` and `refresh_token` grants. Refresh tokens rotate:
//!   each refresh returns a new one and invalidates the one used; presenting an invalidated refresh token again
//!   revokes its whole family (every refresh and access token descended from the same sign-in).
//! - `GET /oauth/token/accessible-resources` and `GET /me` answer for the bearer's person.
//!
//! Invariants: tokens are random; access tokens expire after the configured lifetime on the simulator's clock,
//! refresh tokens after 90 days unused; a revoked family never authenticates again.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Caller, query_value};
use super::{Shared, SimError, lock, random_hex};
use crate::model::{Millis, PersonIdx};

/// The scopes arbor asks for, granted to minted tokens.
pub(crate) const ALL_SCOPES: [&str; 5] = [
    "read:jira-work",
    "read:jira-user",
    "write:jira-work",
    "manage:jira-webhook",
    "offline_access",
];

/// Refresh tokens that are not used for 90 days lapse, as Atlassian's rotating refresh tokens do.
const REFRESH_LIFETIME_MS: Millis = 90 * 24 * 3600 * 1000;

/// Who a token acts for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub person: PersonIdx,
    pub client_id: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct Access {
    grant: Grant,
    expires: Millis,
    family: Option<u64>,
}

#[derive(Debug, Clone)]
struct Refresh {
    grant: Grant,
    family: u64,
    /// Set once the token has been exchanged; using it again is reuse.
    used: bool,
    /// Rotating refresh tokens lapse after 90 days unused.
    expires: Millis,
}

#[derive(Debug, Clone)]
struct Code {
    grant: Grant,
    redirect_uri: String,
    expires: Millis,
}

/// Access tokens, refresh tokens and authorization codes. `Debug` shows counts only.
#[derive(Default)]
pub(crate) struct AuthStore {
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    codes: HashMap<String, Code>,
    revoked_families: std::collections::HashSet<u64>,
    next_family: u64,
    /// Each app's client secret, as last presented with a grant that succeeded: webhook deliveries to the app
    /// are signed with it.
    app_secrets: HashMap<String, String>,
}

impl AuthStore {
    /// The client secret of the app `client_id`, once it has signed someone in.
    pub(crate) fn app_secret(&self, client_id: &str) -> Option<&str> {
        self.app_secrets.get(client_id).map(String::as_str)
    }
}

impl std::fmt::Debug for AuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthStore")
            .field("access", &self.access.len())
            .field("refresh", &self.refresh.len())
            .field("codes", &self.codes.len())
            .finish_non_exhaustive()
    }
}

/// Issues an access token (no refresh token) for a grant.
pub(crate) fn issue_access(shared: &Shared, grant: &Grant) -> Result<(String, u64), SimError> {
    let token = random_hex(32)?;
    let lifetime = shared.token_lifetime.as_secs();
    let expires =
        shared.now_ms() + i64::try_from(shared.token_lifetime.as_millis()).unwrap_or(i64::MAX / 2);
    lock(&shared.auth).access.insert(
        token.clone(),
        Access {
            grant: grant.clone(),
            expires,
            family: None,
        },
    );
    Ok((token, lifetime))
}

/// The caller a bearer token stands for, if it is valid now.
pub(crate) fn access_caller(shared: &Shared, token: &str) -> Option<Caller> {
    let now = shared.now_ms();
    let grant = {
        let store = lock(&shared.auth);
        let access = store.access.get(token)?;
        if access.expires <= now
            || access
                .family
                .is_some_and(|f| store.revoked_families.contains(&f))
        {
            return None;
        }
        access.grant.clone()
    };
    let account_id = shared.site().person(grant.person).account_id.clone();
    Some(Caller {
        person: grant.person,
        account_id,
        client_id: grant.client_id,
        scopes: grant.scopes,
    })
}

/// Whether the headers carry the admin token (Bearer, or as the password of Basic auth).
pub(crate) fn is_admin(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, rest)) = value.split_once(' ') else {
        return false;
    };
    let presented = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let Some(decoded) = base64_decode(rest.trim()) else {
            return false;
        };
        match decoded.split_once(':') {
            Some((_, password)) => password.to_owned(),
            None => return false,
        }
    } else {
        return false;
    };
    constant_time_eq(presented.as_bytes(), shared.admin_token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (with or without padding), for Basic auth.
fn base64_decode(text: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push(u8::try_from((bits >> n) & 0xff).unwrap_or(0));
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/authorize", get(authorize_page).post(authorize_choose))
        .route("/oauth/token", axum::routing::post(token))
        .route(
            "/oauth/token/accessible-resources",
            get(accessible_resources),
        )
        .route("/me", get(me))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How many people the sign-in page lists; the rest are reached by typing a user name.
const LISTED_PEOPLE: usize = 40;

async fn authorize_page(State(shared): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let q = q.as_deref();
    let Some(client_id) = query_value(q, "client_id") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is missing",
        );
    };
    let Some(redirect_uri) = query_value(q, "redirect_uri") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is missing",
        );
    };
    if query_value(q, "response_type").as_deref() != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    let scope = query_value(q, "scope").unwrap_or_default();
    let state = query_value(q, "state").unwrap_or_default();
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            html_escape(value)
        )
    };
    let fields = [
        hidden("client_id", &client_id),
        hidden("redirect_uri", &redirect_uri),
        hidden("scope", &scope),
        hidden("state", &state),
    ]
    .concat();
    // The listed people and the typed name are two forms: Enter in the name field submits its own form, whose
    // only button is "Sign in", and never the first listed person (a form's default button is its first).
    let people: String = {
        let site = shared.site();
        site.people
            .iter()
            .take(LISTED_PEOPLE)
            .map(|p| {
                format!(
                    "<li><button type=\"submit\" name=\"account\" value=\"{}\">{} ({})</button></li>",
                    html_escape(&p.name),
                    html_escape(&p.display_name),
                    html_escape(&p.name)
                )
            })
            .collect()
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to {site} (jira-sim)</title></head>\
         <body><h1>Sign in to {site}</h1><p>jira-sim: choose who you are. The app <code>{client}</code> asks for: {scopes}.</p>\
         <form method=\"post\" action=\"/authorize\">{fields}<ul>{people}</ul></form>\
         <form method=\"post\" action=\"/authorize\">{fields}\
         <p><label>Another user name or account id <input name=\"other\" required></label> <button type=\"submit\">Sign in</button></p>\
         </form></body></html>",
        site = html_escape(&shared.site_name),
        client = html_escape(&client_id),
        scopes = html_escape(&scope),
    ))
    .into_response()
}

async fn authorize_choose(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let who = match form.get("account").filter(|a| !a.is_empty()) {
        Some(a) => a.clone(),
        None => get("other"),
    };
    let person = {
        let site = shared.site();
        site.person_by_name(who.trim())
            .or_else(|| site.person_by_account_id(who.trim()))
    };
    let Some(person) = person else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "no such person on this site",
        );
    };
    let redirect_uri = get("redirect_uri");
    let code = match random_hex(20) {
        Ok(c) => c,
        Err(e) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            );
        }
    };
    let scopes = get("scope")
        .split([' ', '+'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    lock(&shared.auth).codes.insert(
        code.clone(),
        Code {
            grant: Grant {
                person,
                client_id: get("client_id"),
                scopes,
            },
            redirect_uri: redirect_uri.clone(),
            expires: shared.now_ms() + 10 * 60 * 1000,
        },
    );
    let Ok(mut target) = url::Url::parse(&redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    Redirect::to(target.as_str()).into_response()
}

#[derive(Debug, Deserialize, Default)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
}

fn parse_token_request(headers: &HeaderMap, body: &[u8]) -> Option<TokenRequest> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        serde_json::from_slice(body).ok()
    } else {
        let map: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
        let get = |k: &str| map.get(k).cloned();
        Some(TokenRequest {
            grant_type: get("grant_type"),
            client_id: get("client_id"),
            client_secret: get("client_secret"),
            code: get("code"),
            redirect_uri: get("redirect_uri"),
            refresh_token: get("refresh_token"),
        })
    }
}

/// Issues an access token and, with `offline_access`, a refresh token in `family`.
fn token_response(shared: &Shared, grant: Grant, family: u64) -> Result<Value, SimError> {
    let (access, lifetime) = issue_access(shared, &grant)?;
    let mut store = lock(&shared.auth);
    if let Some(a) = store.access.get_mut(&access) {
        a.family = Some(family);
    }
    let mut body = json!({
        "access_token": access,
        "expires_in": lifetime,
        "token_type": "Bearer",
        "scope": grant.scopes.join(" "),
    });
    if grant.scopes.iter().any(|s| s == "offline_access") {
        let refresh = random_hex(32)?;
        store.refresh.insert(
            refresh.clone(),
            Refresh {
                grant,
                family,
                used: false,
                expires: shared.now_ms() + REFRESH_LIFETIME_MS,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(req) = parse_token_request(&headers, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unreadable token request",
        );
    };
    let client_id = req.client_id.unwrap_or_default();
    if client_id.is_empty() || req.client_secret.as_deref().is_none_or(str::is_empty) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id and client_secret are required",
        );
    }
    let now = shared.now_ms();
    let outcome = match req.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = lock(&shared.auth)
                .codes
                .remove(req.code.as_deref().unwrap_or(""));
            match code {
                Some(c)
                    if c.expires > now
                        && c.grant.client_id == client_id
                        && Some(&c.redirect_uri) == req.redirect_uri.as_ref() =>
                {
                    let family = {
                        let mut store = lock(&shared.auth);
                        store.next_family += 1;
                        store.next_family
                    };
                    token_response(&shared, c.grant, family)
                }
                _ => {
                    return oauth_error(
                        StatusCode::FORBIDDEN,
                        "invalid_grant",
                        "Invalid authorization code",
                    );
                }
            }
        }
        Some("refresh_token") => {
            let presented = req.refresh_token.unwrap_or_default();
            let found = {
                let mut store = lock(&shared.auth);
                let store = &mut *store;
                match store.refresh.get(&presented).cloned() {
                    None => None,
                    Some(r) if r.used || r.grant.client_id != client_id => {
                        // Reuse of a rotated token: revoke the whole family.
                        let family = r.family;
                        store.revoked_families.insert(family);
                        store.refresh.retain(|_, r| r.family != family);
                        store.access.retain(|_, a| a.family != Some(family));
                        None
                    }
                    Some(r) if store.revoked_families.contains(&r.family) || r.expires <= now => {
                        None
                    }
                    Some(r) => {
                        if let Some(entry) = store.refresh.get_mut(&presented) {
                            entry.used = true;
                        }
                        Some((r.grant, r.family))
                    }
                }
            };
            match found {
                Some((grant, family)) => token_response(&shared, grant, family),
                None => {
                    return oauth_error(
                        StatusCode::FORBIDDEN,
                        "invalid_grant",
                        "Unknown or invalid refresh token.",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "unsupported grant_type",
            );
        }
    };
    match outcome {
        Ok(body) => {
            if let Some(secret) = req.client_secret {
                lock(&shared.auth).app_secrets.insert(client_id, secret);
            }
            axum::Json(body).into_response()
        }
        Err(e) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

fn bearer_caller(shared: &Shared, headers: &HeaderMap) -> Option<Caller> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    access_caller(shared, token.trim())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "code": 401, "message": "Unauthorized" })),
    )
        .into_response()
}

async fn accessible_resources(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(caller) = bearer_caller(&shared, &headers) else {
        return unauthorized();
    };
    axum::Json(json!([{
        "id": shared.cloud_id,
        "url": shared.base_url,
        "name": shared.site_name,
        "scopes": caller.scopes,
        "avatarUrl": format!("{}/images/site-avatar.png", shared.base_url),
    }]))
    .into_response()
}

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(caller) = bearer_caller(&shared, &headers) else {
        return unauthorized();
    };
    let site = shared.site();
    let p = site.person(caller.person);
    axum::Json(json!({
        "account_type": "atlassian",
        "account_id": p.account_id,
        "email": p.email,
        "name": p.display_name,
        "picture": format!("{}/images/avatar/{}.png", shared.base_url, p.account_id),
        "account_status": if p.active { "active" } else { "inactive" },
        "nickname": p.name,
        "zoneinfo": p.time_zone,
        "locale": "en-US",
        "extended_profile": {},
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_decodes() {
        assert_eq!(
            base64_decode("YWRtaW46czNjcmV0").as_deref(),
            Some("admin:s3cret")
        );
        assert_eq!(base64_decode("YQ==").as_deref(), Some("a"));
        assert!(base64_decode("!!").is_none());
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }
}
