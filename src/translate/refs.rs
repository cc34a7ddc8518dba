//! The relations a parsed view or trigger statement names, which decide the scope its
//! columns are resolved in.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, ObjectNamePart, Query, TableFactor, Visit, Visitor};

/// The last part of a (possibly schema-qualified) name: the relation's own name.
pub fn last_part(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(id)) => id.value.clone(),
        _ => name.to_string(),
    }
}

/// Relations, their aliases and the CTE names a statement mentions, lower-cased.
#[derive(Debug, Default)]
pub struct Refs {
    /// Every relation named, read or written (`FROM`, `INSERT INTO`, `UPDATE`, `DELETE`).
    pub relations: Vec<String>,
    /// The tables of `FROM` clauses and joins, each with its alias if it has one.
    pub factors: Vec<(String, Option<String>)>,
    /// Names of common table expressions, which are no relation of the schema.
    pub ctes: HashSet<String>,
}

impl Refs {
    /// What `node` names.
    pub fn of<V: Visit>(node: &V) -> Refs {
        let mut refs = Refs::default();
        let _ = node.visit(&mut refs);
        refs
    }
}

impl Visitor for Refs {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_ascii_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &ObjectName) -> ControlFlow<()> {
        self.relations.push(last_part(name).to_ascii_lowercase());
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = tf {
            self.factors.push((
                last_part(name).to_ascii_lowercase(),
                alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
            ));
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::SQLiteDialect;
    use sqlparser::parser::Parser;

    use super::*;

    #[test]
    fn a_statement_names_its_relations_aliases_and_ctes_lower_cased() {
        let sql = "WITH Recent AS (SELECT * FROM Orders) \
                   INSERT INTO main.Audit SELECT r.id FROM Recent r JOIN Users AS u ON u.id = r.uid";
        let stmt = Parser::parse_sql(&SQLiteDialect {}, sql).expect("parses");
        let refs = Refs::of(&stmt[0]);
        assert_eq!(refs.ctes, HashSet::from(["recent".to_string()]));
        for rel in ["orders", "audit", "recent", "users"] {
            assert!(refs.relations.contains(&rel.to_string()), "{rel}: {refs:?}");
        }
        assert!(refs.factors.contains(&("recent".into(), Some("r".into()))));
        assert!(refs.factors.contains(&("users".into(), Some("u".into()))));
        assert!(refs.factors.contains(&("orders".into(), None)));
        assert!(!refs.factors.iter().any(|(t, _)| t == "audit"), "{refs:?}");
    }
}
