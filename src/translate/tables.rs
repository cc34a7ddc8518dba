//! One table: columns, types, defaults, CHECKs, keys, indexes and foreign keys.

use std::collections::HashMap;

use super::defaults::translate_default;
use super::expr::translate;
use super::names::Namer;
use super::scope::{Position, Scope, ScopeColumn};
use super::types::{choose_for, TypeChoice};
use super::Findings;
use crate::model::{IndexTarget, Table};
use crate::pg::{qualified, quote_ident};
use crate::plan::clauses::{Alternative, Clause, ClauseKind, Fragment, TableParts};
use crate::plan::PgType;
use crate::plan::{
    ColumnPlan, Constraint, Created, Ddl, ObjectKind, PlanOptions, RowIdentity, Severity,
    Statement, TablePlan,
};
use crate::sqlite::profile::{ColumnProfile, TableProfile};
use crate::sqlite::Affinity;

/// The most columns a PostgreSQL table can have.
const PG_MAX_COLUMNS: usize = 1600;

/// The name of the column added to tables without a key, holding the SQLite rowid.
pub const ROWID_COLUMN: &str = "_lite2pg_rowid";

/// A translated table, with what later phases need.
#[derive(Debug, Clone)]
pub struct BuiltTable {
    /// The SQLite table.
    pub source: Table,
    /// Decisions for the report.
    pub plan: TablePlan,
    /// `CREATE TABLE`.
    pub create: Statement,
    /// Identity restart, when needed.
    pub sequence: Option<Statement>,
    /// Column names and types for expressions.
    pub scope: Scope,
    /// PostgreSQL primary-key columns, when a PRIMARY KEY is created.
    pub pk: Vec<String>,
    /// Column sets that are unique (for foreign-key targets).
    pub unique_sets: Vec<Vec<String>>,
    /// Uses the citext type.
    pub uses_citext: bool,
    /// The name of the column holding the rowid (alias or added).
    pub rowid_column: Option<String>,
    /// PostgreSQL type per PostgreSQL column name.
    pub types: HashMap<String, PgType>,
}

/// A generation expression that names no column, computed by SQLite and written as a
/// constant of `ty`: what is left to try when PostgreSQL refuses the translated
/// expression. (SQLite allows only deterministic functions there, so the value is the one
/// every row holds.)
fn folded_constant(expr: &str, ty: PgType) -> Option<String> {
    use rusqlite::types::Value;
    let conn = rusqlite::Connection::open_in_memory().ok()?;
    // A constant is a short value: a zeroblob(1e9) in a hostile file is refused, not made.
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH, 1 << 20)
        .ok()?;
    // With no table in the query, an expression naming a column fails here.
    let sql = format!("SELECT ({expr})");
    let v: Value = conn.query_row(&sql, [], |r| r.get(0)).ok()?;
    let literal = match v {
        Value::Null => "NULL".to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) if f.is_finite() => format!("{f:?}"),
        Value::Text(t) => crate::pg::quote_literal(&t),
        Value::Blob(b) => format!(
            "'\\x{}'::bytea",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        Value::Real(_) => return None,
    };
    Some(format!(
        " GENERATED ALWAYS AS (CAST({literal} AS {ty})) STORED"
    ))
}

/// The identity restart past the highest id SQLite handed out, when there is one.
fn identity_restart(
    target: &str,
    qname: &str,
    rowid_column: Option<&str>,
    next_id: Option<i64>,
) -> Option<Statement> {
    match (rowid_column, next_id) {
        (Some(col), Some(n)) if n > 1 => Some(Statement {
            object: format!("identity {}.{}", quote_ident(target), quote_ident(col)),
            sql: format!(
                "ALTER TABLE {qname} ALTER COLUMN {} RESTART WITH {n}",
                quote_ident(col)
            ),
            optional: false,
            constraint: None,
            creates: None,
            parts: None,
            source: None,
            checks: Vec::new(),
        }),
        _ => None,
    }
}

fn obj(table: &str) -> String {
    format!("table {}", quote_ident(table))
}

fn col_obj(table: &str, col: &str) -> String {
    format!("column {}.{}", quote_ident(table), quote_ident(col))
}

