//! SQLite's type-affinity rules, exactly as section 3.1 of "Datatypes In SQLite" gives them.
//!
//! The rules are substring tests applied in order, which is why "FLOATING POINT" has INTEGER
//! affinity (it contains "INT") and "STRING" has NUMERIC affinity (it matches nothing).

use serde::Serialize;

/// The affinity SQLite gives a column from its declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Affinity {
    /// Declared type contains "INT".
    Integer,
    /// Contains "CHAR", "CLOB" or "TEXT".
    Text,
    /// Contains "BLOB", or no type at all.
    Blob,
    /// Contains "REAL", "FLOA" or "DOUB".
    Real,
    /// Anything else.
    Numeric,
}

impl Affinity {
    /// Affinity of a declared type, following SQLite's rules in their order.
    pub fn of(declared: &str) -> Affinity {
        let upper = declared.to_ascii_uppercase();
        if upper.contains("INT") {
            Affinity::Integer
        } else if ["CHAR", "CLOB", "TEXT"].iter().any(|s| upper.contains(s)) {
            Affinity::Text
        } else if upper.contains("BLOB") || upper.trim().is_empty() {
            Affinity::Blob
        } else if ["REAL", "FLOA", "DOUB"].iter().any(|s| upper.contains(s)) {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Affinity::{self, *};

    #[test]
    fn follows_sqlite_rules_including_quirks() {
        for (declared, want) in [
            ("INTEGER", Integer),
            ("TINYINT UNSIGNED", Integer),
            ("FLOATING POINT", Integer),
            ("POINT", Integer),
            ("NVARCHAR(40)", Text),
            ("CLOB", Text),
            ("BLOB", Blob),
            ("", Blob),
            ("REAL", Real),
            ("DOUBLE PRECISION", Real),
            ("FLOAT", Real),
            ("STRING", Numeric),
            ("DATETIME", Numeric),
            ("DECIMAL(10,2)", Numeric),
            ("BOOLEAN", Numeric),
            ("CHARINT", Integer),
        ] {
            assert_eq!(Affinity::of(declared), want, "{declared}");
        }
    }
}
