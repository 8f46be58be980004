//! Benchmarks of the Jira simulator: importing the real data (`sim-import`), one 5000-id search page over HTTP
//! against an in-process simulator (`sim-search`), and loading a large synthetic site (`sim-synthetic`).
//!
//! Invariant: the HTTP benchmark talks to a simulator on 127.0.0.1 only, with rate limits switched off so that
//! the figures measure the simulator, not its quota.

use std::path::Path;
use std::time::{Duration, Instant};

use jira_sim::server::{self, DataSource, SimConfig};
use jira_sim::site::SiteFile;
use jira_sim::{import, synthetic};
use serde_json::{Map, Value, json};

use crate::{Figure, Runs, median, median_time, ms};

/// Why a simulator benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimBenchError {
    #[error(transparent)]
    Data(#[from] jira_sim::model::Error),
    #[error(transparent)]
    Sim(#[from] server::SimError),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("unexpected answer: {0}")]
    Answer(String),
}

fn params(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// `sim-import`: median time to import `issues.jsonl.gz` + `projects.json` and apply the default site file,
/// and the issues per second that makes.
pub fn import_real(data_dir: &Path, runs: Runs) -> Result<Vec<Figure>, SimBenchError> {
    let load = || -> Result<usize, SimBenchError> {
        let mut site = import::load_tidev(data_dir)?;
        SiteFile::default_site()?.apply(&mut site)?;
        Ok(site.issues.len())
    };
    let issues = load()?;
    let time = median_time(runs, || (), |()| load());
    let p = params(&[
        ("data", json!(data_dir.display().to_string())),
        ("issues", json!(issues)),
    ]);
    #[allow(clippy::cast_precision_loss)]
    let rate = issues as f64 / time.as_secs_f64().max(1e-9);
    Ok(vec![
        Figure::new("sim-import", &p, "import_ms", ms(time), "ms"),
        Figure::new("sim-import", &p, "issues_per_second", rate, "issues/s"),
    ])
}

/// `sim-search`: latency of a first page of 5000 ids (`fields=id`, the largest page Jira allows) and of a
/// following page, over HTTP on loopback, against the real data (or a synthetic site of `synthetic_issues`
/// issues when `data_dir` is `None`). Medians of `runs`.
pub fn search_page(
    data_dir: Option<&Path>,
    synthetic_issues: usize,
    runs: Runs,
) -> Result<Vec<Figure>, SimBenchError> {
    let data = match data_dir {
        Some(dir) => DataSource::Tidev(dir.to_path_buf()),
        None => DataSource::Synthetic {
            issues: synthetic_issues,
            seed: 42,
        },
    };
    let mut config = SimConfig::new(data);
    config.controls.quota.hourly_points = 0;
    config.controls.quota.burst_per_second = 0;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let sim = server::start(config).await?;
        let (jql, issues) = sim.handle().with_site(|site| {
            let keys: Vec<&str> = site.projects.iter().map(|p| p.key.as_str()).collect();
            (
                format!("project in ({}) ORDER BY key", keys.join(", ")),
                site.issues.len(),
            )
        });
        let token = sim.handle().mint_token("admin", "arbor-bench")?;
        let client = reqwest::Client::new();
        let url = format!("{}/rest/api/3/search/jql", sim.base_url());
        let page = |next: Option<String>| {
            let mut body = json!({ "jql": jql, "maxResults": 5000, "fields": ["id"] });
            if let Some(t) = next {
                body["nextPageToken"] = Value::String(t);
            }
            let request = client.post(&url).bearer_auth(&token).json(&body);
            async move {
                let started = Instant::now();
                let reply: Value = request.send().await?.error_for_status()?.json().await?;
                let elapsed = started.elapsed();
                let n = reply["issues"].as_array().map_or(0, Vec::len);
                let next = reply["nextPageToken"].as_str().map(str::to_owned);
                Ok::<_, SimBenchError>((elapsed, n, next))
            }
        };
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut size = 0;
        for run in 0..runs.warmup + runs.measured.max(1) {
            let (t1, n, next) = page(None).await?;
            if n != 5000.min(issues) {
                return Err(SimBenchError::Answer(format!(
                    "a page of {n} issues, expected {}",
                    5000.min(issues)
                )));
            }
            size = n;
            let t2 = match next {
                Some(token) => Some(page(Some(token)).await?.0),
                None => None,
            };
            if run >= runs.warmup {
                first.push(t1);
                second.extend(t2);
            }
        }
        let points = sim.handle().stats()["total"]["points"]
            .as_u64()
            .unwrap_or(0);
        sim.shutdown().await?;
        let p = params(&[
            ("issues", json!(issues)),
            ("page", json!(size)),
            ("jql", json!(jql)),
        ]);
        let mut figures = vec![Figure::new(
            "sim-search",
            &p,
            "first_page_ms",
            ms(median(&mut first)),
            "ms",
        )];
        if !second.is_empty() {
            figures.push(Figure::new(
                "sim-search",
                &p,
                "next_page_ms",
                ms(median(&mut second)),
                "ms",
            ));
        }
        #[allow(clippy::cast_precision_loss)]
        figures.push(Figure::new(
            "sim-search",
            &p,
            "points_total",
            points as f64,
            "points",
        ));
        Ok(figures)
    })
}

/// `sim-synthetic --issues N`: one timed generation of an N-issue site with the default site file applied,
/// against the 20 s target, and the process's peak RSS against 4096 MiB (run it in a process of its own).
pub fn synthetic_load(issues: usize, seed: u64) -> Result<Vec<Figure>, SimBenchError> {
    let started = Instant::now();
    let mut site = synthetic::generate(issues, seed);
    SiteFile::default_site()?.apply(&mut site)?;
    let elapsed: Duration = started.elapsed();
    let p = params(&[("issues", json!(issues)), ("seed", json!(seed))]);
    let mut figures =
        vec![Figure::new("sim-synthetic", &p, "load_s", elapsed.as_secs_f64(), "s").target(20.0)];
    if let Some(rss) = crate::rss_mib(crate::Rss::Peak) {
        figures.push(Figure::new("sim-synthetic", &p, "peak_rss_mib", rss, "MiB").target(4096.0));
    }
    std::hint::black_box(&site);
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_figures_and_rss() {
        let figures = synthetic_load(2000, 1).unwrap();
        assert_eq!(figures[0].metric, "load_s");
        assert_eq!(figures[0].target, Some(20.0));
        assert!(crate::rss_mib(crate::Rss::Peak).is_some_and(|m| m > 1.0));
        assert!(crate::rss_mib(crate::Rss::Current).is_some_and(|m| m > 1.0));
    }

    #[test]
    fn search_page_over_http_on_a_small_site() {
        let figures = search_page(
            None,
            6000,
            Runs {
                warmup: 0,
                measured: 1,
            },
        )
        .unwrap();
        let metrics: Vec<&str> = figures.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(metrics, ["first_page_ms", "next_page_ms", "points_total"]);
        assert_eq!(figures[0].params["page"], 5000);
    }
}
