//! The simulator's HTTP server: Jira Cloud REST v3 under `/rest/api/3` (and `/ex/jira/{cloudId}/rest/api/3`), the
//! OAuth 2.0 (3LO) endpoints of auth.atlassian.com and api.atlassian.com, and the `/_sim` admin API.
//!
//! [`start`] builds the site, binds a listener and serves until [`RunningSim::shutdown`]. Everything the handlers
//! share lives in one [`Shared`] behind an `Arc`:
//! - the site under a `RwLock` (never held across an `.await`; writes are short),
//! - tokens, limits, statistics, recent changes, paging snapshots and webhooks, each under its own `Mutex` held
//!   only for a few map operations.
//!
//! Invariants:
//! - Every `/rest/api/3` request passes through [`http::api_layer`]: authentication as one person, latency and
//!   fault injection, rate limits, points accounting and statistics, in that order.
//! - A request acts as the token's person: nothing it returns is about an issue that person may not browse.
//! - All randomness (tokens aside) comes from one seeded generator, so that fault and duplicate patterns repeat
//!   for a seed.

mod admin;
mod auth;
mod http;
mod issues;
mod limits;
mod meta;
mod parse;
mod search;
mod webhooks;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post, put};
use axum::serve::ListenerExt;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::model::{self, Millis, Site};
use crate::site::SiteFile;
use crate::synthetic::{self, SplitMix64};

pub use limits::{FaultKind, FaultRule, Quota};
pub use webhooks::WebhookControls;

/// Errors of starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Data(#[from] model::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("cannot make the webhook client: {0}")]
    WebhookClient(#[source] reqwest::Error),
    #[error("no person {0} on the site")]
    NoPerson(String),
    #[error("cannot generate random bytes: {0}")]
    Random(String),
}

/// Where the issues come from.
#[derive(Clone)]
pub enum DataSource {
    /// A TiDev archive directory (`issues.jsonl.gz`, `projects.json`).
    Tidev(PathBuf),
    /// A synthetic site of `issues` issues.
    Synthetic { issues: usize, seed: u64 },
    /// An already built site; the site file is applied only when [`SimConfig::site_file`] is given.
    Site(Box<Site>),
}

impl std::fmt::Debug for DataSource {
    /// A built site shows its size, not its issues.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tidev(dir) => f.debug_tuple("Tidev").field(dir).finish(),
            Self::Synthetic { issues, seed } => f
                .debug_struct("Synthetic")
                .field("issues", issues)
                .field("seed", seed)
                .finish(),
            Self::Site(site) => write!(f, "Site({} issues)", site.issues.len()),
        }
    }
}

/// How the simulator behaves; readable and replaceable at run time through `/_sim/controls`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Controls {
    /// Every `/rest/api/3` call is answered no sooner than this after it arrived: Jira's response time, the
    /// simulator's own work included.
    pub latency_ms: u64,
    /// A uniform random extra delay in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Injected faults, tried in order; the first rule that fires decides.
    pub faults: Vec<FaultRule>,
    pub quota: Quota,
    /// After a write, searches keep answering from the state before it for this long (0 = consistent).
    pub consistency_window_ms: u64,
    pub webhooks: WebhookControls,
}

/// Everything [`start`] needs. `Debug` leaves out the admin token.
#[derive(Clone)]
pub struct SimConfig {
    pub data: DataSource,
    /// A site file (TOML or JSON); the built-in default site when `None` (except for [`DataSource::Site`]).
    pub site_file: Option<PathBuf>,
    pub host: IpAddr,
    /// 0 = any free port.
    pub port: u16,
    /// The secret of the admin API; generated when `None`.
    pub admin_token: Option<String>,
    /// Lifetime of access tokens.
    pub token_lifetime: Duration,
    /// Seeds latency jitter, faults and webhook duplicates.
    pub seed: u64,
    pub controls: Controls,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("data", &self.data)
            .field("site_file", &self.site_file)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field("token_lifetime", &self.token_lifetime)
            .field("seed", &self.seed)
            .field("controls", &self.controls)
            .finish()
    }
}

impl SimConfig {
    /// A configuration for `data` with every other setting at its default.
    #[must_use]
    pub fn new(data: DataSource) -> Self {
        Self {
            data,
            site_file: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            admin_token: None,
            token_lifetime: Duration::from_secs(3600),
            seed: 1,
            controls: Controls::default(),
        }
    }
}

