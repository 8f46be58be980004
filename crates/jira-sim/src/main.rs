//! The `jira-sim` binary: command line for the simulator and its tools.
#![forbid(unsafe_code)]

use std::io::{self, BufRead, BufWriter, Write};
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
    /// Work with JQL as the simulator understands it.
    Jql {
        #[command(subcommand)]
        command: JqlCommand,
    },
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
