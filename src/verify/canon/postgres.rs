//! The PostgreSQL road to the canonical form: from the binary value the server sends back
//! in `COPY … TO STDOUT (FORMAT binary)`.

use super::json::put_json;
use super::*;

/// Appends the canonical form of a value PostgreSQL sent in binary (`None`: NULL).
pub fn postgres(field: Option<&[u8]>, col: Col, out: &mut Vec<u8>) {
    let Some(b) = field else {
        out.push(NULL);
        return;
    };
    let ok = match col.kind {
        Kind::Bool if b.len() == 1 => {
            out.extend_from_slice(&[BOOL, u8::from(b[0] != 0)]);
            true
        }
        Kind::Int => {
            let v = match b.len() {
                2 => Some(i64::from(i16::from_be_bytes([b[0], b[1]]))),
                4 => Some(i64::from(be_i32(b))),
                8 => Some(be_i64(b)),
                _ => None,
            };
            v.map(|v| put_i64(out, INT, v)).is_some()
        }
        Kind::Float => {
            let bits = match b.len() {
                4 => Some(f64::from(f32::from_bits(be_i32(b) as u32)).to_bits() as i64),
                8 => Some(be_i64(b)),
                _ => None,
            };
            bits.map(|v| put_i64(out, FLOAT, v)).is_some()
        }
        Kind::Numeric => match numeric_text(b).and_then(|s| normal_decimal(&s)) {
            Some(d) => {
                put_var(out, DECIMAL, d.as_bytes());
                true
            }
            None => false,
        },
        Kind::Text => {
            put_var(out, TEXT, b);
            true
        }
        Kind::Bytes => {
            put_var(out, BYTES, b);
            true
        }
        Kind::Jsonb | Kind::Json => {
            let text = if col.kind == Kind::Jsonb {
                b.split_first().filter(|(v, _)| **v == 1).map(|(_, t)| t)
            } else {
                Some(b)
            };
            text.is_some_and(|t| put_json(out, t))
        }
        Kind::Uuid if b.len() == 16 => {
            out.push(UUID);
            out.extend_from_slice(b);
            true
        }
        Kind::Date if b.len() == 4 => {
            let d = be_i32(b);
            if d == i32::MAX || d == i32::MIN {
                false
            } else {
                put_i64(out, DATE, i64::from(d) + UNIX_TO_PG_DAYS);
                true
            }
        }
        Kind::Time if b.len() == 8 => {
            put_i64(out, TIME, be_i64(b));
            true
        }
        Kind::TimeTz if b.len() == 12 => {
            put_i64(out, TIMETZ, be_i64(&b[..8]));
            // Sent as seconds west of UTC.
            out.extend_from_slice(&(-be_i32(&b[8..])).to_be_bytes());
            true
        }
        Kind::Interval if b.len() == 16 => {
            // Microseconds, days, months: only a duration without months has one length.
            let (micros, days, months) = (be_i64(&b[..8]), be_i32(&b[8..12]), be_i32(&b[12..]));
            match i64::from(days)
                .checked_mul(MICROS_PER_DAY)
                .and_then(|d| d.checked_add(micros))
            {
                Some(total) if months == 0 => {
                    put_i64(out, INTERVAL, total);
                    true
                }
                _ => false,
            }
        }
        Kind::Inet if b.len() >= 4 && b.len() == 4 + b[3] as usize => {
            let family = match b[0] {
                2 => 4,
                3 => 6,
                _ => 0,
            };
            out.extend_from_slice(&[INET, family, b[1]]);
            out.extend_from_slice(&b[4..]);
            family != 0
        }
        Kind::Char => {
            let trimmed = b.iter().rposition(|c| *c != b' ').map_or(0, |i| i + 1);
            put_var(out, TEXT, &b[..trimmed]);
            true
        }
        Kind::Timestamp | Kind::TimestampTz if b.len() == 8 => {
            let v = be_i64(b);
            if v == i64::MAX || v == i64::MIN {
                false
            } else {
                put_i64(out, TIMESTAMP, v + UNIX_TO_PG_DAYS * MICROS_PER_DAY);
                true
            }
        }
        _ => false,
    };
    if !ok {
        odd(out, b);
    }
}

pub(super) fn odd(out: &mut Vec<u8>, b: &[u8]) {
    put_var(out, ODD, b);
}

/// The decimal text of PostgreSQL's binary numeric: base-10000 digits with a weight.
pub(super) fn numeric_text(b: &[u8]) -> Option<String> {
    if b.len() < 8 {
        return None;
    }
    let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let ndigits = word(0) as usize;
    let weight = word(2) as i16 as i64;
    let sign = word(4);
    if sign == 0xC000 {
        return Some("NaN".into());
    }
    if sign != 0 && sign != 0x4000 || b.len() != 8 + 2 * ndigits {
        return None;
    }
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if ndigits == 0 {
        return Some("0".into());
    }
    for i in 0..ndigits {
        let d = word(8 + 2 * i);
        if d > 9999 {
            return None;
        }
        s.push_str(&format!("{d:04}"));
    }
    // The first group is 10000^weight: the point sits after (weight + 1) groups.
    let exp = (weight + 1 - ndigits as i64) * 4;
    Some(format!("{s}e{exp}"))
}
