//! What the server needs to know, as typed values. The `arbor` binary builds this from its configuration
//! file; tests and `arbor demo` build it directly.

use std::time::Duration;

use arbor_core::effective::Limits as EngineLimits;
use arbor_jira::auth::OAuthConfig;
use arbor_jira::cache::CacheConfig;
use arbor_jira::client::{ApiBase, ClientConfig};
use url::Url;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The origin people use (`https://arbor.example.com`): the OAuth callback is built from it and
    /// state-changing requests must come from it.
    pub public_url: Url,
    /// The Jira sites this deployment serves; each is one tenant.
    pub sites: Vec<SiteConfig>,
    pub sessions: SessionConfig,
    pub limits: RequestLimits,
    pub content: ContentLimits,
    pub connections: ConnectionLimits,
    pub webhooks: WebhookLimits,
    pub caches: CacheConfig,
    pub client: ClientConfig,
    pub engine: EngineLimits,
    /// How long a computed effective forest is reused for the same person, structure version and view before
    /// it is computed again (the issue data under it has its own, longer TTLs).
    pub forest_reuse: Duration,
    /// The bearer token a Prometheus scraper presents for `/metrics`; without one, metrics are off.
    pub metrics_token: Option<secrecy::SecretString>,
}

/// One Jira site: where its REST API is and how people sign in to it.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// The site's URL as accessible-resources reports it; the tenant's key in storage.
    pub site_url: Url,
    pub api: ApiBase,
    pub oauth: OAuthConfig,
    /// The site's story point field (`customfield_10016` on most Cloud sites).
    pub story_points_field: String,
    /// The site's rank field (`customfield_10019` on most Cloud sites).
    pub rank_field: String,
    /// Account ids of this site's arbor admins: Control on every structure of the site.
    pub admins: Vec<String>,
    /// How often to ask Jira, as a site admin, which issues changed (`None`: never; at least a minute).
    pub poll: Option<Duration>,
}

impl SiteConfig {
    /// A jira-sim site at `base`: its REST API, its sign-in service, the usual Cloud field ids, no admins, and
    /// a client secret of its own ([`random_client_secret`]).
    pub fn simulated(
        base: &str,
        callback: Url,
        client_id: &str,
    ) -> Result<Self, arbor_jira::auth::AuthError> {
        let site_url = Url::parse(base)
            .map_err(|_| arbor_jira::auth::AuthError::Config("the simulator's URL is not a URL"))?;
        Ok(Self {
            api: ApiBase::Site(site_url.clone()),
            site_url,
            oauth: OAuthConfig::at(client_id, random_client_secret()?, callback, base, base)?,
            story_points_field: "customfield_10016".into(),
            rank_field: "customfield_10019".into(),
            admins: Vec::new(),
            poll: None,
        })
    }
}

/// A new random OAuth client secret (32 bytes, hex). jira-sim takes the secret an app signs in with and signs
/// the app's webhook deliveries with it: a secret of its own per simulated site (each demo) is what keeps
/// anyone who knows arbor's code from forging deliveries to it.
pub fn random_client_secret() -> Result<secrecy::SecretString, arbor_jira::auth::AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| {
        arbor_jira::auth::AuthError::Config("no randomness for the simulated site's client secret")
    })?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(hex.into())
}

#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// A session not used for this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// The largest request body accepted.
    pub body_bytes: usize,
    /// How long one request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Requests per minute from one client address (before sign-in too).
    pub per_client_per_minute: u32,
    /// Requests per minute of one signed-in person.
    pub per_person_per_minute: u32,
    /// Jira calls per minute made for one signed-in person. A cold open of a 100,000-row structure spends
    /// about 1,100 (bulk fetches of 100), so the default lets one person do that once a minute.
    pub jira_calls_per_person_per_minute: u32,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            body_bytes: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            per_client_per_minute: 6000,
            per_person_per_minute: 3000,
            jira_calls_per_person_per_minute: 1200,
        }
    }
}

