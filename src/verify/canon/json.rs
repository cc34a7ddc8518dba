//! JSON in one form per value, written straight into a canonical row: object members sorted
//! by key (the last of duplicate keys wins, as in jsonb), numbers as exact decimals, strings
//! escaped one way, no insignificant whitespace. The verification sees every JSON value of
//! both sides, so nothing is allocated per value but an object's member list (and a string
//! with escapes in it).

use std::borrow::Cow;

use super::{normal_decimal, JSON};

/// Nesting deeper than this is refused rather than risk the reading thread's stack.
const MAX_DEPTH: usize = 1000;

/// Writes JSON `text` as a canonical field (tag, length, canonical text) to `out`; false,
/// with `out` as it was, when `text` is not one JSON value in UTF-8.
pub(super) fn put_json(out: &mut Vec<u8>, text: &[u8]) -> bool {
    let start = out.len();
    out.push(JSON);
    out.extend_from_slice(&[0; 8]);
    if simdutf8::basic::from_utf8(text).is_err() || !write_canonical(text, out) {
        out.truncate(start);
        return false;
    }
    let len = (out.len() - start - 9) as u64;
    out[start + 1..start + 9].copy_from_slice(&len.to_be_bytes());
    true
}

/// Writes the canonical form of the JSON in `text` (valid UTF-8) to `out`; false, with
/// `out` as it was, when `text` is not exactly one JSON value.
pub(super) fn write_canonical(text: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let mut p = Parser { s: text, i: 0 };
    let ok = p.value(out, 0).is_some() && {
        p.ws();
        p.i == text.len()
    };
    if !ok {
        out.truncate(start);
    }
    ok
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'{' => self.object(out, depth),
            b'[' => self.array(out, depth),
            b'"' => {
                let s = self.string()?;
                escape(&s, out);
                Some(())
            }
            b't' => self.literal(b"true", out),
            b'f' => self.literal(b"false", out),
            b'n' => self.literal(b"null", out),
            _ => self.number(out),
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Option<()> {
        if !self.s[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        out.extend_from_slice(word);
        Some(())
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.i += 1;
        out.push(b'[');
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            out.push(b']');
            return Some(());
        }
        loop {
            self.value(out, depth + 1)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    out.push(b',');
                }
                b']' => {
                    self.i += 1;
                    out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            out.extend_from_slice(b"{}");
            return Some(());
        }
        // Each member's value is written canonical at the end of `out`, then the members
        // are put in key order.
        let base = out.len();
        let mut members: Vec<(Cow<'a, [u8]>, usize, usize)> = Vec::new();
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return None;
            }
            self.i += 1;
            let at = out.len() - base;
            self.value(out, depth + 1)?;
            members.push((key, at, out.len() - base));
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        // A stable sort keeps duplicates in their order: the last one is the one kept.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        let values = out.split_off(base);
        out.push(b'{');
        let mut first = true;
        for (k, (key, from, to)) in members.iter().enumerate() {
            if members.get(k + 1).is_some_and(|next| next.0 == *key) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            escape(key, out);
            out.push(b':');
            out.extend_from_slice(&values[*from..*to]);
        }
        out.push(b'}');
        Some(())
    }

    /// A string's bytes, unescaped; borrowed when it has no escape.
    fn string(&mut self) -> Option<Cow<'a, [u8]>> {
        self.i += 1;
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => {
                    let s = &self.s[start..self.i];
                    self.i += 1;
                    return Some(Cow::Borrowed(s));
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        let mut buf = self.s[start..self.i].to_vec();
        loop {
            let b = self.peek()?;
            self.i += 1;
            match b {
                b'"' => return Some(Cow::Owned(buf)),
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => buf.push(e),
                        b'b' => buf.push(8),
                        b'f' => buf.push(12),
                        b'n' => buf.push(b'\n'),
                        b'r' => buf.push(b'\r'),
                        b't' => buf.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            buf.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => buf.push(b),
            }
        }
    }

    /// The character of a `\u` escape (after the `u`), a surrogate pair taken whole; a
    /// lone surrogate is refused, as jsonb refuses it.
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.i..self.i + 2)? != b"\\u" {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
        }
        char::from_u32(hi)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &b in h {
            v = v * 16 + char::from(b).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - from
    }

    /// A number as JSON spells it, written as its shortest exact decimal.
    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integer = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let token = &self.s[start..self.i];
        if integer && token != b"-0" {
            out.extend_from_slice(token);
            return Some(());
        }
        let exact = normal_decimal(std::str::from_utf8(token).ok()?)?;
        out.extend_from_slice(exact.as_bytes());
        Some(())
    }
}

/// A string in quotes, escaped as serde_json escapes it.
fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut from = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            8 => b"\\b",
            12 => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[from..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        from = i + 1;
    }
    out.extend_from_slice(&s[from..]);
    out.push(b'"');
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
