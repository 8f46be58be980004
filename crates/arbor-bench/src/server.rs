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

use arbor_server::testing::{self, Browser};
use reqwest::Method;
use serde_json::{Map, json};

use crate::stage::{Stage, StageError, setup};
use crate::{Figure, middle, ms, percentile};

const SCENARIO: &str = "server";

/// A window's rows, counted in its bytes as the objects that open with their key (a `{"key":"` inside a
/// title would be escaped). A load generator that parsed every answer would take the cores the server it
/// measures needs; the first window is parsed in full.
fn row_count(window: &[u8]) -> usize {
    memchr::memmem::find_iter(window, b"{\"key\":\"").count()
}
const WINDOW: usize = 200;

/// Latencies of `clients` loops calling `request` for `duration`.
async fn hammer<F, Fut>(
    clients: usize,
    duration: Duration,
    request: F,
) -> Result<Vec<Duration>, StageError>
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
                .map_err(StageError::Setup)?,
        );
    }
    Ok(all)
}

/// Rounds of windows and /healthz; each figure is the median of the rounds'.
const ROUNDS: u32 = 5;

/// Load before measuring, for each kind of request.
const WARM_UP: Duration = Duration::from_secs(2);

/// Runs the scenario and returns its figures.
pub fn run(rows: usize, clients: usize, seconds: u64) -> Result<Vec<Figure>, StageError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(setup)?;
    runtime.block_on(run_async(rows, clients, seconds))
}

async fn run_async(rows: usize, clients: usize, seconds: u64) -> Result<Vec<Figure>, StageError> {
    let mut params = Map::new();
    params.insert("rows".into(), json!(rows));
    params.insert("clients".into(), json!(clients));
    params.insert("window".into(), json!(WINDOW));
    params.insert("seconds".into(), json!(seconds));
    let stage = Stage::start(rows).await?;
    let browser = testing::sign_in(&stage.base, &stage.pem, stage.sim.base_url(), 0, "admin")
        .await
        .map_err(setup)?;
    let id = stage.structure;
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
            http: testing::client(&stage.pem, jar).map_err(setup)?,
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
    stage.stop().await?;
    let mut sorted: Vec<f64> = windows.into_iter().map(ms).collect();
    sorted.sort_by(f64::total_cmp);
    let window_rate = middle(&mut window_rates);
    let healthz_rate = middle(&mut healthz_rates);
    let ratio = middle(&mut ratios);
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
