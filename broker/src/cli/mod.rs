//! The `strata` command line: with no subcommand, run a node; `strata tier ...` inspects and
//! checks the cold tier.

pub(crate) mod tier;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Strata: a Kafka-compatible event streaming broker",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// The flags of a node run (no subcommand).
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// TOML config file (see config/strata.toml for every key and its default).
    #[arg(long, env = "STRATA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Kafka listener address, host:port [default: 127.0.0.1:9092].
    #[arg(long)]
    pub(crate) listen: Option<String>,
    /// host:port clients are told to connect to [default: the listen address].
    #[arg(long)]
    pub(crate) advertise: Option<String>,
    /// Directory of partition logs and metadata [default: ./strata-data].
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// io engine for the logs: auto, uring or std [default: auto].
    #[arg(long)]
    pub(crate) io_engine: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Inspect and check the cold tier (tiered segments in the object store).
    #[command(subcommand)]
    Tier(TierCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TierCommand {
    /// List a topic's tiered segments from the newest manifest of each partition.
    List {
        #[command(flatten)]
        target: TierTarget,
        /// Print the manifests as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-read every tiered object of a topic and check every checksum against the manifest;
    /// exits non-zero if anything is wrong.
    Verify {
        #[command(flatten)]
        target: TierTarget,
    },
}

/// Which partitions, and how to find the store and the metadata.
#[derive(Debug, clap::Args)]
pub(crate) struct TierTarget {
    /// The topic.
    #[arg(long)]
    pub(crate) topic: String,
    /// One partition [default: every partition].
    #[arg(long)]
    pub(crate) partition: Option<i32>,
    /// TOML config file of the broker (for `[tiering]` and `data_dir`).
    #[arg(long, env = "STRATA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The broker's data directory (its metadata gives the topic id) [default: ./strata-data].
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
}
