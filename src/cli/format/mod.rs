//! The `--format` engine: the subset of Go's text/template that Podman users type (fields,
//! pipelines, `if`/`range`/`with`, Podman's functions), Go-style printing of values, the
//! `table` prefix with headers and tabwriter alignment, `--format json`, and the plain table
//! printer the commands use for their default output.
//!
//! Every listing renders its rows (`serde_json::Value`s serialised from structs with Podman's
//! field names) through [`render_list`]; `inspect`/`info` render a single value the same way.

mod eval;
mod funcs;
mod lexer;
mod parser;
mod table;
mod value;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_eval;

pub use table::{default_header, tabwrite};
pub use value::to_json;

use parser::{Node, Parser};
use serde_json::Value;

/// A bad format string or a failure while applying it to the data.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum FormatError {
    /// The format string does not parse.
    #[error("template: line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    /// The format string parsed but could not be applied to the data (unknown field, wrong
    /// argument type, ...).
    #[error("template: line {line}, column {column}: executing at <{near}>: {message}")]
    Exec {
        line: usize,
        column: usize,
        near: String,
        message: String,
    },
    /// `table` alone selects the command's default table, which the caller must print itself.
    #[error("`table` with no columns means the command's default table; check is_default_table() before rendering")]
    DefaultTable,
}

/// 1-based line and column (in characters) of byte offset `pos` in `src`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl FormatError {
    pub(crate) fn parse(src: &str, pos: usize, message: String) -> Self {
        let (line, column) = line_col(src, pos);
        FormatError::Parse {
            line,
            column,
            message,
        }
    }

    pub(crate) fn exec(src: &str, pos: usize, message: String) -> Self {
        let (line, column) = line_col(src, pos);
        FormatError::Exec {
            line,
            column,
            near: Self::near_text(src, pos),
            message,
        }
    }

    /// The operand written at `pos` (up to the next space, `|`, `)` or `}`).
    pub(crate) fn near_text(src: &str, pos: usize) -> String {
        let rest = src.get(pos..).unwrap_or("");
        let first = rest.chars().next().map_or(0, char::len_utf8);
        let end = rest[first..]
            .find(|c: char| c.is_whitespace() || matches!(c, '|' | ')' | '}' | '('))
            .map_or(rest.len(), |e| e + first);
        rest[..end].to_string()
    }
}

/// A parsed `--format` template.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<Node>,
    table: bool,
    default_table: bool,
    ends_with_newline: bool,
    type_name: String,
}

/// Byte offset where the template body starts if `src` begins with the `table` keyword.
fn table_prefix(src: &str) -> Option<usize> {
    let rest = src.strip_prefix("table")?;
    if rest.is_empty() {
        return Some(src.len());
    }
    rest.starts_with([' ', '\t', '\n'])
        .then(|| src.len() - rest[1..].len())
}

impl Template {
    /// Parses a format string: an optional `table` prefix, then text with `{{...}}` actions.
    /// A literal `\t` or `\n` typed on the command line becomes a tab or a newline.
    pub fn parse(src: &str) -> Result<Template, FormatError> {
        let start = table_prefix(src);
        let body_start = start.unwrap_or(0);
        let default_table = start.is_some() && src[body_start..].trim().is_empty();
        let items = lexer::lex(src, body_start)?;
        let nodes = Parser::parse(src, items)?;
        Ok(Template {
            src: src.to_string(),
            nodes,
            table: start.is_some(),
            default_table,
            ends_with_newline: lexer::unescape_cli(src).ends_with('\n'),
            type_name: "data".to_string(),
        })
    }

    /// Names the top-level data in error messages ("can't evaluate field X in type NAME").
    pub fn with_type_name(mut self, name: &str) -> Template {
        self.type_name = name.to_string();
        self
    }

    /// Whether the format started with `table` (print a header row and align columns).
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Whether the format was `table` alone: the caller prints its default table.
    pub fn is_default_table(&self) -> bool {
        self.default_table
    }

    /// Applies the template to one value and returns the text (no newline is added).
    pub fn render(&self, data: &Value) -> Result<String, FormatError> {
        if self.default_table {
            return Err(FormatError::DefaultTable);
        }
        let ctx = eval::Ctx {
            src: &self.src,
            type_name: &self.type_name,
            header: None,
        };
        eval::execute(&ctx, &self.nodes, data)
    }

    /// Renders the header row: every field chain becomes its column header, taken from
    /// `headers(path)` (upper-cased) or else [`default_header`].
    pub fn render_header(
        &self,
        headers: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, FormatError> {
        if self.default_table {
            return Err(FormatError::DefaultTable);
        }
        let lookup = |path: &str| match headers(path) {
            Some(h) => h.to_uppercase(),
            None => default_header(path),
        };
        let ctx = eval::Ctx {
            src: &self.src,
            type_name: &self.type_name,
            header: Some(&lookup),
        };
        eval::execute(&ctx, &self.nodes, &Value::Null)
    }

    fn terminate(&self, mut line: String) -> String {
        if !self.ends_with_newline {
            line.push('\n');
        }
        line
    }
}

/// What the user asked for with `--format`.
#[derive(Debug, Clone)]
pub enum OutputFormat {
    /// No `--format`, an empty one, or `table` alone: the command's own default output.
    Default,
    /// `--format json` (any case): the data as indented JSON.
    Json,
    /// A Go template (possibly a `table` one).
    Template(Template),
}

impl OutputFormat {
    /// Interprets the value of `--format`.
    pub fn parse(flag: Option<&str>) -> Result<Self, FormatError> {
        let Some(f) = flag else {
            return Ok(OutputFormat::Default);
        };
        let t = f.trim();
        if t.is_empty() || t == "table" {
            return Ok(OutputFormat::Default);
        }
        if t.eq_ignore_ascii_case("json") {
            return Ok(OutputFormat::Json);
        }
        Ok(OutputFormat::Template(Template::parse(f)?))
    }
}

/// Renders a listing (or the values of `inspect`): each row through the template followed by
/// a newline unless the template already ends with one; for a `table` template, a header row
/// first and all lines aligned like Podman's tabwriter. `headers` maps a field path ("ID") to
/// its header ("CONTAINER ID"); fields it does not know get [`default_header`].
pub fn render_list(
    fmt: &Template,
    rows: &[Value],
    headers: &dyn Fn(&str) -> Option<String>,
) -> Result<String, FormatError> {
    let mut text = String::new();
    if fmt.table {
        text.push_str(&fmt.terminate(fmt.render_header(headers)?));
    }
    for row in rows {
        text.push_str(&fmt.terminate(fmt.render(row)?));
    }
    Ok(if fmt.table { table::align(&text) } else { text })
}

/// `--format json` for listings, `info` and `version`: indented by two spaces like Podman's
/// `json.MarshalIndent(v, "", "  ")`, with a final newline.
pub fn to_json_pretty(v: &Value) -> String {
    to_json(v, Some("  ")) + "\n"
}

/// JSON for `inspect`: Podman indents it by five spaces; with a final newline.
pub fn to_json_inspect(v: &Value) -> String {
    to_json(v, Some("     ")) + "\n"
}
