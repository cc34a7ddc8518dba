//! Reading one side of a table into range digests, and into rows for the ranges that differ.
//!
//! A range is a slice of the key-hash space: a row belongs to range `i` by the top bits of
//! a 64-bit hash of its canonical key (of its whole canonical row when the table has no
//! key). Both engines put a row in the same range whatever their collations or physical
//! order, so each side is read in its cheapest order — SQLite by rowid, PostgreSQL by a
//! sequential scan in block ranges — and in parallel parts. A range's digest is the sum
//! (mod 2^256) of the sha256 of its rows' canonical bytes: order-independent, and
//! duplicate rows count.

use std::collections::{HashMap, HashSet};

use super::copy_stream::CopyParser;
use futures_util::StreamExt;
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};

use super::canon::{self, Col};
use crate::error::{Error, Result};
use crate::pg::{quote_ident, Client};

/// One compared column.
#[derive(Debug, Clone)]
pub struct ColSpec {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name.
    pub target: String,
    /// How values compare.
    pub col: Col,
    /// Read as `::text` from PostgreSQL (a type this module has no binary reader for).
    pub as_text: bool,
}

/// What is compared of one table.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// SQLite name.
    pub source: String,
    /// PostgreSQL name.
    pub target: String,
    /// Quoted `schema.table`.
    pub qualified: String,
    /// Compared columns.
    pub columns: Vec<ColSpec>,
    /// Positions in `columns` of the key; empty: compared as a multiset of rows.
    pub key: Vec<usize>,
    /// For a multiset table: PostgreSQL's column holding the SQLite rowid, named in reports.
    pub rowid_column: Option<String>,
    /// The SQLite table has a rowid (range-split by it).
    pub has_rowid: bool,
    /// For a single integer key: ranges by key value instead of key hash, so the rows of a
    /// differing range can be read again by an index range scan on both sides.
    pub int_key: Option<IntRanges>,
    /// For a single integer key: read only the rows with these keys, on both sides.
    pub only: Option<std::sync::Arc<Vec<i64>>>,
}

/// ` WHERE`/` AND` `column IN (…)` for [`TableSpec::only`]: integers formatted here, nothing
/// from the data reaches the SQL as text.
fn only_condition(sql: &mut String, column: &str, keys: &[i64]) {
    sql.push_str(if sql.contains(" WHERE ") {
        " AND "
    } else {
        " WHERE "
    });
    if keys.is_empty() {
        sql.push_str("FALSE");
        return;
    }
    let list = keys
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    sql.push_str(&format!("{column} IN ({list})"));
}

/// Ranges by value of a single integer key: range `i` holds keys in
/// `[min + i·width, min + (i+1)·width)`, the first and last open-ended (a target row
/// outside the source's keys still has a range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRanges {
    /// Smallest key in SQLite.
    pub min: i64,
    /// Keys per range.
    pub width: i64,
    /// log2 of the number of ranges.
    pub bits: u32,
}

impl IntRanges {
    /// Ranges covering `[min, max]` in `2^bits` steps.
    pub fn new(min: i64, max: i64, bits: u32) -> IntRanges {
        let span = i128::from(max) - i128::from(min) + 1;
        let n = 1i128 << bits;
        let width = ((span + n - 1) / n).clamp(1, i128::from(i64::MAX)) as i64;
        IntRanges { min, width, bits }
    }

    /// The range of a key given as canonical bytes (a non-integer key goes to range 0).
    fn range(&self, key: &[u8]) -> usize {
        let Some(k) = canon::int_value(key) else {
            return 0;
        };
        let i = (i128::from(k) - i128::from(self.min)).div_euclid(i128::from(self.width));
        i.clamp(0, (1i128 << self.bits) - 1) as usize
    }

    /// The keys of ranges `first..=last`, inclusive at both ends.
    pub fn keys(&self, first: usize, last: usize) -> (i64, i64) {
        let n = 1usize << self.bits;
        // Keys near the ends of i64 must not wrap: the bounds saturate.
        let at = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let lo = if first == 0 {
            i64::MIN
        } else {
            at(i128::from(self.min) + first as i128 * i128::from(self.width))
        };
        let hi = if last + 1 >= n {
            i64::MAX
        } else {
            at(i128::from(self.min) + (last as i128 + 1) * i128::from(self.width) - 1)
        };
        (lo, hi)
    }
}

