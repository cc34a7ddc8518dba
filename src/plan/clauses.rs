//! A `CREATE TABLE` kept in pieces, so that a clause PostgreSQL refuses (a default of the
//! wrong type, a generation expression it cannot run, a CHECK) is left out alone and never
//! costs its table: the test-apply tries the table without its clauses, then each clause on
//! its own, and keeps what runs (plan/validate.rs).

/// What kind of clause a piece is, and so what leaving it out means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClauseKind {
    /// `DEFAULT …`: the column has no default.
    Default,
    /// `GENERATED ALWAYS AS (…) STORED`: a plain column, filled with SQLite's computed values.
    Generated,
    /// `CHECK (…)`: not enforced.
    Check,
}

/// One clause PostgreSQL may refuse on its own.
#[derive(Debug, Clone)]
pub struct Clause {
    /// What it is, for findings: `default of column "t"."c"`.
    pub object: String,
    /// Its kind.
    pub kind: ClauseKind,
    /// The SQLite text it was translated from.
    pub sqlite: String,
    /// The PostgreSQL column it belongs to (none for a table CHECK).
    pub column: Option<String>,
    /// Other spellings to try, in order, when PostgreSQL refuses the first (a default cast
    /// to its column's type).
    pub alternatives: Vec<Alternative>,
}

/// Another spelling of a clause.
#[derive(Debug, Clone)]
pub struct Alternative {
    /// The fragment in place of the clause's.
    pub sql: String,
    /// A query that must run too, for what `CREATE TABLE` does not evaluate (a cast in a
    /// default runs only on insert: `SELECT` it now, or every insert would fail later).
    pub probe: Option<String>,
}

/// What became of a clause in the test-apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Kept as translated.
    Kept,
    /// Refused as translated; this alternative (index into `alternatives`) runs.
    Alternative(usize, String),
    /// Refused, with PostgreSQL's reason: left out.
    Dropped(String),
}

/// A piece of a definition: its SQL, and the clause it belongs to (`None`: always there).
pub type Fragment = (String, Option<usize>);

/// A `CREATE TABLE` in pieces.
#[derive(Debug, Clone, Default)]
pub struct TableParts {
    /// The PostgreSQL table name.
    pub table: String,
    /// `CREATE TABLE "schema"."name"`.
    pub head: String,
    /// Column and table-constraint definitions, each as fragments.
    pub defs: Vec<Vec<Fragment>>,
    /// The clauses fragments may belong to.
    pub clauses: Vec<Clause>,
}

impl TableParts {
    /// Starts a table.
    pub fn new(table: &str, head: String) -> TableParts {
        TableParts {
            table: table.to_string(),
            head,
            ..Default::default()
        }
    }

    /// Adds a clause; returns its index for fragments.
    pub fn clause(&mut self, clause: Clause) -> usize {
        self.clauses.push(clause);
        self.clauses.len() - 1
    }

    /// The statement with every clause as translated.
    pub fn sql(&self) -> String {
        self.render(&vec![Choice::Kept; self.clauses.len()])
    }

    /// The statement with each clause as `choices` says.
    pub fn render(&self, choices: &[Choice]) -> String {
        let defs: Vec<String> = self
            .defs
            .iter()
            .filter_map(|frags| {
                let mut def = String::new();
                for (sql, clause) in frags {
                    match clause.map(|i| (i, choices.get(i).unwrap_or(&Choice::Kept))) {
                        None | Some((_, Choice::Kept)) => def.push_str(sql),
                        Some((i, Choice::Alternative(a, _))) => {
                            if let Some(alt) = self.clauses[i].alternatives.get(*a) {
                                def.push_str(&alt.sql);
                            }
                        }
                        Some((_, Choice::Dropped(_))) => {}
                    }
                }
                (!def.trim().is_empty()).then_some(def)
            })
            .collect();
        format!("{} (\n    {}\n)", self.head, defs.join(",\n    "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_clause_leaves_its_column_and_a_dropped_check_its_whole_definition() {
        let mut t = TableParts::new("t", "CREATE TABLE \"t\"".into());
        let d = t.clause(Clause {
            object: "default".into(),
            kind: ClauseKind::Default,
            sqlite: "x".into(),
            column: Some("c".into()),
            alternatives: vec![Alternative {
                sql: " DEFAULT CAST(('1') AS integer)".into(),
                probe: None,
            }],
        });
        let k = t.clause(Clause {
            object: "check".into(),
            kind: ClauseKind::Check,
            sqlite: "y".into(),
            column: None,
            alternatives: Vec::new(),
        });
        t.defs.push(vec![
            ("\"c\" integer".into(), None),
            (" DEFAULT '1'".into(), Some(d)),
        ]);
        t.defs.push(vec![("CHECK (c > 0)".into(), Some(k))]);
        assert_eq!(
            t.sql(),
            "CREATE TABLE \"t\" (\n    \"c\" integer DEFAULT '1',\n    CHECK (c > 0)\n)"
        );
        let r = t.render(&[
            Choice::Alternative(0, "why".into()),
            Choice::Dropped("why".into()),
        ]);
        assert_eq!(
            r,
            "CREATE TABLE \"t\" (\n    \"c\" integer DEFAULT CAST(('1') AS integer)\n)"
        );
    }
}
