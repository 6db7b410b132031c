use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

/// A context: a.txt b.txt notes.md src/{main.rs,lib/util.rs} empty/ and build.log.
fn tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let r = d.path();
    write(r, "a.txt", "a");
    write(r, "b.txt", "bb");
    write(r, "notes.md", "notes");
    write(r, "src/main.rs", "fn main() {}");
    write(r, "src/lib/util.rs", "pub fn u() {}");
    write(r, "build.log", "log");
    fs::create_dir(r.join("empty")).expect("mkdir");
    d
}

fn paths(entries: &[Entry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.path.clone(), e.rel.clone()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn files_directories_and_globs() {
    let d = tree();
    let ctx = Context::open(d.path(), None).expect("opens");
    assert_eq!(
        paths(&ctx.select(&["a.txt"]).expect("file")),
        pairs(&[("a.txt", "a.txt")])
    );
    assert_eq!(
        paths(&ctx.select(&["/src/"]).expect("dir")),
        pairs(&[
            ("src/lib", "lib"),
            ("src/lib/util.rs", "lib/util.rs"),
            ("src/main.rs", "main.rs")
        ])
    );
    assert_eq!(
        paths(&ctx.select(&["*.txt"]).expect("glob")),
        pairs(&[("a.txt", "a.txt"), ("b.txt", "b.txt")])
    );
    assert_eq!(
        paths(&ctx.select(&["s?c/*.rs", "[ab].txt"]).expect("globs")),
        pairs(&[
            ("src/main.rs", "main.rs"),
            ("a.txt", "a.txt"),
            ("b.txt", "b.txt")
        ])
    );
    let e = ctx.select(&["./src/./lib/../main.rs"]).expect("cleaned");
    assert_eq!(paths(&e), pairs(&[("src/main.rs", "main.rs")]));
    assert_eq!(e[0].kind, EntryKind::File);
    assert_eq!(e[0].size, 12);
    // `.` is the whole context.
    let all = ctx.select(&["."]).expect("all");
    assert!(all
        .iter()
        .any(|e| e.rel == "empty" && e.kind == EntryKind::Dir));
    assert_eq!(all.len(), 9);
}

#[test]
fn missing_sources_are_errors() {
    let d = tree();
    let ctx = Context::open(d.path(), None).expect("opens");
    let e = ctx.select(&["nope.txt"]).expect_err("missing");
    assert_eq!(
        e.to_string(),
        "source \"nope.txt\" not found in the build context"
    );
    let e = ctx.select(&["*.nothing"]).expect_err("no match");
    assert!(e.to_string().contains("matches no file"), "{e}");
    let e = ctx.select(&["[a"]).expect_err("bad");
    assert!(e.to_string().contains("never closed"), "{e}");
}

#[test]
fn ignore_file_hides_paths() {
    let d = tree();
    write(d.path(), ".dockerignore", "*.log\nsrc/lib\n");
    let ctx = Context::open(d.path(), None).expect("opens");
    assert!(ctx
        .ignore_file()
        .is_some_and(|f| f.ends_with(".dockerignore")));
    let all = paths(&ctx.select(&["."]).expect("all"));
    assert!(
        !all.iter()
            .any(|(p, _)| p == "build.log" || p.starts_with("src/lib")),
        "{all:?}"
    );
    assert!(all.iter().any(|(p, _)| p == "src/main.rs"));
    let e = ctx.select(&["build.log"]).expect_err("ignored");
    assert!(e.to_string().contains("excluded by the ignore file"), "{e}");
    let e = ctx.select(&["*.log"]).expect_err("ignored glob");
    assert!(e.to_string().contains("matches no file"), "{e}");

    // .containerignore wins over .dockerignore; an explicit file wins over both.
    write(d.path(), ".containerignore", "a.txt\n");
    let ctx = Context::open(d.path(), None).expect("opens");
    assert!(ctx.is_ignored("a.txt") && !ctx.is_ignored("build.log"));
    write(d.path(), "other.ignore", "b.txt\n");
    let ctx = Context::open(d.path(), Some(&d.path().join("other.ignore"))).expect("opens");
    assert!(ctx.is_ignored("b.txt") && !ctx.is_ignored("a.txt"));

    write(d.path(), ".containerignore", "ok\n[bad\n");
    let e = Context::open(d.path(), None).expect_err("bad ignore");
    assert!(e.to_string().contains(".containerignore:2:"), "{e}");
}

#[test]
fn exceptions_reach_into_ignored_directories() {
    let d = tree();
    write(d.path(), ".containerignore", "src\n!src/lib/util.rs\n");
    let ctx = Context::open(d.path(), None).expect("opens");
    let got = paths(&ctx.select(&["src"]).expect("exception inside"));
    assert_eq!(got, pairs(&[("src/lib/util.rs", "lib/util.rs")]));
    let e = ctx.select(&["src/main.rs"]).expect_err("ignored");
    assert!(e.to_string().contains("excluded"), "{e}");
}

#[test]
fn walking_the_root_honours_exceptions() {
    let d = tree();
    write(d.path(), ".containerignore", "src\n!src/lib/util.rs\n");
    let ctx = Context::open(d.path(), None).expect("opens");
    let got: Vec<String> = ctx
        .select(&["."])
        .expect("all")
        .into_iter()
        .map(|e| e.path)
        .filter(|p| p.starts_with("src"))
        .collect();
    assert_eq!(got, ["src/lib/util.rs"]);
}

#[test]
fn escapes_are_refused() {
    let d = tree();
    let outside = tempfile::tempdir().expect("outside");
    write(outside.path(), "secret", "s");
    symlink(outside.path().join("secret"), d.path().join("abs-out")).expect("link");
    symlink("../../etc/passwd", d.path().join("src/rel-out")).expect("link");
    symlink("a.txt", d.path().join("in-link")).expect("link");
    symlink(d.path().join("src"), d.path().join("abs-in")).expect("link");
    let ctx = Context::open(d.path(), None).expect("opens");
    for source in ["../x", "src/../../x", "abs-out", "src/rel-out"] {
        let e = ctx.select(&[source]).expect_err(source);
        assert!(matches!(e, ContextError::Escape { .. }), "{source}: {e}");
        assert!(e.to_string().contains(&format!("\"{source}\"")), "{e}");
    }
    let e = ctx.select(&["abs-out"]).expect_err("abs");
    assert!(e.to_string().contains("symlink abs-out ->"), "{e}");
    // Links that stay inside are followed for a named source...
    let got = ctx.select(&["in-link", "abs-in/main.rs"]).expect("inside");
    assert_eq!(
        paths(&got),
        pairs(&[("in-link", "in-link"), ("abs-in/main.rs", "main.rs")])
    );
    assert_eq!(got[0].kind, EntryKind::File);
    assert_eq!(
        fs::read_to_string(ctx.host_path(&got[0]).expect("host")).expect("read"),
        "a"
    );
    // ...and copied as links inside a directory, escaping or not.
    let inside = ctx.select(&["src"]).expect("dir");
    let link = inside
        .iter()
        .find(|e| e.rel == "rel-out")
        .expect("link entry");
    assert_eq!(link.kind, EntryKind::Symlink("../../etc/passwd".into()));
}

#[test]
fn digest_follows_content_mode_and_names_only() {
    let d = tree();
    let ctx = Context::open(d.path(), None).expect("opens");
    let digest = |srcs: &[&str]| {
        let e = ctx.select(srcs).expect("select");
        ctx.digest(&e).expect("digest")
    };
    let first = digest(&["src", "a.txt"]);
    assert_eq!(first, digest(&["src", "a.txt"]), "stable");
    assert_ne!(first, digest(&["a.txt", "src"]), "order of sources matters");

    // mtime alone does not change it.
    let f = fs::File::options()
        .write(true)
        .open(d.path().join("a.txt"))
        .expect("open");
    f.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .expect("touch");
    assert_eq!(first, digest(&["src", "a.txt"]));

    write(d.path(), "src/main.rs", "fn main() { changed() }");
    let changed = digest(&["src", "a.txt"]);
    assert_ne!(first, changed, "content");
    fs::set_permissions(d.path().join("a.txt"), fs::Permissions::from_mode(0o600)).expect("chmod");
    let chmod = digest(&["src", "a.txt"]);
    assert_ne!(changed, chmod, "mode");
    fs::rename(
        d.path().join("src/lib/util.rs"),
        d.path().join("src/lib/u2.rs"),
    )
    .expect("mv");
    assert_ne!(chmod, digest(&["src", "a.txt"]), "name");
    // An untouched source is unaffected by changes elsewhere.
    assert_eq!(digest(&["b.txt"]), {
        write(d.path(), "notes.md", "other notes");
        digest(&["b.txt"])
    });
    symlink("a", d.path().join("src/l")).expect("link");
    let with_link = digest(&["src"]);
    fs::remove_file(d.path().join("src/l")).expect("rm");
    symlink("b", d.path().join("src/l")).expect("link");
    assert_ne!(with_link, digest(&["src"]), "symlink target");
}

#[test]
fn open_errors_name_the_directory() {
    let e = Context::open(Path::new("/nonexistent/ctx"), None).expect_err("missing");
    assert!(e.to_string().contains("/nonexistent/ctx"), "{e}");
}

#[test]
fn kitchen_sink_context() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/build/kitchen-sink");
    let ctx = Context::open(&dir, None).expect("opens");
    let all: Vec<String> = ctx
        .select(&["."])
        .expect("all")
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert!(
        all.contains(&"app/secret-but-wanted.txt".to_string()),
        "{all:?}"
    );
    assert!(
        !all.iter()
            .any(|p| p == "app/secret.txt" || p == "build.log"),
        "{all:?}"
    );
    let sub = ctx.select(&["app/sub/"]).expect("sub");
    assert_eq!(
        paths(&sub),
        pairs(&[
            ("app/sub/deleted.txt", "deleted.txt"),
            ("app/sub/file.txt", "file.txt")
        ])
    );
}