/// Which part of a table one reader takes.
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// The whole table.
    All,
    /// SQLite rows with rowid in `(lo, hi]` (`None`: unbounded).
    Rowid(Option<i64>, Option<i64>),
    /// PostgreSQL heap blocks `[lo, hi)` (`None`: unbounded).
    Blocks(Option<u32>, Option<u32>),
    /// Rows whose single integer key is in `[lo, hi]`, on either side.
    Keys(i64, i64),
}

/// Per-range row counts and digest sums of one side.
#[derive(Debug, Clone)]
pub struct Digests {
    /// log2 of the number of ranges.
    pub bits: u32,
    /// Rows per range.
    pub counts: Vec<u64>,
    /// Sum of row digests per range, as four 64-bit limbs (least significant first).
    pub sums: Vec<[u64; 4]>,
}

impl Digests {
    /// Empty digests over `2^bits` ranges.
    pub fn new(bits: u32) -> Digests {
        let n = 1usize << bits;
        Digests {
            bits,
            counts: vec![0; n],
            sums: vec![[0; 4]; n],
        }
    }

    fn add(&mut self, range: usize, digest: &[u8]) {
        self.counts[range] += 1;
        add_limbs(&mut self.sums[range], &limbs(digest));
    }

    /// Adds another part's digests of the same table.
    pub fn merge(&mut self, o: &Digests) {
        for i in 0..self.counts.len() {
            self.counts[i] += o.counts[i];
            let s = o.sums[i];
            add_limbs(&mut self.sums[i], &s);
        }
    }

    /// All rows seen.
    pub fn rows(&self) -> u64 {
        self.counts.iter().sum()
    }
}

fn limbs(d: &[u8]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(&d[24 - 8 * i..32 - 8 * i]);
        *limb = u64::from_be_bytes(a);
    }
    out
}

fn add_limbs(acc: &mut [u64; 4], x: &[u64; 4]) {
    let mut carry = 0u64;
    for i in 0..4 {
        let (s1, c1) = acc[i].overflowing_add(x[i]);
        let (s2, c2) = s1.overflowing_add(carry);
        acc[i] = s2;
        carry = u64::from(c1) + u64::from(c2);
    }
}

/// A 64-bit hash spreading keys over ranges (FNV-1a, then a finalising mix). Only the
/// spread matters here; integrity comes from the sha256 of the rows.
pub fn spread(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The range of a 64-bit hash among `2^bits`.
pub fn range_of(hash: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (hash >> (64 - bits)) as usize
    }
}

/// A row as read in the row-level pass.
#[derive(Debug, Clone)]
pub struct Row {
    /// The canonical bytes of the whole row.
    pub canon: Vec<u8>,
    /// The key as column → value (the rowid column for a multiset table).
    pub key: serde_json::Value,
}

/// Rows of the ranges being compared row by row, keyed by canonical key (keyed tables) or
/// by row digest (multiset tables, several rows per entry).
pub type Rows = HashMap<Vec<u8>, Vec<Row>>;

/// What one reader does with each row.
pub enum Sink<'a> {
    /// Pass 1: accumulate range digests.
    Digest(&'a mut Digests),
    /// Pass 2: keep the rows of these ranges.
    Collect {
        /// Ranges wanted, among `2^bits`.
        ranges: &'a HashSet<usize>,
        /// log2 of the number of ranges.
        bits: u32,
        /// Where rows go.
        rows: &'a mut Rows,
    },
}

/// Rows kept only when their key hash falls under this (the `--sample` fraction).
#[derive(Debug, Clone, Copy)]
pub struct Sample(pub u64);

impl Sample {
    /// Keeps a `fraction` of rows (1.0: all).
    pub fn of(fraction: f64) -> Sample {
        if fraction >= 1.0 {
            Sample(u64::MAX)
        } else {
            Sample((fraction.max(0.0) * u64::MAX as f64) as u64)
        }
    }
}

struct RowWork<'a> {
    spec: &'a TableSpec,
    sample: Sample,
    key_buf: Vec<u8>,
}

