//! Stages and build arguments: the [`Stage`] model of a multi-stage Containerfile, the order in
//! which a `--target` needs them ([`Stages::plan`], unused stages left out), and ARG scoping by
//! Docker's rules ([`StageVars`]).
//!
//! ARG scoping: ARGs before the first FROM ("meta" args) are visible to FROM lines only; a stage
//! sees one after re-declaring it (`ARG NAME` with no default takes the meta value). A
//! `--build-arg` overrides any default. The platform args (TARGETPLATFORM, TARGETOS, TARGETARCH,
//! TARGETVARIANT and the BUILD* four) are predefined in the meta scope; the proxy args
//! (HTTP_PROXY & co.) reach RUN from `--build-arg` without being declared. ENV beats ARG of the
//! same name.

use std::collections::{BTreeMap, BTreeSet};

use super::containerfile::{Containerfile, Instruction, ParseError, Step};
use super::expand::{expand_with, Env};
use crate::image::manifest::{host_platform, Platform};

/// Proxy variables usable in RUN through `--build-arg` without an ARG line (and kept out of
/// the image history).
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Platform variables predefined in the meta (pre-FROM) scope.
pub const PLATFORM_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// What the user passed: `--build-arg` values and the platforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildArgs {
    pub values: BTreeMap<String, String>,
    /// The platform being built for (`--platform`, default the build platform).
    pub target: Platform,
    /// The platform running the build.
    pub build: Platform,
}

impl Default for BuildArgs {
    fn default() -> Self {
        BuildArgs::new(BTreeMap::new(), None)
    }
}

impl BuildArgs {
    pub fn new(values: BTreeMap<String, String>, target: Option<Platform>) -> BuildArgs {
        let build = host_platform();
        BuildArgs {
            values,
            target: target.unwrap_or_else(|| build.clone()),
            build,
        }
    }

    /// TARGETPLATFORM=linux/amd64, TARGETOS, TARGETARCH, TARGETVARIANT and the BUILD* four.
    pub fn platform_env(&self) -> Env {
        let mut env = Env::new();
        for (prefix, p) in [("TARGET", &self.target), ("BUILD", &self.build)] {
            env.set(&format!("{prefix}PLATFORM"), &p.to_string());
            env.set(&format!("{prefix}OS"), &p.os);
            env.set(&format!("{prefix}ARCH"), &p.architecture);
            env.set(
                &format!("{prefix}VARIANT"),
                p.variant.as_deref().unwrap_or(""),
            );
        }
        env
    }
}

/// One stage: its FROM and the steps up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The `AS` name, lower-case.
    pub name: Option<String>,
    /// The base after meta-ARG expansion: an image reference, `scratch`, or a stage name.
    pub base: String,
    /// `--platform` after expansion.
    pub platform: Option<String>,
    /// Set when `base` names an earlier stage.
    pub base_stage: Option<usize>,
    pub from: Step,
    pub steps: Vec<Step>,
    /// Stages this one needs first (base, `COPY --from`, `RUN --mount=from=`), sorted.
    pub deps: Vec<usize>,
}

/// All stages of a file, with the meta-ARG scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages {
    pub file: String,
    /// Meta ARG values (platform args included) after `--build-arg`s.
    pub meta: Env,
    pub stages: Vec<Stage>,
    /// `--build-arg` names that no ARG declares (and that are not proxy args): worth a warning.
    pub unused_build_args: Vec<String>,
}

/// Why no build plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{file}: no stage named \"{target}\" for --target; stages: {known}")]
    Target {
        file: String,
        target: String,
        known: String,
    },
}

