//! `memory`: is the memory a structure takes given back when it is deleted? On the `server` scenario's stage
//! (the real server over HTTPS, jira-sim in-process), the site's admin makes a structure of `rows` folder rows
//! the way the penetration test did — one row, then copies of it into its own subtree, each doubling it — opens
//! it (the server computes its forest), deletes it, and the server's resident memory is read before, at the
//! peak and after the deletion (this process is the server's).
//!
//! Figures: `rss_before_mib`, `rss_with_structure_mib`, `rss_after_delete_mib`, and `retained_share`: the
//! part of what the structure added that is still held after its deletion (target at most 0.25; an allocator
//! keeps some pages, but a structure's memory must not stay).

use std::time::Duration;

use arbor_server::testing;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::stage::{Stage, StageError, setup};
use crate::{Figure, Rss, rss_mib};

const SCENARIO: &str = "memory";

/// Runs the scenario and returns its figures.
pub fn run(rows: usize) -> Result<Vec<Figure>, StageError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(setup)?;
    runtime.block_on(run_async(rows))
}

fn rss() -> Result<f64, StageError> {
    rss_mib(Rss::Current).ok_or_else(|| setup("/proc/self/status has no VmRSS"))
}

async fn call(
    browser: &testing::Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, StageError> {
    let (status, answer) = browser
        .send(method, path, body.as_ref())
        .await
        .map_err(setup)?;
    if status.is_success() {
        Ok(answer)
    } else {
        Err(setup(format!("{path}: {status} {answer}")))
    }
}

async fn run_async(rows: usize) -> Result<Vec<Figure>, StageError> {
    let mut params = Map::new();
    params.insert("rows".into(), json!(rows));
    // The stage's own structure is not used: a small one.
    let stage = Stage::start(10).await?;
    let browser = testing::sign_in(&stage.base, &stage.pem, stage.sim.base_url(), 0, "admin")
        .await
        .map_err(setup)?;
    let before = rss()?;
    let created = call(
        &browser,
        Method::POST,
        "/api/v1/structures",
        Some(json!({"name": "Doubled"})),
    )
    .await?;
    let id = created["id"]
        .as_u64()
        .ok_or_else(|| setup("no structure id"))?;
    let version = |answer: &Value| answer["version"].as_u64().unwrap_or(0);
    let edits = format!("/api/v1/structures/{id}/edits");
    let added = call(
        &browser,
        Method::POST,
        &edits,
        Some(json!({"based_on": version(&created), "edit": {"op": "add",
            "at": {"under": {"parent": null, "at": "last"}},
            "rows": [{"depth": 0, "item": {"folder": "a folder with a name of some length"}}]}})),
    )
    .await?;
    let root = added["created"][0]
        .as_u64()
        .ok_or_else(|| setup("no row created"))?;
    let mut at = version(&added);
    let mut stored = 1;
    while stored * 2 <= rows {
        let copied = call(
            &browser,
            Method::POST,
            &edits,
            Some(
                json!({"based_on": at, "edit": {"op": "copy", "rows": [root],
                "to": {"under": {"parent": root, "at": "last"}}}}),
            ),
        )
        .await?;
        at = version(&copied);
        stored *= 2;
    }
    let window = call(
        &browser,
        Method::POST,
        &format!("/api/v1/structures/{id}/rows"),
        Some(json!({"expand": {"depth": 100}, "limit": 200})),
    )
    .await?;
    let total = window["total"].as_u64().unwrap_or(0);
    if total != stored as u64 {
        return Err(setup(format!(
            "the structure shows {total} rows, expected {stored}"
        )));
    }
    let with_structure = rss()?;
    call(
        &browser,
        Method::DELETE,
        &format!("/api/v1/structures/{id}"),
        None,
    )
    .await?;
    // The allocator returns freed pages to the system after a short delay.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss()?;
    stage.stop().await?;
    params.insert("stored_rows".into(), json!(stored));
    let added = (with_structure - before).max(f64::MIN_POSITIVE);
    Ok(vec![
        Figure::new(SCENARIO, &params, "rss_before_mib", before, "MiB"),
        Figure::new(
            SCENARIO,
            &params,
            "rss_with_structure_mib",
            with_structure,
            "MiB",
        ),
        Figure::new(SCENARIO, &params, "rss_after_delete_mib", after, "MiB"),
        Figure::new(
            SCENARIO,
            &params,
            "retained_share",
            ((after - before) / added).max(0.0),
            "ratio",
        )
        .target(0.25),
    ])
}
