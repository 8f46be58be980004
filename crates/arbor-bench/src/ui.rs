//! `ui`: the board in headless Chromium (Debian's `chromium` and `chromedriver`, driven over WebDriver) on the
//! `server` scenario's stage: a structure of `rows` issue rows, read from the in-process simulator.
//!
//! The browser signs in through the simulator's sign-in page as the site's admin, opens the structure once
//! (the server reads its issues from the simulator: `first_rows_cold_ms`, target 1000, from the click to the
//! first rows painted — the server answers the first window as soon as the issues of its rows are read) and
//! shows all of its levels. Then, `runs` times after `warmup` times, a new page opens the
//! structure's address: `first_rows_ms` (target 1000) is the median time from the navigation's start to the
//! first rows painted, as the board marks it (`performance.mark("arbor:first-rows")` at the start of the frame
//! after the one that drew them). The server has this structure's forest then, as it has for everyone who opens
//! a structure someone opened within the data's time to live.
//!
//! Scrolling sets the grid's scroll position once per frame, as a wheel or a dragged scroll bar does, through
//! three phases: 100 px per frame (a fast wheel), one screen per frame, and a jump to a far row every 15th
//! frame. A frame's time is from its start (the animation frame's timestamp) to the end of its rendering work
//! on the page's thread (a message posted from the animation frame runs after the frame's style, layout and
//! paint): `scroll_frame_p95_ms` (target 16.7, one frame at 60 Hz) over every frame of the phases, with the
//! slowest frame, the frames the browser dropped (more than 1.5 frame intervals between two frames) and the
//! frames that began with rows in or near the view still loading (placeholders until their window arrives).
//!
//! `first_rows_cold_ms` is one open (the first); the time to read all of the structure's issues from Jira is
//! `jira-load`'s figure.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::browser::{Chromedriver, Scheme};
use crate::stage::{Stage, StageError, setup};
use crate::{Figure, Runs, middle, percentile};

const SCENARIO: &str = "ui";

/// How long a page may take to show what is waited for.
const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);
/// One frame at 60 Hz.
const FRAME_MS: f64 = 1000.0 / 60.0;

/// Where the browser comes from.
#[derive(Debug, Clone)]
pub struct Chromium {
    /// The browser (`chromium`, looked up in `PATH` unless it is a path).
    pub browser: String,
    /// Its WebDriver (`chromedriver`).
    pub driver: String,
}

/// Runs the scenario and returns its figures.
pub fn run(rows: usize, chromium: &Chromium, runs: Runs) -> Result<Vec<Figure>, StageError> {
    let browser = in_path(&chromium.browser)?;
    let driver = in_path(&chromium.driver)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(setup)?;
    runtime.block_on(async {
        let stage = Stage::start(rows).await?;
        let dir = tempfile::tempdir().map_err(setup)?;
        let chromedriver = Chromedriver::start(&driver.to_string_lossy(), &dir.path().join("tmp"))
            .map_err(setup)?;
        let client = chromedriver
            .session(
                &browser.to_string_lossy(),
                &dir.path().join("profile"),
                Scheme::System,
            )
            .await
            .map_err(setup)?;
        let measured = measure(&client, &stage, rows, runs).await;
        let _ = client.close().await;
        drop(chromedriver);
        stage.stop().await?;
        let measured = measured?;
        let mut params = Map::new();
        params.insert("rows".into(), json!(rows));
        params.insert("runs".into(), json!(runs.measured));
        params.insert("frames".into(), json!(measured.frames));
        let figure = |metric: &str, value: f64, unit: &str| {
            Figure::new(SCENARIO, &params, metric, value, unit)
        };
        Ok(vec![
            figure("first_rows_cold_ms", measured.first_rows_cold_ms, "ms").target(1000.0),
            figure("first_rows_ms", measured.first_rows_ms, "ms").target(1000.0),
            figure("scroll_frame_p95_ms", measured.frame_p95_ms, "ms").target(FRAME_MS),
            figure("scroll_frame_max_ms", measured.frame_max_ms, "ms"),
            figure("scroll_dropped_frames", measured.dropped as f64, "frames"),
            figure("scroll_loading_frames", measured.loading as f64, "frames"),
        ])
    })
}

