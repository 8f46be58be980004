//! arbor-jira against jira-sim started in-process: the client, retries and limits, sign-in, the loader with
//! its caches, webhook and polling invalidation, and stale serving.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions: a panic is a failed test

mod auth;
mod client;
mod loader;
mod webhook;

use std::time::Duration;

use arbor_jira::client::{
    AccessToken, ApiBase, ClientConfig, Credentials, JiraClient, TenantId, Tenants,
};
use arbor_jira::retry::RetryPolicy;
use jira_sim::server::{self, Controls, DataSource, RunningSim, SimConfig};
use url::Url;

/// A synthetic site of 2000 issues, quota and burst limits off unless a test sets them.
pub(crate) async fn sim() -> RunningSim {
    let mut config = SimConfig::new(DataSource::Synthetic {
        issues: 2000,
        seed: 7,
    });
    config.controls = quiet_controls();
    server::start(config).await.unwrap()
}

pub(crate) fn quiet_controls() -> Controls {
    let mut controls = Controls::default();
    controls.quota.hourly_points = 0;
    controls.quota.burst_per_second = 0;
    controls.webhooks.duplicate_probability = 0.0;
    controls
}

/// Quick retries, so that fault tests stay short.
pub(crate) fn config() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        concurrency: 8,
        retry: RetryPolicy {
            max_retries: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            max_quota_wait: Duration::from_secs(2),
        },
    }
}

pub(crate) fn client(sim: &RunningSim, tenants: &Tenants, config: &ClientConfig) -> JiraClient {
    JiraClient::new(
        TenantId::new("site-a"),
        ApiBase::Site(Url::parse(sim.base_url()).unwrap()),
        config,
        tenants,
    )
    .unwrap()
}

/// A signed-in person, as if after 3LO.
pub(crate) fn person(sim: &RunningSim, name: &str) -> Credentials {
    let token = sim.handle().mint_token(name, "arbor-test").unwrap();
    let account_id = sim.handle().with_site(|site| {
        site.person_by_name(name)
            .map(|p| site.person(p).account_id.to_string())
            .unwrap()
    });
    Credentials::new(&account_id, AccessToken::new(token))
}

/// The simulator's total request count.
pub(crate) fn sim_requests(sim: &RunningSim) -> u64 {
    sim.handle().stats()["total"]["requests"].as_u64().unwrap()
}
