//! The `store` scenario: saving and loading a forest of N rows through arbor-store, and the throughput of
//! journaled writes, on SQLite (a temporary data directory) and, when `ARBOR_TEST_POSTGRES_URL` is set, on
//! PostgreSQL (a schema of its own, dropped afterwards).
//!
//! Figures: `save_ms` and `load_ms` (median of the runs; target 50 ms on SQLite for 100,000 rows) and
//! `journal_appends_per_s` (sequential small journaled writes, each its own committed transaction).

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use arbor_core::forest::{Forest, Item, Row};
use arbor_core::ids::{ActorId, IssueId, RowId, Timestamp};
use arbor_store::model::{Actor, NewStructure, StructureId, TenantId};
use arbor_store::{MasterKey, PostgresStore, SqliteStore, Store, StoreError};
use serde_json::{Map, Value};

use crate::{Figure, Runs, median_time, ms};

/// The SPEC §8 target for saving or loading a 100,000-row forest on SQLite.
const TARGET_MS: f64 = 50.0;
const JOURNAL_APPENDS: u32 = 300;

/// Why the scenario could not run.
#[derive(Debug, thiserror::Error)]
pub enum StoreBenchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Setup(String),
}

/// A forest of `rows` issue rows, one root per ten rows, the rest one level below it.
fn forest(rows: usize) -> Result<Forest, StoreBenchError> {
    let mut list = Vec::with_capacity(rows);
    for i in 1..=rows as u64 {
        let id = RowId::new(i).map_err(|e| StoreBenchError::Setup(e.to_string()))?;
        let issue = IssueId::new(10_000 + i).map_err(|e| StoreBenchError::Setup(e.to_string()))?;
        list.push(Row::new(id, u16::from(i % 10 != 1), Item::Issue(issue)));
    }
    Forest::from_rows(list).map_err(|e| StoreBenchError::Setup(e.to_string()))
}

/// Runs the scenario on every available engine; figures as JSON-line-ready [`Figure`]s.
pub fn run_store(rows: usize, runs: Runs) -> Result<Vec<Figure>, StoreBenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| StoreBenchError::Setup(e.to_string()))?;
    let forest = forest(rows)?;
    let master = MasterKey::generate().map_err(StoreError::from)?;
    let mut figures = Vec::new();

    let dir = tempfile::tempdir().map_err(|e| StoreBenchError::Setup(e.to_string()))?;
    let sqlite: Arc<dyn Store> = Arc::new(runtime.block_on(SqliteStore::open(
        &dir.path().join("bench.db"),
        master.clone(),
    ))?);
    figures.extend(measure(&runtime, &sqlite, "sqlite", &forest, runs)?);

    if let Some(url) = std::env::var("ARBOR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let schema = format!("arbor_bench_{}", std::process::id());
        let admin = runtime.block_on(sqlx::PgPool::connect(&url))?;
        runtime.block_on(
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            )))
            .execute(&admin),
        )?;
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .options([("search_path", schema.as_str())]);
        let measured = runtime
            .block_on(PostgresStore::connect_with(options, master))
            .map_err(StoreBenchError::from)
            .and_then(|store| {
                let store: Arc<dyn Store> = Arc::new(store);
                measure(&runtime, &store, "postgres", &forest, runs)
            });
        runtime.block_on(
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin),
        )?;
        figures.extend(measured?);
    }
    Ok(figures)
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    store: &Arc<dyn Store>,
    engine: &str,
    forest: &Forest,
    runs: Runs,
) -> Result<Vec<Figure>, StoreBenchError> {
    let mut params = Map::new();
    params.insert("rows".into(), Value::from(forest.len()));
    params.insert("engine".into(), Value::from(engine));
    let actor = ActorId::new("bench").map_err(|e| StoreBenchError::Setup(e.to_string()))?;
    let at = |millis| Actor::new(actor.clone(), Timestamp::from_unix_millis(millis));

    let tenant: TenantId = runtime
        .block_on(store.create_tenant("https://bench.example", Timestamp::from_unix_millis(0)))?;
    let new = NewStructure {
        name: "bench".into(),
        description: String::new(),
        owner: actor.clone(),
    };
    let meta = runtime.block_on(store.create_structure(tenant, &new, &at(0)))?;
    let id: StructureId = meta.id;

    let version = Cell::new(meta.version);
    let failed: Cell<Option<StoreError>> = Cell::new(None);
    let save = median_time(
        runs,
        || (),
        |()| match runtime.block_on(store.save_forest(
            tenant,
            id,
            version.get(),
            forest,
            None,
            &at(1),
        )) {
            Ok(next) => version.set(next),
            Err(e) => failed.set(Some(e)),
        },
    );
    let load = median_time(
        runs,
        || (),
        |()| {
            if let Err(e) = runtime.block_on(store.load_forest(tenant, id)) {
                failed.set(Some(e));
            }
        },
    );
    if let Some(e) = failed.take() {
        return Err(e.into());
    }

    let settings = serde_json::json!({"theme": "dark"});
    let start = Instant::now();
    for i in 0..JOURNAL_APPENDS {
        runtime.block_on(store.set_settings(
            tenant,
            &actor,
            &settings,
            Timestamp::from_unix_millis(i64::from(i)),
        ))?;
    }
    let per_second = f64::from(JOURNAL_APPENDS) / start.elapsed().as_secs_f64().max(1e-9);

    let mut save_figure = Figure::new("store", &params, "save_ms", ms(save), "ms");
    let mut load_figure = Figure::new("store", &params, "load_ms", ms(load), "ms");
    if engine == "sqlite" {
        save_figure = save_figure.target(TARGET_MS);
        load_figure = load_figure.target(TARGET_MS);
    }
    Ok(vec![
        save_figure,
        load_figure,
        Figure::new("store", &params, "journal_appends_per_s", per_second, "1/s"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_runs_on_a_small_forest() {
        let figures = run_store(
            1000,
            Runs {
                warmup: 0,
                measured: 1,
            },
        )
        .unwrap();
        let metrics: Vec<_> = figures.iter().map(|f| f.metric.as_str()).take(3).collect();
        assert_eq!(metrics, ["save_ms", "load_ms", "journal_appends_per_s"]);
        assert!(figures.iter().all(|f| f.value > 0.0));
    }
}
