//! lite2pg: move a live SQLite database into PostgreSQL without losing a value, prove it
//! did, keep both sides in step while the application switches over, and switch back.
//!
//! The pipeline, lowest layer first (docs/architecture.md draws it; a module uses only its
//! own layer and those below, which `tests/architecture.rs` checks):
//!
//! ```text
//!  0  error · failpoint · output · model        the error type, crash points, output, the neutral schema
//!  1  sqlite · pg · embedded                    SQLite files (open, introspect, profile, calendars);
//!                                               PostgreSQL (targets, connections, quoting, control schema);
//!                                               a throwaway local server
//!  2  plan                                      the plan's vocabulary and model, its renderings, test-apply
//!  3  translate · copy                          SQLite schema + profile → plan; rows → binary COPY
//!  4  verify                                    both sides read again, compared by checksums
//!  5  migrate                                   the one-shot run: DDL phases, copy, builds, verify, report
//!  6  capture                                   the dual-write shim: change logs, appliers, switches
//!  7  demo                                      a sample database, rehearsed
//! ```
//!
//! Where each user command lives (`main.rs` parses with `cli.rs`, calls one of these, and
//! maps the result to an exit code):
//!
//! | command | function |
//! |---|---|
//! | `plan` | [`translate::plan`] |
//! | `migrate` | [`migrate::migrate`] |
//! | `verify` | [`verify::verify`] |
//! | `sync`, `status` | [`capture::sync::sync`], [`capture::status::status`] |
//! | `cutover`, `rollback`, `finish` | [`capture::cutover::cutover`], [`capture::rollback::rollback`], [`capture::finish::finish`] |
//! | `rollback --run ID` | [`migrate::rollback_run`] |
//! | `demo` | [`demo::demo`] |

pub mod capture;
pub mod copy;
pub mod demo;
pub mod embedded;
pub mod error;
pub mod failpoint;
pub mod migrate;
pub mod model;
pub mod output;
pub mod pg;
pub mod plan;
pub mod sqlite;
pub mod translate;
pub mod verify;

pub use error::{Error, Result};
