//! The differential run: one op sequence on kernel overlayfs and on the subject over two
//! fresh, identical fixtures, outcomes compared after every op and the visible trees and upper
//! dirs at the end ([`run`]); on a divergence, delta debugging ([`shrink`], ddmin) down to a
//! minimal sequence that still diverges, printed as the reproducer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::allow::{self, Tally};
use super::mounts::{self, SubjectCmd};
use super::ops::{self, Op, Outcome};
use super::{fixture, tree};

/// Why a sequence failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// Index of the op whose outcome differed (None: only the final trees differ).
    pub at: Option<usize>,
    pub lines: Vec<String>,
}

fn show(o: &Outcome) -> String {
    match o {
        Ok(s) if s.is_empty() => "ok".into(),
        Ok(s) => format!("ok({s})"),
        Err(e) => format!("{e}"),
    }
}

/// `mv`'s EXDEV fallback on the kernel side: refuse like rename(2) would on a non-empty or
/// non-dir target, else copy the tree (`cp -a`) and remove the source. `upper` is the mount's
/// upper dir (where hard links are told apart: see [`outside_links`]).
fn mv_fallback(root: &Path, upper: &Path, from: &str, to: &str) -> Outcome {
    let (src, dst) = (root.join(from), root.join(to));
    if let Ok(md) = std::fs::symlink_metadata(&dst) {
        if !md.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        std::fs::remove_dir(&dst)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    }
    let cp = Command::new("cp")
        .arg("-a")
        .arg("--")
        .arg(&src)
        .arg(&dst)
        .status();
    // Names outside the tree hard-linked to files inside it: a rename keeps those links
    // (nook's union renames), `cp` cannot, so they are re-linked to the copies below.
    let outside = outside_links(root, upper, Path::new(from));
    let rm = Command::new("rm").arg("-rf").arg("--").arg(&src).status();
    let mut relinked = Ok(());
    for (inside, other) in outside {
        let (copy, other) = (dst.join(&inside), root.join(other));
        relinked = relinked
            .and(std::fs::remove_file(&other))
            .and(std::fs::hard_link(&copy, &other));
    }
    match (cp, rm) {
        (Ok(a), Ok(b)) if a.success() && b.success() && relinked.is_ok() => Ok(String::new()),
        other => Ok(format!("mv fallback failed: {other:?} {relinked:?}")),
    }
}

/// (path below `tree`, path elsewhere) of hard links crossing `tree`'s boundary, all relative
/// to the mount `root`. Links are told apart by the UPPER file's (dev, ino): through the mount
/// a copied-up file reports its lower origin's inode number while the other names of the same
/// upper inode (linked after the copy-up) do not, so the mount's numbers would miss the pair.
fn outside_links(root: &Path, upper: &Path, tree: &Path) -> Vec<(PathBuf, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    fn walk(root: &Path, upper: &Path, rel: &Path, out: &mut Vec<(PathBuf, u64, u64)>) {
        let Ok(rd) = std::fs::read_dir(root.join(rel)) else {
            return;
        };
        for e in rd.flatten() {
            let r = rel.join(e.file_name());
            let Ok(md) = std::fs::symlink_metadata(root.join(&r)) else {
                continue;
            };
            if md.is_dir() {
                walk(root, upper, &r, out);
            } else if md.nlink() > 1 {
                // Only upper files can be linked through the mount (lower links are read only).
                if let Ok(u) = std::fs::symlink_metadata(upper.join(&r)) {
                    out.push((r, u.dev(), u.ino()));
                }
            }
        }
    }
    let mut all = Vec::new();
    walk(root, upper, Path::new(""), &mut all);
    let mut pairs = Vec::new();
    for (p, dev, ino) in all.iter().filter(|(p, ..)| p.starts_with(tree)) {
        for (q, ..) in all
            .iter()
            .filter(|(q, d, i)| d == dev && i == ino && !q.starts_with(tree))
        {
            if let Ok(rel) = p.strip_prefix(tree) {
                pairs.push((rel.to_path_buf(), q.clone()));
            }
        }
    }
    pairs
}

/// Runs `seq` on both sides under `base` (created fresh, removed after).
pub fn run(
    base: &Path,
    cmd: &SubjectCmd,
    seq: &[Op],
    tally: &mut Tally,
) -> Result<Option<Divergence>, String> {
    let _ = std::fs::remove_dir_all(base);
    let kl = fixture::build(&base.join("k"))?;
    let sl = fixture::build(&base.join("s"))?;
    let result = (|| {
        let km = mounts::kernel(&kl)?;
        let mut sm = mounts::subject(cmd, &sl, &base.join("subject.log"))?;
        for (i, op) in seq.iter().enumerate() {
            let mut k = ops::apply(&km.mnt, op);
            let s = ops::apply(&sm.mnt, op);
            if allow::wants_mv_fallback(op, &k) {
                if let Op::Rename { from, to } = op {
                    if s != Err(Errno::EXDEV) {
                        // The subject renamed (or refused for a reason checked after EXDEV
                        // by the kernel, e.g. ENOTEMPTY): compare with what `mv` does.
                        tally.hit(allow::KERNEL_EXDEV_DIR_RENAME);
                        k = mv_fallback(&km.mnt, &kl.upper, from, to);
                    } else if cmd.subject == allow::Subject::Nook {
                        let line = format!("op {i}: {op}: the subject returned EXDEV (issue 6: rename a lower dir like mv, never EXDEV)");
                        return Ok(Some(Divergence {
                            at: Some(i),
                            lines: vec![line],
                        }));
                    } else {
                        tally.hit(allow::FUSE_OVERLAYFS_EXDEV);
                    }
                }
            }
            if k != s {
                if let Some(q) = allow::outcome_allowance(cmd.subject, op, &k, &s) {
                    tally.hit(q.id);
                    if let Some(converge) = q.converge {
                        let c = converge(&sm.mnt, op);
                        if c != k {
                            let line = format!(
                                "op {i}: {op}: after quirk {}, the fallback gave {} vs kernel {}",
                                q.id,
                                show(&c),
                                show(&k)
                            );
                            return Ok(Some(Divergence {
                                at: Some(i),
                                lines: vec![line],
                            }));
                        }
                    }
                    continue;
                }
                let alive = if sm.alive() {
                    ""
                } else {
                    " (the subject's daemon DIED)"
                };
                let line = format!(
                    "op {i}: {op}: kernel {} vs subject {}{alive}",
                    show(&k),
                    show(&s)
                );
                return Ok(Some(Divergence {
                    at: Some(i),
                    lines: vec![line],
                }));
            }
        }
        let (mut kv, mut sv) = (tree::visible(&km.mnt), tree::visible(&sm.mnt));
        allow::normalize_visible(cmd.subject, &mut kv, tally);
        allow::normalize_visible(cmd.subject, &mut sv, tally);
        let mut lines = tree::diff("visible", &kv, &sv);
        drop(km);
        drop(sm);
        lines.extend(tree::diff(
            "upper",
            &tree::upper(&kl.upper),
            &tree::upper(&sl.upper),
        ));
        Ok((!lines.is_empty()).then_some(Divergence { at: None, lines }))
    })();
    let _ = std::fs::remove_dir_all(base);
    result
}

