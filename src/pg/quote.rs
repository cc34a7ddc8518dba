//! Quoting of identifiers and literals, and masking of passwords in URLs.

/// Quotes an identifier for PostgreSQL (and SQLite): always double quotes, inner quotes doubled.
///
/// Quoting every name, even plain ones, means no name can change meaning: a table called
/// `x"; DROP TABLE t; --` becomes exactly one identifier.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Quotes a string literal for PostgreSQL with standard_conforming_strings on.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Shows a connection string with any password replaced by `****`.
///
/// Handles URL form (`postgres://user:secret@host/db`, `?password=secret`) and key/value
/// form (`host=h password=secret`).
pub fn mask_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let (scheme, rest) = url.split_at(scheme_end + 3);
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.find(':') {
                    Some(colon) => format!("{}:****{}", &userinfo[..colon], host),
                    None => authority.to_string(),
                }
            }
            None => authority.to_string(),
        };
        let tail = mask_query_password(tail);
        format!("{scheme}{authority}{tail}")
    } else {
        url.split_whitespace()
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
                _ => kv.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn mask_query_password(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let (path, query) = tail.split_at(q + 1);
    let masked: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}{}", masked.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_doubles_inner_quotes() {
        assert_eq!(
            quote_ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
        assert_eq!(quote_ident("Order"), "\"Order\"");
    }

    #[test]
    fn mask_url_hides_passwords_in_every_form() {
        assert_eq!(
            mask_url("postgres://app:s3cr@t@db:5432/x?sslmode=require"),
            "postgres://app:****@db:5432/x?sslmode=require"
        );
        assert_eq!(
            mask_url("postgresql://h/db?user=u&password=pw"),
            "postgresql://h/db?user=u&password=****"
        );
        assert_eq!(
            mask_url("host=h password=pw user=u"),
            "host=h password=**** user=u"
        );
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
