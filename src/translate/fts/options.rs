//! What an FTS3/4/5 table declares: its columns, content table, rowid column and
//! tokenizer, read from its `CREATE VIRTUAL TABLE` text; and the text-search configuration
//! its tokenizer calls for.

use crate::sqlite::ddl_text;

/// What a `CREATE VIRTUAL TABLE … USING fts3|fts4|fts5(…)` declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fts {
    /// `fts3`, `fts4` or `fts5`.
    pub module: String,
    /// Columns in order, with whether they are indexed (FTS5 `UNINDEXED`, FTS4
    /// `notindexed=`).
    pub columns: Vec<(String, bool)>,
    /// `content=`: `None` the FTS table holds its text, `Some("")` contentless,
    /// `Some(table)` external content.
    pub content: Option<String>,
    /// `content_rowid=` (FTS5; FTS4's external content uses the rowid).
    pub content_rowid: Option<String>,
    /// `tokenize=` as written.
    pub tokenizer: String,
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['\'', '"', '`'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].replace(&format!("{q}{q}"), &q.to_string());
        }
    }
    if s.len() >= 2 && s.starts_with('[') && s.ends_with(']') {
        return s[1..s.len() - 1].to_string();
    }
    s.to_string()
}

/// The arguments between `USING module(` and the closing `)`, split at top-level commas.
fn arguments(sql: &str) -> Option<Vec<String>> {
    let open = sql.find('(')?;
    let close = sql.rfind(')')?;
    let inner = sql.get(open + 1..close)?;
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for ch in inner.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(ch),
            (None, '[') => quote = Some(']'),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    Some(out)
}

/// Reads an FTS table's declaration; `None` for any other module.
pub fn parse(sql: &str) -> Option<Fts> {
    let module = ddl_text::virtual_module(sql)?;
    if !crate::model::is_fts_module(&module) {
        return None;
    }
    let mut fts = Fts {
        module,
        columns: Vec::new(),
        content: None,
        content_rowid: None,
        tokenizer: String::new(),
    };
    let mut not_indexed = Vec::new();
    for arg in arguments(sql)? {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().contains(char::is_whitespace) => {
                let v = unquote(v);
                match k.trim().to_ascii_lowercase().as_str() {
                    "content" => fts.content = Some(v),
                    "content_rowid" => fts.content_rowid = Some(v),
                    "tokenize" => fts.tokenizer = v,
                    "notindexed" => not_indexed.push(v.to_ascii_lowercase()),
                    _ => {}
                }
            }
            _ => {
                let mut words = arg.split_whitespace();
                let Some(name) = words.next() else { continue };
                let unindexed = words.any(|w| w.eq_ignore_ascii_case("UNINDEXED"));
                fts.columns.push((unquote(name), !unindexed));
            }
        }
    }
    for (name, indexed) in fts.columns.iter_mut() {
        if not_indexed.contains(&name.to_ascii_lowercase()) {
            *indexed = false;
        }
    }
    Some(fts)
}

impl Fts {
    /// The text-search configuration for its tokenizer, and what differs from SQLite's.
    pub fn config(&self) -> (&'static str, &'static str) {
        let t = self.tokenizer.to_ascii_lowercase();
        if t.split_whitespace().any(|w| w == "porter") {
            (
                "english",
                "the porter tokenizer stems English words: PostgreSQL's english \
                 configuration stems them too (and drops English stop words, which SQLite keeps)",
            )
        } else if t.contains("trigram") {
            (
                "simple",
                "the trigram tokenizer matches substrings: PostgreSQL's simple configuration \
                 matches whole words; pg_trgm gives substring search if the application needs it",
            )
        } else {
            (
                "simple",
                "the tokenizer splits words and folds case: PostgreSQL's simple configuration \
                 does the same (diacritics are kept; unaccent removes them if needed)",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_options_and_unindexed_columns_are_read() {
        let f = parse(
            "CREATE VIRTUAL TABLE a_fts USING fts5(searchable_text, note UNINDEXED, \
             content = 'annotations', content_rowid = 'id', \
             tokenize = 'porter unicode61 remove_diacritics 2')",
        )
        .unwrap();
        assert_eq!(
            f.columns,
            vec![("searchable_text".into(), true), ("note".into(), false)]
        );
        assert_eq!(f.content.as_deref(), Some("annotations"));
        assert_eq!(f.content_rowid.as_deref(), Some("id"));
        assert_eq!(f.config().0, "english");
    }

    #[test]
    fn fts4_notindexed_and_contentless_are_read_and_other_modules_are_not_fts() {
        let f =
            parse("CREATE VIRTUAL TABLE t USING fts4(a, b, notindexed=b, content=\"\")").unwrap();
        assert_eq!(f.columns, vec![("a".into(), true), ("b".into(), false)]);
        assert_eq!(f.content.as_deref(), Some(""));
        assert_eq!(f.config().0, "simple");
        assert!(parse("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)").is_none());
    }
}
