//! One generic record store for every kind: `<graphroot>/db/<kind>/<id>.json`, one file per
//! record, each written atomically, all writes under the kind's exclusive lock.
//!
//! Why this layout survives `kill -9` at any instant: a record file is replaced by rename, so
//! it is always the old or the new version; a killed writer leaves at most a `.*.tmp` file that
//! recovery deletes. Why concurrent writers are safe: create/update/remove run under the kind's
//! exclusive `flock`, and the uniqueness checks (id, names) read the directory under that same
//! lock, so two processes can never both create the same id or name.
//!
//! Lookups accept a full id, a name, or a unique id prefix (in that order); an ambiguous prefix
//! lists the matching ids. Use [`RecordSet::read`] / [`RecordSet::write`] to do several steps
//! under one lock; the plain methods take the lock for one step.

use std::fs;
use std::io;
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use super::atomic::{is_temp_name, sync_dir, write_json_atomic};
use super::error::StoreError;
use super::lock::{LockGuard, LockMode};
use super::paths::StorePaths;
use super::records::Record;

/// All records of one kind.
#[derive(Debug, Clone)]
pub struct RecordSet<T: Record> {
    dir: PathBuf,
    lock_path: PathBuf,
    _t: PhantomData<fn() -> T>,
}

/// True when `id` can be a record id (and thus a file name).
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 200
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

impl<T: Record> RecordSet<T> {
    /// The set for `T::KIND` under `paths` (the directories must exist: `Store::open` makes them).
    pub fn new(paths: &StorePaths) -> Self {
        RecordSet {
            dir: paths.records_dir(T::KIND),
            lock_path: paths.lock_file(T::KIND),
            _t: PhantomData,
        }
    }

    /// The directory holding the record files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the shared lock: consistent reads while writers wait.
    pub fn read(&self) -> Result<Txn<'_, T>, StoreError> {
        let guard = LockGuard::acquire(&self.lock_path, T::KIND.lock_kind(), LockMode::Shared)?;
        Ok(Txn { set: self, guard })
    }

    /// Takes the exclusive lock: reads plus create/update/remove.
    pub fn write(&self) -> Result<WriteTxn<'_, T>, StoreError> {
        let guard = LockGuard::acquire(&self.lock_path, T::KIND.lock_kind(), LockMode::Exclusive)?;
        Ok(WriteTxn {
            txn: Txn { set: self, guard },
        })
    }

    /// Looks a record up by id, name or unique id prefix.
    pub fn get(&self, key: &str) -> Result<T, StoreError> {
        self.read()?.get(key)
    }

    /// All records, sorted by id.
    pub fn list(&self) -> Result<Vec<T>, StoreError> {
        self.read()?.list()
    }

    /// Creates a record; fails when its id or one of its names is taken.
    pub fn create(&self, rec: T) -> Result<T, StoreError> {
        self.write()?.create(rec)
    }

    /// Changes a record under the lock; the closure may fail to abort without writing.
    pub fn update<E: From<StoreError>>(
        &self,
        key: &str,
        f: impl FnOnce(&mut T) -> Result<(), E>,
    ) -> Result<T, E> {
        self.write()?.update(key, f)
    }

    /// [`update`](Self::update) with a chosen [`Durability`] (see [`WriteTxn::update_with`]).
    pub fn update_with<E: From<StoreError>>(
        &self,
        key: &str,
        durability: Durability,
        f: impl FnOnce(&mut T) -> Result<(), E>,
    ) -> Result<T, E> {
        self.write()?.update_with(key, durability, f)
    }

    /// Removes a record, returning it.
    pub fn remove(&self, key: &str) -> Result<T, StoreError> {
        self.write()?.remove(key)
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Reads one record file; `None` when it does not exist.
    fn read_file(&self, path: &Path) -> Result<Option<T>, StoreError> {
        match fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        path: path.to_path_buf(),
                        source: e,
                    })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("read", path, e)),
        }
    }

    /// Reads every record without taking the lock (files are replaced atomically, so each one
    /// parses; the set as a whole may be mid-change). For cheap checks before locking.
    pub(crate) fn list_unlocked(&self) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for name in self.file_names()? {
            if let Some(id) = name.strip_suffix(".json") {
                if let Some(rec) = self.read_file(&self.path_of(id))? {
                    out.push(rec);
                }
            }
        }
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }

    /// Names of the files in the record directory, including temporary ones.
    pub(crate) fn file_names(&self) -> Result<Vec<String>, StoreError> {
        let rd = fs::read_dir(&self.dir).map_err(|e| StoreError::io("list", &self.dir, e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("list", &self.dir, e))?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Deletes leftover temporary files; call with the exclusive lock held. Returns how many.
    pub(crate) fn remove_temp_files(&self, _lock: &WriteTxn<'_, T>) -> Result<usize, StoreError> {
        let mut n = 0;
        for name in self.file_names()? {
            if is_temp_name(&name) {
                let p = self.dir.join(&name);
                match fs::remove_file(&p) {
                    Ok(()) => n += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("remove leftover", &p, e)),
                }
            }
        }
        Ok(n)
    }
}

/// Whether a record write is fsynced (see [`WriteTxn::update_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Durable,
    Volatile,
}

/// Reads under the kind's lock (shared from [`RecordSet::read`], exclusive inside a
/// [`WriteTxn`]). The lock is released when this is dropped.
#[derive(Debug)]
pub struct Txn<'a, T: Record> {
    set: &'a RecordSet<T>,
    guard: LockGuard,
}

