//! The `jira-sim` binary: command line for the simulator and its tools.
#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use jira_sim::server::{self, DataSource, SimConfig};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// jira-sim: a Jira Cloud REST v3 simulator for arbor's tests, benchmarks and demo.
#[derive(Debug, Parser)]
#[command(name = "jira-sim", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the simulated Jira site over HTTP until interrupted (Ctrl-C).
    Serve(ServeArgs),
    /// Work with JQL as the simulator understands it.
    Jql {
        #[command(subcommand)]
        command: JqlCommand,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A TiDev archive directory (issues.jsonl.gz, projects.json).
    #[arg(
        long,
        conflicts_with = "synthetic",
        required_unless_present = "synthetic"
    )]
    data: Option<PathBuf>,
    /// Generate a synthetic site of this many issues instead.
    #[arg(long)]
    synthetic: Option<usize>,
    /// Seed of the synthetic site, latency jitter, faults and webhook duplicates.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Site file (TOML or JSON) with people, groups, roles and permissions; default: the built-in site.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Response time of every REST call (its work included), in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random extra latency, up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// The admin API's token; generated and printed when absent.
    #[arg(long, env = "JIRA_SIM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime_s: u64,
    /// Points per app per hour (0 = unlimited).
    #[arg(long, default_value_t = 65_000)]
    hourly_points: u64,
    /// Requests per app per second (0 = unlimited).
    #[arg(long, default_value_t = 100)]
    burst_per_second: u64,
    /// Searches answer from before a write for this long, in milliseconds.
    #[arg(long, default_value_t = 0)]
    consistency_window_ms: u64,
    /// A JSON file of controls (latency, faults, quotas, consistency, webhooks) as `GET /_sim/controls` shows
    /// them; it replaces the flags above.
    #[arg(long)]
    controls: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum JqlCommand {
    /// Read one query per line on standard input; print one line per query: `ok`, or `error: <message>` with
    /// Jira's wording. Exits 0 once every line is answered, whatever the verdicts.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Jql {
            command: JqlCommand::Check,
        } => check(io::stdin().lock(), io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the site, serves it, and prints `listening on <url>` once requests are accepted.
fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let data = match (args.data, args.synthetic) {
        (Some(dir), _) => DataSource::Tidev(dir),
        (None, Some(issues)) => DataSource::Synthetic {
            issues,
            seed: args.seed,
        },
        (None, None) => anyhow::bail!("give --data DIR or --synthetic N"),
    };
    let mut config = SimConfig::new(data);
    config.site_file = args.site;
    config.port = args.port;
    config.seed = args.seed;
    config.admin_token = args.admin_token.filter(|t| !t.is_empty());
    config.token_lifetime = Duration::from_secs(args.token_lifetime_s);
    config.controls.latency_ms = args.latency_ms;
    config.controls.jitter_ms = args.jitter_ms;
    config.controls.quota.hourly_points = args.hourly_points;
    config.controls.quota.burst_per_second = args.burst_per_second;
    config.controls.consistency_window_ms = args.consistency_window_ms;
    if let Some(path) = &args.controls {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        config.controls = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a controls document", path.display()))?;
    }
    let generated = config.admin_token.is_none();
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let sim = server::start(config)
            .await
            .context("starting the simulator")?;
        if generated {
            println!("admin token: {}", sim.admin_token());
        }
        println!("cloud id: {}", sim.cloud_id());
        println!("listening on {}", sim.base_url());
        io::stdout().flush().context("writing standard output")?;
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        sim.shutdown().await.context("shutting down")
    })
}

/// Answers every line of `input` on `output`, in order.
fn check(mut input: impl BufRead, output: impl Write) -> anyhow::Result<()> {
    let mut output = BufWriter::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading standard input")?
            == 0
        {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        // Bytes that are not UTF-8 cannot be JQL; the replacement character keeps one answer per line.
        let query = String::from_utf8_lossy(&line);
        match jql::parse(&query) {
            Ok(_) => writeln!(output, "ok"),
            // A message quotes the offending token, which may hold a decoded line break.
            Err(e) => writeln!(
                output,
                "error: {}",
                e.to_string().replace('\n', "\\n").replace('\r', "\\r")
            ),
        }
        .context("writing standard output")?;
    }
    output.flush().context("writing standard output")
}
