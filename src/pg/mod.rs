//! The PostgreSQL side: identifier and literal quoting, connections.
//!
//! Every identifier lite2pg emits goes through [`quote_ident`] (DESIGN.md rule 3), and every
//! URL it shows goes through [`mask_url`] (rule 8).

pub mod catalog;
mod client;
pub mod control;
pub mod orphans;
mod quote;
mod target;
pub mod tls;
mod watchdog;

pub use client::{
    classify, connect, connect_async, connect_target, describe, in_transaction, Client,
};
pub use quote::{mask_url, qualified, quote_ident, quote_literal};
pub use target::{Target, TargetChoice};
pub use watchdog::Watchdog;
