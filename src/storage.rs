//! Result storage: would Prefect find a usable result record under a key?
//!
//! Prefect looks for `<storage>/<key>`: a JSON result record (`{"metadata": {...}, "result":
//! ...}`), or with `key_storage` the metadata alone. It is a hit when the file exists, reads,
//! and its `expiration` is null or later than now. This module only reads; it never writes
//! into storage. The clock is a parameter so that callers (and tests) decide what "now" is.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::pyjson::{Value, parse};

/// Why a lookup says miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissReason {
    /// No file under that key.
    Absent,
    /// The record's expiration is not later than now.
    Expired { at: String },
    /// The file is there but Prefect could not read it.
    Unreadable { why: String },
}

/// What a lookup of one key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A present, readable, unexpired record: the next run would be served from it.
    Hit {
        path: PathBuf,
        expiration: Option<String>,
    },
    Miss {
        path: PathBuf,
        reason: MissReason,
    },
    /// Storage that is not known or not local: nothing can be said.
    Unknown {
        why: String,
    },
}

impl Lookup {
    /// `hit`, `miss` or `unknown`.
    pub fn verdict(&self) -> &'static str {
        match self {
            Lookup::Hit { .. } => "hit",
            Lookup::Miss { .. } => "miss",
            Lookup::Unknown { .. } => "unknown",
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Lookup::Hit {
                path,
                expiration: None,
            } => format!("record present at {}", path.display()),
            Lookup::Hit {
                path,
                expiration: Some(at),
            } => {
                format!("record present at {} (expires {at})", path.display())
            }
            Lookup::Miss {
                path,
                reason: MissReason::Absent,
            } => format!("no record at {}", path.display()),
            Lookup::Miss {
                path,
                reason: MissReason::Expired { at },
            } => {
                format!("record at {} expired at {at}", path.display())
            }
            Lookup::Miss {
                path,
                reason: MissReason::Unreadable { why },
            } => {
                format!("record at {} is unreadable: {why}", path.display())
            }
            Lookup::Unknown { why } => why.clone(),
        }
    }
}

/// Looks `key` up in the local folder `storage` as of `now`.
pub fn lookup(storage: Option<&Path>, key: Option<&str>, now: Timestamp) -> Lookup {
    let Some(storage) = storage else {
        return Lookup::Unknown {
            why: "result storage is not local (or was not recorded)".to_string(),
        };
    };
    let Some(key) = key else {
        return Lookup::Unknown {
            why: "there is no key to look up".to_string(),
        };
    };
    // A key is a file name; anything else (a user's result_storage_key with folders) is
    // still joined, as Prefect's local file system does.
    let path = storage.join(key);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Lookup::Miss {
                path,
                reason: MissReason::Absent,
            };
        }
        Err(e) => {
            if !storage.is_dir() {
                return Lookup::Miss {
                    path,
                    reason: MissReason::Absent,
                };
            }
            return Lookup::Miss {
                path,
                reason: MissReason::Unreadable { why: e.to_string() },
            };
        }
    };
    match read_expiration(&bytes) {
        Err(why) => Lookup::Miss {
            path,
            reason: MissReason::Unreadable { why },
        },
        Ok(None) => Lookup::Hit {
            path,
            expiration: None,
        },
        Ok(Some((text, at))) if at > now => Lookup::Hit {
            path,
            expiration: Some(text),
        },
        Ok(Some((text, _))) => Lookup::Miss {
            path,
            reason: MissReason::Expired { at: text },
        },
    }
}

/// The expiration of a result record or of bare metadata, or why it cannot be read.
fn read_expiration(bytes: &[u8]) -> Result<Option<(String, Timestamp)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 JSON".to_string())?;
    let value = parse(text).map_err(|e| format!("not JSON ({e})"))?;
    if value.as_object().is_none() {
        return Err("not a JSON object".to_string());
    }
    // A full result record nests its metadata; key_storage holds the metadata alone.
    let metadata = match value.get("metadata") {
        Some(m @ Value::Object(_)) => {
            match value.get("result") {
                Some(Value::Str(_)) => {}
                _ => return Err("the record has no result payload".to_string()),
            }
            m
        }
        Some(_) => return Err("`metadata` is not an object".to_string()),
        None if value.get("storage_key").is_some() || value.get("serializer").is_some() => &value,
        None => return Err("neither a result record nor result metadata".to_string()),
    };
    match metadata.get("expiration") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => parse_time(s).map(|t| Some((s.clone(), t))),
        Some(_) => Err("`expiration` is not a string".to_string()),
    }
}

/// Parses an RFC 3339 / ISO 8601 time as Prefect writes it. A time without an offset is UTC
/// (Prefect stores UTC).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
        .ok_or_else(|| format!("cannot read the time {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) {
        fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn hit_absent_expired_unreadable_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let rec = |exp: &str| {
            format!(
                r#"{{"metadata": {{"storage_key": "x", "expiration": {exp}, "serializer": {{"type": "pickle"}}}}, "result": "gAR9"}}"#
            )
        };
        write(d, "k-none", &rec("null"));
        write(d, "k-later", &rec(r#""2026-11-24T12:00:01.5Z""#));
        write(d, "k-offset", &rec(r#""2026-11-24T13:30:00+02:00""#));
        write(d, "k-naive", &rec(r#""2026-11-24T11:59:59""#));
        write(
            d,
            "k-meta",
            r#"{"storage_key": "x", "expiration": null, "serializer": {"type": "json"}}"#,
        );
        write(d, "k-half", r#"{"metadata": {"storage_key"#);
        write(d, "k-noresult", r#"{"metadata": {"expiration": null}}"#);
        let l = |k: &str| lookup(Some(d), Some(k), now());
        assert!(matches!(
            l("k-none"),
            Lookup::Hit {
                expiration: None,
                ..
            }
        ));
        assert!(matches!(
            l("k-later"),
            Lookup::Hit {
                expiration: Some(_),
                ..
            }
        ));
        // 13:30+02:00 is 11:30 UTC: expired.
        assert!(
            matches!(
                l("k-offset"),
                Lookup::Miss {
                    reason: MissReason::Expired { .. },
                    ..
                }
            ),
            "{:?}",
            l("k-offset")
        );
        assert!(matches!(
            l("k-naive"),
            Lookup::Miss {
                reason: MissReason::Expired { .. },
                ..
            }
        ));
        assert!(matches!(l("k-meta"), Lookup::Hit { .. }));
        assert!(matches!(
            l("k-half"),
            Lookup::Miss {
                reason: MissReason::Unreadable { .. },
                ..
            }
        ));
        assert!(matches!(
            l("k-noresult"),
            Lookup::Miss {
                reason: MissReason::Unreadable { .. },
                ..
            }
        ));
        assert!(matches!(
            l("absent"),
            Lookup::Miss {
                reason: MissReason::Absent,
                ..
            }
        ));
        assert_eq!(lookup(None, Some("k"), now()).verdict(), "unknown");
        assert_eq!(lookup(Some(d), None, now()).verdict(), "unknown");
        assert_eq!(
            lookup(Some(&d.join("gone")), Some("k"), now()).verdict(),
            "miss"
        );
    }

    #[test]
    fn expiry_is_strictly_later_than_now() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            tmp.path(),
            "k",
            r#"{"metadata": {"expiration": "2026-11-24T12:00:00Z"}, "result": ""}"#,
        );
        assert_eq!(lookup(Some(tmp.path()), Some("k"), now()).verdict(), "miss");
    }
}
