//! `server`: the real arbor server over HTTPS on loopback, with jira-sim in-process and SQLite in a temporary
//! directory. One structure of `rows` stored issue rows (the synthetic site's hierarchy: top issues, their
//! children and grandchildren) is opened once (its first window computes the forest: the cold figure), then
//! `clients` concurrent clients ask for 200-row windows at spread offsets of the fully expanded forest, and
//! then for `/healthz`, in five rounds (after a warm-up of each) that share `seconds` per kind of request: both
//! kinds see the same machine, which the client shares with the server.
//!
//! Figures: `window_p50_ms`, `window_p99_ms` (target 50, over every window of the rounds), and
//! `window_vs_healthz_throughput` (target 1/3, the median of the rounds' ratios), plus the first window's time
//! and the median rates. The windows are served from the forest computed for this structure version and
//! person, as they are while the data is fresh (the forest's own cost is the `forest` scenario's).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbor_core::edit::NewRow;
use arbor_core::forest::Item;
use arbor_core::ids::{ActorId, IssueId};
use arbor_server::seed::{self, Blueprint};
use arbor_server::testing::{self, Browser};
use arbor_server::tls::Tls;
use arbor_server::{AppState, ServerConfig, SiteConfig};
use arbor_store::{Location, MasterKey};
use jira_sim::model::Site;
use jira_sim::server::{DataSource, SimConfig};
use reqwest::Method;
use serde_json::{Map, json};
use url::Url;

use crate::Figure;

const SCENARIO: &str = "server";

/// A window's rows, counted in its bytes as the objects that open with their key (a `{"key":"` inside a
/// title would be escaped). A load generator that parsed every answer would take the cores the server it
/// measures needs; the first window is parsed in full.
fn row_count(window: &[u8]) -> usize {
    memchr::memmem::find_iter(window, b"{\"key\":\"").count()
}
const WINDOW: usize = 200;

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerBenchError {
    #[error("{0}")]
    Setup(String),
}

fn setup(e: impl std::fmt::Display) -> ServerBenchError {
    ServerBenchError::Setup(e.to_string())
}

/// The site's issues in hierarchy order: each top issue, then its children and their children.
fn hierarchy(site: &Site, rows: usize) -> Vec<NewRow> {
    fn visit(site: &Site, idx: u32, depth: u16, out: &mut Vec<NewRow>, rows: usize) {
        if out.len() >= rows {
            return;
        }
        let issue = site.issue(idx);
        if let Ok(id) = IssueId::new(issue.id) {
            out.push(NewRow::new(depth, Item::Issue(id)));
        }
        if depth < 2 {
            for child in &issue.children {
                visit(site, *child, depth + 1, out, rows);
            }
        }
    }
    let mut out = Vec::with_capacity(rows);
    for (idx, issue) in site.issues.iter().enumerate() {
        if out.len() >= rows {
            break;
        }
        if issue.parent.is_none()
            && let Ok(idx) = u32::try_from(idx)
        {
            visit(site, idx, 0, &mut out, rows);
        }
    }
    out
}

/// Latencies of `clients` loops calling `request` for `duration`.
async fn hammer<F, Fut>(
    clients: usize,
    duration: Duration,
    request: F,
) -> Result<Vec<Duration>, ServerBenchError>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, reqwest::Error>> + Send,
{
    let request = Arc::new(request);
    let until = Instant::now() + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let request = Arc::clone(&request);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < until {
                let started = Instant::now();
                if !request(client, n).await? {
                    return Ok::<_, reqwest::Error>(Err(format!(
                        "client {client}: a request failed"
                    )));
                }
                latencies.push(started.elapsed());
                n += 1;
            }
            Ok(Ok(latencies))
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(
            task.await
                .map_err(setup)?
                .map_err(setup)?
                .map_err(ServerBenchError::Setup)?,
        );
    }
    Ok(all)
}

/// Rounds of windows and /healthz; each figure is the median of the rounds'.
const ROUNDS: u32 = 5;

/// Load before measuring, for each kind of request.
const WARM_UP: Duration = Duration::from_secs(2);

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Runs the scenario and returns its figures.
pub fn run(rows: usize, clients: usize, seconds: u64) -> Result<Vec<Figure>, ServerBenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(setup)?;
    runtime.block_on(run_async(rows, clients, seconds))
}

