//! Exact decimals in PostgreSQL's binary `numeric` layout.
//!
//! A SQLite number becomes a decimal digit string first (integers exactly; doubles as the
//! shortest decimal that reads back to the same bits), then base-10000 digit groups. A value
//! with more digits than a `numeric(p,s)` column holds is refused here: PostgreSQL would
//! round it quietly. Everything happens in fixed buffers on the stack: the copier converts
//! millions of values, and none of them allocates.

use std::fmt::Write as _;

use rusqlite::types::ValueRef;

use crate::plan::{Conversion, DecimalReading};

/// Significant digits a value can have: 19 for an `i64`, 17 for a double's shortest form,
/// 60 for the start of a double's exact expansion (enough to tell a tie from a near one at
/// any position a framework rounds to).
const MAX_DIGITS: usize = 60;

/// Where a rounding position may fall in a double's 60 exact digits and still be exact.
const EXACT_DIGITS: i32 = 50;

/// Which way a digit exactly halfway goes when rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tie {
    /// To the even neighbour (Python's `decimal` default, C's `printf`).
    Even,
    /// Away from zero (Ruby's `BigDecimal` default).
    AwayFromZero,
}

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
    buf: [u8; 80],
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
            buf: [0; 80],
            len: 0,
        };
        write!(text, "{v:e}").ok()?;
        Decimal::from_scientific(&text)
    }

    /// The double's exact value, to 60 significant digits (a double's exact expansion runs
    /// longer only past the point where its rounding can be decided); `None` for NaN and
    /// infinities.
    fn exact_f64(v: f64) -> Option<Decimal> {
        Decimal::digits_of(v, 60)
    }

    /// The double's value correctly rounded to `n` (1 to 60) significant digits.
    fn digits_of(v: f64, n: usize) -> Option<Decimal> {
        if !v.is_finite() || !(1..=60).contains(&n) {
            return None;
        }
        let mut text = Stack {
            buf: [0; 80],
            len: 0,
        };
        write!(text, "{v:.prec$e}", prec = n - 1).ok()?;
        Decimal::from_scientific(&text)
    }

    /// The double's exact value rounded at the significant digit `at` picks from the digits
    /// (a count of significant digits, or the digits before the point plus a scale), ties
    /// by `tie`. Two digits past that position, correctly rounded, decide every rounding
    /// but one that looks like a tie there: only then are the double's exact digits
    /// written out (a 60-digit expansion costs six times the short one, on every value).
    fn round_double(v: f64, at: impl Fn(&Decimal) -> i32, tie: Tie) -> Option<Decimal> {
        let shortest = Decimal::from_f64(v)?;
        let n = at(&shortest) + 2;
        if (1..=EXACT_DIGITS).contains(&n) {
            let near = Decimal::digits_of(v, n as usize)?;
            let k = at(&near);
            let looks_tied = k >= 0 && near.len as i32 == k + 1 && near.digits[k as usize] == b'5';
            if k < n && !looks_tied {
                return Some(near.round_digits(k, tie));
            }
        }
        let exact = Decimal::exact_f64(v)?;
        let k = at(&exact);
        // Past the exact digits held here, the rounding is not known.
        if k > EXACT_DIGITS && exact.len as i32 > EXACT_DIGITS {
            return None;
        }
        Some(exact.round_digits(k, tie))
    }

    /// Parses what `{:e}` printed into `text`.
    fn from_scientific(text: &Stack) -> Option<Decimal> {
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

    /// The number `reading`'s framework reads from SQLite's integer `v` into a column of
    /// `typmod` (precision, scale).
    pub fn read_integer(v: i64, reading: DecimalReading, typmod: Option<(u32, u32)>) -> Decimal {
        let d = Decimal::from_i64(v);
        match reading {
            // Django hands integers to the same float conversion as doubles.
            DecimalReading::Django => d.django(typmod),
            DecimalReading::ActiveRecord | DecimalReading::SqlAlchemy => d,
        }
    }

    /// The number `reading`'s framework reads from SQLite's double `v` into a column of
    /// `typmod` (precision, scale); `None` for a value it cannot read (infinite, or whose
    /// rounding lies past the double's exact digits held here).
    pub fn read_double(
        v: f64,
        reading: DecimalReading,
        typmod: Option<(u32, u32)>,
    ) -> Option<Decimal> {
        let scale = typmod.map(|(_, s)| s as i32);
        match reading {
            DecimalReading::Django => {
                Some(Decimal::round_double(v, |_| 15, Tie::Even)?.django(typmod))
            }
            DecimalReading::ActiveRecord => match typmod {
                // Without a precision ActiveRecord takes the shortest form (`Float#to_d`).
                None => Decimal::from_f64(v),
                Some((p, s)) => {
                    let keep = p.min(16) as i32;
                    let d = Decimal::round_double(v, |_| keep, Tie::AwayFromZero)?;
                    Some(d.round_scale(s as i32, Tie::AwayFromZero))
                }
            },
            DecimalReading::SqlAlchemy => {
                let scale = scale.unwrap_or(10);
                Decimal::round_double(v, |d| d.len as i32 + d.exponent + scale, Tie::Even)
            }
        }
    }

    /// Django's reading: 15 significant digits, then the scale, ties to even.
    fn django(&self, typmod: Option<(u32, u32)>) -> Decimal {
        let d = self.round_significant(15, Tie::Even);
        match typmod {
            Some((_, s)) => d.round_scale(s as i32, Tie::Even),
            None => d,
        }
    }

    /// Rounded to `keep` significant digits.
    fn round_significant(&self, keep: i32, tie: Tie) -> Decimal {
        self.round_digits(keep, tie)
    }

    /// Rounded to `scale` digits after the point.
    fn round_scale(&self, scale: i32, tie: Tie) -> Decimal {
        self.round_digits(self.len as i32 + self.exponent + scale, tie)
    }

    /// Rounded to its first `keep` digits (0 or fewer: to zero or one unit of the
    /// position), ties broken by `tie`.
    fn round_digits(&self, keep: i32, tie: Tie) -> Decimal {
        if keep >= self.len as i32 {
            return self.clone();
        }
        // The unit of the last digit kept.
        let exponent = self.exponent + (self.len as i32 - keep);
        if keep < 0 {
            return Decimal::normal(false, &[], 0);
        }
        let keep = keep as usize;
        let next = self.digits[keep];
        // Digits are stored without trailing zeros: anything after `next` is non-zero.
        let beyond = keep + 1 < self.len;
        let odd = keep > 0 && (self.digits[keep - 1] - b'0') % 2 == 1;
        let up = next > b'5' || next == b'5' && (beyond || tie == Tie::AwayFromZero || odd);
        let mut digits = [0u8; MAX_DIGITS];
        digits[..keep].copy_from_slice(&self.digits[..keep]);
        if !up {
            return Decimal::normal(self.negative, &digits[..keep], exponent);
        }
        // Carry from the last kept digit; all nines (or none kept) become a 1 one place up.
        match digits[..keep].iter().rposition(|d| *d != b'9') {
            Some(i) => {
                digits[i] += 1;
                digits[i + 1..keep].fill(b'0');
                Decimal::normal(self.negative, &digits[..keep], exponent)
            }
            None => Decimal::normal(self.negative, b"1", exponent + keep as i32),
        }
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

/// Why a value cannot go into a `numeric` column (the encoder words it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a number at all.
    NotANumber,
    /// A number with no decimal value (infinite), with the reason.
    NoValue(String),
    /// More digits than `numeric(p,s)` holds, as read by the framework if one reads it.
    TooWide {
        /// Precision and scale of the column.
        typmod: (u32, u32),
        /// The framework whose reading was taken, if one.
        reading: Option<DecimalReading>,
    },
}

impl Refusal {
    /// The reject file's reason, for the value shown as `shown`.
    pub fn reason(&self, shown: &str) -> String {
        match self {
            Refusal::NotANumber => format!("{shown} is not a number"),
            Refusal::NoValue(why) => why.clone(),
            Refusal::TooWide {
                typmod: (p, s),
                reading: Some(reading),
            } => format!(
                "{shown} as {} reads it has more digits than numeric({p},{s}) holds",
                reading.name()
            ),
            Refusal::TooWide {
                typmod: (p, s),
                reading: None,
            } => format!("{shown} does not fit numeric({p},{s}) without rounding"),
        }
    }
}

/// Writes a number into `numeric(typmod)`: exactly, or as the application's framework reads
/// it from SQLite; refuses one with more digits than the column holds.
pub fn encode(
    v: ValueRef<'_>,
    typmod: Option<(u32, u32)>,
    conversion: Conversion,
    out: &mut Vec<u8>,
) -> Result<(), Refusal> {
    let reading = match conversion {
        Conversion::DecimalAsRead { reading } => Some(reading),
        _ => None,
    };
    let d = match (v, reading) {
        (ValueRef::Integer(i), Some(reading)) => Decimal::read_integer(i, reading, typmod),
        (ValueRef::Real(f), Some(reading)) => {
            Decimal::read_double(f, reading, typmod).ok_or_else(|| {
                Refusal::NoValue(format!("{f} has no decimal value {} reads", reading.name()))
            })?
        }
        (ValueRef::Integer(i), None) => Decimal::from_i64(i),
        (ValueRef::Real(f), None) => Decimal::from_f64(f)
            .ok_or_else(|| Refusal::NoValue(format!("{f} has no exact numeric value")))?,
        _ => return Err(Refusal::NotANumber),
    };
    if let Some((p, s)) = typmod {
        if d.scale() > s || d.integer_digits() + s > p {
            return Err(Refusal::TooWide {
                typmod: (p, s),
                reading,
            });
        }
    }
    d.write_binary(out);
    Ok(())
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

    /// The decimal as plain text, e.g. "-12.5".
    fn text(d: &Decimal) -> String {
        let digits = d.digits();
        let sign = if d.negative { "-" } else { "" };
        if digits.is_empty() {
            return "0".into();
        }
        if d.exponent >= 0 {
            return format!("{sign}{digits}{}", "0".repeat(d.exponent as usize));
        }
        let point = digits.len() as i32 + d.exponent;
        if point > 0 {
            let (a, b) = digits.split_at(point as usize);
            format!("{sign}{a}.{b}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        }
    }

    fn read(v: f64, reading: DecimalReading, p: u32, s: u32) -> String {
        text(&Decimal::read_double(v, reading, Some((p, s))).unwrap())
    }

    #[test]
    fn rounding_from_two_extra_digits_agrees_with_rounding_the_exact_expansion() {
        // Doubles of every magnitude, and decimals of few digits (whose doubles sit next to
        // ties), rounded both ways.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = Vec::new();
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                values.push(f);
            }
            values.push((x % 1_000_000) as f64 / 1000.0 * if i % 2 == 0 { 1.0 } else { -1.0 });
            values.push((x % 100_000) as f64 / 8.0);
        }
        for v in values {
            for (keep, tie) in [(15, Tie::Even), (16, Tie::AwayFromZero), (8, Tie::Even)] {
                let exact = Decimal::exact_f64(v).unwrap();
                let want = exact.round_digits(keep, tie);
                assert_eq!(
                    Decimal::round_double(v, |_| keep, tie),
                    Some(want),
                    "{v:e} {keep}"
                );
            }
            for scale in [0, 2, 8] {
                let at = |d: &Decimal| d.len as i32 + d.exponent + scale;
                let exact = Decimal::exact_f64(v).unwrap();
                if at(&exact) > EXACT_DIGITS {
                    continue;
                }
                let want = exact.round_digits(at(&exact), Tie::Even);
                assert_eq!(
                    Decimal::round_double(v, at, Tie::Even),
                    Some(want),
                    "{v:e} {scale}"
                );
            }
        }
    }

    // The expected values are what Django 5.2, ActiveRecord 6.1 and SQLAlchemy 2.1 read from
    // a SQLite file holding these doubles (tried with each).
    #[test]
    fn django_reads_fifteen_significant_digits_then_its_scale_ties_to_even() {
        let dj = DecimalReading::Django;
        assert_eq!(read(12345678901.123457, dj, 20, 8), "12345678901.1235");
        assert_eq!(read(123456789012.34567, dj, 20, 8), "123456789012.346");
        assert_eq!(read(123456.789012345, dj, 20, 8), "123456.78901234");
        assert_eq!(read(0.125, dj, 10, 2), "0.12");
        assert_eq!(
            read(2.675, dj, 10, 2),
            "2.68",
            "15 digits give 2.675, then even"
        );
        assert_eq!(read(0.1, dj, 20, 8), "0.1");
        assert_eq!(
            read(-9.995, dj, 10, 2),
            "-10",
            "a carry past the first digit"
        );
        let big = Decimal::read_integer(12345678901234567, dj, Some((30, 2)));
        assert_eq!(text(&big), "12345678901234600", "integers too");
    }

    #[test]
    fn activerecord_reads_sixteen_significant_digits_then_its_scale_ties_away_from_zero() {
        let ar = DecimalReading::ActiveRecord;
        assert_eq!(read(12345678901.123457, ar, 20, 8), "12345678901.12346");
        assert_eq!(read(0.125, ar, 10, 2), "0.13");
        assert_eq!(read(-0.125, ar, 10, 2), "-0.13");
        assert_eq!(read(123.4, ar, 10, 2), "123.4");
        assert_eq!(
            read(1234567.891, ar, 8, 2),
            "1234567.9",
            "precision below 16 counts"
        );
        let shortest = Decimal::read_double(12345678901.123457, ar, None).unwrap();
        assert_eq!(
            text(&shortest),
            "12345678901.123457",
            "no precision: Float#to_d"
        );
        let int = Decimal::read_integer(12345678901234567, ar, Some((30, 2)));
        assert_eq!(text(&int), "12345678901234567");
    }

    #[test]
    fn sqlalchemy_reads_the_exact_double_rounded_to_its_scale_ties_to_even() {
        let sa = DecimalReading::SqlAlchemy;
        assert_eq!(read(12345678901.123457, sa, 20, 8), "12345678901.12345695");
        assert_eq!(read(0.125, sa, 10, 2), "0.12");
        assert_eq!(read(0.375, sa, 10, 2), "0.38");
        assert_eq!(read(0.1, sa, 20, 8), "0.1");
        assert_eq!(read(2.675, sa, 10, 2), "2.67", "the double is below 2.675");
        let no_scale = Decimal::read_double(0.1, sa, None).unwrap();
        assert_eq!(text(&no_scale), "0.1", "ten places without a scale");
        assert_eq!(
            text(&Decimal::read_double(1.0 / 3.0, sa, None).unwrap()),
            "0.3333333333"
        );
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
