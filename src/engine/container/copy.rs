//! `nook cp` (both directions) and `nook export`, through a tar stream.
//!
//! The container side is its root filesystem (`<graphroot>/containers/<id>/merged`), mounted
//! for the duration of the copy when the container is not running ([`RootfsAccess`]); rootless,
//! this runs inside the keeper's user + mount namespace, where that mount lives and uid 0 is
//! the container's root. Every path inside the container is resolved with
//! `openat2(RESOLVE_IN_ROOT)`, so `..` and symlinks (absolute or relative) resolve as if the
//! container root were `/`: a symlink planted in the container can never make nook read or
//! write a host file. Below the resolved top, the tree is walked through directory fds with
//! `O_NOFOLLOW` ([`TarWalker`]): symlinks are archived as symlinks, never followed.
//!
//! Writing into the container unpacks the stream with the layer applier
//! ([`crate::image::layer::apply::apply_tar`]), rooted at the resolved destination directory,
//! so entries and their symlinks cannot leave it either. Ownership: files copied in belong to
//! the container's root (0:0), files copied out to the calling user (as `docker cp`); `export`
//! keeps the container's owners. A running (or paused) container is reached as it sees itself,
//! through `/proc/<pid>/root` ([`RootfsAccess::open_live`]): its volumes and tmpfs mounts live
//! in its own mount namespace and `cp` reads and writes them as the container would. Limit:
//! files named `.wh.*` copied in are taken as overlay whiteouts by the applier.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, AtFlags, OFlag, ResolveFlag};
use nix::sys::stat::{fstatat, Mode};

use super::start::{driver_kind, layer_dirs};
use super::{lifecycle, load_config, ContainerError};
use crate::image::layer::apply::{apply_tar, ApplyOptions};
use crate::image::layer::fsops;
use crate::rootfs::{self, DriverKind};
use crate::store::{ContainerState, Store};

/// One side of `nook cp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path on the host.
    Host(PathBuf),
    /// `CONTAINER:PATH`.
    Container { key: String, path: String },
    /// `-`: a tar stream on stdin or stdout.
    Stream,
}

impl Location {
    /// Parses `-`, `CONTAINER:PATH` (the part before the first `:` holds no `/`), or a host
    /// path (write `./a:b` for a host file whose name holds a colon).
    pub fn parse(text: &str) -> Location {
        if text == "-" {
            return Location::Stream;
        }
        match text.split_once(':') {
            Some((key, path)) if !key.is_empty() && !key.contains('/') => Location::Container {
                key: key.to_string(),
                path: if path.is_empty() {
                    "/".into()
                } else {
                    path.to_string()
                },
            },
            _ => Location::Host(PathBuf::from(text)),
        }
    }
}

fn other(msg: String) -> ContainerError {
    ContainerError::Other(msg)
}

fn io_ctx(what: impl std::fmt::Display) -> impl FnOnce(io::Error) -> ContainerError {
    move |e| other(format!("{what}: {e}"))
}

/// The container's root filesystem, mounted while this lives if it was not already.
pub struct RootfsAccess<'s> {
    store: &'s Store,
    id: String,
    pub path: PathBuf,
    mounted_here: Option<DriverKind>,
}

