//! The `cachescope` command line: parses arguments, runs the core, prints, and sets the exit
//! status (0 success, 1 a difference, 2 an error after everything else was processed).

mod cli;
mod tui;
mod watch;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
