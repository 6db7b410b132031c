//! COPY and ADD into a working container's mounted root filesystem.
//!
//! The sources become one tar stream (context files through [`Context::select`], heredocs,
//! ADD URLs fetched, or for `--from` a tree of the source image's mounted root), with owners
//! 0:0 or `--chown`'s ids and `--chmod`'s bits, unpacked by the layer applier rooted at the
//! destination directory (resolved inside the container root, so no symlink in the image can
//! send a file to the host). Destination rules are Docker's: a destination ending in `/`, an
//! existing directory, several sources or a directory source take the sources *into* it
//! (created with its missing parents); a single file source otherwise takes the destination's
//! name. ADD extracts local tar archives (plain, gzip, zstd) into the destination directory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::Path;

use crate::build::containerfile::{is_remote, Copy, CopySource};
use crate::build::context::{Context, EntryKind};
use crate::engine::container::copy::{
    archive_from_container, container_kind, open_container_dir, pipe_through, unpack,
};
use crate::engine::container::etc_files::resolve_user;
use crate::engine::container::start::read_in_root;
use crate::engine::container::ContainerError;
use crate::image::digest::{Digest, DigestWriter};
use crate::image::layer::fsops;

use super::config_step::workdir;

fn other(m: String) -> ContainerError {
    ContainerError::Other(m)
}

/// Where a COPY lands and with what owner and mode.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The destination, absolute.
    pub dest: String,
    /// The destination names a directory (`/` at the end, `.`).
    pub dir_hint: bool,
    pub owner: (u64, u64),
    pub chmod: Option<u32>,
}

impl Placement {
    /// Resolves `copy.dest` against `cwd`, `--chown` against the image's passwd and group
    /// files, and parses `--chmod`.
    pub fn new(root: &Path, copy: &Copy, cwd: &str) -> Result<Placement, ContainerError> {
        let d = copy.dest.as_str();
        let dir_hint = d.ends_with('/') || d == "." || d.ends_with("/.") || d == "..";
        let owner = match &copy.chown {
            None => (0, 0),
            Some(spec) => {
                let passwd = read_in_root(root, "/etc/passwd").unwrap_or_default();
                let group = read_in_root(root, "/etc/group").unwrap_or_default();
                let u = resolve_user(spec, &passwd, &group, &[])
                    .map_err(|e| other(format!("--chown={spec}: {e}")))?;
                (u64::from(u.uid), u64::from(u.gid))
            }
        };
        let chmod = match &copy.chmod {
            None => None,
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|v| *v <= 0o7777)
                    .ok_or_else(|| {
                        other(format!(
                            "--chmod={m}: expected octal permission bits such as 0644"
                        ))
                    })?,
            ),
        };
        Ok(Placement {
            dest: workdir(Some(cwd), d),
            dir_hint,
            owner,
            chmod,
        })
    }

    fn header(&self, mode: u32, kind: tar::EntryType, size: u64, mtime: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(self.chmod.unwrap_or(mode & 0o7777));
        h.set_uid(self.owner.0);
        h.set_gid(self.owner.1);
        h.set_size(size);
        h.set_mtime(mtime);
        h
    }

    /// The directory to unpack in and, for a single file, the name it takes.
    fn target(&self, root: &Path, single_file: bool) -> (String, Option<String>) {
        if single_file && !self.dir_hint && container_kind(root, &self.dest) != Some(true) {
            let (parent, name) = self.dest.rsplit_once('/').unwrap_or(("", &self.dest));
            let parent = if parent.is_empty() { "/" } else { parent };
            return (parent.to_string(), Some(name.to_string()));
        }
        (self.dest.clone(), None)
    }
}

/// Creates `path` (absolute, inside `root`) and its missing parents, following symlinks
/// inside the root only.
pub fn mkdir_p(root: &Path, path: &str) -> Result<(), ContainerError> {
    let root_fd = fsops::open_root(root).map_err(|e| other(format!("{}: {e}", root.display())))?;
    let comps = fsops::clean(path.as_bytes(), true).unwrap_or_default();
    for i in 0..comps.len() {
        let parent = fsops::open_dir_in_root(
            root_fd.as_fd(),
            &comps[..i],
            nix::fcntl::ResolveFlag::empty(),
        )
        .map_err(|e| other(format!("creating {path}: {e}")))?;
        let name = fsops::cstring(&comps[i]).map_err(|e| other(format!("{path}: {e}")))?;
        fsops::mkdir_if_missing(parent.as_fd(), &name)
            .map_err(|e| other(format!("creating {path} in the image: {e}")))?;
    }
    Ok(())
}

