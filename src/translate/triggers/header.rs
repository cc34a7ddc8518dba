//! A SQLite `CREATE TRIGGER` taken apart: timing, event, table, `WHEN` and the body's
//! statements, each as the tokens sqlparser reads next.
//!
//! sqlparser reads PostgreSQL's and MySQL's trigger syntax, not SQLite's (`BEGIN … END`
//! with several statements, `WHEN` before the body, no `EXECUTE`), so the frame is read
//! here from tokens and each piece inside it goes to sqlparser's expression and statement
//! parsers.

use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Word};

use sqlparser::ast::{Expr, Statement};

use crate::sqlite::ddl_text;
use crate::translate::scope::RECURSION_LIMIT;

/// When a trigger runs relative to the row change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// `BEFORE` (SQLite's default).
    Before,
    /// `AFTER`.
    After,
    /// `INSTEAD OF` (views only).
    InsteadOf,
}

/// The row change a trigger answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `INSERT`.
    Insert,
    /// `UPDATE`, or `UPDATE OF` the listed columns (SQLite names).
    Update(Vec<String>),
    /// `DELETE`.
    Delete,
}

/// A parsed `CREATE TRIGGER`.
#[derive(Debug)]
pub struct Header {
    /// Timing.
    pub timing: Timing,
    /// Event.
    pub event: Event,
    /// The table or view, as written (unquoted).
    pub table: String,
    /// `WHEN` condition.
    pub when: Option<Expr>,
    /// The body's statements, in order.
    pub body: Vec<Statement>,
}

