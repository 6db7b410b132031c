//! The expected failures of the POSIX pass, per filesystem, each with its explanation (also
//! in README.md), and [`judge`], which turns the agent's rows into the printed table and the
//! list of surprises: a failure not listed here, or a listed failure that now passes (so this
//! list stays true).

use super::posix;

/// (subject, check, why it fails there).
pub const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[];

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
            (parts.next() == Some(name)).then(|| (parts.next().unwrap_or(""), parts.next().unwrap_or("")))
        });
        let expected = EXPECTED_FAILURES.iter().find(|(s, n, _)| *s == subject && *n == name).map(|(_, _, why)| *why);
        let line = match (row, expected) {
            (None, _) => {
                unexpected.push(format!("{name}: no result"));
                format!("  {name:<30} MISSING")
            }
            (Some(("PASS", _)), None) => format!("  {name:<30} pass"),
            (Some(("PASS", _)), Some(_)) => {
                unexpected.push(format!("{name}: now PASSES on {subject}: remove it from EXPECTED_FAILURES"));
                format!("  {name:<30} pass (listed as an expected failure!)")
            }
            (Some((_, detail)), Some(why)) => format!("  {name:<30} FAIL (expected: {why}) [{detail}]"),
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
