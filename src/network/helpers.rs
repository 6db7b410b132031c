//! Finding the network helper binaries (`pasta` from Debian's `passt`, `slirp4netns`) and
//! their versions for `nook info`. `NOOK_HELPER_BINARIES_DIR` (a `:`-separated list, like
//! containers.conf's `helper_binaries_dir`) replaces the search path when set; otherwise
//! `$PATH`, then `/usr/libexec/podman`, `/usr/local/bin`, `/usr/bin`.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde::Serialize;

use super::NetworkError;

/// The environment variable that replaces the helper search path.
pub const DIRS_ENV: &str = "NOOK_HELPER_BINARIES_DIR";

/// A network helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    Pasta,
    Slirp4netns,
}

impl Helper {
    pub fn binary(self) -> &'static str {
        match self {
            Helper::Pasta => "pasta",
            Helper::Slirp4netns => "slirp4netns",
        }
    }

    /// The Debian package that ships it.
    pub fn package(self) -> &'static str {
        match self {
            Helper::Pasta => "passt",
            Helper::Slirp4netns => "slirp4netns",
        }
    }
}

fn search_dirs() -> Vec<PathBuf> {
    if let Some(dirs) = std::env::var_os(DIRS_ENV) {
        return std::env::split_paths(&dirs).collect();
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/libexec/podman", "/usr/local/bin", "/usr/bin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// The helper's executable, if one is installed.
pub fn find(helper: Helper) -> Option<PathBuf> {
    search_dirs()
        .into_iter()
        .filter(|d| d.is_absolute())
        .map(|d| d.join(helper.binary()))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The helper's executable, or an error naming the package to install.
pub fn require(helper: Helper) -> Result<PathBuf, NetworkError> {
    find(helper).ok_or(NetworkError::HelperMissing {
        binary: helper.binary(),
        package: helper.package(),
    })
}

/// What `nook info` says about one helper (Podman 5's `host.pasta` / `host.slirp4netns`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HelperInfo {
    pub executable: String,
    pub package: String,
    pub version: String,
}

/// The helper's path and version (`--version`'s first lines), empty when it is missing.
pub fn info(helper: Helper) -> HelperInfo {
    let Some(path) = find(helper) else {
        return HelperInfo::default();
    };
    let version = std::process::Command::new(&path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| version_text(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default();
    HelperInfo {
        executable: path.display().to_string(),
        package: helper.package().to_string(),
        version,
    }
}

/// `slirp4netns version 1.2.0\ncommit: ...` → `slirp4netns version 1.2.0\ncommit: ...` minus
/// blank and copyright lines; `pasta unknown version` stays as it is.
fn version_text(out: &str) -> String {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Copyright") && !l.contains("WARRANTY"))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_text_keeps_the_version_lines() {
        let v = version_text("slirp4netns version 1.2.0\ncommit: abc\nlibslirp: 4.7.0\n");
        assert_eq!(v, "slirp4netns version 1.2.0\ncommit: abc\nlibslirp: 4.7.0");
        let v = version_text("pasta unknown version\nCopyright Red Hat\nThere is NO WARRANTY\n");
        assert_eq!(v, "pasta unknown version");
    }
}
