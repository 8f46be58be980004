//! Polling Jira for changes, for what webhooks do not bring (Jira cannot reach arbor, or a change the
//! registering admin may not see): every `SiteConfig::poll`, ask Jira as one of the site's admins — the first
//! whose stored sign-in still works — which issues were updated lately (`arbor_jira::poll::Poller`), drop them
//! from the caches and, when any changed, the tenant's computed forests.
//!
//! The poll sees what that admin may see; other changes show when cached data expires. A site without admins
//! who have signed in is not polled. Failures are logged (without tokens) and retried at the next interval.

use arbor_core::ids::ActorId;
use arbor_jira::client::JiraError;
use arbor_jira::poll::Poller;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::people;
use crate::state::AppState;

/// Starts one polling task per site that asks for it; each ends when `stopped` changes or is dropped.
pub fn spawn(state: &AppState, stopped: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    (0..state.sites.len())
        .filter_map(|index| {
            let interval = state.sites[index].config.poll?;
            let state = state.clone();
            let mut stopped = stopped.clone();
            Some(tokio::spawn(async move {
                let site = &state.sites[index];
                let poller =
                    Poller::new(site.loader.client().clone(), state.caches.clone(), interval);
                let mut ticks = tokio::time::interval(poller.interval());
                // After a long wait (a quota pause), one poll, not every one missed.
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                // The first tick is at once; the caches are empty then.
                ticks.tick().await;
                loop {
                    tokio::select! {
                        _ = ticks.tick() => poll_once(&state, index, &poller).await,
                        _ = stopped.changed() => return,
                    }
                }
            }))
        })
        .collect()
}

/// One poll as the first admin whose credentials work: one Jira no longer accepts (revoked, or a sign-in
/// that lapsed) gives way to the next.
async fn poll_once(state: &AppState, index: usize, poller: &Poller) {
    let site = &state.sites[index];
    for admin in &site.config.admins {
        let Ok(account) = ActorId::new(admin) else {
            continue;
        };
        let Ok(who) = people::credentials_of(state, site.tenant, &account).await else {
            continue;
        };
        match poller.poll_once(&who).await {
            Ok(0) => {}
            Ok(changed) => {
                state.computed.forget_tenant(site.tenant);
                tracing::debug!(changed, "polling Jira found changed issues");
            }
            Err(JiraError::Unauthorized | JiraError::Forbidden { .. }) => continue,
            Err(error) => tracing::warn!(%error, "polling Jira for changes failed"),
        }
        return;
    }
}
