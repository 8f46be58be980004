//! Sign in with Atlassian (OAuth 2.0 3LO through arbor-jira), the callback that opens a session, and logout.
//!
//! The sign-in `state` lives in a short-lived `SameSite=Lax` cookie (a Strict one would not come back on the
//! redirect from the authorisation server), bound to the site being signed in to. The callback answers with a
//! small page that moves on to the board: the session cookie is `SameSite=Strict`, which browsers do not send
//! on the rest of a cross-site redirect chain.

use arbor_core::ids::ActorId;
use arbor_jira::auth::{AuthError, SignInState};
use arbor_store::audit::Outcome;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::api::Query;
use crate::audit::{self, Who};
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::session::{
    Caller, Origin, SIGNIN_COOKIE, cookie, expired_cookie, new_session, random_token,
    session_cookie,
};
use crate::state::{AppState, now};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Which configured site to sign in to (its position, from 0); the first by default.
    #[serde(default)]
    site: usize,
}

/// `GET /auth/login`: sends the browser to the authorisation server. A session the browser still has ends
/// here: the sign-in opens a fresh one, and the old token stops working at once rather than when it idles
/// out. (The `Strict` session cookie comes only with same-site requests: a page of another site cannot end it.)
pub async fn login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
    current: Result<Caller, ApiError>,
) -> ApiResult<Response> {
    let site = state
        .sites
        .get(query.site)
        .ok_or_else(|| ApiError::bad_request(format!("there is no site number {}", query.site)))?;
    let (url, sign_in) = site
        .auth
        .authorize_url()
        .map_err(|e| ApiError::internal(&e))?;
    let cookie = format!(
        "{SIGNIN_COOKIE}={}.{}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600",
        query.site,
        sign_in.expose_secret()
    );
    let mut response = Redirect::to(url.as_str()).into_response();
    set_cookie(response.headers_mut(), &cookie)?;
    if let Ok(caller) = current {
        end_session(&state, &caller, &["signin-again"]).await?;
        set_cookie(
            response.headers_mut(),
            &expired_cookie(crate::session::SESSION_COOKIE, "Strict"),
        )?;
    }
    Ok(response)
}

fn set_cookie(headers: &mut HeaderMap, cookie: &str) -> ApiResult<()> {
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_str(cookie).map_err(|e| ApiError::internal(&e))?,
    );
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: checks `state`, exchanges the code, checks the site, opens a session. The sign-in
/// cookie is cleared whatever the outcome: a `state` is good for one attempt.
pub async fn callback(
    State(state): State<AppState>,
    origin: Origin,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let mut response = match finish(&state, &origin, &headers, query).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&expired_cookie(SIGNIN_COOKIE, "Lax")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn finish(
    state: &AppState,
    origin: &Origin,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> ApiResult<Response> {
    let kept = cookie(headers, SIGNIN_COOKIE).and_then(|v| v.split_once('.'));
    let Some((site_index, kept_state)) = kept else {
        return Err(ApiError::bad_request(
            "this sign-in was not started here or took longer than 10 minutes; start again",
        ));
    };
    let index: usize = site_index
        .parse()
        .map_err(|_| ApiError::bad_request("the sign-in cookie is malformed; start again"))?;
    let site = state
        .sites
        .get(index)
        .ok_or_else(|| ApiError::bad_request("the sign-in cookie names no site; start again"))?;
    if let Some(error) = query.error {
        signin_failed(state, site.tenant, origin, "declined", Outcome::Failed).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signin-declined",
            format!(
                "the sign-in was not completed ({}); start again to use arbor",
                error
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(40)
                    .collect::<String>()
            ),
        ));
    }
    let (Some(code), Some(returned)) = (query.code, query.state) else {
        return Err(ApiError::bad_request(
            "the sign-in answer lacks its code or state",
        ));
    };
    let sign_in = SignInState::from_kept(kept_state.to_owned());
    let tokens = match site.auth.finish_sign_in(&sign_in, &returned, &code).await {
        Ok(tokens) => tokens,
        Err(error) => {
            let reason = match error {
                AuthError::StateMismatch => "state-mismatch",
                _ => "code-refused",
            };
            signin_failed(state, site.tenant, origin, reason, Outcome::Failed).await?;
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "signin-failed",
                format!("the sign-in failed: {error}; start again"),
            ));
        }
    };
    let resources = site
        .auth
        .accessible_resources(&tokens.access)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "signin-failed", e.to_string()))?;
    let wanted = site.config.site_url.as_str().trim_end_matches('/');
    if !resources
        .iter()
        .any(|r| r.url.trim_end_matches('/') == wanted)
    {
        signin_failed(
            state,
            site.tenant,
            origin,
            "no-site-access",
            Outcome::Denied,
        )
        .await?;
        return Err(ApiError::forbidden(format!(
            "your Atlassian account did not grant arbor access to {wanted}; sign in again and choose that site"
        )));
    }
    let me = site
        .auth
        .me(&tokens.access)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "signin-failed", e.to_string()))?;
    let account = ActorId::new(&me.account_id).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "signin-failed",
            "the account id is not valid",
        )
    })?;
    people::keep_tokens(state, site.tenant, &account, &tokens).await?;
    if site.config.admins.contains(&me.account_id) {
        crate::webhooks::keep_registered_as(state, index, account.clone(), tokens.access.clone());
    }
    let token = random_token()?;
    let at = now();
    let session = new_session(state, account.clone(), &token, at);
    state.store.create_session(site.tenant, &session).await?;
    audit::record(
        state,
        Who {
            tenant: Some(site.tenant),
            actor: Some(&account),
            client: origin.client,
            request_id: origin.request_id.as_deref(),
        },
        "signin",
        &[],
        Outcome::Ok,
    )
    .await?;
    let mut response = Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url=/\">\
         <title>Signed in — arbor</title></head><body><p>Signed in. <a href=\"/\">Continue to arbor</a></p></body></html>",
    )
    .into_response();
    let headers = response.headers_mut();
    set_cookie(
        headers,
        &session_cookie(site.tenant, &token, state.config.sessions.absolute),
    )?;
    Ok(response)
}

/// Audits a sign-in that did not succeed: no actor is known yet; the reason is the entry's object.
async fn signin_failed(
    state: &AppState,
    tenant: arbor_store::model::TenantId,
    origin: &Origin,
    reason: &str,
    outcome: Outcome,
) -> ApiResult<()> {
    let who = Who {
        tenant: Some(tenant),
        actor: None,
        client: origin.client,
        request_id: origin.request_id.as_deref(),
    };
    audit::record(state, who, "signin", &[reason], outcome).await
}

/// `POST /auth/logout`: ends the session (CSRF-protected like every change).
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    end_session(&state, &caller, &[]).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(
        response.headers_mut(),
        &expired_cookie(crate::session::SESSION_COOKIE, "Strict"),
    )?;
    Ok(response)
}

/// Deletes the caller's session (here and in storage, so every node refuses it) and audits it, with `why`
/// when it was not a logout.
async fn end_session(state: &AppState, caller: &Caller, why: &[&str]) -> ApiResult<()> {
    state
        .store
        .delete_session(caller.tenant, &caller.token_hash)
        .await?;
    state.sessions.forget(&(caller.tenant, caller.token_hash));
    audit::ok(state, caller, "signout", why).await
}
