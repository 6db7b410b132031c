//! How Go prints values: `fmt`'s `%v` as text/template uses it (strings raw, integers without
//! `.0`, floats in `%g` style, `[a b]`, `map[k:v]` with sorted keys, null as `<no value>`), Go
//! truthiness, and JSON encoded the way Go's `encoding/json` writes it (compact or indented).

use serde_json::{Number, Value};
use std::fmt::Write;

/// Prints a value as text/template prints the result of an action.
pub(crate) fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        other => {
            let mut s = String::new();
            go_fmt(other, &mut s);
            s
        }
    }
}

/// `%v` formatting; a null nested in a list or map prints as Go's `<nil>`.
pub(crate) fn go_fmt(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_fmt(e, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_fmt(&m[k.as_str()], out);
            }
            out.push(']');
        }
    }
}

/// Go's truthiness: false for null, false, 0, "", and empty lists and maps.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// A short name for the kind of a value, used in error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn go_number(n: &Number) -> String {
    match (n.as_i64(), n.as_u64(), n.as_f64()) {
        (Some(i), _, _) => i.to_string(),
        (_, Some(u), _) => u.to_string(),
        (_, _, Some(f)) => go_float(f),
        _ => n.to_string(),
    }
}

/// Splits a finite float into its sign, shortest round-trip digits and decimal exponent
/// (the value is `0.d1d2... * 10^(exp+1)`, i.e. `d1.d2... * 10^exp`).
fn decompose(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (
        f.is_sign_negative() && f != 0.0,
        digits,
        exp.parse().unwrap_or(0),
    )
}

fn fmt_e(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::from(if neg { "-" } else { "" });
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    s
}

fn fmt_f(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::from(if neg { "-" } else { "" });
    if exp < 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-exp - 1) as usize));
        s.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            s.push_str(digits);
            s.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    s
}

/// Go's `%v` for a float64: the shortest `%g`, which switches to exponent form when the
/// decimal exponent is below -4 or at least 6 (`1e+06`, `1.5e-05`, `123456`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let (neg, digits, exp) = decompose(f);
    if !(-4..6).contains(&exp) {
        fmt_e(neg, &digits, exp)
    } else {
        fmt_f(neg, &digits, exp)
    }
}

/// A float as Go's encoding/json writes it.
fn json_float(f: f64) -> String {
    let abs = f.abs();
    let (neg, digits, exp) = decompose(f);
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = fmt_e(neg, &digits, exp);
        // Go trims "e-07" to "e-7" (but keeps "e+21").
        if let Some(i) = s.find("e-0") {
            s.remove(i + 2);
        }
        s
    } else {
        fmt_f(neg, &digits, exp)
    }
}

/// Serialises a value as JSON the way Go does: compact when `indent` is None, otherwise one
/// element per line indented by `indent` per level (`json.MarshalIndent(v, "", indent)`).
/// HTML characters are not escaped (Podman's `json` template function disables that).
pub fn to_json(v: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    write_json(v, indent, 0, &mut out);
    out
}

fn newline(out: &mut String, indent: Option<&str>, depth: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(ind);
        }
    }
}

fn write_json(v: &Value, indent: Option<&str>, depth: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) => out.push_str(&json_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => json_string(s, out),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write_json(e, indent, depth + 1, out);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                json_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(e, indent, depth + 1, out);
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
}

/// A JSON string literal with Go's escaping (control characters as `\u00XX` except `\n`, `\r`,
/// `\t`; U+2028 and U+2029 escaped).
pub(crate) fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
