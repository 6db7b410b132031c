//! Overlay resolution over layers, pure logic behind a small probe trait so it is unit-tested
//! without a filesystem: which layers a name lives in (whiteouts, `.wh.` files, opaque
//! directories) and the merged listing of a directory.
//!
//! Layer 0 is the upper directory, 1.. the lowers top first. On-disk format is the kernel's
//! userxattr mode: a whiteout is a character device 0:0, an opaque directory carries
//! `user.overlay.opaque=y`; `.wh.NAME` files and `.wh..wh..opq` markers found in a layer are
//! honoured too (fuse-overlayfs reads them) and never shown.

use std::collections::HashSet;
use std::io;

/// `.wh.` prefix of whiteout files.
pub const WH_PREFIX: &[u8] = b".wh.";
/// The opaque marker file.
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// What a layer holds at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Missing,
    /// A character device 0:0 (or a `.wh.` file in a layer).
    Whiteout,
    Dir {
        opaque: bool,
    },
    /// Any non-directory.
    Other,
}

/// Looks at one layer (implemented on the real layers by the filesystem, on maps in tests).
pub trait LayerProbe {
    /// What layer `layer` holds at `rel` (relative, no leading '/').
    fn probe(&self, layer: usize, rel: &[u8]) -> io::Result<Probe>;
}

/// `parent/name` (`name` alone at the root, whose path is empty).
pub fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(parent.len() + name.len() + 1);
    if !parent.is_empty() {
        p.extend_from_slice(parent);
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// True for names the overlay never shows (whiteout files and markers).
pub fn is_hidden_name(name: &[u8]) -> bool {
    name.starts_with(WH_PREFIX)
}

/// The layers `parent/name` is visible in, top first: one layer for a non-directory, the
/// stack of merged directories (down to the first opaque one) for a directory; `None` when
/// the name does not exist (or is whited out) in the union. `parent_layers` are the parent
/// directory's layers.
pub fn resolve(
    probe: &impl LayerProbe,
    parent_layers: &[u8],
    parent: &[u8],
    name: &[u8],
) -> io::Result<Option<Vec<u8>>> {
    if is_hidden_name(name) {
        return Ok(None);
    }
    let rel = join(parent, name);
    let mut found: Vec<u8> = Vec::new();
    for &l in parent_layers {
        match probe.probe(usize::from(l), &rel)? {
            Probe::Missing => {
                let mut wh = WH_PREFIX.to_vec();
                wh.extend_from_slice(name);
                if probe.probe(usize::from(l), &join(parent, &wh))? != Probe::Missing {
                    break;
                }
            }
            Probe::Whiteout => break,
            Probe::Other => {
                if found.is_empty() {
                    found.push(l);
                }
                break;
            }
            Probe::Dir { opaque } => {
                found.push(l);
                if opaque {
                    break;
                }
            }
        }
    }
    Ok((!found.is_empty()).then_some(found))
}

/// One raw directory entry of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry<K> {
    pub name: Vec<u8>,
    /// `None` for a whiteout (char 0:0).
    pub kind: Option<K>,
}

/// Merges the listings of a directory's layers (top first): whiteouts and `.wh.` names hide
/// the same name below, upper names shadow lower ones, hidden names are dropped.
pub fn merge<K>(layers: Vec<Vec<RawEntry<K>>>) -> Vec<(Vec<u8>, K)> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut out = Vec::new();
    for entries in layers {
        let mut hidden_here: Vec<Vec<u8>> = Vec::new();
        for e in entries {
            if e.name == b"." || e.name == b".." || e.name == OPAQUE_MARKER {
                continue;
            }
            if let Some(target) = e.name.strip_prefix(WH_PREFIX) {
                hidden_here.push(target.to_vec());
                continue;
            }
            if seen.contains(&e.name) {
                continue;
            }
            match e.kind {
                None => hidden_here.push(e.name),
                Some(k) => {
                    seen.insert(e.name.clone());
                    out.push((e.name, k));
                }
            }
        }
        seen.extend(hidden_here);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake(HashMap<(usize, Vec<u8>), Probe>);
    impl LayerProbe for Fake {
        fn probe(&self, layer: usize, rel: &[u8]) -> io::Result<Probe> {
            Ok(*self
                .0
                .get(&(layer, rel.to_vec()))
                .unwrap_or(&Probe::Missing))
        }
    }
    fn fake(entries: &[(usize, &str, Probe)]) -> Fake {
        Fake(
            entries
                .iter()
                .map(|(l, p, k)| ((*l, p.as_bytes().to_vec()), *k))
                .collect(),
        )
    }
    const DIR: Probe = Probe::Dir { opaque: false };
    const OPAQUE: Probe = Probe::Dir { opaque: true };

    #[test]
    fn resolution_follows_whiteouts_opaque_dirs_and_wh_files() {
        let f = fake(&[
            (0, "d", DIR),
            (1, "d", DIR),
            (2, "d", DIR),
            (0, "o", OPAQUE),
            (1, "o", DIR),
            (0, "gone", Probe::Whiteout),
            (1, "gone", Probe::Other),
            (1, ".wh.old", Probe::Other),
            (2, "old", Probe::Other),
            (1, "f", Probe::Other),
            (2, "f", DIR),
            (0, "x", DIR),
            (1, "x", Probe::Other),
            (2, "x", DIR),
        ]);
        let all = [0u8, 1, 2];
        let r = |n: &str| resolve(&f, &all, b"", n.as_bytes()).expect("fake never fails");
        assert_eq!(r("d"), Some(vec![0, 1, 2]));
        assert_eq!(r("o"), Some(vec![0]));
        assert_eq!(r("gone"), None);
        assert_eq!(r("old"), None);
        assert_eq!(r("f"), Some(vec![1]));
        assert_eq!(r("x"), Some(vec![0]), "a lower non-dir ends a dir's stack");
        assert_eq!(r("missing"), None);
        assert_eq!(r(".wh.old"), None, "whiteout files are never visible");
        // Only the parent's layers are searched.
        assert_eq!(
            resolve(&f, &[1], b"", b"gone").expect("fake"),
            Some(vec![1])
        );
    }

    #[test]
    fn merged_listing_hides_whiteouts_and_duplicates() {
        let e = |n: &str, k: Option<u8>| RawEntry {
            name: n.as_bytes().to_vec(),
            kind: k,
        };
        let merged = merge(vec![
            vec![e("a", Some(0)), e("b", None), e(".wh..wh..opq", Some(9))],
            vec![
                e("a", Some(1)),
                e("b", Some(1)),
                e(".wh.c", Some(1)),
                e("d", Some(1)),
            ],
            vec![e("c", Some(2)), e("d", Some(2)), e("e", Some(2))],
        ]);
        let names: Vec<(&[u8], u8)> = merged.iter().map(|(n, k)| (n.as_slice(), *k)).collect();
        assert_eq!(names, vec![(&b"a"[..], 0), (&b"d"[..], 1), (&b"e"[..], 2)]);
    }

    #[test]
    fn join_handles_the_root() {
        assert_eq!(join(b"", b"a"), b"a");
        assert_eq!(join(b"a/b", b"c"), b"a/b/c");
        assert!(is_hidden_name(b".wh.x"));
        assert!(!is_hidden_name(b"x.wh."));
    }
}