impl RowWork<'_> {
    /// Routes one canonical row (with its field ends) to the sink.
    fn take(
        &mut self,
        canon: &[u8],
        ends: &[usize],
        key: impl FnOnce() -> serde_json::Value,
        sink: &mut Sink<'_>,
    ) {
        let keyed = !self.spec.key.is_empty();
        // A keyed row is placed (and sampled) by its key: its sha256 is needed only for a
        // digest, not for the rows of pass 2 or the rows a sample leaves out.
        let mut digest: Option<[u8; 32]> = None;
        let hash = if keyed {
            self.key_buf.clear();
            for &k in &self.spec.key {
                let start = if k == 0 { 0 } else { ends[k - 1] };
                self.key_buf.extend_from_slice(&canon[start..ends[k]]);
            }
            spread(&self.key_buf)
        } else {
            let d: [u8; 32] = Sha256::digest(canon).into();
            digest = Some(d);
            u64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]))
        };
        if hash > self.sample.0 {
            return;
        }
        let range = |bits: u32| match (&self.spec.int_key, keyed) {
            (Some(ir), true) => ir.range(&self.key_buf),
            _ => range_of(hash, bits),
        };
        match sink {
            Sink::Digest(d) => {
                let r = range(d.bits);
                let row: [u8; 32] = digest.unwrap_or_else(|| Sha256::digest(canon).into());
                d.add(r, &row);
            }
            Sink::Collect { ranges, bits, rows } => {
                if !ranges.contains(&range(*bits)) {
                    return;
                }
                let id = match digest {
                    Some(d) => d.to_vec(),
                    None => self.key_buf.clone(),
                };
                rows.entry(id).or_default().push(Row {
                    canon: canon.to_vec(),
                    key: key(),
                });
            }
        }
    }
}

/// One table's SQLite side digested from rows another reader reads (the copier's, when the
/// verification is fused with the copy): the same canonical rows, ranges and sums as
/// [`sqlite_part`] gives, every row counted.
#[derive(Debug, Clone)]
pub struct FedTable {
    /// What is compared (as the catalog had it when the copy began).
    pub spec: TableSpec,
    /// The digests so far.
    pub digests: Digests,
    /// Position of each compared column in the reader's row.
    positions: Vec<usize>,
    /// A value could not be read: the table is read again by the verification.
    pub spoiled: bool,
    canon: Vec<u8>,
    ends: Vec<usize>,
    key_buf: Vec<u8>,
}

impl FedTable {
    /// Digests over `2^bits` ranges of rows whose compared columns sit at `positions`.
    pub fn new(spec: TableSpec, bits: u32, positions: Vec<usize>) -> FedTable {
        FedTable {
            spec,
            digests: Digests::new(bits),
            positions,
            spoiled: false,
            canon: Vec::with_capacity(256),
            ends: Vec::new(),
            key_buf: Vec::new(),
        }
    }

    /// The same table for the reader's side of a fused copy: what it needs to put rows in
    /// canonical form, without digests of its own.
    pub fn reading(&self) -> FedTable {
        FedTable::new(self.spec.clone(), 0, self.positions.clone())
    }

    /// Adds one row read by the reader.
    pub fn row(&mut self, row: &rusqlite::Row<'_>) {
        let (mut canon, mut ends) = (
            std::mem::take(&mut self.canon),
            std::mem::take(&mut self.ends),
        );
        canon.clear();
        ends.clear();
        if self.canonical(row, &mut canon, &mut ends) {
            self.add(&canon, &ends);
        } else {
            self.spoiled = true;
        }
        (self.canon, self.ends) = (canon, ends);
    }

