//! `arbor-bench SCENARIO [--param value]...`: runs one benchmark scenario and prints one JSON object per
//! figure on stdout, and nothing else.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use arbor_bench::{Runs, forest};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runs = Runs {
        warmup: cli.warmup,
        measured: cli.runs.max(1),
    };
    let figures = match cli.scenario {
        Scenario::Forest { rows } => forest::run(rows, runs),
    };
    for figure in figures {
        println!("{}", figure.to_line());
    }
    ExitCode::SUCCESS
}
