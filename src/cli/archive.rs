//! `nook save` and `nook load` (also `image save|load`): their flags, where the archive goes
//! or comes from (a file, a directory for oci-dir, or stdout/stdin but never a terminal), and
//! Podman's output lines. The archive formats live in [`crate::image::archive`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::args::GlobalOptions;
use crate::engine::image as engine;
use crate::image::archive::{self, Format, LoadInput, SaveImage};
use crate::store::Store;

/// `--format` of `save`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaveFormat {
    /// The `docker save` layout (uncompressed layers)
    DockerArchive,
    /// An OCI image layout in a tar (original blobs, digests kept)
    OciArchive,
    /// An OCI image layout in a directory (original blobs, digests kept)
    OciDir,
}

impl From<SaveFormat> for Format {
    fn from(f: SaveFormat) -> Format {
        match f {
            SaveFormat::DockerArchive => Format::DockerArchive,
            SaveFormat::OciArchive => Format::OciArchive,
            SaveFormat::OciDir => Format::OciDir,
        }
    }
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Images to save (id, id prefix or name)
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file (a directory for oci-dir) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = SaveFormat::DockerArchive)]
    pub format: SaveFormat,
    /// Save several images in one archive
    #[arg(short = 'm', long)]
    pub multi_image_archive: bool,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this archive file or OCI layout directory instead of stdin
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

fn progress(quiet: bool) -> impl Fn(&str) {
    move |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    }
}

/// `nook save`.
pub fn save(global: &GlobalOptions, args: &SaveArgs) -> anyhow::Result<i32> {
    let store = Store::open(&super::store_options(global))?;
    let mut images: Vec<SaveImage> = Vec::new();
    for key in &args.images {
        let record = engine::find(&store, key)?;
        if !images.iter().any(|i| i.record.id == record.id) {
            images.push(SaveImage {
                names: record.names.clone(),
                record,
            });
        }
    }
    if images.len() > 1 && !args.multi_image_archive {
        anyhow::bail!(
            "{} different images given: saving more than one image in one archive needs --multi-image-archive (-m)",
            images.len()
        );
    }
    let progress = progress(args.quiet);
    let format = Format::from(args.format);
    match (format, &args.output) {
        (Format::OciDir, Some(dir)) => archive::save_to_dir(&store, &images, dir, &progress)?,
        (Format::OciDir, None) => {
            anyhow::bail!("--format oci-dir writes a directory: give it with -o DIR")
        }
        (_, Some(path)) => write_file(path, |out| {
            Ok(archive::save_to_writer(
                &store, &images, format, out, &progress,
            )?)
        })?,
        (_, None) => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                anyhow::bail!(
                    "refusing to write an image archive to a terminal: use -o FILE or redirect stdout"
                );
            }
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            archive::save_to_writer(&store, &images, format, &mut out, &progress)?;
            out.flush().context("writing the archive to stdout")?;
        }
    }
    Ok(0)
}

/// Writes `path` through a temporary file beside it, renamed into place only when complete.
/// A path that exists as anything but a regular file (`/dev/stdout`, a FIFO, a symlink) is
/// written in place instead: renaming over it would replace it.
fn write_file(
    path: &Path,
    f: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let in_place = std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file());
    if in_place {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        if file.is_terminal() {
            anyhow::bail!(
                "refusing to write an image archive to a terminal ({}): use -o FILE",
                path.display()
            );
        }
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        f(&mut out)?;
        return out
            .flush()
            .with_context(|| format!("writing {}", path.display()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.nook-tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> anyhow::Result<()> {
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        f(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `nook load`.
pub fn load(global: &GlobalOptions, args: &LoadArgs) -> anyhow::Result<i32> {
    let input = match &args.input {
        Some(p) => LoadInput::Path(p.clone()),
        None => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("no archive to load: use -i FILE or pipe an archive to stdin");
            }
            LoadInput::Reader(Box::new(std::io::stdin()))
        }
    };
    let store = Store::open(&super::store_options(global))?;
    let loaded = archive::load(&store, input, &progress(args.quiet))?;
    for img in loaded {
        if img.names.is_empty() {
            println!("Loaded image: sha256:{}", img.id);
        }
        for n in &img.names {
            println!("Loaded image: {n}");
        }
    }
    Ok(0)
}