/// `name` itself when it names a file, else the first `PATH` entry that has it.
fn in_path(name: &str) -> Result<PathBuf, StageError> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            setup(format!(
                "{name} is not installed (Debian: apt-get install chromium chromium-driver)"
            ))
        })
}

struct Measured {
    first_rows_cold_ms: f64,
    first_rows_ms: f64,
    frames: usize,
    frame_p95_ms: f64,
    frame_max_ms: f64,
    dropped: usize,
    loading: usize,
}

async fn measure(
    client: &Client,
    stage: &Stage,
    rows: usize,
    runs: Runs,
) -> Result<Measured, StageError> {
    sign_in(client, stage).await?;
    let address = format!("{}/#/s/{}", stage.base, stage.structure);

    // The first open, from the structure list: the server computes the forest.
    let asked = client
        .execute(
            "const at = performance.now(); location.hash = arguments[0]; return at;",
            vec![json!(format!("#/s/{}", stage.structure))],
        )
        .await
        .map_err(setup)?
        .as_f64()
        .unwrap_or(0.0);
    let first_rows_cold_ms = first_rows(client).await? - asked;
    // The first answer may hold only the first rows, their issues read first: the board asks again and then
    // counts the whole forest's rows.
    poll(
        client,
        "the whole forest after its first rows",
        |value| value == &Value::Bool(false),
        "return document.body.innerText.includes('reading issues');",
    )
    .await?;
    // Every level, remembered by the board for this tab.
    client
        .execute(
            "const select = document.querySelector('select[aria-label=\"Expand all to level\"]');
             select.value = '1000';
             select.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .map_err(setup)?;
    wait_for_rows(client, rows).await?;

    let mut times = Vec::new();
    for run in 0..runs.warmup + runs.measured {
        client.goto("about:blank").await.map_err(setup)?;
        client.goto(&address).await.map_err(setup)?;
        let ms = first_rows(client).await?;
        wait_for_rows(client, rows).await?;
        if run >= runs.warmup {
            times.push(ms);
        }
    }
    let first_rows_ms = middle(&mut times);

    let frames: Frames =
        serde_json::from_value(client.execute_async(SCROLL, vec![]).await.map_err(setup)?)
            .map_err(setup)?;
    let mut costs = frames.costs;
    costs.sort_by(f64::total_cmp);
    let interval = middle(&mut frames.intervals.clone());
    let dropped = frames
        .intervals
        .iter()
        .filter(|&&gap| gap > 1.5 * interval.max(FRAME_MS))
        .count();
    Ok(Measured {
        first_rows_cold_ms,
        first_rows_ms,
        frames: costs.len(),
        frame_p95_ms: percentile(&costs, 0.95),
        frame_max_ms: costs.last().copied().unwrap_or(f64::NAN),
        dropped,
        loading: frames.loading,
    })
}

/// Through the simulator's sign-in page, as its admin; ends on the structure list.
async fn sign_in(client: &Client, stage: &Stage) -> Result<(), StageError> {
    client
        .goto(&format!("{}/auth/login?site=0", stage.base))
        .await
        .map_err(setup)?;
    let account = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//button[@name='account' and @value='admin'] | //input[@name='other']",
        ))
        .await
        .map_err(setup)?;
    if account.attr("name").await.map_err(setup)?.as_deref() == Some("other") {
        account.send_keys("admin").await.map_err(setup)?;
        client
            .find(Locator::XPath("//button[normalize-space()='Sign in']"))
            .await
            .map_err(setup)?
            .click()
            .await
            .map_err(setup)?;
    } else {
        account.click().await.map_err(setup)?;
    }
    poll(
        client,
        "the structure list",
        |value| value.as_bool() == Some(true),
        "return location.pathname === '/' && document.querySelector('.structure-lists') !== null;",
    )
    .await?;
    Ok(())
}

/// When the board marked its first rows, in milliseconds since the page's navigation started.
async fn first_rows(client: &Client) -> Result<f64, StageError> {
    let mark = poll(
        client,
        "the first rows",
        Value::is_number,
        "const mark = performance.getEntriesByName('arbor:first-rows')[0];
         return mark ? mark.startTime : null;",
    )
    .await?;
    Ok(mark.as_f64().unwrap_or(f64::NAN))
}

