//! The signed-in person's Jira credentials and what Jira says about them (their groups).
//!
//! Tokens: kept encrypted in storage (arbor-store), and in memory per node for speed. An access token close to
//! its expiry is refreshed through arbor-jira, which serialises refreshes per person; the rotated refresh
//! token is stored at once, since the old one is now spent. A refused refresh means "sign in again": the
//! person's tokens are deleted and no wider credential is ever used instead.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use arbor_core::ids::{ActorId, Timestamp};
use arbor_core::permission::{Grantee, Requester, Rule};
use arbor_jira::auth::{AuthError, RefreshToken, TokenSet};
use arbor_jira::cache::PeopleKind;
use arbor_jira::client::{AccessToken, Credentials, JiraError};
use arbor_store::model::{OAuthToken, TenantId};
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::session::{Caller, add};
use crate::state::{AppState, Site, jira_tenant, now};

/// Refresh an access token this long before it expires.
const REFRESH_MARGIN_MS: i64 = 60_000;

#[derive(Clone)]
struct Held {
    access: AccessToken,
    refresh: Option<RefreshToken>,
    expires_at: Timestamp,
}

type Person = (TenantId, ActorId);

/// Access tokens held in memory, per (tenant, person), and one lock per person for refreshing.
#[derive(Default)]
pub struct Tokens {
    held: Mutex<HashMap<Person, Held>>,
    refreshing: Mutex<HashMap<Person, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(***)")
    }
}

/// The token set as stored (encrypted by the store).
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access: String,
    refresh: Option<String>,
}

fn sign_in_again() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "jira-sign-in-expired",
        "your Jira sign-in has expired or was revoked; sign in again",
    )
}

impl Tokens {
    fn get(&self, key: &(TenantId, ActorId)) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn put(&self, key: (TenantId, ActorId), held: Held) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, held);
    }

    /// The lock that serialises one person's refreshes on this node.
    fn refresh_lock(&self, key: &(TenantId, ActorId)) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(key.clone()).or_default())
    }

    pub fn forget(&self, tenant: TenantId, account: &ActorId) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(tenant, account.clone()));
    }
}

/// Keeps a person's new tokens (after sign-in or a refresh): in storage first, then in memory.
pub async fn keep_tokens(
    state: &AppState,
    tenant: TenantId,
    account: &ActorId,
    tokens: &TokenSet,
) -> ApiResult<()> {
    let expires_at = add(now(), tokens.expires_in);
    let stored = StoredTokens {
        access: tokens.access.expose_secret().to_owned(),
        refresh: tokens
            .refresh
            .as_ref()
            .map(|r| r.expose_secret().to_owned()),
    };
    let text = serde_json::to_string(&stored).map_err(|e| ApiError::internal(&e))?;
    state
        .store
        .put_oauth_token(
            tenant,
            &OAuthToken {
                account_id: account.clone(),
                tokens: SecretString::from(text),
                expires_at,
            },
        )
        .await?;
    state.tokens.put(
        (tenant, account.clone()),
        Held {
            access: tokens.access.clone(),
            refresh: tokens.refresh.clone(),
            expires_at,
        },
    );
    Ok(())
}

/// The person's tokens as storage holds them.
async fn stored(state: &AppState, tenant: TenantId, account: &ActorId) -> ApiResult<Option<Held>> {
    let Some(stored) = state.store.oauth_token(tenant, account).await? else {
        return Ok(None);
    };
    let tokens: StoredTokens =
        serde_json::from_str(stored.tokens.expose_secret()).map_err(|_| sign_in_again())?;
    Ok(Some(Held {
        access: AccessToken::new(tokens.access),
        refresh: tokens.refresh.map(RefreshToken::new),
        expires_at: stored.expires_at,
    }))
}

fn fresh(held: &Held) -> bool {
    held.expires_at.as_unix_millis() - now().as_unix_millis() > REFRESH_MARGIN_MS
}

fn same_refresh(a: Option<&RefreshToken>, b: Option<&RefreshToken>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
        _ => false,
    }
}

/// The caller's credentials for Jira, refreshed when close to expiry.
pub async fn credentials(state: &AppState, caller: &Caller) -> ApiResult<Credentials> {
    credentials_of(state, caller.tenant, &caller.account).await
}

