//! `strata`: with no subcommand, a standalone node with embedded defaults.

use std::path::PathBuf;

use anyhow::Context;
use broker::node::{Node, NodeOptions};
use clap::Parser;
use hotlog::EngineKind;

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Strata: a Kafka-compatible event streaming broker"
)]
struct Cli {
    /// Directory holding the partition logs.
    #[arg(long, env = "STRATA_DATA_DIR", default_value = "./strata-data")]
    data_dir: PathBuf,
    /// io engine for the logs: auto (io_uring if the kernel allows it), uring or std.
    #[arg(long, env = "STRATA_IO_ENGINE", default_value = "auto")]
    io_engine: EngineKind,
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
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    let node = Node::start(&NodeOptions {
        data_dir: cli.data_dir.clone(),
        io_engine: cli.io_engine,
    })?;
    tracing::info!(
        data_dir = %cli.data_dir.display(),
        engine = %node.engine().kind(),
        partitions = node.logs().len(),
        "strata node started; no Kafka listener yet (it arrives with the protocol server), waiting for SIGINT or SIGTERM"
    );
    runtime.block_on(wait_for_signal())?;
    tracing::info!("shutting down");
    node.shutdown()
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