impl<'s> RootfsAccess<'s> {
    /// The container's root as its processes see it when it runs (`/proc/<pid>/root`, with
    /// its volumes and tmpfs mounts), else its mounted root filesystem ([`Self::open`]).
    pub fn open_live(store: &'s Store, key: &str) -> Result<RootfsAccess<'s>, ContainerError> {
        let rec = lifecycle::get(store, key)?;
        if let (ContainerState::Running | ContainerState::Paused, Some(pid)) = (rec.state, rec.pid)
        {
            let path = PathBuf::from(format!("/proc/{pid}/root"));
            if path.join(".").is_dir() {
                return Ok(RootfsAccess {
                    store,
                    id: rec.id,
                    path,
                    mounted_here: None,
                });
            }
        }
        RootfsAccess::open(store, &rec.id)
    }

    /// Mounts (if needed) the root filesystem of container `key`.
    pub fn open(store: &'s Store, key: &str) -> Result<RootfsAccess<'s>, ContainerError> {
        let rec = lifecycle::get(store, key)?;
        let config = load_config(&rec)?;
        let kind = driver_kind(&config, store)?;
        let merged = rootfs::merged_dir(&store.paths().container_dir(&rec.id));
        let was_mounted = rootfs::mounts::is_mount_point(&merged).unwrap_or(false);
        let path = rootfs::mount(kind, store, &rec.id, &layer_dirs(store, &rec)?)
            .map_err(|e| other(e.to_string()))?;
        Ok(RootfsAccess {
            store,
            id: rec.id,
            path,
            mounted_here: (!was_mounted).then_some(kind),
        })
    }
}

impl Drop for RootfsAccess<'_> {
    fn drop(&mut self) {
        let Some(kind) = self.mounted_here else {
            return;
        };
        // A container started meanwhile uses the mount: leave it to its monitor.
        let running = self
            .store
            .containers()
            .get(&self.id)
            .is_ok_and(|r| matches!(r.state, ContainerState::Running | ContainerState::Paused));
        if !running {
            if let Err(e) = rootfs::unmount(kind, self.store, &self.id) {
                tracing::warn!("unmounting the root filesystem of {}: {e}", self.id);
            }
        }
    }
}

/// Writes a tree as tar entries, walking directory fds without following symlinks.
pub struct TarWalker<W: Write> {
    builder: tar::Builder<W>,
    /// Owners written as 0:0 (copying out to the calling user, or in to container root).
    zero_owner: bool,
    /// (dev, ino) of files with several links already archived, and their archive name.
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> TarWalker<W> {
    pub fn new(out: W, zero_owner: bool) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        TarWalker {
            builder,
            zero_owner,
            links: HashMap::new(),
        }
    }

    /// Archives `name` in `parent` (and, for a directory, everything below) as `arch`; an empty
    /// `arch` archives a directory's children at the top of the archive.
    pub fn add(&mut self, parent: BorrowedFd<'_>, name: &CStr, arch: &str) -> io::Result<()> {
        let st = fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        let (uid, gid) = if self.zero_owner {
            (0, 0)
        } else {
            (st.st_uid, st.st_gid)
        };
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                if !arch.is_empty() {
                    h.set_entry_type(tar::EntryType::Directory);
                    self.builder
                        .append_data(&mut h, format!("{arch}/"), io::empty())?;
                }
                let fd = openat(
                    parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let mut dir = nix::dir::Dir::from_fd(fd.try_clone()?)?;
                let mut names: Vec<CString> = dir
                    .iter()
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_owned())
                    .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
                    .collect();
                names.sort();
                for n in names {
                    let child = String::from_utf8_lossy(n.as_bytes()).into_owned();
                    let child_arch = if arch.is_empty() {
                        child
                    } else {
                        format!("{arch}/{child}")
                    };
                    self.add(fd.as_fd(), &n, &child_arch)?;
                }
            }
            libc::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        h.set_entry_type(tar::EntryType::Link);
                        return self.builder.append_link(&mut h, arch, first.clone());
                    }
                    self.links.insert(key, arch.to_string());
                }
                let fd = openat(
                    parent,
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                let file = std::fs::File::from(fd);
                // A file that shrank meanwhile is padded so the archive stays well formed.
                let data = file.take(st.st_size as u64).chain(io::repeat(0));
                self.builder
                    .append_data(&mut h, arch, data.take(st.st_size as u64))?;
            }
            libc::S_IFLNK => {
                let target = fsops::readlink_at(parent, name)?;
                h.set_entry_type(tar::EntryType::Symlink);
                let target = std::ffi::OsStr::from_bytes(&target);
                self.builder.append_link(&mut h, arch, target)?;
            }
            libc::S_IFIFO => {
                h.set_entry_type(tar::EntryType::Fifo);
                self.builder.append_data(&mut h, arch, io::empty())?;
            }
            kind @ (libc::S_IFCHR | libc::S_IFBLK) => {
                h.set_entry_type(if kind == libc::S_IFCHR {
                    tar::EntryType::Char
                } else {
                    tar::EntryType::Block
                });
                h.set_device_major(libc::major(st.st_rdev))?;
                h.set_device_minor(libc::minor(st.st_rdev))?;
                self.builder.append_data(&mut h, arch, io::empty())?;
            }
            // Sockets have no tar form.
            _ => {}
        }
        Ok(())
    }

    /// Writes the end-of-archive blocks.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

