//! The dual-write shim (`sync`, `status`; cutover and rollback build on it): SQLite's
//! triggers and change log (`sqlite`), the applier that carries logged changes into
//! PostgreSQL (`apply`), and the commands (`sync`).

pub mod apply;
pub mod pg;
pub mod reverse;
pub mod sqlite;
pub mod switch;
pub mod sync;
