//! One stage at a time: the base image, ONBUILD triggers, then each step through the cache or
//! executed (see the parent module's documentation). The final image is `finish`'s.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use super::config_step::{self, shell_of};
use super::copy::{copy_from_context, copy_from_image, mkdir_p, Download, Placement};
use super::work::{LayerSpec, Work, WorkSpec};
use super::{BuildError, BuildOptions, Out};
use crate::build::containerfile::{is_remote, Copy, CopySource, Instruction, RunNetwork};
use crate::build::{parse, BuildArgs, Context, ParseError, Stage, StageVars, Stages, Step};
use crate::engine::container::config::NetworkMode;
use crate::engine::container::{resolve_image, ContainerError};
use crate::image::commit::{self, write_image, CommitError, ImageDraft, WriteOptions};
use crate::image::digest::Digest;
use crate::image::pull::{Event, Progress};
use crate::store::{ImageRecord, Store};

struct Quiet;
impl Progress for Quiet {
    fn event(&self, _: Event<'_>) {}
}

/// The URLs among an ADD's sources (none for COPY).
fn remote_sources(c: &Copy, add: bool) -> impl Iterator<Item = &str> {
    c.sources.iter().filter_map(move |s| match s {
        CopySource::Path(p) if add && is_remote(p) => Some(p.as_str()),
        _ => None,
    })
}

pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(11)]
}

pub(super) fn commit_err(e: CommitError) -> BuildError {
    BuildError::Container(ContainerError::Other(e.to_string()))
}

/// The state of a stage between steps: its image in the store and that image as a draft.
struct Cur {
    image: ImageRecord,
    draft: ImageDraft,
}

impl Cur {
    fn of(store: &Store, image: ImageRecord) -> Result<Cur, BuildError> {
        let draft = ImageDraft::from_image(store, &image).map_err(commit_err)?;
        Ok(Cur { image, draft })
    }
}

pub(super) struct Builder<'a> {
    pub store: &'a Store,
    pub opts: &'a BuildOptions,
    pub ctx: &'a Context,
    pub stages: &'a Stages,
    pub args: &'a BuildArgs,
    pub progress: &'a dyn Progress,
    /// Final images of the stages built so far.
    pub built: BTreeMap<usize, ImageRecord>,
    pub cache_hits: usize,
    pub executed: usize,
    /// The base image of the final stage (what `--squash` keeps as it is).
    pub final_base: Option<ImageRecord>,
    /// ADD URLs downloaded by this build, by URL.
    pub downloads: BTreeMap<String, Download>,
    /// Images the steps of this build wrote (removed at the end with `--layers=false`).
    pub intermediates: Vec<String>,
}

