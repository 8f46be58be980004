//! The only code in arbor that knows HTTP: HTTPS, sign-in sessions, security middleware, the `/api/v1` REST
//! API and the embedded web UI.
//!
//! Invariants:
//! - Every request that touches a structure is authorised through `api::authorize` (the structure's rules,
//!   resolved for the caller) and every data-related operation is audited through `audit`.
//! - Every Jira call made for a request uses the caller's own token (`people::credentials`).
//! - Every error leaves as `application/problem+json` and never reveals internals.
//! - Nothing about an issue the caller may not see leaves the server but the count of such rows.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod budget;
pub mod coherence;
pub mod compute;
pub mod config;
pub mod connections;
pub mod content;
pub mod error;
pub mod export;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod ops;
pub mod people;
pub mod polling;
pub mod recent;
pub mod restore;
pub mod seed;
pub mod session;
pub mod signin;
pub mod state;
pub mod testing;
pub mod tls;
pub mod web;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use crate::config::{ServerConfig, SiteConfig};
pub use crate::state::{AppState, StartError};

/// Every route of the server, with its middleware.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.body_bytes;
    Router::new()
        .route("/", get(web::index))
        .route("/assets/{name}", get(web::asset))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/openapi.json", get(ops::openapi))
        .route("/auth/login", get(signin::login))
        .route("/auth/callback", get(signin::callback))
        .route("/auth/logout", post(signin::logout))
        .route("/jira/webhook/{tenant}", post(webhooks::receive))
        .nest("/api/v1", api::router())
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn(middleware::tag_route))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::outer,
        ))
        .with_state(state)
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found("there is nothing at this address")
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    handle: axum_server::Handle<std::net::SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    follower: tokio::task::JoinHandle<()>,
}

/// Starts the HTTPS server on `listener` with `tls`; its certificate files are watched for changes, and the
/// Jira invalidations other nodes of the deployment record are followed (`coherence`).
pub async fn start(
    state: AppState,
    listener: std::net::TcpListener,
    tls: &tls::Tls,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The reloader ends by itself when `stop` changes or is dropped.
    // The pollers end by themselves when `stop` changes or is dropped.
    let _pollers = polling::spawn(&state, &stopped);
    let _reloader = tls.spawn_reloader(tls::DEFAULT_RELOAD_INTERVAL, stopped);
    // Begins after the entries that exist now, before the first request is taken.
    let follower = coherence::Follower::start(&state).await;
    let follower = coherence::spawn_follower(
        state.clone(),
        follower,
        coherence::FOLLOW_INTERVAL,
        stop.subscribe(),
    );
    tokio::spawn(release_idle_memory(state.clone(), stop.subscribe()));
    let app = router(state.clone());
    let task = tokio::spawn(tls::serve_https(
        listener,
        tls.rustls_config(),
        app,
        handle.clone(),
        state.config.connections,
    ));
    Ok(Running {
        addr,
        state,
        handle,
        stop,
        task,
        follower,
    })
}

/// How often memory held for structures nobody uses is released.
const RELEASE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Releases, every [`RELEASE_INTERVAL`] until `stop` changes, the content of structures idle for
/// `content_idle` and the computed forests that can no longer be reused.
async fn release_idle_memory(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(RELEASE_INTERVAL);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                state.contents.evict_idle(state.config.content.content_idle);
                state.computed.sweep();
            }
            _ = stop.changed() => return,
        }
    }
}

impl Running {
    /// Stops taking requests (readiness fails first), lets in-flight ones finish, and waits until done.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.state.begin_shutdown();
        let _ = self.stop.send(true);
        self.handle.graceful_shutdown(Some(tls::SHUTDOWN_GRACE));
        // Its work is reads and idempotent cache drops: nothing is lost by stopping it mid-poll.
        self.follower.abort();
        let _ = self.follower.await;
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(std::io::Error::other(error)),
        }
    }

    /// The watch channel that stops helpers started alongside (the redirect listener).
    pub fn stop_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }
}
