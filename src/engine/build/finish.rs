//! The end of a build: the final image's layers as `--squash`, `--squash-all` and
//! `--layers=false` want them, its labels, annotations and names (the COMMIT lines), and with
//! `--layers=false` the step images removed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::stage::{commit_err, short, Builder};
use super::work::{Work, WorkSpec};
use super::{BuildError, Out};
use crate::engine::container::config::NetworkMode;
use crate::engine::container::ContainerError;
use crate::image::commit::ImageDraft;
use crate::image::install::layer_diff_dir;
use crate::store::ImageRecord;

/// What the final image's layers become.
enum Squash {
    /// All of them into one (`--squash-all`).
    All,
    /// The layers the final stage added into one on the base image's (`--squash`,
    /// `--layers=false`).
    OnBase(ImageRecord),
}

impl Builder<'_> {
    /// What `--squash`, `--squash-all` and `--layers=false` make of the final image's layers;
    /// None when they stay as they are (also when the stage added at most one layer).
    fn squash_mode(&self, image: &ImageRecord) -> Option<Squash> {
        let opts = self.opts;
        if opts.squash_all {
            return Some(Squash::All);
        }
        if !opts.squash && opts.layers {
            return None;
        }
        let base = self.final_base.clone()?;
        (image.layers.len() > base.layers.len() + 1 && image.layers.starts_with(&base.layers))
            .then_some(Squash::OnBase(base))
    }

    /// Commits the final image's root filesystem as one layer over the base's layers (none for
    /// [`Squash::All`]) into `draft`; the history entries of the squashed steps become
    /// `empty_layer` except the last.
    fn squash(
        &self,
        image: &ImageRecord,
        how: Squash,
        draft: &mut ImageDraft,
    ) -> Result<(), BuildError> {
        let opts = self.opts;
        let base = match how {
            Squash::All => ImageDraft::scratch(),
            Squash::OnBase(base) => {
                ImageDraft::from_image(self.store, &base).map_err(commit_err)?
            }
        };
        let base_dirs: Vec<PathBuf> = base
            .chain
            .iter()
            .rev()
            .map(|c| layer_diff_dir(self.store, c.hex()))
            .collect();
        let work = Work::create(
            self.store,
            &WorkSpec {
                image: image.id.clone(),
                user: String::new(),
                workdir: "/".into(),
                env: Vec::new(),
                network: NetworkMode::None,
            },
            vec!["/bin/sh".into()],
            self.progress,
        )?;
        let layer = work.commit_tree(
            base.top_chain(),
            &base_dirs,
            opts.compression,
            opts.timestamp,
        )?;
        draft.layers = base.layers.clone();
        draft.layers.push(layer.descriptor.clone());
        draft.chain = base.chain.clone();
        draft.chain.push(layer.chain_id.clone());
        draft.config.rootfs.diff_ids = base.config.rootfs.diff_ids.clone();
        draft.config.rootfs.diff_ids.push(layer.diff_id.clone());
        let kept = base.config.history.len();
        let squashed = draft.config.history.len().saturating_sub(kept);
        for h in draft.config.history.iter_mut().skip(kept) {
            h.empty_layer = true;
        }
        if squashed > 0 {
            if let Some(last) = draft.config.history.last_mut() {
                last.empty_layer = false;
            }
        }
        Ok(())
    }

    /// With `--layers=false` nothing of the build is kept but its result: the images the
    /// steps wrote go, and the layers only they used.
    pub fn remove_intermediates(&self, keep: &ImageRecord) {
        if self.opts.layers {
            return;
        }
        let images = self.store.images();
        let mut removed = Vec::new();
        for id in self.intermediates.iter().filter(|id| **id != keep.id) {
            match images.get(id) {
                Ok(rec) if rec.names.is_empty() => match images.remove(id) {
                    Ok(_) => removed.push(rec),
                    Err(e) => tracing::warn!("removing the intermediate image {id}: {e}"),
                },
                _ => {}
            }
        }
        if let Err(e) = crate::engine::image::collect_garbage(self.store, &removed) {
            tracing::warn!("removing the layers of intermediate images: {e}");
        }
    }

    /// The final image: `--squash`/`--squash-all`/`--layers=false`, `--label`s and the names;
    /// prints the COMMIT lines.
    pub fn finish(
        &mut self,
        image: ImageRecord,
        out: &mut Out<'_>,
    ) -> Result<ImageRecord, BuildError> {
        let opts = self.opts;
        out.line(&format!(
            "COMMIT {}",
            opts.names.first().map(String::as_str).unwrap_or("")
        ));
        let squash = self.squash_mode(&image);
        let image = if squash.is_some() || !opts.labels.is_empty() || !opts.annotations.is_empty() {
            let mut draft = ImageDraft::from_image(self.store, &image).map_err(commit_err)?;
            if let Some(how) = squash {
                self.squash(&image, how, &mut draft)?;
            }
            if !opts.labels.is_empty() {
                let labels = draft.config.config.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in &opts.labels {
                    labels.insert(k.clone(), v.clone());
                }
            }
            self.write(&draft, true)?
        } else if opts.names.is_empty() {
            image
        } else {
            crate::engine::image::tag(self.store, &image.id, &opts.names)
                .map_err(|e| ContainerError::Other(e.to_string()))?
        };
        out.line(&format!("--> {}", short(&image.id)));
        for n in &opts.names {
            out.line(&format!("Successfully tagged {n}"));
        }
        Ok(image)
    }
}