/// Translates one table's definition (phase 1 DDL and the column decisions): names, then
/// types (`choose_types`), column definitions (`column_def`), the row identity
/// (`row_identity`), CHECKs, and the identity restart.
pub fn translate_table(
    t: &Table,
    target: &str,
    profile: &TableProfile,
    cx: Context<'_>,
    f: &mut Findings,
) -> BuiltTable {
    let opts = cx.opts;
    let mut cols = Namer::new(opts.identifiers);
    if let Some(module) = t.virtual_module.as_ref().filter(|_| !t.is_fts()) {
        f.add(
            Severity::Warning,
            "table.virtual",
            obj(&t.name),
            format!(
                "virtual table using {module}: its rows are carried into a plain table; the \
                 {module} behaviour (e.g. full-text search) must be rebuilt in PostgreSQL \
                 (a tsvector column and GIN index for FTS)"
            ),
        );
    }
    let names: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let (n, how) = cols.map(&c.name);
            f.renamed("column", &format!("{}.{}", t.name, c.name), &n, how);
            n
        })
        .collect();
    let Typed {
        choices,
        scope,
        mut types,
    } = choose_types(t, profile, cx, &names, f);
    let pk_nulls = t
        .columns
        .iter()
        .enumerate()
        .any(|(i, c)| c.pk_position > 0 && choices[i].1.counts.null > 0);

    let qname = qualified(&opts.schema, target);
    let mut parts = TableParts::new(target, format!("CREATE TABLE {qname}"));
    let mut plans = Vec::new();
    let mut rejected = 0;
    let around = Around {
        t,
        scope: &scope,
        pk_nulls,
    };
    for (i, c) in t.columns.iter().enumerate() {
        let (plan, null_rejects) = column_def(&around, c, &names[i], &choices[i], &mut parts, f);
        rejected += null_rejects + plan.rejected_rows;
        plans.push(plan);
    }
    let uses_citext = plans.iter().any(|p| p.ty == PgType::Citext);

    let pk_targets: Vec<String> = t
        .primary_key
        .iter()
        .filter_map(|k| scope.target(k))
        .collect();
    let identity = row_identity(t, &names, &pk_targets, pk_nulls, &mut cols, f);
    if let Some((def, plan)) = identity.added {
        types.insert(plan.target.clone(), PgType::BigInt);
        parts.defs.push(vec![(def, None)]);
        plans.push(plan);
    }
    checks(t, &scope, &mut parts, f);

    if plans.len() > PG_MAX_COLUMNS {
        f.add(
            Severity::Error,
            "table.too_many_columns",
            obj(&t.name),
            format!(
                "{} columns: a PostgreSQL table holds at most {PG_MAX_COLUMNS}, so PostgreSQL \
                 will refuse it; split the table (or leave it out with --exclude) before migrating",
                plans.len()
            ),
        );
    }
    let create = Statement {
        object: obj(target),
        sql: parts.sql(),
        optional: false,
        constraint: None,
        creates: Created::new(ObjectKind::Table, &opts.schema, target),
        parts: Some(Box::new(parts)),
        checks: Vec::new(),
        source: Some(t.sql.clone()),
    };
    let rowid_column = identity.rowid_column;
    let used = [profile.max_rowid, t.sequence].into_iter().flatten().max();
    let next_id = rowid_column
        .as_ref()
        .map(|_| used.unwrap_or(0).saturating_add(1));
    let sequence = identity_restart(target, &qname, rowid_column.as_deref(), next_id);
    if t.autoincrement {
        f.add(Severity::Info, "key.autoincrement", obj(&t.name), format!(
            "AUTOINCREMENT: identity continues at {} (past sqlite_sequence {} and the highest id), so ids are never reused",
            next_id.unwrap_or(1), t.sequence.unwrap_or(0)));
    }
    if pk_nulls {
        f.add(Severity::Warning, "key.null_in_primary_key", obj(&t.name),
            "primary-key columns hold NULLs (SQLite allows it outside INTEGER PRIMARY KEY and WITHOUT ROWID): the key becomes a UNIQUE constraint, which allows NULLs as SQLite did");
    }

    let pk = match &identity.identity {
        RowIdentity::PrimaryKey { columns } => columns.clone(),
        _ => vec![],
    };
    let mut unique_sets = vec![];
    if !t.primary_key.is_empty() {
        unique_sets.push(pk_targets);
    }
    BuiltTable {
        source: t.clone(),
        plan: TablePlan {
            source: t.name.clone(),
            target: target.to_string(),
            rows: profile.rows,
            without_rowid: t.without_rowid,
            row_identity: identity.identity,
            columns: plans,
            next_id,
            rejected_rows: rejected,
        },
        create,
        sequence,
        scope,
        pk,
        unique_sets,
        uses_citext,
        rowid_column,
        types,
    }
}