    /// Appends the canonical form of a row read by the reader to `canon`, with the end of
    /// each field, counted from where the row starts, to `ends`; false when a value could
    /// not be read.
    pub fn canonical(
        &self,
        row: &rusqlite::Row<'_>,
        canon: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> bool {
        let start = canon.len();
        for (c, &pos) in self.spec.columns.iter().zip(&self.positions) {
            match row.get_ref(pos) {
                Ok(v) => canon::sqlite(v, c.col, canon),
                Err(_) => return false,
            }
            ends.push(canon.len() - start);
        }
        true
    }

    /// Adds one canonical row (`ends` as [`FedTable::canonical`] gives them).
    pub fn add(&mut self, canon: &[u8], ends: &[usize]) {
        if self.spoiled {
            return;
        }
        let mut work = RowWork {
            spec: &self.spec,
            sample: Sample(u64::MAX),
            key_buf: std::mem::take(&mut self.key_buf),
        };
        work.take(
            canon,
            ends,
            || serde_json::Value::Null,
            &mut Sink::Digest(&mut self.digests),
        );
        self.key_buf = work.key_buf;
    }
}

/// Reads one part of a table from SQLite into the sink.
pub fn sqlite_part(
    conn: &rusqlite::Connection,
    spec: &TableSpec,
    part: Part,
    sample: Sample,
    sink: &mut Sink<'_>,
) -> rusqlite::Result<()> {
    let mut select: Vec<String> = spec
        .columns
        .iter()
        .map(|c| quote_ident(&c.source))
        .collect();
    let multiset = spec.key.is_empty();
    if multiset && spec.has_rowid {
        select.push("_rowid_".into());
    }
    if select.is_empty() {
        select.push("NULL".into());
    }
    let mut sql = format!(
        "SELECT {} FROM {}",
        select.join(", "),
        quote_ident(&spec.source)
    );
    let mut params = Vec::new();
    if let (Part::Keys(lo, hi), Some(&k)) = (part, spec.key.first()) {
        params.push(lo);
        params.push(hi);
        sql.push_str(&format!(
            " WHERE {c} >= ?1 AND {c} <= ?2",
            c = quote_ident(&spec.columns[k].source)
        ));
    }
    if let Part::Rowid(lo, hi) = part {
        crate::sqlite::rowid_range(&mut sql, &mut params, lo, hi);
    }
    if let (Some(keys), Some(&k)) = (&spec.only, spec.key.first()) {
        only_condition(&mut sql, &quote_ident(&spec.columns[k].source), keys);
    }
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut work = RowWork {
        spec,
        sample,
        key_buf: Vec::new(),
    };
    let mut canon = Vec::with_capacity(256);
    let mut ends = Vec::with_capacity(spec.columns.len());
    let n = spec.columns.len();
    while let Some(row) = rows.next()? {
        canon.clear();
        ends.clear();
        for (i, c) in spec.columns.iter().enumerate() {
            canon::sqlite(row.get_ref(i)?, c.col, &mut canon);
            ends.push(canon.len());
        }
        let key = || -> serde_json::Value {
            if multiset {
                match row.get_ref(n) {
                    Ok(ValueRef::Integer(r)) => serde_json::json!({ "rowid": r }),
                    _ => serde_json::Value::Null,
                }
            } else {
                key_object(spec, &canon, &ends, |c| c.target.clone())
            }
        };
        work.take(&canon, &ends, key, sink);
    }
    Ok(())
}

fn key_object(
    spec: &TableSpec,
    canon: &[u8],
    ends: &[usize],
    name: impl Fn(&ColSpec) -> String,
) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for &k in &spec.key {
        let start = if k == 0 { 0 } else { ends[k - 1] };
        map.insert(
            name(&spec.columns[k]),
            canon::display(&canon[start..ends[k]]),
        );
    }
    serde_json::Value::Object(map)
}

