//! RFC 3339 timestamps for records (`2024-05-01T10:00:00.123456789Z`), without a date crate.
//!
//! Records store times as RFC 3339 strings in UTC so they are readable, sortable and what
//! Podman prints in `inspect`; [`parse_rfc3339`] turns them back into a `SystemTime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time as RFC 3339 with nanoseconds, in UTC.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Formats a time as RFC 3339 with nanoseconds, in UTC (times before 1970 clamp to the epoch).
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`; `None` when malformed.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        if frac.is_empty() {
            return None;
        }
        let mut digits: String = frac.chars().take(9).collect();
        while digits.len() < 9 {
            digits.push('0');
        }
        nanos = digits.parse().ok()?;
    }
    let offset = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let oh: i64 = tz.get(1..3)?.parse().ok()?;
            let om: i64 = tz.get(4..6)?.parse().ok()?;
            let v = oh * 3600 + om * 60;
            if tz.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Parses a Go duration (`300ms`, `10m`, `1h30m`, `1.5h`, `-2s`; units ns, us, µs, ms, s, m,
/// h; a bare `0`); `None` when malformed. Negative durations come back as `(true, d)`.
pub fn parse_go_duration(s: &str) -> Option<(bool, Duration)> {
    let (negative, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * unit;
        rest = &rest[unit_end..];
    }
    (nanos.is_finite() && nanos < u64::MAX as f64)
        .then(|| (negative, Duration::from_nanos(nanos as u64)))
}

/// Parses a time as Podman's `--since`/`--until` take it (its `ParseInputTime`): RFC 3339
/// (fractions optional), `2006-01-02T15:04:05` (UTC), `2006-01-02`, `2006-01-02Z07:00`, a Unix
/// timestamp (`1714557600`, `1714557600.5`), or a Go duration relative to `now` — before it
/// for `since`, after it otherwise (as Podman computes it).
pub fn parse_input_time(s: &str, since: bool, now: SystemTime) -> Option<SystemTime> {
    let s = s.trim();
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    if s.len() >= 19 {
        if let Some(t) = parse_rfc3339(&format!("{s}Z")) {
            return Some(t);
        }
    }
    if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') {
        let (date, zone) = s.split_at(10);
        let zone = if zone.is_empty() { "Z" } else { zone };
        if let Some(t) = parse_rfc3339(&format!("{date}T00:00:00{zone}")) {
            return Some(t);
        }
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
    }
    let (negative, d) = parse_go_duration(s)?;
    // Podman: since = now - d, until = now + d (a negative duration flips the sign).
    if since != negative {
        now.checked_sub(d)
    } else {
        now.checked_add(d)
    }
}

// Howard Hinnant's civil-date algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(951_782_400, 5); // 2000-02-29
        assert_eq!(format_rfc3339(t), "2000-02-29T00:00:00.000000005Z");
    }

    #[test]
    fn go_durations_and_input_times_parse_like_podman() {
        let d = |s| parse_go_duration(s).map(|(_, d)| d);
        assert_eq!(d("10m"), Some(Duration::from_secs(600)));
        assert_eq!(d("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(d("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(d("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(
            parse_go_duration("-2s"),
            Some((true, Duration::from_secs(2)))
        );
        for bad in ["", "10", "m", "10x", "1h30"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        let now = UNIX_EPOCH + Duration::from_secs(1_714_557_600);
        let t = |s, since| parse_input_time(s, since, now);
        assert_eq!(t("10m", true), Some(now - Duration::from_secs(600)));
        assert_eq!(t("10m", false), Some(now + Duration::from_secs(600)));
        assert_eq!(t("1714557600", true), Some(now));
        assert_eq!(
            t("1714557600.5", true),
            Some(now + Duration::from_millis(500))
        );
        assert_eq!(t("2024-05-01T10:00:00Z", true), Some(now));
        assert_eq!(t("2024-05-01T10:00:00", true), Some(now));
        assert_eq!(t("2024-05-01T12:00:00+02:00", true), Some(now));
        assert_eq!(
            t("2024-05-01", true),
            Some(now - Duration::from_secs(10 * 3600))
        );
        assert_eq!(t("yesterday", true), None);
    }

    #[test]
    fn roundtrip_and_offsets() {
        let t = UNIX_EPOCH + Duration::new(1_714_557_600, 123_456_789);
        assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        let a = parse_rfc3339("2024-05-01T12:00:00+02:00").unwrap();
        let b = parse_rfc3339("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_rfc3339("2024-13-01T10:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
