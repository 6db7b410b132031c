//! The Debian package and the RPM spec: `packaging/build-deb.sh` builds a .deb from this
//! build's binary (offline, dpkg-deb), whose file list, control fields and conffile are
//! checked; `dpkg -x` unpacks it and `man -l` renders `nook-run.1` from it; as root it is also
//! installed into a throwaway root with `dpkg --root` and `dpkg -L` must list everything.
//! The spec's `%files` must describe the same files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, Trial};

pub fn tests() -> Vec<Trial> {
    vec![
        support::test("packaging::deb_builds_with_the_right_files", deb_contents),
        support::root_only(
            "packaging::deb_installs_into_a_throwaway_root",
            deb_installs,
        ),
        support::test("packaging::rpm_spec_lists_the_deb_files", spec_matches_deb),
    ]
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn have(tool: &str) -> bool {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .any(|d| Path::new(d).join(tool).exists())
}

/// Runs a command and returns its stdout, panicking with stderr when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the .deb into a fresh temp dir; `None` (after a loud skip) without dpkg-deb.
fn build_deb(test: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    if !have("dpkg-deb") {
        eprintln!("!!!!!!!!!! SKIPPED {test}: dpkg-deb is not installed (package dpkg)");
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let deb = run(Command::new(repo().join("packaging/build-deb.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_nook"), "--out"])
        .arg(dir.path())
        .env("NOOK_DEB_COMPRESSION", "gzip"));
    let deb = PathBuf::from(deb.trim());
    assert!(deb.is_file(), "build-deb.sh printed {deb:?}, not a file");
    Some((dir, deb))
}

/// Every man page under packaging/man/, as installed (gzipped).
fn man_pages() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(repo().join("packaging/man"))
        .expect("packaging/man")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .map(|n| format!("/usr/share/man/man1/{n}.gz"))
        .collect();
    pages.sort();
    pages
}

/// The files (not directories) the package must ship; the link is listed with its target.
fn expected_files() -> BTreeSet<String> {
    let mut want: BTreeSet<String> = [
        "/usr/bin/nook",
        "/usr/share/bash-completion/completions/nook",
        "/usr/share/zsh/vendor-completions/_nook",
        "/usr/share/fish/vendor_completions.d/nook.fish",
        "/etc/nook/nook.conf",
        "/usr/share/doc/nook/copyright",
        "/usr/lib/systemd/user-generators/nook-user-generator -> /usr/bin/nook",
        "/usr/lib/systemd/system-generators/nook-system-generator -> /usr/bin/nook",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.extend(man_pages());
    want
}

/// Non-directory entries of `dpkg-deb -c` as `/path` or `/path -> target`.
fn deb_files(deb: &Path) -> BTreeSet<String> {
    run(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_once(" ./").map(|(_, p)| format!("/{p}")))
        .collect()
}

fn deb_contents(_rig: &support::Rig) {
    let Some((_dir, deb)) = build_deb("packaging::deb_builds_with_the_right_files") else {
        return;
    };
    let files = deb_files(&deb);
    assert_eq!(files, expected_files(), "dpkg-deb -c {}", deb.display());
    assert!(man_pages().iter().any(|p| p.ends_with("/nook-run.1.gz")));

    let field = |name: &str| run(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg(name));
    assert_eq!(field("Package").trim(), "nook");
    assert_eq!(field("Version").trim(), env!("CARGO_PKG_VERSION"));
    let depends = field("Depends");
    for dep in ["uidmap", "fuse3", "passt | slirp4netns"] {
        assert!(depends.contains(dep), "Depends lacks {dep}: {depends}");
    }
    let conffiles = run(Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .arg("conffiles"));
    assert_eq!(conffiles.trim(), "/etc/nook/nook.conf");

    // Unpack and use what it installs.
    let root = tempfile::tempdir().expect("temp dir");
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(root.path()));
    let nook = root.path().join("usr/bin/nook");
    let version = run(Command::new(&nook).args(["version", "--format", "{{.Client.Version}}"]));
    assert_eq!(version.trim(), env!("CARGO_PKG_VERSION"));
    for (installed, source) in [
        (
            "usr/share/bash-completion/completions/nook",
            "completions/nook.bash",
        ),
        (
            "usr/share/zsh/vendor-completions/_nook",
            "completions/_nook",
        ),
        (
            "usr/share/fish/vendor_completions.d/nook.fish",
            "completions/nook.fish",
        ),
        ("etc/nook/nook.conf", "packaging/nook.conf"),
    ] {
        let a = std::fs::read(root.path().join(installed)).expect(installed);
        let b = std::fs::read(repo().join(source)).expect(source);
        assert!(a == b, "/{installed} differs from {source}");
    }
    if !have("man") {
        eprintln!("!!!!!!!!!! SKIPPED the man -l check: man is not installed (package man-db)");
        return;
    }
    let page = root.path().join("usr/share/man/man1/nook-run.1.gz");
    let text = run(Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("LANG", "C.UTF-8"));
    // Strip overstrike bold/underline (x\bx, _\bx) in case man formats for a terminal.
    let plain: String = {
        let mut out: Vec<char> = Vec::new();
        for c in text.chars() {
            if c == '\u{8}' {
                out.pop();
            } else {
                out.push(c);
            }
        }
        out.into_iter().collect()
    };
    for want in [
        "nook-run",
        "--network",
        "--stop-signal",
        "EXAMPLES",
        "nook run -it",
    ] {
        assert!(
            plain.contains(want),
            "man -l nook-run.1.gz lacks {want:?}:\n{plain}"
        );
    }
}

