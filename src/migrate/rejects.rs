//! The reject file: one JSON line per row that was not carried, written from the control
//! schema (where each reject was committed with its chunk), so every reject appears exactly
//! once even across killed and resumed runs.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use uuid::Uuid;

use crate::copy::keys::hex;
use crate::error::{Error, Result};
use crate::pg::{control, Client};

const PAGE: i64 = 10_000;

/// The original value as text when it is printable UTF-8, else as hex.
fn value(kind: &str, bytes: Option<&[u8]>) -> (serde_json::Value, &'static str) {
    match bytes {
        None => (serde_json::Value::Null, "none"),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if kind != "blob" && !s.contains('\0') => (json!(s), "utf8"),
            _ => (json!(hex(b)), "hex"),
        },
    }
}

/// Writes every reject of `run` to `path` (JSON Lines).
pub fn write(client: &Client, run: Uuid, path: &Path) -> Result<()> {
    let io = |e| Error::io(format!("writing the reject file {}", path.display()), e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    let mut offset = 0;
    loop {
        let page = control::rejects(client, run, offset, PAGE)?;
        for r in &page {
            let (v, encoding) = value(&r.value_kind, r.value.as_deref());
            let line = json!({
                "table": r.table,
                "key": r.key,
                "column": r.column,
                "reason": r.reason,
                "value_kind": r.value_kind,
                "value": v,
                "value_encoding": encoding,
                "carried": r.carried,
            });
            writeln!(out, "{line}").map_err(io)?;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
        offset += PAGE;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::value;

    #[test]
    fn unprintable_values_are_written_as_hex() {
        assert_eq!(value("text", Some(b"a\0b")).1, "hex");
        assert_eq!(value("text", Some(b"\xff")).1, "hex");
        assert_eq!(value("blob", Some(b"ab")).1, "hex");
        assert_eq!(value("text", Some(b"ok")).0, "ok");
    }
}
