//! Atomic file replacement: the only way nook writes a state file.
//!
//! `write_atomic` writes a temporary file in the target's directory, fsyncs it, renames it over
//! the target and fsyncs the directory, so a reader (or a process after `kill -9` or a power
//! loss) sees either the old or the new content, never a mix. Temporary files are named
//! `.<name>.<pid>.<random>.tmp`; a killed writer can leave one behind, and store recovery deletes
//! such leftovers in the record directories (see [`is_temp_name`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

use super::error::StoreError;
use super::random_hex;

/// Suffix of the temporary files `write_atomic` creates.
pub const TEMP_SUFFIX: &str = ".tmp";

/// True for the name of a temporary file left by [`write_atomic`].
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Replaces `path` with `bytes` atomically and durably (temp file, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| StoreError::io("write", path, std::io::ErrorKind::InvalidInput.into()))?
        .to_string_lossy();
    let tmp = dir.join(format!(
        ".{}.{}.{}{}",
        name,
        std::process::id(),
        random_hex(8),
        TEMP_SUFFIX
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| StoreError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| StoreError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io("fsync", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| StoreError::io("rename into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(dir)
}

/// Replaces `path` with `bytes` atomically (temp file + rename) but without fsync: for files that
/// are derived state, regenerated on every container start (`/etc/hosts`, the bundle's
/// `config.json`), where a crash may leave the old or the new version but never a torn one.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{}{TEMP_SUFFIX}",
        std::process::id(),
        random_hex(8)
    ));
    fs::write(&tmp, bytes).map_err(|e| StoreError::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::io("rename into place", path, e)
    })
}

/// Serializes `value` as pretty JSON (with a trailing newline) and writes it with [`write_atomic`].
pub fn write_json_atomic<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Encode {
        path: path.to_path_buf(),
        source: e,
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Fsyncs a directory so a rename or unlink inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let d = File::open(dir).map_err(|e| StoreError::io("open directory", dir, e))?;
    d.sync_all()
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["a.json".to_string()]);
    }

    #[test]
    fn json_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.json");
        write_json_atomic(&p, &vec![1, 2, 3]).unwrap();
        let back: Vec<i32> = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, vec![1, 2, 3]);
    }

    #[test]
    fn failure_names_path_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope").join("x.json");
        let err = write_atomic(&missing, b"x").unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(is_temp_name(".x.json.12.abcd.tmp"));
        assert!(!is_temp_name("x.json"));
    }
}
