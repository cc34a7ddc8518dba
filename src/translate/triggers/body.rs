//! A SQLite trigger's body statements → PL/pgSQL, with a probe for each: the same
//! statement with `NEW`/`OLD` columns as typed NULLs, which the test-apply runs under
//! `EXPLAIN` so that a name or type PostgreSQL would only meet when the trigger fires is
//! found before the trigger is created.
//!
//! `SELECT RAISE(…) [FROM …] [WHERE …]` and `SELECT CASE WHEN … THEN RAISE(…) END` become
//! `IF … THEN RAISE EXCEPTION …` (or `RETURN NULL` for `RAISE(IGNORE)`); INSERT, UPDATE and
//! DELETE keep their shape with names mapped and functions translated; any other SELECT
//! runs as `PERFORM`.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    AssignmentTarget, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    OnConflict, OnConflictAction, OnInsert, Query, SelectItem, SetExpr, SqliteOnConflict,
    Statement, TableFactor, TableObject, Value, Visit, VisitMut, Visitor, VisitorMut,
};

use crate::pg::quote_literal;
use crate::translate::expr::{as_condition, checked_output, rewrite};
use crate::translate::refs::{last_part, Refs};
use crate::translate::scope::{Position, Scope, ScopeColumn};

/// A relation a trigger's statements may name.
#[derive(Debug, Clone, Default)]
pub struct Rel {
    /// PostgreSQL name.
    pub target: String,
    /// Columns by lower-cased SQLite name (with `rowid` where the table keeps one).
    pub columns: HashMap<String, ScopeColumn>,
    /// PostgreSQL type (as SQL) per PostgreSQL column name; empty for views.
    pub types: HashMap<String, String>,
}

/// What a trigger's statements are translated against.
pub struct Context<'a> {
    /// Tables and views by lower-cased SQLite name.
    pub rels: &'a HashMap<String, Rel>,
    /// The trigger's own table or view: what `NEW` and `OLD` hold.
    pub row: &'a Rel,
    /// `NEW`/`OLD` columns are known (a table; a view's are taken as written).
    pub row_known: bool,
    /// Target schema.
    pub schema: &'a str,
    /// Sets the recursion marker off before an early `RETURN`.
    pub leave: &'a str,
}

/// PL/pgSQL statements and the probes that check them.
#[derive(Debug, Default)]
pub struct Body {
    /// PL/pgSQL statements, each ending in `;`.
    pub lines: Vec<String>,
    /// SQL run under `EXPLAIN` by the test-apply.
    pub probes: Vec<String>,
}

fn is_row_qualifier(id: &Ident) -> bool {
    id.value.eq_ignore_ascii_case("new") || id.value.eq_ignore_ascii_case("old")
}

/// Refuses `NEW.x`/`OLD.x` naming no column of the trigger's table, and `RAISE()` where it
/// has no PL/pgSQL form.
struct RowRefs<'a> {
    row: &'a Rel,
    known: bool,
}

impl Visitor for RowRefs<'_> {
    type Break = String;

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<String> {
        match e {
            Expr::CompoundIdentifier(p)
                if p.len() == 2
                    && is_row_qualifier(&p[0])
                    && self.known
                    && !self
                        .row
                        .columns
                        .contains_key(&p[1].value.to_ascii_lowercase()) =>
            {
                return ControlFlow::Break(format!(
                    "refers to `{}.{}`, not a column of {}",
                    p[0].value, p[1].value, self.row.target
                ));
            }
            Expr::Function(f) if last_part(&f.name).eq_ignore_ascii_case("raise") => {
                return ControlFlow::Break(
                    "RAISE() is translated only as `SELECT RAISE(…) [FROM …] [WHERE …]` or \
                     `SELECT CASE WHEN … THEN RAISE(…) … END`"
                        .into(),
                )
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `NEW.x`/`OLD.x` → a NULL of the column's type, for probes.
struct RowNulls<'a> {
    row: &'a Rel,
}

impl VisitorMut for RowNulls<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(p) = e {
            if p.len() == 2 && is_row_qualifier(&p[0]) {
                let null = Expr::value(Value::Null);
                *e = match self.row.types.get(&p[1].value) {
                    Some(ty) => crate::translate::scope::cast(
                        null,
                        crate::translate::scope::custom_type(ty),
                    ),
                    None => null,
                };
            }
        }
        ControlFlow::Continue(())
    }
}

