//! Where `load` reads an archive from: a tar file indexed once (member name → byte range, so
//! members are read in any order straight from the file), or an OCI layout directory.
//! Standard input and compressed archives are first spooled, decompressed, into an unlinked
//! temporary file. Member names that are absolute or contain `..` are refused while indexing;
//! symbolic and hard links between members (Docker's legacy layout uses them) are followed
//! inside the archive only.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::ArchiveError;
use crate::image::layer::compression::{decompress, Compression, Magic};

/// The largest JSON member (manifest.json, index.json, a manifest or config) read into memory.
pub const MAX_JSON: u64 = 16 << 20;

/// Links followed at most when resolving one member.
const MAX_LINKS: usize = 16;

/// An opened archive.
pub enum Source {
    Tar(TarIndex),
    Dir(PathBuf),
}

/// A tar archive's members.
pub struct TarIndex {
    file: Arc<File>,
    members: HashMap<String, Entry>,
}

#[derive(Debug, Clone)]
enum Entry {
    File {
        offset: u64,
        size: u64,
    },
    /// Symbolic link: target relative to the member's directory.
    Symlink(String),
    /// Hard link: target relative to the archive root.
    HardLink(String),
}

fn io_err<'a>(path: &'a str, what: &'static str) -> impl FnOnce(io::Error) -> ArchiveError + 'a {
    move |source| ArchiveError::Io {
        path: path.to_string(),
        what,
        source,
    }
}

impl Source {
    /// Opens `path`: a directory is an OCI layout; a file is a tar (plain or compressed).
    pub fn open_path(path: &Path) -> Result<Source, ArchiveError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(io_err(&shown, "opening the archive"))?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let file = File::open(path).map_err(io_err(&shown, "opening the archive"))?;
        let mut head = [0u8; 6];
        let n = file
            .read_at(&mut head, 0)
            .map_err(io_err(&shown, "reading the archive"))?;
        match Magic::of(&head[..n]) {
            Magic::Plain => Ok(Source::Tar(TarIndex::build(file, &shown)?)),
            _ => Source::spool(BufReader::with_capacity(1 << 20, file), &shown),
        }
    }

    /// Reads a tar (plain or compressed) from `reader` (standard input) via a temporary file.
    pub fn from_reader(reader: impl Read, shown: &str) -> Result<Source, ArchiveError> {
        Source::spool(BufReader::with_capacity(1 << 20, reader), shown)
    }

    fn spool(mut reader: impl BufRead, shown: &str) -> Result<Source, ArchiveError> {
        let head = reader
            .fill_buf()
            .map_err(io_err(shown, "reading the archive"))?;
        let magic = Magic::of(&head[..head.len().min(6)]);
        let compression = match magic {
            Magic::Plain => Compression::None,
            Magic::Gzip => Compression::Gzip,
            Magic::Zstd => Compression::Zstd,
            Magic::Empty => {
                return Err(ArchiveError::UnknownFormat {
                    archive: format!("{shown} (empty input)"),
                })
            }
            Magic::Xz | Magic::Bzip2 => {
                return Err(ArchiveError::Compression {
                    archive: shown.to_string(),
                    what: if magic == Magic::Xz { "xz" } else { "bzip2" },
                })
            }
        };
        let mut stream = decompress(reader, compression).map_err(|e| ArchiveError::Member {
            member: shown.to_string(),
            message: e.to_string(),
        })?;
        let mut spool = temp_file().map_err(io_err(shown, "creating a temporary file"))?;
        io::copy(&mut stream, &mut spool).map_err(io_err(shown, "reading the archive"))?;
        Ok(Source::Tar(TarIndex::build(spool, shown)?))
    }

    /// True when the archive has `member` (after following links).
    pub fn has(&self, member: &str) -> bool {
        self.size(member).is_ok()
    }

    /// The size of `member`; [`ArchiveError::Missing`] when absent.
    pub fn size(&self, member: &str) -> Result<u64, ArchiveError> {
        let name = clean_member(member)?;
        match self {
            Source::Tar(t) => t.resolve(&name).map(|(_, size)| size),
            Source::Dir(dir) => std::fs::metadata(dir.join(&name))
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .ok_or(ArchiveError::Missing { member: name }),
        }
    }

    /// A reader over `member`'s bytes.
    pub fn open(&self, member: &str) -> Result<Box<dyn Read + Send>, ArchiveError> {
        let name = clean_member(member)?;
        match self {
            Source::Tar(t) => {
                let (offset, size) = t.resolve(&name)?;
                Ok(Box::new(Section {
                    file: Arc::clone(&t.file),
                    pos: offset,
                    end: offset + size,
                }))
            }
            Source::Dir(dir) => match File::open(dir.join(&name)) {
                Ok(f) => Ok(Box::new(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(ArchiveError::Missing { member: name })
                }
                Err(source) => Err(ArchiveError::Io {
                    path: dir.join(&name).display().to_string(),
                    what: "opening archive member",
                    source,
                }),
            },
        }
    }

    /// Reads a small (JSON) member whole, refusing one over [`MAX_JSON`].
    pub fn read_small(&self, member: &str) -> Result<Vec<u8>, ArchiveError> {
        let size = self.size(member)?;
        if size > MAX_JSON {
            return Err(ArchiveError::Member {
                member: member.to_string(),
                message: format!("{size} bytes is too large for a manifest or config"),
            });
        }
        let mut out = Vec::with_capacity(size as usize);
        self.open(member)?
            .take(MAX_JSON)
            .read_to_end(&mut out)
            .map_err(|e| ArchiveError::Member {
                member: member.to_string(),
                message: e.to_string(),
            })?;
        Ok(out)
    }
}