/// State shared by every handler. `Debug` shows where it serves, never tokens.
pub(crate) struct Shared {
    site: RwLock<Site>,
    pub(crate) cloud_id: String,
    pub(crate) base_url: String,
    pub(crate) site_name: String,
    admin_token: String,
    token_lifetime: Duration,
    controls: RwLock<Controls>,
    pub(crate) auth: Mutex<auth::AuthStore>,
    pub(crate) limits: Mutex<limits::Limiter>,
    pub(crate) stats: Arc<Mutex<limits::Stats>>,
    pub(crate) changes: Mutex<search::ChangeLog>,
    pub(crate) pages: Mutex<search::PageCache>,
    pub(crate) webhooks: Mutex<webhooks::WebhookStore>,
    rng: Mutex<SplitMix64>,
    /// Added to the wall clock: lets tests expire tokens and webhooks without waiting.
    clock_offset_ms: AtomicI64,
    /// Delivers webhooks, checking the receiver's certificate.
    pub(crate) http: reqwest::Client,
    /// Delivers webhooks to receivers with any certificate (`webhooks.trustAnyCertificate`).
    pub(crate) http_any_certificate: reqwest::Client,
    /// Keys the paging-token checksums.
    pub(crate) page_secret: u64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.base_url)
            .field("cloud_id", &self.cloud_id)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical section leaves the data
/// consistent before it can panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn site(&self) -> RwLockReadGuard<'_, Site> {
        self.site
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn site_mut(&self) -> RwLockWriteGuard<'_, Site> {
        self.site
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn controls(&self) -> Controls {
        self.controls
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_controls(&self, controls: Controls) {
        *self
            .controls
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = controls;
    }

    /// The simulator's clock: wall time plus the test offset, in milliseconds since the epoch.
    pub(crate) fn now_ms(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        wall.saturating_add(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// A uniform number in `0..n` from the seeded generator.
    pub(crate) fn random_below(&self, n: u64) -> u64 {
        lock(&self.rng).below(n)
    }

    /// True with probability `p` from the seeded generator.
    pub(crate) fn chance(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        #[allow(clippy::cast_precision_loss)]
        let x = (lock(&self.rng).next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }
}

/// Random bytes as lower-case hex, for secrets and tokens.
pub(crate) fn random_hex(bytes: usize) -> Result<String, SimError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| SimError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A stable UUID-shaped id for a site, derived from its original base URL.
fn cloud_id_for(base_url: &str) -> String {
    let a = model::fnv1a64(format!("cloud:{base_url}").as_bytes());
    let b = model::fnv1a64(format!("id:{base_url}").as_bytes());
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Builds the site a configuration asks for.
pub fn build_site(config: &SimConfig) -> Result<Site, SimError> {
    let mut site = match &config.data {
        DataSource::Tidev(dir) => crate::import::load_tidev(dir)?,
        DataSource::Synthetic { issues, seed } => synthetic::generate(*issues, *seed),
        DataSource::Site(site) => (**site).clone(),
    };
    match (&config.site_file, &config.data) {
        (Some(path), _) => SiteFile::read(path)?.apply(&mut site)?,
        (None, DataSource::Site(_)) => {}
        (None, _) => SiteFile::default_site()?.apply(&mut site)?,
    }
    Ok(site)
}

/// A running simulator.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    handle: SimHandle,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Controls, statistics and tokens of a running simulator, for tests and tools in the same process.
#[derive(Debug, Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl RunningSim {
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.handle.shared.base_url
    }

    #[must_use]
    pub fn admin_token(&self) -> &str {
        &self.handle.shared.admin_token
    }

    #[must_use]
    pub fn cloud_id(&self) -> &str {
        &self.handle.shared.cloud_id
    }

    #[must_use]
    pub fn handle(&self) -> &SimHandle {
        &self.handle
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result.map_err(SimError::Serve),
            Err(e) => Err(SimError::Serve(std::io::Error::other(e.to_string()))),
        }
    }
}

impl SimHandle {
    /// Mints an access token for a person (by account id or user name), as if they had signed in through 3LO
    /// with the OAuth client `client_id` and every scope arbor uses.
    pub fn mint_token(&self, person: &str, client_id: &str) -> Result<String, SimError> {
        let p = {
            let site = self.shared.site();
            site.person_by_account_id(person)
                .or_else(|| site.person_by_name(person))
                .ok_or_else(|| SimError::NoPerson(person.to_owned()))?
        };
        let grant = auth::Grant {
            person: p,
            client_id: client_id.to_owned(),
            scopes: auth::ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        };
        Ok(auth::issue_access(&self.shared, &grant)?.0)
    }

    /// The statistics as `/_sim/stats` shows them.
    #[must_use]
    pub fn stats(&self) -> serde_json::Value {
        lock(&self.shared.stats).to_json()
    }

    pub fn reset_stats(&self) {
        lock(&self.shared.stats).reset();
    }

    #[must_use]
    pub fn controls(&self) -> Controls {
        self.shared.controls()
    }

    /// Replaces the controls; quotas and limits restart from zero.
    pub fn set_controls(&self, controls: Controls) {
        self.shared.set_controls(controls);
        lock(&self.shared.limits).reset();
    }

    /// Moves the simulator's clock forward (token and webhook expiry, quota windows).
    pub fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.shared.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Reads the site.
    pub fn with_site<T>(&self, f: impl FnOnce(&Site) -> T) -> T {
        f(&self.shared.site())
    }
}

/// Builds the site, binds the listener and serves in a background task.
pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
    let site = build_site(&config)?;
    start_with_site(config, site).await
}

