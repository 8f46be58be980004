//! Logging with `tracing`: human-readable on a terminal, JSON lines otherwise (or as `--log-format` says),
//! always on standard error so that standard output stays for command results.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFilter, LogFormat};

/// Installs the global subscriber. `format` is the effective one (the flag, else the configuration).
pub fn init(filter: &LogFilter, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::builder().parse(filter.as_str())?;
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
