//! `arbor serve`: the configured site, storage and TLS wired into arbor-server, until interrupted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use arbor_jira::auth::OAuthConfig;
use arbor_jira::client::ApiBase;
use arbor_server::config::ConnectionLimits;
use arbor_server::tls::{CertSource, DEFAULT_SELF_SIGNED_HOSTS, Tls};
use arbor_server::{AppState, ServerConfig, SiteConfig};
use arbor_store::Store;
use secrecy::SecretString;
use url::Url;

use crate::config::{Config, ConnectionSettings};
use crate::storage;

/// The server's settings from the configuration.
pub fn server_config(config: &Config) -> anyhow::Result<ServerConfig> {
    let jira = &config.jira;
    if jira.site_url.is_empty() {
        bail!(
            "no Jira site is configured: set jira.site_url (or try `arbor demo`, which needs none)"
        );
    }
    let site_url = Url::parse(&jira.site_url).context("jira.site_url is not a URL")?;
    let Some(secret) = jira.client_secret.expose() else {
        bail!("no OAuth client secret is configured: set ARBOR_JIRA__CLIENT_SECRET(_FILE)");
    };
    if jira.client_id.is_empty() {
        bail!("no OAuth client id is configured: set jira.client_id");
    }
    if jira.poll_minutes > 24 * 60 {
        bail!(
            "jira.poll_minutes is {}: it must be between 1 and 1440 minutes, or 0 to turn polling off",
            jira.poll_minutes
        );
    }
    if !(1..=60).contains(&jira.webhook_token_max_minutes) {
        bail!(
            "jira.webhook_token_max_minutes is {}: it must be between 1 and 60 minutes",
            jira.webhook_token_max_minutes
        );
    }
    if !(1..=16 * 1024).contains(&jira.webhook_max_body_kib) {
        bail!(
            "jira.webhook_max_body_kib is {}: it must be between 1 and 16384 KiB",
            jira.webhook_max_body_kib
        );
    }
    let api = if jira.cloud_id.is_empty() {
        ApiBase::Site(site_url.clone())
    } else {
        ApiBase::Cloud {
            gateway: jira.api_url.clone(),
            cloud_id: jira.cloud_id.clone(),
        }
    };
    let oauth = OAuthConfig::at(
        &jira.client_id,
        SecretString::from(secret.to_owned()),
        config.server.public_url.join("/auth/callback")?,
        jira.auth_url.as_str(),
        jira.api_url.as_str(),
    )?;
    let mut server = ServerConfig::new(
        config.server.public_url.clone(),
        vec![SiteConfig {
            site_url,
            api,
            oauth,
            story_points_field: jira.story_points_field.clone(),
            rank_field: jira.rank_field.clone(),
            admins: config.admins.clone(),
            poll: (jira.poll_minutes > 0).then(|| Duration::from_secs(jira.poll_minutes * 60)),
        }],
    );
    server.sessions.idle = Duration::from_secs(config.sessions.idle_minutes.max(1) * 60);
    server.sessions.absolute = Duration::from_secs(config.sessions.absolute_hours.max(1) * 3600);
    let limits = &config.limits;
    if limits.request_body_bytes == 0
        || limits.request_timeout_secs == 0
        || limits.request_timeout_secs > 3600
        || limits.requests_per_client_per_minute == 0
        || limits.requests_per_person_per_minute == 0
    {
        bail!(
            "limits.request_body_bytes, limits.requests_per_client_per_minute and \
             limits.requests_per_person_per_minute must be at least 1, and limits.request_timeout_secs between \
             1 and 3600"
        );
    }
    server.limits.body_bytes = limits.request_body_bytes;
    server.limits.request_timeout = Duration::from_secs(limits.request_timeout_secs);
    server.limits.per_client_per_minute = limits.requests_per_client_per_minute;
    server.limits.per_person_per_minute = limits.requests_per_person_per_minute;
    server.content = limits.content();
    server.connections = connection_limits(&config.connections)?;
    server.limits.jira_calls_per_person_per_minute = jira.calls_per_person_per_minute.max(1);
    server.webhooks.token_lifetime = Duration::from_secs(jira.webhook_token_max_minutes * 60);
    server.webhooks.body_bytes =
        usize::try_from(jira.webhook_max_body_kib * 1024).unwrap_or(usize::MAX);
    server.metrics_token = config
        .server
        .metrics_token
        .expose()
        .map(|token| token.to_owned().into());
    Ok(server)
}

