//! Sessions: the cookie, its lookup in storage, expiry, and CSRF protection.
//!
//! The session cookie is `__Host-arbor=<tenant>.<token>`: `Secure; HttpOnly; SameSite=Strict; Path=/`, no
//! `Domain` (the `__Host-` prefix makes browsers enforce exactly that). The token is 32 random bytes; storage
//! keeps only its SHA-256, under the tenant named in the cookie, so a cookie is only ever looked up in its own
//! tenant and an altered tenant prefix finds nothing.
//!
//! Expiry: a session has an absolute end (sign-in + `absolute`) and an idle end, moved forward as it is used
//! (never past the absolute end). Logout deletes the session.
//!
//! Undo: changes are journaled with the session's *undo tag* ([`undo_tag`]), and undo and redo take back only
//! the changes of the caller's own session ([`Caller::author`]).
//!
//! CSRF: every request that is not GET, HEAD or OPTIONS must carry `X-CSRF-Token` equal to the session's CSRF
//! token (derived from the session token, handed out by `GET /api/v1/session`, compared in constant time),
//! and must not come from another site (`Origin` must be ours when present; `Sec-Fetch-Site` must not be
//! `cross-site`). A cross-origin form post cannot read the token and cannot set the header.

use std::net::IpAddr;
use std::time::Duration;

use arbor_core::history::Author;
use arbor_core::ids::{ActorId, SessionTag, Timestamp};
use arbor_store::model::{Session, TenantId};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::{AppState, now};

pub const SESSION_COOKIE: &str = "__Host-arbor";
/// The short-lived cookie that keeps a sign-in's `state` until the callback. `SameSite=Lax`: a Strict cookie is
/// not sent on the redirect back from the authorisation server.
pub const SIGNIN_COOKIE: &str = "__Host-arbor-signin";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A new random token, base64url.
pub fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(&e))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The CSRF token of a session: derived from the secret session token, so it needs no storage and is
/// useless without the cookie it belongs to.
pub fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"arbor csrf v1\0");
    hasher.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// The tag a session's changes are journaled with, so that undo and redo take back only what was changed in
/// this session: a domain-separated SHA-256 of the stored token hash, cut to 128 bits. It is not a credential
/// and leads to none: the token cannot be found from it, and storage looks sessions up by the token hash,
/// which it is not.
pub fn undo_tag(token_hash: &[u8; 32]) -> SessionTag {
    let mut hasher = Sha256::new();
    hasher.update(b"arbor undo session v1\0");
    hasher.update(token_hash);
    let digest: [u8; 32] = hasher.finalize().into();
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&digest[..16]);
    SessionTag::from_bytes(&tag)
}