/// A person's credentials for Jira, from what their last sign-in stored, refreshed when close to expiry.
pub async fn credentials_of(
    state: &AppState,
    tenant: TenantId,
    account: &ActorId,
) -> ApiResult<Credentials> {
    let site = state.site(tenant).ok_or_else(ApiError::unauthorized)?;
    let key = (tenant, account.clone());
    let mut held = match state.tokens.get(&key) {
        Some(held) => held,
        None => {
            let held = stored(state, tenant, account)
                .await?
                .ok_or_else(sign_in_again)?;
            state.tokens.put(key.clone(), held.clone());
            held
        }
    };
    if fresh(&held) {
        return Ok(Credentials::new(account.as_str(), held.access));
    }
    // One refresh at a time per person: whoever waited uses what the previous holder stored, and no request
    // ever presents a refresh token that a rotation already spent (which would revoke the whole family).
    let lock = state.tokens.refresh_lock(&key);
    let _refreshing = lock.lock().await;
    // Storage holds the live tokens: the previous holder of the lock, or another node, may have rotated them.
    held = stored(state, tenant, account)
        .await?
        .ok_or_else(sign_in_again)?;
    state.tokens.put(key, held.clone());
    let access = if fresh(&held) {
        held.access
    } else {
        refresh(state, site, account, held.refresh).await?
    };
    Ok(Credentials::new(account.as_str(), access))
}

async fn refresh(
    state: &AppState,
    site: &Site,
    account: &ActorId,
    refresh: Option<RefreshToken>,
) -> ApiResult<AccessToken> {
    let refresh = refresh.ok_or_else(sign_in_again)?;
    match site.auth.refresh(account.as_str(), &refresh).await {
        Ok(tokens) => {
            keep_tokens(state, site.tenant, account, &tokens).await?;
            Ok(tokens.access)
        }
        Err(AuthError::SignInAgain) => {
            state.tokens.forget(site.tenant, account);
            // Only the refused tokens are deleted: newer ones a concurrent sign-in stored stay.
            let current = stored(state, site.tenant, account).await?;
            if current.is_some_and(|c| same_refresh(c.refresh.as_ref(), Some(&refresh))) {
                state.store.delete_oauth_token(site.tenant, account).await?;
            }
            Err(sign_in_again())
        }
        Err(AuthError::Unavailable(_)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "jira-unavailable",
            "the Atlassian sign-in service is not answering; try again shortly",
        )),
        Err(other) => Err(ApiError::internal(&other)),
    }
}

/// The caller as these rules see them: their account, whether they are an arbor admin, and — only when a
/// rule names them — their Jira groups and their membership of the project roles named. Both are read as
/// the caller and cached (arbor-jira's people cache).
pub async fn requester(
    state: &AppState,
    caller: &Caller,
    who: &Credentials,
    rules: &[Rule],
) -> ApiResult<Requester> {
    let site = state
        .site(caller.tenant)
        .ok_or_else(ApiError::unauthorized)?;
    let tenant = jira_tenant(caller.tenant);
    let person: Arc<str> = Arc::from(caller.account.as_str());
    let mut requester = Requester::new(caller.account.as_str());
    requester.is_admin = is_admin(state, caller);
    if rules
        .iter()
        .any(|r| matches!(r.grantee, Grantee::Group { .. }))
    {
        let client = site.loader.client().clone();
        let token = who.token.clone();
        let account = caller.account.as_str().to_owned();
        let groups = state
            .caches
            .people(&tenant, &person, PeopleKind::Groups, async move {
                client.groups(&token, &account).await
            })
            .await?;
        requester.group_ids = groups
            .value
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|g| g["groupId"].as_str().or_else(|| g["name"].as_str()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
    }
    let roles: BTreeSet<(u64, u64)> = rules
        .iter()
        .filter_map(|r| match r.grantee {
            Grantee::ProjectRole {
                project_id,
                role_id,
            } => Some((project_id, role_id)),
            _ => None,
        })
        .collect();
    for (project, role) in roles {
        let client = site.loader.client().clone();
        let token = who.token.clone();
        let kind = PeopleKind::ProjectRole { project, role };
        let answer = state
            .caches
            .people(&tenant, &person, kind, async move {
                match client.project_role(&token, project, role).await {
                    // Jira answers only those who may administer the project, and nothing for a project
                    // or role that does not exist: the rule does not match (kept as such for the TTL).
                    Err(JiraError::NotFound | JiraError::Forbidden { .. }) => {
                        Ok(serde_json::json!({ "currentUserRole": false }))
                    }
                    other => other,
                }
            })
            .await;
        // Any other failure (Jira slow, throttled, down): the rule does not match this time, and is asked
        // again next time. One structure's rules must not fail the requests that merely list it.
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, project, role, "project role membership unknown; the rule does not match");
                continue;
            }
        };
        if answer.value["currentUserRole"] == true {
            requester
                .project_roles
                .entry(project)
                .or_default()
                .insert(role);
        }
    }
    Ok(requester)
}

/// Whether the caller is an arbor admin of their site (admins are per site: one account id may exist on
/// several sites).
pub fn is_admin(state: &AppState, caller: &Caller) -> bool {
    state.site(caller.tenant).is_some_and(|site| {
        site.config
            .admins
            .iter()
            .any(|a| a == caller.account.as_str())
    })
}