/// The connection bounds, each checked: zero would refuse every connection or close it at once, and a timeout
/// over a day protects nothing.
fn connection_limits(settings: &ConnectionSettings) -> anyhow::Result<ConnectionLimits> {
    let timeout = |key: &str, secs: u64| {
        if (1..=86_400).contains(&secs) {
            Ok(Duration::from_secs(secs))
        } else {
            Err(anyhow::anyhow!(
                "connections.{key} is {secs}: it must be between 1 and 86400 seconds"
            ))
        }
    };
    for (key, count) in [
        ("max", settings.max),
        ("max_per_client", settings.max_per_client),
    ] {
        if count == 0 {
            bail!("connections.{key} is 0: at least one connection must be allowed");
        }
    }
    Ok(ConnectionLimits {
        tls_handshake_timeout: timeout(
            "tls_handshake_timeout_secs",
            settings.tls_handshake_timeout_secs,
        )?,
        header_read_timeout: timeout(
            "header_read_timeout_secs",
            settings.header_read_timeout_secs,
        )?,
        idle_timeout: timeout("idle_timeout_secs", settings.idle_timeout_secs)?,
        max: settings.max,
        max_per_client: settings.max_per_client,
    })
}

/// The TLS certificate: the configured files, or a self-signed one kept in the data directory.
pub fn tls(config: &Config) -> anyhow::Result<Tls> {
    let files = (&config.tls.cert_file, &config.tls.key_file);
    let source = match files {
        (cert, key) if cert.as_os_str().is_empty() && key.as_os_str().is_empty() => {
            let mut hosts: Vec<String> = DEFAULT_SELF_SIGNED_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect();
            if let Some(host) = config.server.public_url.host_str() {
                let host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
            CertSource::SelfSigned { hosts }
        }
        (cert, key) if cert.as_os_str().is_empty() || key.as_os_str().is_empty() => {
            bail!(
                "set both tls.cert_file and tls.key_file, or neither for a self-signed certificate"
            )
        }
        (cert, key) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
    };
    Ok(Tls::load(&source, Some(&config.data_dir))?)
}

/// Runs the server until Ctrl-C or SIGTERM, then shuts down gracefully.
pub async fn run(
    store: Arc<dyn Store>,
    server: ServerConfig,
    tls: &Tls,
    listen: SocketAddr,
    redirect: Option<SocketAddr>,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let stopped = shutdown_signal();
    let (public_url, limits) = (server.public_url.clone(), server.connections);
    let state = AppState::new(server, store).await?;
    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?;
    let running = arbor_server::start(state, listener, tls).await?;
    let addr = running.addr;
    let redirecting = match redirect {
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} for redirects"))?;
            Some(tokio::spawn(arbor_server::tls::redirect_listener(
                listener,
                &public_url,
                limits,
                running.stop_signal(),
            )))
        }
        None => None,
    };
    ready(addr);
    stopped.await;
    running.shutdown().await?;
    if let Some(task) = redirecting {
        task.await??;
    }
    Ok(())
}

