//! The `large` fixture image for benchmarks: the busybox layer plus [`LARGE_LAYERS`] gzip
//! (level 1) layers of host files from /usr/lib and /usr/share, [`LARGE_BYTES`] in all.
//! Costs seconds (mostly compression and hashing), so it is built only when asked:
//! `rig.large()` or [`large`] directly from a bench harness.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Result};

use super::images::{busybox_layer_spec, config_json, fixture, push_image, Expect, ImageFixture};
use super::layer::{Compression, Flavor, Layer, LayerSpec, Node};
use super::registry::Http;

/// How much host data `large` carries, and in how many data layers.
pub const LARGE_BYTES: u64 = 120 << 20;
pub const LARGE_LAYERS: usize = 6;
/// Bigger host files are skipped so that every layer gets a share.
const LARGE_MAX_FILE: u64 = 8 << 20;

/// Builds and pushes `large:latest`: the busybox layer plus [`LARGE_LAYERS`] gzip (level 1)
/// layers of host files from /usr/lib and /usr/share, [`LARGE_BYTES`] of file data in all.
pub fn large(http: &Http, registry: &str) -> Result<ImageFixture> {
    let mut files = Vec::new();
    let mut total = 0;
    for root in ["/usr/lib", "/usr/share"] {
        collect_files(Path::new(root), &mut files, &mut total, LARGE_BYTES)?;
    }
    if total < 100 << 20 {
        bail!("large image: only {total} bytes of readable files under /usr/lib and /usr/share");
    }
    // Bucket by cumulative size; no file exceeds a bucket, so every bucket gets files.
    let mut specs = vec![LayerSpec::new(); LARGE_LAYERS];
    let mut before = 0u64;
    let mut expected = Vec::new();
    for (i, (path, node)) in files.into_iter().enumerate() {
        let bucket = ((before * LARGE_LAYERS as u64) / total) as usize;
        if let Node::File { mode, data } = &node {
            before += data.len() as u64;
            if i % 500 == 0 {
                expected.push((format!("/{path}"), Expect::file(*mode, data)));
            }
        }
        specs[bucket.min(LARGE_LAYERS - 1)]
            .entries
            .insert(path, node);
    }
    let mut layers = vec![Layer::build(&busybox_layer_spec()?, Compression::Gzip)?];
    // Compressing and hashing dominate (and are slow in debug builds): one thread per layer.
    let built: Vec<Result<Layer>> = std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| scope.spawn(move || Layer::build(spec, Compression::GzipFast)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| bail!("large image: a layer thread panicked"))
            })
            .collect()
    });
    for layer in built {
        layers.push(layer?);
    }
    let config = config_json("amd64", None, &layers, &["/bin/sh"]);
    let p = push_image(
        http,
        "large",
        Some("latest"),
        Flavor::Docker,
        &layers,
        &config,
    )?;
    Ok(fixture(
        registry,
        "large",
        "latest",
        Flavor::Docker,
        &layers,
        &p,
        expected,
    ))
}

/// Walks `dir` in sorted order collecting regular files and symlinks (unreadable ones
/// skipped) until `*total` reaches `limit`.
fn collect_files(
    dir: &Path,
    out: &mut Vec<(String, Node)>,
    total: &mut u64,
    limit: u64,
) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    names.sort();
    for path in names {
        if *total >= limit {
            return Ok(());
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let rel = path.to_string_lossy().trim_start_matches('/').to_string();
        if meta.file_type().is_symlink() {
            if let Ok(t) = std::fs::read_link(&path) {
                out.push((
                    rel,
                    Node::Symlink {
                        target: t.to_string_lossy().into_owned(),
                    },
                ));
            }
        } else if meta.is_dir() {
            collect_files(&path, out, total, limit)?;
        } else if meta.is_file() && meta.len() <= LARGE_MAX_FILE {
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            *total += data.len() as u64;
            out.push((
                rel,
                Node::File {
                    mode: meta.mode() & 0o755,
                    data,
                },
            ));
        }
    }
    Ok(())
}