/// A path inside the container split into its parent's components and its last name (`None`
/// for the root itself).
fn split_in_root(path: &str) -> Result<(fsops::Components, Option<Vec<u8>>), ContainerError> {
    let mut comps = fsops::clean(path.as_bytes(), true)
        .ok_or_else(|| other(format!("invalid path \"{path}\" in the container")))?;
    let last = comps.pop();
    Ok((comps, last))
}

fn cstr(bytes: &[u8]) -> Result<CString, ContainerError> {
    fsops::cstring(bytes).map_err(io_ctx("path"))
}

/// `/.` at the end: copy a directory's contents rather than the directory.
fn contents_only(path: &str) -> bool {
    path.ends_with("/.") || path == "."
}

/// The source inside the container, opened: its parent directory fd and its name (`.` for the
/// root, or for a path ending in `/` or `/.`, which names the directory a symlink points to),
/// and whether it is a directory. A symlink at the end is otherwise the link itself.
fn open_source(root: &Path, path: &str) -> Result<(OwnedFd, CString, bool), ContainerError> {
    let root_fd = fsops::open_root(root).map_err(io_ctx(root.display()))?;
    let (parent, last) = if path.ends_with('/') || contents_only(path) {
        (
            fsops::clean(path.as_bytes(), true).unwrap_or_default(),
            None,
        )
    } else {
        split_in_root(path)?
    };
    let dir = fsops::open_dir_in_root(root_fd.as_fd(), &parent, ResolveFlag::empty())
        .map_err(|e| other(format!("could not find \"{path}\" in the container: {e}")))?;
    let name = match last {
        Some(n) => cstr(&n)?,
        None => CString::from(c"."),
    };
    let st = fstatat(dir.as_fd(), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| other(format!("could not find \"{path}\" in the container: {e}")))?;
    Ok((dir, name, st.st_mode & libc::S_IFMT == libc::S_IFDIR))
}

fn basename(path: &str) -> String {
    let comps = fsops::clean(path.as_bytes(), true).unwrap_or_default();
    comps
        .last()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default()
}

/// Where a tree lands: the directory to unpack in and the top name inside it (empty: the
/// source's contents go straight into the directory). Docker's rules: into an existing
/// directory under the source's name; else as the destination's own name in its parent.
fn placement(
    dest_is_dir: Option<bool>,
    dest: &str,
    src: &str,
    src_is_dir: bool,
) -> Result<(String, String), ContainerError> {
    let dest_trimmed = dest.trim_end_matches('/');
    let parent = match dest_trimmed.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => dest_trimmed[..i].to_string(),
        None => ".".to_string(),
    };
    let dest_name = basename(dest);
    match dest_is_dir {
        Some(true) if src_is_dir && contents_only(src) => Ok((dest.to_string(), String::new())),
        Some(true) => {
            let name = basename(src);
            Ok((dest.to_string(), name))
        }
        Some(false) if src_is_dir => Err(other(format!(
            "cannot copy a directory to \"{dest}\": it is a file"
        ))),
        Some(false) => Ok((parent, dest_name)),
        None if dest.ends_with('/') && !src_is_dir => Err(other(format!(
            "destination directory \"{dest}\" does not exist"
        ))),
        None if dest_name.is_empty() => Ok((dest.to_string(), String::new())),
        None => Ok((parent, dest_name)),
    }
}

/// Archives `src` of the container to `out` as `top` (see [`TarWalker::add`]).
pub(crate) fn archive_from_container(
    root: &Path,
    src: &str,
    top: &str,
    zero_owner: bool,
    out: impl Write,
) -> Result<(), ContainerError> {
    let (dir, name, _) = open_source(root, src)?;
    let mut w = TarWalker::new(out, zero_owner);
    w.add(dir.as_fd(), &name, top)
        .and_then(|()| w.finish().map(drop))
        .map_err(io_ctx(format!("archiving \"{src}\" of the container")))
}

/// Opens a host path's parent and returns it with the path's name.
fn open_host(path: &Path) -> Result<(OwnedFd, CString, bool), ContainerError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = match path.file_name() {
        Some(n) => cstr(OsStrExt::as_bytes(n))?,
        None => CString::from(c"."),
    };
    let dir = fsops::open_root(&parent).map_err(io_ctx(parent.display()))?;
    let st = fstatat(dir.as_fd(), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| other(format!("{}: {e}", path.display())))?;
    Ok((dir, name, st.st_mode & libc::S_IFMT == libc::S_IFDIR))
}

