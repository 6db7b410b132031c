//! Containerfile (Dockerfile) syntax: [`parse`] turns text into a [`Containerfile`] of typed
//! [`Step`]s, or a [`ParseError`] that names the file, the line, the instruction, what is wrong
//! and how to fix it (`Containerfile:12: RUN: ...`).
//!
//! The work is split in three: `lexer` (directives, comments, continuations, heredoc bodies),
//! `instructions` (flags, exec/shell form, per-instruction rules) and `ast` (the types and the
//! variable expansion of each instruction).

mod ast;
mod instructions;
mod lexer;

use std::fmt;
use std::path::Path;

pub use ast::{
    is_remote, ArgDecl, Copy, CopySource, Healthcheck, Heredoc, Instruction, MountKind, Run,
    RunMount, RunNetwork, ShellOrExec, Step, INSTRUCTIONS,
};
pub use instructions::parse_duration;
pub use lexer::Directives;

/// A parsed Containerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containerfile {
    /// The file name used in messages (as given to [`parse`]).
    pub file: String,
    pub directives: Directives,
    /// Every instruction in order, global ARGs and FROM lines included.
    pub steps: Vec<Step>,
}

/// A syntax or semantic error at one line of a Containerfile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    /// The instruction keyword, when the error belongs to one.
    pub instruction: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(i) = &self.instruction {
            write!(f, "{i}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl ParseError {
    /// An error at `step` of `file` (used by the stage resolver and the executor).
    pub fn at(file: &str, step: &Step, message: impl Into<String>, hint: Option<String>) -> Self {
        ParseError {
            file: file.to_string(),
            line: step.line,
            instruction: Some(step.instruction.name().to_string()),
            message: message.into(),
            hint,
        }
    }
}

/// Parses `text`, read from `path` (only used in messages).
pub fn parse(path: &Path, text: &str) -> Result<Containerfile, ParseError> {
    let file = path.display().to_string();
    let (directives, lines) =
        lexer::lex(text).map_err(|(line, instruction, message, hint)| ParseError {
            file: file.clone(),
            line,
            instruction,
            message,
            hint,
        })?;
    let escape = directives.escape;
    let mut steps = Vec::with_capacity(lines.len());
    for raw in lines {
        let instruction = instructions::instruction(&raw, escape).map_err(|(message, hint)| {
            let upper = raw.keyword.to_ascii_uppercase();
            ParseError {
                file: file.clone(),
                line: raw.line,
                instruction: INSTRUCTIONS.contains(&upper.as_str()).then_some(upper),
                message,
                hint,
            }
        })?;
        steps.push(Step {
            line: raw.line,
            original: raw.original,
            escape,
            instruction,
        });
    }
    let Some(first) = steps
        .iter()
        .find(|s| !matches!(s.instruction, Instruction::Arg(_)))
    else {
        return Err(ParseError {
            file,
            line: 1,
            instruction: None,
            message: "the file has no FROM instruction".into(),
            hint: Some("start a stage with FROM IMAGE".into()),
        });
    };
    if !matches!(first.instruction, Instruction::From { .. }) {
        return Err(ParseError::at(
            &file,
            first,
            "only ARG may come before the first FROM",
            Some("start the stage with FROM IMAGE".into()),
        ));
    }
    Ok(Containerfile {
        file,
        directives,
        steps,
    })
}

#[cfg(test)]
mod parse_tests;
