//! Argument parsing and dispatch.

mod check;
mod explain;
mod keys;
mod source;
mod summary;
mod term;
mod watch;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cachescope::live::LiveOptions;
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
    /// Read task source files under DIR: replaces every record's project_root
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// Play a demo walkthrough (a TOML file of steps) in the inspector
    #[arg(long, value_name = "FILE")]
    walkthrough: Option<PathBuf>,
    /// Leave the mouse to the terminal (to select and copy text with it)
    #[arg(long)]
    no_mouse: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Recompute every record's cache key from its recorded material, node by node
    Keys {
        /// Run records (.json, .jsonl) or folders searched recursively [default: ./.cachescope/runs]
        paths: Vec<PathBuf>,
        /// Recompute TaskSource from the source file as it is now, and predict the next run
        #[arg(long)]
        live: bool,
        /// Read task source files under DIR: replaces every record's project_root
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// One JSON object per record, per line
        #[arg(long)]
        json: bool,
    },
    /// Explain why a run missed the cache entry of another run (or why the next run would)
    Explain(explain::ExplainArgs),
    /// For CI: fail when any task's next run would miss because its code or configuration changed
    Check {
        /// Run records (.json, .jsonl) or folders searched recursively [default: ./.cachescope/runs]
        paths: Vec<PathBuf>,
        /// Read task source files under DIR: replaces every record's project_root
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// One JSON object per task, per line
        #[arg(long)]
        json: bool,
        /// The time result expirations are compared with [default: now]
        #[arg(long, value_name = "TIME", hide = true)]
        now: Option<String>,
    },
    /// Watch sources, records and result storage; print each change of a prediction as a JSON line
    Watch {
        /// Run records (.json, .jsonl) or folders searched recursively [default: ./.cachescope/runs]
        paths: Vec<PathBuf>,
        /// Read task source files under DIR: replaces every record's project_root
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Predict from every record, not only each task's latest
        #[arg(long)]
        all: bool,
    },
    /// Print a function's source exactly as CPython's inspect.getsource returns it
    Source {
        /// A Python source file
        file: PathBuf,
        /// The function's __qualname__ (Class.method, outer.<locals>.inner)
        qualname: String,
        /// Pick the definition nearest this line when the qualname occurs more than once
        #[arg(long, value_name = "N")]
        line: Option<usize>,
        /// Follow this CPython version's inspect (3.9 to 3.13)
        #[arg(long, value_name = "X.Y", default_value = "3.13")]
        python: String,
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
    if !paths.is_empty() {
        return paths;
    }
    let default = PathBuf::from(DEFAULT_RUNS);
    if !default.exists() {
        // A first run in a project with no records yet: say how to get some.
        term::error!(
            "no PATH given and no {DEFAULT_RUNS} here. Record runs \
             with the recorder (`pip install <cachescope checkout>/recorder`, then \
             `CACHESCOPE_RUNS={DEFAULT_RUNS} python your_flow.py`), or name a runs folder."
        );
    }
    vec![default]
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error quotes the arguments, and an argument can be a file name that a glob
        // picked up: the message goes through the sanitiser (without clap's colours). Help and
        // the version are clap's own text, on stdout.
        Err(e) if e.use_stderr() => {
            let mut err = term::Sanitized::new(std::io::stderr().lock());
            let _ = write!(err, "{}", e.render());
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
        Err(e) => e.exit(),
    };
    let outcome = match cli.command {
        Some(Command::Keys {
            paths,
            live,
            project,
            json,
        }) => {
            // --project alone also means "look at the files": it only matters for live keys.
            let live = (live || project.is_some()).then_some(LiveOptions { project });
            keys::run(&default_paths(paths), json, live)
        }
        Some(Command::Explain(args)) => explain::run(args),
        Some(Command::Check {
            paths,
            project,
            json,
            now,
        }) => check::run(&default_paths(paths), project, json, now.as_deref()),
        Some(Command::Watch {
            paths,
            project,
            all,
        }) => watch::run(default_paths(paths), project, all),
        Some(Command::Source {
            file,
            qualname,
            line,
            python,
        }) => source::run(&file, &qualname, line, &python),
        None => inspect(cli.paths, cli.project, cli.walkthrough, !cli.no_mouse),
    };
    ExitCode::from(outcome as u8)
}

/// `cachescope [PATH...]`: the terminal UI on a terminal, the text summary anywhere else (a
/// pipe, CI), so scripts and the demo command work everywhere.
fn inspect(
    paths: Vec<PathBuf>,
    project: Option<PathBuf>,
    walkthrough: Option<PathBuf>,
    mouse: bool,
) -> Outcome {
    use std::io::IsTerminal;
    if paths.is_empty() && !PathBuf::from(DEFAULT_RUNS).exists() {
        // Nothing to show: say how to record runs (default_paths does), not an empty screen.
        default_paths(paths);
        return Outcome::Error;
    }
    let paths = default_paths(paths);
    if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
        return summary::run(&paths);
    }
    match crate::tui::run(crate::tui::Options {
        paths,
        project,
        walkthrough,
        mouse,
    }) {
        Ok(()) => Outcome::Ok,
        Err(e) => {
            term::error!("{e:#}");
            Outcome::Error
        }
    }
}
