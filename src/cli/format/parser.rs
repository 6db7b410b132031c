//! Parser for the Go text/template subset: turns lexed items into a tree of text, actions,
//! `if` / `range` / `with` blocks (with `else` and `else if`), pipelines and commands, and
//! rejects unknown functions at parse time.

use super::lexer::{Item, Tok};
use super::{funcs, FormatError};
use serde_json::Value;

/// A node of the template tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipeline),
    If(Block),
    Range(Block),
    With(Block),
}

/// `if`, `range` and `with`: the pipeline, the body and the optional `else` branch.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub pipe: Pipeline,
    pub body: Vec<Node>,
    pub else_body: Option<Vec<Node>>,
}

/// `$a, $b := cmd | cmd | ...`
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub pos: usize,
    /// Variables declared (`:=`) or assigned (`=`), without the `$`.
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Command>,
}

/// One stage of a pipeline: a function call or a single operand.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub args: Vec<(usize, Arg)>,
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Const(Value),
    Sub(Box<Pipeline>, Vec<String>),
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    End(usize),
    Else(usize, Vec<(usize, Tok)>),
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    items: std::vec::IntoIter<Item>,
}

impl<'a> Parser<'a> {
    pub(crate) fn parse(src: &'a str, items: Vec<Item>) -> Result<Vec<Node>, FormatError> {
        let mut p = Parser {
            src,
            items: items.into_iter(),
        };
        let (nodes, end) = p.list()?;
        match end {
            Stop::Eof => Ok(nodes),
            Stop::End(pos) => Err(p.err(pos, "unexpected {{end}}: nothing to close")),
            Stop::Else(pos, _) => Err(p.err(pos, "unexpected {{else}} outside if/range/with")),
        }
    }

