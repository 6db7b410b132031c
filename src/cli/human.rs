//! Human-readable durations and sizes, as Podman (docker/go-units) prints them in listings.

use std::time::{Duration, SystemTime};

/// `About a minute`, `5 hours`, `3 weeks`: go-units' `HumanDuration`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// `5 minutes ago` for an RFC 3339 time; the raw text when it does not parse.
pub fn since(rfc3339: &str) -> String {
    match crate::store::time::parse_rfc3339(rfc3339) {
        Some(t) => format!("{} ago", elapsed(t)),
        None => rfc3339.to_string(),
    }
}

/// Time from `t` until now, as [`duration`].
pub fn elapsed(t: SystemTime) -> String {
    duration(SystemTime::now().duration_since(t).unwrap_or_default())
}

/// `1.23 MB`: decimal units with three significant digits, go-units' `HumanSize`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let mut text = format!("{value:.digits$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go_units() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (45, "45 seconds"),
            (90, "About a minute"),
            (600, "10 minutes"),
            (3600, "About an hour"),
            (5 * 3600, "5 hours"),
            (3 * 86400, "3 days"),
            (21 * 86400, "3 weeks"),
            (90 * 86400, "3 months"),
            (800 * 86400, "2 years"),
        ];
        for (secs, want) in cases {
            assert_eq!(duration(Duration::from_secs(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn sizes_have_three_significant_digits() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1234), "1.23 kB");
        assert_eq!(size(5_800_000), "5.8 MB");
        assert_eq!(size(77_940_000), "77.9 MB");
        assert_eq!(size(123_456_789_000), "123 GB");
    }

    #[test]
    fn since_falls_back_to_the_raw_text() {
        assert_eq!(since("not a time"), "not a time");
    }
}