/// Unpacks `tar` into directory `dest` (already resolved; the applier treats it as its root).
pub(crate) fn unpack(
    tar: impl Read,
    dest: BorrowedFd<'_>,
    what: &str,
) -> Result<(), ContainerError> {
    let at = PathBuf::from(format!("/proc/self/fd/{}", dest.as_raw_fd()));
    let report = apply_tar(tar, &at, &ApplyOptions::for_current_process())
        .map_err(|e| other(format!("{what}: {e}")))?;
    for note in report.skipped.iter().chain(&report.unmapped) {
        tracing::warn!("{what}: {note}");
    }
    Ok(())
}

/// Streams what `produce` writes into `consume` through a pipe and a thread.
pub(crate) fn pipe_through(
    produce: impl FnOnce(std::fs::File) -> Result<(), ContainerError> + Send,
    consume: impl FnOnce(std::fs::File) -> Result<(), ContainerError>,
) -> Result<(), ContainerError> {
    let (reader, writer) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| other(format!("creating a pipe: {e}")))?;
    let (reader, writer) = (std::fs::File::from(reader), std::fs::File::from(writer));
    std::thread::scope(|s| {
        let producer = s.spawn(move || produce(writer));
        let consumed = consume(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(other("the archiving thread panicked".into())));
        produced.and(consumed)
    })
}

/// The container side's destination directory, resolved in its root.
pub(crate) fn open_container_dir(root: &Path, path: &str) -> Result<OwnedFd, ContainerError> {
    let root_fd = fsops::open_root(root).map_err(io_ctx(root.display()))?;
    let comps = fsops::clean(path.as_bytes(), true).unwrap_or_default();
    fsops::open_dir_in_root(root_fd.as_fd(), &comps, ResolveFlag::empty())
        .map_err(|e| other(format!("\"{path}\" in the container: {e}")))
}

/// Whether `path` in the container is a directory, something else, or absent (`None`),
/// following symlinks inside the container root (a destination is written through them).
pub(crate) fn container_kind(root: &Path, path: &str) -> Option<bool> {
    let root_fd = fsops::open_root(root).ok()?;
    let comps = fsops::clean(path.as_bytes(), true).unwrap_or_default();
    match fsops::open_dir_in_root(root_fd.as_fd(), &comps, ResolveFlag::empty()) {
        Ok(_) => Some(true),
        Err(nix::errno::Errno::ENOTDIR) => Some(false),
        Err(_) => None,
    }
}

/// `nook cp SRC DEST`.
pub fn copy(
    store: &Store,
    src: &Location,
    dest: &Location,
    stdin: impl Read,
    stdout: impl Write + Send,
) -> Result<(), ContainerError> {
    match (src, dest) {
        (Location::Container { key, path }, Location::Host(host)) => {
            let access = RootfsAccess::open_live(store, key)?;
            let src_is_dir = open_source(&access.path, path)?.2;
            let host_text = host.to_string_lossy().into_owned();
            let kind = std::fs::symlink_metadata(host).ok().map(|m| m.is_dir());
            let (dir, top) = placement(kind, &host_text, path, src_is_dir)?;
            if kind.is_none() && top.is_empty() {
                std::fs::create_dir_all(&dir).map_err(io_ctx(&dir))?;
            }
            let dest_fd = fsops::open_root(Path::new(&dir)).map_err(io_ctx(&dir))?;
            let root = access.path.clone();
            pipe_through(
                |w| archive_from_container(&root, path, &top, true, w),
                |r| unpack(r, dest_fd.as_fd(), &format!("copying to {dir}")),
            )
        }
        (Location::Host(host), Location::Container { key, path }) => {
            let (parent, name, src_is_dir) = open_host(host)?;
            let access = RootfsAccess::open_live(store, key)?;
            let kind = container_kind(&access.path, path);
            let src_text = host.to_string_lossy().into_owned();
            let (dir, top) = placement(kind, path, &src_text, src_is_dir)?;
            let dest_fd = open_container_dir(&access.path, &dir)?;
            pipe_through(
                |w| {
                    let mut walker = TarWalker::new(w, true);
                    walker
                        .add(parent.as_fd(), &name, &top)
                        .and_then(|()| walker.finish().map(drop))
                        .map_err(io_ctx(format!("archiving {src_text}")))
                },
                |r| unpack(r, dest_fd.as_fd(), &format!("copying into {key}:{dir}")),
            )
        }
        (Location::Stream, Location::Container { key, path }) => {
            let access = RootfsAccess::open_live(store, key)?;
            if container_kind(&access.path, path) != Some(true) {
                return Err(other(format!(
                    "destination \"{path}\" must be a directory in the container when copying from stdin"
                )));
            }
            let dest_fd = open_container_dir(&access.path, path)?;
            unpack(
                stdin,
                dest_fd.as_fd(),
                &format!("copying into {key}:{path}"),
            )
        }
        (Location::Container { key, path }, Location::Stream) => {
            let access = RootfsAccess::open_live(store, key)?;
            let top = if contents_only(path) {
                String::new()
            } else {
                basename(path)
            };
            archive_from_container(&access.path, path, &top, false, stdout)
        }
        (Location::Container { .. }, Location::Container { .. }) => Err(other(
            "copying between containers is not supported: copy to the host first".into(),
        )),
        _ => Err(other(
            "one of SRC and DEST must be a container path (CONTAINER:PATH)".into(),
        )),
    }
}

