//! The setuid `newuidmap`/`newgidmap` helpers from shadow's `uidmap` package: where they are and
//! whether they can do their job (setuid root, or file capabilities).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What `nook info` reports about one id-mapping helper.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HelperStatus {
    /// Absolute path, empty when not found on `PATH`.
    #[serde(rename = "Path")]
    pub path: String,
    /// Owned by root with the setuid bit.
    #[serde(rename = "Setuid")]
    pub setuid: bool,
    /// Carries `security.capability` file capabilities.
    #[serde(rename = "FileCaps")]
    pub file_caps: bool,
    /// Usable by an unprivileged caller (setuid root or file capabilities).
    #[serde(rename = "Usable")]
    pub usable: bool,
}

/// Finds `name` on `PATH` (then `/usr/bin`, `/usr/sbin`), like a shell would.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Inspects the helper `name` (`newuidmap` or `newgidmap`).
pub fn helper_status(name: &str) -> HelperStatus {
    let Some(path) = find_on_path(name) else {
        return HelperStatus {
            path: String::new(),
            setuid: false,
            file_caps: false,
            usable: false,
        };
    };
    let setuid = std::fs::metadata(&path)
        .map(|m| m.uid() == 0 && m.mode() & libc::S_ISUID != 0)
        .unwrap_or(false);
    let file_caps = has_file_caps(&path);
    HelperStatus {
        path: path.display().to_string(),
        setuid,
        file_caps,
        usable: setuid || file_caps,
    }
}

fn has_file_caps(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated; a null buffer with size 0 only asks for the size.
    let size = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    size > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_helper_is_reported_unusable() {
        let status = helper_status("nook-no-such-helper-xyz");
        assert_eq!(status.path, "");
        assert!(!status.usable);
    }

    #[test]
    fn finds_sh() {
        let sh = find_on_path("sh").expect("sh is on every Debian machine");
        assert!(sh.is_absolute());
    }
}
