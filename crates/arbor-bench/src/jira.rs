//! `jira-load`: the cold load of an N-issue structure from Jira (jira-sim in-process, with latency), through
//! arbor-jira's loader, as the engine's needs protocol drives it; then a reopen within the TTL, and a reload
//! after one issue changed (delivered by the simulator's webhook to an in-process receiver).
//!
//! The structure: a JQL insert of the site's epics, extended by children through `parent` (stories and their
//! sub-tasks), with 5 field columns. Figures:
//! - `requests` and `points` of the cold load, as the simulator counted them, with the API's minimum as the
//!   target: every search the plan needs (the insert query and one `parent in (...)` query per 500 parents and
//!   level) paged at 5000 ids, and a bulk fetch per 100 issues; points add 1 per issue returned by each.
//! - `wall_ms` of the cold load, with the latency bound at the configured concurrency as the target: per round
//!   of the needs loop, one latency per `concurrency` searches and then one per `concurrency` bulk fetches (the
//!   simulator's latency is its response time: Jira's work is part of the latency a client sees).
//! - `reopen_requests` (target 0) and `changed_requests` (target 1).

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use arbor_core::columns::{self, FieldBindings};
use arbor_core::data::{FieldId, IssueData, Needs};
use arbor_core::effective::{Clock, Limits, RunContext, evaluate};
use arbor_core::forest::{Forest, Item, Row};
use arbor_core::generator::{Generator, Levels};
use arbor_core::ids::{GeneratorId, RowId};
use arbor_jira::cache::{CacheConfig, Caches};
use arbor_jira::client::{
    AccessToken, ApiBase, ClientConfig, Credentials, JiraClient, JiraError, TenantId, Tenants,
};
use arbor_jira::loader::{Loader, LoaderConfig};
use arbor_jira::plan;
use arbor_jira::webhook::{Delivery, WebhookReceiver};
use jira_sim::server::{self, DataSource, RunningSim, SimConfig};
use jql::eval::{EvalContext, StandardCatalog, Timestamp};
use serde_json::{Map, json};

use crate::{Figure, Runs};