fn deb_installs(_rig: &support::Rig) {
    let Some((_dir, deb)) = build_deb("packaging::deb_installs_into_a_throwaway_root") else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let admin = root.path().join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("info")).expect("dpkg info dir");
    std::fs::create_dir_all(admin.join("updates")).expect("dpkg updates dir");
    std::fs::write(admin.join("status"), "").expect("dpkg status");
    // The throwaway root has no other packages: its dependencies cannot be satisfied there.
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.path().display()))
        .args(["--force-depends", "--force-script-chrootless", "-i"])
        .arg(&deb));
    let listed: BTreeSet<String> = run(Command::new("dpkg")
        .arg(format!("--root={}", root.path().display()))
        .args(["-L", "nook"]))
    .lines()
    .map(str::to_string)
    .collect();
    for want in expected_files() {
        let path = want.split(" -> ").next().unwrap_or(&want).to_string();
        assert!(listed.contains(&path), "dpkg -L nook lacks {path}");
    }
    let link = root
        .path()
        .join("usr/lib/systemd/user-generators/nook-user-generator");
    assert_eq!(
        std::fs::read_link(&link).expect("generator link"),
        Path::new("/usr/bin/nook")
    );
    let conffiles = run(Command::new("dpkg-query")
        .arg(format!("--root={}", root.path().display()))
        .args(["-W", "-f=${Conffiles}", "nook"]));
    assert!(conffiles.contains("/etc/nook/nook.conf"), "{conffiles}");
}

/// `%files` of packaging/nook.spec with the macros expanded; `%dir` and `%license` skipped.
fn spec_files(spec: &str) -> Vec<String> {
    let macros = [
        ("%{_bindir}", "/usr/bin"),
        ("%{_datadir}", "/usr/share"),
        ("%{_mandir}", "/usr/share/man"),
        ("%{_sysconfdir}", "/etc"),
        ("%{_prefix}", "/usr"),
    ];
    spec.lines()
        .skip_while(|l| l.trim() != "%files")
        .skip(1)
        .take_while(|l| !l.starts_with("%changelog"))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("%dir") && !l.starts_with("%license"))
        .map(|l| {
            let mut l = l
                .trim_start_matches("%config(noreplace)")
                .trim()
                .to_string();
            for (m, v) in macros {
                l = l.replace(m, v);
            }
            l
        })
        .collect()
}

/// `*` matches any run of characters (enough for the spec's man page glob).
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob_match(rest, &text[head.len() + i..]))
        }
    }
}

fn spec_matches_deb(_rig: &support::Rig) {
    let spec = std::fs::read_to_string(repo().join("packaging/nook.spec")).expect("nook.spec");
    let version = spec
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(str::trim);
    assert_eq!(
        version,
        Some(env!("CARGO_PKG_VERSION")),
        "nook.spec Version"
    );
    for req in ["fuse3", "(passt or slirp4netns)", "shadow-utils"] {
        assert!(
            spec.contains(&format!("Requires:       {req}")),
            "spec lacks Requires: {req}"
        );
    }
    let entries = spec_files(&spec);
    // RPM gzips man pages itself; the .deb ships them as .gz too. The doc file is Debian's.
    let deb: Vec<String> = expected_files()
        .into_iter()
        .map(|f| f.split(" -> ").next().unwrap_or(&f).to_string())
        .filter(|f| !f.starts_with("/usr/share/doc/"))
        .collect();
    for file in &deb {
        assert!(
            entries.iter().any(|e| glob_match(e, file)),
            "nook.spec %files does not cover {file}: {entries:?}"
        );
    }
    for entry in &entries {
        assert!(
            deb.iter().any(|f| glob_match(entry, f)),
            "nook.spec %files has {entry}, which the .deb does not ship"
        );
    }
}
