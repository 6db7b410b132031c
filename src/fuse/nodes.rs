//! The inode table of the FUSE overlay: node ids handed to the kernel, each a name under a
//! parent node, with the layers it resolves to (cached: the overlay is the only writer of its
//! upper directory, so its own operations keep the cache right).
//!
//! Node ids are stable for the life of the mount: a node stays in the table while it has a
//! name (the kernel's forget only drops it once it is detached by unlink/rmdir/rename), so a
//! path shows the same inode number however often the kernel forgets it.

use std::collections::HashMap;

/// The root node id (FUSE's).
pub const ROOT: u64 = 1;

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// 0 once detached (unlinked or replaced).
    pub parent: u64,
    pub name: Box<[u8]>,
    /// The kernel's lookup count.
    pub nlookup: u64,
    /// The layers this entry lives in, top first (0 = upper).
    pub layers: Vec<u8>,
    pub is_dir: bool,
    children: HashMap<Box<[u8]>, u64>,
}

impl Node {
    /// The top-most layer holding this entry.
    pub fn top(&self) -> u8 {
        self.layers.first().copied().unwrap_or(0)
    }
}

/// The table.
#[derive(Debug)]
pub struct Nodes {
    map: HashMap<u64, Node>,
    next: u64,
}

impl Nodes {
    /// A table holding only the root, resolved to `root_layers`.
    pub fn new(root_layers: Vec<u8>) -> Nodes {
        let mut map = HashMap::new();
        map.insert(
            ROOT,
            Node {
                parent: ROOT,
                name: Box::default(),
                nlookup: 1,
                layers: root_layers,
                is_dir: true,
                children: HashMap::new(),
            },
        );
        Nodes {
            map,
            next: ROOT + 1,
        }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.map.get(&ino)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Node> {
        self.map.get_mut(&ino)
    }

    /// The node named `name` under `parent`, if the table has it.
    pub fn child(&self, parent: u64, name: &[u8]) -> Option<u64> {
        self.map.get(&parent)?.children.get(name).copied()
    }

    /// The path of `ino` relative to the mount root (empty for the root), `None` when it or
    /// an ancestor is detached.
    pub fn path(&self, ino: u64) -> Option<Vec<u8>> {
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut cur = ino;
        let mut guard = 0usize;
        while cur != ROOT {
            let n = self.map.get(&cur)?;
            if n.parent == 0 {
                return None;
            }
            parts.push(&n.name);
            cur = n.parent;
            guard += 1;
            if guard > 4096 {
                return None;
            }
        }
        let mut p = Vec::with_capacity(parts.iter().map(|s| s.len() + 1).sum());
        for (i, part) in parts.iter().rev().enumerate() {
            if i > 0 {
                p.push(b'/');
            }
            p.extend_from_slice(part);
        }
        Some(p)
    }

    /// Records `parent/name` resolved to `layers` and returns its node id (the existing one
    /// when the name is known: its layers are refreshed). Adds `lookups` to its count.
    pub fn upsert(
        &mut self,
        parent: u64,
        name: &[u8],
        layers: Vec<u8>,
        is_dir: bool,
        lookups: u64,
    ) -> u64 {
        if let Some(ino) = self.child(parent, name) {
            if let Some(n) = self.map.get_mut(&ino) {
                if n.is_dir == is_dir {
                    n.layers = layers;
                    n.nlookup += lookups;
                    return ino;
                }
            }
            self.detach(parent, name);
        }
        let ino = self.next;
        self.next += 1;
        self.map.insert(
            ino,
            Node {
                parent,
                name: name.into(),
                nlookup: lookups,
                layers,
                is_dir,
                children: HashMap::new(),
            },
        );
        if let Some(p) = self.map.get_mut(&parent) {
            p.children.insert(name.into(), ino);
        }
        ino
    }

    /// Detaches `parent/name` (unlinked, removed or replaced): it keeps serving open handles
    /// until the kernel forgets it.
    pub fn detach(&mut self, parent: u64, name: &[u8]) -> Option<u64> {
        let ino = self.map.get_mut(&parent)?.children.remove(name)?;
        let drop_it = match self.map.get_mut(&ino) {
            Some(n) => {
                n.parent = 0;
                n.nlookup == 0
            }
            None => false,
        };
        if drop_it {
            self.remove_subtree(ino);
        }
        Some(ino)
    }

    /// Moves `parent/name` to `new_parent/new_name` (detaching what was there).
    pub fn rename(&mut self, parent: u64, name: &[u8], new_parent: u64, new_name: &[u8]) {
        self.detach(new_parent, new_name);
        let Some(ino) = self
            .map
            .get_mut(&parent)
            .and_then(|p| p.children.remove(name))
        else {
            return;
        };
        if let Some(n) = self.map.get_mut(&ino) {
            n.parent = new_parent;
            n.name = new_name.into();
        }
        if let Some(p) = self.map.get_mut(&new_parent) {
            p.children.insert(new_name.into(), ino);
        }
    }

    /// The kernel dropped `n` lookups of `ino`: detached nodes at zero leave the table.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        let gone = match self.map.get_mut(&ino) {
            Some(node) => {
                node.nlookup = node.nlookup.saturating_sub(n);
                node.nlookup == 0 && node.parent == 0
            }
            None => false,
        };
        if gone {
            self.remove_subtree(ino);
        }
    }

    /// Calls `f` on every node below `ino` (depth first), e.g. to re-resolve a moved tree.
    pub fn for_each_below(&mut self, ino: u64, f: &mut impl FnMut(&mut Node)) {
        let kids: Vec<u64> = match self.map.get(&ino) {
            Some(n) => n.children.values().copied().collect(),
            None => return,
        };
        for k in kids {
            if let Some(n) = self.map.get_mut(&k) {
                f(n);
            }
            self.for_each_below(k, f);
        }
    }

    fn remove_subtree(&mut self, ino: u64) {
        if let Some(n) = self.map.remove(&ino) {
            for (_, k) in n.children {
                if let Some(c) = self.map.get_mut(&k) {
                    c.parent = 0;
                    if c.nlookup == 0 {
                        self.remove_subtree(k);
                    }
                }
            }
        }
    }

    /// How many nodes the table holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_across_forget_and_paths_follow_renames() {
        let mut t = Nodes::new(vec![0, 1]);
        let d = t.upsert(ROOT, b"d", vec![0, 1], true, 1);
        let f = t.upsert(d, b"f", vec![1], false, 1);
        assert_eq!(t.path(f).as_deref(), Some(&b"d/f"[..]));
        t.forget(f, 1);
        assert_eq!(
            t.upsert(d, b"f", vec![0], false, 1),
            f,
            "same path, same id"
        );
        assert_eq!(t.get(f).map(Node::top), Some(0));
        t.rename(d, b"f", ROOT, b"g");
        assert_eq!(t.path(f).as_deref(), Some(&b"g"[..]));
        assert_eq!(t.child(d, b"f"), None);
        assert_eq!(t.path(ROOT).as_deref(), Some(&b""[..]));
    }

    #[test]
    fn detached_nodes_live_until_forgotten() {
        let mut t = Nodes::new(vec![0]);
        let f = t.upsert(ROOT, b"f", vec![0], false, 2);
        assert_eq!(t.detach(ROOT, b"f"), Some(f));
        assert!(t.get(f).is_some());
        assert_eq!(t.path(f), None);
        t.forget(f, 2);
        assert!(t.get(f).is_none());
        let g = t.upsert(ROOT, b"f", vec![0], false, 1);
        assert_ne!(g, f, "a new file gets a new id");
        // Replacing a file with a directory makes a new node.
        let d = t.upsert(ROOT, b"f", vec![0], true, 1);
        assert_ne!(d, g);
        assert_eq!(t.len(), 3);
    }
}
