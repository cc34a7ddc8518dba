//! lite2pg: move a live SQLite database into PostgreSQL without losing a value.
//!
//! The pipeline, stage by stage (see docs/architecture.md and DESIGN.md):
//!
//! 1. [`sqlite`] opens the file read-only, introspects its schema into [`model`] and
//!    profiles what every column really stores.
//! 2. [`translate`] turns schema + profile into a [`plan::Plan`]: PostgreSQL types, names,
//!    DDL by phase, and findings for every decision that is not one-to-one.
//! 3. [`plan`] renders the plan (text, JSON, SQL) and can test-apply it to a PostgreSQL
//!    ([`plan::validate`]) so what it prints is known to run.
//! 4. [`embedded`] starts a throwaway PostgreSQL from local server binaries for rehearsals,
//!    the demo and the tests.
//!
//! [`commands`] wires these into the user's verbs; `main.rs` only parses and exits.

pub mod capture;
pub mod commands;
pub mod copy;
pub mod demo;
pub mod embedded;
pub mod error;
pub mod failpoint;
pub mod migrate;
pub mod model;
pub mod pg;
pub mod plan;
pub mod report;
pub mod sqlite;
pub mod translate;
pub mod verify;

pub use error::{Error, Result};