/// Waits until the grid counts `rows` rows (the structure fully shown).
async fn wait_for_rows(client: &Client, rows: usize) -> Result<(), StageError> {
    let wanted = json!(rows + 1);
    poll(
        client,
        &format!("{rows} rows in the grid"),
        |value| value.as_str().and_then(|v| v.parse::<u64>().ok()) >= wanted.as_u64(),
        "const grid = document.querySelector('[role=treegrid]');
         return grid && grid.getAttribute('aria-rowcount');",
    )
    .await?;
    Ok(())
}

/// Runs `script` until `done` accepts its value; gives up after [`WAIT`] with the page's text.
async fn poll(
    client: &Client,
    what: &str,
    done: impl Fn(&Value) -> bool,
    script: &str,
) -> Result<Value, StageError> {
    let started = Instant::now();
    loop {
        let value = client.execute(script, vec![]).await.map_err(setup)?;
        if done(&value) {
            return Ok(value);
        }
        if started.elapsed() > WAIT {
            let page = client
                .execute(
                    "return document.body ? document.body.innerText : '';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| {
                    v.as_str()
                        .map(|text| text.chars().take(500).collect::<String>())
                })
                .unwrap_or_default();
            return Err(setup(format!(
                "waited {WAIT:?} for {what}; last answer {value}; the page showed: {page}"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[derive(Deserialize)]
struct Frames {
    /// Each frame's time, from its start to the end of its rendering work.
    costs: Vec<f64>,
    /// Between the starts of consecutive frames.
    intervals: Vec<f64>,
    /// Frames that began with a row in or near the view still loading.
    loading: usize,
}

/// The scrolling, in the page: resolves to `{costs, intervals}` in milliseconds and the count of `loading` frames.
const SCROLL: &str = r"
const done = arguments[arguments.length - 1];
const grid = document.querySelector('[role=treegrid]');
const screen = grid.clientHeight;
const phases = [
  { frames: 240, next: (top) => top + 100 },
  { frames: 120, next: (top) => top + screen },
  { frames: 120, next: (top, frame) => frame % 15 ? top : (frame * 7919 % 997) / 997 * grid.scrollHeight },
];
grid.scrollTop = 0;
const costs = [];
const intervals = [];
const channel = new MessageChannel();
const starts = [];
channel.port1.onmessage = () => {
  costs.push(performance.now() - starts.shift());
  if (finished && starts.length === 0) done({ costs, intervals, loading });
};
let phase = 0, frame = 0, last = null, finished = false, loading = 0;
function tick(now) {
  if (last !== null) intervals.push(now - last);
  if (grid.querySelector('.grid-body > .placeholder')) loading += 1;
  last = now;
  starts.push(now);
  channel.port2.postMessage(0);
  if (frame === phases[phase].frames) { phase += 1; frame = 0; }
  if (phase === phases.length) { finished = true; return; }
  grid.scrollTop = phases[phase].next(grid.scrollTop, frame);
  frame += 1;
  requestAnimationFrame(tick);
}
requestAnimationFrame(() => requestAnimationFrame(tick));
";

#[cfg(test)]
mod tests {
    use super::*;

    /// The scenario end to end on a small structure, in the browser the test command installs; what it
    /// measures is not judged here, only that every figure is there and was measured.
    #[test]
    fn the_scenario_runs_on_a_small_structure() {
        let (Ok(browser), Ok(driver)) = (
            std::env::var("ARBOR_TEST_CHROMIUM"),
            std::env::var("ARBOR_TEST_CHROMEDRIVER"),
        ) else {
            eprintln!(
                "SKIPPED: the ui benchmark's run: ARBOR_TEST_CHROMIUM and ARBOR_TEST_CHROMEDRIVER are not set"
            );
            return;
        };
        let figures = run(
            2_000,
            &Chromium { browser, driver },
            Runs {
                warmup: 0,
                measured: 1,
            },
        )
        .expect("the scenario runs");
        let metrics: Vec<&str> = figures.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(
            metrics,
            [
                "first_rows_cold_ms",
                "first_rows_ms",
                "scroll_frame_p95_ms",
                "scroll_frame_max_ms",
                "scroll_dropped_frames",
                "scroll_loading_frames"
            ]
        );
        for figure in &figures[..4] {
            assert!(
                figure.value.is_finite() && figure.value > 0.0,
                "{}",
                figure.to_line()
            );
        }
        assert_eq!(figures[0].params["frames"], json!(481));
    }
}
