//! Jira's webhooks: deliveries at `POST /jira/webhook/{tenant}` invalidate what the changed issues touched,
//! and a site admin's sign-in keeps the site's webhooks registered.
//!
//! A delivery is believed only with Jira's signature for the site's OAuth app (a JWT signed with its client
//! secret, valid for minutes at most); anything else is 401 and changes nothing. Each token is accepted once
//! by the whole deployment (its identity is kept in storage until it expires; a replay, to any node and under
//! any delivery identifier, is 409), and a body larger than the webhook limit is 413 before it is read.
//!
//! What a delivery applies drops cached issue data and query results (`arbor_jira::webhook`) and the tenant's
//! computed forests, so the next window shows the change with one Jira call for the changed issue. What it
//! invalidated (ids and field names) is appended to storage, from which every other node of the deployment
//! applies it within a second (`coherence`). The body is read for ids and field names only and is never
//! logged.
//!
//! Registration: Jira delivers a webhook only for issues the person who registered it may see (and, for a
//! private OAuth app, only when that person owns the app), so webhooks are registered as a site admin, in the
//! background after each of their sign-ins (they last 30 days; each sign-in refreshes them). Without site
//! admins, or where Jira cannot reach arbor's public address, changes show when cached data expires.

use std::time::{SystemTime, UNIX_EPOCH};

use arbor_core::ids::{ActorId, Timestamp};
use arbor_jira::client::AccessToken;
use arbor_jira::webhook::{Delivery, keep_registered, verify_signature};
use arbor_store::audit::Outcome;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt as _;
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
    body: Body,
) -> ApiResult<StatusCode> {
    let site = state
        .sites
        .iter()
        .find(|site| site.tenant.to_string() == tenant)
        .ok_or_else(|| ApiError::not_found("this server serves no such Jira site"))?;
    let limits = state.config.webhooks;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let secret = site.config.oauth.client_secret.expose_secret().as_bytes();
    let token = match verify_signature(
        authorization,
        secret,
        now_s,
        limits.token_lifetime.as_secs(),
    ) {
        Ok(token) => token,
        Err(refused) => {
            // Anyone may post here: a refusal is not worth more than a debug line.
            tracing::debug!(%refused, "a webhook delivery was refused");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "webhook-unsigned",
                refused.to_string(),
            ));
        }
    };
    let body = read_at_most(&headers, body, limits.body_bytes).await?;
    // Once per token in the whole deployment, whatever the delivery's identifier: a token taken from one
    // delivery cannot bring another (or the same again) to any node. Remembered only once the body was read,
    // so a refused body does not use it up. 409 rather than 401: Jira retries a 409 (not a 401) with a token
    // signed anew, so a genuine delivery whose token matched an earlier one (no `jti`, the same second) is
    // not lost.
    let expires = i64::try_from(token.valid_until_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let new = state
        .store
        .remember_webhook_token(
            site.tenant,
            &token.identity,
            Timestamp::from_unix_millis(expires),
            now(),
        )
        .await
        .map_err(|error| {
            tracing::warn!(%error, "a webhook delivery's token could not be recorded");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "webhook-not-recorded",
                "the delivery could not be recorded for the other nodes of this deployment; retry it",
            )
        })?;
    if !new {
        tracing::debug!("a webhook delivery's token was used before");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "webhook-replayed",
            "this delivery's token was used before: each token is accepted once",
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
            // Jira's retry may come with the same token: it must be taken.
            if let Err(error) = state
                .store
                .forget_webhook_token(site.tenant, &token.identity)
                .await
            {
                tracing::warn!(%error, "a webhook delivery's token could not be forgotten");
            }
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

/// The delivery's body, refused with 413 when it is larger than `limit` bytes: by its `Content-Length`
/// before anything is read, and as it is read otherwise (chunked), so no more than `limit` bytes are ever
/// held.
async fn read_at_most(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "webhook-too-large",
            format!("a webhook delivery may be at most {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let mut read = Vec::new();
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the delivery's body could not be read"))?;
        if read.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        read.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(read))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A body without a declared length (as a chunked one) that never ends, counting the chunks read.
    fn endless(read: &Arc<AtomicUsize>) -> Body {
        let read = Arc::clone(read);
        Body::from_stream(futures_util::stream::repeat_with(move || {
            read.fetch_add(1, Ordering::Relaxed);
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1024]))
        }))
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_without_being_read_whole() {
        let read = Arc::new(AtomicUsize::new(0));
        let refused = read_at_most(&HeaderMap::new(), endless(&read), 4096)
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::Relaxed), 5, "read up to the limit only");

        // A declared length over the limit: refused before anything is read.
        let read = Arc::new(AtomicUsize::new(0));
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, "4097".parse().unwrap());
        let refused = read_at_most(&headers, endless(&read), 4096)
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(read.load(Ordering::Relaxed), 0);

        let fits = read_at_most(&HeaderMap::new(), Body::from(vec![b'y'; 4096]), 4096).await;
        assert_eq!(fits.unwrap().len(), 4096);
    }
}
