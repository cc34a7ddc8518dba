//! The log of a running `sync`: one line per event, as readable text (the default) or as
//! JSON lines for log shippers (`--log-format json`), on standard error or in a file that
//! SIGHUP reopens after logrotate moved it (`--log-file`).
//!
//! A JSON line carries the time, the level, the event's name, the same message the text
//! line shows, and the event's figures as fields of their own:
//!
//! ```text
//! {"ts":"2026-12-02T12:00:00.5Z","level":"info","event":"summary","message":"…","changes":12,…}
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `lite2pg: <message>` lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Progress and state changes.
    Info,
    /// Something the operator should look at; sync goes on.
    Warn,
    /// Sync stops or cannot go on by itself.
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Where a running sync writes its log.
pub struct Journal {
    format: LogFormat,
    quiet: bool,
    file: Option<(PathBuf, std::fs::File)>,
    /// Set by SIGHUP: reopen the file before the next line.
    reopen: Arc<AtomicBool>,
}

impl Journal {
    /// A log in `format`, on standard error or appended to `file`; `quiet` writes nothing
    /// but errors.
    pub fn open(format: LogFormat, quiet: bool, file: Option<PathBuf>) -> Result<Journal> {
        let file = match file {
            Some(path) => {
                let f = append(&path)?;
                Some((path, f))
            }
            None => None,
        };
        Ok(Journal {
            format,
            quiet,
            file,
            reopen: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The flag a SIGHUP handler sets to have the log file reopened.
    pub fn reopen_flag(&self) -> Arc<AtomicBool> {
        self.reopen.clone()
    }

    /// Writes one event: `message` as the text line, or `event`, `message` and `fields` as
    /// a JSON line.
    pub fn log(&mut self, level: Level, event: &str, message: &str, fields: Json) {
        if self.quiet && level != Level::Error {
            return;
        }
        // The error that ends the process is printed by the binary as `lite2pg: error: …`;
        // a text line on the same stderr would say it twice. A log file or JSON lines keep it.
        if level == Level::Error && self.format == LogFormat::Text && self.file.is_none() {
            return;
        }
        let line = match self.format {
            LogFormat::Text => format!("lite2pg: {message}\n"),
            LogFormat::Json => {
                let mut obj = Map::new();
                obj.insert("ts".into(), jiff::Timestamp::now().to_string().into());
                obj.insert("level".into(), level.name().into());
                obj.insert("event".into(), event.into());
                obj.insert("message".into(), message.into());
                if let Json::Object(extra) = fields {
                    obj.extend(extra);
                }
                Json::Object(obj).to_string() + "\n"
            }
        };
        self.write(line.as_bytes());
    }

    /// An informational event.
    pub fn info(&mut self, event: &str, message: &str, fields: Json) {
        self.log(Level::Info, event, message, fields);
    }

    /// A warning.
    pub fn warn(&mut self, event: &str, message: &str, fields: Json) {
        self.log(Level::Warn, event, message, fields);
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.reopen.swap(false, Ordering::SeqCst) {
            if let Some((path, f)) = &mut self.file {
                // Keep the old handle when the new one cannot be opened: a line in the
                // rotated file is better than none.
                if let Ok(new) = append(path) {
                    *f = new;
                }
            }
        }
        // A log that cannot be written must not stop the applier.
        let _ = match &mut self.file {
            Some((_, f)) => f.write_all(bytes),
            None => std::io::stderr().lock().write_all(bytes),
        };
    }
}

fn append(path: &std::path::Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening the log file {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(format: LogFormat, quiet: bool, f: impl FnOnce(&mut Journal)) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.log");
        let mut j = Journal::open(format, quiet, Some(path.clone())).unwrap();
        f(&mut j);
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn json_lines_carry_the_message_and_the_fields() {
        let out = lines(LogFormat::Json, false, |j| {
            j.info(
                "summary",
                "3 change(s) applied",
                serde_json::json!({"changes": 3, "lag_p99_s": 0.25}),
            )
        });
        let v: Json = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["event"], "summary");
        assert_eq!(v["level"], "info");
        assert_eq!(v["message"], "3 change(s) applied");
        assert_eq!(v["changes"], 3);
        assert_eq!(v["lag_p99_s"], 0.25);
        assert!(v["ts"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn quiet_keeps_only_errors() {
        let out = lines(LogFormat::Text, true, |j| {
            j.info("summary", "applied", Json::Null);
            j.log(Level::Error, "gave_up", "gave up", Json::Null);
        });
        assert_eq!(out, vec!["lite2pg: gave up"]);
    }

    #[test]
    fn sighup_reopens_the_file_after_it_was_moved_away() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.log");
        let mut j = Journal::open(LogFormat::Text, false, Some(path.clone())).unwrap();
        j.info("a", "before", Json::Null);
        std::fs::rename(&path, dir.path().join("sync.log.1")).unwrap();
        j.reopen_flag().store(true, Ordering::SeqCst);
        j.info("b", "after", Json::Null);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sync.log.1")).unwrap(),
            "lite2pg: before\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "lite2pg: after\n");
    }
}
