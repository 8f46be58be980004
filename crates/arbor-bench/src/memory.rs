//! `memory`: is the memory a structure takes given back when it is deleted? On the `server` scenario's stage
//! (the real server over HTTPS, jira-sim in-process), the site's admin makes a structure of `rows` folder rows
//! the way the penetration test did — one row, then copies of it into its own subtree, each doubling it — opens
//! it (the server computes its forest), deletes it, and the server's resident memory is read before, at the
//! peak and after the deletion (this process is the server's).
//!
//! This is done three times, one structure after another. Figures: `rss_before_mib`, `rss_with_structure_mib`
//! and `rss_after_delete_mib` (the first time), `rss_after_last_delete_mib`, and `growth_over_cycles_share`:
//! how much more is held after the last deletion than after the first, as a share of what one structure added
//! (target at most 0.1). The allocator (mimalloc) keeps some freed pages for reuse rather than return them at
//! once, so what one deletion gives back shows best as memory that the next structure reuses instead of adding
//! to; a structure whose memory stayed would add its whole size each time.

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

/// How many structures are made and deleted, one after another.
const CYCLES: usize = 3;

/// Makes a structure of `rows` folder rows by doubling, opens it, and returns its id and stored row count.
async fn doubled(browser: &testing::Browser, rows: usize) -> Result<(u64, usize), StageError> {
    let created = call(
        browser,
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
        browser,
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
            browser,
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
        browser,
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
    Ok((id, stored))
}

async fn run_async(rows: usize) -> Result<Vec<Figure>, StageError> {
    let mut params = Map::new();
    params.insert("rows".into(), json!(rows));
    params.insert("cycles".into(), json!(CYCLES));
    // The stage's own structure is not used: a small one.
    let stage = Stage::start(10).await?;
    let browser = testing::sign_in(&stage.base, &stage.pem, stage.sim.base_url(), 0, "admin")
        .await
        .map_err(setup)?;
    let before = rss()?;
    let mut with_structure = Vec::new();
    let mut after = Vec::new();
    let mut stored = 0;
    for _ in 0..CYCLES {
        let (id, rows) = doubled(&browser, rows).await?;
        stored = rows;
        with_structure.push(rss()?);
        call(
            &browser,
            Method::DELETE,
            &format!("/api/v1/structures/{id}"),
            None,
        )
        .await?;
        // The allocator returns freed pages to the system after a short delay, or keeps them for reuse.
        tokio::time::sleep(Duration::from_secs(2)).await;
        after.push(rss()?);
    }
    stage.stop().await?;
    params.insert("stored_rows".into(), json!(stored));
    let first_added = (with_structure[0] - before).max(f64::MIN_POSITIVE);
    let (first_after, last_after) = (after[0], after[CYCLES - 1]);
    Ok(vec![
        Figure::new(SCENARIO, &params, "rss_before_mib", before, "MiB"),
        Figure::new(
            SCENARIO,
            &params,
            "rss_with_structure_mib",
            with_structure[0],
            "MiB",
        ),
        Figure::new(
            SCENARIO,
            &params,
            "rss_after_delete_mib",
            first_after,
            "MiB",
        ),
        Figure::new(
            SCENARIO,
            &params,
            "rss_after_last_delete_mib",
            last_after,
            "MiB",
        ),
        Figure::new(
            SCENARIO,
            &params,
            "growth_over_cycles_share",
            ((last_after - first_after) / first_added).max(0.0),
            "ratio",
        )
        .target(0.1),
    ])
}
