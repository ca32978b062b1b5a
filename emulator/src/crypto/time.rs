//! UTC calendar arithmetic for certificate validity (no time-zone database needed, no extra crate).

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    /// Howard Hinnant's `civil_from_days`, valid for the proleptic Gregorian calendar.
    pub fn from_unix(unix_seconds: i64) -> Civil {
        let days = unix_seconds.div_euclid(86_400);
        let secs = unix_seconds.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// `"YYYY-MM-DDTHH:MM:SS"`, the form CM's JSON uses (`"2016-07-13T09:10:31"`).
    pub fn to_json_text(self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `unix_seconds` as `"YYYY-MM-DDTHH:MM:SS"` (UTC).
pub fn json_text(unix_seconds: i64) -> String {
    Civil::from_unix(unix_seconds).to_json_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(json_text(0), "1970-01-01T00:00:00");
        assert_eq!(json_text(1_468_401_031), "2016-07-13T09:10:31");
        // leap day and end of a leap year
        assert_eq!(json_text(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(json_text(1_735_689_599), "2024-12-31T23:59:59");
        assert_eq!(json_text(-1), "1969-12-31T23:59:59");
    }
}