/// An ADD URL's body, downloaded once per build into an anonymous file; its digest is part
/// of the step's cache key (like Docker and Buildah, a changed remote file rebuilds).
pub struct Download {
    /// The file name the URL gives (its last path segment, else `download`).
    pub name: String,
    pub size: u64,
    pub digest: Digest,
    file: File,
}

impl Download {
    /// GETs `url` into `into` (an empty read-write file).
    pub fn fetch(url: &str, into: File) -> Result<Download, ContainerError> {
        if url.starts_with("git@") {
            return Err(other(format!(
                "ADD {url}: git repositories are not supported by nook build: clone it into the context and COPY it"
            )));
        }
        let name = url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .unwrap_or("download")
            .to_string();
        let resp = ureq::get(url)
            .call()
            .map_err(|e| other(format!("ADD {url}: {e}")))?;
        let mut sink = DigestWriter::new(into);
        io::copy(&mut resp.into_body().into_reader(), &mut sink)
            .map_err(|e| other(format!("ADD {url}: reading the response: {e}")))?;
        let (digest, size, file) = sink.finish();
        Ok(Download {
            name,
            size,
            digest,
            file,
        })
    }

    /// The body from its start.
    fn reader(&self) -> io::Result<&File> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))?;
        Ok(f)
    }
}

/// The decompressed stream of a tar archive (plain, gzip, zstd), or `None` if `path` is not one.
fn archive_reader(path: &Path) -> Option<Box<dyn Read>> {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let f = std::fs::File::open(path).ok()?;
    if n >= 2 && head[..2] == [0x1f, 0x8b] {
        return Some(Box::new(flate2::read::MultiGzDecoder::new(f)));
    }
    if n >= 4 && head[..4] == [0x28, 0xb5, 0x2f, 0xfd] {
        return zstd::stream::read::Decoder::new(f)
            .ok()
            .map(|d| Box::new(d) as Box<dyn Read>);
    }
    if n >= 262 && &head[257..262] == b"ustar" {
        return Some(Box::new(f));
    }
    None
}

/// COPY/ADD from the build context (and heredocs, and ADD URLs: `downloads`, in source
/// order) into `root`.
pub fn copy_from_context(
    root: &Path,
    ctx: &Context,
    copy: &Copy,
    add: bool,
    downloads: &[&Download],
    place: &Placement,
) -> Result<(), ContainerError> {
    let ctx_err = |e: crate::build::context::ContextError| other(e.to_string());
    let paths: Vec<&str> = copy
        .sources
        .iter()
        .filter_map(|s| match s {
            CopySource::Path(p) if !(add && is_remote(p)) => Some(p.as_str()),
            _ => None,
        })
        .collect();
    let entries = ctx.select(&paths).map_err(ctx_err)?;
    let heredocs: Vec<_> = copy
        .sources
        .iter()
        .filter_map(|s| match s {
            CopySource::Heredoc(h) => Some(h),
            _ => None,
        })
        .collect();
    let one_path_file = paths.len() == 1
        && !paths[0].contains(['*', '?', '['])
        && !ctx.root().join(paths[0].trim_start_matches('/')).is_dir();
    let single_file =
        copy.sources.len() == 1 && (one_path_file || !downloads.is_empty() || !heredocs.is_empty());
    let (dir, rename) = place.target(root, single_file);
    mkdir_p(root, &dir)?;
    let dest_fd = open_container_dir(root, &dir)?;
    // ADD: local archives are extracted, not copied.
    let mut archives = Vec::new();
    let mut plain = Vec::new();
    for e in entries {
        let host = ctx.host_path(&e).map_err(ctx_err)?;
        match (&e.kind, add) {
            (EntryKind::File, true) => match archive_reader(&host) {
                Some(r) => archives.push((e.path.clone(), r)),
                None => plain.push((e, host)),
            },
            _ => plain.push((e, host)),
        }
    }
    let name_of = |n: &str| rename.clone().unwrap_or_else(|| n.to_string());
    pipe_through(
        |w| {
            let mut b = tar::Builder::new(w);
            let io_fail = |what: &str, e: io::Error| other(format!("COPY {what}: {e}"));
            for (e, host) in &plain {
                let mtime = std::fs::symlink_metadata(host)
                    .map(|m| std::os::unix::fs::MetadataExt::mtime(&m).max(0) as u64)
                    .unwrap_or(0);
                let name = name_of(&e.rel);
                match &e.kind {
                    EntryKind::Dir => {
                        let mut h = place.header(e.mode, tar::EntryType::Directory, 0, mtime);
                        b.append_data(&mut h, format!("{name}/"), io::empty())
                    }
                    EntryKind::Symlink(t) => {
                        let mut h = place.header(0o777, tar::EntryType::Symlink, 0, mtime);
                        b.append_link(&mut h, &name, t)
                    }
                    EntryKind::File => {
                        let f = std::fs::File::open(host).map_err(|err| io_fail(&e.path, err))?;
                        let size = f.metadata().map(|m| m.len()).unwrap_or(e.size);
                        let mut h = place.header(e.mode, tar::EntryType::Regular, size, mtime);
                        b.append_data(&mut h, &name, f.take(size).chain(io::repeat(0)).take(size))
                    }
                }
                .map_err(|err| io_fail(&e.path, err))?;
            }
            let now = 0;
            for h in &heredocs {
                let mut hd =
                    place.header(0o644, tar::EntryType::Regular, h.content.len() as u64, now);
                b.append_data(&mut hd, name_of(&h.name), h.content.as_bytes())
                    .map_err(|err| io_fail(&h.name, err))?;
            }
            for d in downloads {
                let mut hd = place.header(0o600, tar::EntryType::Regular, d.size, now);
                let body = d.reader().map_err(|err| io_fail(&d.name, err))?;
                b.append_data(&mut hd, name_of(&d.name), body.take(d.size))
                    .map_err(|err| io_fail(&d.name, err))?;
            }
            b.into_inner()
                .and_then(|mut w| w.flush())
                .map_err(|err| io_fail("the sources", err))
        },
        |r| unpack(r, dest_fd.as_fd(), &format!("copying into {dir}")),
    )?;
    for (path, reader) in archives {
        unpack(
            reader,
            dest_fd.as_fd(),
            &format!("extracting {path} into {dir}"),
        )?;
    }
    Ok(())
}