/// What a table is translated with: the options, types forced by foreign keys, and the
/// frameworks whose conventions the schema follows.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Translation options.
    pub opts: &'a PlanOptions,
    /// Types foreign keys force on columns.
    pub overrides: &'a HashMap<super::ColumnKey, PgType>,
    /// Frameworks detected in the source.
    pub frameworks: &'a [crate::model::frameworks::Framework],
}

/// Every column's type choice with its profile, and the scope expressions see.
struct Typed {
    choices: Vec<(TypeChoice, ColumnProfile)>,
    scope: Scope,
    types: HashMap<String, PgType>,
}

/// Chooses each column's type from its declared type and profile (a foreign key may force
/// text to match its partners), and reports the decisions.
fn choose_types(
    t: &Table,
    profile: &TableProfile,
    cx: Context<'_>,
    names: &[String],
    f: &mut Findings,
) -> Typed {
    let Context {
        opts,
        overrides,
        frameworks,
    } = cx;
    let mut scope = Scope::default();
    let mut types = HashMap::new();
    let mut choices = Vec::new();
    for (i, c) in t.columns.iter().enumerate() {
        let p = profile.columns.get(i).cloned().unwrap_or_default();
        let mut choice = choose_for(c, &p, opts.type_conflicts, opts.invalid_text);
        if let Some(why) = super::conventions::apply(frameworks, c, &p, &mut choice) {
            f.add(
                Severity::Info,
                "framework.convention",
                col_obj(&t.name, &c.name),
                why,
            );
        }
        let key = (t.name.to_ascii_lowercase(), c.name.to_ascii_lowercase());
        if let Some(&forced) = overrides.get(&key) {
            if forced != choice.ty {
                choice.warnings.push(format!(
                    "would be {} from its own values, but a foreign key joins it to columns holding \
                     text: {forced}, so the key can be kept (numbers as their decimal text)",
                    choice.ty
                ));
                choice.reason = format!(
                    "{}; {forced} to match its foreign-key partners",
                    choice.reason
                );
                choice.ty = forced;
                choice.conversion = crate::plan::Conversion::NumberToText;
            }
        }
        for w in &choice.warnings {
            let sev = if choice.rejected > 0 {
                Severity::Error
            } else {
                Severity::Warning
            };
            f.add(sev, "type.decision", col_obj(&t.name, &c.name), w.clone());
        }
        scope.columns.insert(
            c.name.to_ascii_lowercase(),
            ScopeColumn {
                target: names[i].clone(),
                ty: choice.ty,
            },
        );
        types.insert(names[i].clone(), choice.ty);
        choices.push((choice, p));
    }
    scope
        .qualified
        .insert(t.name.to_ascii_lowercase(), scope.columns.clone());
    Typed {
        choices,
        scope,
        types,
    }
}

/// One column's definition (type, identity or generation, NOT NULL, default, a length
/// CHECK for NOCASE varchar) and its plan; also the rows a NOT NULL will reject.
/// What every column of a table is defined against.
struct Around<'a> {
    t: &'a Table,
    scope: &'a Scope,
    /// The primary key holds NULLs (then it is no key: see `row_identity`).
    pk_nulls: bool,
}