impl Containerfile {
    /// Splits the file into stages, expanding FROM lines with the meta ARGs and resolving
    /// stage references (a `COPY --from` value is expanded with the stage's ARGs and ENVs as far
    /// as the file alone knows them).
    pub fn stages(&self, args: &BuildArgs) -> Result<Stages, ParseError> {
        let err = |step: &Step, e: &dyn std::fmt::Display| {
            ParseError::at(&self.file, step, e.to_string(), None)
        };
        let mut meta = args.platform_env();
        let mut declared: BTreeSet<String> = BTreeSet::new();
        let mut steps = self.steps.iter().peekable();
        while let Some(step) = steps.next_if(|s| matches!(s.instruction, Instruction::Arg(_))) {
            let Instruction::Arg(decls) = step.expand(&meta).map_err(|e| err(step, &e))? else {
                continue;
            };
            for d in decls {
                declared.insert(d.name.clone());
                if let Some(v) = args.values.get(&d.name).or(d.default.as_ref()) {
                    meta.set(&d.name, v);
                }
            }
        }
        let mut stages: Vec<Stage> = Vec::new();
        for step in steps {
            if let Instruction::From { .. } = step.instruction {
                let Instruction::From {
                    image,
                    platform,
                    alias,
                } = step.expand(&meta).map_err(|e| err(step, &e))?
                else {
                    continue;
                };
                if image.is_empty() {
                    return Err(ParseError::at(
                        &self.file,
                        step,
                        format!("\"{}\" expands to an empty image name", step.original),
                        Some("declare the ARG before FROM or pass --build-arg".into()),
                    ));
                }
                if let Some(a) = &alias {
                    if stages.iter().any(|s| s.name.as_ref() == Some(a)) {
                        return Err(ParseError::at(
                            &self.file,
                            step,
                            format!("duplicate stage name \"{a}\""),
                            Some("give each stage its own AS name".into()),
                        ));
                    }
                }
                let base_stage = stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(&image.to_ascii_lowercase()));
                stages.push(Stage {
                    index: stages.len(),
                    name: alias,
                    base: image,
                    platform,
                    base_stage,
                    from: step.clone(),
                    steps: Vec::new(),
                    deps: base_stage.into_iter().collect(),
                });
            } else if let Some(stage) = stages.last_mut() {
                stage.steps.push(step.clone());
            }
        }
        let names: Vec<Option<String>> = stages.iter().map(|s| s.name.clone()).collect();
        for stage in &mut stages {
            let mut vars = StageVars::new(&meta, args);
            let mut deps: BTreeSet<usize> = stage.deps.iter().copied().collect();
            for step in &stage.steps {
                let env = vars.expansion_env();
                let from_values: Vec<&str> = match &step.instruction {
                    Instruction::Arg(_) | Instruction::Env(_) => {
                        match step.expand(&env).map_err(|e| err(step, &e))? {
                            Instruction::Arg(decls) => decls.iter().for_each(|d| {
                                declared.insert(d.name.clone());
                                vars.declare(&d.name, d.default.as_deref());
                            }),
                            Instruction::Env(pairs) => {
                                pairs.iter().for_each(|(k, v)| vars.set_env(k, v))
                            }
                            _ => {}
                        }
                        Vec::new()
                    }
                    Instruction::Copy(c) => c.from.as_deref().into_iter().collect(),
                    Instruction::Run(r) => {
                        r.mounts.iter().filter_map(|m| m.option("from")).collect()
                    }
                    _ => Vec::new(),
                };
                for raw in from_values {
                    let from = expand_with(raw, &env, step.escape).map_err(|e| err(step, &e))?;
                    if let Some(i) = resolve(&names, &from) {
                        deps.insert(i);
                    }
                }
            }
            stage.deps = deps.into_iter().collect();
        }
        let unused_build_args = args
            .values
            .keys()
            .filter(|k| !declared.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect();
        Ok(Stages {
            file: self.file.clone(),
            meta,
            stages,
            unused_build_args,
        })
    }
}

/// A stage by name (case-insensitive) or index.
fn resolve(names: &[Option<String>], from: &str) -> Option<usize> {
    let lower = from.to_ascii_lowercase();
    names
        .iter()
        .position(|n| n.as_deref() == Some(&lower))
        .or_else(|| from.parse::<usize>().ok().filter(|i| *i < names.len()))
}

