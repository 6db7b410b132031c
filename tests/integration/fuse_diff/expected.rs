//! The expected failures of the POSIX pass, per filesystem, each with its explanation (also
//! in README.md), and [`judge`], which turns the agent's rows into the printed table and the
//! list of surprises: a failure not listed here, or a listed failure that now passes (so this
//! list stays true).

use super::posix;

/// (subject, check, why it fails there).
pub const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[
    ("kernel", "rename_lower_dir", "EXDEV: redirect_dir is off in a user namespace; `mv` copies instead (issue 6 wants the union to do that itself)"),
    ("kernel", "link_lower_hardlink", "without index (userns default) copy-up breaks a lower hardlink: the other name keeps the old data"),
    ("fuse-overlayfs", "rename_lower_dir", "fuse-overlayfs 1.10 returns EXDEV for a lower dir, like the kernel"),
    ("fuse-overlayfs", "unlink_open_file", "fstat of an open, unlinked file still reports nlink 1"),
    ("fuse-overlayfs", "name_too_long", "statfs namelen is 251 (255 - len(\".wh.\")): a 255-byte name gets ENAMETOOLONG"),
    ("fuse-overlayfs", "statfs", "namelen 251 instead of 255 (room for the .wh. prefix)"),
    ("fuse-overlayfs", "o_tmpfile", "no FUSE tmpfile operation in 1.10: EOPNOTSUPP"),
    ("nook", "o_tmpfile", "fuser 0.18 does not know the kernel's FUSE_TMPFILE opcode (51) and answers ENOSYS: EOPNOTSUPP"),
    ("fuse-overlayfs", "seek_hole_data", "no lseek operation: the kernel's FUSE default treats the file as all data"),
];

pub struct Report {
    pub table: String,
    pub unexpected: Vec<String>,
}

/// Judges the agent's `name\tPASS|FAIL\tdetail` lines for `subject`.
pub fn judge(subject: &str, stdout: &str) -> Report {
    let mut table = format!("POSIX pass on {subject}:\n");
    let mut unexpected = Vec::new();
    for name in posix::names() {
        let row = stdout.lines().find_map(|l| {
            let mut parts = l.splitn(3, '\t');
            (parts.next() == Some(name))
                .then(|| (parts.next().unwrap_or(""), parts.next().unwrap_or("")))
        });
        let expected = EXPECTED_FAILURES
            .iter()
            .find(|(s, n, _)| *s == subject && *n == name)
            .map(|(_, _, why)| *why);
        let line = match (row, expected) {
            (None, _) => {
                unexpected.push(format!("{name}: no result"));
                format!("  {name:<30} MISSING")
            }
            (Some(("PASS", _)), None) => format!("  {name:<30} pass"),
            (Some(("PASS", _)), Some(_)) => {
                unexpected.push(format!(
                    "{name}: now PASSES on {subject}: remove it from EXPECTED_FAILURES"
                ));
                format!("  {name:<30} pass (listed as an expected failure!)")
            }
            (Some((_, detail)), Some(why)) => {
                format!("  {name:<30} FAIL (expected: {why}) [{detail}]")
            }
            (Some((_, detail)), None) => {
                unexpected.push(format!("{name}: {detail}"));
                format!("  {name:<30} FAIL UNEXPECTED [{detail}]")
            }
        };
        table.push_str(&line);
        table.push('\n');
    }
    Report { table, unexpected }
}
