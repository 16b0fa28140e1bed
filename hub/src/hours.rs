//! A workspace's working hours: when a request for a human reaches the team, and when it gets
//! the away message instead (see `protocol::follow_up`).
//!
//! Pure: times in, answers out. Hours are read in the workspace's own time zone (IANA, with
//! its daylight-saving rules), so "09:00–17:30" stays 09:00–17:30 on the team's clocks all year.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use serde::Deserialize;

/// The `hours` entry of a workspace in the workspaces file.
///
/// ```json
/// {"time_zone": "Europe/Paris",
///  "weekly": {"mon-fri": "09:00-12:30, 13:30-18:00", "sat": "10:00-14:00"},
///  "holidays": ["2026-12-25", "2027-01-01"]}
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursConfig {
    pub time_zone: String,
    /// Day or day range (`mon`, `mon-fri`, `sat-sun`) to spans (`09:00-17:30`, comma-separated).
    /// A day not named is closed; `24:00` ends a span at midnight.
    pub weekly: BTreeMap<String, String>,
    /// Whole days closed (`YYYY-MM-DD`, in the workspace's time zone).
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Parsed working hours.
#[derive(Debug, Clone)]
pub struct Hours {
    tz: TimeZone,
    /// Open spans per weekday (Monday = 0), each `[from, to)` in minutes after midnight.
    days: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("hours: {0}")]
pub struct HoursError(String);

fn err(s: impl Into<String>) -> HoursError {
    HoursError(s.into())
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// How far ahead `opens_at` looks for the next open span (holidays included).
const LOOKAHEAD_DAYS: i64 = 35;

fn day_index(name: &str) -> Result<usize, HoursError> {
    let n = name.trim().to_ascii_lowercase();
    DAYS.iter()
        .position(|d| n.starts_with(d) && d.len() <= n.len() && n.len() <= 9)
        .ok_or_else(|| err(format!("unknown day `{name}` (mon, tue, … sun)")))
}

fn minutes(hhmm: &str) -> Result<u16, HoursError> {
    let bad = || err(format!("`{hhmm}` is not a time (HH:MM)"));
    let (h, m) = hhmm.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Hours {
    pub fn parse(config: &HoursConfig) -> Result<Hours, HoursError> {
        let tz = TimeZone::get(&config.time_zone)
            .map_err(|_| err(format!("unknown time zone `{}`", config.time_zone)))?;
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for (range, spans) in &config.weekly {
            let (first, last) = match range.split_once('-') {
                Some((a, b)) => (day_index(a)?, day_index(b)?),
                None => (day_index(range)?, day_index(range)?),
            };
            if last < first {
                return Err(err(format!("day range `{range}` runs backwards")));
            }
            for span in spans.split(',').filter(|s| !s.trim().is_empty()) {
                let (from, to) = span
                    .split_once('-')
                    .ok_or_else(|| err(format!("`{span}` is not a span (HH:MM-HH:MM)")))?;
                let (from, to) = (minutes(from)?, minutes(to)?);
                if from >= to {
                    return Err(err(format!("span `{span}` ends before it starts")));
                }
                for day in &mut days[first..=last] {
                    day.push((from, to));
                }
            }
        }
        for day in &mut days {
            day.sort_unstable();
        }
        let holidays = config
            .holidays
            .iter()
            .map(|d| {
                d.parse::<Date>()
                    .map_err(|_| err(format!("holiday `{d}` is not a date (YYYY-MM-DD)")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Hours { tz, days, holidays })
    }

    fn zoned(&self, at_ms: u64) -> Option<ZonedDateTime> {
        let ts = Timestamp::from_millisecond(i64::try_from(at_ms).ok()?).ok()?;
        Some(ts.to_zoned_datetime(self.tz.clone()))
    }

    fn spans(&self, date: Date) -> &[(u16, u16)] {
        if self.holidays.contains(&date) {
            return &[];
        }
        &self.days[date.weekday().to_monday_zero_offset() as usize]
    }

    /// Whether the team is at work at `at_ms` (Unix milliseconds).
    pub fn is_open(&self, at_ms: u64) -> bool {
        let Some(now) = self.zoned(at_ms) else {
            return false;
        };
        let minute = now.hour() as u16 * 60 + now.minute() as u16;
        self.spans(now.date())
            .iter()
            .any(|&(from, to)| from <= minute && minute < to)
    }

    /// The next moment after `at_ms` the team is at work (`at_ms` itself when open now), or
    /// `None` when no span lies within the next five weeks.
    pub fn opens_at(&self, at_ms: u64) -> Option<u64> {
        if self.is_open(at_ms) {
            return Some(at_ms);
        }
        let now = self.zoned(at_ms)?;
        let today = now.date();
        let minute = now.hour() as u16 * 60 + now.minute() as u16;
        for ahead in 0..LOOKAHEAD_DAYS {
            let date = today.checked_add(jiff::Span::new().days(ahead)).ok()?;
            for &(from, _) in self.spans(date) {
                if ahead == 0 && from <= minute {
                    continue;
                }
                let time = Time::new((from / 60) as i8, (from % 60) as i8, 0, 0).ok()?;
                // A wall time skipped by a clock change resolves to the moment after the gap.
                let opens = date
                    .to_datetime(time)
                    .to_zoned_datetime(self.tz.clone())
                    .ok()?;
                return u64::try_from(opens.timestamp().as_millisecond()).ok();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(tz: &str, weekly: &[(&str, &str)], holidays: &[&str]) -> Hours {
        Hours::parse(&HoursConfig {
            time_zone: tz.into(),
            weekly: weekly
                .iter()
                .map(|(d, s)| (d.to_string(), s.to_string()))
                .collect(),
            holidays: holidays.iter().map(|h| h.to_string()).collect(),
        })
        .expect("valid hours")
    }

    /// Unix ms of a wall time in `tz`.
    fn at(tz: &str, when: &str) -> u64 {
        let dt: jiff::civil::DateTime = when.parse().expect("datetime");
        let z = dt
            .to_zoned_datetime(TimeZone::get(tz).expect("tz"))
            .expect("zoned");
        z.timestamp().as_millisecond() as u64
    }

    const PARIS: &str = "Europe/Paris";

    #[test]
    fn open_within_the_spans_of_the_day_in_the_workspaces_zone() {
        let h = hours(
            PARIS,
            &[
                ("mon-fri", "09:00-12:30, 13:30-18:00"),
                ("sat", "10:00-14:00"),
            ],
            &[],
        );
        // 2026-12-07 is a Monday.
        assert!(h.is_open(at(PARIS, "2026-12-07T09:00")));
        assert!(h.is_open(at(PARIS, "2026-12-07T12:29")));
        assert!(!h.is_open(at(PARIS, "2026-12-07T12:30")), "lunch");
        assert!(!h.is_open(at(PARIS, "2026-12-07T08:59")));
        assert!(
            !h.is_open(at(PARIS, "2026-12-07T18:00")),
            "a span ends before its end"
        );
        assert!(h.is_open(at(PARIS, "2026-12-12T13:00")), "saturday");
        assert!(
            !h.is_open(at(PARIS, "2026-12-13T11:00")),
            "sunday is not named"
        );
        // The same instant seen from New York (03:00 there) is Paris's 09:00.
        assert!(h.is_open(at("America/New_York", "2026-12-07T03:00")));
    }

    #[test]
    fn holidays_close_whole_days_and_opening_skips_them() {
        let h = hours(PARIS, &[("mon-fri", "09:00-17:00")], &["2026-12-25"]);
        // Thursday 24th at 18:00: the 25th is a holiday, so the next opening is Monday 28th
        // (26th and 27th are the weekend).
        let opens = h.opens_at(at(PARIS, "2026-12-24T18:00")).expect("opens");
        assert_eq!(opens, at(PARIS, "2026-12-28T09:00"));
        assert!(!h.is_open(at(PARIS, "2026-12-25T10:00")));
    }

    #[test]
    fn hours_follow_daylight_saving_time() {
        let h = hours(PARIS, &[("mon-sun", "09:00-17:00")], &[]);
        // 09:30 in Paris is 08:30 UTC in winter and 07:30 UTC in summer: open both times.
        assert!(h.is_open(at("UTC", "2026-01-15T08:30")));
        assert!(h.is_open(at("UTC", "2026-07-15T07:30")));
        assert!(!h.is_open(at("UTC", "2026-07-15T15:30")), "17:30 in Paris");
        // Sunday 29 March 2026: clocks go forward; 08:00 local is 06:00 UTC.
        assert_eq!(
            h.opens_at(at("UTC", "2026-03-29T05:00")),
            Some(at("UTC", "2026-03-29T07:00"))
        );
    }

    #[test]
    fn opens_at_is_now_when_open_and_later_today_before_opening() {
        let h = hours(PARIS, &[("mon-fri", "09:00-12:00, 14:00-18:00")], &[]);
        let now = at(PARIS, "2026-12-07T10:00");
        assert_eq!(h.opens_at(now), Some(now));
        assert_eq!(
            h.opens_at(at(PARIS, "2026-12-07T12:15")),
            Some(at(PARIS, "2026-12-07T14:00"))
        );
        let never = hours(PARIS, &[], &[]);
        assert!(!never.is_open(now));
        assert_eq!(never.opens_at(now), None);
    }

    #[test]
    fn bad_hours_are_refused_with_what_is_wrong() {
        let parse = |tz: &str, d: &str, s: &str, hol: &str| {
            Hours::parse(&HoursConfig {
                time_zone: tz.into(),
                weekly: [(d.to_string(), s.to_string())].into(),
                holidays: if hol.is_empty() {
                    vec![]
                } else {
                    vec![hol.into()]
                },
            })
            .map(drop)
            .map_err(|e| e.to_string())
        };
        assert!(
            parse("Mars/Olympus", "mon", "09:00-17:00", "")
                .unwrap_err()
                .contains("time zone")
        );
        assert!(
            parse(PARIS, "funday", "09:00-17:00", "")
                .unwrap_err()
                .contains("unknown day")
        );
        assert!(
            parse(PARIS, "fri-mon", "09:00-17:00", "")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(
            parse(PARIS, "mon", "17:00-09:00", "")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(
            parse(PARIS, "mon", "9-17", "")
                .unwrap_err()
                .contains("not a time")
        );
        assert!(
            parse(PARIS, "mon", "09:00-24:30", "")
                .unwrap_err()
                .contains("not a time")
        );
        assert!(
            parse(PARIS, "mon", "09:00-17:00", "25/12")
                .unwrap_err()
                .contains("holiday")
        );
        assert_eq!(parse(PARIS, "monday", "00:00-24:00", "2026-12-25"), Ok(()));
    }
}
