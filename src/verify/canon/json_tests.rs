//! Tests of [`super`] (json.rs), kept apart so the module reads as what it does.

use super::write_canonical;

fn canon(text: &str) -> Option<String> {
    let mut out = Vec::new();
    write_canonical(text.as_bytes(), &mut out).then(|| String::from_utf8(out).unwrap())
}

#[test]
fn members_sort_by_key_whitespace_goes_and_the_last_duplicate_wins() {
    assert_eq!(
        canon(" { \"b\" : [ 1 , {\"z\":null,\"a\":true} ], \"a\": false, \"b\": 2 } ").as_deref(),
        Some(r#"{"a":false,"b":2}"#)
    );
    assert_eq!(
        canon(r#"{"é":1,"e":2,"":[]}"#).as_deref(),
        Some(r#"{"":[],"e":2,"é":1}"#)
    );
}

#[test]
fn numbers_become_exact_decimals_whatever_their_spelling() {
    for (a, b) in [
        ("1.0", "1"),
        ("2e2", "200"),
        ("-0", "0"),
        ("-0.0e5", "0"),
        ("1.5E+3", "1500"),
        ("12345678901234567890123", "12345678901234567890123"),
        (
            "0.1000000000000000055511151231257827",
            "0.1000000000000000055511151231257827",
        ),
        ("1e-7", "0.0000001"),
    ] {
        assert_eq!(canon(a).as_deref(), Some(b), "{a}");
    }
    for bad in ["01", "1.", ".5", "-", "1e", "+1", "0x10", "NaN", "Infinity"] {
        assert_eq!(canon(bad), None, "{bad}");
    }
}

#[test]
fn strings_are_unescaped_then_escaped_one_way() {
    assert_eq!(canon(r#""\u0041\/\u00e9""#).as_deref(), Some("\"A/é\""));
    assert_eq!(canon(r#""😀""#), canon(r#""\ud83d\ude00""#));
    assert_eq!(
        canon(r#""tab\there\u0001\"q\"""#).as_deref(),
        Some(r#""tab\there\u0001\"q\"""#)
    );
    for bad in [
        r#""\ud800""#,
        r#""\udc00x""#,
        "\"raw\ttab\"",
        r#""\x""#,
        r#""open"#,
    ] {
        assert_eq!(canon(bad), None, "{bad}");
    }
}

#[test]
fn anything_but_exactly_one_value_is_refused() {
    for bad in [
        "",
        " ",
        "{} {}",
        "[1,]",
        "{\"a\"}",
        "{\"a\":1,}",
        "tru",
        "nul",
        "[",
        "{1:2}",
    ] {
        assert_eq!(canon(bad), None, "{bad:?}");
    }
    let deep = "[".repeat(2000) + &"]".repeat(2000);
    assert_eq!(canon(&deep), None);
    let fine = "[".repeat(500) + &"]".repeat(500);
    assert_eq!(canon(&fine), Some(fine.clone()));
}

#[test]
fn json_compares_as_values() {
    assert_eq!(
        canon(r#"{"b": 1, "a": [1.0, 2e2]}"#),
        canon(r#"{"a":[1.0,200],"b":1}"#)
    );
    assert_ne!(canon(r#"{"a": 1}"#), canon(r#"{"a": "1"}"#));
    assert_eq!(canon(r#"{"a": 1, "a": 2}"#).as_deref(), Some(r#"{"a":2}"#));
}
