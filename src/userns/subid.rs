//! Parsing `/etc/subuid` and `/etc/subgid`: which subordinate id ranges belong to a user.
//!
//! Entries are `owner:start:count`, where owner is a user name or a decimal uid; like shadow's
//! `newuidmap`, both forms match (name first, then uid).

use std::path::Path;

use serde::Serialize;

/// One `owner:start:count` range granted to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubIdRange {
    /// First host id of the range.
    pub start: u64,
    /// Number of ids in the range.
    pub count: u64,
}

impl SubIdRange {
    /// Whether `id` falls inside this range.
    pub fn contains(&self, id: u64) -> bool {
        id >= self.start && id - self.start < self.count
    }
}

/// The user whose ranges are looked up: name (when the passwd entry exists) and uid.
#[derive(Debug, Clone)]
pub struct Owner<'a> {
    pub name: Option<&'a str>,
    pub id: u32,
}

/// Ranges in `contents` (the text of a subuid/subgid file) that belong to `owner`.
///
/// Malformed lines are skipped, as shadow does; comments (`#`) and blank lines too.
pub fn ranges_in(contents: &str, owner: &Owner<'_>) -> Vec<SubIdRange> {
    let id = owner.id.to_string();
    contents
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.split(':');
            let who = parts.next()?;
            let start = parts.next()?.trim().parse::<u64>().ok()?;
            let count = parts.next()?.trim().parse::<u64>().ok()?;
            let matches = Some(who) == owner.name || who == id;
            (matches && count > 0).then_some(SubIdRange { start, count })
        })
        .collect()
}

/// Ranges of `owner` in the file at `path`; a missing file means no ranges.
pub fn ranges_in_file(path: &Path, owner: &Owner<'_>) -> std::io::Result<Vec<SubIdRange>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(ranges_in(&text, owner)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\nbroken\nalice:x:5\nalice:500:0\n";

    #[test]
    fn matches_by_name_and_by_uid() {
        let alice = Owner {
            name: Some("alice"),
            id: 1001,
        };
        assert_eq!(
            ranges_in(FILE, &alice),
            vec![
                SubIdRange {
                    start: 100000,
                    count: 65536
                },
                SubIdRange {
                    start: 300000,
                    count: 1000
                }
            ]
        );
    }

    #[test]
    fn nameless_user_matches_by_uid_only() {
        let anon = Owner {
            name: None,
            id: 1001,
        };
        assert_eq!(
            ranges_in(FILE, &anon),
            vec![SubIdRange {
                start: 300000,
                count: 1000
            }]
        );
        let nobody = Owner {
            name: Some("carol"),
            id: 7,
        };
        assert!(ranges_in(FILE, &nobody).is_empty());
    }

    #[test]
    fn contains_is_half_open() {
        let r = SubIdRange {
            start: 10,
            count: 5,
        };
        assert!(r.contains(10) && r.contains(14));
        assert!(!r.contains(9) && !r.contains(15));
    }
}