impl Context<'_> {
    /// The names a statement (or expression) may use: the relations it reads, by name and
    /// alias, and `NEW`/`OLD`.
    fn scope_for<V: Visit>(&self, node: &V) -> Result<Scope, String> {
        let refs = Refs::of(node);
        let mut scope = Scope {
            lenient: true,
            ..Default::default()
        };
        for rel in &refs.relations {
            if refs.ctes.contains(rel) {
                continue;
            }
            let r = self.rels.get(rel).ok_or_else(|| {
                format!("names `{rel}`, which is not migrated (or could not be created)")
            })?;
            for (k, v) in &r.columns {
                scope.columns.entry(k.clone()).or_insert_with(|| v.clone());
            }
            scope.qualified.insert(rel.clone(), r.columns.clone());
            scope.relations.insert(rel.clone(), r.target.clone());
        }
        for (rel, alias) in &refs.factors {
            let Some(alias) = alias else { continue };
            if let Some(r) = self.rels.get(rel) {
                scope.qualified.insert(alias.clone(), r.columns.clone());
            }
        }
        if self.row_known {
            for q in ["new", "old"] {
                scope.qualified.insert(q.into(), self.row.columns.clone());
            }
        }
        Ok(scope)
    }

    fn check_rows<V: Visit>(&self, node: &V) -> Result<(), String> {
        let mut v = RowRefs {
            row: self.row,
            known: self.row_known,
        };
        match node.visit(&mut v) {
            ControlFlow::Break(why) => Err(why),
            ControlFlow::Continue(()) => Ok(()),
        }
    }

    /// Renames every relation to its qualified PostgreSQL name.
    fn rename_relations<V: VisitMut>(&self, node: &mut V, ctes: &HashSet<String>) {
        let _ = sqlparser::ast::visit_relations_mut(node, |name| {
            let key = last_part(name).to_ascii_lowercase();
            if !ctes.contains(&key) {
                if let Some(r) = self.rels.get(&key) {
                    *name = ObjectName::from(vec![
                        Ident::with_quote('"', self.schema),
                        Ident::with_quote('"', r.target.as_str()),
                    ]);
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }

    /// The probe of translated SQL: `NEW`/`OLD` as typed NULLs.
    fn probe<V: VisitMut + std::fmt::Display>(&self, mut node: V) -> String {
        let _ = node.visit(&mut RowNulls { row: self.row });
        node.to_string()
    }

    /// A condition, translated: (PL/pgSQL, probe).
    pub fn condition(&self, mut expr: Expr) -> Result<(String, String), String> {
        self.check_rows(&expr)?;
        let scope = self.scope_for(&expr)?;
        let ctes = HashSet::new();
        self.rename_relations(&mut expr, &ctes);
        rewrite(&mut expr, &scope, Position::Trigger)?;
        let expr = as_condition(expr, &scope)?;
        let sql = checked_output(expr.to_string())?;
        let probe = format!("SELECT 1 WHERE {}", self.probe(expr));
        Ok((sql, probe))
    }

    fn column_of(&self, table: &str, col: &str) -> Result<Ident, String> {
        let r = self
            .rels
            .get(&table.to_ascii_lowercase())
            .ok_or_else(|| format!("names `{table}`, which is not migrated"))?;
        let c = r
            .columns
            .get(&col.to_ascii_lowercase())
            .ok_or_else(|| format!("names `{col}`, not a column of `{table}`"))?;
        Ok(Ident::with_quote('"', c.target.as_str()))
    }

    /// Translates one body statement into `out`.
    pub fn statement(&self, stmt: Statement, out: &mut Body) -> Result<(), String> {
        match stmt {
            Statement::Query(q) => self.select(*q, out),
            other => self.write(other, out),
        }
    }

    /// INSERT, UPDATE or DELETE.
    fn write(&self, mut stmt: Statement, out: &mut Body) -> Result<(), String> {
        if let Some(command) = super::fts_command::fts_command(&stmt)? {
            return match command {
                Some(delete) => self.write(delete, out),
                None => Ok(()),
            };
        }
        self.check_rows(&stmt)?;
        let scope = self.scope_for(&stmt)?;
        match &mut stmt {
            Statement::Insert(ins) => {
                if ins.replace_into || matches!(ins.or, Some(SqliteOnConflict::Replace)) {
                    return Err(
                        "INSERT OR REPLACE has no PostgreSQL form without naming the key that \
                         conflicts"
                            .into(),
                    );
                }
                if matches!(ins.or, Some(SqliteOnConflict::Ignore)) {
                    ins.on = Some(OnInsert::OnConflict(OnConflict {
                        conflict_target: None,
                        action: OnConflictAction::DoNothing,
                    }));
                }
                ins.or = None;
                let TableObject::TableName(name) = &ins.table else {
                    return Err("INSERT into a table function".into());
                };
                let table = last_part(name);
                for c in ins.columns.iter_mut() {
                    *c = self.column_of(&table, &c.value)?;
                }
            }
            Statement::Update {
                table,
                assignments,
                or,
                ..
            } => {
                if matches!(
                    or,
                    Some(SqliteOnConflict::Replace | SqliteOnConflict::Ignore)
                ) {
                    return Err("UPDATE OR REPLACE / OR IGNORE has no PostgreSQL form".into());
                }
                *or = None;
                let TableFactor::Table { name, .. } = &table.relation else {
                    return Err("UPDATE of something other than a table".into());
                };
                let tname = last_part(name);
                for a in assignments.iter_mut() {
                    match &mut a.target {
                        AssignmentTarget::ColumnName(n) => {
                            *n = ObjectName::from(vec![self.column_of(&tname, &last_part(n))?]);
                        }
                        AssignmentTarget::Tuple(ns) => {
                            for n in ns.iter_mut() {
                                *n = ObjectName::from(vec![self.column_of(&tname, &last_part(n))?]);
                            }
                        }
                    }
                }
            }
            Statement::Delete(_) => {}
            other => {
                return Err(format!(
                    "`{}` in a trigger body has no translation",
                    other.to_string().split_whitespace().next().unwrap_or("?")
                ))
            }
        }
        let refs = Refs::of(&stmt);
        self.rename_relations(&mut stmt, &refs.ctes);
        rewrite(&mut stmt, &scope, Position::Trigger)?;
        let sql = checked_output(stmt.to_string())?;
        out.probes.push(self.probe(stmt));
        out.lines.push(format!("{sql};"));
        Ok(())
    }

    /// A SELECT: a RAISE guard, or a query run for its effects.
    fn select(&self, q: Query, out: &mut Body) -> Result<(), String> {
        if let Some((from, cond, arms)) = raise_form(&q)? {
            return self.guard(&q, from, cond, arms, out);
        }
        self.check_rows(&q)?;
        let scope = self.scope_for(&q)?;
        let mut q = q;
        let mut refs = Refs::default();
        let _ = q.visit(&mut refs);
        self.rename_relations(&mut q, &refs.ctes);
        rewrite(&mut q, &scope, Position::Trigger)?;
        let sql = checked_output(q.to_string())?;
        out.probes.push(self.probe(q));
        out.lines
            .push(format!("PERFORM 1 FROM ({sql}) AS \"lite2pg_q\";"));
        Ok(())
    }

    /// `IF … THEN RAISE …` from a RAISE form.
    fn guard(
        &self,
        q: &Query,
        from: bool,
        cond: Option<Expr>,
        arms: Vec<(Option<Expr>, Raise)>,
        out: &mut Body,
    ) -> Result<(), String> {
        // The rows the guard looks at: `EXISTS (SELECT 1 FROM … WHERE …)`, or the WHERE.
        let outer = if from {
            let SetExpr::Select(sel) = q.body.as_ref() else {
                return Err("internal: RAISE form without a SELECT".into());
            };
            let mut probe = q.clone();
            if let SetExpr::Select(s) = probe.body.as_mut() {
                s.projection = vec![SelectItem::UnnamedExpr(Expr::value(Value::Number(
                    "1".into(),
                    false,
                )))];
                s.selection = sel.selection.clone();
            }
            Some(Expr::Exists {
                subquery: Box::new(probe),
                negated: false,
            })
        } else {
            cond
        };
        let mut text = String::new();
        let close = match outer {
            Some(c) => {
                let (sql, probe) = self.condition(c)?;
                out.probes.push(probe);
                text.push_str(&format!("IF {sql} THEN "));
                " END IF;"
            }
            None => "",
        };
        let mut first = true;
        for (when, raise) in &arms {
            let action = self.raise_action(raise, out)?;
            match when {
                Some(c) => {
                    let (sql, probe) = self.condition(c.clone())?;
                    out.probes.push(probe);
                    let kw = if first { "IF" } else { "ELSIF" };
                    text.push_str(&format!("{kw} {sql} THEN {action} "));
                    first = false;
                }
                None => text.push_str(&format!("{action} ")),
            }
        }
        if !first {
            text.push_str("END IF;");
        }
        out.lines.push(format!("{}{close}", text.trim_end()));
        Ok(())
    }

    fn raise_action(&self, raise: &Raise, out: &mut Body) -> Result<String, String> {
        match raise {
            Raise::Ignore => Ok(format!("{}RETURN NULL;", self.leave)),
            Raise::Abort(msg) => {
                let message = match msg.as_ref() {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => quote_literal(s),
                        _ => self.message_expr((**msg).clone(), out)?,
                    },
                    _ => self.message_expr((**msg).clone(), out)?,
                };
                // SQLite reports RAISE(ABORT) as a constraint failure; class 23 is what
                // drivers map to the same IntegrityError.
                Ok(format!(
                    "RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = {message};"
                ))
            }
        }
    }

    fn message_expr(&self, mut e: Expr, out: &mut Body) -> Result<String, String> {
        self.check_rows(&e)?;
        let scope = self.scope_for(&e)?;
        self.rename_relations(&mut e, &HashSet::new());
        rewrite(&mut e, &scope, Position::Trigger)?;
        let sql = checked_output(e.to_string())?;
        out.probes
            .push(format!("SELECT CAST({} AS text)", self.probe(e)));
        Ok(format!("CAST({sql} AS text)"))
    }
}

/// What a `RAISE()` does.
#[derive(Debug, Clone)]
pub enum Raise {
    /// `RAISE(IGNORE)`: the row is skipped, the rest of the trigger too.
    Ignore,
    /// `RAISE(ABORT|FAIL|ROLLBACK, message)`.
    Abort(Box<Expr>),
}

fn raise_of(e: &Expr) -> Option<Result<Raise, String>> {
    let Expr::Function(f) = e else {
        return None;
    };
    if !last_part(&f.name).eq_ignore_ascii_case("raise") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return Some(Err("RAISE without arguments".into()));
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect();
    let kind = match args.first() {
        Some(Expr::Identifier(id)) => id.value.to_ascii_uppercase(),
        _ => return Some(Err("RAISE needs IGNORE, ABORT, FAIL or ROLLBACK".into())),
    };
    Some(match (kind.as_str(), args.get(1)) {
        ("IGNORE", None) => Ok(Raise::Ignore),
        ("ABORT" | "FAIL" | "ROLLBACK", Some(msg)) => Ok(Raise::Abort(Box::new((*msg).clone()))),
        _ => Err(format!("RAISE({kind}, …) is not a form SQLite accepts")),
    })
}

/// A guard's parts.
type Arms = Vec<(Option<Expr>, Raise)>;

/// `SELECT RAISE(…) [FROM …] [WHERE …]` or `SELECT CASE WHEN c THEN RAISE(…) … END [WHERE …]`:
/// (has FROM, WHERE, arms). `None` for any other query.
fn raise_form(q: &Query) -> Result<Option<(bool, Option<Expr>, Arms)>, String> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Ok(None);
    };
    if q.with.is_some() || sel.projection.len() != 1 {
        return Ok(None);
    }
    let expr = match &sel.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return Ok(None),
    };
    let from = !sel.from.is_empty();
    if let Some(r) = raise_of(expr) {
        return Ok(Some((from, sel.selection.clone(), vec![(None, r?)])));
    }
    if let Expr::Case {
        operand: None,
        conditions,
        else_result,
        ..
    } = expr
    {
        let raises: Vec<Option<Result<Raise, String>>> =
            conditions.iter().map(|w| raise_of(&w.result)).collect();
        if raises.iter().all(Option::is_none) {
            return Ok(None);
        }
        let else_null = match else_result.as_deref() {
            None => true,
            Some(Expr::Value(v)) => matches!(v.value, Value::Null),
            Some(_) => false,
        };
        if from || !else_null || raises.iter().any(Option::is_none) {
            return Err(
                "a CASE mixing RAISE() with values, or over a FROM, has no PL/pgSQL translation"
                    .into(),
            );
        }
        let mut arms = Vec::new();
        for (w, r) in conditions.iter().zip(raises) {
            if let Some(r) = r {
                arms.push((Some(w.condition.clone()), r?));
            }
        }
        return Ok(Some((false, sel.selection.clone(), arms)));
    }
    Ok(None)
}
