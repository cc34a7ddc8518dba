//! The decimal a framework reads from a number SQLite holds in a decimal column, worked out
//! on decimal text: the copier's `copy/numeric.rs` rounds digit arrays of its own, and this
//! road shares none of it (DESIGN.md rule 6).

use rusqlite::types::ValueRef;

use crate::plan::DecimalReading;

/// A decimal as its digits and where the point falls in them (`point` digits before it,
/// negative: zeros between the point and the digits).
struct Digits {
    negative: bool,
    digits: Vec<u8>,
    point: i64,
}

impl Digits {
    fn integer(i: i64) -> Digits {
        let digits = i.unsigned_abs().to_string().into_bytes();
        Digits {
            negative: i < 0,
            point: digits.len() as i64,
            digits,
        }
    }

    /// The double's value correctly rounded to `n` significant digits (60 hold every
    /// digit a framework's rounding looks at).
    fn double_to(f: f64, n: usize) -> Option<Digits> {
        if !f.is_finite() || n == 0 {
            return None;
        }
        let text = format!("{:.*e}", n - 1, f.abs());
        let (mantissa, exp) = text.split_once('e')?;
        let exp: i64 = exp.parse().ok()?;
        let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        Some(Digits {
            negative: f < 0.0,
            digits,
            point: exp + 1,
        })
    }

    /// The double's exact value kept to the first `at` digits (`at` reads the position off
    /// the digits), the rest rounded away. Written to two digits past that position the
    /// double decides the rounding, unless those read `50`: only then are its 60 digits
    /// written out. `None` past what 60 digits decide.
    fn double_kept(f: f64, at: impl Fn(&Digits) -> i64, away_from_zero: bool) -> Option<Digits> {
        if f == 0.0 {
            return Some(Digits::integer(0));
        }
        let rough = Digits::double_to(f, 17)?;
        let n = at(&rough) + 2;
        if (1..=50).contains(&n) {
            let near = Digits::double_to(f, n as usize)?;
            let k = at(&near);
            let tied = usize::try_from(k).ok().is_some_and(|k| {
                near.digits.get(k) == Some(&b'5') && near.digits[k + 1..].iter().all(|d| *d == b'0')
            });
            if k < n && !tied {
                return Some(near.keep(k, away_from_zero));
            }
        }
        let exact = Digits::double_to(f, 60)?;
        let k = at(&exact);
        (k <= 50).then(|| exact.keep(k, away_from_zero))
    }

    /// Zeros before the first significant digit (all of them for zero).
    fn leading_zeros(&self) -> i64 {
        self.digits.iter().take_while(|d| **d == b'0').count() as i64
    }

    /// Keeps the first `n` digits, rounding the rest away; a tie goes to the even digit,
    /// or away from zero.
    fn keep(mut self, n: i64, away_from_zero: bool) -> Digits {
        let len = self.digits.len() as i64;
        if n >= len {
            return self;
        }
        if n < 0 {
            return Digits {
                negative: false,
                digits: Vec::new(),
                point: 0,
            };
        }
        let n = n as usize;
        let first_gone = self.digits[n];
        let rest_gone = self.digits[n + 1..].iter().any(|d| *d != b'0');
        let last_kept_odd = n > 0 && (self.digits[n - 1] - b'0') % 2 == 1;
        let up = match first_gone.cmp(&b'5') {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => rest_gone || away_from_zero || last_kept_odd,
        };
        self.digits.truncate(n);
        if up {
            let mut carry = true;
            for d in self.digits.iter_mut().rev() {
                if *d == b'9' {
                    *d = b'0';
                } else {
                    *d += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                self.digits.insert(0, b'1');
                self.point += 1;
            }
        }
        self
    }

    /// Keeps `n` significant digits.
    fn significant(self, n: i64, away_from_zero: bool) -> Digits {
        let leading = self.digits.iter().take_while(|d| **d == b'0').count() as i64;
        self.keep(leading + n, away_from_zero)
    }

    /// Keeps `scale` digits after the point.
    fn scale(self, scale: i64, away_from_zero: bool) -> Digits {
        let n = self.point + scale;
        self.keep(n, away_from_zero)
    }

    /// Plain decimal text, e.g. `-0.0012` (for [`super::normal_decimal`]).
    fn text(&self) -> String {
        if self.digits.is_empty() {
            return "0".into();
        }
        let digits = String::from_utf8_lossy(&self.digits);
        let sign = if self.negative { "-" } else { "" };
        if self.point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-self.point) as usize))
        } else if self.point as usize >= digits.len() {
            format!(
                "{sign}{digits}{}",
                "0".repeat(self.point as usize - digits.len())
            )
        } else {
            let (a, b) = digits.split_at(self.point as usize);
            format!("{sign}{a}.{b}")
        }
    }
}

