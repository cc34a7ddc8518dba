//! Change capture for `sync`, `cutover` and `rollback` (issue 5): the SQLite side's
//! triggers and change log. The applier and the PostgreSQL side build on it.

pub mod sqlite;