/// How much people may store, checked before any work is done. Generated rows are not stored and are not
/// limited here (the engine has its own limits).
#[derive(Debug, Clone, Copy)]
pub struct ContentLimits {
    /// Stored rows of one structure.
    pub rows_per_structure: u64,
    /// Rows one edit may create (an add, or a copy of subtrees).
    pub rows_per_edit: u64,
    pub generators_per_structure: u64,
    pub views_per_structure: u64,
    /// Structures one person may own.
    pub structures_per_person: u64,
    /// Bytes a tenant's content may take in storage (structures, forests, configurations, change journal).
    pub tenant_storage_bytes: u64,
    /// A structure's content not used for this long is dropped from memory (read again from storage on use).
    pub content_idle: Duration,
}

impl Default for ContentLimits {
    fn default() -> Self {
        Self {
            rows_per_structure: 500_000,
            rows_per_edit: 100_000,
            generators_per_structure: 100,
            views_per_structure: 100,
            structures_per_person: 500,
            tenant_storage_bytes: 1 << 30,
            content_idle: Duration::from_secs(10 * 60),
        }
    }
}

/// Bounds on connections, enforced before and between requests, so that connections that send nothing cannot pile
/// up. The defaults follow established servers (nginx, Apache httpd, hyper).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time for the TLS handshake of a new connection.
    pub tls_handshake_timeout: Duration,
    /// Time for a request's head on HTTP/1.1, counted from when the connection is ready for one: after the
    /// handshake, or after the previous answer (so it also closes keep-alive connections idle that long).
    pub header_read_timeout: Duration,
    /// A connection (HTTP/1.1 or HTTP/2) with no request in progress and nothing sent to the client for this long
    /// is closed.
    pub idle_timeout: Duration,
    /// Connections open at once (on each listener); more are closed as soon as they are accepted.
    pub max: usize,
    /// Connections open at once from one client address (a shared proxy or office NAT counts as one client).
    pub max_per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max: 1024,
            max_per_client: 128,
        }
    }
}

/// What a Jira webhook delivery may be.
#[derive(Debug, Clone, Copy)]
pub struct WebhookLimits {
    /// The largest delivery body accepted (Jira's events are a few KiB); a larger one is refused before it
    /// is read.
    pub body_bytes: usize,
    /// The longest a delivery's token may be valid from its issue (Jira's are valid for minutes).
    pub token_lifetime: Duration,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        Self {
            body_bytes: 1024 * 1024,
            token_lifetime: Duration::from_secs(10 * 60),
        }
    }
}

impl ServerConfig {
    /// Defaults for everything but where the server is and which sites it serves.
    pub fn new(public_url: Url, sites: Vec<SiteConfig>) -> Self {
        Self {
            public_url,
            sites,
            sessions: SessionConfig::default(),
            limits: RequestLimits::default(),
            content: ContentLimits::default(),
            connections: ConnectionLimits::default(),
            webhooks: WebhookLimits::default(),
            caches: CacheConfig::default(),
            client: ClientConfig::default(),
            engine: EngineLimits::default(),
            forest_reuse: Duration::from_secs(15),
            metrics_token: None,
        }
    }

    /// The OAuth callback URL: `{public_url}/auth/callback`.
    pub fn callback_url(&self) -> Result<Url, url::ParseError> {
        self.public_url.join("/auth/callback")
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn every_simulated_site_gets_a_client_secret_of_its_own() {
        let site = || {
            let callback = Url::parse("https://127.0.0.1/auth/callback").unwrap();
            SiteConfig::simulated("http://127.0.0.1:1/", callback, "arbor-demo").unwrap()
        };
        let (one, two) = (site(), site());
        let secret = |site: &SiteConfig| site.oauth.client_secret.expose_secret().to_owned();
        assert_ne!(secret(&one), secret(&two));
        assert_eq!(secret(&one).len(), 64);
    }
}
