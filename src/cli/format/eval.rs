//! Executes a parsed template against a `serde_json::Value`: field chains, variables,
//! pipelines, `if` / `range` / `with`, short-circuit `and` / `or`, and the header mode used for
//! the first row of a `table` (every field chain becomes its column header).

use super::funcs;
use super::parser::{Arg, Block, Command, Node, Pipeline};
use super::value::{go_print, kind, truthy};
use super::FormatError;
use serde_json::Value;

/// Everything execution needs besides the data.
pub(crate) struct Ctx<'a> {
    /// The format string (for error positions).
    pub src: &'a str,
    /// How the top-level data is called in errors ("container", "image", ...).
    pub type_name: &'a str,
    /// In header mode: maps a field path ("Host.Rootless") to its column header.
    pub header: Option<&'a dyn Fn(&str) -> String>,
}

/// Runs the template on `data` and returns the text.
pub(crate) fn execute(ctx: &Ctx, nodes: &[Node], data: &Value) -> Result<String, FormatError> {
    let root = if ctx.header.is_some() {
        Value::String(String::new())
    } else {
        data.clone()
    };
    let mut st = State {
        ctx,
        vars: vec![(String::new(), root.clone())],
        out: String::new(),
    };
    st.walk(nodes, &root, ctx.type_name)?;
    Ok(st.out)
}

struct State<'a> {
    ctx: &'a Ctx<'a>,
    vars: Vec<(String, Value)>,
    out: String,
}

