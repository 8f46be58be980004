//! The state every handler shares: storage, the Jira layer per site, and the server's in-memory caches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arbor_core::ids::Timestamp;
use arbor_core::permission::Rule;
use arbor_jira::auth::Auth;
use arbor_jira::cache::Caches;
use arbor_jira::client::{JiraClient, Tenants};
use arbor_jira::loader::{Loader, LoaderConfig};
use arbor_jira::webhook::WebhookReceiver;
use arbor_store::Store;
use arbor_store::model::{Session, StructureId, StructureMeta, TenantId};

use crate::compute::Computed;
use crate::config::{ServerConfig, SiteConfig};
use crate::content::Contents;
use crate::limits::RateLimits;
use crate::metrics::Metrics;
use crate::people::Tokens;
use crate::recent::Recent;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no Jira site is configured")]
    NoSite,
    #[error("storage: {0}")]
    Store(#[from] arbor_store::StoreError),
    #[error("Jira client for {site}: {reason}")]
    Jira { site: String, reason: String },
    #[error("the public URL cannot form the sign-in callback: {0}")]
    Callback(url::ParseError),
}

/// One Jira site served by this deployment: its tenant and its Jira layer.
#[derive(Debug)]
pub struct Site {
    pub tenant: TenantId,
    pub config: SiteConfig,
    pub auth: Auth,
    pub loader: Loader,
    pub webhooks: WebhookReceiver,
    /// Held while the site's webhooks are registered: two admins signing in at once do not both register.
    pub webhook_registration: tokio::sync::Mutex<()>,
}

/// Shared by every handler; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub sites: Vec<Site>,
    pub caches: Caches,
    pub jira: Tenants,
    pub metrics: Metrics,
    pub limits: RateLimits,
    pub usage: crate::budget::Usage,
    pub tokens: Tokens,
    pub contents: Contents,
    pub computed: Computed,
    pub reads: crate::audit::Reads,
    /// Sessions by tenant and token hash, as read in the last second.
    pub sessions: Recent<(TenantId, [u8; 32]), Session>,
    /// Structures with their permission rules, as read in the last second.
    pub structures: Recent<(TenantId, StructureId), Arc<Described>>,
    shutting_down: AtomicBool,
}

/// A structure's description and the rules that decide who may do what with it.
#[derive(Debug)]
pub struct Described {
    pub meta: StructureMeta,
    pub rules: Vec<Rule>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connects every configured site to its tenant (creating tenants on first start).
    pub async fn new(config: ServerConfig, store: Arc<dyn Store>) -> Result<Self, StartError> {
        if config.sites.is_empty() {
            return Err(StartError::NoSite);
        }
        let caches = Caches::new(config.caches);
        let jira = Tenants::new();
        let callback = config.callback_url().map_err(StartError::Callback)?;
        let mut sites = Vec::with_capacity(config.sites.len());
        for site in &config.sites {
            let key = site.site_url.as_str().trim_end_matches('/').to_owned();
            let tenant = match store.tenant_by_site(&key).await? {
                Some(tenant) => tenant.id,
                None => store.create_tenant(&key, now()).await?,
            };
            let failed = |reason: String| StartError::Jira {
                site: key.clone(),
                reason,
            };
            let client =
                JiraClient::new(jira_tenant(tenant), site.api.clone(), &config.client, &jira)
                    .map_err(|e| failed(e.to_string()))?;
            let loader = Loader::new(
                client,
                caches.clone(),
                LoaderConfig {
                    fetch_concurrency: 2 * config.client.concurrency,
                    ..LoaderConfig::default()
                },
            );
            let mut oauth = site.oauth.clone();
            oauth.redirect_uri = callback.clone();
            let auth = Auth::new(oauth, &config.client).map_err(|e| failed(e.to_string()))?;
            sites.push(Site {
                tenant,
                config: site.clone(),
                auth,
                loader,
                webhooks: WebhookReceiver::new(caches.clone()),
                webhook_registration: tokio::sync::Mutex::new(()),
            });
        }
        Ok(Self(Arc::new(Inner {
            limits: RateLimits::new(&config.limits),
            usage: crate::budget::Usage::default(),
            computed: Computed::new(config.forest_reuse),
            config,
            store,
            sites,
            caches,
            jira,
            metrics: Metrics::default(),
            tokens: Tokens::default(),
            contents: Contents::default(),
            reads: crate::audit::Reads::default(),
            sessions: Recent::new(),
            structures: Recent::new(),
            shutting_down: AtomicBool::new(false),
        })))
    }

    /// The site of a tenant, if this deployment serves it.
    pub fn site(&self, tenant: TenantId) -> Option<&Site> {
        self.sites.iter().find(|s| s.tenant == tenant)
    }

    /// Marks the server as stopping: `/readyz` fails so load balancers stop sending requests.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

/// The Jira layer's name for a tenant.
pub fn jira_tenant(tenant: TenantId) -> arbor_jira::client::TenantId {
    arbor_jira::client::TenantId::new(&tenant.to_string())
}

/// The current time as stored timestamps carry it.
pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_unix_millis(millis)
}