/// `COPY --from`: the sources from another image's mounted root `from` into `root`.
pub fn copy_from_image(
    root: &Path,
    from: &Path,
    copy: &Copy,
    place: &Placement,
) -> Result<(), ContainerError> {
    let sources: Vec<&str> = copy
        .sources
        .iter()
        .filter_map(|s| match s {
            CopySource::Path(p) => Some(p.as_str()),
            CopySource::Heredoc(_) => None,
        })
        .collect();
    for src in &sources {
        if src.contains(['*', '?', '[']) {
            return Err(other(format!(
                "COPY --from source \"{src}\": wildcards are not supported with --from yet; name the path"
            )));
        }
    }
    let src_is_dir = |s: &str| container_kind(from, s) == Some(true);
    let single_file = sources.len() == 1 && !src_is_dir(sources[0]);
    let (dir, rename) = place.target(root, single_file);
    mkdir_p(root, &dir)?;
    let dest_fd = open_container_dir(root, &dir)?;
    for src in sources {
        let (path, top) = if src_is_dir(src) {
            (format!("{}/", src.trim_end_matches('/')), String::new())
        } else {
            let base = src.rsplit('/').next().unwrap_or(src).to_string();
            (src.to_string(), rename.clone().unwrap_or(base))
        };
        let mut tar = Vec::new();
        archive_from_container(from, &path, &top, true, &mut tar)?;
        let tar = if place.owner != (0, 0) || place.chmod.is_some() {
            retag(&tar, place).map_err(|e| other(format!("COPY --from {src}: {e}")))?
        } else {
            tar
        };
        unpack(
            tar.as_slice(),
            dest_fd.as_fd(),
            &format!("copying {src} into {dir}"),
        )?;
    }
    Ok(())
}

/// The archive with every entry's owner (and with `--chmod`, mode) replaced.
fn retag(tar: &[u8], place: &Placement) -> io::Result<Vec<u8>> {
    let mut out = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(tar);
    for e in a.entries()? {
        let mut e = e?;
        let mut h = e.header().clone();
        h.set_uid(place.owner.0);
        h.set_gid(place.owner.1);
        if let (Some(m), false) = (place.chmod, h.entry_type().is_symlink()) {
            h.set_mode(m);
        }
        let path = e.path()?.into_owned();
        if h.entry_type().is_symlink() || h.entry_type().is_hard_link() {
            let target = e.link_name()?.map(|t| t.into_owned()).unwrap_or_default();
            out.append_link(&mut h, &path, target)?;
        } else {
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            out.append_data(&mut h, &path, data.as_slice())?;
        }
    }
    out.into_inner()
}