/// What must stay the same while shrinking an op divergence: the op's kind and both outcomes.
fn signature(d: &Divergence) -> String {
    let line = d.lines.first().map_or("", String::as_str);
    let rest = line.split_once(": ").map_or(line, |(_, r)| r);
    let kind = rest.split_whitespace().next().unwrap_or("");
    let outcomes = rest.rsplit_once(": kernel ").map_or("", |(_, o)| o);
    format!("{kind} {outcomes}")
}

/// ddmin over `seq` (which diverges) within `budget`; returns the smallest diverging sequence found.
pub fn shrink(
    base: &Path,
    cmd: &SubjectCmd,
    seq: Vec<Op>,
    first: &Divergence,
    budget: Duration,
) -> (Vec<Op>, Divergence) {
    let end = Instant::now() + budget;
    let mut best = match first.at {
        Some(i) => seq[..=i].to_vec(),
        None => seq,
    };
    let mut best_div = first.clone();
    let mut n = 2usize;
    let mut tally = Tally::default();
    while best.len() >= 2 && Instant::now() < end {
        let chunk = best.len().div_ceil(n);
        let mut reduced = false;
        for start in (0..best.len()).step_by(chunk) {
            if Instant::now() >= end {
                break;
            }
            // The complement: everything but this chunk.
            let cand: Vec<Op> = best[..start]
                .iter()
                .chain(best[(start + chunk).min(best.len())..].iter())
                .cloned()
                .collect();
            let same = |d: &Divergence| {
                d.lines.first() == first.lines.first()
                    || (first.at.is_some() && d.at.is_some() && signature(d) == signature(first))
            };
            if let Ok(Some(d)) = run(base, cmd, &cand, &mut tally).map(|d| d.filter(same)) {
                best = match d.at {
                    Some(i) => cand[..=i].to_vec(),
                    None => cand,
                };
                best_div = d;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= best.len() {
                break;
            }
            n = (n * 2).min(best.len());
        }
    }
    (best, best_div)
}

/// Runs every seed; returns the report lines and whether all matched.
pub fn seeds(
    work: &Path,
    cmd: &SubjectCmd,
    seeds: &[u64],
    count: usize,
    budget: Duration,
) -> (Vec<String>, bool) {
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut out = Vec::new();
    let mut total = 0;
    let mut all_ok = true;
    for &seed in seeds {
        let seq = ops::generate(seed, count);
        let base = work.join(format!("seed{seed}"));
        match run(&base, cmd, &seq, &mut tally) {
            Ok(None) => {
                total += seq.len();
                out.push(format!(
                    "seed {seed}: {} ops, kernel and {:?} agree",
                    seq.len(),
                    cmd.subject
                ));
            }
            Ok(Some(d)) => {
                out.push(format!(
                    "seed {seed}: DIVERGENCE after {} ops: {}",
                    d.at.map_or(seq.len(), |i| i + 1),
                    d.lines.join("; ")
                ));
                if all_ok {
                    // Shrink the first divergence only; later seeds just report theirs.
                    let left = (budget / 2)
                        .saturating_sub(started.elapsed())
                        .max(Duration::from_secs(5));
                    let (min, div) = shrink(&base, cmd, seq, &d, left);
                    out.push(format!(
                        "minimal reproducer ({} ops, seed {seed}), on a fresh fixture:",
                        min.len()
                    ));
                    out.extend(
                        min.iter()
                            .enumerate()
                            .map(|(i, op)| format!("  {i:3}: {op}")),
                    );
                    out.push("which gives:".into());
                    out.extend(div.lines.iter().take(40).map(|l| format!("  {l}")));
                }
                all_ok = false;
            }
            Err(e) => {
                out.push(format!("seed {seed}: setup error: {e}"));
                return (out, false);
            }
        }
        if started.elapsed() > budget {
            out.push(format!(
                "time budget of {budget:?} used: stopping after seed {seed}"
            ));
            break;
        }
    }
    out.push(format!(
        "{total} ops agreed in {:.1?}; allowances used: {:?}",
        started.elapsed(),
        tally.0
    ));
    for q in allow::quirks(cmd.subject)
        .iter()
        .filter(|q| tally.0.contains_key(q.id))
    {
        out.push(format!("  {}: {}", q.id, q.why));
    }
    (out, all_ok)
}
