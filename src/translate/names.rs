//! Mapping SQLite names to PostgreSQL names: lower-casing, the 63-byte limit, collisions.
//!
//! PostgreSQL folds unquoted identifiers to lower case, so an application's unquoted SQL
//! (`SELECT AlbumId FROM Album`) only keeps working if the names arrive lower-cased. Names
//! that must be quoted anyway (spaces, punctuation, reserved words, non-ASCII) are kept
//! exactly. Each [`Namer`] is one PostgreSQL namespace; mapping is deterministic in the
//! order names are presented.

use std::collections::HashSet;

use crate::plan::IdentPolicy;
use sha2::{Digest, Sha256};

/// PostgreSQL's identifier limit, in bytes (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// Words PostgreSQL reserves (including "type or function name" ones): a name equal to one
/// of these needs quoting in PostgreSQL, so it is kept as written.
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// True when `name` could be written unquoted in PostgreSQL once lower-cased.
pub fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name.to_ascii_lowercase().as_str())
}

/// Why a name changed, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renamed {
    /// Only lower-cased.
    Lowered,
    /// Shortened to fit 63 bytes.
    Truncated,
    /// Made unique after a collision with another name.
    Deduplicated,
}

/// One PostgreSQL namespace.
#[derive(Debug, Default)]
pub struct Namer {
    policy: IdentPolicy,
    taken: HashSet<String>,
}

impl Namer {
    /// A namespace applying `policy`.
    pub fn new(policy: IdentPolicy) -> Self {
        Namer {
            policy,
            taken: HashSet::new(),
        }
    }

    /// Maps a SQLite name under the policy; returns the new name and how it changed.
    pub fn map(&mut self, source: &str) -> (String, Option<Renamed>) {
        let candidate = match self.policy {
            IdentPolicy::Lower if is_plain(source) => source.to_ascii_lowercase(),
            _ => source.to_string(),
        };
        let lowered = candidate != source;
        let (name, how) = self.claim(candidate);
        (name, how.or(lowered.then_some(Renamed::Lowered)))
    }

    /// Claims a name lite2pg derived itself (constraint and index names), keeping it unique.
    pub fn derived(&mut self, wanted: &str) -> String {
        self.claim(wanted.to_string()).0
    }

    /// Marks a name as used without mapping it.
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    fn claim(&mut self, candidate: String) -> (String, Option<Renamed>) {
        let mut how = None;
        let mut name = candidate.clone();
        if name.len() > MAX_IDENT_BYTES {
            name = shorten(&candidate, &hash_suffix(&candidate));
            how = Some(Renamed::Truncated);
        }
        let mut n = 2;
        while self.taken.contains(&name) {
            name = shorten(&candidate, &format!("_{n}"));
            how = Some(Renamed::Deduplicated);
            n += 1;
        }
        self.taken.insert(name.clone());
        (name, how)
    }
}

fn hash_suffix(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

/// Cuts `base` at a character boundary so that `base + suffix` fits in 63 bytes.
fn shorten(base: &str, suffix: &str) -> String {
    let budget = MAX_IDENT_BYTES - suffix.len();
    let mut cut = base.len().min(budget);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &base[..cut], suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_policy_lowers_plain_names_and_keeps_the_rest() {
        let mut n = Namer::new(IdentPolicy::Lower);
        assert_eq!(n.map("AlbumId").0, "albumid");
        assert_eq!(n.map("Order").0, "Order");
        assert_eq!(n.map("Order Details").0, "Order Details");
        assert_eq!(n.map("x\"; DROP TABLE t; --").0, "x\"; DROP TABLE t; --");
        assert_eq!(n.map("Ünïcode").0, "Ünïcode");
    }

    #[test]
    fn long_names_are_truncated_deterministically_and_stay_unique() {
        let long_a = format!("{}a", "x".repeat(70));
        let long_b = format!("{}b", "x".repeat(70));
        let mut n = Namer::new(IdentPolicy::Preserve);
        let (a, how) = n.map(&long_a);
        let (b, _) = n.map(&long_b);
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert_eq!(how, Some(Renamed::Truncated));
        let mut again = Namer::new(IdentPolicy::Preserve);
        assert_eq!(again.map(&long_a).0, a);
    }

    #[test]
    fn collisions_get_numbered_suffixes() {
        let mut n = Namer::new(IdentPolicy::Lower);
        assert_eq!(n.map("idshow").0, "idshow");
        assert_eq!(
            n.map("IdShow"),
            ("idshow_2".into(), Some(Renamed::Deduplicated))
        );
    }

    #[test]
    fn multibyte_names_are_cut_on_character_boundaries() {
        let mut n = Namer::new(IdentPolicy::Preserve);
        let (name, _) = n.map(&"é".repeat(40));
        assert!(name.len() <= 63);
        assert!(name.is_char_boundary(name.len()));
    }
}
