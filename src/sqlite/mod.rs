//! The SQLite side: open a file safely, read its schema, profile the stored data.
//!
//! `open` turns every way a file can be unusable into one clear [`crate::Error::Source`];
//! `introspect` builds a [`crate::model::Schema`] from PRAGMAs plus the stored DDL text
//! (`ddl_text` tokenises it, for what PRAGMAs do not tell: CHECK, COLLATE, generated
//! expressions, deferrability); `profile` reads every row once to learn what is really stored.

pub mod affinity;
pub mod ddl_text;
pub mod introspect;
pub mod open;
pub mod profile;
pub mod temporal;

pub use affinity::Affinity;
pub use open::{open_consistent, open_source, Source};
pub use profile::{profile_table, ColumnProfile, TableProfile};

/// ` WHERE _rowid_ > ?1 AND _rowid_ <= ?2` for the rowid range `(lo, hi]` (`None`:
/// unbounded; both `None`: nothing), appended to `sql` with its parameters in `params`.
pub fn rowid_range(sql: &mut String, params: &mut Vec<i64>, lo: Option<i64>, hi: Option<i64>) {
    let mut conds = Vec::new();
    if let Some(lo) = lo {
        params.push(lo);
        conds.push(format!("_rowid_ > ?{}", params.len()));
    }
    if let Some(hi) = hi {
        params.push(hi);
        conds.push(format!("_rowid_ <= ?{}", params.len()));
    }
    if !conds.is_empty() {
        sql.push_str(&format!(" WHERE {}", conds.join(" AND ")));
    }
}

/// The largest rowid of `table` (0 when empty): a free size estimate, and the end of its
/// rowid ranges.
pub fn max_rowid(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        &format!(
            "SELECT coalesce(max(_rowid_), 0) FROM {}",
            crate::pg::quote_ident(table)
        ),
        [],
        |r| r.get(0),
    )
}
