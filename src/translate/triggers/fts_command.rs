//! FTS commands in trigger bodies. SQLite's FTS tables take commands as INSERTs naming the
//! table as a column (`INSERT INTO fts(fts, rowid, body) VALUES('delete', old.id, old.body)`):
//! a trigger keeping an FTS table in step deletes from it that way. In PostgreSQL the FTS
//! table is a table, so the commands become the DELETE they mean, or nothing.

use sqlparser::ast::{Expr, SetExpr, Statement, TableObject, Value};

use crate::translate::refs::last_part;

/// An FTS command written as an INSERT (`INSERT INTO fts(fts, rowid, …) VALUES('delete',
/// …)`): `Some(Some(delete))` for what removes rows (by rowid, or all of them), `Some(None)`
/// for maintenance with nothing to do in PostgreSQL (`optimize`, `merge`, `rebuild`, …),
/// `None` for any other statement.
pub(super) fn fts_command(stmt: &Statement) -> Result<Option<Option<Statement>>, String> {
    let Statement::Insert(ins) = stmt else {
        return Ok(None);
    };
    let TableObject::TableName(name) = &ins.table else {
        return Ok(None);
    };
    let table = last_part(name);
    let Some(pos) = ins
        .columns
        .iter()
        .position(|c| c.value.eq_ignore_ascii_case(&table))
    else {
        return Ok(None);
    };
    let values = match ins.source.as_ref().map(|q| q.body.as_ref()) {
        Some(SetExpr::Values(v)) if v.rows.len() == 1 => &v.rows[0],
        _ => return Err("an FTS command with other than one VALUES row".into()),
    };
    let command = match values.get(pos) {
        Some(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(c) => c.to_ascii_lowercase(),
            _ => return Err("an FTS command that is not a string".into()),
        },
        _ => return Err("an FTS command that is not a string".into()),
    };
    let sql = match command.as_str() {
        "delete" => {
            let rowid = ins
                .columns
                .iter()
                .position(|c| c.value.eq_ignore_ascii_case("rowid"))
                .and_then(|i| values.get(i))
                .ok_or("an FTS 'delete' without the rowid")?;
            format!("DELETE FROM {name} WHERE rowid = {rowid}")
        }
        "delete-all" => format!("DELETE FROM {name}"),
        "optimize" | "merge" | "automerge" | "crisismerge" | "rebuild" | "integrity-check"
        | "pgsz" | "rank" | "usermerge" | "secure-delete" => return Ok(Some(None)),
        other => {
            return Err(format!(
                "FTS command '{other}' has no PostgreSQL counterpart"
            ))
        }
    };
    let tokens = crate::sqlite::ddl_text::tokenize(&sql)?;
    let delete = sqlparser::parser::Parser::new(&sqlparser::dialect::SQLiteDialect {})
        .with_recursion_limit(crate::translate::scope::RECURSION_LIMIT)
        .with_tokens(tokens)
        .parse_statement()
        .map_err(|e| format!("internal: `{sql}` does not parse: {e}"))?;
    Ok(Some(Some(delete)))
}
