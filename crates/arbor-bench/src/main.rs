//! `arbor-bench SCENARIO [--param value]...`: runs one benchmark scenario and prints one JSON object per
//! figure on stdout, and nothing else.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// The allocator arbor's binary uses, so that figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use arbor_bench::{Figure, Runs, forest, jira, memory, server, sim, store, ui};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "arbor-bench",
    version,
    about = "arbor's benchmarks: one JSON line per figure"
)]
struct Cli {
    /// Unmeasured runs before measuring.
    #[arg(long, default_value_t = 2, global = true)]
    warmup: usize,
    /// Measured runs; the median is reported.
    #[arg(long, default_value_t = 7, global = true)]
    runs: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// The effective forest (insert + extend + group + sort + 3 totals) with data in memory.
    Forest {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Storage: save and load of a forest on SQLite (and PostgreSQL at ARBOR_TEST_POSTGRES_URL), journal appends.
    Store {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// jira-sim: import of the real issues (with the default site file).
    SimImport {
        /// The tidev-jira folder.
        #[arg(long, default_value_os_t = default_data())]
        data: PathBuf,
    },
    /// jira-sim: a 5000-id search page over HTTP, on the real issues or a synthetic site.
    SimSearch {
        #[arg(long, default_value_os_t = default_data())]
        data: PathBuf,
        /// Search a synthetic site of this many issues instead of the real data.
        #[arg(long)]
        synthetic: Option<usize>,
    },
    /// arbor-jira: cold load of an N-issue structure (JQL insert + extend + 5 columns) from an in-process
    /// jira-sim with latency, a reopen within the TTL, and a reload after one change announced by webhook.
    JiraLoad {
        #[arg(long, default_value_t = 10_000)]
        issues: usize,
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
    },
    /// The server over HTTPS: 200-row windows of a large structure from concurrent clients, against the same
    /// server's /healthz.
    Server {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// How long each kind of request (windows, /healthz) is measured, over five alternating rounds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// The server's resident memory before, with and after a structure doubled to `rows` stored rows by
    /// copies into its own subtree (deleted at the end).
    Memory {
        #[arg(long, default_value_t = 131_072)]
        rows: usize,
    },
    /// The board in headless Chromium: time to the first rows of a large structure, and frame times while
    /// scrolling through it.
    Ui {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// The browser: Debian's `chromium`, from PATH unless a path is given.
        #[arg(long, default_value = "chromium")]
        chromium: String,
        /// Its WebDriver: Debian's `chromedriver` (package chromium-driver).
        #[arg(long, default_value = "chromedriver")]
        chromedriver: String,
    },
    /// jira-sim: generating a synthetic site (time and peak memory of this process).
    SimSynthetic {
        #[arg(long, default_value_t = 1_000_000)]
        issues: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// `../shared/data/tidev-jira` beside the workspace.
fn default_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tidev-jira")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runs = Runs {
        warmup: cli.warmup,
        measured: cli.runs.max(1),
    };
    let figures: Result<Vec<Figure>, String> = match cli.scenario {
        Scenario::Forest { rows } => Ok(forest::run(rows, runs)),
        Scenario::Store { rows } => store::run_store(rows, runs).map_err(|e| e.to_string()),
        Scenario::SimImport { data } => sim::import_real(&data, runs).map_err(|e| e.to_string()),
        Scenario::SimSearch { data, synthetic } => {
            let data = synthetic.is_none().then_some(data.as_path());
            sim::search_page(data, synthetic.unwrap_or(0), runs).map_err(|e| e.to_string())
        }
        Scenario::JiraLoad { issues, latency_ms } => {
            jira::jira_load(issues, latency_ms, runs).map_err(|e| e.to_string())
        }
        Scenario::Server {
            rows,
            clients,
            seconds,
        } => server::run(rows, clients, seconds).map_err(|e| e.to_string()),
        Scenario::Memory { rows } => memory::run(rows).map_err(|e| e.to_string()),
        Scenario::Ui {
            rows,
            chromium,
            chromedriver,
        } => ui::run(
            rows,
            &ui::Chromium {
                browser: chromium,
                driver: chromedriver,
            },
            runs,
        )
        .map_err(|e| e.to_string()),
        Scenario::SimSynthetic { issues, seed } => {
            sim::synthetic_load(issues, seed).map_err(|e| e.to_string())
        }
    };
    match figures {
        Ok(figures) => {
            for figure in figures {
                println!("{}", figure.to_line());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