impl TarIndex {
    fn build(file: File, shown: &str) -> Result<TarIndex, ArchiveError> {
        let mut members = HashMap::new();
        (&file)
            .seek(SeekFrom::Start(0))
            .map_err(io_err(shown, "reading the archive"))?;
        {
            let mut archive = tar::Archive::new(&file);
            let bad = |e: io::Error| ArchiveError::Member {
                member: shown.to_string(),
                message: format!("not a valid tar archive: {e}"),
            };
            for entry in archive.entries_with_seek().map_err(bad)? {
                let entry = entry.map_err(bad)?;
                let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let name = clean_member(&raw)?;
                let header = entry.header();
                let kind = header.entry_type();
                let link = || {
                    entry
                        .link_name_bytes()
                        .map(|l| String::from_utf8_lossy(&l).into_owned())
                        .unwrap_or_default()
                };
                let value = if kind.is_file() || kind == tar::EntryType::Continuous {
                    Entry::File {
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    }
                } else if kind.is_symlink() {
                    Entry::Symlink(link())
                } else if kind.is_hard_link() {
                    Entry::HardLink(link())
                } else {
                    continue;
                };
                if !name.is_empty() {
                    members.insert(name, value);
                }
            }
        }
        Ok(TarIndex {
            file: Arc::new(file),
            members,
        })
    }

    /// The byte range of `name`, following links inside the archive.
    fn resolve(&self, name: &str) -> Result<(u64, u64), ArchiveError> {
        let mut current = name.to_string();
        for _ in 0..MAX_LINKS {
            let next = match self.members.get(&current) {
                None => {
                    return Err(ArchiveError::Missing {
                        member: name.to_string(),
                    })
                }
                Some(Entry::File { offset, size }) => return Ok((*offset, *size)),
                Some(Entry::Symlink(target)) => {
                    let base = Path::new(&current).parent().unwrap_or(Path::new(""));
                    resolve_link(&base.join(target))
                }
                Some(Entry::HardLink(target)) => resolve_link(Path::new(target)),
            };
            current = next.ok_or_else(|| ArchiveError::Escape {
                member: name.to_string(),
            })?;
        }
        Err(ArchiveError::Member {
            member: name.to_string(),
            message: "too many levels of links".into(),
        })
    }
}

/// A member name as the index keys it: relative, `.` components dropped. Absolute names and
/// `..` anywhere are refused.
pub fn clean_member(raw: &str) -> Result<String, ArchiveError> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(raw).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::Escape {
                    member: raw.to_string(),
                })
            }
        }
    }
    Ok(parts.join("/"))
}

/// A link target resolved against the archive root; `None` when it climbs out.
fn resolve_link(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// A byte range of the archive file, read with `pread` (no shared cursor).
struct Section {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive file ends inside this member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// An unlinked temporary file in `$TMPDIR` (or `/var/tmp`): gone when closed.
fn temp_file() -> io::Result<File> {
    let dir = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let path = dir.join(format!(
        "nook-load-{}-{}",
        std::process::id(),
        crate::store::new_id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).expect("append");
        }
        for (name, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, name, target).expect("link");
        }
        b.into_inner().expect("finish")
    }

    fn source_of(bytes: &[u8]) -> Result<Source, ArchiveError> {
        Source::from_reader(bytes, "test.tar")
    }

    fn read_all(s: &Source, m: &str) -> Vec<u8> {
        let mut out = Vec::new();
        s.open(m)
            .expect("open")
            .read_to_end(&mut out)
            .expect("read");
        out
    }

    #[test]
    fn members_are_read_in_any_order_and_links_followed() {
        let bytes = tar_of(
            &[("./a/layer.tar", b"AAAA"), ("manifest.json", b"[]")],
            &[("b/layer.tar", "../a/layer.tar")],
        );
        let s = source_of(&bytes).expect("index");
        assert_eq!(read_all(&s, "manifest.json"), b"[]");
        assert_eq!(read_all(&s, "a/layer.tar"), b"AAAA");
        assert_eq!(read_all(&s, "b/layer.tar"), b"AAAA");
        assert_eq!(s.size("b/layer.tar").expect("size"), 4);
        assert!(matches!(
            s.open("c/layer.tar"),
            Err(ArchiveError::Missing { .. })
        ));
    }

    #[test]
    fn gzip_input_is_spooled() {
        use std::io::Write;
        let bytes = tar_of(&[("oci-layout", b"{}")], &[]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).expect("gzip");
        let s = source_of(&gz.finish().expect("gzip")).expect("index");
        assert!(s.has("oci-layout"));
    }

    #[test]
    fn escaping_members_and_links_are_refused() {
        assert!(matches!(
            clean_member("../etc/passwd"),
            Err(ArchiveError::Escape { .. })
        ));
        assert!(matches!(
            clean_member("/etc/passwd"),
            Err(ArchiveError::Escape { .. })
        ));
        assert_eq!(clean_member("./x/./y").expect("clean"), "x/y");
        let bytes = tar_of(&[("a", b"x")], &[("l", "../../outside")]);
        let s = source_of(&bytes).expect("index");
        let err = s.open("l").err().expect("escape");
        assert!(err.to_string().contains("\"l\" escapes"), "{err}");
    }

    #[test]
    fn garbage_and_empty_input_are_refused() {
        assert!(source_of(b"").is_err());
        let err = source_of(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1])
            .err()
            .expect("xz");
        assert!(err.to_string().contains("xz"), "{err}");
    }
}