impl Stages {
    /// The stage a `--from` value or FROM base names, if any (else it is an image).
    pub fn resolve(&self, from: &str) -> Option<usize> {
        let names: Vec<Option<String>> = self.stages.iter().map(|s| s.name.clone()).collect();
        resolve(&names, from)
    }

    /// The stages to build for `target` (default the last), dependencies first; stages the
    /// target does not need are left out.
    pub fn plan(&self, target: Option<&str>) -> Result<Vec<usize>, StageError> {
        let goal = match target {
            None => self.stages.len().saturating_sub(1),
            Some(t) => {
                let lower = t.to_ascii_lowercase();
                self.stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(&lower))
                    .ok_or_else(|| StageError::Target {
                        file: self.file.clone(),
                        target: t.to_string(),
                        known: self.known(),
                    })?
            }
        };
        let mut order = Vec::new();
        let mut state = vec![0u8; self.stages.len()]; // 0 new, 1 in progress, 2 done
        let mut path = Vec::new();
        self.visit(goal, &mut state, &mut path, &mut order)?;
        Ok(order)
    }

    fn visit(
        &self,
        i: usize,
        state: &mut [u8],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), ParseError> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let chain: Vec<String> = path[path.iter().position(|p| *p == i).unwrap_or(0)..]
                    .iter()
                    .chain([&i])
                    .map(|s| self.label(*s))
                    .collect();
                return Err(ParseError::at(
                    &self.file,
                    &self.stages[i].from,
                    format!(
                        "stages depend on each other in a circle: {}",
                        chain.join(" -> ")
                    ),
                    Some("a stage can only copy from a stage that does not need it".into()),
                ));
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &d in &self.stages[i].deps {
            self.visit(d, state, path, order)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }

    fn label(&self, i: usize) -> String {
        match &self.stages[i].name {
            Some(n) => n.clone(),
            None => i.to_string(),
        }
    }

    fn known(&self) -> String {
        let names: Vec<String> = self.stages.iter().filter_map(|s| s.name.clone()).collect();
        if names.is_empty() {
            "none has a name (use FROM IMAGE AS NAME)".into()
        } else {
            names.join(", ")
        }
    }
}

/// The variables of one stage as its steps run: declared ARGs and ENVs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageVars {
    meta: Env,
    build_args: BTreeMap<String, String>,
    args: Env,
    env: Env,
}

impl StageVars {
    /// A fresh stage scope: no ARG visible until declared.
    pub fn new(meta: &Env, build_args: &BuildArgs) -> StageVars {
        StageVars {
            meta: meta.clone(),
            build_args: build_args.values.clone(),
            args: Env::new(),
            env: Env::new(),
        }
    }

    /// `ARG name[=default]` (default already expanded): `--build-arg` wins, then the default,
    /// then the meta value; with none of them the ARG stays unset.
    pub fn declare(&mut self, name: &str, default: Option<&str>) {
        let value = self
            .build_args
            .get(name)
            .map(String::as_str)
            .or(default)
            .or_else(|| self.meta.get(name))
            .map(str::to_string);
        match value {
            Some(v) => self.args.set(name, &v),
            None => self.args.remove(name),
        }
    }

    /// An ENV value (from the base image's config or an ENV step).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.set(name, value);
    }

    /// The declared ARGs with values.
    pub fn args(&self) -> &Env {
        &self.args
    }

    /// The ENV values: what the image config records.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// What `$VAR` sees in an instruction: ARGs, overridden by ENVs.
    pub fn expansion_env(&self) -> Env {
        let mut out = self.args.clone();
        for (k, v) in self.env.iter() {
            out.set(k, v);
        }
        out
    }

    /// The environment of a RUN: ENVs, then the ARGs they do not shadow, then any proxy
    /// `--build-arg` not declared.
    pub fn run_env(&self) -> Env {
        let mut out = self.env.clone();
        for (k, v) in self.args.iter() {
            if out.get(k).is_none() {
                out.set(k, v);
            }
        }
        for p in PROXY_ARGS {
            if let (None, Some(v)) = (out.get(p), self.build_args.get(*p)) {
                out.set(p, v);
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "stages_tests.rs"]
mod tests;
