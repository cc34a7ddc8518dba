//! Exact decimals in PostgreSQL's binary `numeric` layout.
//!
//! A SQLite number becomes a decimal digit string first (integers exactly; doubles as the
//! shortest decimal that reads back to the same bits), then base-10000 digit groups. A value
//! with more digits than a `numeric(p,s)` column holds is refused here: PostgreSQL would
//! round it quietly.

/// A decimal number: sign, its digits and the power of ten of the last digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    /// Negative.
    pub negative: bool,
    /// Decimal digits without leading zeros ("" for zero).
    pub digits: String,
    /// The value is `digits × 10^exponent`.
    pub exponent: i32,
}

impl Decimal {
    /// An integer, exactly.
    pub fn from_i64(v: i64) -> Decimal {
        let digits = v.unsigned_abs().to_string();
        Decimal::normal(v < 0, digits, 0)
    }

    /// The shortest decimal that reads back as `v`; `None` for NaN and infinities.
    pub fn from_f64(v: f64) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        // `{:e}` prints the shortest round-trip digits: "-1.2345e-7".
        let text = format!("{v:e}");
        let (mantissa, exp) = text.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        let negative = mantissa.starts_with('-');
        let mantissa = mantissa.trim_start_matches('-');
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int}{frac}");
        Some(Decimal::normal(negative, digits, exp - frac.len() as i32))
    }

    fn normal(negative: bool, digits: String, exponent: i32) -> Decimal {
        let trimmed = digits.trim_start_matches('0');
        let stripped = trimmed.trim_end_matches('0');
        let exponent = exponent + (trimmed.len() - stripped.len()) as i32;
        Decimal {
            negative: negative && !stripped.is_empty(),
            digits: stripped.to_string(),
            exponent: if stripped.is_empty() { 0 } else { exponent },
        }
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
        (self.digits.len() as i32 + self.exponent).max(0) as u32
    }

    /// Appends the binary `numeric` body (without the length word).
    pub fn write_binary(&self, out: &mut Vec<u8>) {
        let scale = self.scale();
        if self.digits.is_empty() {
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes());
            out.extend_from_slice(&(scale as u16).to_be_bytes());
            return;
        }
        // Align to groups of four digits around the decimal point: pad the integer part on
        // the left and the fraction on the right.
        let int_len = self.digits.len() as i32 + self.exponent;
        let mut padded = String::new();
        let int_groups = if int_len > 0 { (int_len + 3) / 4 } else { 0 };
        let left_pad = if int_len > 0 {
            int_groups * 4 - int_len
        } else {
            // Pure fraction: zeros between the point and the first digit.
            (-int_len) % 4
        };
        for _ in 0..left_pad {
            padded.push('0');
        }
        padded.push_str(&self.digits);
        for _ in 0..self.exponent.max(0) {
            padded.push('0');
        }
        while padded.len() % 4 != 0 {
            padded.push('0');
        }
        let weight = if int_len > 0 {
            int_groups - 1
        } else {
            -((-int_len) / 4) - 1
        };
        let groups: Vec<i16> = padded
            .as_bytes()
            .chunks(4)
            .map(|g| g.iter().fold(0i16, |acc, c| acc * 10 + i16::from(c - b'0')))
            .collect();
        let end = groups.iter().rposition(|g| *g != 0).map_or(0, |i| i + 1);
        let start = groups.iter().position(|g| *g != 0).unwrap_or(0);
        let weight = weight - start as i32;
        let groups = &groups[start..end];
        out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
        out.extend_from_slice(&(weight as i16).to_be_bytes());
        out.extend_from_slice(&(if self.negative { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&(scale as u16).to_be_bytes());
        for g in groups {
            out.extend_from_slice(&g.to_be_bytes());
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
        assert_eq!((d.digits.as_str(), d.exponent), ("1", -1));
        let d = Decimal::from_f64(-1234.5).unwrap();
        assert_eq!(
            (d.negative, d.digits.as_str(), d.exponent),
            (true, "12345", -1)
        );
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
