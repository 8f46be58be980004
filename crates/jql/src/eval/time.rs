//! Calendar arithmetic for JQL dates: instants, days, date literals, relative periods and the
//! `startOf…`/`endOf…` functions.
//!
//! Invariants: everything is computed in the evaluation context's fixed UTC offset; arithmetic saturates instead
//! of overflowing, so no literal can make evaluation panic.

use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// A calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Day(pub i64);

impl Day {
    /// The day of a proleptic Gregorian date, or `None` for an impossible date.
    #[must_use]
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self(days_from_civil(year, month, day)))
    }

    /// Year, month (1–12) and day of month.
    #[must_use]
    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.0)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// The day a week starts on, for `startOfWeek()` and `endOfWeek()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WeekStart {
    /// Jira's default (the `en_US` locale).
    #[default]
    Sunday,
    Monday,
}

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is in 1..=31 and m in 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Converts between instants and the local calendar of one fixed UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Calendar {
    pub(crate) offset_ms: i64,
    pub(crate) week_start: WeekStart,
}

impl Calendar {
    pub(crate) fn day_of(self, t: Timestamp) -> Day {
        Day(t.0.saturating_add(self.offset_ms).div_euclid(DAY))
    }

    pub(crate) fn start_of(self, day: Day) -> Timestamp {
        Timestamp(day.0.saturating_mul(DAY).saturating_sub(self.offset_ms))
    }

    /// Adds calendar months, clamping the day of month (Jan 31 + 1 month = Feb 28/29).
    fn add_months(self, t: Timestamp, months: i64) -> Timestamp {
        let day = self.day_of(t);
        let time_of_day = t.0.saturating_add(self.offset_ms).rem_euclid(DAY);
        let (y, m, d) = day.ymd();
        let total = y
            .saturating_mul(12)
            .saturating_add(i64::from(m) - 1)
            .saturating_add(months);
        let year = total.div_euclid(12);
        let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
        let d = d.min(days_in_month(year, month));
        let day = Day(days_from_civil(year, month, d));
        Timestamp(self.start_of(day).0.saturating_add(time_of_day))
    }

    pub(crate) fn add(self, t: Timestamp, period: Period) -> Timestamp {
        let t = self.add_months(t, period.months);
        Timestamp(t.0.saturating_add(period.millis))
    }

    fn start_of_unit(self, now: Timestamp, unit: Unit) -> Timestamp {
        let day = self.day_of(now);
        let first = match unit {
            Unit::Day => day,
            Unit::Week => {
                // 1970-01-01 was a Thursday.
                let monday_based = (day.0 + 3).rem_euclid(7);
                let back = match self.week_start {
                    WeekStart::Monday => monday_based,
                    WeekStart::Sunday => (monday_based + 1).rem_euclid(7),
                };
                Day(day.0 - back)
            }
            Unit::Month => {
                let (y, m, _) = day.ymd();
                Day(days_from_civil(y, m, 1))
            }
            Unit::Year => {
                let (y, _, _) = day.ymd();
                Day(days_from_civil(y, 1, 1))
            }
        };
        self.start_of(first)
    }

    /// `startOfDay()` and friends: the start of the current unit, then the increment.
    pub(crate) fn start_of_current(
        self,
        now: Timestamp,
        unit: Unit,
        increment: Period,
    ) -> Timestamp {
        self.add(self.start_of_unit(now, unit), increment)
    }

    /// `endOfDay()` and friends: the last millisecond of the current unit, then the increment.
    pub(crate) fn end_of_current(self, now: Timestamp, unit: Unit, increment: Period) -> Timestamp {
        let start = self.start_of_unit(now, unit);
        let next = self.add(start, unit.one());
        self.add(Timestamp(next.0.saturating_sub(1)), increment)
    }
}

/// The unit of a `startOf…`/`endOf…` function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    fn one(self) -> Period {
        match self {
            Self::Day => Period {
                months: 0,
                millis: DAY,
            },
            Self::Week => Period {
                months: 0,
                millis: 7 * DAY,
            },
            Self::Month => Period {
                months: 1,
                millis: 0,
            },
            Self::Year => Period {
                months: 12,
                millis: 0,
            },
        }
    }
}

/// A signed span of calendar months plus milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Period {
    pub(crate) months: i64,
    pub(crate) millis: i64,
}

/// Parses a period such as `-5d`, `4w 2d`, `+1M`, `-1h 30m`. A bare number counts in `default_unit`
/// (`startOfMonth(-1)` is a month back); `None` means any bare number is refused.
pub(crate) fn parse_period(text: &str, default_unit: Option<char>) -> Option<Period> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest.trim_start();
    if rest.is_empty() {
        return None;
    }
    let mut period = Period::default();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let mut amount: i64 = 0;
        let mut digits = 0;
        while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
            amount = amount
                .saturating_mul(10)
                .saturating_add(i64::from(u32::from(c) - u32::from('0')));
            digits += 1;
            chars.next();
        }
        if digits == 0 {
            return None;
        }
        let unit = match chars.next() {
            Some(c) => c,
            None => default_unit?,
        };
        match unit {
            'y' => period.months = period.months.saturating_add(amount.saturating_mul(12)),
            'M' => period.months = period.months.saturating_add(amount),
            'w' => period.millis = period.millis.saturating_add(amount.saturating_mul(7 * DAY)),
            'd' => period.millis = period.millis.saturating_add(amount.saturating_mul(DAY)),
            'h' => period.millis = period.millis.saturating_add(amount.saturating_mul(HOUR)),
            'm' => period.millis = period.millis.saturating_add(amount.saturating_mul(MINUTE)),
            _ => return None,
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
    }
    if negative {
        period.months = period.months.saturating_neg();
        period.millis = period.millis.saturating_neg();
    }
    Some(period)
}

