//! The `arbor` binary: command line, configuration, logging and the wiring of the other crates.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: see the workspace's Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

use arbor::config::{self, ConfigFile, LogFormat};
use arbor::{demo, logging, server, storage};

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
    /// Create the data directory and the database if needed, and apply pending migrations.
    Migrate,
    /// Manage encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Serve arbor over HTTPS with the configured Jira site, until interrupted (Ctrl-C or SIGTERM).
    Serve,
    /// Start a complete demo: a simulated Jira site with real data, arbor on a local HTTPS port, and example
    /// structures. No configuration needed.
    Demo {
        /// Where the demo keeps its database, key and certificate.
        #[arg(long, default_value = "arbor-demo", value_name = "DIR")]
        data_dir: PathBuf,
        /// The local HTTPS port; 0 picks a free one.
        #[arg(long, default_value_t = 8443)]
        port: u16,
        /// The TiDev archive to load into the simulator (a synthetic site when absent).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Give every tenant a new data key and re-encrypt its records (online), optionally first re-wrapping
    /// all keys under a new master key.
    Rotate {
        /// A file holding the new master key (64 hex characters or base64 of 32 bytes). Configure it as
        /// ARBOR_MASTER_KEY(_FILE) afterwards: the old key no longer opens the database.
        #[arg(long, value_name = "FILE")]
        new_master_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the audit chain; exits 1 and names the first bad entry if any entry was modified, deleted,
    /// inserted or reordered.
    Verify,
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
        Command::Migrate => {
            let version = block_on(storage::migrate(&loaded.config))?;
            println!("database schema version {version}");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate {
                new_master_key_file,
            },
        } => {
            let summary = block_on(storage::rotate_keys(
                &loaded.config,
                new_master_key_file.as_deref(),
                &storage::stderr_progress,
            ))?;
            println!(
                "rotated the data keys of {} tenants; {} values re-encrypted",
                summary.tenants, summary.reencrypted
            );
            Ok(())
        }
        Command::Serve => block_on(server::serve(&loaded.config)),
        Command::Demo {
            data_dir,
            port,
            data,
        } => block_on(demo::demo(&demo::DemoOptions {
            data_dir,
            port,
            tidev: data.unwrap_or_else(demo::default_tidev),
        })),
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let report = block_on(storage::verify_audit(&loaded.config))?;
            match report.fault {
                None => {
                    println!(
                        "audit log intact: {} entries, {} checkpoints",
                        report.entries, report.checkpoints
                    );
                    Ok(())
                }
                Some(fault) => {
                    println!("first bad entry: {}", fault.seq());
                    anyhow::bail!("the audit log was tampered with: {fault}")
                }
            }
        }
    }
}

/// Runs one async command to completion.
fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(work)
}
