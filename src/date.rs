//! Calendar dates for log lines, computed by hand from `SystemTime` (no
//! time zone database, no libc): every date l4lb writes is UTC.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A UTC date and time, to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub micros: u32,
}

impl Utc {
    /// Breaks `t` down; times before 1970 are taken as 1970-01-01.
    pub fn from(t: SystemTime) -> Utc {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let in_day = (secs % 86_400) as u32;
        Utc {
            year,
            month,
            day,
            hour: in_day / 3600,
            min: in_day / 60 % 60,
            sec: in_day % 60,
            micros: since.subsec_micros(),
        }
    }

    fn month_name(&self) -> &'static str {
        MONTHS[(self.month - 1) as usize]
    }

    /// HAProxy's accept date: `24/Nov/2026:12:01:02.123`.
    pub fn write_log_date(&self, out: &mut impl Write) -> fmt::Result {
        write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02}.{:03}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.min,
            self.sec,
            self.micros / 1000
        )
    }

    /// RFC 3164's timestamp: `Nov 24 12:01:02`, the day padded with a space.
    pub fn write_rfc3164(&self, out: &mut impl Write) -> fmt::Result {
        write!(
            out,
            "{} {:2} {:02}:{:02}:{:02}",
            self.month_name(),
            self.day,
            self.hour,
            self.min,
            self.sec
        )
    }

    /// RFC 3339 with microseconds, as RFC 5424 wants: `2026-11-24T12:01:02.123456+00:00`.
    pub fn write_iso(&self, out: &mut impl Write) -> fmt::Result {
        write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
            self.year, self.month, self.day, self.hour, self.min, self.sec, self.micros
        )
    }
}

/// (year, month, day) of a day count since 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u64) -> Utc {
        Utc::from(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
    }

    fn text(f: impl Fn(&Utc, &mut String) -> fmt::Result, u: &Utc) -> String {
        let mut s = String::new();
        f(u, &mut s).unwrap();
        s
    }

    #[test]
    fn known_dates() {
        // `date -u -d @...` for each.
        assert_eq!(
            at(0, 0),
            Utc {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                min: 0,
                sec: 0,
                micros: 0
            }
        );
        let u = at(1_795_521_662, 123_456); // 2026-11-24 12:01:02 UTC
        assert_eq!(
            (u.year, u.month, u.day, u.hour, u.min, u.sec),
            (2026, 11, 24, 12, 1, 2)
        );
        let leap = at(951_782_400, 0); // 2000-02-29
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        let new_year = at(1_798_761_599, 999_999); // 2026-12-31 23:59:59
        assert_eq!(
            (new_year.year, new_year.month, new_year.day, new_year.sec),
            (2026, 12, 31, 59)
        );
        let mar = at(4_107_542_400, 0); // 2100-03-01 (2100 is not a leap year)
        assert_eq!((mar.year, mar.month, mar.day), (2100, 3, 1));
    }

    #[test]
    fn every_day_round_trips_through_days_since_epoch() {
        let mut prev = civil_from_days(-1);
        for d in 0..200_000 {
            let (y, m, day) = civil_from_days(d);
            let next_day = (y, m, day) > prev;
            assert!(next_day, "{d}: {prev:?} -> {:?}", (y, m, day));
            assert!((1..=12).contains(&m) && (1..=31).contains(&day));
            prev = (y, m, day);
        }
    }

    #[test]
    fn formats() {
        let u = at(1_795_521_662, 123_456);
        assert_eq!(text(Utc::write_log_date, &u), "24/Nov/2026:12:01:02.123");
        assert_eq!(text(Utc::write_rfc3164, &u), "Nov 24 12:01:02");
        assert_eq!(text(Utc::write_iso, &u), "2026-11-24T12:01:02.123456+00:00");
        let early = at(1_793_750_400 + 5, 7_000); // 2026-11-04 00:00:05.007
        assert_eq!(text(Utc::write_rfc3164, &early), "Nov  4 00:00:05");
        assert_eq!(
            text(Utc::write_log_date, &early),
            "04/Nov/2026:00:00:05.007"
        );
    }
}