impl Header {
    /// The tables its statements write (lower-cased SQLite names).
    pub fn writes(&self) -> Vec<String> {
        use sqlparser::ast::{FromTable, ObjectNamePart, TableFactor, TableObject};
        let last = |n: &sqlparser::ast::ObjectName| match n.0.last() {
            Some(ObjectNamePart::Identifier(id)) => id.value.to_ascii_lowercase(),
            _ => n.to_string().to_ascii_lowercase(),
        };
        let mut out = Vec::new();
        for s in &self.body {
            match s {
                Statement::Insert(i) => {
                    if let TableObject::TableName(n) = &i.table {
                        out.push(last(n));
                    }
                }
                Statement::Update { table, .. } => {
                    if let TableFactor::Table { name, .. } = &table.relation {
                        out.push(last(name));
                    }
                }
                Statement::Delete(d) => {
                    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                        &d.from;
                    for t in from {
                        if let TableFactor::Table { name, .. } = &t.relation {
                            out.push(last(name));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

fn word(t: &Token) -> Option<&Word> {
    match t {
        Token::Word(w) => Some(w),
        _ => None,
    }
}

fn is_kw(t: &Token, kw: &str) -> bool {
    word(t).is_some_and(|w| w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
}

/// Reads tokens one after another, whitespace and comments left out.
struct Cursor {
    tokens: Vec<Token>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| is_kw(t, kw)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kw: &str) -> Result<(), String> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(format!("expected {kw} in the trigger's header"))
        }
    }

    /// A name, possibly `schema.name`: the last part.
    fn name(&mut self) -> Result<String, String> {
        let mut last = match self.next() {
            Some(Token::Word(w)) => w.value,
            Some(Token::SingleQuotedString(s)) => s,
            _ => return Err("expected a name in the trigger's header".into()),
        };
        while self.peek() == Some(&Token::Period) {
            self.at += 1;
            last = match self.next() {
                Some(Token::Word(w)) => w.value,
                _ => return Err("expected a name after `.`".into()),
            };
        }
        Ok(last)
    }
}

fn parse_expr(tokens: Vec<Token>) -> Result<Expr, String> {
    let mut parser = Parser::new(&SQLiteDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens(tokens);
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("cannot parse the WHEN condition: {e}"))?;
    if parser.peek_token().token != Token::EOF {
        return Err("cannot parse the WHEN condition: text after it".into());
    }
    Ok(expr)
}

fn parse_statement(tokens: Vec<Token>) -> Result<Statement, String> {
    let text: String = tokens
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let mut parser = Parser::new(&SQLiteDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens(tokens);
    let stmt = parser
        .parse_statement()
        .map_err(|e| format!("cannot parse `{}`: {e}", text.trim()))?;
    if parser.peek_token().token != Token::EOF {
        return Err(format!("cannot parse `{}`: text after it", text.trim()));
    }
    Ok(stmt)
}

/// Parses a `CREATE TRIGGER` statement as SQLite stores it.
pub fn parse(sql: &str) -> Result<Header, String> {
    let all = ddl_text::tokenize(sql)?;
    ddl_text::printable(&all)?;
    let tokens: Vec<Token> = all
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut c = Cursor { tokens, at: 0 };
    c.expect("CREATE")?;
    if c.eat("TEMP") || c.eat("TEMPORARY") {
        return Err("a temporary trigger belongs to one connection, not to the database".into());
    }
    c.expect("TRIGGER")?;
    if c.eat("IF") {
        c.expect("NOT")?;
        c.expect("EXISTS")?;
    }
    c.name()?;
    let timing = if c.eat("BEFORE") {
        Timing::Before
    } else if c.eat("AFTER") {
        Timing::After
    } else if c.eat("INSTEAD") {
        c.expect("OF")?;
        Timing::InsteadOf
    } else {
        Timing::Before
    };
    let event = if c.eat("INSERT") {
        Event::Insert
    } else if c.eat("DELETE") {
        Event::Delete
    } else if c.eat("UPDATE") {
        let mut cols = Vec::new();
        if c.eat("OF") {
            loop {
                cols.push(c.name()?);
                if c.peek() == Some(&Token::Comma) {
                    c.at += 1;
                } else {
                    break;
                }
            }
        }
        Event::Update(cols)
    } else {
        return Err("expected INSERT, UPDATE or DELETE in the trigger's header".into());
    };
    c.expect("ON")?;
    let table = c.name()?;
    if c.eat("FOR") {
        c.expect("EACH")?;
        c.expect("ROW")?;
    }
    let when = if c.eat("WHEN") {
        let start = c.at;
        while c.peek().is_some_and(|t| !is_kw(t, "BEGIN")) {
            c.at += 1;
        }
        Some(parse_expr(c.tokens[start..c.at].to_vec())?)
    } else {
        None
    };
    c.expect("BEGIN")?;
    let rest = &c.tokens[c.at..];
    let end = rest
        .iter()
        .rposition(|t| is_kw(t, "END"))
        .ok_or("the trigger's body has no END")?;
    if rest[end + 1..].iter().any(|t| *t != Token::SemiColon) {
        return Err("text after the trigger's END".into());
    }
    let mut body = Vec::new();
    let mut depth = 0i32;
    let mut current: Vec<Token> = Vec::new();
    for t in &rest[..end] {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::SemiColon if depth == 0 => {
                if !current.is_empty() {
                    body.push(parse_statement(std::mem::take(&mut current))?);
                }
                continue;
            }
            _ => {}
        }
        current.push(t.clone());
    }
    if !current.is_empty() {
        body.push(parse_statement(current)?);
    }
    if body.is_empty() {
        return Err("the trigger's body is empty".into());
    }
    Ok(Header {
        timing,
        event,
        table,
        when,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_pieces_are_read_with_sqlite_defaults() {
        let h = parse(
            "CREATE TRIGGER IF NOT EXISTS \"t g\" UPDATE OF a, [b] ON main.items \
             WHEN old.a <> new.a BEGIN UPDATE items SET n = n + 1 WHERE id = new.id; \
             SELECT 1; END",
        )
        .unwrap();
        assert_eq!(h.timing, Timing::Before);
        assert_eq!(h.event, Event::Update(vec!["a".into(), "b".into()]));
        assert_eq!(h.table, "items");
        assert!(h.when.is_some());
        assert_eq!(h.body.len(), 2);
    }

    #[test]
    fn temporary_and_bodiless_triggers_are_refused() {
        assert!(parse("CREATE TEMP TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END").is_err());
        assert!(parse("CREATE TRIGGER x AFTER INSERT ON t BEGIN END").is_err());
    }
}