impl Builder<'_> {
    /// Builds stage `i`; returns its final image.
    pub fn stage(
        &mut self,
        i: usize,
        prefix: &str,
        final_stage: bool,
        out: &mut Out<'_>,
    ) -> Result<ImageRecord, BuildError> {
        let stages = self.stages;
        let stage = &stages.stages[i];
        let count = stage.steps.len() + 1;
        out.line(&format!(
            "{prefix}STEP 1/{count}: {}",
            stage.from.original.trim()
        ));
        let base = self.base_image(stage)?;
        if final_stage {
            self.final_base = Some(base.clone());
        }
        let mut cur = Cur::of(self.store, base)?;
        let mut vars = StageVars::new(&stages.meta, self.args);
        for e in cur.draft.config.config.env.clone().unwrap_or_default() {
            if let Some((k, v)) = e.split_once('=') {
                vars.set_env(k, v);
            }
        }
        let mut cmd_set = false;
        let triggers = cur.draft.config.config.on_build.take().unwrap_or_default();
        if !triggers.is_empty() {
            let name = format!("{} (ONBUILD of {})", stages.file, stage.base);
            // The parser wants a FROM first; the triggers follow it.
            let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
            let file = parse(Path::new(&name), &text)?;
            for step in file.steps.iter().skip(1) {
                out.line(&format!("{prefix}ONBUILD {}", step.original.trim()));
                self.step(&mut cur, &name, step, &mut vars, &mut cmd_set, out)?;
                out.line(&format!("--> {}", short(&cur.image.id)));
            }
        }
        for (n, step) in stage.steps.iter().enumerate() {
            out.line(&format!(
                "{prefix}STEP {}/{count}: {}",
                n + 2,
                step.original.trim()
            ));
            self.step(&mut cur, &stages.file, step, &mut vars, &mut cmd_set, out)?;
            if !(final_stage && n + 1 == stage.steps.len()) {
                out.line(&format!("--> {}", short(&cur.image.id)));
            }
        }
        self.built.insert(i, cur.image.clone());
        Ok(cur.image)
    }

    fn base_image(&mut self, stage: &Stage) -> Result<ImageRecord, BuildError> {
        if let Some(b) = stage.base_stage {
            if let Some(img) = self.built.get(&b) {
                return Ok(img.clone());
            }
        }
        if stage.base.eq_ignore_ascii_case("scratch") {
            return self.write(&ImageDraft::scratch(), false);
        }
        resolve_image(
            self.store,
            &stage.base,
            self.opts.pull,
            &self.opts.pull_options,
            self.progress,
        )
        .map_err(|e| BuildError::Step {
            step: stage.from.original.trim().to_string(),
            message: e.to_string(),
            exit_code: None,
        })
    }

    /// Writes `draft` into the store: an intermediate image, or with `result` the build's,
    /// with its names and annotations.
    pub(super) fn write(
        &self,
        draft: &ImageDraft,
        result: bool,
    ) -> Result<ImageRecord, BuildError> {
        let opts = self.opts;
        let written = write_image(
            self.store,
            draft,
            &WriteOptions {
                format: opts.format,
                names: if result {
                    opts.names.clone()
                } else {
                    Vec::new()
                },
                annotations: if result {
                    opts.annotations.clone()
                } else {
                    Default::default()
                },
            },
            &Quiet,
        )
        .map_err(commit_err)?;
        Ok(written.record)
    }

    fn created(&self) -> Option<String> {
        self.opts.timestamp.map(|t| {
            crate::store::time::format_rfc3339(UNIX_EPOCH + Duration::from_secs(t.max(0) as u64))
        })
    }

    /// An intermediate image made from `parent` by a step with `key`, if the store has one.
    fn cached(&self, parent: &str, key: &str) -> Result<Option<ImageRecord>, BuildError> {
        let all = self.store.images().list().map_err(ContainerError::from)?;
        Ok(all
            .into_iter()
            .filter(|r| r.parent.as_deref() == Some(parent) && r.build_key.as_deref() == Some(key))
            .max_by(|a, b| a.created.cmp(&b.created)))
    }

    fn step(
        &mut self,
        cur: &mut Cur,
        file: &str,
        step: &Step,
        vars: &mut StageVars,
        cmd_set: &mut bool,
        out: &mut Out<'_>,
    ) -> Result<(), BuildError> {
        let inst = step
            .expand(&vars.expansion_env())
            .map_err(|e| ParseError::at(file, step, e.to_string(), None))?;
        let text = step.original.trim().to_string();
        let fail = |message: String, exit_code: Option<i32>| BuildError::Step {
            step: text.clone(),
            message,
            exit_code,
        };
        match &inst {
            Instruction::Arg(decls) => decls
                .iter()
                .for_each(|d| vars.declare(&d.name, d.default.as_deref())),
            Instruction::Env(pairs) => pairs.iter().for_each(|(k, v)| vars.set_env(k, v)),
            Instruction::Cmd(_) => *cmd_set = true,
            Instruction::From { .. } => {
                return Err(ParseError::at(file, step, "FROM is not allowed here", None).into())
            }
            _ => {}
        }
        let config = &cur.draft.config.config;
        let shell = shell_of(config);
        let run_argv = match &inst {
            Instruction::Run(r) => Some(match (r.lone_heredoc(), r.shell_script()) {
                (Some(h), _) => shell.iter().cloned().chain([h.content.clone()]).collect(),
                (None, Some(script)) => shell.iter().cloned().chain([script]).collect(),
                (None, None) => r.cmd.argv(&shell),
            }),
            _ => None,
        };
        let run_args: Vec<String> = vars.args().to_strings();
        let created_by = config_step::created_by(&step.original, run_argv.as_deref(), &run_args);
        let content = match &inst {
            Instruction::Copy(c) | Instruction::Add(c) => {
                let add = matches!(inst, Instruction::Add(_));
                self.content_key(c, add)
                    .map_err(|e| fail(e.to_string(), None))?
            }
            _ => String::new(),
        };
        let run_env = vars.run_env().to_strings();
        let key = Digest::of(format!("{inst:?}\n{run_env:?}\n{content}").as_bytes()).to_string();
        if self.opts.layers && !self.opts.no_cache {
            if let Some(hit) = self.cached(&cur.image.id, &key)? {
                out.line(&format!("--> Using cache {}", hit.id));
                *cur = Cur::of(self.store, hit)?;
                self.cache_hits += 1;
                return Ok(());
            }
        }
        let history = commit::Step {
            created: self.created(),
            created_by: Some(created_by),
            ..Default::default()
        };
        // The working container's changes as a layer on the stage's current top layer.
        let commit = |work: &Work<'_>, cur: &Cur| {
            work.commit(LayerSpec {
                parent: cur.draft.top_chain(),
                compression: self.opts.compression,
                timestamp: self.opts.timestamp,
            })
            .map_err(|e| fail(e.to_string(), None))
        };
        let spec = WorkSpec {
            image: cur.image.id.clone(),
            user: config.user.clone().unwrap_or_default(),
            workdir: config
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            env: run_env,
            network: self.opts.network.clone(),
        };
        match &inst {
            Instruction::Run(r) => {
                if !r.mounts.is_empty() {
                    return Err(fail(
                        "RUN --mount is not supported by nook build yet: copy what the command needs with COPY".into(),
                        None,
                    ));
                }
                let spec = WorkSpec {
                    network: match r.network {
                        Some(RunNetwork::None) => NetworkMode::None,
                        Some(RunNetwork::Host) => NetworkMode::Host,
                        _ => spec.network,
                    },
                    ..spec
                };
                let argv = run_argv.unwrap_or_default();
                let work = Work::create(self.store, &spec, argv, self.progress)
                    .map_err(|e| fail(e.to_string(), None))?;
                match work.run().map_err(|e| fail(e.to_string(), None))? {
                    Ok(0) => {}
                    Ok(code) => {
                        return Err(fail(
                            format!("while running runtime: exit status {code}"),
                            Some(code),
                        ))
                    }
                    Err((code, message)) => return Err(fail(message, Some(code))),
                }
                let layer = commit(&work, cur)?;
                cur.draft.add_layer(&layer, history);
            }
            Instruction::Copy(c) | Instruction::Add(c) => {
                let add = matches!(inst, Instruction::Add(_));
                let from = match &c.from {
                    Some(f) => Some(
                        self.copy_source_image(f)
                            .map_err(|e| fail(e.to_string(), None))?,
                    ),
                    None => None,
                };
                let work = Work::create(self.store, &spec, vec!["/bin/sh".into()], self.progress)
                    .map_err(|e| fail(e.to_string(), None))?;
                let cwd = spec.workdir.clone();
                work.with_rootfs(|root| {
                    let place = Placement::new(root, c, &cwd)?;
                    match &from {
                        None => {
                            let downloads: Vec<&Download> = remote_sources(c, add)
                                .filter_map(|u| self.downloads.get(u))
                                .collect();
                            copy_from_context(root, self.ctx, c, add, &downloads, &place)
                        }
                        Some(img) => {
                            let src = Work::create(
                                self.store,
                                &WorkSpec {
                                    image: img.id.clone(),
                                    ..spec.clone()
                                },
                                vec!["/bin/sh".into()],
                                self.progress,
                            )?;
                            src.with_rootfs(|from| copy_from_image(root, from, c, &place))
                        }
                    }
                })
                .map_err(|e| fail(e.to_string(), None))?;
                let layer = commit(&work, cur)?;
                cur.draft.add_layer(&layer, history);
            }
            Instruction::Workdir(_) => {
                config_step::apply(&mut cur.draft.config, &inst, cmd_set)
                    .map_err(|m| fail(m, None))?;
                let dir = cur
                    .draft
                    .config
                    .config
                    .working_dir
                    .clone()
                    .unwrap_or_default();
                let work = Work::create(self.store, &spec, vec!["/bin/sh".into()], self.progress)
                    .map_err(|e| fail(e.to_string(), None))?;
                work.with_rootfs(|root| mkdir_p(root, &dir))
                    .map_err(|e| fail(e.to_string(), None))?;
                let layer = commit(&work, cur)?;
                if layer.entries == 0 {
                    cur.draft.add_metadata_step(history);
                } else {
                    cur.draft.add_layer(&layer, history);
                }
            }
            _ => {
                config_step::apply(&mut cur.draft.config, &inst, cmd_set)
                    .map_err(|m| fail(m, None))?;
                cur.draft.add_metadata_step(history);
            }
        }
        let written = self.write(&cur.draft, false)?;
        let parent = cur.image.id.clone();
        let keep_key = self.opts.layers;
        let image = self
            .store
            .images()
            .update(&written.id, |r| {
                r.parent = Some(parent);
                if keep_key {
                    r.build_key = Some(key);
                }
                Ok::<(), crate::store::StoreError>(())
            })
            .map_err(ContainerError::from)?;
        self.intermediates.push(image.id.clone());
        cur.image = image;
        self.executed += 1;
        Ok(())
    }

    /// The image a `--from` names: a stage built before, or an image (pulled per `--pull`).
    fn copy_source_image(&self, from: &str) -> Result<ImageRecord, ContainerError> {
        if let Some(i) = self.stages.resolve(from) {
            if let Some(img) = self.built.get(&i) {
                return Ok(img.clone());
            }
        }
        resolve_image(
            self.store,
            from,
            self.opts.pull,
            &self.opts.pull_options,
            self.progress,
        )
    }

    /// What the cache must know of a COPY/ADD's sources beyond the instruction text: the
    /// context files' digest and the ADD URLs' bodies' (downloaded here, kept for the copy),
    /// or the `--from` image's id.
    fn content_key(&mut self, c: &Copy, add: bool) -> Result<String, BuildError> {
        if let Some(f) = &c.from {
            return Ok(format!("from {}", self.copy_source_image(f)?.id));
        }
        let paths: Vec<&str> = c
            .sources
            .iter()
            .filter_map(|s| match s {
                CopySource::Path(p) if !is_remote(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        let entries = self.ctx.select(&paths)?;
        let mut key = self.ctx.digest(&entries)?.to_string();
        for url in remote_sources(c, add) {
            if !self.downloads.contains_key(url) {
                let file = self
                    .store
                    .blobs()
                    .scratch_file()
                    .map_err(ContainerError::from)?;
                self.downloads
                    .insert(url.to_string(), Download::fetch(url, file)?);
            }
            if let Some(d) = self.downloads.get(url) {
                key.push_str(&format!(" {url}={}", d.digest));
            }
        }
        Ok(key)
    }
}