/// One column's definition, clause by clause into `parts`, each clause tied to what
/// leaving it out means; returns its plan and the rows its NOT NULL rejects.
fn column_def(
    around: &Around<'_>,
    c: &crate::model::Column,
    name: &str,
    (choice, p): &(TypeChoice, ColumnProfile),
    parts: &mut TableParts,
    f: &mut Findings,
) -> (ColumnPlan, u64) {
    let Around { t, scope, pk_nulls } = *around;
    let mut def: Vec<Fragment> = vec![(format!("{} {}", quote_ident(name), choice.ty), None)];
    let mut generated = false;
    let mut rejected = 0;
    let what = |clause: &str| format!("{clause} of {}", col_obj(&t.name, &c.name));
    if c.rowid_alias {
        def.push((" GENERATED BY DEFAULT AS IDENTITY".into(), None));
    } else if let Some(g) = &c.generated {
        match translate(&g.expr, scope, Position::Generated) {
            Ok(e) => {
                let k = parts.clause(Clause {
                    object: what("generation expression"),
                    kind: ClauseKind::Generated,
                    sqlite: g.expr.clone(),
                    column: Some(name.to_string()),
                    alternatives: folded_constant(&g.expr, choice.ty)
                        .map(|sql| Alternative { sql, probe: None })
                        .into_iter()
                        .collect(),
                });
                def.push((format!(" GENERATED ALWAYS AS ({e}) STORED"), Some(k)));
                generated = true;
                if !g.stored {
                    f.add(Severity::Info, "column.generated", col_obj(&t.name, &c.name),
                        "VIRTUAL generated column becomes STORED (PostgreSQL 15 has only stored ones)");
                }
            }
            Err(why) => match folded_constant(&g.expr, choice.ty) {
                // Naming no column, it is one constant: SQLite computes it.
                Some(constant) => {
                    let k = parts.clause(Clause {
                        object: what("generation expression"),
                        kind: ClauseKind::Generated,
                        sqlite: g.expr.clone(),
                        column: Some(name.to_string()),
                        alternatives: Vec::new(),
                    });
                    def.push((constant, Some(k)));
                    generated = true;
                    f.add(Severity::Info, "column.generated_folded", col_obj(&t.name, &c.name),
                        format!("generation expression not translated ({why}), but it names no column: generated as the constant SQLite computes for it"));
                }
                None => f.left_out(
                    "column.generated_not_translated",
                    col_obj(&t.name, &c.name),
                    format!("generation expression not translated ({why}): the column is created as a plain column holding the copied values"),
                    &g.expr,
                ),
            },
        }
    }
    let not_null =
        c.not_null || (c.pk_position > 0 && !pk_nulls && t.without_rowid) || c.rowid_alias;
    if not_null && !c.rowid_alias {
        if p.counts.null > 0 {
            f.add(Severity::Error, "data.null_in_not_null", col_obj(&t.name, &c.name),
                format!("declared NOT NULL but {} row(s) hold NULL: NOT NULL is kept, those rows will be rejected", p.counts.null));
            rejected += p.counts.null;
        }
        def.push((" NOT NULL".into(), None));
    }
    if let (Some(d), false, false) = (&c.default, c.rowid_alias, generated) {
        match translate_default(d, choice.ty, choice.conversion, scope) {
            Ok(Some(e)) => {
                // A function whose result has another type than the column (text from
                // to_char into a timestamp) runs cast; PostgreSQL decides in the test-apply.
                let k = parts.clause(Clause {
                    object: what("default"),
                    kind: ClauseKind::Default,
                    sqlite: d.clone(),
                    column: Some(name.to_string()),
                    alternatives: vec![Alternative {
                        sql: format!(" DEFAULT CAST(({e}) AS {})", choice.ty),
                        probe: Some(format!("SELECT CAST(({e}) AS {})", choice.ty)),
                    }],
                });
                def.push((format!(" DEFAULT {e}"), Some(k)));
            }
            Ok(None) => {}
            Err(why) => f.left_out(
                "default.not_translated",
                col_obj(&t.name, &c.name),
                format!("default left out: {why}"),
                d,
            ),
        }
    }
    if let (PgType::Citext, Some(n)) = (choice.ty, varchar_len(&c.declared_type)) {
        if c.collation.as_deref() == Some("NOCASE") {
            let k = parts.clause(Clause {
                object: what("length CHECK"),
                kind: ClauseKind::Check,
                sqlite: c.declared_type.clone(),
                column: Some(name.to_string()),
                alternatives: Vec::new(),
            });
            def.push((
                format!(" CHECK (char_length({}) <= {n})", quote_ident(name)),
                Some(k),
            ));
        }
    }
    parts.defs.push(def);
    let plan = ColumnPlan {
        source: c.name.clone(),
        target: name.to_string(),
        declared_type: c.declared_type.clone(),
        affinity: Affinity::of(&c.declared_type),
        storage: p.counts,
        pg_type: choice.ty.to_string(),
        ty: choice.ty,
        reason: choice.reason.clone(),
        conversion: choice.conversion,
        not_null,
        generated,
        identity: c.rowid_alias,
        rejected_rows: choice.rejected,
        source_form: choice.source_form,
    };
    (plan, rejected)
}

