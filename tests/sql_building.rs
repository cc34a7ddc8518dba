//! Every SQL statement built from strings must take names through `quote_ident` /
//! `qualified` and values through bound parameters (or `quote_literal`). This test reads
//! the sources, finds every `format!` whose text is SQL, and checks each interpolated
//! piece: one wrapped in a quoting function at the call is fine; anything else must be
//! listed, with why it is safe, in `tests/sql_allowlist.txt`. A new string-built statement
//! from data that nobody reviewed fails here.
//!
//! `LITE2PG_SQL_SITES=1 cargo test --test sql_building -- --nocapture` prints the sites.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

const KEYWORDS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "ALTER",
    "CREATE",
    "DROP",
    "COPY",
    "ANALYZE",
    "WHERE",
    "VALUES",
    "GRANT",
    "TRUNCATE",
    "RESTART",
    "REFERENCES",
    "VALIDATE",
];
const QUOTING: &[&str] = &["quote_ident(", "qualified(", "quote_literal("];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The string literal starting at `at` (a `"`), unescaped enough for reading, and where it
/// ends. Raw strings are not used for SQL in this code base.
fn literal(src: &str, at: usize) -> Option<(String, usize)> {
    let b = src.as_bytes();
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let mut s = String::new();
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // A line continuation swallows the newline and leading spaces.
                if b.get(i + 1) == Some(&b'\n') {
                    i += 2;
                    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                        i += 1;
                    }
                    continue;
                }
                // Other escapes are kept as written (`\n` stays two characters).
                s.push('\\');
                s.push(b[i + 1] as char);
                i += 2;
            }
            b'"' => return Some((s, i + 1)),
            _ => {
                let ch = src[i..].chars().next()?;
                s.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    None
}

/// The top-level comma-separated arguments from `at` up to the closing parenthesis.
fn arguments(src: &str, mut at: usize) -> Vec<String> {
    let b = src.as_bytes();
    let mut depth = 0i32;
    let mut args = Vec::new();
    let mut cur = String::new();
    while at < b.len() {
        let c = b[at] as char;
        match c {
            '"' => {
                if let Some((_, end)) = literal(src, at) {
                    cur.push_str(&src[at..end]);
                    at = end;
                    continue;
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                if !cur.trim().is_empty() {
                    args.push(cur.trim().to_string());
                }
                return args;
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                if !cur.trim().is_empty() {
                    args.push(cur.trim().to_string());
                }
                cur.clear();
                at += 1;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        at += 1;
    }
    args
}

/// The placeholders of a format string: `Some(name)` for `{name}`, `None` for `{}`.
fn placeholders(fmt: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' {
            if chars.peek() == Some(&'{') {
                chars.next();
                continue;
            }
            let mut inner = String::new();
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
                inner.push(d);
            }
            let name = inner.split(':').next().unwrap_or("").trim().to_string();
            out.push(
                (!name.is_empty() && !name.chars().all(|c| c.is_ascii_digit())).then_some(name),
            );
        }
    }
    out
}

fn is_sql(fmt: &str) -> bool {
    fmt.split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| KEYWORDS.contains(&w))
}

fn quoted(expr: &str) -> bool {
    let e = expr.trim().trim_start_matches('&');
    QUOTING
        .iter()
        .any(|q| e.starts_with(q) || e.contains(&format!("::{q}")))
}

/// Every SQL-building `format!` with a piece not quoted at the call: (file, format string).
fn unreviewed_sites(root: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut sites = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(root).unwrap().display().to_string();
        let mut from = 0;
        while let Some(pos) = src[from..].find("format!(") {
            let start = from + pos + "format!(".len();
            from = start;
            let lit_at = start + src[start..].len() - src[start..].trim_start().len();
            let Some((fmt, end)) = literal(&src, lit_at) else {
                continue;
            };
            if !is_sql(&fmt) {
                continue;
            }
            let args = arguments(&src, end);
            let named: HashMap<String, String> = args
                .iter()
                .filter_map(|a| {
                    let (k, v) = a.split_once('=')?;
                    let k = k.trim();
                    (k.chars().all(|c| c.is_alphanumeric() || c == '_') && !v.starts_with('='))
                        .then(|| (k.to_string(), v.trim().to_string()))
                })
                .collect();
            let positional: Vec<&String> = args
                .iter()
                .filter(|a| {
                    a.split_once('=')
                        .map(|(k, v)| {
                            !k.trim().chars().all(|c| c.is_alphanumeric() || c == '_')
                                || v.starts_with('=')
                        })
                        .unwrap_or(true)
                })
                .collect();
            let mut next = 0;
            let unsafe_piece = placeholders(&fmt).into_iter().any(|p| match p {
                Some(name) => match named.get(&name) {
                    Some(expr) => !quoted(expr),
                    // An inline capture of a variable: not visibly quoted here.
                    None => true,
                },
                None => {
                    let expr = positional.get(next).map(|s| s.as_str()).unwrap_or("");
                    next += 1;
                    !quoted(expr)
                }
            });
            if unsafe_piece {
                sites.push((rel.clone(), fmt.trim().to_string()));
            }
        }
    }
    sites
}

/// The reviewed sites: `file | format string | why it is safe`, one per line.
fn allowlist(root: &Path) -> HashMap<(String, String), usize> {
    let text = std::fs::read_to_string(root.join("tests/sql_allowlist.txt")).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, " | ");
        let (Some(file), Some(fmt), Some(why)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("tests/sql_allowlist.txt: `file | format | why` expected: {line}");
        };
        assert!(!why.trim().is_empty(), "no reason given: {line}");
        *out.entry((file.to_string(), fmt.to_string())).or_insert(0) += 1;
    }
    out
}

#[test]
fn no_sql_is_built_from_unquoted_strings_beyond_the_reviewed_sites() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sites = unreviewed_sites(root);
    if std::env::var("LITE2PG_SQL_SITES").is_ok() {
        for (file, fmt) in &sites {
            println!("{file} | {fmt} | ");
        }
    }
    let mut allowed = allowlist(root);
    let mut new = Vec::new();
    for site in &sites {
        match allowed.get_mut(site) {
            Some(n) if *n > 0 => *n -= 1,
            _ => new.push(format!("{} | {}", site.0, site.1)),
        }
    }
    assert!(
        new.is_empty(),
        "SQL built with pieces not quoted at the call; quote names with quote_ident/qualified \
         and bind values as parameters, or review the site and add it with a reason to \
         tests/sql_allowlist.txt:\n{}",
        new.join("\n")
    );
    // A reviewed site that moved or went away leaves its line behind: an exception nobody
    // can check any more.
    let mut stale: Vec<String> = allowed
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|((file, fmt), n)| format!("{file} | {fmt} (x{n})"))
        .collect();
    stale.sort();
    assert!(
        stale.is_empty(),
        "tests/sql_allowlist.txt lists sites that are not in the code any more; remove them:\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_scanner_sees_an_unquoted_piece_and_accepts_a_quoted_one() {
    assert_eq!(
        placeholders("SELECT {} FROM {t} WHERE {{x}}"),
        vec![None, Some("t".into())]
    );
    assert!(quoted("quote_ident(&c.name)"));
    assert!(quoted("&crate::pg::quote_ident(name)"));
    assert!(!quoted("name"));
    assert!(is_sql("DROP TABLE {}"));
    assert!(!is_sql("dropped {} rows"));
    let src = r#"format!("SELECT {} FROM {}", quote_ident(a), b)"#;
    assert_eq!(
        arguments(src, src.find(", ").unwrap() + 1),
        vec!["quote_ident(a)", "b"]
    );
}
