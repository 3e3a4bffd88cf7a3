//! `strata`: with no subcommand, a standalone node with embedded defaults; `strata tier list`
//! and `strata tier verify` inspect and check the cold tier (see docs/tiering/operations.md).

mod cli;

use anyhow::Context;
use broker::config::{Config, Overrides};
use broker::node::Node;
use broker::telemetry::Telemetry;
use clap::Parser;

use cli::{Cli, Command, RunArgs};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => run_node(cli.run),
        Some(Command::Tier(command)) => {
            // Reports go to stdout; logs (the faults verify finds, as errors) to stderr.
            broker::telemetry::install_cli_logging();
            // 0: all intact; 1: faults found; 2: the command could not run.
            match cli::tier::run(command) {
                Ok(true) => Ok(()),
                Ok(false) => std::process::exit(1),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::exit(2)
                }
            }
        }
    }
}

fn run_node(args: RunArgs) -> anyhow::Result<()> {
    let config = Config::load(
        args.config.as_deref(),
        std::env::vars(),
        &Overrides {
            listen: args.listen,
            advertise: args.advertise,
            data_dir: args.data_dir,
            io_engine: args.io_engine,
        },
    )?;
    let telemetry = Telemetry::install(&config)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    let result = runtime.block_on(async {
        if !config.cluster.roles()?.broker {
            let node = broker::quorum::ControllerNode::start(&config).await?;
            wait_for_signal().await?;
            tracing::info!("shutting down");
            node.shutdown().await;
            tracing::info!("stopped cleanly");
            return anyhow::Ok(());
        }
        let node = Node::start(config).await?;
        wait_for_signal().await?;
        tracing::info!("shutting down");
        node.shutdown().await?;
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    });
    telemetry.shutdown();
    result
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