/// How a table's rows are told apart, and the column holding the rowid.
struct Identity {
    identity: RowIdentity,
    rowid_column: Option<String>,
    /// The column added to carry the rowid of a table without a usable key: its definition
    /// and plan.
    added: Option<(String, ColumnPlan)>,
}

/// The row identity: the primary key when it holds no NULL, else (rowid tables) the rowid
/// carried in an added identity column, else none.
fn row_identity(
    t: &Table,
    names: &[String],
    pk_targets: &[String],
    pk_nulls: bool,
    cols: &mut Namer,
    f: &mut Findings,
) -> Identity {
    let alias = t
        .columns
        .iter()
        .position(|c| c.rowid_alias)
        .map(|i| names[i].clone());
    if !t.primary_key.is_empty() && !pk_nulls {
        return Identity {
            identity: RowIdentity::PrimaryKey {
                columns: pk_targets.to_vec(),
            },
            rowid_column: alias,
            added: None,
        };
    }
    if t.without_rowid {
        return Identity {
            identity: RowIdentity::None,
            rowid_column: alias,
            added: None,
        };
    }
    // An FTS table's rowid is what its queries select and join on: it keeps that name.
    let fts = t.is_fts();
    let added = cols.derived(if fts { "rowid" } else { ROWID_COLUMN });
    let def = format!(
        "{} bigint GENERATED BY DEFAULT AS IDENTITY",
        quote_ident(&added)
    );
    let plan = ColumnPlan {
        source: String::new(),
        target: added.clone(),
        declared_type: "rowid".into(),
        affinity: Affinity::Integer,
        storage: Default::default(),
        pg_type: "bigint".into(),
        ty: PgType::BigInt,
        reason:
            "added: carries the SQLite rowid as the row identity of a table without a primary key"
                .into(),
        conversion: crate::plan::Conversion::AsIs,
        not_null: true,
        generated: false,
        identity: true,
        rejected_rows: 0,
        source_form: None,
    };
    if fts {
        f.add(
            Severity::Info,
            "table.no_primary_key",
            obj(&t.name),
            format!(
                "FTS table: its rowid is carried in column {} (unique, identity)",
                quote_ident(&added)
            ),
        );
    } else {
        f.add(
            Severity::Warning,
            "table.no_primary_key",
            obj(&t.name),
            format!(
        "no primary key: column {} (unique, identity) is added to carry the SQLite rowid so rows \
         can be verified, resumed and synced one by one; drop it after cutover if unwanted",
        quote_ident(&added)),
        );
    }
    Identity {
        identity: RowIdentity::AddedRowid {
            column: added.clone(),
        },
        rowid_column: Some(added),
        added: Some((def, plan)),
    }
}

/// The table's CHECK constraints that translate; the others are reported and left out.
/// The table's CHECKs, each a definition of its own that can be left out alone.
fn checks(t: &Table, scope: &Scope, parts: &mut TableParts, f: &mut Findings) {
    for chk in &t.checks {
        match translate(&chk.expr, scope, Position::Check) {
            Ok(e) => {
                let k = parts.clause(Clause {
                    object: format!("CHECK ({}) on {}", chk.expr, obj(&t.name)),
                    kind: ClauseKind::Check,
                    sqlite: chk.expr.clone(),
                    column: None,
                    alternatives: Vec::new(),
                });
                parts.defs.push(vec![(format!("CHECK ({e})"), Some(k))]);
            }
            Err(why) => f.left_out(
                "check.not_translated",
                format!("CHECK on {}", quote_ident(&t.name)),
                format!("CHECK constraint left out, not enforced in PostgreSQL: {why}"),
                &chk.expr,
            ),
        }
    }
}

fn varchar_len(declared: &str) -> Option<u32> {
    let upper = declared.to_ascii_uppercase();
    if !upper.contains("CHAR") {
        return None;
    }
    upper
        .split_once('(')?
        .1
        .trim_end_matches(')')
        .trim()
        .parse()
        .ok()
}

fn unique_targets(b: &BuiltTable) -> Vec<Vec<String>> {
    let mut sets = b.unique_sets.clone();
    for idx in &b.source.indexes {
        if idx.unique && idx.predicate.is_none() {
            let cols: Option<Vec<String>> = idx
                .items
                .iter()
                .map(|it| match &it.target {
                    IndexTarget::Column(c) => b.scope.target(c),
                    _ => None,
                })
                .collect();
            if let Some(c) = cols {
                sets.push(c);
            }
        }
    }
    sets
}