async fn run_async(
    rows: usize,
    clients: usize,
    seconds: u64,
) -> Result<Vec<Figure>, ServerBenchError> {
    let mut params = Map::new();
    params.insert("rows".into(), json!(rows));
    params.insert("clients".into(), json!(clients));
    params.insert("window".into(), json!(WINDOW));
    params.insert("seconds".into(), json!(seconds));
    let mut sim_config = SimConfig::new(DataSource::Synthetic {
        issues: rows + rows / 10,
        seed: 42,
    });
    sim_config.controls.quota.hourly_points = 0;
    sim_config.controls.quota.burst_per_second = 0;
    let sim = jira_sim::server::start(sim_config).await.map_err(setup)?;
    let (admin, structure_rows) = sim.handle().with_site(|site| {
        let admin = site
            .person_by_name("admin")
            .map(|p| site.person(p).account_id.to_string());
        (admin, hierarchy(site, rows))
    });
    let admin = admin.ok_or_else(|| setup("the site has no admin"))?;
    let dir = tempfile::tempdir().map_err(setup)?;
    let store = arbor_store::open(
        &Location::Sqlite("arbor.db".into()),
        dir.path(),
        MasterKey::generate().map_err(setup)?,
    )
    .await
    .map_err(setup)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(setup)?;
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().map_err(setup)?.port()
    );
    let callback = Url::parse(&format!("{base}/auth/callback")).map_err(setup)?;
    let site = SiteConfig::simulated(sim.base_url(), callback, "arbor-bench").map_err(setup)?;
    let mut config = ServerConfig::new(Url::parse(&base).map_err(setup)?, vec![site]);
    // The load comes from one address and one person: the per-client and per-person limits would refuse it.
    config.limits.per_client_per_minute = u32::MAX;
    config.limits.per_person_per_minute = u32::MAX;
    let state = AppState::new(config, Arc::clone(&store))
        .await
        .map_err(setup)?;
    let tenant = state.sites[0].tenant;
    let id = seed::create(
        store.as_ref(),
        tenant,
        &Blueprint {
            name: "Benchmark".into(),
            description: String::new(),
            owner: ActorId::new(&admin).map_err(setup)?,
            generators: Vec::new(),
            rows: structure_rows,
            rules: Vec::new(),
            views: Vec::new(),
        },
    )
    .await
    .map_err(setup)?;
    let tls = Tls::self_signed(&["127.0.0.1".to_owned()], None).map_err(setup)?;
    let pem = tls.self_signed_pem().unwrap_or_default().to_owned();
    let server = arbor_server::start(state, listener, &tls)
        .await
        .map_err(setup)?;
    let browser = testing::sign_in(&base, &pem, sim.base_url(), 0, "admin")
        .await
        .map_err(setup)?;
    let path = format!("/api/v1/structures/{id}/rows");
    let started = Instant::now();
    let (status, first) = browser
        .send(
            Method::POST,
            &path,
            Some(&json!({"expand": {"depth": 10}, "limit": WINDOW})),
        )
        .await
        .map_err(setup)?;
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        return Err(setup(format!("the first window failed: {status} {first}")));
    }
    let first_rows = first["rows"].as_array().map_or(0, Vec::len);
    if first_rows != WINDOW {
        return Err(setup(format!(
            "the first window has {first_rows} rows, expected {WINDOW}"
        )));
    }
    let total = first["total"].as_u64().unwrap_or(0);
    if total < rows as u64 {
        return Err(setup(format!(
            "the structure shows {total} rows, expected {rows}"
        )));
    }
    // One browser per client: its own connection, as 64 people would have.
    let mut browsers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let jar = Arc::clone(&browser.jar);
        browsers.push(Browser {
            http: testing::client(&pem, jar).map_err(setup)?,
            ..browser.clone()
        });
    }
    let browsers = Arc::new(browsers);
    let windows_for = |duration: Duration| {
        let browsers = Arc::clone(&browsers);
        let path = path.clone();
        hammer(clients, duration, move |client, n| {
            let browsers = Arc::clone(&browsers);
            let path = path.clone();
            async move {
                // A spread of offsets over the whole forest, different per client.
                let offset = (n * 7919 + client as u64 * 104_729)
                    % total.saturating_sub(WINDOW as u64).max(1);
                let body = json!({"expand": {"depth": 10}, "offset": offset, "limit": WINDOW});
                let browser = &browsers[client];
                let response = browser
                    .http
                    .post(browser.url(&path))
                    .header("x-csrf-token", &browser.csrf)
                    .json(&body)
                    .send()
                    .await?;
                let ok = response.status().is_success();
                let bytes = response.bytes().await?;
                Ok(ok && bytes.ends_with(b"]}") && row_count(&bytes) == WINDOW)
            }
        })
    };
    let healthz_for = |duration: Duration| {
        let browsers = Arc::clone(&browsers);
        hammer(clients, duration, move |client, _| {
            let browsers = Arc::clone(&browsers);
            async move {
                let response = browsers[client]
                    .http
                    .get(browsers[client].url("/healthz"))
                    .send()
                    .await?;
                let ok = response.status().is_success();
                let _ = response.bytes().await?;
                Ok(ok)
            }
        })
    };
    // Warm-up: every client connected, the rows of the windows serialised once.
    windows_for(WARM_UP).await?;
    healthz_for(WARM_UP).await?;
    // Rounds of windows then /healthz, so that both see the same machine (it is shared with other work).
    let round = Duration::from_secs(seconds)
        .checked_div(ROUNDS)
        .unwrap_or(Duration::from_secs(1));
    let mut windows = Vec::new();
    let (mut window_rates, mut healthz_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let these = windows_for(round).await?;
        let healthz = healthz_for(round).await?;
        let window_rate = these.len() as f64 / round.as_secs_f64();
        let healthz_rate = healthz.len() as f64 / round.as_secs_f64();
        window_rates.push(window_rate);
        healthz_rates.push(healthz_rate);
        ratios.push(window_rate / healthz_rate.max(f64::MIN_POSITIVE));
        windows.extend(these);
    }
    server.shutdown().await.map_err(setup)?;
    sim.shutdown().await.map_err(setup)?;
    let mut sorted = windows;
    sorted.sort();
    let window_rate = median(&mut window_rates);
    let healthz_rate = median(&mut healthz_rates);
    let ratio = median(&mut ratios);
    Ok(vec![
        Figure::new(SCENARIO, &params, "first_window_ms", first_ms, "ms"),
        Figure::new(
            SCENARIO,
            &params,
            "window_p50_ms",
            percentile(&sorted, 0.50),
            "ms",
        ),
        Figure::new(
            SCENARIO,
            &params,
            "window_p99_ms",
            percentile(&sorted, 0.99),
            "ms",
        )
        .target(50.0),
        Figure::new(SCENARIO, &params, "windows_per_second", window_rate, "1/s"),
        Figure::new(SCENARIO, &params, "healthz_per_second", healthz_rate, "1/s"),
        Figure::new(
            SCENARIO,
            &params,
            "window_vs_healthz_throughput",
            ratio,
            "ratio",
        )
        .target(1.0 / 3.0),
    ])
}
