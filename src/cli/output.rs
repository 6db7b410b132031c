//! Printing command results: `--format` templates and `json` through [`super::format`], and
//! the default renderings (YAML-like for `info`, tables for listings).

use std::fmt::Write as _;

use serde_json::Value;

use super::format::{self, OutputFormat};

/// Prints one object (`info`, `version`): `--format` template or json, else `default(value)`.
pub fn print_one(
    format_flag: Option<&str>,
    value: &Value,
    default: impl FnOnce(&Value) -> String,
) -> anyhow::Result<()> {
    let text = match OutputFormat::parse(format_flag)? {
        OutputFormat::Default => default(value),
        OutputFormat::Json => format::to_json_pretty(value),
        OutputFormat::Template(t) if t.is_table() => {
            format::render_list(&t, std::slice::from_ref(value), &|_| None)?
        }
        OutputFormat::Template(t) => with_newline(t.render(value)?),
    };
    print!("{text}");
    Ok(())
}

/// Prints an array of objects (inspect): json by default, or each through the template.
pub fn print_inspect(format_flag: Option<&str>, values: &[Value]) -> anyhow::Result<()> {
    match OutputFormat::parse(format_flag)? {
        OutputFormat::Default | OutputFormat::Json => {
            print!(
                "{}",
                format::to_json_inspect(&Value::Array(values.to_vec()))
            );
        }
        OutputFormat::Template(t) => {
            for v in values {
                print!("{}", with_newline(t.render(v)?));
            }
        }
    }
    Ok(())
}

/// A listing (`ps`, `images`, `volume ls`): rows as objects, a default table template, and the
/// header names of its fields.
pub struct Listing<'a> {
    pub rows: Vec<Value>,
    pub default_table: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
}

/// Prints a listing according to `--format` (default: the listing's own table).
pub fn print_list(format_flag: Option<&str>, listing: &Listing<'_>) -> anyhow::Result<()> {
    let template = match OutputFormat::parse(format_flag)? {
        OutputFormat::Json => {
            print!(
                "{}",
                format::to_json_pretty(&Value::Array(listing.rows.clone()))
            );
            return Ok(());
        }
        OutputFormat::Template(t) => t,
        OutputFormat::Default => format::Template::parse(listing.default_table)?,
    };
    let header = |field: &str| {
        listing
            .headers
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, h)| h.to_string())
    };
    print!(
        "{}",
        format::render_list(&template, &listing.rows, &header)?
    );
    Ok(())
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// A YAML-like rendering of a JSON value, the way `podman info` prints by default.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(&mut out, value, 0);
    out
}

fn write_yaml(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        let _ = writeln!(out, "{pad}{k}:");
                        write_yaml(out, v, indent + 2);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        let _ = writeln!(out, "{pad}{k}:");
                        write_yaml(out, v, indent);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{k}: {}", yaml_scalar(v));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut nested = String::new();
                        write_yaml(&mut nested, item, indent + 2);
                        let nested = nested.replacen(&format!("{pad}  "), &format!("{pad}- "), 1);
                        out.push_str(&nested);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}- {}", yaml_scalar(item));
                    }
                }
            }
        }
        scalar => {
            let _ = writeln!(out, "{pad}{}", yaml_scalar(scalar));
        }
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nests_objects_and_lists() {
        let v = serde_json::json!({
            "Host": {"Rootless": true, "IDMappings": {"UIDMap": [{"container_id": 0, "size": 1}]}},
            "Registries": {"search": ["docker.io"]},
            "Empty": ""
        });
        let text = to_yaml(&v);
        let expected = "Host:\n  Rootless: true\n  IDMappings:\n    UIDMap:\n    - container_id: 0\n      size: 1\nRegistries:\n  search:\n  - docker.io\nEmpty: \"\"\n";
        assert_eq!(text, expected);
    }
}