/// Phase 3: foreign keys of every table.
pub fn emit_foreign_keys(
    built: &[BuiltTable],
    opts: &PlanOptions,
    ddl: &mut Ddl,
    f: &mut Findings,
) {
    let by_name: HashMap<String, &BuiltTable> = built
        .iter()
        .map(|b| (b.source.name.to_ascii_lowercase(), b))
        .collect();
    for b in built {
        let mut names = Namer::new(opts.identifiers);
        for fk in &b.source.foreign_keys {
            let what = format!(
                "foreign key {}({}) → {}",
                quote_ident(&b.source.name),
                fk.columns.join(", "),
                quote_ident(&fk.ref_table)
            );
            let Some(rt) = by_name.get(&fk.ref_table.to_ascii_lowercase()) else {
                f.add(Severity::Warning, "fk.missing_table", what, "references a table that does not exist in this database (or is not migrated): left out");
                continue;
            };
            let cols: Option<Vec<String>> = fk.columns.iter().map(|c| b.scope.target(c)).collect();
            let ref_cols: Option<Vec<String>> = if fk.ref_columns.is_empty() {
                (!rt.pk.is_empty()).then(|| rt.pk.clone())
            } else {
                fk.ref_columns.iter().map(|c| rt.scope.target(c)).collect()
            };
            let (Some(cols), Some(ref_cols)) = (cols, ref_cols) else {
                f.add(Severity::Warning, "fk.unknown_column", what, "names a column that does not exist (SQLite accepts this until the key is used): left out");
                continue;
            };
            let mut sorted = ref_cols.clone();
            sorted.sort();
            let is_unique = unique_targets(rt).into_iter().any(|mut s| {
                s.sort();
                s == sorted
            });
            if !is_unique {
                f.add(Severity::Warning, "fk.not_unique_target", what,
                    "the referenced columns are not a primary key or unique constraint; PostgreSQL requires one (SQLite reports 'foreign key mismatch' on use): left out");
                continue;
            }
            let incompatible = cols.iter().zip(&ref_cols).find(|(c, r)| {
                let (a, z) = (b.types.get(*c), rt.types.get(*r));
                matches!((a, z), (Some(a), Some(z)) if a.family() != z.family())
            });
            if let Some((c, r)) = incompatible {
                f.add(
                    Severity::Warning,
                    "fk.type_mismatch",
                    what,
                    format!(
                        "{} is {} but {} is {}: PostgreSQL cannot compare them, left out",
                        c, b.types[c], r, rt.types[r]
                    ),
                );
                continue;
            }
            let name = names.derived(&format!("{}_{}_fkey", b.plan.target, cols.join("_")));
            let mut sql = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
                qualified(&opts.schema, &b.plan.target),
                quote_ident(&name),
                cols.iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                qualified(&opts.schema, &rt.plan.target),
                ref_cols
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            for (clause, action) in [("ON DELETE", &fk.on_delete), ("ON UPDATE", &fk.on_update)] {
                let a = action.to_ascii_uppercase();
                if matches!(
                    a.as_str(),
                    "CASCADE" | "SET NULL" | "SET DEFAULT" | "RESTRICT"
                ) {
                    sql.push_str(&format!(" {clause} {a}"));
                }
            }
            // Checked at each statement as SQLite does, but DEFERRABLE: `sync` applies a
            // batch of changes in one transaction in any order and defers the checks to its
            // commit.
            sql.push_str(if fk.deferred {
                " DEFERRABLE INITIALLY DEFERRED"
            } else {
                " DEFERRABLE INITIALLY IMMEDIATE"
            });
            ddl.foreign_keys.push(Statement {
                object: format!("foreign key {}", quote_ident(&name)),
                sql,
                optional: false,
                creates: None,
                checks: Vec::new(),
                parts: None,
                source: None,
                constraint: Some(Constraint::Foreign {
                    table: qualified(&opts.schema, &b.plan.target),
                    name: name.clone(),
                    columns: cols.clone(),
                    ref_table: qualified(&opts.schema, &rt.plan.target),
                    ref_columns: ref_cols.clone(),
                }),
            });
        }
    }
}
