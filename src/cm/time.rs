//! The few date computations the client needs (CM's `Submitted` times, HTTP dates), without a date crate.

/// Civil date and time (UTC) to Unix seconds (Howard Hinnant's days_from_civil); `None` when out of range.
pub fn unix_time(y: i64, m: i64, d: i64, h: i64, min: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s)
}

/// Parses a .NET JSON date as CM sends it — `2015-07-07T23:36:21.93Z`, `0001-01-01T00:00:00`, with or without
/// fraction, `Z` or an offset — to Unix seconds. A time without a zone is taken as UTC (CM's `Z`-less values are
/// the "unset" date or server-local times the docs do not explain).
pub fn parse_iso_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once(['T', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let y: i64 = ymd.next()?.parse().ok()?;
    let m: i64 = ymd.next()?.parse().ok()?;
    let d: i64 = ymd.next()?.parse().ok()?;
    // The zone: "Z", "+hh:mm"/"-hh:mm", or none.
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, zone) = rest.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (zh, zm) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
        (
            c,
            sign * (zh.parse::<i64>().ok()? * 3600 + zm.parse::<i64>().ok()? * 60),
        )
    } else {
        (rest, 0)
    };
    let clock = clock.split('.').next()?;
    let mut hms = clock.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let mi: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next().unwrap_or("0").parse().ok()?;
    Some(unix_time(y, m, d, h, mi, s)? - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cm_date_forms_parse() {
        assert_eq!(unix_time(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(
            parse_iso_time("2015-07-07T23:36:21.93Z"),
            Some(1_436_312_181)
        );
        assert_eq!(parse_iso_time("2015-07-07T23:36:21Z"), Some(1_436_312_181));
        assert_eq!(parse_iso_time("2015-07-07T23:36:21"), Some(1_436_312_181));
        assert_eq!(
            parse_iso_time("2015-07-08T01:36:21.5+02:00"),
            Some(1_436_312_181)
        );
        assert_eq!(
            parse_iso_time("2015-07-07T22:36:21-01:00"),
            Some(1_436_312_181)
        );
        assert!(parse_iso_time("0001-01-01T00:00:00").is_some());
        for bad in [
            "",
            "yesterday",
            "2015-13-01T00:00:00Z",
            "2015-07-07",
            "2015-07-07Tab:00:00Z",
        ] {
            assert_eq!(parse_iso_time(bad), None, "{bad}");
        }
    }
}
