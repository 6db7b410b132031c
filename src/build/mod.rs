//! `nook build`'s front half: everything about a build that needs no container.
//!
//! The build owns four things here, and the executor (which runs RUN steps and commits layers)
//! consumes them:
//! - [`containerfile`]: the Containerfile parser. [`parse`]`(path, text)` gives a
//!   [`Containerfile`] of [`Step`]s (typed [`Instruction`] + line + original text) or a
//!   [`ParseError`] printed as `Containerfile:12: RUN: what is wrong (how to fix it)`.
//! - [`mod@expand`]: Docker's variable substitution, [`expand()`]`(word, &Env)`. Steps keep their
//!   words as written; [`Step::expand`] substitutes where Docker does, at dispatch time, with
//!   the environment before that step (base image ENV + ARGs + earlier ENVs).
//! - [`stages`]: [`Containerfile::stages`]`(&BuildArgs)` splits the file into [`Stage`]s (FROM
//!   expanded with the meta ARGs, stage references resolved), [`Stages::plan`]`(target)` gives
//!   the stages to build in dependency order (unused ones skipped), and [`StageVars`] tracks ARG
//!   and ENV scoping while a stage runs.
//! - [`context`]: the build context directory. [`Context::open`]`(dir, ignorefile)` reads
//!   `.containerignore` (or `.dockerignore`), [`Context::select`]`(patterns)` lists the files a
//!   COPY/ADD source names as [`Entry`]s, and [`Context::digest`]`(entries)` hashes them for
//!   the cache key.
//!
//! Data flow of a build: text → `parse` → `stages(build_args)` → `plan(target)` → for each
//! stage: `StageVars::new`, base image ENV into `set_env`, then for each step `step.expand(
//! &vars.expansion_env())` → ARG/ENV update the vars, COPY/ADD go through `Context::select` +
//! `digest` (cache key: parent layer + expanded instruction text + content digest), RUN gets
//! `vars.run_env()` and `Run::shell_script`/`lone_heredoc`.

pub mod containerfile;
pub mod context;
pub mod expand;
pub mod glob;
pub mod stages;

pub use containerfile::{parse, Containerfile, Instruction, ParseError, Step};
pub use context::{Context, ContextError, Entry, EntryKind};
pub use expand::{expand, expand_with, Env, ExpandError};
pub use stages::{BuildArgs, Stage, StageError, StageVars, Stages};
