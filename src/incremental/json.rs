//! Watch events as the JSON lines of cli.md's `watch` section (`ready`, `verdict`, `record`,
//! `error`), `event` first. Building the text is not printing: `cachescope watch` writes it.

use serde::Serialize;
use serde_json::Value as Json;

use super::event::{Prediction, WatchEvent};
use crate::explain::Explanation;
use crate::explain::json::{cause_json, culprit_json};
use crate::safe_json;

#[derive(Serialize)]
struct PredictionLine<'a> {
    key: Option<&'a str>,
    verdict: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> PredictionLine<'a> {
    fn of(p: &'a Prediction) -> Self {
        PredictionLine {
            key: p.key.as_deref(),
            verdict: p.verdict.as_str(),
            error: p.error.as_deref(),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Line<'a> {
    Ready {
        records: usize,
        tasks: usize,
        ms: u64,
    },
    Verdict {
        record: String,
        task: &'a str,
        key: Option<&'a str>,
        verdict: &'static str,
        previous: Option<PredictionLine<'a>>,
        culprits: Vec<Json>,
        non_key_causes: Vec<Json>,
        trigger: String,
        /// An extension: explain's one sentence.
        headline: &'a str,
        /// An extension: why the prediction could not be made.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
    Record {
        record: String,
        task: &'a str,
        status: &'static str,
        trigger: String,
        /// An extension: the run against the run before it.
        compared: Option<Compared<'a>>,
    },
    Error {
        path: String,
        error: &'a str,
    },
}

/// A new run explained against the run before it, as `explain RECORD --json` says it.
#[derive(Serialize)]
struct Compared<'a> {
    with: &'a str,
    pairing: &'static str,
    verdict: &'static str,
    culprits: Vec<Json>,
    non_key_causes: Vec<Json>,
    headline: &'a str,
}

impl<'a> Compared<'a> {
    fn of(e: &'a Explanation) -> Self {
        Compared {
            with: &e.a,
            pairing: e.pairing.as_str(),
            verdict: e.verdict.as_str(),
            culprits: e.culprits.iter().map(culprit_json).collect(),
            non_key_causes: e.non_key_causes.iter().map(cause_json).collect(),
            headline: &e.headline,
        }
    }
}

/// One event as one line of JSON (without the newline).
pub fn event_line(event: &WatchEvent) -> String {
    let line = match event {
        WatchEvent::Ready(r) => Line::Ready {
            records: r.records,
            tasks: r.tasks,
            ms: r.ms,
        },
        WatchEvent::Verdict(v) => Line::Verdict {
            record: v.record.to_string(),
            task: &v.task,
            key: v.prediction.key.as_deref(),
            verdict: v.prediction.verdict.as_str(),
            previous: v.previous.as_ref().map(PredictionLine::of),
            culprits: v.explanation.culprits.iter().map(culprit_json).collect(),
            non_key_causes: v
                .explanation
                .non_key_causes
                .iter()
                .map(cause_json)
                .collect(),
            trigger: v.trigger.display().to_string(),
            headline: &v.explanation.headline,
            error: v.prediction.error.as_deref(),
        },
        WatchEvent::Record(r) => Line::Record {
            record: r.record.to_string(),
            task: &r.task,
            status: r.status.as_str(),
            trigger: r.trigger.display().to_string(),
            compared: r.comparison.as_ref().map(Compared::of),
        },
        WatchEvent::Error(e) => Line::Error {
            path: e.path.display().to_string(),
            error: &e.error,
        },
    };
    safe_json::to_string(&line).expect("watch lines are plain data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incremental::event::{Ready, WatchError};

    #[test]
    fn ready_and_error_lines_are_exactly_the_contract() {
        let ready = WatchEvent::Ready(Ready {
            records: 10000,
            tasks: 14,
            ms: 812,
        });
        assert_eq!(
            event_line(&ready),
            r#"{"event":"ready","records":10000,"tasks":14,"ms":812}"#
        );
        let error = WatchEvent::Error(WatchError {
            path: "/w/runs/half.json".into(),
            error: "1:12: unexpected end of input".into(),
        });
        assert_eq!(
            event_line(&error),
            r#"{"event":"error","path":"/w/runs/half.json","error":"1:12: unexpected end of input"}"#
        );
    }
}
