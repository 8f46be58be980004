//! Jira's webhooks: deliveries at `POST /jira/webhook/{tenant}` invalidate what the changed issues touched,
//! and a site admin's sign-in keeps the site's webhooks registered.
//!
//! A delivery is believed only with Jira's signature for the site's OAuth app (a JWT signed with its client
//! secret); anything else is 401 and changes nothing. What a delivery applies drops cached issue data and
//! query results (`arbor_jira::webhook`) and the tenant's computed forests, so the next window shows the
//! change with one Jira call for the changed issue. What it invalidated (ids and field names) is appended to
//! storage, from which every other node of the deployment applies it within a second (`coherence`). The body
//! is read for ids and field names only and is never logged.
//!
//! Registration: Jira delivers a webhook only for issues the person who registered it may see (and, for a
//! private OAuth app, only when that person owns the app), so webhooks are registered as a site admin, in the
//! background after each of their sign-ins (they last 30 days; each sign-in refreshes them). Without site
//! admins, or where Jira cannot reach arbor's public address, changes show when cached data expires.

use std::time::{SystemTime, UNIX_EPOCH};

use arbor_core::ids::ActorId;
use arbor_jira::client::AccessToken;
use arbor_jira::webhook::{Delivery, keep_registered, verify_signature};
use arbor_store::audit::Outcome;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use secrecy::ExposeSecret;
use url::Url;

use crate::audit::{self, Who};
use crate::coherence;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Site, jira_tenant, now};

/// Where Jira delivers a tenant's webhooks.
pub fn delivery_url(state: &AppState, site: &Site) -> Result<Url, url::ParseError> {
    state
        .config
        .public_url
        .join(&format!("/jira/webhook/{}", site.tenant))
}

/// `POST /jira/webhook/{tenant}`: one delivery from Jira.
pub async fn receive(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let site = state
        .sites
        .iter()
        .find(|site| site.tenant.to_string() == tenant)
        .ok_or_else(|| ApiError::not_found("this server serves no such Jira site"))?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let secret = site.config.oauth.client_secret.expose_secret().as_bytes();
    if let Err(refused) = verify_signature(authorization, secret, now_s) {
        // Anyone may post here: a refusal is not worth more than a debug line.
        tracing::debug!(%refused, "a webhook delivery was refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "webhook-unsigned",
            refused.to_string(),
        ));
    }
    let identifier = headers
        .get("x-atlassian-webhook-identifier")
        .and_then(|v| v.to_str().ok());
    let tenant = jira_tenant(site.tenant);
    let delivery = site
        .webhooks
        .receive(&tenant, identifier, &body)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Delivery::Applied { invalidation } = &delivery {
        state.computed.forget_tenant(site.tenant);
        // The other nodes apply it from storage (`coherence`). Without that the delivery is not done: Jira
        // is asked to retry, and the retry is applied (and shared) again.
        let shared = state
            .store
            .append_invalidation(site.tenant, &coherence::to_store(invalidation), now())
            .await;
        if let Err(error) = shared {
            tracing::warn!(%error, "a webhook delivery could not be shared with the other nodes");
            site.webhooks.forget(&tenant, identifier, &body).await;
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "webhook-not-shared",
                "the delivery could not be recorded for the other nodes of this deployment; retry it",
            ));
        }
        tracing::debug!(
            issues = invalidation.issues.len(),
            "a webhook delivery was applied"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// After a site admin signs in: registers, refreshes or replaces the site's webhooks as them, in the
/// background, one registration of a site at a time; the outcome is audited as the admin's and logged (never
/// the token).
pub fn keep_registered_as(state: &AppState, site_index: usize, admin: ActorId, token: AccessToken) {
    let state = state.clone();
    tokio::spawn(async move {
        let Some(site) = state.sites.get(site_index) else {
            return;
        };
        let url = match delivery_url(&state, site) {
            Ok(url) => url,
            Err(error) => {
                tracing::warn!(%error, "no webhook address can be made from the public URL");
                return;
            }
        };
        let _one_at_a_time = site.webhook_registration.lock().await;
        let outcome = match keep_registered(site.loader.client(), &token, &url).await {
            Ok(done) => {
                tracing::info!(
                    registered = done.registered,
                    refreshed = done.refreshed,
                    removed = done.removed,
                    "Jira webhooks kept"
                );
                Outcome::Ok
            }
            Err(error) => {
                tracing::warn!(%error, "Jira webhooks could not be registered");
                Outcome::Failed
            }
        };
        let who = Who {
            tenant: Some(site.tenant),
            actor: Some(&admin),
            client: None,
            request_id: None,
        };
        if audit::record(&state, who, "jira.webhooks", &[url.as_str()], outcome)
            .await
            .is_err()
        {
            tracing::warn!("the webhook registration could not be audited");
        }
    });
}
