//! Calendar dates for log lines, in local time as HAProxy writes them: the
//! offset from UTC comes from the C library (`localtime_r`, so `TZ` and
//! `/etc/localtime` apply); the calendar arithmetic is done here.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sys;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A local date and time, to the microsecond, with its offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogDate {
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub offset: i32,
}

impl LogDate {
    /// `t` in the local time zone.
    pub(crate) fn local(t: SystemTime) -> LogDate {
        let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        LogDate::with_offset(t, sys::utc_offset(secs as i64))
    }

    /// Breaks `t` down at `offset` seconds east of UTC; times before 1970
    /// are taken as 1970-01-01.
    pub(crate) fn with_offset(t: SystemTime, offset: i32) -> LogDate {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs() as i64 + i64::from(offset);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let in_day = secs.rem_euclid(86_400) as u32;
        LogDate {
            year,
            month,
            day,
            hour: in_day / 3600,
            min: in_day / 60 % 60,
            sec: in_day % 60,
            micros: since.subsec_micros(),
            offset,
        }
    }

    /// `t` as seconds since the UNIX epoch (0 before it).
    pub(crate) fn unix_secs(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
    }

    fn month_name(&self) -> &'static str {
        MONTHS[(self.month - 1) as usize]
    }

    /// HAProxy's accept date: `24/Nov/2026:12:01:02.123`.
    pub(crate) fn write_log_date(&self, out: &mut impl Write) -> fmt::Result {
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

    /// The common log format's date, with the offset: `24/Nov/2026:12:01:02 +0000`
    /// (HAProxy's `%T` in UTC, `%Tl` local).
    pub(crate) fn write_clf(&self, out: &mut impl Write) -> fmt::Result {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let off = self.offset.unsigned_abs() / 60;
        write!(
            out,
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
            self.day,
            self.month_name(),
            self.year,
            self.hour,
            self.min,
            self.sec,
            off / 60,
            off % 60
        )
    }

    /// RFC 3164's timestamp: `Nov 24 12:01:02`, the day padded with a space.
    pub(crate) fn write_rfc3164(&self, out: &mut impl Write) -> fmt::Result {
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

    /// RFC 3339 with microseconds, as RFC 5424 wants: `2026-11-24T12:01:02.123456+01:00`.
    pub(crate) fn write_iso(&self, out: &mut impl Write) -> fmt::Result {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let off = self.offset.unsigned_abs() / 60;
        write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.min,
            self.sec,
            self.micros,
            off / 60,
            off % 60
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

    fn at(secs: u64, micros: u64) -> LogDate {
        at_offset(secs, micros, 0)
    }

    fn at_offset(secs: u64, micros: u64, offset: i32) -> LogDate {
        let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
        LogDate::with_offset(t, offset)
    }

    fn text(f: impl Fn(&LogDate, &mut String) -> fmt::Result, u: &LogDate) -> String {
        let mut s = String::new();
        f(u, &mut s).unwrap();
        s
    }

    #[test]
    fn known_dates() {
        // `date -u -d @...` for each.
        assert_eq!(
            at(0, 0),
            LogDate {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                min: 0,
                sec: 0,
                micros: 0,
                offset: 0,
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
        assert_eq!(
            text(LogDate::write_log_date, &u),
            "24/Nov/2026:12:01:02.123"
        );
        assert_eq!(text(LogDate::write_rfc3164, &u), "Nov 24 12:01:02");
        assert_eq!(
            text(LogDate::write_iso, &u),
            "2026-11-24T12:01:02.123456+00:00"
        );
        let early = at(1_793_750_400 + 5, 7_000); // 2026-11-04 00:00:05.007
        assert_eq!(text(LogDate::write_rfc3164, &early), "Nov  4 00:00:05");
        assert_eq!(
            text(LogDate::write_log_date, &early),
            "04/Nov/2026:00:00:05.007"
        );
    }

    #[test]
    fn offsets_move_the_date_and_show_in_iso() {
        // 2026-11-24 23:30:00 UTC.
        let t = 1_795_563_000;
        let east = at_offset(t, 0, 5 * 3600 + 1800); // +05:30: the next day
        assert_eq!(
            text(LogDate::write_log_date, &east),
            "25/Nov/2026:05:00:00.000"
        );
        assert_eq!(
            text(LogDate::write_iso, &east),
            "2026-11-25T05:00:00.000000+05:30"
        );
        assert_eq!(
            text(LogDate::write_clf, &east),
            "25/Nov/2026:05:00:00 +0530"
        );
        let west = at_offset(t, 0, -8 * 3600); // -08:00
        assert_eq!(
            text(LogDate::write_clf, &west),
            "24/Nov/2026:15:30:00 -0800"
        );
        assert_eq!(text(LogDate::write_rfc3164, &west), "Nov 24 15:30:00");
        assert_eq!(
            text(LogDate::write_iso, &west),
            "2026-11-24T15:30:00.000000-08:00"
        );
        // The local offset of this process is whole minutes and within a day.
        let local = LogDate::local(UNIX_EPOCH + Duration::from_secs(t));
        assert!(local.offset.abs() < 86_400 && local.offset % 60 == 0);
    }
}