const SCENARIO: &str = "jira-load";
const INSERT: &str = "issuetype = Epic";
const COLUMNS: [&str; 5] = [
    "summary",
    "status",
    "assignee",
    "priority",
    "customfield_10016",
];

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum JiraBenchError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("simulator: {0}")]
    Sim(#[from] server::SimError),
    #[error("Jira: {0}")]
    Jira(#[from] JiraError),
    #[error("the engine failed: {0}")]
    Engine(#[from] arbor_core::effective::EngineError),
    #[error("{0}")]
    Setup(String),
}

struct Wall(Instant);

impl Clock for Wall {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// What one run of the needs loop cost.
#[derive(Debug, Default, Clone, Copy)]
struct LoadCost {
    rounds: usize,
    searches: usize,
    found: usize,
    fetched: usize,
    /// Latency-bound steps: per round, one step per `concurrency` searches, then one per `concurrency` bulk
    /// fetches.
    steps: usize,
    rows: usize,
}

fn structure() -> (Forest, HashMap<GeneratorId, Generator>) {
    let configs = [
        Generator::InsertJql { jql: INSERT.into() },
        Generator::ExtendChildren {
            levels: Levels { from: 1, to: 2 },
        },
    ];
    let mut rows = Vec::new();
    let mut map = HashMap::new();
    for (n, config) in (1u64..).zip(configs) {
        if let (Ok(row), Ok(generator)) = (RowId::new(n), GeneratorId::new(n)) {
            rows.push(Row::new(row, 0, Item::Generator(generator)));
            map.insert(generator, config);
        }
    }
    (Forest::from_rows(rows).unwrap_or_default(), map)
}

/// Runs the engine and the loader until nothing is missing.
async fn load_structure(
    loader: &Loader,
    who: &Credentials,
    concurrency: usize,
) -> Result<LoadCost, JiraBenchError> {
    let (forest, generators) = structure();
    let catalog = StandardCatalog::new();
    let points = FieldId::new("customfield_10016");
    let bindings = FieldBindings::standard(&points);
    let rank = FieldId::new("customfield_10019");
    let fields: Vec<FieldId> = COLUMNS.iter().map(|f| FieldId::new(f)).collect();
    let limits = LoaderConfig::default().limits;
    let mut data = IssueData::new();
    let mut cost = LoadCost::default();
    let mut fetched: BTreeSet<u64> = BTreeSet::new();
    for _ in 0..64 {
        let clock = Wall(Instant::now());
        let context = RunContext {
            generators: &generators,
            catalog: &catalog,
            jql: EvalContext::at(Timestamp(1_700_000_000_000)),
            rank_field: &rank,
            bindings: &bindings,
            limits: Limits::default(),
            clock: &clock,
        };
        let evaluation = evaluate(&forest, &data, &context)?;
        let mut needs: Needs = evaluation.needs;
        let columns = columns::needs(&evaluation.forest, &data, &fields);
        needs.issues.extend(columns.issues);
        needs.fields.extend(columns.fields);
        // The columns show on every row: issues found this round are fetched with them at once.
        needs.fields.extend(fields.iter().cloned());
        cost.rows = evaluation.forest.len();
        if needs.is_empty() {
            return Ok(cost);
        }
        let searches = plan::searches(&needs, &limits).len();
        let before: BTreeSet<u64> = data.issues().map(|i| i.id.get()).collect();
        let report = loader.load(who, &needs, &mut data).await?;
        let fetches = usize::try_from(report.requests)
            .unwrap_or(usize::MAX)
            .saturating_sub(searches);
        cost.rounds += 1;
        cost.searches += searches;
        cost.steps += searches.div_ceil(concurrency.max(1)) + fetches.div_ceil(concurrency.max(1));
        for query in &needs.jql {
            cost.found += data.jql(query).map_or(0, <[_]>::len);
        }
        for parent in &needs.children {
            cost.found += data.children(*parent).map_or(0, <[_]>::len);
        }
        for issue in data.issues() {
            if !before.contains(&issue.id.get()) {
                fetched.insert(issue.id.get());
            }
        }
        cost.fetched = fetched.len();
    }
    Err(JiraBenchError::Setup(
        "the needs loop did not settle in 64 rounds".into(),
    ))
}

fn totals(sim: &RunningSim) -> (f64, f64) {
    let stats = sim.handle().stats();
    let get = |k: &str| stats["total"][k].as_f64().unwrap_or(0.0);
    (get("requests"), get("points"))
}

/// An in-process webhook receiver: applies deliveries and reports their outcomes.
async fn receiver(
    receiver: WebhookReceiver,
    tenant: TenantId,
) -> Result<(url::Url, tokio::sync::mpsc::UnboundedReceiver<Delivery>), JiraBenchError> {
    type HookState = (
        WebhookReceiver,
        TenantId,
        tokio::sync::mpsc::UnboundedSender<Delivery>,
    );
    async fn hook(
        axum::extract::State((receiver, tenant, sender)): axum::extract::State<HookState>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        let id = headers
            .get("x-atlassian-webhook-identifier")
            .and_then(|v| v.to_str().ok());
        match receiver.receive(&tenant, id, &body).await {
            Ok(outcome) => {
                // The benchmark may have stopped listening; the delivery is applied either way.
                let _ = sender.send(outcome);
                axum::http::StatusCode::OK
            }
            Err(_) => axum::http::StatusCode::BAD_REQUEST,
        }
    }
    let (sender, outcomes) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state((receiver, tenant, sender));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = url::Url::parse(&format!("http://{addr}/hook"))
        .map_err(|e| JiraBenchError::Setup(e.to_string()))?;
    Ok((url, outcomes))
}

/// Runs the scenario and returns its figures.
pub fn jira_load(
    issues: usize,
    latency_ms: u64,
    runs: Runs,
) -> Result<Vec<Figure>, JiraBenchError> {
    let mut config = SimConfig::new(DataSource::Synthetic { issues, seed: 42 });
    config.controls.quota.hourly_points = 0;
    config.controls.quota.burst_per_second = 0;
    config.controls.latency_ms = latency_ms;
    config.controls.webhooks.duplicate_probability = 0.0;
    let client_config = ClientConfig::default();
    let concurrency = client_config.concurrency;
    let mut params = Map::new();
    params.insert("issues".into(), json!(issues));
    params.insert("latency_ms".into(), json!(latency_ms));
    params.insert("concurrency".into(), json!(concurrency));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let sim = server::start(config).await?;
        let tenant = TenantId::new("bench");
        let tenants = Tenants::new();
        let base =
            url::Url::parse(sim.base_url()).map_err(|e| JiraBenchError::Setup(e.to_string()))?;
        let client = JiraClient::new(
            tenant.clone(),
            ApiBase::Site(base),
            &client_config,
            &tenants,
        )?;
        let admin = Credentials::new(
            "admin",
            AccessToken::new(sim.handle().mint_token("admin", "arbor-bench")?),
        );
        let loader_config = LoaderConfig {
            fetch_concurrency: 2 * concurrency,
            ..LoaderConfig::default()
        };

        // Cold loads, each with empty caches; the last one's caches stay for the reopen.
        let mut walls = Vec::new();
        let mut last = None;
        for _ in 0..runs.measured.max(1) {
            let caches = Caches::new(CacheConfig::default());
            let loader = Loader::new(client.clone(), caches.clone(), loader_config);
            let (requests, points) = totals(&sim);
            let started = Instant::now();
            let cost = load_structure(&loader, &admin, concurrency).await?;
            walls.push(started.elapsed());
            let (requests_after, points_after) = totals(&sim);
            last = Some((
                loader,
                cost,
                requests_after - requests,
                points_after - points,
            ));
        }
        let Some((loader, cost, requests, points)) = last else {
            return Err(JiraBenchError::Setup("no run".into()));
        };
        walls.sort();
        let wall = walls[walls.len() / 2];
        let limits = loader_config.limits;
        // The minimum: the plan's searches (one page each at least) and a bulk fetch per 100 issues, plus the
        // site's field list, which converting issue JSON needs once per tenant and 6 hours.
        let minimum = plan::minimum_requests(cost.searches, cost.found, cost.fetched, &limits) + 1;
        let minimum_points = minimum + cost.found + cost.fetched;
        let latency_bound = (cost.steps + 1) as f64 * latency_ms as f64;
        params.insert("rows".into(), json!(cost.rows));
        params.insert("rounds".into(), json!(cost.rounds));
        let mut figures = vec![
            Figure::new(SCENARIO, &params, "requests", requests, "requests")
                .target(minimum as f64 * 1.05),
            Figure::new(SCENARIO, &params, "points", points, "points")
                .target(minimum_points as f64 * 1.05),
            Figure::new(
                SCENARIO,
                &params,
                "wall_ms",
                wall.as_secs_f64() * 1000.0,
                "ms",
            )
            .target(latency_bound * 1.2),
        ];

        // Reopen within the TTL.
        let (before, _) = totals(&sim);
        load_structure(&loader, &admin, concurrency).await?;
        let (after, _) = totals(&sim);
        figures.push(
            Figure::new(
                SCENARIO,
                &params,
                "reopen_requests",
                after - before,
                "requests",
            )
            .target(0.0),
        );

        // One issue changed, announced by webhook.
        let (url, mut outcomes) =
            receiver(WebhookReceiver::new(loader.caches().clone()), tenant).await?;
        client
            .register_webhooks(&admin.token, &url, &[(vec!["jira:issue_updated"], INSERT)])
            .await?;
        // One epic: the first page of one id (every page would take a latency per epic, and the caches' TTL
        // could pass meanwhile).
        let page = client
            .search_ids_page(&admin.token, INSERT, 1, None)
            .await?;
        let Some(epic) = page.ids.first() else {
            return Err(JiraBenchError::Setup("the site has no epics".into()));
        };
        let http = reqwest::Client::new();
        let edited = http
            .put(format!("{}/_sim/issues/{}", sim.base_url(), epic.get()))
            .bearer_auth(sim.admin_token())
            .json(&json!({ "summary": "Changed during the benchmark" }))
            .send()
            .await
            .map_err(|e| JiraBenchError::Setup(e.to_string()))?;
        if !edited.status().is_success() {
            return Err(JiraBenchError::Setup(format!("edit: {}", edited.status())));
        }
        match tokio::time::timeout(Duration::from_secs(30), outcomes.recv()).await {
            Ok(Some(Delivery::Applied { .. })) => {}
            other => {
                return Err(JiraBenchError::Setup(format!(
                    "no webhook delivery: {other:?}"
                )));
            }
        }
        let (before, _) = totals(&sim);
        load_structure(&loader, &admin, concurrency).await?;
        let (after, _) = totals(&sim);
        figures.push(
            Figure::new(
                SCENARIO,
                &params,
                "changed_requests",
                after - before,
                "requests",
            )
            .target(1.0),
        );
        sim.shutdown().await?;
        Ok(figures)
    })
}
