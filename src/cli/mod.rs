//! Argument parsing and dispatch.

mod keys;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Where the recorder writes by default, and so where cachescope looks with no PATH.
const DEFAULT_RUNS: &str = ".cachescope/runs";

#[derive(Parser)]
#[command(
    name = "cachescope",
    version,
    about = "Why did my Prefect task miss its cache?"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run records (.json, .jsonl) or folders searched recursively [default: ./.cachescope/runs]
    paths: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Recompute every record's cache key from its recorded material, node by node
    Keys {
        /// Run records (.json, .jsonl) or folders searched recursively [default: ./.cachescope/runs]
        paths: Vec<PathBuf>,
        /// One JSON object per record, per line
        #[arg(long)]
        json: bool,
    },
}

/// Exit status: 0 success, 1 a difference, 2 an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Ok = 0,
    Difference = 1,
    Error = 2,
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(DEFAULT_RUNS)]
    } else {
        paths
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Keys { paths, json }) => keys::run(&default_paths(paths), json),
        None => summary::run(&default_paths(cli.paths)),
    };
    ExitCode::from(outcome as u8)
}