impl<T: Record> Txn<'_, T> {
    /// Looks a record up by full id, then exact name, then unique id prefix.
    pub fn get(&self, key: &str) -> Result<T, StoreError> {
        let not_found = || StoreError::NotFound {
            kind: T::KIND,
            key: key.to_string(),
        };
        if key.is_empty() {
            return Err(not_found());
        }
        if let Some(rec) = self.get_exact(key)? {
            return Ok(rec);
        }
        let all = self.list()?;
        if let Some(rec) = all.iter().find(|r| r.names().contains(&key)) {
            return Ok(rec.clone());
        }
        let mut matches: Vec<&T> = all.iter().filter(|r| r.id().starts_with(key)).collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.remove(0).clone()),
            _ => Err(StoreError::Ambiguous {
                kind: T::KIND,
                prefix: key.to_string(),
                matches: matches.iter().map(|r| r.id().to_string()).collect(),
            }),
        }
    }

    /// The record with exactly this id, if any.
    pub fn get_exact(&self, id: &str) -> Result<Option<T>, StoreError> {
        if !valid_id(id) {
            return Ok(None);
        }
        self.set.read_file(&self.set.path_of(id))
    }

    /// True when `key` resolves to a record.
    pub fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.get(key) {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// All records, sorted by id.
    pub fn list(&self) -> Result<Vec<T>, StoreError> {
        self.set.list_unlocked()
    }

    /// The lock this transaction holds.
    pub fn guard(&self) -> &LockGuard {
        &self.guard
    }

    /// Fails when another record (id != `except`) already uses one of `names`.
    fn check_names(&self, names: &[&str], except: &str) -> Result<(), StoreError> {
        if names.is_empty() {
            return Ok(());
        }
        for other in self.list()? {
            if other.id() == except {
                continue;
            }
            if let Some(n) = other.names().into_iter().find(|n| names.contains(n)) {
                return Err(StoreError::NameInUse {
                    kind: T::KIND,
                    name: n.to_string(),
                    id: other.id().to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Reads and writes under the kind's exclusive lock.
#[derive(Debug)]
pub struct WriteTxn<'a, T: Record> {
    txn: Txn<'a, T>,
}

impl<'a, T: Record> Deref for WriteTxn<'a, T> {
    type Target = Txn<'a, T>;
    fn deref(&self) -> &Txn<'a, T> {
        &self.txn
    }
}

impl<T: Record> WriteTxn<'_, T> {
    /// Creates a record; fails when its id or one of its names is taken.
    pub fn create(&self, rec: T) -> Result<T, StoreError> {
        self.create_with(rec, |_| Ok::<(), StoreError>(()))
    }

    /// Like [`create`](Self::create), running `prepare` (e.g. making a data directory) after the
    /// uniqueness checks and before the record is written; if it fails nothing is written.
    pub fn create_with<E: From<StoreError>>(
        &self,
        rec: T,
        prepare: impl FnOnce(&T) -> Result<(), E>,
    ) -> Result<T, E> {
        let id = rec.id();
        if !valid_id(id) {
            return Err(StoreError::InvalidId {
                kind: T::KIND,
                id: id.to_string(),
            }
            .into());
        }
        if self.get_exact(id)?.is_some() {
            return Err(StoreError::IdExists {
                kind: T::KIND,
                id: id.to_string(),
            }
            .into());
        }
        let names = rec.names();
        let mut seen = names.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != names.len() {
            return Err(StoreError::NameInUse {
                kind: T::KIND,
                name: names.join(","),
                id: id.to_string(),
            }
            .into());
        }
        self.check_names(&names, id)?;
        prepare(&rec)?;
        write_json_atomic(&self.set.path_of(id), &rec)?;
        Ok(rec)
    }

    /// Applies `f` to the record found by `key` and writes it back; if `f` fails nothing is
    /// written. The id must not change; changed names are checked for uniqueness.
    pub fn update<E: From<StoreError>>(
        &self,
        key: &str,
        f: impl FnOnce(&mut T) -> Result<(), E>,
    ) -> Result<T, E> {
        self.update_with(key, Durability::Durable, f)
    }

    /// Like [`update`](Self::update), choosing whether the write is fsynced. `Volatile` is for
    /// state that recovery reconstructs anyway (a container's running state and pid, which a
    /// reboot or a dead pid resets): a crash may lose the change, never tear the record.
    pub fn update_with<E: From<StoreError>>(
        &self,
        key: &str,
        durability: Durability,
        f: impl FnOnce(&mut T) -> Result<(), E>,
    ) -> Result<T, E> {
        let old = self.get(key)?;
        let mut new = old.clone();
        f(&mut new)?;
        if new.id() != old.id() {
            return Err(StoreError::IdChanged {
                kind: T::KIND,
                id: old.id().to_string(),
            }
            .into());
        }
        let new_names = new.names();
        if new_names != old.names() {
            self.check_names(&new_names, new.id())?;
        }
        let path = self.set.path_of(new.id());
        match durability {
            Durability::Durable => write_json_atomic(&path, &new)?,
            Durability::Volatile => {
                let bytes =
                    serde_json::to_vec_pretty(&new).map_err(|source| StoreError::Encode {
                        path: path.clone(),
                        source,
                    })?;
                super::atomic::write_replace(&path, &bytes)?;
            }
        }
        Ok(new)
    }

    /// Removes the record found by `key`, returning it.
    pub fn remove(&self, key: &str) -> Result<T, StoreError> {
        let rec = self.get(key)?;
        let p = self.set.path_of(rec.id());
        fs::remove_file(&p).map_err(|e| StoreError::io("remove", &p, e))?;
        sync_dir(&self.set.dir)?;
        Ok(rec)
    }
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
