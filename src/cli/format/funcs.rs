//! The template functions: Go's builtins (`len`, `index`, `eq`..`ge`, `not`, `print`,
//! `printf`, `println`; `and`/`or` live in the evaluator because they short-circuit) and
//! Podman's extras (`join`, `json`, `lower`, `upper`, `title`, `truncate`, `pad`, `split`).

use super::value::{go_fmt, json_string, kind, to_json, truthy};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt::Write;

/// Every function a template may call, sorted (shown in the "not defined" error).
pub(crate) const FUNCTIONS: &[&str] = &[
    "and", "eq", "ge", "gt", "index", "join", "json", "le", "len", "lower", "lt", "ne", "not",
    "or", "pad", "print", "printf", "println", "split", "title", "truncate", "upper",
];

pub(crate) fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

fn arity(name: &str, args: &[Value], want: usize) -> Result<(), String> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        ))
    }
}

fn string_arg<'v>(name: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str()
        .ok_or_else(|| format!("{name} expects a string, got {} {}", kind(v), show(v)))
}

fn int_arg(name: &str, v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{name} expects an integer, got {} {}", kind(v), show(v)))
}

fn show(v: &Value) -> String {
    let mut s = String::new();
    go_fmt(v, &mut s);
    s
}

/// Calls a function (other than `and`/`or`) on evaluated arguments.
pub(crate) fn call(name: &str, args: Vec<Value>) -> Result<Value, String> {
    let s = |x: String| Ok(Value::String(x));
    match name {
        "len" => {
            arity(name, &args, 1)?;
            let n = match &args[0] {
                Value::String(x) => x.len(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => return Err(format!("len of type {}", kind(other))),
            };
            Ok(Value::from(n as u64))
        }
        "index" => index(args),
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison: eq needs at least 2".into());
            }
            for b in &args[1..] {
                if compare(&args[0], b)? == Some(Ordering::Equal) {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let ord = compare(&args[0], &args[1])?;
            if name != "ne" && (ord.is_none() || args[0].is_boolean()) {
                return Err(format!(
                    "invalid type for comparison: {name} cannot order {} values",
                    kind(&args[0])
                ));
            }
            Ok(Value::Bool(match name {
                "ne" => ord != Some(Ordering::Equal),
                "lt" => ord == Some(Ordering::Less),
                "le" => ord != Some(Ordering::Greater),
                "gt" => ord == Some(Ordering::Greater),
                _ => ord != Some(Ordering::Less),
            }))
        }
        "not" => {
            arity(name, &args, 1)?;
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "print" => s(sprint(&args)),
        "println" => {
            let parts: Vec<String> = args.iter().map(show).collect();
            s(parts.join(" ") + "\n")
        }
        "printf" => {
            let Some((f, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            s(printf(string_arg(name, f)?, rest))
        }
        "join" => {
            arity(name, &args, 2)?;
            let sep = string_arg(name, &args[1])?;
            match &args[0] {
                Value::Array(a) => s(a.iter().map(show).collect::<Vec<_>>().join(sep)),
                Value::String(x) => s(x.clone()),
                Value::Null => s(String::new()),
                other => Err(format!("join expects a list, got {}", kind(other))),
            }
        }
        "json" => {
            arity(name, &args, 1)?;
            s(to_json(&args[0], None))
        }
        "lower" | "upper" | "title" => {
            arity(name, &args, 1)?;
            let x = string_arg(name, &args[0])?;
            s(match name {
                "lower" => x.to_lowercase(),
                "upper" => x.to_uppercase(),
                _ => title(x),
            })
        }
        "truncate" => {
            arity(name, &args, 2)?;
            let x = string_arg(name, &args[0])?;
            let n = int_arg(name, &args[1])?.max(0) as usize;
            s(x.chars().take(n).collect())
        }
        "pad" => {
            arity(name, &args, 3)?;
            let x = string_arg(name, &args[0])?;
            let pre = int_arg(name, &args[1])?.max(0) as usize;
            let post = int_arg(name, &args[2])?.max(0) as usize;
            s(format!("{}{x}{}", " ".repeat(pre), " ".repeat(post)))
        }
        "split" => {
            arity(name, &args, 2)?;
            let x = string_arg(name, &args[0])?;
            let sep = string_arg(name, &args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                x.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                x.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Value::Array(parts))
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn index(args: Vec<Value>) -> Result<Value, String> {
    let mut it = args.into_iter();
    let Some(mut cur) = it.next() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    for key in it {
        cur = match (&cur, &key) {
            (Value::Array(a), k) if k.is_i64() || k.is_u64() => {
                let i = k.as_i64().unwrap_or(-1);
                if i < 0 || i as usize >= a.len() {
                    return Err(format!("error calling index: index out of range: {i}"));
                }
                a[i as usize].clone()
            }
            (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
            (Value::Null, _) => return Err("error calling index: index of untyped nil".into()),
            (c, k) => {
                return Err(format!(
                    "error calling index: cannot index {} with {}",
                    kind(c),
                    kind(k)
                ))
            }
        };
    }
    Ok(cur)
}

/// Compares two basic values: `Some(ordering)`, `None` when they differ but have no order
/// (bools, nil), an error when they are of incompatible or non-comparable types.
fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, String> {
    match (a, b) {
        (Value::Null, Value::Null) => Ok(Some(Ordering::Equal)),
        (Value::Null, _) | (_, Value::Null) => Ok(None),
        (Value::Bool(x), Value::Bool(y)) => Ok((x == y).then_some(Ordering::Equal)),
        (Value::String(x), Value::String(y)) => Ok(Some(x.cmp(y))),
        (Value::Number(x), Value::Number(y)) => Ok(match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => Some(i.cmp(&j)),
                _ => x
                    .as_f64()
                    .zip(y.as_f64())
                    .and_then(|(i, j)| i.partial_cmp(&j)),
            },
        }),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            Err(format!("non-comparable types {} and {}", kind(a), kind(b)))
        }
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            kind(a),
            kind(b)
        )),
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_');
    }
    out
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        go_fmt(a, &mut out);
    }
    out
}

/// A subset of Go's `fmt.Sprintf`: flags `-` and `0`, width, precision, and the verbs
/// `v s d q t f x X %`.
fn printf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(d) = chars.next_if(|d| d.is_ascii_digit()) {
            width.push(d);
        }
        let mut prec: Option<usize> = None;
        if chars.next_if_eq(&'.').is_some() {
            let mut p = String::new();
            while let Some(d) = chars.next_if(|d| d.is_ascii_digit()) {
                p.push(d);
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let text = match (verb, arg) {
            ('q', Value::String(s)) => {
                let mut q = String::new();
                json_string(s, &mut q);
                q
            }
            ('f' | 'F', Value::Number(n)) => {
                format!("{:.*}", prec.unwrap_or(6), n.as_f64().unwrap_or(0.0))
            }
            ('x', Value::Number(n)) if n.is_i64() => format!("{:x}", n.as_i64().unwrap_or(0)),
            ('X', Value::Number(n)) if n.is_i64() => format!("{:X}", n.as_i64().unwrap_or(0)),
            ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('s' | 'v', Value::String(s)) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('v' | 's' | 'd' | 't' | 'q' | 'f' | 'x' | 'X', a) => show(a),
            (other, a) => format!("%!{other}({}={})", kind(a), show(a)),
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len >= w {
            out.push_str(&text);
        } else if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(w - len));
        } else if zero && arg.is_number() {
            let (sign, digits) = match text.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("", text.as_str()),
            };
            let _ = write!(out, "{sign}{}{digits}", "0".repeat(w - len));
        } else {
            out.push_str(&" ".repeat(w - len));
            out.push_str(&text);
        }
    }
    out
}