    fn err(&self, pos: usize, msg: &str) -> FormatError {
        FormatError::parse(self.src, pos, msg.to_string())
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), FormatError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            let (pos, toks) = match item {
                Item::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Item::Action(pos, toks) => (pos, toks),
            };
            let keyword = match toks.first() {
                Some((_, Tok::Ident(w))) => w.as_str(),
                None => return Err(self.err(pos, "missing value for command: empty {{ }}")),
                _ => "",
            };
            match keyword {
                "end" => {
                    if toks.len() > 1 {
                        return Err(self.err(toks[1].0, "unexpected words after end"));
                    }
                    return Ok((nodes, Stop::End(pos)));
                }
                "else" => return Ok((nodes, Stop::Else(pos, toks[1..].to_vec()))),
                "if" | "range" | "with" => {
                    let kw = keyword.to_string();
                    nodes.push(self.block(&kw, pos, &toks[1..])?);
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(self.err(pos, &format!("{{{{{keyword}}}}} is not supported")));
                }
                _ => nodes.push(Node::Action(self.pipeline(pos, &toks)?)),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn block(&mut self, kw: &str, pos: usize, toks: &[(usize, Tok)]) -> Result<Node, FormatError> {
        if toks.is_empty() {
            return Err(self.err(pos, &format!("missing value for {kw}")));
        }
        let pipe = self.pipeline(pos, toks)?;
        if kw != "range" && pipe.decl.len() > 1 {
            return Err(self.err(pos, &format!("too many declarations in {kw}")));
        }
        let (body, end) = self.list()?;
        let else_body = match end {
            Stop::Eof => {
                return Err(self.err(pos, &format!("unclosed {{{{{kw}}}}}: add {{{{end}}}}")));
            }
            Stop::End(_) => None,
            Stop::Else(epos, rest) => match rest.first() {
                None => {
                    let (nodes, end) = self.list()?;
                    match end {
                        Stop::End(_) => Some(nodes),
                        Stop::Eof => {
                            return Err(self.err(
                                epos,
                                &format!("unclosed {{{{else}}}} of {kw}: add {{{{end}}}}"),
                            ))
                        }
                        Stop::Else(p, _) => {
                            return Err(self.err(p, &format!("a second {{{{else}}}} in {kw}")))
                        }
                    }
                }
                Some((_, Tok::Ident(w))) if w == "if" || w == "with" => {
                    // `{{else if x}}` is `{{else}}{{if x}}...{{end}}` sharing the final {{end}}.
                    let w = w.clone();
                    Some(vec![self.block(&w, epos, &rest[1..])?])
                }
                Some((p, _)) => return Err(self.err(*p, "unexpected words after else")),
            },
        };
        let block = Block {
            pipe,
            body,
            else_body,
        };
        Ok(match kw {
            "if" => Node::If(block),
            "range" => Node::Range(block),
            _ => Node::With(block),
        })
    }

    /// Parses a whole pipeline from tokens (optionally with a leading declaration).
    fn pipeline(&self, pos: usize, toks: &[(usize, Tok)]) -> Result<Pipeline, FormatError> {
        let mut rest = toks;
        let mut decl = Vec::new();
        let mut assign = false;
        if let Some((names, after, is_assign)) = split_decl(toks) {
            decl = names;
            assign = is_assign;
            rest = &toks[after..];
        }
        let mut i = 0;
        let mut p = self.commands(pos, rest, &mut i)?;
        if i < rest.len() {
            return Err(self.err(rest[i].0, "unexpected ) in action"));
        }
        p.decl = decl;
        p.assign = assign;
        Ok(p)
    }

    /// Parses commands separated by `|` until the end of `toks` or an unmatched `)`.
    fn commands(
        &self,
        pos: usize,
        toks: &[(usize, Tok)],
        i: &mut usize,
    ) -> Result<Pipeline, FormatError> {
        let mut cmds = Vec::new();
        let mut cmd = Command { args: Vec::new() };
        while *i < toks.len() {
            let (p, tok) = &toks[*i];
            let arg = match tok {
                Tok::RParen(_) => break,
                Tok::Pipe => {
                    if cmd.args.is_empty() {
                        return Err(self.err(*p, "missing command before |"));
                    }
                    cmds.push(std::mem::replace(&mut cmd, Command { args: Vec::new() }));
                    *i += 1;
                    continue;
                }
                Tok::LParen => {
                    *i += 1;
                    let sub = self.commands(*p, toks, i)?;
                    match toks.get(*i) {
                        Some((_, Tok::RParen(chain))) => Arg::Sub(Box::new(sub), chain.clone()),
                        _ => return Err(self.err(*p, "unclosed left paren: add )")),
                    }
                }
                Tok::Dot => Arg::Dot,
                Tok::Field(f) => Arg::Field(f.clone()),
                Tok::Var(n, f) => Arg::Var(n.clone(), f.clone()),
                Tok::Str(s) => Arg::Const(Value::String(s.clone())),
                Tok::Num(n) => Arg::Const(n.clone()),
                Tok::Ident(w) => match w.as_str() {
                    "true" => Arg::Const(Value::Bool(true)),
                    "false" => Arg::Const(Value::Bool(false)),
                    "nil" => Arg::Const(Value::Null),
                    name if funcs::is_function(name) => Arg::Func(name.to_string()),
                    name => {
                        return Err(self.err(
                            *p,
                            &format!(
                                "function {name:?} not defined (available: {})",
                                funcs::FUNCTIONS.join(", ")
                            ),
                        ))
                    }
                },
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err(self.err(*p, "unexpected := or , in operand position"));
                }
            };
            cmd.args.push((*p, arg));
            *i += 1;
        }
        if cmd.args.is_empty() {
            let at = toks.get(*i).map_or(pos, |t| t.0);
            return Err(self.err(at, "missing value for command"));
        }
        cmds.push(cmd);
        Ok(Pipeline {
            pos,
            decl: Vec::new(),
            assign: false,
            cmds,
        })
    }
}

/// Recognises `$x :=`, `$x =` and `$i, $e :=` at the start of a pipeline.
fn split_decl(toks: &[(usize, Tok)]) -> Option<(Vec<String>, usize, bool)> {
    let var = |i: usize| match toks.get(i) {
        Some((_, Tok::Var(n, f))) if f.is_empty() => Some(n.clone()),
        _ => None,
    };
    let first = var(0)?;
    match toks.get(1) {
        Some((_, Tok::Declare)) => Some((vec![first], 2, false)),
        Some((_, Tok::Assign)) => Some((vec![first], 2, true)),
        Some((_, Tok::Comma)) => {
            let second = var(2)?;
            match toks.get(3) {
                Some((_, Tok::Declare)) => Some((vec![first, second], 4, false)),
                Some((_, Tok::Assign)) => Some((vec![first, second], 4, true)),
                _ => None,
            }
        }
        _ => None,
    }
}
