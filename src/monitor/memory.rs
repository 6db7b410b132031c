//! Keeping an idle monitor small. Even the re-executed monitor ([`super::handoff`]) has the
//! pages of the binary and of libc that its start-up touched mapped, and the kernel maps up
//! to 64 KiB around every page fault of a cached file: megabytes of resident, clean file
//! pages for a process that then sleeps in `poll`. [`shed_file_pages`] unmaps them (they stay
//! in the page cache and fault back in when used), as memory pressure would.
//!
//! Only read-only private file mappings without anonymous (copied-on-write) pages are
//! dropped: such a page always equals the file's, so `MADV_DONTNEED` loses nothing. Mappings
//! written at start-up (relocated RELRO data, `.data`, the heap, the stack) are kept, and
//! `MADV_PAGEOUT` is not an option: the kernel refuses it on files the caller cannot write
//! (the installed binary is root's).

/// One mapping's header from `/proc/self/smaps` and what decides whether it may go.
struct Mapping {
    start: usize,
    end: usize,
    droppable: bool,
}

/// Parses a header line (`start-end perms offset dev inode [path]`); `None` for other lines.
fn header(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?.as_bytes();
    let inode = fields.nth(2)?;
    if perms.len() != 4 {
        return None;
    }
    let droppable = perms[0] == b'r' && perms[1] == b'-' && perms[3] == b'p' && inode != "0";
    Some(Mapping {
        start,
        end,
        droppable,
    })
}

/// The ranges [`shed_file_pages`] drops, from the text of `/proc/self/smaps`.
fn droppable_ranges(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<Mapping> = None;
    for line in smaps.lines() {
        if let Some(rest) = line.strip_prefix("Anonymous:") {
            let anon = rest.trim().trim_end_matches("kB").trim();
            if let Some(m) = current.take() {
                if m.droppable && anon == "0" {
                    out.push((m.start, m.end));
                }
            }
        } else if let Some(m) = header(line) {
            current = Some(m);
        }
    }
    out
}

/// Drops this process's clean, read-only file pages from its page tables. Best effort.
pub fn shed_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in droppable_ranges(&smaps) {
        // SAFETY: a private, read-only file mapping without anonymous pages: dropping its
        // pages only makes the next access read them from the file (page cache) again.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_file_mappings_are_dropped() {
        let smaps = "\
1000-2000 r-xp 00001000 fe:00 42 /usr/bin/nook
Rss:                 8 kB
Anonymous:           0 kB
2000-3000 r--p 00002000 fe:00 42 /usr/bin/nook
Anonymous:           4 kB
3000-4000 rw-p 00003000 fe:00 42 /usr/bin/nook
Anonymous:           0 kB
4000-5000 r--p 00000000 00:00 0 [vvar]
Anonymous:           0 kB
5000-6000 r--s 00000000 fe:00 43 /shared
Anonymous:           0 kB
6000-7000 r--p 00000000 fe:00 44 /usr/lib/libc.so.6
Anonymous:           0 kB
";
        assert_eq!(
            droppable_ranges(smaps),
            [(0x1000, 0x2000), (0x6000, 0x7000)]
        );
    }

    #[test]
    fn shedding_keeps_this_process_working() {
        shed_file_pages();
        // Code, read-only data and relocated pointers all still work afterwards.
        let v: Vec<String> = (0..100).map(|i| format!("{i}")).collect();
        assert_eq!(v.join(",").len(), 289);
    }
}