/// Reads one part of a table from PostgreSQL (binary `COPY … TO STDOUT`) into the sink.
pub fn postgres_part(
    client: &mut Client,
    spec: &TableSpec,
    part: Part,
    sample: Sample,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let multiset = spec.key.is_empty();
    let mut select: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            if c.as_text {
                format!("{}::text", quote_ident(&c.target))
            } else {
                quote_ident(&c.target)
            }
        })
        .collect();
    let rowid = spec.rowid_column.as_ref().filter(|_| multiset);
    if let Some(r) = rowid {
        select.push(quote_ident(r));
    }
    if select.is_empty() {
        select.push("NULL".into());
    }
    let mut sql = format!("SELECT {} FROM {}", select.join(", "), spec.qualified);
    if let (Part::Keys(lo, hi), Some(&k)) = (part, spec.key.first()) {
        // Integers formatted by Rust: nothing from the data reaches the SQL text.
        sql.push_str(&format!(
            " WHERE {c} >= {lo} AND {c} <= {hi}",
            c = quote_ident(&spec.columns[k].target)
        ));
    }
    if let Part::Blocks(lo, hi) = part {
        let mut conds = Vec::new();
        if let Some(lo) = lo {
            conds.push(format!("ctid >= '({lo},0)'::tid"));
        }
        if let Some(hi) = hi {
            conds.push(format!("ctid < '({hi},0)'::tid"));
        }
        if !conds.is_empty() {
            sql.push_str(&format!(" WHERE {}", conds.join(" AND ")));
        }
    }
    if let (Some(keys), Some(&k)) = (&spec.only, spec.key.first()) {
        only_condition(&mut sql, &quote_ident(&spec.columns[k].target), keys);
    }
    let copy = format!("COPY ({sql}) TO STDOUT (FORMAT binary)");
    let context = format!("reading {} for verification", spec.qualified);
    let target = client.target().to_string();
    let n = spec.columns.len();
    let mut work = RowWork {
        spec,
        sample,
        key_buf: Vec::new(),
    };
    let mut parser = CopyParser::default();
    let mut canon = Vec::with_capacity(256);
    let mut ends = Vec::with_capacity(n);
    let outcome: std::result::Result<(), Error> = client.with(|c| async {
        let stream = c
            .copy_out(copy.as_str())
            .await
            .map_err(|e| crate::pg::classify(&target, &context, &e))?;
        futures_util::pin_mut!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| crate::pg::classify(&target, &context, &e))?;
            parser.feed(&chunk, |fields| {
                canon.clear();
                ends.clear();
                for (i, c) in spec.columns.iter().enumerate() {
                    canon::postgres(fields.get(i).copied().flatten(), c.col, &mut canon);
                    ends.push(canon.len());
                }
                let key = || -> serde_json::Value {
                    if multiset {
                        match fields.get(n).copied().flatten() {
                            Some(b) if b.len() == 8 => {
                                let mut a = [0u8; 8];
                                a.copy_from_slice(b);
                                serde_json::json!({ rowid.map(String::as_str).unwrap_or("rowid"): i64::from_be_bytes(a) })
                            }
                            _ => serde_json::Value::Null,
                        }
                    } else {
                        key_object(spec, &canon, &ends, |c| c.target.clone())
                    }
                };
                work.take(&canon, &ends, key, sink);
            })
            .map_err(|message| Error::Postgres {
                context: context.clone(),
                message,
                sqlstate: Some("XX000".into()),
            })?;
        }
        Ok(())
    });
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_key_ranges_cover_every_key_and_read_back_as_intervals() {
        let ir = IntRanges::new(1, 1000, 3);
        let key = |k: i64| {
            let mut b = Vec::new();
            canon::sqlite(
                ValueRef::Integer(k),
                canon::Col {
                    kind: canon::Kind::Int,
                    epoch: None,
                    naive_zone: None,
                    decimal: None,
                    clean_text: false,
                },
                &mut b,
            );
            b
        };
        assert_eq!(ir.width, 125);
        assert_eq!(ir.range(&key(1)), 0);
        assert_eq!(ir.range(&key(125)), 0);
        assert_eq!(ir.range(&key(126)), 1);
        assert_eq!(ir.range(&key(1000)), 7);
        assert_eq!(
            ir.range(&key(-5)),
            0,
            "below the source's keys: first range"
        );
        assert_eq!(ir.range(&key(99_999)), 7, "above: last range");
        assert_eq!(ir.keys(1, 2), (126, 375));
        assert_eq!(ir.keys(0, 0), (i64::MIN, 125));
        assert_eq!(ir.keys(7, 7), (876, i64::MAX));
        let top = IntRanges::new(i64::MAX - 10, i64::MAX, 4);
        for r in 1..16 {
            let (lo, hi) = top.keys(r, r);
            assert!(
                lo >= i64::MAX - 10 && hi >= lo,
                "range {r}: {lo}..{hi} wrapped"
            );
        }
        let wide = IntRanges::new(i64::MIN, i64::MAX, 16);
        assert_eq!(wide.range(&key(i64::MAX)), (1 << 16) - 1);
        assert_eq!(wide.range(&key(i64::MIN)), 0);
    }

    #[test]
    fn range_digests_do_not_depend_on_row_order_and_count_duplicates() {
        let rows: Vec<[u8; 32]> = (0..50u8).map(|i| Sha256::digest([i]).into()).collect();
        let mut a = Digests::new(2);
        let mut b = Digests::new(2);
        for (i, r) in rows.iter().enumerate() {
            a.add(i % 4, r);
        }
        for (i, r) in rows.iter().enumerate().rev() {
            b.add(i % 4, r);
        }
        assert_eq!(a.sums, b.sums);
        b.add(1, &rows[1]);
        assert_ne!(a.sums[1], b.sums[1]);
        let mut c = Digests::new(2);
        c.merge(&a);
        assert_eq!(c.sums, a.sums);
    }
}