/// The decimal text `reading`'s framework reads from SQLite's number `v` in a decimal
/// column of `typmod` (precision, scale); `None` when `v` is no number it reads.
pub(super) fn as_read(
    v: ValueRef<'_>,
    reading: DecimalReading,
    typmod: Option<(u32, u32)>,
) -> Option<String> {
    let scale = typmod.map(|(_, s)| i64::from(s));
    let d = match (reading, v) {
        // Django sends integers through the same 15-digit float conversion as doubles.
        (DecimalReading::Django, ValueRef::Integer(i)) => {
            let d = Digits::integer(i).significant(15, false);
            match scale {
                Some(s) => d.scale(s, false),
                None => d,
            }
        }
        (_, ValueRef::Integer(i)) => Digits::integer(i),
        (DecimalReading::Django, ValueRef::Real(f)) => {
            let d = Digits::double_kept(f, |d| d.leading_zeros() + 15, false)?;
            match scale {
                Some(s) => d.scale(s, false),
                None => d,
            }
        }
        (DecimalReading::ActiveRecord, ValueRef::Real(f)) => match typmod {
            Some((p, s)) => {
                let keep = i64::from(p.min(16));
                Digits::double_kept(f, |d| d.leading_zeros() + keep, true)?
                    .scale(i64::from(s), true)
            }
            // `Float#to_d`: the shortest text that reads back as the double.
            None => return Some(format!("{f:?}")),
        },
        (DecimalReading::SqlAlchemy, ValueRef::Real(f)) => {
            let s = scale.unwrap_or(10);
            Digits::double_kept(f, |d| d.point + s, false)?
        }
        _ => return None,
    };
    Some(d.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(f: f64, reading: DecimalReading, p: u32, s: u32) -> String {
        super::super::normal_decimal(&as_read(ValueRef::Real(f), reading, Some((p, s))).unwrap())
            .unwrap()
    }

    #[test]
    fn two_digits_past_the_rounding_decide_it_as_sixty_do() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = if i % 2 == 0 {
                (x % 1_000_000) as f64 / 1000.0
            } else {
                f64::from_bits(x)
            };
            if !f.is_finite() || f == 0.0 {
                continue;
            }
            for keep in [15, 16] {
                let at = |d: &Digits| d.leading_zeros() + keep;
                let fast = Digits::double_kept(f, at, keep == 16).map(|d| d.text());
                let exact = Digits::double_to(f, 60).unwrap();
                let k = at(&exact);
                assert_eq!(fast, Some(exact.keep(k, keep == 16).text()), "{f:e}");
            }
        }
    }

    #[test]
    fn each_framework_s_reading_of_a_double_is_reproduced_from_its_text() {
        use DecimalReading::*;
        assert_eq!(
            read(12345678901.123457, Django, 20, 8),
            read(12345678901.1235, SqlAlchemy, 20, 4)
        );
        assert_eq!(
            as_read(ValueRef::Real(2.675), Django, Some((10, 2))).unwrap(),
            "2.68"
        );
        assert_eq!(
            as_read(ValueRef::Real(2.675), SqlAlchemy, Some((10, 2))).unwrap(),
            "2.67"
        );
        assert_eq!(
            as_read(ValueRef::Real(0.125), ActiveRecord, Some((10, 2))).unwrap(),
            "0.13"
        );
        assert_eq!(
            as_read(ValueRef::Real(-9.995), Django, Some((10, 2))).unwrap(),
            "-10.00"
        );
        assert_eq!(
            as_read(
                ValueRef::Real(12345678901.123457),
                ActiveRecord,
                Some((20, 8))
            )
            .unwrap(),
            "12345678901.12346"
        );
        assert_eq!(
            as_read(
                ValueRef::Real(12345678901.123457),
                SqlAlchemy,
                Some((20, 8))
            )
            .unwrap(),
            "12345678901.12345695"
        );
        assert_eq!(
            as_read(ValueRef::Integer(12345678901234567), Django, Some((30, 2))).unwrap(),
            "12345678901234600"
        );
        assert_eq!(
            as_read(ValueRef::Real(0.0), Django, Some((10, 2))).unwrap(),
            "0"
        );
    }
}
