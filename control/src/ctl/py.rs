//! The few pieces of Python's own behaviour that the AWS CLI's output relies on without saying
//! so: how `str()` and `repr()` print a JSON value once `json.loads` made it a Python object,
//! which characters `str.isspace` counts, and how wide `awscli.table` thinks a string is.

use super::east_asian_width::WIDE;
use serde_json::{Number, Value};

/// `str(x)` of the Python object `json.loads` makes of `v`: strings as they are, `True`,
/// `False`, `None`, integers in decimal, floats as `repr(float)` does, and containers as their
/// `repr` (`[1, 'a']`, `{'k': None}`), which the CLI prints when a scalar column meets a list.
pub(super) fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        _ => repr(v),
    }
}

/// `repr(x)` of the Python object `json.loads` makes of `v`.
pub(super) fn repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => out.push_str(&repr_str(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&repr_str(k));
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON number as Python prints the `int` or `float` that `json.loads` makes of it.
pub(super) fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        float_repr(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// `repr(float)`: the shortest digits that read back as the same double (Rust's `{:e}` gives
/// the same digits), in positional notation when the decimal exponent is in -4..16 and in
/// `d.ddde+XX` notation (at least two exponent digits) otherwise; `.0` on whole numbers.
pub(super) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exp - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.push_str(&"0".repeat(int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
    out
}

/// `repr(str)`: single quotes unless the string has a single quote and no double quote,
/// backslash escapes for the quote, backslash, tab, newline and carriage return, and `\xNN`,
/// `\uNNNN` or `\UNNNNNNNN` for characters Python does not consider printable.
pub(super) fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let cp = c as u32;
                if cp < 0x100 {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable` for one character: false for the control, format, separator (but the
/// space) and private-use characters of Unicode 14. Python also calls unassigned code points
/// unprintable; that set changes with every Unicode version and is not reproduced here.
fn is_printable(c: char) -> bool {
    #[rustfmt::skip]
    const NOT_PRINTABLE: &[(u32, u32)] = &[
        (0x0, 0x1F), (0x7F, 0xA0), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD),
        (0x70F, 0x70F), (0x890, 0x891), (0x8E2, 0x8E2), (0x1680, 0x1680), (0x180E, 0x180E),
        (0x2000, 0x200F), (0x2028, 0x202F), (0x205F, 0x2064), (0x2066, 0x206F), (0x3000, 0x3000),
        (0xE000, 0xF8FF), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
        (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
        (0xE0020, 0xE007F), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD),
    ];
    !in_ranges(NOT_PRINTABLE, c)
}

/// `str.isspace` for one character (Python 3.11): Unicode's White_Space plus the four
/// information separators U+001C..U+001F, which Python counts because of their bidi class.
pub(super) fn is_space(c: char) -> bool {
    matches!(c, '\u{1C}'..='\u{1F}') || c.is_whitespace()
}

/// `awscli.table.get_text_length`: two columns for each East Asian Wide, Fullwidth or
/// Ambiguous character, one for every other (combining and control characters included).
pub(super) fn text_length(s: &str) -> usize {
    s.chars().map(|c| if in_ranges(WIDE, c) { 2 } else { 1 }).sum()
}

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_python_repr_does() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (123456.789, "123456.789"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f:?}");
        }
    }

    #[test]
    fn values_print_as_python_str_does() {
        assert_eq!(str_of(&json!(true)), "True");
        assert_eq!(str_of(&json!(null)), "None");
        assert_eq!(str_of(&json!("it's")), "it's");
        assert_eq!(str_of(&json!(18446744073709551615u64)), "18446744073709551615");
        assert_eq!(str_of(&json!(-3)), "-3");
        assert_eq!(str_of(&json!(["a", 1, 2.5, false, null, {"k": "it's"}])), r#"['a', 1, 2.5, False, None, {'k': "it's"}]"#);
        assert_eq!(repr_str("a'b\"c\\\n\u{7}\u{a0}é\u{e000}"), r#"'a\'b"c\\\n\x07\xa0é\ue000'"#);
        assert_eq!(repr_str("it's"), r#""it's""#);
    }

    #[test]
    fn widths_count_east_asian_wide_and_ambiguous_as_two() {
        assert_eq!(text_length("abc"), 3);
        assert_eq!(text_length("日本"), 4);
        assert_eq!(text_length("é"), 2); // Ambiguous in EastAsianWidth.txt
        assert_eq!(text_length("ｱ"), 1); // halfwidth katakana
        assert_eq!(text_length("\u{301}"), 2); // combining acute: Ambiguous too
    }

    #[test]
    fn whitespace_is_pythons() {
        for c in ['\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1f}', ' ', '\u{85}', '\u{a0}', '\u{2028}', '\u{3000}'] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['\u{0}', '\u{200b}', '\u{feff}', 'a'] {
            assert!(!is_space(c), "{c:?}");
        }
    }
}
