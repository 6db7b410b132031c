//! `--userns=keep-id`: the container sees the user's own uid and gid instead of root. Inside
//! the keeper's namespace the user is id 0 and the subordinate ids are 1..N; a nested user
//! namespace maps container uid U (the user's host uid) to keeper id 0 and shifts the ids below
//! it up by one, so every other id keeps a mapping. The user also gets a passwd/group entry.

use crate::userns::mapped::IdMap;

/// The nested map for host id `own` when the keeper namespace holds `total` ids (0..total).
/// `None` when `own` does not fit below `total` (too few subordinate ids).
pub fn nested_map(own: u64, total: u64) -> Option<Vec<IdMap>> {
    if own == 0 || own >= total {
        return None;
    }
    let mut map = vec![
        IdMap {
            container_id: 0,
            host_id: 1,
            size: own,
        },
        IdMap {
            container_id: own,
            host_id: 0,
            size: 1,
        },
    ];
    if own + 1 < total {
        map.push(IdMap {
            container_id: own + 1,
            host_id: own + 1,
            size: total - own - 1,
        });
    }
    Some(map)
}

/// The image's passwd (or group) text with a line for the user appended unless the id is
/// already there.
pub fn with_entry(text: &str, id: u32, line: &str) -> String {
    let present = text
        .lines()
        .any(|l| l.split(':').nth(2) == Some(&id.to_string()));
    let mut out = text.to_string();
    if !present {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_map_puts_the_user_at_its_own_id() {
        let map = nested_map(1001, 65537).expect("fits");
        assert_eq!(
            map,
            vec![
                IdMap {
                    container_id: 0,
                    host_id: 1,
                    size: 1001
                },
                IdMap {
                    container_id: 1001,
                    host_id: 0,
                    size: 1
                },
                IdMap {
                    container_id: 1002,
                    host_id: 1002,
                    size: 64535
                },
            ]
        );
        let covered: u64 = map.iter().map(|m| m.size).sum();
        assert_eq!(
            covered, 65537,
            "every id of the keeper namespace stays mapped exactly once"
        );
        assert!(nested_map(70000, 65537).is_none());
        assert!(nested_map(0, 65537).is_none());
    }

    #[test]
    fn entries_are_added_once() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n";
        let added = with_entry(passwd, 1001, "me:x:1001:1001::/home/me:/bin/sh");
        assert_eq!(
            added,
            "root:x:0:0:root:/root:/bin/sh\nme:x:1001:1001::/home/me:/bin/sh\n"
        );
        assert_eq!(with_entry(&added, 1001, "other:x:1001:1:::"), added);
    }
}
