//! `strata`: with no subcommand, a standalone node with embedded defaults.

use std::path::PathBuf;

use anyhow::Context;
use broker::config::{Config, Overrides};
use broker::node::Node;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Strata: a Kafka-compatible event streaming broker"
)]
struct Cli {
    /// TOML config file (see config/strata.toml for every key and its default).
    #[arg(long, env = "STRATA_CONFIG")]
    config: Option<PathBuf>,
    /// Kafka listener address, host:port [default: 127.0.0.1:9092].
    #[arg(long)]
    listen: Option<String>,
    /// host:port clients are told to connect to [default: the listen address].
    #[arg(long)]
    advertise: Option<String>,
    /// Directory of partition logs and metadata [default: ./strata-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// io engine for the logs: auto, uring or std [default: auto].
    #[arg(long)]
    io_engine: Option<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let config = Config::load(
        cli.config.as_deref(),
        std::env::vars(),
        &Overrides {
            listen: cli.listen,
            advertise: cli.advertise,
            data_dir: cli.data_dir,
            io_engine: cli.io_engine,
        },
    )?;
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async {
        let node = Node::start(config).await?;
        wait_for_signal().await?;
        tracing::info!("shutting down");
        node.shutdown().await?;
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
