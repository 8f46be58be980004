//! The `arbor` binary: command line, configuration, logging and the wiring of the other crates.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use arbor::config::{self, ConfigFile, LogFormat};
use arbor::logging;

/// arbor: a self-hosted, security-first structure app for Jira.
#[derive(Debug, Parser)]
#[command(name = "arbor", version, about, propagate_version = true)]
struct Cli {
    /// The configuration file (default: ./arbor.toml when it exists).
    #[arg(long, global = true, env = "ARBOR_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format on standard error; overrides `log.format`. `auto` is text on a terminal, JSON otherwise.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load the configuration and print the effective settings as TOML, secrets shown as `***`.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.map_or(ConfigFile::Default, ConfigFile::Given);
    let loaded = config::load(&file, std::env::vars())?;
    logging::init(
        &loaded.config.log.level,
        cli.log_format.unwrap_or(loaded.config.log.format),
    )?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            match &loaded.file {
                Some(path) => tracing::info!(file = %path.display(), "configuration loaded"),
                None => tracing::info!("configuration loaded from defaults and environment"),
            }
            tracing::debug!(config = ?loaded.config, "effective configuration");
            print!("{}", config::render(&loaded.config));
            Ok(())
        }
    }
}
