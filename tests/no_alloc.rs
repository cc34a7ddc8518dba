//! The copier's conversions allocate nothing per value: every value of every type a
//! framework's schema holds is encoded here under an allocator that counts, into a buffer
//! whose capacity is reserved beforehand, and must not allocate once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lite2pg::copy::encode::{encode, Codec};
use lite2pg::plan::{Conversion, DecimalReading, PgType};
use lite2pg::sqlite::temporal::EpochUnit;
use rusqlite::types::ValueRef;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn every_conversion_encodes_without_allocating() {
    let naive = Conversion::NaiveAt { offset_seconds: 0 };
    let berlin = Conversion::NaiveIn {
        zone: lite2pg::plan::Zone::named("Europe/Berlin").unwrap(),
    };
    let ms = Conversion::Epoch {
        unit: EpochUnit::Millis,
    };
    let cases: Vec<(&str, ValueRef<'static>, PgType, Conversion)> = vec![
        (
            "bigint",
            ValueRef::Integer(-42),
            PgType::BigInt,
            Conversion::AsIs,
        ),
        (
            "integer from real",
            ValueRef::Real(7.0),
            PgType::Integer,
            Conversion::AsIs,
        ),
        (
            "double",
            ValueRef::Real(0.1),
            PgType::Double,
            Conversion::AsIs,
        ),
        ("real", ValueRef::Real(1.5), PgType::Real, Conversion::AsIs),
        (
            "numeric(10,2) from real",
            ValueRef::Real(123.4),
            PgType::Numeric(Some((10, 2))),
            Conversion::AsIs,
        ),
        (
            "numeric(20,8) as Django reads a real",
            ValueRef::Real(12345678901.123457),
            PgType::Numeric(Some((20, 8))),
            Conversion::DecimalAsRead {
                reading: DecimalReading::Django,
            },
        ),
        (
            "numeric(20,8) as SQLAlchemy reads a tiny real",
            ValueRef::Real(1e-300),
            PgType::Numeric(Some((20, 8))),
            Conversion::DecimalAsRead {
                reading: DecimalReading::SqlAlchemy,
            },
        ),
        (
            "numeric from a big real",
            ValueRef::Real(1e300),
            PgType::Numeric(None),
            Conversion::AsIs,
        ),
        (
            "numeric from integer",
            ValueRef::Integer(i64::MIN),
            PgType::Numeric(None),
            Conversion::AsIs,
        ),
        (
            "text",
            ValueRef::Text("naïve ✓".as_bytes()),
            PgType::Text,
            Conversion::AsIs,
        ),
        (
            "text from integer",
            ValueRef::Integer(123),
            PgType::Text,
            Conversion::NumberToText,
        ),
        (
            "text from real",
            ValueRef::Real(0.5),
            PgType::Text,
            Conversion::NumberToText,
        ),
        (
            "varchar",
            ValueRef::Text(b"abc"),
            PgType::Varchar(10),
            Conversion::AsIs,
        ),
        (
            "char",
            ValueRef::Text(b"ab"),
            PgType::Char(3),
            Conversion::AsIs,
        ),
        (
            "boolean text",
            ValueRef::Text(b"True"),
            PgType::Boolean,
            Conversion::ToBoolean,
        ),
        (
            "boolean 0/1",
            ValueRef::Integer(1),
            PgType::Boolean,
            Conversion::IntegerToBoolean,
        ),
        (
            "timestamptz naive",
            ValueRef::Text(b"2024-03-05 12:34:56.123456"),
            PgType::TimestampTz,
            naive,
        ),
        (
            "timestamptz naive in a named zone",
            ValueRef::Text(b"2024-07-01 12:00:00"),
            PgType::TimestampTz,
            berlin,
        ),
        (
            "timestamptz offset",
            ValueRef::Text(b"2024-03-05T12:34:56+02:00"),
            PgType::TimestampTz,
            naive,
        ),
        (
            "timestamptz epoch",
            ValueRef::Integer(1_700_000_000_000),
            PgType::TimestampTz,
            ms,
        ),
        (
            "timestamp epoch",
            ValueRef::Integer(1_700_000_000_000),
            PgType::Timestamp,
            ms,
        ),
        (
            "date",
            ValueRef::Text(b"2024-03-05"),
            PgType::Date,
            Conversion::TextToTemporal,
        ),
        (
            "time",
            ValueRef::Text(b"09:30:00.5"),
            PgType::Time,
            Conversion::TextToTemporal,
        ),
        (
            "julian",
            ValueRef::Real(2_460_000.5),
            PgType::TimestampTz,
            Conversion::JulianDay,
        ),
        (
            "uuid 32",
            ValueRef::Text(b"6f1c2b1e0a7d4c3e9b8a7f6e5d4c3b2a"),
            PgType::Uuid,
            Conversion::ToUuid,
        ),
        (
            "uuid 36",
            ValueRef::Text(b"6f1c2b1e-0a7d-4c3e-9b8a-7f6e5d4c3b2a"),
            PgType::Uuid,
            Conversion::ToUuid,
        ),
        (
            "uuid blob",
            ValueRef::Blob(&[7; 16]),
            PgType::Uuid,
            Conversion::ToUuid,
        ),
        (
            "jsonb",
            ValueRef::Text(br#"{"a": [1, 2.5, "x\n\u00e9"], "b": null}"#),
            PgType::Jsonb,
            Conversion::ToJson,
        ),
        (
            "json",
            ValueRef::Text(br#"[true, {"k": "v"}]"#),
            PgType::Json,
            Conversion::ToJson,
        ),
        (
            "interval micros",
            ValueRef::Integer(93_600_000_007),
            PgType::Interval,
            Conversion::ToInterval,
        ),
        (
            "interval date-time",
            ValueRef::Text(b"1970-01-02 01:00:00.5"),
            PgType::Interval,
            Conversion::ToInterval,
        ),
        (
            "interval ISO",
            ValueRef::Text(b"P1W2DT3H4M5.25S"),
            PgType::Interval,
            Conversion::ToInterval,
        ),
        (
            "enum",
            ValueRef::Text(b"happy"),
            PgType::Enum,
            Conversion::AsIs,
        ),
        (
            "inet",
            ValueRef::Text(b"2001:db8::1"),
            PgType::Inet,
            Conversion::AsIs,
        ),
        (
            "cidr",
            ValueRef::Text(b"10.0.0.0/8"),
            PgType::Cidr,
            Conversion::AsIs,
        ),
        (
            "bytea",
            ValueRef::Blob(b"\x00\xff"),
            PgType::Bytea,
            Conversion::AsIs,
        ),
    ];
    let mut out = Vec::with_capacity(1 << 16);
    let mut allocating = Vec::new();
    for (name, v, ty, conversion) in cases {
        out.clear();
        ALLOCATIONS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        let r = encode(v, Codec { ty, conversion }, &mut out);
        COUNTING.store(false, Ordering::SeqCst);
        assert!(r.is_ok(), "{name}: {r:?}");
        let n = ALLOCATIONS.load(Ordering::SeqCst);
        if n > 0 {
            allocating.push(format!("{name} ({n})"));
        }
    }
    assert!(
        allocating.is_empty(),
        "these conversions allocate per value: {allocating:?}"
    );
}
