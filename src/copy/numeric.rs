//! Exact decimals in PostgreSQL's binary `numeric` layout.
//!
//! A SQLite number becomes a decimal digit string first (integers exactly; doubles as the
//! shortest decimal that reads back to the same bits), then base-10000 digit groups. A value
//! with more digits than a `numeric(p,s)` column holds is refused here: PostgreSQL would
//! round it quietly. Everything happens in fixed buffers on the stack: the copier converts
//! millions of values, and none of them allocates.

use std::fmt::Write as _;

/// Significant digits a value can have: 19 for an `i64`, 17 for a double's shortest form.
const MAX_DIGITS: usize = 24;

/// A decimal number: sign, its digits and the power of ten of the last digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    /// Negative.
    pub negative: bool,
    /// Decimal digits without leading or trailing zeros (none for zero), as ASCII.
    digits: [u8; MAX_DIGITS],
    /// How many of `digits` are used.
    len: usize,
    /// The value is `digits × 10^exponent`.
    pub exponent: i32,
}

/// A small text buffer on the stack for `{:e}`.
struct Stack {
    buf: [u8; 48],
    len: usize,
}

impl std::fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Decimal {
    /// An integer, exactly.
    pub fn from_i64(v: i64) -> Decimal {
        let mut digits = [0u8; MAX_DIGITS];
        let mut n = v.unsigned_abs();
        let mut len = 0;
        // Written backwards, then turned around.
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        digits[..len].reverse();
        Decimal::normal(v < 0, &digits[..len], 0)
    }

    /// The shortest decimal that reads back as `v`; `None` for NaN and infinities.
    pub fn from_f64(v: f64) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        // `{:e}` prints the shortest round-trip digits: "-1.2345e-7".
        let mut text = Stack {
            buf: [0; 48],
            len: 0,
        };
        write!(text, "{v:e}").ok()?;
        let text = std::str::from_utf8(&text.buf[..text.len]).ok()?;
        let (mantissa, exp) = text.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let negative = mantissa.starts_with('-');
        let mantissa = mantissa.trim_start_matches('-');
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut digits = [0u8; MAX_DIGITS];
        let len = int.len() + frac.len();
        if len > MAX_DIGITS {
            return None;
        }
        digits[..int.len()].copy_from_slice(int.as_bytes());
        digits[int.len()..len].copy_from_slice(frac.as_bytes());
        Some(Decimal::normal(
            negative,
            &digits[..len],
            exp - frac.len() as i32,
        ))
    }

    fn normal(negative: bool, digits: &[u8], exponent: i32) -> Decimal {
        let lead = digits.iter().take_while(|d| **d == b'0').count();
        let trimmed = &digits[lead..];
        let trail = trimmed.iter().rev().take_while(|d| **d == b'0').count();
        let stripped = &trimmed[..trimmed.len() - trail];
        let mut out = [0u8; MAX_DIGITS];
        out[..stripped.len()].copy_from_slice(stripped);
        Decimal {
            negative: negative && !stripped.is_empty(),
            digits: out,
            len: stripped.len(),
            exponent: if stripped.is_empty() {
                0
            } else {
                exponent + trail as i32
            },
        }
    }

    /// The significant digits, as text ("" for zero).
    pub fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("")
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> u32 {
        if self.exponent < 0 {
            self.exponent.unsigned_abs()
        } else {
            0
        }
    }

    /// Digits before the decimal point.
    pub fn integer_digits(&self) -> u32 {
        (self.len as i32 + self.exponent).max(0) as u32
    }

    /// Appends the binary `numeric` body (without the length word).
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        let scale = self.scale();
        if self.len == 0 {
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes());
            out.extend_from_slice(&(scale as u16).to_be_bytes());
            return;
        }
        // The digits aligned to groups of four around the decimal point: padded on the left
        // of the integer part and on the right of the fraction. The padded string is never
        // built: `digit(p)` reads its p-th digit.
        let int_len = self.len as i32 + self.exponent;
        let int_groups = if int_len > 0 { (int_len + 3) / 4 } else { 0 };
        let left_pad = if int_len > 0 {
            int_groups * 4 - int_len
        } else {
            // Pure fraction: zeros between the point and the first digit.
            (-int_len) % 4
        } as usize;
        let body = left_pad + self.len + self.exponent.max(0) as usize;
        let total = body.div_ceil(4) * 4;
        let digit = |p: usize| -> i16 {
            if p >= left_pad && p < left_pad + self.len {
                i16::from(self.digits[p - left_pad] - b'0')
            } else {
                0
            }
        };
        let group = |g: usize| (0..4).fold(0i16, |acc, k| acc * 10 + digit(g * 4 + k));
        let groups = total / 4;
        let weight = if int_len > 0 {
            int_groups - 1
        } else {
            -((-int_len) / 4) - 1
        };
        let start = (0..groups).find(|g| group(*g) != 0).unwrap_or(0);
        let end = (0..groups)
            .rev()
            .find(|g| group(*g) != 0)
            .map_or(0, |g| g + 1);
        let weight = weight - start as i32;
        out.extend_from_slice(&((end - start) as i16).to_be_bytes());
        out.extend_from_slice(&(weight as i16).to_be_bytes());
        out.extend_from_slice(&(if self.negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&(scale as u16).to_be_bytes());
        for g in start..end {
            out.extend_from_slice(&group(g).to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(d: &Decimal) -> Vec<i16> {
        let mut out = Vec::new();
        d.write_binary(&mut out);
        out.chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn doubles_become_their_shortest_exact_decimal() {
        let d = Decimal::from_f64(0.1).unwrap();
        assert_eq!((d.digits(), d.exponent), ("1", -1));
        let d = Decimal::from_f64(-1234.5).unwrap();
        assert_eq!((d.negative, d.digits(), d.exponent), (true, "12345", -1));
        assert_eq!(Decimal::from_f64(1e20).unwrap().integer_digits(), 21);
        assert_eq!(Decimal::from_f64(f64::NAN), None);
    }

    #[test]
    fn binary_layout_matches_postgres_numeric_send() {
        // numeric_send(12345.678): ndigits 3, weight 1, sign 0, dscale 3, [1, 2345, 6780]
        let d = Decimal::from_f64(12345.678).unwrap();
        assert_eq!(words(&d), vec![3, 1, 0, 3, 1, 2345, 6780]);
        // 0.0001234: weight -1, digits [1, 2340]
        let d = Decimal::from_f64(0.0001234).unwrap();
        assert_eq!(words(&d), vec![2, -1, 0, 7, 1, 2340]);
        // 0.00001: weight -2, digits [1000]
        let d = Decimal::from_f64(0.00001).unwrap();
        assert_eq!(words(&d), vec![1, -2, 0, 5, 1000]);
        // 10000: weight 1, digits [1]
        assert_eq!(words(&Decimal::from_i64(10000)), vec![1, 1, 0, 0, 1]);
        assert_eq!(
            words(&Decimal::from_i64(i64::MIN)),
            vec![5, 4, 0x4000, 0, 922, 3372, 368, 5477, 5808]
        );
        assert_eq!(words(&Decimal::from_i64(0)), vec![0, 0, 0, 0]);
    }
}