/// Parses `yyyy/MM/dd HH:mm`, `yyyy-MM-dd HH:mm`, `yyyy/MM/dd` or `yyyy-MM-dd` in the calendar's offset.
pub(crate) fn parse_absolute(text: &str, calendar: Calendar) -> Option<Timestamp> {
    let text = text.trim();
    let (date, time) = match text.split_once(' ') {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let separator = if date.contains('/') { '/' } else { '-' };
    let mut parts = date.split(separator);
    let year: i64 = number(parts.next()?, 4, 4)?;
    let month: u32 = number(parts.next()?, 1, 2)?;
    let day: u32 = number(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    let day = Day::from_ymd(year, month, day)?;
    let mut millis = 0;
    if let Some(time) = time {
        let (h, m) = time.split_once(':')?;
        let h: i64 = number(h, 1, 2)?;
        let m: i64 = number(m, 2, 2)?;
        if h > 23 || m > 59 {
            return None;
        }
        millis = h * HOUR + m * MINUTE;
    }
    Some(Timestamp(calendar.start_of(day).0.saturating_add(millis)))
}

fn number<T: std::str::FromStr>(s: &str, min_len: usize, max_len: usize) -> Option<T> {
    if (min_len..=max_len).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: Calendar = Calendar {
        offset_ms: 0,
        week_start: WeekStart::Monday,
    };

    #[test]
    fn civil_round_trip() {
        for z in [-800_000, -1, 0, 1, 59, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(Day::from_ymd(2000, 3, 1).map(|d| d.0), Some(11_017));
        assert_eq!(Day::from_ymd(2023, 2, 29), None);
        assert_eq!(Day(19_723).to_string(), "2024-01-01");
    }

    #[test]
    fn periods() {
        assert_eq!(
            parse_period("-5d", None),
            Some(Period {
                months: 0,
                millis: -5 * DAY
            })
        );
        assert_eq!(
            parse_period("4w 2d", None),
            Some(Period {
                months: 0,
                millis: 30 * DAY
            })
        );
        assert_eq!(
            parse_period("+1M", None),
            Some(Period {
                months: 1,
                millis: 0
            })
        );
        assert_eq!(
            parse_period("-1", Some('d')),
            Some(Period {
                months: 0,
                millis: -DAY
            })
        );
        assert_eq!(parse_period("-1", None), None);
        assert_eq!(parse_period("5x", None), None);
        assert_eq!(parse_period("", None), None);
        assert!(parse_period("99999999999999999999999y", None).is_some());
    }

    #[test]
    fn absolute_dates() {
        let t = parse_absolute("2024/01/02 10:30", UTC);
        assert_eq!(t, Some(Timestamp((19_724 * DAY) + 10 * HOUR + 30 * MINUTE)));
        assert_eq!(
            parse_absolute("2024-01-02", UTC),
            Some(Timestamp(19_724 * DAY))
        );
        assert_eq!(parse_absolute("2024-13-02", UTC), None);
        assert_eq!(parse_absolute("24-01-02", UTC), None);
        let plus_two = Calendar {
            offset_ms: 2 * HOUR,
            week_start: WeekStart::Monday,
        };
        assert_eq!(
            parse_absolute("2024-01-02", plus_two),
            Some(Timestamp(19_724 * DAY - 2 * HOUR))
        );
    }

    #[test]
    fn starts_and_ends() {
        // 2024-01-03 (a Wednesday) 15:00 UTC.
        let now = Timestamp(19_725 * DAY + 15 * HOUR);
        let zero = Period::default();
        assert_eq!(
            UTC.start_of_current(now, Unit::Day, zero),
            Timestamp(19_725 * DAY)
        );
        assert_eq!(
            UTC.end_of_current(now, Unit::Day, zero),
            Timestamp(19_726 * DAY - 1)
        );
        assert_eq!(
            UTC.start_of_current(now, Unit::Week, zero),
            Timestamp(19_723 * DAY)
        );
        let sunday = Calendar {
            week_start: WeekStart::Sunday,
            ..UTC
        };
        assert_eq!(
            sunday.start_of_current(now, Unit::Week, zero),
            Timestamp(19_722 * DAY)
        );
        assert_eq!(
            UTC.start_of_current(
                now,
                Unit::Month,
                Period {
                    months: -1,
                    millis: 0
                }
            )
            .0,
            19_692 * DAY
        );
        assert_eq!(
            UTC.end_of_current(now, Unit::Year, zero),
            Timestamp(20_089 * DAY - 1)
        );
        assert_eq!(
            UTC.add(
                Timestamp(19_753 * DAY),
                Period {
                    months: 1,
                    millis: 0
                }
            ),
            Timestamp(19_782 * DAY)
        );
    }
}
