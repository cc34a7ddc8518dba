//! Reads what PRAGMAs do not tell from the stored `CREATE` statements.
//!
//! SQLite accepts DDL that no general SQL grammar does (type names like `INTEGER NON NULL`,
//! `[bracket]` and backtick quoting, MySQL types), so whole statements are not parsed.
//! Instead the text is tokenised with sqlparser's SQLite dialect and scanned for the few
//! clauses needed (CHECK, COLLATE, GENERATED, PRIMARY KEY DESC, AUTOINCREMENT, REFERENCES
//! ... DEFERRABLE, index keys and WHERE, view SELECT). Expressions are handed on as SQL
//! text, with every identifier re-quoted in double quotes, for the translator to parse.

use sqlparser::dialect::SQLiteDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace, Word};

/// A token stream with identifier quoting normalised to double quotes.
pub fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Tokenizer::new(&SQLiteDialect {}, sql)
        .tokenize()
        .map_err(|e| e.to_string())?;
    for t in &mut tokens {
        if let Token::Word(w) = t {
            if matches!(w.quote_style, Some('[') | Some('`')) {
                w.quote_style = Some('"');
            }
        }
    }
    Ok(tokens)
}

/// Refuses tokens that sqlparser's printer would not quote safely. Only text that sqlparser
/// will print (expressions, view queries) is checked: the scans of `CREATE` statements for
/// their clauses read tokens and never print them.
pub fn printable(tokens: &[Token]) -> Result<(), String> {
    for t in tokens {
        let risky = match t {
            Token::Word(w) if w.quote_style.is_some() => misprinted(&w.value, '"'),
            Token::SingleQuotedString(v) => misprinted(v, '\''),
            _ => false,
        };
        if risky {
            return Err(
                "a quoted name or string holds a backslash before a quote, or two \
                        quotes in a row, which the SQL printer would not escape: left out so \
                        nothing in it can be read as SQL"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Whether sqlparser would print `value` quoted with `quote` wrongly: it leaves a quote
/// unescaped after a backslash (taking it for an escape) or when already doubled, so the
/// name or string would end early in PostgreSQL and the rest be read as SQL.
pub fn misprinted(value: &str, quote: char) -> bool {
    value.contains(&format!("\\{quote}")) || value.contains(&format!("{quote}{quote}"))
}

/// Whether printing `right` after `left` needs a space to keep both tokens apart.
fn needs_space(left: &Token, right: &Token) -> bool {
    if matches!(left, Token::Whitespace(_)) || matches!(right, Token::Whitespace(_)) {
        return false;
    }
    let glued_left = matches!(left, Token::LParen | Token::Period);
    let glued_right = matches!(right, Token::RParen | Token::Comma | Token::Period)
        || (matches!(right, Token::LParen) && matches!(left, Token::Word(_)));
    !(glued_left || glued_right)
}

/// Prints tokens back to SQL, escaping quotes inside identifiers and strings.
///
/// Whitespace tokens are printed as they are; where they were removed, a space goes back
/// between any two tokens that could otherwise run together (`status IN`, `- -1`).
pub fn to_sql(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut prev: Option<&Token> = None;
    for t in tokens {
        if prev.is_some_and(|p| needs_space(p, t)) {
            out.push(' ');
        }
        prev = Some(t);
        match t {
            Token::Word(Word {
                value,
                quote_style: Some(_),
                ..
            }) => {
                out.push('"');
                out.push_str(&value.replace('"', "\"\""));
                out.push('"');
            }
            Token::SingleQuotedString(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
            Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => out.push(' '),
            other => out.push_str(&other.to_string()),
        }
    }
    out.trim().to_string()
}

fn is_ws(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

/// Tokens without whitespace and comments.
fn significant(tokens: Vec<Token>) -> Vec<Token> {
    tokens.into_iter().filter(|t| !is_ws(t)).collect()
}

fn kw(t: Option<&Token>, word: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// A name token (identifier or SQLite's string-literal-as-name) as text.
fn name_of(t: Option<&Token>) -> Option<String> {
    match t {
        Some(Token::Word(w)) => Some(w.value.clone()),
        Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Index of the token closing the parenthesis opened at `open`.
fn matching_paren(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `tokens` on commas at parenthesis depth zero.
fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        parts.push(&tokens[start..]);
    }
    parts
}

/// What the `CREATE TABLE` text says beyond PRAGMA table_xinfo.
#[derive(Debug, Default)]
pub struct ParsedTable {
    /// Per column, by name.
    pub columns: Vec<ParsedColumn>,
    /// CHECK constraints (column-level ones carry their column).
    pub checks: Vec<(Option<String>, Option<String>, String)>,
    /// Foreign keys found: referencing columns (lower-case), referenced table (lower-case),
    /// and whether `DEFERRABLE INITIALLY DEFERRED`.
    pub fks: Vec<(Vec<String>, String, bool)>,
    /// `AUTOINCREMENT` appears.
    pub autoincrement: bool,
}

/// Column-level facts from the DDL text.
#[derive(Debug, Default)]
pub struct ParsedColumn {
    /// Column name.
    pub name: String,
    /// `COLLATE x`, upper-cased.
    pub collation: Option<String>,
    /// Generated expression and STORED flag.
    pub generated: Option<(String, bool)>,
    /// `PRIMARY KEY DESC`: such an INTEGER column is not a rowid alias (an SQLite quirk).
    pub pk_desc: bool,
}

/// Parses the parts of a `CREATE TABLE` that lite2pg needs; `None` if it has no column list.
pub fn parse_create_table(sql: &str) -> Result<ParsedTable, String> {
    let toks = significant(tokenize(sql)?);
    let open = toks
        .iter()
        .position(|t| matches!(t, Token::LParen))
        .ok_or("no column list")?;
    let close = matching_paren(&toks, open).ok_or("unbalanced parentheses")?;
    let mut out = ParsedTable::default();
    for part in split_top_level(&toks[open + 1..close]) {
        let first_is_constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|k| kw(part.first(), k));
        if first_is_constraint {
            parse_table_constraint(part, &mut out);
        } else {
            parse_column_def(part, &mut out);
        }
    }
    Ok(out)
}

fn paren_body(part: &[Token], at: usize) -> Option<(String, usize)> {
    if !matches!(part.get(at), Some(Token::LParen)) {
        return None;
    }
    let end = matching_paren(part, at)?;
    Some((to_sql(&part[at + 1..end]), end))
}

fn name_list(part: &[Token], at: usize) -> Option<(Vec<String>, usize)> {
    if !matches!(part.get(at), Some(Token::LParen)) {
        return None;
    }
    let end = matching_paren(part, at)?;
    let names = split_top_level(&part[at + 1..end])
        .into_iter()
        .filter_map(|item| name_of(item.first()))
        .collect();
    Some((names, end))
}

/// Reads `REFERENCES t [(cols)] [clauses]` starting at `at`; returns (table, deferred).
fn references(part: &[Token], at: usize) -> (String, bool) {
    let table = name_of(part.get(at + 1)).unwrap_or_default();
    let mut deferred = false;
    let mut i = at + 2;
    while i < part.len() {
        if kw(part.get(i), "NOT") && kw(part.get(i + 1), "DEFERRABLE") {
            deferred = false;
            i += 2;
            continue;
        }
        if kw(part.get(i), "DEFERRABLE") {
            deferred = kw(part.get(i + 1), "INITIALLY") && kw(part.get(i + 2), "DEFERRED");
        }
        i += 1;
    }
    (table.to_ascii_lowercase(), deferred)
}

fn parse_column_def(part: &[Token], out: &mut ParsedTable) {
    let Some(name) = name_of(part.first()) else {
        return;
    };
    let mut col = ParsedColumn {
        name: name.clone(),
        ..Default::default()
    };
    let mut constraint_name: Option<String> = None;
    let mut i = 1;
    while i < part.len() {
        if kw(part.get(i), "CONSTRAINT") {
            constraint_name = name_of(part.get(i + 1));
            i += 2;
            continue;
        }
        if kw(part.get(i), "CHECK") {
            if let Some((expr, end)) = paren_body(part, i + 1) {
                out.checks
                    .push((constraint_name.take(), Some(name.clone()), expr));
                i = end + 1;
                continue;
            }
        }
        if kw(part.get(i), "COLLATE") {
            col.collation = name_of(part.get(i + 1)).map(|c| c.to_ascii_uppercase());
            i += 2;
            continue;
        }
        if kw(part.get(i), "PRIMARY") && kw(part.get(i + 1), "KEY") {
            col.pk_desc = kw(part.get(i + 2), "DESC");
            i += 2;
            continue;
        }
        if kw(part.get(i), "AUTOINCREMENT") {
            out.autoincrement = true;
        }
        if kw(part.get(i), "AS") {
            if let Some((expr, end)) = paren_body(part, i + 1) {
                let stored = kw(part.get(end + 1), "STORED");
                col.generated = Some((expr, stored));
                i = end + 1;
                continue;
            }
        }
        if kw(part.get(i), "DEFAULT") {
            // The default's text comes from PRAGMA table_xinfo; skip over a parenthesised
            // one so its contents are not mistaken for column clauses.
            if matches!(part.get(i + 1), Some(Token::LParen)) {
                if let Some(end) = matching_paren(part, i + 1) {
                    i = end + 1;
                    continue;
                }
            }
            i += 2;
            continue;
        }
        if kw(part.get(i), "REFERENCES") {
            let (table, deferred) = references(part, i);
            out.fks
                .push((vec![name.to_ascii_lowercase()], table, deferred));
            break;
        }
        i += 1;
    }
    out.columns.push(col);
}

fn parse_table_constraint(part: &[Token], out: &mut ParsedTable) {
    let mut i = 0;
    let mut constraint_name = None;
    if kw(part.first(), "CONSTRAINT") {
        constraint_name = name_of(part.get(1));
        i = 2;
    }
    if kw(part.get(i), "CHECK") {
        if let Some((expr, _)) = paren_body(part, i + 1) {
            out.checks.push((constraint_name, None, expr));
        }
    } else if kw(part.get(i), "FOREIGN") && kw(part.get(i + 1), "KEY") {
        if let Some((cols, end)) = name_list(part, i + 2) {
            if kw(part.get(end + 1), "REFERENCES") {
                let (table, deferred) = references(part, end + 1);
                let cols = cols.iter().map(|c| c.to_ascii_lowercase()).collect();
                out.fks.push((cols, table, deferred));
            }
        }
    } else if kw(part.get(i), "PRIMARY") && part.iter().any(|t| kw(Some(t), "AUTOINCREMENT")) {
        out.autoincrement = true;
    }
}

/// One key of a `CREATE INDEX`, as written.
#[derive(Debug)]
pub struct ParsedIndexItem {
    /// The key expression or column, SQL.
    pub expr: String,
    /// A bare column name when the key is just that.
    pub column: Option<String>,
}

/// Keys and WHERE clause of a `CREATE INDEX`.
#[derive(Debug, Default)]
pub struct ParsedIndex {
    /// Keys in order, without their COLLATE and ASC/DESC (index_xinfo gives those).
    pub items: Vec<ParsedIndexItem>,
    /// Partial-index predicate.
    pub predicate: Option<String>,
}

/// Parses a `CREATE INDEX` statement's keys and predicate.
pub fn parse_create_index(sql: &str) -> Result<ParsedIndex, String> {
    let toks = significant(tokenize(sql)?);
    let on = toks
        .iter()
        .position(|t| kw(Some(t), "ON"))
        .ok_or("no ON clause")?;
    let open = (on..toks.len())
        .find(|&i| matches!(toks[i], Token::LParen))
        .ok_or("no key list")?;
    let close = matching_paren(&toks, open).ok_or("unbalanced parentheses")?;
    let mut out = ParsedIndex::default();
    for item in split_top_level(&toks[open + 1..close]) {
        let mut end = item.len();
        if end > 0 && (kw(item.get(end - 1), "ASC") || kw(item.get(end - 1), "DESC")) {
            end -= 1;
        }
        if end >= 2 && kw(item.get(end - 2), "COLLATE") {
            end -= 2;
        }
        let body = &item[..end];
        let column = match body {
            [t] => name_of(Some(t)),
            _ => None,
        };
        out.items.push(ParsedIndexItem {
            expr: to_sql(body),
            column,
        });
    }
    if kw(toks.get(close + 1), "WHERE") {
        out.predicate = Some(
            to_sql(&toks[close + 2..])
                .trim_end_matches(';')
                .trim()
                .to_string(),
        );
    }
    Ok(out)
}

/// The column list and SELECT of a `CREATE VIEW`.
pub fn parse_create_view(sql: &str) -> Result<(Vec<String>, String), String> {
    let toks = tokenize(sql)?;
    let sig: Vec<(usize, &Token)> = toks.iter().enumerate().filter(|(_, t)| !is_ws(t)).collect();
    let as_pos = sig
        .iter()
        .position(|(_, t)| kw(Some(t), "AS"))
        .ok_or("no AS clause")?;
    let mut columns = Vec::new();
    if as_pos > 0 && matches!(sig[as_pos - 1].1, Token::RParen) {
        let sig_tokens: Vec<Token> = sig.iter().map(|(_, t)| (*t).clone()).collect();
        if let Some(open) = (0..as_pos)
            .rev()
            .find(|&i| matches!(sig_tokens[i], Token::LParen))
        {
            if let Some((names, _)) = name_list(&sig_tokens, open) {
                columns = names;
            }
        }
    }
    let body_start = sig[as_pos].0 + 1;
    let select = to_sql(&toks[body_start..])
        .trim_end_matches(';')
        .trim()
        .to_string();
    Ok((columns, select))
}

/// The module name of a `CREATE VIRTUAL TABLE ... USING module(...)`.
pub fn virtual_module(sql: &str) -> Option<String> {
    let toks = significant(tokenize(sql).ok()?);
    let using = toks.iter().position(|t| kw(Some(t), "USING"))?;
    name_of(toks.get(using + 1)).map(|m| m.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_checks_collations_generated_and_deferrable_fks() {
        let t = parse_create_table(
            "CREATE TABLE [t x] (id INTEGER PRIMARY KEY DESC, `email` TEXT COLLATE nocase \
             CHECK (email LIKE '%@%'), total AS (a * 2) STORED, a INT DEFAULT (1+2) CHECK(a>0), \
             p INT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED, \
             CONSTRAINT ck CHECK (a < 10), FOREIGN KEY (a, p) REFERENCES [Other] (x, y))",
        )
        .unwrap();
        assert!(t.columns[0].pk_desc);
        assert_eq!(t.columns[1].collation.as_deref(), Some("NOCASE"));
        assert_eq!(t.columns[2].generated, Some(("a * 2".into(), true)));
        assert_eq!(t.checks.len(), 3);
        assert_eq!(t.checks[0].2, "email LIKE '%@%'");
        assert_eq!(t.columns[2].generated, Some(("a * 2".into(), true)));
        assert_eq!(t.checks[2].0.as_deref(), Some("ck"));
        assert_eq!(
            t.fks[0],
            (vec!["p".to_string()], "parent".to_string(), true)
        );
        assert_eq!(t.fks[1].1, "other");
    }

    #[test]
    fn typo_type_names_do_not_confuse_the_scanner() {
        let t =
            parse_create_table("CREATE TABLE s (id INTEGER PRIMARY KEY, url_id INTEGER NON NULL)")
                .unwrap();
        assert_eq!(t.columns.len(), 2);
        assert!(!t.columns[0].pk_desc);
    }

    #[test]
    fn index_keys_and_predicate_are_split() {
        let i = parse_create_index(
            "CREATE INDEX i ON [vibernumbers](substr(date_of_birth, 6) COLLATE NOCASE DESC, [x]) \
             WHERE [date_of_birth] IS NOT NULL",
        )
        .unwrap();
        assert_eq!(i.items[0].expr, "substr(date_of_birth, 6)");
        assert_eq!(
            parse_create_table("CREATE TABLE t (s TEXT CHECK (s IN ('a','b') AND -1 < - -1))")
                .unwrap()
                .checks[0]
                .2,
            "s IN('a', 'b') AND - 1 < - - 1"
        );
        assert_eq!(i.items[1].column.as_deref(), Some("x"));
        assert_eq!(
            i.predicate.as_deref(),
            Some("\"date_of_birth\" IS NOT NULL")
        );
    }

    #[test]
    fn identifiers_with_quotes_survive_requoting() {
        let toks = tokenize("SELECT [a\"b], 'it''s'").unwrap();
        assert_eq!(to_sql(&toks), "SELECT \"a\"\"b\", 'it''s'");
    }

    #[test]
    fn view_select_and_columns_are_found() {
        let (cols, sel) = parse_create_view("CREATE VIEW [v 1] (a, [b]) AS SELECT 1, 2;").unwrap();
        assert_eq!(cols, vec!["a", "b"]);
        assert_eq!(sel, "SELECT 1, 2");
    }
}