impl State<'_> {
    fn err(&self, pos: usize, msg: String) -> FormatError {
        FormatError::exec(self.ctx.src, pos, msg)
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value, label: &str) -> Result<(), FormatError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    // A declaration prints nothing and lives until the end of the enclosing
                    // block (the block's `scoped` drops it).
                    let v = self.pipe(pipe, dot, label, true)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&go_print(&v));
                    }
                }
                Node::If(b) => self.scoped(|st| {
                    let v = st.pipe(&b.pipe, dot, label, true)?;
                    if st.ctx.header.is_some() || truthy(&v) {
                        st.walk(&b.body, dot, label)
                    } else {
                        st.walk_opt(&b.else_body, dot, label)
                    }
                })?,
                Node::With(b) => self.scoped(|st| {
                    let v = st.pipe(&b.pipe, dot, label, true)?;
                    if st.ctx.header.is_some() || truthy(&v) {
                        let inner = derive_label(&b.pipe, label);
                        st.walk(&b.body, &v, &inner)
                    } else {
                        st.walk_opt(&b.else_body, dot, label)
                    }
                })?,
                Node::Range(b) => self.scoped(|st| st.range(b, dot, label))?,
            }
        }
        Ok(())
    }

    fn walk_opt(
        &mut self,
        nodes: &Option<Vec<Node>>,
        dot: &Value,
        label: &str,
    ) -> Result<(), FormatError> {
        match nodes {
            Some(n) => self.walk(n, dot, label),
            None => Ok(()),
        }
    }

    /// Runs `f` and then drops the variables it declared.
    fn scoped(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), FormatError>,
    ) -> Result<(), FormatError> {
        let mark = self.vars.len();
        let r = f(self);
        self.vars.truncate(mark);
        r
    }

    fn range(&mut self, b: &Block, dot: &Value, label: &str) -> Result<(), FormatError> {
        let v = self.pipe(&b.pipe, dot, label, false)?;
        if self.ctx.header.is_some() {
            for name in &b.pipe.decl {
                self.vars.push((name.clone(), v.clone()));
            }
            return self.walk(&b.body, &v, label);
        }
        let base = derive_label(&b.pipe, label);
        let items: Vec<(Value, Value, String)> = match &v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::from(i as u64), e.clone(), format!("{base}[{i}]")))
                .collect(),
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                keys.into_iter()
                    .map(|k| {
                        let lbl = format!("{base}[{k}]");
                        (Value::String(k.clone()), m[k.as_str()].clone(), lbl)
                    })
                    .collect()
            }
            Value::Null => Vec::new(),
            other => {
                return Err(self.err(
                    b.pipe.pos,
                    format!(
                        "range can't iterate over {} {}: range needs a list or a map",
                        kind(other),
                        go_print(other)
                    ),
                ))
            }
        };
        if items.is_empty() {
            return self.walk_opt(&b.else_body, dot, label);
        }
        for (key, elem, lbl) in items {
            let mark = self.vars.len();
            match b.pipe.decl.as_slice() {
                [] => {}
                [e] => self.vars.push((e.clone(), elem.clone())),
                [k, e, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((e.clone(), elem.clone()));
                }
            }
            let r = self.walk(&b.body, &elem, &lbl);
            self.vars.truncate(mark);
            r?;
        }
        Ok(())
    }

    /// Evaluates a pipeline; with `declare`, binds its declared variables to the result.
    fn pipe(
        &mut self,
        p: &Pipeline,
        dot: &Value,
        label: &str,
        declare: bool,
    ) -> Result<Value, FormatError> {
        let header_path = self.ctx.header.and_then(|h| first_field(p).map(|f| h(&f)));
        let v = match header_path {
            Some(h) => Value::String(h),
            None => {
                let mut val = None;
                for cmd in &p.cmds {
                    val = Some(self.command(cmd, dot, label, val)?);
                }
                val.unwrap_or(Value::Null)
            }
        };
        if declare {
            for name in &p.decl {
                if p.assign {
                    let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
                    match slot {
                        Some(s) => s.1 = v.clone(),
                        None => return Err(self.err(p.pos, format!("undefined variable ${name}"))),
                    }
                } else {
                    self.vars.push((name.clone(), v.clone()));
                }
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &Command,
        dot: &Value,
        label: &str,
        piped: Option<Value>,
    ) -> Result<Value, FormatError> {
        let (pos, first) = &cmd.args[0];
        if let Arg::Func(name) = first {
            return self.call(*pos, name, &cmd.args[1..], piped, dot, label);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            let what = FormatError::near_text(self.ctx.src, *pos);
            return Err(self.err(
                *pos,
                format!("{what} is not a function and cannot take arguments"),
            ));
        }
        self.arg(*pos, first, dot, label)
    }

    fn call(
        &mut self,
        pos: usize,
        name: &str,
        args: &[(usize, Arg)],
        piped: Option<Value>,
        dot: &Value,
        label: &str,
    ) -> Result<Value, FormatError> {
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(piped.is_some());
            if total < 1 {
                return Err(self.err(
                    pos,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Null;
            for (p, a) in args {
                last = self.arg(*p, a, dot, label)?;
                if truthy(&last) == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for (p, a) in args {
            vals.push(self.arg(*p, a, dot, label)?);
        }
        vals.extend(piped);
        funcs::call(name, vals).map_err(|m| self.err(pos, format!("{name}: {m}")))
    }

    fn arg(&mut self, pos: usize, a: &Arg, dot: &Value, label: &str) -> Result<Value, FormatError> {
        match a {
            Arg::Dot => Ok(dot.clone()),
            Arg::Const(v) => Ok(v.clone()),
            Arg::Field(path) => self.field(pos, dot, label, path),
            Arg::Var(name, path) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return Err(self.err(
                        pos,
                        format!("undefined variable ${name}: declare it with ${name} := ..."),
                    ));
                };
                let v = v.clone();
                let lbl = if name.is_empty() {
                    self.ctx.type_name.to_string()
                } else {
                    format!("${name}")
                };
                self.field(pos, &v, &lbl, path)
            }
            Arg::Func(name) => self.call(pos, name, &[], None, dot, label),
            Arg::Sub(p, path) => {
                let v = self.pipe(p, dot, label, false)?;
                self.field(pos, &v, "value", path)
            }
        }
    }

    /// Follows `path` from `v`. Objects whose keys all start upper-case are treated as Go
    /// structs: a missing field is an error listing the valid ones. Other objects are maps:
    /// a missing key gives null (printed `<no value>`), as Go does for maps.
    fn field(
        &self,
        pos: usize,
        v: &Value,
        label: &str,
        path: &[String],
    ) -> Result<Value, FormatError> {
        let mut cur = v;
        let mut lbl = label.to_string();
        for name in path {
            match cur {
                Value::Object(m) => match m.get(name) {
                    Some(next) => cur = next,
                    None if is_struct_like(m) => {
                        let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
                        keys.sort_unstable();
                        return Err(self.err(
                            pos,
                            format!(
                                "can't evaluate field {name} in type {lbl} (valid fields: {})",
                                keys.join(", ")
                            ),
                        ));
                    }
                    None => return Ok(Value::Null),
                },
                Value::Null => return Ok(Value::Null),
                other => {
                    return Err(self.err(
                        pos,
                        format!(
                            "can't evaluate field {name} in type {} ({lbl} is {} {})",
                            kind(other),
                            kind(other),
                            go_print(other)
                        ),
                    ))
                }
            }
            lbl.push('.');
            lbl.push_str(name);
        }
        Ok(cur.clone())
    }
}

fn is_struct_like(m: &serde_json::Map<String, Value>) -> bool {
    !m.is_empty()
        && m.keys()
            .all(|k| k.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

/// The label for the value of a pipeline that is a single field chain (`.Mounts` seen from
/// `container` is `container.Mounts`), used to name the type in errors.
fn derive_label(p: &Pipeline, label: &str) -> String {
    match p.cmds.as_slice() {
        [c] if c.args.len() == 1 => match &c.args[0].1 {
            Arg::Field(path) => format!("{label}.{}", path.join(".")),
            Arg::Dot => label.to_string(),
            _ => "value".to_string(),
        },
        _ => "value".to_string(),
    }
}

/// The first field chain a pipeline mentions (for the header row), as "A.B".
fn first_field(p: &Pipeline) -> Option<String> {
    p.cmds
        .iter()
        .flat_map(|c| c.args.iter())
        .find_map(|(_, a)| match a {
            Arg::Field(path) | Arg::Var(_, path) | Arg::Sub(_, path) if !path.is_empty() => {
                Some(path.join("."))
            }
            Arg::Sub(inner, _) => first_field(inner),
            _ => None,
        })
}