/// `nook export`: the container's whole root filesystem as a tar stream to `out`, owners kept.
pub fn export(store: &Store, key: &str, out: impl Write) -> Result<(), ContainerError> {
    let access = RootfsAccess::open(store, key)?;
    archive_from_container(&access.path, "/", "", false, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_like_podman() {
        assert_eq!(Location::parse("-"), Location::Stream);
        assert_eq!(
            Location::parse("web:/etc/hosts"),
            Location::Container {
                key: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(
            Location::parse("web:"),
            Location::Container {
                key: "web".into(),
                path: "/".into()
            }
        );
        assert_eq!(Location::parse("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(Location::parse("/tmp/x"), Location::Host("/tmp/x".into()));
    }

    #[test]
    fn placement_follows_docker_cp_rules() {
        let p = |k, d: &str, s: &str, dir| placement(k, d, s, dir).map_err(|e| e.to_string());
        assert_eq!(
            p(Some(true), "/tmp", "/etc/hosts", false),
            Ok(("/tmp".into(), "hosts".into()))
        );
        assert_eq!(
            p(None, "/tmp/new", "/etc/hosts", false),
            Ok(("/tmp".into(), "new".into()))
        );
        assert_eq!(
            p(Some(false), "/tmp/f", "/etc/hosts", false),
            Ok(("/tmp".into(), "f".into()))
        );
        assert_eq!(
            p(Some(true), "/d", "/etc/.", true),
            Ok(("/d".into(), String::new()))
        );
        assert_eq!(p(None, "/d", "/etc", true), Ok(("/".into(), "d".into())));
        assert!(p(Some(false), "/f", "/etc", true).is_err());
        assert!(p(None, "/nope/", "/etc/hosts", false).is_err());
    }

    #[test]
    fn a_tree_with_a_symlink_out_round_trips_without_following_it() {
        let t = tempfile::tempdir().expect("tempdir");
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("sub")).expect("mkdir");
        std::fs::write(src.join("sub/f"), b"hello").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", src.join("escape")).expect("symlink");
        let (parent, name, is_dir) = open_host(&src).expect("open");
        assert!(is_dir);
        let mut buf = Vec::new();
        let mut w = TarWalker::new(&mut buf, true);
        w.add(parent.as_fd(), &name, "copy").expect("archive");
        w.finish().expect("finish");
        let mut names = Vec::new();
        for e in tar::Archive::new(&buf[..]).entries().expect("entries") {
            let e = e.expect("entry");
            names.push((
                e.path().expect("path").display().to_string(),
                e.header().entry_type(),
            ));
        }
        assert!(
            names.contains(&("copy/escape".into(), tar::EntryType::Symlink)),
            "{names:?}"
        );
        assert!(
            names.contains(&("copy/sub/f".into(), tar::EntryType::Regular)),
            "{names:?}"
        );
        let dest = t.path().join("dest");
        std::fs::create_dir(&dest).expect("mkdir dest");
        let fd = fsops::open_root(&dest).expect("open dest");
        unpack(&buf[..], fd.as_fd(), "test").expect("unpack");
        assert_eq!(
            std::fs::read(dest.join("copy/sub/f")).expect("read"),
            b"hello"
        );
        let link = std::fs::read_link(dest.join("copy/escape")).expect("link");
        assert_eq!(link, Path::new("/etc/passwd"));
    }
}
