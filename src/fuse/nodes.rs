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

/// The backing file of a multiply-linked non-directory: (st_dev, st_ino).
pub type Key = (u64, u64);

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// The primary name's parent; 0 once detached (unlinked or replaced).
    pub parent: u64,
    pub name: Box<[u8]>,
    /// Further names of a hard-linked file (parent, name).
    pub aliases: Vec<(u64, Box<[u8]>)>,
    /// The kernel's lookup count.
    pub nlookup: u64,
    /// The layers this entry lives in, top first (0 = upper).
    pub layers: Vec<u8>,
    pub is_dir: bool,
    /// The backing file when it has several links: names with the same key share this node.
    pub key: Option<Key>,
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
    by_key: HashMap<Key, u64>,
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
                aliases: Vec::new(),
                nlookup: 1,
                layers: root_layers,
                is_dir: true,
                key: None,
                children: HashMap::new(),
            },
        );
        Nodes {
            map,
            by_key: HashMap::new(),
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

    /// The path of `ino` relative to the mount root (empty for the root), `None` when every
    /// name of it (or an ancestor) is detached.
    pub fn path(&self, ino: u64) -> Option<Vec<u8>> {
        if ino == ROOT {
            return Some(Vec::new());
        }
        let n = self.map.get(&ino)?;
        if n.parent != 0 {
            if let Some(p) = self.path_of(n.parent, &n.name) {
                return Some(p);
            }
        }
        n.aliases
            .iter()
            .find_map(|(parent, name)| self.path_of(*parent, name))
    }

    /// The path of name `name` under directory `parent`.
    fn path_of(&self, parent: u64, name: &[u8]) -> Option<Vec<u8>> {
        let mut parts: Vec<&[u8]> = vec![name];
        let mut cur = parent;
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

    /// Every name of `ino` (primary first) as (parent, name).
    pub fn names(&self, ino: u64) -> Vec<(u64, Vec<u8>)> {
        let Some(n) = self.map.get(&ino) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(1 + n.aliases.len());
        if n.parent != 0 {
            out.push((n.parent, n.name.to_vec()));
        }
        out.extend(n.aliases.iter().map(|(p, a)| (*p, a.to_vec())));
        out
    }

    /// Records `parent/name` resolved to `layers` and returns its node id: the existing one
    /// when the name is known (its layers are refreshed), the node of the same backing file
    /// `key` when another name of it is known (a hard link), else a new one. Adds `lookups`
    /// to its count.
    pub fn upsert(
        &mut self,
        parent: u64,
        name: &[u8],
        layers: Vec<u8>,
        is_dir: bool,
        lookups: u64,
        key: Option<Key>,
    ) -> u64 {
        if let Some(ino) = self.child(parent, name) {
            if let Some(n) = self.map.get_mut(&ino) {
                let same_file = match (n.key, key) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                if n.is_dir == is_dir && same_file {
                    n.layers = layers;
                    n.nlookup += lookups;
                    if n.key.is_none() {
                        if let Some(k) = key {
                            n.key = Some(k);
                            self.by_key.entry(k).or_insert(ino);
                        }
                    }
                    return ino;
                }
            }
            self.detach(parent, name);
        }
        if let Some(ino) = key.and_then(|k| self.by_key.get(&k).copied()) {
            if let Some(n) = self.map.get_mut(&ino) {
                if !n.is_dir && !is_dir {
                    if n.parent == 0 {
                        n.parent = parent;
                        n.name = name.into();
                    } else {
                        n.aliases.push((parent, name.into()));
                    }
                    n.layers = layers;
                    n.nlookup += lookups;
                    if let Some(p) = self.map.get_mut(&parent) {
                        p.children.insert(name.into(), ino);
                    }
                    return ino;
                }
            }
        }
        let ino = self.next;
        self.next += 1;
        self.map.insert(
            ino,
            Node {
                parent,
                name: name.into(),
                aliases: Vec::new(),
                nlookup: lookups,
                layers,
                is_dir,
                key: if is_dir { None } else { key },
                children: HashMap::new(),
            },
        );
        if let (Some(k), false) = (key, is_dir) {
            self.by_key.insert(k, ino);
        }
        if let Some(p) = self.map.get_mut(&parent) {
            p.children.insert(name.into(), ino);
        }
        ino
    }

    /// Sets the backing-file key of `ino` (after copy-up or link).
    pub fn set_key(&mut self, ino: u64, key: Option<Key>) {
        let Some(n) = self.map.get_mut(&ino) else {
            return;
        };
        if let Some(old) = n.key.take() {
            if self.by_key.get(&old) == Some(&ino) {
                self.by_key.remove(&old);
            }
        }
        n.key = key;
        if let Some(k) = key {
            self.by_key.insert(k, ino);
        }
    }

    /// Removes name (parent, name) from node `ino` (promoting an alias when it was the
    /// primary one); true when the node has no name left.
    fn unname(&mut self, ino: u64, parent: u64, name: &[u8]) -> bool {
        let Some(n) = self.map.get_mut(&ino) else {
            return false;
        };
        if n.parent == parent && *n.name == *name {
            if n.aliases.is_empty() {
                n.parent = 0;
            } else {
                let (p, a) = n.aliases.remove(0);
                n.parent = p;
                n.name = a;
            }
        } else {
            n.aliases.retain(|(p, a)| !(*p == parent && **a == *name));
        }
        if n.parent != 0 {
            return false;
        }
        // Nameless: its backing inode may be freed and reused by a new file.
        if let Some(k) = n.key.take() {
            if self.by_key.get(&k) == Some(&ino) {
                self.by_key.remove(&k);
            }
        }
        true
    }

    /// Renames name (parent, name) of node `ino` to (new_parent, new_name).
    fn rename_name(&mut self, ino: u64, from: (u64, &[u8]), to: (u64, &[u8])) {
        let Some(n) = self.map.get_mut(&ino) else {
            return;
        };
        if n.parent == from.0 && *n.name == *from.1 {
            n.parent = to.0;
            n.name = to.1.into();
        } else if let Some(a) = n
            .aliases
            .iter_mut()
            .find(|(p, a)| *p == from.0 && **a == *from.1)
        {
            *a = (to.0, to.1.into());
        }
    }

    /// Detaches `parent/name` (unlinked, removed or replaced): a node without names keeps
    /// serving open handles until the kernel forgets it.
    pub fn detach(&mut self, parent: u64, name: &[u8]) -> Option<u64> {
        let ino = self.map.get_mut(&parent)?.children.remove(name)?;
        let nameless = self.unname(ino, parent, name);
        if nameless && self.map.get(&ino).is_some_and(|n| n.nlookup == 0) {
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
        self.rename_name(ino, (parent, name), (new_parent, new_name));
        if let Some(p) = self.map.get_mut(&new_parent) {
            p.children.insert(new_name.into(), ino);
        }
    }

    /// Swaps `a_parent/a` and `b_parent/b` (RENAME_EXCHANGE).
    pub fn exchange(&mut self, a_parent: u64, a: &[u8], b_parent: u64, b: &[u8]) {
        let (Some(x), Some(y)) = (self.child(a_parent, a), self.child(b_parent, b)) else {
            // One side unknown to the table: forget both names, lookups re-resolve them.
            self.detach(a_parent, a);
            self.detach(b_parent, b);
            return;
        };
        if x == y {
            return;
        }
        self.rename_name(x, (a_parent, a), (b_parent, b));
        self.rename_name(y, (b_parent, b), (a_parent, a));
        if let Some(p) = self.map.get_mut(&a_parent) {
            p.children.insert(a.into(), y);
        }
        if let Some(p) = self.map.get_mut(&b_parent) {
            p.children.insert(b.into(), x);
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
            if let Some(k) = n.key {
                if self.by_key.get(&k) == Some(&ino) {
                    self.by_key.remove(&k);
                }
            }
            for (name, k) in n.children {
                if self.unname(k, ino, &name) && self.map.get(&k).is_some_and(|c| c.nlookup == 0) {
                    self.remove_subtree(k);
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
        let d = t.upsert(ROOT, b"d", vec![0, 1], true, 1, None);
        let f = t.upsert(d, b"f", vec![1], false, 1, None);
        assert_eq!(t.path(f).as_deref(), Some(&b"d/f"[..]));
        t.forget(f, 1);
        assert_eq!(
            t.upsert(d, b"f", vec![0], false, 1, None),
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
        let f = t.upsert(ROOT, b"f", vec![0], false, 2, None);
        assert_eq!(t.detach(ROOT, b"f"), Some(f));
        assert!(t.get(f).is_some());
        assert_eq!(t.path(f), None);
        t.forget(f, 2);
        assert!(t.get(f).is_none());
        let g = t.upsert(ROOT, b"f", vec![0], false, 1, None);
        assert_ne!(g, f, "a new file gets a new id");
        // Replacing a file with a directory makes a new node.
        let d = t.upsert(ROOT, b"f", vec![0], true, 1, None);
        assert_ne!(d, g);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn hard_links_share_a_node_until_their_last_name_goes() {
        let mut t = Nodes::new(vec![0]);
        let k = Some((1, 42));
        let a = t.upsert(ROOT, b"a", vec![1], false, 1, k);
        let b = t.upsert(ROOT, b"b", vec![1], false, 1, k);
        assert_eq!(a, b, "same backing file, same node");
        t.detach(ROOT, b"a");
        assert_eq!(
            t.path(a).as_deref(),
            Some(&b"b"[..]),
            "the alias takes over"
        );
        t.detach(ROOT, b"b");
        assert_eq!(t.path(a), None);
        t.forget(a, 2);
        assert!(t.get(a).is_none());
        let x = t.upsert(ROOT, b"x", vec![0], false, 1, None);
        let y = t.upsert(ROOT, b"y", vec![0], false, 1, None);
        t.exchange(ROOT, b"x", ROOT, b"y");
        assert_eq!(
            (t.child(ROOT, b"x"), t.child(ROOT, b"y")),
            (Some(y), Some(x))
        );
        assert_eq!(t.path(x).as_deref(), Some(&b"y"[..]));
    }
}