/// Listens for Ctrl-C and SIGTERM (what service managers and `docker stop` send) from the moment it is called;
/// the future resolves on the first of them and says that the process is shutting down. Call it before announcing
/// readiness, so that a signal sent right after the announcement is not missed. `arbor serve` and `arbor demo`
/// both stop through it, so both drain requests in flight.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let signalled = {
        use tokio::signal::unix::{SignalKind, signal};
        let listeners = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match listeners {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    };
    #[cfg(not(unix))]
    let signalled = tokio::signal::ctrl_c();
    async move {
        let _ = signalled.await;
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// `arbor serve`.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    let server = server_config(config)?;
    let tls = tls(config)?;
    let store = storage::open(config).await?;
    let redirect = if config.server.redirect_listen.is_empty() {
        None
    } else {
        if config.server.public_url.scheme() != "https" {
            bail!(
                "server.public_url must be an https:// URL: server.redirect_listen redirects every request there"
            );
        }
        Some(
            config
                .server
                .redirect_listen
                .parse()
                .context("server.redirect_listen is not an address such as 0.0.0.0:80")?,
        )
    };
    let fingerprint = tls.fingerprint().to_owned();
    run(
        store,
        server,
        &tls,
        config.server.listen,
        redirect,
        |addr| {
            tracing::info!(%addr, certificate = %fingerprint, "arbor is serving over HTTPS");
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn configured(poll_minutes: u64) -> Config {
        let mut config = Config::default();
        config.jira.site_url = "https://example.atlassian.net".into();
        config.jira.client_id = "arbor".into();
        config.jira.client_secret = Secret::new("secret");
        config.jira.poll_minutes = poll_minutes;
        config
    }

    #[test]
    fn polling_is_every_poll_minutes_off_at_zero_and_at_most_daily() {
        let every = |minutes| server_config(&configured(minutes)).map(|c| c.sites[0].poll);
        assert_eq!(every(5).unwrap(), Some(Duration::from_secs(300)));
        assert_eq!(every(0).unwrap(), None);
        assert_eq!(every(1440).unwrap(), Some(Duration::from_secs(86_400)));
        let refused = every(1441).unwrap_err().to_string();
        assert!(refused.contains("jira.poll_minutes"), "{refused}");
    }

    #[test]
    fn connection_limits_are_mapped_and_zero_or_huge_values_refused() {
        let mut config = configured(0);
        config.connections.idle_timeout_secs = 5;
        config.connections.max_per_client = 3;
        let limits = server_config(&config).unwrap().connections;
        assert_eq!(limits.idle_timeout, Duration::from_secs(5));
        assert_eq!(limits.max_per_client, 3);
        assert_eq!(limits.header_read_timeout, Duration::from_secs(30));

        config.connections.max = 0;
        let refused = server_config(&config).unwrap_err().to_string();
        assert!(refused.contains("connections.max is 0"), "{refused}");
        config.connections.max = 10;
        config.connections.header_read_timeout_secs = u64::MAX;
        let refused = server_config(&config).unwrap_err().to_string();
        assert!(
            refused.contains("connections.header_read_timeout_secs"),
            "{refused}"
        );
    }

    #[test]
    fn request_and_content_limits_are_mapped_and_zero_refused() {
        let mut config = configured(5);
        config.limits.request_body_bytes = 4096;
        config.limits.request_timeout_secs = 7;
        config.limits.requests_per_person_per_minute = 9;
        config.limits.rows_per_edit = 11;
        config.limits.content_idle_minutes = 2;
        let set = server_config(&config).unwrap();
        assert_eq!(set.limits.body_bytes, 4096);
        assert_eq!(set.limits.request_timeout, Duration::from_secs(7));
        assert_eq!(set.limits.per_person_per_minute, 9);
        assert_eq!(set.content.rows_per_edit, 11);
        assert_eq!(set.content.content_idle, Duration::from_secs(120));
        config.limits.request_timeout_secs = 0;
        let refused = server_config(&config).unwrap_err().to_string();
        assert!(refused.contains("limits.request_timeout_secs"), "{refused}");
    }

    #[test]
    fn webhook_limits_are_mapped_and_bounded() {
        let defaults = server_config(&configured(5)).unwrap();
        assert_eq!(defaults.webhooks.body_bytes, 1024 * 1024);
        assert_eq!(defaults.webhooks.token_lifetime, Duration::from_secs(600));
        let mut config = configured(5);
        config.jira.webhook_max_body_kib = 64;
        config.jira.webhook_token_max_minutes = 3;
        let set = server_config(&config).unwrap();
        assert_eq!(set.webhooks.body_bytes, 64 * 1024);
        assert_eq!(set.webhooks.token_lifetime, Duration::from_secs(180));
        config.jira.webhook_token_max_minutes = 0;
        let refused = server_config(&config).unwrap_err().to_string();
        assert!(
            refused.contains("jira.webhook_token_max_minutes"),
            "{refused}"
        );
        config.jira.webhook_token_max_minutes = 10;
        config.jira.webhook_max_body_kib = 0;
        let refused = server_config(&config).unwrap_err().to_string();
        assert!(refused.contains("jira.webhook_max_body_kib"), "{refused}");
    }
}
