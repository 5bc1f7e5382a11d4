//! `cachescope watch`: headless live mode. The watcher's events, one JSON object per line,
//! flushed after each, until SIGINT or SIGTERM (exit 0); exit 2 when nothing could be watched.

use std::io::{self, Write};
use std::path::PathBuf;

use cachescope::incremental::json::event_line;
use cachescope::incremental::session::{Scope, SessionOptions};
use cachescope::live::LiveOptions;

use super::Outcome;
use super::term;
use crate::watch::{self, WatchConfig};

pub fn run(paths: Vec<PathBuf>, project: Option<PathBuf>, all: bool) -> Outcome {
    let config = WatchConfig {
        paths,
        session: SessionOptions {
            live: LiveOptions { project },
            scope: if all {
                Scope::AllRecords
            } else {
                Scope::LatestPerTask
            },
        },
        ..WatchConfig::default()
    };
    let (handle, events) = watch::start(config);
    // SIGINT, SIGTERM (and SIGHUP): stop the watcher, which closes the channel below.
    let stopper = handle.stopper();
    if let Err(e) = ctrlc::set_handler(move || stopper.stop()) {
        term::error!("cannot handle SIGINT/SIGTERM: {e}");
    }
    let mut out = io::stdout().lock();
    for event in events {
        let written = writeln!(out, "{}", event_line(&event)).and_then(|()| out.flush());
        // The reader went away (`| head`): as good as an interrupt.
        if written.is_err() {
            handle.stop();
            break;
        }
    }
    match handle.join() {
        Ok(()) => Outcome::Ok,
        Err(why) => {
            term::error!("{why}");
            Outcome::Error
        }
    }
}