/// Serves an already built site (the site file of `config` is not applied again).
pub async fn start_with_site(config: SimConfig, mut site: Site) -> Result<RunningSim, SimError> {
    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let base_url = format!("http://{addr}");
    let cloud_id = cloud_id_for(&site.base_url);
    let site_name = site
        .base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('.')
        .next()
        .unwrap_or("jira-sim")
        .to_owned();
    // Self links point at the simulator, so that clients following them reach it.
    site.base_url.clone_from(&base_url);
    let admin_token = match config.admin_token.clone() {
        Some(t) => t,
        None => random_hex(24)?,
    };
    let page_secret = u64::from_str_radix(&random_hex(8)?, 16).unwrap_or(0x5eed);
    let shared = Arc::new(Shared {
        site: RwLock::new(site),
        cloud_id,
        base_url,
        site_name,
        admin_token,
        token_lifetime: config.token_lifetime,
        controls: RwLock::new(config.controls.clone()),
        auth: Mutex::new(auth::AuthStore::default()),
        limits: Mutex::new(limits::Limiter::default()),
        stats: Arc::new(Mutex::new(limits::Stats::default())),
        changes: Mutex::new(search::ChangeLog::default()),
        pages: Mutex::new(search::PageCache::default()),
        webhooks: Mutex::new(webhooks::WebhookStore::default()),
        rng: Mutex::new(SplitMix64::new(config.seed ^ 0x51a1_u64)),
        clock_offset_ms: AtomicI64::new(0),
        http: reqwest::Client::new(),
        http_any_certificate: reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .map_err(SimError::WebhookClient)?,
        page_secret,
    });
    let app = router(Arc::clone(&shared));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Answers go out as soon as they are written, as Jira's servers send them (no Nagle delay).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningSim {
        addr,
        handle: SimHandle { shared },
        shutdown: Some(tx),
        task,
    })
}

/// The Jira REST routes, relative to `/rest/api/3`.
fn api_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/search/jql",
            get(search::search_get).post(search::search_post),
        )
        .route("/search/approximate-count", post(search::approximate_count))
        .route("/jql/parse", post(parse::parse))
        .route("/search", get(search::gone).post(search::gone))
        .route("/issue/bulkfetch", post(issues::bulkfetch))
        .route(
            "/issue/{issueIdOrKey}",
            get(issues::get_issue)
                .put(issues::edit_issue)
                .delete(issues::delete_issue),
        )
        .route("/issueLink", post(issues::create_link))
        .route(
            "/issueLink/{linkId}",
            get(issues::get_link).delete(issues::delete_link),
        )
        .route("/field", get(meta::fields))
        .route("/issuetype", get(meta::issue_types))
        .route("/issueLinkType", get(meta::link_types))
        .route("/status", get(meta::statuses))
        .route("/priority", get(meta::priorities))
        .route("/project/search", get(meta::project_search))
        .route("/myself", get(meta::myself))
        .route("/user", get(meta::user))
        .route("/user/bulk", get(meta::user_bulk))
        .route("/user/search", get(meta::user_search))
        .route("/user/groups", get(meta::user_groups))
        .route("/group/member", get(meta::group_members))
        .route("/group/bulk", get(meta::group_bulk))
        .route("/groups/picker", get(meta::groups_picker))
        .route("/project/{projectIdOrKey}/role", get(meta::project_roles))
        .route(
            "/project/{projectIdOrKey}/role/{id}",
            get(meta::project_role),
        )
        .route(
            "/project/{projectIdOrKey}/roledetails",
            get(meta::project_role_details),
        )
        .route("/role/{id}", get(meta::role))
        .route("/mypermissions", get(meta::my_permissions))
        .route("/permissions/check", post(meta::permissions_check))
        .route(
            "/webhook",
            get(webhooks::list)
                .post(webhooks::register)
                .delete(webhooks::delete),
        )
        .route("/webhook/refresh", put(webhooks::refresh))
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .nest("/rest/api/3", api_routes())
        .nest("/ex/jira/{cloudId}/rest/api/3", api_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            http::api_layer,
        ));
    let admin = admin::routes().route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&shared),
        http::admin_layer,
    ));
    Router::new()
        .merge(api)
        .nest("/_sim", admin)
        .merge(auth::routes())
        .fallback(http::not_found)
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_admin_token_and_site_contents() {
        let mut config = SimConfig::new(DataSource::Site(Box::new(synthetic::generate(30, 1))));
        config.admin_token = Some("very-secret".into());
        let text = format!("{config:?}");
        assert!(!text.contains("very-secret") && text.contains("***"));
        assert!(text.contains("Site(30 issues)"));
    }

    #[test]
    fn cloud_ids_are_stable_and_uuid_shaped() {
        let id = cloud_id_for("https://arbor-sim.atlassian.net");
        assert_eq!(id, cloud_id_for("https://arbor-sim.atlassian.net"));
        assert_ne!(id, cloud_id_for("https://other.atlassian.net"));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }
}