pub fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name`, if the request has it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for the session.
pub fn session_cookie(tenant: TenantId, token: &str, max_age: Duration) -> String {
    format!(
        "{SESSION_COOKIE}={tenant}.{token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    )
}

/// `Set-Cookie` that removes a cookie.
pub fn expired_cookie(name: &str, same_site: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite={same_site}; Max-Age=0")
}

/// Splits a session cookie into its tenant and token, each in the one shape the server writes: the tenant in
/// plain decimal digits (`u64::from_str` would also take `+7` and `007`, so one session would have several
/// cookie values).
fn parse_session_cookie(value: &str) -> Option<(TenantId, &str)> {
    let (tenant, token) = value.split_once('.')?;
    if !tenant.bytes().all(|b| b.is_ascii_digit()) || tenant.starts_with('0') {
        return None;
    }
    let tenant = TenantId::new(tenant.parse().ok()?).ok()?;
    (token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some((tenant, token))
}

/// The signed-in person making a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub account: ActorId,
    pub csrf: String,
    pub token_hash: [u8; 32],
    pub expires_at: Timestamp,
    pub client: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl Caller {
    /// The caller in this session, as changes are recorded and undone.
    pub fn author(&self) -> Author {
        Author::in_session(self.account.clone(), undo_tag(&self.token_hash))
    }
}

/// Where a request came from and its id, for callers that may not be signed in.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Self {
            client: parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
        })
    }
}

/// Refuses state-changing requests from other sites and without the CSRF token.
fn check_csrf(parts: &Parts, state: &AppState, expected: &str) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refused = |why: &str| {
        ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "csrf",
            format!("refused as a possible cross-site request: {why}"),
        )
    };
    if parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(refused("it comes from another site"));
    }
    if let Some(origin) = parts.headers.get(header::ORIGIN) {
        let ours = state.config.public_url.origin().ascii_serialization();
        if origin.as_bytes() != ours.as_bytes() {
            return Err(refused("its Origin is not this server"));
        }
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .map(axum::http::HeaderValue::as_bytes)
        .unwrap_or_default();
    if !equal_in_constant_time(sent, expected.as_bytes()) {
        return Err(refused(
            "the X-CSRF-Token header is missing or wrong (get it from GET /api/v1/session)",
        ));
    }
    Ok(())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = Origin::from_request_parts(parts, state).await?;
        let (tenant, token) = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(parse_session_cookie)
            .ok_or_else(ApiError::unauthorized)?;
        if state.site(tenant).is_none() {
            return Err(ApiError::unauthorized());
        }
        let hash = token_hash(token);
        let at = now();
        let session = match state.sessions.get(&(tenant, hash)) {
            Ok(session) if session.expires_at > at => session,
            Ok(_) => return Err(ApiError::unauthorized()),
            Err(ticket) => {
                let session = state
                    .store
                    .session(tenant, &hash, at)
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
                state.sessions.keep((tenant, hash), session.clone(), ticket);
                session
            }
        };
        let csrf = csrf_token(token);
        state.limits.person(tenant, session.account_id.as_str())?;
        if let Err(refusal) = check_csrf(parts, state, &csrf) {
            let who = crate::audit::Who {
                tenant: Some(tenant),
                actor: Some(&session.account_id),
                client: origin.client,
                request_id: origin.request_id.as_deref(),
            };
            crate::audit::record(state, who, "csrf", &[], arbor_store::audit::Outcome::Denied)
                .await?;
            return Err(refusal);
        }
        let expires_at = keep_alive(state, tenant, &session, at).await?;
        Ok(Self {
            tenant,
            account: session.account_id,
            csrf,
            token_hash: hash,
            expires_at,
            client: origin.client,
            request_id: origin.request_id,
        })
    }
}

/// Moves the idle end of a session forward (at most once a minute, never past its absolute end).
async fn keep_alive(
    state: &AppState,
    tenant: TenantId,
    session: &Session,
    at: Timestamp,
) -> Result<Timestamp, ApiError> {
    let config = state.config.sessions;
    let absolute = add(session.created_at, config.absolute);
    let wanted = add(at, config.idle).min(absolute);
    if wanted.as_unix_millis() - session.expires_at.as_unix_millis() < 60_000 {
        return Ok(session.expires_at);
    }
    state
        .store
        .extend_session(tenant, &session.token_hash, wanted)
        .await?;
    state.sessions.forget(&(tenant, session.token_hash));
    Ok(wanted)
}

pub fn add(at: Timestamp, by: Duration) -> Timestamp {
    let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_unix_millis(at.as_unix_millis().saturating_add(millis))
}

/// A new session for `account`, ending after the idle time unless used.
pub fn new_session(state: &AppState, account: ActorId, token: &str, at: Timestamp) -> Session {
    let config = state.config.sessions;
    Session {
        token_hash: token_hash(token),
        account_id: account,
        created_at: at,
        expires_at: add(at, config.idle.min(config.absolute)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_parse_only_in_their_exact_shape() {
        let token = "a".repeat(43);
        assert!(parse_session_cookie(&format!("7.{token}")).is_some());
        assert!(parse_session_cookie(&format!("0.{token}")).is_none());
        assert!(parse_session_cookie(&format!("x.{token}")).is_none());
        assert!(parse_session_cookie(&format!("7.{}", "a".repeat(42))).is_none());
        assert!(parse_session_cookie(&format!("7.{}'", "a".repeat(42))).is_none());
        assert!(parse_session_cookie("7").is_none());
    }

    #[test]
    fn the_tenant_of_a_session_cookie_is_plain_digits() {
        let token = "a".repeat(43);
        assert!(parse_session_cookie(&format!("17.{token}")).is_some());
        for tenant in [
            "+7", "07", "007", " 7", "7 ", "-7", "", "7_0", "\u{661}", "0x7", "00",
        ] {
            assert!(
                parse_session_cookie(&format!("{tenant}.{token}")).is_none(),
                "{tenant:?}"
            );
        }
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_compare_exactly() {
        let a = csrf_token("one");
        let b = csrf_token("two");
        assert_ne!(a, b);
        assert!(equal_in_constant_time(a.as_bytes(), a.as_bytes()));
        assert!(!equal_in_constant_time(a.as_bytes(), b.as_bytes()));
        assert!(!equal_in_constant_time(a.as_bytes(), &a.as_bytes()[1..]));
    }

    #[test]
    fn undo_tags_differ_per_session_and_are_not_the_stored_hash() {
        let (one, two) = (token_hash("one"), token_hash("two"));
        assert_eq!(undo_tag(&one), undo_tag(&one));
        assert_ne!(undo_tag(&one), undo_tag(&two));
        let tag = undo_tag(&one);
        assert_eq!(tag.as_str().len(), 32);
        let stored = one.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert!(!stored.starts_with(tag.as_str()));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; __Host-arbor=7.x; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("7.x"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
